/*  gateway.h: the gateway's pieces and how they hold each other.

    A gateway is one libwebsockets context serving client connections
    (conn.c), the rooms those connections are in (room.c), and one link to
    the broker (link.c), all on one thread and one event loop. Rooms keep
    the recent messages of the room as ready-to-send frames in a ring;
    each member of a room keeps its own cursor into that ring. */
#ifndef GC_GATEWAY_H_INCLUDED
#define GC_GATEWAY_H_INCLUDED

#include <czmq.h>
#include <libwebsockets.h>
#include "gc_codec.h"
#include "out.h"
#include "link.h"
#include "gc_limits.h"


typedef struct gc_room_t gc_room_t;
typedef struct gc_conn_t gc_conn_t;

//  Counters for logs and metrics; only ever incremented
typedef struct {
    uint64_t connections_opened;
    uint64_t connections_closed;
    uint64_t logins_ok;
    uint64_t logins_failed;
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t writes;                //  socket writes carrying frames_out
    uint64_t messages_delivered;
    uint64_t slow_readers_closed;
    uint64_t gaps_refilled;         //  room refills from the broker
    uint64_t catchups;              //  member catch-ups from the broker
    uint64_t unavailable;           //  requests answered unavailable
} gc_counters_t;

typedef struct {
    struct lws_context *context;
    struct lws_vhost *vhost;
    gc_link_t *link;            //  to the broker
    zhashx_t *rooms;            //  name -> gc_room_t, rooms with members here
    lws_dll2_owner_t conns;     //  every open client connection
    int rate_limit;             //  requests per second per connection, 0: none
    gc_counters_t counters;
    lws_sorted_usec_list_t sweep;   //  stalled-reader check
    lws_retry_bo_t idle_policy;     //  pings and dead-peer hangup
    unsigned char batch [GC_BATCH_MAX];     //  frames gathered for one write
} gc_gateway_t;

//  A connection's place in a room
typedef struct {
    lws_dll2_t in_room;         //  link in the room's member list
    lws_dll2_t in_conn;         //  link in the connection's member list
    gc_room_t *room;
    gc_conn_t *conn;
    uint64_t cursor;            //  newest seq this connection has been given
    bool announced;             //  its join reply is written: pushes may flow
    uint64_t catchup_rid;       //  history request in flight, 0 if none
    gc_out_t *catchup;          //  frames fetched for seqs the ring lost
    uint64_t catchup_first;     //  seq of catchup [0]
    size_t catchup_size;
} gc_member_t;

//  room.c
gc_room_t *gc_room_require (gc_gateway_t *gateway, const char *name, size_t size);
void gc_room_release_if_empty (gc_room_t *self);
const char *gc_room_name (gc_room_t *self);
void gc_room_joined (gc_room_t *self, uint64_t last);
void gc_room_hold (gc_room_t *self, int delta);
void gc_room_on_event (gc_gateway_t *gateway, const gc_frame_t *event);
void gc_room_add (gc_room_t *self, gc_member_t *member);
//  Removes the member (the caller frees it); frees the room when empty.
void gc_room_remove (gc_room_t *self, gc_member_t *member);
//  True when the member has messages to receive that nothing is fetching.
bool gc_room_member_behind (gc_member_t *member);
//  The frame for the member's next seq, or NULL when none is ready now
//  (a catch-up from the broker may have been started for it).
const gc_out_t *gc_room_next_frame (gc_room_t *self, gc_member_t *member);
void gc_room_destroy_all (gc_gateway_t *gateway);
//  Writes one gauge line per room: its members on this gateway
void gc_room_write_members (gc_gateway_t *gateway, FILE *stream);
//  Drops what the member holds and has in flight, before it is freed.
void gc_member_forget (gc_member_t *member);

//  conn.c
void gc_conn_open (gc_conn_t *self, gc_gateway_t *gateway, struct lws *wsi);
void gc_conn_close (gc_conn_t *self);
int gc_conn_receive (gc_conn_t *self, const void *data, size_t size);
int gc_conn_writable (gc_conn_t *self);
void gc_conn_wake (gc_conn_t *self);
void gc_conn_sweep (gc_gateway_t *gateway, int64_t now);
size_t gc_conn_size (void);
const char *gc_conn_user (gc_conn_t *self);
void gc_conn_kick (gc_member_t *member);

#endif
