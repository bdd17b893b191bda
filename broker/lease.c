/*  lease.c: the database file's lease, an exclusive flock.

    flock, not fcntl's record locks: SQLite holds fcntl locks on the same
    file, and closing any descriptor of a file drops every fcntl lock the
    process holds on it, so the two must not share a kind. A flock
    belongs to the open file description, so a second gc_lease_t on the
    same file in one process is refused like another process would be. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "lease.h"
#include "gc_alloc.h"
#include "gc_log.h"

struct gc_lease_t {
    char *path;                 //  the database file
    int fd;                     //  open on it, holding the flock once taken; -1 before
    bool held;
};

//  Names a server rather than a file: no lease of ours
static bool
s_is_file (const char *database)
{
    return strncmp (database, "postgresql:", 11) && strncmp (database, "postgres:", 9)
        && strcmp (database, ":memory:");
}

gc_lease_t *
gc_lease_new (const char *database)
{
    if (strncmp (database, "sqlite:", 7) == 0)
        database += 7;
    if (!s_is_file (database))
        return NULL;
    gc_lease_t *self = gc_calloc (1, sizeof *self);
    self->path = gc_strdup (database);
    self->fd = -1;
    return self;
}

void
gc_lease_destroy (gc_lease_t **self_p)
{
    gc_lease_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);       //  drops the flock
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
gc_lease_take (gc_lease_t *self)
{
    if (self->held)
        return 1;
    //  The file may not exist yet: SQLite takes an empty file as a new
    //  database. Made private: the history is nobody else's
    if (self->fd < 0)
        self->fd = open (self->path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        gc_error ("lease: cannot open path=%s: %s", self->path, strerror (errno));
        return -1;
    }
    if (flock (self->fd, LOCK_EX | LOCK_NB) == 0)
        self->held = true;
    else
    if (errno != EWOULDBLOCK) {
        gc_error ("lease: cannot lock path=%s: %s", self->path, strerror (errno));
        return -1;
    }
    return self->held? 1: 0;
}


//  --------------------------------------------------------------------------
//  Self test

void
gc_lease_test (bool verbose)
{
    printf (" * gc_lease: ");
    char path [] = "/tmp/gc_lease_test.XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    close (fd);
    unlink (path);              //  the lease makes the file when it is missing

    //  A server's database has no lease here
    assert (gc_lease_new ("postgresql://chat@db/groupchat") == NULL);
    assert (gc_lease_new (":memory:") == NULL);

    //  The first takes it, the second waits, then takes it once it is free
    gc_lease_t *active = gc_lease_new (path);
    char prefixed [sizeof path + 8];
    snprintf (prefixed, sizeof prefixed, "sqlite:%s", path);
    gc_lease_t *standby = gc_lease_new (prefixed);
    assert (gc_lease_take (active) == 1);
    assert (access (path, F_OK) == 0);
    assert (gc_lease_take (active) == 1);
    assert (gc_lease_take (standby) == 0);
    assert (gc_lease_take (standby) == 0);
    gc_lease_destroy (&active);
    assert (gc_lease_take (standby) == 1);
    gc_lease_destroy (&standby);
    gc_lease_destroy (&standby);
    assert (standby == NULL);

    //  A file that cannot be made is an error, not a wait
    gc_lease_t *nowhere = gc_lease_new ("/nonexistent-folder/groupchat.db");
    assert (gc_lease_take (nowhere) == -1);
    gc_lease_destroy (&nowhere);
    unlink (path);
    if (verbose)
        printf ("(taken, refused while held, taken once freed, no lease for servers) ");
    printf ("OK\n");
}
