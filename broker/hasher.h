/*  hasher.h: password verification off the broker's main loop.

    crypto_pwhash_str_verify (argon2id) is slow on purpose, tens of ms and
    64 MiB per call. Worker threads do it, so a burst of logins never
    delays anyone's messages. A job is a message whose first two frames
    are the stored hash and the password; the result comes back on
    gc_hasher_results() with those two frames replaced by one frame
    holding "1" (match) or "0", followed by the job's other frames
    untouched (the requester's context). */
#ifndef GC_HASHER_H_INCLUDED
#define GC_HASHER_H_INCLUDED

#include <czmq.h>

typedef struct gc_hasher_t gc_hasher_t;

gc_hasher_t *gc_hasher_new (int workers);
void gc_hasher_destroy (gc_hasher_t **self_p);

//  Queues a job; takes ownership of the message. 0 or -1.
int gc_hasher_submit (gc_hasher_t *self, zmsg_t **job_p);

//  The socket results arrive on (for a zloop or zpoller).
zsock_t *gc_hasher_results (gc_hasher_t *self);

//  A valid hash of no one's password, to verify against for unknown
//  users so that their logins take as long as anyone's.
const char *gc_hasher_dummy (gc_hasher_t *self);

void gc_hasher_test (bool verbose);

#endif
