/*  server.c: the gateway object, its libwebsockets context and callbacks.

    The gateway holds the pieces (link, rooms, connections, sessions) and what they
    share (counters, policy, the write batch); it is private to this file
    and reached through gateway.h. Callbacks are thin switches that hand
    each event to conn.c, room.c or link.c. Plain HTTP on the same port
    serves the browser client's files (page.c) at GET / and answers GET
    /healthz (200 while the broker link is up, so that a request sent now
    is served; 503 otherwise) and GET /metrics; HEAD too, other methods
    get 405. With TLS (listen.c) all of it is served over TLS instead;
    origin.c decides which pages may upgrade. */
#include <stddef.h>
#include "server.h"
#include "conn.h"
#include "page.h"
#include "room.h"
#include "sessions.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_stop.h"
#include "gc_clock.h"

struct gc_gateway_t {
    struct lws_context *context;
    struct lws_vhost *vhost;
    gc_gateway_parts_t parts;   //  lent to every connection
    gc_sessions_t *sessions;    //  the users' sessions ending, as the broker tells
    lws_sorted_usec_list_t sweep;   //  stalled-reader check
    lws_retry_bo_t idle_policy;     //  pings and dead-peer hangup
    const gc_origins_t *origins;    //  pages that may connect
    gc_page_t *page;            //  the browser client's files
};

//  Per-session data: lws allocates it for every connection, HTTP or
//  WebSocket; only WebSocket connections use the gc_conn_t part
typedef struct {
    char *http_body;            //  an answer's body made for it (/healthz, /metrics, 404)
    const unsigned char *http_at;   //  what is left to send, of that body or of a file
    size_t http_left;
    bool http_close;            //  hang up once answered: a method we do not serve
    _Alignas (max_align_t) char conn [];    //  gc_conn_t, sized at run time
} s_session_t;

static gc_gateway_t *
s_gateway (struct lws *wsi)
{
    return lws_context_user (lws_get_context (wsi));
}

//  --------------------------------------------------------------------------
//  HTTP: the browser client's files, /healthz and /metrics. lws adds the
//  security headers (page.h) to every answer, from the vhost's list

//  The body of /healthz, /metrics or a 404, in a new string; returns its
//  status
static int
s_http_body (gc_gateway_t *gateway, const char *path, char **text, size_t *size)
{
    int status = 200;
    FILE *stream = gc_alloc_checked (open_memstream (text, size));
    if (strcmp (path, "/healthz") == 0) {
        gc_link_state_t state = gc_link_state (gateway->parts.link);
        status = state == GC_LINK_UP? 200: 503;
        if (status == 200)
            fputs ("ok\n", stream);
        else
            fprintf (stream, "broker link %s\n", gc_link_state_name (state));
    }
    else
    if (strcmp (path, "/metrics") == 0)
        gc_metrics_write (&gateway->parts, stream);
    else {
        status = 404;
        fprintf (stream, "not found\n");
    }
    fclose (stream);
    return status;
}

//  /healthz, /metrics or a 404, the body made for this request
static int
s_http_made (struct lws *wsi, s_session_t *session, const char *path,
             unsigned char **at, unsigned char *end)
{
    int status = s_http_body (s_gateway (wsi), path, &session->http_body, &session->http_left);
    session->http_at = (const unsigned char *) session->http_body;
    const char *type = strcmp (path, "/metrics") == 0?
                       "text/plain; version=0.0.4; charset=utf-8": "text/plain; charset=utf-8";
    return lws_add_http_common_headers (wsi, (unsigned) status, type, session->http_left,
                                        at, end);
}

//  A file of the page; 304 without a body (nor its length or type) when
//  the browser's copy is current
static int
s_http_file (struct lws *wsi, s_session_t *session, const gc_page_file_t *file,
             unsigned char **at, unsigned char *end)
{
    if (gc_page_unchanged (file, wsi))
        return lws_add_http_header_status (wsi, HTTP_STATUS_NOT_MODIFIED, at, end)
            || gc_page_add_file_headers (file, wsi, at, end);
    session->http_at = file->data;
    session->http_left = file->size;
    return lws_add_http_common_headers (wsi, HTTP_STATUS_OK, file->type, file->size, at, end)
        || gc_page_add_file_headers (file, wsi, at, end);
}

//  Anything but GET and HEAD: 405, then the connection is closed, as
//  what the request sends after its headers is not read
static int
s_http_wrong_method (struct lws *wsi, s_session_t *session, unsigned char **at,
                     unsigned char *end)
{
    static const char body [] = "method not allowed\n";
    session->http_at = (const unsigned char *) body;
    session->http_left = sizeof body - 1;
    session->http_close = true;
    return lws_add_http_common_headers (wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
                                        "text/plain; charset=utf-8", session->http_left, at, end)
        || gc_page_add_header (wsi, WSI_TOKEN_HTTP_ALLOW, "GET, HEAD", at, end)
        || gc_page_add_header (wsi, WSI_TOKEN_CONNECTION, "close", at, end);
}

static void
s_http_forget (s_session_t *session)
{
    free (session->http_body);
    session->http_body = NULL;
    session->http_at = NULL;
    session->http_left = 0;
}

//  The answer is written: the connection waits for the next request, or
//  closes
static int
s_http_done (struct lws *wsi, s_session_t *session)
{
    s_http_forget (session);
    if (session->http_close)
        return -1;
    return lws_http_transaction_completed (wsi)? -1: 0;
}

//  The headers now, the body as the connection can take it; HEAD gets a
//  GET's headers only
static int
s_http_request (struct lws *wsi, s_session_t *session, const char *path)
{
    const gc_page_file_t *file = gc_page_find (s_gateway (wsi)->page, path);
    bool head = lws_hdr_total_length (wsi, WSI_TOKEN_HEAD_URI) > 0;
    bool get = lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
    unsigned char headers [LWS_PRE + GC_GATEWAY_HTTP_HEADERS];
    unsigned char *start = headers + LWS_PRE, *at = start, *end = headers + sizeof headers - 1;
    int rc = !get && !head? s_http_wrong_method (wsi, session, &at, end):
             file? s_http_file (wsi, session, file, &at, end):
             s_http_made (wsi, session, path, &at, end);
    if (rc || lws_finalize_write_http_header (wsi, start, &at, end))
        return -1;
    if (head || session->http_left == 0)
        return s_http_done (wsi, session);
    lws_callback_on_writable (wsi);
    return 0;
}

//  At most GC_GATEWAY_HTTP_CHUNK a turn: a large file is not all
//  buffered in lws for a client that reads slowly
static int
s_http_writable (struct lws *wsi, s_session_t *session)
{
    if (session->http_left == 0)
        return 0;
    unsigned char piece [LWS_PRE + GC_GATEWAY_HTTP_CHUNK];
    size_t size = session->http_left < GC_GATEWAY_HTTP_CHUNK?
                  session->http_left: GC_GATEWAY_HTTP_CHUNK;
    memcpy (piece + LWS_PRE, session->http_at, size);
    session->http_at += size;
    session->http_left -= size;
    bool last = session->http_left == 0;
    if (lws_write (wsi, piece + LWS_PRE, size, last? LWS_WRITE_HTTP_FINAL: LWS_WRITE_HTTP) < 0)
        return -1;
    if (last)
        return s_http_done (wsi, session);
    lws_callback_on_writable (wsi);
    return 0;
}

//  --------------------------------------------------------------------------
//  Callbacks

//  Pages from other sites first (403), then room for one more (503, 429)
static int
s_confirm_upgrade (gc_gateway_t *gateway, struct lws *wsi)
{
    int refused = gc_origins_confirm_upgrade (gateway->origins, wsi);
    return refused? refused: gc_admission_confirm_upgrade (gateway->parts.admission, wsi);
}

static int
s_on_client (struct lws *wsi, enum lws_callback_reasons reason, void *user,
             void *in, size_t len)
{
    s_session_t *session = user;
    gc_conn_t *conn = session? (gc_conn_t *) session->conn: NULL;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return s_http_request (wsi, session, in);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return s_http_writable (wsi, session);
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return s_confirm_upgrade (s_gateway (wsi), wsi);
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        case LWS_CALLBACK_CLOSED_HTTP:
            if (session)
                s_http_forget (session);
            return 0;
        case LWS_CALLBACK_ESTABLISHED:
            gc_conn_open (conn, &s_gateway (wsi)->parts, wsi);
            gc_admission_opened (s_gateway (wsi)->parts.admission, gc_conn_address (conn));
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return gc_conn_receive (conn, in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return gc_conn_writable (conn);
        case LWS_CALLBACK_TIMER:
            gc_conn_refilled (conn);
            return 0;
        case LWS_CALLBACK_CLOSED:
            gc_admission_closed (s_gateway (wsi)->parts.admission, gc_conn_address (conn));
            gc_conn_close (conn);
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

static void
s_on_sweep (lws_sorted_usec_list_t *sul)
{
    gc_gateway_t *gateway = lws_container_of (sul, gc_gateway_t, sweep);
    gc_conn_sweep (&gateway->parts.conns, gc_clock_mono_us () / 1000);
    gc_sessions_tick (gateway->sessions);
    gc_rooms_sweep (gateway->parts.rooms);
    lws_sul_schedule (gateway->context, 0, &gateway->sweep, s_on_sweep,
                      GC_GATEWAY_SWEEP_MS * LWS_US_PER_MS);
}

//  A room's events go to the rooms; events of no room are the users'
static void
s_on_event (void *arg, const gc_frame_t *event)
{
    gc_gateway_t *gateway = arg;
    if (event->fields & GC_F_ROOM)
        gc_rooms_on_event (gateway->parts.rooms, event);
    else
    if (gateway->sessions)
        gc_sessions_on_event (gateway->sessions, event);
}

static void
s_end_sessions (void *arg, const char *user, uint64_t below, const char *reason)
{
    gc_gateway_t *gateway = arg;
    gc_conn_end_sessions (&gateway->parts.conns, user, below, reason);
}

static void
s_logged_in (void *arg, zhashx_t *users)
{
    gc_gateway_t *gateway = arg;
    gc_conn_users (&gateway->parts.conns, users);
}

//  --------------------------------------------------------------------------
//  Construction

static struct lws_protocols s_protocols [3];

static void
s_protocols_init (void)
{
    s_protocols [0] = (struct lws_protocols) {
        .name = "groupchat.v1",
        .callback = s_on_client,
        .rx_buffer_size = GC_GATEWAY_RX_BUFFER,
        //  lws sends at most this much at a time (rx_buffer_size if 0):
        //  a batch of frames, or a long history, in one system call
        .tx_packet_size = GC_FRAME_MAX,
    };
    s_protocols [0].per_session_data_size = sizeof (s_session_t) + gc_conn_size ();
    s_protocols [1] = (struct lws_protocols) { .name = GC_LINK_PROTOCOL, .callback = gc_link_callback };
}

//  Without a setting, what the open-file limit leaves room for: past it
//  libwebsockets would drop connections without a word
static size_t
s_max_connections (const gc_server_config_t *config)
{
    if (config->max_connections > 0)
        return (size_t) config->max_connections;
    if (config->fd_limit > GC_GATEWAY_FD_RESERVE)
        return config->fd_limit - GC_GATEWAY_FD_RESERVE;
    return GC_GATEWAY_CONNECTIONS_DEFAULT;
}

gc_gateway_t *
gc_server_new (const gc_server_config_t *config)
{
    gc_gateway_t *self = gc_calloc (1, sizeof *self);
    self->parts.rate_limit = config->rate_limit;
    self->parts.proxies = config->proxies;
    self->parts.login_timeout_ms = config->login_seconds * 1000;
    self->parts.max_rooms = (size_t) config->max_rooms;
    self->parts.admission = gc_admission_new (s_max_connections (config),
                                              (size_t) config->max_per_address,
                                              (size_t) config->max_per_user, config->proxies);
    //  Pings keep idle connections alive through proxies; a peer that
    //  answers nothing for 2.5 ping intervals is gone and is dropped
    self->idle_policy.secs_since_valid_ping = (uint16_t) config->ping_seconds;
    self->idle_policy.secs_since_valid_hangup = (uint16_t) (config->ping_seconds * 5 / 2);
    s_protocols_init ();
    self->origins = config->origins;
    self->page = gc_page_new (gc_web_files);
    struct lws_context_creation_info info = {
        .protocols = s_protocols,
        .headers = gc_page_headers (),
        .user = self,
        .retry_and_idle_policy = &self->idle_policy,
        .fd_limit_per_thread = config->fd_limit,
        .timeout_secs = GC_GATEWAY_IO_TIMEOUT_S,
    };
    self->context = self->page && gc_listen_setup (&config->listen, &info) == 0?
                    lws_create_context (&info): NULL;
    self->vhost = self->context? lws_get_vhost_by_name (self->context, "default"): NULL;
    if (self->vhost)
        self->parts.link = gc_link_new (self->context, self->vhost, config->endpoints,
                                        config->keys, s_on_event, self);
    if (!self->parts.link) {
        gc_server_destroy (&self);
        return NULL;
    }
    if (config->request_deadline_ms > 0)
        gc_link_set_request_deadline (self->parts.link, config->request_deadline_ms);
    self->parts.rooms = gc_rooms_new (self->parts.link, &self->parts.counters);
    self->sessions = gc_sessions_new (self->parts.link, s_end_sessions, s_logged_in, self);
    lws_sul_schedule (self->context, 0, &self->sweep, s_on_sweep, GC_GATEWAY_SWEEP_MS * LWS_US_PER_MS);
    return self;
}

void
gc_server_destroy (gc_gateway_t **self_p)
{
    gc_gateway_t *self = *self_p;
    if (!self)
        return;
    if (self->context) {
        lws_sul_cancel (&self->sweep);
        if (self->parts.link)
            gc_link_stop (self->parts.link);
        lws_context_destroy (self->context);    //  closes every connection
    }
    gc_sessions_destroy (&self->sessions);
    gc_rooms_destroy (&self->parts.rooms);
    gc_link_destroy (&self->parts.link);
    gc_admission_destroy (&self->parts.admission);
    gc_page_destroy (&self->page);
    free (self);
    *self_p = NULL;
}

int
gc_server_run (gc_gateway_t *self)
{
    gc_stop_wakes (self->context);
    int rc = 0;
    while (!gc_stop_requested () && rc >= 0)
        rc = lws_service (self->context, 0);
    gc_stop_wakes (NULL);
    return rc < 0? -1: 0;
}
