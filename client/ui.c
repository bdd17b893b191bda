/*  ui.c: the interactive client on readline's callback interface.

    stdin is adopted into the lws loop as a raw file, and each byte goes
    to rl_callback_read_char, so there is one thread and one loop. A line
    printed while the person types (an arriving message) first takes the
    half-typed line off the screen, prints, then puts it back: the typed
    line is never garbled. Every name and text from the network is
    shown through format.c, escaped: it is data, never a terminal control. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>
#include "ui.h"
#include "format.h"
#include "session.h"
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_stop.h"

typedef enum { ASK_USER, ASK_PASSWORD, WAITING, MENU, PICK_ROOM, IN_ROOM } s_state_t;

static struct {
    const gc_ui_config_t *config;
    struct lws_context *context;
    gc_session_t *session;
    s_state_t state;
    char *user;
    json_t *rooms;              //  the last room list, for picking by number
    bool picking;               //  the room list answers the menu's choice
    bool quit;
    int status;                 //  the exit status once quit
    bool in_handler;            //  inside s_on_line: readline redisplays after
} s_ui;


//  --------------------------------------------------------------------------
//  Screen

//  Prints a line above the prompt without disturbing what is being typed
static void
s_print (const char *text)
{
    if (s_ui.in_handler) {      //  the cursor is on a fresh line already
        printf ("%s\n", text);
        return;
    }
    char *typed = rl_copy_text (0, rl_end);
    int point = rl_point;
    rl_replace_line ("", 0);
    rl_save_prompt ();
    rl_redisplay ();
    printf ("\r\033[K%s\n", text);
    rl_restore_prompt ();
    rl_replace_line (typed, 0);
    rl_point = point;
    rl_forced_update_display ();
    free (typed);
}

//  Prints a line with one value from the network (or typed), escaped;
//  whole, however long its escapes made it
static void
s_printf (const char *format, const char *value)
{
    char *shown = gc_format_escaped (value), *line;
    if (asprintf (&line, format, shown) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    s_print (line);
    free (line);
    free (shown);
}

//  Password entry: the prompt only, never the characters
static void
s_hidden_redisplay (void)
{
    printf ("\r\033[K%s", rl_display_prompt);
    fflush (stdout);
}

static void s_on_line (char *line);

static void
s_prompt (s_state_t state, const char *prompt)
{
    s_ui.state = state;
    rl_redisplay_function = state == ASK_PASSWORD? s_hidden_redisplay: rl_redisplay;
    rl_set_prompt (prompt);
    if (s_ui.in_handler)
        return;                 //  readline shows it when the handler returns
    //  Replace the old prompt on the screen line, not after it
    printf ("\r\033[K");
    rl_on_new_line ();
    rl_redisplay ();
}

static void
s_menu (void)
{
    s_print ("");
    s_print ("  1) Join a chat room");
    s_print ("  2) Quit");
    s_prompt (MENU, "Choose 1 or 2: ");
}

static void
s_room_prompt (void)
{
    //  readline keeps a copy of the prompt
    char *room = gc_format_escaped (gc_session_room (s_ui.session)), *prompt;
    if (asprintf (&prompt, "%s> ", room) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    s_prompt (IN_ROOM, prompt);
    free (prompt);
    free (room);
}

//  --------------------------------------------------------------------------
//  Session events

static void
s_logged_in (void *arg, const char *user, bool again)
{
    (void) arg;
    if (again) {
        s_print ("(logged in again)");
        return;
    }
    s_printf ("Welcome, %s.", user);
    s_menu ();
}

static void
s_login_failed (void *arg, const char *message)
{
    (void) arg;
    s_printf ("Login failed: %s. Try again.", message);
    s_prompt (ASK_USER, "User name: ");
}

static void
s_rooms (void *arg, json_t *rooms)
{
    (void) arg;
    json_decref (s_ui.rooms);
    s_ui.rooms = json_incref (rooms);
    s_print (json_array_size (rooms)? "Your chat rooms:": "You are in no group yet.");
    size_t index;
    json_t *room;
    json_array_foreach (rooms, index, room) {
        char *name = gc_format_escaped (json_string_value (json_object_get (room, "name")));
        char *line;
        if (asprintf (&line, "  %zu) %s", index + 1, name) < 0)
            gc_alloc_fail (__FILE__, __LINE__);
        s_print (line);
        free (line);
        free (name);
    }
    if (s_ui.picking && json_array_size (rooms))
        s_prompt (PICK_ROOM, "Room number or name: ");
    else
    if (s_ui.picking)
        s_menu ();
    s_ui.picking = false;
}

static void
s_joined (void *arg, const char *room)
{
    (void) arg;
    if (s_ui.state == IN_ROOM)
        return;                 //  a rejoin after a reconnect
    s_printf ("--- You are in %s. Type to chat; /help for commands. ---", room);
    s_room_prompt ();
}

static void
s_message (void *arg, json_t *message)
{
    (void) arg;
    char *line = gc_format_message (message);
    s_print (line? line: "");
    free (line);
}

static void
s_older (void *arg, json_t *messages)
{
    s_print (json_array_size (messages)? "--- earlier messages ---": "--- nothing earlier ---");
    size_t index;
    json_t *message;
    json_array_foreach (messages, index, message)
        s_message (arg, message);
    if (json_array_size (messages))
        s_print ("--- end of earlier messages ---");
}

static void
s_said (void *arg, uint64_t seq)
{
    (void) arg, (void) seq;     //  the message itself arrives in the stream
}

static void
s_failed (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    (void) arg;
    char *line = gc_format_error (op, code, message);
    s_print (line? line: "error");
    free (line);
    if (op == GC_CLIENT_JOIN)
        s_menu ();
}

static void
s_notice (void *arg, const char *text)
{
    (void) arg;
    s_printf ("(%s)", text);
    if (strstr (text, "removed") && s_ui.state == IN_ROOM)
        s_menu ();
}

//  The server ended the session: said plainly, and back to the login
//  prompt, since the session's token is refused now
static void
s_ended (void *arg, const char *reason)
{
    (void) arg;
    char *line = gc_format_ended (reason);
    s_printf ("-- %s", line? line: reason);
    free (line);
    s_prompt (ASK_USER, "User name: ");
}

static void
s_untrusted (void *arg, const char *text)
{
    (void) arg;
    s_printf ("%s", text);
    s_ui.status = 1;
    s_ui.quit = true;
}

//  --------------------------------------------------------------------------
//  Typed lines

static void
s_pick_room (const char *line)
{
    const char *room = line;
    char *end;
    long number = strtol (line, &end, 10);
    if (*line && !*end) {
        json_t *entry = json_array_get (s_ui.rooms, (size_t) number - 1);
        room = number > 0? json_string_value (json_object_get (entry, "name")): NULL;
        if (!room) {
            s_print ("No room has that number.");
            return;
        }
    }
    s_printf ("Joining %s...", room);
    gc_session_join (s_ui.session, room);
    s_prompt (WAITING, "");
}

static const char *s_help =
    "Commands: /leave back to the menu, /history 10 older messages, "
    "/rooms your rooms, /help this, /quit (or Ctrl-D) exit. Anything else is said.";

static void
s_in_room (const char *line)
{
    if (strcmp (line, "/quit") == 0)
        s_ui.quit = true;
    else
    if (strcmp (line, "/leave") == 0) {
        gc_session_leave (s_ui.session);
        s_menu ();
    }
    else
    if (strcmp (line, "/history") == 0)
        gc_session_older (s_ui.session);
    else
    if (strcmp (line, "/rooms") == 0)
        gc_session_rooms (s_ui.session);
    else
    if (strcmp (line, "/help") == 0 || line [0] == '/')
        s_print (s_help);
    else
    if (*line) {
        add_history (line);
        gc_session_say (s_ui.session, line);
    }
}

static void
s_on_line (char *line)
{
    if (!line) {                //  Ctrl-D
        s_ui.quit = true;
        return;
    }
    //  The entered line is handed over; what prints next must not put it back
    rl_replace_line ("", 0);
    s_ui.in_handler = true;
    switch (s_ui.state) {
        case ASK_USER:
            free (s_ui.user);
            s_ui.user = gc_strdup (line);
            s_prompt (ASK_PASSWORD, "Password: ");
            break;
        case ASK_PASSWORD:
            s_print ("");
            gc_session_login (s_ui.session, s_ui.user, line);
            memset (line, 0, strlen (line));
            s_prompt (WAITING, "");
            break;
        case MENU:
            if (strcmp (line, "1") == 0 || strcasecmp (line, "Join a chat room") == 0) {
                s_ui.picking = true;
                gc_session_rooms (s_ui.session);
                s_prompt (WAITING, "");
            }
            else
            if (strcmp (line, "2") == 0 || strcmp (line, "/quit") == 0)
                s_ui.quit = true;
            else
                s_menu ();
            break;
        case PICK_ROOM:
            s_pick_room (line);
            break;
        case IN_ROOM:
            s_in_room (line);
            break;
        case WAITING:
            break;
    }
    s_ui.in_handler = false;
    free (line);
}

//  --------------------------------------------------------------------------
//  The loop

static int
s_on_stdin (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        rl_callback_read_char ();
    return reason == LWS_CALLBACK_RAW_RX_FILE || reason == LWS_CALLBACK_RAW_CLOSE_FILE? 0:
           lws_callback_http_dummy (wsi, reason, user, in, len);
}

static int
s_adopt_stdin (void)
{
    lws_sock_file_fd_type fd = { .filefd = dup (STDIN_FILENO) };
    struct lws_vhost *vhost = lws_get_vhost_by_name (s_ui.context, "default");
    return vhost && fd.filefd >= 0 && lws_adopt_descriptor_vhost (
        vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "gc-stdin", NULL)? 0: -1;
}

int
gc_ui_run (const gc_ui_config_t *config)
{
    static const struct lws_protocols stdin_protocol = { "gc-stdin", s_on_stdin, 0, 0, 0, NULL, 0 };
    s_ui.config = config;
    s_ui.context = gc_wsconn_context_new (&stdin_protocol, config->ca);
    if (!s_ui.context || s_adopt_stdin ())
        return 1;
    gc_stop_on_signals ();
    gc_stop_wakes (s_ui.context);
    gc_session_events_t events = {
        s_logged_in, s_login_failed, s_rooms, s_joined, s_message,
        s_older, s_said, s_failed, s_notice, s_untrusted, s_ended, NULL
    };
    s_ui.session = gc_session_new (s_ui.context, config->urls, config->url_count, &events);
    rl_callback_handler_install ("", s_on_line);
    printf ("groupchat: chat rooms for your groups.\n");
    if (config->user && config->password) {
        s_ui.user = gc_strdup (config->user);
        gc_session_login (s_ui.session, config->user, config->password);
        s_prompt (WAITING, "");
    }
    else
    if (config->user) {
        s_ui.user = gc_strdup (config->user);
        s_prompt (ASK_PASSWORD, "Password: ");
    }
    else
        s_prompt (ASK_USER, "User name: ");
    while (!s_ui.quit && !gc_stop_requested ())
        if (lws_service (s_ui.context, 0) < 0)
            break;
    rl_callback_handler_remove ();
    printf ("\nBye.\n");
    gc_session_destroy (&s_ui.session);
    gc_stop_wakes (NULL);
    lws_context_destroy (s_ui.context);
    json_decref (s_ui.rooms);
    free (s_ui.user);
    return s_ui.status;
}
