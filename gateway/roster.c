/*  roster.c: one room's presence as a gateway keeps it (see roster.h). */
#include "roster.h"
#include "gc_alloc.h"
#include "gc_limits.h"

//  The item of a set's members: zhashx wants one, the key is the member
#define S_IN ((void *) 1)

struct gc_roster_t {
    zhashx_t *local;            //  user -> connections here in the room (intptr_t)
    zhashx_t *present;          //  set: present as the broker told; NULL before a baseline
    zhashx_t *typing;           //  user -> monotonic ms their typing was last forwarded
};

gc_roster_t *
gc_roster_new (void)
{
    gc_roster_t *self = gc_calloc (1, sizeof *self);
    self->local = zhashx_new ();
    self->typing = zhashx_new ();
    return self;
}

void
gc_roster_destroy (gc_roster_t **self_p)
{
    gc_roster_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->local);
    zhashx_destroy (&self->present);
    zhashx_destroy (&self->typing);
    free (self);
    *self_p = NULL;
}

bool
gc_roster_enter (gc_roster_t *self, const char *user)
{
    intptr_t count = (intptr_t) zhashx_lookup (self->local, user) + 1;
    zhashx_update (self->local, user, (void *) count);
    return count == 1;
}

bool
gc_roster_exit (gc_roster_t *self, const char *user)
{
    intptr_t count = (intptr_t) zhashx_lookup (self->local, user) - 1;
    if (count > 0) {
        zhashx_update (self->local, user, (void *) count);
        return false;
    }
    zhashx_delete (self->local, user);
    zhashx_delete (self->typing, user);
    return count == 0;
}

zlistx_t *
gc_roster_local (gc_roster_t *self)
{
    zlistx_t *users = zhashx_keys (self->local);
    zlistx_set_comparator (users, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (users);
    return users;
}

static zhashx_t *
s_set_of (const gc_str_t *names, size_t size)
{
    zhashx_t *set = zhashx_new ();
    for (size_t index = 0; index < size; index++) {
        char name [GC_NAME_MAX + 1];
        if (gc_str_copy (names [index], name, sizeof name))
            zhashx_insert (set, name, S_IN);
    }
    return set;
}

void
gc_roster_baseline (gc_roster_t *self, const gc_str_t *names, size_t size)
{
    if (!self->present)
        self->present = s_set_of (names, size);
}

//  Calls fn with event for each member of `from` that `other` lacks, by name
static void
s_differences (zhashx_t *from, zhashx_t *other, const char *event, gc_roster_fn *fn, void *arg)
{
    zlistx_t *names = zhashx_keys (from);
    zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (names);
    for (char *name = zlistx_first (names); name; name = zlistx_next (names))
        if (!zhashx_lookup (other, name))
            fn (arg, name, event);
    zlistx_destroy (&names);
}

//  A snapshot: who is in the set and not in it left, who is in it and
//  not in the set joined; then it is the set
static void
s_apply_snapshot (gc_roster_t *self, zhashx_t *snapshot, gc_roster_fn *fn, void *arg)
{
    s_differences (self->present, snapshot, "leave", fn, arg);
    s_differences (snapshot, self->present, "join", fn, arg);
    zhashx_destroy (&self->present);
    self->present = snapshot;
}

void
gc_roster_apply (gc_roster_t *self, const gc_frame_t *event, gc_roster_fn *fn, void *arg)
{
    char user [GC_NAME_MAX + 1];
    if (gc_str_eq (event->event, "snapshot")) {
        zhashx_t *snapshot = s_set_of (event->names, event->names_size);
        if (self->present)
            s_apply_snapshot (self, snapshot, fn, arg);
        else
            self->present = snapshot;
        return;
    }
    bool join = gc_str_eq (event->event, "join");
    if ((!join && !gc_str_eq (event->event, "leave"))
    ||  !(event->fields & GC_F_USER) || !gc_str_copy (event->user, user, sizeof user))
        return;
    bool known = self->present && zhashx_lookup (self->present, user);
    if (self->present && join == known)
        return;                 //  no change: nothing to push
    if (self->present && join)
        zhashx_insert (self->present, user, S_IN);
    else
    if (self->present)
        zhashx_delete (self->present, user);
    fn (arg, user, join? "join": "leave");
}

bool
gc_roster_typing (gc_roster_t *self, const char *user, int64_t now)
{
    void *last = zhashx_lookup (self->typing, user);
    if (last && now - (intptr_t) last < GC_TYPING_INTERVAL_MS)
        return false;
    zhashx_update (self->typing, user, (void *) (intptr_t) now);
    return true;
}

//  --------------------------------------------------------------------------
//  Self test

static char s_test_pushed [256];

//  Records each push as "+user" or "-user", in order
static void
s_test_push (void *arg, const char *user, const char *event)
{
    (void) arg;
    strcat (s_test_pushed, streq (event, "join")? "+": "-");
    strcat (s_test_pushed, user);
}

static void
s_test_event (gc_roster_t *self, const char *user, const char *event, const char *expected)
{
    gc_frame_t frame;
    gc_frame_init (&frame, GC_OP_PRESENCE);
    gc_frame_set_cstr (&frame, GC_F_ROOM, "Taskmaster");
    gc_frame_set_cstr (&frame, GC_F_USER, user);
    gc_frame_set_cstr (&frame, GC_F_EVENT, event);
    s_test_pushed [0] = 0;
    gc_roster_apply (self, &frame, s_test_push, NULL);
    assert (streq (s_test_pushed, expected));
}

//  A snapshot of the names, pushing what differs from what was known
static void
s_test_snapshot (gc_roster_t *self, const gc_str_t *names, size_t size, const char *expected)
{
    gc_frame_t frame;
    gc_frame_init (&frame, GC_OP_PRESENCE);
    gc_frame_set_cstr (&frame, GC_F_ROOM, "Taskmaster");
    gc_frame_set_cstr (&frame, GC_F_EVENT, "snapshot");
    frame.names = (gc_str_t *) names;
    frame.names_size = size;
    frame.fields |= GC_F_NAMES;
    s_test_pushed [0] = 0;
    gc_roster_apply (self, &frame, s_test_push, NULL);
    assert (streq (s_test_pushed, expected));
}

void
gc_roster_test (bool verbose)
{
    if (verbose)
        printf (" * gc_roster: ");
    gc_roster_t *self = gc_roster_new ();
    //  One entry per user, however many connections
    assert (gc_roster_enter (self, "Sue") && !gc_roster_enter (self, "Sue"));
    assert (gc_roster_enter (self, "Alex"));
    zlistx_t *users = gc_roster_local (self);
    assert (zlistx_size (users) == 2 && streq (zlistx_first (users), "Alex"));
    zlistx_destroy (&users);
    assert (!gc_roster_exit (self, "Sue") && gc_roster_exit (self, "Sue"));
    assert (!gc_roster_exit (self, "Nobody"));
    //  Before a baseline, events pass as they come
    s_test_event (self, "Sandy", "join", "+Sandy");
    gc_str_t names [3] = { { "Alex", 4 }, { "Sandy", 5 }, { "Sue", 3 } };
    gc_roster_baseline (self, names, 2);
    gc_roster_baseline (self, names, 3);          //  the first one stands
    s_test_event (self, "Sandy", "join", "");
    s_test_event (self, "Sue", "join", "+Sue");
    s_test_event (self, "Sue", "join", "");
    s_test_event (self, "Alex", "leave", "-Alex");
    s_test_event (self, "Alex", "leave", "");
    s_test_event (self, "Alex", "wave", "");
    //  A snapshot pushes only the differences
    s_test_snapshot (self, names, 2, "-Sue+Alex");
    s_test_snapshot (self, names, 2, "");
    //  Typing: once a second per user
    assert (gc_roster_typing (self, "Sue", 5000) && !gc_roster_typing (self, "Sue", 5999));
    assert (gc_roster_typing (self, "Alex", 5999) && gc_roster_typing (self, "Sue", 6000));
    gc_roster_destroy (&self);
    gc_roster_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
