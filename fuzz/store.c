/*  fuzz/store.c: the libFuzzer harness of the store's history queries,
    gc_store_before and gc_store_since, the pages of join, history and a
    gateway's refills.

    The store is opened once on a small database in a temporary file
    (removed at exit; after a crash it stays in /tmp, for a look),
    seeded with rooms whose messages are known: S_ROOMS below. An input is
    a query: a kind byte (0 before, 1 since, 2 paging back from the
    newest, 3 paging on from a seq), a room byte (an index into S_ROOMS,
    any other value: a name, the input's tail up to a NUL), a bound and a
    limit (8 and 4 bytes, little-endian), as fuzz/corpus.py writes them.
    Whatever they are, the answer must be exactly what the room holds
    within them: in seq order, within the bound, no more than the limit,
    the newest or the first as asked, each message as it was stored; an
    unknown room refused; paging must give every message once. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../broker/store.h"
#include "../broker/rig.h"
#include "gc_log.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The rooms of the database and how many messages each holds (seqs
//  1..count): more than the largest page, one, none, and a name that
//  another begins with
static const struct {
    const char *name;
    uint64_t count;
} S_ROOMS [] = {
    { "Taskmaster", 250 }, { "Quite Interesting", 1 }, { "8 out of 10 cats", 0 }, { "Task", 3 }
};
#define S_ROOM_COUNT    (sizeof S_ROOMS / sizeof S_ROOMS [0])
#define S_TS            1795962000000
#define S_PAGE_MAX      120     //  largest limit of a page when paging

static gc_store_t *s_store;
static char s_path [] = "/tmp/groupchat-fuzz-store-XXXXXX";

//  --------------------------------------------------------------------------
//  The database

//  What message seq of room says, so that each one is told apart
static void
s_text (char *text, size_t size, const char *room, uint64_t seq)
{
    snprintf (text, size, "%s#%" PRIu64, room, seq);
}

static const char *
s_from (uint64_t seq)
{
    return seq % 2? "Sue": "Alex";
}

static void
s_seed_room (const char *room, uint64_t count)
{
    assert (gc_store_room_add (s_store, room) == GC_OK);
    for (uint64_t seq = 1; seq <= count; seq++) {
        char text [GC_NAME_MAX + 32];
        s_text (text, sizeof text, room, seq);
        gc_store_say_t say = { .room = room, .from = s_from (seq),
            .text = text, .text_size = strlen (text) };
        assert (gc_store_append (s_store, &say, 1, S_TS + (int64_t) seq) == 0 && say.seq == seq);
    }
}

static void
s_close (void)
{
    gc_store_destroy (&s_store);
    gc_rig_unlink (s_path);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    gc_log_init ("fuzz-store", GC_LOG_WARN);
    int fd = mkstemp (s_path);
    assert (fd >= 0);
    close (fd);
    s_store = gc_store_new (s_path, GC_SEED_NONE);
    assert (s_store);
    for (size_t index = 0; index < S_ROOM_COUNT; index++)
        s_seed_room (S_ROOMS [index].name, S_ROOMS [index].count);
    atexit (s_close);
    return 0;
}

//  --------------------------------------------------------------------------
//  Queries and what they must answer

typedef struct {
    uint8_t kind;
    const char *room;
    uint64_t bound;
    uint32_t limit;
    char name [2 * GC_NAME_MAX];    //  a room named by the input
} s_query_t;

//  The query an input asks; false when it is too short for one
static bool
s_query_read (s_query_t *query, const uint8_t *data, size_t size)
{
    if (size < 14)
        return false;
    query->kind = data [0] % 4;
    query->bound = 0;
    query->limit = 0;
    for (int index = 7; index >= 0; index--)
        query->bound = query->bound << 8 | data [2 + index];
    for (int index = 3; index >= 0; index--)
        query->limit = query->limit << 8 | data [10 + index];
    size_t name_size = size - 14 < sizeof query->name - 1? size - 14: sizeof query->name - 1;
    memcpy (query->name, data + 14, name_size);
    query->name [name_size] = 0;
    query->room = data [1] < S_ROOM_COUNT? S_ROOMS [data [1]].name: query->name;
    return true;
}

//  How many messages room holds, or -1 when there is no such room
static int64_t
s_count (const char *room)
{
    for (size_t index = 0; index < S_ROOM_COUNT; index++)
        if (strcmp (room, S_ROOMS [index].name) == 0)
            return (int64_t) S_ROOMS [index].count;
    return -1;
}

//  The answer holds seqs first..first+size-1 of room, each as stored
static void
s_check_messages (const gc_history_t *history, const char *room, uint64_t first)
{
    for (size_t index = 0; index < history->size; index++) {
        const gc_message_t *message = &history->messages [index];
        uint64_t seq = first + index;
        char text [GC_NAME_MAX + 32];
        s_text (text, sizeof text, room, seq);
        assert (message->seq == seq && message->ts == S_TS + (int64_t) seq);
        assert (gc_str_eq (message->room, room) && gc_str_eq (message->text, text));
        assert (gc_str_eq (message->from, s_from (seq)));
    }
}

//  The newest `limit` below bound (0: none), oldest first
static void
s_before (const char *room, uint64_t count, uint64_t bound, uint32_t limit)
{
    gc_history_t history;
    assert (gc_store_before (s_store, room, bound, limit, &history) == 0);
    uint64_t newest = bound == 0 || bound > count? count: bound - 1;
    uint64_t size = newest < limit? newest: limit;
    assert (history.size == size);
    s_check_messages (&history, room, newest - size + 1);
    gc_history_free (&history);
}

//  The first `limit` above bound
static void
s_since (const char *room, uint64_t count, uint64_t bound, uint32_t limit)
{
    gc_history_t history;
    assert (gc_store_since (s_store, room, bound, limit, &history) == 0);
    uint64_t after = bound < count? count - bound: 0;
    assert (history.size == (after < limit? after: limit));
    s_check_messages (&history, room, bound + 1);
    gc_history_free (&history);
}

//  Scrolls back a page at a time from the newest, as a client's
//  /history does, to the first message; every one comes once
static void
s_page_back (const char *room, uint64_t count, uint32_t limit)
{
    uint64_t before = 0, seen = 0;
    for (;;) {
        gc_history_t page;
        assert (gc_store_before (s_store, room, before, limit, &page) == 0);
        size_t size = page.size;
        if (size)
            before = page.messages [0].seq;
        s_check_messages (&page, room, count - seen - size + 1);
        gc_history_free (&page);
        seen += size;
        if (size < limit)
            break;
    }
    assert (seen == count);
}

//  Pages on from since, as a reconnecting client's joins and a gateway's
//  refills do, to the newest message; every one comes once
static void
s_page_on (const char *room, uint64_t count, uint64_t since, uint32_t limit)
{
    uint64_t start = since;
    for (;;) {
        gc_history_t page;
        assert (gc_store_since (s_store, room, since, limit, &page) == 0);
        size_t size = page.size;
        s_check_messages (&page, room, since + 1);
        if (size)
            since = page.messages [size - 1].seq;
        gc_history_free (&page);
        if (size < limit)
            break;
    }
    assert (since == (start < count? count: start));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_query_t query;
    if (!s_query_read (&query, data, size))
        return -1;
    int64_t count = s_count (query.room);
    if (count < 0) {
        gc_history_t history;
        assert (gc_store_before (s_store, query.room, query.bound, query.limit, &history) == -1);
        assert (gc_store_since (s_store, query.room, query.bound, query.limit, &history) == -1);
        assert (history.size == 0 && history.messages == NULL);
        return 0;
    }
    uint32_t page = 1 + query.limit % S_PAGE_MAX;
    switch (query.kind) {
        case 0: s_before (query.room, (uint64_t) count, query.bound, query.limit); break;
        case 1: s_since (query.room, (uint64_t) count, query.bound, query.limit); break;
        case 2: s_page_back (query.room, (uint64_t) count, page); break;
        default: s_page_on (query.room, (uint64_t) count, query.bound, page); break;
    }
    return 0;
}
