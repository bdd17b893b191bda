/*  proxies.h: the client's address, as the gateway can vouch for it.

    The broker throttles failed logins per client address (and per name),
    so the address a gateway passes on must be one it can trust. It is the
    connection's peer, unless that peer is a proxy the operator named
    (--trusted-proxy, e.g. the compose load balancer's network): then the
    X-Forwarded-For header says who came through it, read from the right,
    skipping trusted proxies, so that a client cannot write its own
    address into the header and be believed. */
#ifndef GC_PROXIES_H_INCLUDED
#define GC_PROXIES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>

typedef struct gc_proxies_t gc_proxies_t;

//  An empty list: no proxy is trusted, the peer is the client.
gc_proxies_t *gc_proxies_new (void);
void gc_proxies_destroy (gc_proxies_t **self_p);

//  Adds the networks of text, comma-separated: an address (10.0.0.7,
//  ::1) or a network (172.16.0.0/12, fd00::/8). Returns NULL, or why one
//  is neither; then nothing of text is added.
const char *gc_proxies_add (gc_proxies_t *self, const char *text);

size_t gc_proxies_count (const gc_proxies_t *self);

//  True when address (text) is in one of the networks
bool gc_proxies_trusts (const gc_proxies_t *self, const char *address);

//  The client's address from the peer's and the X-Forwarded-For value
//  (NULL: none): the rightmost address of [forwarded..., peer] that is
//  not a trusted proxy. Written to address (size bytes, at least 46).
void gc_proxies_client (const gc_proxies_t *self, const char *peer, const char *forwarded,
                        char *address, size_t size);

//  The same for a WebSocket connection being established
void gc_proxies_client_of (const gc_proxies_t *self, struct lws *wsi, char *address,
                           size_t size);

void gc_proxies_test (bool verbose);

#endif
