/*  roster.h: one room's presence, as one gateway keeps it.

    Two sets and a clock. `local` counts this gateway's connections in
    the room per user: the broker is told when a user's count goes from
    0 to 1 and from 1 to 0, never in between, so a user with many
    connections is one entry. `present` is the room's present users as
    the broker last told (a first baseline from its answer to `present`,
    then its presence events): a join or leave is pushed to clients only
    when it changes this set, and a snapshot (after a broker restart) is
    pushed as the differences alone. `typing` holds when each user's
    typing was last forwarded, to forward one a GC_TYPING_INTERVAL_MS.
    The roster knows nothing of connections or the link: room.c asks it
    and acts (docs/architecture.md, "Presence"). */
#ifndef GC_ROSTER_H_INCLUDED
#define GC_ROSTER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "gc_codec.h"

typedef struct gc_roster_t gc_roster_t;

//  Called for each change to the present set that clients are pushed:
//  user joined (event "join") or left ("leave")
typedef void (gc_roster_fn) (void *arg, const char *user, const char *event);

gc_roster_t *gc_roster_new (void);
void gc_roster_destroy (gc_roster_t **self_p);

//  A connection of user entered the room; true when it is the user's first here.
bool gc_roster_enter (gc_roster_t *self, const char *user);
//  A connection of user left the room; true when it was the user's last here.
bool gc_roster_exit (gc_roster_t *self, const char *user);
//  The users with connections in the room here, sorted: a zlistx of
//  strings the caller destroys
zlistx_t *gc_roster_local (gc_roster_t *self);

//  The broker's answer to a `present`: the present users, the first
//  baseline; ignored once the events keep the set.
void gc_roster_baseline (gc_roster_t *self, const gc_str_t *names, size_t size);

//  Applies a presence event (join, leave, snapshot), calling fn for each
//  change clients should be pushed. Before any baseline, a join or leave
//  is passed on as it comes and a snapshot becomes the baseline.
void gc_roster_apply (gc_roster_t *self, const gc_frame_t *event, gc_roster_fn *fn, void *arg);

//  True when user's typing may be forwarded at monotonic ms now (and
//  records it); false within GC_TYPING_INTERVAL_MS of the last one.
bool gc_roster_typing (gc_roster_t *self, const char *user, int64_t now);

void gc_roster_test (bool verbose);

#endif
