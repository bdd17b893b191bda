/*  main.c: groupchat-gateway, a stateless WebSocket front for the broker.

    Only wiring: flags and environment into a configuration, then the
    server loop until SIGINT or SIGTERM. */
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
    const char *port = "8080", *rate = "1000", *ping = "20", *level = "info";
    gc_server_config_t config = {
        .requests = "tcp://localhost:5555", .events = "tcp://localhost:5556"
    };
    gc_option_t table [] = {
        { .name = "port", .env = "GROUPCHAT_PORT", .text = &port },
        { .name = "requests", .env = "GROUPCHAT_REQUESTS", .text = &config.requests },
        { .name = "events", .env = "GROUPCHAT_EVENTS", .text = &config.events },
        { .name = "rate-limit", .env = "GROUPCHAT_RATE_LIMIT", .text = &rate },
        { .name = "ping-interval", .env = "GROUPCHAT_PING_INTERVAL", .text = &ping },
        { .name = "log-level", .env = "GROUPCHAT_LOG_LEVEL", .text = &level },
        { NULL }
    };
    gc_options_t options = {
        .program = "groupchat-gateway", .usage = s_usage, .options = table,
        .stray = "unexpected argument"
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    config.port = (int) gc_options_number (port, 1, 65535);
    config.rate_limit = (int) gc_options_number (rate, 0, 1000000);
    config.ping_seconds = (int) gc_options_number (ping, 1, 3600);
    if (config.port < 0)
        return gc_options_error (&options, "--port must be 1 to 65535");
    if (config.rate_limit < 0)
        return gc_options_error (&options, "--rate-limit must be 0 to 1000000");
    if (config.ping_seconds < 0)
        return gc_options_error (&options, "--ping-interval must be 1 to 3600");
    status = gc_options_log (&options, level, "gateway");
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
