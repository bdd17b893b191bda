/*  gc_stop.c: the programs' signal handling, for lws loops and for the
    broker's main thread alike. */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <czmq.h>
#include "gc_stop.h"

static volatile sig_atomic_t s_requested;
static struct lws_context *volatile s_context;

static void
s_on_signal (int signal)
{
    (void) signal;
    s_requested = 1;
    if (s_context)
        lws_cancel_service (s_context);
}

void
gc_stop_on_signals (void)
{
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    gc_stop_ignore_pipe ();
}

void
gc_stop_wakes (struct lws_context *context)
{
    s_context = context;
}

bool
gc_stop_requested (void)
{
    return s_requested;
}

//  The signals that stop a program
static sigset_t
s_stop_signals (void)
{
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    return signals;
}

void
gc_stop_block (void)
{
    sigset_t signals = s_stop_signals ();
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    zsys_handler_set (NULL);
}

int
gc_stop_wait (void)
{
    sigset_t signals = s_stop_signals ();
    int which = 0;
    sigwait (&signals, &which);
    return which;
}

int
gc_stop_wait_for (int ms)
{
    sigset_t signals = s_stop_signals ();
    struct timespec timeout = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };
    int which = sigtimedwait (&signals, NULL, &timeout);
    return which > 0? which: 0;
}

void
gc_stop_ignore_pipe (void)
{
    signal (SIGPIPE, SIG_IGN);
}


//  --------------------------------------------------------------------------
//  Self test

void
gc_stop_test (bool verbose)
{
    printf (" * gc_stop: ");
    sigset_t saved;
    pthread_sigmask (SIG_SETMASK, NULL, &saved);

    //  Blocked, a stop signal waits for gc_stop_wait instead of killing us
    gc_stop_block ();
    raise (SIGTERM);
    assert (gc_stop_wait () == SIGTERM);
    raise (SIGINT);
    assert (gc_stop_wait () == SIGINT);
    //  A bounded wait: the signal that came, or 0 when none did
    assert (gc_stop_wait_for (10) == 0);
    raise (SIGTERM);
    assert (gc_stop_wait_for (1000) == SIGTERM);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);

    //  Handled, it sets the flag the loop looks at
    assert (!gc_stop_requested ());
    gc_stop_on_signals ();
    raise (SIGINT);
    assert (gc_stop_requested ());
    //  and czmq, starting later, leaves our handler in place
    zsock_t *socket = zsock_new (ZMQ_PAIR);
    struct sigaction term_action;
    sigaction (SIGTERM, NULL, &term_action);
    assert (term_action.sa_handler == s_on_signal);
    zsock_destroy (&socket);
    struct sigaction pipe_action;
    sigaction (SIGPIPE, NULL, &pipe_action);
    assert (pipe_action.sa_handler == SIG_IGN);
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    signal (SIGPIPE, SIG_DFL);
    s_requested = 0;
    if (verbose)
        printf ("(block and wait, handler, SIGPIPE) ");
    printf ("OK\n");
}
