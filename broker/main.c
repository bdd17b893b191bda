/*  main.c: groupchat-broker, the one process holding users, rooms and
    history.

    Only wiring: flags and environment into a configuration, start the
    broker, wait for SIGINT or SIGTERM, stop it. The signals are blocked
    in every thread and taken here (gc_stop_wait), so no handler runs in the
    middle of the broker's work. */
#include <czmq.h>
#include "broker.h"
#include "lease.h"
#include "gc_keys.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_stop.h"

static const char *s_usage =
    "usage: groupchat-broker [--db PATH|URI] [--requests ENDPOINT] [--events ENDPOINT]\n"
    "                        [--seed demo|none] [--backup-dir DIR] [--keys DIR] [--insecure]\n"
    "                        [--retain-days N] [--retain-messages N] [--log-level LEVEL]\n"
    "\n"
    "Holds users, rooms and history in SQLite or PostgreSQL; answers gateways\n"
    "on a ZeroMQ ROUTER socket and publishes every stored message on a PUB socket.\n"
    "\n"
    "  --db PATH|URI        SQLite database        GROUPCHAT_DB (./groupchat.db)\n"
    "                       or a PostgreSQL one: postgresql://HOST/NAME (a libpq\n"
    "                       URI; keep its password in ~/.pgpass or PGPASSWORD)\n"
    "  --requests ENDPOINT  ROUTER to bind         GROUPCHAT_REQUESTS (tcp://127.0.0.1:5555)\n"
    "  --events ENDPOINT    PUB to bind            GROUPCHAT_EVENTS (tcp://127.0.0.1:5556)\n"
    "  --seed demo|none     initial data           GROUPCHAT_SEED (demo)\n"
    "                       of an empty database: demo, the users Alex, Sue\n"
    "                       and Sandy (password \"password\") and their groups;\n"
    "                       none, nobody (add them with groupchat-admin)\n"
    "  --backup-dir DIR     backups go here        GROUPCHAT_BACKUP_DIR (none)\n"
    "                       only (made if missing): groupchat-admin backup NAME\n"
    "                       writes DIR/NAME, never outside DIR, never over a\n"
    "                       file; with none, backups are refused\n"
    "  --keys DIR           the broker's key folder: CURVE on both sockets, and\n"
    "                       only the keys in DIR/gateways (users' requests and\n"
    "                       events) and DIR/admins (administration) get in\n"
    "                                              GROUPCHAT_KEYS (none)\n"
    "                       groupchat-admin keys init makes it (docs/security.md)\n"
    "  --retain-days N      delete messages older  GROUPCHAT_RETAIN_DAYS (0: keep)\n"
    "  --retain-messages N  keep a room's newest N GROUPCHAT_RETAIN_MESSAGES (0: all)\n"
    "                       either way a room's newest message stays; checked at\n"
    "                       start and every minute\n"
    "  --insecure           allow endpoints other hosts can reach without keys\n"
    "                                              GROUPCHAT_INSECURE=1\n"
    "  --log-level LEVEL    error, warn, info, debug  GROUPCHAT_LOG_LEVEL (info)\n"
    "  --help               this text\n"
    "\n"
    "Brokers started on one database take turns: the first serves, the others\n"
    "wait as standbys (they bind nothing) until it stops or dies. On PostgreSQL\n"
    "the one serving holds a lease in the database, renewed every 0.5 s; once\n"
    "it cannot (it lost the lease or its connection, or the server restarted)\n"
    "it stops at once with status 3, and a standby takes over within 2 s.\n"
    "\n"
    "A flag wins over its environment variable. Without keys, whoever reaches\n"
    "the sockets is trusted: they may listen on this host only (tcp://127.0.0.1,\n"
    "localhost, ::1, ipc://) unless --insecure is given. A database with any\n"
    "user or group is never seeded. Exit status: 0 stopped by SIGINT or\n"
    "SIGTERM, 1 could not start, 2 usage (also: an endpoint other hosts can\n"
    "reach without keys), 3 lost the database's lease (start it again: it\n"
    "comes back as a standby).\n";

//  Standby until the database's lease is ours: the broker that holds it
//  serves, so that two never give out seqs of one room. Returns 0 once
//  it is taken, the signal that stopped the wait, or -1 on an error.
static int
s_wait_for_lease (gc_lease_t *lease, const char *db)
{
    int taken = gc_lease_take (lease);
    char shown [256];
    if (taken == 0)
        gc_info ("standby: another broker serves db=%s; waiting for it to stop",
                 gc_store_shown (db, shown, sizeof shown));
    while (taken == 0) {
        int signal = gc_stop_wait_for (GC_LEASE_POLL_MS);
        if (signal)
            return signal;
        taken = gc_lease_take (lease);
    }
    return taken == 1? 0: -1;
}

int
main (int argc, char *argv [])
{
    //  Before anything: a SIGTERM that comes while we start waits for us
    gc_stop_block ();
    //  Loopback unless the operator says otherwise: the sockets trust
    //  whoever reaches them
    gc_broker_config_t config = {
        .db = "./groupchat.db",
        .requests = "tcp://127.0.0.1:5555", .events = "tcp://127.0.0.1:5556"
    };
    const char *seed = "demo";
    bool insecure = false;
    gc_option_t table [] = {
        { .name = "db", .env = "GROUPCHAT_DB", .text = &config.db },
        { .name = "requests", .env = "GROUPCHAT_REQUESTS", .text = &config.requests },
        { .name = "events", .env = "GROUPCHAT_EVENTS", .text = &config.events },
        { .name = "seed", .env = "GROUPCHAT_SEED", .text = &seed },
        { .name = "backup-dir", .env = "GROUPCHAT_BACKUP_DIR", .text = &config.backup_dir },
        GC_OPTION_NUMBER ("retain-days", "GROUPCHAT_RETAIN_DAYS", "0",
                          &config.retain_days, 0, 100000),
        GC_OPTION_NUMBER ("retain-messages", "GROUPCHAT_RETAIN_MESSAGES", "0",
                          &config.retain_messages, 0, 1000000000),
        GC_OPTION_KEYS (&config.keys, &insecure),
        GC_OPTION_LOG_LEVEL ("broker"),
        { .name = NULL }
    };
    gc_options_t options = {
        .program = "groupchat-broker", .usage = s_usage, .options = table,
        .stray = "unexpected argument"
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    if (!gc_seed_parse (seed, &config.seed))
        return gc_options_error (&options, "--seed must be demo or none");
    bool keys = config.keys && *config.keys;
    char why [400];
    if (gc_keys_allow (config.requests, keys, insecure, why, sizeof why)
    ||  gc_keys_allow (config.events, keys, insecure, why, sizeof why))
        return gc_options_error (&options, why);

    gc_lease_t *lease = gc_lease_new (config.db);
    int waited = lease? s_wait_for_lease (lease, config.db): 0;
    config.holder = lease? gc_lease_holder (lease): NULL;
    if (waited != 0) {
        if (waited > 0)
            gc_info ("stopping on signal=%d", waited);
        gc_lease_destroy (&lease);
        return waited > 0? 0: 1;
    }
    gc_broker_t *broker = gc_broker_new (&config);
    if (!broker) {
        gc_lease_destroy (&lease);
        return 1;
    }
    char shown [256];
    gc_info ("serving db=%s requests=%s events=%s backups=%s curve=%s",
             gc_store_shown (config.db, shown, sizeof shown),
             gc_broker_requests_endpoint (broker), gc_broker_events_endpoint (broker),
             config.backup_dir? config.backup_dir: "off", keys? "on": "off");
    if (!keys && insecure)
        gc_warn ("no keys: whoever reaches the sockets is trusted as gateway and admin");
    int signal = gc_stop_wait ();
    gc_info ("stopping on signal=%d", signal);
    gc_broker_destroy (&broker);
    gc_lease_destroy (&lease);      //  last: a standby may serve from now on
    zsys_shutdown ();
    return 0;
}
