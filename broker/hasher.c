/*  hasher.c: a pool of worker actors verifying argon2id hashes.

    On the wire between threads a job is four frames (hash, password,
    deadline, context) and a verdict two ("1", "0" or "late", context):
    private to this file, which is the only one that builds or reads them.

    The bound is a count of jobs out (submitted, verdict not read), kept
    below the PUSH socket's high-water mark: a send can then never block,
    and a full queue is known without asking ZeroMQ. */
#include <sodium.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "hasher.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"

struct gc_hasher_t {
    zsock_t *jobs;              //  PUSH, round robin to the workers
    zsock_t *results;           //  PULL, from every worker
    zactor_t **workers;
    int worker_count;
    size_t waiting;             //  jobs out: submitted, verdict not read
    char dummy [crypto_pwhash_STRBYTES];
};

typedef struct {
    char jobs [64];             //  endpoints the worker connects to
    char results [64];
} s_endpoints_t;

//  True when the job's deadline frame says it is too late to hash it
static bool
s_late (zframe_t *deadline)
{
    int64_t when = 0;
    if (deadline && zframe_size (deadline) == sizeof when)
        memcpy (&when, zframe_data (deadline), sizeof when);
    return when && gc_clock_wall_ms () > when;
}

static void
s_verify (zmsg_t *job)
{
    zframe_t *hash = zmsg_pop (job);
    zframe_t *password = zmsg_pop (job);
    zframe_t *deadline = zmsg_pop (job);
    bool late = s_late (deadline), match = false;
    if (!late && hash && password && zframe_size (hash) < crypto_pwhash_STRBYTES) {
        char text [crypto_pwhash_STRBYTES];
        memcpy (text, zframe_data (hash), zframe_size (hash));
        text [zframe_size (hash)] = 0;
        match = crypto_pwhash_str_verify (text, (const char *) zframe_data (password),
                                          zframe_size (password)) == 0;
    }
    if (password)
        sodium_memzero (zframe_data (password), zframe_size (password));
    zframe_destroy (&hash);
    zframe_destroy (&password);
    zframe_destroy (&deadline);
    zmsg_pushstr (job, late? "late": match? "1": "0");
}

static void
s_lower_priority (void)
{
    int rc = setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), GC_HASHER_NICE);
    (void) rc;
}

static void
s_worker (zsock_t *pipe, void *args)
{
    s_endpoints_t *endpoints = args;
    //  Hashing is the one thing a stranger can make the broker do at will:
    //  it yields the cores to the loop (says, joins, token logins) and to
    //  the gateways on the same machine. Best effort: if refused, as is
    s_lower_priority ();
    zsock_t *jobs = zsock_new_pull (endpoints->jobs);
    zsock_t *results = zsock_new_push (endpoints->results);
    zpoller_t *poller = zpoller_new (pipe, jobs, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != jobs)
            break;              //  $TERM on the pipe, or interrupted
        zmsg_t *job = zmsg_recv (jobs);
        if (!job)
            break;
        s_verify (job);
        zmsg_send (&job, results);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&jobs);
    zsock_destroy (&results);
    free (endpoints);
}

gc_hasher_t *
gc_hasher_new (int workers)
{
    if (sodium_init () < 0)
        return NULL;
    gc_hasher_t *self = gc_calloc (1, sizeof *self);
    s_endpoints_t endpoints;
    snprintf (endpoints.jobs, sizeof endpoints.jobs, "inproc://gc-hasher-%p-jobs", (void *) self);
    snprintf (endpoints.results, sizeof endpoints.results, "inproc://gc-hasher-%p-results", (void *) self);
    self->jobs = zsock_new_push (endpoints.jobs);       //  '@' bind is the default
    self->results = zsock_new_pull (endpoints.results);
    if (self->jobs) {
        //  Room for every job out, and a send that would wait fails instead
        zsock_set_sndhwm (self->jobs, 2 * GC_HASHER_QUEUE_MAX);
        zsock_set_sndtimeo (self->jobs, 0);
    }
    unsigned char noise [32];
    randombytes_buf (noise, sizeof noise);
    if (!self->jobs || !self->results
    ||  crypto_pwhash_str (self->dummy, (const char *) noise, sizeof noise,
                           crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
        gc_hasher_destroy (&self);
        return NULL;
    }
    self->workers = gc_calloc (workers, sizeof (zactor_t *));
    for (self->worker_count = 0; self->worker_count < workers; self->worker_count++) {
        s_endpoints_t *copy = gc_malloc (sizeof *copy);
        *copy = endpoints;
        self->workers [self->worker_count] = zactor_new (s_worker, copy);
    }
    return self;
}

void
gc_hasher_destroy (gc_hasher_t **self_p)
{
    gc_hasher_t *self = *self_p;
    if (!self)
        return;
    for (int index = 0; index < self->worker_count; index++)
        zactor_destroy (&self->workers [index]);
    free (self->workers);
    zsock_destroy (&self->jobs);
    zsock_destroy (&self->results);
    free (self);
    *self_p = NULL;
}

int
gc_hasher_submit (gc_hasher_t *self, const gc_hasher_job_t *job)
{
    if (self->waiting >= GC_HASHER_QUEUE_MAX)
        return -1;
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, job->hash);
    zmsg_addmem (message, job->password, job->password_size);
    zmsg_addmem (message, &job->deadline, sizeof job->deadline);
    zmsg_addmem (message, job->context, job->context_size);
    int rc = zmsg_send (&message, self->jobs);
    zmsg_destroy (&message);
    if (rc == 0)
        self->waiting++;
    return rc;
}

size_t
gc_hasher_waiting (gc_hasher_t *self)
{
    return self->waiting;
}

zsock_t *
gc_hasher_results (gc_hasher_t *self)
{
    return self->results;
}

int
gc_hasher_verdict (gc_hasher_t *self, void *context, size_t context_size)
{
    zmsg_t *message = zmsg_recv (self->results);
    zframe_t *verdict = message? zmsg_first (message): NULL;
    zframe_t *carried = message? zmsg_next (message): NULL;
    int rc = GC_HASHER_NONE;
    if (message && self->waiting > 0)
        self->waiting--;
    if (carried && zframe_size (carried) == context_size) {
        memcpy (context, zframe_data (carried), context_size);
        rc = zframe_streq (verdict, "late")? GC_HASHER_LATE: zframe_streq (verdict, "1");
    }
    zmsg_destroy (&message);
    return rc;
}

const char *
gc_hasher_dummy (gc_hasher_t *self)
{
    return self->dummy;
}

//  A full queue refuses at once; jobs already late are answered without
//  a hash, so the queue drains in a moment
static void
s_test_bounded (gc_hasher_t *self, zpoller_t *poller, const char *hash)
{
    int64_t late = gc_clock_wall_ms () - 1;
    int64_t started = gc_clock_mono_us ();
    int index;
    for (index = 0; index < GC_HASHER_QUEUE_MAX; index++) {
        gc_hasher_job_t job = { hash, "secret", 6, &index, sizeof index, late };
        assert (gc_hasher_submit (self, &job) == 0);
    }
    gc_hasher_job_t more = { hash, "secret", 6, &index, sizeof index, 0 };
    assert (gc_hasher_submit (self, &more) == -1);
    assert (gc_hasher_waiting (self) == GC_HASHER_QUEUE_MAX);
    for (int count = 0; count < GC_HASHER_QUEUE_MAX; count++) {
        assert (zpoller_wait (poller, 10000));
        assert (gc_hasher_verdict (self, &index, sizeof index) == GC_HASHER_LATE);
    }
    //  No hash was computed: 32 of them would take about a second
    assert (gc_clock_mono_us () - started < 500000);
    assert (gc_hasher_waiting (self) == 0 && gc_hasher_submit (self, &more) == 0);
    assert (zpoller_wait (poller, 10000));
    assert (gc_hasher_verdict (self, &index, sizeof index) == 1);
}

void
gc_hasher_test (bool verbose)
{
    if (verbose)
        printf (" * gc_hasher: ");
    gc_hasher_t *self = gc_hasher_new (2);
    assert (self);
    char hash [crypto_pwhash_STRBYTES];
    assert (crypto_pwhash_str (hash, "secret", 6, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0);
    const char *tries [] = { "secret", "wrong", "" };
    for (int index = 0; index < 3; index++) {
        gc_hasher_job_t job = { hash, tries [index], strlen (tries [index]), &index, sizeof index, 0 };
        assert (gc_hasher_submit (self, &job) == 0);
    }
    //  Two workers: verdicts may come back in any order
    int matches = 0, seen = 0;
    zpoller_t *poller = zpoller_new (gc_hasher_results (self), NULL);
    for (int count = 0; count < 3; count++) {
        assert (zpoller_wait (poller, 10000));
        int index = -1;
        int verdict = gc_hasher_verdict (self, &index, sizeof index);
        assert (verdict >= 0 && index >= 0 && index < 3 && !(seen & (1 << index)));
        seen |= 1 << index;
        if (verdict == 1) {
            matches++;
            assert (index == 0);
        }
    }
    //  A context of another size is refused, not copied
    gc_hasher_job_t odd = { hash, "secret", 6, "xy", 2, 0 };
    assert (gc_hasher_submit (self, &odd) == 0);
    assert (zpoller_wait (poller, 10000));
    int index = -1;
    assert (gc_hasher_verdict (self, &index, sizeof index) == -1 && index == -1);
    assert (matches == 1);
    assert (strncmp (gc_hasher_dummy (self), "$argon2id$", 10) == 0);
    s_test_bounded (self, poller, hash);
    zpoller_destroy (&poller);
    gc_hasher_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
