/*  gc_metrics.c: Prometheus text rendering and fixed-bucket histograms. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gc_metrics.h"

const double gc_metrics_seconds [12] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5
};
const double gc_metrics_sizes [10] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024 };

void
gc_histogram_init (gc_histogram_t *self, const double *bounds, size_t size)
{
    memset (self, 0, sizeof *self);
    assert (size <= GC_HISTOGRAM_BUCKETS);
    self->bounds = bounds;
    self->size = size;
}

void
gc_histogram_add (gc_histogram_t *self, double value)
{
    size_t bucket = 0;
    while (bucket < self->size && value > self->bounds [bucket])
        bucket++;
    self->counts [bucket]++;
    self->sum += value;
    self->count++;
}

void
gc_metric_write (FILE *stream, const char *name, const char *type,
                 const char *help, double value)
{
    fprintf (stream, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n",
             name, help, name, type, name, value);
}

void
gc_histogram_write (const gc_histogram_t *self, FILE *stream,
                    const char *name, const char *help)
{
    fprintf (stream, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t bucket = 0; bucket < self->size; bucket++) {
        cumulative += self->counts [bucket];
        fprintf (stream, "%s_bucket{le=\"%g\"} %lu\n", name, self->bounds [bucket],
                 (unsigned long) cumulative);
    }
    fprintf (stream, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.17g\n%s_count %lu\n",
             name, (unsigned long) self->count, name, self->sum,
             name, (unsigned long) self->count);
}

void
gc_metrics_test (bool verbose)
{
    if (verbose)
        printf (" * gc_metrics: ");
    gc_histogram_t histogram;
    gc_histogram_init (&histogram, gc_metrics_sizes, 10);
    gc_histogram_add (&histogram, 1);
    gc_histogram_add (&histogram, 3);
    gc_histogram_add (&histogram, 5000);
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    gc_histogram_write (&histogram, stream, "x", "help");
    gc_metric_write (stream, "y_total", "counter", "help", 7);
    fclose (stream);
    assert (strstr (text, "x_bucket{le=\"1\"} 1\n"));
    assert (strstr (text, "x_bucket{le=\"4\"} 2\n"));
    assert (strstr (text, "x_bucket{le=\"1024\"} 2\n"));
    assert (strstr (text, "x_bucket{le=\"+Inf\"} 3\n"));
    assert (strstr (text, "x_count 3\n") && strstr (text, "x_sum 5004\n"));
    assert (strstr (text, "# TYPE y_total counter\ny_total 7\n"));
    free (text);
    if (verbose)
        printf ("OK\n");
}
