/*  gc_reply.c: replies and pushes as JSON text.

    Frames are built once per room message and go to every member, so the
    text is written in one pass: into a scratch buffer, then copied behind
    the caller's headroom. That costs less than jansson's measuring pass;
    only texts larger than the scratch (long histories) are encoded twice,
    once to measure. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "gc_reply.h"
#include "gc_alloc.h"
#include "gc_limits.h"

//  Encodes and takes json, an object, which dumps to at least "{}": a
//  size of 0 is jansson out of memory. The scratch is static, so these
//  encoders serve one thread (each gateway, client and bench has one).
static unsigned char *
s_dump (json_t *json, size_t offset, size_t *size)
{
    static char scratch [GC_FRAME_MAX];
    *size = json_dumpb (json, scratch, sizeof scratch, JSON_COMPACT);
    if (*size == 0)
        gc_alloc_fail (__FILE__, __LINE__);
    unsigned char *buffer = gc_malloc (offset + *size);
    if (*size <= sizeof scratch)
        memcpy (buffer + offset, scratch, *size);
    else
        json_dumpb (json, (char *) buffer + offset, *size, JSON_COMPACT);
    json_decref (json);
    return buffer;
}

//  Starts a server frame: op, then the request's id when it had one
static json_t *
s_start (gc_client_op_t op, const gc_request_t *request)
{
    json_t *object = gc_alloc_checked (json_object ());
    json_object_set_new (object, GC_KEY_OP, json_string (gc_client_op_name (op)));
    if (request && request->has_id)
        json_object_set_new (object, GC_KEY_ID, json_integer (request->id));
    return object;
}

unsigned char *
gc_reply_error (const gc_request_t *request, gc_error_t code, const char *message,
                uint64_t retry_after, size_t offset, size_t *size)
{
    json_t *reply = s_start (GC_CLIENT_ERROR, request);
    json_object_set_new (reply, GC_KEY_CODE, json_string (gc_error_name (code)));
    json_object_set_new (reply, GC_KEY_MESSAGE,
                         json_string (message? message: gc_error_text (code)));
    if (retry_after)
        json_object_set_new (reply, GC_KEY_RETRY_AFTER, json_integer ((json_int_t) retry_after));
    return s_dump (reply, offset, size);
}

unsigned char *
gc_reply_ok (const gc_request_t *request, json_t *fields, size_t offset, size_t *size)
{
    json_t *reply = s_start (GC_CLIENT_OK, request);
    if (fields)
        json_object_update (reply, fields);
    json_decref (fields);
    return s_dump (reply, offset, size);
}

json_t *
gc_reply_message_object (const gc_message_t *message)
{
    json_t *object = s_start (GC_CLIENT_MESSAGE, NULL);
    json_object_set_new (object, GC_KEY_ROOM,
                         json_stringn (message->room.ptr, message->room.len));
    json_object_set_new (object, GC_KEY_SEQ, json_integer ((json_int_t) message->seq));
    json_object_set_new (object, GC_KEY_FROM,
                         json_stringn (message->from.ptr, message->from.len));
    json_object_set_new (object, GC_KEY_TEXT,
                         json_stringn (message->text.ptr, message->text.len));
    json_object_set_new (object, GC_KEY_TS, json_integer (message->ts));
    return object;
}

unsigned char *
gc_reply_message (const gc_message_t *message, size_t offset, size_t *size)
{
    return s_dump (gc_reply_message_object (message), offset, size);
}

unsigned char *
gc_reply_left (const char *room, const char *reason, size_t offset, size_t *size)
{
    json_t *event = s_start (GC_CLIENT_LEFT, NULL);
    json_object_set_new (event, GC_KEY_ROOM, json_string (room));
    json_object_set_new (event, GC_KEY_REASON, json_string (reason));
    return s_dump (event, offset, size);
}

unsigned char *
gc_reply_closed (const char *reason, size_t offset, size_t *size)
{
    json_t *event = s_start (GC_CLIENT_CLOSED, NULL);
    json_object_set_new (event, GC_KEY_REASON, json_string (reason));
    return s_dump (event, offset, size);
}

//  A push about a user in a room: presence (with its event) or typing
static unsigned char *
s_about_user (gc_client_op_t op, const char *room, const char *user, const char *event,
              size_t offset, size_t *size)
{
    json_t *push = s_start (op, NULL);
    json_object_set_new (push, GC_KEY_ROOM, json_string (room));
    json_object_set_new (push, GC_KEY_USER, json_string (user));
    if (event)
        json_object_set_new (push, GC_KEY_EVENT, json_string (event));
    return s_dump (push, offset, size);
}

unsigned char *
gc_reply_presence (const char *room, const char *user, const char *event,
                   size_t offset, size_t *size)
{
    return s_about_user (GC_CLIENT_PRESENCE, room, user, event, offset, size);
}

unsigned char *
gc_reply_typing (const char *room, const char *user, size_t offset, size_t *size)
{
    return s_about_user (GC_CLIENT_TYPING, room, user, NULL, offset, size);
}

static json_t *
s_history (const gc_frame_t *reply)
{
    json_t *history = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < reply->history_size; index++)
        json_array_append_new (history, gc_reply_message_object (&reply->history [index]));
    return history;
}

static json_t *
s_rooms (const gc_frame_t *reply)
{
    json_t *rooms = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < reply->rooms_size; index++)
        json_array_append_new (rooms, json_pack ("{s:s%}", GC_KEY_NAME,
                               reply->rooms [index].ptr, reply->rooms [index].len));
    return rooms;
}

//  The reply's names as a JSON array of strings
static json_t *
s_names (const gc_frame_t *reply)
{
    json_t *names = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < reply->names_size; index++)
        json_array_append_new (names, json_stringn (reply->names [index].ptr,
                                                    reply->names [index].len));
    return names;
}

json_t *
gc_reply_fields (const gc_request_t *request, const gc_frame_t *reply, const char *user)
{
    json_t *fields = gc_alloc_checked (json_object ());
    switch (request->op) {
        case GC_CLIENT_LOGIN:
            json_object_set_new (fields, GC_KEY_USER, json_string (user));
            json_object_set_new (fields, GC_KEY_TOKEN,
                                 json_stringn (reply->token.ptr, reply->token.len));
            break;
        case GC_CLIENT_ROOMS:
            json_object_set_new (fields, GC_KEY_ROOMS, s_rooms (reply));
            break;
        case GC_CLIENT_JOIN:
        case GC_CLIENT_HISTORY:
            json_object_set_new (fields, GC_KEY_ROOM,
                                 json_stringn (request->room, request->room_len));
            json_object_set_new (fields, GC_KEY_HISTORY, s_history (reply));
            if (request->op == GC_CLIENT_JOIN && request->has_since)
                json_object_set_new (fields, GC_KEY_COMPLETE, json_boolean (reply->complete));
            break;
        case GC_CLIENT_SAY:
            json_object_set_new (fields, GC_KEY_SEQ, json_integer ((json_int_t) reply->seq));
            break;
        case GC_CLIENT_WHO:
            json_object_set_new (fields, GC_KEY_ROOM,
                                 json_stringn (request->room, request->room_len));
            json_object_set_new (fields, GC_KEY_PRESENT, s_names (reply));
            break;
        default:
            break;
    }
    return fields;
}

//  --------------------------------------------------------------------------
//  Self test

//  The text of a reply is as expected, behind `offset` bytes of headroom
static void
s_expect (unsigned char *buffer, size_t offset, size_t size, const char *expected)
{
    assert (buffer && size == strlen (expected));
    assert (memcmp (buffer + offset, expected, size) == 0);
    free (buffer);
}

//  An ok reply per op, from the broker's reply frame
static void
s_test_ok (void)
{
    gc_message_t history [2] = {
        { { "r", 1 }, 8, { "Sue", 3 }, { "a\"\n", 3 }, 1 },
        { { "r", 1 }, 9, { "Al", 2 }, { "b", 1 }, 2 },
    };
    gc_str_t rooms [2] = { { "Taskmaster", 10 }, { "QI", 2 } };
    gc_frame_t reply;
    gc_frame_init (&reply, GC_OP_OK);
    reply.token = (gc_str_t) { "3q2-7w", 6 };
    reply.history = history;
    reply.history_size = 2;
    reply.rooms = rooms;
    reply.rooms_size = 2;
    reply.seq = 10;
    reply.complete = true;
    static const struct { gc_request_t request; const char *expected; } cases [] = {
        { { .op = GC_CLIENT_LOGIN, .has_id = true, .id = 1 },
          "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"3q2-7w\"}" },
        { { .op = GC_CLIENT_ROOMS, .has_id = true, .id = 2 },
          "{\"op\":\"ok\",\"id\":2,\"rooms\":[{\"name\":\"Taskmaster\"},{\"name\":\"QI\"}]}" },
        { { .op = GC_CLIENT_JOIN, .has_id = true, .id = 3, .room = "r", .room_len = 1,
            .has_since = true, .since = 7 },
          "{\"op\":\"ok\",\"id\":3,\"room\":\"r\",\"history\":["
          "{\"op\":\"message\",\"room\":\"r\",\"seq\":8,\"from\":\"Sue\",\"text\":\"a\\\"\\n\",\"ts\":1},"
          "{\"op\":\"message\",\"room\":\"r\",\"seq\":9,\"from\":\"Al\",\"text\":\"b\",\"ts\":2}],"
          "\"complete\":true}" },
        { { .op = GC_CLIENT_HISTORY, .room = "r", .room_len = 1 },
          "{\"op\":\"ok\",\"room\":\"r\",\"history\":["
          "{\"op\":\"message\",\"room\":\"r\",\"seq\":8,\"from\":\"Sue\",\"text\":\"a\\\"\\n\",\"ts\":1},"
          "{\"op\":\"message\",\"room\":\"r\",\"seq\":9,\"from\":\"Al\",\"text\":\"b\",\"ts\":2}]}" },
        { { .op = GC_CLIENT_SAY, .has_id = true, .id = 5 }, "{\"op\":\"ok\",\"id\":5,\"seq\":10}" },
        { { .op = GC_CLIENT_LEAVE, .has_id = true, .id = 6 }, "{\"op\":\"ok\",\"id\":6}" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        const gc_request_t *request = &cases [index].request;
        size_t size;
        unsigned char *buffer = gc_reply_ok (request,
                                             gc_reply_fields (request, &reply, "Sue"), 16, &size);
        s_expect (buffer, 16, size, cases [index].expected);
    }
    gc_frame_release (&reply);
}

static void
s_test_events (void)
{
    gc_request_t request = { .op = GC_CLIENT_JOIN, .has_id = true, .id = 7 };
    size_t size;
    unsigned char *buffer = gc_reply_error (&request, GC_NOT_MEMBER, "no", 0, 0, &size);
    s_expect (buffer, 0, size,
              "{\"op\":\"error\",\"id\":7,\"code\":\"not_member\",\"message\":\"no\"}");
    buffer = gc_reply_error (&request, GC_RATE_LIMITED, "wait", 1500, 0, &size);
    s_expect (buffer, 0, size, "{\"op\":\"error\",\"id\":7,\"code\":\"rate_limited\","
              "\"message\":\"wait\",\"retry_after\":1500}");
    buffer = gc_reply_error (NULL, GC_BAD_REQUEST, NULL, 0, 3, &size);
    s_expect (buffer, 3, size,
              "{\"op\":\"error\",\"code\":\"bad_request\",\"message\":\"the request is malformed\"}");
    buffer = gc_reply_left ("QI", "removed from the group", 1, &size);
    s_expect (buffer, 1, size,
              "{\"op\":\"left\",\"room\":\"QI\",\"reason\":\"removed from the group\"}");
    buffer = gc_reply_closed (GC_REASON_REMOVED, 2, &size);
    s_expect (buffer, 2, size, "{\"op\":\"closed\",\"reason\":\"your account was removed\"}");
    gc_message_t message = {
        { "Taskmaster", 10 }, 42, { "Sue", 3 }, { "say \"hi\"\n", 9 }, 1795962000123
    };
    buffer = gc_reply_message (&message, 10, &size);
    s_expect (buffer, 10, size,
              "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":42,\"from\":\"Sue\","
              "\"text\":\"say \\\"hi\\\"\\n\",\"ts\":1795962000123}");
    //  A text jansson refuses (not UTF-8) is left out, as it always was
    message.text = (gc_str_t) { "\xff", 1 };
    buffer = gc_reply_message (&message, 0, &size);
    assert (buffer && !memmem (buffer, size, "\"text\"", 6));
    free (buffer);
}

//  A text larger than the scratch buffer is measured, then written
static void
s_test_large (void)
{
    char *text = gc_malloc (GC_FRAME_MAX + 1);
    memset (text, 'x', GC_FRAME_MAX);
    gc_message_t message = { { "r", 1 }, 1, { "Sue", 3 }, { text, GC_FRAME_MAX }, 1 };
    size_t size;
    unsigned char *buffer = gc_reply_message (&message, 16, &size);
    assert (buffer && size > GC_FRAME_MAX);
    json_t *parsed = json_loadb ((char *) buffer + 16, size, 0, NULL);
    assert (json_string_length (json_object_get (parsed, GC_KEY_TEXT)) == GC_FRAME_MAX);
    json_decref (parsed);
    free (buffer);
    free (text);
}

void
gc_reply_test (bool verbose)
{
    if (verbose)
        printf (" * gc_reply: ");
    s_test_ok ();
    s_test_events ();
    s_test_large ();
    if (verbose)
        printf ("OK\n");
}
