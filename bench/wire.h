/*  wire.h: the bench's side of protocol v1 (docs/protocol.md).

    Requests are written through protocol/gc_request. Incoming frames are read with
    libwebsockets' LEJP stream parser, which picks out only the fields
    the bench needs without building a tree: at hundreds of thousands of
    pushes per second a full parse per push (about 4 us with jansson
    against under 1 us) would make the bench, not the servers, the
    bottleneck on a shared machine.

    Say texts carry the time the message was scheduled, "t=<us> " (the
    bench's monotonic clock, in microseconds), padded with 'x' to the
    requested size, so that the bench connection that receives the push
    can tell its publish-to-delivery latency. */
#ifndef GC_BENCH_WIRE_H_INCLUDED
#define GC_BENCH_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gc_error.h"
#include "gc_limits.h"
#include "gc_request.h"

//  What the bench reads from one incoming frame; absent fields stay -1
//  or empty.
typedef struct {
    gc_client_op_t op;          //  GC_CLIENT_NONE when not of the protocol
    int64_t id;                 //  the request's id (replies)
    int64_t seq;                //  message seq, or a say's ok
    int64_t stamp;              //  "t=" stamp of a message's text
    int64_t last;               //  seq of the newest message in history
    int history;                //  messages in history, -1 without one
    char room [GC_NAME_MAX + 1];
    char token [GC_TOKEN_LEN + 1];  //  a login's token
    gc_error_t code;            //  an error's code; GC_OK without one
} gc_wire_frame_t;

//  Reads a frame; 0, or -1 when it is not JSON (frame then holds whatever
//  was read before the fault). Anything but an object reads as
//  GC_CLIENT_NONE.
int gc_wire_parse (gc_wire_frame_t *frame, const char *data, size_t size);

//  The stamp at the start of a text, or -1 when it has none.
int64_t gc_wire_stamp (const char *text, size_t size);

//  Each writes one request as JSON into buffer and returns its size, or 0
//  when it does not fit. id < 0 leaves the id out. A login with a NULL
//  user logs in with the token in password.
size_t gc_wire_login (char *buffer, size_t capacity, int64_t id,
                      const char *user, const char *password);
size_t gc_wire_join (char *buffer, size_t capacity, int64_t id, const char *room);
size_t gc_wire_leave (char *buffer, size_t capacity, int64_t id, const char *room);
//  A say whose text is stamp's prefix padded to bytes (at least the
//  prefix, at most GC_TEXT_MAX).
size_t gc_wire_say (char *buffer, size_t capacity, int64_t id, const char *room,
                    int64_t stamp, size_t bytes);

void gc_wire_test (bool verbose);

#endif
