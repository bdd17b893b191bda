/*  link.c: DEALER/SUB to the broker inside the lws loop.

    ZMQ_FD is edge-triggered: it signals only when the socket's state
    changes, and any zmq call (a send included) may consume that signal.
    So the link drains its sockets completely whenever an fd fires and
    again, on the next loop turn, after every send; a slow periodic drain
    is the last line of defence against a missed edge.

    The link's state (linkstate.c) is known, not guessed: a ZeroMQ socket
    monitor on the DEALER reports each connection made and lost, read
    from a PAIR socket adopted into the loop like the other two. A new
    connection is pinged at once and is up when the ping (or anything
    sent on it) is answered.

    While the link is not up, requests wait here, in a bounded queue, and
    go out once it is; a request whose deadline passes first is answered
    unavailable then. They do not wait inside ZeroMQ: the DEALER keeps
    ZMQ_IMMEDIATE, so it queues nothing for a connection it does not
    have. Without it, requests would sit on the pipe of a connection that
    may turn out dead: when that connection fails ZeroMQ drops what its
    engine had already taken from the pipe and sends the rest on whatever
    connection comes next, however late. The gateway could not tell which
    requests left, could not withdraw one whose client was answered, and
    could not bound them by count. Here a request is either waiting
    (ours, withdrawn at its deadline) or sent (the broker's, answered or
    given up on at half its deadline again, once the broker can no longer
    act on it). A sent request is not answered sooner when its connection
    closes: the broker may still act on it until its deadline, and a
    client told `unavailable` is promised that nothing was done.

    Given several brokers (gc_endpoints.h), the link talks to one at a
    time, DEALER and SUB alike. One that has not answered for the
    liveness window (GC_HEARTBEAT_DEAD_MS: killed, hung, or a standby
    that does not serve) is left for the next in the list, round-robin,
    and the link stays with the first that answers. A move is a new
    connection like any other: requests sent on the old one keep their
    promise above (given up on, never answered sooner), waiting ones go
    out on the new one, and the rooms and presence recover as after a
    broker restart (room.c). */
#include <czmq.h>
#include "link.h"
#include "gc_limits.h"
#include "gc_log.h"
#include "gc_metrics.h"
#include "gc_clock.h"
#include "gc_alloc.h"
#include "gc_endpoints.h"

typedef struct {
    uint64_t rid;
    int64_t deadline_ms;        //  the broker acts on it until then: a waiting one expires
    int64_t giveup_ms;          //  when the gateway stops waiting for a reply
    int64_t sent_us;            //  for the round-trip histogram
    uint64_t connection;        //  the connection it went out on, 0 while waiting
    gc_link_reply_fn *fn;       //  NULL for heartbeats
    void *arg;
    lws_dll2_t in_waiting;      //  in the link's waiting queue until sent
    unsigned char *frame;       //  the encoded request, kept while it waits
    size_t size;
} s_pending_t;

struct gc_link_t {
    struct lws_context *context;
    int64_t request_deadline_ms;    //  a request's time to be answered
    zsock_t *dealer;            //  requests to the broker's ROUTER
    zsock_t *sub;               //  events from the broker's XPUB
    zsock_t *monitor;           //  the DEALER's connection events (PAIR)
    gc_keys_t *keys;            //  CURVE keys, not ours; NULL: plain
    gc_endpoints_t *endpoints;  //  the brokers, ours; one serves at a time
    size_t current;             //  the index of the one dialled now
    const char *requests, *events;  //  its endpoints, in endpoints
    bool moved;                 //  dialled another broker: its old connection's
                                //  close is not news of the new one
    uint64_t moves;             //  moves to another broker
    bool refused;               //  the broker refused the last handshake
    gc_linkstate_t *state;      //  down, connecting, up
    zhashx_t *pending;          //  rid -> s_pending_t, waiting or sent
    lws_dll2_owner_t waiting;   //  requests waiting for the link, oldest first
    uint64_t next_rid;
    gc_link_event_fn *on_event;
    void *event_arg;
    int64_t last_answer_ms;     //  monotonic: the last reply on the current connection
    bool probed;                //  a ping went out on the current connection
    unsigned ticks;
    lws_sorted_usec_list_t tick;    //  periodic sweep and heartbeat
    lws_sorted_usec_list_t drain;   //  drain on the next loop turn
    lws_sorted_usec_list_t redial;  //  a second after a refused handshake
    msgpack_sbuffer buffer;     //  encode buffer, reused
    gc_histogram_t rtt;         //  request round trips, seconds
    char *broker_metrics;       //  the broker's figures, from the last heartbeat
    char instance [2 * GC_INSTANCE_BYTES + 1];  //  this gateway's id, in hex
    bool stopped;               //  timers off: the lws context is going away
};

static void s_flush (gc_link_t *self);
static void s_ping (gc_link_t *self);
static void s_refused (gc_link_t *self, const char *what);

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
s_pending_destroy (s_pending_t *pending)
{
    if (!lws_dll2_is_detached (&pending->in_waiting))
        lws_dll2_remove (&pending->in_waiting);
    free (pending->frame);
    free (pending);
}

static void
s_pending_free (void **item_p)
{
    s_pending_destroy (*item_p);
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

static bool
s_waits (const s_pending_t *pending)
{
    return !lws_dll2_is_detached (&pending->in_waiting);
}

//  --------------------------------------------------------------------------
//  The link's state

static int64_t
s_mono_ms (void)
{
    return gc_clock_mono_us () / 1000;
}

//  Logs a change of state once, and sends what waited once the link is up
static void
s_changed (gc_link_t *self, gc_link_state_t before, gc_link_event_t event)
{
    gc_link_state_t after = gc_linkstate_state (self->state);
    if (after == before)
        return;
    gc_log (after == GC_LINK_DOWN? GC_LOG_WARN: GC_LOG_INFO,
            "broker link state=%s event=%s connection=%lu waiting=%u",
            gc_link_state_name (after), gc_link_event_name (event),
            (unsigned long) gc_linkstate_connection (self->state),
            (unsigned) self->waiting.count);
    if (after == GC_LINK_UP)
        s_flush (self);
}

//  What ZeroMQ reports of the connection, a silent broker, a refused send
static void
s_link_event (gc_link_t *self, gc_link_event_t event)
{
    gc_link_state_t before = gc_linkstate_state (self->state);
    gc_linkstate_apply (self->state, event);
    if (event == GC_LINK_CONNECTED) {
        //  Prove the new connection at once rather than at the next beat
        self->probed = false;
        s_ping (self);
    }
    s_changed (self, before, event);
}

//  A reply to a request that went out on connection
static void
s_answered (gc_link_t *self, uint64_t connection)
{
    gc_link_state_t before = gc_linkstate_state (self->state);
    if (connection == gc_linkstate_connection (self->state))
        self->last_answer_ms = s_mono_ms ();
    gc_linkstate_answered (self->state, connection);
    s_changed (self, before, GC_LINK_ANSWERED);
}

//  The state now: an up link whose broker stopped answering, on a
//  connection ZeroMQ still holds open (a hung broker), is up no more
static gc_link_state_t
s_state_now (gc_link_t *self)
{
    if (gc_linkstate_state (self->state) == GC_LINK_UP
    &&  s_mono_ms () - self->last_answer_ms >= GC_HEARTBEAT_DEAD_MS)
        s_link_event (self, GC_LINK_SILENT);
    return gc_linkstate_state (self->state);
}

//  --------------------------------------------------------------------------
//  Receiving

static void
s_on_reply (gc_link_t *self, const gc_frame_t *reply)
{
    void *key = (void *) (uintptr_t) reply->rid;
    s_pending_t *pending = zhashx_lookup (self->pending, key);
    if (!pending)
        return;                 //  given up on, or forgotten
    int64_t took_us = gc_clock_mono_us () - pending->sent_us;
    gc_histogram_add (&self->rtt, (double) took_us / 1e6);
    if (!pending->fn && (reply->fields & GC_F_TEXT)) {
        free (self->broker_metrics);
        self->broker_metrics = gc_alloc_checked (gc_str_dup (reply->text));
    }
    gc_link_reply_fn *fn = pending->fn;
    void *arg = pending->arg;
    uint64_t connection = pending->connection;
    zhashx_delete (self->pending, key);
    //  The state first: what the callback sends goes out if the link is
    //  up. A key revoked while connected keeps its connection, but the
    //  broker serves it nothing: that is no link at all
    if (reply->op == GC_OP_ERROR && reply->code == GC_FORBIDDEN) {
        s_link_event (self, GC_LINK_DISCONNECTED);
        s_refused (self, "requests (its key was revoked?)");
    }
    else
    //  A heartbeat answered unavailable: the broker is there but cannot
    //  serve (its database takes no writes); pinged on until it can
    if (!fn && reply->op == GC_OP_ERROR && reply->code == GC_UNAVAILABLE
    &&  connection == gc_linkstate_connection (self->state))
        s_link_event (self, GC_LINK_UNWELL);
    else
        s_answered (self, connection);
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

//  Hangs up on the current broker and dials the index-th, both sockets
static void
s_dial (gc_link_t *self, size_t index)
{
    zsock_disconnect (self->dealer, "%s", self->requests);
    zsock_disconnect (self->sub, "%s", self->events);
    self->current = index;
    self->requests = gc_endpoints_requests (self->endpoints, index);
    self->events = gc_endpoints_events (self->endpoints, index);
    zsock_connect (self->dealer, "%s", self->requests);
    zsock_connect (self->sub, "%s", self->events);
}

//  Dials both endpoints again, a while after a refused handshake
static void
s_on_redial (lws_sorted_usec_list_t *sul)
{
    gc_link_t *self = lws_container_of (sul, gc_link_t, redial);
    s_dial (self, self->current);
}

static void
s_accepted (gc_link_t *self)
{
    if (self->refused)
        gc_info ("the broker accepted this gateway's handshake");
    self->refused = false;
    s_link_event (self, GC_LINK_CONNECTED);
}

//  Said once per run of refusals, not once a second
static void
s_refused (gc_link_t *self, const char *what)
{
    if (!self->refused)
        gc_error ("the broker at %s refused this gateway's %s: %s; dialling again "
                  "every second", self->requests, what, self->keys?
                  "is this gateway's public key in the broker's gateways/ folder, and "
                  "broker.cert the broker's own? (docs/security.md)"
                  : "it wants keys (--keys DIR)");
    self->refused = true;
    if (!self->stopped)
        lws_sul_schedule (self->context, 0, &self->redial, s_on_redial,
                          GC_LINK_REDIAL_MS * LWS_US_PER_MS);
}

static void s_move_on (gc_link_t *self, const char *why);

//  The monitor's events are two frames: the event's number (16 bits,
//  then a 32-bit value) and the endpoint. Only the two it was asked for
//  come, a few per reconnect, so it is drained without a budget.
static void
s_drain_monitor (gc_link_t *self)
{
    void *monitor = zsock_resolve (self->monitor);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_msg_recv (&frame, monitor, ZMQ_DONTWAIT) >= 0) {
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= sizeof event)
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
        while (zmq_msg_more (&frame) && zmq_msg_recv (&frame, monitor, ZMQ_DONTWAIT) >= 0)
            ;                   //  the endpoint, which we know
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->moved = false;
            s_accepted (self);
        }
        else
        if (event & GC_KEYS_REFUSED)
            s_refused (self, "handshake");
        else
        if (event == ZMQ_EVENT_DISCONNECTED && !self->moved) {
            s_link_event (self, GC_LINK_DISCONNECTED);
            //  Closed, not silent: killed or stopped. A standby taking
            //  over is not kept waiting for the liveness window
            if (gc_endpoints_count (self->endpoints) > 1)
                s_move_on (self, "closed its connection");
        }
    }
    zmq_msg_close (&frame);
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
    //  Connection events first, so that the state is current before the
    //  replies are read (a reply from a connection that is gone must
    //  find it gone)
    s_drain_monitor (self);
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

//  A pending request for frame, given its rid and deadline and encoded
//  into the link's buffer
static s_pending_t *
s_pending_new (gc_link_t *self, gc_frame_t *request, int64_t deadline_ms,
               int64_t giveup_ms, gc_link_reply_fn *fn, void *arg)
{
    request->rid = ++self->next_rid;
    request->fields |= GC_F_RID;
    gc_frame_set_uint (request, GC_F_DEADLINE, deadline_ms);
    gc_frame_encode (request, &self->buffer);
    s_pending_t *pending = gc_calloc (1, sizeof *pending);
    pending->rid = request->rid;
    pending->deadline_ms = deadline_ms;
    pending->giveup_ms = giveup_ms;
    pending->fn = fn;
    pending->arg = arg;
    return pending;
}

//  Hands the encoded request to the DEALER; false when ZeroMQ has no
//  connection to send it on (ZMQ_IMMEDIATE), which the state learns
static bool
s_transmit (gc_link_t *self, s_pending_t *pending, const void *data, size_t size)
{
    if (zmq_send (zsock_resolve (self->dealer), data, size, ZMQ_DONTWAIT) < 0) {
        s_link_event (self, GC_LINK_REFUSED);
        return false;
    }
    pending->connection = gc_linkstate_connection (self->state);
    pending->sent_us = gc_clock_mono_us ();
    s_schedule_drain (self);
    return true;
}

//  Keeps the encoded request (in the link's buffer) until the link is up
static void
s_wait (gc_link_t *self, s_pending_t *pending)
{
    pending->size = self->buffer.size;
    pending->frame = gc_malloc (pending->size);
    memcpy (pending->frame, self->buffer.data, pending->size);
    lws_dll2_add_tail (&pending->in_waiting, &self->waiting);
}

static void s_give_up_expired (gc_link_t *self, int64_t now);

//  Sends what waited for the link, oldest first, while it stays up
static void
s_flush (gc_link_t *self)
{
    //  What waited past its deadline is answered, not sent
    s_give_up_expired (self, gc_clock_wall_ms ());
    while (gc_linkstate_state (self->state) == GC_LINK_UP && self->waiting.head) {
        s_pending_t *pending = lws_container_of (self->waiting.head, s_pending_t, in_waiting);
        if (!s_transmit (self, pending, pending->frame, pending->size))
            return;
        lws_dll2_remove (&pending->in_waiting);
        free (pending->frame);
        pending->frame = NULL;
    }
}

void
gc_link_set_request_deadline (gc_link_t *self, int deadline_ms)
{
    self->request_deadline_ms = deadline_ms;
}

uint64_t
gc_link_request (gc_link_t *self, gc_frame_t *request, int64_t arrived_ms,
                 gc_link_reply_fn *fn, void *arg)
{
    int64_t deadline_ms = arrived_ms + self->request_deadline_ms;
    if (gc_clock_wall_ms () >= deadline_ms)
        return 0;
    //  Behind others that wait, a request waits too: they keep their order
    bool direct = s_state_now (self) == GC_LINK_UP && self->waiting.count == 0;
    if (!direct && self->waiting.count >= GC_LINK_WAITING_MAX)
        return 0;
    int64_t giveup_ms = arrived_ms + GC_REQUEST_GIVEUP (self->request_deadline_ms);
    s_pending_t *pending = s_pending_new (self, request, deadline_ms, giveup_ms, fn, arg);
    if (!direct || !s_transmit (self, pending, self->buffer.data, self->buffer.size))
        s_wait (self, pending);
    zhashx_insert (self->pending, (void *) (uintptr_t) pending->rid, pending);
    return pending->rid;
}

uint64_t
gc_link_history (gc_link_t *self, const char *room, size_t size, const char *user,
                 uint64_t generation, uint64_t since, uint32_t limit,
                 gc_link_reply_fn *fn, void *arg)
{
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_str (&request, GC_F_ROOM, room, size);
    gc_frame_set_cstr (&request, GC_F_USER, user);
    gc_frame_set_uint (&request, GC_F_GENERATION, generation);
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
gc_link_up (gc_link_t *self)
{
    return s_state_now (self) == GC_LINK_UP;
}

const char *
gc_link_instance (gc_link_t *self)
{
    return self->instance;
}

gc_link_state_t
gc_link_state (gc_link_t *self)
{
    return s_state_now (self);
}

uint64_t
gc_link_reconnects (gc_link_t *self)
{
    return gc_linkstate_reconnects (self->state);
}

size_t
gc_link_endpoint_index (gc_link_t *self)
{
    return self->current;
}

const char *
gc_link_endpoint (gc_link_t *self)
{
    return self->requests;
}

uint64_t
gc_link_moves (gc_link_t *self)
{
    return self->moves;
}

size_t
gc_link_waiting (gc_link_t *self)
{
    return self->waiting.count;
}

const gc_histogram_t *
gc_link_rtt (gc_link_t *self)
{
    return &self->rtt;
}

const char *
gc_link_broker_metrics (gc_link_t *self)
{
    return gc_link_up (self)? self->broker_metrics: NULL;
}

//  --------------------------------------------------------------------------
//  Clock: heartbeats and giving up on requests

//  A waiting request is withdrawn at its deadline, since the broker would
//  refuse it after; a sent one is waited for until the broker can no
//  longer act on it
static bool
s_expired (const s_pending_t *pending, int64_t now)
{
    return (s_waits (pending)? pending->deadline_ms: pending->giveup_ms) <= now;
}

static void
s_give_up_expired (gc_link_t *self, int64_t now)
{
    zlistx_t *expired = zlistx_new ();
    for (s_pending_t *pending = zhashx_first (self->pending); pending;
         pending = zhashx_next (self->pending))
        if (s_expired (pending, now))
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

//  A heartbeat on the current connection; its reply keeps the link up,
//  or takes a new connection up. Not queued: a ping only means
//  something on the connection it went out on.
static void
s_ping (gc_link_t *self)
{
    if (gc_linkstate_state (self->state) == GC_LINK_DOWN)
        return;                 //  no connection to ping on
    int64_t now = gc_clock_wall_ms ();
    gc_frame_t ping;
    gc_frame_init (&ping, GC_OP_PING);
    //  The broker's presence keeps this instance's users while it hears it
    gc_frame_set_cstr (&ping, GC_F_INSTANCE, self->instance);
    s_pending_t *pending = s_pending_new (self, &ping, now + GC_HEARTBEAT_DEAD_MS,
                                          now + GC_HEARTBEAT_DEAD_MS, NULL, NULL);
    if (!s_transmit (self, pending, self->buffer.data, self->buffer.size)) {
        s_pending_destroy (pending);
        return;
    }
    zhashx_insert (self->pending, (void *) (uintptr_t) pending->rid, pending);
    self->probed = true;
}

//  Dials the next broker of the list
static void
s_move_on (gc_link_t *self, const char *why)
{
    size_t count = gc_endpoints_count (self->endpoints);
    gc_warn ("broker link: moving to %s (the previous %s) from=%s index=%zu",
             gc_endpoints_requests (self->endpoints, (self->current + 1) % count),
             why, self->requests, (self->current + 1) % count);
    lws_sul_cancel (&self->redial);
    s_dial (self, (self->current + 1) % count);
    self->moves++;
    self->moved = true;
    self->probed = false;
    //  The new broker has its whole window to answer
    self->last_answer_ms = s_mono_ms ();
    gc_link_state_t before = gc_linkstate_state (self->state);
    gc_linkstate_apply (self->state, GC_LINK_DISCONNECTED);
    s_changed (self, before, GC_LINK_DISCONNECTED);
}

//  Once the current broker has not answered for the liveness window: it
//  is dead, hung, or not the one serving. An answer since it was
//  dialled keeps the link where it is.
static void
s_move_if_silent (gc_link_t *self)
{
    if (gc_endpoints_count (self->endpoints) > 1
    &&  gc_linkstate_state (self->state) != GC_LINK_UP
    &&  s_mono_ms () - self->last_answer_ms >= GC_HEARTBEAT_DEAD_MS)
        s_move_on (self, "did not answer");
}

static void
s_on_tick (lws_sorted_usec_list_t *sul)
{
    gc_link_t *self = lws_container_of (sul, gc_link_t, tick);
    s_give_up_expired (self, gc_clock_wall_ms ());
    s_state_now (self);
    s_move_if_silent (self);
    //  A connection whose first ping could not go out is pinged again
    //  at the next tick, not the next beat
    if (self->ticks++ % (GC_HEARTBEAT_MS / GC_LINK_TICK_MS) == 0 || !self->probed)
        s_ping (self);
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
s_socket_new (int type, gc_keys_t *keys)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    if (keys)
        gc_keys_dial (keys, sock);
    zsock_set_linger (sock, 0);
    zsock_set_rcvhwm (sock, GC_LINK_HWM);
    zsock_set_sndhwm (sock, GC_LINK_HWM);
    zsock_set_maxmsgsize (sock, GC_LINK_MESSAGE_MAX);
    zsock_set_reconnect_ivl (sock, GC_LINK_RECONNECT_MS);
    zsock_set_reconnect_ivl_max (sock, GC_LINK_RECONNECT_MAX_MS);
    zsock_set_heartbeat_ivl (sock, GC_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (sock, GC_HEARTBEAT_DEAD_MS);
    //  Requests wait in the link, not in ZeroMQ: see the top of this file
    if (type == ZMQ_DEALER)
        zsock_set_immediate (sock, 1);
    return sock;
}

static int
s_connect (zsock_t *sock, const char *endpoint)
{
    if (zsock_connect (sock, "%s", endpoint) == 0)
        return 0;
    gc_error ("cannot connect to endpoint=%s: %s", endpoint, zmq_strerror (zmq_errno ()));
    return -1;
}

//  A PAIR that receives the DEALER's connection events. Made before the
//  DEALER connects, so that it sees the first connection too.
static zsock_t *
s_monitor_new (gc_link_t *self)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://gc-link-monitor-%p", (void *) self);
    if (zmq_socket_monitor (zsock_resolve (self->dealer), endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | GC_KEYS_REFUSED) != 0)
        return NULL;
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (monitor && zsock_connect (monitor, "%s", endpoint) != 0)
        zsock_destroy (&monitor);
    return monitor;
}

gc_link_t *
gc_link_new (struct lws_context *context, struct lws_vhost *vhost,
             const gc_endpoints_t *endpoints, gc_keys_t *keys,
             gc_link_event_fn *on_event, void *arg)
{
    gc_link_t *self = gc_calloc (1, sizeof *self);
    self->context = context;
    self->keys = keys;
    self->endpoints = gc_endpoints_dup (endpoints);
    self->requests = gc_endpoints_requests (self->endpoints, 0);
    self->events = gc_endpoints_events (self->endpoints, 0);
    //  The first broker's window starts now
    self->last_answer_ms = s_mono_ms ();
    self->request_deadline_ms = GC_REQUEST_DEADLINE_MS;
    self->on_event = on_event;
    self->event_arg = arg;
    self->state = gc_linkstate_new ();
    //  New at every start: a gateway that restarts is a new instance, and
    //  the broker lets the old one's users go when it stops hearing it
    zuuid_t *uuid = zuuid_new ();
    snprintf (self->instance, sizeof self->instance, "%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->pending = s_pending_table_new ();
    gc_histogram_init (&self->rtt, gc_metrics_seconds, 12);
    msgpack_sbuffer_init (&self->buffer);
    self->dealer = s_socket_new (ZMQ_DEALER, keys);
    self->sub = s_socket_new (ZMQ_SUB, keys);
    self->monitor = self->dealer? s_monitor_new (self): NULL;
    if (!self->sub || !self->monitor
    ||  s_connect (self->dealer, self->requests) || s_connect (self->sub, self->events)
    ||  s_adopt (self, vhost, self->dealer) || s_adopt (self, vhost, self->sub)
    ||  s_adopt (self, vhost, self->monitor)) {
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
    lws_sul_cancel (&self->redial);
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
    if (self->dealer)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->sub);
    gc_linkstate_destroy (&self->state);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self->broker_metrics);
    gc_endpoints_destroy (&self->endpoints);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Self-test: a link to the real broker program (testbed.c), which dies
//  and comes back under it

#include <assert.h>
#include <signal.h>
#include "testbed.h"

typedef struct {
    int answered;               //  replies
    int given_up;               //  NULL callbacks
} s_test_calls_t;

static void
s_test_on_reply (void *arg, const gc_frame_t *reply)
{
    s_test_calls_t *calls = arg;
    if (reply) {
        assert (reply->op == GC_OP_OK);
        calls->answered++;
    }
    else
        calls->given_up++;
}

static void
s_test_on_event (void *arg, const gc_frame_t *event)
{
    (void) arg, (void) event;
}

static uint64_t
s_test_history (gc_link_t *self, int64_t arrived_ms, s_test_calls_t *calls)
{
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");     //  a member: the broker checks
    gc_frame_set_uint (&request, GC_F_GENERATION, GC_TESTBED_GENERATION);
    gc_frame_set_uint (&request, GC_F_LIMIT, 1);
    return gc_link_request (self, &request, arrived_ms, s_test_on_reply, calls);
}

//  The broker is killed: the link is down at once, from the closed
//  connection, not connecting after a heartbeat's silence
static void
s_test_broker_dies (struct lws_context *context, gc_link_t *self, gc_testbed_t *testbed,
                    int signum)
{
    gc_testbed_stop_broker (testbed, signum);
    GC_TESTBED_UNTIL (context, gc_link_state (self) == GC_LINK_DOWN);
    assert (gc_link_state (self) == GC_LINK_DOWN && !gc_link_up (self));
    assert (!gc_link_broker_metrics (self));
}

//  Requests wait for the broker: one is sent once it is back, one whose
//  deadline passes first is given up on; each is called back once
static void
s_test_requests_wait (struct lws_context *context, gc_link_t *self, gc_testbed_t *testbed)
{
    //  A deadline that outlasts a broker's start on a busy machine
    const int deadline_ms = 20000;
    gc_link_set_request_deadline (self, deadline_ms);
    s_test_calls_t served = { 0 }, expiring = { 0 };
    int64_t now = gc_clock_wall_ms ();
    assert (s_test_history (self, now, &served));
    assert (s_test_history (self, now - deadline_ms + 300, &expiring));
    assert (!s_test_history (self, now - deadline_ms, &expiring));
    assert (gc_link_waiting (self) == 2);
    GC_TESTBED_UNTIL (context, expiring.given_up);
    assert (expiring.given_up == 1 && served.answered + served.given_up == 0);
    assert (gc_link_waiting (self) == 1);

    gc_testbed_start_broker (testbed);
    GC_TESTBED_UNTIL (context, served.answered);
    assert (served.answered == 1 && gc_link_up (self) && gc_link_waiting (self) == 0);
    assert (gc_link_reconnects (self) == 1);
    //  A later request answered: nothing earlier is answered again
    s_test_calls_t later = { 0 };
    assert (s_test_history (self, gc_clock_wall_ms (), &later));
    GC_TESTBED_UNTIL (context, later.answered);
    assert (later.answered == 1);
    assert (served.answered == 1 && served.given_up == 0);
    assert (expiring.given_up == 1 && expiring.answered == 0);
    gc_link_set_request_deadline (self, GC_REQUEST_DEADLINE_MS);
}

//  At most GC_LINK_WAITING_MAX requests wait; a forgotten one is never
//  called back
static void
s_test_waiting_is_bounded (gc_link_t *self)
{
    s_test_calls_t calls = { 0 };
    uint64_t *rids = gc_calloc (GC_LINK_WAITING_MAX, sizeof *rids);
    int64_t now = gc_clock_wall_ms ();
    for (size_t index = 0; index < GC_LINK_WAITING_MAX; index++)
        assert ((rids [index] = s_test_history (self, now, &calls)));
    assert (!s_test_history (self, now, &calls));
    assert (gc_link_waiting (self) == GC_LINK_WAITING_MAX);
    for (size_t index = 0; index < GC_LINK_WAITING_MAX; index++)
        gc_link_forget (self, rids [index]);
    assert (gc_link_waiting (self) == 0);
    assert (calls.answered + calls.given_up == 0);
    free (rids);
}

void
gc_link_test (bool verbose)
{
    if (verbose)
        printf (" * gc_link: ");
    gc_testbed_t *testbed = gc_testbed_new ();
    struct lws_context *context = gc_testbed_context ();
    gc_link_t *self = gc_testbed_link (testbed, context, s_test_on_event, NULL);
    GC_TESTBED_UNTIL (context, gc_link_up (self));
    assert (gc_link_up (self) && gc_link_reconnects (self) == 0);
    GC_TESTBED_UNTIL (context, gc_link_broker_metrics (self));
    assert (gc_link_broker_metrics (self));

    s_test_broker_dies (context, self, testbed, SIGKILL);
    s_test_requests_wait (context, self, testbed);
    s_test_broker_dies (context, self, testbed, SIGTERM);
    s_test_waiting_is_bounded (self);

    gc_testbed_unlink (&self, context);
    gc_link_destroy (&self);
    gc_testbed_destroy (&testbed);
    if (verbose)
        printf ("OK\n");
}
