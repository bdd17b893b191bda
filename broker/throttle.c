/*  throttle.c: failed attempts per key, and the locks they earn. */
#include <czmq.h>
#include "throttle.h"
#include "gc_alloc.h"

typedef struct {
    unsigned failures;          //  in the current window
    unsigned pending;           //  attempts started and not yet judged
    int64_t window_start;       //  the first failure of the window
    int64_t locked_until;       //  0: not locked
} s_key_t;

struct gc_throttle_t {
    gc_throttle_policy_t policy;
    zhashx_t *keys;             //  key -> s_key_t
    uint64_t overflows;
};

static void
s_key_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

gc_throttle_t *
gc_throttle_new (const gc_throttle_policy_t *policy)
{
    gc_throttle_t *self = gc_calloc (1, sizeof *self);
    self->policy = *policy;
    self->keys = zhashx_new ();
    zhashx_set_destructor (self->keys, s_key_free);
    return self;
}

void
gc_throttle_destroy (gc_throttle_t **self_p)
{
    gc_throttle_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->keys);
    free (self);
    *self_p = NULL;
}

//  Attempts still being judged count as the failures they may be: else
//  a burst of guesses, all started before the first verdict, would all
//  be tried however few are free
int64_t
gc_throttle_wait (gc_throttle_t *self, const char *key, int64_t now)
{
    s_key_t *entry = zhashx_lookup (self->keys, key);
    if (!entry)
        return 0;
    if (entry->locked_until > now)
        return entry->locked_until - now;
    unsigned failures = now - entry->window_start > self->policy.window_ms? 0: entry->failures;
    return entry->pending && failures + entry->pending > self->policy.free?
           self->policy.first_lock_ms: 0;
}

//  The key's entry, made if need be; NULL when the table is full
static s_key_t *
s_entry (gc_throttle_t *self, const char *key)
{
    s_key_t *entry = zhashx_lookup (self->keys, key);
    if (entry)
        return entry;
    if (zhashx_size (self->keys) >= self->policy.keys_max) {
        self->overflows++;
        return NULL;
    }
    entry = gc_calloc (1, sizeof *entry);
    zhashx_insert (self->keys, key, entry);
    return entry;
}

void
gc_throttle_started (gc_throttle_t *self, const char *key)
{
    s_key_t *entry = s_entry (self, key);
    if (entry)
        entry->pending++;
}

void
gc_throttle_ended (gc_throttle_t *self, const char *key)
{
    s_key_t *entry = zhashx_lookup (self->keys, key);
    if (entry && entry->pending)
        entry->pending--;
}

//  The lock the n-th failure past the free ones earns: doubling, capped
static int64_t
s_lock_ms (const gc_throttle_policy_t *policy, unsigned beyond)
{
    int64_t lock = policy->first_lock_ms;
    while (beyond-- > 1 && lock < policy->longest_lock_ms)
        lock *= 2;
    return lock < policy->longest_lock_ms? lock: policy->longest_lock_ms;
}

void
gc_throttle_failed (gc_throttle_t *self, const char *key, int64_t now)
{
    s_key_t *entry = s_entry (self, key);
    if (!entry)
        return;
    if (entry->failures == 0 || now - entry->window_start > self->policy.window_ms) {
        entry->failures = 0;
        entry->window_start = now;
    }
    entry->failures++;
    if (entry->failures > self->policy.free)
        entry->locked_until = now + s_lock_ms (&self->policy, entry->failures - self->policy.free);
}

void
gc_throttle_succeeded (gc_throttle_t *self, const char *key)
{
    s_key_t *entry = zhashx_lookup (self->keys, key);
    if (entry && entry->pending)
        *entry = (s_key_t) { .pending = entry->pending };
    else
        zhashx_delete (self->keys, key);
}

void
gc_throttle_sweep (gc_throttle_t *self, int64_t now)
{
    zlistx_t *over = zlistx_new ();
    for (s_key_t *entry = zhashx_first (self->keys); entry; entry = zhashx_next (self->keys))
        if (entry->locked_until <= now && now - entry->window_start > self->policy.window_ms
        &&  entry->pending == 0)
            zlistx_add_end (over, (void *) zhashx_cursor (self->keys));
    //  Deleted after the walk: a zhashx must not change under its cursor
    for (const char *key = zlistx_first (over); key; key = zlistx_next (over))
        zhashx_delete (self->keys, key);
    zlistx_destroy (&over);
}

size_t
gc_throttle_size (gc_throttle_t *self)
{
    return zhashx_size (self->keys);
}

uint64_t
gc_throttle_overflows (gc_throttle_t *self)
{
    return self->overflows;
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_throttle_test (bool verbose)
{
    if (verbose)
        printf (" * gc_throttle: ");
    gc_throttle_policy_t policy = { 3, 60000, 1000, 8000, 2 };
    gc_throttle_t *self = gc_throttle_new (&policy);
    int64_t now = 1000000;
    //  Three free failures, then locks of 1, 2, 4, 8, 8 s
    for (int count = 0; count < 3; count++) {
        gc_throttle_failed (self, "Sue", now);
        assert (gc_throttle_wait (self, "Sue", now) == 0);
    }
    int64_t locks [] = { 1000, 2000, 4000, 8000, 8000 };
    for (int index = 0; index < 5; index++) {
        gc_throttle_failed (self, "Sue", now);
        assert (gc_throttle_wait (self, "Sue", now) == locks [index]);
        assert (gc_throttle_wait (self, "Sue", now + locks [index]) == 0);
    }
    assert (gc_throttle_wait (self, "Alex", now) == 0);
    //  A success starts afresh
    gc_throttle_succeeded (self, "Sue");
    gc_throttle_failed (self, "Sue", now);
    assert (gc_throttle_wait (self, "Sue", now) == 0);
    //  A full table counts no new key, and says so
    gc_throttle_failed (self, "Alex", now);
    gc_throttle_failed (self, "Sandy", now);
    assert (gc_throttle_size (self) == 2 && gc_throttle_overflows (self) == 1);
    //  Failures older than the window are forgotten, and so are the keys
    for (int count = 0; count < 3; count++)
        gc_throttle_failed (self, "Alex", now + 1);
    gc_throttle_failed (self, "Alex", now + 2 + 60000);
    assert (gc_throttle_wait (self, "Alex", now + 2 + 60000) == 0);
    //  Sue's window (from now) is over; Alex's began again
    gc_throttle_sweep (self, now + 60001);
    assert (gc_throttle_size (self) == 1 && gc_throttle_wait (self, "Alex", now + 60001) == 0);
    gc_throttle_sweep (self, now + 200000);
    assert (gc_throttle_size (self) == 0);
    //  Attempts being judged count: three free, so a fourth may start
    //  while three are pending, not a fifth
    for (int count = 0; count < 4; count++) {
        assert (gc_throttle_wait (self, "Eve", now) == 0);
        gc_throttle_started (self, "Eve");
    }
    assert (gc_throttle_wait (self, "Eve", now) == 1000);
    gc_throttle_ended (self, "Eve");
    gc_throttle_failed (self, "Eve", now);
    assert (gc_throttle_wait (self, "Eve", now) == 1000);  //  1 failed + 3 pending
    gc_throttle_sweep (self, now + 200000);
    assert (gc_throttle_size (self) == 1);                  //  kept while pending
    gc_throttle_ended (self, "Eve");
    gc_throttle_succeeded (self, "Eve");
    assert (gc_throttle_wait (self, "Eve", now) == 0);      //  2 pending
    gc_throttle_ended (self, "Eve");
    gc_throttle_ended (self, "Eve");
    gc_throttle_succeeded (self, "Eve");
    assert (gc_throttle_size (self) == 0);
    gc_throttle_destroy (&self);
    gc_throttle_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
