/*  lease.c: the database's lease: a file's flock, or a server's row.

    flock, not fcntl's record locks: SQLite holds fcntl locks on the same
    file, and closing any descriptor of a file drops every fcntl lock the
    process holds on it, so the two must not share a kind. A flock
    belongs to the open file description, so a second gc_lease_t on the
    same file in one process is refused like another process would be.

    A PostgreSQL database's lease is the row of its lease table (made by
    the store's schema, version 4), whose expiry is the server's clock:
    the brokers' clocks never meet. A standby takes it once it has
    expired; its holder renews it while it is still its own. Its own
    connection and thread, not the store's: the store's connection is
    the broker's loop's, which may wait on a commit, and the lease must
    be renewed while the broker opens its store (seeding takes seconds
    under valgrind) and while it serves. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <sodium.h>
#include "lease.h"
#include "store_backend.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

#define S_STRING(value) #value
#define S_NUMBER(value) S_STRING (value)
#define S_LEASE_INTERVAL "interval '" S_NUMBER (GC_LEASE_MS) " milliseconds'"

//  A server's lease: waits for a row lock a second at most (a commit of
//  the holder's holds one); a session idle inside a transaction, its
//  broker stopped half-way, is ended by the server
static const char *s_session =
    "SET lock_timeout = 1000;"
    "SET idle_in_transaction_session_timeout = " S_NUMBER (GC_LEASE_MS);
//  Taken when it has expired, or is ours already
static const char *s_take =
    "UPDATE lease SET holder = $1::text, expires = now () + " S_LEASE_INTERVAL
    " WHERE id = 1 AND (expires < now () OR holder = $1)";
//  Renewed while it names us: expired, it is still ours until a standby
//  takes it, and once one has, it is never taken back
static const char *s_renew =
    "UPDATE lease SET expires = now () + " S_LEASE_INTERVAL
    " WHERE id = 1 AND holder = $1::text";
static const char *s_release =
    "UPDATE lease SET expires = '-infinity' WHERE id = 1 AND holder = $1::text";

struct gc_lease_t {
    bool held;
    //  A database file's
    char *path;                 //  the database file; NULL for a server's
    int fd;                     //  open on it, holding the flock once taken; -1 before
    //  A server's
    char *uri;                  //  libpq URI, passed whole and never logged
    char holder [96];           //  this process in the lease row: host:pid:random
    PGconn *conn;               //  the lease's own; the renewer's once held
    bool reached;               //  the server answered once: a standby outlives its absence
    int64_t renewed_us;         //  monotonic, when the last renewal (or take) was asked
    pthread_t renewer;          //  renews while held
    pthread_mutex_t mutex;      //  guards stopping
    pthread_cond_t wake;        //  the renewer's tick, or its stop
    bool stopping;              //  the renewer ends
};

//  Names a server rather than a file
static bool
s_is_server (const char *database)
{
    return strncmp (database, "postgresql:", 11) == 0 || strncmp (database, "postgres:", 9) == 0;
}

gc_lease_t *
gc_lease_new (const char *database)
{
    if (strncmp (database, "sqlite:", 7) == 0)
        database += 7;
    if (strcmp (database, ":memory:") == 0)
        return NULL;
    gc_lease_t *self = gc_calloc (1, sizeof *self);
    self->fd = -1;
    if (s_is_server (database)) {
        if (sodium_init () < 0) {
            free (self);
            return NULL;
        }
        char host [64] = "";
        gethostname (host, sizeof host - 1);
        snprintf (self->holder, sizeof self->holder, "%s:%d:%08x", host, (int) getpid (),
                  randombytes_random ());
        self->uri = gc_strdup (database);
        pthread_mutex_init (&self->mutex, NULL);
        pthread_condattr_t attributes;
        pthread_condattr_init (&attributes);
        pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
        pthread_cond_init (&self->wake, &attributes);
        pthread_condattr_destroy (&attributes);
    }
    else
        self->path = gc_strdup (database);
    return self;
}

void
gc_lease_lost (const char *why)
{
    gc_error ("lost the database lease (%s): stopping so that another broker may serve "
              "exit=%d", why, GC_LEASE_LOST_EXIT);
    _exit (GC_LEASE_LOST_EXIT);
}

//  --------------------------------------------------------------------------
//  A server's lease

//  Waits until the connection's answer is in or until_us (monotonic)
//  has passed: true when it is in. An answer that came while this
//  thread was not running (the process starved, or under valgrind,
//  which runs one thread at a time) is in on time: only a server that
//  sent nothing is late
static bool
s_answered_by (gc_lease_t *self, int64_t until_us)
{
    while (PQisBusy (self->conn)) {
        int64_t left_us = until_us - gc_clock_mono_us ();
        if (left_us <= 0)
            return PQconsumeInput (self->conn) && !PQisBusy (self->conn);
        struct pollfd ready = { .fd = PQsocket (self->conn), .events = POLLIN };
        int woken = poll (&ready, 1, (int) ((left_us + 999) / 1000));
        if ((woken < 0 && errno != EINTR) || (woken > 0 && !PQconsumeInput (self->conn)))
            return true;        //  the error is the answer
    }
    return true;
}

//  Runs one of the lease's statements with the holder: rows changed, -1
//  (logged), or -2 when no answer came by until_us (monotonic). The
//  deadline is the point: a server gone silent (frozen, or cut off by
//  the network) must not hold the renewer past the lease's end, where
//  it could no longer stop before a standby takes over
static int
s_run_by (gc_lease_t *self, const char *sql, int64_t until_us)
{
    const char *values [1] = { self->holder };
    if (!PQsendQueryParams (self->conn, sql, 1, NULL, values, NULL, NULL, 0)) {
        gc_warn ("lease: %s", PQerrorMessage (self->conn));
        return -1;
    }
    //  However late this thread sent it, the server has a renewal's
    //  period to answer: it judges whether a late renewal still holds
    int64_t floor_us = gc_clock_mono_us () + GC_LEASE_RENEW_MS * 1000;
    if (!s_answered_by (self, until_us > floor_us? until_us: floor_us))
        return -2;
    int changed = -1;
    PGresult *result;
    while ((result = PQgetResult (self->conn))) {
        if (PQresultStatus (result) == PGRES_COMMAND_OK)
            changed = atoi (PQcmdTuples (result));
        else
            gc_warn ("lease: %s", PQerrorMessage (self->conn));
        PQclear (result);
    }
    return changed;
}

//  A statement with no deadline of its own: a lease's length. A
//  connection that did not answer still owes that answer: the next try
//  makes a new one
static int
s_run (gc_lease_t *self, const char *sql)
{
    int changed = s_run_by (self, sql, gc_clock_mono_us () + GC_LEASE_MS * 1000);
    if (changed == -2) {
        gc_warn ("lease: PostgreSQL did not answer within %d ms", GC_LEASE_MS);
        PQfinish (self->conn);
        self->conn = NULL;
    }
    return changed < 0? -1: changed;
}

//  A working connection with the session's settings and the newest
//  tables (the lease table among them): true, or false after logging
static bool
s_connect (gc_lease_t *self)
{
    if (self->conn && PQstatus (self->conn) == CONNECTION_OK)
        return true;
    PQfinish (self->conn);
    self->conn = gc_store_pg_connect (self->uri, "groupchat-broker lease");
    if (PQstatus (self->conn) != CONNECTION_OK) {
        if (!self->reached)
            gc_error ("lease: cannot connect to PostgreSQL: %s", PQerrorMessage (self->conn));
        return false;
    }
    PGresult *result = PQexec (self->conn, s_session);
    bool ready = PQresultStatus (result) == PGRES_COMMAND_OK
              && gc_store_pg_upgrade (self->conn) == 0;
    PQclear (result);
    if (ready && self->reached)
        gc_info ("lease: connected to PostgreSQL again");
    self->reached |= ready;
    return ready;
}

static int
s_server_take (gc_lease_t *self)
{
    if (!s_connect (self))
        return self->reached? 0: -1;
    int64_t asked = gc_clock_mono_us ();
    if (s_run (self, s_take) != 1)
        return 0;
    self->renewed_us = asked;
    return 1;
}

//  Renews the lease every GC_LEASE_RENEW_MS. Its end is taken as
//  another's take: once the server said it is not ours, once the
//  connection went (its transactions' checks with it), or once renewals
//  failed for GC_LEASE_MS - GC_LEASE_RENEW_MS, with a margin for the two
//  clocks' rates before it expires on the server's. A renewal merely
//  late (this process stopped, or starved under valgrind) is the
//  server's to judge: it renews only a lease nobody took meanwhile
static void *
s_renewer (void *arg)
{
    gc_lease_t *self = arg;
    const int64_t limit_us = (GC_LEASE_MS - GC_LEASE_RENEW_MS) * 1000;
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_nsec += GC_LEASE_RENEW_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait (&self->wake, &self->mutex, &until) != ETIMEDOUT)
            continue;
        pthread_mutex_unlock (&self->mutex);
        //  The answer is awaited until 0.5 s before the lease could end
        int64_t asked = gc_clock_mono_us ();
        int renewed = s_run_by (self, s_renew, self->renewed_us + limit_us);
        if (renewed == 1)
            self->renewed_us = asked;
        else
        if (renewed == 0)
            gc_lease_lost ("another broker holds it, or it expired");
        else
        if (renewed == -2)
            gc_lease_lost ("PostgreSQL did not answer in time");
        else
        if (PQstatus (self->conn) != CONNECTION_OK)
            gc_lease_lost ("the connection to PostgreSQL was lost");
        else
        if (asked - self->renewed_us > limit_us)
            gc_lease_lost ("not renewed in time");
        pthread_mutex_lock (&self->mutex);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Either kind

void
gc_lease_destroy (gc_lease_t **self_p)
{
    gc_lease_t *self = *self_p;
    if (!self)
        return;
    if (self->uri) {
        if (self->held) {
            pthread_mutex_lock (&self->mutex);
            self->stopping = true;
            pthread_cond_signal (&self->wake);
            pthread_mutex_unlock (&self->mutex);
            pthread_join (self->renewer, NULL);
            s_run (self, s_release);
        }
        PQfinish (self->conn);
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->mutex);
        free (self->uri);
    }
    if (self->fd >= 0)
        close (self->fd);       //  drops the flock
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  The file may not exist yet: SQLite takes an empty file as a new
//  database. Made private: the history is nobody else's
static int
s_file_take (gc_lease_t *self)
{
    if (self->fd < 0)
        self->fd = open (self->path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        gc_error ("lease: cannot open path=%s: %s", self->path, strerror (errno));
        return -1;
    }
    if (flock (self->fd, LOCK_EX | LOCK_NB) == 0)
        return 1;
    if (errno != EWOULDBLOCK) {
        gc_error ("lease: cannot lock path=%s: %s", self->path, strerror (errno));
        return -1;
    }
    return 0;
}

int
gc_lease_take (gc_lease_t *self)
{
    if (self->held)
        return 1;
    int taken = self->uri? s_server_take (self): s_file_take (self);
    if (taken == 1 && self->uri
    &&  pthread_create (&self->renewer, NULL, s_renewer, self)) {
        gc_error ("lease: cannot start its renewal: %s", strerror (errno));
        s_run (self, s_release);
        return -1;
    }
    self->held = taken == 1;
    return taken;
}

const char *
gc_lease_holder (gc_lease_t *self)
{
    return self->uri? self->holder: NULL;
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

    //  An in-memory database has no other broker
    assert (gc_lease_new (":memory:") == NULL);

    //  The first takes it, the second waits, then takes it once it is free
    gc_lease_t *active = gc_lease_new (path);
    char prefixed [sizeof path + 8];
    snprintf (prefixed, sizeof prefixed, "sqlite:%s", path);
    gc_lease_t *standby = gc_lease_new (prefixed);
    assert (gc_lease_holder (active) == NULL);
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

    //  A server's lease names its holder; a server never reached is an
    //  error too (tests/integration/test_standby_postgres.py takes it)
    gc_lease_t *server = gc_lease_new ("postgresql://nobody@127.0.0.1:1/groupchat");
    gc_lease_t *other = gc_lease_new ("postgres://nobody@127.0.0.1:1/groupchat");
    assert (server && other);
    assert (strlen (gc_lease_holder (server)) > 0);
    assert (strcmp (gc_lease_holder (server), gc_lease_holder (other)) != 0);
    assert (gc_lease_take (server) == -1);
    gc_lease_destroy (&server);
    gc_lease_destroy (&other);
    if (verbose)
        printf ("(taken, refused while held, taken once freed; a server's names its holder) ");
    printf ("OK\n");
}
