/*  sessions.c: the end of users' sessions, and the check for ends missed.

    Generations only grow, so an end is never wrong late or twice: a
    `closed` ends the logins below its generation, and a login made after
    the change has that generation or a newer one. What can go wrong is
    an end never heard; that is what the check is for. It asks the broker
    the current generation of every user logged in here and ends the
    sessions below it. A reply on the DEALER follows every reply sent
    before it, so every login answered before the check was answered has
    a generation the check covers. */
#include "sessions.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

struct gc_sessions_t {
    gc_link_t *link;            //  to the broker
    gc_sessions_end_fn *end;
    gc_sessions_users_fn *users;
    void *arg;                  //  for end and users
    uint64_t heard;             //  newest generation heard of; 0: none yet
    uint64_t check_rid;         //  generations request in flight, 0 if none
    bool check_wanted;          //  a check to make once none is in flight
    char **asked;               //  the users the check in flight names
    size_t asked_size;
};

static void s_check_start (gc_sessions_t *self);

gc_sessions_t *
gc_sessions_new (gc_link_t *link, gc_sessions_end_fn *end, gc_sessions_users_fn *users,
                 void *arg)
{
    gc_sessions_t *self = gc_calloc (1, sizeof *self);
    self->link = link;
    self->end = end;
    self->users = users;
    self->arg = arg;
    gc_link_subscribe (link, GC_TOPIC_USERS, 0);
    return self;
}

static void
s_asked_free (gc_sessions_t *self)
{
    for (size_t index = 0; index < self->asked_size; index++)
        free (self->asked [index]);
    free (self->asked);
    self->asked = NULL;
    self->asked_size = 0;
}

void
gc_sessions_destroy (gc_sessions_t **self_p)
{
    gc_sessions_t *self = *self_p;
    if (!self)
        return;
    gc_link_forget (self->link, self->check_rid);
    s_asked_free (self);
    free (self);
    *self_p = NULL;
}

uint64_t
gc_sessions_heard (gc_sessions_t *self)
{
    return self->heard;
}

//  --------------------------------------------------------------------------
//  The check: the generations of the users logged in here

//  Ends what the broker's generations show to be over: a user at 0 is
//  gone, one at a newer generation has logins here that are behind
static void
s_on_generations (void *arg, const gc_frame_t *reply)
{
    gc_sessions_t *self = arg;
    self->check_rid = 0;
    bool answered = reply && reply->op == GC_OP_OK
                 && reply->generations_size == self->asked_size;
    for (size_t index = 0; answered && index < self->asked_size; index++) {
        uint64_t generation = reply->generations [index];
        self->end (self->arg, self->asked [index], generation? generation: UINT64_MAX,
                   generation? GC_REASON_ENDED: GC_REASON_REMOVED);
    }
    s_asked_free (self);
    if (!answered) {
        gc_warn ("sessions check not answered: asking again in a second");
        self->check_wanted = true;      //  the next tick asks, not a tight loop
    }
    else
    if (self->check_wanted)
        s_check_start (self);           //  another miss came meanwhile
}

static void
s_check_start (gc_sessions_t *self)
{
    self->check_wanted = false;
    zhashx_t *users = gc_alloc_checked (zhashx_new ());
    self->users (self->arg, users);
    self->asked_size = zhashx_size (users);
    if (self->asked_size) {
        self->asked = gc_calloc (self->asked_size, sizeof (char *));
        gc_str_t *names = gc_calloc (self->asked_size, sizeof (gc_str_t));
        size_t index = 0;
        for (void *item = zhashx_first (users); item; item = zhashx_next (users), index++) {
            self->asked [index] = gc_strdup (zhashx_cursor (users));
            names [index] = (gc_str_t) { self->asked [index], strlen (self->asked [index]) };
        }
        gc_frame_t request;
        gc_frame_init (&request, GC_OP_GENERATIONS);
        request.names = names;
        request.names_size = self->asked_size;
        request.fields |= GC_F_NAMES;
        gc_info ("sessions check users=%zu heard=%lu", self->asked_size,
                 (unsigned long) self->heard);
        self->check_rid = gc_link_request (self->link, &request, gc_clock_wall_ms (),
                                           s_on_generations, self);
        free (names);
        if (!self->check_rid) {
            s_asked_free (self);
            self->check_wanted = true;
        }
    }
    zhashx_destroy (&users);
}

//  An end may have been missed: check, now or when the check in flight is back
static void
s_check (gc_sessions_t *self)
{
    self->check_wanted = true;
    if (!self->check_rid)
        s_check_start (self);
}

void
gc_sessions_tick (gc_sessions_t *self)
{
    if (self->check_wanted && !self->check_rid)
        s_check_start (self);
}

//  --------------------------------------------------------------------------
//  Events

//  A closed follows the newest generation heard, or is an older one seen
//  again; a head is the newest. Anything else (a first head included)
//  may hide a missed closed. A head lower than what was heard is a broker
//  on an older database: its word is taken.
static void
s_heard (gc_sessions_t *self, uint64_t seq, bool closed)
{
    bool follows = closed? self->heard && seq <= self->heard + 1: seq == self->heard;
    if (!follows)
        s_check (self);
    if (!closed || seq > self->heard)
        self->heard = seq;
}

void
gc_sessions_on_event (gc_sessions_t *self, const gc_frame_t *event)
{
    if (!(event->fields & GC_F_SEQ))
        return;
    if (event->op == GC_OP_CLOSED && (event->fields & GC_F_USER)) {
        char user [GC_NAME_MAX + 1], reason [GC_CLOSE_REASON_MAX + 1];
        if (!(event->fields & GC_F_REASON) || !gc_str_copy (event->reason, reason, sizeof reason))
            strcpy (reason, GC_REASON_ENDED);
        if (gc_str_copy (event->user, user, sizeof user))
            self->end (self->arg, user, event->seq, reason);
        s_heard (self, event->seq, true);
    }
    else
    if (event->op == GC_OP_HEAD)
        s_heard (self, event->seq, false);
}

//  --------------------------------------------------------------------------
//  Self-test, against a real broker: its closed events, its heads, and
//  the check of the generations of the users "logged in" (Sue, Nobody)

#include <assert.h>
#include "testbed.h"

typedef struct {
    struct lws_context *context;
    gc_link_t *link;
    gc_sessions_t *sessions;
    bool drop_closed;           //  closed events are lost
    int ends;                   //  calls of end
    char user [32];             //  the last one's
    uint64_t below;
    char reason [128];
    int replies;                //  to the test's own requests
} s_test_t;

static void
s_test_on_event (void *arg, const gc_frame_t *event)
{
    s_test_t *test = arg;
    if (event->fields & GC_F_ROOM)
        return;
    if (event->op == GC_OP_CLOSED && test->drop_closed)
        return;
    gc_sessions_on_event (test->sessions, event);
}

static void
s_test_end (void *arg, const char *user, uint64_t below, const char *reason)
{
    s_test_t *test = arg;
    test->ends++;
    snprintf (test->user, sizeof test->user, "%s", user);
    test->below = below;
    snprintf (test->reason, sizeof test->reason, "%s", reason);
}

static void
s_test_users (void *arg, zhashx_t *users)
{
    (void) arg;
    zhashx_insert (users, "Sue", "Sue");
    zhashx_insert (users, "Nobody", "Nobody");
}

static void
s_test_on_reply (void *arg, const gc_frame_t *reply)
{
    s_test_t *test = arg;
    assert (reply && reply->op == GC_OP_OK);
    test->replies++;
}

//  A new password for Sue, as groupchat-admin sets it
static void
s_test_password (s_test_t *test)
{
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_PASSWORD_SET);
    gc_frame_set_cstr (&request, GC_F_USER, "Sue");
    gc_frame_set_cstr (&request, GC_F_HASH, "$argon2id$v=19$m=65536,t=2,p=1$new");
    int expected = test->replies + 1;
    assert (gc_link_request (test->link, &request, gc_clock_wall_ms (), s_test_on_reply, test));
    GC_TESTBED_UNTIL (test->context, test->replies == expected);
}

//  The first head is checked: Nobody is gone, Sue's logins below the
//  broker's generation of her are behind (none are, at 1)
static void
s_test_first_head (s_test_t *test)
{
    GC_TESTBED_UNTIL (test->context, test->ends == 2);
    assert (test->ends == 2 && gc_sessions_heard (test->sessions) == 1);
    assert (streq (test->user, "Sue") || streq (test->user, "Nobody"));
    assert (streq (test->user, "Sue")? test->below == 1 && streq (test->reason, GC_REASON_ENDED)
                                     : test->below == UINT64_MAX
                                       && streq (test->reason, GC_REASON_REMOVED));
}

void
gc_sessions_test (bool verbose)
{
    if (verbose)
        printf (" * gc_sessions: ");
    gc_testbed_t *testbed = gc_testbed_new ();
    s_test_t test = { .context = gc_testbed_context () };
    test.link = gc_testbed_link (testbed, test.context, s_test_on_event, &test);
    test.sessions = gc_sessions_new (test.link, s_test_end, s_test_users, &test);
    s_test_first_head (&test);

    //  A closed that follows: Sue's logins below its generation end, for
    //  its reason, and nothing is asked
    s_test_password (&test);
    GC_TESTBED_UNTIL (test.context, test.ends == 3);
    assert (test.ends == 3 && streq (test.user, "Sue") && test.below == 2);
    assert (streq (test.reason, GC_REASON_PASSWORD) && gc_sessions_heard (test.sessions) == 2);

    //  A closed lost: the broker's next head shows it, and the check
    //  ends Sue's logins below her generation now
    test.drop_closed = true;
    s_test_password (&test);
    GC_TESTBED_UNTIL (test.context, test.ends == 5);
    assert (test.ends == 5 && gc_sessions_heard (test.sessions) == 3);
    assert (streq (test.user, "Sue")? test.below == 3 && streq (test.reason, GC_REASON_ENDED)
                                    : test.below == UINT64_MAX);
    gc_sessions_tick (test.sessions);
    assert (test.ends == 5);

    gc_sessions_destroy (&test.sessions);
    gc_sessions_destroy (&test.sessions);
    gc_testbed_unlink (&test.link, test.context);
    gc_testbed_destroy (&testbed);
    if (verbose)
        printf ("OK\n");
}
