/*  gc_stop.c: signal handling for the programs built on an lws loop. */
#include <signal.h>
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
gc_stop_on_signals (struct lws_context *context)
{
    s_context = context;
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

bool
gc_stop_requested (void)
{
    return s_requested;
}

void
gc_stop_forget (void)
{
    s_context = NULL;
}
