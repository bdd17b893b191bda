/*  backups.h: where the broker may write backups of its database.

    Only under the one directory the operator configured (--backup-dir),
    never outside it and never over a file that exists, whatever name a
    backup request carries: the request comes from the network. */
#ifndef GC_BACKUPS_H_INCLUDED
#define GC_BACKUPS_H_INCLUDED

#include "gc_codec.h"
#include "store.h"

typedef struct gc_backups_t gc_backups_t;

//  The backup directory dir, created (mode 0700) when it is missing.
//  NULL when it cannot be created or opened, after logging why.
gc_backups_t *gc_backups_new (const char *dir);
void gc_backups_destroy (gc_backups_t **self_p);

//  Writes a consistent copy of the store as name: a file name, or a path
//  relative to the directory through folders that exist there, with no
//  empty, "." or ".." component. No symbolic link is followed, and the
//  copy appears under its name only once it is whole. Returns GC_OK, or
//  GC_BAD_REQUEST with *why saying what is wrong with the name (or that
//  something of that name exists already), or GC_INTERNAL after logging.
gc_error_t gc_backups_write (gc_backups_t *self, gc_store_t *store, const char *name,
                             const char **why);

void gc_backups_test (bool verbose);

#endif
