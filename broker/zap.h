/*  zap.h: the broker's ZAP handler (ZeroMQ RFC 27), which decides who
    may finish a CURVE handshake with the broker's sockets.

    czmq's zauth would trust a key for every socket alike; the broker
    needs more: a key's role (keyring.h), and the event socket open to
    gateways only. So the handler is the broker's own, answered on the
    broker's loop: a handshake is judged against the keys as they are
    now, and an accepted peer's key travels with each of its messages as
    their User-Id, for the broker to judge each request again. */
#ifndef GC_ZAP_H_INCLUDED
#define GC_ZAP_H_INCLUDED

#include <czmq.h>
#include "keyring.h"

//  The ZAP domains of the broker's sockets
#define GC_ZAP_REQUESTS     "requests"
#define GC_ZAP_EVENTS       "events"

typedef struct gc_zap_t gc_zap_t;

//  Binds the process's ZAP endpoint; NULL when another handler has it.
//  Must exist before a CURVE socket binds: without a handler ZeroMQ
//  lets every key in.
gc_zap_t *gc_zap_new (gc_keyring_t *keyring);
void gc_zap_destroy (gc_zap_t **self_p);

//  The socket to read ZAP requests from
zsock_t *gc_zap_socket (gc_zap_t *self);

//  Answers every ZAP request waiting
void gc_zap_answer (gc_zap_t *self);

//  Handshakes refused so far
uint64_t gc_zap_refused (gc_zap_t *self);

#endif
