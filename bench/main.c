/*  main.c: groupchat-bench, the load generator: reads the command line,
    raises the file limit, runs one scenario against running gateways and
    prints its report. It starts no server itself (scripts/bench.sh
    does, for `make bench`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "scenario.h"
#include "gc_alloc.h"
#include "gc_escape.h"
#include "gc_limits.h"
#include "gc_options.h"
#include "gc_pem.h"
#include "gc_stop.h"

static const char *s_usage =
    "usage: groupchat-bench [--url ws://HOST:PORT/ ...] [--scenario NAME] [options]\n"
    "\n"
    "Puts load on running groupchat gateways from many WebSocket connections\n"
    "in one process and reports what they measured: a table, then one JSON line.\n"
    "Connections are spread over the --url gateways round-robin. Messages are\n"
    "sent open-loop: each is due at a fixed time and its latency counts from\n"
    "then, so a stalled server cannot hide its stall.\n"
    "\n"
    "  --url URL            a gateway, repeatable        (ws://localhost:8080/)\n"
    "                       (wss:// too: the certificate is verified)\n"
    "  --ca FILE            trust the CAs of FILE (PEM) for wss://, not the system's\n"
    "  --scenario NAME      a scenario listed below (fanout)\n"
    "  --rooms N            rooms used, of the --room names  (1; idle: all)\n"
    "  --room NAME          a room to use, repeatable; the user must be a member\n"
    "                       (Taskmaster, 8 out of 10 cats, Quite Interesting)\n"
    "  --members N          member connections per room  (200; login probe: 20)\n"
    "  --senders N          members that say             (fanout 10, ack 2)\n"
    "  --rate X             says per second in total    (fanout 1000, max first\n"
    "                       step 500, login probe 100; ack: 0 = as fast as acks)\n"
    "  --bytes B            size of each text            (100)\n"
    "  --duration T         seconds (max: of each step; login: of each phase)\n"
    "  --connections N      connections (login floods 256, one address each in\n"
    "                       login-spread and login-names; join 1000, idle 1000)\n"
    "  --inflight N         ack: says in flight per sender  (64)\n"
    "  --user NAME          who logs in                  (Sue)\n"
    "  --password TEXT      their password               (password)\n"
    "  --flood-rate X       login floods: password logins per second  (300)\n"
    "  --victim NAME        login-wrong, login-spread: whose password is guessed\n"
    "                       (Alex, Sandy; locked for up to 15 min after)\n"
    "  --pids LIST          idle: processes to watch, NAME=PID or PID, comma-separated\n"
    "  --json-only          print only the JSON line\n"
    "  --help               this text\n"
    "\n"
    "Scenarios:\n";

static void
s_help (FILE *stream)
{
    fputs (s_usage, stream);
    for (const gc_bench_scenario_t *scenario = gc_bench_scenarios; scenario->name; scenario++)
        fprintf (stream, "  %-13s %s\n", scenario->name, scenario->summary);
    fputs ("\nExit status: 0 when every check passed, 1 when one failed, 2 usage.\n", stream);
}

//  Said under a usage error; --help prints the whole text
static const char *s_short_usage =
    "usage: groupchat-bench [--url ws://HOST:PORT/ ...] [--scenario NAME] [options]; see --help\n";

//  A number in [0, max]; -1 when text is not one
static double
s_number (const char *text, double max)
{
    char *end;
    double value = strtod (text, &end);
    return end != text && *end == 0 && value >= 0 && value <= max? value: -1;
}

//  "gateway=123,broker=456" or "123,456" into config->pids; 0 or -1
static int
s_parse_pids (gc_bench_config_t *config, const char *text)
{
    char *copy = gc_strdup (text), *rest = copy, *item;
    int rc = 0;
    while (rc == 0 && (item = strsep (&rest, ","))) {
        if (config->pid_count == GC_BENCH_PIDS_MAX) {
            rc = -1;
            break;
        }
        gc_bench_pid_t *process = &config->pids [config->pid_count++];
        char *equals = strchr (item, '=');
        const char *number = equals? equals + 1: item;
        if (equals)
            *equals = 0;
        double pid = s_number (number, 4194304);
        if (pid < 1 || pid != (int) pid)
            rc = -1;
        process->pid = (int) pid;
        snprintf (process->name, sizeof process->name, "%s", equals? item: number);
    }
    free (copy);
    return rc;
}

//  Lets the process hold as many connections as the hard limit allows
static void
s_raise_fd_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
}

//  A repeatable flag's values
typedef struct {
    const char **items;         //  the values, in order
    size_t count;               //  how many were given
    size_t max;                 //  how many items holds
    const char *full;           //  the usage error for one more
} s_list_t;

static const char *
s_take_item (const gc_option_t *option, const char *value)
{
    s_list_t *list = option->arg;
    if (list->count == list->max)
        return list->full;
    list->items [list->count++] = value;
    return NULL;
}

static const char *
s_take_pids (const gc_option_t *option, const char *value)
{
    return s_parse_pids (option->arg, value)?
        "--pids wants NAME=PID or PID, comma-separated (at most 16)": NULL;
}

//  The largest value a numeric flag takes
static double
s_limit (const char *name)
{
    return strcmp (name, "rate") == 0 || strcmp (name, "flood-rate") == 0? 1e7:
           strcmp (name, "duration") == 0? 86400:
           strcmp (name, "bytes") == 0? GC_TEXT_MAX: 1e6;
}

//  A numeric flag's value; NULL, or why it is wrong
static const char *
s_check_number (const gc_option_t *option, const char *value, double *number)
{
    static char why [128];
    *number = s_number (value, s_limit (option->name));
    if (*number >= 0)
        return NULL;
    snprintf (why, sizeof why, "--%s wants a number from 0 to %.0f",
              option->name, s_limit (option->name));
    return why;
}

static const char *
s_take_whole (const gc_option_t *option, const char *value)
{
    double number;
    const char *why = s_check_number (option, value, &number);
    *(long *) option->arg = (long) number;
    return why;
}

static const char *
s_take_real (const gc_option_t *option, const char *value)
{
    double number;
    const char *why = s_check_number (option, value, &number);
    *(double *) option->arg = number;
    return why;
}

//  lws's error lines may quote what a server sent: shown escaped, one
//  line each, as every text from the network is
static void
s_on_lws_log (int level, const char *line)
{
    size_t size = strlen (line);
    while (size > 0 && line [size - 1] == '\n')
        size--;
    char *cut = gc_strndup (line, size);
    char *shown = gc_escape (cut, GC_ESCAPE_HEX);
    char ended [1024];
    snprintf (ended, sizeof ended, "%s\n", shown);
    lwsl_emit_stderr (level, ended);
    free (shown);
    free (cut);
}

int
main (int argc, char *argv [])
{
    static const char *seeded [] = { "Taskmaster", "8 out of 10 cats", "Quite Interesting" };
    const char *urls [GC_BENCH_URLS_MAX], *rooms [GC_BENCH_ROOMS_MAX];
    s_list_t url_list = { urls, 0, GC_BENCH_URLS_MAX, "too many --url" };
    s_list_t room_list = { rooms, 0, GC_BENCH_ROOMS_MAX, "too many --room" };
    const char *scenario_name = "fanout";
    bool json_only = false;
    gc_bench_config_t config = {
        .rooms_used = -1, .members = -1, .senders = -1, .rate = -1, .bytes = -1,
        .duration = -1, .connections = -1, .inflight = -1, .flood_rate = -1,
        .user = "Sue", .password = "password"
    };
    gc_option_t table [] = {
        { .name = "url", .take = s_take_item, .arg = &url_list },
        { .name = "scenario", .text = &scenario_name },
        { .name = "rooms", .take = s_take_whole, .arg = &config.rooms_used },
        { .name = "room", .take = s_take_item, .arg = &room_list },
        { .name = "members", .take = s_take_whole, .arg = &config.members },
        { .name = "senders", .take = s_take_whole, .arg = &config.senders },
        { .name = "rate", .take = s_take_real, .arg = &config.rate },
        { .name = "bytes", .take = s_take_whole, .arg = &config.bytes },
        { .name = "duration", .take = s_take_real, .arg = &config.duration },
        { .name = "connections", .take = s_take_whole, .arg = &config.connections },
        { .name = "inflight", .take = s_take_whole, .arg = &config.inflight },
        { .name = "user", .text = &config.user },
        { .name = "password", .text = &config.password },
        { .name = "flood-rate", .take = s_take_real, .arg = &config.flood_rate },
        { .name = "victim", .text = &config.victim },
        { .name = "pids", .take = s_take_pids, .arg = &config },
        { .name = "ca", .text = &config.ca },
        { .name = "json-only", .set = &json_only },
        { .name = NULL }
    };
    gc_options_t options = {
        .program = "groupchat-bench", .usage = s_short_usage, .help = s_help,
        .options = table, .stray = "unexpected arguments"
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    const gc_bench_scenario_t *scenario = gc_bench_scenario_find (scenario_name);
    if (!scenario)
        return gc_options_error (&options, "no such scenario");
    char why [256];
    if (config.ca && gc_pem_check (config.ca, GC_PEM_CERTIFICATE, why, sizeof why)) {
        fprintf (stderr, "groupchat-bench: --ca %s: %s\n", config.ca, why);
        return 1;
    }
    size_t url_count = url_list.count, room_count = room_list.count;
    if (url_count == 0)
        urls [url_count++] = "ws://localhost:8080/";
    config.urls = urls;
    config.url_count = url_count;
    config.rooms = room_count? rooms: seeded;
    config.room_names = room_count? room_count: 3;

    s_raise_fd_limit ();
    gc_stop_ignore_pipe ();
    lws_set_log_level (LLL_ERR, s_on_lws_log);
    gc_bench_report_t *report = gc_bench_report_new (scenario->name);
    scenario->run (&config, report);
    gc_bench_report_print (report, json_only? NULL: stdout, stdout);
    int rc = gc_bench_report_passed (report)? 0: 1;
    gc_bench_report_destroy (&report);
    return rc;
}
