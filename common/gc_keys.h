/*  gc_keys.h: the CURVE keys of the broker link, and where they live.

    Each program has a key folder of its own (--keys DIR). The broker's
    holds its key pair and the public keys it trusts, by role: a key in
    gateways/ may serve users, a key in admins/ may administer. A
    gateway's or an admin tool's folder holds its own pair and the
    broker's public key. Key files are czmq's certificates (zcert): NAME.cert
    is the public part, NAME.cert_secret the pair. `groupchat-admin keys
    init DIR` makes one folder per program under DIR, docs/security.md
    says how they travel, rotate and are revoked.

    Without keys the link is plain ZeroMQ, which trusts whoever reaches
    it: allowed on this host only, or with --insecure. */
#ifndef GC_KEYS_H_INCLUDED
#define GC_KEYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>

//  What a trusted key may do on the broker
typedef enum {
    GC_ROLE_NONE = 0,           //  untrusted
    GC_ROLE_GATEWAY = 1,        //  users' requests and events
    GC_ROLE_ADMIN = 2,          //  administration
    GC_ROLE_ANY = 3             //  the link without keys: whoever reaches it
} gc_role_t;

//  The folders a key's public part goes in on the broker, by role
#define GC_KEYS_GATEWAYS    "gateways"
#define GC_KEYS_ADMINS      "admins"

//  True when endpoint reaches this host only: tcp to 127.0.0.0/8, ::1 or
//  localhost, ipc, inproc. Anything else (a wildcard, a host name, an
//  interface) may be reached from elsewhere.
bool gc_endpoint_is_local (const char *endpoint);

//  Whether a program may use endpoint: with keys, anywhere; without,
//  on this host only, unless insecure. Returns 0, or -1 with the reason
//  a person can act on in why.
int gc_keys_allow (const char *endpoint, bool keys, bool insecure, char *why, size_t size);

//  A socket monitor's events that mean the broker refused our handshake
//  (ZeroMQ then gives up on the endpoint, without a word to the socket)
#define GC_KEYS_REFUSED (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                       | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

typedef struct gc_keys_t gc_keys_t;

//  Loads a program's folder: its own pair (DIR/OWN.cert_secret) and,
//  unless OWN is "broker", the broker's public key (DIR/broker.cert).
//  NULL after logging what is missing.
gc_keys_t *gc_keys_load (const char *dir, const char *own);
void gc_keys_destroy (gc_keys_t **self_p);

//  The broker's side: sock becomes a CURVE server whose handshakes the
//  ZAP handler judges under domain.
void gc_keys_serve (gc_keys_t *self, zsock_t *sock, const char *domain);

//  A gateway's or admin tool's side: sock proves its own key and checks
//  the broker's.
void gc_keys_dial (gc_keys_t *self, zsock_t *sock);

//  The folder the program's own public key is in, and the key as text
const char *gc_keys_dir (gc_keys_t *self);
const char *gc_keys_public (gc_keys_t *self);

//  Makes what is missing of DIR/broker, DIR/gateway and DIR/admin, each
//  folder and secret readable by its owner only; never replaces a file.
//  Says what it made on stream. Returns 0, or -1 after saying why.
int gc_keys_init (const char *dir, FILE *stream);

//  A further key pair for role ("gateway" or "admin") named name: its
//  folder DIR/ROLE-NAME (the pair and the broker's public key) and its
//  public key trusted by the broker, DIR/broker/gateways/NAME.cert. The
//  way to give each gateway host its own key, and to rotate one.
//  Returns 0, or -1 after saying why on stream.
int gc_keys_add (const char *dir, const char *role, const char *name, FILE *stream);

void gc_keys_test (bool verbose);

#endif
