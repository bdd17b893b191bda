/*  pool.h: groupchat-bench's connections and its event loop.

    One libwebsockets context, client side only, holding every connection
    of a run, spread over the gateway URLs round-robin (connection i goes
    to URL i % urls). Connections are opened a bounded number at a time,
    so that thousands of them do not overflow a gateway's listen backlog.
    A connection may carry an X-Forwarded-For address in its handshake,
    so that a gateway trusting the bench as a proxy takes it for a client
    of that address (the login scenarios' guessers from many addresses).

    The pool also keeps its drivers' alarms on one timerfd in the same
    loop: lws's own timers wake poll() on whole milliseconds and
    busy-poll the rest, which would cost a core at a thousand sends a
    second; the timerfd wakes within tens of microseconds and idles in
    between. */
#ifndef GC_BENCH_POOL_H_INCLUDED
#define GC_BENCH_POOL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "gc_limits.h"


//  Counters over every connection of the pool; only ever incremented
typedef struct {
    uint64_t opened;            //  connections established
    uint64_t failed;            //  connections that never opened
    uint64_t closed;            //  connections lost after opening
    uint64_t requests;          //  requests queued
    uint64_t replies_ok;
    uint64_t replies_error;
    uint64_t replies_refused;   //  error replies where refusals are expected
    uint64_t lost;              //  requests whose connection closed first
    uint64_t pushes;            //  message pushes received
    uint64_t faults;            //  unreadable frames, stray replies or pushes
    char last_error [64];       //  code of the latest error reply
} gc_bench_stats_t;

typedef void (gc_bench_alarm_fn) (void *arg, int64_t now);
typedef bool (gc_bench_done_fn) (void *arg);

//  A pool for the URLs (ws:// or wss://HOST:PORT/PATH; wss:// servers
//  verified against the CAs of ca_file, or the system's when NULL); NULL,
//  with the reason on stderr, when a URL is not one or libwebsockets
//  cannot start.
gc_bench_pool_t *gc_bench_pool_new (const char *const *urls, size_t url_count,
                                    const char *ca_file);
void gc_bench_pool_destroy (gc_bench_pool_t **self_p);

//  Adds count connections and starts opening them; returns the index of
//  the first.
size_t gc_bench_pool_add (gc_bench_pool_t *self, size_t count);
//  The same, the index-th of them saying it forwards for the IPv4
//  address first + index * step (step 0: all for first; first 0: none
//  says so).
size_t gc_bench_pool_add_forwarded (gc_bench_pool_t *self, size_t count, uint32_t first,
                                    uint32_t step);
gc_bench_conn_t *gc_bench_pool_conn (gc_bench_pool_t *self, size_t index);
size_t gc_bench_pool_urls (const gc_bench_pool_t *self);
//  True when some of its URLs are wss://
bool gc_bench_pool_tls (const gc_bench_pool_t *self);
//  True when no connection is opening and every request was answered or
//  lost (a gc_bench_done_fn)
bool gc_bench_pool_answered (void *self);
const gc_bench_stats_t *gc_bench_pool_stats (const gc_bench_pool_t *self);

//  Runs the loop until done (may be NULL) returns true, then 0; or until
//  the deadline (gc_clock_mono_us time), then -1; -2 when the loop itself
//  failed (said on stderr).
int gc_bench_pool_run (gc_bench_pool_t *self, gc_bench_done_fn *done, void *arg,
                       int64_t deadline);

//  Calls fn once, from the loop, at time at (gc_clock_mono_us time), or at
//  once if that has passed. One alarm per arg (its driver), a few drivers
//  at once: a new alarm replaces that driver's last; at < 0 cancels it.
void gc_bench_pool_alarm (gc_bench_pool_t *self, int64_t at, gc_bench_alarm_fn *fn, void *arg);

//  The token of the latest successful login, or NULL.
const char *gc_bench_pool_token (const gc_bench_pool_t *self);

//  --------------------------------------------------------------------------
//  For connections

gc_bench_stats_t *gc_bench_pool_counters (gc_bench_pool_t *self);
//  GC_BENCH_SCRATCH bytes to encode one request into
char *gc_bench_pool_scratch (gc_bench_pool_t *self);
void gc_bench_pool_set_token (gc_bench_pool_t *self, const char *token);

void gc_bench_pool_test (bool verbose);
//  A connection stopped opening (it is open, or it failed)
void gc_bench_pool_connected (gc_bench_pool_t *self, gc_bench_conn_t *conn);

#endif
