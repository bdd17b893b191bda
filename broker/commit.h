/*  commit.h: says, queued per turn and stored by group commit.

    A say is checked when it arrives and queued; at the end of the loop's
    turn every queued say is stored in ONE transaction, and only then
    acknowledged (ok with seq and ts) and published, in seq order. A say
    whose deadline passed while it waited is answered expired and not
    stored; if the commit fails, nothing is stored and every say of the
    batch is answered internal. A say with a nonce already stored stores
    nothing and gets the first one's answer (docs/architecture.md).
    docs/broker.md has the states as a table. */
#ifndef GC_COMMIT_H_INCLUDED
#define GC_COMMIT_H_INCLUDED

#include <stdio.h>
#include "replier.h"
#include "store.h"

typedef struct gc_commit_t gc_commit_t;

gc_commit_t *gc_commit_new (gc_store_t *store, gc_replier_t *reply);

//  Frees the queue; call gc_commit_flush first to store what it holds.
void gc_commit_destroy (gc_commit_t **self_p);

//  Handler (gc_handler_fn): checks a say and queues it.
void gc_commit_say (void *self, const gc_broker_request_t *request);

//  Stores every say queued, in one transaction, then answers each.
void gc_commit_flush (gc_commit_t *self);

//  Deletes the nonces forgotten by now, hourly, in bounded passes (the
//  next one a call later while a pass fills its budget)
void gc_commit_sweep (gc_commit_t *self, int64_t now);

//  Writes the commit figures (Prometheus text) to stream.
void gc_commit_metrics (gc_commit_t *self, FILE *stream);

void gc_commit_test (bool verbose);

#endif
