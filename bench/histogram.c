/*  histogram.c: log-bucket histogram (see histogram.h).

    Bucket layout: values 0..63 have a bucket each. A larger value v with
    its highest bit at position b falls in group e = b - 5 (1..58), which
    splits [2^b, 2^(b+1)) into 32 equal buckets of width 2^e; the bucket
    is chosen by v's top six bits. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "histogram.h"
#include "gc_alloc.h"

#define S_SUB_BITS  5
#define S_SUB       (1 << S_SUB_BITS)               //  buckets per group
#define S_LINEAR    (2 * S_SUB)                     //  exact buckets
#define S_GROUPS    (64 - S_SUB_BITS - 1)           //  groups above them
#define S_BUCKETS   (S_LINEAR + S_GROUPS * S_SUB)

struct gc_hist_t {
    uint64_t counts [S_BUCKETS];
    uint64_t count;             //  values counted
    int64_t max;                //  largest value counted, exact
    double sum;                 //  for the mean
};

static int
s_index (uint64_t value)
{
    if (value < S_LINEAR)
        return (int) value;
    int top = 63 - __builtin_clzll (value);
    int shift = top - S_SUB_BITS;
    return S_LINEAR + (shift - 1) * S_SUB + (int) ((value >> shift) - S_SUB);
}

//  The largest value that falls in bucket index
static uint64_t
s_upper (int index)
{
    if (index < S_LINEAR)
        return (uint64_t) index;
    int group = (index - S_LINEAR) / S_SUB;
    uint64_t mantissa = (uint64_t) ((index - S_LINEAR) % S_SUB + S_SUB);
    int shift = group + 1;
    return ((mantissa + 1) << shift) - 1;
}

gc_hist_t *
gc_hist_new (void)
{
    return gc_calloc (1, sizeof (gc_hist_t));
}

void
gc_hist_destroy (gc_hist_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
gc_hist_record (gc_hist_t *self, int64_t value)
{
    if (value < 0)
        value = 0;
    self->counts [s_index ((uint64_t) value)]++;
    self->count++;
    self->sum += (double) value;
    if (value > self->max)
        self->max = value;
}

void
gc_hist_merge (gc_hist_t *self, const gc_hist_t *other)
{
    for (int index = 0; index < S_BUCKETS; index++)
        self->counts [index] += other->counts [index];
    self->count += other->count;
    self->sum += other->sum;
    if (other->max > self->max)
        self->max = other->max;
}

void
gc_hist_reset (gc_hist_t *self)
{
    memset (self, 0, sizeof *self);
}

uint64_t
gc_hist_count (const gc_hist_t *self)
{
    return self->count;
}

int64_t
gc_hist_max (const gc_hist_t *self)
{
    return self->max;
}

double
gc_hist_mean (const gc_hist_t *self)
{
    return self->count? self->sum / (double) self->count: 0;
}

int64_t
gc_hist_percentile (const gc_hist_t *self, double percentile)
{
    if (self->count == 0)
        return 0;
    if (percentile > 100)
        percentile = 100;
    //  The rank of the value wanted, 1-based: the smallest value with at
    //  least percentile% of the values at or below it (the epsilon keeps
    //  99.9% of 1000 at 999 despite rounding)
    double wanted = percentile / 100.0 * (double) self->count - 1e-9;
    uint64_t rank = wanted < 1? 1: (uint64_t) wanted;
    if ((double) rank < wanted)
        rank++;                 //  rounds up, without libm
    uint64_t seen = 0;
    for (int index = 0; index < S_BUCKETS; index++) {
        seen += self->counts [index];
        if (seen >= rank) {
            uint64_t upper = s_upper (index);
            return upper > (uint64_t) self->max? self->max: (int64_t) upper;
        }
    }
    return self->max;
}

//  --------------------------------------------------------------------------
//  Self-test

void
gc_hist_test (bool verbose)
{
    if (verbose)
        printf (" * gc_hist: ");
    //  Every bucket's bounds meet the next one's, and the index of each
    //  bound is that bucket
    for (int index = 0; index < S_BUCKETS - 1; index++) {
        assert (s_index (s_upper (index)) == index);
        assert (s_index (s_upper (index) + 1) == index + 1);
    }
    assert (s_index (UINT64_MAX) == S_BUCKETS - 1);

    gc_hist_t *self = gc_hist_new ();
    assert (self);
    assert (gc_hist_percentile (self, 99) == 0);
    assert (gc_hist_mean (self) == 0);

    //  Small values are exact
    for (int value = 1; value <= 50; value++)
        gc_hist_record (self, value);
    assert (gc_hist_count (self) == 50);
    assert (gc_hist_percentile (self, 50) == 25);
    assert (gc_hist_percentile (self, 100) == 50);
    assert (gc_hist_percentile (self, 0) == 1);
    assert (gc_hist_mean (self) == 25.5);

    //  1..1,000,000: every percentile within 3.2% above the exact one,
    //  never below it
    gc_hist_reset (self);
    assert (gc_hist_count (self) == 0);
    for (int value = 1; value <= 1000000; value++)
        gc_hist_record (self, value);
    double percentiles [] = { 50, 90, 99, 99.9, 99.99 };
    for (size_t index = 0; index < sizeof percentiles / sizeof *percentiles; index++) {
        double exact = percentiles [index] * 10000;
        int64_t found = gc_hist_percentile (self, percentiles [index]);
        assert (found >= exact && found <= exact * 1.032);
    }
    assert (gc_hist_max (self) == 1000000);
    assert (gc_hist_percentile (self, 100) == 1000000);

    //  A tail the median hides: 999 fast values and one stall
    gc_hist_t *other = gc_hist_new ();
    assert (other);
    for (int value = 0; value < 999; value++)
        gc_hist_record (other, 100);
    gc_hist_record (other, 250000);
    assert (gc_hist_percentile (other, 50) == 101);     //  bucket 100..101
    assert (gc_hist_percentile (other, 99.9) == 101);
    int64_t tail = gc_hist_percentile (other, 99.95);
    assert (tail >= 250000 && tail == gc_hist_max (other));

    //  Merging adds counts and keeps the larger max; negatives count as 0
    gc_hist_record (other, -5);
    gc_hist_merge (self, other);
    assert (gc_hist_count (self) == 1001001);
    assert (gc_hist_max (self) == 1000000);
    gc_hist_reset (self);
    gc_hist_merge (self, other);
    assert (gc_hist_percentile (self, 0) == 0);
    assert (gc_hist_max (self) == 250000);

    gc_hist_destroy (&other);
    gc_hist_destroy (&self);
    gc_hist_destroy (&self);        //  safe twice
    assert (self == NULL);
    if (verbose)
        printf ("OK\n");
}
