/*  room.c: one room as seen by one gateway, and the gateway's set of them.

    The room is how the gateway turns the broker's lossy PUB stream into
    an exact one, as the ZeroMQ guide's Clone pattern does: subscribe
    first, take the baseline seq from the first join reply, append only
    the next seq, and when a message or a `head` shows a gap, fetch the
    missing range from the broker's history before going on. Each message
    is encoded to a client frame once and kept in a ring; members read
    from the ring at their own pace, and a member that fell behind the
    ring reads from its own catch-up (member.c; see gc_room_next_frame).
    Each room also keeps its presence (roster.h): it tells the broker
    when a user's first member comes and last one goes, and pushes its
    members the presence and typing events, which have no seq and are
    not kept. The set of rooms sends the broker the whole presence of
    this gateway again after each reconnect, and after a presence
    request that may not have reached it. */
#include <czmq.h>
#include "room.h"
#include "roster.h"
#include "gc_clock.h"
#include "gc_alloc.h"
#include "gc_escape.h"
#include "gc_limits.h"
#include "gc_log.h"

typedef struct {
    uint64_t seq;
    gc_out_t frame;
} s_entry_t;

struct gc_rooms_t {
    gc_link_t *link;            //  to the broker
    gc_counters_t *counters;    //  the gateway's
    zhashx_t *rooms;            //  name -> gc_room_t
    bool resync;                //  a presence request failed: send it all again
    uint64_t synced_connection; //  the link's reconnects when presence was last sent whole
    bool was_up;                //  the link was up at the last sweep
};

struct gc_room_t {
    gc_rooms_t *rooms;          //  the set it is in
    char *name;
    size_t name_len;
    bool synced;                //  held is a baseline from the broker
    uint64_t held;              //  newest seq held, with no gap before it
    uint64_t head;              //  newest seq heard of: the room's head
    uint64_t refill_rid;        //  refill in flight, 0 if none
    char *refill_user;          //  whose membership the refill asks with
    uint64_t refill_generation; //  and that user's login
    int holds;                  //  joins in flight that will add members
    lws_dll2_owner_t members;
    gc_roster_t *roster;        //  who is present, here and as the broker says
    s_entry_t ring [GC_ROOM_RING];
};

static void s_refill (gc_room_t *self);
static void s_kick (gc_room_t *self, gc_str_t user);
static void s_present (gc_room_t *self, const char *user, const char *event);

//  --------------------------------------------------------------------------
//  The set of rooms

gc_rooms_t *
gc_rooms_new (gc_link_t *link, gc_counters_t *counters)
{
    gc_rooms_t *self = gc_calloc (1, sizeof *self);
    self->link = link;
    self->counters = counters;
    self->rooms = zhashx_new ();
    return self;
}

static void
s_room_free (gc_room_t *self)
{
    gc_link_forget (self->rooms->link, self->refill_rid);
    free (self->refill_user);
    gc_roster_destroy (&self->roster);
    for (size_t index = 0; index < GC_ROOM_RING; index++)
        gc_out_free (&self->ring [index].frame);
    free (self->name);
    free (self);
}

void
gc_rooms_destroy (gc_rooms_t **self_p)
{
    gc_rooms_t *self = *self_p;
    if (!self)
        return;
    for (gc_room_t *room = zhashx_first (self->rooms); room;
         room = zhashx_next (self->rooms))
        s_room_free (room);
    zhashx_destroy (&self->rooms);
    free (self);
    *self_p = NULL;
}

gc_room_t *
gc_rooms_require (gc_rooms_t *self, const char *name, size_t size)
{
    gc_room_t *room = zhashx_lookup (self->rooms, name);
    if (room)
        return room;
    room = gc_calloc (1, sizeof *room);
    room->rooms = self;
    room->name = gc_strndup (name, size);
    room->name_len = size;
    room->roster = gc_roster_new ();
    zhashx_insert (self->rooms, room->name, room);
    //  Subscribe before the join asks for history, so nothing published
    //  after the history falls between the two
    gc_link_subscribe (self->link, name, size);
    return room;
}

size_t
gc_rooms_size (gc_rooms_t *self)
{
    return zhashx_size (self->rooms);
}

void
gc_rooms_write_members (gc_rooms_t *self, FILE *stream)
{
    fprintf (stream, "# HELP groupchat_room_connections Connections joined to each room here.\n"
                     "# TYPE groupchat_room_connections gauge\n");
    for (gc_room_t *room = zhashx_first (self->rooms); room;
         room = zhashx_next (self->rooms)) {
        //  The label is the name as logs show it (gc_escape), so that no
        //  control reaches whoever reads the page; then Prometheus' own
        //  escaping of backslash and quote
        char *shown = gc_escape (room->name, GC_ESCAPE_HEX);
        fprintf (stream, "groupchat_room_connections{room=\"");
        for (const char *at = shown; *at; at++)
            fprintf (stream, *at == '"' || *at == '\\'? "\\%c": "%c", *at);
        fprintf (stream, "\"} %u\n", room->members.count);
        free (shown);
    }
}

//  --------------------------------------------------------------------------
//  A room's life

const char *
gc_room_name (gc_room_t *self)
{
    return self->name;
}

void
gc_room_hold (gc_room_t *self, int delta)
{
    self->holds += delta;
}

void
gc_room_release_if_empty (gc_room_t *self)
{
    if (self->members.count || self->holds)
        return;
    gc_link_unsubscribe (self->rooms->link, self->name, self->name_len);
    zhashx_delete (self->rooms->rooms, self->name);
    s_room_free (self);
}

gc_member_t *
gc_room_join (gc_room_t *self, const char *user, uint64_t generation, uint64_t cursor,
              gc_member_fn *wake, gc_member_fn *kick, void *owner)
{
    gc_member_t *member = gc_member_new (self->rooms->link, self, self->name, self->name_len,
                                         user, generation, cursor, wake, kick, owner);
    lws_dll2_add_tail (&gc_member_place (member)->in_room, &self->members);
    if (gc_roster_enter (self->roster, user))
        s_present (self, user, "join");
    return member;
}

void
gc_room_leave (gc_member_t **member_p)
{
    gc_member_t *member = *member_p;
    if (!member)
        return;
    gc_room_t *self = gc_member_place (member)->room;
    lws_dll2_remove (&gc_member_place (member)->in_room);
    if (gc_roster_exit (self->roster, gc_member_user (member)))
        s_present (self, gc_member_user (member), "leave");
    gc_member_destroy (member_p);
    gc_room_release_if_empty (self);
}

//  --------------------------------------------------------------------------
//  The ring

//  The oldest seq the ring still holds
static uint64_t
s_oldest (gc_room_t *self)
{
    return self->held >= GC_ROOM_RING? self->held - GC_ROOM_RING + 1: 1;
}

static s_entry_t *
s_entry (gc_room_t *self, uint64_t seq)
{
    s_entry_t *entry = &self->ring [seq & (GC_ROOM_RING - 1)];
    return entry->seq == seq && entry->frame.data? entry: NULL;
}

//  Appends the next message and wakes the members waiting for it
static void
s_append (gc_room_t *self, const gc_message_t *message)
{
    s_entry_t *entry = &self->ring [message->seq & (GC_ROOM_RING - 1)];
    gc_out_free (&entry->frame);
    gc_out_message (&entry->frame, message);
    entry->seq = message->seq;
    self->held = message->seq;
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->members)) {
        gc_member_t *member = gc_member_of_room_link (node);
        gc_member_place_t *place = gc_member_place (member);
        if (place->cursor + 1 == message->seq && place->announced)
            gc_member_wake (member);
    } lws_end_foreach_dll (node);
}

const gc_out_t *
gc_room_next_frame (gc_member_t *member)
{
    gc_member_place_t *place = gc_member_place (member);
    gc_room_t *self = place->room;
    uint64_t seq = place->cursor + 1;
    if (!place->announced || !self->synced || seq > self->held)
        return NULL;
    if (seq >= s_oldest (self)) {
        s_entry_t *entry = s_entry (self, seq);
        if (entry) {
            gc_member_catchup_drop (member);
            return &entry->frame;
        }
    }
    const gc_out_t *frame = gc_member_catchup_frame (member, seq);
    if (frame)
        return frame;
    gc_member_catchup_drop (member);
    if (gc_member_catchup_start (member))
        gc_counters_count (self->rooms->counters, GC_COUNTER_CATCHUPS);
    return NULL;
}

bool
gc_room_member_behind (gc_member_t *member)
{
    gc_member_place_t *place = gc_member_place (member);
    gc_room_t *self = place->room;
    return place->announced && self->synced && place->cursor < self->held
        && !gc_member_fetching (member);
}

//  --------------------------------------------------------------------------
//  Gap refill: fetch (held, head] from the broker

//  The broker refused the refill: the user it asked for is no member of
//  the room, or asked with a login that is over. That is a kick (or a
//  closed) this gateway did not hear (events can be lost), so the user's
//  members are put out, and the next member asks.
static void
s_refill_refused (gc_room_t *self)
{
    char *user = self->refill_user;
    self->refill_user = NULL;
    self->holds++;              //  the room outlives the kick
    s_kick (self, (gc_str_t) { user, strlen (user) });
    free (user);
    self->holds--;
    if (self->members.count)
        s_refill (self);
    else
        gc_room_release_if_empty (self);
}

static void
s_on_refill (void *arg, const gc_frame_t *reply)
{
    gc_room_t *self = arg;
    self->refill_rid = 0;
    if (reply && reply->op == GC_OP_ERROR
    &&  (reply->code == GC_NOT_MEMBER || reply->code == GC_NOT_LOGGED_IN)) {
        s_refill_refused (self);
        return;
    }
    if (!reply || reply->op != GC_OP_OK)
        return;                 //  the next head beacon tries again
    uint64_t held = self->held;
    //  The broker's since starts at the oldest message it has after
    //  held: those between were deleted by its retention, and the room
    //  goes on without them
    if (reply->history_size && reply->history [0].seq > self->held + 1)
        self->held = reply->history [0].seq - 1;
    for (size_t index = 0; index < reply->history_size; index++)
        if (reply->history [index].seq == self->held + 1)
            s_append (self, &reply->history [index]);
    //  No progress means the broker has nothing more than we do (a head
    //  from before a restart on another database): wait for the next event
    if (self->held == held)
        self->head = held;
    else {
        gc_counters_count (self->rooms->counters, GC_COUNTER_GAPS_REFILLED);
        s_refill (self);
    }
}

//  The broker gives history to members only: the room asks as its first
//  member's user. A room with no member has no one to refill for; the
//  next join refills.
static void
s_refill (gc_room_t *self)
{
    struct lws_dll2 *first = lws_dll2_get_head (&self->members);
    if (!self->synced || self->refill_rid || self->head <= self->held || !first)
        return;
    gc_debug ("refill room=%s since=%lu head=%lu", gc_log_quoted (self->name),
              (unsigned long) self->held, (unsigned long) self->head);
    gc_member_t *asking = gc_member_of_room_link (first);
    free (self->refill_user);
    self->refill_user = gc_strdup (gc_member_user (asking));
    self->refill_generation = gc_member_generation (asking);
    self->refill_rid = gc_link_history (self->rooms->link, self->name, self->name_len,
                                        self->refill_user, self->refill_generation, self->held,
                                        GC_REFILL_BATCH, s_on_refill, self);
}

void
gc_room_joined (gc_room_t *self, uint64_t head)
{
    if (!self->synced) {
        self->synced = true;
        self->held = head;
    }
    if (head > self->head)
        self->head = head;
    s_refill (self);
}

//  --------------------------------------------------------------------------
//  Presence and typing (docs/architecture.md, "Presence")

//  The broker's answer names the room: the room may be gone by then,
//  and the set of rooms outlives every request. One that failed may or
//  may not have been applied, so everything is sent again.
static void
s_on_present (void *arg, const gc_frame_t *reply)
{
    gc_rooms_t *self = arg;
    char name [GC_NAME_MAX + 1];
    if (!reply || reply->op != GC_OP_OK) {
        self->resync = true;
        return;
    }
    gc_room_t *room = gc_str_copy (reply->room, name, sizeof name)?
                      zhashx_lookup (self->rooms, name): NULL;
    if (room)
        gc_roster_baseline (room->roster, reply->names, reply->names_size);
}

//  Tells the broker that user's first member came (join) or last went
//  (leave); a request that cannot go is made good by the next sync
static void
s_present (gc_room_t *self, const char *user, const char *event)
{
    gc_link_t *link = self->rooms->link;
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_PRESENT);
    gc_frame_set_cstr (&request, GC_F_INSTANCE, gc_link_instance (link));
    gc_frame_set_str (&request, GC_F_ROOM, self->name, self->name_len);
    gc_frame_set_cstr (&request, GC_F_USER, user);
    gc_frame_set_cstr (&request, GC_F_EVENT, event);
    if (!gc_link_request (link, &request, gc_clock_wall_ms (), s_on_present, self->rooms))
        self->rooms->resync = true;
}

static void
s_on_synced (void *arg, const gc_frame_t *reply)
{
    gc_rooms_t *self = arg;
    if (!reply || reply->op != GC_OP_OK)
        self->resync = true;
}

//  Sends one presence_sync; false when it could not go
static bool
s_sync_send (gc_rooms_t *self, gc_frame_t *request, zlistx_t *names, uint32_t field)
{
    size_t size = zlistx_size (names), index = 0;
    gc_str_t *strs = gc_calloc (size + 1, sizeof *strs);
    for (char *name = zlistx_first (names); name; name = zlistx_next (names))
        strs [index++] = (gc_str_t) { name, strlen (name) };
    if (field == GC_F_NAMES)
        request->names = strs, request->names_size = size;
    else
        request->rooms = strs, request->rooms_size = size;
    request->fields |= field;
    gc_frame_set_cstr (request, GC_F_INSTANCE, gc_link_instance (self->link));
    bool sent = gc_link_request (self->link, request, gc_clock_wall_ms (), s_on_synced, self) != 0;
    free (strs);
    return sent;
}

//  The whole of this gateway's presence: each room's users here, then
//  the rooms, so the broker forgets this instance anywhere else
static bool
s_sync (gc_rooms_t *self)
{
    zlistx_t *rooms = zlistx_new ();
    zlistx_set_duplicator (rooms, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (rooms, (zlistx_destructor_fn *) zstr_free);
    bool sent = true;
    for (gc_room_t *room = zhashx_first (self->rooms); room && sent;
         room = zhashx_next (self->rooms)) {
        zlistx_t *users = gc_roster_local (room->roster);
        if (zlistx_size (users)) {
            zlistx_add_end (rooms, room->name);
            gc_frame_t request;
            gc_frame_init (&request, GC_OP_PRESENCE_SYNC);
            gc_frame_set_str (&request, GC_F_ROOM, room->name, room->name_len);
            sent = s_sync_send (self, &request, users, GC_F_NAMES);
        }
        zlistx_destroy (&users);
    }
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_PRESENCE_SYNC);
    sent = sent && s_sync_send (self, &request, rooms, GC_F_ROOMS);
    zlistx_destroy (&rooms);
    return sent;
}

//  Also when the link comes back up on the same connection: a broker
//  that stopped answering for longer than GC_PRESENCE_GATEWAY_TIMEOUT_MS
//  (hung, or the network between) has dropped this instance meanwhile
void
gc_rooms_sweep (gc_rooms_t *self)
{
    uint64_t connection = gc_link_reconnects (self->link);
    bool up = gc_link_up (self->link), came_up = up && !self->was_up;
    self->was_up = up;
    if (!up || (!came_up && !self->resync && connection == self->synced_connection))
        return;
    self->resync = !s_sync (self);
    self->synced_connection = connection;
    gc_info ("presence sent to the broker rooms=%zu%s", zhashx_size (self->rooms),
             self->resync? " (not all of it: tried again)": "");
}

//  Pushes a frame about user to the room's members of other users (a
//  copy queued by each), then frees it. A user's own connections are
//  not told their own presence or typing: they know, and whether the
//  broker's event or its answer to `present` came first would otherwise
//  decide if a connection saw its own join.
static void
s_push_to_others (gc_room_t *self, gc_out_t *frame, const char *user)
{
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->members)) {
        gc_member_t *member = gc_member_of_room_link (node);
        if (strcmp (gc_member_user (member), user) != 0)
            gc_member_push (member, frame);
    } lws_end_foreach_dll (node);
    gc_out_free (frame);
}

static void
s_push_presence (void *arg, const char *user, const char *event)
{
    gc_room_t *self = arg;
    gc_out_t frame;
    gc_out_presence (&frame, self->name, user, event);
    s_push_to_others (self, &frame, user);
}

static void
s_on_typing (gc_room_t *self, const gc_frame_t *event)
{
    char user [GC_NAME_MAX + 1];
    if (!(event->fields & GC_F_USER) || !gc_str_copy (event->user, user, sizeof user))
        return;
    gc_out_t frame;
    gc_out_typing (&frame, self->name, user);
    s_push_to_others (self, &frame, user);
}

static void
s_on_typed (void *arg, const gc_frame_t *reply)
{
    (void) arg, (void) reply;   //  typing is worth nothing later: not retried
}

void
gc_room_typing (gc_member_t *member)
{
    gc_room_t *self = gc_member_place (member)->room;
    const char *user = gc_member_user (member);
    //  Typing is worth nothing late: none waits for the link to be up
    if (!gc_link_up (self->rooms->link)
    ||  !gc_roster_typing (self->roster, user, gc_clock_mono_us () / 1000))
        return;
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_TYPING);
    gc_frame_set_str (&request, GC_F_ROOM, self->name, self->name_len);
    gc_frame_set_cstr (&request, GC_F_USER, user);
    gc_frame_set_uint (&request, GC_F_GENERATION, gc_member_generation (member));
    gc_link_request (self->rooms->link, &request, gc_clock_wall_ms (), s_on_typed, NULL);
}

//  --------------------------------------------------------------------------
//  Events from the broker

static void
s_on_message (gc_room_t *self, const gc_frame_t *event)
{
    if (event->seq > self->head)
        self->head = event->seq;
    if (!self->synced || event->seq <= self->held)
        return;                 //  no baseline yet, or a duplicate
    if (event->seq == self->held + 1) {
        gc_message_t message = {
            event->room, event->seq, event->from, event->text, event->ts
        };
        s_append (self, &message);
    }
    else
        s_refill (self);
}

//  Puts the user's members out of the room. Held meanwhile, so that the
//  last one leaving does not free the room under the walk.
static void
s_kick (gc_room_t *self, gc_str_t user)
{
    self->holds++;
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next,
                                lws_dll2_get_head (&self->members)) {
        gc_member_t *member = gc_member_of_room_link (node);
        if (gc_str_eq (user, gc_member_user (member)))
            gc_member_kick (member);
    } lws_end_foreach_dll_safe (node, next);
    self->holds--;
    gc_room_release_if_empty (self);
}

void
gc_rooms_on_event (gc_rooms_t *self, const gc_frame_t *event)
{
    bool seqless = event->op == GC_OP_KICK || event->op == GC_OP_PRESENCE
                || event->op == GC_OP_TYPING;
    if (!(event->fields & GC_F_ROOM) || event->room.len > GC_NAME_MAX
    ||  (!seqless && !(event->fields & GC_F_SEQ)))
        return;
    char name [GC_NAME_MAX + 1];
    memcpy (name, event->room.ptr, event->room.len);
    name [event->room.len] = 0;
    gc_room_t *room = zhashx_lookup (self->rooms, name);
    if (!room)
        return;                 //  a room we just left
    if (event->op == GC_OP_KICK && (event->fields & GC_F_USER))
        s_kick (room, event->user);
    else
    if (event->op == GC_OP_PRESENCE && (event->fields & GC_F_EVENT))
        gc_roster_apply (room->roster, event, s_push_presence, room);
    else
    if (event->op == GC_OP_TYPING)
        s_on_typing (room, event);
    else
    if (event->op == GC_OP_MESSAGE
    &&  (event->fields & (GC_F_FROM | GC_F_TEXT | GC_F_TS)) == (GC_F_FROM | GC_F_TEXT | GC_F_TS))
        s_on_message (room, event);
    else
    if (event->op == GC_OP_HEAD) {
        if (event->seq > room->head)
            room->head = event->seq;
        s_refill (room);
    }
}

//  --------------------------------------------------------------------------
//  Self-test, against a real broker in this process. The test's link drops
//  the events it is told to, as a SUB socket under load does.

#include "testbed.h"

typedef struct {
    struct lws_context *context;
    gc_link_t *link;            //  the test's, to the real broker
    gc_rooms_t *rooms;
    gc_counters_t counters;
    gc_member_t *fast;          //  reads everything as it comes
    gc_member_t *slow;          //  falls behind the ring
    gc_member_t *stranger;      //  for a user the broker says is no member
    uint64_t drop_first;        //  events of seqs in [first, last] are lost
    uint64_t drop_last;
    bool drop_heads;            //  head beacons are lost too
    int wakes;
    int kicks;
    int replies;                //  replies to the test's own requests
    int failed;                 //  of which not ok
    uint64_t head;              //  the join reply's
} s_test_t;

static void
s_test_on_event (void *arg, const gc_frame_t *event)
{
    s_test_t *test = arg;
    if (event->op == GC_OP_MESSAGE && event->seq >= test->drop_first
    &&  event->seq <= test->drop_last)
        return;
    if (event->op == GC_OP_HEAD && test->drop_heads)
        return;
    gc_rooms_on_event (test->rooms, event);
}

static void
s_test_on_reply (void *arg, const gc_frame_t *reply)
{
    s_test_t *test = arg;
    test->replies++;
    if (!reply || reply->op != GC_OP_OK)
        test->failed++;
    else
    if (reply->fields & GC_F_HEAD)
        test->head = reply->head;
}

static void
s_test_wake (void *owner, gc_member_t *member)
{
    (void) member;
    ((s_test_t *) owner)->wakes++;
}

//  An owner leaves the room when put out of it
static void
s_test_kick (void *owner, gc_member_t *member)
{
    s_test_t *test = owner;
    test->kicks++;
    gc_room_leave (member == test->fast? &test->fast:
                   member == test->slow? &test->slow: &test->stranger);
}

//  Sends says seqs first..last to Taskmaster through the link and waits
//  for every ack, so the broker has stored them all
static void
s_test_say (s_test_t *test, uint64_t first, uint64_t last)
{
    int expected = test->replies;
    for (uint64_t seq = first; seq <= last; seq++) {
        char text [32];
        snprintf (text, sizeof text, "m%lu", (unsigned long) seq);
        gc_frame_t say;
        gc_frame_init (&say, GC_OP_SAY);
        gc_frame_set_cstr (&say, GC_F_USER, "Sue");
        gc_frame_set_uint (&say, GC_F_GENERATION, GC_TESTBED_GENERATION);
        gc_frame_set_cstr (&say, GC_F_ROOM, "Taskmaster");
        gc_frame_set_cstr (&say, GC_F_TEXT, text);
        assert (gc_link_request (test->link, &say, gc_clock_wall_ms (), s_test_on_reply, test));
        expected++;
    }
    GC_TESTBED_UNTIL (test->context, test->replies == expected);
    assert (test->replies == expected && test->failed == 0);
}

//  Reads what the member has ready, checking each frame is the next seq
//  and says what was said (not a copy's text); returns the frames read
static int
s_test_read (gc_member_t *member)
{
    int count = 0;
    const gc_out_t *frame;
    while ((frame = gc_room_next_frame (member))) {
        uint64_t seq = gc_member_place (member)->cursor + 1;
        json_t *root = gc_testbed_frame (frame);
        char text [32];
        snprintf (text, sizeof text, "m%lu", (unsigned long) seq);
        assert (json_integer_value (json_object_get (root, "seq")) == (json_int_t) seq);
        assert (streq (json_string_value (json_object_get (root, "text")), text));
        assert (streq (json_string_value (json_object_get (root, "room")), "Taskmaster"));
        json_decref (root);
        gc_member_delivered (member);
        count++;
    }
    return count;
}

//  Reads until the member's cursor reaches seq, servicing the loop
static void
s_test_read_to (s_test_t *test, gc_member_t *member, uint64_t seq)
{
    GC_TESTBED_UNTIL (test->context,
                      (s_test_read (member), gc_member_place (member)->cursor >= seq));
    assert (gc_member_place (member)->cursor == seq);
}

//  An event as the broker sends it
static void
s_test_event (s_test_t *test, gc_op_t op, uint64_t seq, const char *user)
{
    gc_frame_t event;
    gc_frame_init (&event, op);
    gc_frame_set_cstr (&event, GC_F_ROOM, "Taskmaster");
    if (op == GC_OP_KICK)
        gc_frame_set_cstr (&event, GC_F_USER, user);
    else {
        gc_frame_set_uint (&event, GC_F_SEQ, seq);
        gc_frame_set_cstr (&event, GC_F_FROM, user);
        gc_frame_set_cstr (&event, GC_F_TEXT, "a copy");
        gc_frame_set_uint (&event, GC_F_TS, 1);
    }
    gc_rooms_on_event (test->rooms, &event);
}

//  Asks the broker to join Sue to Taskmaster; returns the reply's head
static uint64_t
s_test_join_reply (s_test_t *test)
{
    int expected = test->replies + 1;
    gc_frame_t join;
    gc_frame_init (&join, GC_OP_JOIN);
    gc_frame_set_cstr (&join, GC_F_USER, "Sue");
    gc_frame_set_uint (&join, GC_F_GENERATION, GC_TESTBED_GENERATION);
    gc_frame_set_cstr (&join, GC_F_ROOM, "Taskmaster");
    test->head = 99;
    assert (gc_link_request (test->link, &join, gc_clock_wall_ms (), s_test_on_reply, test));
    GC_TESTBED_UNTIL (test->context, test->replies == expected);
    assert (test->replies == expected && test->failed == 0);
    return test->head;
}

//  Joins as the gateway does: subscribe, then ask, then take the head;
//  no pushes before the join reply is out (announced)
static void
s_test_join (s_test_t *test)
{
    gc_room_t *room = gc_rooms_require (test->rooms, "Taskmaster", 10);
    assert (gc_rooms_require (test->rooms, "Taskmaster", 10) == room);
    gc_room_hold (room, 1);
    assert (s_test_join_reply (test) == 0);
    gc_room_joined (room, test->head);
    test->fast = gc_room_join (room, "Sue", GC_TESTBED_GENERATION, test->head, s_test_wake, s_test_kick, test);
    test->slow = gc_room_join (room, "Sue", GC_TESTBED_GENERATION, test->head, s_test_wake, s_test_kick, test);
    gc_room_hold (room, -1);
    gc_room_release_if_empty (room);
    assert (gc_rooms_size (test->rooms) == 1);
    s_test_say (test, 1, 1);
    gc_member_place (test->slow)->announced = true;
    s_test_read_to (test, test->slow, 1);
    assert (gc_room_next_frame (test->fast) == NULL && !gc_room_member_behind (test->fast));
    gc_member_place (test->fast)->announced = true;
    s_test_read_to (test, test->fast, 1);
}

//  In order, woken, and a copy of a seq already held is dropped
static void
s_test_ring (s_test_t *test)
{
    s_test_say (test, 2, 5);
    s_test_read_to (test, test->fast, 5);
    assert (test->wakes > 0);
    s_test_event (test, GC_OP_MESSAGE, 3, "Sue");
    s_test_event (test, GC_OP_MESSAGE, 5, "Sue");
    assert (gc_room_next_frame (test->fast) == NULL);
    s_test_read_to (test, test->slow, 5);
}

//  Lost events: a later message shows the gap (with no head beacon to
//  show it instead); when the last message is lost, the beacon does
static void
s_test_gaps (s_test_t *test)
{
    test->drop_first = 6, test->drop_last = 8;
    test->drop_heads = true;
    s_test_say (test, 6, 10);
    s_test_read_to (test, test->fast, 10);
    test->drop_heads = false;
    assert (gc_counters_get (&test->counters, GC_COUNTER_GAPS_REFILLED) >= 1);
    test->drop_first = 11, test->drop_last = 11;
    s_test_say (test, 11, 11);
    s_test_read_to (test, test->fast, 11);
    assert (gc_counters_get (&test->counters, GC_COUNTER_GAPS_REFILLED) >= 2);
    test->drop_first = test->drop_last = 0;
}

//  A slow reader: the ring moves on past its cursor while it reads
//  nothing, and it catches up from the broker's history
static void
s_test_slow_reader (s_test_t *test)
{
    uint64_t head = 11 + GC_ROOM_RING + GC_CATCHUP_BATCH + 5;
    for (uint64_t seq = 12; seq <= head; seq += 100) {
        s_test_say (test, seq, seq + 99 < head? seq + 99: head);
        s_test_read (test->fast);
    }
    s_test_read_to (test, test->fast, head);
    assert (gc_room_member_behind (test->slow));
    s_test_read_to (test, test->slow, head);
    assert (gc_counters_get (&test->counters, GC_COUNTER_CATCHUPS) >= 2);
    assert (!gc_room_member_behind (test->slow) && !gc_room_member_behind (test->fast));
}

//  A kick puts the user's members out; the last one out frees the room
static void
s_test_kicks (s_test_t *test)
{
    s_test_event (test, GC_OP_KICK, 0, "Alex");
    assert (test->kicks == 0 && gc_rooms_size (test->rooms) == 1);
    s_test_event (test, GC_OP_KICK, 0, "Sue");
    assert (test->kicks == 2 && !test->fast && !test->slow);
    assert (gc_rooms_size (test->rooms) == 0);
    gc_room_leave (&test->slow);
}

//  A member for a user the broker says is no member of the room (a kick
//  this gateway lost): a refill that asked as that user puts the user out
//  and the next member asks again; a catch-up refused puts it out too
static void
s_test_strangers (s_test_t *test)
{
    gc_room_t *room = gc_rooms_require (test->rooms, "Taskmaster", 10);
    gc_room_hold (room, 1);
    uint64_t head = s_test_join_reply (test);
    gc_room_joined (room, head);
    test->stranger = gc_room_join (room, "Nobody", GC_TESTBED_GENERATION, head, s_test_wake, s_test_kick, test);
    test->fast = gc_room_join (room, "Sue", GC_TESTBED_GENERATION, head, s_test_wake, s_test_kick, test);
    gc_room_hold (room, -1);
    gc_member_place (test->stranger)->announced = true;
    gc_member_place (test->fast)->announced = true;
    int kicks = test->kicks;
    test->drop_first = head + 1, test->drop_last = head + 2;
    s_test_say (test, head + 1, head + 3);
    s_test_read_to (test, test->fast, head + 3);
    assert (test->kicks == kicks + 1 && !test->stranger);
    test->drop_first = test->drop_last = 0;

    test->stranger = gc_room_join (room, "Nobody", GC_TESTBED_GENERATION, head, s_test_wake, s_test_kick, test);
    gc_member_place (test->stranger)->announced = true;
    assert (gc_member_catchup_start (test->stranger));
    GC_TESTBED_UNTIL (test->context, !test->stranger);
    assert (!test->stranger && test->kicks == kicks + 2);
    gc_room_leave (&test->fast);
    assert (gc_rooms_size (test->rooms) == 0);
}

void
gc_room_test (bool verbose)
{
    if (verbose)
        printf (" * gc_room: ");
    gc_testbed_t *testbed = gc_testbed_new ();
    s_test_t test = { .context = gc_testbed_context () };
    test.link = gc_testbed_link (testbed, test.context, s_test_on_event, &test);
    test.rooms = gc_rooms_new (test.link, &test.counters);
    GC_TESTBED_UNTIL (test.context, gc_link_up (test.link));
    assert (gc_link_up (test.link));

    s_test_join (&test);
    s_test_ring (&test);
    s_test_gaps (&test);
    s_test_slow_reader (&test);
    s_test_kicks (&test);
    s_test_strangers (&test);

    gc_rooms_destroy (&test.rooms);
    gc_rooms_destroy (&test.rooms);
    gc_testbed_unlink (&test.link, test.context);
    gc_testbed_destroy (&testbed);
    if (verbose)
        printf ("OK\n");
}
