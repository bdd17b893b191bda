/*  lease.h: the right to be the one broker serving a database.

    Brokers may be started several on one database: the first to take
    the lease serves, the others wait as standbys until it is free (its
    holder stopped or died), so that two brokers never give out seqs of
    the same room. For a database file the lease is an exclusive flock
    on that file: the kernel drops it when its holder dies, however it
    dies, and no other machine shares it. */
#ifndef GC_LEASE_H_INCLUDED
#define GC_LEASE_H_INCLUDED

#include <stdbool.h>

typedef struct gc_lease_t gc_lease_t;

//  A lease on the database, not taken yet; NULL when the database is not
//  a file (a server database's brokers are not leased here)
gc_lease_t *gc_lease_new (const char *database);

void gc_lease_destroy (gc_lease_t **self_p);

//  Takes the lease if it is free: 1 taken (or held already), 0 held by
//  another broker, -1 the file cannot be opened (the reason is logged)
int gc_lease_take (gc_lease_t *self);

void gc_lease_test (bool verbose);

#endif
