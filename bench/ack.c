/*  ack.c: the ack scenario.

    S senders, spread over the gateways, all in one room, each keeping
    --inflight says in flight and sending the next as each ok comes back:
    how many durable says per second the broker's group commit takes, and
    how long each waits for its ok. With --rate the senders say at that
    total rate instead (open loop), for ack latency at a given load.

    Every sender is also a member of the room, so each say is pushed to
    every sender: the deliveries are checked like fanout's. */
#include "scenario.h"
#include "gc_clock.h"

#define S_DRAIN_S   10

int
gc_bench_ack (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    size_t senders = (size_t) gc_bench_default (config->senders, 2);
    size_t inflight = (size_t) gc_bench_default (config->inflight, 64);
    size_t bytes = (size_t) gc_bench_default (config->bytes, 100);
    double rate = gc_bench_default_real (config->rate, 0);
    double duration = gc_bench_default_real (config->duration, 10);
    gc_bench_report_param_text (report, "room", config->rooms [0]);
    gc_bench_report_param (report, "senders", (double) senders);
    if (rate > 0)
        gc_bench_report_param (report, "rate", rate);
    else
        gc_bench_report_param (report, "inflight", (double) inflight);
    gc_bench_report_param (report, "bytes", (double) bytes);
    gc_bench_report_param (report, "duration", duration);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    if (senders < 1 || (rate <= 0 && inflight < 1)) {
        gc_bench_report_fail (report, "need at least one sender and one say in flight");
        return -1;
    }
    size_t first;
    gc_bench_traffic_t *traffic = NULL;
    gc_bench_pool_t *pool = gc_bench_pool (config, report);
    if (!pool
    ||  gc_bench_token (pool, config, report)
    ||  gc_bench_gather (pool, senders, config->rooms, 1, report, &first)) {
        gc_bench_pool_destroy (&pool);
        return -1;
    }
    traffic = gc_bench_traffic_new (pool, config->rooms, 1, bytes);
    for (size_t index = 0; index < senders; index++)
        gc_bench_traffic_add (traffic, gc_bench_pool_conn (pool, first + index), 0, true);

    int64_t start = gc_clock_mono_us () + 100000;
    gc_bench_traffic_window (traffic, start);
    if (rate > 0)
        gc_bench_traffic_start (traffic, rate, start);
    else {
        gc_bench_pool_run (pool, NULL, NULL, start);
        gc_bench_traffic_start_closed (traffic, inflight);
    }
    if (gc_bench_hold (pool, start + (int64_t) (duration * 1e6), report)) {
        gc_bench_traffic_destroy (&traffic);
        gc_bench_pool_destroy (&pool);
        return -1;
    }
    gc_bench_window_t counts = *gc_bench_traffic_current (traffic);
    duration = (double) (gc_clock_mono_us () - start) / 1e6;
    if (counts.acked == 0)
        gc_bench_report_fail (report, "no say was acknowledged within the duration");
    gc_bench_traffic_stop (traffic);
    if (gc_bench_pool_run (pool, gc_bench_traffic_settled, traffic,
                           gc_clock_mono_us () + S_DRAIN_S * 1000000LL))
        gc_bench_report_note (report, "not every ack and delivery came within %d s", S_DRAIN_S);

    const gc_bench_window_t *window = gc_bench_traffic_current (traffic);
    if (rate > 0)
        gc_bench_report_figure (report, "offered_per_s", (double) counts.offered / duration,
                                "msg/s", "offered says");
    gc_bench_report_figure (report, "acked_per_s", (double) counts.acked / duration,
                            "msg/s", "durable says (acknowledged)");
    gc_bench_report_latency (report, "ack", "say-to-ack", window->ack);
    gc_bench_report_figure (report, "delivered_per_s", (double) counts.delivered / duration,
                            "msg/s", "deliveries (to the senders)");
    gc_bench_report_latency (report, "latency", "publish-to-delivery", window->latency);
    gc_bench_report_check (report, "say_errors", window->errors, "says refused or not sent");
    gc_bench_report_faults (report, traffic, pool);
    gc_bench_traffic_destroy (&traffic);
    gc_bench_pool_destroy (&pool);
    return 0;
}
