/*  hasher.h: password verification off the broker's main loop.

    crypto_pwhash_str_verify (argon2id) is slow on purpose, tens of ms and
    64 MiB per call. Worker threads do it, so a burst of logins never
    delays anyone's messages. A job is a hash, a password, and the
    requester's context (any fixed-size struct, carried untouched); the
    verdict comes back on gc_hasher_results() with that context.

    The queue is bounded and never makes its caller wait: a job that
    finds it full is refused at once, and a job whose deadline passed
    while it waited is answered late without being hashed, so a flood of
    logins costs the workers no more than they can do in time, and the
    broker's loop nothing. */
#ifndef GC_HASHER_H_INCLUDED
#define GC_HASHER_H_INCLUDED

#include <czmq.h>

typedef struct {
    const char *hash;           //  the stored argon2id hash
    const char *password;       //  as the user typed it, not NUL-terminated
    size_t password_size;
    const void *context;        //  the requester's, handed back with the verdict
    size_t context_size;
    int64_t deadline;           //  wall clock ms; past it, not hashed; 0: none
} gc_hasher_job_t;

//  gc_hasher_verdict's answers beside match (1) and no match (0)
#define GC_HASHER_NONE      -1  //  no verdict, or not of this context's size
#define GC_HASHER_LATE       2  //  its deadline passed before a worker took it

typedef struct gc_hasher_t gc_hasher_t;

gc_hasher_t *gc_hasher_new (int workers);
void gc_hasher_destroy (gc_hasher_t **self_p);

//  Queues a job (copying all of it). 0, or -1 at once when
//  GC_HASHER_QUEUE_MAX jobs wait for their verdicts already.
int gc_hasher_submit (gc_hasher_t *self, const gc_hasher_job_t *job);

//  Jobs submitted whose verdict has not been read yet
size_t gc_hasher_waiting (gc_hasher_t *self);

//  The socket verdicts arrive on (for a zloop or zpoller).
zsock_t *gc_hasher_results (gc_hasher_t *self);

//  Receives one verdict: 1 match, 0 no match, GC_HASHER_LATE, or
//  GC_HASHER_NONE. Copies the job's context into context.
int gc_hasher_verdict (gc_hasher_t *self, void *context, size_t context_size);

//  A valid hash of no one's password, to verify against for unknown
//  users so that their logins take as long as anyone's.
const char *gc_hasher_dummy (gc_hasher_t *self);

void gc_hasher_test (bool verbose);

#endif
