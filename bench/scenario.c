/*  scenario.c: the table of scenarios and the steps they share (see
    scenario.h). */
#include <stdio.h>
#include <string.h>
#include "scenario.h"
#include "gc_clock.h"

const gc_bench_scenario_t gc_bench_scenarios [] = {
    { "fanout", gc_bench_fanout,
      "rooms x members, senders at a fixed total rate: delivery latency, missing/duplicates" },
    { "ack", gc_bench_ack,
      "senders saying as fast as acks come back (or at --rate): durable says/s, ack latency" },
    { "login", gc_bench_login,
      "a flood of right password logins, then token logins: logins/s, and how fast\n"
      "                others' says, token logins and joins are answered meanwhile" },
    { "login-wrong", gc_bench_login_wrong,
      "the same flood with wrong passwords for Alex from one address (locked fast)" },
    { "login-spread", gc_bench_login_spread,
      "wrong passwords for Sandy, each connection from an address of its own" },
    { "login-names", gc_bench_login_names,
      "names no user has, a new one each login, from many addresses (nothing locks)" },
    { "join", gc_bench_join,
      "connections joining a room with history at once, in rounds: joins/s, join latency" },
    { "idle", gc_bench_idle,
      "idle logged-in connections in rooms: RSS of the --pids per connection" },
    { "max", gc_bench_max,
      "fanout at rising rates until p99 > 50 ms or deliveries fall behind" },
    { NULL, NULL, NULL }
};

const gc_bench_scenario_t *
gc_bench_scenario_find (const char *name)
{
    for (const gc_bench_scenario_t *scenario = gc_bench_scenarios; scenario->name; scenario++)
        if (strcmp (scenario->name, name) == 0)
            return scenario;
    return NULL;
}

long
gc_bench_default (long value, long fallback)
{
    return value < 0? fallback: value;
}

double
gc_bench_default_real (double value, double fallback)
{
    return value < 0? fallback: value;
}

gc_bench_pool_t *
gc_bench_pool (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    gc_bench_pool_t *pool = gc_bench_pool_new (config->urls, config->url_count, config->ca);
    if (!pool)
        gc_bench_report_fail (report, "cannot set up the connections");
    return pool;
}

//  Fails the report when requests were refused or connections lost
//  since before; 0 when all is well
static int
s_check_setup (gc_bench_pool_t *pool, const gc_bench_stats_t *before,
               gc_bench_report_t *report, const char *what)
{
    const gc_bench_stats_t *after = gc_bench_pool_stats (pool);
    char why [256];
    if (after->failed > before->failed || after->closed > before->closed)
        snprintf (why, sizeof why, "%s: %llu connections failed and %llu closed",
                  what, (unsigned long long) (after->failed - before->failed),
                  (unsigned long long) (after->closed - before->closed));
    else
    if (after->replies_error > before->replies_error)
        snprintf (why, sizeof why, "%s: %llu requests refused (the last with %s)",
                  what, (unsigned long long) (after->replies_error - before->replies_error),
                  after->last_error);
    else
        return 0;
    gc_bench_report_fail (report, why);
    return -1;
}

int
gc_bench_hold (gc_bench_pool_t *pool, int64_t until, gc_bench_report_t *report)
{
    if (gc_bench_pool_run (pool, NULL, NULL, until) == -2) {
        gc_bench_report_fail (report, "the event loop failed");
        return -1;
    }
    return 0;
}

int
gc_bench_settle (gc_bench_pool_t *pool, double seconds, gc_bench_report_t *report,
                 const char *what)
{
    int64_t deadline = gc_clock_mono_us () + (int64_t) (seconds * 1e6);
    if (gc_bench_pool_run (pool, gc_bench_pool_answered, pool, deadline) == 0)
        return 0;
    char why [256];
    snprintf (why, sizeof why, "%s: not answered within %.0f s", what, seconds);
    gc_bench_report_fail (report, why);
    return -1;
}

int
gc_bench_token (gc_bench_pool_t *pool, const gc_bench_config_t *config,
                gc_bench_report_t *report)
{
    if (gc_bench_pool_token (pool))
        return 0;
    gc_bench_stats_t before = *gc_bench_pool_stats (pool);
    size_t index = gc_bench_pool_add (pool, 1);
    if (gc_bench_conn_login (gc_bench_pool_conn (pool, index),
                             config->user, config->password)
    ||  gc_bench_settle (pool, 30, report, "password login")
    ||  s_check_setup (pool, &before, report, "password login"))
        return -1;
    return 0;
}

size_t
gc_bench_room_of (const gc_bench_pool_t *pool, size_t index, size_t room_count)
{
    return room_count? index / gc_bench_pool_urls (pool) % room_count: 0;
}

int
gc_bench_gather (gc_bench_pool_t *pool, size_t count, const char *const *rooms,
                 size_t room_count, gc_bench_report_t *report, size_t *first)
{
    gc_bench_stats_t before = *gc_bench_pool_stats (pool);
    const char *token = gc_bench_pool_token (pool);
    if (!token) {
        gc_bench_report_fail (report, "no token");
        return -1;
    }
    size_t start = gc_bench_pool_add (pool, count);
    //  Requests queue while a connection opens and go out once it is
    //  open; the join is done after the login, in order
    for (size_t index = 0; index < count; index++) {
        gc_bench_conn_t *conn = gc_bench_pool_conn (pool, start + index);
        gc_bench_conn_login (conn, NULL, token);
        size_t room = gc_bench_room_of (pool, index, room_count);
        if (room_count)
            gc_bench_conn_join (conn, rooms [room], (int) room);
    }
    *first = (size_t) start;
    //  Opening is paced: allow 2 ms per connection beyond a base, 10 ms
    //  over TLS, whose handshakes cost both ends 5 to 8 times as much
    double each = gc_bench_pool_tls (pool)? 0.010: 0.002;
    return gc_bench_settle (pool, 30 + (double) count * each, report, "connecting")
        || s_check_setup (pool, &before, report, "connecting")? -1: 0;
}

void
gc_bench_report_faults (gc_bench_report_t *report, gc_bench_traffic_t *traffic,
                        gc_bench_pool_t *pool)
{
    if (traffic) {
        gc_bench_faults_t faults;
        gc_bench_traffic_check (traffic, &faults);
        gc_bench_report_check (report, "missing", faults.missing, "missing deliveries");
        gc_bench_report_check (report, "duplicates", faults.duplicates, "duplicate deliveries");
        gc_bench_report_check (report, "out_of_order", faults.reordered,
                               "out-of-order deliveries");
        gc_bench_report_check (report, "worst_receiver", faults.worst,
                               "faults of the worst receiver");
        gc_bench_report_check (report, "not_in_room", faults.absent,
                               "receivers closed or out of their room");
        gc_bench_report_check (report, "unanswered", faults.unanswered,
                               "says never answered, on open connections");
    }
    const gc_bench_stats_t *stats = gc_bench_pool_stats (pool);
    gc_bench_report_check (report, "error_replies", stats->replies_error, "error replies");
    gc_bench_report_check (report, "lost_requests", stats->lost,
                           "requests lost with a connection");
    gc_bench_report_check (report, "connections_closed", stats->closed + stats->failed,
                           "connections closed or failed");
    gc_bench_report_check (report, "protocol_faults", stats->faults,
                           "unreadable frames, stray replies");
    if (stats->replies_error)
        gc_bench_report_note (report, "last error reply: %s", stats->last_error);
}
