/*  paced.c: requests at a steady rate, their answers tallied (see
    paced.h). */
#include <stdlib.h>
#include "paced.h"
#include "gc_alloc.h"

#define S_TURN_MAX  1000        //  ticks per alarm, at most: replies are read between

struct gc_bench_paced_t {
    gc_bench_pool_t *pool;
    gc_bench_paced_fn *fn;
    void *arg;
    gc_bench_conn_t **conns;
    size_t count;
    size_t capacity;
    bool running;
    double rate;
    int64_t base;               //  when tick base_index was due
    uint64_t base_index;
    uint64_t index;             //  the next tick
    uint64_t refused;           //  error replies, over every window
    gc_bench_pace_window_t window;
};

gc_bench_paced_t *
gc_bench_paced_new (gc_bench_pool_t *pool, gc_bench_paced_fn *fn, void *arg)
{
    gc_bench_paced_t *self = gc_calloc (1, sizeof *self);
    self->pool = pool;
    self->fn = fn;
    self->arg = arg;
    for (int kind = 0; kind < GC_BENCH_KINDS; kind++)
        self->window.kinds [kind].latency = gc_hist_new ();
    gc_bench_paced_window (self, 0);
    return self;
}

void
gc_bench_paced_destroy (gc_bench_paced_t **self_p)
{
    gc_bench_paced_t *self = *self_p;
    if (!self)
        return;
    gc_bench_paced_stop (self);
    for (int kind = 0; kind < GC_BENCH_KINDS; kind++)
        gc_hist_destroy (&self->window.kinds [kind].latency);
    free (self->conns);
    free (self);
    *self_p = NULL;
}

static void
s_on_replied (void *arg, gc_bench_conn_t *conn, const gc_bench_request_t *request,
              const gc_wire_frame_t *reply, int64_t now)
{
    (void) conn;
    gc_bench_paced_t *self = arg;
    gc_bench_tally_t *tally = &self->window.kinds [request->kind];
    gc_error_t code = reply->op == GC_CLIENT_OK? GC_OK: reply->code;
    if (code >= GC_ERROR_COUNT)
        code = GC_INTERNAL;     //  a code this bench does not know
    if (code != GC_OK)
        self->refused++;
    if (tally->answers [code]++ == 0)
        tally->first [code] = now - self->window.start;
    gc_hist_record (tally->latency, now - request->stamp);
}

static const gc_bench_events_t s_events = { .replied = s_on_replied };

void
gc_bench_paced_add (gc_bench_paced_t *self, gc_bench_conn_t *conn)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity? self->capacity * 2: 8;
        self->conns = gc_realloc (self->conns, self->capacity * sizeof *self->conns);
    }
    self->conns [self->count++] = conn;
    gc_bench_conn_set_events (conn, &s_events, self);
}

static int64_t
s_due (const gc_bench_paced_t *self, uint64_t index)
{
    return self->base + (int64_t) ((double) (index - self->base_index) * 1e6 / self->rate);
}

//  The alarm: runs the ticks due by now, then sleeps until the next
static void
s_on_alarm (void *arg, int64_t now)
{
    gc_bench_paced_t *self = arg;
    if (!self->running || !self->count)
        return;
    for (int turn = 0; turn < S_TURN_MAX && s_due (self, self->index) <= now; turn++) {
        gc_bench_conn_t *conn = self->conns [self->index % self->count];
        self->window.ticks++;
        if (self->fn (self->arg, conn, self->index))
            self->window.unsent++;
        self->index++;
    }
    gc_bench_pool_alarm (self->pool, s_due (self, self->index), s_on_alarm, self);
}

void
gc_bench_paced_start (gc_bench_paced_t *self, double rate, int64_t at)
{
    self->running = true;
    self->rate = rate > 0? rate: 1;
    self->base = at;
    self->base_index = self->index;
    gc_bench_pool_alarm (self->pool, at, s_on_alarm, self);
}

void
gc_bench_paced_stop (gc_bench_paced_t *self)
{
    if (self->running)
        gc_bench_pool_alarm (self->pool, -1, NULL, self);
    self->running = false;
}

void
gc_bench_paced_window (gc_bench_paced_t *self, int64_t now)
{
    self->window.start = now;
    self->window.ticks = 0;
    self->window.unsent = 0;
    for (int kind = 0; kind < GC_BENCH_KINDS; kind++) {
        gc_bench_tally_t *tally = &self->window.kinds [kind];
        for (int code = 0; code < GC_ERROR_COUNT; code++) {
            tally->answers [code] = 0;
            tally->first [code] = -1;
        }
        gc_hist_reset (tally->latency);
    }
}

const gc_bench_pace_window_t *
gc_bench_paced_current (const gc_bench_paced_t *self)
{
    return &self->window;
}

uint64_t
gc_bench_paced_refused (const gc_bench_paced_t *self)
{
    return self->refused;
}

bool
gc_bench_paced_settled (void *arg)
{
    gc_bench_paced_t *self = arg;
    for (size_t index = 0; index < self->count; index++)
        if (gc_bench_conn_state (self->conns [index]) == GC_BENCH_OPEN
        &&  gc_bench_conn_pending (self->conns [index]))
            return false;
    return true;
}
