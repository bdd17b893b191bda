/*  keyring.h: the public keys the broker trusts, and the role of each.

    The role comes from the folder a key is in, never from the key file's
    own words: DIR/gateways/ holds gateway keys, DIR/admins/ admin keys
    (gc_keys.h). Taking a file out of a folder revokes the key: the
    folders are read again on every refresh, and a request is judged by
    its key's role at the time it comes, not at the time its connection
    was made. */
#ifndef GC_KEYRING_H_INCLUDED
#define GC_KEYRING_H_INCLUDED

#include <stdbool.h>
#include "gc_keys.h"

typedef struct gc_keyring_t gc_keyring_t;

//  Reads the broker's key folder dir. Never fails: a missing folder
//  trusts nobody in that role.
gc_keyring_t *gc_keyring_new (const char *dir);
void gc_keyring_destroy (gc_keyring_t **self_p);

//  The role of a public key (Z85 text, NULL: none) as last read
gc_role_t gc_keyring_role (gc_keyring_t *self, const char *key);

//  Reads the folders again. Returns true when a gateway key trusted
//  before is trusted as a gateway no more (its connections must go).
bool gc_keyring_refresh (gc_keyring_t *self);

//  When the folders were last read (monotonic ms)
int64_t gc_keyring_read_at (gc_keyring_t *self);

void gc_keyring_test (bool verbose);

#endif
