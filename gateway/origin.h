/*  origin.h: which web pages may open a WebSocket to the gateway.

    A browser sends the page's origin (scheme://host[:port]) with every
    WebSocket upgrade; another site's page could otherwise use a logged-in
    user's browser to talk to us. With a list set (--allow-origin), an
    upgrade whose Origin is present and not in the list is refused with
    HTTP 403, unless it is the gateway's own page (page.h): an Origin
    whose host and port are the request's Host. Clients that send no
    Origin (the CLI, scripts) are not browsers and are let in; an empty
    list lets everyone in, as before. */
#ifndef GC_ORIGIN_H_INCLUDED
#define GC_ORIGIN_H_INCLUDED

#include <stdbool.h>
#include <libwebsockets.h>

typedef struct gc_origins_t gc_origins_t;

//  An empty list: every origin is allowed.
gc_origins_t *gc_origins_new (void);
void gc_origins_destroy (gc_origins_t **self_p);

//  Adds the origins of text, comma-separated (spaces around each are
//  dropped). Returns NULL, or why one is not scheme://host[:port]; then
//  nothing of text is added.
const char *gc_origins_add (gc_origins_t *self, const char *text);

//  How many origins the list has; 0: every origin is allowed.
size_t gc_origins_count (const gc_origins_t *self);

//  True when a page of this origin may connect: exactly one of the list,
//  scheme and host compared without regard to case.
bool gc_origins_allows (const gc_origins_t *self, const char *origin);

//  True when origin is a page of host (a Host header's host[:port]): an
//  origin as a browser writes it whose host and port are host's, case
//  aside, whatever its scheme.
bool gc_origins_same_host (const char *origin, const char *host);

//  For LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on; 1
//  when it was refused with 403 (lws then ends the exchange); -1 to hang
//  up when not even the refusal could be written.
int gc_origins_confirm_upgrade (const gc_origins_t *self, struct lws *wsi);

void gc_origins_test (bool verbose);

#endif
