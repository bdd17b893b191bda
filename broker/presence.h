/*  presence.h: who is in which room right now, across every gateway.

    Each gateway (an instance: a random id it makes at its start) tells
    the broker when a user's first connection on it enters a room and
    when the user's last one there leaves (`present`), and its whole
    state again after every reconnect (`presence_sync`). The broker holds
    room -> user -> the instances the user is in the room on, in memory
    only, and publishes a `presence` join when a user's first instance
    appears and a leave when the last one goes. An instance not heard
    from for GC_PRESENCE_GATEWAY_TIMEOUT_MS is dropped with its users.
    For GC_PRESENCE_REBUILD_MS after the broker starts, what the
    gateways' syncs change is not published, since they are telling it
    what was already so (a `present`, a user coming or going now, is);
    then each room's present set is published once as a snapshot, and
    gateways push their clients only the differences
    (docs/architecture.md, "Presence"). Typing is published here too,
    at most once per GC_TYPING_INTERVAL_MS per user and room. */
#ifndef GC_PRESENCE_H_INCLUDED
#define GC_PRESENCE_H_INCLUDED

#include "replier.h"
#include "store.h"

typedef struct gc_presence_t gc_presence_t;

//  Starts with nobody present, publishing nothing for rebuild_ms (the
//  broker gives GC_PRESENCE_REBUILD_MS; 0: no rebuild window).
gc_presence_t *gc_presence_new (gc_store_t *store, gc_replier_t *reply, int64_t rebuild_ms);
void gc_presence_destroy (gc_presence_t **self_p);

//  Handlers (gc_handler_fn): present, presence_sync, who, typing
void gc_presence_present (void *self, const gc_broker_request_t *request);
void gc_presence_sync (void *self, const gc_broker_request_t *request);
void gc_presence_who (void *self, const gc_broker_request_t *request);
void gc_presence_typing (void *self, const gc_broker_request_t *request);

//  A gateway subscribed to the room: its present set is published as a
//  snapshot, in the event stream where no presence event was yet for that
//  gateway (or while its SUB was away: presence events have no seq to
//  notice a loss by). Not while rebuilding, nor for a room nobody is in.
void gc_presence_subscribed (gc_presence_t *self, const char *room);

//  A request or heartbeat came from instance: it is alive now.
void gc_presence_touch (gc_presence_t *self, gc_str_t instance);

//  At monotonic ms now: ends the rebuild window when it is over (the
//  snapshots go out), drops the instances silent for too long, and
//  forgets old typing. The broker calls it every GC_PRESENCE_SWEEP_MS.
void gc_presence_sweep (gc_presence_t *self, int64_t now);

void gc_presence_test (bool verbose);

#endif
