/*  gc_stop.h: stopping an lws event loop cleanly on SIGINT or SIGTERM.

    The handler only sets a flag and wakes the loop with
    lws_cancel_service, the one lws call that is safe from a signal
    handler; the loop sees gc_stop_requested() and winds down itself. */
#ifndef GC_STOP_H_INCLUDED
#define GC_STOP_H_INCLUDED

#include <stdbool.h>
#include <libwebsockets.h>

//  Installs the handlers for context (and ignores SIGPIPE: a peer that
//  went away is an error return from a write, not a reason to die).
void gc_stop_on_signals (struct lws_context *context);

//  True once SIGINT or SIGTERM arrived.
bool gc_stop_requested (void);

//  Forgets the context before it is destroyed.
void gc_stop_forget (void);

#endif
