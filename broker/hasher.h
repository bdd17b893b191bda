/*  hasher.h: password verification off the broker's main loop.

    crypto_pwhash_str_verify (argon2id) is slow on purpose, tens of ms and
    64 MiB per call. Worker threads do it, so a burst of logins never
    delays anyone's messages. A job is a hash, a password, and the
    requester's context (any fixed-size struct, carried untouched); the
    verdict comes back on gc_hasher_results() with that context. */
#ifndef GC_HASHER_H_INCLUDED
#define GC_HASHER_H_INCLUDED

#include <czmq.h>

typedef struct {
    const char *hash;           //  the stored argon2id hash
    const char *password;       //  as the user typed it, not NUL-terminated
    size_t password_size;
    const void *context;        //  the requester's, handed back with the verdict
    size_t context_size;
} gc_hasher_job_t;

typedef struct gc_hasher_t gc_hasher_t;

gc_hasher_t *gc_hasher_new (int workers);
void gc_hasher_destroy (gc_hasher_t **self_p);

//  Queues a job (copying all of it). 0 or -1.
int gc_hasher_submit (gc_hasher_t *self, const gc_hasher_job_t *job);

//  The socket verdicts arrive on (for a zloop or zpoller).
zsock_t *gc_hasher_results (gc_hasher_t *self);

//  Receives one verdict: 1 match, 0 no match, -1 none or not of this
//  context size. Copies the job's context into context.
int gc_hasher_verdict (gc_hasher_t *self, void *context, size_t context_size);

//  A valid hash of no one's password, to verify against for unknown
//  users so that their logins take as long as anyone's.
const char *gc_hasher_dummy (gc_hasher_t *self);

void gc_hasher_test (bool verbose);

#endif
