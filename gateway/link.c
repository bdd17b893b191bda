/*  link.c: DEALER/SUB to the broker inside the lws loop.

    ZMQ_FD is edge-triggered: it signals only when the socket's state
    changes, and any zmq call (a send included) may consume that signal.
    So the link drains both sockets completely whenever the fd fires and
    again, on the next loop turn, after every send; a slow periodic drain
    is the last line of defence against a missed edge. */
#include <czmq.h>
#include "link.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_metrics.h"
#include "gc_clock.h"
#include "gc_alloc.h"


typedef struct {
    uint64_t rid;
    int64_t giveup_ms;          //  when the gateway stops waiting
    int64_t sent_us;            //  for the round-trip histogram
    gc_link_reply_fn *fn;       //  NULL for heartbeats
    void *arg;
} s_pending_t;

struct gc_link_t {
    struct lws_context *context;
    zsock_t *dealer;            //  requests to the broker's ROUTER
    zsock_t *sub;               //  events from the broker's XPUB
    zhashx_t *pending;          //  rid -> s_pending_t
    uint64_t next_rid;
    gc_link_event_fn *on_event;
    void *event_arg;
    int64_t last_reply_ms;      //  monotonic: any reply proves the broker is there
    int64_t ping_sent_ms;       //  monotonic
    int64_t rtt_ms;
    unsigned ticks;
    lws_sorted_usec_list_t tick;    //  periodic sweep and heartbeat
    lws_sorted_usec_list_t drain;   //  drain on the next loop turn
    msgpack_sbuffer buffer;     //  encode buffer, reused
    gc_histogram_t rtt;         //  request round trips, seconds
    char *broker_metrics;       //  the broker's figures, from the last heartbeat
    bool stopped;               //  timers off: the lws context is going away
};

//  --------------------------------------------------------------------------
//  Pending requests, keyed by rid

static size_t
s_rid_hash (const void *key)
{
    return (size_t) (uintptr_t) key;
}

static int
s_rid_compare (const void *a, const void *b)
{
    return (uintptr_t) a < (uintptr_t) b? -1: (uintptr_t) a > (uintptr_t) b;
}

static void
s_pending_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static zhashx_t *
s_pending_table_new (void)
{
    zhashx_t *table = zhashx_new ();
    zhashx_set_key_hasher (table, s_rid_hash);
    zhashx_set_key_comparator (table, s_rid_compare);
    zhashx_set_key_duplicator (table, NULL);
    zhashx_set_key_destructor (table, NULL);
    zhashx_set_destructor (table, s_pending_free);
    return table;
}

//  --------------------------------------------------------------------------
//  Receiving

static void
s_on_reply (gc_link_t *self, const gc_frame_t *reply)
{
    int64_t now = gc_clock_mono_us () / 1000;
    self->last_reply_ms = now;
    void *key = (void *) (uintptr_t) reply->rid;
    s_pending_t *pending = zhashx_lookup (self->pending, key);
    if (!pending)
        return;                 //  given up on, or forgotten
    gc_histogram_add (&self->rtt, (double) (gc_clock_mono_us () - pending->sent_us) / 1e6);
    if (!pending->fn) {
        self->rtt_ms = now - self->ping_sent_ms;
        if (reply->fields & GC_F_TEXT) {
            free (self->broker_metrics);
            self->broker_metrics = gc_alloc_checked (gc_str_dup (reply->text));
        }
    }
    gc_link_reply_fn *fn = pending->fn;
    void *arg = pending->arg;
    zhashx_delete (self->pending, key);
    if (fn)
        fn (arg, reply);
}

//  Each drain receives until the socket is empty, which re-arms its
//  ZMQ_FD edge, and says whether it got there (false: budget spent)
static bool
s_drain_dealer (gc_link_t *self)
{
    void *dealer = zsock_resolve (self->dealer);
    for (int count = 0; count < GC_LINK_DRAIN_BUDGET; count++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            return true;
        }
        gc_frame_t reply;
        if (gc_frame_decode (&reply, zmq_msg_data (&msg), zmq_msg_size (&msg)) == 0
        &&  (reply.fields & GC_F_RID))
            s_on_reply (self, &reply);
        else
            gc_warn ("dropped an undecodable reply from the broker size=%zu",
                     zmq_msg_size (&msg));
        gc_frame_release (&reply);
        zmq_msg_close (&msg);
    }
    return false;
}

//  Events are two frames: topic, body. A stray single frame is skipped.
static bool
s_drain_sub (gc_link_t *self)
{
    void *sub = zsock_resolve (self->sub);
    for (int count = 0; count < GC_LINK_DRAIN_BUDGET; count++) {
        zmq_msg_t topic, body;
        zmq_msg_init (&topic);
        zmq_msg_init (&body);
        if (zmq_msg_recv (&topic, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            zmq_msg_close (&body);
            return true;
        }
        if (zmq_msg_more (&topic) && zmq_msg_recv (&body, sub, ZMQ_DONTWAIT) >= 0) {
            gc_frame_t event;
            if (gc_frame_decode (&event, zmq_msg_data (&body), zmq_msg_size (&body)) == 0)
                self->on_event (self->event_arg, &event);
            gc_frame_release (&event);
            while (zmq_msg_more (&body) && zmq_msg_recv (&body, sub, ZMQ_DONTWAIT) >= 0)
                ;               //  frames we do not know of
        }
        zmq_msg_close (&topic);
        zmq_msg_close (&body);
    }
    return false;
}

static void s_on_drain (lws_sorted_usec_list_t *sul);

static void
s_schedule_drain (gc_link_t *self)
{
    if (!self->stopped)
        lws_sul_schedule (self->context, 0, &self->drain, s_on_drain, 1);
}

//  Reads everything the sockets have; called when their fds are readable
static void
s_service (gc_link_t *self)
{
    bool dealer_empty = s_drain_dealer (self);
    bool sub_empty = s_drain_sub (self);
    //  Budget spent with more waiting: come back next turn, since the fd
    //  will not signal again for what is already queued
    if (!dealer_empty || !sub_empty)
        s_schedule_drain (self);
}

static void
s_on_drain (lws_sorted_usec_list_t *sul)
{
    s_service (lws_container_of (sul, gc_link_t, drain));
}

int
gc_link_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    (void) user, (void) in, (void) len;
    gc_link_t *self = lws_get_opaque_user_data (wsi);
    if (reason == LWS_CALLBACK_RAW_RX_FILE && self)
        s_service (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Sending

static uint64_t
s_send (gc_link_t *self, gc_frame_t *request, int64_t giveup_ms,
        gc_link_reply_fn *fn, void *arg)
{
    request->rid = ++self->next_rid;
    request->fields |= GC_F_RID;
    gc_frame_encode (request, &self->buffer);
    if (zmq_send (zsock_resolve (self->dealer), self->buffer.data, self->buffer.size,
                  ZMQ_DONTWAIT) < 0)
        return 0;               //  no broker connection: ZMQ_IMMEDIATE is set
    s_pending_t *pending = gc_malloc (sizeof *pending);
    *pending = (s_pending_t) { request->rid, giveup_ms, gc_clock_mono_us (), fn, arg };
    zhashx_insert (self->pending, (void *) (uintptr_t) request->rid, pending);
    s_schedule_drain (self);
    return request->rid;
}

uint64_t
gc_link_request (gc_link_t *self, gc_frame_t *request, int64_t arrived_ms,
                 gc_link_reply_fn *fn, void *arg)
{
    int64_t now = gc_clock_wall_ms ();
    if (!gc_link_reachable (self) || now >= arrived_ms + GC_REQUEST_DEADLINE_MS)
        return 0;
    gc_frame_set_uint (request, GC_F_DEADLINE, arrived_ms + GC_REQUEST_DEADLINE_MS);
    return s_send (self, request, arrived_ms + GC_REQUEST_GIVEUP_MS, fn, arg);
}

uint64_t
gc_link_history (gc_link_t *self, const char *room, size_t size, const char *user,
                 uint64_t since, uint32_t limit, gc_link_reply_fn *fn, void *arg)
{
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_str (&request, GC_F_ROOM, room, size);
    gc_frame_set_cstr (&request, GC_F_USER, user);
    gc_frame_set_uint (&request, GC_F_SINCE, since);
    gc_frame_set_uint (&request, GC_F_LIMIT, limit);
    return gc_link_request (self, &request, gc_clock_wall_ms (), fn, arg);
}

void
gc_link_forget (gc_link_t *self, uint64_t rid)
{
    if (rid)
        zhashx_delete (self->pending, (void *) (uintptr_t) rid);
}

static void
s_subscription (gc_link_t *self, bool subscribe, const char *room, size_t size)
{
    char topic [GC_NAME_MAX + 1];
    size_t length = gc_topic ((gc_str_t) { room, size }, topic, sizeof topic);
    if (length)
        zmq_setsockopt (zsock_resolve (self->sub),
                        subscribe? ZMQ_SUBSCRIBE: ZMQ_UNSUBSCRIBE, topic, length);
    s_schedule_drain (self);
}

void
gc_link_subscribe (gc_link_t *self, const char *room, size_t size)
{
    s_subscription (self, true, room, size);
}

void
gc_link_unsubscribe (gc_link_t *self, const char *room, size_t size)
{
    s_subscription (self, false, room, size);
}

bool
gc_link_reachable (gc_link_t *self)
{
    return gc_clock_mono_us () / 1000 - self->last_reply_ms < GC_HEARTBEAT_DEAD_MS;
}

int64_t
gc_link_rtt_ms (gc_link_t *self)
{
    return self->rtt_ms;
}

const gc_histogram_t *
gc_link_rtt (gc_link_t *self)
{
    return &self->rtt;
}

const char *
gc_link_broker_metrics (gc_link_t *self)
{
    return gc_link_reachable (self)? self->broker_metrics: NULL;
}

//  --------------------------------------------------------------------------
//  Clock: heartbeats and giving up on requests

static void
s_give_up_expired (gc_link_t *self, int64_t now)
{
    zlistx_t *expired = zlistx_new ();
    for (s_pending_t *pending = zhashx_first (self->pending); pending;
         pending = zhashx_next (self->pending))
        if (pending->giveup_ms <= now)
            zlistx_add_end (expired, (void *) (uintptr_t) pending->rid);
    //  Callbacks may send new requests, so call them after the walk
    for (void *key = zlistx_first (expired); key; key = zlistx_next (expired)) {
        s_pending_t *pending = zhashx_lookup (self->pending, key);
        if (!pending)
            continue;
        gc_link_reply_fn *fn = pending->fn;
        void *arg = pending->arg;
        zhashx_delete (self->pending, key);
        if (fn)
            fn (arg, NULL);
    }
    zlistx_destroy (&expired);
}

static void
s_ping (gc_link_t *self, int64_t now)
{
    gc_frame_t ping;
    gc_frame_init (&ping, GC_OP_PING);
    gc_frame_set_uint (&ping, GC_F_DEADLINE, now + GC_HEARTBEAT_DEAD_MS);
    if (s_send (self, &ping, now + GC_HEARTBEAT_DEAD_MS, NULL, NULL))
        self->ping_sent_ms = gc_clock_mono_us () / 1000;
}

static void
s_on_tick (lws_sorted_usec_list_t *sul)
{
    gc_link_t *self = lws_container_of (sul, gc_link_t, tick);
    int64_t now = gc_clock_wall_ms ();
    bool was_reachable = gc_clock_mono_us () / 1000 - GC_LINK_TICK_MS - self->last_reply_ms
                       < GC_HEARTBEAT_DEAD_MS;
    s_give_up_expired (self, now);
    if (self->ticks++ % (GC_HEARTBEAT_MS / GC_LINK_TICK_MS) == 0)
        s_ping (self, now);
    if (was_reachable && !gc_link_reachable (self))
        gc_warn ("broker unreachable: no reply for %d ms", GC_HEARTBEAT_DEAD_MS);
    s_service (self);
    lws_sul_schedule (self->context, 0, &self->tick, s_on_tick, GC_LINK_TICK_MS * LWS_US_PER_MS);
}

//  --------------------------------------------------------------------------
//  Construction

//  lws closes what it adopts, but the ZMQ_FD belongs to ZeroMQ: adopt a
//  duplicate, which polls the same way and is lws's to close.
static int
s_adopt (gc_link_t *self, struct lws_vhost *vhost, zsock_t *sock)
{
    lws_sock_file_fd_type fd = { .filefd = dup (zsock_fd (sock)) };
    struct lws *wsi = fd.filefd < 0? NULL:
        lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                    GC_LINK_PROTOCOL, NULL);
    if (!wsi)
        return -1;
    lws_set_opaque_user_data (wsi, self);
    return 0;
}

static zsock_t *
s_socket_new (int type, const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    zsock_set_linger (sock, 0);
    zsock_set_rcvhwm (sock, GC_LINK_HWM);
    zsock_set_sndhwm (sock, GC_LINK_HWM);
    zsock_set_reconnect_ivl (sock, GC_LINK_RECONNECT_MS);
    zsock_set_reconnect_ivl_max (sock, GC_LINK_RECONNECT_MAX_MS);
    zsock_set_heartbeat_ivl (sock, GC_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (sock, GC_HEARTBEAT_DEAD_MS);
    if (type == ZMQ_DEALER)
        zsock_set_immediate (sock, 1);
    if (zsock_connect (sock, "%s", endpoint) != 0) {
        gc_error ("cannot connect to endpoint=%s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

gc_link_t *
gc_link_new (struct lws_context *context, struct lws_vhost *vhost,
             const char *requests, const char *events,
             gc_link_event_fn *on_event, void *arg)
{
    gc_link_t *self = gc_calloc (1, sizeof *self);
    self->context = context;
    self->on_event = on_event;
    self->event_arg = arg;
    self->last_reply_ms = -GC_HEARTBEAT_DEAD_MS;
    self->pending = s_pending_table_new ();
    gc_histogram_init (&self->rtt, gc_metrics_seconds, 12);
    msgpack_sbuffer_init (&self->buffer);
    self->dealer = s_socket_new (ZMQ_DEALER, requests);
    self->sub = s_socket_new (ZMQ_SUB, events);
    if (!self->dealer || !self->sub
    ||  s_adopt (self, vhost, self->dealer) || s_adopt (self, vhost, self->sub)) {
        gc_link_destroy (&self);
        return NULL;
    }
    lws_sul_schedule (self->context, 0, &self->tick, s_on_tick, 1);
    return self;
}

void
gc_link_stop (gc_link_t *self)
{
    self->stopped = true;
    lws_sul_cancel (&self->tick);
    lws_sul_cancel (&self->drain);
}

void
gc_link_destroy (gc_link_t **self_p)
{
    gc_link_t *self = *self_p;
    if (!self)
        return;
    if (!self->stopped)
        gc_link_stop (self);
    zhashx_destroy (&self->pending);
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->sub);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self->broker_metrics);
    free (self);
    *self_p = NULL;
}
