/*  selftest.c: runs the self-tests of every class, czmq-style, from one
    table. `groupchat-selftest` runs them all; `groupchat-selftest NAME`
    runs one; `--list` prints the names (tests/run.py counts each). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "gc_codec.h"
#include "gc_text.h"
#include "gc_metrics.h"
#include "../gateway/json.h"
#include "../gateway/member.h"
#include "../gateway/room.h"
#include "../gateway/conn.h"
#include "../broker/store.h"
#include "../broker/hasher.h"
#include "../broker/broker.h"
#include "../client/format.h"
#include "../client/wsconn.h"
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
    { "gc_text", gc_text_test },
    { "gc_metrics", gc_metrics_test },
    { "gc_json", gc_json_test },
    { "gc_member", gc_member_test },
    { "gc_room", gc_room_test },
    { "gc_conn", gc_conn_test },
    { "gc_store", gc_store_test },
    { "gc_hasher", gc_hasher_test },
    { "gc_broker", gc_broker_test },
    { "gc_format", gc_format_test },
    { "gc_wsconn", gc_wsconn_test },
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
