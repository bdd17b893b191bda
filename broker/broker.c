/*  broker.c: the broker actor.

    One thread runs a zloop over the ROUTER (requests), the XPUB (events
    out, subscriptions in), the hasher's results and a one-second clock.
    Each request is handled by a small function named after what it does.
    Says are not stored one by one: the ROUTER handler drains every request
    waiting, queues the valid says, and commits them all in one transaction
    at the end of the turn (group commit); only then are they acknowledged
    and published. Says that arrive during a commit's fsync are thus
    committed together in the next one. */
#include <czmq.h>
#include <sodium.h>
#include <sqlite3.h>
#include "broker.h"
#include "hasher.h"
#include "store.h"
#include "gc_codec.h"
#include "gc_limits.h"
#include "gc_text.h"
#include "gc_log.h"
#include "gc_metrics.h"
#include "gc_clock.h"


typedef struct {
    unsigned char data [GC_BROKER_IDENTITY_MAX];
    size_t size;
} s_identity_t;

//  A say waiting for the end of the turn's commit
typedef struct {
    s_identity_t identity;
    uint64_t rid;
    int64_t deadline;           //  0: none
    char room [GC_NAME_MAX + 1];
    char from [GC_NAME_MAX + 1];
    char *text;
    size_t text_size;
} s_say_t;

struct gc_broker_t {
    gc_store_t *store;
    gc_hasher_t *hasher;
    zsock_t *router;            //  requests from gateways
    zsock_t *xpub;              //  events to gateways, subscriptions from them
    zactor_t *actor;
    s_say_t *says;              //  queued this turn
    size_t says_size, says_max;
    msgpack_sbuffer buffer;     //  encode buffer, reused
    char *requests_endpoint;
    char *events_endpoint;
    zhashx_t *gateways;         //  identity (hex) -> last ping, ms
    uint64_t messages_stored;
    uint64_t logins_ok, logins_failed;
    gc_histogram_t commit_seconds;  //  how long each group commit took
    gc_histogram_t batch_sizes;     //  says per group commit
};

//  --------------------------------------------------------------------------
//  Sending

static void
s_send_frame (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *frame)
{
    if (gc_frame_encode (frame, &self->buffer))
        return;
    void *router = zsock_resolve (self->router);
    //  A gateway that went away makes these fail: nothing to do about it
    if (zmq_send (router, identity->data, identity->size, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (router, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
}

static void
s_send_error (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request,
              gc_error_t code, const char *message)
{
    gc_frame_t reply;
    gc_frame_error (&reply, request, code, message);
    s_send_frame (self, identity, &reply);
}

static void
s_reply_init (gc_frame_t *reply, uint64_t rid)
{
    gc_frame_init (reply, GC_OP_OK);
    gc_frame_set_uint (reply, GC_F_RID, rid);
}

static void
s_publish (gc_broker_t *self, const gc_frame_t *event)
{
    char topic [GC_NAME_MAX + 1];
    size_t size = gc_topic (event->room, topic, sizeof topic);
    if (!size || gc_frame_encode (event, &self->buffer))
        return;
    void *xpub = zsock_resolve (self->xpub);
    zmq_send (xpub, topic, size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (xpub, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
}

static void
s_publish_head (void *arg, const char *room, uint64_t last)
{
    gc_frame_t head;
    gc_frame_init (&head, GC_OP_HEAD);
    gc_frame_set_cstr (&head, GC_F_ROOM, room);
    gc_frame_set_uint (&head, GC_F_SEQ, last);
    s_publish (arg, &head);
}

//  Copies a wire string into a C string; false when too long or holding
//  a NUL (no name or text of ours may)
static bool
s_cstr (gc_str_t str, char *buffer, size_t size)
{
    if (str.len >= size || memchr (str.ptr, 0, str.len))
        return false;
    memcpy (buffer, str.ptr, str.len);
    buffer [str.len] = 0;
    return true;
}

//  --------------------------------------------------------------------------
//  Requests

//  The user and room a request names, checked: 0, or -1 after replying
//  bad_request / no_such_room / not_member as the contract says
static int
s_check_room (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request,
              bool member_only, char *user, char *room)
{
    if (!(request->fields & GC_F_ROOM) || !s_cstr (request->room, room, GC_NAME_MAX + 1)
    ||  (member_only && (!(request->fields & GC_F_USER)
                         || !s_cstr (request->user, user, GC_NAME_MAX + 1)))) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "room or user missing or invalid");
        return -1;
    }
    if (!gc_store_room (self->store, room, NULL)) {
        s_send_error (self, identity, request, GC_NO_SUCH_ROOM, NULL);
        return -1;
    }
    if (member_only && !gc_store_is_member (self->store, user, room)) {
        char message [2 * GC_NAME_MAX + 32];
        snprintf (message, sizeof message, "%s is not a member of %s", user, room);
        s_send_error (self, identity, request, GC_NOT_MEMBER, message);
        return -1;
    }
    return 0;
}

static void
s_login_with_token (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char token [GC_TOKEN_LEN + 1];
    char *user = s_cstr (request->token, token, sizeof token)?
                 gc_store_token_user (self->store, token, gc_clock_wall_ms ()): NULL;
    if (!user) {
        s_send_error (self, identity, request, GC_BAD_CREDENTIALS, "bad or expired token");
        return;
    }
    gc_frame_t reply;
    s_reply_init (&reply, request->rid);
    gc_frame_set_cstr (&reply, GC_F_USER, user);
    gc_frame_set_cstr (&reply, GC_F_TOKEN, token);
    s_send_frame (self, identity, &reply);
    gc_info ("login user=%s with=token", user);
    self->logins_ok++;
    free (user);
}

//  Hands the password check to a hash worker; s_on_verified finishes it.
//  Unknown users are checked against a dummy hash, so that they take as
//  long as real ones.
static void
s_login_with_password (gc_broker_t *self, const s_identity_t *identity,
                       const gc_frame_t *request, const void *data, size_t size)
{
    char user [GC_NAME_MAX + 1];
    char *hash = s_cstr (request->user, user, sizeof user)?
                 gc_store_password_hash (self->store, user): NULL;
    zmsg_t *job = zmsg_new ();
    zmsg_addstr (job, hash? hash: gc_hasher_dummy (self->hasher));
    zmsg_addmem (job, request->password.ptr, request->password.len);
    zmsg_addmem (job, identity->data, identity->size);
    zmsg_addmem (job, data, size);
    zmsg_addstr (job, hash? "known": "unknown");
    free (hash);
    if (gc_hasher_submit (self->hasher, &job)) {
        zmsg_destroy (&job);
        s_send_error (self, identity, request, GC_INTERNAL, NULL);
    }
}

static void
s_login (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request,
         const void *data, size_t size)
{
    if (request->fields & GC_F_TOKEN)
        s_login_with_token (self, identity, request);
    else
    if ((request->fields & GC_F_USER) && (request->fields & GC_F_PASSWORD))
        s_login_with_password (self, identity, request, data, size);
    else
        s_send_error (self, identity, request, GC_BAD_REQUEST, "login needs user and password, or token");
}

static void
s_logout (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char token [GC_TOKEN_LEN + 1];
    if (s_cstr (request->token, token, sizeof token))
        gc_store_token_delete (self->store, token);
    gc_frame_t reply;
    s_reply_init (&reply, request->rid);
    s_send_frame (self, identity, &reply);
}

static void
s_rooms (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char user [GC_NAME_MAX + 1];
    if (!s_cstr (request->user, user, sizeof user)) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "user missing or invalid");
        return;
    }
    char **names;
    int count = gc_store_rooms (self->store, user, &names);
    gc_str_t rooms [count > 0? count: 1];
    for (int index = 0; index < count; index++)
        rooms [index] = (gc_str_t) { names [index], strlen (names [index]) };
    gc_frame_t reply;
    s_reply_init (&reply, request->rid);
    reply.rooms = rooms;
    reply.rooms_size = count > 0? (size_t) count: 0;
    reply.fields |= GC_F_ROOMS;
    s_send_frame (self, identity, &reply);
    for (int index = 0; index < count; index++)
        free (names [index]);
    free (names);
}

static void
s_send_history (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request,
                gc_history_t *history, const char *room, uint64_t last)
{
    gc_frame_t reply;
    s_reply_init (&reply, request->rid);
    gc_frame_set_cstr (&reply, GC_F_ROOM, room);
    reply.history = history->messages;
    reply.history_size = history->size;
    reply.fields |= GC_F_HISTORY;
    if (request->op == GC_OP_JOIN) {
        gc_frame_set_uint (&reply, GC_F_HEAD, last);
        if (request->fields & GC_F_SINCE)
            gc_frame_set_uint (&reply, GC_F_COMPLETE, history->size == 0
                || history->messages [history->size - 1].seq >= last);
    }
    s_send_frame (self, identity, &reply);
    gc_history_free (history);
}

static void
s_join (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    if (s_check_room (self, identity, request, true, user, room))
        return;
    uint64_t last = 0;
    gc_store_room (self->store, room, &last);
    gc_history_t history;
    int rc = request->fields & GC_F_SINCE?
             gc_store_since (self->store, room, request->since, GC_SINCE_MAX, &history):
             gc_store_before (self->store, room, 0, GC_JOIN_HISTORY, &history);
    if (rc)
        s_send_error (self, identity, request, GC_INTERNAL, NULL);
    else
        s_send_history (self, identity, request, &history, room, last);
}

static void
s_history (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char room [GC_NAME_MAX + 1];
    uint32_t limit = request->fields & GC_F_LIMIT? request->limit: GC_HISTORY_DEFAULT;
    if (limit < 1 || limit > GC_SINCE_MAX) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "limit out of range");
        return;
    }
    if (s_check_room (self, identity, request, false, NULL, room))
        return;
    gc_history_t history;
    int rc = request->fields & GC_F_SINCE?
             gc_store_since (self->store, room, request->since, limit, &history):
             gc_store_before (self->store, room, request->fields & GC_F_BEFORE? request->before: 0,
                              limit, &history);
    if (rc)
        s_send_error (self, identity, request, GC_INTERNAL, NULL);
    else
        s_send_history (self, identity, request, &history, room, 0);
}

//  Checks a say and queues it for the turn's commit
static void
s_say (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char user [GC_NAME_MAX + 1], room [GC_NAME_MAX + 1];
    if (!(request->fields & GC_F_TEXT)) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "text missing");
        return;
    }
    if (s_check_room (self, identity, request, true, user, room))
        return;
    const gc_str_t text = request->text;
    gc_error_t code = gc_text_check (text.ptr, text.len);
    if (code == GC_OK && self->says_size == self->says_max) {
        size_t max = self->says_max? 2 * self->says_max: 64;
        s_say_t *says = realloc (self->says, max * sizeof (s_say_t));
        if (says) {
            self->says = says;
            self->says_max = max;
        }
        else
            code = GC_INTERNAL;
    }
    if (code != GC_OK) {
        s_send_error (self, identity, request, code, NULL);
        return;
    }
    s_say_t *say = &self->says [self->says_size++];
    say->identity = *identity;
    say->rid = request->rid;
    say->deadline = request->fields & GC_F_DEADLINE? request->deadline: 0;
    strcpy (say->room, room);
    strcpy (say->from, user);
    say->text = malloc (text.len + 1);
    memcpy (say->text, text.ptr, text.len);
    say->text_size = text.len;
}

static void s_commit (gc_broker_t *self);
static void s_stats (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request);

//  --------------------------------------------------------------------------
//  Heartbeats, figures and administration

//  A ping is a gateway's heartbeat: remember the gateway, and answer with
//  the broker's figures so that gateways can show them at /metrics
static void
s_ping (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char key [2 * GC_BROKER_IDENTITY_MAX + 1];
    for (size_t index = 0; index < identity->size; index++)
        sprintf (key + 2 * index, "%02x", identity->data [index]);
    key [2 * identity->size] = 0;
    zhashx_update (self->gateways, key, (void *) (intptr_t) gc_clock_wall_ms ());
    s_stats (self, identity, request);
}

static size_t
s_gateways_connected (gc_broker_t *self)
{
    int64_t now = gc_clock_wall_ms ();
    size_t count = 0;
    for (void *seen = zhashx_first (self->gateways); seen; seen = zhashx_next (self->gateways))
        count += now - (intptr_t) seen < GC_HEARTBEAT_DEAD_MS;
    return count;
}

static void
s_stats_write (gc_broker_t *self, FILE *stream)
{
    gc_metric_write (stream, "groupchat_broker_messages_stored_total", "counter",
                     "Messages committed since the broker started.", (double) self->messages_stored);
    gc_metric_write (stream, "groupchat_broker_logins_ok_total", "counter",
                     "Successful logins.", (double) self->logins_ok);
    gc_metric_write (stream, "groupchat_broker_logins_failed_total", "counter",
                     "Refused password logins.", (double) self->logins_failed);
    gc_metric_write (stream, "groupchat_broker_database_bytes", "gauge",
                     "Size of the SQLite database.", (double) gc_store_size (self->store));
    gc_metric_write (stream, "groupchat_broker_rooms", "gauge",
                     "Rooms (one per group).", (double) gc_store_room_count (self->store));
    gc_metric_write (stream, "groupchat_broker_gateways_connected", "gauge",
                     "Gateways that sent a heartbeat in the last 3 s.",
                     (double) s_gateways_connected (self));
    gc_histogram_write (&self->commit_seconds, stream, "groupchat_broker_commit_seconds",
                        "Time each group commit took, fsync included.");
    gc_histogram_write (&self->batch_sizes, stream, "groupchat_broker_commit_batch_size",
                        "Messages stored per group commit.");
}

static void
s_stats (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    if (stream) {
        s_stats_write (self, stream);
        fclose (stream);
    }
    gc_frame_t reply;
    s_reply_init (&reply, request->rid);
    if (text)
        gc_frame_set_str (&reply, GC_F_TEXT, text, size);
    s_send_frame (self, identity, &reply);
    free (text);
}

static void
s_backup (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char path [PATH_MAX];
    if (!(request->fields & GC_F_PATH) || !s_cstr (request->path, path, sizeof path)) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "path missing");
        return;
    }
    //  Says queued this turn are committed first, so the copy has every
    //  message acknowledged before the backup was asked for
    s_commit (self);
    if (gc_store_backup (self->store, path))
        s_send_error (self, identity, request, GC_INTERNAL, "the backup failed, see the broker's log");
    else {
        gc_frame_t reply;
        s_reply_init (&reply, request->rid);
        s_send_frame (self, identity, &reply);
        gc_info ("backup path=%s", path);
    }
}

//  Tells every gateway that user is out of room, so its connections in
//  that room are put out at once
static void
s_publish_kick (gc_broker_t *self, const char *user, const char *room)
{
    gc_frame_t kick;
    gc_frame_init (&kick, GC_OP_KICK);
    gc_frame_set_cstr (&kick, GC_F_ROOM, room);
    gc_frame_set_cstr (&kick, GC_F_USER, user);
    s_publish (self, &kick);
}

static gc_error_t
s_remove_user (gc_broker_t *self, const char *user)
{
    char **rooms;
    int count = gc_store_rooms (self->store, user, &rooms);
    gc_error_t code = gc_store_user_remove (self->store, user);
    for (int index = 0; index < count; index++) {
        if (code == GC_OK)
            s_publish_kick (self, user, rooms [index]);
        free (rooms [index]);
    }
    free (rooms);
    return code;
}

static gc_error_t
s_apply_admin (gc_broker_t *self, const gc_frame_t *request, const char *user,
               const char *room, const char *hash)
{
    switch (request->op) {
        case GC_OP_USER_ADD:      return gc_store_user_add (self->store, user, hash);
        case GC_OP_USER_REMOVE:   return s_remove_user (self, user);
        case GC_OP_PASSWORD_SET:  return gc_store_password_set (self->store, user, hash);
        case GC_OP_ROOM_ADD:      return gc_store_room_add (self->store, room);
        case GC_OP_MEMBER_ADD:    return gc_store_member_set (self->store, user, room, true);
        case GC_OP_MEMBER_REMOVE: {
            gc_error_t code = gc_store_member_set (self->store, user, room, false);
            if (code == GC_OK)
                s_publish_kick (self, user, room);
            return code;
        }
        default:
            return GC_BAD_REQUEST;
    }
}

//  Administration: the fields each op needs, then the change. A password
//  arrives already hashed: the slow hash runs in the administrator's
//  process, never in the broker's loop.
static void
s_administer (gc_broker_t *self, const s_identity_t *identity, const gc_frame_t *request)
{
    char user [GC_NAME_MAX + 1] = "", room [GC_NAME_MAX + 1] = "";
    char hash [crypto_pwhash_STRBYTES] = "";
    bool needs_user = request->op != GC_OP_ROOM_ADD;
    bool needs_room = request->op == GC_OP_ROOM_ADD || request->op == GC_OP_MEMBER_ADD
                   || request->op == GC_OP_MEMBER_REMOVE;
    bool needs_hash = request->op == GC_OP_USER_ADD || request->op == GC_OP_PASSWORD_SET;
    if ((needs_user && (!s_cstr (request->user, user, sizeof user) || !*user))
    ||  (needs_room && (!s_cstr (request->room, room, sizeof room) || !*room))
    ||  (needs_hash && (!s_cstr (request->hash, hash, sizeof hash)
                        || strncmp (hash, "$argon2id$", 10) != 0))) {
        s_send_error (self, identity, request, GC_BAD_REQUEST, "missing or invalid user, room or hash");
        return;
    }
    gc_error_t code = s_apply_admin (self, request, user, room, hash);
    gc_info ("admin op=%s user=%s room=\"%s\" result=%s", gc_op_name (request->op),
             user, room, gc_error_name (code));
    if (code == GC_OK) {
        gc_frame_t reply;
        s_reply_init (&reply, request->rid);
        s_send_frame (self, identity, &reply);
    }
    else
        s_send_error (self, identity, request, code,
                      code == GC_BAD_REQUEST? "it exists already": NULL);
}

//  --------------------------------------------------------------------------
//  Group commit

static void
s_says_clear (gc_broker_t *self)
{
    for (size_t index = 0; index < self->says_size; index++)
        free (self->says [index].text);
    self->says_size = 0;
}

//  Drops the says whose deadline passed while they waited: the gateway
//  answers those unavailable, so they must not be stored
static size_t
s_drop_expired (gc_broker_t *self, int64_t now)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->says_size; index++) {
        s_say_t *say = &self->says [index];
        if (say->deadline && now > say->deadline) {
            gc_frame_t request;
            gc_frame_init (&request, GC_OP_SAY);
            gc_frame_set_uint (&request, GC_F_RID, say->rid);
            s_send_error (self, &say->identity, &request, GC_EXPIRED, NULL);
            free (say->text);
        }
        else
            self->says [kept++] = *say;
    }
    self->says_size = kept;
    return kept;
}

static void
s_acknowledge (gc_broker_t *self, const s_say_t *say, const gc_store_say_t *stored)
{
    gc_frame_t frame;
    s_reply_init (&frame, say->rid);
    gc_frame_set_uint (&frame, GC_F_SEQ, stored->seq);
    gc_frame_set_uint (&frame, GC_F_TS, (uint64_t) stored->ts);
    s_send_frame (self, &say->identity, &frame);

    gc_frame_init (&frame, GC_OP_MESSAGE);
    gc_frame_set_cstr (&frame, GC_F_ROOM, say->room);
    gc_frame_set_uint (&frame, GC_F_SEQ, stored->seq);
    gc_frame_set_cstr (&frame, GC_F_FROM, say->from);
    gc_frame_set_str (&frame, GC_F_TEXT, say->text, say->text_size);
    gc_frame_set_uint (&frame, GC_F_TS, (uint64_t) stored->ts);
    s_publish (self, &frame);
}

static void
s_commit (gc_broker_t *self)
{
    int64_t now = gc_clock_wall_ms ();
    size_t count = s_drop_expired (self, now);
    if (count == 0)
        return;
    gc_store_say_t *stored = calloc (count, sizeof *stored);
    for (size_t index = 0; stored && index < count; index++)
        stored [index] = (gc_store_say_t) {
            self->says [index].room, self->says [index].from,
            self->says [index].text, self->says [index].text_size, 0, 0
        };
    int64_t started = gc_clock_mono_us ();
    int rc = stored? gc_store_append (self->store, stored, count, now): -1;
    gc_histogram_add (&self->commit_seconds, (double) (gc_clock_mono_us () - started) / 1e6);
    gc_histogram_add (&self->batch_sizes, (double) count);
    if (rc == 0)
        self->messages_stored += count;
    for (size_t index = 0; index < count; index++)
        if (rc == 0)
            s_acknowledge (self, &self->says [index], &stored [index]);
        else {
            gc_frame_t request;
            gc_frame_init (&request, GC_OP_SAY);
            gc_frame_set_uint (&request, GC_F_RID, self->says [index].rid);
            s_send_error (self, &self->says [index].identity, &request, GC_INTERNAL, NULL);
        }
    gc_debug ("committed says=%zu rc=%d", count, rc);
    free (stored);
    s_says_clear (self);
}

//  --------------------------------------------------------------------------
//  The loop's handlers

static void
s_handle_request (gc_broker_t *self, const s_identity_t *identity, const void *data, size_t size)
{
    gc_frame_t request;
    if (gc_frame_decode (&request, data, size) || !(request.fields & GC_F_RID)) {
        //  Without a readable rid no reply could be matched to it
        gc_warn ("dropped a malformed request size=%zu", size);
        gc_frame_release (&request);
        return;
    }
    if ((request.fields & GC_F_DEADLINE) && gc_clock_wall_ms () > request.deadline)
        s_send_error (self, identity, &request, GC_EXPIRED, NULL);
    else
    switch (request.op) {
        case GC_OP_PING:    s_ping (self, identity, &request); break;
        case GC_OP_STATS:   s_stats (self, identity, &request); break;
        case GC_OP_BACKUP:  s_backup (self, identity, &request); break;
        case GC_OP_USER_ADD:
        case GC_OP_USER_REMOVE:
        case GC_OP_PASSWORD_SET:
        case GC_OP_ROOM_ADD:
        case GC_OP_MEMBER_ADD:
        case GC_OP_MEMBER_REMOVE:
            s_administer (self, identity, &request);
            break;
        case GC_OP_LOGIN:   s_login (self, identity, &request, data, size); break;
        case GC_OP_LOGOUT:  s_logout (self, identity, &request); break;
        case GC_OP_ROOMS:   s_rooms (self, identity, &request); break;
        case GC_OP_JOIN:    s_join (self, identity, &request); break;
        case GC_OP_SAY:     s_say (self, identity, &request); break;
        case GC_OP_HISTORY: s_history (self, identity, &request); break;
        default:
            s_send_error (self, identity, &request, GC_BAD_REQUEST, "not a request op");
    }
    gc_frame_release (&request);
}

//  Reads one [identity][body] request; false when none is waiting
static bool
s_read_request (gc_broker_t *self)
{
    void *router = zsock_resolve (self->router);
    s_identity_t identity;
    int size = zmq_recv (router, identity.data, sizeof identity.data, ZMQ_DONTWAIT);
    if (size < 0)
        return false;
    identity.size = (size_t) size < sizeof identity.data? (size_t) size: sizeof identity.data;
    zmq_msg_t body;
    zmq_msg_init (&body);
    if (zsock_rcvmore (self->router) && zmq_msg_recv (&body, router, ZMQ_DONTWAIT) >= 0)
        s_handle_request (self, &identity, zmq_msg_data (&body), zmq_msg_size (&body));
    while (zmq_msg_more (&body) && zmq_msg_recv (&body, router, ZMQ_DONTWAIT) >= 0)
        ;                       //  frames no request has
    zmq_msg_close (&body);
    return true;
}

static int
s_on_requests (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    for (int count = 0; count < GC_BROKER_TURN_MAX && s_read_request (self); count++)
        ;
    s_commit (self);
    return 0;
}

//  A password check came back from a worker: [verdict][identity][request][known]
static int
s_on_verified (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    gc_broker_t *self = arg;
    zmsg_t *result = zmsg_recv (reader);
    zframe_t *verdict = zmsg_pop (result), *identity_frame = zmsg_pop (result);
    zframe_t *body = zmsg_pop (result), *known = zmsg_pop (result);
    gc_frame_t request;
    s_identity_t identity = { .size = 0 };
    if (known && zframe_size (identity_frame) <= GC_BROKER_IDENTITY_MAX
    &&  gc_frame_decode (&request, zframe_data (body), zframe_size (body)) == 0) {
        memcpy (identity.data, zframe_data (identity_frame), zframe_size (identity_frame));
        identity.size = zframe_size (identity_frame);
        char user [GC_NAME_MAX + 1], token [GC_TOKEN_LEN + 1];
        int64_t now = gc_clock_wall_ms ();
        bool good = zframe_streq (verdict, "1") && zframe_streq (known, "known")
                 && s_cstr (request.user, user, sizeof user);
        if ((request.fields & GC_F_DEADLINE) && now > request.deadline)
            s_send_error (self, &identity, &request, GC_EXPIRED, NULL);
        else
        if (!good || gc_store_token_new (self->store, user, now, token)) {
            gc_info ("login refused");
            self->logins_failed++;
            s_send_error (self, &identity, &request, GC_BAD_CREDENTIALS, "wrong user name or password");
        }
        else {
            gc_frame_t reply;
            s_reply_init (&reply, request.rid);
            gc_frame_set_cstr (&reply, GC_F_USER, user);
            gc_frame_set_cstr (&reply, GC_F_TOKEN, token);
            s_send_frame (self, &identity, &reply);
            gc_info ("login user=%s with=password", user);
            self->logins_ok++;
        }
        gc_frame_release (&request);
    }
    zframe_destroy (&verdict), zframe_destroy (&identity_frame);
    zframe_destroy (&body), zframe_destroy (&known);
    zmsg_destroy (&result);
    return 0;
}

//  A gateway subscribed to a room: tell it the room's newest seq, so that
//  it notices anything published before its subscription took effect
static int
s_on_subscription (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    void *xpub = zsock_resolve (self->xpub);
    for (int count = 0; count < GC_BROKER_TURN_MAX; count++) {
        char message [GC_NAME_MAX + 2];
        int size = zmq_recv (xpub, message, sizeof message, ZMQ_DONTWAIT);
        if (size < 0)
            break;
        uint64_t last;
        if (size >= 2 && size <= (int) sizeof message && message [0] == 1
        &&  message [size - 1] == 0 && gc_store_room (self->store, message + 1, &last))
            s_publish_head (self, message + 1, last);
    }
    return 0;
}

static int
s_on_clock (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    gc_broker_t *self = arg;
    gc_store_recent_rooms (self->store, gc_clock_wall_ms () - GC_HEAD_RECENT_MS, s_publish_head, self);
    return 0;
}

static int
s_on_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) arg;
    zmsg_t *message = zmsg_recv (reader);
    char *command = message? zmsg_popstr (message): NULL;
    bool terminate = !command || streq (command, "$TERM");
    free (command);
    zmsg_destroy (&message);
    return terminate? -1: 0;
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    gc_broker_t *self = arg;
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, pipe, s_on_pipe, self);
    zloop_reader (loop, self->router, s_on_requests, self);
    zloop_reader (loop, self->xpub, s_on_subscription, self);
    zloop_reader (loop, gc_hasher_results (self->hasher), s_on_verified, self);
    zloop_timer (loop, GC_HEAD_BEACON_MS, 0, s_on_clock, self);
    zloop_set_nonstop (loop, true);     //  main decides when we stop
    zsock_signal (pipe, 0);
    zloop_start (loop);
    zloop_destroy (&loop);
}

//  --------------------------------------------------------------------------
//  Construction

static zsock_t *
s_bind (int type, const char *endpoint, char **bound)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, GC_BROKER_HWM);
    zsock_set_rcvhwm (sock, GC_BROKER_HWM);
    zsock_set_heartbeat_ivl (sock, GC_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (sock, GC_HEARTBEAT_DEAD_MS);
    if (type == ZMQ_XPUB)
        zsock_set_xpub_verbose (sock, 1);
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        gc_error ("cannot bind endpoint=%s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    *bound = zsock_last_endpoint (sock);
    return sock;
}

gc_broker_t *
gc_broker_new (const gc_broker_config_t *config)
{
    gc_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_sbuffer_init (&self->buffer);
    self->gateways = zhashx_new ();
    gc_histogram_init (&self->commit_seconds, gc_metrics_seconds, 12);
    gc_histogram_init (&self->batch_sizes, gc_metrics_sizes, 10);
    self->store = gc_store_new (config->db);
    self->hasher = self->store? gc_hasher_new (GC_BROKER_HASH_WORKERS): NULL;
    if (self->hasher)
        self->router = s_bind (ZMQ_ROUTER, config->requests, &self->requests_endpoint);
    if (self->router)
        self->xpub = s_bind (ZMQ_XPUB, config->events, &self->events_endpoint);
    if (!self->xpub) {
        gc_broker_destroy (&self);
        return NULL;
    }
    //  The sockets move to the actor's thread; zactor_new is the barrier
    self->actor = zactor_new (s_actor, self);
    return self;
}

void
gc_broker_destroy (gc_broker_t **self_p)
{
    gc_broker_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);      //  the last turn has committed
    s_says_clear (self);
    free (self->says);
    zsock_destroy (&self->router);
    zsock_destroy (&self->xpub);
    gc_hasher_destroy (&self->hasher);
    gc_store_destroy (&self->store);
    msgpack_sbuffer_destroy (&self->buffer);
    zstr_free (&self->requests_endpoint);
    zstr_free (&self->events_endpoint);
    zhashx_destroy (&self->gateways);
    free (self);
    *self_p = NULL;
}

const char *
gc_broker_requests_endpoint (gc_broker_t *self)
{
    return self->requests_endpoint;
}

const char *
gc_broker_events_endpoint (gc_broker_t *self)
{
    return self->events_endpoint;
}

//  --------------------------------------------------------------------------
//  Self test: a real broker on ephemeral ports, driven through the codec

static uint64_t s_test_rid;

static void
s_test_send (zsock_t *dealer, gc_frame_t *request)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    gc_frame_set_uint (request, GC_F_RID, ++s_test_rid);
    assert (gc_frame_encode (request, &buffer) == 0);
    zmq_send (zsock_resolve (dealer), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
}

//  Receives one message (the last frame of it) within 10 s, decoded
static void
s_test_recv (zsock_t *sock, gc_frame_t *frame, zmsg_t **holder)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (zpoller_wait (poller, 10000) == sock);
    zpoller_destroy (&poller);
    *holder = zmsg_recv (sock);
    zframe_t *body = zmsg_last (*holder);
    assert (gc_frame_decode (frame, zframe_data (body), zframe_size (body)) == 0);
}

static gc_error_t
s_test_call (zsock_t *dealer, gc_frame_t *request, gc_frame_t *reply, zmsg_t **holder)
{
    s_test_send (dealer, request);
    s_test_recv (dealer, reply, holder);
    assert (reply->rid == s_test_rid);
    return reply->op == GC_OP_OK? GC_OK: reply->code;
}

static gc_error_t
s_test_simple (zsock_t *dealer, gc_op_t op, const char *user, const char *room, const char *text)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, op);
    if (user)
        gc_frame_set_cstr (&request, GC_F_USER, user);
    if (room)
        gc_frame_set_cstr (&request, GC_F_ROOM, room);
    if (text)
        gc_frame_set_cstr (&request, GC_F_TEXT, text);
    if (op == GC_OP_LOGIN)
        gc_frame_set_cstr (&request, GC_F_PASSWORD, text), request.fields &= ~GC_F_TEXT;
    gc_error_t code = s_test_call (dealer, &request, &reply, &holder);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    return code;
}

static void
s_test_logins (zsock_t *dealer)
{
    assert (s_test_simple (dealer, GC_OP_PING, NULL, NULL, NULL) == GC_OK);
    assert (s_test_simple (dealer, GC_OP_LOGIN, "Sue", NULL, "wrong") == GC_BAD_CREDENTIALS);
    assert (s_test_simple (dealer, GC_OP_LOGIN, "Nobody", NULL, "password") == GC_BAD_CREDENTIALS);
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, GC_OP_LOGIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Sue");
    gc_frame_set_cstr (&request, GC_F_PASSWORD, "password");
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    char *token = gc_str_dup (reply.token);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_LOGIN);
    gc_frame_set_cstr (&request, GC_F_TOKEN, token);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (gc_str_eq (reply.user, "Sue"));
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    free (token);
}

static void
s_test_errors (zsock_t *dealer)
{
    assert (s_test_simple (dealer, GC_OP_JOIN, "Sandy", "8 out of 10 cats", NULL) == GC_NOT_MEMBER);
    assert (s_test_simple (dealer, GC_OP_JOIN, "Sandy", "Nowhere", NULL) == GC_NO_SUCH_ROOM);
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", "Taskmaster", " \r\n\t") == GC_EMPTY_TEXT);
    char long_text [GC_TEXT_MAX + 2];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [GC_TEXT_MAX + 1] = 0;
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", "Taskmaster", long_text) == GC_TOO_LONG);
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", NULL, "hi") == GC_BAD_REQUEST);
    //  Garbage is dropped, and the broker still answers afterwards
    zstr_send (dealer, "not msgpack");
    assert (s_test_simple (dealer, GC_OP_PING, NULL, NULL, NULL) == GC_OK);
    //  A say past its deadline is refused and not stored
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, GC_OP_SAY);
    gc_frame_set_cstr (&request, GC_F_USER, "Sue");
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_cstr (&request, GC_F_TEXT, "too late");
    gc_frame_set_uint (&request, GC_F_DEADLINE, (uint64_t) gc_clock_wall_ms () - 1);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_EXPIRED);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
}

//  A burst of says: consecutive seqs, published in order on the room's
//  topic only ("Taskmaster 2" must not match the "Taskmaster" subscription)
static void
s_test_says (zsock_t *dealer, zsock_t *sub)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    for (int index = 0; index < 12; index++) {
        gc_frame_init (&request, GC_OP_SAY);
        gc_frame_set_cstr (&request, GC_F_USER, "Sue");
        gc_frame_set_cstr (&request, GC_F_ROOM, index == 5? "Taskmaster 2": "Taskmaster");
        gc_frame_set_cstr (&request, GC_F_TEXT, "hello");
        s_test_send (dealer, &request);
    }
    uint64_t expected = 1;
    for (int index = 0; index < 12; index++) {
        s_test_recv (dealer, &reply, &holder);
        assert (reply.op == GC_OP_OK);
        if (index != 5)
            assert (reply.seq == expected++);
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
    for (uint64_t seq = 1; seq <= 11; seq++) {
        s_test_recv (sub, &reply, &holder);
        assert (reply.op == GC_OP_MESSAGE && reply.seq == seq && gc_str_eq (reply.room, "Taskmaster"));
        assert (gc_str_eq (reply.from, "Sue") && gc_str_eq (reply.text, "hello") && reply.ts > 0);
        assert (zframe_size (zmsg_first (holder)) == 11);
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
}

static void
s_test_joins (zsock_t *dealer)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, GC_OP_JOIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.head == 11 && reply.history_size == 10);
    assert (reply.history [0].seq == 2 && reply.history [9].seq == 11);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_JOIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_uint (&request, GC_F_SINCE, 5);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 6 && reply.history [0].seq == 6 && reply.complete);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_uint (&request, GC_F_BEFORE, 4);
    gc_frame_set_uint (&request, GC_F_LIMIT, 2);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 2 && reply.history [0].seq == 2 && reply.history [1].seq == 3);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
}

void
gc_broker_test (bool verbose)
{
    if (verbose)
        printf (" * gc_broker: ");
    char path [] = "/tmp/gc_broker_test_XXXXXX";
    close (mkstemp (path));
    gc_store_t *store = gc_store_new (path);
    assert (store);
    gc_store_destroy (&store);
    sqlite3 *db;
    assert (sqlite3_open (path, &db) == SQLITE_OK);
    assert (sqlite3_exec (db, "INSERT INTO rooms (name) VALUES ('Taskmaster 2');"
                          "INSERT INTO members SELECT u.id, r.id FROM users u, rooms r"
                          " WHERE u.name = 'Sue' AND r.name = 'Taskmaster 2'", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close (db);

    gc_broker_config_t config = { path, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*" };
    gc_broker_t *self = gc_broker_new (&config);
    assert (self);
    zsock_t *dealer = zsock_new_dealer (gc_broker_requests_endpoint (self));
    zsock_t *sub = zsock_new_sub (gc_broker_events_endpoint (self), NULL);
    //  The topic is the room's name and a NUL byte
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, "Taskmaster", 11);
    //  The head event proves the subscription is active (no slow joiner)
    gc_frame_t head;
    zmsg_t *holder;
    s_test_recv (sub, &head, &holder);
    assert (head.op == GC_OP_HEAD && head.seq == 0 && gc_str_eq (head.room, "Taskmaster"));
    gc_frame_release (&head);
    zmsg_destroy (&holder);

    s_test_logins (dealer);
    s_test_says (dealer, sub);
    s_test_joins (dealer);
    s_test_errors (dealer);
    zsock_destroy (&dealer);
    zsock_destroy (&sub);
    gc_broker_destroy (&self);
    gc_broker_destroy (&self);
    unlink (path);
    char other [64];
    snprintf (other, sizeof other, "%s-wal", path), unlink (other);
    snprintf (other, sizeof other, "%s-shm", path), unlink (other);
    if (verbose)
        printf ("OK\n");
}
