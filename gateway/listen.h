/*  listen.h: where and how a gateway listens: its port, the one address
    it binds (or every address), and TLS when it has a certificate. */
#ifndef GC_LISTEN_H_INCLUDED
#define GC_LISTEN_H_INCLUDED

#include <stdbool.h>
#include <libwebsockets.h>

typedef struct {
    int port;                   //  WebSocket and HTTP(S) port
    const char *address;        //  an IP address to bind; NULL: every address
    const char *tls_cert;       //  PEM certificate (chain); with tls_key: wss://
    const char *tls_key;        //  its PEM private key
} gc_listen_config_t;

//  True when text is an IPv4 or IPv6 address (what --listen takes).
bool gc_listen_is_address (const char *text);

//  True when the configuration asks for TLS (both files are given).
bool gc_listen_is_tls (const gc_listen_config_t *config);

//  Fills the listening part of a context's creation info. Returns 0, or
//  -1 after logging why (a certificate or key that cannot be read or is
//  not PEM): then the gateway must not start at all.
int gc_listen_setup (const gc_listen_config_t *config, struct lws_context_creation_info *info);

void gc_listen_test (bool verbose);

#endif
