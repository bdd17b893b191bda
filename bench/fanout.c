/*  fanout.c: the fanout and max scenarios.

    fanout: R rooms with M member connections each, spread over the
    gateways; S of the members say at X messages/s in total (open loop)
    for T seconds. Measures what was offered, acknowledged and delivered
    per second, publish-to-delivery latency, and checks that every member
    got every message of its room once and in order.

    max: the same crowd, at a rate raised by a quarter every T seconds
    until a step's p99 delivery latency passes 50 ms, its deliveries fall
    below 95% of what was due, or says fail; reports the highest
    deliveries/s of a step that passed. When the very first rate fails,
    it waits for the backlog to clear and starts again at half of it. */
#include <stdio.h>
#include "scenario.h"
#include "gc_alloc.h"
#include "gc_clock.h"

#define S_MAX_P99_US        50000   //  a step's p99 limit
#define S_MAX_SHORTFALL     0.95    //  deliveries a step must make of those due
#define S_MAX_LAG_US        25000   //  the bench's own p99 lateness limit
#define S_MAX_STEPS         40
#define S_RAMP              1.25    //  rate factor per step
#define S_MAX_HALVINGS      4       //  restarts lower when the first rate fails
#define S_DRAIN_S           10      //  wait for late deliveries this long

//  The connections of a fanout run and their traffic
typedef struct {
    gc_bench_pool_t *pool;
    gc_bench_traffic_t *traffic;
    size_t rooms;
    size_t members;             //  per room
    size_t senders;
    double rate;
    double duration;
} s_crowd_t;

static void
s_crowd_destroy (s_crowd_t *crowd)
{
    gc_bench_traffic_destroy (&crowd->traffic);
    gc_bench_pool_destroy (&crowd->pool);
}

//  Reads the configuration, records it in the report, and gathers the
//  crowd: every member logged in and joined
static int
s_crowd_new (s_crowd_t *crowd, const gc_bench_config_t *config, gc_bench_report_t *report,
             double rate, double duration)
{
    crowd->rooms = (size_t) gc_bench_default (config->rooms_used, 1);
    crowd->members = (size_t) gc_bench_default (config->members, 200);
    size_t count = crowd->rooms * crowd->members;
    crowd->senders = (size_t) gc_bench_default (config->senders, count < 10? (long) count: 10);
    crowd->rate = gc_bench_default_real (config->rate, rate);
    crowd->duration = gc_bench_default_real (config->duration, duration);
    size_t bytes = (size_t) gc_bench_default (config->bytes, 100);
    gc_bench_report_param (report, "rooms", (double) crowd->rooms);
    gc_bench_report_param (report, "members", (double) crowd->members);
    gc_bench_report_param (report, "senders", (double) crowd->senders);
    gc_bench_report_param (report, "rate", crowd->rate);
    gc_bench_report_param (report, "bytes", (double) bytes);
    gc_bench_report_param (report, "duration", crowd->duration);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    if (crowd->rooms < 1 || crowd->rooms > config->room_names
    ||  crowd->senders < 1 || crowd->senders > count) {
        gc_bench_report_fail (report, "need 1 to as many rooms as --room names (3 seeded), "
                                      "and 1 to rooms x members senders");
        return -1;
    }
    size_t first;
    crowd->pool = gc_bench_pool (config, report);
    if (!crowd->pool
    ||  gc_bench_token (crowd->pool, config, report)
    ||  gc_bench_gather (crowd->pool, count, config->rooms, crowd->rooms, report, &first))
        return -1;
    crowd->traffic = gc_bench_traffic_new (crowd->pool, config->rooms, crowd->rooms, bytes);
    for (size_t index = 0; index < count; index++) {
        gc_bench_conn_t *conn = gc_bench_pool_conn (crowd->pool, first + index);
        int room = (int) gc_bench_room_of (crowd->pool, index, crowd->rooms);
        if (gc_bench_traffic_add (crowd->traffic, conn, room, index < crowd->senders))
            return -1;
    }
    return 0;
}

//  Stops sending and waits for what is still on its way
static void
s_crowd_drain (s_crowd_t *crowd, gc_bench_report_t *report)
{
    gc_bench_traffic_stop (crowd->traffic);
    int64_t deadline = gc_clock_mono_us () + S_DRAIN_S * 1000000LL;
    if (gc_bench_pool_run (crowd->pool, gc_bench_traffic_settled, crowd->traffic, deadline))
        gc_bench_report_note (report, "not every delivery came within %d s of the end", S_DRAIN_S);
}

//  --------------------------------------------------------------------------
//  fanout

int
gc_bench_fanout (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    s_crowd_t crowd = { 0 };
    if (s_crowd_new (&crowd, config, report, 1000, 10)) {
        s_crowd_destroy (&crowd);
        return -1;
    }
    int64_t start = gc_clock_mono_us () + 100000;       //  100 ms to settle the loop
    int64_t end = start + (int64_t) (crowd.duration * 1e6);
    gc_bench_traffic_window (crowd.traffic, start);
    gc_bench_traffic_start (crowd.traffic, crowd.rate, start);
    if (gc_bench_hold (crowd.pool, end, report)) {
        s_crowd_destroy (&crowd);
        return -1;
    }
    //  Throughput is what happened within the duration; latencies also
    //  count what came late, after it
    gc_bench_window_t counts = *gc_bench_traffic_current (crowd.traffic);
    double seconds = (double) (gc_clock_mono_us () - start) / 1e6;
    s_crowd_drain (&crowd, report);
    const gc_bench_window_t *window = gc_bench_traffic_current (crowd.traffic);

    gc_bench_report_figure (report, "offered_per_s", (double) counts.offered / seconds,
                            "msg/s", "offered says");
    gc_bench_report_figure (report, "acked_per_s", (double) counts.acked / seconds,
                            "msg/s", "acknowledged says");
    gc_bench_report_figure (report, "delivered_per_s", (double) counts.delivered / seconds,
                            "msg/s", "deliveries");
    gc_bench_report_figure (report, "due_per_s",
                            (double) counts.offered * (double) crowd.members / seconds,
                            "msg/s", "deliveries due (offered x members)");
    gc_bench_report_latency (report, "latency", "publish-to-delivery", window->latency);
    gc_bench_report_latency (report, "ack", "say-to-ack", window->ack);
    gc_bench_report_figure (report, "bench_lag_p99_ms",
                            (double) gc_hist_percentile (window->lag, 99) / 1000.0,
                            "ms", "bench's own send lateness p99");
    gc_bench_report_check (report, "say_errors", window->errors, "says refused or not sent");
    gc_bench_report_faults (report, crowd.traffic, crowd.pool);
    s_crowd_destroy (&crowd);
    return 0;
}

//  --------------------------------------------------------------------------
//  max

//  Judges one step; returns NULL when it passed, else why it did not
static const char *
s_step_verdict (const gc_bench_window_t *window, size_t members)
{
    double due = (double) window->offered * (double) members;
    if (gc_hist_percentile (window->lag, 99) > S_MAX_LAG_US)
        return "the bench itself could not keep up";
    if (window->errors)
        return "says were refused";
    if (gc_hist_percentile (window->latency, 99) > S_MAX_P99_US)
        return "p99 over 50 ms";
    if ((double) window->delivered < S_MAX_SHORTFALL * due)
        return "deliveries fell behind";
    return NULL;
}

//  Adds a step's figures to the steps array and a line to the table
static void
s_step_report (gc_bench_report_t *report, json_t *steps, double rate, double seconds,
               const gc_bench_window_t *window, const char *verdict)
{
    double delivered = (double) window->delivered / seconds;
    double p99 = (double) gc_hist_percentile (window->latency, 99) / 1000.0;
    json_array_append_new (steps, json_pack ("{s:f, s:f, s:f, s:f, s:b}",
        "rate", rate, "delivered_per_s", delivered, "p99_ms", p99,
        "bench_lag_p99_ms", (double) gc_hist_percentile (window->lag, 99) / 1000.0,
        "passed", verdict == NULL));
    gc_bench_report_note (report, "step %8.0f msg/s: %10.0f deliveries/s, p99 %8.3f ms%s%s",
                          rate, delivered, p99, verdict? ": ": "", verdict? verdict: "");
}

int
gc_bench_max (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    s_crowd_t crowd = { 0 };
    if (s_crowd_new (&crowd, config, report, 500, 5)) {
        s_crowd_destroy (&crowd);
        return -1;
    }
    json_t *steps = gc_alloc_checked (json_array ());
    double rate = crowd.rate, best = 0, best_rate = 0;
    const char *verdict = NULL;
    int64_t step_us = (int64_t) (crowd.duration * 1e6);
    int64_t start = gc_clock_mono_us () + 100000;
    gc_bench_traffic_start (crowd.traffic, rate, start);
    int halvings = 0;
    for (int step = 0; step < S_MAX_STEPS; step++) {
        gc_bench_traffic_window (crowd.traffic, start);
        if (gc_bench_hold (crowd.pool, start + step_us, report))
            break;
        const gc_bench_window_t *window = gc_bench_traffic_current (crowd.traffic);
        verdict = s_step_verdict (window, crowd.members);
        s_step_report (report, steps, rate, crowd.duration, window, verdict);
        if (!verdict) {
            if ((double) window->delivered / crowd.duration > best) {
                best = (double) window->delivered / crowd.duration;
                best_rate = rate;
            }
            rate *= S_RAMP;
            start += step_us;
            gc_bench_traffic_set_rate (crowd.traffic, rate, start);
            continue;
        }
        if (best > 0 || ++halvings > S_MAX_HALVINGS)
            break;
        //  The first rate was already too much: let the backlog clear,
        //  then start again from half of it
        s_crowd_drain (&crowd, report);
        rate /= 2;
        start = gc_clock_mono_us () + 100000;
        gc_bench_traffic_start (crowd.traffic, rate, start);
    }
    s_crowd_drain (&crowd, report);
    gc_bench_report_figure (report, "max_delivered_per_s", best, "msg/s",
                            "highest sustained deliveries");
    gc_bench_report_figure (report, "max_rate", best_rate, "msg/s", "at says of");
    gc_bench_report_attach (report, "steps", steps);
    gc_bench_report_note (report, "stopped: %s", verdict? verdict: "no step failed");
    gc_bench_report_faults (report, crowd.traffic, crowd.pool);
    s_crowd_destroy (&crowd);
    return 0;
}
