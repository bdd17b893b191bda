/*  room.h: the rooms a gateway's connections are in.

    A room turns the broker's lossy PUB stream into an exact one, keeps
    the recent messages as ready-to-send frames in a ring, and has
    members (member.h) that read the ring at their own pace. The rooms
    of one gateway are a gc_rooms_t, which routes the broker's events to
    them; a room lives while it has members or joins in flight. */
#ifndef GC_ROOM_H_INCLUDED
#define GC_ROOM_H_INCLUDED

#include <stdio.h>
#include "gateway.h"
#include "member.h"

typedef struct gc_room_t gc_room_t;

//  Creates the set of rooms, which subscribes and fetches through link
//  and counts in counters (both outlive it).
gc_rooms_t *gc_rooms_new (gc_link_t *link, gc_counters_t *counters);
//  Frees every room; members left in them are the caller's to free first.
void gc_rooms_destroy (gc_rooms_t **self_p);
//  The room, created and subscribed to if it was not there.
gc_room_t *gc_rooms_require (gc_rooms_t *self, const char *name, size_t size);
//  Handles an event (message, head, kick) from the broker.
void gc_rooms_on_event (gc_rooms_t *self, const gc_frame_t *event);
//  Sends the broker this gateway's whole presence when the link has come
//  up on a new connection (a broker restart) or a presence request
//  failed; the gateway calls it every GC_GATEWAY_SWEEP_MS.
void gc_rooms_sweep (gc_rooms_t *self);
//  Rooms with members or joins in flight.
size_t gc_rooms_size (gc_rooms_t *self);
//  Writes one gauge line per room: its members on this gateway.
void gc_rooms_write_members (gc_rooms_t *self, FILE *stream);

const char *gc_room_name (gc_room_t *self);
//  A join in flight holds the room (delta 1) until its reply (delta -1),
//  so that the room is not freed in between; the last release frees it.
void gc_room_hold (gc_room_t *self, int delta);
void gc_room_release_if_empty (gc_room_t *self);
//  The broker answered a join: head is the room's newest seq.
void gc_room_joined (gc_room_t *self, uint64_t head);

//  Adds a member, logged in as user at generation, whose cursor is at seq
//  cursor; wake and kick are called with owner (see member.h).
gc_member_t *gc_room_join (gc_room_t *self, const char *user, uint64_t generation,
                           uint64_t cursor, gc_member_fn *wake, gc_member_fn *kick,
                           void *owner);
//  The member's user is typing: forwarded to the broker unless it was
//  within GC_TYPING_INTERVAL_MS; the room's members are pushed it from
//  the broker's event, on every gateway alike.
void gc_room_typing (gc_member_t *member);
//  Removes and frees the member; frees the room when that was the last.
void gc_room_leave (gc_member_t **member_p);

//  The frame for the member's next seq, or NULL when none is ready now
//  (a catch-up from the broker may have been started for it). Once the
//  frame is given, the owner calls gc_member_delivered.
const gc_out_t *gc_room_next_frame (gc_member_t *member);
//  True when the member has messages to receive that nothing is fetching.
bool gc_room_member_behind (gc_member_t *member);

void gc_room_test (bool verbose);

#endif
