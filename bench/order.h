/*  order.h: checks one receiver's pushes of one room against protocol v1's
    promise: every seq after the join, in order, once.

    A value type, embedded in each connection's room slot (the bench holds
    thousands), so it has init instead of new/destroy. A seq that skips
    ahead counts the seqs it jumped over as missing; one of those arriving
    later is then out of order (no longer missing); a seq seen before is a
    duplicate. Lateness is judged within the last GC_ORDER_WINDOW seqs; an
    older seq counts as a duplicate, since which it was cannot be told. */
#ifndef GC_BENCH_ORDER_H_INCLUDED
#define GC_BENCH_ORDER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "gc_limits.h"


typedef struct {
    int64_t next;               //  the seq expected next
    uint64_t delivered;         //  seqs received, duplicates included
    uint64_t missing;           //  skipped and not seen since
    uint64_t duplicates;
    uint64_t reordered;         //  came after a higher seq
    uint64_t seen [GC_ORDER_WINDOW / 64];   //  bit seq % window: seq was received
} gc_order_t;

//  Starts expecting next (the seq after the join reply's history).
void gc_order_init (gc_order_t *self, int64_t next);

//  Accounts for one received seq.
void gc_order_see (gc_order_t *self, int64_t seq);

//  At the end of a run: seqs up to last that never came are missing.
void gc_order_finish (gc_order_t *self, int64_t last);

//  Missing, duplicate and out-of-order seqs together: 0 when all is well.
uint64_t gc_order_faults (const gc_order_t *self);

void gc_order_test (bool verbose);

#endif
