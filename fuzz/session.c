/*  fuzz/session.c: the libFuzzer harness of the client's reply and push
    reader (client/session.c, gc_session_receive).

    Each input is what a gateway sends one session: text frames one
    after another, each ended by a NUL byte (which no JSON text holds).
    The session has asked to log in as Sue (id 1), to join Taskmaster
    (2), for its rooms (3), to say (4) and for older messages (5), so
    replies with those ids reach every handler. Whatever comes, the
    session must hand on what the client's screens can show: each room
    message once, in rising seq order, a positive seq, of the room
    joined; a user name on login; a room on join; and it must send only
    requests that a gateway accepts. What it hands on goes through the
    client's own formatting (client/format.c), as both its modes do. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include "../client/format.h"
#include "../client/session.h"
#include "../client/wsconn.h"
#include "gc_request.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static struct lws_context *s_context;
static gc_session_t *s_session;    //  the one being fed
static uint64_t s_handed;           //  the newest seq it handed on

//  --------------------------------------------------------------------------
//  The link: every request sent must be one the gateway accepts

static int
s_send (void *arg, json_t *frame)
{
    (void) arg;
    char *text = json_dumps (frame, JSON_COMPACT);
    gc_request_t request;
    const char *why;
    assert (text && gc_request_parse (text, strlen (text), &request, &why) == GC_OK);
    gc_request_release (&request);
    free (text);
    return 0;
}

static bool
s_is_open (void *arg)
{
    (void) arg;
    return true;
}

//  --------------------------------------------------------------------------
//  The events, checked and shown as the client would show them

static void
s_show (json_t *message)
{
    free (gc_format_message (message));
}

static void
s_logged_in (void *arg, const char *user, bool again)
{
    (void) arg, (void) again;
    assert (user);
}

//  A login refused, a room joined, a notice: there is something to show
static void
s_text (void *arg, const char *text)
{
    (void) arg;
    assert (text);
}

static void
s_rooms (void *arg, json_t *rooms)
{
    (void) arg;
    size_t index;
    json_t *room;
    json_array_foreach (rooms, index, room)
        assert (json_string_value (json_object_get (room, GC_KEY_NAME)));
}

static void
s_message (void *arg, json_t *message)
{
    (void) arg;
    const char *room = json_string_value (json_object_get (message, GC_KEY_ROOM));
    json_t *seq = json_object_get (message, GC_KEY_SEQ);
    assert (room && gc_session_room (s_session) && strcmp (room, gc_session_room (s_session)) == 0);
    assert (json_is_integer (seq) && json_integer_value (seq) > 0);
    assert ((uint64_t) json_integer_value (seq) > s_handed);
    s_handed = (uint64_t) json_integer_value (seq);
    s_show (message);
}

static void
s_older (void *arg, json_t *messages)
{
    (void) arg;
    size_t index;
    json_t *message;
    json_array_foreach (messages, index, message)
        s_show (message);
}

static void
s_said (void *arg, uint64_t seq)
{
    (void) arg, (void) seq;
}

static void
s_failed (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    (void) arg;
    assert (message);
    free (gc_format_error (op, code, message));
}

//  Presence and typing: of another user, in a room joined, shown escaped
static void
s_presence (void *arg, const char *room, const char *user, bool joined)
{
    (void) arg, (void) joined;
    assert (room && user);
    free (gc_format_escaped (user));
}

static void
s_typing (void *arg, const char *room, const char *user)
{
    s_presence (arg, room, user, false);
}

static void
s_present (void *arg, const char *room, json_t *names)
{
    (void) arg;
    size_t index;
    json_t *name;
    assert (room);
    json_array_foreach (names, index, name)
        assert (json_is_string (name));
    free (gc_format_names (names));
    free (gc_format_typing (names));
}

//  --------------------------------------------------------------------------

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_context)
        s_context = gc_wsconn_context_new (NULL, NULL);
    gc_session_link_t link = { s_send, s_is_open, NULL };
    gc_session_events_t events = {
        .logged_in = s_logged_in, .login_failed = s_text, .rooms = s_rooms, .joined = s_text,
        .message = s_message, .older = s_older, .said = s_said, .failed = s_failed,
        .notice = s_text, .untrusted = s_text, .ended = s_text,
        .presence = s_presence, .typing = s_typing, .present = s_present
    };
    s_session = gc_session_new_linked (s_context, &link, &events);
    s_handed = 0;
    gc_session_login (s_session, "Sue", "password");
    gc_session_join (s_session, "Taskmaster");
    gc_session_rooms (s_session);
    gc_session_say (s_session, "hi");
    gc_session_who (s_session);
    gc_session_older (s_session);
    const char *frame = (const char *) data, *end = frame + size;
    while (frame < end) {
        const char *nul = memchr (frame, 0, (size_t) (end - frame));
        size_t frame_size = nul? (size_t) (nul - frame): (size_t) (end - frame);
        gc_session_receive (s_session, frame, frame_size);
        frame += frame_size + 1;
    }
    gc_session_destroy (&s_session);
    return 0;
}
