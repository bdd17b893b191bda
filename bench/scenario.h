/*  scenario.h: what groupchat-bench can measure, and the steps the
    scenarios share.

    Each scenario is a function from the run's configuration to a report
    (fanout.c, ack.c, login.c, join.c, idle.c); scenario.c holds their
    table and the common setup: opening connections, logging them in
    (one password login, then the token, which is cheap) and joining
    them to rooms. A scenario fills its defaults in for what the command
    line left unset (negative numbers). */
#ifndef GC_BENCH_SCENARIO_H_INCLUDED
#define GC_BENCH_SCENARIO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "pool.h"
#include "report.h"
#include "traffic.h"
#include "gc_limits.h"


//  A process whose memory the idle scenario watches
typedef struct {
    char name [64];
    int pid;
} gc_bench_pid_t;

typedef struct {
    const char *const *urls;    //  gateways, ws:// or wss://HOST:PORT/
    size_t url_count;
    const char *ca;             //  --ca: CA file for wss://, NULL: the system's
    const char *const *rooms;   //  room names to use, in order
    size_t room_names;          //  how many names there are
    long rooms_used;            //  --rooms: how many of them
    long members;               //  --members: connections per room
    long senders;               //  --senders
    double rate;                //  --rate: messages/s in total
    long bytes;                 //  --bytes: of each text
    double duration;            //  --duration: seconds
    long connections;           //  --connections
    long inflight;              //  --inflight: says in flight per sender
    const char *user;           //  --user, a member of every room used
    const char *password;       //  --password
    double flood_rate;          //  --flood-rate: password logins/s of the login floods
    const char *victim;         //  --victim: whose password login-wrong and -spread
                                //  guess; NULL: each its own
    gc_bench_pid_t pids [GC_BENCH_PIDS_MAX];    //  --pids
    size_t pid_count;
} gc_bench_config_t;

typedef int (gc_bench_scenario_fn) (const gc_bench_config_t *config, gc_bench_report_t *report);

typedef struct {
    const char *name;
    gc_bench_scenario_fn *run;
    const char *summary;        //  for --help
} gc_bench_scenario_t;

//  Every scenario, ending with a NULL name.
extern const gc_bench_scenario_t gc_bench_scenarios [];

//  The scenario called name, or NULL.
const gc_bench_scenario_t *gc_bench_scenario_find (const char *name);

//  --------------------------------------------------------------------------
//  Steps the scenarios share; each returns 0, or -1 after saying why in
//  the report.

//  The value, or fallback when it was left unset (negative).
long gc_bench_default (long value, long fallback);
double gc_bench_default_real (double value, double fallback);

//  A pool over the configured gateways, or NULL (report failed).
gc_bench_pool_t *gc_bench_pool (const gc_bench_config_t *config, gc_bench_report_t *report);

//  Makes sure the pool has a token for the configured user, logging in
//  once with the password on a connection of its own.
int gc_bench_token (gc_bench_pool_t *pool, const gc_bench_config_t *config,
                    gc_bench_report_t *report);

//  The room of the index-th connection of a gather: consecutive
//  connections go to different gateways (round-robin), so each room's
//  members are spread over all of them.
size_t gc_bench_room_of (const gc_bench_pool_t *pool, size_t index, size_t room_count);

//  Opens count connections, logs each in with the pool's token and, when
//  room_count > 0, joins the index-th of them to room gc_bench_room_of
//  (tagged with that number). Sets *first to the pool index of the first.
int gc_bench_gather (gc_bench_pool_t *pool, size_t count, const char *const *rooms,
                     size_t room_count, gc_bench_report_t *report, size_t *first);

//  Runs the pool until the time until (gc_clock_mono_us time): the measured
//  part of a scenario. -1 when the loop failed (report failed).
int gc_bench_hold (gc_bench_pool_t *pool, int64_t until, gc_bench_report_t *report);

//  Runs the pool until every request of every connection is answered.
int gc_bench_settle (gc_bench_pool_t *pool, double seconds, gc_bench_report_t *report,
                     const char *what);

//  Adds the faults of a traffic (may be NULL) to the report as checks,
//  with the pool's error replies, lost requests, lost connections and
//  unreadable frames.
void gc_bench_report_faults (gc_bench_report_t *report, gc_bench_traffic_t *traffic,
                             gc_bench_pool_t *pool);

//  The scenarios
int gc_bench_fanout (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_max (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_ack (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_login (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_login_wrong (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_login_spread (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_login_names (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_join (const gc_bench_config_t *config, gc_bench_report_t *report);
int gc_bench_idle (const gc_bench_config_t *config, gc_bench_report_t *report);

#endif
