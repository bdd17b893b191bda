/*  reader.c: rooms, join and history requests; all read, none writes. */
#include "reader.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_limits.h"

struct gc_reader_t {
    gc_store_t *store;
    gc_replier_t *reply;
};

gc_reader_t *
gc_reader_new (gc_store_t *store, gc_replier_t *reply)
{
    gc_reader_t *self = gc_calloc (1, sizeof *self);
    self->store = store;
    self->reply = reply;
    return self;
}

void
gc_reader_destroy (gc_reader_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

int
gc_reader_check (gc_store_t *store, gc_replier_t *reply, const gc_broker_request_t *request,
                 char *user, char *room)
{
    const gc_frame_t *frame = &request->frame;
    gc_error_t code = GC_OK;
    const char *message = NULL;
    char text [2 * GC_NAME_MAX + 32];
    if (!(frame->fields & GC_F_ROOM) || !gc_str_copy (frame->room, room, GC_NAME_MAX + 1)
    ||  !(frame->fields & GC_F_USER) || !gc_str_copy (frame->user, user, GC_NAME_MAX + 1)) {
        code = GC_BAD_REQUEST;
        message = "room or user missing or invalid";
    }
    else
    if (!gc_store_room (store, room, NULL))
        code = GC_NO_SUCH_ROOM;
    else
    if (!gc_store_is_member (store, user, room)) {
        code = GC_NOT_MEMBER;
        snprintf (text, sizeof text, "%s is not a member of %s", user, room);
        message = text;
    }
    if (code != GC_OK)
        gc_replier_error (reply, &request->identity, frame->rid, code, message);
    return code == GC_OK? 0: -1;
}

void
gc_reader_rooms (void *arg, const gc_broker_request_t *request)
{
    gc_reader_t *self = arg;
    char user [GC_NAME_MAX + 1];
    if (!gc_str_copy (request->frame.user, user, sizeof user)) {
        gc_replier_error (self->reply, &request->identity, request->frame.rid,
                        GC_BAD_REQUEST, "user missing or invalid");
        return;
    }
    char **names;
    int count = gc_store_rooms (self->store, user, &names);
    gc_replier_names (self->reply, request, GC_F_ROOMS, names, count);
    gc_store_names_free (&names, count);
}

//  Sends a history reply, or internal when the query failed; a join's
//  carries the head, and with since whether nothing was left out
static void
s_send_history (gc_reader_t *self, const gc_broker_request_t *request, int rc,
                gc_history_t *history, const char *room, uint64_t head)
{
    const gc_frame_t *frame = &request->frame;
    if (rc) {
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_INTERNAL, NULL);
        return;
    }
    gc_frame_t reply;
    gc_replier_init (&reply, frame->rid);
    gc_frame_set_cstr (&reply, GC_F_ROOM, room);
    reply.history = history->messages;
    reply.history_size = history->size;
    reply.fields |= GC_F_HISTORY;
    if (frame->op == GC_OP_JOIN) {
        gc_frame_set_uint (&reply, GC_F_HEAD, head);
        if (frame->fields & GC_F_SINCE)
            gc_frame_set_uint (&reply, GC_F_COMPLETE, history->size == 0
                || history->messages [history->size - 1].seq >= head);
    }
    gc_replier_send (self->reply, &request->identity, &reply);
    gc_history_free (history);
}

//  Keeps the oldest messages whose texts fit in GC_SINCE_BYTES_MAX (one at
//  least): a reply is held whole at the gateway until its client reads
//  it, and escaped for JSON a text can grow sixfold. complete then says
//  false, and the gateway pushes the rest as the client reads
static void
s_trim_to_budget (gc_history_t *history)
{
    size_t bytes = 0, kept = 0;
    while (kept < history->size) {
        const gc_message_t *message = &history->messages [kept];
        bytes += message->text.len + message->from.len;
        if (kept > 0 && bytes > GC_SINCE_BYTES_MAX)
            break;
        kept++;
    }
    for (size_t index = kept; index < history->size; index++)
        free ((char *) history->messages [index].room.ptr);
    history->size = kept;
}

void
gc_reader_join (void *arg, const gc_broker_request_t *request)
{
    gc_reader_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    if (gc_reader_check (self->store, self->reply, request, user, room))
        return;
    uint64_t head = 0;
    gc_store_room (self->store, room, &head);
    gc_history_t history;
    int rc = frame->fields & GC_F_SINCE?
             gc_store_since (self->store, room, frame->since, GC_SINCE_MAX, &history):
             gc_store_before (self->store, room, 0, GC_JOIN_HISTORY, &history);
    if (rc == 0 && (frame->fields & GC_F_SINCE))
        s_trim_to_budget (&history);
    s_send_history (self, request, rc, &history, room, head);
}

void
gc_reader_history (void *arg, const gc_broker_request_t *request)
{
    gc_reader_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    uint32_t limit = frame->fields & GC_F_LIMIT? frame->limit: GC_HISTORY_DEFAULT;
    if (limit < 1 || limit > GC_SINCE_MAX) {
        gc_replier_error (self->reply, &request->identity, frame->rid,
                        GC_BAD_REQUEST, "limit out of range");
        return;
    }
    //  The gateway checked that its client joined the room; the broker
    //  checks for itself that the user it names may read the room
    if (gc_reader_check (self->store, self->reply, request, user, room))
        return;
    gc_history_t history;
    int rc = frame->fields & GC_F_SINCE?
             gc_store_since (self->store, room, frame->since, limit, &history):
             gc_store_before (self->store, room, frame->fields & GC_F_BEFORE? frame->before: 0,
                              limit, &history);
    s_send_history (self, request, rc, &history, room, 0);
}

//  --------------------------------------------------------------------------
//  Self test

//  Calls a handler and returns the reply's code; the reply is kept in
//  reply and holder when they are given
static gc_error_t
s_test_call (gc_rig_t *rig, gc_handler_fn *handle, gc_reader_t *self, gc_broker_request_t *request,
             gc_frame_t *reply, zmsg_t **holder)
{
    handle (self, request);
    if (!reply)
        return gc_rig_reply (rig);
    gc_rig_recv (rig->dealer, reply, holder);
    assert (reply->rid == rig->rid);
    return reply->op == GC_OP_OK? GC_OK: reply->code;
}

static void
s_test_checks (gc_rig_t *rig, gc_reader_t *self)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_ROOMS, NULL, NULL);
    gc_frame_set_str (&request.frame, GC_F_USER, "Sue\0", 4);
    assert (s_test_call (rig, gc_reader_rooms, self, &request, NULL, NULL) == GC_BAD_REQUEST);
    gc_rig_request (rig, &request, GC_OP_JOIN, "Sandy", "8 out of 10 cats");
    assert (s_test_call (rig, gc_reader_join, self, &request, NULL, NULL) == GC_NOT_MEMBER);
    gc_rig_request (rig, &request, GC_OP_JOIN, "Sandy", "Nowhere");
    assert (s_test_call (rig, gc_reader_join, self, &request, NULL, NULL) == GC_NO_SUCH_ROOM);
    gc_rig_request (rig, &request, GC_OP_JOIN, NULL, "Taskmaster");
    assert (s_test_call (rig, gc_reader_join, self, &request, NULL, NULL) == GC_BAD_REQUEST);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Alex", "Taskmaster");
    gc_frame_set_uint (&request.frame, GC_F_LIMIT, GC_SINCE_MAX + 1);
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_BAD_REQUEST);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Alex", "Taskmaster");
    gc_frame_set_uint (&request.frame, GC_F_LIMIT, 0);
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_BAD_REQUEST);
    //  History is for members only, whoever asks: the broker checks
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Sandy", "8 out of 10 cats");
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_NOT_MEMBER);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Nobody", "Taskmaster");
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_NOT_MEMBER);
    gc_rig_request (rig, &request, GC_OP_HISTORY, NULL, "Taskmaster");
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_BAD_REQUEST);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Sandy", "Nowhere");
    assert (s_test_call (rig, gc_reader_history, self, &request, NULL, NULL) == GC_NO_SUCH_ROOM);
}

static void
s_test_reads (gc_rig_t *rig, gc_reader_t *self)
{
    gc_broker_request_t request;
    gc_frame_t reply;
    zmsg_t *holder;
    gc_rig_request (rig, &request, GC_OP_ROOMS, "Sandy", NULL);
    assert (s_test_call (rig, gc_reader_rooms, self, &request, &reply, &holder) == GC_OK);
    assert (reply.rooms_size == 2 && gc_str_eq (reply.rooms [0], "Quite Interesting"));
    gc_frame_release (&reply), zmsg_destroy (&holder);
    gc_rig_request (rig, &request, GC_OP_JOIN, "Alex", "Taskmaster");
    assert (s_test_call (rig, gc_reader_join, self, &request, &reply, &holder) == GC_OK);
    assert (reply.head == 11 && reply.history_size == 10 && !(reply.fields & GC_F_COMPLETE));
    assert (reply.history [0].seq == 2 && reply.history [9].seq == 11);
    gc_frame_release (&reply), zmsg_destroy (&holder);
    gc_rig_request (rig, &request, GC_OP_JOIN, "Alex", "Taskmaster");
    gc_frame_set_uint (&request.frame, GC_F_SINCE, 5);
    assert (s_test_call (rig, gc_reader_join, self, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 6 && reply.history [0].seq == 6 && reply.complete);
    gc_frame_release (&reply), zmsg_destroy (&holder);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Alex", "Taskmaster");
    gc_frame_set_uint (&request.frame, GC_F_BEFORE, 4);
    gc_frame_set_uint (&request.frame, GC_F_LIMIT, 2);
    assert (s_test_call (rig, gc_reader_history, self, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 2 && reply.history [0].seq == 2 && reply.history [1].seq == 3);
    assert (!(reply.fields & GC_F_HEAD));
    gc_frame_release (&reply), zmsg_destroy (&holder);
    gc_rig_request (rig, &request, GC_OP_HISTORY, "Sandy", "Taskmaster");
    gc_frame_set_uint (&request.frame, GC_F_SINCE, 9);
    assert (s_test_call (rig, gc_reader_history, self, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 2 && reply.history [0].seq == 10);
    gc_frame_release (&reply), zmsg_destroy (&holder);
}

//  A join with since holds GC_SINCE_BYTES_MAX of texts at most, then says
//  it is not complete; joining again from its last seq gets the rest
static void
s_test_budget (gc_rig_t *rig, gc_reader_t *self)
{
    static char text [GC_TEXT_MAX];
    memset (text, 'x', sizeof text);
    gc_store_say_t says [100];
    for (int index = 0; index < 100; index++)
        says [index] = (gc_store_say_t) { .room = "Quite Interesting", .from = "Sue",
            .text = text, .text_size = sizeof text };
    assert (gc_store_append (rig->store, says, 100, 2000) == 0);
    uint64_t since = 0;
    size_t got = 0, replies = 0;
    bool complete = false;
    while (!complete) {
        gc_broker_request_t request;
        gc_frame_t reply;
        zmsg_t *holder;
        gc_rig_request (rig, &request, GC_OP_JOIN, "Sue", "Quite Interesting");
        gc_frame_set_uint (&request.frame, GC_F_SINCE, since);
        assert (s_test_call (rig, gc_reader_join, self, &request, &reply, &holder) == GC_OK);
        assert (reply.history_size >= 1 && reply.history [0].seq == since + 1);
        assert (reply.history_size * sizeof text <= GC_SINCE_BYTES_MAX);
        got += reply.history_size;
        since = reply.history [reply.history_size - 1].seq;
        complete = reply.complete;
        replies++;
        gc_frame_release (&reply), zmsg_destroy (&holder);
    }
    assert (got == 100 && replies > 1);
}

void
gc_reader_test (bool verbose)
{
    if (verbose)
        printf (" * gc_reader: ");
    gc_rig_t *rig = gc_rig_new ();
    gc_reader_t *self = gc_reader_new (rig->store, rig->reply);
    gc_store_say_t says [11];
    for (int index = 0; index < 11; index++)
        says [index] = (gc_store_say_t) { .room = "Taskmaster", .from = "Sue",
            .text = "hello", .text_size = 5 };
    assert (gc_store_append (rig->store, says, 11, 1000) == 0);
    s_test_checks (rig, self);
    s_test_reads (rig, self);
    s_test_budget (rig, self);
    gc_reader_destroy (&self);
    gc_reader_destroy (&self);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
