/*  replier.h: what a request handler is given, and how it answers.

    A request is the decoded frame and the routing identity of the
    gateway that sent it. A replier (gc_replier_t) sends ok and error
    replies to an identity on the ROUTER and publishes events (messages,
    heads, kicks, closed) on the XPUB; it is the only thing that writes
    to either socket, so every handler answers the same way. */
#ifndef GC_REPLIER_H_INCLUDED
#define GC_REPLIER_H_INCLUDED

#include <czmq.h>
#include "gc_codec.h"
#include "gc_limits.h"

//  A gateway's ROUTER routing id, as the request came with it
typedef struct {
    unsigned char data [GC_BROKER_IDENTITY_MAX];
    size_t size;
} gc_identity_t;

//  One request being handled: who asked, and what
typedef struct {
    gc_identity_t identity;     //  where the reply goes
    gc_frame_t frame;           //  decoded; its strings point into the body
} gc_broker_request_t;

//  What a dispatch table entry calls; self is the handler's own object
typedef void (gc_handler_fn) (void *self, const gc_broker_request_t *request);

typedef struct gc_replier_t gc_replier_t;

//  A replier on the broker's two sockets, which it does not own.
gc_replier_t *gc_replier_new (zsock_t *router, zsock_t *xpub);
void gc_replier_destroy (gc_replier_t **self_p);

//  Sends frame to the gateway with that identity. A gateway that went
//  away makes this a no-op: nothing can be done about it.
void gc_replier_send (gc_replier_t *self, const gc_identity_t *identity, const gc_frame_t *frame);

//  Starts an ok reply with the request's rid, for fields to be added.
void gc_replier_init (gc_frame_t *reply, uint64_t rid);

//  Sends a bare ok to the requester.
void gc_replier_ok (gc_replier_t *self, const gc_broker_request_t *request);

//  Sends an ok carrying names (a store list, count of them) in field,
//  GC_F_ROOMS or GC_F_NAMES; count -1 (the query failed) sends internal.
void gc_replier_names (gc_replier_t *self, const gc_broker_request_t *request,
                       uint32_t field, char *const *names, int count);

//  Sends an error with that rid; message NULL: the code's own text.
void gc_replier_error (gc_replier_t *self, const gc_identity_t *identity, uint64_t rid,
                     gc_error_t code, const char *message);
//  The same, saying how many ms to wait before trying again (0: nothing said)
void gc_replier_refuse (gc_replier_t *self, const gc_identity_t *identity, uint64_t rid,
                        gc_error_t code, const char *message, uint64_t retry_after);

//  Publishes event on its room's topic, or on the users topic when it
//  has no room.
void gc_replier_publish (gc_replier_t *self, const gc_frame_t *event);

//  Publishes a room's newest seq (a head event); room NULL: the newest
//  generation, on the users topic.
void gc_replier_head (gc_replier_t *self, const char *room, uint64_t head);

//  Publishes that every login of user below generation is over, and why
//  (a GC_REASON_ text), on the users topic.
void gc_replier_closed (gc_replier_t *self, const char *user, uint64_t generation,
                        const char *reason);

//  Publishes that user is no longer in room, so gateways put it out.
void gc_replier_kick (gc_replier_t *self, const char *user, const char *room);


void gc_replier_test (bool verbose);

#endif
