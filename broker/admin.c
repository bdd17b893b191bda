/*  admin.c: heartbeats, figures and administration.

    A password arrives already hashed: the slow hash runs in the
    administrator's process, never in the broker's loop. A change that
    takes a user out of a room is published as a kick, so gateways put
    the user's connections out of it at once; one that ends the user's
    sessions (a removal, a new password) is published as closed, so
    gateways close the user's connections at once. */
#include <limits.h>
#include <sodium.h>
#include "admin.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_metrics.h"

struct gc_admin_t {
    gc_store_t *store;
    gc_replier_t *reply;
    gc_login_t *login;          //  for its figures
    gc_commit_t *commit;        //  for its figures
    gc_backups_t *backups;      //  where backups go; NULL: backups are off
    zhashx_t *gateways;         //  identity (hex) -> last ping, ms
};

gc_admin_t *
gc_admin_new (gc_store_t *store, gc_replier_t *reply, gc_login_t *login, gc_commit_t *commit,
              gc_backups_t *backups)
{
    gc_admin_t *self = gc_calloc (1, sizeof *self);
    self->store = store;
    self->reply = reply;
    self->login = login;
    self->commit = commit;
    self->backups = backups;
    self->gateways = gc_alloc_checked (zhashx_new ());
    return self;
}

void
gc_admin_destroy (gc_admin_t **self_p)
{
    gc_admin_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->gateways);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Heartbeats and figures

static size_t
s_gateways_connected (gc_admin_t *self)
{
    int64_t now = gc_clock_wall_ms ();
    size_t count = 0;
    for (void *seen = zhashx_first (self->gateways); seen; seen = zhashx_next (self->gateways))
        count += now - (intptr_t) seen < GC_HEARTBEAT_DEAD_MS;
    return count;
}

static void
s_metrics (gc_admin_t *self, FILE *stream)
{
    gc_commit_metrics (self->commit, stream);
    gc_login_metrics (self->login, stream);
    gc_metric_write (stream, "groupchat_broker_database_bytes", "gauge",
                     "Size of the database.", (double) gc_store_size (self->store));
    gc_metric_write (stream, "groupchat_broker_rooms", "gauge",
                     "Rooms (one per group).", (double) gc_store_room_count (self->store));
    gc_metric_write (stream, "groupchat_broker_gateways_connected", "gauge",
                     "Gateways that sent a heartbeat in the last 3 s.",
                     (double) s_gateways_connected (self));
}

void
gc_admin_stats (void *arg, const gc_broker_request_t *request)
{
    gc_admin_t *self = arg;
    char *text = NULL;
    size_t size = 0;
    FILE *stream = gc_alloc_checked (open_memstream (&text, &size));
    s_metrics (self, stream);
    fclose (stream);
    gc_frame_t reply;
    gc_replier_init (&reply, request->frame.rid);
    gc_frame_set_str (&reply, GC_F_TEXT, text, size);
    gc_replier_send (self->reply, &request->identity, &reply);
    free (text);
}

//  Gateways are told apart by their routing identity, kept as hex
void
gc_admin_ping (void *arg, const gc_broker_request_t *request)
{
    gc_admin_t *self = arg;
    const gc_identity_t *identity = &request->identity;
    char key [2 * GC_BROKER_IDENTITY_MAX + 1];
    for (size_t index = 0; index < identity->size; index++)
        sprintf (key + 2 * index, "%02x", identity->data [index]);
    key [2 * identity->size] = 0;
    zhashx_update (self->gateways, key, (void *) (intptr_t) gc_clock_wall_ms ());
    //  A broker that cannot store says is no service to send clients to:
    //  gateways take this as not up (their /healthz says 503) and ping on
    //  until the database takes writes again
    if (gc_store_writable (self->store))
        gc_admin_stats (self, request);
    else
        gc_replier_error (self->reply, identity, request->frame.rid, GC_UNAVAILABLE,
                          "the database cannot be written");
}

//  --------------------------------------------------------------------------
//  Administration

//  The says queued before it were committed first (the dispatch table
//  marks backup an admin op), so the copy has every message acknowledged
//  before the backup was asked for. Its path is a name under the backup
//  directory (backups.c), and there is none unless the operator gave one.
void
gc_admin_backup (void *arg, const gc_broker_request_t *request)
{
    gc_admin_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char path [PATH_MAX] = "";
    gc_error_t code = GC_BAD_REQUEST;
    const char *why = "backups are off: the broker was started without --backup-dir";
    if (self->backups && !gc_store_backs_up (self->store))
        why = "the broker backs up SQLite databases only: back up PostgreSQL with "
              "pg_dump or a base backup (docs/operations.md)";
    else
    if (self->backups && (!(frame->fields & GC_F_PATH)
                          || !gc_str_copy (frame->path, path, sizeof path)))
        why = "path missing or invalid";
    else
    if (self->backups)
        code = gc_backups_write (self->backups, self->store, path, &why);
    gc_info ("backup path=%s result=%s", path, gc_error_name (code));
    if (code == GC_OK)
        gc_replier_ok (self->reply, request);
    else
        gc_replier_error (self->reply, &request->identity, frame->rid, code,
                          code == GC_INTERNAL? "the backup failed, see the broker's log": why);
}

//  The store took the next generation: every login of the user below it
//  is over, on every gateway
static gc_error_t
s_sessions_ended (gc_admin_t *self, gc_error_t code, const char *user, const char *reason)
{
    if (code == GC_OK)
        gc_replier_closed (self->reply, user, gc_store_generation (self->store, NULL), reason);
    return code;
}

//  Closed first: a gateway that hears it has no connection left to put
//  out of the rooms; the kicks are for one that did not
static gc_error_t
s_user_remove (gc_admin_t *self, const char *user)
{
    char **rooms;
    int count = gc_store_rooms (self->store, user, &rooms);
    gc_error_t code = s_sessions_ended (self, gc_store_user_remove (self->store, user),
                                        user, GC_REASON_REMOVED);
    for (int index = 0; code == GC_OK && index < count; index++)
        gc_replier_kick (self->reply, user, rooms [index]);
    gc_store_names_free (&rooms, count);
    return code;
}

static gc_error_t
s_password_set (gc_admin_t *self, const char *user, const char *hash)
{
    return s_sessions_ended (self, gc_store_password_set (self->store, user, hash),
                             user, GC_REASON_PASSWORD);
}

static gc_error_t
s_member_remove (gc_admin_t *self, const char *user, const char *room)
{
    gc_error_t code = gc_store_member_set (self->store, user, room, false);
    if (code == GC_OK)
        gc_replier_kick (self->reply, user, room);
    return code;
}

static gc_error_t
s_change (gc_admin_t *self, gc_op_t op, const char *user, const char *room, const char *hash)
{
    switch (op) {
        case GC_OP_USER_ADD:      return gc_store_user_add (self->store, user, hash);
        case GC_OP_USER_REMOVE:   return s_user_remove (self, user);
        case GC_OP_PASSWORD_SET:  return s_password_set (self, user, hash);
        case GC_OP_ROOM_ADD:      return gc_store_room_add (self->store, room);
        case GC_OP_MEMBER_ADD:    return gc_store_member_set (self->store, user, room, true);
        case GC_OP_MEMBER_REMOVE: return s_member_remove (self, user, room);
        default:                  return GC_BAD_REQUEST;
    }
}

//  Copies the fields the op needs: false when one is missing or invalid
static bool
s_fields (const gc_frame_t *frame, char *user, char *room, char *hash)
{
    gc_op_t op = frame->op;
    bool needs_user = op != GC_OP_ROOM_ADD;
    bool needs_room = op == GC_OP_ROOM_ADD || op == GC_OP_MEMBER_ADD || op == GC_OP_MEMBER_REMOVE;
    bool needs_hash = op == GC_OP_USER_ADD || op == GC_OP_PASSWORD_SET;
    return !(needs_user && (!gc_str_copy (frame->user, user, GC_NAME_MAX + 1) || !*user))
        && !(needs_room && (!gc_str_copy (frame->room, room, GC_NAME_MAX + 1) || !*room))
        && !(needs_hash && (!gc_str_copy (frame->hash, hash, crypto_pwhash_STRBYTES)
                            || strncmp (hash, "$argon2id$", 10) != 0));
}

void
gc_admin_change (void *arg, const gc_broker_request_t *request)
{
    gc_admin_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char user [GC_NAME_MAX + 1] = "", room [GC_NAME_MAX + 1] = "";
    char hash [crypto_pwhash_STRBYTES] = "";
    if (!s_fields (frame, user, room, hash)) {
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_BAD_REQUEST,
                        "missing or invalid user, room or hash");
        return;
    }
    gc_error_t code = s_change (self, frame->op, user, room, hash);
    gc_info ("admin op=%s user=%s room=%s result=%s", gc_op_name (frame->op),
             gc_log_quoted (user), gc_log_quoted (room), gc_error_name (code));
    if (code == GC_OK)
        gc_replier_ok (self->reply, request);
    else
        gc_replier_error (self->reply, &request->identity, frame->rid, code,
                        code == GC_BAD_REQUEST? "it exists already": NULL);
}

//  --------------------------------------------------------------------------
//  Queries: who and what there is

//  The names a user_list, room_list or member_list asks for: the count,
//  or -1 with *code saying why
static int
s_list (gc_admin_t *self, const gc_frame_t *frame, char ***names, gc_error_t *code)
{
    gc_op_t op = frame->op;
    uint32_t field = op == GC_OP_MEMBER_LIST? GC_F_ROOM: GC_F_USER;
    char name [GC_NAME_MAX + 1];
    *names = NULL;
    *code = GC_BAD_REQUEST;
    if ((frame->fields & field)
    &&  !gc_str_copy (field == GC_F_ROOM? frame->room: frame->user, name, sizeof name))
        return -1;
    int count;
    if (op == GC_OP_USER_LIST)
        count = gc_store_users (self->store, names);
    else
    if (op == GC_OP_ROOM_LIST && !(frame->fields & GC_F_USER))
        count = gc_store_all_rooms (self->store, names);
    else
    if (op == GC_OP_ROOM_LIST) {
        *code = GC_NO_SUCH_USER;
        count = gc_store_user_exists (self->store, name)? gc_store_rooms (self->store, name, names): -2;
    }
    else
    if (op == GC_OP_MEMBER_LIST && (frame->fields & GC_F_ROOM)) {
        *code = GC_NO_SUCH_ROOM;
        count = gc_store_room (self->store, name, NULL)? gc_store_members (self->store, name, names): -2;
    }
    else
        return -1;
    if (count == -1)
        *code = GC_INTERNAL;
    return count < 0? -1: count;
}

void
gc_admin_list (void *arg, const gc_broker_request_t *request)
{
    gc_admin_t *self = arg;
    const gc_frame_t *frame = &request->frame;
    char **names;
    gc_error_t code;
    int count = s_list (self, frame, &names, &code);
    if (count < 0) {
        gc_replier_error (self->reply, &request->identity, frame->rid, code,
                          code == GC_BAD_REQUEST? "missing or invalid user or room": NULL);
        return;
    }
    gc_replier_names (self->reply, request, GC_F_NAMES, names, count);
    gc_store_names_free (&names, count);
}

//  --------------------------------------------------------------------------
//  Self test

static gc_error_t
s_test_change (gc_rig_t *rig, gc_admin_t *self, gc_op_t op, const char *user,
               const char *room, const char *hash)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, op, user, room);
    if (hash)
        gc_frame_set_cstr (&request.frame, GC_F_HASH, hash);
    gc_admin_change (self, &request);
    return gc_rig_reply (rig);
}

//  The next event on the SUB is a kick of user out of room
static void
s_test_kicked (gc_rig_t *rig, const char *user, const char *room)
{
    gc_frame_t event;
    zmsg_t *holder;
    gc_rig_recv (rig->sub, &event, &holder);
    assert (event.op == GC_OP_KICK && gc_str_eq (event.user, user) && gc_str_eq (event.room, room));
    gc_frame_release (&event), zmsg_destroy (&holder);
}

//  The next event on the SUB closes the user's sessions below the newest
//  generation, for reason
static void
s_test_closed (gc_rig_t *rig, const char *user, const char *reason)
{
    gc_frame_t event;
    zmsg_t *holder;
    gc_rig_recv (rig->sub, &event, &holder);
    assert (event.op == GC_OP_CLOSED && gc_str_eq (event.user, user));
    assert (event.seq == gc_store_generation (rig->store, NULL));
    assert (gc_str_eq (event.reason, reason));
    gc_frame_release (&event), zmsg_destroy (&holder);
}

static void
s_test_changes (gc_rig_t *rig, gc_admin_t *self)
{
    const char *hash = "$argon2id$fake";
    assert (s_test_change (rig, self, GC_OP_USER_ADD, "Greg", NULL, "plain") == GC_BAD_REQUEST);
    assert (s_test_change (rig, self, GC_OP_USER_ADD, "", NULL, hash) == GC_BAD_REQUEST);
    assert (s_test_change (rig, self, GC_OP_USER_ADD, "Greg", NULL, hash) == GC_OK);
    assert (s_test_change (rig, self, GC_OP_USER_ADD, "Greg", NULL, hash) == GC_BAD_REQUEST);
    assert (s_test_change (rig, self, GC_OP_ROOM_ADD, NULL, NULL, NULL) == GC_BAD_REQUEST);
    assert (s_test_change (rig, self, GC_OP_ROOM_ADD, NULL, "Bake Off", NULL) == GC_OK);
    assert (s_test_change (rig, self, GC_OP_MEMBER_ADD, "Greg", "Bake Off", NULL) == GC_OK);
    assert (s_test_change (rig, self, GC_OP_MEMBER_ADD, "Greg", "Nowhere", NULL) == GC_NO_SUCH_ROOM);
    assert (s_test_change (rig, self, GC_OP_PASSWORD_SET, "Nobody", NULL, hash) == GC_NO_SUCH_USER);
    assert (s_test_change (rig, self, GC_OP_PASSWORD_SET, "Greg", NULL, hash) == GC_OK);
    s_test_closed (rig, "Greg", GC_REASON_PASSWORD);
    assert (gc_store_user_generation (rig->store, "Greg") == gc_store_generation (rig->store, NULL));
    assert (s_test_change (rig, self, GC_OP_MEMBER_REMOVE, "Greg", "Bake Off", NULL) == GC_OK);
    s_test_kicked (rig, "Greg", "Bake Off");
    assert (gc_store_member_set (rig->store, "Greg", "Taskmaster", true) == GC_OK);
    assert (s_test_change (rig, self, GC_OP_USER_REMOVE, "Greg", NULL, NULL) == GC_OK);
    s_test_closed (rig, "Greg", GC_REASON_REMOVED);
    s_test_kicked (rig, "Greg", "Taskmaster");
    assert (s_test_change (rig, self, GC_OP_USER_REMOVE, "Greg", NULL, NULL) == GC_NO_SUCH_USER);
    assert (s_test_change (rig, self, GC_OP_PING, "Greg", NULL, NULL) == GC_BAD_REQUEST);
}

//  Calls handler with a new request and receives its reply; holder keeps
//  the reply's bytes
static void
s_test_ask (gc_rig_t *rig, gc_handler_fn *handler, gc_admin_t *self, gc_op_t op,
            const char *user, const char *room, gc_frame_t *reply, zmsg_t **holder)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, op, user, room);
    handler (self, &request);
    gc_rig_recv (rig->dealer, reply, holder);
    assert (reply->rid == rig->rid);
}

//  Asks for a list; on ok, the names joined by commas into joined
static gc_error_t
s_test_list (gc_rig_t *rig, gc_admin_t *self, gc_op_t op, const char *user,
             const char *room, char *joined, size_t size)
{
    gc_frame_t reply;
    zmsg_t *holder;
    s_test_ask (rig, gc_admin_list, self, op, user, room, &reply, &holder);
    gc_error_t code = reply.op == GC_OP_OK? GC_OK: reply.code;
    assert (code != GC_OK || (reply.fields & GC_F_NAMES));
    joined [0] = 0;
    for (size_t index = 0; index < reply.names_size; index++)
        snprintf (joined + strlen (joined), size - strlen (joined), "%s%.*s", index? ",": "",
                  (int) reply.names [index].len, reply.names [index].ptr);
    gc_frame_release (&reply), zmsg_destroy (&holder);
    return code;
}

static void
s_test_lists (gc_rig_t *rig, gc_admin_t *self)
{
    char names [256];
    assert (s_test_list (rig, self, GC_OP_USER_LIST, NULL, NULL, names, sizeof names) == GC_OK);
    assert (streq (names, "Alex,Sandy,Sue"));
    assert (s_test_list (rig, self, GC_OP_ROOM_LIST, NULL, NULL, names, sizeof names) == GC_OK);
    assert (streq (names, "8 out of 10 cats,Bake Off,Quite Interesting,Taskmaster"));
    assert (s_test_list (rig, self, GC_OP_ROOM_LIST, "Sandy", NULL, names, sizeof names) == GC_OK);
    assert (streq (names, "Quite Interesting,Taskmaster"));
    assert (s_test_list (rig, self, GC_OP_ROOM_LIST, "Nobody", NULL, names, sizeof names)
            == GC_NO_SUCH_USER);
    assert (s_test_list (rig, self, GC_OP_MEMBER_LIST, NULL, "8 out of 10 cats", names, sizeof names)
            == GC_OK);
    assert (streq (names, "Alex,Sue"));
    assert (s_test_list (rig, self, GC_OP_MEMBER_LIST, NULL, "Bake Off", names, sizeof names) == GC_OK);
    assert (streq (names, ""));
    assert (s_test_list (rig, self, GC_OP_MEMBER_LIST, NULL, "Nowhere", names, sizeof names)
            == GC_NO_SUCH_ROOM);
    assert (s_test_list (rig, self, GC_OP_MEMBER_LIST, NULL, NULL, names, sizeof names)
            == GC_BAD_REQUEST);
    assert (s_test_list (rig, self, GC_OP_PING, "Sue", NULL, names, sizeof names) == GC_BAD_REQUEST);
}

static void
s_test_figures (gc_rig_t *rig, gc_admin_t *self)
{
    gc_frame_t reply;
    zmsg_t *holder;
    s_test_ask (rig, gc_admin_ping, self, GC_OP_PING, NULL, NULL, &reply, &holder);
    assert (reply.op == GC_OP_OK && (reply.fields & GC_F_TEXT));
    fwrite (reply.text.ptr, 1, reply.text.len, gc_rig_capture (rig));
    assert (gc_rig_captured (rig, "groupchat_broker_gateways_connected 1"));
    assert (gc_rig_captured (rig, "groupchat_broker_rooms 4"));
    assert (gc_rig_captured (rig, "groupchat_broker_logins_ok_total 0"));
    assert (gc_rig_captured (rig, "groupchat_broker_messages_stored_total 0"));
    gc_frame_release (&reply), zmsg_destroy (&holder);
}

//  Asks for a backup named path (NULL: none named); returns the code
static gc_error_t
s_test_backup (gc_rig_t *rig, gc_admin_t *self, const char *path)
{
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_BACKUP, NULL, NULL);
    if (path)
        gc_frame_set_cstr (&request.frame, GC_F_PATH, path);
    gc_admin_backup (self, &request);
    return gc_rig_reply (rig);
}

//  Backups go under the backup directory (backups.c tests the names);
//  without one they are refused
static void
s_test_backups (gc_rig_t *rig, gc_login_t *login, gc_commit_t *commit)
{
    gc_admin_t *self = gc_admin_new (rig->store, rig->reply, login, commit, NULL);
    assert (s_test_backup (rig, self, "copy.db") == GC_BAD_REQUEST);
    gc_admin_destroy (&self);
    char dir [] = "/tmp/gc_admin_backups_XXXXXX", copy [64];
    assert (mkdtemp (dir));
    gc_backups_t *backups = gc_backups_new (dir);
    self = gc_admin_new (rig->store, rig->reply, login, commit, backups);
    assert (s_test_backup (rig, self, NULL) == GC_BAD_REQUEST);
    assert (s_test_backup (rig, self, "/tmp/copy.db") == GC_BAD_REQUEST);
    assert (s_test_backup (rig, self, "copy.db") == GC_OK);
    assert (s_test_backup (rig, self, "copy.db") == GC_BAD_REQUEST);
    snprintf (copy, sizeof copy, "%s/copy.db", dir);
    gc_store_t *store = gc_store_new (copy, GC_SEED_NONE);
    assert (store && gc_store_room (store, "Bake Off", NULL));
    gc_store_destroy (&store);
    gc_rig_unlink (copy);
    assert (rmdir (dir) == 0);
    gc_admin_destroy (&self);
    gc_backups_destroy (&backups);
}

void
gc_admin_test (bool verbose)
{
    if (verbose)
        printf (" * gc_admin: ");
    gc_rig_t *rig = gc_rig_new ();
    gc_rig_subscribe (rig, "Bake Off");
    gc_rig_subscribe (rig, "Taskmaster");
    gc_rig_subscribe (rig, NULL);
    gc_login_t *login = gc_login_new (rig->store, rig->reply);
    gc_commit_t *commit = gc_commit_new (rig->store, rig->reply);
    gc_admin_t *self = gc_admin_new (rig->store, rig->reply, login, commit, NULL);
    s_test_changes (rig, self);
    s_test_lists (rig, self);
    s_test_figures (rig, self);
    gc_admin_destroy (&self);
    gc_admin_destroy (&self);
    s_test_backups (rig, login, commit);
    gc_commit_destroy (&commit);
    gc_login_destroy (&login);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
