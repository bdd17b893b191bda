/*  gateway.h: what belongs to the gateway as a whole.

    A gateway is one libwebsockets context serving client connections
    (conn.h), the rooms those connections are in (room.h, each member of
    a room a member.h), and one link to the broker (link.h), all on one
    thread and one event loop. The gateway object itself is private to
    server.c; the pieces are lent the parts they need (gc_gateway_parts_t)
    and count what happens in its counters. */
#ifndef GC_GATEWAY_H_INCLUDED
#define GC_GATEWAY_H_INCLUDED

#include <stdint.h>
#include <libwebsockets.h>
#include "link.h"
#include "admission.h"
#include "proxies.h"
#include "gc_limits.h"

typedef struct gc_rooms_t gc_rooms_t;

//  What the gateway counts, for logs and metrics (metrics.c's table)
typedef enum {
    GC_COUNTER_CONNECTIONS_OPENED,
    GC_COUNTER_CONNECTIONS_CLOSED,
    GC_COUNTER_LOGINS_OK,
    GC_COUNTER_LOGINS_FAILED,
    GC_COUNTER_FRAMES_IN,
    GC_COUNTER_FRAMES_OUT,
    GC_COUNTER_WRITES,              //  socket writes carrying frames_out
    GC_COUNTER_MESSAGES_DELIVERED,
    GC_COUNTER_SLOW_READERS_CLOSED,
    GC_COUNTER_GAPS_REFILLED,       //  room refills from the broker
    GC_COUNTER_CATCHUPS,            //  member catch-ups from the broker
    GC_COUNTER_UNAVAILABLE,         //  requests answered unavailable
    GC_COUNTER_USER_LOGINS_REFUSED, //  too_many_connections
    GC_COUNTER_JOINS_REFUSED,       //  too_many_rooms
    GC_COUNTER_COUNT
} gc_counter_t;

//  The counters, only ever incremented. The pieces are handed this at
//  construction and count inline: the fan-out counts every frame, and a
//  call per count would be a call per frame.
typedef struct {
    uint64_t value [GC_COUNTER_COUNT];
} gc_counters_t;

static inline uint64_t
gc_counters_count (gc_counters_t *self, gc_counter_t counter)
{
    return ++self->value [counter];
}

static inline uint64_t
gc_counters_get (const gc_counters_t *self, gc_counter_t counter)
{
    return self->value [counter];
}

//  What the gateway lends its pieces: every connection is given it at
//  open and the figures are read from it, so neither needs the gateway
//  object itself (private to server.c), and nothing calls back up.
//  lws's per-vhost data plays the same part in its examples.
typedef struct {
    gc_link_t *link;            //  to the broker
    gc_rooms_t *rooms;          //  rooms with members here
    gc_counters_t counters;
    lws_dll2_owner_t conns;     //  every open client connection
    int rate_limit;             //  requests per second per connection, 0: none
    const gc_proxies_t *proxies;    //  whose X-Forwarded-For is believed
    gc_admission_t *admission;  //  connections counted: in all, per address, per user
    int login_timeout_ms;       //  a connection not logged in by then is closed
    size_t max_rooms;           //  rooms one connection may be in
    //  Frames gathered for one write; shared, since the gateway writes
    //  to one connection at a time
    unsigned char batch [GC_BATCH_MAX];
} gc_gateway_parts_t;

#endif
