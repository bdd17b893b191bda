/*  pool.c: the bench's lws context, its connections and its alarm (see
    pool.h). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "pool.h"
#include "gc_alloc.h"
#include "gc_escape.h"
#include "gc_clock.h"

#define S_PROTOCOL      "groupchat.v1"
#define S_ALARM         "gc-bench-alarm"
#define S_RX_BUFFER     4096    //  per connection; longer frames come in parts
#define S_ALARMS        4       //  alarms set at once, one per driver

//  One driver's alarm; fn NULL when not set
typedef struct {
    int64_t at;                 //  gc_clock_mono_us time
    gc_bench_alarm_fn *fn;
    void *arg;                  //  the driver: one alarm each
} s_alarm_t;

//  A gateway URL taken apart for lws_client_connect_via_info
typedef struct {
    char *copy;                 //  what lws_parse_uri cut up
    bool tls;                   //  wss://
    const char *address;
    int port;
    char path [256];            //  with its leading slash
    char host [300];            //  "address:port", the Host header
} s_url_t;

struct gc_bench_pool_t {
    struct lws_context *context;
    s_url_t *urls;
    size_t url_count;
    gc_bench_conn_t **conns;
    size_t size;
    size_t capacity;
    size_t next_to_open;        //  first connection not yet started
    size_t connecting;          //  started and not yet open or failed
    gc_bench_stats_t stats;
    char *scratch;              //  GC_BENCH_SCRATCH bytes
    char token [GC_TOKEN_LEN + 1];
    int alarm_fd;               //  timerfd, CLOCK_MONOTONIC; lws closes it
    s_alarm_t alarms [S_ALARMS];
    lws_sorted_usec_list_t deadline;    //  wakes the loop at a run's deadline
};

//  --------------------------------------------------------------------------
//  libwebsockets callbacks: thin switches onto the classes

static int
s_on_client (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gc_bench_conn_t *conn = user;
    if (!conn)
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    switch (reason) {
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            gc_bench_conn_on_open (conn);
            break;
        case LWS_CALLBACK_CLIENT_RECEIVE:
            return gc_bench_conn_on_receive (conn, in, len);
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            return gc_bench_conn_on_writable (conn);
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
            return gc_bench_conn_on_handshake (conn, in, len);
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
            gc_bench_pool_t *self = lws_context_user (lws_get_context (wsi));
            if (self && !self->stats.failed) {
                //  The reason may quote the server's answer
                fputs ("groupchat-bench: cannot connect: ", stderr);
                const char *why = in? (const char *) in: "(no reason given)";
                gc_escape_write (stderr, why, strlen (why), GC_ESCAPE_HEX);
                fputc ('\n', stderr);
            }
            gc_bench_conn_on_close (conn);
            break;
        }
        case LWS_CALLBACK_CLIENT_CLOSED:
            gc_bench_conn_on_close (conn);
            break;
        default:
            break;
    }
    return 0;
}

static void s_alarm_arm (gc_bench_pool_t *self);

static int
s_on_alarm (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void) user, (void) in, (void) len;
    gc_bench_pool_t *self = lws_context_user (lws_get_context (wsi));
    if (reason != LWS_CALLBACK_RAW_RX_FILE || !self)
        return 0;
    uint64_t expirations;
    if (read (self->alarm_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return -1;
    //  One-shot: each handler may well set its next alarm
    int64_t now = gc_clock_mono_us ();
    for (int slot = 0; slot < S_ALARMS; slot++) {
        s_alarm_t alarm = self->alarms [slot];
        if (alarm.fn && alarm.at <= now) {
            self->alarms [slot].fn = NULL;
            alarm.fn (alarm.arg, now);
        }
    }
    s_alarm_arm (self);
    return 0;
}

static struct lws_protocols s_protocols [] = {
    { .name = S_PROTOCOL, .callback = s_on_client, .rx_buffer_size = S_RX_BUFFER },
    { .name = S_ALARM, .callback = s_on_alarm },
    { .name = NULL }
};

//  lws runs a ripe timer just before it polls, then waits as long as the
//  next timer says, forever when there is none: so the deadline must
//  wake the poll itself, or an idle pool would sleep through it until
//  some traffic came (seconds, when all connections are quiet)
static void
s_on_deadline (lws_sorted_usec_list_t *sul)
{
    gc_bench_pool_t *self = lws_container_of (sul, gc_bench_pool_t, deadline);
    lws_cancel_service (self->context);
}

//  --------------------------------------------------------------------------
//  Construction

static int
s_url_parse (s_url_t *url, const char *text)
{
    url->copy = gc_strdup (text);
    const char *scheme, *path;
    if (lws_parse_uri (url->copy, &scheme, &url->address, &url->port, &path)
    ||  (strcmp (scheme, "ws") && strcmp (scheme, "wss")) || !*url->address || url->port <= 0) {
        fprintf (stderr, "groupchat-bench: not a ws:// or wss://HOST:PORT/ URL: %s\n", text);
        return -1;
    }
    url->tls = strcmp (scheme, "wss") == 0;
    snprintf (url->path, sizeof url->path, "/%s", path);
    snprintf (url->host, sizeof url->host, "%s:%d", url->address, url->port);
    return 0;
}

//  The timerfd behind the alarm, adopted into the loop
static int
s_alarm_start (gc_bench_pool_t *self)
{
    self->alarm_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->alarm_fd < 0)
        return -1;
    struct lws_vhost *vhost = lws_get_vhost_by_name (self->context, "default");
    lws_sock_file_fd_type fd = { .filefd = self->alarm_fd };
    if (!vhost || !lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd, S_ALARM, NULL)) {
        self->alarm_fd = -1;    //  lws closed it
        return -1;
    }
    return 0;
}

gc_bench_pool_t *
gc_bench_pool_new (const char *const *urls, size_t url_count, const char *ca_file)
{
    gc_bench_pool_t *self = gc_calloc (1, sizeof *self);
    self->alarm_fd = -1;
    self->urls = gc_calloc (url_count, sizeof *self->urls);
    self->scratch = gc_malloc (GC_BENCH_SCRATCH);
    self->url_count = url_count;
    for (size_t index = 0; index < url_count; index++)
        if (s_url_parse (&self->urls [index], urls [index]))
            goto failed;
    struct lws_context_creation_info info = {
        .port = CONTEXT_PORT_NO_LISTEN,
        .protocols = s_protocols,
        .user = self,
        .gid = -1,
        .uid = -1,
        .timeout_secs = 10,
        .options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT,
        .client_ssl_ca_filepath = ca_file,
    };
    //  wss:// is verified as the client does: a CA file replaces the system's
    if (ca_file)
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    self->context = lws_create_context (&info);
    if (!self->context || s_alarm_start (self)) {
        fprintf (stderr, "groupchat-bench: cannot start libwebsockets\n");
        goto failed;
    }
    return self;
failed:
    gc_bench_pool_destroy (&self);
    return NULL;
}

void
gc_bench_pool_destroy (gc_bench_pool_t **self_p)
{
    gc_bench_pool_t *self = *self_p;
    if (!self)
        return;
    //  Closing every connection must not call back into drivers that may
    //  be gone already
    for (size_t index = 0; index < self->size; index++)
        gc_bench_conn_set_events (self->conns [index], NULL, NULL);
    if (self->context) {
        lws_sul_cancel (&self->deadline);
        lws_context_destroy (self->context);
    }
    else
    if (self->alarm_fd >= 0)
        close (self->alarm_fd);
    for (size_t index = 0; index < self->size; index++)
        gc_bench_conn_destroy (&self->conns [index]);
    free (self->conns);
    for (size_t index = 0; self->urls && index < self->url_count; index++)
        free (self->urls [index].copy);
    free (self->urls);
    free (self->scratch);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Connections

//  Starts connections until GC_BENCH_OPENING_MAX are opening
static void
s_open_more (gc_bench_pool_t *self)
{
    while (self->connecting < GC_BENCH_OPENING_MAX && self->next_to_open < self->size) {
        gc_bench_conn_t *conn = self->conns [self->next_to_open++];
        s_url_t *url = &self->urls [gc_bench_conn_url (conn)];
        struct lws_client_connect_info info = {
            .context = self->context,
            .address = url->address,
            .port = url->port,
            .path = url->path,
            .host = url->host,
            .protocol = S_PROTOCOL,
            .ssl_connection = url->tls? LCCSCF_USE_SSL: 0,
        };
        self->connecting++;
        gc_bench_conn_connect (conn, &info);
    }
}

size_t
gc_bench_pool_add (gc_bench_pool_t *self, size_t count)
{
    return gc_bench_pool_add_forwarded (self, count, 0, 0);
}

size_t
gc_bench_pool_add_forwarded (gc_bench_pool_t *self, size_t count, uint32_t first,
                             uint32_t step)
{
    if (self->size + count > self->capacity) {
        size_t capacity = (self->size + count) * 2;
        self->conns = gc_realloc (self->conns, capacity * sizeof *self->conns);
        self->capacity = capacity;
    }
    size_t start = self->size;
    //  The address is set before the connection starts opening: its
    //  handshake may be written from the first service of the loop
    for (size_t index = 0; index < count; index++) {
        gc_bench_conn_t *conn = gc_bench_conn_new (self, (start + index) % self->url_count);
        if (first)
            gc_bench_conn_forward (conn, first + (uint32_t) index * step);
        self->conns [self->size++] = conn;
    }
    s_open_more (self);
    return start;
}

void
gc_bench_pool_connected (gc_bench_pool_t *self, gc_bench_conn_t *conn)
{
    (void) conn;
    if (self->connecting)
        self->connecting--;     //  the loop starts the next ones
}

gc_bench_conn_t *
gc_bench_pool_conn (gc_bench_pool_t *self, size_t index)
{
    return index < self->size? self->conns [index]: NULL;
}

bool
gc_bench_pool_tls (const gc_bench_pool_t *self)
{
    for (size_t index = 0; index < self->url_count; index++)
        if (self->urls [index].tls)
            return true;
    return false;
}

size_t
gc_bench_pool_urls (const gc_bench_pool_t *self)
{
    return self->url_count;
}

bool
gc_bench_pool_answered (void *arg)
{
    gc_bench_pool_t *self = arg;
    const gc_bench_stats_t *stats = &self->stats;
    bool opening = self->connecting || self->next_to_open < self->size;
    return !opening
        && stats->replies_ok + stats->replies_error + stats->replies_refused + stats->lost
           >= stats->requests;
}

//  --------------------------------------------------------------------------
//  The loop

int
gc_bench_pool_run (gc_bench_pool_t *self, gc_bench_done_fn *done, void *arg, int64_t deadline)
{
    int64_t now = gc_clock_mono_us ();
    lws_sul_schedule (self->context, 0, &self->deadline, s_on_deadline,
                      deadline > now? deadline - now: 1);
    int rc = -1;
    while (true) {
        s_open_more (self);
        if (done && done (arg)) {
            rc = 0;
            break;
        }
        if (gc_clock_mono_us () >= deadline)
            break;
        if (lws_service (self->context, 0) < 0) {
            fprintf (stderr, "groupchat-bench: the event loop failed\n");
            rc = -2;
            break;
        }
    }
    lws_sul_cancel (&self->deadline);
    return rc;
}

//  The timerfd rings for the earliest alarm set, or not at all
static void
s_alarm_arm (gc_bench_pool_t *self)
{
    int64_t at = -1;
    for (int slot = 0; slot < S_ALARMS; slot++)
        if (self->alarms [slot].fn && (at < 0 || self->alarms [slot].at < at))
            at = self->alarms [slot].at;
    struct itimerspec spec = { { 0, 0 }, { 0, 0 } };
    if (at >= 0) {
        at = at > 0? at: 1;     //  zero would disarm it
        spec.it_value.tv_sec = at / 1000000;
        spec.it_value.tv_nsec = at % 1000000 * 1000;
    }
    timerfd_settime (self->alarm_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

void
gc_bench_pool_alarm (gc_bench_pool_t *self, int64_t at, gc_bench_alarm_fn *fn, void *arg)
{
    s_alarm_t *alarm = NULL;
    for (int slot = 0; slot < S_ALARMS && !alarm; slot++)
        if (self->alarms [slot].fn && self->alarms [slot].arg == arg)
            alarm = &self->alarms [slot];
    for (int slot = 0; slot < S_ALARMS && !alarm; slot++)
        if (!self->alarms [slot].fn)
            alarm = &self->alarms [slot];
    assert (alarm);             //  more drivers than S_ALARMS: a bench defect
    *alarm = (s_alarm_t) { .at = at, .fn = at >= 0? fn: NULL, .arg = arg };
    s_alarm_arm (self);
}

//  --------------------------------------------------------------------------
//  Shared state

const gc_bench_stats_t *
gc_bench_pool_stats (const gc_bench_pool_t *self)
{
    return &self->stats;
}

gc_bench_stats_t *
gc_bench_pool_counters (gc_bench_pool_t *self)
{
    return &self->stats;
}

char *
gc_bench_pool_scratch (gc_bench_pool_t *self)
{
    return self->scratch;
}

const char *
gc_bench_pool_token (const gc_bench_pool_t *self)
{
    return self->token [0]? self->token: NULL;
}

void
gc_bench_pool_set_token (gc_bench_pool_t *self, const char *token)
{
    snprintf (self->token, sizeof self->token, "%s", token);
}

//  --------------------------------------------------------------------------
//  Self test

//  A test driver: counts its alarms, and sets its next every period
typedef struct {
    gc_bench_pool_t *pool;
    int64_t period;             //  us; 0: once
    int rang;
} s_test_driver_t;

static void
s_test_ring (void *arg, int64_t now)
{
    s_test_driver_t *driver = arg;
    driver->rang++;
    if (driver->period)
        gc_bench_pool_alarm (driver->pool, now + driver->period, s_test_ring, driver);
}

static bool
s_test_rang (void *arg)
{
    s_test_driver_t *drivers = arg;
    return drivers [0].rang >= 10 && drivers [1].rang >= 1;
}

//  Two drivers' alarms ring side by side; a cancelled one never does
static void
s_test_alarms (gc_bench_pool_t *self)
{
    s_test_driver_t drivers [3] = {
        { self, 1000, 0 }, { self, 0, 0 }, { self, 0, 0 }
    };
    int64_t now = gc_clock_mono_us ();
    gc_bench_pool_alarm (self, now, s_test_ring, &drivers [0]);
    gc_bench_pool_alarm (self, now + 5000, s_test_ring, &drivers [1]);
    gc_bench_pool_alarm (self, now + 2000, s_test_ring, &drivers [2]);
    gc_bench_pool_alarm (self, -1, NULL, &drivers [2]);
    assert (gc_bench_pool_run (self, s_test_rang, drivers, now + 5000000) == 0);
    assert (drivers [1].rang == 1 && drivers [2].rang == 0);
    gc_bench_pool_alarm (self, -1, NULL, &drivers [0]);
}

//  An idle pool still returns at each deadline: lws would otherwise poll
//  on with no timeout once the deadline's timer had run. SIGALRM ends the
//  test if the loop sleeps through one.
void
gc_bench_pool_test (bool verbose)
{
    if (verbose)
        printf (" * gc_bench_pool: ");
    lws_set_log_level (LLL_ERR | LLL_WARN, NULL);
    const char *urls [] = { "ws://127.0.0.1:9/" };
    gc_bench_pool_t *self = gc_bench_pool_new (urls, 1, NULL);
    assert (self);
    alarm (30);
    for (int round = 0; round < 50; round++) {
        int64_t deadline = gc_clock_mono_us () + 2000 + round * 100;
        assert (gc_bench_pool_run (self, NULL, NULL, deadline) == -1);
        assert (gc_clock_mono_us () >= deadline);
    }
    s_test_alarms (self);
    alarm (0);
    gc_bench_pool_destroy (&self);
    assert (self == NULL);
    if (verbose)
        printf ("OK\n");
}
