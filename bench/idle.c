/*  idle.c: the idle scenario.

    N connections log in with the token and join the rooms (spread over
    them and over the gateways), then sit idle for T seconds. The memory
    (RSS) of each process given with --pids is read before the
    connections open, once all have joined, and at the end; the growth
    divided by the connections each gateway holds (N / gateways) is the
    memory one connection costs. For the broker, which holds no
    connections, the same division only puts its growth on the same
    scale. */
#include <unistd.h>
#include "rss.h"
#include "scenario.h"
#include "gc_alloc.h"
#include "gc_clock.h"

//  Reads every watched process's RSS into column (0 before, 1 joined,
//  2 at the end)
static void
s_measure (const gc_bench_config_t *config, int64_t rss [][3], int column)
{
    for (size_t index = 0; index < config->pid_count; index++)
        rss [index][column] = gc_bench_rss (config->pids [index].pid);
}

static void
s_report_rss (const gc_bench_config_t *config, int64_t rss [][3], double per_gateway,
              gc_bench_report_t *report)
{
    json_t *processes = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < config->pid_count; index++) {
        const gc_bench_pid_t *process = &config->pids [index];
        double per_connection = (double) (rss [index][2] - rss [index][0]) * 1024 / per_gateway;
        json_array_append_new (processes, json_pack ("{s:s, s:i, s:I, s:I, s:I, s:f}",
            "name", process->name, "pid", process->pid,
            "rss_before_kib", (json_int_t) rss [index][0],
            "rss_joined_kib", (json_int_t) rss [index][1],
            "rss_end_kib", (json_int_t) rss [index][2],
            "bytes_per_connection", per_connection));
        gc_bench_report_note (report, "%-16s RSS %7lld KiB before, %7lld joined, %7lld at the end: "
                              "%.0f bytes per connection", process->name,
                              (long long) rss [index][0], (long long) rss [index][1],
                              (long long) rss [index][2], per_connection);
        if (rss [index][0] < 0 || rss [index][2] < 0)
            gc_bench_report_note (report, "%s (pid %d) was not running", process->name, process->pid);
    }
    gc_bench_report_attach (report, "processes", processes);
}

int
gc_bench_idle (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    size_t count = (size_t) gc_bench_default (config->connections, 1000);
    size_t rooms = (size_t) gc_bench_default (config->rooms_used, (long) config->room_names);
    double duration = gc_bench_default_real (config->duration, 10);
    gc_bench_report_param (report, "connections", (double) count);
    gc_bench_report_param (report, "rooms", (double) rooms);
    gc_bench_report_param (report, "duration", duration);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    if (count < 1 || rooms < 1 || rooms > config->room_names) {
        gc_bench_report_fail (report, "need connections, and 1 to as many rooms as there are names");
        return -1;
    }
    int64_t rss [GC_BENCH_PIDS_MAX][3];
    size_t first;
    gc_bench_pool_t *pool = gc_bench_pool (config, report);
    if (!pool || gc_bench_token (pool, config, report)) {
        gc_bench_pool_destroy (&pool);
        return -1;
    }
    s_measure (config, rss, 0);
    int64_t started = gc_clock_mono_us ();
    if (gc_bench_gather (pool, count, config->rooms, rooms, report, &first)) {
        gc_bench_pool_destroy (&pool);
        return -1;
    }
    double seconds = (double) (gc_clock_mono_us () - started) / 1e6;
    s_measure (config, rss, 1);
    if (gc_bench_hold (pool, gc_clock_mono_us () + (int64_t) (duration * 1e6), report)) {
        gc_bench_pool_destroy (&pool);
        return -1;
    }
    s_measure (config, rss, 2);

    size_t open = 0;
    for (size_t index = 0; index < count; index++)
        open += gc_bench_conn_state (gc_bench_pool_conn (pool, first + index)) == GC_BENCH_OPEN;
    gc_bench_report_figure (report, "open", (double) open, "", "connections open at the end");
    gc_bench_report_figure (report, "setup_per_s", (double) count / seconds, "/s",
                            "connect + token login + join");
    gc_bench_report_figure (report, "bench_rss_kib", (double) gc_bench_rss (getpid ()), "KiB",
                            "the bench's own RSS");
    s_report_rss (config, rss, (double) count / (double) config->url_count, report);
    gc_bench_report_faults (report, NULL, pool);
    gc_bench_pool_destroy (&pool);
    return 0;
}
