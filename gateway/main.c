/*  main.c: groupchat-gateway, a stateless WebSocket front for the broker.

    Only wiring: flags and environment into a configuration, then the
    server loop until SIGINT or SIGTERM. */
#include <string.h>
#include <sys/resource.h>
#include "server.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_stop.h"

static const char *s_usage =
    "usage: groupchat-gateway [--port N] [--listen ADDRESS] [--tls-cert FILE --tls-key FILE]\n"
    "                         [--allow-origin ORIGIN ...] [--trusted-proxy NETWORK ...]\n"
    "                         [--requests ENDPOINT ...] [--events ENDPOINT ...]\n"
    "                         [--rate-limit N] [--ping-interval SECONDS]\n"
    "                         [--login-timeout S] [--max-connections N]\n"
    "                         [--max-connections-per-address N]\n"
    "                         [--max-connections-per-user N] [--max-rooms-per-connection N]\n"
    "                         [--request-deadline MS] [--keys DIR] [--insecure]\n"
    "                         [--log-level LEVEL]\n"
    "\n"
    "Serves groupchat protocol v1 over WebSocket on ws://HOST:PORT/ (wss:// with\n"
    "a certificate), and on the same port the browser client at GET / (its files,\n"
    "built in, at /NAME), GET /healthz (200 while the broker link is up, else 503)\n"
    "and GET /metrics.\n"
    "\n"
    "  --port N             listening port             GROUPCHAT_PORT (8080)\n"
    "  --listen ADDRESS     the IP address to listen on, e.g. 127.0.0.1 or ::1\n"
    "                                                  GROUPCHAT_LISTEN (every address)\n"
    "  --tls-cert FILE      PEM certificate (chain): serve wss:// and https://\n"
    "                                                  GROUPCHAT_TLS_CERT\n"
    "  --tls-key FILE       its PEM private key        GROUPCHAT_TLS_KEY\n"
    "  --allow-origin ORIGIN  a web page origin (scheme://host[:port]) that may\n"
    "                       connect; repeatable. Set: a browser upgrade from any\n"
    "                       other origin gets 403, the gateway's own page aside\n"
    "                       (an origin whose host:port is the request's Host)\n"
    "                                                  GROUPCHAT_ALLOW_ORIGIN (comma-\n"
    "                                                  separated; none: any origin)\n"
    "  --trusted-proxy NETWORK  a proxy (10.0.0.7) or network of them (172.16.0.0/12)\n"
    "                       whose X-Forwarded-For names the client, for login\n"
    "                       throttling by address; repeatable\n"
    "                                GROUPCHAT_TRUSTED_PROXY (comma-separated; none)\n"
    "  --requests ENDPOINT  broker's request socket    GROUPCHAT_REQUESTS (tcp://localhost:5555)\n"
    "  --events ENDPOINT    broker's event socket      GROUPCHAT_EVENTS (tcp://localhost:5556)\n"
    "                       Both repeatable (the variables: comma-separated), paired\n"
    "                       by position, one of each per broker: the gateway uses\n"
    "                       one broker at a time and moves to the next when it has\n"
    "                       not answered for 3 s, round-robin\n"
    "  --rate-limit N       requests per second per connection, in bursts of 2 x N\n"
    "                       (" GC_STR (GC_RATE_BURST_MIN) " at least); past it a request gets\n"
    "                       rate_limited and reading pauses until the next\n"
    "                       token, 0 for no limit   GROUPCHAT_RATE_LIMIT ("
                            GC_STR (GC_RATE_LIMIT_DEFAULT) ")\n"
    "  --login-timeout S    close a connection not logged in S seconds after its\n"
    "                       upgrade                    GROUPCHAT_LOGIN_TIMEOUT (300)\n"
    "  --max-connections N  WebSocket connections at most; past it an upgrade gets\n"
    "                       HTTP 503        GROUPCHAT_MAX_CONNECTIONS (the open-file\n"
    "                                       limit less " GC_STR (GC_GATEWAY_FD_RESERVE) ")\n"
    "  --max-connections-per-address N  from one client address at most; past\n"
    "                       it HTTP 429     GROUPCHAT_MAX_CONNECTIONS_PER_ADDRESS ("
                            GC_STR (GC_GATEWAY_PER_ADDRESS_DEFAULT) ")\n"
    "  --max-connections-per-user N  logged in as one user at most, on this\n"
    "                       gateway (each gateway counts its own); past it a\n"
    "                       login gets too_many_connections\n"
    "                                       GROUPCHAT_MAX_CONNECTIONS_PER_USER ("
                            GC_STR (GC_GATEWAY_PER_USER_DEFAULT) ")\n"
    "  --max-rooms-per-connection N  rooms one connection may be in; past it a\n"
    "                       join gets too_many_rooms\n"
    "                                       GROUPCHAT_MAX_ROOMS_PER_CONNECTION ("
                            GC_STR (GC_GATEWAY_ROOMS_DEFAULT) ")\n"
    "  --ping-interval S    ping idle connections after S seconds; drop a peer\n"
    "                       silent for 2.5 x S       GROUPCHAT_PING_INTERVAL (20)\n"
    "  --request-deadline MS  answer unavailable when the broker has not\n"
    "                       answered a request in MS   GROUPCHAT_REQUEST_DEADLINE (3000)\n"
    "  --keys DIR           this gateway's key folder (gateway.cert_secret, and\n"
    "                       the broker's broker.cert): CURVE to the broker\n"
    "                                                  GROUPCHAT_KEYS (none)\n"
    "  --insecure           allow a broker on another host without keys\n"
    "                                                  GROUPCHAT_INSECURE=1\n"
    "  --log-level LEVEL    error, warn, info, debug   GROUPCHAT_LOG_LEVEL (info)\n"
    "  --help               this text\n"
    "\n"
    "A flag wins over its environment variable. Without keys the broker link\n"
    "trusts the network: the broker must be on this host (tcp://127.0.0.1,\n"
    "localhost, ::1, ipc://) unless --insecure is given. Exit status: 0 stopped\n"
    "by SIGINT or SIGTERM, 1 could not start (port, address, certificate,\n"
    "keys), 2 usage (also: a broker on another host without keys).\n";

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

static const char *
s_take_origins (const gc_option_t *option, const char *value)
{
    return gc_origins_add (option->arg, value);
}

static const char *
s_take_proxies (const gc_option_t *option, const char *value)
{
    return gc_proxies_add (option->arg, value);
}

//  What the flags cannot check alone; returns GC_OPTIONS_GO_ON or the
//  usage error's status
static int
s_check_config (gc_options_t *options, const gc_server_config_t *config, const char *keys,
                bool insecure)
{
    const gc_listen_config_t *listen = &config->listen;
    bool curve = keys && *keys;
    char why [400];
    const gc_endpoints_t *endpoints = config->endpoints;
    for (size_t index = 0; index < gc_endpoints_count (endpoints); index++)
        if (gc_keys_allow (gc_endpoints_requests (endpoints, index), curve, insecure, why, sizeof why)
        ||  gc_keys_allow (gc_endpoints_events (endpoints, index), curve, insecure, why, sizeof why))
            return gc_options_error (options, why);
    if (listen->address && !gc_listen_is_address (listen->address))
        return gc_options_error (options, "--listen wants an IP address, such as 127.0.0.1 or ::1");
    if (!listen->tls_cert != !listen->tls_key)
        return gc_options_error (options, "--tls-cert and --tls-key go together");
    return GC_OPTIONS_GO_ON;
}

//  Serves until stopped; returns the exit status
static int
s_serve (const gc_server_config_t *config)
{
    const gc_listen_config_t *listen = &config->listen;
    gc_gateway_t *gateway = gc_server_new (config);
    if (!gateway) {
        gc_error ("cannot start on address=%s port=%d", listen->address? listen->address: "*",
                  listen->port);
        return 1;
    }
    gc_info ("listening address=%s port=%d tls=%s origins=%zu requests=%s events=%s "
             "brokers=%zu curve=%s", listen->address? listen->address: "*", listen->port,
             gc_listen_is_tls (listen)? "on": "off", gc_origins_count (config->origins),
             gc_endpoints_requests (config->endpoints, 0),
             gc_endpoints_events (config->endpoints, 0), gc_endpoints_count (config->endpoints),
             config->keys? "on": "off");
    int rc = gc_server_run (gateway);
    gc_info ("stopping");
    gc_server_destroy (&gateway);
    return rc? 1: 0;
}

//  Flags and environment into a configuration, then the server
//  libwebsockets' error lines become ours: one format, and escaped as
//  every line is, since a line about a connection may hold what its
//  peer sent
static void
s_on_lws_log (int level, const char *line)
{
    (void) level;               //  only errors are asked for
    int size = (int) strlen (line);
    while (size > 0 && line [size - 1] == '\n')
        size--;
    gc_error ("libwebsockets: %.*s", size, line);
}

static int
s_main (int argc, char *argv [], gc_origins_t *origins, gc_proxies_t *proxies,
        gc_endpoints_t *endpoints)
{
    gc_server_config_t config = {
        .endpoints = endpoints, .origins = origins, .proxies = proxies
    };
    const char *keys = NULL;
    bool insecure = false;
    gc_option_t table [] = {
        GC_OPTION_NUMBER ("port", "GROUPCHAT_PORT", "8080", &config.listen.port, 1, 65535),
        { .name = "listen", .env = "GROUPCHAT_LISTEN", .text = &config.listen.address },
        { .name = "tls-cert", .env = "GROUPCHAT_TLS_CERT", .text = &config.listen.tls_cert },
        { .name = "tls-key", .env = "GROUPCHAT_TLS_KEY", .text = &config.listen.tls_key },
        { .name = "allow-origin", .env = "GROUPCHAT_ALLOW_ORIGIN", .take = s_take_origins,
          .arg = origins },
        { .name = "trusted-proxy", .env = "GROUPCHAT_TRUSTED_PROXY", .take = s_take_proxies,
          .arg = proxies },
        GC_OPTION_ENDPOINTS (endpoints),
        GC_OPTION_NUMBER ("rate-limit", "GROUPCHAT_RATE_LIMIT", GC_STR (GC_RATE_LIMIT_DEFAULT),
                          &config.rate_limit,
                          0, 1000000),
        GC_OPTION_NUMBER ("ping-interval", "GROUPCHAT_PING_INTERVAL", "20", &config.ping_seconds,
                          1, 3600),
        GC_OPTION_NUMBER ("login-timeout", "GROUPCHAT_LOGIN_TIMEOUT", "300", &config.login_seconds,
                          1, 86400),
        GC_OPTION_NUMBER ("max-connections", "GROUPCHAT_MAX_CONNECTIONS", "0",
                          &config.max_connections, 0, 1000000),
        GC_OPTION_NUMBER ("max-connections-per-address", "GROUPCHAT_MAX_CONNECTIONS_PER_ADDRESS",
                          GC_STR (GC_GATEWAY_PER_ADDRESS_DEFAULT), &config.max_per_address,
                          1, 1000000),
        GC_OPTION_NUMBER ("max-connections-per-user", "GROUPCHAT_MAX_CONNECTIONS_PER_USER",
                          GC_STR (GC_GATEWAY_PER_USER_DEFAULT), &config.max_per_user, 1, 1000000),
        GC_OPTION_NUMBER ("max-rooms-per-connection", "GROUPCHAT_MAX_ROOMS_PER_CONNECTION",
                          GC_STR (GC_GATEWAY_ROOMS_DEFAULT), &config.max_rooms, 1, 1000000),
        GC_OPTION_NUMBER ("request-deadline", "GROUPCHAT_REQUEST_DEADLINE",
                          GC_STR (GC_REQUEST_DEADLINE_MS), &config.request_deadline_ms,
                          100, 600000),
        GC_OPTION_KEYS (&keys, &insecure),
        GC_OPTION_LOG_LEVEL ("gateway"),
        { .name = NULL }
    };
    gc_options_t options = {
        .program = "groupchat-gateway", .usage = s_usage, .options = table,
        .stray = "unexpected argument"
    };
    int status = gc_options_parse (&options, argc, argv);
    const char *unpaired = status == GC_OPTIONS_GO_ON?
        gc_endpoints_complete (endpoints, "tcp://localhost:5555", "tcp://localhost:5556"): NULL;
    if (unpaired)
        status = gc_options_error (&options, unpaired);
    if (status == GC_OPTIONS_GO_ON)
        status = s_check_config (&options, &config, keys, insecure);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    if (keys && *keys && !(config.keys = gc_keys_load (keys, "gateway")))
        return 1;
    config.fd_limit = s_raise_fd_limit ();
    lws_set_log_level (LLL_ERR, s_on_lws_log);
    status = s_serve (&config);
    gc_keys_destroy (&config.keys);
    return status;
}

int
main (int argc, char *argv [])
{
    //  Before anything: a SIGTERM that comes while we start must stop us
    gc_stop_on_signals ();
    gc_origins_t *origins = gc_origins_new ();
    gc_proxies_t *proxies = gc_proxies_new ();
    gc_endpoints_t *endpoints = gc_endpoints_new ();
    int status = s_main (argc, argv, origins, proxies, endpoints);
    gc_endpoints_destroy (&endpoints);
    gc_origins_destroy (&origins);
    gc_proxies_destroy (&proxies);
    return status;
}
