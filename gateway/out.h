/*  out.h: the gateway's outgoing WebSocket frames.

    A frame is built whole: its JSON text (from protocol/gc_reply) sits at
    LWS_PRE in its buffer and the frame's header just before it, so a room
    message is framed once per gateway however many connections it goes
    to, and several frames can leave in one write. */
#ifndef GC_OUT_H_INCLUDED
#define GC_OUT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>
#include "gc_reply.h"
#include "gc_request.h"

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

//  Encoders, as gc_reply's: each fills out with a whole frame.
void gc_out_error (gc_out_t *out, const gc_request_t *request, gc_error_t code,
                  const char *message, uint64_t retry_after);
void gc_out_ok (gc_out_t *out, const gc_request_t *request, json_t *fields);
void gc_out_message (gc_out_t *out, const gc_message_t *message);
void gc_out_left (gc_out_t *out, const char *room, const char *reason);
void gc_out_closed (gc_out_t *out, const char *reason);
void gc_out_presence (gc_out_t *out, const char *room, const char *user, const char *event);
void gc_out_typing (gc_out_t *out, const char *room, const char *user);
//  A copy of a whole frame, for a connection to queue as its own
void gc_out_copy (gc_out_t *out, const gc_out_t *from);

void gc_out_free (gc_out_t *out);

void gc_out_test (bool verbose);

#endif
