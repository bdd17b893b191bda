/*  json.c: client frames in, client frames out.

    The table of ops and the per-op field rules are the only place the
    gateway knows the shape of protocol v1 requests. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <libwebsockets.h>
#include "json.h"
#include "gc_limits.h"

static const struct {
    const char *name;
    gc_req_op_t op;
} s_ops [] = {
    { "login", GC_REQ_LOGIN }, { "logout", GC_REQ_LOGOUT }, { "rooms", GC_REQ_ROOMS },
    { "join", GC_REQ_JOIN }, { "say", GC_REQ_SAY }, { "leave", GC_REQ_LEAVE },
    { "history", GC_REQ_HISTORY },
};

//  Reads an optional string field: true when absent or a string
static bool
s_get_string (json_t *root, const char *key, const char **value, size_t *size)
{
    json_t *field = json_object_get (root, key);
    if (!field)
        return true;
    //  U+0000 is parsed (so the id can be echoed) but refused here
    if (!json_is_string (field)
    ||  strlen (json_string_value (field)) != json_string_length (field))
        return false;
    *value = json_string_value (field);
    *size = json_string_length (field);
    return true;
}

//  Reads an optional non-negative integer field
static bool
s_get_count (json_t *root, const char *key, bool *present, uint64_t *value)
{
    json_t *field = json_object_get (root, key);
    if (!field)
        return true;
    if (!json_is_integer (field) || json_integer_value (field) < 0)
        return false;
    *present = true;
    *value = (uint64_t) json_integer_value (field);
    return true;
}

static gc_req_op_t
s_op_of (json_t *root)
{
    json_t *op = json_object_get (root, "op");
    if (!json_is_string (op))
        return GC_REQ_NONE;
    for (size_t index = 0; index < sizeof s_ops / sizeof s_ops [0]; index++)
        if (strcmp (json_string_value (op), s_ops [index].name) == 0)
            return s_ops [index].op;
    return GC_REQ_NONE;
}

//  Checks the fields the op needs; returns NULL when good, else why not
static const char *
s_check_fields (gc_request_t *request)
{
    json_t *root = request->root;
    if (!s_get_string (root, "user", &request->user, &request->user_len)
    ||  !s_get_string (root, "password", &request->password, &request->password_len)
    ||  !s_get_string (root, "token", &request->token, &request->token_len)
    ||  !s_get_string (root, "room", &request->room, &request->room_len)
    ||  !s_get_string (root, "text", &request->text, &request->text_len))
        return "a field has the wrong type or contains U+0000";
    uint64_t limit = 0;
    if (!s_get_count (root, "since", &request->has_since, &request->since)
    ||  !s_get_count (root, "before", &request->has_before, &request->before)
    ||  !s_get_count (root, "limit", &request->has_limit, &limit))
        return "a number field is not a non-negative integer";
    request->limit = request->has_limit? (int64_t) limit: GC_HISTORY_DEFAULT;

    switch (request->op) {
        case GC_REQ_LOGIN:
            if (request->token || (request->user && request->password))
                return NULL;
            return "login needs user and password, or token";
        case GC_REQ_JOIN:
        case GC_REQ_LEAVE:
            return request->room? NULL: "room is missing";
        case GC_REQ_SAY:
            return request->room && request->text? NULL: "say needs room and text";
        case GC_REQ_HISTORY:
            if (!request->room)
                return "room is missing";
            if (request->limit < 1 || request->limit > GC_HISTORY_MAX)
                return "limit must be 1 to 100";
            return NULL;
        default:
            return NULL;
    }
}

gc_error_t
gc_json_parse (const char *data, size_t size, gc_request_t *request, const char **why)
{
    memset (request, 0, sizeof *request);
    //  jansson rejects invalid UTF-8; \u0000 is let through to be refused
    //  field by field, with the request's id
    json_error_t error;
    request->root = json_loadb (data, size, JSON_ALLOW_NUL, &error);
    if (!json_is_object (request->root)) {
        *why = request->root? "the frame is not a JSON object": "the frame is not valid JSON";
        return GC_BAD_REQUEST;
    }
    json_t *id = json_object_get (request->root, "id");
    if (id && !json_is_integer (id)) {
        *why = "id must be an integer";
        return GC_BAD_REQUEST;
    }
    if (id) {
        request->has_id = true;
        request->id = json_integer_value (id);
    }
    request->op = s_op_of (request->root);
    if (request->op == GC_REQ_NONE) {
        *why = json_is_string (json_object_get (request->root, "op"))?
               "unknown op": "op must be a string";
        return GC_BAD_REQUEST;
    }
    *why = s_check_fields (request);
    return *why? GC_BAD_REQUEST: GC_OK;
}

void
gc_request_release (gc_request_t *request)
{
    json_decref (request->root);
    request->root = NULL;
}

//  --------------------------------------------------------------------------
//  Encoding

//  Writes the header of an unmasked, final text frame (RFC 6455, 5.2)
//  in the headroom before the text. lws frames each lws_write by itself;
//  a header made here lets one frame go to every member, and several to
//  one member in a single write, as raw bytes.
static void
s_out_seal (gc_out_t *out)
{
    unsigned char header [10] = { 0x81 };
    size_t head = 2;
    if (out->size < 126)
        header [1] = (unsigned char) out->size;
    else
    if (out->size <= 0xffff) {
        header [1] = 126;
        head = 4;
    }
    else {
        header [1] = 127;
        head = 10;
    }
    for (size_t index = 2; index < head; index++)
        header [index] = (unsigned char) (out->size >> (8 * (head - 1 - index)));
    out->head = head;
    memcpy (out->data + LWS_PRE - head, header, head);
}

//  Encodes into a scratch buffer and copies, which costs less than
//  jansson's measuring pass; only frames larger than the scratch (long
//  histories) are encoded twice, once to measure
static int
s_out_from_json (gc_out_t *out, json_t *json)
{
    static char scratch [GC_FRAME_MAX];
    *out = (gc_out_t) { NULL, 0, 0 };
    size_t size = json? json_dumpb (json, scratch, sizeof scratch, JSON_COMPACT): 0;
    if (size)
        out->data = malloc (LWS_PRE + size);
    if (out->data) {
        if (size <= sizeof scratch)
            memcpy (out->data + LWS_PRE, scratch, size);
        else
            json_dumpb (json, (char *) out->data + LWS_PRE, size, JSON_COMPACT);
        out->size = size;
        s_out_seal (out);
    }
    json_decref (json);
    return out->data? 0: -1;
}

//  Starts a reply object: op, then the request's id when it had one
static json_t *
s_reply (const char *op, const gc_request_t *request)
{
    json_t *reply = json_object ();
    json_object_set_new (reply, "op", json_string (op));
    if (request && request->has_id)
        json_object_set_new (reply, "id", json_integer (request->id));
    return reply;
}

int
gc_json_error (gc_out_t *out, const gc_request_t *request, gc_error_t code,
               const char *message)
{
    json_t *reply = s_reply ("error", request);
    json_object_set_new (reply, "code", json_string (gc_error_name (code)));
    json_object_set_new (reply, "message",
                         json_string (message? message: gc_error_text (code)));
    return s_out_from_json (out, reply);
}

int
gc_json_ok (gc_out_t *out, const gc_request_t *request, json_t *fields)
{
    json_t *reply = s_reply ("ok", request);
    if (fields)
        json_object_update (reply, fields);
    json_decref (fields);
    return s_out_from_json (out, reply);
}

json_t *
gc_json_message_object (const gc_message_t *message)
{
    json_t *object = json_object ();
    json_object_set_new (object, "op", json_string ("message"));
    json_object_set_new (object, "room",
                         json_stringn (message->room.ptr, message->room.len));
    json_object_set_new (object, "seq", json_integer ((json_int_t) message->seq));
    json_object_set_new (object, "from",
                         json_stringn (message->from.ptr, message->from.len));
    json_object_set_new (object, "text",
                         json_stringn (message->text.ptr, message->text.len));
    json_object_set_new (object, "ts", json_integer (message->ts));
    return object;
}

int
gc_json_left (gc_out_t *out, const char *room, const char *reason)
{
    json_t *event = json_object ();
    json_object_set_new (event, "op", json_string ("left"));
    json_object_set_new (event, "room", json_string (room));
    json_object_set_new (event, "reason", json_string (reason));
    return s_out_from_json (out, event);
}

int
gc_json_message (gc_out_t *out, const gc_message_t *message)
{
    return s_out_from_json (out, gc_json_message_object (message));
}

static json_t *
s_history (const gc_frame_t *reply)
{
    json_t *history = json_array ();
    for (size_t index = 0; index < reply->history_size; index++)
        json_array_append_new (history, gc_json_message_object (&reply->history [index]));
    return history;
}

json_t *
gc_json_reply_fields (const gc_request_t *request, const gc_frame_t *reply,
                      const char *user)
{
    json_t *fields = json_object ();
    switch (request->op) {
        case GC_REQ_LOGIN:
            json_object_set_new (fields, "user", json_string (user));
            json_object_set_new (fields, "token",
                                 json_stringn (reply->token.ptr, reply->token.len));
            break;
        case GC_REQ_ROOMS: {
            json_t *rooms = json_array ();
            for (size_t index = 0; index < reply->rooms_size; index++)
                json_array_append_new (rooms, json_pack ("{s:s%}", "name",
                                       reply->rooms [index].ptr, reply->rooms [index].len));
            json_object_set_new (fields, "rooms", rooms);
            break;
        }
        case GC_REQ_JOIN:
        case GC_REQ_HISTORY:
            json_object_set_new (fields, "room", json_stringn (request->room, request->room_len));
            json_object_set_new (fields, "history", s_history (reply));
            if (request->op == GC_REQ_JOIN && request->has_since)
                json_object_set_new (fields, "complete", json_boolean (reply->complete));
            break;
        case GC_REQ_SAY:
            json_object_set_new (fields, "seq", json_integer ((json_int_t) reply->seq));
            break;
        default:
            break;
    }
    return fields;
}

void
gc_out_free (gc_out_t *out)
{
    free (out->data);
    out->data = NULL;
    out->size = 0;
    out->head = 0;
}

//  --------------------------------------------------------------------------
//  Self test

static gc_error_t
s_parse (const char *text, gc_request_t *request)
{
    const char *why = NULL;
    gc_error_t code = gc_json_parse (text, strlen (text), request, &why);
    assert ((code == GC_OK) == (why == NULL));
    return code;
}

static void
s_test_parse_errors (void)
{
    const char *bad [] = {
        "", "nope", "[1,2]", "{}", "{\"op\":5}", "{\"op\":\"fly\"}",
        "{\"op\":\"join\"}", "{\"op\":\"join\",\"room\":5}",
        "{\"op\":\"say\",\"room\":\"x\"}", "{\"op\":\"login\",\"user\":\"a\"}",
        "{\"op\":\"history\",\"room\":\"x\",\"limit\":0}",
        "{\"op\":\"history\",\"room\":\"x\",\"limit\":101}",
        "{\"op\":\"join\",\"room\":\"x\",\"since\":-1}",
        "{\"op\":\"rooms\",\"id\":\"7\"}",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        gc_request_t request;
        assert (s_parse (bad [index], &request) == GC_BAD_REQUEST);
        gc_request_release (&request);
    }
    gc_request_t request;
    assert (s_parse ("{\"op\":\"fly\",\"id\":9}", &request) == GC_BAD_REQUEST);
    assert (request.has_id && request.id == 9);
    gc_request_release (&request);
    assert (s_parse ("{\"op\":\"say\",\"id\":4,\"room\":\"x\",\"text\":\"a\\u0000b\"}",
                     &request) == GC_BAD_REQUEST);
    assert (request.has_id && request.id == 4);
    gc_request_release (&request);
}

static void
s_test_parse_good (void)
{
    gc_request_t request;
    assert (s_parse ("{\"op\":\"history\",\"id\":3,\"room\":\"Taskmaster\",\"before\":42,"
                     "\"extra\":[1]}", &request) == GC_OK);
    assert (request.op == GC_REQ_HISTORY && request.id == 3 && request.limit == 10);
    assert (request.has_before && request.before == 42 && request.room_len == 10);
    gc_request_release (&request);
    assert (s_parse ("{\"op\":\"login\",\"token\":\"abc\"}", &request) == GC_OK);
    assert (!request.has_id && request.op == GC_REQ_LOGIN && request.token_len == 3);
    gc_request_release (&request);
}

static void
s_test_encode (void)
{
    gc_message_t message = {
        { "Taskmaster", 10 }, 42, { "Sue", 3 }, { "say \"hi\"\n", 9 }, 1795962000123
    };
    gc_out_t out;
    assert (gc_json_message (&out, &message) == 0);
    const char *expected = "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":42,"
                           "\"from\":\"Sue\",\"text\":\"say \\\"hi\\\"\\n\",\"ts\":1795962000123}";
    assert (out.size == strlen (expected));
    assert (memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);

    gc_request_t request;
    assert (s_parse ("{\"op\":\"join\",\"id\":7,\"room\":\"x\"}", &request) == GC_OK);
    assert (gc_json_error (&out, &request, GC_NOT_MEMBER, "no") == 0);
    expected = "{\"op\":\"error\",\"id\":7,\"code\":\"not_member\",\"message\":\"no\"}";
    assert (out.size == strlen (expected) && memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);
    gc_request_release (&request);
}

//  Header lengths switch at 126 and 65536 bytes (RFC 6455, 5.2)
static void
s_test_frame_header (void)
{
    static const struct { size_t size; size_t head; unsigned char header [10]; } cases [] = {
        { 1,      2,  { 0x81, 1 } },
        { 125,    2,  { 0x81, 125 } },
        { 126,    4,  { 0x81, 126, 0, 126 } },
        { 65535,  4,  { 0x81, 126, 0xff, 0xff } },
        { 65536,  10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        gc_out_t out = { malloc (LWS_PRE + cases [index].size), cases [index].size, 0 };
        assert (out.data);
        s_out_seal (&out);
        assert (out.head == cases [index].head);
        assert (gc_out_wire (&out) + out.head == out.data + LWS_PRE);
        assert (gc_out_wire_size (&out) == out.head + out.size);
        assert (memcmp (gc_out_wire (&out), cases [index].header, out.head) == 0);
        gc_out_free (&out);
    }
}

void
gc_json_test (bool verbose)
{
    if (verbose)
        printf (" * gc_json: ");
    s_test_parse_errors ();
    s_test_parse_good ();
    s_test_encode ();
    s_test_frame_header ();
    if (verbose)
        printf ("OK\n");
}
