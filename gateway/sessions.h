/*  sessions.h: the end of users' sessions, as the broker tells it.

    When a user is removed or their password set, the broker publishes
    `closed` on the users topic: every login of the user below the
    event's generation is over, and this gateway ends those sessions at
    once. PUB/SUB may lose an event (a dropped message, a SUB that was
    reconnecting, the moments after a start), so the gateway keeps the
    newest generation it heard and watches the users topic's head: a
    `closed` that does not follow it, or a head that is not it, and it
    asks the broker the generations of the users logged in here and ends
    the sessions that are behind (docs/broker-protocol.md, "Session end").
    The broker refuses every request of a login that is over in any case;
    this is what stops pushes to one that sends nothing. Sessions know
    nothing of connections: they call back. */
#ifndef GC_SESSIONS_H_INCLUDED
#define GC_SESSIONS_H_INCLUDED

#include <czmq.h>
#include "link.h"

typedef struct gc_sessions_t gc_sessions_t;

//  Ends the sessions of user whose generation is below `below`
//  (UINT64_MAX: all of them), for reason (words for people)
typedef void (gc_sessions_end_fn) (void *arg, const char *user, uint64_t below,
                                   const char *reason);
//  Adds each user logged in here to users (name -> name)
typedef void (gc_sessions_users_fn) (void *arg, zhashx_t *users);

//  Subscribes link to the users topic; end and users are called with arg.
gc_sessions_t *gc_sessions_new (gc_link_t *link, gc_sessions_end_fn *end,
                                gc_sessions_users_fn *users, void *arg);
void gc_sessions_destroy (gc_sessions_t **self_p);

//  An event of the users topic (closed, or the users' head).
void gc_sessions_on_event (gc_sessions_t *self, const gc_frame_t *event);

//  Called every second or so: asks again when an ask failed.
void gc_sessions_tick (gc_sessions_t *self);

//  The newest generation heard of (0: none yet).
uint64_t gc_sessions_heard (gc_sessions_t *self);

void gc_sessions_test (bool verbose);

#endif
