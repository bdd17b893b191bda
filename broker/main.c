/*  main.c: groupchat-broker, the one process holding users, rooms and
    history.

    Only wiring: flags and environment into a configuration, start the
    broker, wait for SIGINT or SIGTERM, stop it. The signals are blocked
    in every thread and taken here with sigwait, so no handler runs in the
    middle of the broker's work. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <czmq.h>
#include "broker.h"
#include "gc_log.h"
#include "gc_options.h"

static const char *s_usage =
    "usage: groupchat-broker [--db PATH] [--requests ENDPOINT] [--events ENDPOINT]\n"
    "                        [--log-level LEVEL]\n"
    "\n"
    "Holds users, rooms and history in SQLite; answers gateways on a ZeroMQ\n"
    "ROUTER socket and publishes every stored message on a PUB socket.\n"
    "\n"
    "  --db PATH            SQLite database        GROUPCHAT_DB (./groupchat.db)\n"
    "  --requests ENDPOINT  ROUTER to bind         GROUPCHAT_REQUESTS (tcp://*:5555)\n"
    "  --events ENDPOINT    PUB to bind            GROUPCHAT_EVENTS (tcp://*:5556)\n"
    "  --log-level LEVEL    error, warn, info, debug  GROUPCHAT_LOG_LEVEL (info)\n"
    "  --help               this text\n"
    "\n"
    "A flag wins over its environment variable. An empty database gets the\n"
    "initial users Alex, Sue and Sandy and their groups' rooms.\n";

int
main (int argc, char *argv [])
{
    gc_broker_config_t config = {
        .db = gc_env ("GROUPCHAT_DB", "./groupchat.db"),
        .requests = gc_env ("GROUPCHAT_REQUESTS", "tcp://*:5555"),
        .events = gc_env ("GROUPCHAT_EVENTS", "tcp://*:5556"),
    };
    const char *level = gc_env ("GROUPCHAT_LOG_LEVEL", "info");
    static const struct option options [] = {
        { "db", required_argument, NULL, 'd' },
        { "requests", required_argument, NULL, 'r' },
        { "events", required_argument, NULL, 'e' },
        { "log-level", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1)
        switch (option) {
            case 'd': config.db = optarg; break;
            case 'r': config.requests = optarg; break;
            case 'e': config.events = optarg; break;
            case 'v': level = optarg; break;
            case 'h': fputs (s_usage, stdout); return 0;
            default:  return gc_usage_error ("groupchat-broker", s_usage, NULL);
        }
    if (optind < argc)
        return gc_usage_error ("groupchat-broker", s_usage, "unexpected argument");
    int log_level = gc_log_level_parse (level);
    if (log_level < 0)
        return gc_usage_error ("groupchat-broker", s_usage, "--log-level must be error, warn, info or debug");
    gc_log_init ("broker", (gc_log_level_t) log_level);

    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    zsys_handler_set (NULL);

    gc_broker_t *broker = gc_broker_new (&config);
    if (!broker)
        return 1;
    gc_info ("serving db=%s requests=%s events=%s", config.db,
             gc_broker_requests_endpoint (broker), gc_broker_events_endpoint (broker));
    int signal;
    sigwait (&signals, &signal);
    gc_info ("stopping on signal=%d", signal);
    gc_broker_destroy (&broker);
    zsys_shutdown ();
    return 0;
}
