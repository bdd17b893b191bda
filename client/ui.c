/*  ui.c: the interactive client on readline's callback interface.

    stdin is adopted into the lws loop as a raw file, and each byte goes
    to rl_callback_read_char, so there is one thread and one loop. A line
    printed while the person types (an arriving message) first takes the
    half-typed line off the screen, prints, then puts it back: the typed
    line is never garbled. A line said is taken off the screen once
    entered: it shows once, when the room's stream brings it, like
    everyone's. A line said while the connection is down shows at once,
    marked "(pending)", and its message follows, unmarked, once the
    reconnect has sent it and it is stored (session.c keeps it until then). Every name and text from the network is shown through
    format.c, escaped: it is data, never a terminal control; the only
    colours are format.c's own, on a terminal that wants them.

    The client may be in several rooms: /join ROOM makes ROOM the one
    shown, and the rooms left behind stay joined, their new messages
    counted as unread and kept (the last 10) to show on going back.

    Presence in the room shown is a notice (`-- Sue joined`); in rooms
    not shown it is not said, as it would only distract from the room
    read. Another's typing shows in the prompt, `(Sue is typing)
    Taskmaster> `, which readline redraws with the typed line intact,
    until their message comes or GC_CLIENT_TYPING_SHOWN_MS pass without
    another typing. The user's own typing (a line that is not a command)
    is told to the room at most once per GC_CLIENT_TYPING_SEND_MS. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <readline/readline.h>
#include <readline/history.h>
#include "ui.h"
#include "complete.h"
#include "format.h"
#include "session.h"
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_stop.h"

typedef enum { ASK_USER, ASK_PASSWORD, WAITING, MENU, PICK_ROOM, IN_ROOM } s_state_t;

//  A room joined, shown or not
typedef struct {
    char *name;
    size_t unread;              //  messages that came while another was shown
    json_t *recent;             //  its last messages, oldest first, to show again
} s_room_t;

#define S_RECENT    10          //  as many as a join shows

//  Someone typing in the room shown
typedef struct {
    char *name;
    int64_t until_ms;           //  shown until then (monotonic), unless typing again
} s_typist_t;

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
    s_room_t *joined;           //  the rooms joined, in the order joined
    size_t joined_count;
    char *previous;             //  the room shown before a /join, to go back to
    int day;                    //  the local day (format.c's key) of the last line shown
    gc_format_style_t style;    //  colours, and the name a mention is of
    s_typist_t *typists;        //  who types in the room shown, first to start first
    size_t typist_count;
    lws_sorted_usec_list_t typing_expiry;   //  when the first of them is due to go
    char *typed;                //  the input line as last seen, to tell typing from moving
    int64_t typing_sent_ms;     //  when the room was last told we type, 0: not since a line
} s_ui;


//  --------------------------------------------------------------------------
//  Screen

//  Takes the prompt and the half-typed line off the screen (readline
//  clears every screen line it spans), prints text above if any, then
//  puts them back, the prompt as prompt if given: what is being typed
//  stays as it was, cursor and all
static void
s_redraw (const char *text, const char *prompt)
{
    char *typed = rl_copy_text (0, rl_end);
    int point = rl_point;
    rl_replace_line ("", 0);
    rl_save_prompt ();
    rl_redisplay ();
    printf ("\r\033[K");
    if (text)
        printf ("%s\n", text);
    rl_restore_prompt ();
    if (prompt)
        rl_set_prompt (prompt);
    rl_replace_line (typed, 0);
    rl_point = point;
    rl_forced_update_display ();
    free (typed);
}

//  Prints a line above the prompt without disturbing what is being typed
static void
s_print (const char *text)
{
    if (s_ui.in_handler) {      //  the cursor is on a fresh line already
        printf ("%s\n", text);
        return;
    }
    s_redraw (text, NULL);
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

//  The columns a text takes: one per character (UTF-8 lead bytes)
static size_t
s_columns (const char *text)
{
    size_t columns = 0;
    for (const char *at = text; at && *at; at++)
        columns += ((unsigned char) *at & 0xC0) != 0x80;
    return columns;
}

//  Takes the line just entered (prompt and text, maybe wrapped over
//  several screen lines) off the screen; the cursor is on the line below
static void
s_erase_entered (const char *line)
{
    int rows, cols;
    rl_get_screen_size (&rows, &cols);
    size_t width = s_columns (rl_prompt) + s_columns (line);
    size_t lines = cols > 0? width / (size_t) cols + 1: 1;
    printf ("\033[%zuA\r\033[J", lines);
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

//  The room's prompt, after who is typing there: "(Sue is typing) Taskmaster> "
static char *
s_room_prompt_text (void)
{
    json_t *names = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < s_ui.typist_count; index++)
        json_array_append_new (names, json_string (s_ui.typists [index].name));
    char *typing = gc_format_typing (names);
    char *room = gc_format_escaped (gc_session_room (s_ui.session)), *prompt;
    if (asprintf (&prompt, "%s%s%s%s> ", typing? "(": "", typing? typing: "",
                  typing? ") ": "", room) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    free (room);
    free (typing);
    json_decref (names);
    return prompt;
}

static void
s_room_prompt (void)
{
    //  readline keeps a copy of the prompt
    char *prompt = s_room_prompt_text ();
    s_prompt (IN_ROOM, prompt);
    free (prompt);
}

//  --------------------------------------------------------------------------
//  The rooms joined

static s_room_t *
s_room_find (const char *name)
{
    for (size_t index = 0; name && index < s_ui.joined_count; index++)
        if (strcmp (s_ui.joined [index].name, name) == 0)
            return &s_ui.joined [index];
    return NULL;
}

static s_room_t *
s_room_add (const char *name)
{
    s_room_t *room = s_room_find (name);
    if (room)
        return room;
    s_ui.joined = gc_realloc (s_ui.joined, (s_ui.joined_count + 1) * sizeof *s_ui.joined);
    room = &s_ui.joined [s_ui.joined_count++];
    *room = (s_room_t) { gc_strdup (name), 0, gc_alloc_checked (json_array ()) };
    gc_complete_room (name);
    return room;
}

static void
s_room_remove (const char *name)
{
    s_room_t *room = s_room_find (name);
    if (!room)
        return;
    free (room->name);
    json_decref (room->recent);
    *room = s_ui.joined [--s_ui.joined_count];
}

static void
s_room_clear (void)
{
    while (s_ui.joined_count)
        s_room_remove (s_ui.joined [0].name);
    free (s_ui.joined);
    s_ui.joined = NULL;
}

static void
s_remember (s_room_t *room, json_t *message)
{
    json_array_append (room->recent, message);
    if (json_array_size (room->recent) > S_RECENT)
        json_array_remove (room->recent, 0);
}

//  --------------------------------------------------------------------------
//  Who is typing, shown in the prompt

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  The prompt says who types now; readline redraws the typed line after
//  it as it was, cursor and all
static void
s_typing_redisplay (void)
{
    if (s_ui.state != IN_ROOM || !gc_session_room (s_ui.session))
        return;
    char *prompt = s_room_prompt_text ();
    if (s_ui.in_handler)        //  readline shows it when the handler returns
        rl_set_prompt (prompt);
    else
        s_redraw (NULL, prompt);
    free (prompt);
}

static void s_typing_expire (lws_sorted_usec_list_t *sul);

//  The timer goes off when the first typist is due to go, if any is
static void
s_typing_schedule (void)
{
    if (!s_ui.typist_count) {
        lws_sul_cancel (&s_ui.typing_expiry);
        return;
    }
    int64_t first = s_ui.typists [0].until_ms;
    for (size_t index = 1; index < s_ui.typist_count; index++)
        if (s_ui.typists [index].until_ms < first)
            first = s_ui.typists [index].until_ms;
    int64_t wait = first - s_now_ms ();
    lws_sul_schedule (s_ui.context, 0, &s_ui.typing_expiry, s_typing_expire,
                      (wait > 0? wait: 0) * LWS_US_PER_MS);
}

//  Takes a typist off, keeping the order of the others
static void
s_typist_drop (size_t index)
{
    free (s_ui.typists [index].name);
    memmove (&s_ui.typists [index], &s_ui.typists [index + 1],
             (s_ui.typist_count - index - 1) * sizeof *s_ui.typists);
    s_ui.typist_count--;
}

static void
s_typing_expire (lws_sorted_usec_list_t *sul)
{
    (void) sul;
    int64_t now = s_now_ms ();
    size_t before = s_ui.typist_count;
    for (size_t index = s_ui.typist_count; index-- > 0;)
        if (s_ui.typists [index].until_ms <= now)
            s_typist_drop (index);
    if (s_ui.typist_count != before)
        s_typing_redisplay ();
    s_typing_schedule ();
}

//  user types in the room shown: named in the prompt, for a while more
static void
s_typist_add (const char *user)
{
    int64_t until = s_now_ms () + GC_CLIENT_TYPING_SHOWN_MS;
    for (size_t index = 0; index < s_ui.typist_count; index++)
        if (strcmp (s_ui.typists [index].name, user) == 0) {
            s_ui.typists [index].until_ms = until;
            s_typing_schedule ();
            return;
        }
    s_ui.typists = gc_realloc (s_ui.typists, (s_ui.typist_count + 1) * sizeof *s_ui.typists);
    s_ui.typists [s_ui.typist_count++] = (s_typist_t) { gc_strdup (user), until };
    s_typing_schedule ();
    s_typing_redisplay ();
}

//  user is done typing in room (said it, or left): no longer shown
static void
s_typist_done (const char *room, const char *user)
{
    const char *shown = gc_session_room (s_ui.session);
    if (!room || !user || !shown || strcmp (room, shown))
        return;
    for (size_t index = 0; index < s_ui.typist_count; index++)
        if (strcmp (s_ui.typists [index].name, user) == 0) {
            s_typist_drop (index);
            s_typing_schedule ();
            s_typing_redisplay ();
            return;
        }
}

//  Another room is shown, or none: who typed in the last is forgotten
static void
s_typists_clear (void)
{
    while (s_ui.typist_count)
        s_typist_drop (s_ui.typist_count - 1);
    free (s_ui.typists);
    s_ui.typists = NULL;
    lws_sul_cancel (&s_ui.typing_expiry);
}

//  After each key: a line that is no command and changed is typing, told
//  to the room at most once per GC_CLIENT_TYPING_SEND_MS; an empty line
//  (one just entered) lets the next keystroke tell at once
static void
s_typed (void)
{
    if (s_ui.state != IN_ROOM || !rl_line_buffer)
        return;
    bool changed = !s_ui.typed || strcmp (s_ui.typed, rl_line_buffer);
    free (s_ui.typed);
    s_ui.typed = gc_strdup (rl_line_buffer);
    if (!*rl_line_buffer)
        s_ui.typing_sent_ms = 0;
    if (!changed || !*rl_line_buffer || rl_line_buffer [0] == '/')
        return;
    int64_t now = s_now_ms ();
    if (s_ui.typing_sent_ms && now - s_ui.typing_sent_ms < GC_CLIENT_TYPING_SEND_MS)
        return;
    s_ui.typing_sent_ms = now;
    gc_session_typing (s_ui.session);
}

//  --------------------------------------------------------------------------
//  Messages

static int
s_today (void)
{
    return gc_format_day_key ((int64_t) time (NULL) * 1000);
}

//  A message of the room shown, after a date line when it opens a day
//  other than the last line's
static void
s_show (json_t *message)
{
    int64_t ts = json_integer_value (json_object_get (message, "ts"));
    if (gc_format_day_key (ts) != s_ui.day) {
        s_ui.day = gc_format_day_key (ts);
        char *day = gc_format_day (ts);
        s_print (day);
        free (day);
    }
    char *line = gc_format_message_styled (message, &s_ui.style);
    s_print (line? line: "");
    free (line);
}

//  A room's messages are shown from here on: its unread are read
static void
s_enter (s_room_t *room)
{
    s_ui.day = s_today ();
    room->unread = 0;
    s_typists_clear ();
    s_printf ("--- You are in %s. Type to chat; /help for commands. ---", room->name);
}

//  --------------------------------------------------------------------------
//  Session events

static void
s_logged_in (void *arg, const char *user, bool again)
{
    (void) arg;
    free (s_ui.user);
    s_ui.user = gc_strdup (user);
    s_ui.style.me = s_ui.user;
    gc_complete_person (user);
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
        const char *raw = json_string_value (json_object_get (room, "name"));
        s_room_t *joined = s_room_find (raw);
        char *name = gc_format_escaped (raw), *line, unread [64] = "";
        gc_complete_room (raw);
        if (joined && joined->unread)
            snprintf (unread, sizeof unread, " (%zu unread)", joined->unread);
        if (asprintf (&line, "  %zu) %s%s", index + 1, name, unread) < 0)
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

//  The room a join was sent for is in: it is shown. Other joins are the
//  rejoins after a reconnect, which show nothing but what was missed.
static void
s_joined (void *arg, const char *room)
{
    (void) arg;
    const char *shown = gc_session_room (s_ui.session);
    if (s_ui.state == IN_ROOM || !shown || strcmp (room, shown))
        return;
    s_enter (s_room_add (room));
    s_room_prompt ();
}

//  A message of the room shown is shown; one of another room joined is
//  counted, and the count said
static void
s_message (void *arg, json_t *message)
{
    (void) arg;
    const char *name = json_string_value (json_object_get (message, "room"));
    const char *shown = gc_session_room (s_ui.session);
    s_room_t *room = s_room_add (name);
    s_remember (room, message);
    gc_complete_person (json_string_value (json_object_get (message, "from")));
    s_typist_done (name, json_string_value (json_object_get (message, "from")));
    if (shown && strcmp (name, shown) == 0) {
        s_show (message);
        return;
    }
    room->unread++;
    char *line;
    if (asprintf (&line, "-- %zu unread in %%s", room->unread) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    s_printf (line, name);
    free (line);
}

//  Older messages, between their own lines, with their own date lines
static void
s_older (void *arg, json_t *messages)
{
    (void) arg;
    s_print (json_array_size (messages)? "--- earlier messages ---": "--- nothing earlier ---");
    int day = s_ui.day;
    s_ui.day = s_today ();
    size_t index;
    json_t *message;
    json_array_foreach (messages, index, message)
        s_show (message);
    s_ui.day = day;
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
    if (op != GC_CLIENT_JOIN || (s_ui.state == IN_ROOM && gc_session_room (s_ui.session)))
        return;                 //  a room not shown could not be joined again
    //  A /join refused: back to the room shown before, if any
    if (s_ui.previous && gc_session_switch (s_ui.session, s_ui.previous) == 0)
        s_room_prompt ();
    else
        s_menu ();
}

static void
s_notice (void *arg, const char *text)
{
    (void) arg;
    s_printf ("(%s)", text);
    if (s_ui.state == IN_ROOM && !gc_session_room (s_ui.session))
        s_menu ();              //  removed from the room shown
}

static void
s_unreachable (void *arg, const char *url, const char *why, const char *next, unsigned delay_ms)
{
    (void) arg;
    char *line = gc_format_unreachable (url, why, next, delay_ms);
    s_printf ("-- %s", line);
    free (line);
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
    s_room_clear ();
    s_typists_clear ();
    s_prompt (ASK_USER, "User name: ");
}

//  Someone came into or left the room shown: a notice. In other rooms
//  joined it is not said: it would only distract from the room read.
static void
s_presence (void *arg, const char *room, const char *user, bool joined)
{
    (void) arg;
    const char *shown = gc_session_room (s_ui.session);
    if (!shown || strcmp (room, shown))
        return;
    if (joined)
        gc_complete_person (user);
    else
        s_typist_done (room, user);
    s_printf (joined? "-- %s joined": "-- %s left", user);
}

static void
s_typing_pushed (void *arg, const char *room, const char *user)
{
    (void) arg;
    const char *shown = gc_session_room (s_ui.session);
    if (s_ui.state == IN_ROOM && shown && strcmp (room, shown) == 0)
        s_typist_add (user);
}

//  /who's answer: "-- here: Alex, Sue", in the server's order, or for a
//  room no longer shown (gone elsewhere meanwhile) with its name
static void
s_present (void *arg, const char *room, json_t *names)
{
    (void) arg;
    size_t index;
    json_t *name;
    json_array_foreach (names, index, name)
        gc_complete_person (json_string_value (name));
    char *listed = gc_format_names (names), *line;
    const char *shown = gc_session_room (s_ui.session);
    char *where = shown && strcmp (room, shown) == 0? NULL: gc_format_escaped (room);
    if (asprintf (&line, "-- %s%s: %s", where? "in ": "here", where? where: "", listed) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    s_print (line);
    free (line);
    free (where);
    free (listed);
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

//  Shows room: at once when it is joined already (its last messages,
//  then on), else once the join is answered
static void
s_go_to (const char *name)
{
    s_room_t *room = s_room_find (name);
    if (room && gc_session_switch (s_ui.session, name) == 0) {
        s_ui.day = s_today ();
        size_t index;
        json_t *message;
        json_array_foreach (room->recent, index, message)
            s_show (message);
        s_enter (room);
        s_room_prompt ();
        return;
    }
    if (room) {                 //  no longer joined (removed): from the start
        json_array_clear (room->recent);
        room->unread = 0;
    }
    s_printf ("Joining %s...", name);
    s_ui.day = s_today ();
    gc_session_join (s_ui.session, name);
    s_prompt (WAITING, "");
}

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
    free (s_ui.previous);
    s_ui.previous = NULL;
    s_go_to (room);
}

static const char *s_help [] = {
    "Commands:",
    "  /join ROOM   go to ROOM (Tab completes it); rooms left behind count their unread",
    "  /leave       leave this room, back to the menu",
    "  /history     10 older messages",
    "  /rooms       your rooms, with their unread messages",
    "  /who         who is in this room now",
    "  /help        this list",
    "  /quit        exit (or Ctrl-D)",
    "  //TEXT       say /TEXT",
    "Anything else is said.",
    NULL
};

static void
s_print_help (void)
{
    for (const char **line = s_help; *line; line++)
        s_print (*line);
}

//  /join ROOM: ROOM shown, the room shown now staying joined
static void
s_join_command (const char *room)
{
    size_t size = strlen (room);
    while (size && room [size - 1] == ' ')
        size--;                 //  Tab leaves a space after a name
    char *name = gc_strndup (room, size);
    const char *shown = gc_session_room (s_ui.session);
    if (!*name)
        s_print ("Which room? /join ROOM (Tab completes its name)");
    else
    if (shown && strcmp (name, shown) == 0)
        s_printf ("You are in %s already.", name);
    else {
        free (s_ui.previous);
        s_ui.previous = shown? gc_strdup (shown): NULL;
        s_go_to (name);
    }
    free (name);
}

//  A line said: taken off the screen, as the room's stream shows it once
//  stored. One that waits for the connection shows now, marked pending,
//  and its message follows when it is stored; one the full queue refused
//  is said to be lost, and Up brings it back
static void
s_say (const char *text, const char *entered)
{
    add_history (entered);
    s_erase_entered (entered);
    int said = gc_session_say (s_ui.session, text);
    if (said > 0) {
        char *line = gc_format_pending (s_ui.user, text, (int64_t) time (NULL) * 1000,
                                        &s_ui.style);
        s_print (line);
        free (line);
    }
    else
    if (said < 0)
        s_print ("-- not sent: " GC_STR (GC_CLIENT_QUEUE_MAX) " messages are waiting to be "
                 "sent already (Up brings the line back)");
}

static void
s_in_room (const char *line)
{
    if (strcmp (line, "/quit") == 0)
        s_ui.quit = true;
    else
    if (strcmp (line, "/leave") == 0) {
        s_room_remove (gc_session_room (s_ui.session));
        s_typists_clear ();
        gc_session_leave (s_ui.session);
        s_menu ();
    }
    else
    if (strcmp (line, "/history") == 0)
        gc_session_older (s_ui.session);
    else
    if (strcmp (line, "/who") == 0)
        gc_session_who (s_ui.session);
    else
    if (strcmp (line, "/rooms") == 0)
        gc_session_rooms (s_ui.session);
    else
    if (strncmp (line, "/join ", 6) == 0 || strcmp (line, "/join") == 0)
        s_join_command (line + strlen ("/join") + (line [5] == ' '));
    else
    if (strncmp (line, "//", 2) == 0)
        s_say (line + 1, line);
    else
    if (strcmp (line, "/help") == 0)
        s_print_help ();
    else
    if (line [0] == '/')
        s_printf ("No command %s; /help lists them, and //TEXT says /TEXT.", line);
    else
    if (*line)
        s_say (line, line);
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
            else {
                s_print ("No such choice.");
                s_menu ();
            }
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
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        rl_callback_read_char ();
        s_typed ();
    }
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
        s_older, s_said, s_failed, s_notice, s_untrusted, s_ended, s_unreachable, NULL,
        s_presence, s_typing_pushed, s_present
    };
    s_ui.style.colour = gc_format_colour_wanted ();
    s_ui.session = gc_session_new (s_ui.context, config->urls, config->url_count, &events);
    rl_callback_handler_install ("", s_on_line);
    gc_complete_install ();
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
    s_typists_clear ();
    printf ("\nBye.\n");
    gc_session_destroy (&s_ui.session);
    gc_stop_wakes (NULL);
    lws_context_destroy (s_ui.context);
    json_decref (s_ui.rooms);
    s_room_clear ();
    gc_complete_forget ();
    free (s_ui.previous);
    free (s_ui.user);
    free (s_ui.typed);
    return s_ui.status;
}
