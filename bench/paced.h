/*  paced.h: requests sent at a steady rate, and how each kind was answered.

    The login scenarios' loads besides the says: a flood of password
    logins, and the token logins and joins of other users, whose latency
    is what the flood must not spoil. A driver function makes the
    requests of one tick on a connection; the pacer calls it open loop,
    tick k due at start + k / rate, on its connections round-robin, and
    tallies the replies per request kind: how each was answered (by error
    code), when each answer was first seen, and the latency from queueing
    to reply. A request that waits behind a slow one on its connection
    counts that wait: a server that answers one connection in order
    makes it wait too. */
#ifndef GC_BENCH_PACED_H_INCLUDED
#define GC_BENCH_PACED_H_INCLUDED

#include "histogram.h"
#include "pool.h"
#include "gc_error.h"

#define GC_BENCH_KINDS  (GC_BENCH_SAY + 1)

typedef struct gc_bench_paced_t gc_bench_paced_t;

//  The replies to one kind of request within a window
typedef struct {
    uint64_t answers [GC_ERROR_COUNT];  //  by code, GC_OK for ok
    int64_t first [GC_ERROR_COUNT];     //  us from the window's start to the first; -1 none
    gc_hist_t *latency;                 //  us, queued to answered, every code
} gc_bench_tally_t;

typedef struct {
    int64_t start;              //  gc_clock_mono_us
    uint64_t ticks;             //  ticks that fell due
    uint64_t unsent;            //  ticks whose requests could not be queued
    gc_bench_tally_t kinds [GC_BENCH_KINDS];
} gc_bench_pace_window_t;

//  Queues the requests of tick index on conn; 0, or -1 when it could not
typedef int (gc_bench_paced_fn) (void *arg, gc_bench_conn_t *conn, uint64_t index);

gc_bench_paced_t *gc_bench_paced_new (gc_bench_pool_t *pool, gc_bench_paced_fn *fn, void *arg);
void gc_bench_paced_destroy (gc_bench_paced_t **self_p);

//  Adds a connection to tick on; takes over its events.
void gc_bench_paced_add (gc_bench_paced_t *self, gc_bench_conn_t *conn);

//  Ticks at rate per second from at on; stop ticks no more.
void gc_bench_paced_start (gc_bench_paced_t *self, double rate, int64_t at);
void gc_bench_paced_stop (gc_bench_paced_t *self);

//  Starts a new window (counts from zero) at now.
void gc_bench_paced_window (gc_bench_paced_t *self, int64_t now);
const gc_bench_pace_window_t *gc_bench_paced_current (const gc_bench_paced_t *self);

//  Error replies since it was made, over every window
uint64_t gc_bench_paced_refused (const gc_bench_paced_t *self);

//  True when every request on its connections was answered (a
//  gc_bench_done_fn)
bool gc_bench_paced_settled (void *self);

#endif
