/*  lease.h: the right to be the one broker serving a database.

    Brokers may be started several on one database: the first to take
    the lease serves, the others wait as standbys until it is free (its
    holder stopped or died), so that two brokers never give out seqs of
    the same room. For a database file the lease is an exclusive flock
    on that file: the kernel drops it when its holder dies, however it
    dies, and no other machine shares it. For a PostgreSQL database it
    is the one row of its lease table: a holder and an expiry, taken for
    GC_LEASE_MS and renewed every GC_LEASE_RENEW_MS by a thread of the
    lease's own, on a connection of its own. The holder's writes check
    the row in their own transaction (gc_store_fence), so a broker that
    lost it writes nothing, and a holder that cannot renew it in time
    ends the process (gc_lease_lost) before a standby may take it. */
#ifndef GC_LEASE_H_INCLUDED
#define GC_LEASE_H_INCLUDED

#include <stdbool.h>

typedef struct gc_lease_t gc_lease_t;

//  A lease on the database, not taken yet; NULL for ":memory:", which
//  no other broker can open
gc_lease_t *gc_lease_new (const char *database);

//  Gives the lease up, when held, so that a standby serves at once
void gc_lease_destroy (gc_lease_t **self_p);

//  Takes the lease if it is free: 1 taken (or held already), 0 held by
//  another broker (or, for a standby, the server is away for now), -1
//  the file cannot be opened or the server was never reached (the
//  reason is logged). Once a server's lease is taken it is renewed
//  until destroyed, and the process ends when that fails.
int gc_lease_take (gc_lease_t *self);

//  Who holds the lease in a server's database: this process's name
//  there, which its writes are fenced by; NULL for a file's lease
const char *gc_lease_holder (gc_lease_t *self);

//  Ends the process at once with GC_LEASE_LOST_EXIT, after logging why:
//  a broker that may no longer be the one serving must answer nothing
//  more. Every acknowledged say is committed already, so nothing of
//  worth goes with it.
void gc_lease_lost (const char *why);

void gc_lease_test (bool verbose);

#endif
