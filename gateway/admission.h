/*  admission.h: how many WebSocket connections a gateway takes, in all
    and from one client address.

    Each connection holds a file descriptor and memory; past the
    process's open-file limit libwebsockets would drop new connections
    without a word, and one client could take every slot. So an upgrade
    is refused while the gateway holds --max-connections (HTTP 503, a
    load balancer then tries another gateway) or while the client's
    address holds --max-connections-per-address (HTTP 429). The address
    is the one login throttling uses (proxies.h).
    A user is known only once logged in, so the connections logged in as
    one user (--max-connections-per-user) are counted at login: a login
    past them is refused, the connection staying open. Every count is
    this gateway's own: gateways know nothing of each other. */
#ifndef GC_ADMISSION_H_INCLUDED
#define GC_ADMISSION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>
#include "proxies.h"

typedef struct gc_admission_t gc_admission_t;

//  total: connections at most; per_address: from one address at most;
//  per_user: logged in as one user at most
gc_admission_t *gc_admission_new (size_t total, size_t per_address, size_t per_user,
                                  const gc_proxies_t *proxies);
void gc_admission_destroy (gc_admission_t **self_p);

//  For LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on; 1
//  when it was refused (lws then ends the exchange); -1 to hang up.
int gc_admission_confirm_upgrade (gc_admission_t *self, struct lws *wsi);

//  A connection from address was opened, or closed
void gc_admission_opened (gc_admission_t *self, const char *address);
void gc_admission_closed (gc_admission_t *self, const char *address);

//  Whether a connection logged in as `was` (NULL: not logged in) may be
//  logged in as user instead: 0, or -1 with why, words for the client,
//  filled in. Logging in again as the same user takes no further place.
int gc_admission_check_login (gc_admission_t *self, const char *user, const char *was,
                              char *why, size_t size);

//  A connection was logged in as user, or no longer is
void gc_admission_logged_in (gc_admission_t *self, const char *user);
void gc_admission_logged_out (gc_admission_t *self, const char *user);

//  Connections held now, and upgrades refused so far
size_t gc_admission_open (gc_admission_t *self);
uint64_t gc_admission_refused (gc_admission_t *self);

//  Refuses an HTTP request or upgrade with status ("503 Service
//  Unavailable"), a plain-text body and connection: close; HTTP/1.1, as
//  some WebSocket clients take an HTTP/1.0 answer for no answer at all.
//  Returns 1, or -1 when not even that could be written.
int gc_http_refuse (struct lws *wsi, const char *status, const char *body);

void gc_admission_test (bool verbose);

#endif
