/*  session.c: login, join and exactly-once message hand-off for the client.

    Requests carry increasing ids; a small table remembers which op each
    id was, so a reply is handled by the op it answers. */
#include <string.h>
#include <czmq.h>
#include <sodium.h>
#include "session.h"
#include "wsconn.h"
#include "gc_limits.h"


struct gc_session_t {
    struct lws_context *context;
    gc_wsconn_t *conn;
    lws_sorted_usec_list_t relogin; //  a login the service could not take yet
    unsigned relogins;          //  consecutive, for the backoff
    gc_session_events_t events;
    char *user;
    char *password;             //  until a login succeeds
    char *token;
    char *room;                 //  the room joined (or to join)
    uint64_t last_seq;          //  newest seq handed on in room
    uint64_t oldest_seq;        //  oldest seq shown, for /history
    bool logged_in;             //  at least once
    int64_t next_id;
    char pending [GC_CLIENT_PENDING][12];   //  the op of each id in flight
};

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
    *field = value? strdup (value): NULL;
}

//  Sends {"op":op,"id":N, ...fields}; takes fields (may be NULL)
static void
s_request (gc_session_t *self, const char *op, json_t *fields)
{
    json_t *frame = json_pack ("{s:s,s:I}", "op", op, "id", (json_int_t) ++self->next_id);
    if (fields)
        json_object_update (frame, fields);
    json_decref (fields);
    snprintf (self->pending [self->next_id % GC_CLIENT_PENDING], 12, "%s", op);
    if (gc_wsconn_send (self->conn, frame))
        self->events.failed (self->events.arg, op, "unavailable", "not connected, try again");
    json_decref (frame);
}

static void
s_send_login (gc_session_t *self)
{
    if (self->token)
        s_request (self, "login", json_pack ("{s:s}", "token", self->token));
    else
    if (self->user && self->password)
        s_request (self, "login", json_pack ("{s:s,s:s}", "user", self->user,
                                             "password", self->password));
}

static void
s_send_join (gc_session_t *self)
{
    json_t *fields = json_pack ("{s:s}", "room", self->room);
    if (self->last_seq)
        json_object_set_new (fields, "since", json_integer ((json_int_t) self->last_seq));
    s_request (self, "join", fields);
}

//  --------------------------------------------------------------------------
//  Incoming

//  Hands on a message once: anything at or below last_seq was shown
static void
s_message (gc_session_t *self, json_t *message)
{
    const char *room = json_string_value (json_object_get (message, "room"));
    uint64_t seq = (uint64_t) json_integer_value (json_object_get (message, "seq"));
    if (!room || !self->room || strcmp (room, self->room) || seq <= self->last_seq)
        return;
    self->last_seq = seq;
    if (!self->oldest_seq)
        self->oldest_seq = seq;
    self->events.message (self->events.arg, message);
}

static void
s_on_login (gc_session_t *self, json_t *reply)
{
    bool again = self->logged_in;
    self->relogins = 0;
    s_replace (&self->token, json_string_value (json_object_get (reply, "token")));
    s_replace (&self->user, json_string_value (json_object_get (reply, "user")));
    s_forget_password (self);
    self->logged_in = true;
    self->events.logged_in (self->events.arg, self->user, again);
    if (again && self->room)
        s_send_join (self);
}

static void
s_on_join (gc_session_t *self, json_t *reply)
{
    json_t *history = json_object_get (reply, "history"), *message;
    size_t index;
    json_array_foreach (history, index, message)
        s_message (self, message);
    self->events.joined (self->events.arg, self->room);
    //  More after `since` than one reply holds: ask for the rest
    if (json_is_false (json_object_get (reply, "complete")))
        s_send_join (self);
}

static void
s_on_older (gc_session_t *self, json_t *reply)
{
    json_t *history = json_object_get (reply, "history");
    if (json_array_size (history)) {
        json_t *first = json_array_get (history, 0);
        self->oldest_seq = (uint64_t) json_integer_value (json_object_get (first, "seq"));
    }
    self->events.older (self->events.arg, history);
}

static void
s_on_ok (gc_session_t *self, const char *op, json_t *reply)
{
    if (streq (op, "login"))
        s_on_login (self, reply);
    else
    if (streq (op, "rooms"))
        self->events.rooms (self->events.arg, json_object_get (reply, "rooms"));
    else
    if (streq (op, "join"))
        s_on_join (self, reply);
    else
    if (streq (op, "history"))
        s_on_older (self, reply);
    else
    if (streq (op, "say"))
        self->events.said (self->events.arg,
                           (uint64_t) json_integer_value (json_object_get (reply, "seq")));
}

static void
s_on_relogin (lws_sorted_usec_list_t *sul)
{
    gc_session_t *self = lws_container_of (sul, gc_session_t, relogin);
    if (gc_wsconn_is_open (self->conn))
        s_send_login (self);
}

static void
s_on_error (gc_session_t *self, const char *op, json_t *reply)
{
    const char *code = json_string_value (json_object_get (reply, "code"));
    const char *message = json_string_value (json_object_get (reply, "message"));
    code = code? code: "error";
    message = message? message: code;
    //  A login the service could not take now is tried again, as after a
    //  reconnect: nothing was done, and the person should not have to
    if (streq (op, "login") && streq (code, "unavailable") && self->relogins < 8) {
        self->events.notice (self->events.arg, "the service is busy, logging in again shortly");
        lws_sul_schedule (self->context, 0, &self->relogin, s_on_relogin,
                          gc_wsconn_backoff_ms (self->relogins++) * LWS_US_PER_MS);
        return;
    }
    if (streq (op, "login") && streq (code, "bad_credentials")) {
        bool with_token = self->token != NULL;
        s_replace (&self->token, NULL);
        if (with_token && self->password)
            s_send_login (self);
        else
            self->events.login_failed (self->events.arg, with_token?
                "your session has expired, log in again": "wrong user name or password");
        return;
    }
    if (streq (op, "join"))
        s_replace (&self->room, NULL);
    self->events.failed (self->events.arg, op, code, message);
}

static void
s_on_frame (void *arg, json_t *frame)
{
    gc_session_t *self = arg;
    const char *op = json_string_value (json_object_get (frame, "op"));
    if (!op)
        return;
    if (streq (op, "message")) {
        s_message (self, frame);
        return;
    }
    if (streq (op, "left")) {
        s_replace (&self->room, NULL);
        self->events.notice (self->events.arg, "you were removed from that group's room");
        return;
    }
    json_t *id = json_object_get (frame, "id");
    const char *request = json_is_integer (id)?
                          self->pending [json_integer_value (id) % GC_CLIENT_PENDING]: "?";
    if (streq (op, "ok"))
        s_on_ok (self, request, frame);
    else
    if (streq (op, "error"))
        s_on_error (self, request, frame);
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
}

//  --------------------------------------------------------------------------
//  Construction and requests

gc_session_t *
gc_session_new (struct lws_context *context, char **urls, int url_count,
                const gc_session_events_t *events)
{
    gc_session_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->events = *events;
    self->context = context;
    gc_wsconn_events_t conn_events = { s_on_open, s_on_frame, s_on_close, self };
    self->conn = gc_wsconn_new (context, urls, url_count, &conn_events);
    if (!self->conn)
        gc_session_destroy (&self);
    return self;
}

void
gc_session_destroy (gc_session_t **self_p)
{
    gc_session_t *self = *self_p;
    if (!self)
        return;
    lws_sul_cancel (&self->relogin);
    gc_wsconn_destroy (&self->conn);
    s_forget_password (self);
    free (self->user);
    free (self->token);
    free (self->room);
    free (self);
    *self_p = NULL;
}

void
gc_session_login (gc_session_t *self, const char *user, const char *password)
{
    s_replace (&self->user, user);
    s_forget_password (self);
    self->password = strdup (password);
    s_replace (&self->token, NULL);
    if (gc_wsconn_is_open (self->conn))
        s_send_login (self);
}

void
gc_session_rooms (gc_session_t *self)
{
    s_request (self, "rooms", NULL);
}

void
gc_session_join (gc_session_t *self, const char *room)
{
    if (!self->room || strcmp (self->room, room)) {
        self->last_seq = 0;
        self->oldest_seq = 0;
    }
    s_replace (&self->room, room);
    s_send_join (self);
}

void
gc_session_leave (gc_session_t *self)
{
    if (self->room)
        s_request (self, "leave", json_pack ("{s:s}", "room", self->room));
    s_replace (&self->room, NULL);
}

void
gc_session_say (gc_session_t *self, const char *text)
{
    if (self->room)
        s_request (self, "say", json_pack ("{s:s,s:s}", "room", self->room, "text", text));
}

void
gc_session_older (gc_session_t *self)
{
    if (!self->room)
        return;
    json_t *fields = json_pack ("{s:s,s:i}", "room", self->room, "limit", 10);
    if (self->oldest_seq)
        json_object_set_new (fields, "before", json_integer ((json_int_t) self->oldest_seq));
    s_request (self, "history", fields);
}

const char *
gc_session_room (gc_session_t *self)
{
    return self->room;
}
