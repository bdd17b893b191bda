/*  session.c: login, join and exactly-once message hand-off for the client.

    The session may be in several rooms at once (the protocol allows it):
    each joined room keeps the newest seq handed on, so each message of
    each room is handed on once, over reconnects; one of them is the
    current room, where says, /history and /leave go.

    Requests are written through protocol/'s op table and carry increasing
    ids; a small table remembers which op each id was, so a reply is
    handled by the op it answers. A say or join the gateway refuses as
    over its rate (`rate_limited` with `retry_after`) is sent again after
    that wait, with a new id: nothing was done, and the person should not
    have to.

    Every say carries a nonce (a random prefix made when the session is,
    then a counter) and stays in the outbox until the gateway acknowledges
    it or refuses it for good. A say typed while the connection is down
    waits there; after a reconnect, once its room is joined again, each
    say not acknowledged is sent again in order with its own nonce, so one
    whose first attempt reached the broker (its reply lost with the
    connection) is answered with its original seq and stored once. Says
    the service could not take (`unavailable`, `rate_limited`) go again
    the same way after a wait. Frames leave through a link, the
    WebSocket connection's send or a test's, and come back as text
    through gc_session_receive, so the self-test and fuzz/session.c see
    what the session sends and make it read anything, without a network. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <czmq.h>
#include <sodium.h>
#include "session.h"
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_limits.h"

typedef struct {
    char *name;
    uint64_t head;              //  newest seq handed on
    uint64_t oldest_seq;        //  oldest seq handed on, for /history
    bool ready;                 //  joined on this connection: its says can go
} s_room_t;

#define S_NONCE_RANDOM  8       //  random bytes of a session's nonce prefix

struct gc_session_t {
    struct lws_context *context;
    gc_wsconn_t *conn;          //  NULL on a test's link
    gc_session_link_t link;     //  where requests go
    lws_sorted_usec_list_t relogin; //  a login the service could not take yet
    unsigned relogins;          //  consecutive, for the backoff
    lws_sorted_usec_list_t retry;   //  requests refused as over the rate
    json_t *retrying;           //  their frames, in the order they were sent
    gc_session_events_t events;
    char *user;
    char *password;             //  until a login succeeds
    char *token;
    s_room_t *rooms;            //  the rooms joined, or being joined
    size_t room_count;
    char *room;                 //  the current one of them, NULL for none
    bool logged_in;             //  at least once
    int64_t next_id;
    gc_client_op_t pending [GC_CLIENT_PENDING];     //  the op of each id in flight
    json_t *resend [GC_CLIENT_PENDING]; //  the frame of each join in flight
    json_t *outbox;             //  says not acknowledged, oldest first; with an id: in flight
    lws_sorted_usec_list_t flush;   //  the outbox's says go again after a wait
    bool holding;               //  that wait is not over: nothing is sent
    unsigned unavailable;       //  consecutive says the service could not take
    char nonce_prefix [2 * S_NONCE_RANDOM + 1];     //  random, in hex
    uint64_t nonces;            //  made so far, the counter after the prefix
};

static int
s_send_ws (void *conn, json_t *frame)
{
    return gc_wsconn_send (conn, frame);
}

static bool
s_is_open_ws (void *conn)
{
    return gc_wsconn_is_open (conn);
}

static void
s_forget_password (gc_session_t *self)
{
    if (self->password) {
        sodium_memzero (self->password, strlen (self->password));
        free (self->password);
        self->password = NULL;
    }
}

static void
s_replace (char **field, const char *value)
{
    free (*field);
    *field = value? gc_strdup (value): NULL;
}

//  Sends the frame with the next id, remembering its op, and for a join
//  the frame, to send again if it is refused as over the rate. Returns
//  the id, or 0 when the frame could not be sent: a say stays in the
//  outbox for the reconnect, anything else failed
static int64_t
s_send (gc_session_t *self, gc_client_op_t op, json_t *frame)
{
    int64_t id = ++self->next_id;
    size_t at = (size_t) (id % GC_CLIENT_PENDING);
    json_object_set_new (frame, GC_KEY_ID, json_integer (id));
    self->pending [at] = op;
    json_decref (self->resend [at]);
    self->resend [at] = op == GC_CLIENT_JOIN? json_incref (frame): NULL;
    if (self->link.send (self->link.arg, frame) == 0)
        return id;
    if (op != GC_CLIENT_SAY)
        self->events.failed (self->events.arg, op, GC_UNAVAILABLE, "not connected, try again");
    return 0;
}

static void
s_request (gc_session_t *self, gc_request_t *request)
{
    json_t *frame = gc_request_json (request);
    s_send (self, request->op, frame);
    json_decref (frame);
}

static void
s_send_login (gc_session_t *self)
{
    gc_request_t request = { .op = GC_CLIENT_LOGIN };
    if (self->token)
        request.token = self->token;
    else
    if (self->user && self->password) {
        request.user = self->user;
        request.password = self->password;
    }
    else
        return;
    s_request (self, &request);
}

//  --------------------------------------------------------------------------
//  The rooms joined

//  The joined room of that name, NULL when there is none
static s_room_t *
s_room_find (gc_session_t *self, const char *name)
{
    for (size_t index = 0; name && index < self->room_count; index++)
        if (streq (self->rooms [index].name, name))
            return &self->rooms [index];
    return NULL;
}

static s_room_t *
s_room_add (gc_session_t *self, const char *name)
{
    s_room_t *room = s_room_find (self, name);
    if (room)
        return room;
    self->rooms = gc_realloc (self->rooms, (self->room_count + 1) * sizeof *self->rooms);
    room = &self->rooms [self->room_count++];
    *room = (s_room_t) { .name = gc_strdup (name) };
    return room;
}

//  Forgets a room (left, refused or removed); the current room too if it was
static void
s_room_remove (gc_session_t *self, const char *name)
{
    s_room_t *room = s_room_find (self, name);
    if (!room)
        return;
    if (self->room && streq (self->room, name))
        s_replace (&self->room, NULL);
    free (room->name);
    *room = self->rooms [--self->room_count];
}

static void
s_room_clear (gc_session_t *self)
{
    while (self->room_count)
        s_room_remove (self, self->rooms [0].name);
    s_replace (&self->room, NULL);
}

static void
s_send_join (gc_session_t *self, s_room_t *room)
{
    gc_request_t request = {
        .op = GC_CLIENT_JOIN, .room = room->name,
        .has_since = room->head > 0, .since = room->head
    };
    s_request (self, &request);
}

//  A message's seq, or 0 when it has none (a seq is a positive integer):
//  a negative one taken as unsigned would be above every later message,
//  which would then all be dropped as seen
static uint64_t
s_seq (json_t *message)
{
    json_int_t seq = json_integer_value (json_object_get (message, GC_KEY_SEQ));
    return seq > 0? (uint64_t) seq: 0;
}

//  --------------------------------------------------------------------------
//  The outbox: each say until it is acknowledged or refused for good

//  A nonce no other say of this user makes within a day: the session's
//  random prefix (64 bits: two sessions of a user do not share one) and
//  a counter
static void
s_nonce (gc_session_t *self, char *nonce, size_t size)
{
    snprintf (nonce, size, "%s-%" PRIu64, self->nonce_prefix, ++self->nonces);
}

//  Where the say sent with this id is in the outbox, -1 when none is
static int
s_outbox_find (gc_session_t *self, json_t *id)
{
    json_t *entry;
    size_t index;
    json_array_foreach (self->outbox, index, entry)
        if (json_is_integer (id) && json_equal (json_object_get (entry, GC_KEY_ID), id))
            return (int) index;
    return -1;
}

//  Refuses the outbox's say at index: it will not be sent
static void
s_outbox_refuse (gc_session_t *self, size_t index, gc_error_t code, const char *message)
{
    json_array_remove (self->outbox, index);
    self->events.failed (self->events.arg, GC_CLIENT_SAY, code, message);
}

//  Sends, oldest first, each say of the outbox not in flight, on a copy
//  (what was sent is not changed afterwards), until one cannot go yet:
//  none overtakes an older one. A say for a room no longer joined (left,
//  removed, or refused on the rejoin) is refused, as it never can go.
static void
s_flush (gc_session_t *self)
{
    size_t index = 0;
    while (!self->holding && index < json_array_size (self->outbox)) {
        json_t *entry = json_array_get (self->outbox, index);
        if (json_object_get (entry, GC_KEY_ID)) {
            index++;            //  in flight: its reply says what became of it
            continue;
        }
        s_room_t *room = s_room_find (self,
            json_string_value (json_object_get (entry, GC_KEY_ROOM)));
        if (!room) {
            s_outbox_refuse (self, index, GC_NOT_IN_ROOM, "you are no longer in that room");
            continue;
        }
        if (!room->ready || !self->link.is_open (self->link.arg))
            return;
        json_t *frame = json_copy (entry);
        int64_t id = s_send (self, GC_CLIENT_SAY, frame);
        json_decref (frame);
        if (!id)
            return;
        json_object_set_new (entry, GC_KEY_ID, json_integer (id));
        index++;
    }
}

static void
s_on_flush (lws_sorted_usec_list_t *sul)
{
    gc_session_t *self = lws_container_of (sul, gc_session_t, flush);
    self->holding = false;
    s_flush (self);
}

//  Nothing more is sent from the outbox for wait_ms, then it is flushed;
//  without a context (a test's) it is flushed at the next join instead
static void
s_hold (gc_session_t *self, unsigned wait_ms)
{
    if (!self->context)
        return;
    self->holding = true;
    lws_sul_schedule (self->context, 0, &self->flush, s_on_flush,
                      (lws_usec_t) wait_ms * LWS_US_PER_MS);
}

//  A say acknowledged: stored (now, or by an earlier attempt with its nonce)
static void
s_on_said (gc_session_t *self, json_t *reply)
{
    int index = s_outbox_find (self, json_object_get (reply, GC_KEY_ID));
    if (index < 0)
        return;
    json_array_remove (self->outbox, (size_t) index);
    self->unavailable = 0;
    self->events.said (self->events.arg, s_seq (reply));
}

//  A say refused: one the service could not take now goes again after a
//  wait (the one the gateway named, or a backoff); anything else is the
//  person's to know, and the say is dropped
static void
s_on_say_error (gc_session_t *self, gc_error_t code, json_t *reply, const char *message)
{
    int index = s_outbox_find (self, json_object_get (reply, GC_KEY_ID));
    if (index < 0)
        return;
    if (code != GC_RATE_LIMITED && code != GC_UNAVAILABLE) {
        s_outbox_refuse (self, (size_t) index, code, message);
        return;
    }
    json_object_del (json_array_get (self->outbox, (size_t) index), GC_KEY_ID);
    json_int_t wait = json_integer_value (json_object_get (reply, GC_KEY_RETRY_AFTER));
    if (code == GC_UNAVAILABLE || wait <= 0) {
        wait = gc_wsconn_backoff_ms (self->unavailable++);
        if (wait > GC_CLIENT_UNAVAILABLE_MAX_MS)
            wait = GC_CLIENT_UNAVAILABLE_MAX_MS;
    }
    s_hold (self, (unsigned) (wait < GC_CLIENT_RETRY_MAX_MS? wait: GC_CLIENT_RETRY_MAX_MS));
}

//  The connection is gone: no say is in flight any more, and none goes
//  before its room is joined again on the next connection
static void
s_outbox_lost (gc_session_t *self)
{
    for (size_t index = 0; index < self->room_count; index++)
        self->rooms [index].ready = false;
    json_t *entry;
    size_t index;
    json_array_foreach (self->outbox, index, entry)
        json_object_del (entry, GC_KEY_ID);
    size_t waiting = json_array_size (self->outbox);
    if (waiting) {
        char text [100];
        snprintf (text, sizeof text, "%zu message%s waiting to be sent",
                  waiting, waiting == 1? "": "s");
        self->events.notice (self->events.arg, text);
    }
}

//  The session was ended: its says can never go, and the person is told
static void
s_outbox_drop (gc_session_t *self)
{
    size_t dropped = json_array_size (self->outbox);
    json_array_clear (self->outbox);
    if (dropped) {
        char text [100];
        snprintf (text, sizeof text, "%zu message%s not sent", dropped, dropped == 1? "": "s");
        self->events.notice (self->events.arg, text);
    }
}

//  --------------------------------------------------------------------------
//  Incoming

//  Hands on a message of a joined room once: anything at or below its
//  head (0 at first) was shown, and a message without a seq never is
static void
s_message (gc_session_t *self, json_t *message)
{
    s_room_t *room = s_room_find (self,
        json_string_value (json_object_get (message, GC_KEY_ROOM)));
    uint64_t seq = s_seq (message);
    if (!room || seq <= room->head)
        return;
    room->head = seq;
    if (!room->oldest_seq)
        room->oldest_seq = seq;
    self->events.message (self->events.arg, message);
}

//  A login's ok names the user and gives a token; one without them is
//  no login, and is taken as a refusal rather than leave the session
//  with neither a user to show nor a token to reconnect with
static void
s_on_login (gc_session_t *self, json_t *reply)
{
    const char *user = json_string_value (json_object_get (reply, GC_KEY_USER));
    const char *token = json_string_value (json_object_get (reply, GC_KEY_TOKEN));
    if (!user || !token) {
        self->events.login_failed (self->events.arg, "the server's answer was not understood");
        return;
    }
    bool again = self->logged_in;
    self->relogins = 0;
    s_replace (&self->token, token);
    s_replace (&self->user, user);
    s_forget_password (self);
    self->logged_in = true;
    self->events.logged_in (self->events.arg, self->user, again);
    for (size_t index = 0; again && index < self->room_count; index++)
        s_send_join (self, &self->rooms [index]);
}

//  The joined room a reply is about: the one it names, else the current
static s_room_t *
s_room_of (gc_session_t *self, json_t *reply)
{
    const char *name = json_string_value (json_object_get (reply, GC_KEY_ROOM));
    return s_room_find (self, name? name: self->room);
}

//  A join's reply, unless it is for no room the session is in now: one
//  left, or given up on for an error, since the join was sent
static void
s_on_join (gc_session_t *self, json_t *reply)
{
    s_room_t *room = s_room_of (self, reply);
    if (!room)
        return;
    json_t *history = json_object_get (reply, GC_KEY_HISTORY), *message;
    size_t index;
    json_array_foreach (history, index, message)
        s_message (self, message);
    //  More after `since` than one reply holds: ask for the rest
    room = s_room_of (self, reply);
    if (room && json_is_false (json_object_get (reply, GC_KEY_COMPLETE)))
        s_send_join (self, room);
    if (!room)
        return;
    room->ready = true;
    self->events.joined (self->events.arg, room->name);
    s_flush (self);
}

static void
s_on_older (gc_session_t *self, json_t *reply)
{
    json_t *history = json_object_get (reply, GC_KEY_HISTORY);
    s_room_t *room = s_room_of (self, reply);
    if (room && json_array_size (history))
        room->oldest_seq = s_seq (json_array_get (history, 0));
    self->events.older (self->events.arg, history);
}

//  The rooms of a rooms reply that have a name to show, and nothing else
static void
s_on_rooms (gc_session_t *self, json_t *reply)
{
    json_t *named = gc_alloc_checked (json_array ()), *room;
    size_t index;
    json_array_foreach (json_object_get (reply, GC_KEY_ROOMS), index, room)
        if (json_is_string (json_object_get (room, GC_KEY_NAME)))
            json_array_append (named, room);
    self->events.rooms (self->events.arg, named);
    json_decref (named);
}

//  Who is in a room: only the names that are strings are handed on
static void
s_on_who (gc_session_t *self, json_t *reply)
{
    s_room_t *room = s_room_of (self, reply);
    if (!room || !self->events.present)
        return;
    json_t *names = gc_alloc_checked (json_array ()), *name;
    size_t index;
    json_array_foreach (json_object_get (reply, GC_KEY_PRESENT), index, name)
        if (json_is_string (name))
            json_array_append (names, name);
    self->events.present (self->events.arg, room->name, names);
    json_decref (names);
}

static void
s_on_ok (gc_session_t *self, gc_client_op_t op, json_t *reply)
{
    switch (op) {
        case GC_CLIENT_LOGIN:
            s_on_login (self, reply);
            break;
        case GC_CLIENT_ROOMS:
            s_on_rooms (self, reply);
            break;
        case GC_CLIENT_JOIN:
            s_on_join (self, reply);
            break;
        case GC_CLIENT_HISTORY:
            s_on_older (self, reply);
            break;
        case GC_CLIENT_SAY:
            s_on_said (self, reply);
            break;
        case GC_CLIENT_WHO:
            s_on_who (self, reply);
            break;
        default:
            break;
    }
}

static void
s_on_relogin (lws_sorted_usec_list_t *sul)
{
    gc_session_t *self = lws_container_of (sul, gc_session_t, relogin);
    if (self->link.is_open (self->link.arg))
        s_send_login (self);
}

//  A login refused: with a token that expired, the password (if still
//  known) is tried; otherwise the person is asked
static void
s_on_login_refused (gc_session_t *self)
{
    bool with_token = self->token != NULL;
    s_replace (&self->token, NULL);
    if (with_token && self->password)
        s_send_login (self);
    else
        self->events.login_failed (self->events.arg, with_token?
            "your session has expired, log in again":
            gc_error_person_text (GC_BAD_CREDENTIALS));
}

//  Sends again what waited out the rate, in order; a join only while
//  its room is still the one to be in
static void
s_on_retry (lws_sorted_usec_list_t *sul)
{
    gc_session_t *self = lws_container_of (sul, gc_session_t, retry);
    json_t *waiting = self->retrying, *frame;
    self->retrying = gc_alloc_checked (json_array ());
    size_t index;
    json_array_foreach (waiting, index, frame) {
        const char *name = json_string_value (json_object_get (frame, GC_KEY_OP));
        gc_client_op_t op = gc_client_op_from_name (name, strlen (name));
        const char *room = json_string_value (json_object_get (frame, GC_KEY_ROOM));
        if (s_room_find (self, room))
            s_send (self, op, frame);
    }
    json_decref (waiting);
}

//  Where the say or join sent with this id is kept, NULL when none is
static json_t **
s_kept (gc_session_t *self, json_t *id)
{
    if (!json_is_integer (id))
        return NULL;
    json_t **kept = &self->resend [(uint64_t) json_integer_value (id) % GC_CLIENT_PENDING];
    return *kept && json_equal (json_object_get (*kept, GC_KEY_ID), id)? kept: NULL;
}

//  A say or join the gateway refused as over its rate waits the time it
//  named and goes again; false when the reply names no wait, or answers
//  no say or join of ours
static bool
s_retry_later (gc_session_t *self, json_t *reply)
{
    json_t **kept = s_kept (self, json_object_get (reply, GC_KEY_ID));
    json_int_t wait = json_integer_value (json_object_get (reply, GC_KEY_RETRY_AFTER));
    if (!kept || wait <= 0 || !self->context)
        return false;
    json_array_append_new (self->retrying, *kept);
    *kept = NULL;
    if (wait > GC_CLIENT_RETRY_MAX_MS)
        wait = GC_CLIENT_RETRY_MAX_MS;
    lws_sul_schedule (self->context, 0, &self->retry, s_on_retry, wait * LWS_US_PER_MS);
    return true;
}

//  The room a refused join was for: the one its frame named, else the current
static const char *
s_join_room (gc_session_t *self, json_t *reply)
{
    json_t **kept = s_kept (self, json_object_get (reply, GC_KEY_ID));
    const char *room = kept? json_string_value (json_object_get (*kept, GC_KEY_ROOM)): NULL;
    return room? room: self->room;
}

static void
s_on_error (gc_session_t *self, gc_client_op_t op, json_t *reply)
{
    const char *name = json_string_value (json_object_get (reply, GC_KEY_CODE));
    const char *message = json_string_value (json_object_get (reply, GC_KEY_MESSAGE));
    gc_error_t code = name? gc_error_from_name (name, strlen (name)): GC_INTERNAL;
    if (op == GC_CLIENT_SAY) {
        s_on_say_error (self, code, reply, message? message: gc_error_name (code));
        return;
    }
    if (code == GC_RATE_LIMITED && s_retry_later (self, reply))
        return;
    //  A login the service could not take now is tried again, as after a
    //  reconnect: nothing was done, and the person should not have to
    if (op == GC_CLIENT_LOGIN && code == GC_UNAVAILABLE && self->relogins < 8) {
        self->events.notice (self->events.arg, "the service is busy, logging in again shortly");
        //  Shortly: the waits stop growing at 4 s, as a busy broker is not a gone one
        unsigned wait_ms = gc_wsconn_backoff_ms (self->relogins++);
        lws_sul_schedule (self->context, 0, &self->relogin, s_on_relogin,
                          (wait_ms < 4000? wait_ms: 4000) * LWS_US_PER_MS);
        return;
    }
    if (op == GC_CLIENT_LOGIN && code == GC_BAD_CREDENTIALS) {
        s_on_login_refused (self);
        return;
    }
    //  The credentials were good, the user's connections all taken: the
    //  person is told the server's words and may log in again, or later
    if (op == GC_CLIENT_LOGIN && code == GC_TOO_MANY_CONNECTIONS) {
        self->events.login_failed (self->events.arg, message? message: gc_error_text (code));
        return;
    }
    if (op == GC_CLIENT_JOIN)
        s_room_remove (self, s_join_room (self, reply));
    self->events.failed (self->events.arg, op, code, message? message: gc_error_name (code));
    if (op == GC_CLIENT_JOIN)
        s_flush (self);         //  its says are refused, the others may go
}

//  The server ended the session and closes the connection: what the
//  login gave is forgotten, and the connection stays down until the
//  person logs in again (its token would be refused in a loop)
static void
s_on_closed (gc_session_t *self, json_t *frame)
{
    const char *reason = json_string_value (json_object_get (frame, GC_KEY_REASON));
    s_replace (&self->token, NULL);
    s_room_clear (self);
    s_forget_password (self);
    self->logged_in = false;
    lws_sul_cancel (&self->relogin);
    lws_sul_cancel (&self->retry);
    json_array_clear (self->retrying);
    lws_sul_cancel (&self->flush);
    self->holding = false;
    s_outbox_drop (self);
    if (self->conn)
        gc_wsconn_stop (self->conn);
    self->events.ended (self->events.arg, reason? reason: "your session has ended");
}

//  Removed from a room's group: the room is left, and the person told which
static void
s_on_left (gc_session_t *self, const char *room)
{
    char *text = zsys_sprintf ("you were removed from %s", room? room: "a room");
    s_room_remove (self, room);
    self->events.notice (self->events.arg, text);
    zstr_free (&text);
    s_flush (self);             //  its says are refused
}

//  The user a presence or typing push is about, when it is about another
//  user in a joined room and the event is wanted; NULL otherwise
static const char *
s_pushed_user (gc_session_t *self, json_t *frame, bool wanted)
{
    const char *room = json_string_value (json_object_get (frame, GC_KEY_ROOM));
    const char *user = json_string_value (json_object_get (frame, GC_KEY_USER));
    if (!wanted || !user || !s_room_find (self, room))
        return NULL;
    //  The server pushes no one their own presence; a stray one says nothing
    return self->user && streq (user, self->user)? NULL: user;
}

static void
s_on_presence (gc_session_t *self, json_t *frame)
{
    const char *user = s_pushed_user (self, frame, self->events.presence != NULL);
    const char *event = json_string_value (json_object_get (frame, GC_KEY_EVENT));
    if (user && event && (streq (event, "join") || streq (event, "leave")))
        self->events.presence (self->events.arg,
            json_string_value (json_object_get (frame, GC_KEY_ROOM)), user, streq (event, "join"));
}

static void
s_on_typing (gc_session_t *self, json_t *frame)
{
    const char *user = s_pushed_user (self, frame, self->events.typing != NULL);
    if (user)
        self->events.typing (self->events.arg,
            json_string_value (json_object_get (frame, GC_KEY_ROOM)), user);
}

static void
s_on_frame (gc_session_t *self, json_t *frame)
{
    const char *name = json_string_value (json_object_get (frame, GC_KEY_OP));
    gc_client_op_t op = name? gc_client_op_from_name (name, strlen (name)): GC_CLIENT_NONE;
    json_t *id = json_object_get (frame, GC_KEY_ID);
    gc_client_op_t answers = json_is_integer (id)?
        self->pending [(uint64_t) json_integer_value (id) % GC_CLIENT_PENDING]: GC_CLIENT_NONE;
    switch (op) {
        case GC_CLIENT_MESSAGE:
            s_message (self, frame);
            break;
        case GC_CLIENT_LEFT:
            s_on_left (self, json_string_value (json_object_get (frame, GC_KEY_ROOM)));
            break;
        case GC_CLIENT_OK:
            s_on_ok (self, answers, frame);
            break;
        case GC_CLIENT_ERROR:
            s_on_error (self, answers, frame);
            break;
        case GC_CLIENT_CLOSED:
            s_on_closed (self, frame);
            break;
        case GC_CLIENT_PRESENCE:
            s_on_presence (self, frame);
            break;
        case GC_CLIENT_TYPING:
            s_on_typing (self, frame);
            break;
        default:
            break;
    }
    //  Answered: a frame kept to send again is not needed any more
    json_t **kept = op == GC_CLIENT_OK || op == GC_CLIENT_ERROR? s_kept (self, id): NULL;
    if (kept) {
        json_decref (*kept);
        *kept = NULL;
    }
}

void
gc_session_receive (gc_session_t *self, const char *data, size_t size)
{
    json_t *frame = json_loadb (data, size, JSON_ALLOW_NUL, NULL);
    if (json_is_object (frame))
        s_on_frame (self, frame);
    json_decref (frame);
}

static void
s_on_received (void *arg, const char *data, size_t size)
{
    gc_session_receive (arg, data, size);
}

static void
s_on_open (void *arg, const char *url)
{
    gc_session_t *self = arg;
    char text [600];
    snprintf (text, sizeof text, "connected to %s", url);
    self->events.notice (self->events.arg, text);
    s_send_login (self);
}

static void
s_on_close (void *arg, const char *why)
{
    gc_session_t *self = arg;
    char text [300];
    snprintf (text, sizeof text, "connection lost (%s), reconnecting...", why);
    self->events.notice (self->events.arg, text);
    s_outbox_lost (self);
}

static void
s_on_unreachable (void *arg, const char *url, const char *why, const char *next,
                  unsigned delay_ms)
{
    gc_session_t *self = arg;
    self->events.unreachable (self->events.arg, url, why, next, delay_ms);
}

static void
s_on_untrusted (void *arg, const char *url, const char *why)
{
    gc_session_t *self = arg;
    //  A CA file helps only a certificate from a CA we do not know
    bool unknown_ca = why && (strstr (why, "issuer") || strstr (why, "self-signed")
                              || strstr (why, "self signed"));
    char text [800];
    snprintf (text, sizeof text, "%s: the server's certificate is not trusted%s%s%s", url,
              why? ": ": "", why? why: "",
              unknown_ca? " (to trust it, give its CA certificate, or itself when "
                          "self-signed, with --ca FILE)": "");
    self->events.untrusted (self->events.arg, text);
}

//  --------------------------------------------------------------------------
//  Construction and requests

gc_session_t *
gc_session_new_linked (struct lws_context *context, const gc_session_link_t *link,
                       const gc_session_events_t *events)
{
    gc_session_t *self = gc_calloc (1, sizeof *self);
    self->events = *events;
    self->context = context;
    self->link = *link;
    self->retrying = gc_alloc_checked (json_array ());
    self->outbox = gc_alloc_checked (json_array ());
    unsigned char random [S_NONCE_RANDOM];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (self->nonce_prefix, sizeof self->nonce_prefix, random, sizeof random);
    return self;
}

gc_session_t *
gc_session_new (struct lws_context *context, char **urls, int url_count,
                const gc_session_events_t *events)
{
    gc_session_link_t link = { s_send_ws, s_is_open_ws, NULL };
    gc_session_t *self = gc_session_new_linked (context, &link, events);
    gc_wsconn_events_t conn_events = {
        s_on_open, s_on_received, s_on_close, s_on_unreachable, s_on_untrusted, self
    };
    self->conn = gc_wsconn_new (context, urls, url_count, &conn_events);
    self->link.arg = self->conn;
    return self;
}

void
gc_session_destroy (gc_session_t **self_p)
{
    gc_session_t *self = *self_p;
    if (!self)
        return;
    lws_sul_cancel (&self->relogin);
    lws_sul_cancel (&self->retry);
    lws_sul_cancel (&self->flush);
    gc_wsconn_destroy (&self->conn);
    json_decref (self->retrying);
    json_decref (self->outbox);
    for (size_t at = 0; at < GC_CLIENT_PENDING; at++)
        json_decref (self->resend [at]);
    s_forget_password (self);
    free (self->user);
    free (self->token);
    s_room_clear (self);
    free (self->rooms);
    free (self);
    *self_p = NULL;
}

void
gc_session_login (gc_session_t *self, const char *user, const char *password)
{
    s_replace (&self->user, user);
    s_forget_password (self);
    self->password = gc_strdup (password);
    s_replace (&self->token, NULL);
    if (self->conn)
        gc_wsconn_start (self->conn);
    if (self->link.is_open (self->link.arg))
        s_send_login (self);
}

void
gc_session_rooms (gc_session_t *self)
{
    gc_request_t request = { .op = GC_CLIENT_ROOMS };
    s_request (self, &request);
}

void
gc_session_join (gc_session_t *self, const char *room)
{
    s_room_t *joined = s_room_add (self, room);
    s_replace (&self->room, room);
    s_send_join (self, joined);
}

int
gc_session_switch (gc_session_t *self, const char *room)
{
    if (!s_room_find (self, room))
        return -1;
    s_replace (&self->room, room);
    return 0;
}

void
gc_session_leave (gc_session_t *self)
{
    gc_request_t request = { .op = GC_CLIENT_LEAVE, .room = self->room };
    if (self->room)
        s_request (self, &request);
    s_room_remove (self, self->room);
}

int
gc_session_say (gc_session_t *self, const char *text)
{
    if (!self->room || json_array_size (self->outbox) >= GC_CLIENT_QUEUE_MAX)
        return -1;
    char nonce [GC_NONCE_MAX + 1];
    s_nonce (self, nonce, sizeof nonce);
    gc_request_t request = { .op = GC_CLIENT_SAY, .room = self->room, .text = text,
                             .nonce = nonce };
    json_t *entry = gc_request_json (&request);
    json_array_append_new (self->outbox, entry);
    s_flush (self);
    return json_object_get (entry, GC_KEY_ID)? 0: 1;
}

size_t
gc_session_waiting (gc_session_t *self)
{
    return json_array_size (self->outbox);
}

void
gc_session_older (gc_session_t *self)
{
    s_room_t *room = s_room_find (self, self->room);
    if (!room)
        return;
    gc_request_t request = {
        .op = GC_CLIENT_HISTORY, .room = room->name, .has_limit = true,
        .limit = GC_HISTORY_DEFAULT, .has_before = room->oldest_seq > 0,
        .before = room->oldest_seq
    };
    s_request (self, &request);
}

void
gc_session_who (gc_session_t *self)
{
    gc_request_t request = { .op = GC_CLIENT_WHO, .room = self->room };
    if (self->room)
        s_request (self, &request);
}

void
gc_session_typing (gc_session_t *self)
{
    if (!self->room || !self->logged_in || !self->link.is_open (self->link.arg))
        return;
    gc_request_t request = { .op = GC_CLIENT_TYPING, .room = self->room };
    json_t *frame = gc_request_json (&request);
    self->link.send (self->link.arg, frame);
    json_decref (frame);
}

const char *
gc_session_room (gc_session_t *self)
{
    return self->room;
}

//  --------------------------------------------------------------------------
//  Self test: the session fed frames as a gateway would send them, with
//  what it sends captured instead of written to a socket

typedef struct {
    json_t *sent;               //  frames the session sent, in order
    uint64_t handed [16];       //  seqs handed on, in order
    size_t handed_size;
    int logins;
    int refusals;               //  logins failed
    int joins;                  //  joined events
    size_t rooms;               //  in the last rooms event
    uint64_t said [4];          //  the seqs of says acknowledged, in order
    size_t said_size;
    int failures;               //  failed events
    gc_error_t failed;          //  the code of the last one
    bool open;
    char ended [64];            //  the reason of the session's end
} s_capture_t;

static int
s_capture_send (void *arg, json_t *frame)
{
    s_capture_t *capture = arg;
    json_array_append (capture->sent, frame);
    return capture->open? 0: -1;
}

static bool
s_capture_is_open (void *arg)
{
    return ((s_capture_t *) arg)->open;
}

static void
s_capture_message (void *arg, json_t *message)
{
    s_capture_t *capture = arg;
    assert (capture->handed_size < sizeof capture->handed / sizeof capture->handed [0]);
    capture->handed [capture->handed_size++] = s_seq (message);
}

static void
s_capture_logged_in (void *arg, const char *user, bool again)
{
    s_capture_t *capture = arg;
    //  The first login, then again with the token, then anew after the end
    assert (streq (user, "Sue") && again == (capture->logins == 1));
    capture->logins++;
}

static void
s_capture_ended (void *arg, const char *reason)
{
    s_capture_t *capture = arg;
    snprintf (capture->ended, sizeof capture->ended, "%s", reason);
}

static void
s_ignore_joined (void *arg, const char *room)
{
    (void) arg, (void) room;
}

static void
s_ignore_text (void *arg, const char *text)
{
    (void) arg, (void) text;
}

static void
s_unexpected_failure (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    (void) arg, (void) op, (void) code, (void) message;
    assert (false);
}

static void
s_capture_said (void *arg, uint64_t seq)
{
    s_capture_t *capture = arg;
    assert (capture->said_size < sizeof capture->said / sizeof capture->said [0]);
    capture->said [capture->said_size++] = seq;
}

static void
s_capture_failure (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    s_capture_t *capture = arg;
    assert (op == GC_CLIENT_SAY && *message);
    capture->failures++;
    capture->failed = code;
}

//  The frame sent back from the newest (0 is the newest), as the gateway
//  would parse it
static void
s_test_sent_back (s_capture_t *capture, size_t back, gc_client_op_t op, gc_request_t *request)
{
    json_t *frame = json_array_get (capture->sent, json_array_size (capture->sent) - 1 - back);
    char *text = json_dumps (frame, JSON_COMPACT);
    const char *why;
    assert (gc_request_parse (text, strlen (text), request, &why) == GC_OK);
    assert (request->op == op && request->has_id);
    free (text);
}

//  The newest frame sent, as the gateway would parse it
static void
s_test_sent (s_capture_t *capture, gc_client_op_t op, gc_request_t *request)
{
    s_test_sent_back (capture, 0, op, request);
}

//  A nonce as the session makes them: 16 hex digits, a dash, a counter
static void
s_test_nonce (const char *nonce)
{
    assert (nonce && strlen (nonce) <= GC_NONCE_MAX);
    assert (strspn (nonce, "0123456789abcdef") == 2 * S_NONCE_RANDOM);
    assert (nonce [2 * S_NONCE_RANDOM] == '-');
    const char *counter = nonce + 2 * S_NONCE_RANDOM + 1;
    assert (*counter && strspn (counter, "0123456789") == strlen (counter));
}

//  Feeds the session one frame written as JSON text
static void
s_test_feed (gc_session_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    gc_session_receive (self, text, strlen (text));
    free (text);
}

#define S_TEST_MESSAGE "{\"op\":\"message\",\"room\":\"%s\",\"seq\":%d,\"from\":\"Al\",\"text\":\"x\",\"ts\":1}"

//  Logs in with the password, joins, and hands on each message once:
//  the join reply's history, then pushes, some of them seen already
static void
s_test_first_login (gc_session_t *self, s_capture_t *capture)
{
    gc_session_login (self, "Sue", "secret");
    assert (json_array_size (capture->sent) == 0);     //  not connected yet
    capture->open = true;
    s_on_open (self, "ws://test");
    gc_request_t request;
    s_test_sent (capture, GC_CLIENT_LOGIN, &request);
    assert (streq (request.user, "Sue") && streq (request.password, "secret") && !request.token);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"user\":\"Sue\",\"token\":\"T0k\"}", (int) request.id);
    gc_request_release (&request);
    assert (capture->logins == 1 && !self->password);

    gc_session_join (self, "QI");
    s_test_sent (capture, GC_CLIENT_JOIN, &request);
    assert (streq (request.room, "QI") && !request.has_since);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"room\":\"QI\",\"history\":[" S_TEST_MESSAGE ","
                 S_TEST_MESSAGE "]}", (int) request.id, "QI", 1, "QI", 2);
    gc_request_release (&request);
    s_test_feed (self, S_TEST_MESSAGE, "QI", 2);        //  seen in the reply
    s_test_feed (self, S_TEST_MESSAGE, "QI", 3);
    s_test_feed (self, S_TEST_MESSAGE, "QI", 1);        //  older: dropped
    s_test_feed (self, S_TEST_MESSAGE, "Other", 4);     //  not this room
    s_test_feed (self, S_TEST_MESSAGE, "QI", 3);
    assert (capture->handed_size == 3);
    assert (capture->handed [0] == 1 && capture->handed [1] == 2 && capture->handed [2] == 3);
}

//  After a disconnect: logs in with the token, joins with since its
//  newest seq, and hands on only what it had not. A say in flight when
//  the connection dropped goes again with its nonce, then one typed
//  while it was down, once the room is joined again; neither fails.
static void
s_test_reconnect (gc_session_t *self, s_capture_t *capture)
{
    assert (gc_session_say (self, "in flight") == 0);
    gc_request_t first;
    s_test_sent (capture, GC_CLIENT_SAY, &first);
    s_test_nonce (first.nonce);
    s_on_close (self, "gateway went away");
    capture->open = false;
    assert (gc_session_say (self, "typed while down") == 1);
    assert (gc_session_waiting (self) == 2);
    capture->open = true;
    s_on_open (self, "ws://test2");
    gc_request_t request;
    s_test_sent (capture, GC_CLIENT_LOGIN, &request);
    assert (streq (request.token, "T0k") && !request.user && !request.password);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"user\":\"Sue\",\"token\":\"T1\"}", (int) request.id);
    gc_request_release (&request);
    assert (capture->logins == 2);

    s_test_sent (capture, GC_CLIENT_JOIN, &request);
    assert (streq (request.room, "QI") && request.has_since && request.since == 3);
    //  A push may come before the join's reply; the reply repeats it
    s_test_feed (self, S_TEST_MESSAGE, "QI", 4);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"room\":\"QI\",\"complete\":false,\"history\":["
                 S_TEST_MESSAGE "," S_TEST_MESSAGE "]}", (int) request.id, "QI", 4, "QI", 5);
    gc_request_release (&request);
    //  Incomplete: the rest is asked for from the newest seq handed on,
    //  then the says go, in the order typed, the first with its own nonce
    s_test_sent_back (capture, 2, GC_CLIENT_JOIN, &request);
    assert (request.has_since && request.since == 5);
    gc_request_t again, typed;
    s_test_sent_back (capture, 1, GC_CLIENT_SAY, &again);
    assert (streq (again.text, "in flight") && streq (again.nonce, first.nonce));
    assert (again.id != first.id);
    s_test_sent (capture, GC_CLIENT_SAY, &typed);
    assert (streq (typed.text, "typed while down") && strcmp (typed.nonce, first.nonce));
    s_test_nonce (typed.nonce);
    //  The first reached the broker before the drop: its seq is the original
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"seq\":4}", (int) again.id);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"seq\":7}", (int) typed.id);
    assert (capture->said_size == 2 && capture->said [0] == 4 && capture->said [1] == 7);
    assert (gc_session_waiting (self) == 0);
    gc_request_release (&first);
    gc_request_release (&again);
    gc_request_release (&typed);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"room\":\"QI\",\"complete\":true,\"history\":["
                 S_TEST_MESSAGE "]}", (int) request.id, "QI", 6);
    gc_request_release (&request);
    s_test_feed (self, S_TEST_MESSAGE, "QI", 6);
    assert (capture->handed_size == 6);
    for (size_t index = 0; index < capture->handed_size; index++)
        assert (capture->handed [index] == index + 1);
}

//  The server ends the session: the token is forgotten, so a reconnect
//  sends no login at all (it would be refused) until the person logs in
//  again, with a password
static void
s_test_ended (gc_session_t *self, s_capture_t *capture)
{
    s_test_feed (self, "{\"op\":\"closed\",\"reason\":\"your account was removed\"}");
    assert (streq (capture->ended, "your account was removed"));
    assert (!self->token && !self->room && !gc_session_room (self));
    capture->open = false;
    size_t sent = json_array_size (capture->sent);
    capture->open = true;
    s_on_open (self, "ws://test3");
    assert (json_array_size (capture->sent) == sent);
    gc_session_login (self, "Sue", "new secret");
    gc_request_t request;
    s_test_sent (capture, GC_CLIENT_LOGIN, &request);
    assert (streq (request.user, "Sue") && streq (request.password, "new secret") && !request.token);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"user\":\"Sue\",\"token\":\"T2\"}", (int) request.id);
    gc_request_release (&request);
    assert (capture->logins == 3 && streq (self->token, "T2"));
}

static void
s_capture_refusal (void *arg, const char *message)
{
    assert (*message);
    ((s_capture_t *) arg)->refusals++;
}

static void
s_capture_joined (void *arg, const char *room)
{
    assert (room);
    ((s_capture_t *) arg)->joins++;
}

static void
s_capture_rooms (void *arg, json_t *rooms)
{
    ((s_capture_t *) arg)->rooms = json_array_size (rooms);
}

static void
s_ignore_failure (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    (void) arg, (void) op, (void) code;
    assert (message);
}

//  What a broken gateway sends is not handed on as if it made sense:
//  each case here was found by fuzz/session.c
static void
s_test_malformed (void)
{
    s_capture_t capture = { .sent = gc_alloc_checked (json_array ()), .open = true };
    gc_session_events_t events = {
        .logged_in = s_capture_logged_in, .login_failed = s_capture_refusal,
        .rooms = s_capture_rooms, .joined = s_capture_joined, .message = s_capture_message,
        .failed = s_ignore_failure, .notice = s_ignore_text, .arg = &capture
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &capture };
    gc_session_t *self = gc_session_new_linked (NULL, &link, &events);
    //  A login's ok without a user is no login
    gc_session_login (self, "Sue", "secret");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":1,\"token\":\"T\"}");
    assert (capture.logins == 0 && capture.refusals == 1);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"T\"}");
    assert (capture.logins == 1);
    //  Only rooms with a name are listed
    gc_session_rooms (self);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":2,\"rooms\":[{\"name\":\"QI\"},{\"nme\":\"x\"},"
                 "{\"name\":7},5]}");
    assert (capture.rooms == 1);
    //  The ok of a join given up on for an error joins nothing
    gc_session_join (self, "QI");
    s_test_feed (self, "{\"op\":\"error\",\"id\":3,\"code\":\"unavailable\"}");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":3,\"room\":\"QI\",\"history\":[]}");
    assert (capture.joins == 0 && !gc_session_room (self));
    gc_session_join (self, "QI");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":4,\"room\":\"QI\",\"history\":[]}");
    assert (capture.joins == 1);
    //  A push with a negative seq is not handed on, nor does it hide the next
    s_test_feed (self, S_TEST_MESSAGE, "QI", -1);
    s_test_feed (self, S_TEST_MESSAGE, "QI", 1);
    assert (capture.handed_size == 1 && capture.handed [0] == 1);
    gc_session_destroy (&self);
    json_decref (capture.sent);
}

//  A login refused for the user's many connections is the person's to
//  retry, as a refused password is, told the server's reason
static void
s_test_too_many (void)
{
    s_capture_t capture = { .sent = gc_alloc_checked (json_array ()), .open = true };
    gc_session_events_t events = {
        .logged_in = s_capture_logged_in, .login_failed = s_capture_refusal,
        .failed = s_unexpected_failure, .notice = s_ignore_text, .arg = &capture
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &capture };
    gc_session_t *self = gc_session_new_linked (NULL, &link, &events);
    gc_session_login (self, "Sue", "secret");
    s_test_feed (self, "{\"op\":\"error\",\"id\":1,\"code\":\"too_many_connections\","
                 "\"message\":\"Sue already has 2 connections to this gateway\"}");
    assert (capture.refusals == 1 && capture.logins == 0);
    gc_session_destroy (&self);
    json_decref (capture.sent);
}

//  A join and a say refused as over the rate go again, with new ids
//  (the say with its nonce), once the wait the gateway named is over;
//  the say waits for its room's join. The person is told of no failure.
static void
s_test_rate_limited (void)
{
    struct lws_context *context = gc_wsconn_context_new (NULL, NULL);
    assert (context);
    s_capture_t capture = { .sent = gc_alloc_checked (json_array ()), .open = true };
    gc_session_events_t events = {
        .logged_in = s_capture_logged_in, .joined = s_capture_joined,
        .failed = s_unexpected_failure, .notice = s_ignore_text, .arg = &capture
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &capture };
    gc_session_t *self = gc_session_new_linked (context, &link, &events);
    gc_session_login (self, "Sue", "secret");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"T\"}");
    gc_session_join (self, "QI");
    s_test_feed (self, "{\"op\":\"error\",\"id\":2,\"code\":\"rate_limited\",\"retry_after\":20}");
    assert (gc_session_say (self, "again") == 1);
    assert (json_array_size (capture.sent) == 2 && capture.joins == 0);
    //  With no socket to watch, a waiting lws_service sleeps its whole
    //  default (30 s) past the timer: the timers are run without waiting
    int64_t started = zclock_mono ();
    while (json_array_size (capture.sent) < 3 && zclock_mono () - started < 5000)
        lws_service (context, -1);
    assert (zclock_mono () - started >= 20);
    gc_request_t request;
    s_test_sent (&capture, GC_CLIENT_JOIN, &request);
    assert (request.id == 3 && streq (request.room, "QI"));
    gc_request_release (&request);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":3,\"room\":\"QI\",\"history\":[]}");
    assert (capture.joins == 1);
    gc_request_t first;
    s_test_sent (&capture, GC_CLIENT_SAY, &first);
    assert (first.id == 4 && streq (first.text, "again"));
    s_test_feed (self, "{\"op\":\"error\",\"id\":4,\"code\":\"rate_limited\",\"retry_after\":30}");
    started = zclock_mono ();
    while (json_array_size (capture.sent) < 5 && zclock_mono () - started < 5000)
        lws_service (context, -1);
    assert (zclock_mono () - started >= 30);
    s_test_sent (&capture, GC_CLIENT_SAY, &request);
    assert (request.id == 5 && streq (request.text, "again") && streq (request.nonce, first.nonce));
    gc_request_release (&request);
    gc_request_release (&first);
    gc_session_destroy (&self);
    json_decref (capture.sent);
    lws_context_destroy (context);
}

typedef struct {
    s_capture_t capture;
    char events [256];          //  what was handed on, one word per event
} s_presence_capture_t;

static void
s_capture_presence (void *arg, const char *room, const char *user, bool joined)
{
    s_presence_capture_t *got = arg;
    size_t used = strlen (got->events);
    snprintf (got->events + used, sizeof got->events - used, "%s:%s:%s ", room, user,
              joined? "join": "leave");
}

static void
s_capture_typing (void *arg, const char *room, const char *user)
{
    s_presence_capture_t *got = arg;
    size_t used = strlen (got->events);
    snprintf (got->events + used, sizeof got->events - used, "%s:%s:typing ", room, user);
}

static void
s_capture_present (void *arg, const char *room, json_t *names)
{
    s_presence_capture_t *got = arg;
    size_t used = strlen (got->events);
    char *text = json_dumps (names, JSON_COMPACT);
    snprintf (got->events + used, sizeof got->events - used, "%s:%s ", room, text);
    free (text);
}

//  Presence and typing of joined rooms are handed on, of others and of
//  the user's own not; who asks for the current room, and typing goes
//  without an id (no reply), only when it can
static void
s_test_presence (void)
{
    s_presence_capture_t got = { .capture = { .sent = gc_alloc_checked (json_array ()),
                                              .open = true } };
    gc_session_events_t events = {
        .logged_in = s_capture_logged_in, .joined = s_capture_joined,
        .failed = s_unexpected_failure, .notice = s_ignore_text, .arg = &got,
        .presence = s_capture_presence, .typing = s_capture_typing,
        .present = s_capture_present
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &got.capture };
    gc_session_t *self = gc_session_new_linked (NULL, &link, &events);
    gc_session_typing (self);                           //  not logged in: nothing
    gc_session_login (self, "Sue", "secret");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"T\"}");
    gc_session_join (self, "QI");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":2,\"room\":\"QI\",\"history\":[]}");
    s_test_feed (self, "{\"op\":\"presence\",\"room\":\"QI\",\"user\":\"Al\",\"event\":\"join\"}");
    s_test_feed (self, "{\"op\":\"presence\",\"room\":\"Other\",\"user\":\"Al\",\"event\":\"join\"}");
    s_test_feed (self, "{\"op\":\"presence\",\"room\":\"QI\",\"user\":\"Sue\",\"event\":\"join\"}");
    s_test_feed (self, "{\"op\":\"presence\",\"room\":\"QI\",\"user\":\"Al\",\"event\":\"snap\"}");
    s_test_feed (self, "{\"op\":\"typing\",\"room\":\"QI\",\"user\":\"Al\"}");
    s_test_feed (self, "{\"op\":\"typing\",\"room\":\"QI\"}");
    s_test_feed (self, "{\"op\":\"presence\",\"room\":\"QI\",\"user\":\"Al\",\"event\":\"leave\"}");
    gc_session_who (self);
    gc_request_t request;
    s_test_sent (&got.capture, GC_CLIENT_WHO, &request);
    assert (streq (request.room, "QI"));
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"room\":\"QI\",\"present\":[\"Al\",7,\"Sue\"]}",
                 (int) request.id);
    gc_request_release (&request);
    assert (streq (got.events, "QI:Al:join QI:Al:typing QI:Al:leave QI:[\"Al\",\"Sue\"] "));
    gc_session_typing (self);
    json_t *typing = json_array_get (got.capture.sent, json_array_size (got.capture.sent) - 1);
    char *text = json_dumps (typing, JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (text, "{\"op\":\"typing\",\"room\":\"QI\"}"));
    free (text);
    gc_session_destroy (&self);
    json_decref (got.capture.sent);
}

//  Nonces differ from say to say and from session to session; a say the
//  service could not take goes again with its nonce after a backoff; one
//  refused for good is dropped and the person told; while the connection
//  is down, says wait, up to GC_CLIENT_QUEUE_MAX of them
static void
s_test_outbox (void)
{
    struct lws_context *context = gc_wsconn_context_new (NULL, NULL);
    assert (context);
    s_capture_t capture = { .sent = gc_alloc_checked (json_array ()), .open = true };
    gc_session_events_t events = {
        .logged_in = s_capture_logged_in, .joined = s_capture_joined, .said = s_capture_said,
        .failed = s_capture_failure, .notice = s_ignore_text, .arg = &capture
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &capture };
    gc_session_t *self = gc_session_new_linked (context, &link, &events);
    gc_session_t *other = gc_session_new_linked (context, &link, &events);
    assert (strcmp (self->nonce_prefix, other->nonce_prefix));
    gc_session_destroy (&other);
    gc_session_login (self, "Sue", "secret");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":1,\"user\":\"Sue\",\"token\":\"T\"}");
    gc_session_join (self, "QI");
    s_test_feed (self, "{\"op\":\"ok\",\"id\":2,\"room\":\"QI\",\"history\":[]}");
    assert (gc_session_say (self, "busy") == 0);
    gc_request_t first, request;
    s_test_sent (&capture, GC_CLIENT_SAY, &first);
    s_test_nonce (first.nonce);
    s_test_feed (self, "{\"op\":\"error\",\"id\":%d,\"code\":\"unavailable\"}", (int) first.id);
    size_t sent = json_array_size (capture.sent);
    int64_t started = zclock_mono ();
    while (json_array_size (capture.sent) == sent && zclock_mono () - started < 5000)
        lws_service (context, -1);
    s_test_sent (&capture, GC_CLIENT_SAY, &request);
    assert (streq (request.nonce, first.nonce) && request.id > first.id);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"seq\":9}", (int) request.id);
    assert (capture.said_size == 1 && capture.said [0] == 9 && capture.failures == 0);
    gc_request_release (&request);
    //  Another text with a nonce used before: refused for good
    assert (gc_session_say (self, "second") == 0);
    s_test_sent (&capture, GC_CLIENT_SAY, &request);
    assert (strcmp (request.nonce, first.nonce));
    s_test_nonce (request.nonce);
    s_test_feed (self, "{\"op\":\"error\",\"id\":%d,\"code\":\"conflict\"}", (int) request.id);
    assert (capture.failures == 1 && capture.failed == GC_CONFLICT);
    assert (gc_session_waiting (self) == 0);
    gc_request_release (&request);
    gc_request_release (&first);
    //  In flight when its room is left: its reply, not the leave, decides
    assert (gc_session_say (self, "as I leave") == 0);
    s_test_sent (&capture, GC_CLIENT_SAY, &first);
    gc_session_leave (self);
    gc_session_join (self, "Other");
    s_test_sent (&capture, GC_CLIENT_JOIN, &request);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"room\":\"Other\",\"history\":[]}",
                 (int) request.id);
    assert (gc_session_say (self, "elsewhere") == 0 && gc_session_waiting (self) == 2);
    s_test_feed (self, "{\"op\":\"ok\",\"id\":%d,\"seq\":10}", (int) first.id);
    assert (capture.said_size == 2 && capture.said [1] == 10 && capture.failures == 1);
    gc_request_release (&request);
    gc_request_release (&first);
    //  Down: each line waits, until the queue is full
    s_on_close (self, "gone");
    capture.open = false;
    for (size_t line = gc_session_waiting (self); line < GC_CLIENT_QUEUE_MAX; line++)
        assert (gc_session_say (self, "waiting") == 1);
    assert (gc_session_say (self, "one too many") == -1);
    assert (gc_session_waiting (self) == GC_CLIENT_QUEUE_MAX);
    gc_session_destroy (&self);
    json_decref (capture.sent);
    lws_context_destroy (context);
}

void
gc_session_test (bool verbose)
{
    if (verbose)
        printf (" * gc_session: ");
    s_capture_t capture = { .sent = gc_alloc_checked (json_array ()) };
    gc_session_events_t events = {
        s_capture_logged_in, s_ignore_text, NULL, s_ignore_joined, s_capture_message,
        NULL, s_capture_said, s_unexpected_failure, s_ignore_text, NULL, s_capture_ended, NULL, &capture,
        NULL, NULL, NULL
    };
    gc_session_link_t link = { s_capture_send, s_capture_is_open, &capture };
    gc_session_t *self = gc_session_new_linked (NULL, &link, &events);
    s_test_first_login (self, &capture);
    s_test_reconnect (self, &capture);
    s_test_ended (self, &capture);
    gc_session_destroy (&self);
    json_decref (capture.sent);
    s_test_malformed ();
    s_test_too_many ();
    s_test_rate_limited ();
    s_test_outbox ();
    s_test_presence ();
    if (verbose)
        printf ("OK\n");
}
