/*  main.c: groupchat-gateway, a stateless WebSocket front for the broker.

    Only wiring: flags and environment into a configuration, then the
    server loop until SIGINT or SIGTERM. */
#include <sys/resource.h>
#include "server.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_stop.h"

static const char *s_usage =
    "usage: groupchat-gateway [--port N] [--requests ENDPOINT] [--events ENDPOINT]\n"
    "                         [--rate-limit N] [--ping-interval SECONDS]\n"
    "                         [--request-deadline MS] [--log-level LEVEL]\n"
    "\n"
    "Serves groupchat protocol v1 over WebSocket on ws://HOST:PORT/, and\n"
    "GET /healthz (200 while the broker link is up, else 503) and GET /metrics.\n"
    "\n"
    "  --port N             listening port             GROUPCHAT_PORT (8080)\n"
    "  --requests ENDPOINT  broker's request socket    GROUPCHAT_REQUESTS (tcp://localhost:5555)\n"
    "  --events ENDPOINT    broker's event socket      GROUPCHAT_EVENTS (tcp://localhost:5556)\n"
    "  --rate-limit N       requests per second per connection, 0 for none\n"
    "                                                  GROUPCHAT_RATE_LIMIT (1000)\n"
    "  --ping-interval S    ping idle connections after S seconds; drop a peer\n"
    "                       silent for 2.5 x S       GROUPCHAT_PING_INTERVAL (20)\n"
    "  --request-deadline MS  answer unavailable when the broker has not\n"
    "                       answered a request in MS   GROUPCHAT_REQUEST_DEADLINE (3000)\n"
    "  --log-level LEVEL    error, warn, info, debug   GROUPCHAT_LOG_LEVEL (info)\n"
    "  --help               this text\n"
    "\n"
    "A flag wins over its environment variable.\n";

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
    //  Before anything: a SIGTERM that comes while we start must stop us
    gc_stop_on_signals ();
    gc_server_config_t config = {
        .requests = "tcp://localhost:5555", .events = "tcp://localhost:5556"
    };
    gc_option_t table [] = {
        GC_OPTION_NUMBER ("port", "GROUPCHAT_PORT", "8080", &config.port, 1, 65535),
        { .name = "requests", .env = "GROUPCHAT_REQUESTS", .text = &config.requests },
        { .name = "events", .env = "GROUPCHAT_EVENTS", .text = &config.events },
        GC_OPTION_NUMBER ("rate-limit", "GROUPCHAT_RATE_LIMIT", "1000", &config.rate_limit,
                          0, 1000000),
        GC_OPTION_NUMBER ("ping-interval", "GROUPCHAT_PING_INTERVAL", "20", &config.ping_seconds,
                          1, 3600),
        GC_OPTION_NUMBER ("request-deadline", "GROUPCHAT_REQUEST_DEADLINE",
                          GC_STR (GC_REQUEST_DEADLINE_MS), &config.request_deadline_ms,
                          100, 600000),
        GC_OPTION_LOG_LEVEL ("gateway"),
        { NULL }
    };
    gc_options_t options = {
        .program = "groupchat-gateway", .usage = s_usage, .options = table,
        .stray = "unexpected argument"
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    config.fd_limit = s_raise_fd_limit ();
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
