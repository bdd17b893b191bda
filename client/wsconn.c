/*  wsconn.c: a reconnecting lws client connection carrying JSON frames.

    Certificates are verified by lws and OpenSSL; what is ours is to
    notice a refusal (lws's verification callback, with OpenSSL's verdict)
    and to say why: lws tells only in its log, so its error lines come
    through s_on_lws_log, which keeps that one for the message. */
#include <assert.h>
#include <string.h>
#include "wsconn.h"
#include "gc_alloc.h"
#include "gc_escape.h"
#include "gc_limits.h"


typedef struct s_out_t {
    struct s_out_t *next;
    size_t size;
    unsigned char data [];      //  LWS_PRE headroom, then the text
} s_out_t;

struct gc_wsconn_t {
    struct lws_context *context;
    struct lws *wsi;            //  NULL while not connected
    bool open;
    bool untrusted;             //  this attempt's server certificate was refused
    bool stopped;               //  not tried again once ended (gc_wsconn_stop)
    char **urls;
    int url_count;
    int url_next;               //  which URL the next attempt uses
    int tried;                  //  URLs that failed in this round
    unsigned rounds;            //  consecutive rounds none answered, for the backoff
    gc_wsconn_events_t events;
    s_out_t *out_head, *out_tail;
    char *in;                   //  a frame arriving in pieces
    size_t in_size;
    lws_sorted_usec_list_t retry;
    char url [512];             //  the URL being tried, parsed in place
};

unsigned
gc_wsconn_backoff_ms (unsigned attempt)
{
    unsigned delay = 250;
    while (attempt-- > 0 && delay < GC_WSCONN_BACKOFF_MAX_MS)
        delay *= 2;
    return delay > GC_WSCONN_BACKOFF_MAX_MS? GC_WSCONN_BACKOFF_MAX_MS: delay;
}

static void s_connect (lws_sorted_usec_list_t *sul);

static void
s_schedule (gc_wsconn_t *self, unsigned delay_ms)
{
    lws_sul_schedule (self->context, 0, &self->retry, s_connect,
                      delay_ms? delay_ms * LWS_US_PER_MS: 1);
}

static void
s_out_clear (gc_wsconn_t *self)
{
    while (self->out_head) {
        s_out_t *next = self->out_head->next;
        free (self->out_head);
        self->out_head = next;
    }
    self->out_tail = NULL;
}

//  Why lws last refused a server certificate, as OpenSSL put it; empty
//  when it did not say. lws's log is the process's, so this is too.
static char s_untrusted_why [160];

//  lws's error lines go to stderr as lws prints them, escaped (one may
//  hold what a server sent), except the one that says why a certificate
//  was refused ("SSL error: certificate has expired
//  (preverify_ok=0;err=10;depth=0)"): that becomes part of our own
//  message instead, which is escaped where it is shown
static void
s_on_lws_log (int level, const char *line)
{
    static const char marker [] = "SSL error: ";
    const char *why = strstr (line, marker);
    if (!why) {
        char *shown = gc_escape (line, GC_ESCAPE_CARET | GC_ESCAPE_LINES);
        lwsl_emit_stderr (level, shown);
        free (shown);
        return;
    }
    why += sizeof marker - 1;
    size_t size = strcspn (why, "(\n");
    while (size && why [size - 1] == ' ')
        size--;
    snprintf (s_untrusted_why, sizeof s_untrusted_why, "%.*s", (int) size, why);
}

static void
s_connect (lws_sorted_usec_list_t *sul)
{
    gc_wsconn_t *self = lws_container_of (sul, gc_wsconn_t, retry);
    const char *url = self->urls [self->url_next];
    self->url_next = (self->url_next + 1) % self->url_count;
    self->untrusted = false;
    s_untrusted_why [0] = 0;
    snprintf (self->url, sizeof self->url, "%s", url);
    const char *scheme, *address, *path;
    int port;
    char parsed [sizeof self->url];
    memcpy (parsed, self->url, sizeof parsed);
    if (lws_parse_uri (parsed, &scheme, &address, &port, &path)) {
        self->events.closed (self->events.arg, "bad URL");
        return;
    }
    char full_path [256];
    snprintf (full_path, sizeof full_path, "/%s", path);
    struct lws_client_connect_info info = {
        .context = self->context, .address = address, .port = port,
        .path = full_path, .host = address,
        .protocol = "groupchat.v1", .local_protocol_name = "gc-client",
        .opaque_user_data = self, .ssl_connection = strcmp (scheme, "wss")? 0: LCCSCF_USE_SSL,
    };
    info.pwsi = &self->wsi;
    if (!lws_client_connect_via_info (&info)) {
        self->wsi = NULL;
        s_schedule (self, gc_wsconn_backoff_ms (self->rounds++));
    }
}

//  Drops what belonged to the connection that ended
static void
s_ended (gc_wsconn_t *self)
{
    self->wsi = NULL;
    self->open = false;
    s_out_clear (self);
    free (self->in);
    self->in = NULL;
    self->in_size = 0;
}

//  A connection that was open is tried again soon, on the next URL. An
//  attempt that failed goes on at once to a URL not tried in this
//  round; once every URL failed, the next round waits, longer each time
//  (a gateway that is down is not hammered), and the person is told
static void
s_lost (gc_wsconn_t *self, const char *why)
{
    bool was_open = self->open;
    s_ended (self);
    if (self->stopped)
        return;
    if (was_open) {
        self->tried = 0;
        self->rounds = 0;
        self->events.closed (self->events.arg, why);
        s_schedule (self, gc_wsconn_backoff_ms (0));
        return;
    }
    unsigned delay_ms = 0;
    if (++self->tried >= self->url_count) {
        self->tried = 0;
        delay_ms = gc_wsconn_backoff_ms (self->rounds++);
    }
    const char *next = delay_ms? NULL: self->urls [self->url_next];
    self->events.unreachable (self->events.arg, self->url, why, next, delay_ms);
    if (!self->stopped)
        s_schedule (self, delay_ms);
}

//  The server's certificate was refused: the connection ends for good
static void
s_refused (gc_wsconn_t *self)
{
    s_ended (self);
    self->events.untrusted (self->events.arg, self->url,
                            *s_untrusted_why? s_untrusted_why: NULL);
}

static int
s_receive (gc_wsconn_t *self, struct lws *wsi, const char *data, size_t size)
{
    if (self->in_size + size > GC_CLIENT_RECEIVE_MAX)
        return -1;
    self->in = gc_realloc (self->in, self->in_size + size + 1);
    memcpy (self->in + self->in_size, data, size);
    self->in_size += size;
    if (!lws_is_final_fragment (wsi))
        return 0;
    char *frame = self->in;
    size_t frame_size = self->in_size;
    self->in = NULL;
    self->in_size = 0;
    self->events.received (self->events.arg, frame, frame_size);
    free (frame);
    return 0;
}

static int
s_writable (gc_wsconn_t *self, struct lws *wsi)
{
    s_out_t *out = self->out_head;
    if (!out)
        return 0;
    self->out_head = out->next;
    if (!self->out_head)
        self->out_tail = NULL;
    int rc = lws_write (wsi, out->data + LWS_PRE, out->size, LWS_WRITE_TEXT);
    free (out);
    if (rc < 0)
        return -1;
    if (self->out_head)
        lws_callback_on_writable (wsi);
    return 0;
}

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gc_wsconn_t *self = lws_get_opaque_user_data (wsi);
    if (!self)
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    switch (reason) {
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            self->open = true;
            self->tried = 0;
            self->rounds = 0;
            self->events.opened (self->events.arg, self->url);
            return 0;
        case LWS_CALLBACK_CLIENT_RECEIVE:
            return s_receive (self, wsi, in, len);
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            return s_writable (self, wsi);
        case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
            //  len is OpenSSL's verdict on one certificate of the chain
            if (len == 0)
                self->untrusted = true;
            return 0;
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            if (self->untrusted)
                s_refused (self);
            else
                s_lost (self, in? (const char *) in: "cannot connect");
            return 0;
        case LWS_CALLBACK_CLIENT_CLOSED:
            s_lost (self, "connection closed");
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

const struct lws_protocols gc_wsconn_protocol = { "gc-client", s_callback, 0, 0, 0, NULL, 0 };

struct lws_context *
gc_wsconn_context_new (const struct lws_protocols *extra, const char *ca_file)
{
    static struct lws_protocols protocols [3];
    protocols [0] = gc_wsconn_protocol;
    if (extra)
        protocols [1] = *extra;
    struct lws_context_creation_info info = {
        .port = CONTEXT_PORT_NO_LISTEN,
        .protocols = protocols,
        .options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT,
        .client_ssl_ca_filepath = ca_file,
    };
    //  A CA file replaces the system's CAs: trust exactly what was given
    if (ca_file)
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    lws_set_log_level (LLL_ERR, s_on_lws_log);
    return lws_create_context (&info);
}

gc_wsconn_t *
gc_wsconn_new (struct lws_context *context, char **urls, int url_count,
               const gc_wsconn_events_t *events)
{
    gc_wsconn_t *self = gc_calloc (1, sizeof *self);
    self->context = context;
    self->urls = urls;
    self->url_count = url_count;
    self->events = *events;
    s_schedule (self, 0);
    return self;
}

void
gc_wsconn_destroy (gc_wsconn_t **self_p)
{
    gc_wsconn_t *self = *self_p;
    if (!self)
        return;
    lws_sul_cancel (&self->retry);
    if (self->wsi)
        lws_set_opaque_user_data (self->wsi, NULL);
    s_out_clear (self);
    free (self->in);
    free (self);
    *self_p = NULL;
}

void
gc_wsconn_stop (gc_wsconn_t *self)
{
    self->stopped = true;
    lws_sul_cancel (&self->retry);
}

void
gc_wsconn_start (gc_wsconn_t *self)
{
    if (!self->stopped)
        return;
    self->stopped = false;
    self->tried = 0;
    self->rounds = 0;
    if (!self->wsi)
        s_schedule (self, 0);
}

int
gc_wsconn_send (gc_wsconn_t *self, json_t *frame)
{
    if (!self->open || !self->wsi)
        return -1;
    size_t size = json_dumpb (frame, NULL, 0, JSON_COMPACT);
    s_out_t *out = gc_malloc (sizeof *out + LWS_PRE + size);
    json_dumpb (frame, (char *) out->data + LWS_PRE, size, JSON_COMPACT);
    out->size = size;
    out->next = NULL;
    if (self->out_tail)
        self->out_tail->next = out;
    else
        self->out_head = out;
    self->out_tail = out;
    lws_callback_on_writable (self->wsi);
    return 0;
}

bool
gc_wsconn_is_open (gc_wsconn_t *self)
{
    return self->open;
}

void
gc_wsconn_test (bool verbose)
{
    if (verbose)
        printf (" * gc_wsconn: ");
    assert (gc_wsconn_backoff_ms (0) == 250 && gc_wsconn_backoff_ms (1) == 500);
    assert (gc_wsconn_backoff_ms (4) == 4000 && gc_wsconn_backoff_ms (6) == 16000);
    assert (gc_wsconn_backoff_ms (7) == 30000 && gc_wsconn_backoff_ms (40) == 30000);
    if (verbose)
        printf ("OK\n");
}
