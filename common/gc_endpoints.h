/*  gc_endpoints.h: the brokers a program may talk to, as a list.

    Each broker is a pair: its request endpoint (ROUTER) and its event
    endpoint (PUB). A program is given the two columns separately, by
    repeating --requests and --events or as comma-separated lists in
    GROUPCHAT_REQUESTS and GROUPCHAT_EVENTS, and they pair up by
    position: the i-th of each is one broker. A list of one is a single
    broker, as before there were lists. Several are brokers of which one
    at a time serves (docs/operations.md, "Broker endpoint lists"). */
#ifndef GC_ENDPOINTS_H_INCLUDED
#define GC_ENDPOINTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "gc_options.h"

typedef struct gc_endpoints_t gc_endpoints_t;

//  The two columns, empty.
gc_endpoints_t *gc_endpoints_new (void);
void gc_endpoints_destroy (gc_endpoints_t **self_p);

//  A copy of self, for whoever keeps the list longer than its maker.
gc_endpoints_t *gc_endpoints_dup (const gc_endpoints_t *self);

//  Adds one endpoint or a comma-separated list of them to a column;
//  returns NULL, or why text is no list of endpoints.
const char *gc_endpoints_add_requests (gc_endpoints_t *self, const char *text);
const char *gc_endpoints_add_events (gc_endpoints_t *self, const char *text);

//  The same as gc_option_t takers: the option's arg is the list.
const char *gc_endpoints_take_requests (const gc_option_t *option, const char *value);
const char *gc_endpoints_take_events (const gc_option_t *option, const char *value);

//  The flags --requests and --events (repeatable) with their variables
#define GC_OPTION_ENDPOINTS(list) \
    { .name = "requests", .env = "GROUPCHAT_REQUESTS", \
      .take = gc_endpoints_take_requests, .arg = (list) }, \
    { .name = "events", .env = "GROUPCHAT_EVENTS", \
      .take = gc_endpoints_take_events, .arg = (list) }

//  Once the flags are read: an empty column gets its default (events
//  NULL: the program has no event column), then the columns must pair.
//  Returns NULL, or why they do not, for a usage error.
const char *gc_endpoints_complete (gc_endpoints_t *self, const char *requests,
                                   const char *events);

//  How many brokers the list names (the requests column's length).
size_t gc_endpoints_count (const gc_endpoints_t *self);

//  The index-th broker's endpoints; index is below the count.
const char *gc_endpoints_requests (const gc_endpoints_t *self, size_t index);
const char *gc_endpoints_events (const gc_endpoints_t *self, size_t index);

//  Self test of this class.
void gc_endpoints_test (bool verbose);

#endif
