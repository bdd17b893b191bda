/*  throttle.h: failed password logins counted by a key (a user name, a
    client address), and how long the key must wait before trying again.

    OWASP's authentication guidance is the model: failures are counted
    per key within a window; the first few are free (people mistype),
    then each further failure locks the key for twice as long as the one
    before, up to a ceiling. A locked key is refused whatever it tries,
    the right password too, and costs no hash. A success clears the key.
    The table is bounded: past its size new keys are not counted (and
    said in the figures) rather than grow without end. */
#ifndef GC_THROTTLE_H_INCLUDED
#define GC_THROTTLE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    unsigned free;              //  failures in a window before a lock
    int64_t window_ms;          //  failures older than this are forgotten
    int64_t first_lock_ms;      //  the first lock; each next one doubles
    int64_t longest_lock_ms;    //  the ceiling
    size_t keys_max;            //  keys counted at most
} gc_throttle_policy_t;

typedef struct gc_throttle_t gc_throttle_t;

gc_throttle_t *gc_throttle_new (const gc_throttle_policy_t *policy);
void gc_throttle_destroy (gc_throttle_t **self_p);

//  How long key must still wait, in ms (0: it may try now): a lock's
//  rest, or the first lock's length while as many attempts are being
//  judged as would earn one
int64_t gc_throttle_wait (gc_throttle_t *self, const char *key, int64_t now);

//  A failed attempt by key at now: counted, and a lock once past the free ones
void gc_throttle_failed (gc_throttle_t *self, const char *key, int64_t now);

//  An attempt by key is being judged (a password hashed): counted as a
//  failure may be until gc_throttle_ended, which comes before its verdict
void gc_throttle_started (gc_throttle_t *self, const char *key);
void gc_throttle_ended (gc_throttle_t *self, const char *key);

//  A successful attempt: the key starts afresh
void gc_throttle_succeeded (gc_throttle_t *self, const char *key);

//  Forgets keys whose window and lock are over; call now and then
void gc_throttle_sweep (gc_throttle_t *self, int64_t now);

//  Keys counted, and failures not counted because the table was full
size_t gc_throttle_size (gc_throttle_t *self);
uint64_t gc_throttle_overflows (gc_throttle_t *self);

void gc_throttle_test (bool verbose);

#endif
