/*  link.h: a gateway's connection to the broker.

    Requests go out on a DEALER and come back matched by rid; events come
    in on a SUB. Both ZeroMQ sockets live inside the gateway's one
    libwebsockets event loop: their ZMQ_FDs are adopted as raw files.
    The link owns the request deadlines (docs/broker-protocol.md), the
    link's state (linkstate.h: down, connecting, up; known from ZeroMQ's
    socket monitor and from replies, with a heartbeat for a broker that
    hangs) and the requests waiting for it to be up. */
#ifndef GC_LINK_H_INCLUDED
#define GC_LINK_H_INCLUDED

#include <stdbool.h>
#include <libwebsockets.h>
#include "gc_codec.h"
#include "gc_endpoints.h"
#include "gc_keys.h"
#include "gc_metrics.h"
#include "linkstate.h"

typedef struct gc_link_t gc_link_t;

//  Called exactly once per sent request: with the broker's reply, or with
//  NULL when the broker did not answer in time (then nothing was done).
typedef void (gc_link_reply_fn) (void *arg, const gc_frame_t *reply);

//  Called for each event (message, head) from the broker.
typedef void (gc_link_event_fn) (void *arg, const gc_frame_t *event);

//  The name of the lws protocol the link's sockets are adopted into; the
//  context's protocol of that name has gc_link_callback as its callback.
#define GC_LINK_PROTOCOL "gc-broker-link"
int gc_link_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                      void *in, size_t len);

//  Creates the link to the first of endpoints (a copy is kept: the link
//  moves on to the next when one does not answer) and adopts its
//  sockets into vhost's loop; with keys (kept by the caller until the
//  link is destroyed) the sockets speak CURVE. Returns NULL when the
//  endpoints are invalid.
gc_link_t *gc_link_new (struct lws_context *context, struct lws_vhost *vhost,
                        const gc_endpoints_t *endpoints, gc_keys_t *keys,
                        gc_link_event_fn *on_event, void *arg);
//  How long a request may take to be answered (GC_REQUEST_DEADLINE_MS
//  unless set): past it, the client is told unavailable.
void gc_link_set_request_deadline (gc_link_t *self, int deadline_ms);

//  Stops the link's timers; call before the lws context is destroyed.
void gc_link_stop (gc_link_t *self);
void gc_link_destroy (gc_link_t **self_p);

//  Sends request, setting its rid and deadline from arrived_ms (when the
//  client's request reached the gateway). While the link is not up the
//  request waits (GC_LINK_WAITING_MAX at most) and goes out once it is;
//  fn is called with NULL when its deadline passes first. Returns the
//  rid, or 0 when the deadline has passed or too many requests wait
//  already: then fn is never called.
uint64_t gc_link_request (gc_link_t *self, gc_frame_t *request, int64_t arrived_ms,
                          gc_link_reply_fn *fn, void *arg);

//  Asks for up to limit messages of the room after seq since, as
//  gc_link_request does (the request arrives now), for user's login at
//  generation: the broker answers only a member of the room (else
//  not_member) whose login is not over (else not_logged_in).
uint64_t gc_link_history (gc_link_t *self, const char *room, size_t size,
                          const char *user, uint64_t generation, uint64_t since,
                          uint32_t limit, gc_link_reply_fn *fn, void *arg);

//  The requester went away: drop the request's callback.
void gc_link_forget (gc_link_t *self, uint64_t rid);

//  Starts or stops receiving a room's events.
void gc_link_subscribe (gc_link_t *self, const char *room, size_t size);
void gc_link_unsubscribe (gc_link_t *self, const char *room, size_t size);

//  True while the link is up: a request sent now goes out at once, on a
//  connection the broker has answered on, within GC_HEARTBEAT_DEAD_MS.
bool gc_link_up (gc_link_t *self);

//  This gateway's instance id, random, made when the link was: every
//  heartbeat names it, and the broker's presence holds users by it.
const char *gc_link_instance (gc_link_t *self);

//  The link's state (up only as gc_link_up says).
gc_link_state_t gc_link_state (gc_link_t *self);

//  Connections to the broker made after the first one.
uint64_t gc_link_reconnects (gc_link_t *self);

//  The broker dialled now: its index in the endpoints, its request
//  endpoint.
size_t gc_link_endpoint_index (gc_link_t *self);
const char *gc_link_endpoint (gc_link_t *self);

//  Moves to another broker of the list, one that had not answered.
uint64_t gc_link_moves (gc_link_t *self);

//  Requests waiting for the link to be up.
size_t gc_link_waiting (gc_link_t *self);

//  Round trips of every request answered, in seconds.
const gc_histogram_t *gc_link_rtt (gc_link_t *self);

//  The broker's own figures in Prometheus text, as of the last heartbeat;
//  NULL while the link is not up.
const char *gc_link_broker_metrics (gc_link_t *self);

void gc_link_test (bool verbose);

#endif
