/*  report.c: a scenario's results as a table and a JSON line (see
    report.h). The table is built line by line as figures arrive; the
    JSON document alongside it. */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "gc_alloc.h"

#define S_LINE_MAX  160

struct gc_bench_report_t {
    json_t *root;               //  the JSON line
    json_t *params;             //  in root
    json_t *results;            //  in root
    json_t *checks;             //  in root
    bool passed;
    char title [512];           //  scenario and params
    char **lines;               //  the table, in order
    size_t line_count;
    size_t line_capacity;
};

gc_bench_report_t *
gc_bench_report_new (const char *scenario)
{
    gc_bench_report_t *self = gc_calloc (1, sizeof *self);
    self->passed = true;
    self->params = gc_alloc_checked (json_object ());
    self->results = gc_alloc_checked (json_object ());
    self->checks = gc_alloc_checked (json_object ());
    self->root = gc_alloc_checked (json_pack ("{s:s, s:O, s:O, s:O}", "scenario", scenario,
                                              "params", self->params, "results", self->results,
                                              "checks", self->checks));
    snprintf (self->title, sizeof self->title, "%s:", scenario);
    return self;
}

void
gc_bench_report_destroy (gc_bench_report_t **self_p)
{
    gc_bench_report_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->params);
    json_decref (self->results);
    json_decref (self->checks);
    json_decref (self->root);
    for (size_t index = 0; index < self->line_count; index++)
        free (self->lines [index]);
    free (self->lines);
    free (self);
    *self_p = NULL;
}

static void
s_line (gc_bench_report_t *self, const char *line)
{
    if (self->line_count == self->line_capacity) {
        size_t capacity = self->line_capacity? self->line_capacity * 2: 16;
        self->lines = gc_realloc (self->lines, capacity * sizeof *self->lines);
        self->line_capacity = capacity;
    }
    self->lines [self->line_count++] = gc_strdup (line);
}

//  True when value is a whole number small enough for an integer (the
//  programs link without libm, hence no floor)
static bool
s_whole (double value)
{
    return value > -9e15 && value < 9e15 && value == (double) (long long) value;
}

//  A number as JSON: an integer when it is one, else rounded to 3 places
static json_t *
s_number (double value)
{
    if (value != value || value > 9e15 || value < -9e15)
        return json_null ();    //  NaN or too large to matter
    if (s_whole (value))
        return json_integer ((json_int_t) value);
    double thousandths = value * 1000 + (value < 0? -0.5: 0.5);
    return json_real ((double) (long long) thousandths / 1000);
}

//  A number for the table: milliseconds to the microsecond, others with
//  fewer decimals as they grow
static void
s_format (char *text, size_t size, double value, const char *unit)
{
    double magnitude = value < 0? -value: value;
    int decimals = unit && strcmp (unit, "ms") == 0? 3:
                   s_whole (value) || magnitude >= 1000? 0: magnitude >= 10? 1: 3;
    snprintf (text, size, "%.*f", decimals, value);
}

void
gc_bench_report_param (gc_bench_report_t *self, const char *key, double value)
{
    char text [64];
    s_format (text, sizeof text, value, NULL);
    json_object_set_new (self->params, key, s_number (value));
    size_t used = strlen (self->title);
    snprintf (self->title + used, sizeof self->title - used, " %s=%s", key, text);
}

void
gc_bench_report_param_text (gc_bench_report_t *self, const char *key, const char *value)
{
    json_object_set_new (self->params, key, json_string (value));
    size_t used = strlen (self->title);
    snprintf (self->title + used, sizeof self->title - used, " %s=%s", key, value);
}

void
gc_bench_report_figure (gc_bench_report_t *self, const char *key, double value,
                        const char *unit, const char *label)
{
    char text [64], line [S_LINE_MAX];
    s_format (text, sizeof text, value, unit);
    json_object_set_new (self->results, key, s_number (value));
    snprintf (line, sizeof line, "  %-36s %14s %s", label, text, unit? unit: "");
    s_line (self, line);
}

void
gc_bench_report_latency (gc_bench_report_t *self, const char *prefix, const char *label,
                         const gc_hist_t *hist)
{
    static const struct { double percentile; const char *name; } points [] = {
        { 50, "p50" }, { 90, "p90" }, { 99, "p99" }, { 99.9, "p99.9" }, { 100, "max" }
    };
    char key [96], text [128];
    for (size_t index = 0; index < sizeof points / sizeof *points; index++) {
        int64_t value = points [index].percentile < 100?
            gc_hist_percentile (hist, points [index].percentile): gc_hist_max (hist);
        snprintf (key, sizeof key, "%s_%s_ms", prefix, points [index].name);
        snprintf (text, sizeof text, "%s %s", label, points [index].name);
        gc_bench_report_figure (self, key, (double) value / 1000.0, "ms", text);
    }
    snprintf (key, sizeof key, "%s_count", prefix);
    json_object_set_new (self->results, key, json_integer ((json_int_t) gc_hist_count (hist)));
}

void
gc_bench_report_check (gc_bench_report_t *self, const char *key, uint64_t value,
                       const char *label)
{
    char line [S_LINE_MAX];
    json_object_set_new (self->checks, key, json_integer ((json_int_t) value));
    snprintf (line, sizeof line, "  %-36s %14llu %s", label, (unsigned long long) value,
              value? "FAILED (must be 0)": "ok");
    s_line (self, line);
    if (value)
        self->passed = false;
}

void
gc_bench_report_fail (gc_bench_report_t *self, const char *why)
{
    char line [S_LINE_MAX];
    snprintf (line, sizeof line, "  FAILED: %s", why);
    s_line (self, line);
    json_object_set_new (self->root, "failure", json_string (why));
    self->passed = false;
}

void
gc_bench_report_note (gc_bench_report_t *self, const char *format, ...)
{
    char line [S_LINE_MAX] = "  ";
    va_list args;
    va_start (args, format);
    vsnprintf (line + 2, sizeof line - 2, format, args);
    va_end (args);
    s_line (self, line);
}

void
gc_bench_report_attach (gc_bench_report_t *self, const char *key, json_t *value)
{
    json_object_set_new (self->results, key, value);
}

bool
gc_bench_report_passed (const gc_bench_report_t *self)
{
    return self->passed;
}

void
gc_bench_report_print (gc_bench_report_t *self, FILE *table, FILE *json)
{
    if (table) {
        fprintf (table, "%s\n", self->title);
        for (size_t index = 0; index < self->line_count; index++)
            fprintf (table, "%s\n", self->lines [index]);
        fprintf (table, "  %-36s %14s\n", "result", self->passed? "passed": "FAILED");
        fflush (table);
    }
    json_object_set_new (self->root, "passed", json_boolean (self->passed));
    char *line = json_dumps (self->root, JSON_COMPACT | JSON_REAL_PRECISION (12));
    if (line) {
        fprintf (json, "%s\n", line);
        free (line);
    }
    fflush (json);
}

//  --------------------------------------------------------------------------
//  Self-test

void
gc_bench_report_test (bool verbose)
{
    if (verbose)
        printf (" * gc_bench_report: ");
    gc_bench_report_t *self = gc_bench_report_new ("fanout");
    gc_bench_report_param (self, "rate", 1000);
    gc_bench_report_param_text (self, "room", "Taskmaster");
    gc_bench_report_figure (self, "delivered_per_s", 199999.6, "msg/s", "delivered");
    gc_hist_t *hist = gc_hist_new ();
    gc_hist_record (hist, 1500);
    gc_bench_report_latency (self, "latency", "latency", hist);
    gc_bench_report_check (self, "missing", 0, "missing");
    assert (gc_bench_report_passed (self));

    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    assert (stream);
    gc_bench_report_print (self, stream, stream);
    fclose (stream);
    assert (strstr (text, "fanout: rate=1000 room=Taskmaster\n"));
    assert (strstr (text, "passed"));
    //  The last line is the JSON, and it holds every figure
    char *json_line = strstr (text, "{\"scenario\"");
    assert (json_line);
    json_t *root = json_loads (json_line, 0, NULL);
    assert (root);
    json_t *results = json_object_get (root, "results");
    assert (json_real_value (json_object_get (results, "delivered_per_s")) == 199999.6);
    assert (json_real_value (json_object_get (results, "latency_p99_ms")) >= 1.5);
    assert (json_integer_value (json_object_get (results, "latency_count")) == 1);
    assert (json_is_true (json_object_get (root, "passed")));
    assert (json_integer_value (json_object_get (json_object_get (root, "params"), "rate")) == 1000);
    json_decref (root);
    free (text);

    //  A non-zero check fails the run
    gc_bench_report_check (self, "duplicates", 3, "duplicates");
    assert (!gc_bench_report_passed (self));
    gc_hist_destroy (&hist);
    gc_bench_report_destroy (&self);
    gc_bench_report_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
