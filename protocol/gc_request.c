/*  gc_request.c: the op table of the client protocol, and requests read
    and written by it.

    Every known field is type-checked whatever the op, as the gateway has
    always done; each op then names the fields it needs. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "gc_request.h"
#include "gc_alloc.h"
#include "gc_limits.h"


//  The fields of requests, in the order they are written
typedef enum {
    S_USER, S_PASSWORD, S_TOKEN, S_ROOM, S_TEXT, S_NONCE, S_SINCE, S_BEFORE, S_LIMIT, S_FIELDS
} s_field_t;
#define S_BIT(field)    (1u << (field))

static const struct {
    const char *name;
    bool count;             //  a non-negative integer, else a string
    size_t value;           //  offset of the string, or of the count
    size_t size;            //  offset of the string's length, or of has_
} s_fields [S_FIELDS] = {
    [S_USER]     = { GC_KEY_USER, false, offsetof (gc_request_t, user),
                     offsetof (gc_request_t, user_len) },
    [S_PASSWORD] = { GC_KEY_PASSWORD, false, offsetof (gc_request_t, password),
                     offsetof (gc_request_t, password_len) },
    [S_TOKEN]    = { GC_KEY_TOKEN, false, offsetof (gc_request_t, token),
                     offsetof (gc_request_t, token_len) },
    [S_ROOM]     = { GC_KEY_ROOM, false, offsetof (gc_request_t, room),
                     offsetof (gc_request_t, room_len) },
    [S_TEXT]     = { GC_KEY_TEXT, false, offsetof (gc_request_t, text),
                     offsetof (gc_request_t, text_len) },
    [S_NONCE]    = { GC_KEY_NONCE, false, offsetof (gc_request_t, nonce),
                     offsetof (gc_request_t, nonce_len) },
    [S_SINCE]    = { GC_KEY_SINCE, true, offsetof (gc_request_t, since),
                     offsetof (gc_request_t, has_since) },
    [S_BEFORE]   = { GC_KEY_BEFORE, true, offsetof (gc_request_t, before),
                     offsetof (gc_request_t, has_before) },
    [S_LIMIT]    = { GC_KEY_LIMIT, true, offsetof (gc_request_t, limit),
                     offsetof (gc_request_t, has_limit) },
};

//  Per op: the fields it reads, the fields it needs (all of `needs`, or
//  else all of `needs_else`), and why when they are missing
static const struct {
    const char *name;
    bool request;
    unsigned reads;
    unsigned needs, needs_else;
    const char *missing;
    int64_t limit_max;      //  a limit above it is refused; 0: not checked
} s_ops [GC_CLIENT_OP_COUNT] = {
    [GC_CLIENT_NONE]    = { "?", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_LOGIN]   = { "login", true, S_BIT (S_USER) | S_BIT (S_PASSWORD) | S_BIT (S_TOKEN),
                            S_BIT (S_TOKEN), S_BIT (S_USER) | S_BIT (S_PASSWORD),
                            "login needs user and password, or token", 0 },
    [GC_CLIENT_LOGOUT]  = { "logout", true, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_ROOMS]   = { "rooms", true, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_JOIN]    = { "join", true, S_BIT (S_ROOM) | S_BIT (S_SINCE),
                            S_BIT (S_ROOM), 0, "room is missing", 0 },
    [GC_CLIENT_SAY]     = { "say", true, S_BIT (S_ROOM) | S_BIT (S_TEXT) | S_BIT (S_NONCE),
                            S_BIT (S_ROOM) | S_BIT (S_TEXT), 0, "say needs room and text", 0 },
    [GC_CLIENT_LEAVE]   = { "leave", true, S_BIT (S_ROOM),
                            S_BIT (S_ROOM), 0, "room is missing", 0 },
    [GC_CLIENT_HISTORY] = { "history", true,
                            S_BIT (S_ROOM) | S_BIT (S_BEFORE) | S_BIT (S_SINCE) | S_BIT (S_LIMIT),
                            S_BIT (S_ROOM), 0, "room is missing", GC_HISTORY_MAX },
    [GC_CLIENT_WHO]     = { "who", true, S_BIT (S_ROOM), S_BIT (S_ROOM), 0, "room is missing", 0 },
    [GC_CLIENT_TYPING]  = { "typing", true, S_BIT (S_ROOM), S_BIT (S_ROOM), 0, "room is missing", 0 },
    [GC_CLIENT_OK]      = { "ok", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_ERROR]   = { "error", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_MESSAGE] = { "message", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_LEFT]    = { "left", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_CLOSED]  = { "closed", false, 0, 0, 0, NULL, 0 },
    [GC_CLIENT_PRESENCE] = { "presence", false, 0, 0, 0, NULL, 0 },
};

const char *
gc_client_op_name (gc_client_op_t op)
{
    return op < GC_CLIENT_OP_COUNT? s_ops [op].name: "?";
}

gc_client_op_t
gc_client_op_from_name (const char *name, size_t len)
{
    for (int op = GC_CLIENT_NONE + 1; op < GC_CLIENT_OP_COUNT; op++)
        if (strlen (s_ops [op].name) == len && memcmp (s_ops [op].name, name, len) == 0)
            return (gc_client_op_t) op;
    return GC_CLIENT_NONE;
}

bool
gc_client_op_is_request (gc_client_op_t op)
{
    return op < GC_CLIENT_OP_COUNT && s_ops [op].request;
}

//  --------------------------------------------------------------------------
//  Parsing

//  Reads a field into the request; false when it has the wrong type.
//  U+0000 is parsed (so the id can be echoed) but refused here.
static bool
s_read_field (gc_request_t *request, s_field_t field, unsigned *present)
{
    json_t *value = json_object_get (request->root, s_fields [field].name);
    if (!value)
        return true;
    char *base = (char *) request;
    if (s_fields [field].count) {
        if (!json_is_integer (value) || json_integer_value (value) < 0)
            return false;
        *(uint64_t *) (base + s_fields [field].value) = (uint64_t) json_integer_value (value);
        *(bool *) (base + s_fields [field].size) = true;
    }
    else {
        if (!json_is_string (value)
        ||  strlen (json_string_value (value)) != json_string_length (value))
            return false;
        *(const char **) (base + s_fields [field].value) = json_string_value (value);
        *(size_t *) (base + s_fields [field].size) = json_string_length (value);
    }
    *present |= S_BIT (field);
    return true;
}

//  Checks the fields the op needs; returns NULL when good, else why not
static const char *
s_check_fields (gc_request_t *request)
{
    unsigned present = 0;
    for (s_field_t field = 0; field < S_FIELDS; field++)
        if (!s_read_field (request, field, &present))
            return s_fields [field].count? "a number field is not a non-negative integer":
                                           "a field has the wrong type or contains U+0000";
    if (!request->has_limit)
        request->limit = GC_HISTORY_DEFAULT;
    unsigned needs = s_ops [request->op].needs;
    unsigned needs_else = s_ops [request->op].needs_else;
    if ((present & needs) != needs
    &&  (!needs_else || (present & needs_else) != needs_else))
        return s_ops [request->op].missing;
    int64_t limit_max = s_ops [request->op].limit_max;
    if (limit_max && (request->limit < 1 || request->limit > limit_max))
        return "limit must be 1 to " GC_STR (GC_HISTORY_MAX);
    if (request->nonce && (request->nonce_len < 1 || request->nonce_len > GC_NONCE_MAX))
        return "nonce must be 1 to " GC_STR (GC_NONCE_MAX) " bytes";
    return NULL;
}

//  Why a frame whose id is read has no op of the protocol's requests
static const char *
s_check_op (gc_request_t *request)
{
    json_t *op = json_object_get (request->root, GC_KEY_OP);
    if (!json_is_string (op))
        return "op must be a string";
    //  A name is read up to U+0000, as it always was
    request->op = gc_client_op_from_name (json_string_value (op),
                                          strlen (json_string_value (op)));
    if (!gc_client_op_is_request (request->op)) {
        request->op = GC_CLIENT_NONE;
        return "unknown op";
    }
    return NULL;
}

//  True when key names a field of the protocol, its op or its id
static bool
s_is_known_key (const char *key)
{
    if (strcmp (key, GC_KEY_OP) == 0 || strcmp (key, GC_KEY_ID) == 0)
        return true;
    for (s_field_t field = 0; field < S_FIELDS; field++)
        if (strcmp (key, s_fields [field].name) == 0)
            return true;
    return false;
}

//  A request is held until its reply is written, maybe long after: what
//  it does not need goes now, so a frame padded with kilobytes of other
//  members costs no more than its fields. A refused frame keeps nothing
//  but its id.
static void
s_keep_only_what_counts (gc_request_t *request, bool refused)
{
    if (refused) {
        gc_request_t kept = { .has_id = request->has_id, .id = request->id };
        json_decref (request->root);
        *request = kept;
        return;
    }
    const char *key;
    json_t *value;
    void *next;
    json_object_foreach_safe (request->root, next, key, value)
        if (!s_is_known_key (key))
            json_object_del (request->root, key);
}

gc_error_t
gc_request_parse (const char *data, size_t size, gc_request_t *request, const char **why)
{
    memset (request, 0, sizeof *request);
    //  jansson rejects invalid UTF-8; \u0000 is let through to be refused
    //  field by field, with the request's id
    json_error_t error;
    request->root = json_loadb (data, size, JSON_ALLOW_NUL, &error);
    if (!json_is_object (request->root)) {
        *why = request->root? "the frame is not a JSON object": "the frame is not valid JSON";
        s_keep_only_what_counts (request, true);
        return GC_BAD_REQUEST;
    }
    json_t *id = json_object_get (request->root, GC_KEY_ID);
    if (id && !json_is_integer (id)) {
        *why = "id must be an integer";
        s_keep_only_what_counts (request, true);
        return GC_BAD_REQUEST;
    }
    if (id) {
        request->has_id = true;
        request->id = json_integer_value (id);
    }
    *why = s_check_op (request);
    if (!*why)
        *why = s_check_fields (request);
    s_keep_only_what_counts (request, *why != NULL);
    return *why? GC_BAD_REQUEST: GC_OK;
}

void
gc_request_release (gc_request_t *request)
{
    json_decref (request->root);
    request->root = NULL;
}

//  --------------------------------------------------------------------------
//  Writing

json_t *
gc_request_json (const gc_request_t *request)
{
    json_t *object = gc_alloc_checked (json_object ());
    json_object_set_new (object, GC_KEY_OP, json_string (gc_client_op_name (request->op)));
    if (request->has_id)
        json_object_set_new (object, GC_KEY_ID, json_integer (request->id));
    const char *base = (const char *) request;
    for (s_field_t field = 0; field < S_FIELDS; field++) {
        if (!(s_ops [request->op].reads & S_BIT (field)))
            continue;
        const char *name = s_fields [field].name;
        if (s_fields [field].count) {
            if (*(const bool *) (base + s_fields [field].size))
                json_object_set_new (object, name, json_integer ((json_int_t)
                                     *(const uint64_t *) (base + s_fields [field].value)));
            continue;
        }
        const char *value = *(const char * const *) (base + s_fields [field].value);
        size_t size = *(const size_t *) (base + s_fields [field].size);
        if (value)
            json_object_set_new (object, name, json_stringn (value, size? size: strlen (value)));
    }
    return object;
}

size_t
gc_request_encode (const gc_request_t *request, char *buffer, size_t capacity)
{
    json_t *object = gc_request_json (request);
    size_t size = json_dumpb (object, buffer, capacity, JSON_COMPACT);
    json_decref (object);
    return size <= capacity? size: 0;
}

//  --------------------------------------------------------------------------
//  Self test

static gc_error_t
s_parse (const char *text, gc_request_t *request, const char **why)
{
    gc_error_t code = gc_request_parse (text, strlen (text), request, why);
    assert ((code == GC_OK) == (*why == NULL));
    return code;
}

//  Each malformed frame is refused with its reason
static void
s_test_parse_errors (void)
{
    static const struct { const char *frame; const char *why; } bad [] = {
        { "", "the frame is not valid JSON" },
        { "nope", "the frame is not valid JSON" },
        { "{\"op\":\"say\",\"text\":\"\xff\"}", "the frame is not valid JSON" },
        { "[1,2]", "the frame is not a JSON object" },
        { "{}", "op must be a string" },
        { "{\"op\":5}", "op must be a string" },
        { "{\"op\":\"fly\"}", "unknown op" },
        { "{\"op\":\"ok\"}", "unknown op" },
        { "{\"op\":\"message\"}", "unknown op" },
        { "{\"op\":\"rooms\",\"id\":\"7\"}", "id must be an integer" },
        { "{\"op\":\"rooms\",\"id\":1.5}", "id must be an integer" },
        { "{\"op\":\"join\"}", "room is missing" },
        { "{\"op\":\"leave\"}", "room is missing" },
        { "{\"op\":\"history\"}", "room is missing" },
        { "{\"op\":\"join\",\"room\":5}", "a field has the wrong type or contains U+0000" },
        { "{\"op\":\"rooms\",\"user\":null}", "a field has the wrong type or contains U+0000" },
        { "{\"op\":\"login\",\"user\":\"a\\u0000\",\"password\":\"p\"}",
          "a field has the wrong type or contains U+0000" },
        { "{\"op\":\"say\",\"room\":\"x\"}", "say needs room and text" },
        { "{\"op\":\"say\",\"text\":\"x\"}", "say needs room and text" },
        { "{\"op\":\"login\",\"user\":\"a\"}", "login needs user and password, or token" },
        { "{\"op\":\"login\",\"password\":\"a\"}", "login needs user and password, or token" },
        { "{\"op\":\"history\",\"room\":\"x\",\"limit\":0}", "limit must be 1 to 100" },
        { "{\"op\":\"history\",\"room\":\"x\",\"limit\":101}", "limit must be 1 to 100" },
        { "{\"op\":\"join\",\"room\":\"x\",\"since\":-1}",
          "a number field is not a non-negative integer" },
        { "{\"op\":\"history\",\"room\":\"x\",\"before\":\"1\"}",
          "a number field is not a non-negative integer" },
        { "{\"op\":\"history\",\"room\":\"x\",\"limit\":2.5}",
          "a number field is not a non-negative integer" },
        { "{\"op\":\"say\",\"room\":\"x\",\"text\":\"t\",\"nonce\":7}",
          "a field has the wrong type or contains U+0000" },
        { "{\"op\":\"say\",\"room\":\"x\",\"text\":\"t\",\"nonce\":\"\"}",
          "nonce must be 1 to 64 bytes" },
        { "{\"op\":\"say\",\"room\":\"x\",\"text\":\"t\",\"nonce\":"
          "\"0123456789012345678901234567890123456789012345678901234567890123\u00e9\"}",
          "nonce must be 1 to 64 bytes" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        gc_request_t request;
        const char *why;
        assert (s_parse (bad [index].frame, &request, &why) == GC_BAD_REQUEST);
        assert (strcmp (why, bad [index].why) == 0);
        gc_request_release (&request);
    }
    //  The id is read even from a frame that is refused, to be echoed
    gc_request_t request;
    const char *why;
    assert (s_parse ("{\"op\":\"fly\",\"id\":9}", &request, &why) == GC_BAD_REQUEST);
    assert (request.has_id && request.id == 9);
    gc_request_release (&request);
    assert (s_parse ("{\"op\":\"say\",\"id\":4,\"room\":\"x\",\"text\":\"a\\u0000b\"}",
                     &request, &why) == GC_BAD_REQUEST);
    assert (request.has_id && request.id == 4);
    gc_request_release (&request);
}

//  Every request op parses, with its fields; unknown fields are ignored
static void
s_test_parse_good (void)
{
    static const struct { const char *frame; gc_client_op_t op; } good [] = {
        { "{\"op\":\"login\",\"user\":\"Sue\",\"password\":\"pw\"}", GC_CLIENT_LOGIN },
        { "{\"op\":\"login\",\"token\":\"abc\"}", GC_CLIENT_LOGIN },
        { "{\"op\":\"logout\"}", GC_CLIENT_LOGOUT },
        { "{\"op\":\"rooms\",\"id\":1}", GC_CLIENT_ROOMS },
        { "{\"op\":\"join\",\"room\":\"x\",\"since\":5,\"limit\":0}", GC_CLIENT_JOIN },
        { "{\"op\":\"say\",\"room\":\"x\",\"text\":\" \"}", GC_CLIENT_SAY },
        { "{\"op\":\"say\",\"room\":\"x\",\"text\":\" \",\"nonce\":"
          "\"0123456789012345678901234567890123456789012345678901234567890123\"}", GC_CLIENT_SAY },
        { "{\"op\":\"leave\",\"room\":\"x\"}", GC_CLIENT_LEAVE },
        { "{\"op\":\"history\",\"room\":\"x\",\"limit\":100}", GC_CLIENT_HISTORY },
        { "{\"op\":\"history\",\"room\":\"x\",\"limit\":1,\"since\":3}", GC_CLIENT_HISTORY },
    };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++) {
        gc_request_t request;
        const char *why;
        assert (s_parse (good [index].frame, &request, &why) == GC_OK);
        assert (request.op == good [index].op);
        gc_request_release (&request);
    }
    gc_request_t request;
    const char *why;
    assert (s_parse ("{\"op\":\"history\",\"id\":3,\"room\":\"Taskmaster\",\"before\":42,"
                     "\"extra\":[1]}", &request, &why) == GC_OK);
    assert (request.op == GC_CLIENT_HISTORY && request.id == 3);
    assert (!request.has_limit && request.limit == GC_HISTORY_DEFAULT);
    assert (request.has_before && request.before == 42 && !request.has_since);
    assert (request.room_len == 10 && memcmp (request.room, "Taskmaster", 10) == 0);
    gc_request_release (&request);
    assert (s_parse ("{\"op\":\"login\",\"token\":\"abc\"}", &request, &why) == GC_OK);
    assert (!request.has_id && request.token_len == 3 && !request.user);
    gc_request_release (&request);
}

//  A request written and read back is the same request
static void
s_test_round_trip (void)
{
    gc_request_t requests [] = {
        { .op = GC_CLIENT_LOGIN, .has_id = true, .id = 1, .user = "Sue", .password = "pw\"\n" },
        { .op = GC_CLIENT_LOGIN, .has_id = true, .id = 2, .token = "3q2-7w" },
        { .op = GC_CLIENT_JOIN, .has_id = true, .id = 3, .room = "8 out of 10 cats",
          .has_since = true, .since = 77 },
        { .op = GC_CLIENT_SAY, .id = 4, .room = "r", .text = "t=1 xx", .text_len = 3,
          .nonce = "c1-000042" },
        { .op = GC_CLIENT_HISTORY, .has_id = true, .id = 5, .room = "r",
          .has_before = true, .before = 9, .has_limit = true, .limit = 10 },
        { .op = GC_CLIENT_LEAVE, .has_id = true, .id = 6, .room = "r" },
        { .op = GC_CLIENT_ROOMS, .has_id = true, .id = 7, .room = "not written" },
    };
    for (size_t index = 0; index < sizeof requests / sizeof requests [0]; index++) {
        const gc_request_t *sent = &requests [index];
        char buffer [256];
        size_t size = gc_request_encode (sent, buffer, sizeof buffer);
        gc_request_t read;
        const char *why;
        assert (size && gc_request_parse (buffer, size, &read, &why) == GC_OK);
        assert (read.op == sent->op && read.has_id == sent->has_id);
        assert (!sent->has_id || read.id == sent->id);
        assert (!sent->user || strcmp (read.user, sent->user) == 0);
        assert (!sent->password || strcmp (read.password, sent->password) == 0);
        assert (!sent->token || strcmp (read.token, sent->token) == 0);
        assert (!sent->nonce || strcmp (read.nonce, sent->nonce) == 0);
        assert ((read.room == NULL) == (sent->room == NULL || sent->op == GC_CLIENT_ROOMS));
        assert (!sent->text || (read.text_len == 3 && memcmp (read.text, "t=1", 3) == 0));
        assert (read.has_since == sent->has_since && read.since == sent->since);
        assert (read.has_before == sent->has_before && read.before == sent->before);
        assert (!sent->has_limit || read.limit == sent->limit);
        gc_request_release (&read);
    }
    char small [16];
    assert (gc_request_encode (&requests [2], small, sizeof small) == 0);
    char buffer [64];
    const char *expected = "{\"op\":\"join\",\"id\":3,\"room\":\"8 out of 10 cats\",\"since\":77}";
    size_t size = gc_request_encode (&requests [2], buffer, sizeof buffer);
    assert (size == strlen (expected) && memcmp (buffer, expected, size) == 0);
}

static void
s_test_names (void)
{
    for (int op = GC_CLIENT_NONE + 1; op < GC_CLIENT_OP_COUNT; op++) {
        const char *name = gc_client_op_name ((gc_client_op_t) op);
        assert (*name && (int) gc_client_op_from_name (name, strlen (name)) == op);
        assert (gc_client_op_is_request ((gc_client_op_t) op) == (op < (int) GC_CLIENT_OK));
    }
    assert (gc_client_op_from_name ("joi", 3) == GC_CLIENT_NONE);
    assert (gc_client_op_from_name ("", 0) == GC_CLIENT_NONE);
    assert (!gc_client_op_is_request (GC_CLIENT_NONE));
    assert (strcmp (gc_client_op_name (GC_CLIENT_OP_COUNT), "?") == 0);
    assert (gc_client_op_from_name ("?", 1) == GC_CLIENT_NONE);
}

//  A request keeps what it needs only: a refused one its id, a good one
//  its fields, not the rest of its frame
static void
s_test_kept (void)
{
    gc_request_t request;
    const char *why;
    const char *refused = "{\"op\":\"say\",\"id\":9,\"room\":7,\"junk\":[{},{},{}]}";
    assert (gc_request_parse (refused, strlen (refused), &request, &why) == GC_BAD_REQUEST);
    assert (request.root == NULL && request.has_id && request.id == 9 && !request.room);
    gc_request_release (&request);
    const char *padded = "{\"op\":\"say\",\"id\":3,\"room\":\"QI\",\"text\":\"hi\","
                         "\"junk\":[{},{},{}],\"more\":\"x\"}";
    assert (gc_request_parse (padded, strlen (padded), &request, &why) == GC_OK);
    assert (json_object_size (request.root) == 4 && !json_object_get (request.root, "junk"));
    assert (request.room_len == 2 && memcmp (request.text, "hi", 2) == 0);
    gc_request_release (&request);
}

void
gc_request_test (bool verbose)
{
    if (verbose)
        printf (" * gc_request: ");
    s_test_names ();
    s_test_parse_errors ();
    s_test_parse_good ();
    s_test_round_trip ();
    s_test_kept ();
    if (verbose)
        printf ("OK\n");
}
