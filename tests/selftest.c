/*  selftest.c: runs the self-tests of every class, czmq-style, from one
    table. `groupchat-selftest` runs them all; `groupchat-selftest NAME`
    runs one; `--list` prints the names (tests/run.py counts each). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "gc_codec.h"
#include "gc_text.h"
#include "gc_request.h"
#include "gc_reply.h"
#include "gc_metrics.h"
#include "gc_escape.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_endpoints.h"
#include "gc_pem.h"
#include "gc_keys.h"
#include "gc_stop.h"
#include "../gateway/out.h"
#include "../gateway/linkstate.h"
#include "../gateway/link.h"
#include "../gateway/member.h"
#include "../gateway/room.h"
#include "../gateway/roster.h"
#include "../gateway/conn.h"
#include "../gateway/sessions.h"
#include "../gateway/origin.h"
#include "../gateway/page.h"
#include "../gateway/proxies.h"
#include "../gateway/admission.h"
#include "../gateway/listen.h"
#include "../broker/store.h"
#include "../broker/store_backend.h"
#include "../broker/pg_array.h"
#include "../broker/lease.h"
#include "../broker/hasher.h"
#include "../broker/throttle.h"
#include "../broker/replier.h"
#include "../broker/login.h"
#include "../broker/reader.h"
#include "../broker/commit.h"
#include "../broker/backups.h"
#include "../broker/admin.h"
#include "../broker/presence.h"
#include "../broker/keyring.h"
#include "../broker/broker.h"
#include "../client/complete.h"
#include "../client/format.h"
#include "../client/wsconn.h"
#include "../client/session.h"
#include "../bench/histogram.h"
#include "../bench/order.h"
#include "../bench/wire.h"
#include "../bench/report.h"
#include "../bench/rss.h"
#include "../bench/pool.h"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} s_test_t;

static const s_test_t s_tests [] = {
    { "gc_codec", gc_codec_test },
    { "gc_error", gc_error_test },
    { "gc_text", gc_text_test },
    { "gc_metrics", gc_metrics_test },
    { "gc_escape", gc_escape_test },
    { "gc_log", gc_log_test },
    { "gc_options", gc_options_test },
    { "gc_endpoints", gc_endpoints_test },
    { "gc_pem", gc_pem_test },
    { "gc_keys", gc_keys_test },
    { "gc_keyring", gc_keyring_test },
    { "gc_stop", gc_stop_test },
    { "gc_request", gc_request_test },
    { "gc_reply", gc_reply_test },
    { "gc_out", gc_out_test },
    { "gc_linkstate", gc_linkstate_test },
    { "gc_link", gc_link_test },
    { "gc_member", gc_member_test },
    { "gc_room", gc_room_test },
    { "gc_roster", gc_roster_test },
    { "gc_conn", gc_conn_test },
    { "gc_sessions", gc_sessions_test },
    { "gc_origins", gc_origins_test },
    { "gc_page", gc_page_test },
    { "gc_proxies", gc_proxies_test },
    { "gc_admission", gc_admission_test },
    { "gc_listen", gc_listen_test },
    { "gc_store", gc_store_test },
    { "gc_store_sqlite", gc_store_sqlite_test },
    { "gc_pg_array", gc_pg_array_test },
    { "gc_lease", gc_lease_test },
    { "gc_hasher", gc_hasher_test },
    { "gc_throttle", gc_throttle_test },
    { "gc_replier", gc_replier_test },
    { "gc_login", gc_login_test },
    { "gc_reader", gc_reader_test },
    { "gc_commit", gc_commit_test },
    { "gc_backups", gc_backups_test },
    { "gc_admin", gc_admin_test },
    { "gc_presence", gc_presence_test },
    { "gc_broker", gc_broker_test },
    { "gc_complete", gc_complete_test },
    { "gc_format", gc_format_test },
    { "gc_wsconn", gc_wsconn_test },
    { "gc_session", gc_session_test },
    { "gc_hist", gc_hist_test },
    { "gc_order", gc_order_test },
    { "gc_wire", gc_wire_test },
    { "gc_bench_report", gc_bench_report_test },
    { "gc_bench_rss", gc_bench_rss_test },
    { "gc_bench_pool", gc_bench_pool_test },
    { NULL, NULL }
};

int
main (int argc, char *argv [])
{
    const char *only = argc > 1? argv [1]: NULL;
    if (only && strcmp (only, "--list") == 0) {
        for (const s_test_t *test = s_tests; test->name; test++)
            printf ("%s\n", test->name);
        return 0;
    }
    int ran = 0;
    for (const s_test_t *test = s_tests; test->name; test++)
        if (!only || strcmp (only, test->name) == 0) {
            test->test (true);
            ran++;
        }
    if (ran == 0) {
        fprintf (stderr, "selftest: no test named %s\n", only);
        return 2;
    }
    return 0;
}
