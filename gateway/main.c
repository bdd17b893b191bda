/*  main.c: groupchat-gateway, a stateless WebSocket front for the broker.

    Only wiring: flags and environment into a configuration, then the
    server loop until SIGINT or SIGTERM. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include "server.h"
#include "gc_log.h"
#include "gc_options.h"

static const char *s_usage =
    "usage: groupchat-gateway [--port N] [--requests ENDPOINT] [--events ENDPOINT]\n"
    "                         [--rate-limit N] [--ping-interval SECONDS] [--log-level LEVEL]\n"
    "\n"
    "Serves groupchat protocol v1 over WebSocket on ws://HOST:PORT/, and\n"
    "GET /healthz (200 while the broker answers, else 503) and GET /metrics.\n"
    "\n"
    "  --port N             listening port             GROUPCHAT_PORT (8080)\n"
    "  --requests ENDPOINT  broker's request socket    GROUPCHAT_REQUESTS (tcp://localhost:5555)\n"
    "  --events ENDPOINT    broker's event socket      GROUPCHAT_EVENTS (tcp://localhost:5556)\n"
    "  --rate-limit N       requests per second per connection, 0 for none\n"
    "                                                  GROUPCHAT_RATE_LIMIT (1000)\n"
    "  --ping-interval S    ping idle connections after S seconds; drop a peer\n"
    "                       silent for 2.5 x S       GROUPCHAT_PING_INTERVAL (20)\n"
    "  --log-level LEVEL    error, warn, info, debug   GROUPCHAT_LOG_LEVEL (info)\n"
    "  --help               this text\n"
    "\n"
    "A flag wins over its environment variable.\n";

//  Parses a whole non-negative number; -1 when it is not one
static long
s_number (const char *text)
{
    char *end;
    long value = strtol (text, &end, 10);
    return *text && !*end && value >= 0? value: -1;
}

//  Each connection is a file descriptor: take all the kernel allows
static unsigned
s_raise_fd_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return 0;
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    getrlimit (RLIMIT_NOFILE, &limit);
    return limit.rlim_cur > 1000000? 1000000: (unsigned) limit.rlim_cur;
}

int
main (int argc, char *argv [])
{
    const char *port = gc_env ("GROUPCHAT_PORT", "8080");
    const char *rate = gc_env ("GROUPCHAT_RATE_LIMIT", "1000");
    const char *ping = gc_env ("GROUPCHAT_PING_INTERVAL", "20");
    const char *level = gc_env ("GROUPCHAT_LOG_LEVEL", "info");
    gc_server_config_t config = {
        .requests = gc_env ("GROUPCHAT_REQUESTS", "tcp://localhost:5555"),
        .events = gc_env ("GROUPCHAT_EVENTS", "tcp://localhost:5556"),
    };
    static const struct option options [] = {
        { "port", required_argument, NULL, 'p' },
        { "requests", required_argument, NULL, 'r' },
        { "events", required_argument, NULL, 'e' },
        { "rate-limit", required_argument, NULL, 'l' },
        { "ping-interval", required_argument, NULL, 'i' },
        { "log-level", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1)
        switch (option) {
            case 'p': port = optarg; break;
            case 'r': config.requests = optarg; break;
            case 'e': config.events = optarg; break;
            case 'l': rate = optarg; break;
            case 'i': ping = optarg; break;
            case 'v': level = optarg; break;
            case 'h': fputs (s_usage, stdout); return 0;
            default:  return gc_usage_error ("groupchat-gateway", s_usage, NULL);
        }
    if (optind < argc)
        return gc_usage_error ("groupchat-gateway", s_usage, "unexpected argument");
    long port_number = s_number (port), rate_number = s_number (rate);
    long ping_number = s_number (ping);
    int log_level = gc_log_level_parse (level);
    if (port_number < 1 || port_number > 65535)
        return gc_usage_error ("groupchat-gateway", s_usage, "--port must be 1 to 65535");
    if (rate_number < 0 || rate_number > 1000000)
        return gc_usage_error ("groupchat-gateway", s_usage, "--rate-limit must be 0 to 1000000");
    if (ping_number < 1 || ping_number > 3600)
        return gc_usage_error ("groupchat-gateway", s_usage, "--ping-interval must be 1 to 3600");
    if (log_level < 0)
        return gc_usage_error ("groupchat-gateway", s_usage, "--log-level must be error, warn, info or debug");
    config.port = (int) port_number;
    config.rate_limit = (int) rate_number;
    config.ping_seconds = (int) ping_number;
    config.fd_limit = s_raise_fd_limit ();
    gc_log_init ("gateway", (gc_log_level_t) log_level);
    lws_set_log_level (LLL_ERR, NULL);

    gc_gateway_t *gateway = gc_server_new (&config);
    if (!gateway) {
        gc_error ("cannot start on port=%d", config.port);
        return 1;
    }
    gc_info ("listening port=%d requests=%s events=%s", config.port,
             config.requests, config.events);
    int rc = gc_server_run (gateway);
    gc_info ("stopping");
    gc_server_destroy (&gateway);
    return rc? 1: 0;
}
