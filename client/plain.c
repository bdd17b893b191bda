/*  plain.c: --say and --follow. No prompts, one line per message, exit
    status for scripts: 0 when everything said was acknowledged (or a
    follow was interrupted), 1 with the reason on stderr otherwise, and
    GC_EXIT_ENDED (3) when the server ended the session (the account was
    removed, or its password changed): there is nothing to try again.
    What came from the network is printed through format.c, escaped.
    --say sends its lines one at a time, each once the one before it is
    stored: a gateway refuses a say over its rate and the session sends
    it again later (session.c), so any say sent behind it could be stored
    first, out of order. */
#include <stdio.h>
#include <string.h>
#include "plain.h"
#include "format.h"
#include "session.h"
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_stop.h"

typedef struct {
    const gc_plain_config_t *config;
    gc_session_t *session;
    char **lines;               //  what --say sends
    size_t line_count;
    size_t sent;                //  lines sent, the newest maybe not stored yet
    int status;                 //  -1 while running
} s_plain_t;

static struct lws_context *s_context;

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
    if (!again)
        gc_session_join (self->session, self->config->room);
}

static void
s_login_failed (void *arg, const char *message)
{
    s_complain ("login failed: ", message);
    s_finish (arg, 1);
}

static void
s_say_next (s_plain_t *self)
{
    if (self->sent < self->line_count)
        gc_session_say (self->session, self->lines [self->sent++]);
    else
        s_finish (self, 0);
}

static void
s_joined (void *arg, const char *room)
{
    s_plain_t *self = arg;
    (void) room;
    if (!self->config->say || self->sent)
        return;                 //  following, or a rejoin after a reconnect
    s_say_next (self);
}

static void
s_message (void *arg, json_t *message)
{
    s_plain_t *self = arg;
    if (self->config->say)
        return;
    char *line = self->config->json? gc_format_json (message): gc_format_message (message);
    printf ("%s\n", line? line: "");
    fflush (stdout);
    free (line);
}

static void
s_said (void *arg, uint64_t seq)
{
    s_plain_t *self = arg;
    (void) seq;
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
    //  A say in flight when the connection drops may or may not be stored:
    //  a script must know, so it is a failure, not a silent retry
    if (strstr (text, "connection lost") && self->config->say) {
        s_complain ("", text);
        s_finish (self, 1);
    }
    else
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

static void s_ignore_rooms (void *arg, json_t *rooms) { (void) arg, (void) rooms; }
static void s_ignore_older (void *arg, json_t *older) { (void) arg, (void) older; }

//  The lines --say sends: its text, or each line of stdin for "-"
static int
s_read_lines (s_plain_t *self)
{
    if (strcmp (self->config->say, "-")) {
        self->lines = gc_malloc (sizeof (char *));
        self->lines [0] = gc_strdup (self->config->say);
        self->line_count = 1;
        return 0;
    }
    char *line = NULL;
    size_t size = 0;
    ssize_t length;
    while ((length = getline (&line, &size, stdin)) >= 0) {
        if (length && line [length - 1] == '\n')
            line [--length] = 0;
        self->lines = gc_realloc (self->lines, (self->line_count + 1) * sizeof (char *));
        self->lines [self->line_count++] = gc_strdup (line);
    }
    free (line);
    return 0;
}

int
gc_plain_run (const gc_plain_config_t *config)
{
    s_plain_t self = { .config = config, .status = -1 };
    if (config->say)
        s_read_lines (&self);
    s_context = gc_wsconn_context_new (NULL, config->ca);
    if (!s_context)
        return 1;
    gc_stop_on_signals ();
    gc_stop_wakes (s_context);
    gc_session_events_t events = {
        s_logged_in, s_login_failed, s_ignore_rooms, s_joined, s_message,
        s_ignore_older, s_said, s_failed, s_notice, s_untrusted, s_ended, &self
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
    //  Interrupting a follow is how it ends; interrupting a say is not
    return self.status >= 0? self.status: config->say? 1: 0;
}
