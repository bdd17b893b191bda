/*  traffic.h: says and their deliveries over a set of connections.

    The message load of the fanout, max, ack and login scenarios. Members
    are connections joined to one of the traffic's rooms; some of them
    also send. Two ways to send:

    - open loop: message k is due at start + k / rate and goes out from
      sender k % senders; its text is stamped with that due time, so the
      latency of its ack and of each delivery counts from when it should
      have left. A server that stalls cannot make the bench wait and
      hide the stall (no coordinated omission); if the bench itself falls
      behind, the lag histogram shows it.
    - closed loop: each sender keeps a fixed number of says in flight and
      sends the next as each ack comes back (stamped when sent).

    Counts and latencies are kept per window (the whole run, or one step
    of a rate ramp); a delivery belongs to the window it arrives in. */
#ifndef GC_BENCH_TRAFFIC_H_INCLUDED
#define GC_BENCH_TRAFFIC_H_INCLUDED

#include "histogram.h"
#include "pool.h"
#include "gc_clock.h"

typedef struct gc_bench_traffic_t gc_bench_traffic_t;

typedef struct {
    int64_t start;              //  when the window began (gc_clock_mono_us)
    uint64_t offered;           //  says that fell due
    uint64_t acked;             //  ok replies to says
    uint64_t errors;            //  error replies to says, or says not sent
    uint64_t delivered;         //  pushes of this traffic's messages
    gc_hist_t *latency;         //  due time to delivery, us
    gc_hist_t *ack;             //  due time to ok, us
    gc_hist_t *lag;             //  due time to the bench queueing it, us
} gc_bench_window_t;

//  Missing, duplicate and out-of-order deliveries over every member
typedef struct {
    uint64_t missing;
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t worst;             //  the most faults of any one member
    uint64_t receivers;         //  members checked
    uint64_t absent;            //  members closed or no longer in their room
    uint64_t unanswered;        //  says sent on open connections, never answered
} gc_bench_faults_t;

//  Traffic into rooms (names that must outlive it), texts of bytes bytes.
gc_bench_traffic_t *gc_bench_traffic_new (gc_bench_pool_t *pool, const char *const *rooms,
                                          size_t room_count, size_t bytes);
void gc_bench_traffic_destroy (gc_bench_traffic_t **self_p);

//  Adds a connection that has joined rooms [room] (the tag it joined
//  with); it receives, and sends too when sends. Takes over its events.
int gc_bench_traffic_add (gc_bench_traffic_t *self, gc_bench_conn_t *conn, int room, bool sends);

//  Starts open-loop sending at rate messages/s in total, first due at.
void gc_bench_traffic_start (gc_bench_traffic_t *self, double rate, int64_t at);
//  Goes on at another rate from at on.
void gc_bench_traffic_set_rate (gc_bench_traffic_t *self, double rate, int64_t at);
//  Starts closed-loop sending, inflight says per sender.
void gc_bench_traffic_start_closed (gc_bench_traffic_t *self, size_t inflight);
//  Sends no more.
void gc_bench_traffic_stop (gc_bench_traffic_t *self);

//  Starts a new window (counts from zero) at now.
void gc_bench_traffic_window (gc_bench_traffic_t *self, int64_t now);
//  The current window; its counts change as the loop runs.
const gc_bench_window_t *gc_bench_traffic_current (const gc_bench_traffic_t *self);

//  True when every say was answered and every acknowledged message has
//  reached every member (a gc_bench_done_fn, for gc_bench_pool_run).
bool gc_bench_traffic_settled (void *self);

//  After the last delivery: accounts every member's seqs against the
//  highest seq acknowledged in its room.
void gc_bench_traffic_check (gc_bench_traffic_t *self, gc_bench_faults_t *faults);

#endif
