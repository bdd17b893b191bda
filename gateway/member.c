/*  member.c: a connection's place in a room, and its catch-up.

    A member that fell further behind than the room's ring reaches reads
    from a catch-up instead: up to GC_CATCHUP_BATCH frames after its
    cursor, fetched from the broker's history and encoded for this member
    alone. A slow reader costs itself a fetch; the room and its other
    members are not held back. */
#include "member.h"
#include "gc_alloc.h"
#include "gc_limits.h"

struct gc_member_t {
    gc_member_place_t place;    //  first: gc_member_place casts to it
    gc_link_t *link;            //  for catch-up fetches
    const char *room_name;      //  the room's, which outlives the member
    size_t room_name_len;
    char *user;                 //  the owner's user, a copy
    uint64_t generation;        //  of the owner's login
    gc_member_fn *kick;
    uint64_t catchup_rid;       //  history request in flight, 0 if none
    gc_out_t *catchup;          //  frames fetched for seqs the ring lost
    uint64_t catchup_first;     //  seq of catchup [0]
    size_t catchup_size;
};

gc_member_t *
gc_member_new (gc_link_t *link, void *room, const char *room_name,
               size_t room_name_len, const char *user, uint64_t generation,
               uint64_t cursor, gc_member_fn *wake, gc_member_fn *kick, void *owner)
{
    gc_member_t *self = gc_calloc (1, sizeof *self);
    self->place.room = room;
    self->place.owner = owner;
    self->place.cursor = cursor;
    self->link = link;
    self->room_name = room_name;
    self->room_name_len = room_name_len;
    self->user = gc_strdup (user);
    self->generation = generation;
    self->place.wake = wake;
    self->kick = kick;
    return self;
}

void
gc_member_destroy (gc_member_t **self_p)
{
    gc_member_t *self = *self_p;
    if (!self)
        return;
    gc_link_forget (self->link, self->catchup_rid);
    gc_member_catchup_drop (self);
    free (self->user);
    free (self);
    *self_p = NULL;
}

const char *
gc_member_user (gc_member_t *self)
{
    return self->user;
}

uint64_t
gc_member_generation (gc_member_t *self)
{
    return self->generation;
}

void
gc_member_kick (gc_member_t *self)
{
    self->kick (self->place.owner, self);
}

const gc_out_t *
gc_member_catchup_frame (gc_member_t *self, uint64_t seq)
{
    if (self->catchup_size && seq >= self->catchup_first
    &&  seq < self->catchup_first + self->catchup_size)
        return &self->catchup [seq - self->catchup_first];
    return NULL;
}

void
gc_member_catchup_drop (gc_member_t *self)
{
    if (!self->catchup)
        return;                 //  the common case: called for every ring frame
    for (size_t index = 0; index < self->catchup_size; index++)
        gc_out_free (&self->catchup [index]);
    free (self->catchup);
    self->catchup = NULL;
    self->catchup_size = 0;
}

static void
s_on_catchup (void *arg, const gc_frame_t *reply)
{
    gc_member_t *self = arg;
    self->catchup_rid = 0;
    //  The broker says the user may not read the room any more: no member
    //  (a kick this gateway did not hear: events can be lost) or a login
    //  that is over (a closed it did not hear), so it is a kick now. The
    //  owner frees the member: nothing of it is touched after.
    if (reply && reply->op == GC_OP_ERROR
    &&  (reply->code == GC_NOT_MEMBER || reply->code == GC_NOT_LOGGED_IN)) {
        gc_member_kick (self);
        return;
    }
    //  The first seq is the cursor's next, or a later one when those
    //  between were deleted by the broker's retention: the member goes on
    //  without them
    if (reply && reply->op == GC_OP_OK && reply->history_size
    &&  reply->history [0].seq > self->place.cursor) {
        self->place.cursor = reply->history [0].seq - 1;
        gc_member_catchup_drop (self);
        self->catchup = gc_calloc (reply->history_size, sizeof (gc_out_t));
        for (size_t index = 0; index < reply->history_size; index++)
            gc_out_message (&self->catchup [index], &reply->history [index]);
        self->catchup_size = reply->history_size;
        self->catchup_first = reply->history [0].seq;
    }
    //  On failure the member stays behind until its owner's sweep wakes
    //  it again, so a broken broker is not asked in a tight loop
    if (self->catchup_size)
        gc_member_wake (self);
}

bool
gc_member_catchup_start (gc_member_t *self)
{
    if (self->catchup_rid)
        return false;
    self->catchup_rid = gc_link_history (self->link, self->room_name, self->room_name_len,
                                         self->user, self->generation, self->place.cursor,
                                         GC_CATCHUP_BATCH, s_on_catchup, self);
    return self->catchup_rid != 0;      //  0: the link took no more (too many wait)
}

bool
gc_member_fetching (gc_member_t *self)
{
    return self->catchup_rid != 0;
}

//  --------------------------------------------------------------------------
//  Self-test: a member's own state, without a room or a network (room.c's
//  test reads members through a real room and broker)

#include <assert.h>

static void
s_test_count (void *owner, gc_member_t *member)
{
    (void) member;
    (*(int *) owner)++;
}

void
gc_member_test (bool verbose)
{
    if (verbose)
        printf (" * gc_member: ");
    int calls = 0;
    char room [] = "Taskmaster";
    gc_member_t *self = gc_member_new (NULL, room, room, strlen (room), "Sue", 3, 7,
                                       s_test_count, s_test_count, &calls);
    gc_member_place_t *place = gc_member_place (self);
    assert (place->room == room && place->owner == &calls);
    assert (place->cursor == 7 && !place->announced);
    assert (gc_member_of_room_link (&place->in_room) == self);
    assert (gc_member_of_owner_link (&place->in_owner) == self);
    assert (strcmp (gc_member_user (self), "Sue") == 0 && gc_member_generation (self) == 3);
    gc_member_delivered (self);
    assert (place->cursor == 8);
    gc_member_wake (self);
    gc_member_kick (self);
    assert (calls == 2);
    assert (!gc_member_fetching (self));
    assert (gc_member_catchup_frame (self, 9) == NULL);
    gc_member_catchup_drop (self);
    gc_member_destroy (&self);
    gc_member_destroy (&self);
    assert (self == NULL);
    if (verbose)
        printf ("OK\n");
}
