/*  linkstate.h: what a gateway knows of its connection to the broker.

    The link is down (no connection), connecting (a connection, but no
    reply on it yet proves that the broker serves), or up. It moves only
    on what it is told: ZeroMQ's socket monitor reports each connection
    made and lost, a reply says which connection its request went out
    on, the heartbeat reports silence, a send reports that ZeroMQ had no
    connection for it. A reply counts only when its request went out on
    the current connection, so a late answer from a connection that is
    gone never makes a new one look proven. The states and events are a
    table in linkstate.c; docs/architecture.md shows it. */
#ifndef GC_LINKSTATE_H_INCLUDED
#define GC_LINKSTATE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    GC_LINK_DOWN,               //  no connection to the broker
    GC_LINK_CONNECTING,         //  a connection no reply has proven yet
    GC_LINK_UP,                 //  a reply came on the current connection
    GC_LINK_STATES
} gc_link_state_t;

typedef enum {
    GC_LINK_CONNECTED,          //  a new connection finished its handshake
    GC_LINK_DISCONNECTED,       //  the connection closed
    GC_LINK_ANSWERED,           //  a reply to a request sent on the current connection
    GC_LINK_SILENT,             //  no reply for GC_HEARTBEAT_DEAD_MS
    GC_LINK_REFUSED,            //  a send found no connection to go out on
    GC_LINK_UNWELL,             //  the broker answered that it cannot serve now
    GC_LINK_EVENTS
} gc_link_event_t;

typedef struct gc_linkstate_t gc_linkstate_t;

//  A link that has not connected yet: down, connection 0.
gc_linkstate_t *gc_linkstate_new (void);
void gc_linkstate_destroy (gc_linkstate_t **self_p);

//  Applies a connection event (any but GC_LINK_ANSWERED); returns the
//  state after it. GC_LINK_CONNECTED starts a new connection number.
gc_link_state_t gc_linkstate_apply (gc_linkstate_t *self, gc_link_event_t event);

//  A reply came to a request sent on connection; only the current
//  connection's replies count. Returns the state after it.
gc_link_state_t gc_linkstate_answered (gc_linkstate_t *self, uint64_t connection);

gc_link_state_t gc_linkstate_state (gc_linkstate_t *self);

//  The current connection's number (1, 2, ...; 0 before the first):
//  what a request records when it goes out.
uint64_t gc_linkstate_connection (gc_linkstate_t *self);

//  Connections made after the first one.
uint64_t gc_linkstate_reconnects (gc_linkstate_t *self);

//  "down", "connecting", "up"; "connected", "disconnected", ... for logs.
const char *gc_link_state_name (gc_link_state_t state);
const char *gc_link_event_name (gc_link_event_t event);

void gc_linkstate_test (bool verbose);

#endif
