/*  linkstate.c: the broker link's state machine, as one table.

    Only a reply proves that the broker serves: a finished handshake says
    that something accepted the connection, not that the broker's loop
    answers on it. So a new connection starts out connecting and turns up
    with the first reply to a request sent on it; the link's requests
    wait meanwhile. Silence or a refused send take an up link back to
    connecting (its connection may still come good); only a closed
    connection takes it down, and from down only a new connection leads
    on, since a reply from the closed one proves nothing about the next. */
#include "linkstate.h"
#include "gc_alloc.h"

struct gc_linkstate_t {
    gc_link_state_t state;
    uint64_t connection;        //  the current connection's number, 0: none yet
};

//  The next state, by state and event. Rows are states, columns events.
static const gc_link_state_t s_next [GC_LINK_STATES][GC_LINK_EVENTS] = {
    //                      connected           disconnected   answered         silent              refused             unwell
    [GC_LINK_DOWN]       = { GC_LINK_CONNECTING, GC_LINK_DOWN, GC_LINK_DOWN,    GC_LINK_DOWN,       GC_LINK_DOWN,       GC_LINK_DOWN },
    [GC_LINK_CONNECTING] = { GC_LINK_CONNECTING, GC_LINK_DOWN, GC_LINK_UP,      GC_LINK_CONNECTING, GC_LINK_CONNECTING, GC_LINK_CONNECTING },
    [GC_LINK_UP]         = { GC_LINK_CONNECTING, GC_LINK_DOWN, GC_LINK_UP,      GC_LINK_CONNECTING, GC_LINK_CONNECTING, GC_LINK_CONNECTING },
};

gc_linkstate_t *
gc_linkstate_new (void)
{
    gc_linkstate_t *self = gc_calloc (1, sizeof *self);
    self->state = GC_LINK_DOWN;
    return self;
}

void
gc_linkstate_destroy (gc_linkstate_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

gc_link_state_t
gc_linkstate_apply (gc_linkstate_t *self, gc_link_event_t event)
{
    if (event == GC_LINK_CONNECTED)
        self->connection++;
    self->state = s_next [self->state][event];
    return self->state;
}

gc_link_state_t
gc_linkstate_answered (gc_linkstate_t *self, uint64_t connection)
{
    if (connection == self->connection)
        self->state = s_next [self->state][GC_LINK_ANSWERED];
    return self->state;
}

gc_link_state_t
gc_linkstate_state (gc_linkstate_t *self)
{
    return self->state;
}

uint64_t
gc_linkstate_connection (gc_linkstate_t *self)
{
    return self->connection;
}

uint64_t
gc_linkstate_reconnects (gc_linkstate_t *self)
{
    return self->connection > 1? self->connection - 1: 0;
}

const char *
gc_link_state_name (gc_link_state_t state)
{
    static const char *names [GC_LINK_STATES] = { "down", "connecting", "up" };
    return state < GC_LINK_STATES? names [state]: "?";
}

const char *
gc_link_event_name (gc_link_event_t event)
{
    static const char *names [GC_LINK_EVENTS] = {
        "connected", "disconnected", "answered", "silent", "refused", "unwell"
    };
    return event < GC_LINK_EVENTS? names [event]: "?";
}

//  --------------------------------------------------------------------------
//  Self-test: every cell of the table, written out again as the
//  behaviour the gateway promises, and the replies that must not count

#include <assert.h>
#include <stdio.h>
#include <string.h>

//  A fresh machine brought into state, on connection 1 unless down
static gc_linkstate_t *
s_test_in (gc_link_state_t state)
{
    gc_linkstate_t *self = gc_linkstate_new ();
    if (state != GC_LINK_DOWN)
        gc_linkstate_apply (self, GC_LINK_CONNECTED);
    if (state == GC_LINK_UP)
        gc_linkstate_answered (self, 1);
    assert (gc_linkstate_state (self) == state);
    return self;
}

static gc_link_state_t
s_test_after (gc_link_state_t state, gc_link_event_t event)
{
    gc_linkstate_t *self = s_test_in (state);
    gc_link_state_t after = event == GC_LINK_ANSWERED?
        gc_linkstate_answered (self, gc_linkstate_connection (self)):
        gc_linkstate_apply (self, event);
    gc_linkstate_destroy (&self);
    return after;
}

static void
s_test_table (void)
{
    static const struct {
        gc_link_state_t state;
        gc_link_event_t event;
        gc_link_state_t after;
    } cases [] = {
        //  Down: only a new connection leads on
        { GC_LINK_DOWN, GC_LINK_CONNECTED, GC_LINK_CONNECTING },
        { GC_LINK_DOWN, GC_LINK_DISCONNECTED, GC_LINK_DOWN },
        { GC_LINK_DOWN, GC_LINK_ANSWERED, GC_LINK_DOWN },
        { GC_LINK_DOWN, GC_LINK_SILENT, GC_LINK_DOWN },
        { GC_LINK_DOWN, GC_LINK_REFUSED, GC_LINK_DOWN },
        { GC_LINK_DOWN, GC_LINK_UNWELL, GC_LINK_DOWN },
        //  Connecting: a reply proves the connection
        { GC_LINK_CONNECTING, GC_LINK_CONNECTED, GC_LINK_CONNECTING },
        { GC_LINK_CONNECTING, GC_LINK_DISCONNECTED, GC_LINK_DOWN },
        { GC_LINK_CONNECTING, GC_LINK_ANSWERED, GC_LINK_UP },
        { GC_LINK_CONNECTING, GC_LINK_SILENT, GC_LINK_CONNECTING },
        { GC_LINK_CONNECTING, GC_LINK_REFUSED, GC_LINK_CONNECTING },
        { GC_LINK_CONNECTING, GC_LINK_UNWELL, GC_LINK_CONNECTING },
        //  Up: anything but a reply takes it back
        { GC_LINK_UP, GC_LINK_CONNECTED, GC_LINK_CONNECTING },
        { GC_LINK_UP, GC_LINK_DISCONNECTED, GC_LINK_DOWN },
        { GC_LINK_UP, GC_LINK_ANSWERED, GC_LINK_UP },
        { GC_LINK_UP, GC_LINK_SILENT, GC_LINK_CONNECTING },
        { GC_LINK_UP, GC_LINK_REFUSED, GC_LINK_CONNECTING },
        { GC_LINK_UP, GC_LINK_UNWELL, GC_LINK_CONNECTING },
    };
    size_t size = sizeof cases / sizeof cases [0];
    assert (size == GC_LINK_STATES * GC_LINK_EVENTS);
    for (size_t index = 0; index < size; index++)
        assert (s_test_after (cases [index].state, cases [index].event) == cases [index].after);
}

//  A reply from a connection that is gone proves nothing about the next
static void
s_test_old_replies (void)
{
    gc_linkstate_t *self = s_test_in (GC_LINK_UP);
    assert (gc_linkstate_reconnects (self) == 0);
    //  The reply to the old connection's ping, read after it closed
    gc_linkstate_apply (self, GC_LINK_DISCONNECTED);
    assert (gc_linkstate_answered (self, 1) == GC_LINK_DOWN);
    //  ...or after the next connection was made
    assert (gc_linkstate_apply (self, GC_LINK_CONNECTED) == GC_LINK_CONNECTING);
    assert (gc_linkstate_connection (self) == 2 && gc_linkstate_reconnects (self) == 1);
    assert (gc_linkstate_answered (self, 1) == GC_LINK_CONNECTING);
    assert (gc_linkstate_answered (self, 2) == GC_LINK_UP);
    //  A connection replaced before its close was read: the old one's
    //  late reply does not prove the new one either
    gc_linkstate_apply (self, GC_LINK_CONNECTED);
    assert (gc_linkstate_answered (self, 2) == GC_LINK_CONNECTING);
    assert (gc_linkstate_reconnects (self) == 2);
    //  A broker that went silent and speaks again on the same connection
    assert (gc_linkstate_answered (self, 3) == GC_LINK_UP);
    assert (gc_linkstate_apply (self, GC_LINK_SILENT) == GC_LINK_CONNECTING);
    assert (gc_linkstate_answered (self, 3) == GC_LINK_UP);
    gc_linkstate_destroy (&self);
    gc_linkstate_destroy (&self);
}

void
gc_linkstate_test (bool verbose)
{
    if (verbose)
        printf (" * gc_linkstate: ");
    s_test_table ();
    s_test_old_replies ();
    assert (strcmp (gc_link_state_name (GC_LINK_CONNECTING), "connecting") == 0);
    assert (strcmp (gc_link_event_name (GC_LINK_SILENT), "silent") == 0);
    if (verbose)
        printf ("OK\n");
}
