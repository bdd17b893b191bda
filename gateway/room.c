/*  room.c: one room as seen by one gateway.

    The room is how the gateway turns the broker's lossy PUB stream into
    an exact one, as the ZeroMQ guide's Clone pattern does: subscribe
    first, take the baseline seq from the first join reply, append only
    the next seq, and when a message or a `head` shows a gap, fetch the
    missing range from the broker's history before going on. Each message
    is encoded to a client frame once and kept in a ring; members read
    from the ring at their own pace, and a member that fell behind the
    ring fetches what it missed from the broker (see gc_room_next_frame). */
#include "gateway.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_clock.h"

typedef struct {
    uint64_t seq;
    gc_out_t frame;
} s_entry_t;

struct gc_room_t {
    gc_gateway_t *gateway;
    char *name;
    size_t name_len;
    bool synced;                //  head is a baseline from the broker
    uint64_t head;              //  newest seq held, with no gap before it
    uint64_t known;             //  newest seq heard of
    uint64_t refill_rid;        //  refill in flight, 0 if none
    int holds;                  //  joins in flight that will add members
    lws_dll2_owner_t members;
    s_entry_t ring [GC_ROOM_RING];
};

static void s_refill (gc_room_t *self);

gc_room_t *
gc_room_require (gc_gateway_t *gateway, const char *name, size_t size)
{
    gc_room_t *self = zhashx_lookup (gateway->rooms, name);
    if (self)
        return self;
    self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->gateway = gateway;
    self->name = strndup (name, size);
    self->name_len = size;
    zhashx_insert (gateway->rooms, self->name, self);
    //  Subscribe before the join asks for history, so nothing published
    //  after the history falls between the two
    gc_link_subscribe (gateway->link, name, size);
    return self;
}

static void
s_room_free (gc_room_t *self)
{
    gc_link_forget (self->gateway->link, self->refill_rid);
    for (size_t index = 0; index < GC_ROOM_RING; index++)
        gc_out_free (&self->ring [index].frame);
    free (self->name);
    free (self);
}

void
gc_room_release_if_empty (gc_room_t *self)
{
    if (self->members.count || self->holds)
        return;
    gc_link_unsubscribe (self->gateway->link, self->name, self->name_len);
    zhashx_delete (self->gateway->rooms, self->name);
    s_room_free (self);
}

void
gc_room_destroy_all (gc_gateway_t *gateway)
{
    for (gc_room_t *room = zhashx_first (gateway->rooms); room;
         room = zhashx_next (gateway->rooms))
        s_room_free (room);
    zhashx_purge (gateway->rooms);
}

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
gc_room_add (gc_room_t *self, gc_member_t *member)
{
    lws_dll2_add_tail (&member->in_room, &self->members);
}

void
gc_room_remove (gc_room_t *self, gc_member_t *member)
{
    lws_dll2_remove (&member->in_room);
    gc_member_forget (member);
    gc_room_release_if_empty (self);
}

bool
gc_room_member_behind (gc_member_t *member)
{
    return member->announced && member->room->synced
        && member->cursor < member->room->head && !member->catchup_rid;
}

//  The oldest seq the ring still holds
static uint64_t
s_oldest (gc_room_t *self)
{
    return self->head >= GC_ROOM_RING? self->head - GC_ROOM_RING + 1: 1;
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
    if (gc_out_message (&entry->frame, message))
        gc_warn ("out of memory encoding room=\"%s\" seq=%lu",
                 self->name, (unsigned long) message->seq);
    entry->seq = message->seq;
    self->head = message->seq;
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->members)) {
        gc_member_t *member = lws_container_of (node, gc_member_t, in_room);
        if (member->cursor + 1 == message->seq && member->announced)
            gc_conn_wake (member->conn);
    } lws_end_foreach_dll (node);
}

void
gc_room_joined (gc_room_t *self, uint64_t last)
{
    if (!self->synced) {
        self->synced = true;
        self->head = last;
    }
    if (last > self->known)
        self->known = last;
    s_refill (self);
}

//  Asks the broker for the room's messages after since; returns the rid
static uint64_t
s_fetch (gc_room_t *self, uint64_t since, uint32_t limit, gc_link_reply_fn *fn, void *arg)
{
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_str (&request, GC_F_ROOM, self->name, self->name_len);
    gc_frame_set_uint (&request, GC_F_SINCE, since);
    gc_frame_set_uint (&request, GC_F_LIMIT, limit);
    return gc_link_request (self->gateway->link, &request, gc_clock_wall_ms (), fn, arg);
}

//  --------------------------------------------------------------------------
//  Gap refill: fetch (head, known] from the broker

static void
s_on_refill (void *arg, const gc_frame_t *reply)
{
    gc_room_t *self = arg;
    self->refill_rid = 0;
    if (!reply || reply->op != GC_OP_OK)
        return;                 //  the next head beacon tries again
    uint64_t head = self->head;
    for (size_t index = 0; index < reply->history_size; index++)
        if (reply->history [index].seq == self->head + 1)
            s_append (self, &reply->history [index]);
    //  No progress means the broker has nothing more than we do (a head
    //  from before a restart on another database): wait for the next event
    if (self->head == head)
        self->known = head;
    else {
        self->gateway->counters.gaps_refilled++;
        s_refill (self);
    }
}

static void
s_refill (gc_room_t *self)
{
    if (!self->synced || self->refill_rid || self->known <= self->head)
        return;
    gc_debug ("refill room=\"%s\" since=%lu known=%lu", self->name,
              (unsigned long) self->head, (unsigned long) self->known);
    self->refill_rid = s_fetch (self, self->head, GC_REFILL_BATCH, s_on_refill, self);
}

//  --------------------------------------------------------------------------
//  Events from the broker

static void
s_on_message (gc_room_t *self, const gc_frame_t *event)
{
    if (event->seq > self->known)
        self->known = event->seq;
    if (!self->synced || event->seq <= self->head)
        return;                 //  no baseline yet, or a duplicate
    if (event->seq == self->head + 1) {
        gc_message_t message = {
            event->room, event->seq, event->from, event->text, event->ts
        };
        s_append (self, &message);
    }
    else
        s_refill (self);
}

//  Puts the user's connections out of the room. Held meanwhile, so that
//  the last one leaving does not free the room under the walk.
static void
s_kick (gc_room_t *self, gc_str_t user)
{
    self->holds++;
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next,
                                lws_dll2_get_head (&self->members)) {
        gc_member_t *member = lws_container_of (node, gc_member_t, in_room);
        const char *name = gc_conn_user (member->conn);
        if (name && gc_str_eq (user, name))
            gc_conn_kick (member);
    } lws_end_foreach_dll_safe (node, next);
    self->holds--;
    gc_room_release_if_empty (self);
}

void
gc_room_write_members (gc_gateway_t *gateway, FILE *stream)
{
    fprintf (stream, "# HELP groupchat_room_connections Connections joined to each room here.\n"
                     "# TYPE groupchat_room_connections gauge\n");
    for (gc_room_t *room = zhashx_first (gateway->rooms); room;
         room = zhashx_next (gateway->rooms)) {
        fprintf (stream, "groupchat_room_connections{room=\"");
        for (const char *at = room->name; *at; at++)
            fprintf (stream, *at == '"' || *at == '\\'? "\\%c": *at == '\n'? "\\n": "%c", *at);
        fprintf (stream, "\"} %u\n", room->members.count);
    }
}

void
gc_room_on_event (gc_gateway_t *gateway, const gc_frame_t *event)
{
    if (!(event->fields & GC_F_ROOM) || event->room.len > GC_NAME_MAX
    ||  (event->op != GC_OP_KICK && !(event->fields & GC_F_SEQ)))
        return;
    char name [GC_NAME_MAX + 1];
    memcpy (name, event->room.ptr, event->room.len);
    name [event->room.len] = 0;
    gc_room_t *self = zhashx_lookup (gateway->rooms, name);
    if (!self)
        return;                 //  a room we just left
    if (event->op == GC_OP_KICK && (event->fields & GC_F_USER))
        s_kick (self, event->user);
    else
    if (event->op == GC_OP_MESSAGE
    &&  (event->fields & (GC_F_FROM | GC_F_TEXT | GC_F_TS)) == (GC_F_FROM | GC_F_TEXT | GC_F_TS))
        s_on_message (self, event);
    else
    if (event->op == GC_OP_HEAD) {
        if (event->seq > self->known)
            self->known = event->seq;
        s_refill (self);
    }
}

//  --------------------------------------------------------------------------
//  Members reading the room

static void
s_catchup_free (gc_member_t *member)
{
    for (size_t index = 0; index < member->catchup_size; index++)
        gc_out_free (&member->catchup [index]);
    free (member->catchup);
    member->catchup = NULL;
    member->catchup_size = 0;
}

static void
s_on_catchup (void *arg, const gc_frame_t *reply)
{
    gc_member_t *member = arg;
    member->catchup_rid = 0;
    if (reply && reply->op == GC_OP_OK && reply->history_size
    &&  reply->history [0].seq == member->cursor + 1) {
        s_catchup_free (member);
        member->catchup = calloc (reply->history_size, sizeof (gc_out_t));
        for (size_t index = 0; member->catchup && index < reply->history_size; index++)
            if (gc_out_message (&member->catchup [index], &reply->history [index]) == 0)
                member->catchup_size = index + 1;
            else
                break;
        member->catchup_first = reply->history [0].seq;
    }
    //  On failure the member stays behind until the connection sweep
    //  wakes it again, so a broken broker is not asked in a tight loop
    if (member->catchup_size)
        gc_conn_wake (member->conn);
}

static void
s_catchup (gc_room_t *self, gc_member_t *member)
{
    if (member->catchup_rid)
        return;
    self->gateway->counters.catchups++;
    member->catchup_rid = s_fetch (self, member->cursor, GC_CATCHUP_BATCH, s_on_catchup, member);
}

const gc_out_t *
gc_room_next_frame (gc_room_t *self, gc_member_t *member)
{
    uint64_t seq = member->cursor + 1;
    if (!member->announced || !self->synced || seq > self->head)
        return NULL;
    if (seq >= s_oldest (self)) {
        s_entry_t *entry = s_entry (self, seq);
        if (entry) {
            s_catchup_free (member);
            return &entry->frame;
        }
    }
    if (member->catchup_size && seq >= member->catchup_first
    &&  seq < member->catchup_first + member->catchup_size)
        return &member->catchup [seq - member->catchup_first];
    s_catchup_free (member);
    s_catchup (self, member);
    return NULL;
}

void
gc_member_forget (gc_member_t *member)
{
    gc_link_forget (member->room->gateway->link, member->catchup_rid);
    member->catchup_rid = 0;
    s_catchup_free (member);
}
