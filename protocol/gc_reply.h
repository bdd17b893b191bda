/*  gc_reply.h: the JSON text of what a server sends a client: ok and
    error replies, message pushes, left and closed events
    (docs/protocol.md).

    Each encoder returns a heap buffer (gc_malloc) holding the JSON text
    at `offset`, so that a caller can put its own bytes in front (the
    gateway writes a WebSocket frame header there) without copying the
    text again; *size is the text's length. Never NULL. A value jansson
    refuses (a string that is not UTF-8, which neither the gateway nor
    the broker lets through) is left out of the object. */
#ifndef GC_REPLY_H_INCLUDED
#define GC_REPLY_H_INCLUDED

#include <stddef.h>
#include <jansson.h>
#include "gc_codec.h"
#include "gc_error.h"
#include "gc_request.h"

//  {"op":"error", id, code, message[, retry_after]}; the code's text when
//  message is NULL; retry_after (ms to wait, v1.1) only when not 0.
unsigned char *gc_reply_error (const gc_request_t *request, gc_error_t code,
                               const char *message, uint64_t retry_after,
                               size_t offset, size_t *size);

//  {"op":"ok", id, ...fields}; takes fields, which may be NULL.
unsigned char *gc_reply_ok (const gc_request_t *request, json_t *fields,
                            size_t offset, size_t *size);

//  {"op":"message", room, seq, from, text, ts}: a push.
unsigned char *gc_reply_message (const gc_message_t *message, size_t offset, size_t *size);

//  {"op":"left", room, reason}: the connection was put out of a room.
unsigned char *gc_reply_left (const char *room, const char *reason,
                              size_t offset, size_t *size);

//  {"op":"closed", reason}: the user's session ended (the account was
//  removed, the password changed); the connection is closed after it
//  with this WebSocket close code.
unsigned char *gc_reply_closed (const char *reason, size_t offset, size_t *size);
#define GC_CLOSE_SESSION_ENDED  4001

//  {"op":"presence", room, user, event}: user's first connection entered
//  the room (event "join") or their last left it ("leave"). v1.1
unsigned char *gc_reply_presence (const char *room, const char *user, const char *event,
                                  size_t offset, size_t *size);

//  {"op":"typing", room, user}: user is typing in the room. v1.1
unsigned char *gc_reply_typing (const char *room, const char *user, size_t offset, size_t *size);

//  The ok fields answering request, from the broker's reply frame.
json_t *gc_reply_fields (const gc_request_t *request, const gc_frame_t *reply,
                         const char *user);

//  The MESSAGE object of a stored message (shared by pushes and history).
json_t *gc_reply_message_object (const gc_message_t *message);

void gc_reply_test (bool verbose);

#endif
