/*  report.h: the results of one scenario, for people and for scripts.

    Figures are added in the order they should be read; the report prints
    them as an aligned table and as one JSON line:

        {"scenario":"fanout","params":{...},"results":{...},"checks":{...},"passed":true}

    results holds the figures by key (latencies in ms, rates per second);
    checks holds counts that must be zero (missing deliveries, errors),
    and passed is false when one is not, or when the run failed. */
#ifndef GC_BENCH_REPORT_H_INCLUDED
#define GC_BENCH_REPORT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "histogram.h"

typedef struct gc_bench_report_t gc_bench_report_t;

gc_bench_report_t *gc_bench_report_new (const char *scenario);
void gc_bench_report_destroy (gc_bench_report_t **self_p);

//  A parameter of the run (shown in the title)
void gc_bench_report_param (gc_bench_report_t *self, const char *key, double value);
void gc_bench_report_param_text (gc_bench_report_t *self, const char *key, const char *value);

//  A figure: key in JSON, label and unit in the table
void gc_bench_report_figure (gc_bench_report_t *self, const char *key, double value,
                             const char *unit, const char *label);

//  p50, p90, p99, p99.9 and max of a histogram of microseconds, as
//  figures in ms named prefix_p50_ms ... prefix_max_ms
void gc_bench_report_latency (gc_bench_report_t *self, const char *prefix,
                              const char *label, const gc_hist_t *hist);

//  A count that must be 0 for the run to pass
void gc_bench_report_check (gc_bench_report_t *self, const char *key, uint64_t value,
                            const char *label);

//  Marks the run failed, with why (also shown in the table)
void gc_bench_report_fail (gc_bench_report_t *self, const char *why);

//  A line of text in the table only
void gc_bench_report_note (gc_bench_report_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Adds a JSON value under key in results (takes it over)
void gc_bench_report_attach (gc_bench_report_t *self, const char *key, json_t *value);

bool gc_bench_report_passed (const gc_bench_report_t *self);

//  Prints the table (unless table is NULL), then the JSON line.
void gc_bench_report_print (gc_bench_report_t *self, FILE *table, FILE *json);

void gc_bench_report_test (bool verbose);

#endif
