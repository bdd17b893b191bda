/*  server.h: a gateway server, from configuration to a running loop. */
#ifndef GC_SERVER_H_INCLUDED
#define GC_SERVER_H_INCLUDED

#include <stdio.h>
#include "gateway.h"
#include "gc_keys.h"
#include "listen.h"
#include "origin.h"
#include "proxies.h"

typedef struct gc_gateway_t gc_gateway_t;

typedef struct {
    gc_listen_config_t listen;  //  port, address, TLS
    const gc_origins_t *origins;    //  pages that may connect (origin.h)
    const gc_proxies_t *proxies;    //  proxies that say who the client is (proxies.h)
    const gc_endpoints_t *endpoints;    //  the brokers' ROUTER and PUB, one serving
    gc_keys_t *keys;            //  CURVE keys for both; NULL: plain
    int rate_limit;             //  requests/s per connection, 0: unlimited
    unsigned fd_limit;          //  connections + a few, 0: lws default
    int max_connections;        //  WebSocket connections at most, 0: fd_limit's room
    int max_per_address;        //  from one client address at most
    int max_per_user;           //  logged in as one user at most
    int max_rooms;              //  rooms one connection may be in
    int ping_seconds;           //  idle time before a ping; dead after 2.5 x
    int login_seconds;          //  time to log in after the upgrade
    int request_deadline_ms;    //  a request's time to be answered
} gc_server_config_t;

//  Creates the lws context, listens, connects to the broker. NULL on
//  failure (port taken, address not here, certificate or key refused,
//  bad endpoint), after logging why.
gc_gateway_t *gc_server_new (const gc_server_config_t *config);
void gc_server_destroy (gc_gateway_t **self_p);

//  Serves until SIGINT or SIGTERM; returns 0, or -1 on a loop failure.
int gc_server_run (gc_gateway_t *self);

//  Writes the figures of the gateway's parts in Prometheus text format
//  (metrics.c).
void gc_metrics_write (const gc_gateway_parts_t *parts, FILE *stream);

#endif
