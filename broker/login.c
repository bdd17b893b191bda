/*  login.c: login by password (verified on the hasher's workers) or by
    token, logout, and the users' generations.

    A login's reply carries the user's generation (store.h), which the
    gateway sends with every request it makes for that login: once the
    user's password changes, or the name is removed and added again, the
    broker knows the login for one that is over.

    Password logins are throttled (throttle.c) by user name and by the
    client's address, as its gateway saw it: after a few failures each
    further one locks the name (or the address) for longer, and a locked
    one is refused without a hash, the right password too, with
    `rate_limited` and how long to wait. Names that do not exist are
    throttled alike, so the answers tell nothing about who exists. */
#include <sodium.h>
#include "login.h"
#include "hasher.h"
#include "throttle.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_metrics.h"

struct gc_login_t {
    gc_store_t *store;
    gc_replier_t *reply;
    gc_hasher_t *hasher;        //  argon2id on worker threads
    uint64_t ok, failed;        //  figures for the stats reply
    uint64_t busy, late;        //  refused: hash queue full; deadline passed first
    uint64_t throttled;         //  refused: the name or the address was locked
    uint64_t hashed;            //  password checks a worker computed
    gc_throttle_t *by_user;     //  failures per user name
    gc_throttle_t *by_address;  //  failures per client address
    int64_t swept_at;           //  the tables' last sweep
    int64_t purged_at;          //  expired tokens' last purge
};

//  A few mistakes are people; more are guessing. Addresses allow more,
//  as many people may share one (NAT, an office)
static const gc_throttle_policy_t s_user_policy = {
    GC_LOGIN_FREE_FAILURES, GC_LOGIN_WINDOW_MS, GC_LOGIN_FIRST_LOCK_MS,
    GC_LOGIN_LONGEST_LOCK_MS, GC_LOGIN_KEYS_MAX
};
static const gc_throttle_policy_t s_address_policy = {
    GC_LOGIN_FREE_FAILURES_PER_ADDRESS, GC_LOGIN_WINDOW_MS, GC_LOGIN_FIRST_LOCK_MS,
    GC_LOGIN_LONGEST_LOCK_MS, GC_LOGIN_KEYS_MAX
};

//  What a password login needs once its verdict is back: the job's
//  context, copied through the hasher as it is
typedef struct {
    gc_identity_t identity;     //  the requester
    uint64_t rid;
    bool has_deadline;
    int64_t deadline;
    char user [GC_NAME_MAX + 1];
    char address [GC_ADDRESS_MAX + 1];  //  "" when the gateway gave none
    bool known;                 //  false: checked against the dummy hash
    uint64_t generation;        //  the user's when the hash was read
} s_job_t;

gc_login_t *
gc_login_new (gc_store_t *store, gc_replier_t *reply)
{
    gc_login_t *self = gc_calloc (1, sizeof *self);
    self->store = store;
    self->reply = reply;
    self->hasher = gc_hasher_new (GC_BROKER_HASH_WORKERS);
    self->by_user = gc_throttle_new (&s_user_policy);
    self->by_address = gc_throttle_new (&s_address_policy);
    if (!self->hasher)
        gc_login_destroy (&self);
    return self;
}

void
gc_login_destroy (gc_login_t **self_p)
{
    gc_login_t *self = *self_p;
    if (!self)
        return;
    gc_hasher_destroy (&self->hasher);
    gc_throttle_destroy (&self->by_user);
    gc_throttle_destroy (&self->by_address);
    free (self);
    *self_p = NULL;
}

//  The one answer to a login that succeeded: a new session's token, or
//  the token it came with, and the user's generation
static void
s_welcome (gc_login_t *self, const gc_identity_t *identity, uint64_t rid,
           const char *user, const char *token, const char *with)
{
    gc_frame_t reply;
    gc_replier_init (&reply, rid);
    gc_frame_set_cstr (&reply, GC_F_USER, user);
    gc_frame_set_cstr (&reply, GC_F_TOKEN, token);
    gc_frame_set_uint (&reply, GC_F_GENERATION, gc_store_user_generation (self->store, user));
    gc_replier_send (self->reply, identity, &reply);
    gc_info ("login user=%s with=%s", gc_log_quoted (user), with);
    self->ok++;
}

static void
s_login_with_token (gc_login_t *self, const gc_broker_request_t *request)
{
    char token [GC_TOKEN_LEN + 1];
    char *user = gc_str_copy (request->frame.token, token, sizeof token)?
                 gc_store_token_user (self->store, token, gc_clock_wall_ms ()): NULL;
    if (user)
        s_welcome (self, &request->identity, request->frame.rid, user, token, "token");
    else
        gc_replier_error (self->reply, &request->identity, request->frame.rid,
                        GC_BAD_CREDENTIALS, "bad or expired token");
    free (user);
}

//  How long the job's name or address must still wait, in ms
static int64_t
s_locked_for (gc_login_t *self, const s_job_t *job, int64_t now)
{
    int64_t user = gc_throttle_wait (self->by_user, job->user, now);
    int64_t address = *job->address? gc_throttle_wait (self->by_address, job->address, now): 0;
    return user > address? user: address;
}

static void
s_refuse_locked (gc_login_t *self, const s_job_t *job, int64_t wait_ms)
{
    char why [80];
    snprintf (why, sizeof why, "too many password logins: try again in %" PRId64 " s",
              (wait_ms + 999) / 1000);
    gc_replier_refuse (self->reply, &job->identity, job->rid, GC_RATE_LIMITED, why,
                       (uint64_t) wait_ms);
    self->throttled++;
}

//  A check handed to a worker counts against its name and address until
//  its verdict, as the failure it may be
static void
s_judging (gc_login_t *self, const s_job_t *job, bool started)
{
    void (*count) (gc_throttle_t *, const char *) = started? gc_throttle_started
                                                           : gc_throttle_ended;
    count (self->by_user, job->user);
    if (*job->address)
        count (self->by_address, job->address);
}

//  Hands the password check to a hash worker; gc_login_verified
//  finishes it. Unknown users are checked against a dummy hash, so that
//  they take as long as real ones. A locked name or address is refused
//  first, without a hash.
static void
s_login_with_password (gc_login_t *self, const gc_broker_request_t *request)
{
    const gc_frame_t *frame = &request->frame;
    s_job_t job = {
        .identity = request->identity, .rid = frame->rid,
        .has_deadline = (frame->fields & GC_F_DEADLINE) != 0, .deadline = frame->deadline
    };
    if (!gc_str_copy (frame->user, job.user, sizeof job.user)
    ||  ((frame->fields & GC_F_ADDRESS) && !gc_str_copy (frame->address, job.address,
                                                         sizeof job.address))) {
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_BAD_CREDENTIALS,
                          "wrong user name or password");
        return;
    }
    int64_t wait_ms = s_locked_for (self, &job, gc_clock_wall_ms ());
    if (wait_ms > 0) {
        s_refuse_locked (self, &job, wait_ms);
        return;
    }
    char *hash = gc_store_password_hash (self->store, job.user);
    job.known = hash != NULL;
    job.generation = hash? gc_store_user_generation (self->store, job.user): 0;
    gc_hasher_job_t check = {
        hash? hash: gc_hasher_dummy (self->hasher),
        frame->password.ptr, frame->password.len, &job, sizeof job,
        job.has_deadline? job.deadline: 0
    };
    if (gc_hasher_submit (self->hasher, &check)) {
        self->busy++;
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_UNAVAILABLE,
                          "too many password logins at once, try again");
    }
    else
        s_judging (self, &job, true);
    free (hash);
}

void
gc_login_handle (void *arg, const gc_broker_request_t *request)
{
    gc_login_t *self = arg;
    uint32_t fields = request->frame.fields;
    if (fields & GC_F_TOKEN)
        s_login_with_token (self, request);
    else
    if ((fields & GC_F_USER) && (fields & GC_F_PASSWORD))
        s_login_with_password (self, request);
    else
        gc_replier_error (self->reply, &request->identity, request->frame.rid, GC_BAD_REQUEST,
                        "login needs user and password, or token");
}

//  The verdict is on the hash read when the login came: it stands only if
//  the user's password was not set, nor the name removed and added
//  again, while the hash was checked
void
gc_login_verified (gc_login_t *self)
{
    s_job_t job;
    int verdict = gc_hasher_verdict (self->hasher, &job, sizeof job);
    if (verdict < 0)
        return;
    s_judging (self, &job, false);
    char token [GC_TOKEN_LEN + 1];
    int64_t now = gc_clock_wall_ms ();
    bool same = job.known && gc_store_user_generation (self->store, job.user) == job.generation;
    if (verdict != GC_HASHER_LATE)
        self->hashed++;
    if (verdict == GC_HASHER_LATE || (job.has_deadline && now > job.deadline)) {
        self->late++;
        gc_replier_error (self->reply, &job.identity, job.rid, GC_EXPIRED, NULL);
    }
    else
    if (verdict == 1 && same && gc_store_token_new (self->store, job.user, now, token) == 0) {
        gc_throttle_succeeded (self->by_user, job.user);
        s_welcome (self, &job.identity, job.rid, job.user, token, "password");
    }
    else {
        gc_info ("login refused");
        self->failed++;
        gc_throttle_failed (self->by_user, job.user, now);
        if (*job.address)
            gc_throttle_failed (self->by_address, job.address, now);
        gc_replier_error (self->reply, &job.identity, job.rid, GC_BAD_CREDENTIALS,
                        "wrong user name or password");
    }
}

void
gc_login_logout (void *arg, const gc_broker_request_t *request)
{
    gc_login_t *self = arg;
    char token [GC_TOKEN_LEN + 1];
    if (gc_str_copy (request->frame.token, token, sizeof token))
        gc_store_token_delete (self->store, token);
    gc_replier_ok (self->reply, request);
}

void
gc_login_sweep (gc_login_t *self, int64_t now)
{
    if (now - self->purged_at >= GC_TOKEN_PURGE_MS) {
        int purged = gc_store_tokens_purge (self->store, now);
        if (purged > 0)
            gc_info ("purged expired tokens=%d", purged);
        self->purged_at = now;
    }
    if (now - self->swept_at < GC_LOGIN_SWEEP_MS)
        return;
    gc_throttle_sweep (self->by_user, now);
    gc_throttle_sweep (self->by_address, now);
    self->swept_at = now;
}

//  A gateway asks for the generations of the users logged in on it when
//  it may have missed a closed event; a name no user has is at 0
void
gc_login_generations (void *arg, const gc_broker_request_t *request)
{
    gc_login_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    if (!(frame->fields & GC_F_NAMES)) {
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_BAD_REQUEST,
                          "names missing");
        return;
    }
    gc_frame_t reply;
    gc_replier_init (&reply, frame->rid);
    reply.generations = gc_calloc (frame->names_size + 1, sizeof (uint64_t));
    reply.generations_size = frame->names_size;
    reply.fields |= GC_F_GENERATIONS;
    for (size_t index = 0; index < frame->names_size; index++) {
        char user [GC_NAME_MAX + 1];
        if (gc_str_copy (frame->names [index], user, sizeof user))
            reply.generations [index] = gc_store_user_generation (self->store, user);
    }
    gc_replier_send (self->reply, &request->identity, &reply);
    free (reply.generations);
}

zsock_t *
gc_login_verdicts (gc_login_t *self)
{
    return gc_hasher_results (self->hasher);
}

void
gc_login_metrics (gc_login_t *self, FILE *stream)
{
    gc_metric_write (stream, "groupchat_broker_logins_ok_total", "counter",
                     "Successful logins.", (double) self->ok);
    gc_metric_write (stream, "groupchat_broker_logins_failed_total", "counter",
                     "Refused password logins.", (double) self->failed);
    gc_metric_write (stream, "groupchat_broker_logins_busy_total", "counter",
                     "Password logins refused at once: every hash worker's queue was full.",
                     (double) self->busy);
    gc_metric_write (stream, "groupchat_broker_logins_late_total", "counter",
                     "Password logins whose deadline passed before their hash was checked.",
                     (double) self->late);
    gc_metric_write (stream, "groupchat_broker_logins_throttled_total", "counter",
                     "Password logins refused unhashed: the name or address was locked.",
                     (double) self->throttled);
    gc_metric_write (stream, "groupchat_broker_password_hashes_total", "counter",
                     "Password hashes computed (argon2id); late logins are not hashed.",
                     (double) self->hashed);
    gc_metric_write (stream, "groupchat_broker_login_throttle_keys", "gauge",
                     "User names and addresses with failed logins counted.",
                     (double) (gc_throttle_size (self->by_user) + gc_throttle_size (self->by_address)));
    gc_metric_write (stream, "groupchat_broker_hash_queue", "gauge",
                     "Password checks waiting for a hash worker or being checked.",
                     (double) gc_hasher_waiting (self->hasher));
}

//  --------------------------------------------------------------------------
//  Self test

//  Hands a password login to the workers (deadline 0: none)
static void
s_test_submit (gc_rig_t *rig, gc_login_t *self, const char *user, const char *password,
               int64_t deadline)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_LOGIN, user, NULL);
    gc_frame_set_cstr (&request.frame, GC_F_PASSWORD, password);
    if (deadline)
        gc_frame_set_uint (&request.frame, GC_F_DEADLINE, (uint64_t) deadline);
    gc_login_handle (self, &request);
}

//  Waits for the verdict and answers; returns the reply's code and copies
//  its token, if any. An ok carries the user's generation.
static gc_error_t
s_test_verdict (gc_rig_t *rig, gc_login_t *self, const char *user, char *token)
{
    //  A throttled login is answered at once, with no verdict to wait for
    zpoller_t *poller = zpoller_new (gc_login_verdicts (self), rig->dealer, NULL);
    void *ready = zpoller_wait (poller, 10000);
    assert (ready);
    zpoller_destroy (&poller);
    if (ready != rig->dealer)
        gc_login_verified (self);
    gc_frame_t reply;
    zmsg_t *holder;
    gc_rig_recv (rig->dealer, &reply, &holder);
    assert (reply.rid == rig->rid);
    gc_error_t code = reply.op == GC_OP_OK? GC_OK: reply.code;
    if (code == GC_RATE_LIMITED)
        assert ((reply.fields & GC_F_RETRY_AFTER) && reply.retry_after > 0);
    if (code == GC_OK) {
        assert (gc_str_eq (reply.user, user) && reply.token.len == GC_TOKEN_LEN);
        assert (reply.generation == gc_store_user_generation (rig->store, user));
        gc_str_copy (reply.token, token, GC_TOKEN_LEN + 1);
    }
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    return code;
}

static gc_error_t
s_test_password (gc_rig_t *rig, gc_login_t *self, const char *user, const char *password,
                 int64_t deadline, char *token)
{
    s_test_submit (rig, self, user, password, deadline);
    return s_test_verdict (rig, self, user, token);
}

//  A password set while the hash is checked: the verdict was on the old
//  hash, and the login is refused, even when the new password is the same
static void
s_test_changed_meanwhile (gc_rig_t *rig, gc_login_t *self)
{
    char token [GC_TOKEN_LEN + 1];
    s_test_submit (rig, self, "Alex", "password", 0);
    char *hash = gc_store_password_hash (rig->store, "Alex");
    assert (gc_store_password_set (rig->store, "Alex", hash) == GC_OK);
    free (hash);
    assert (s_test_verdict (rig, self, "Alex", token) == GC_BAD_CREDENTIALS);
    assert (s_test_password (rig, self, "Alex", "password", 0, token) == GC_OK);
}

//  The generations of the users named, in order; 0 for a name no one has
static void
s_test_generations (gc_rig_t *rig, gc_login_t *self)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_GENERATIONS, NULL, NULL);
    gc_str_t names [3] = { { "Sue", 3 }, { "Nobody", 6 }, { "Alex", 4 } };
    request.frame.names = names;
    request.frame.names_size = 3;
    request.frame.fields |= GC_F_NAMES;
    gc_login_generations (self, &request);
    gc_frame_t reply;
    zmsg_t *holder;
    gc_rig_recv (rig->dealer, &reply, &holder);
    assert (reply.op == GC_OP_OK && reply.generations_size == 3);
    assert (reply.generations [0] == 1 && reply.generations [1] == 0);
    assert (reply.generations [2] == gc_store_user_generation (rig->store, "Alex"));
    assert (reply.generations [2] > 1);
    gc_frame_release (&reply), zmsg_destroy (&holder);
    gc_rig_request (rig, &request, GC_OP_GENERATIONS, NULL, NULL);
    gc_login_generations (self, &request);
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);
}

//  The free failures, then a lock: the right password is refused too,
//  without a hash, and so is a name that does not exist
static void
s_test_throttled (gc_rig_t *rig, gc_login_t *self)
{
    char token [GC_TOKEN_LEN + 1];
    for (int count = 0; count < GC_LOGIN_FREE_FAILURES + 1; count++)
        assert (s_test_password (rig, self, "Sandy", "guess", 0, token) == GC_BAD_CREDENTIALS);
    assert (s_test_password (rig, self, "Sandy", "password", 0, token) == GC_RATE_LIMITED);
    //  Asked before another hash: under valgrind one outlasts the 1 s lock
    assert (gc_throttle_wait (self->by_user, "Sandy", gc_clock_wall_ms ()) > 0);
    assert (s_test_password (rig, self, "Sue", "password", 0, token) == GC_OK);
    //  An address gets as far, then its every login waits, whatever the name
    for (int count = 0; count < GC_LOGIN_FREE_FAILURES; count++)
        gc_throttle_failed (self->by_address, "192.0.2.1", gc_clock_wall_ms ());
    assert (gc_throttle_wait (self->by_address, "192.0.2.1", gc_clock_wall_ms ()) == 0);
    for (int count = GC_LOGIN_FREE_FAILURES; count <= GC_LOGIN_FREE_FAILURES_PER_ADDRESS; count++)
        gc_throttle_failed (self->by_address, "192.0.2.1", gc_clock_wall_ms ());
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_LOGIN, "Alex", NULL);
    gc_frame_set_cstr (&request.frame, GC_F_PASSWORD, "password");
    gc_frame_set_cstr (&request.frame, GC_F_ADDRESS, "192.0.2.1");
    gc_login_handle (self, &request);
    assert (gc_rig_reply (rig) == GC_RATE_LIMITED);
}

static gc_error_t
s_test_token (gc_rig_t *rig, gc_login_t *self, gc_op_t op, const char *token)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, op, NULL, NULL);
    if (token)
        gc_frame_set_cstr (&request.frame, GC_F_TOKEN, token);
    if (op == GC_OP_LOGIN)
        gc_login_handle (self, &request);
    else
        gc_login_logout (self, &request);
    return gc_rig_reply (rig);
}

void
gc_login_test (bool verbose)
{
    if (verbose)
        printf (" * gc_login: ");
    gc_rig_t *rig = gc_rig_new ();
    gc_login_t *self = gc_login_new (rig->store, rig->reply);
    assert (self);
    char token [GC_TOKEN_LEN + 1], other [GC_TOKEN_LEN + 1];
    assert (s_test_password (rig, self, "Sue", "password", 0, token) == GC_OK);
    assert (s_test_password (rig, self, "Sue", "wrong", 0, other) == GC_BAD_CREDENTIALS);
    assert (s_test_password (rig, self, "Nobody", "password", 0, other) == GC_BAD_CREDENTIALS);
    //  A deadline that passes while the hash is checked: refused, no token
    assert (s_test_password (rig, self, "Sue", "password", gc_clock_wall_ms () - 1, other)
            == GC_EXPIRED);
    assert (s_test_token (rig, self, GC_OP_LOGIN, token) == GC_OK);
    assert (s_test_token (rig, self, GC_OP_LOGIN, "forged") == GC_BAD_CREDENTIALS);
    assert (s_test_token (rig, self, GC_OP_LOGIN, NULL) == GC_BAD_REQUEST);
    assert (s_test_token (rig, self, GC_OP_LOGOUT, token) == GC_OK);
    assert (s_test_token (rig, self, GC_OP_LOGIN, token) == GC_BAD_CREDENTIALS);
    s_test_changed_meanwhile (rig, self);
    s_test_generations (rig, self);
    s_test_throttled (rig, self);
    gc_login_metrics (self, gc_rig_capture (rig));
    assert (gc_rig_captured (rig, "groupchat_broker_logins_ok_total 4"));
    assert (gc_rig_captured (rig, "groupchat_broker_logins_failed_total 9"));
    assert (gc_rig_captured (rig, "groupchat_broker_logins_throttled_total 2"));
    //  Every verdict but the late one, which no worker hashed
    assert (gc_rig_captured (rig, "groupchat_broker_password_hashes_total 12"));
    gc_login_destroy (&self);
    gc_login_destroy (&self);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
