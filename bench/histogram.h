/*  histogram.h: latency distributions for groupchat-bench.

    A log-bucket histogram of non-negative integers (the bench records
    microseconds): exact below 64, above that 32 buckets per power of two,
    so a percentile is within 3% of the true value, whatever the range,
    in a fixed 16 KiB. Recording is a few instructions and never
    allocates, so it can sit on the path of every delivered message.
    Percentiles report the upper bound of their bucket (never flattering),
    capped at the largest value recorded, which is kept exactly. */
#ifndef GC_BENCH_HISTOGRAM_H_INCLUDED
#define GC_BENCH_HISTOGRAM_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct gc_hist_t gc_hist_t;

//  A new, empty histogram.
gc_hist_t *gc_hist_new (void);
void gc_hist_destroy (gc_hist_t **self_p);

//  Counts one value; negative values (a clock stepped back) count as 0.
void gc_hist_record (gc_hist_t *self, int64_t value);

//  Adds every value counted in other to self.
void gc_hist_merge (gc_hist_t *self, const gc_hist_t *other);

//  Forgets every value.
void gc_hist_reset (gc_hist_t *self);

uint64_t gc_hist_count (const gc_hist_t *self);
int64_t gc_hist_max (const gc_hist_t *self);
double gc_hist_mean (const gc_hist_t *self);

//  The value at percentile (0..100) of those counted, 0 when empty.
int64_t gc_hist_percentile (const gc_hist_t *self, double percentile);

void gc_hist_test (bool verbose);

#endif
