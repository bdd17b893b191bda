/*  commit.c: the say queue and the group commit.

    Says that arrive during one commit's fsync queue in the socket and
    share the next commit: the busier the broker, the larger the batches,
    and the fsync cost per message falls.

    A say with a nonce is looked up when it arrives: one stored already
    is answered at once, from the store, as it was first answered. Says
    with the same nonce within one batch are found when it is committed:
    the first is stored, the others only answered after that commit, with
    its seq (or conflict), so that no answer names a seq not yet durable. */
#include "commit.h"
#include "reader.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_metrics.h"
#include "gc_text.h"

//  A say waiting for the end of the turn's commit
typedef struct {
    gc_identity_t identity;     //  who to acknowledge
    uint64_t rid;
    int64_t deadline;           //  0: none
    char room [GC_NAME_MAX + 1];
    char from [GC_NAME_MAX + 1];
    char *text;
    size_t text_size;
    char nonce [GC_NONCE_MAX + 1];  //  "" when the say has none
    bool repeat;                //  in a commit: an earlier say of it has the same nonce
    size_t message;             //  in a commit: its message's index, or the earlier say's
} s_say_t;

struct gc_commit_t {
    gc_store_t *store;
    gc_replier_t *reply;
    s_say_t *says;              //  queued this turn
    size_t says_size, says_max;
    zhashx_t *nonces;           //  in a commit: the first say of each nonce, by s_nonce_key
    int64_t purge_next;         //  wall ms of the next purge of forgotten nonces
    uint64_t messages_stored;
    uint64_t says_repeated;     //  answered with the seq of a say stored before, by nonce
    gc_histogram_t commit_seconds;  //  how long each group commit took
    gc_histogram_t batch_sizes;     //  says per group commit
};

gc_commit_t *
gc_commit_new (gc_store_t *store, gc_replier_t *reply)
{
    gc_commit_t *self = gc_calloc (1, sizeof *self);
    self->store = store;
    self->reply = reply;
    self->nonces = zhashx_new ();
    gc_histogram_init (&self->commit_seconds, gc_metrics_seconds,
                       sizeof gc_metrics_seconds / sizeof gc_metrics_seconds [0]);
    gc_histogram_init (&self->batch_sizes, gc_metrics_sizes,
                       sizeof gc_metrics_sizes / sizeof gc_metrics_sizes [0]);
    return self;
}

static void
s_says_clear (gc_commit_t *self)
{
    for (size_t index = 0; index < self->says_size; index++)
        free (self->says [index].text);
    self->says_size = 0;
}

void
gc_commit_destroy (gc_commit_t **self_p)
{
    gc_commit_t *self = *self_p;
    if (!self)
        return;
    s_says_clear (self);
    free (self->says);
    zhashx_destroy (&self->nonces);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Queued

static void
s_reply_ok (gc_commit_t *self, const gc_identity_t *identity, uint64_t rid,
            uint64_t seq, int64_t ts)
{
    gc_frame_t frame;
    gc_replier_init (&frame, rid);
    gc_frame_set_uint (&frame, GC_F_SEQ, seq);
    gc_frame_set_uint (&frame, GC_F_TS, (uint64_t) ts);
    gc_replier_send (self->reply, identity, &frame);
}

//  Answers a say whose nonce the store knows (true), as its first was
//  answered, or conflict; false when the say is new, to be queued
static bool
s_answered_by_store (gc_commit_t *self, const gc_broker_request_t *request,
                     const char *user, const char *room, const char *nonce)
{
    const gc_frame_t *frame = &request->frame;
    gc_store_say_t say = {
        .room = room, .from = user, .text = frame->text.ptr, .text_size = frame->text.len,
        .nonce = nonce
    };
    gc_nonce_t found = gc_store_nonce (self->store, &say, gc_clock_wall_ms ());
    if (found == GC_NONCE_STORED) {
        s_reply_ok (self, &request->identity, frame->rid, say.seq, say.ts);
        self->says_repeated++;
    }
    else
    if (found != GC_NONCE_NEW)
        gc_replier_error (self->reply, &request->identity, frame->rid,
                          found == GC_NONCE_CONFLICT? GC_CONFLICT: GC_INTERNAL, NULL);
    return found != GC_NONCE_NEW;
}

//  Checks the say's fields: GC_OK with its nonce ("" for none) in nonce,
//  or the code to refuse it with (and *why, when the code says too little)
static gc_error_t
s_check (const gc_frame_t *frame, char *nonce, const char **why)
{
    *why = NULL;
    if (!(frame->fields & GC_F_TEXT)) {
        *why = "text missing";
        return GC_BAD_REQUEST;
    }
    *nonce = 0;
    if ((frame->fields & GC_F_NONCE)
    &&  (frame->nonce.len == 0 || !gc_str_copy (frame->nonce, nonce, GC_NONCE_MAX + 1))) {
        *why = "nonce must be 1 to " GC_STR (GC_NONCE_MAX) " bytes";
        return GC_BAD_REQUEST;
    }
    return GC_OK;
}

void
gc_commit_say (void *arg, const gc_broker_request_t *request)
{
    gc_commit_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1], nonce [GC_NONCE_MAX + 1];
    const char *why;
    gc_error_t code = s_check (frame, nonce, &why);
    if (code != GC_OK) {
        gc_replier_error (self->reply, &request->identity, frame->rid, code, why);
        return;
    }
    if (gc_reader_check (self->store, self->reply, request, user, room))
        return;
    code = gc_text_check (frame->text.ptr, frame->text.len);
    if (code != GC_OK) {
        gc_replier_error (self->reply, &request->identity, frame->rid, code, NULL);
        return;
    }
    if (*nonce && s_answered_by_store (self, request, user, room, nonce))
        return;
    if (self->says_size == self->says_max) {
        self->says_max = self->says_max? 2 * self->says_max: 64;
        self->says = gc_realloc (self->says, self->says_max * sizeof (s_say_t));
    }
    s_say_t *say = &self->says [self->says_size++];
    say->identity = request->identity;
    say->rid = frame->rid;
    say->deadline = frame->fields & GC_F_DEADLINE? frame->deadline: 0;
    strcpy (say->room, room);
    strcpy (say->from, user);
    strcpy (say->nonce, nonce);
    say->text = gc_malloc (frame->text.len + 1);
    memcpy (say->text, frame->text.ptr, frame->text.len);
    say->text_size = frame->text.len;
}

//  --------------------------------------------------------------------------
//  Expired, committed, acknowledged

//  Drops the says whose deadline passed while they waited: the gateway
//  answers those unavailable, so they must not be stored
static size_t
s_drop_expired (gc_commit_t *self, int64_t now)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->says_size; index++) {
        s_say_t *say = &self->says [index];
        if (say->deadline && now > say->deadline) {
            gc_replier_error (self->reply, &say->identity, say->rid, GC_EXPIRED, NULL);
            free (say->text);
        }
        else
            self->says [kept++] = *say;
    }
    self->says_size = kept;
    return kept;
}

//  The say's own message is stored: acknowledged, and published
static void
s_acknowledge (gc_commit_t *self, const s_say_t *say, const gc_store_say_t *stored)
{
    s_reply_ok (self, &say->identity, say->rid, stored->seq, stored->ts);
    gc_frame_t frame;
    gc_frame_init (&frame, GC_OP_MESSAGE);
    gc_frame_set_cstr (&frame, GC_F_ROOM, say->room);
    gc_frame_set_uint (&frame, GC_F_SEQ, stored->seq);
    gc_frame_set_cstr (&frame, GC_F_FROM, say->from);
    gc_frame_set_str (&frame, GC_F_TEXT, say->text, say->text_size);
    gc_frame_set_uint (&frame, GC_F_TS, (uint64_t) stored->ts);
    gc_replier_publish (self->reply, &frame);
}

//  A say that repeats an earlier one of its batch, now stored: the same
//  answer, or conflict for another text; nothing to publish
static void
s_answer_repeat (gc_commit_t *self, const s_say_t *say, const gc_store_say_t *stored)
{
    if (say->text_size == stored->text_size && memcmp (say->text, stored->text, say->text_size) == 0) {
        s_reply_ok (self, &say->identity, say->rid, stored->seq, stored->ts);
        self->says_repeated++;
    }
    else
        gc_replier_error (self->reply, &say->identity, say->rid, GC_CONFLICT, NULL);
}

//  The user's length and the room's first, so that no two (user, room,
//  nonce) share a key
static void
s_nonce_key (const s_say_t *say, char *key, size_t size)
{
    snprintf (key, size, "%zu:%s:%zu:%s:%s", strlen (say->from), say->from,
              strlen (say->room), say->room, say->nonce);
}

//  Marks the says that repeat an earlier say's nonce, and numbers the
//  messages the others make: how many there are
static size_t
s_find_repeats (gc_commit_t *self)
{
    size_t messages = 0;
    for (size_t index = 0; index < self->says_size; index++) {
        s_say_t *say = &self->says [index];
        s_say_t *first = NULL;
        if (*say->nonce) {
            char key [2 * GC_NAME_MAX + GC_NONCE_MAX + 48];
            s_nonce_key (say, key, sizeof key);
            first = zhashx_lookup (self->nonces, key);
            if (!first)
                zhashx_insert (self->nonces, key, say);
        }
        say->repeat = first != NULL;
        say->message = first? first->message: messages++;
    }
    if (zhashx_size (self->nonces))
        zhashx_purge (self->nonces);
    return messages;
}

//  Every say queued gets `code`, and none is stored
static void
s_refuse_all (gc_commit_t *self, gc_error_t code)
{
    for (size_t index = 0; index < self->says_size; index++)
        gc_replier_error (self->reply, &self->says [index].identity, self->says [index].rid,
                          code, NULL);
    s_says_clear (self);
}

//  Deadlines are checked once the write lock is held: waiting for it (for
//  another process's transaction) may have outlasted a gateway's wait,
//  and a client told `unavailable` must find nothing stored
void
gc_commit_flush (gc_commit_t *self)
{
    if (s_drop_expired (self, gc_clock_wall_ms ()) == 0)
        return;
    int64_t started = gc_clock_mono_us ();
    if (gc_store_begin (self->store)) {
        s_refuse_all (self, GC_INTERNAL);
        return;
    }
    int64_t now = gc_clock_wall_ms ();
    size_t count = s_drop_expired (self, now);
    if (count == 0) {
        gc_store_abandon (self->store);
        return;
    }
    size_t messages = s_find_repeats (self);
    gc_store_say_t *stored = gc_calloc (messages, sizeof *stored);
    for (size_t index = 0; index < count; index++) {
        s_say_t *say = &self->says [index];
        if (!say->repeat)
            stored [say->message] = (gc_store_say_t) {
                .room = say->room, .from = say->from, .text = say->text,
                .text_size = say->text_size, .nonce = *say->nonce? say->nonce: NULL
            };
    }
    int rc = gc_store_append (self->store, stored, messages, now);
    gc_histogram_add (&self->commit_seconds, (double) (gc_clock_mono_us () - started) / 1e6);
    gc_histogram_add (&self->batch_sizes, (double) messages);
    gc_debug ("committed says=%zu messages=%zu rc=%d", count, messages, rc);
    if (rc == 0) {
        self->messages_stored += messages;
        for (size_t index = 0; index < count; index++)
            if (self->says [index].repeat)
                s_answer_repeat (self, &self->says [index], &stored [self->says [index].message]);
            else
                s_acknowledge (self, &self->says [index], &stored [self->says [index].message]);
        s_says_clear (self);
    }
    else
        s_refuse_all (self, GC_INTERNAL);
    free (stored);
}

void
gc_commit_sweep (gc_commit_t *self, int64_t now)
{
    if (now < self->purge_next)
        return;
    int gone = gc_store_nonces_purge (self->store, now, GC_NONCE_PURGE_BATCH);
    if (gone < 0)
        gc_warn ("purge of forgotten nonces failed: tried again in an hour");
    else
    if (gone > 0)
        gc_info ("purged forgotten nonces=%d", gone);
    self->purge_next = now + (gone >= GC_NONCE_PURGE_BATCH? 0: GC_NONCE_PURGE_MS);
}

void
gc_commit_metrics (gc_commit_t *self, FILE *stream)
{
    gc_metric_write (stream, "groupchat_broker_messages_stored_total", "counter",
                     "Messages committed since the broker started.", (double) self->messages_stored);
    gc_metric_write (stream, "groupchat_broker_says_repeated_total", "counter",
                     "Says whose nonce was stored already: answered with its seq, nothing stored.",
                     (double) self->says_repeated);
    gc_histogram_write (&self->commit_seconds, stream, "groupchat_broker_commit_seconds",
                        "Time each group commit took, fsync included.");
    gc_histogram_write (&self->batch_sizes, stream, "groupchat_broker_commit_batch_size",
                        "Messages stored per group commit.");
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_test_say (gc_rig_t *rig, gc_commit_t *self, const char *user, const char *room,
            const char *text, int64_t deadline)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_SAY, user, room);
    if (text)
        gc_frame_set_cstr (&request.frame, GC_F_TEXT, text);
    if (deadline)
        gc_frame_set_uint (&request.frame, GC_F_DEADLINE, (uint64_t) deadline);
    gc_commit_say (self, &request);
}

//  Refused says are answered at once, and never queued
static void
s_test_refused (gc_rig_t *rig, gc_commit_t *self)
{
    s_test_say (rig, self, "Sue", "Taskmaster", NULL, 0);
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);
    s_test_say (rig, self, "Sue", NULL, "hi", 0);
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);
    s_test_say (rig, self, "Sandy", "8 out of 10 cats", "hi", 0);
    assert (gc_rig_reply (rig) == GC_NOT_MEMBER);
    s_test_say (rig, self, "Sue", " \r\n\t", " \r\n\t", 0);
    assert (gc_rig_reply (rig) == GC_NO_SUCH_ROOM);
    s_test_say (rig, self, "Sue", "Taskmaster", " \r\n\t", 0);
    assert (gc_rig_reply (rig) == GC_EMPTY_TEXT);
    char long_text [GC_TEXT_MAX + 2];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [GC_TEXT_MAX + 1] = 0;
    s_test_say (rig, self, "Sue", "Taskmaster", long_text, 0);
    assert (gc_rig_reply (rig) == GC_TOO_LONG);
    gc_commit_flush (self);     //  nothing queued: nothing sent
}

//  A turn's says: queued, then one commit; the one past its deadline is
//  answered expired and not stored, the others acked and published
static void
s_test_turn (gc_rig_t *rig, gc_commit_t *self)
{
    uint64_t first = rig->rid + 1;
    for (int index = 0; index < 100; index++)
        s_test_say (rig, self, "Sue", index == 50? "Taskmaster 2": "Taskmaster", "hello",
                    index == 7? gc_clock_wall_ms () - 1: 0);
    gc_commit_flush (self);
    uint64_t seq = 1;
    for (int index = 0; index < 100; index++) {
        gc_frame_t frame;
        zmsg_t *holder;
        gc_rig_recv (rig->dealer, &frame, &holder);
        assert (frame.rid == first + (uint64_t) (index == 0? 7: index <= 7? index - 1: index));
        if (index == 0)
            assert (frame.op == GC_OP_ERROR && frame.code == GC_EXPIRED);
        else
        if (index != 50)
            assert (frame.op == GC_OP_OK && frame.seq == seq++ && frame.ts > 0);
        gc_frame_release (&frame), zmsg_destroy (&holder);
    }
    for (seq = 1; seq <= 98; seq++) {
        gc_frame_t event;
        zmsg_t *holder;
        gc_rig_recv (rig->sub, &event, &holder);
        assert (event.op == GC_OP_MESSAGE && event.seq == seq && gc_str_eq (event.room, "Taskmaster"));
        assert (gc_str_eq (event.from, "Sue") && gc_str_eq (event.text, "hello"));
        gc_frame_release (&event), zmsg_destroy (&holder);
    }
    uint64_t head;
    assert (gc_store_room (rig->store, "Taskmaster", &head) && head == 98);
}

//  Sue says text to Taskmaster with a nonce, and the request's rid
static uint64_t
s_test_say_nonce (gc_rig_t *rig, gc_commit_t *self, const char *text, const char *nonce)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_SAY, "Sue", "Taskmaster");
    gc_frame_set_cstr (&request.frame, GC_F_TEXT, text);
    gc_frame_set_cstr (&request.frame, GC_F_NONCE, nonce);
    gc_commit_say (self, &request);
    return rig->rid;
}

//  The next reply's seq (0 for an error, whose code goes to *code)
static uint64_t
s_test_seq (gc_rig_t *rig, uint64_t rid, gc_error_t *code)
{
    gc_frame_t frame;
    zmsg_t *holder;
    gc_rig_recv (rig->dealer, &frame, &holder);
    assert (frame.rid == rid);
    *code = frame.op == GC_OP_OK? GC_OK: frame.code;
    uint64_t seq = frame.op == GC_OP_OK? frame.seq: 0;
    gc_frame_release (&frame), zmsg_destroy (&holder);
    return seq;
}

//  Says with one nonce: in one batch, one message, the same seq for the
//  same text and conflict for another, all after the commit; once it is
//  stored, answered at arrival, from the store
static void
s_test_nonces (gc_rig_t *rig, gc_commit_t *self)
{
    s_test_say_nonce (rig, self, "hi", "");
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);
    s_test_say_nonce (rig, self, "hi", "0123456789012345678901234567890123456789012345678901234567890123+");
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);
    uint64_t head, seq;
    assert (gc_store_room (rig->store, "Taskmaster", &head));
    uint64_t first = s_test_say_nonce (rig, self, "once", "n-1");
    uint64_t second = s_test_say_nonce (rig, self, "once", "n-1");
    uint64_t other = s_test_say_nonce (rig, self, "twice", "n-1");
    uint64_t alone = s_test_say_nonce (rig, self, "once", "n-2");
    gc_error_t code;
    gc_commit_flush (self);
    assert (s_test_seq (rig, first, &code) == head + 1 && code == GC_OK);
    assert (s_test_seq (rig, second, &code) == head + 1 && code == GC_OK);
    assert (s_test_seq (rig, other, &code) == 0 && code == GC_CONFLICT);
    assert (s_test_seq (rig, alone, &code) == head + 2 && code == GC_OK);
    for (seq = head + 1; seq <= head + 2; seq++) {
        gc_frame_t event;
        zmsg_t *holder;
        gc_rig_recv (rig->sub, &event, &holder);
        assert (event.op == GC_OP_MESSAGE && event.seq == seq);
        gc_frame_release (&event), zmsg_destroy (&holder);
    }
    first = s_test_say_nonce (rig, self, "once", "n-1");
    assert (s_test_seq (rig, first, &code) == head + 1 && code == GC_OK);
    other = s_test_say_nonce (rig, self, "twice", "n-1");
    assert (s_test_seq (rig, other, &code) == 0 && code == GC_CONFLICT);
    gc_commit_flush (self);     //  nothing was queued
    assert (gc_store_room (rig->store, "Taskmaster", &seq) && seq == head + 2);
    gc_commit_sweep (self, gc_clock_wall_ms ());
}

void
gc_commit_test (bool verbose)
{
    if (verbose)
        printf (" * gc_commit: ");
    gc_rig_t *rig = gc_rig_new ();
    assert (gc_store_room_add (rig->store, "Taskmaster 2") == GC_OK);
    assert (gc_store_member_set (rig->store, "Sue", "Taskmaster 2", true) == GC_OK);
    gc_rig_subscribe (rig, "Taskmaster");
    gc_commit_t *self = gc_commit_new (rig->store, rig->reply);
    s_test_refused (rig, self);
    s_test_turn (rig, self);
    s_test_nonces (rig, self);
    gc_commit_metrics (self, gc_rig_capture (rig));
    assert (gc_rig_captured (rig, "groupchat_broker_messages_stored_total 101"));
    assert (gc_rig_captured (rig, "groupchat_broker_says_repeated_total 2"));
    assert (gc_rig_captured (rig, "groupchat_broker_commit_batch_size_count 2"));
    //  Queued and never flushed: freed with the queue
    s_test_say (rig, self, "Sue", "Taskmaster", "left", 0);
    gc_commit_destroy (&self);
    gc_commit_destroy (&self);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
