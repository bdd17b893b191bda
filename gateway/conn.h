/*  conn.h: one client's WebSocket connection.

    The connection queues the client's requests, answers them in arrival
    order, and pushes the messages of the rooms it joined. lws owns the
    memory (per-session data of gc_conn_size bytes) and hands in its
    events; the connection is usable without a socket too (wsi NULL),
    requests fed with gc_conn_request and frames taken with
    gc_conn_peek / gc_conn_sent, which is how its self-test drives it. */
#ifndef GC_CONN_H_INCLUDED
#define GC_CONN_H_INCLUDED

#include <czmq.h>
#include "gateway.h"
#include "room.h"

typedef struct gc_conn_t gc_conn_t;

//  Bytes the caller provides for one connection.
size_t gc_conn_size (void);

//  Starts a connection in self's memory, for wsi (NULL: no socket),
//  with the gateway's parts (which outlive it).
void gc_conn_open (gc_conn_t *self, gc_gateway_parts_t *parts, struct lws *wsi);
//  Leaves its rooms and drops its requests; safe to call twice.
void gc_conn_close (gc_conn_t *self);

//  The client's address, as login throttling and admission count it
const char *gc_conn_address (gc_conn_t *self);

//  lws RECEIVE: a piece of a message. -1: close the connection.
int gc_conn_receive (gc_conn_t *self, const void *data, size_t size);
//  One whole text request, as gc_conn_receive hands it on.
void gc_conn_request (gc_conn_t *self, const char *data, size_t size);
//  lws SERVER_WRITEABLE: writes what is ready. -1: close the connection.
int gc_conn_writable (gc_conn_t *self);
//  lws TIMER: the rate limit's bucket holds a token again.
void gc_conn_refilled (gc_conn_t *self);

//  The frame that goes out next, or NULL: the oldest finished reply, else
//  the next message of one of its rooms, taking the rooms in turn.
const gc_out_t *gc_conn_peek (gc_conn_t *self);
//  The frame gc_conn_peek returned is written (or in the write batch).
void gc_conn_sent (gc_conn_t *self);

//  False while reading is paused: too many requests queued, or a request
//  came over the rate and the bucket holds no token yet.
bool gc_conn_reading (gc_conn_t *self);
//  Requests sent to the broker and not answered yet.
unsigned gc_conn_in_flight (gc_conn_t *self);

//  Closes connections of the list that made no write progress for
//  GC_STALL_MS (now: gc_clock_mono_us () / 1000), and wakes those whose
//  catch-up failed, to try again.
void gc_conn_sweep (lws_dll2_owner_t *conns, int64_t now);

//  Ends the sessions of the list's connections logged in as user with a
//  generation below `below` (UINT64_MAX: every one): each is logged out
//  at once, pushed {"op":"closed","reason":reason} after the replies
//  already finished, and closed with GC_CLOSE_SESSION_ENDED.
void gc_conn_end_sessions (lws_dll2_owner_t *conns, const char *user, uint64_t below,
                           const char *reason);
//  Adds the user of each logged-in connection of the list to users, a
//  set (name -> name); the connections own the names, so use it at once.
void gc_conn_users (lws_dll2_owner_t *conns, zhashx_t *users);

void gc_conn_test (bool verbose);

#endif
