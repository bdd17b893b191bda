/*  broker.h: the broker, an actor answering gateways and publishing
    room messages (docs/broker-protocol.md, docs/broker.md). */
#ifndef GC_BROKER_H_INCLUDED
#define GC_BROKER_H_INCLUDED

#include <stdbool.h>
#include "store.h"

typedef struct {
    const char *db;             //  SQLite database path
    const char *requests;       //  ROUTER endpoint to bind
    const char *events;         //  XPUB endpoint to bind
    gc_seed_t seed;             //  what an empty database starts with
    const char *backup_dir;     //  where backups may go; NULL or "": nowhere
    const char *keys;           //  the broker's key folder (gc_keys.h);
                                //  NULL or "": no CURVE, whoever reaches it
    int retain_days;            //  messages older are deleted; 0: kept
    int retain_messages;        //  a room's newest kept; 0: all of them
    const char *holder;         //  the lease's holder writes are fenced by
                                //  (lease.h); NULL: none, a file's flock
} gc_broker_config_t;

typedef struct gc_broker_t gc_broker_t;

//  Opens the store, binds both sockets and starts serving on its own
//  thread. NULL on failure, after logging why.
gc_broker_t *gc_broker_new (const gc_broker_config_t *config);

//  Stops serving (every acknowledged say is already committed) and frees.
void gc_broker_destroy (gc_broker_t **self_p);

//  The endpoint actually bound (resolves tcp://127.0.0.1:* in tests).
const char *gc_broker_requests_endpoint (gc_broker_t *self);
const char *gc_broker_events_endpoint (gc_broker_t *self);

void gc_broker_test (bool verbose);

#endif
