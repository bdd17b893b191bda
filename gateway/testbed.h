/*  testbed.h: a real broker beside this process, for the gateway's self-tests.

    The gateway's classes are tested against the real broker, never a
    mock: the testbed starts one (the groupchat-broker program) on loopback
    with a fresh database, which the store seeds with protocol.md's users
    (Alex, Sue, Sandy; password "password") and rooms. It can also give a
    libwebsockets context with no listener, for a link of the test's own. */
#ifndef GC_TESTBED_H_INCLUDED
#define GC_TESTBED_H_INCLUDED

#include <libwebsockets.h>
#include "gc_clock.h"
#include "link.h"
#include "out.h"

typedef struct gc_testbed_t gc_testbed_t;

//  Starts the broker; aborts the test when it cannot.
gc_testbed_t *gc_testbed_new (void);
//  Stops the broker and removes its database.
void gc_testbed_destroy (gc_testbed_t **self_p);

//  Stops the broker with signum and waits for it (SIGTERM: asserts a
//  clean exit), as a crash (SIGKILL) or a restart would.
void gc_testbed_stop_broker (gc_testbed_t *self, int signum);
//  Starts the broker again, on the same database and endpoints; returns
//  once it answers.
void gc_testbed_start_broker (gc_testbed_t *self);

//  The generation of the broker's users: seeded, they are at the first
//  (store.h), and the tests change no password
#define GC_TESTBED_GENERATION 1

//  The endpoints the broker bound.
const char *gc_testbed_requests (gc_testbed_t *self);
const char *gc_testbed_events (gc_testbed_t *self);

//  A context with no listener whose protocols serve a link
//  (GC_LINK_PROTOCOL); the caller destroys it.
struct lws_context *gc_testbed_context (void);

//  A link on context (gc_testbed_context) to the broker, its events
//  handed to on_event with arg; aborts the test when it cannot.
gc_link_t *gc_testbed_link (gc_testbed_t *self, struct lws_context *context,
                            gc_link_event_fn *on_event, void *arg);

//  Stops a link made by gc_testbed_link, then its context, then frees the
//  link: in that order, so that closing the context calls back into a
//  link that is still there but asks nothing more of it.
void gc_testbed_unlink (gc_link_t **link_p, struct lws_context *context);

//  The JSON of a client frame, to look into; the caller json_decrefs it.
json_t *gc_testbed_frame (const gc_out_t *frame);

//  Services context until condition holds or GC_TESTBED_WAIT_MS pass;
//  the caller then asserts the condition, so a hang fails the test.
#define GC_TESTBED_WAIT_MS 10000
#define GC_TESTBED_UNTIL(context, condition) \
    for (int64_t until_us_ = gc_clock_mono_us () + GC_TESTBED_WAIT_MS * 1000LL; \
         !(condition) && gc_clock_mono_us () < until_us_; ) \
        lws_service ((context), 0)

#endif
