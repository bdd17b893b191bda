/*  login.c: the login scenario.

    Password logins cost a slow hash on purpose, so their rate is bounded
    by the broker's hashing, not by the protocol; what matters is that
    the hashing stays off everyone else's path. Three phases of T seconds
    each, while a probe (a small fanout: --members connections in one
    room, one sender at --rate) measures message latency throughout:

    0. (before) a few password logins one at a time: the hash's cost;
    1. quiet: the probe alone, for a baseline;
    2. password: --connections connections log in with the password over
       and over, each as soon as its last login is answered;
    3. token: the same with the token.

    Reports logins/s and login latency of phases 2 and 3 and the probe's
    latency in each phase. */
#include "scenario.h"
#include "gc_clock.h"

#define S_SETTLE_S  30
#define S_ALONE     3           //  password logins timed one at a time

//  Closed-loop logins on a set of connections
typedef struct {
    const gc_bench_config_t *config;
    const char *token;          //  NULL: log in with the password
    bool running;               //  send the next login on each answer
    uint64_t outstanding;
    uint64_t ok;
    uint64_t errors;
    gc_hist_t *latency;         //  us, from sending to the answer
} s_logins_t;

static void
s_login (s_logins_t *self, gc_bench_conn_t *conn)
{
    int rc = self->token? gc_bench_conn_login (conn, NULL, self->token):
                          gc_bench_conn_login (conn, self->config->user, self->config->password);
    if (rc == 0)
        self->outstanding++;
}

static void
s_on_replied (void *arg, gc_bench_conn_t *conn, const gc_bench_request_t *request,
              const gc_wire_frame_t *reply, int64_t now)
{
    s_logins_t *self = arg;
    if (request->kind != GC_BENCH_LOGIN)
        return;
    self->outstanding--;
    if (reply->op == GC_CLIENT_OK)
        self->ok++;
    else
        self->errors++;
    gc_hist_record (self->latency, now - request->stamp);
    if (self->running)
        s_login (self, conn);
}

static bool
s_logins_settled (void *arg)
{
    return ((s_logins_t *) arg)->outstanding == 0;
}

static const gc_bench_events_t s_events = { .replied = s_on_replied };

//  Times password logins one at a time: what one costs with nothing
//  else going on, which is mostly the hash
static void
s_alone (gc_bench_pool_t *pool, s_logins_t *logins, gc_bench_conn_t *conn,
         gc_bench_report_t *report)
{
    for (int index = 0; index < S_ALONE; index++) {
        s_login (logins, conn);
        gc_bench_pool_run (pool, s_logins_settled, logins,
                           gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    }
    gc_bench_report_figure (report, "password_login_alone_ms",
                            (double) gc_hist_percentile (logins->latency, 50) / 1000.0,
                            "ms", "a password login alone (hash cost)");
}

//  Runs one phase: the logins (unless logins is NULL) and the probe for
//  seconds; reports the phase's figures under its name
static void
s_phase (gc_bench_pool_t *pool, gc_bench_traffic_t *probe, s_logins_t *logins,
         size_t first, size_t count, double seconds, const char *name,
         gc_bench_report_t *report)
{
    int64_t start = gc_clock_mono_us ();
    gc_bench_traffic_window (probe, start);
    if (logins) {
        gc_hist_reset (logins->latency);
        logins->ok = 0;
        logins->running = true;
        for (size_t index = 0; index < count; index++)
            s_login (logins, gc_bench_pool_conn (pool, first + index));
    }
    gc_bench_hold (pool, start + (int64_t) (seconds * 1e6), report);
    seconds = (double) (gc_clock_mono_us () - start) / 1e6;
    char key [64], label [96];
    if (logins) {
        uint64_t done = logins->ok;
        logins->running = false;
        gc_bench_pool_run (pool, s_logins_settled, logins,
                           gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
        snprintf (key, sizeof key, "%s_logins_per_s", name);
        snprintf (label, sizeof label, "%s logins", name);
        gc_bench_report_figure (report, key, (double) done / seconds, "/s", label);
        snprintf (key, sizeof key, "%s_login", name);
        snprintf (label, sizeof label, "%s login", name);
        gc_bench_report_latency (report, key, label, logins->latency);
    }
    snprintf (key, sizeof key, "probe_%s", name);
    snprintf (label, sizeof label, "probe latency, %s", name);
    gc_bench_report_latency (report, key, label, gc_bench_traffic_current (probe)->latency);
}

int
gc_bench_login (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    size_t count = (size_t) gc_bench_default (config->connections, 8);
    size_t members = (size_t) gc_bench_default (config->members, 20);
    double rate = gc_bench_default_real (config->rate, 100);
    double duration = gc_bench_default_real (config->duration, 5);
    gc_bench_report_param (report, "connections", (double) count);
    gc_bench_report_param (report, "probe_members", (double) members);
    gc_bench_report_param (report, "probe_rate", rate);
    gc_bench_report_param (report, "duration", duration);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    if (count < 1 || members < 1) {
        gc_bench_report_fail (report, "need at least one connection and one probe member");
        return -1;
    }
    s_logins_t logins = { .config = config, .latency = gc_hist_new () };
    size_t probe_first, first;
    gc_bench_traffic_t *probe = NULL;
    gc_bench_pool_t *pool = gc_bench_pool (config, report);
    int rc = -1;
    if (!pool
    ||  gc_bench_token (pool, config, report)
    ||  gc_bench_gather (pool, members, config->rooms, 1, report, &probe_first)
    ||  gc_bench_gather (pool, count, NULL, 0, report, &first))
        goto cleanup;
    probe = gc_bench_traffic_new (pool, config->rooms, 1, 100);
    for (size_t index = 0; index < members; index++)
        gc_bench_traffic_add (probe, gc_bench_pool_conn (pool, probe_first + index), 0, index == 0);
    for (size_t index = 0; index < count; index++)
        gc_bench_conn_set_events (gc_bench_pool_conn (pool, first + index), &s_events, &logins);

    s_alone (pool, &logins, gc_bench_pool_conn (pool, first), report);
    gc_bench_traffic_start (probe, rate, gc_clock_mono_us ());
    s_phase (pool, probe, NULL, first, count, duration, "quiet", report);
    s_phase (pool, probe, &logins, first, count, duration, "password", report);
    uint64_t errors = logins.errors;
    logins.token = gc_bench_pool_token (pool);
    s_phase (pool, probe, &logins, first, count, duration, "token", report);
    gc_bench_traffic_stop (probe);
    gc_bench_pool_run (pool, gc_bench_traffic_settled, probe, gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    gc_bench_report_check (report, "password_login_errors", errors, "password logins refused");
    gc_bench_report_check (report, "token_login_errors", logins.errors - errors,
                           "token logins refused");
    gc_bench_report_faults (report, probe, pool);
    rc = 0;
cleanup:
    gc_bench_traffic_destroy (&probe);
    gc_bench_pool_destroy (&pool);
    gc_hist_destroy (&logins.latency);
    return rc;
}
