/*  gc_stop.h: how the programs stop on SIGINT or SIGTERM, written once.

    A program on an lws event loop (gateway, client) installs, first thing
    in main, a handler that only sets a flag and, once a loop runs, wakes
    it with lws_cancel_service, the one lws call that is safe from a signal
    handler; the loop sees gc_stop_requested() and winds down itself. A
    signal that comes before the loop runs is kept in the flag, so none is
    lost however early it comes. A program whose work runs
    in other threads (the broker's actor) blocks both signals before it
    starts them and waits for one in main with gc_stop_wait. */
#ifndef GC_STOP_H_INCLUDED
#define GC_STOP_H_INCLUDED

#include <stdbool.h>
#include <libwebsockets.h>

//  Installs the handlers, keeps czmq from replacing them when it starts
//  (it would swallow the signal) and ignores SIGPIPE. Call it first.
void gc_stop_on_signals (void);

//  The loop a stop signal wakes from now on; NULL before it is destroyed.
void gc_stop_wakes (struct lws_context *context);

//  True once SIGINT or SIGTERM arrived.
bool gc_stop_requested (void);

//  Blocks SIGINT and SIGTERM in this thread and in every thread it starts
//  from now on, and keeps czmq from installing handlers of its own, so
//  that the signals wait for gc_stop_wait. Call it before any thread starts.
void gc_stop_block (void);

//  Waits for SIGINT or SIGTERM (blocked by gc_stop_block); returns which.
int gc_stop_wait (void);

//  The same for at most ms milliseconds; 0 when none came.
int gc_stop_wait_for (int ms);

//  Ignores SIGPIPE: a peer that went away is an error return from a
//  write, not a reason to die.
void gc_stop_ignore_pipe (void);

//  Self test of this class.
void gc_stop_test (bool verbose);

#endif
