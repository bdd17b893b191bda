/*  member.h: a connection's place in a room.

    A member is what a room knows of one connection in it: how far the
    connection has read (its cursor), whether it may be pushed to yet, and
    its catch-up: the frames, fetched from the broker's history, for seqs
    the room's ring no longer holds. The room creates its members and
    tells them when there is something to receive (wake) or when they are
    put out (kick); the owner (a connection) gives those two callbacks
    and never learns how the room works. A member knows nothing of rooms
    or connections: it calls back, and it fetches through the link. */
#ifndef GC_MEMBER_H_INCLUDED
#define GC_MEMBER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "out.h"
#include "link.h"

typedef struct gc_member_t gc_member_t;

//  A call to the member's owner, with the arg it gave
typedef void (gc_member_fn) (void *owner, gc_member_t *member);

//  A frame for the owner to queue as its own (presence, typing): pushes
//  that are no room message and have no seq
typedef void (gc_member_push_fn) (void *owner, gc_member_t *member, const gc_out_t *frame);

//  What the room and the owner read on every frame they deliver, kept
//  in the open so that the fan-out pays no call for it. The member
//  struct begins with it; the rest of the member is private to member.c.
typedef struct {
    lws_dll2_t in_room;         //  link in its room's member list
    lws_dll2_t in_owner;        //  link in its owner's list of rooms
    void *room;                 //  the room it is in (room.c's)
    void *owner;                //  the owner's arg to wake and kick
    gc_member_fn *wake;         //  the owner's: something to receive
    gc_member_push_fn *push;    //  the owner's, set after the join; NULL: none wanted
    uint64_t cursor;            //  newest seq the owner has been given
    bool announced;             //  join reply written: pushes may flow
} gc_member_place_t;

//  Creates a member of the room named room_name (held by the room, which
//  outlives its members) for user's login at generation, with its cursor
//  at seq cursor; history for its catch-up is fetched through link, as
//  that login.
gc_member_t *gc_member_new (gc_link_t *link, void *room, const char *room_name,
                            size_t room_name_len, const char *user, uint64_t generation,
                            uint64_t cursor, gc_member_fn *wake, gc_member_fn *kick,
                            void *owner);
//  Drops the catch-up and forgets any fetch in flight, and frees.
void gc_member_destroy (gc_member_t **self_p);

static inline gc_member_place_t *
gc_member_place (gc_member_t *self)
{
    return (gc_member_place_t *) self;
}

static inline gc_member_t *
gc_member_of_room_link (lws_dll2_t *link)
{
    return (gc_member_t *) lws_container_of (link, gc_member_place_t, in_room);
}

static inline gc_member_t *
gc_member_of_owner_link (lws_dll2_t *link)
{
    return (gc_member_t *) lws_container_of (link, gc_member_place_t, in_owner);
}

//  The frame for the next seq was given to the owner.
static inline void
gc_member_delivered (gc_member_t *self)
{
    gc_member_place (self)->cursor++;
}

//  The user the member is for (a kick names a user), and the generation
//  of the user's login (a fetch for the room asks as that login).
const char *gc_member_user (gc_member_t *self);
uint64_t gc_member_generation (gc_member_t *self);

//  Tells the owner there is something to receive: the one call per
//  member that a room's new message costs.
static inline void
gc_member_wake (gc_member_t *self)
{
    gc_member_place (self)->wake (gc_member_place (self)->owner, self);
}

//  Hands the owner a frame to queue, if it takes any.
static inline void
gc_member_push (gc_member_t *self, const gc_out_t *frame)
{
    if (gc_member_place (self)->push)
        gc_member_place (self)->push (gc_member_place (self)->owner, self, frame);
}

//  Tells the owner it is put out of the room; the owner leaves it.
void gc_member_kick (gc_member_t *self);

//  The frame for seq from the catch-up, or NULL when the catch-up does
//  not hold it.
const gc_out_t *gc_member_catchup_frame (gc_member_t *self, uint64_t seq);
//  Drops the catch-up (the ring serves the member again).
void gc_member_catchup_drop (gc_member_t *self);
//  Starts fetching the messages after the cursor, unless a fetch is in
//  flight already; true when it started one. The member wakes its owner
//  when they arrive.
bool gc_member_catchup_start (gc_member_t *self);
//  True while a catch-up fetch is in flight.
bool gc_member_fetching (gc_member_t *self);

void gc_member_test (bool verbose);

#endif
