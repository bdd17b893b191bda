/*  main.c: groupchat-bench, the load generator: reads the command line,
    raises the file limit, runs one scenario against running gateways and
    prints its report. It starts no server itself (scripts/bench.sh
    does, for `make bench`). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "scenario.h"
#include "gc_alloc.h"

#define S_URLS_MAX  64
#define S_ROOMS_MAX 16

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
    "  --scenario NAME      fanout, ack, login, join, idle or max (fanout)\n"
    "  --rooms N            rooms used, of the --room names  (1; idle: all)\n"
    "  --room NAME          a room to use, repeatable; the user must be a member\n"
    "                       (Taskmaster, 8 out of 10 cats, Quite Interesting)\n"
    "  --members N          member connections per room  (200; login probe: 20)\n"
    "  --senders N          members that say             (fanout 10, ack 2)\n"
    "  --rate X             says per second in total    (fanout 1000, max first\n"
    "                       step 500, login probe 100; ack: 0 = as fast as acks)\n"
    "  --bytes B            size of each text            (100)\n"
    "  --duration T         seconds (max: of each step; login: of each phase)\n"
    "  --connections N      connections (login 8, join 1000, idle 1000)\n"
    "  --inflight N         ack: says in flight per sender  (64)\n"
    "  --user NAME          who logs in                  (Sue)\n"
    "  --password TEXT      their password               (password)\n"
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
        fprintf (stream, "  %-8s %s\n", scenario->name, scenario->summary);
    fputs ("\nExit status: 0 when every check passed, 1 when one failed, 2 usage.\n", stream);
}

static int
s_usage_error (const char *why)
{
    if (why)
        fprintf (stderr, "groupchat-bench: %s\n", why);
    fprintf (stderr, "usage: groupchat-bench [--url ws://HOST:PORT/ ...] [--scenario NAME] "
                     "[options]; see --help\n");
    return 2;
}

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

static const struct option s_options [] = {
    { "url", required_argument, NULL, 'u' },
    { "scenario", required_argument, NULL, 's' },
    { "rooms", required_argument, NULL, 'R' },
    { "room", required_argument, NULL, 'r' },
    { "members", required_argument, NULL, 'm' },
    { "senders", required_argument, NULL, 'S' },
    { "rate", required_argument, NULL, 'x' },
    { "bytes", required_argument, NULL, 'b' },
    { "duration", required_argument, NULL, 'd' },
    { "connections", required_argument, NULL, 'n' },
    { "inflight", required_argument, NULL, 'i' },
    { "user", required_argument, NULL, 'U' },
    { "password", required_argument, NULL, 'P' },
    { "pids", required_argument, NULL, 'p' },
    { "json-only", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

//  The largest value a numeric flag takes
static double
s_limit (int flag)
{
    return flag == 'x'? 1e7: flag == 'd'? 86400: flag == 'b'? GC_TEXT_MAX: 1e6;
}

//  Sets the numeric option of flag; 0, or -1 when its value is bad
static int
s_set_number (gc_bench_config_t *config, int flag, const char *text)
{
    double value = s_number (text, s_limit (flag));
    switch (flag) {
        case 'R': config->rooms_used = (long) value; break;
        case 'm': config->members = (long) value; break;
        case 'S': config->senders = (long) value; break;
        case 'x': config->rate = value; break;
        case 'b': config->bytes = (long) value; break;
        case 'd': config->duration = value; break;
        case 'n': config->connections = (long) value; break;
        case 'i': config->inflight = (long) value; break;
    }
    return value < 0? -1: 0;
}

int
main (int argc, char *argv [])
{
    static const char *seeded [] = { "Taskmaster", "8 out of 10 cats", "Quite Interesting" };
    const char *urls [S_URLS_MAX], *rooms [S_ROOMS_MAX];
    size_t url_count = 0, room_count = 0;
    const char *scenario_name = "fanout";
    bool json_only = false;
    gc_bench_config_t config = {
        .rooms_used = -1, .members = -1, .senders = -1, .rate = -1, .bytes = -1,
        .duration = -1, .connections = -1, .inflight = -1,
        .user = "Sue", .password = "password"
    };
    int flag, option = 0;
    char why [128];
    while ((flag = getopt_long (argc, argv, "", s_options, &option)) != -1) {
        switch (flag) {
            case 'u':
                if (url_count == S_URLS_MAX)
                    return s_usage_error ("too many --url");
                urls [url_count++] = optarg;
                break;
            case 'r':
                if (room_count == S_ROOMS_MAX)
                    return s_usage_error ("too many --room");
                rooms [room_count++] = optarg;
                break;
            case 's': scenario_name = optarg; break;
            case 'U': config.user = optarg; break;
            case 'P': config.password = optarg; break;
            case 'j': json_only = true; break;
            case 'p':
                if (s_parse_pids (&config, optarg))
                    return s_usage_error ("--pids wants NAME=PID or PID, comma-separated (at most 16)");
                break;
            case 'h':
                s_help (stdout);
                return 0;
            case '?':
                return s_usage_error (NULL);    //  getopt_long said what was wrong
            default:
                if (s_set_number (&config, flag, optarg)) {
                    snprintf (why, sizeof why, "--%s wants a number from 0 to %.0f",
                              s_options [option].name, s_limit (flag));
                    return s_usage_error (why);
                }
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected arguments");
    const gc_bench_scenario_t *scenario = gc_bench_scenario_find (scenario_name);
    if (!scenario)
        return s_usage_error ("no such scenario");
    if (url_count == 0)
        urls [url_count++] = "ws://localhost:8080/";
    config.urls = urls;
    config.url_count = url_count;
    config.rooms = room_count? rooms: seeded;
    config.room_names = room_count? room_count: 3;

    s_raise_fd_limit ();
    signal (SIGPIPE, SIG_IGN);
    lws_set_log_level (LLL_ERR, NULL);
    gc_bench_report_t *report = gc_bench_report_new (scenario->name);
    scenario->run (&config, report);
    gc_bench_report_print (report, json_only? NULL: stdout, stdout);
    int rc = gc_bench_report_passed (report)? 0: 1;
    gc_bench_report_destroy (&report);
    return rc;
}
