/*  presence.c: the broker's presence and typing (see presence.h).

    Three tables, all in memory: rooms (room -> user -> the set of
    instances the user is in the room on), instances (id -> when last
    heard from, and the rooms it has users in, so that dropping one does
    not walk every room) and typing (user and room -> when last
    published). A user is present in a room while their set of instances
    there is not empty; presence events are published only when that set
    becomes non-empty or empty, which is what makes one entry per user
    however many connections and gateways they have. */
#include <czmq.h>
#include "presence.h"
#include "reader.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

//  The item of a set's members: zhashx wants one, the key is the member
#define S_IN ((void *) 1)

typedef struct {
    int64_t seen_ms;            //  monotonic: the last request or heartbeat from it
    zhashx_t *rooms;            //  set: rooms it told of users in (a superset)
} s_instance_t;

struct gc_presence_t {
    gc_store_t *store;          //  who and typing check membership
    gc_replier_t *reply;        //  answers and publishes
    zhashx_t *rooms;            //  room -> (user -> set of instance ids)
    zhashx_t *instances;        //  instance id -> s_instance_t
    zhashx_t *typing;           //  "length:room" user -> monotonic ms last published
    int64_t rebuild_until;      //  monotonic ms the rebuild window ends; 0: over
};

static int64_t
s_now (void)
{
    return gc_clock_mono_us () / 1000;
}

//  --------------------------------------------------------------------------
//  Tables

static void
s_hash_free (void **item_p)
{
    zhashx_destroy ((zhashx_t **) item_p);
}

//  A hash whose items are hashes, freed with it
static zhashx_t *
s_hash_of_hashes (void)
{
    zhashx_t *hash = zhashx_new ();
    zhashx_set_destructor (hash, s_hash_free);
    return hash;
}

static void
s_instance_free (void **item_p)
{
    s_instance_t *instance = *item_p;
    zhashx_destroy (&instance->rooms);
    free (instance);
    *item_p = NULL;
}

gc_presence_t *
gc_presence_new (gc_store_t *store, gc_replier_t *reply, int64_t rebuild_ms)
{
    gc_presence_t *self = gc_calloc (1, sizeof *self);
    self->store = store;
    self->reply = reply;
    self->rooms = s_hash_of_hashes ();
    self->instances = zhashx_new ();
    zhashx_set_destructor (self->instances, s_instance_free);
    self->typing = zhashx_new ();
    self->rebuild_until = rebuild_ms? s_now () + rebuild_ms: 0;
    return self;
}

void
gc_presence_destroy (gc_presence_t **self_p)
{
    gc_presence_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->rooms);
    zhashx_destroy (&self->instances);
    zhashx_destroy (&self->typing);
    free (self);
    *self_p = NULL;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  The keys of a hash (NULL: none), copied and sorted by bytes as the
//  store sorts names; free with s_names_free
static int
s_sorted_keys (zhashx_t *hash, char ***names_p)
{
    size_t count = hash? zhashx_size (hash): 0;
    char **names = gc_calloc (count + 1, sizeof *names);
    size_t index = 0;
    for (void *item = hash? zhashx_first (hash): NULL; item; item = zhashx_next (hash))
        names [index++] = gc_strdup (zhashx_cursor (hash));
    qsort (names, count, sizeof *names, s_compare_names);
    *names_p = names;
    return (int) count;
}

static void
s_names_free (char ***names_p, int count)
{
    for (int index = 0; index < count; index++)
        free ((*names_p) [index]);
    free (*names_p);
    *names_p = NULL;
}

//  The instance, made when first heard of; it is alive now
static s_instance_t *
s_instance (gc_presence_t *self, const char *id)
{
    s_instance_t *instance = zhashx_lookup (self->instances, id);
    if (!instance) {
        instance = gc_calloc (1, sizeof *instance);
        instance->rooms = zhashx_new ();
        zhashx_insert (self->instances, id, instance);
        gc_info ("presence: gateway instance=%s heard from", id);
    }
    instance->seen_ms = s_now ();
    return instance;
}

//  --------------------------------------------------------------------------
//  Changes, and what they publish

static void
s_publish (gc_presence_t *self, const char *room, const char *user, bool present)
{
    gc_frame_t event;
    gc_frame_init (&event, GC_OP_PRESENCE);
    gc_frame_set_cstr (&event, GC_F_ROOM, room);
    gc_frame_set_cstr (&event, GC_F_USER, user);
    gc_frame_set_cstr (&event, GC_F_EVENT, present? "join": "leave");
    gc_replier_publish (self->reply, &event);
}

//  The user is in the room on instance; true when they were on none before
static bool
s_add (gc_presence_t *self, const char *id, const char *room, const char *user)
{
    zhashx_t *users = zhashx_lookup (self->rooms, room);
    if (!users) {
        users = s_hash_of_hashes ();
        zhashx_insert (self->rooms, room, users);
    }
    zhashx_t *instances = zhashx_lookup (users, user);
    if (!instances) {
        instances = zhashx_new ();
        zhashx_insert (users, user, instances);
    }
    zhashx_insert (s_instance (self, id)->rooms, room, S_IN);
    return zhashx_insert (instances, id, S_IN) == 0 && zhashx_size (instances) == 1;
}

//  The user is not in the room on instance; true when they were there on
//  it alone. Empty sets go, so the tables hold only who is present.
static bool
s_remove (gc_presence_t *self, const char *id, const char *room, const char *user)
{
    zhashx_t *users = zhashx_lookup (self->rooms, room);
    zhashx_t *instances = users? zhashx_lookup (users, user): NULL;
    if (!instances || !zhashx_lookup (instances, id))
        return false;
    zhashx_delete (instances, id);
    if (zhashx_size (instances))
        return false;
    zhashx_delete (users, user);
    if (!zhashx_size (users))
        zhashx_delete (self->rooms, room);
    return true;
}

//  A change a gateway's sync or silence makes is restoring what was so
//  before a restart, while the rebuild window lasts: not published (the
//  window's snapshots tell what did change). A `present` is live: a user
//  came or went just now.
static void
s_change (gc_presence_t *self, const char *id, const char *room, const char *user, bool present,
          bool live)
{
    bool changed = present? s_add (self, id, room, user): s_remove (self, id, room, user);
    if (changed && (live || !self->rebuild_until))
        s_publish (self, room, user, present);
}

//  The instance's users in the room are exactly those of the set
//  (NULL: none): who else it had there leaves, and the set joins
static void
s_replace (gc_presence_t *self, const char *id, const char *room, zhashx_t *set)
{
    char **users;
    int count = s_sorted_keys (zhashx_lookup (self->rooms, room), &users);
    for (int index = 0; index < count; index++)
        if (!set || !zhashx_lookup (set, users [index]))
            s_change (self, id, room, users [index], false, false);
    s_names_free (&users, count);
    for (void *item = set? zhashx_first (set): NULL; item; item = zhashx_next (set))
        s_change (self, id, room, zhashx_cursor (set), true, false);
}

//  The instance's users are in no room but those of the set
static void
s_keep_rooms (gc_presence_t *self, const char *id, zhashx_t *set)
{
    s_instance_t *instance = s_instance (self, id);
    char **rooms;
    int count = s_sorted_keys (instance->rooms, &rooms);
    for (int index = 0; index < count; index++)
        if (!zhashx_lookup (set, rooms [index])) {
            s_replace (self, id, rooms [index], NULL);
            zhashx_delete (instance->rooms, rooms [index]);
        }
    s_names_free (&rooms, count);
}

//  The instance is gone: each of its users leaves where it was their last
static void
s_drop (gc_presence_t *self, const char *id)
{
    s_instance_t *instance = zhashx_lookup (self->instances, id);
    char **rooms;
    int count = s_sorted_keys (instance->rooms, &rooms);
    for (int index = 0; index < count; index++)
        s_replace (self, id, rooms [index], NULL);
    s_names_free (&rooms, count);
    zhashx_delete (self->instances, id);
}

//  Sets the frame's room and its names: the room's present users,
//  sorted. Returns what to free once the frame is sent.
static gc_str_t *
s_frame_present (gc_presence_t *self, gc_frame_t *frame, const char *room, char ***names_p,
                 int *count)
{
    *count = s_sorted_keys (zhashx_lookup (self->rooms, room), names_p);
    gc_str_t *strs = gc_calloc ((size_t) *count + 1, sizeof *strs);
    for (int index = 0; index < *count; index++)
        strs [index] = (gc_str_t) { (*names_p) [index], strlen ((*names_p) [index]) };
    gc_frame_set_cstr (frame, GC_F_ROOM, room);
    frame->names = strs;
    frame->names_size = (size_t) *count;
    frame->fields |= GC_F_NAMES;
    return strs;
}

static void
s_publish_snapshot (gc_presence_t *self, const char *room)
{
    gc_frame_t event;
    gc_frame_init (&event, GC_OP_PRESENCE);
    gc_frame_set_cstr (&event, GC_F_EVENT, "snapshot");
    char **names;
    int count;
    gc_str_t *strs = s_frame_present (self, &event, room, &names, &count);
    gc_replier_publish (self->reply, &event);
    free (strs);
    s_names_free (&names, count);
}

//  The rebuild window is over: every room's present set, once
static void
s_publish_snapshots (gc_presence_t *self)
{
    char **rooms;
    int count = s_sorted_keys (self->rooms, &rooms);
    for (int index = 0; index < count; index++)
        s_publish_snapshot (self, rooms [index]);
    s_names_free (&rooms, count);
}

void
gc_presence_subscribed (gc_presence_t *self, const char *room)
{
    if (!self->rebuild_until && zhashx_lookup (self->rooms, room))
        s_publish_snapshot (self, room);
}

void
gc_presence_sweep (gc_presence_t *self, int64_t now)
{
    if (self->rebuild_until && now >= self->rebuild_until) {
        self->rebuild_until = 0;
        gc_info ("presence: rebuilt rooms=%zu instances=%zu", zhashx_size (self->rooms),
                 zhashx_size (self->instances));
        s_publish_snapshots (self);
    }
    char **ids;
    int count = s_sorted_keys (self->instances, &ids);
    for (int index = 0; index < count; index++) {
        s_instance_t *instance = zhashx_lookup (self->instances, ids [index]);
        if (now - instance->seen_ms >= GC_PRESENCE_GATEWAY_TIMEOUT_MS) {
            gc_warn ("presence: gateway instance=%s silent, its users leave", ids [index]);
            s_drop (self, ids [index]);
        }
    }
    s_names_free (&ids, count);
    count = s_sorted_keys (self->typing, &ids);
    for (int index = 0; index < count; index++)
        if (now - (intptr_t) zhashx_lookup (self->typing, ids [index]) >= GC_TYPING_INTERVAL_MS)
            zhashx_delete (self->typing, ids [index]);
    s_names_free (&ids, count);
}

void
gc_presence_touch (gc_presence_t *self, gc_str_t instance)
{
    char id [2 * GC_INSTANCE_BYTES + 1];
    if (gc_str_copy (instance, id, sizeof id) && instance.len)
        s_instance (self, id);
}

//  --------------------------------------------------------------------------
//  Requests

//  Copies a frame's string field into buffer [GC_NAME_MAX + 1]; false
//  when it is missing or not a name
static bool
s_field (const gc_frame_t *frame, uint32_t field, gc_str_t value, char *buffer)
{
    return (frame->fields & field) && value.len && gc_str_copy (value, buffer, GC_NAME_MAX + 1);
}

//  A set of the frame's names (or rooms); NULL when one is not a name
static zhashx_t *
s_set_of (const gc_str_t *names, size_t size)
{
    zhashx_t *set = zhashx_new ();
    for (size_t index = 0; index < size; index++) {
        char name [GC_NAME_MAX + 1];
        if (!names [index].len || !gc_str_copy (names [index], name, sizeof name)) {
            zhashx_destroy (&set);
            return NULL;
        }
        zhashx_insert (set, name, S_IN);
    }
    return set;
}

//  Answers ok with the room and its present users, sorted
static void
s_reply_present (gc_presence_t *self, const gc_broker_request_t *request, const char *room)
{
    gc_frame_t reply;
    gc_replier_init (&reply, request->frame.rid);
    char **names;
    int count;
    gc_str_t *strs = s_frame_present (self, &reply, room, &names, &count);
    gc_replier_send (self->reply, &request->identity, &reply);
    free (strs);
    s_names_free (&names, count);
}

static void
s_bad (gc_presence_t *self, const gc_broker_request_t *request, const char *why)
{
    gc_replier_error (self->reply, &request->identity, request->frame.rid, GC_BAD_REQUEST, why);
}

//  instance, room, user, event join|leave: answered with the room's
//  present users after the change, the gateway's first view of the room
void
gc_presence_present (void *arg, const gc_broker_request_t *request)
{
    gc_presence_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char id [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1], user [GC_NAME_MAX + 1];
    bool join = (frame->fields & GC_F_EVENT) && gc_str_eq (frame->event, "join");
    bool leave = (frame->fields & GC_F_EVENT) && gc_str_eq (frame->event, "leave");
    if (!s_field (frame, GC_F_INSTANCE, frame->instance, id) || !s_field (frame, GC_F_ROOM, frame->room, room)
    ||  !s_field (frame, GC_F_USER, frame->user, user) || (!join && !leave)) {
        s_bad (self, request, "instance, room, user or event missing or invalid");
        return;
    }
    s_change (self, id, room, user, join, true);
    s_reply_present (self, request, room);
}

//  instance, room, names: the instance's users in the room are these; or
//  instance, rooms: it has users in these rooms only
void
gc_presence_sync (void *arg, const gc_broker_request_t *request)
{
    gc_presence_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char id [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    bool by_room = s_field (frame, GC_F_ROOM, frame->room, room);
    zhashx_t *set = by_room? s_set_of (frame->names, frame->names_size)
                  : (frame->fields & GC_F_ROOMS)? s_set_of (frame->rooms, frame->rooms_size): NULL;
    if (!s_field (frame, GC_F_INSTANCE, frame->instance, id) || !set)
        s_bad (self, request, "instance, or room and names, or rooms missing or invalid");
    else {
        if (by_room)
            s_replace (self, id, room, set);
        else
            s_keep_rooms (self, id, set);
        gc_replier_ok (self->reply, request);
    }
    zhashx_destroy (&set);
}

void
gc_presence_who (void *arg, const gc_broker_request_t *request)
{
    gc_presence_t *self = arg;
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    if (gc_reader_check (self->store, self->reply, request, user, room) == 0)
        s_reply_present (self, request, room);
}

//  Published at most once per GC_TYPING_INTERVAL_MS per user and room;
//  the rest are answered ok and dropped, as the gateway drops them
void
gc_presence_typing (void *arg, const gc_broker_request_t *request)
{
    gc_presence_t *self = arg;
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    if (gc_reader_check (self->store, self->reply, request, user, room))
        return;
    //  The room's length first, so that no two pairs make one key
    char key [2 * GC_NAME_MAX + 24];
    snprintf (key, sizeof key, "%zu:%s%s", strlen (room), room, user);
    int64_t now = s_now ();
    void *last = zhashx_lookup (self->typing, key);
    if (!last || now - (intptr_t) last >= GC_TYPING_INTERVAL_MS) {
        zhashx_update (self->typing, key, (void *) (intptr_t) now);
        gc_frame_t event;
        gc_frame_init (&event, GC_OP_TYPING);
        gc_frame_set_cstr (&event, GC_F_ROOM, room);
        gc_frame_set_cstr (&event, GC_F_USER, user);
        gc_replier_publish (self->reply, &event);
    }
    gc_replier_ok (self->reply, request);
}

//  --------------------------------------------------------------------------
//  Self test: handlers called directly, replies and events read back
//  through the rig's sockets and the real codec

//  Sends present for user in Taskmaster on instance id; asserts it is ok
//  and that the room's present users are then `present` (comma-separated)
static void
s_test_present (gc_rig_t *rig, gc_presence_t *self, const char *id, const char *user,
                const char *event, const char *present)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_PRESENT, user, "Taskmaster");
    gc_frame_set_cstr (&request.frame, GC_F_INSTANCE, id);
    gc_frame_set_cstr (&request.frame, GC_F_EVENT, event);
    gc_presence_present (self, &request);
    gc_frame_t reply;
    zmsg_t *holder;
    gc_rig_recv (rig->dealer, &reply, &holder);
    assert (reply.op == GC_OP_OK && reply.rid == rig->rid && gc_str_eq (reply.room, "Taskmaster"));
    char joined [256] = "";
    for (size_t index = 0; index < reply.names_size; index++) {
        strcat (joined, index? ",": "");
        strncat (joined, reply.names [index].ptr, reply.names [index].len);
    }
    assert (streq (joined, present));
    gc_frame_release (&reply), zmsg_destroy (&holder);
}

//  The next event on the rig's SUB is op for user (NULL: none named), with
//  that event (NULL: none); returns how many names it carried
static size_t
s_test_event (gc_rig_t *rig, gc_op_t op, const char *user, const char *event)
{
    gc_frame_t frame;
    zmsg_t *holder;
    gc_rig_recv (rig->sub, &frame, &holder);
    assert (frame.op == op && gc_str_eq (frame.room, "Taskmaster"));
    assert (user? gc_str_eq (frame.user, user): !(frame.fields & GC_F_USER));
    assert (event? gc_str_eq (frame.event, event): !(frame.fields & GC_F_EVENT));
    size_t names = frame.names_size;
    gc_frame_release (&frame), zmsg_destroy (&holder);
    return names;
}

static gc_error_t
s_test_ask (gc_rig_t *rig, gc_presence_t *self, gc_handler_fn *handle, const char *user,
            const char *room)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, handle == gc_presence_who? GC_OP_WHO: GC_OP_TYPING, user, room);
    handle (self, &request);
    return gc_rig_reply (rig);
}

//  A sync of instance id: Taskmaster's users there are `users` (NULL: a
//  sync of rooms, Taskmaster not among them)
static void
s_test_sync (gc_rig_t *rig, gc_presence_t *self, const char *id, const char **users, size_t size)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_PRESENCE_SYNC, NULL, users? "Taskmaster": NULL);
    gc_frame_set_cstr (&request.frame, GC_F_INSTANCE, id);
    gc_str_t names [4], other = { "Quite Interesting", 17 };
    for (size_t index = 0; index < size; index++)
        names [index] = (gc_str_t) { users [index], strlen (users [index]) };
    if (users)
        request.frame.names = names, request.frame.names_size = size, request.frame.fields |= GC_F_NAMES;
    else
        request.frame.rooms = &other, request.frame.rooms_size = 1, request.frame.fields |= GC_F_ROOMS;
    gc_presence_sync (self, &request);
    assert (gc_rig_reply (rig) == GC_OK);
}

//  One entry per user however many instances; a silent instance's users
//  leave where it was their last
static void
s_test_entries (gc_rig_t *rig, gc_presence_t *self)
{
    s_test_present (rig, self, "a", "Sue", "join", "Sue");
    s_test_event (rig, GC_OP_PRESENCE, "Sue", "join");
    s_test_present (rig, self, "b", "Sue", "join", "Sue");
    s_test_present (rig, self, "b", "Alex", "join", "Alex,Sue");
    s_test_event (rig, GC_OP_PRESENCE, "Alex", "join");     //  and none for Sue on b
    s_test_present (rig, self, "a", "Sue", "leave", "Alex,Sue");
    s_test_present (rig, self, "a", "Sue", "leave", "Alex,Sue");
    //  A gateway's subscription is answered with the room's snapshot; a
    //  room nobody is in has none
    gc_presence_subscribed (self, "Quite Interesting");
    gc_presence_subscribed (self, "Taskmaster");
    assert (s_test_event (rig, GC_OP_PRESENCE, NULL, "snapshot") == 2);
    assert (s_test_ask (rig, self, gc_presence_who, "Alex", "Taskmaster") == GC_OK);
    assert (s_test_ask (rig, self, gc_presence_who, "Sandy", "8 out of 10 cats") == GC_NOT_MEMBER);
    assert (s_test_ask (rig, self, gc_presence_who, "Sue", "Nowhere") == GC_NO_SUCH_ROOM);
    gc_presence_sweep (self, s_now () + GC_PRESENCE_GATEWAY_TIMEOUT_MS - 1000);
    s_test_present (rig, self, "a", "Sandy", "join", "Alex,Sandy,Sue");
    s_test_event (rig, GC_OP_PRESENCE, "Sandy", "join");    //  b is not gone yet
    gc_presence_sweep (self, s_now () + GC_PRESENCE_GATEWAY_TIMEOUT_MS);
    s_test_event (rig, GC_OP_PRESENCE, "Sandy", "leave");
    s_test_event (rig, GC_OP_PRESENCE, "Alex", "leave");
    s_test_event (rig, GC_OP_PRESENCE, "Sue", "leave");
    s_test_present (rig, self, "a", "Sue", "leave", "");
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_PRESENT, "Sue", "Taskmaster");
    gc_frame_set_cstr (&request.frame, GC_F_INSTANCE, "a");
    gc_presence_present (self, &request);
    assert (gc_rig_reply (rig) == GC_BAD_REQUEST);      //  no event
}

//  The next event is a presence of that event (join, leave); its user
static char *
s_test_user (gc_rig_t *rig, const char *event)
{
    gc_frame_t frame;
    zmsg_t *holder;
    gc_rig_recv (rig->sub, &frame, &holder);
    assert (frame.op == GC_OP_PRESENCE && gc_str_eq (frame.event, event));
    char *user = gc_str_dup (frame.user);
    gc_frame_release (&frame), zmsg_destroy (&holder);
    return user;
}

//  The next two events are that event for Alex and Sue, in either order
static void
s_test_both (gc_rig_t *rig, const char *event)
{
    char *first = s_test_user (rig, event), *second = s_test_user (rig, event);
    assert ((streq (first, "Alex") && streq (second, "Sue"))
         || (streq (first, "Sue") && streq (second, "Alex")));
    free (first), free (second);
}

//  A sync replaces what the instance had, room by room, and a sync of
//  rooms takes it out of the others
static void
s_test_syncs (gc_rig_t *rig, gc_presence_t *self)
{
    const char *both [] = { "Alex", "Sue" }, *sue [] = { "Sue" };
    s_test_sync (rig, self, "c", both, 2);
    s_test_both (rig, "join");
    s_test_sync (rig, self, "c", both, 2);
    s_test_sync (rig, self, "c", sue, 1);
    s_test_event (rig, GC_OP_PRESENCE, "Alex", "leave");
    s_test_sync (rig, self, "c", NULL, 0);
    s_test_event (rig, GC_OP_PRESENCE, "Sue", "leave");
    assert (s_test_ask (rig, self, gc_presence_who, "Sue", "Taskmaster") == GC_OK);
}

//  Typing: published once per interval per user and room, never to a
//  non-member
static void
s_test_typing (gc_rig_t *rig, gc_presence_t *self)
{
    assert (s_test_ask (rig, self, gc_presence_typing, "Sue", "Taskmaster") == GC_OK);
    s_test_event (rig, GC_OP_TYPING, "Sue", NULL);
    assert (s_test_ask (rig, self, gc_presence_typing, "Sue", "Taskmaster") == GC_OK);
    assert (s_test_ask (rig, self, gc_presence_typing, "Alex", "Taskmaster") == GC_OK);
    s_test_event (rig, GC_OP_TYPING, "Alex", NULL);        //  Sue's second was dropped
    assert (s_test_ask (rig, self, gc_presence_typing, "Sandy", "8 out of 10 cats") == GC_NOT_MEMBER);
    gc_presence_sweep (self, s_now () + GC_TYPING_INTERVAL_MS);
    assert (s_test_ask (rig, self, gc_presence_typing, "Sue", "Taskmaster") == GC_OK);
    s_test_event (rig, GC_OP_TYPING, "Sue", NULL);
}

//  A new broker publishes nothing while the gateways tell it who is
//  there, then one snapshot per room
static void
s_test_rebuild (gc_rig_t *rig)
{
    gc_presence_t *self = gc_presence_new (rig->store, rig->reply, GC_PRESENCE_REBUILD_MS);
    const char *both [] = { "Alex", "Sue" };
    s_test_sync (rig, self, "d", both, 2);
    //  What a present tells is live, and published
    s_test_present (rig, self, "e", "Sandy", "join", "Alex,Sandy,Sue");
    s_test_event (rig, GC_OP_PRESENCE, "Sandy", "join");   //  and none for the sync
    s_test_present (rig, self, "e", "Sandy", "leave", "Alex,Sue");
    s_test_event (rig, GC_OP_PRESENCE, "Sandy", "leave");
    s_test_sync (rig, self, "d", both + 1, 1);
    gc_presence_subscribed (self, "Taskmaster");
    gc_presence_sweep (self, s_now () + GC_PRESENCE_REBUILD_MS - 1000);
    assert (s_test_ask (rig, self, gc_presence_typing, "Sue", "Taskmaster") == GC_OK);
    s_test_event (rig, GC_OP_TYPING, "Sue", NULL);      //  no leave of Alex, no snapshot before it
    gc_presence_sweep (self, s_now () + GC_PRESENCE_REBUILD_MS);
    assert (s_test_event (rig, GC_OP_PRESENCE, NULL, "snapshot") == 1);
    gc_presence_destroy (&self);
    gc_presence_destroy (&self);
}

void
gc_presence_test (bool verbose)
{
    if (verbose)
        printf (" * gc_presence: ");
    gc_rig_t *rig = gc_rig_new ();
    gc_rig_subscribe (rig, "Taskmaster");
    gc_presence_t *self = gc_presence_new (rig->store, rig->reply, 0);
    s_test_entries (rig, self);
    s_test_syncs (rig, self);
    s_test_typing (rig, self);
    gc_presence_destroy (&self);
    s_test_rebuild (rig);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
