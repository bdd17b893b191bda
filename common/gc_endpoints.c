/*  gc_endpoints.c: the list of brokers, from flags and variables.

    The columns are kept apart until the flags are all read, since
    --requests and --events may come in any order; gc_endpoints_complete
    then checks that they pair. */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gc_alloc.h"
#include "gc_endpoints.h"

typedef struct {
    char **items;               //  the endpoints, in the order given
    size_t count;
} s_column_t;

struct gc_endpoints_t {
    s_column_t requests;        //  each broker's ROUTER
    s_column_t events;          //  each broker's PUB, by the same index
};

gc_endpoints_t *
gc_endpoints_new (void)
{
    return gc_calloc (1, sizeof (gc_endpoints_t));
}

static void
s_column_empty (s_column_t *column)
{
    for (size_t index = 0; index < column->count; index++)
        free (column->items [index]);
    free (column->items);
    *column = (s_column_t) { NULL, 0 };
}

void
gc_endpoints_destroy (gc_endpoints_t **self_p)
{
    gc_endpoints_t *self = *self_p;
    if (!self)
        return;
    s_column_empty (&self->requests);
    s_column_empty (&self->events);
    free (self);
    *self_p = NULL;
}

static void
s_column_push (s_column_t *column, const char *endpoint, size_t size)
{
    column->items = gc_realloc (column->items, (column->count + 1) * sizeof *column->items);
    char *item = gc_malloc (size + 1);
    memcpy (item, endpoint, size);
    item [size] = '\0';
    column->items [column->count++] = item;
}

gc_endpoints_t *
gc_endpoints_dup (const gc_endpoints_t *self)
{
    gc_endpoints_t *copy = gc_endpoints_new ();
    for (size_t index = 0; index < self->requests.count; index++)
        s_column_push (&copy->requests, self->requests.items [index],
                       strlen (self->requests.items [index]));
    for (size_t index = 0; index < self->events.count; index++)
        s_column_push (&copy->events, self->events.items [index],
                       strlen (self->events.items [index]));
    return copy;
}

//  Each comma-separated item of text, spaces around it dropped; an
//  empty item is a mistake (a stray comma), not a broker. Nothing is
//  added when one is wrong.
static const char *
s_column_add (s_column_t *column, const char *flag, const char *text)
{
    static char why [80];
    size_t first = column->count;
    for (const char *at = text, *comma; at; at = comma? comma + 1: NULL) {
        comma = strchr (at, ',');
        const char *end = comma? comma: at + strlen (at);
        while (at < end && isspace ((unsigned char) *at))
            at++;
        while (end > at && isspace ((unsigned char) end [-1]))
            end--;
        if (end == at) {
            while (column->count > first)
                free (column->items [--column->count]);
            snprintf (why, sizeof why, "--%s wants an endpoint, or a comma-separated list", flag);
            return why;
        }
        s_column_push (column, at, (size_t) (end - at));
    }
    return NULL;
}

const char *
gc_endpoints_add_requests (gc_endpoints_t *self, const char *text)
{
    return s_column_add (&self->requests, "requests", text);
}

const char *
gc_endpoints_add_events (gc_endpoints_t *self, const char *text)
{
    return s_column_add (&self->events, "events", text);
}

const char *
gc_endpoints_take_requests (const gc_option_t *option, const char *value)
{
    return gc_endpoints_add_requests (option->arg, value);
}

const char *
gc_endpoints_take_events (const gc_option_t *option, const char *value)
{
    return gc_endpoints_add_events (option->arg, value);
}

const char *
gc_endpoints_complete (gc_endpoints_t *self, const char *requests, const char *events)
{
    static char why [160];
    if (self->requests.count == 0)
        s_column_add (&self->requests, "requests", requests);
    if (events && self->events.count == 0)
        s_column_add (&self->events, "events", events);
    if (!events || self->requests.count == self->events.count)
        return NULL;
    snprintf (why, sizeof why, "--requests and --events pair up by position, one of each "
              "per broker: %zu requests endpoints, %zu events endpoints",
              self->requests.count, self->events.count);
    return why;
}

size_t
gc_endpoints_count (const gc_endpoints_t *self)
{
    return self->requests.count;
}

const char *
gc_endpoints_requests (const gc_endpoints_t *self, size_t index)
{
    assert (index < self->requests.count);
    return self->requests.items [index];
}

const char *
gc_endpoints_events (const gc_endpoints_t *self, size_t index)
{
    assert (index < self->events.count);
    return self->events.items [index];
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_endpoints_test (bool verbose)
{
    printf (" * gc_endpoints: ");
    //  Nothing given: one broker, the defaults
    gc_endpoints_t *self = gc_endpoints_new ();
    assert (!gc_endpoints_complete (self, "tcp://localhost:5555", "tcp://localhost:5556"));
    assert (gc_endpoints_count (self) == 1);
    assert (!strcmp (gc_endpoints_requests (self, 0), "tcp://localhost:5555"));
    assert (!strcmp (gc_endpoints_events (self, 0), "tcp://localhost:5556"));
    gc_endpoints_destroy (&self);
    gc_endpoints_destroy (&self);

    //  Flags and lists add up, in order; a given column keeps no default
    self = gc_endpoints_new ();
    assert (!gc_endpoints_add_requests (self, "tcp://a:1"));
    assert (!gc_endpoints_add_requests (self, " tcp://b:1 , tcp://c:1"));
    assert (!gc_endpoints_add_events (self, "tcp://a:2,tcp://b:2,tcp://c:2"));
    assert (!gc_endpoints_complete (self, "tcp://localhost:5555", "tcp://localhost:5556"));
    assert (gc_endpoints_count (self) == 3);
    assert (!strcmp (gc_endpoints_requests (self, 1), "tcp://b:1"));
    assert (!strcmp (gc_endpoints_events (self, 2), "tcp://c:2"));
    gc_endpoints_t *copy = gc_endpoints_dup (self);
    gc_endpoints_destroy (&self);
    assert (gc_endpoints_count (copy) == 3 && !strcmp (gc_endpoints_requests (copy, 2), "tcp://c:1"));
    gc_endpoints_destroy (&copy);

    //  Columns that do not pair, and stray commas, are mistakes
    self = gc_endpoints_new ();
    assert (gc_endpoints_add_requests (self, "tcp://a:1,,tcp://b:1"));
    assert (gc_endpoints_add_requests (self, "tcp://a:1,"));
    assert (gc_endpoints_add_events (self, ""));
    assert (!gc_endpoints_add_requests (self, "tcp://a:1,tcp://b:1"));
    assert (gc_endpoints_complete (self, "tcp://localhost:5555", "tcp://localhost:5556"));
    //  A program without events has no pairs to check
    assert (!gc_endpoints_complete (self, "tcp://localhost:5555", NULL));
    assert (gc_endpoints_count (self) == 2);
    gc_endpoints_destroy (&self);
    if (verbose)
        printf ("(defaults, lists, pairs, mistakes) ");
    printf ("OK\n");
}
