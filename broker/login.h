/*  login.h: password and token login, and logout.

    A password login is checked on the hasher's workers (argon2id is slow
    on purpose); the request's context rides along with the job and the
    reply is sent when the verdict comes back. Either way a login that
    succeeds is answered by one function, with the user and a token. */
#ifndef GC_LOGIN_H_INCLUDED
#define GC_LOGIN_H_INCLUDED

#include "replier.h"
#include "store.h"

typedef struct gc_login_t gc_login_t;

//  Starts the hash workers. NULL on failure.
gc_login_t *gc_login_new (gc_store_t *store, gc_replier_t *reply);
void gc_login_destroy (gc_login_t **self_p);

//  Handlers (gc_handler_fn): login with token or user and password (the
//  reply carries the user's generation); logout; generations, the
//  current generation of each user named.
void gc_login_handle (void *self, const gc_broker_request_t *request);
void gc_login_logout (void *self, const gc_broker_request_t *request);
void gc_login_generations (void *self, const gc_broker_request_t *request);

//  Where the hash workers' verdicts arrive, and what to call for each.
zsock_t *gc_login_verdicts (gc_login_t *self);
void gc_login_verified (gc_login_t *self);

//  Forgets failed logins whose time is over, and deletes expired tokens;
//  call every second (it walks its tables once a minute, and the tokens
//  once an hour, at most)
void gc_login_sweep (gc_login_t *self, int64_t now);

//  Writes the login figures (Prometheus text) to stream.
void gc_login_metrics (gc_login_t *self, FILE *stream);

void gc_login_test (bool verbose);

#endif
