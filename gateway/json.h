/*  json.h: translation between client frames (protocol v1 JSON) and the
    gateway's view of them.

    Parsing is strict about types and lenient about unknown fields, as
    protocol.md asks. Encoding produces complete WebSocket frames: the
    JSON text sits at LWS_PRE in its buffer and the frame's header just
    before it, so a room message is framed once per gateway however many
    connections it goes to, and several frames can leave in one write. */
#ifndef GC_JSON_H_INCLUDED
#define GC_JSON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "gc_codec.h"

typedef enum {
    GC_REQ_NONE = 0,
    GC_REQ_LOGIN,
    GC_REQ_LOGOUT,
    GC_REQ_ROOMS,
    GC_REQ_JOIN,
    GC_REQ_SAY,
    GC_REQ_LEAVE,
    GC_REQ_HISTORY,
} gc_req_op_t;

//  A parsed client request. Strings point into `root` and live as long
//  as the request does.
typedef struct {
    gc_req_op_t op;
    bool has_id;
    int64_t id;
    const char *user, *password, *token, *room, *text;
    size_t room_len, text_len, user_len, password_len, token_len;
    bool has_since, has_before, has_limit;
    uint64_t since, before;
    int64_t limit;
    json_t *root;           //  owns the strings
} gc_request_t;

//  An encoded frame: JSON text at data + LWS_PRE, `size` bytes long,
//  preceded by its `head` bytes of WebSocket header
typedef struct {
    unsigned char *data;
    size_t size;
    size_t head;
} gc_out_t;

//  The whole frame, header first, as it goes on the wire
static inline unsigned char *
gc_out_wire (const gc_out_t *out)
{
    return out->data + LWS_PRE - out->head;
}

static inline size_t
gc_out_wire_size (const gc_out_t *out)
{
    return out->head + out->size;
}

//  Parses one client text frame. Returns GC_OK, or GC_BAD_REQUEST with
//  *why set to a human reason; in both cases `id`/`has_id` are set when
//  the frame had an integer id. Release with gc_request_release().
gc_error_t gc_json_parse (const char *data, size_t size, gc_request_t *request,
                          const char **why);
void gc_request_release (gc_request_t *request);

//  Encoders; each returns 0, or -1 when out of memory.
int gc_json_error (gc_out_t *out, const gc_request_t *request, gc_error_t code,
                   const char *message);
int gc_json_ok (gc_out_t *out, const gc_request_t *request, json_t *fields);
int gc_json_message (gc_out_t *out, const gc_message_t *message);
//  The `left` event: the connection was put out of a room
int gc_json_left (gc_out_t *out, const char *room, const char *reason);

//  Builds the ok fields of a reply from the broker's reply frame, per op.
json_t *gc_json_reply_fields (const gc_request_t *request, const gc_frame_t *reply,
                              const char *user);

//  The MESSAGE object of a stored message (shared by pushes and history)
json_t *gc_json_message_object (const gc_message_t *message);

void gc_out_free (gc_out_t *out);

void gc_json_test (bool verbose);

#endif
