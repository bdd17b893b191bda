/*  wire.c: writes protocol v1 requests, reads replies and pushes.

    Reading walks the frame once with LEJP, acting only on the paths in
    s_paths; strings longer than LEJP's 254-byte buffer come in chunks,
    which s_append joins (names) or which only the first of matters
    (a text's stamp). */
#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wire.h"

//  Order matters: LEJP reports a match as the 1-based index in this list
static const char *s_paths [] = {
    GC_KEY_OP, GC_KEY_ID, GC_KEY_SEQ, GC_KEY_ROOM, GC_KEY_TEXT, GC_KEY_TOKEN, GC_KEY_CODE,
    GC_KEY_HISTORY, GC_KEY_HISTORY "[]." GC_KEY_SEQ
};
enum {
    S_OP = 1, S_ID, S_SEQ, S_ROOM, S_TEXT, S_TOKEN, S_CODE, S_HISTORY, S_HISTORY_SEQ
};

//  The parse in progress
typedef struct {
    gc_wire_frame_t *frame;
    char op [16];
    char code [32];
    size_t op_size, room_size, token_size, code_size;
    bool text_started;          //  the text's first chunk is still to come
} s_parse_t;

//  Appends a string chunk to a NUL-terminated field, cutting what does
//  not fit (a name that long is not one the bench asked for anyway)
static void
s_append (char *field, size_t capacity, size_t *size, const char *chunk, size_t length)
{
    if (*size + length > capacity - 1)
        length = capacity - 1 - *size;
    memcpy (field + *size, chunk, length);
    *size += length;
    field [*size] = 0;
}

static void
s_on_string (s_parse_t *parse, struct lejp_ctx *ctx)
{
    gc_wire_frame_t *frame = parse->frame;
    switch (ctx->path_match) {
        case S_OP:
            s_append (parse->op, sizeof parse->op, &parse->op_size, ctx->buf, ctx->npos);
            break;
        case S_ROOM:
            s_append (frame->room, sizeof frame->room, &parse->room_size, ctx->buf, ctx->npos);
            break;
        case S_TOKEN:
            s_append (frame->token, sizeof frame->token, &parse->token_size, ctx->buf, ctx->npos);
            break;
        case S_CODE:
            s_append (parse->code, sizeof parse->code, &parse->code_size, ctx->buf, ctx->npos);
            break;
        case S_TEXT:
            if (parse->text_started) {
                frame->stamp = gc_wire_stamp (ctx->buf, ctx->npos);
                parse->text_started = false;
            }
            break;
    }
}

static void
s_on_integer (s_parse_t *parse, struct lejp_ctx *ctx)
{
    gc_wire_frame_t *frame = parse->frame;
    int64_t value = strtoll (ctx->buf, NULL, 10);
    switch (ctx->path_match) {
        case S_ID:
            frame->id = value;
            break;
        case S_SEQ:
            frame->seq = value;
            break;
        case S_HISTORY_SEQ:
            frame->last = value;
            frame->history = frame->history < 0? 1: frame->history + 1;
            break;
    }
}

static signed char
s_on_parse (struct lejp_ctx *ctx, char reason)
{
    s_parse_t *parse = ctx->user;
    //  Only top-level fields and the history's seqs are of interest; a
    //  path deeper than that never matches
    if (!ctx->path_match)
        return 0;
    switch (reason) {
        case LEJPCB_VAL_STR_START:
            if (ctx->path_match == S_TEXT)
                parse->text_started = true;
            break;
        case LEJPCB_VAL_STR_CHUNK:
        case LEJPCB_VAL_STR_END:
            s_on_string (parse, ctx);
            break;
        case LEJPCB_VAL_NUM_INT:
            s_on_integer (parse, ctx);
            break;
        case LEJPCB_ARRAY_START:
            if (ctx->path_match == S_HISTORY)
                parse->frame->history = 0;
            break;
    }
    return 0;
}

int
gc_wire_parse (gc_wire_frame_t *frame, const char *data, size_t size)
{
    frame->op = GC_CLIENT_NONE;
    frame->id = frame->seq = frame->stamp = -1;
    frame->last = 0;
    frame->history = -1;
    frame->room [0] = frame->token [0] = 0;
    frame->code = GC_OK;
    if (size > INT32_MAX)
        return -1;
    s_parse_t parse = { .frame = frame };
    struct lejp_ctx ctx;
    lejp_construct (&ctx, s_on_parse, &parse, s_paths, LWS_ARRAY_SIZE (s_paths));
    int rc = lejp_parse (&ctx, (const unsigned char *) data, (int) size);
    lejp_destruct (&ctx);
    frame->op = gc_client_op_from_name (parse.op, parse.op_size);
    if (parse.code_size)
        frame->code = gc_error_from_name (parse.code, parse.code_size);
    else
    if (frame->op == GC_CLIENT_ERROR)
        frame->code = GC_INTERNAL;      //  an error without its code is still an error
    return rc < 0? -1: 0;
}

int64_t
gc_wire_stamp (const char *text, size_t size)
{
    if (size < 4 || text [0] != 't' || text [1] != '=')
        return -1;
    int64_t stamp = 0;
    size_t index = 2;
    for (; index < size && index < 21 && text [index] >= '0' && text [index] <= '9'; index++)
        stamp = stamp * 10 + (text [index] - '0');
    //  The digits must end at the space that closes the prefix
    return index > 2 && index < size && text [index] == ' '? stamp: -1;
}

//  --------------------------------------------------------------------------
//  Requests

size_t
gc_wire_login (char *buffer, size_t capacity, int64_t id, const char *user, const char *password)
{
    gc_request_t request = { .op = GC_CLIENT_LOGIN, .has_id = id >= 0, .id = id };
    if (user) {
        request.user = user;
        request.password = password;
    }
    else
        request.token = password;
    return gc_request_encode (&request, buffer, capacity);
}

size_t
gc_wire_join (char *buffer, size_t capacity, int64_t id, const char *room)
{
    gc_request_t request = { .op = GC_CLIENT_JOIN, .has_id = id >= 0, .id = id, .room = room };
    return gc_request_encode (&request, buffer, capacity);
}

size_t
gc_wire_leave (char *buffer, size_t capacity, int64_t id, const char *room)
{
    gc_request_t request = { .op = GC_CLIENT_LEAVE, .has_id = id >= 0, .id = id, .room = room };
    return gc_request_encode (&request, buffer, capacity);
}

size_t
gc_wire_say (char *buffer, size_t capacity, int64_t id, const char *room,
             int64_t stamp, size_t bytes)
{
    char text [GC_TEXT_MAX + 1];
    int prefix = snprintf (text, sizeof text, "t=%" PRId64 " ", stamp);
    size_t size = bytes > GC_TEXT_MAX? GC_TEXT_MAX: bytes;
    if (size < (size_t) prefix)
        size = (size_t) prefix;
    memset (text + prefix, 'x', size - (size_t) prefix);
    gc_request_t request = {
        .op = GC_CLIENT_SAY, .has_id = id >= 0, .id = id, .room = room,
        .text = text, .text_len = size
    };
    return gc_request_encode (&request, buffer, capacity);
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_parse_string (gc_wire_frame_t *frame, const char *text)
{
    return gc_wire_parse (frame, text, strlen (text));
}

static void
s_test_requests (void)
{
    char buffer [8192];
    gc_wire_frame_t frame;
    size_t size = gc_wire_say (buffer, sizeof buffer, 7, "Taskmaster", 1795962000123456, 100);
    assert (size > 100);
    json_t *say = json_loadb (buffer, size, 0, NULL);
    assert (say);
    assert (json_integer_value (json_object_get (say, "id")) == 7);
    const char *text = json_string_value (json_object_get (say, "text"));
    assert (text && strlen (text) == 100);
    assert (strncmp (text, "t=1795962000123456 xxx", 22) == 0);
    assert (gc_wire_stamp (text, strlen (text)) == 1795962000123456);
    json_decref (say);

    //  Too small for the stamp: the prefix alone; too large: the limit
    size = gc_wire_say (buffer, sizeof buffer, -1, "r", 42, 1);
    buffer [size] = 0;
    assert (size && strstr (buffer, "\"text\":\"t=42 \"") && !strstr (buffer, "\"id\""));
    assert (gc_wire_say (buffer, sizeof buffer, 1, "r", 42, 100000) > GC_TEXT_MAX);
    assert (gc_wire_say (buffer, 50, 1, "r", 42, 100) == 0);

    size = gc_wire_login (buffer, sizeof buffer, 1, "Sue", "password");
    buffer [size] = 0;
    assert (size && strstr (buffer, "\"user\":\"Sue\"") && strstr (buffer, "\"password\""));
    size = gc_wire_login (buffer, sizeof buffer, 2, NULL, "abc");
    buffer [size] = 0;
    assert (size && strstr (buffer, "\"token\":\"abc\"") && !strstr (buffer, "\"user\""));
    size = gc_wire_join (buffer, sizeof buffer, 3, "8 out of 10 cats");
    buffer [size] = 0;
    assert (strcmp (buffer, "{\"op\":\"join\",\"id\":3,\"room\":\"8 out of 10 cats\"}") == 0);
    size = gc_wire_leave (buffer, sizeof buffer, 4, "Quite \"Interesting\"");
    assert (size && gc_wire_parse (&frame, buffer, size) == 0);
    assert (frame.op == GC_CLIENT_LEAVE && frame.id == 4);
    assert (strcmp (frame.room, "Quite \"Interesting\"") == 0);
}

static void
s_test_replies (void)
{
    gc_wire_frame_t frame;
    assert (s_parse_string (&frame, "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":42,"
                            "\"from\":\"Sue\",\"text\":\"t=123 xx\",\"ts\":1795962000123}") == 0);
    assert (frame.op == GC_CLIENT_MESSAGE && frame.seq == 42 && frame.stamp == 123);
    assert (strcmp (frame.room, "Taskmaster") == 0 && frame.id == -1 && frame.history == -1);

    //  A text that is not ours has no stamp
    assert (s_parse_string (&frame, "{\"op\":\"message\",\"seq\":1,\"text\":\"t=12x\"}") == 0);
    assert (frame.stamp == -1);

    //  A join reply: the history's newest seq; nested fields do not leak
    assert (s_parse_string (&frame, "{\"op\":\"ok\",\"id\":3,\"room\":\"Taskmaster\",\"history\":["
        "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":8,\"text\":\"t=5 \"},"
        "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":9,\"text\":\"hello\"}]}") == 0);
    assert (frame.op == GC_CLIENT_OK && frame.id == 3 && frame.history == 2 && frame.last == 9);
    assert (frame.seq == -1 && frame.stamp == -1);
    assert (s_parse_string (&frame, "{\"op\":\"ok\",\"id\":4,\"room\":\"r\",\"history\":[]}") == 0);
    assert (frame.history == 0 && frame.last == 0);

    assert (s_parse_string (&frame, "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"3q2-7w\"}") == 0);
    assert (strcmp (frame.token, "3q2-7w") == 0);
    assert (s_parse_string (&frame, "{\"op\":\"error\",\"id\":5,\"code\":\"not_member\",\"message\":\"no\"}") == 0);
    assert (frame.op == GC_CLIENT_ERROR && frame.id == 5 && frame.code == GC_NOT_MEMBER);
    assert (s_parse_string (&frame, "{\"op\":\"error\",\"id\":6}") == 0);
    assert (frame.op == GC_CLIENT_ERROR && frame.code == GC_INTERNAL);
    assert (s_parse_string (&frame, "{\"op\":\"wave\"}") == 0 && frame.op == GC_CLIENT_NONE);

    //  A long room name and a long text arrive in chunks
    char long_frame [2000], room [600];
    memset (room, 'r', 599);
    room [599] = 0;
    snprintf (long_frame, sizeof long_frame, "{\"op\":\"message\",\"room\":\"%s\",\"seq\":2,"
              "\"text\":\"t=77 %0600d\"}", room, 0);
    assert (s_parse_string (&frame, long_frame) == 0);
    assert (strlen (frame.room) == GC_NAME_MAX && frame.stamp == 77 && frame.seq == 2);

    //  Not JSON objects, truncated, or mistyped: refused or ignored, never a crash
    const char *bad [] = { "", "nonsense", "{\"op\":\"ok\"", "{\"op\":\"ok\",\"id\":}", "\"ok\"" };
    for (size_t index = 0; index < sizeof bad / sizeof *bad; index++)
        assert (s_parse_string (&frame, bad [index]) == -1);
    assert (s_parse_string (&frame, "[]") == 0 && frame.op == GC_CLIENT_NONE);
    assert (s_parse_string (&frame, "{\"op\":7,\"seq\":\"x\",\"history\":{\"seq\":1}}") == 0);
    assert (frame.op == GC_CLIENT_NONE && frame.seq == -1 && frame.history == -1);
}

void
gc_wire_test (bool verbose)
{
    if (verbose)
        printf (" * gc_wire: ");
    s_test_requests ();
    s_test_replies ();
    assert (gc_wire_stamp ("t=1 ", 4) == 1);
    assert (gc_wire_stamp ("t= 1", 4) == -1);
    assert (gc_wire_stamp ("t=123", 5) == -1);
    assert (gc_wire_stamp ("x=1 ", 4) == -1);
    if (verbose)
        printf ("OK\n");
}
