/*  session.h: one person's session with groupchat, over reconnects.

    The session logs in (with the password the first time, with its token
    after every reconnect), joins its room (after a reconnect with `since`
    the newest seq it handed on) and hands on each room message exactly once,
    in seq order, whatever was replayed. Each say carries a nonce and is
    kept until acknowledged, so that a say typed while the connection is
    down, or in flight when it dropped, is sent after the reconnect and
    stored exactly once. When the server ends it (a
    `closed` push) it does not come back with its token, which is refused:
    it waits for a new login. Both the interactive client and the plain
    mode drive one. */
#ifndef GC_SESSION_H_INCLUDED
#define GC_SESSION_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "gc_error.h"
#include "gc_request.h"

typedef struct gc_session_t gc_session_t;

typedef struct {
    void (*logged_in) (void *arg, const char *user, bool again);
    void (*login_failed) (void *arg, const char *message);
    void (*rooms) (void *arg, json_t *rooms);           //  array of {"name"}
    void (*joined) (void *arg, const char *room);       //  history handed on already
    void (*message) (void *arg, json_t *message);       //  each once, in order, of any joined room
    void (*older) (void *arg, json_t *messages);        //  /history, oldest first
    void (*said) (void *arg, uint64_t seq);
    void (*failed) (void *arg, gc_client_op_t op, gc_error_t code, const char *message);
    void (*notice) (void *arg, const char *text);       //  connection news, removals
    //  The server's certificate was refused, text says which server and
    //  why: the session cannot go on (no reconnect follows)
    void (*untrusted) (void *arg, const char *text);
    //  The server ended the session (the account was removed, or its
    //  password changed; reason says which, for people): logged out, the
    //  token is gone and nothing reconnects until the next login
    void (*ended) (void *arg, const char *reason);
    //  No gateway answered at url (why): next is tried now, or when next
    //  is NULL every URL failed and the first is tried after delay_ms
    void (*unreachable) (void *arg, const char *url, const char *why, const char *next,
                         unsigned delay_ms);
    void *arg;
    //  The rest may be NULL: they are not wanted then.
    //  A user's first connection entered a joined room (joined true), or
    //  their last one left it; never the session's own user
    void (*presence) (void *arg, const char *room, const char *user, bool joined);
    //  Another user types in a joined room (pushed at most once a second)
    void (*typing) (void *arg, const char *room, const char *user);
    //  The answer to gc_session_who: the names in room now, sorted
    void (*present) (void *arg, const char *room, json_t *names);
} gc_session_events_t;

//  What a session sends its requests through: the WebSocket connection
//  gc_session_new makes, or another (a test's)
typedef struct {
    int (*send) (void *arg, json_t *frame);     //  0, or -1 when not sent
    bool (*is_open) (void *arg);                //  a login can go now
    void *arg;
} gc_session_link_t;

//  A session on its own connection to the first of urls (then the next
//  ones in turn, after a disconnect).
gc_session_t *gc_session_new (struct lws_context *context, char **urls, int url_count,
                              const gc_session_events_t *events);

//  A session that sends through link and is given what comes back with
//  gc_session_receive; context schedules its retries.
gc_session_t *gc_session_new_linked (struct lws_context *context, const gc_session_link_t *link,
                                     const gc_session_events_t *events);
void gc_session_destroy (gc_session_t **self_p);

//  Reads one text frame from the gateway, a reply or a push, and acts on
//  it; anything that is not a JSON object is ignored.
void gc_session_receive (gc_session_t *self, const char *data, size_t size);

//  Logs in now, or as soon as connected. The password is kept only until
//  a login succeeds.
void gc_session_login (gc_session_t *self, const char *user, const char *password);
void gc_session_rooms (gc_session_t *self);
//  Joins room (staying in the rooms joined before) and makes it the current
//  room, where says, older messages and leave go
void gc_session_join (gc_session_t *self, const char *room);
//  Makes a room joined before the current one again; 0, or -1 when it is
//  not joined
int gc_session_switch (gc_session_t *self, const char *room);
//  Leaves the current room; the others stay joined
void gc_session_leave (gc_session_t *self);
//  Says text in the current room, with a nonce of its own; the session
//  keeps it until the gateway acknowledges it (said) or refuses it for
//  good (failed), sending it again after a reconnect or a refusal for
//  the service's load. 0 when it was sent now, 1 when it waits for the
//  connection (pending), -1 when it was not taken: no current room, or
//  GC_CLIENT_QUEUE_MAX says wait already
int gc_session_say (gc_session_t *self, const char *text);
//  The says not acknowledged yet (in flight or waiting)
size_t gc_session_waiting (gc_session_t *self);
void gc_session_older (gc_session_t *self);
//  Asks who is in the current room; the present event answers
void gc_session_who (gc_session_t *self);
//  Tells the current room the user is typing: no id, so no reply, and
//  nothing when it cannot go now (the next keystroke will tell again)
void gc_session_typing (gc_session_t *self);

//  The current room, NULL for none
const char *gc_session_room (gc_session_t *self);

void gc_session_test (bool verbose);

#endif
