/*  plain.c: --say and --follow. No prompts, one line per message, exit
    status for scripts: 0 when everything said was acknowledged (or a
    follow was interrupted), 1 with the reason on stderr otherwise, and
    GC_EXIT_ENDED (3) when the server ended the session (the account was
    removed, or its password changed): there is nothing to try again.
    What came from the network is printed through format.c, escaped.
    --say sends its lines one at a time, each once the one before it is
    stored: a gateway refuses a say over its rate and the session sends
    it again later (session.c), so any say sent behind it could be stored
    first, out of order. Each carries a nonce (session.c): a line in
    flight when the connection drops is sent again after the reconnect
    and stored once, whether or not its first attempt was; so once
    connected, --say rides out a gateway's restart as --follow does, and
    gives up only when no gateway has answered for a while. --say - reads standard input as it comes (the
    descriptor is adopted into the lws loop, as the interactive client's
    is), so `tail -f log | groupchat --say -` sends each line when it is
    written; blank lines are skipped. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "plain.h"
#include "format.h"
#include "session.h"
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_stop.h"

typedef struct {
    const gc_plain_config_t *config;
    gc_session_t *session;
    char **lines;               //  what --say sends, read so far
    size_t line_count;
    size_t sent;                //  lines sent
    bool in_flight;             //  the newest line sent is not stored yet
    bool joined;                //  in the room once: lines can be said (the session keeps them)
    bool connected;             //  logged in once: a drop is ridden out
    bool read_all;              //  no more lines will come
    char *partial;              //  the start of a line not ended yet
    gc_format_style_t style;    //  colours, on a terminal that wants them
    int status;                 //  -1 while running
} s_plain_t;

static struct lws_context *s_context;
static s_plain_t *s_self;       //  for the stdin callback, which lws gives no argument

static void
s_finish (s_plain_t *self, int status)
{
    if (self->status < 0)
        self->status = status;
    lws_cancel_service (s_context);
}

//  Says why on stderr: what, then text (the server's, or naming a
//  server) escaped
static void
s_complain (const char *what, const char *text)
{
    char *shown = gc_format_escaped (text);
    fprintf (stderr, "groupchat: %s%s\n", what, shown);
    free (shown);
}

static void
s_logged_in (void *arg, const char *user, bool again)
{
    s_plain_t *self = arg;
    (void) user;
    self->connected = true;
    if (!again)
        gc_session_join (self->session, self->config->room);
}

static void
s_login_failed (void *arg, const char *message)
{
    s_complain ("login failed: ", message);
    s_finish (arg, 1);
}

//  Sends the next line read, if the one before is stored; done once every
//  line is stored and no more will come
static void
s_say_next (s_plain_t *self)
{
    if (!self->joined || self->in_flight)
        return;
    if (self->sent < self->line_count) {
        self->in_flight = true;
        if (gc_session_say (self->session, self->lines [self->sent++]) < 0) {
            s_complain ("", "the line could not be said");
            s_finish (self, 1);
        }
    }
    else
    if (self->read_all)
        s_finish (self, 0);
}

static void
s_joined (void *arg, const char *room)
{
    s_plain_t *self = arg;
    (void) room;
    if (!self->config->say)
        return;
    self->joined = true;
    s_say_next (self);
}

static void
s_message (void *arg, json_t *message)
{
    s_plain_t *self = arg;
    if (self->config->say)
        return;
    char *line = self->config->json? gc_format_json (message):
                 gc_format_message_styled (message, &self->style);
    printf ("%s\n", line? line: "");
    fflush (stdout);
    free (line);
}

static void
s_said (void *arg, uint64_t seq)
{
    s_plain_t *self = arg;
    (void) seq;
    self->in_flight = false;
    s_say_next (self);
}

static void
s_failed (void *arg, gc_client_op_t op, gc_error_t code, const char *message)
{
    char *line = gc_format_error (op, code, message);
    fprintf (stderr, "groupchat: %s\n", line);
    free (line);
    s_finish (arg, 1);
}

static void
s_notice (void *arg, const char *text)
{
    s_plain_t *self = arg;
    if (strstr (text, "removed")) {
        s_complain ("", text);
        s_finish (self, 1);
    }
}

static void
s_untrusted (void *arg, const char *text)
{
    s_complain ("", text);
    s_finish (arg, 1);
}

static void
s_ended (void *arg, const char *reason)
{
    char *line = gc_format_ended (reason);
    fprintf (stderr, "groupchat: %s\n", line? line: reason);
    free (line);
    s_finish (arg, GC_EXIT_ENDED);
}

//  No gateway answered: a follow says so and keeps trying; a say tries
//  each URL once, then gives up, as a script wants to know, unless it
//  was connected before: then it tries until the wait between rounds
//  grows past GC_CLIENT_SAY_RECONNECT_MS, long enough for a restart
static void
s_unreachable (void *arg, const char *url, const char *why, const char *next, unsigned delay_ms)
{
    s_plain_t *self = arg;
    bool give_up = self->config->say && !next
                && (!self->connected || delay_ms > GC_CLIENT_SAY_RECONNECT_MS);
    char *line = gc_format_unreachable (url, why, next, give_up? 0: delay_ms);
    fprintf (stderr, "groupchat: %s\n", line);
    free (line);
    if (give_up)
        s_finish (self, 1);
}

static void s_ignore_rooms (void *arg, json_t *rooms) { (void) arg, (void) rooms; }
static void s_ignore_older (void *arg, json_t *older) { (void) arg, (void) older; }

//  --------------------------------------------------------------------------
//  What --say sends

static void
s_add_line (s_plain_t *self, const char *text, size_t size)
{
    self->lines = gc_realloc (self->lines, (self->line_count + 1) * sizeof (char *));
    self->lines [self->line_count++] = gc_strndup (text, size);
}

//  A line of stdin, unless it is blank: a script's empty line is not
//  something it means to say
static void
s_add_stdin_line (s_plain_t *self, const char *text, size_t size)
{
    if (strspn (text, " \t\r") < size)
        s_add_line (self, text, size);
}

//  Takes the whole lines of what was read, keeping the start of the next
static void
s_take_lines (s_plain_t *self, const char *data, size_t size)
{
    char *text;
    if (asprintf (&text, "%s%.*s", self->partial? self->partial: "", (int) size, data) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    free (self->partial);
    char *start = text, *end;
    while ((end = strchr (start, '\n'))) {
        s_add_stdin_line (self, start, (size_t) (end - start));
        start = end + 1;
    }
    self->partial = *start? gc_strdup (start): NULL;
    free (text);
}

//  Reads what stdin has now; -1 at its end, for lws to close it
static int
s_read_stdin (s_plain_t *self, int fd)
{
    char buffer [4096];
    ssize_t size = read (fd, buffer, sizeof buffer);
    if (size <= 0)
        return -1;
    s_take_lines (self, buffer, (size_t) size);
    s_say_next (self);
    return 0;
}

//  stdin ended (read as ended, or hung up with nothing more to read):
//  its last line, if it had no newline, is one too
static void
s_end_of_input (s_plain_t *self)
{
    if (self->read_all || !self->session)
        return;                 //  closed as the program ends
    if (self->partial)
        s_add_stdin_line (self, self->partial, strlen (self->partial));
    free (self->partial);
    self->partial = NULL;
    self->read_all = true;
    s_say_next (self);
}

static int
s_on_stdin (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        return s_read_stdin (s_self, lws_get_socket_fd (wsi));
    if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        if (s_self)
            s_end_of_input (s_self);
        return 0;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}

static const struct lws_protocols s_stdin_protocol = { "gc-stdin", s_on_stdin, 0, 0, 0, NULL, 0 };

//  The lines --say sends: its text, or each line of stdin as it comes for "-"
static int
s_start_lines (s_plain_t *self)
{
    if (strcmp (self->config->say, "-")) {
        s_add_line (self, self->config->say, strlen (self->config->say));
        self->read_all = true;
        return 0;
    }
    lws_sock_file_fd_type fd = { .filefd = dup (STDIN_FILENO) };
    struct lws_vhost *vhost = lws_get_vhost_by_name (s_context, "default");
    return vhost && fd.filefd >= 0 && lws_adopt_descriptor_vhost (
        vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "gc-stdin", NULL)? 0: -1;
}

int
gc_plain_run (const gc_plain_config_t *config)
{
    s_plain_t self = { .config = config, .status = -1 };
    self.style = (gc_format_style_t) { gc_format_colour_wanted (), config->user };
    s_self = &self;
    s_context = gc_wsconn_context_new (config->say? &s_stdin_protocol: NULL, config->ca);
    if (!s_context || (config->say && s_start_lines (&self)))
        return 1;
    gc_stop_on_signals ();
    gc_stop_wakes (s_context);
    gc_session_events_t events = {
        s_logged_in, s_login_failed, s_ignore_rooms, s_joined, s_message,
        s_ignore_older, s_said, s_failed, s_notice, s_untrusted, s_ended, s_unreachable, &self,
        NULL, NULL, NULL        //  presence, typing, who: plain mode prints messages only
    };
    self.session = gc_session_new (s_context, config->urls, config->url_count, &events);
    gc_session_login (self.session, config->user, config->password);
    while (self.status < 0 && !gc_stop_requested ())
        lws_service (s_context, 0);
    gc_session_destroy (&self.session);
    gc_stop_wakes (NULL);
    lws_context_destroy (s_context);
    s_context = NULL;
    for (size_t index = 0; index < self.line_count; index++)
        free (self.lines [index]);
    free (self.lines);
    free (self.partial);
    s_self = NULL;
    //  Interrupting a follow is how it ends; interrupting a say is not
    return self.status >= 0? self.status: config->say? 1: 0;
}
