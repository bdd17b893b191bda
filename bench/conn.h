/*  conn.h: one client WebSocket connection of groupchat-bench.

    A connection queues requests (login, join, leave, say), writes them
    one frame per writable callback, matches each reply to its request
    (replies come in request order), and checks the pushes of each room
    it joined with a gc_order_t. Whoever drives it (a scenario) learns of
    replies and pushes through gc_bench_events_t; the pool (pool.h) owns
    connections and feeds them libwebsockets' callbacks.

    Times are CLOCK_MONOTONIC microseconds (gc_clock_mono_us), the clock the
    say texts are stamped with: the bench reads back its own stamps, so
    no clock of another host is involved, and a step of the wall clock
    (NTP, a virtual machine resumed) cannot skew a latency or cut a run
    short. */
#ifndef GC_BENCH_CONN_H_INCLUDED
#define GC_BENCH_CONN_H_INCLUDED

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include "order.h"
#include "wire.h"
#include "gc_limits.h"


typedef struct gc_bench_conn_t gc_bench_conn_t;
typedef struct gc_bench_pool_t gc_bench_pool_t;

typedef enum {
    GC_BENCH_IDLE,              //  not yet connecting
    GC_BENCH_CONNECTING,
    GC_BENCH_OPEN,
    GC_BENCH_CLOSED             //  closed or never connected
} gc_bench_state_t;

typedef enum {
    GC_BENCH_LOGIN, GC_BENCH_JOIN, GC_BENCH_LEAVE, GC_BENCH_SAY
} gc_bench_kind_t;

//  A request waiting for its reply
typedef struct {
    int64_t id;
    gc_bench_kind_t kind;
    int room;                   //  room tag, -1 for none
    int64_t stamp;              //  when it was due to be sent
} gc_bench_request_t;

//  What a connection tells whoever drives it; any may be NULL. now is
//  when the frame was read.
typedef struct {
    void (*replied) (void *arg, gc_bench_conn_t *conn, const gc_bench_request_t *request,
                     const gc_wire_frame_t *reply, int64_t now);
    void (*pushed) (void *arg, gc_bench_conn_t *conn, int room,
                    const gc_wire_frame_t *push, int64_t now);
    void (*closed) (void *arg, gc_bench_conn_t *conn);
} gc_bench_events_t;

//  Who hears of this connection's replies and pushes from now on.
void gc_bench_conn_set_events (gc_bench_conn_t *self, const gc_bench_events_t *events, void *arg);

//  Each queues a request and returns 0, or -1 when the connection is
//  closed, GC_BENCH_CONN_QUEUE frames wait already (the server stopped
//  reading), or the request is too large to encode. A NULL user logs in with password as token.
//  room is a tag the caller chooses (0..), reported with pushes; the name
//  must outlive the connection.
int gc_bench_conn_login (gc_bench_conn_t *self, const char *user, const char *password);
int gc_bench_conn_join (gc_bench_conn_t *self, const char *room_name, int room);
int gc_bench_conn_leave (gc_bench_conn_t *self, int room);
//  stamp: when the say was scheduled, written into its text
int gc_bench_conn_say (gc_bench_conn_t *self, int room, int64_t stamp, size_t bytes);

//  Error replies on this connection are answers, not faults: the pool
//  counts them as refused (a flood of logins is meant to be refused).
void gc_bench_conn_expect_refusals (gc_bench_conn_t *self);

gc_bench_state_t gc_bench_conn_state (const gc_bench_conn_t *self);
//  Requests sent or queued whose reply has not come
size_t gc_bench_conn_pending (const gc_bench_conn_t *self);
//  The seq accounting of a joined room, or NULL when not joined
gc_order_t *gc_bench_conn_order (gc_bench_conn_t *self, int room);
//  The index of the URL the connection goes to
size_t gc_bench_conn_url (const gc_bench_conn_t *self);

//  --------------------------------------------------------------------------
//  For the pool

gc_bench_conn_t *gc_bench_conn_new (gc_bench_pool_t *pool, size_t url);
void gc_bench_conn_destroy (gc_bench_conn_t **self_p);
//  Its handshake will say it forwards for the IPv4 address (host order).
void gc_bench_conn_forward (gc_bench_conn_t *self, uint32_t address);
//  Starts connecting; 0, or -1 when that failed at once.
int gc_bench_conn_connect (gc_bench_conn_t *self, struct lws_client_connect_info *info);
//  The libwebsockets events of the connection; -1 asks lws to close it.
void gc_bench_conn_on_open (gc_bench_conn_t *self);
//  Adds its headers to the handshake; in and len as lws gives them
int gc_bench_conn_on_handshake (gc_bench_conn_t *self, void *in, size_t len);
int gc_bench_conn_on_receive (gc_bench_conn_t *self, const void *data, size_t size);
int gc_bench_conn_on_writable (gc_bench_conn_t *self);
void gc_bench_conn_on_close (gc_bench_conn_t *self);

#endif
