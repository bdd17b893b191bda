/*  join.c: the join scenario.

    N connections, logged in with the token, all join one room at once,
    each getting the room's history (the scenario first makes sure there
    are 10 messages, a full history); then all leave, and again, in
    rounds, for T seconds. Reports joins/s (joins over the time the join
    waves took) and join latency, which in a wave of N includes waiting
    behind the others: this is the reconnect storm after a gateway
    restart. */
#include "scenario.h"
#include "gc_clock.h"

#define S_WAVE_S    60          //  a wave that takes longer has failed

typedef struct {
    uint64_t ok;
    uint64_t errors;
    uint64_t short_history;     //  joins answered with less than 10
    gc_hist_t *latency;         //  us, from sending to the answer
} s_joins_t;

static void
s_on_replied (void *arg, gc_bench_conn_t *conn, const gc_bench_request_t *request,
              const gc_wire_frame_t *reply, int64_t now)
{
    (void) conn;
    s_joins_t *self = arg;
    if (request->kind != GC_BENCH_JOIN)
        return;
    if (reply->op != GC_CLIENT_OK) {
        self->errors++;
        return;
    }
    self->ok++;
    if (reply->history < GC_JOIN_HISTORY)
        self->short_history++;
    gc_hist_record (self->latency, now - request->stamp);
}

static const gc_bench_events_t s_events = { .replied = s_on_replied };

//  Says enough on one connection that the room's history is full
static int
s_seed (gc_bench_pool_t *pool, const gc_bench_config_t *config, gc_bench_report_t *report)
{
    size_t first;
    if (gc_bench_gather (pool, 1, config->rooms, 1, report, &first))
        return -1;
    gc_bench_conn_t *conn = gc_bench_pool_conn (pool, first);
    for (int index = 0; index < GC_JOIN_HISTORY; index++)
        gc_bench_conn_say (conn, 0, gc_clock_mono_us (), 100);
    return gc_bench_settle (pool, 30, report, "saying the history");
}

//  One wave: every connection joins, then every connection leaves;
//  returns how long the joins took (us), or -1
static int64_t
s_wave (gc_bench_pool_t *pool, const gc_bench_config_t *config, size_t first, size_t count,
        gc_bench_report_t *report)
{
    int64_t start = gc_clock_mono_us ();
    for (size_t index = 0; index < count; index++)
        gc_bench_conn_join (gc_bench_pool_conn (pool, first + index), config->rooms [0], 0);
    if (gc_bench_settle (pool, S_WAVE_S, report, "joining"))
        return -1;
    int64_t took = gc_clock_mono_us () - start;
    for (size_t index = 0; index < count; index++)
        gc_bench_conn_leave (gc_bench_pool_conn (pool, first + index), 0);
    return gc_bench_settle (pool, S_WAVE_S, report, "leaving")? -1: took;
}

int
gc_bench_join (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    size_t count = (size_t) gc_bench_default (config->connections, 1000);
    double duration = gc_bench_default_real (config->duration, 5);
    gc_bench_report_param_text (report, "room", config->rooms [0]);
    gc_bench_report_param (report, "connections", (double) count);
    gc_bench_report_param (report, "duration", duration);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    s_joins_t joins = { .latency = gc_hist_new () };
    size_t first;
    int rc = -1;
    gc_bench_pool_t *pool = gc_bench_pool (config, report);
    if (!pool || count < 1
    ||  gc_bench_token (pool, config, report)
    ||  s_seed (pool, config, report)
    ||  gc_bench_gather (pool, count, NULL, 0, report, &first))
        goto cleanup;
    for (size_t index = 0; index < count; index++)
        gc_bench_conn_set_events (gc_bench_pool_conn (pool, first + index), &s_events, &joins);

    int64_t end = gc_clock_mono_us () + (int64_t) (duration * 1e6), joining = 0;
    int waves = 0;
    do {
        int64_t took = s_wave (pool, config, first, count, report);
        if (took < 0)
            goto cleanup;
        joining += took;
        waves++;
    } while (gc_clock_mono_us () < end);

    gc_bench_report_figure (report, "waves", waves, "", "waves of joins");
    gc_bench_report_figure (report, "joins_per_s", (double) joins.ok * 1e6 / (double) joining,
                            "/s", "joins with history");
    gc_bench_report_latency (report, "join", "join", joins.latency);
    gc_bench_report_check (report, "join_errors", joins.errors, "joins refused");
    gc_bench_report_check (report, "short_history", joins.short_history,
                           "joins with less than 10 of history");
    gc_bench_report_faults (report, NULL, pool);
    rc = 0;
cleanup:
    gc_bench_pool_destroy (&pool);
    gc_hist_destroy (&joins.latency);
    return rc;
}
