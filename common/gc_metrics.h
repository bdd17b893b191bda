/*  gc_metrics.h: figures in Prometheus text exposition format.

    Both servers render their figures with these: gateways at GET
    /metrics, the broker in its stats reply (which gateways append to
    their own /metrics). A histogram has fixed upper bounds, cumulative
    buckets when written, as Prometheus expects. */
#ifndef GC_METRICS_H_INCLUDED
#define GC_METRICS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GC_HISTOGRAM_BUCKETS 16

typedef struct {
    const double *bounds;       //  upper bounds, ascending
    size_t size;                //  how many bounds (at most GC_HISTOGRAM_BUCKETS)
    uint64_t counts [GC_HISTOGRAM_BUCKETS + 1];     //  the last is +Inf
    double sum;
    uint64_t count;
} gc_histogram_t;

//  Bounds for latencies in seconds and for batch sizes
extern const double gc_metrics_seconds [12];
extern const double gc_metrics_sizes [10];

void gc_histogram_init (gc_histogram_t *self, const double *bounds, size_t size);
void gc_histogram_add (gc_histogram_t *self, double value);

//  Writes a counter or gauge with its HELP and TYPE lines
void gc_metric_write (FILE *stream, const char *name, const char *type,
                      const char *help, double value);
void gc_histogram_write (const gc_histogram_t *self, FILE *stream,
                         const char *name, const char *help);

void gc_metrics_test (bool verbose);

#endif
