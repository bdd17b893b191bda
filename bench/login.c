/*  login.c: the login scenarios: a flood of password logins beside
    everyone else.

    Password logins cost a slow hash on purpose; what matters is that
    neither the hashing nor a flood of logins, right or wrong, delays
    anyone else. Each scenario floods the gateways with password logins
    at --flood-rate, open loop, over --connections connections, while
    other users go on as usual, and measures them:

    - says: a small fanout, --members connections in one room and one
      sender at --rate, latency from due time to delivery;
    - token logins and joins: two connections of their own, one logging
      in with the token, the other joining and leaving another room, in
      turns (a login again would put the second out of its room).

    The floods:

    - login: the right password of --user, from the bench's own address;
    - login-wrong: wrong passwords for --victim (Alex), every connection
      from one made-up address: the name and the address lock within a
      few failures;
    - login-spread: the same for Sandy, each connection from an address
      of its own: only the name locks;
    - login-names: names no user has, a new one each login, each
      connection from an address of its own: nothing locks, so every
      login reaches the hash queue, which is bounded.

    Many connections (256) offer the flood: a gateway answers one
    connection's requests in order, so a few connections would queue
    their logins behind their own hashes rather than offer them to the
    broker. Made-up addresses (10.x.y.z, new ones each run) go in
    X-Forwarded-For, which the gateways believe only when they trust the
    bench's address as a proxy (--trusted-proxy 127.0.0.1). The phases,
    T seconds each:

    0. (login only) a few password logins one at a time: the hash's cost;
    1. quiet: the probes alone, for a baseline;
    2. password: the flood; each answer counted by kind (ok,
       bad_credentials, rate_limited, unavailable);
    3. (login only) token: 8 of the connections logging in with the
       token as fast as they are answered. */
#include <stdio.h>
#include <unistd.h>
#include "scenario.h"
#include "paced.h"
#include "gc_clock.h"

#define S_SETTLE_S      30
#define S_ALONE         3       //  password logins timed one at a time
#define S_OTHERS        2       //  connections of the token-login and join probe
#define S_OTHERS_RATE   100     //  its requests a second, half of them token logins
#define S_OTHER_ROOM    1       //  the tag of the room it joins
#define S_TOKENS        8       //  connections of the token phase
#define S_CONNECTIONS   256     //  default of --connections: the flood's

//  What a scenario floods with
typedef struct {
    bool right;                 //  the right password of --user
    bool unknown;               //  names no user has, else --victim's
    bool forwarded;             //  from made-up addresses
    bool spread;                //  one address per connection, else one for all
    const char *victim;         //  default of --victim: a user of its own, as a
                                //  name stays locked for minutes after
} s_flood_t;

static const s_flood_t s_right = { .right = true };
static const s_flood_t s_wrong = { .forwarded = true, .victim = "Alex" };
static const s_flood_t s_spread = { .forwarded = true, .spread = true, .victim = "Sandy" };
static const s_flood_t s_names = { .unknown = true, .forwarded = true, .spread = true };

//  --------------------------------------------------------------------------
//  Closed-loop logins (the hash alone, and the token phase)

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
    gc_bench_conn_set_events (conn, &s_events, logins);
    for (int index = 0; index < S_ALONE; index++) {
        s_login (logins, conn);
        gc_bench_pool_run (pool, s_logins_settled, logins,
                           gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    }
    gc_bench_report_figure (report, "password_login_alone_ms",
                            (double) gc_hist_percentile (logins->latency, 50) / 1000.0,
                            "ms", "a password login alone (hash cost)");
}

//  A run: its loads, and what the tick functions need
typedef struct {
    const gc_bench_config_t *config;
    const s_flood_t *flood;
    gc_bench_pool_t *pool;
    unsigned id;                //  makes the run's names and addresses its own
    const char *room;           //  where the join probe joins
    size_t first;               //  the flood's first connection in the pool
    size_t count;               //  and how many it has
    double seconds;             //  of each phase
    gc_bench_traffic_t *probe;  //  others' says
    gc_bench_paced_t *others;   //  others' token logins and joins
    gc_bench_paced_t *flooding; //  the flood
    s_logins_t logins;          //  closed-loop logins, with the password or the token
} s_run_t;

//  --------------------------------------------------------------------------
//  The paced loads

//  A flood tick: one password login
static int
s_flood_tick (void *arg, gc_bench_conn_t *conn, uint64_t index)
{
    s_run_t *run = arg;
    const gc_bench_config_t *config = run->config;
    if (run->flood->right)
        return gc_bench_conn_login (conn, config->user, config->password);
    char user [64], password [64];
    snprintf (user, sizeof user, "nobody-%x-%llu", run->id, (unsigned long long) index);
    snprintf (password, sizeof password, "guess-%llu", (unsigned long long) index);
    const char *victim = config->victim? config->victim: run->flood->victim;
    return gc_bench_conn_login (conn, run->flood->unknown? user: victim, password);
}

//  A probe tick: on the first connection a token login, on the second
//  a join or, on its next tick, a leave, so that every join is a real one
static int
s_other_tick (void *arg, gc_bench_conn_t *conn, uint64_t index)
{
    s_run_t *run = arg;
    if (index % S_OTHERS == 0)
        return gc_bench_conn_login (conn, NULL, gc_bench_pool_token (run->pool));
    if (index / S_OTHERS % 2 == 0)
        return gc_bench_conn_join (conn, run->room, S_OTHER_ROOM);
    return gc_bench_conn_leave (conn, S_OTHER_ROOM);
}

//  The first address of the run's made-up ones: 10.x.0.1
static uint32_t
s_first_address (const s_run_t *run)
{
    return run->flood->forwarded? (10u << 24) | ((run->id & 255) << 16) | 1: 0;
}

//  --------------------------------------------------------------------------
//  Reporting

//  The flood's figures: what was sent, how it was answered, how fast
static void
s_report_flood (const gc_bench_pace_window_t *window, double seconds, uint64_t ok_in_time,
                gc_bench_report_t *report)
{
    static const gc_error_t expected [] = {
        GC_OK, GC_BAD_CREDENTIALS, GC_RATE_LIMITED, GC_UNAVAILABLE
    };
    const gc_bench_tally_t *tally = &window->kinds [GC_BENCH_LOGIN];
    gc_bench_report_figure (report, "password_sent_per_s", (double) window->ticks / seconds,
                            "/s", "password logins sent");
    gc_bench_report_figure (report, "password_logins_per_s", (double) ok_in_time / seconds,
                            "/s", "password logins that succeeded");
    uint64_t other = gc_hist_count (tally->latency);
    char key [64], label [96];
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++) {
        const char *name = gc_error_name (expected [index]);
        snprintf (key, sizeof key, "password_%s", name);
        snprintf (label, sizeof label, "answered %s", name);
        gc_bench_report_figure (report, key, (double) tally->answers [expected [index]], "",
                                label);
        other -= tally->answers [expected [index]];
    }
    int64_t first = tally->first [GC_RATE_LIMITED];
    if (first >= 0)
        gc_bench_report_figure (report, "password_first_rate_limited_ms", (double) first / 1000.0,
                                "ms", "first rate_limited, from the flood's start");
    gc_bench_report_latency (report, "password_login", "password login answer", tally->latency);
    gc_bench_report_check (report, "password_unsent", window->unsent,
                           "password logins the bench could not queue");
    gc_bench_report_check (report, "password_other_answers", other,
                           "password logins answered otherwise");
}

//  --------------------------------------------------------------------------
//  The phases

//  Holds the pool for the phase with everything running; the seconds it
//  took
static double
s_hold (s_run_t *run, gc_bench_report_t *report)
{
    int64_t start = gc_clock_mono_us ();
    gc_bench_traffic_window (run->probe, start);
    gc_bench_paced_window (run->others, start);
    gc_bench_hold (run->pool, start + (int64_t) (run->seconds * 1e6), report);
    return (double) (gc_clock_mono_us () - start) / 1e6;
}

//  The latency of the other users' requests in the phase called name
static void
s_report_others (s_run_t *run, const char *name, gc_bench_report_t *report)
{
    static const struct { gc_bench_kind_t kind; const char *key, *label; } probes [] = {
        { GC_BENCH_LOGIN, "token_login", "token login" },
        { GC_BENCH_JOIN, "join", "join" }
    };
    char key [64], label [96];
    snprintf (key, sizeof key, "probe_%s", name);
    snprintf (label, sizeof label, "probe latency, %s", name);
    gc_bench_report_latency (report, key, label, gc_bench_traffic_current (run->probe)->latency);
    const gc_bench_pace_window_t *window = gc_bench_paced_current (run->others);
    for (size_t index = 0; index < sizeof probes / sizeof probes [0]; index++) {
        snprintf (key, sizeof key, "probe_%s_%s", probes [index].key, name);
        snprintf (label, sizeof label, "probe %s, %s", probes [index].label, name);
        gc_bench_report_latency (report, key, label,
                                 window->kinds [probes [index].kind].latency);
    }
}

//  The flood for the phase, then until it is all answered
static void
s_flood_phase (s_run_t *run, gc_bench_report_t *report)
{
    gc_bench_paced_t *flooding = run->flooding;
    gc_bench_paced_window (flooding, gc_clock_mono_us ());
    gc_bench_paced_start (flooding, gc_bench_default_real (run->config->flood_rate, 300),
                          gc_clock_mono_us ());
    double seconds = s_hold (run, report);
    gc_bench_paced_stop (flooding);
    const gc_bench_pace_window_t *window = gc_bench_paced_current (flooding);
    uint64_t ok_in_time = window->kinds [GC_BENCH_LOGIN].answers [GC_OK];
    s_report_others (run, "password", report);
    if (gc_bench_pool_run (run->pool, gc_bench_paced_settled, flooding,
                           gc_clock_mono_us () + S_SETTLE_S * 1000000LL))
        gc_bench_report_fail (report, "the flood was not answered in time");
    s_report_flood (window, seconds, ok_in_time, report);
}

//  Token logins back to back on a few of the flood's connections
static void
s_token_phase (s_run_t *run, gc_bench_report_t *report)
{
    s_logins_t *logins = &run->logins;
    logins->token = gc_bench_pool_token (run->pool);
    logins->running = true;
    logins->ok = logins->errors = 0;
    gc_hist_reset (logins->latency);
    for (size_t index = 0; index < run->count && index < S_TOKENS; index++) {
        gc_bench_conn_t *conn = gc_bench_pool_conn (run->pool, run->first + index);
        gc_bench_conn_set_events (conn, &s_events, logins);
        s_login (logins, conn);
    }
    double seconds = s_hold (run, report);
    uint64_t done = logins->ok;
    logins->running = false;
    gc_bench_pool_run (run->pool, s_logins_settled, logins,
                       gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    gc_bench_report_figure (report, "token_logins_per_s", (double) done / seconds, "/s",
                            "token logins");
    gc_bench_report_latency (report, "token_login", "token login", logins->latency);
    gc_bench_report_check (report, "token_login_errors", logins->errors, "token logins refused");
    s_report_others (run, "token", report);
}

//  --------------------------------------------------------------------------
//  Setting up and running

//  The connections: probe members, the others' two, then the flood's;
//  0 or -1
static int
s_connect (s_run_t *run, size_t members, gc_bench_report_t *report,
           size_t *probe_first, size_t *others_first)
{
    const gc_bench_config_t *config = run->config;
    if (gc_bench_token (run->pool, config, report)
    ||  gc_bench_gather (run->pool, members, config->rooms, 1, report, probe_first)
    ||  gc_bench_gather (run->pool, S_OTHERS, NULL, 0, report, others_first))
        return -1;
    run->first = gc_bench_pool_add_forwarded (run->pool, run->count, s_first_address (run),
                                              run->flood->spread? 1: 0);
    return gc_bench_settle (run->pool, 30 + (double) run->count * 0.002, report, "connecting");
}

//  The three loads over their connections, none started
static void
s_loads (s_run_t *run, size_t members, size_t probe_first, size_t others_first)
{
    gc_bench_pool_t *pool = run->pool;
    run->probe = gc_bench_traffic_new (pool, run->config->rooms, 1, 100);
    for (size_t index = 0; index < members; index++)
        gc_bench_traffic_add (run->probe, gc_bench_pool_conn (pool, probe_first + index), 0,
                              index == 0);
    run->others = gc_bench_paced_new (pool, s_other_tick, run);
    for (size_t index = 0; index < S_OTHERS; index++)
        gc_bench_paced_add (run->others, gc_bench_pool_conn (pool, others_first + index));
    run->flooding = gc_bench_paced_new (pool, s_flood_tick, run);
    for (size_t index = 0; index < run->count; index++) {
        gc_bench_conn_t *conn = gc_bench_pool_conn (pool, run->first + index);
        gc_bench_conn_expect_refusals (conn);
        gc_bench_paced_add (run->flooding, conn);
    }
}

//  The phases, then the checks once everything is answered
static void
s_phases (s_run_t *run, gc_bench_report_t *report)
{
    int64_t now = gc_clock_mono_us ();
    gc_bench_traffic_start (run->probe, gc_bench_default_real (run->config->rate, 100), now);
    gc_bench_paced_start (run->others, S_OTHERS_RATE, now);
    s_hold (run, report);
    s_report_others (run, "quiet", report);
    s_flood_phase (run, report);
    if (run->flood->right)
        s_token_phase (run, report);
    gc_bench_traffic_stop (run->probe);
    gc_bench_paced_stop (run->others);
    gc_bench_pool_run (run->pool, gc_bench_traffic_settled, run->probe,
                       gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    gc_bench_pool_run (run->pool, gc_bench_paced_settled, run->others,
                       gc_clock_mono_us () + S_SETTLE_S * 1000000LL);
    gc_bench_report_check (report, "probe_refused", gc_bench_paced_refused (run->others),
                           "token logins, joins and leaves of others refused");
    gc_bench_report_faults (report, run->probe, run->pool);
}

static void
s_params (const s_run_t *run, size_t members, gc_bench_report_t *report)
{
    const gc_bench_config_t *config = run->config;
    gc_bench_report_param (report, "connections", (double) run->count);
    gc_bench_report_param (report, "flood_rate", gc_bench_default_real (config->flood_rate, 300));
    gc_bench_report_param (report, "probe_members", (double) members);
    gc_bench_report_param (report, "probe_rate", gc_bench_default_real (config->rate, 100));
    gc_bench_report_param (report, "duration", run->seconds);
    gc_bench_report_param (report, "gateways", (double) config->url_count);
    gc_bench_report_param (report, "addresses", run->flood->spread? (double) run->count:
                                                run->flood->forwarded? 1: 0);
}

static int
s_login_run (const gc_bench_config_t *config, gc_bench_report_t *report, const s_flood_t *flood)
{
    s_run_t run = {
        .config = config, .flood = flood,
        .id = (unsigned) (gc_clock_mono_us () ^ getpid ()) & 0xffffff,
        .room = config->rooms [config->room_names > 1? 1: 0],
        .count = (size_t) gc_bench_default (config->connections, S_CONNECTIONS),
        .seconds = gc_bench_default_real (config->duration, 5),
        .logins = { .config = config }
    };
    size_t members = (size_t) gc_bench_default (config->members, 20);
    s_params (&run, members, report);
    if (run.count < 1 || members < 1) {
        gc_bench_report_fail (report, "need at least one connection and one probe member");
        return -1;
    }
    size_t probe_first, others_first;
    run.logins.latency = gc_hist_new ();
    run.pool = gc_bench_pool (config, report);
    int rc = -1;
    if (run.pool && s_connect (&run, members, report, &probe_first, &others_first) == 0) {
        //  Alone first: the loads take over the connection's events
        if (flood->right)
            s_alone (run.pool, &run.logins, gc_bench_pool_conn (run.pool, run.first), report);
        s_loads (&run, members, probe_first, others_first);
        s_phases (&run, report);
        rc = 0;
    }
    gc_bench_paced_destroy (&run.flooding);
    gc_bench_paced_destroy (&run.others);
    gc_bench_traffic_destroy (&run.probe);
    gc_bench_pool_destroy (&run.pool);
    gc_hist_destroy (&run.logins.latency);
    return rc;
}

int
gc_bench_login (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    return s_login_run (config, report, &s_right);
}

int
gc_bench_login_wrong (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    return s_login_run (config, report, &s_wrong);
}

int
gc_bench_login_spread (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    return s_login_run (config, report, &s_spread);
}

int
gc_bench_login_names (const gc_bench_config_t *config, gc_bench_report_t *report)
{
    return s_login_run (config, report, &s_names);
}
