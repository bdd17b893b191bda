/*  conn.c: one client connection of groupchat-bench (see conn.h).

    Two queues per connection: frames waiting to be written (the out
    ring) and requests waiting for their replies (the request ring). Both
    grow as needed: the bench is open-loop, so a server that stops
    reading makes the out ring grow, and the latency of what waits in it
    counts from when it was due, not from when it left. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conn.h"
#include "pool.h"
#include "gc_alloc.h"
#include "gc_clock.h"

//  A frame to write, with libwebsockets' headroom in front
typedef struct {
    size_t size;
    unsigned char data [];
} s_out_t;

//  A growable ring of fixed-size items
typedef struct {
    char *items;
    size_t item_size;
    size_t head;                //  index of the oldest item
    size_t count;
    size_t capacity;
} s_ring_t;

typedef struct {
    const char *name;           //  NULL: slot free
    int tag;                    //  the caller's room number
    bool joined;                //  join reply received: pushes counted
    gc_order_t order;
} s_room_t;

struct gc_bench_conn_t {
    gc_bench_pool_t *pool;
    struct lws *wsi;            //  NULL unless connecting or open
    size_t url;                 //  index of the URL it connects to
    gc_bench_state_t state;
    const gc_bench_events_t *events;
    void *events_arg;
    s_ring_t out;               //  s_out_t *, oldest first
    s_ring_t requests;          //  gc_bench_request_t, oldest first
    int64_t next_id;
    s_room_t rooms [GC_BENCH_CONN_ROOMS];
    char *rx;                   //  a frame arriving in fragments
    size_t rx_size;
    size_t rx_capacity;
    bool refusals_expected;     //  error replies are counted as refused
    char forwarded [16];        //  X-Forwarded-For, dotted IPv4; "" for none
};

//  --------------------------------------------------------------------------
//  Rings

//  A slot for a new newest item
static void *
s_ring_push (s_ring_t *ring)
{
    if (ring->count == ring->capacity) {
        size_t capacity = ring->capacity? ring->capacity * 2: 4;
        char *items = gc_malloc (capacity * ring->item_size);
        //  Unwrap into the new array, oldest first
        for (size_t index = 0; index < ring->count; index++)
            memcpy (items + index * ring->item_size,
                    ring->items + ((ring->head + index) % ring->capacity) * ring->item_size,
                    ring->item_size);
        free (ring->items);
        ring->items = items;
        ring->capacity = capacity;
        ring->head = 0;
    }
    size_t slot = (ring->head + ring->count++) % ring->capacity;
    return ring->items + slot * ring->item_size;
}

//  The oldest item, or NULL when empty
static void *
s_ring_front (const s_ring_t *ring)
{
    return ring->count? ring->items + ring->head * ring->item_size: NULL;
}

static void
s_ring_pop (s_ring_t *ring)
{
    if (ring->count) {
        ring->head = (ring->head + 1) % ring->capacity;
        ring->count--;
    }
}

//  --------------------------------------------------------------------------
//  Construction

gc_bench_conn_t *
gc_bench_conn_new (gc_bench_pool_t *pool, size_t url)
{
    gc_bench_conn_t *self = gc_calloc (1, sizeof *self);
    self->pool = pool;
    self->url = url;
    self->state = GC_BENCH_IDLE;
    self->out.item_size = sizeof (s_out_t *);
    self->requests.item_size = sizeof (gc_bench_request_t);
    self->next_id = 1;
    return self;
}

//  Frees what waits to be written and forgets what waits for replies
static void
s_drop_queues (gc_bench_conn_t *self)
{
    s_out_t **frame;
    while ((frame = s_ring_front (&self->out))) {
        free (*frame);
        s_ring_pop (&self->out);
    }
    self->requests.count = 0;
}

void
gc_bench_conn_destroy (gc_bench_conn_t **self_p)
{
    gc_bench_conn_t *self = *self_p;
    if (!self)
        return;
    s_drop_queues (self);
    free (self->out.items);
    free (self->requests.items);
    free (self->rx);
    free (self);
    *self_p = NULL;
}

void
gc_bench_conn_set_events (gc_bench_conn_t *self, const gc_bench_events_t *events, void *arg)
{
    self->events = events;
    self->events_arg = arg;
}

//  --------------------------------------------------------------------------
//  Requests

static s_room_t *
s_room (gc_bench_conn_t *self, int tag)
{
    for (int slot = 0; slot < GC_BENCH_CONN_ROOMS; slot++)
        if (self->rooms [slot].name && self->rooms [slot].tag == tag)
            return &self->rooms [slot];
    return NULL;
}

//  Queues the frame encoded in the pool's scratch buffer, with its request
static int
s_send (gc_bench_conn_t *self, size_t size, gc_bench_kind_t kind, int room, int64_t stamp)
{
    if (size == 0 || self->state == GC_BENCH_CLOSED || self->out.count >= GC_BENCH_CONN_QUEUE)
        return -1;
    s_out_t *frame = gc_malloc (sizeof (s_out_t) + LWS_PRE + size);
    s_out_t **slot = s_ring_push (&self->out);
    gc_bench_request_t *request = s_ring_push (&self->requests);
    frame->size = size;
    memcpy (frame->data + LWS_PRE, gc_bench_pool_scratch (self->pool), size);
    *slot = frame;
    gc_bench_pool_counters (self->pool)->requests++;
    *request = (gc_bench_request_t) {
        .id = self->next_id++, .kind = kind, .room = room, .stamp = stamp
    };
    if (self->state == GC_BENCH_OPEN)
        lws_callback_on_writable (self->wsi);
    return 0;
}

int
gc_bench_conn_login (gc_bench_conn_t *self, const char *user, const char *password)
{
    size_t size = gc_wire_login (gc_bench_pool_scratch (self->pool), GC_BENCH_SCRATCH,
                                 self->next_id, user, password);
    return s_send (self, size, GC_BENCH_LOGIN, -1, gc_clock_mono_us ());
}

int
gc_bench_conn_join (gc_bench_conn_t *self, const char *room_name, int room)
{
    s_room_t *slot = s_room (self, room);
    for (int index = 0; !slot && index < GC_BENCH_CONN_ROOMS; index++)
        if (!self->rooms [index].name) {
            slot = &self->rooms [index];
            *slot = (s_room_t) { .name = room_name, .tag = room };
        }
    if (!slot)
        return -1;
    size_t size = gc_wire_join (gc_bench_pool_scratch (self->pool), GC_BENCH_SCRATCH,
                                self->next_id, room_name);
    return s_send (self, size, GC_BENCH_JOIN, room, gc_clock_mono_us ());
}

int
gc_bench_conn_leave (gc_bench_conn_t *self, int room)
{
    s_room_t *slot = s_room (self, room);
    if (!slot)
        return -1;
    size_t size = gc_wire_leave (gc_bench_pool_scratch (self->pool), GC_BENCH_SCRATCH,
                                 self->next_id, slot->name);
    return s_send (self, size, GC_BENCH_LEAVE, room, gc_clock_mono_us ());
}

int
gc_bench_conn_say (gc_bench_conn_t *self, int room, int64_t stamp, size_t bytes)
{
    s_room_t *slot = s_room (self, room);
    if (!slot)
        return -1;
    size_t size = gc_wire_say (gc_bench_pool_scratch (self->pool), GC_BENCH_SCRATCH,
                               self->next_id, slot->name, stamp, bytes);
    return s_send (self, size, GC_BENCH_SAY, room, stamp);
}

//  --------------------------------------------------------------------------
//  What comes back

//  What a join or leave reply changes about the room's slot
static void
s_settle_room (gc_bench_conn_t *self, const gc_bench_request_t *request,
               const gc_wire_frame_t *frame)
{
    s_room_t *slot = s_room (self, request->room);
    bool ok = frame->op == GC_CLIENT_OK;
    if (!slot)
        return;
    if (request->kind == GC_BENCH_JOIN && ok && !slot->joined) {
        //  Pushes follow the history with no gap; a join again changes
        //  nothing about what is due next
        gc_order_init (&slot->order, frame->last + 1);
        slot->joined = true;
    }
    else
    if ((request->kind == GC_BENCH_JOIN && !ok && !slot->joined)
    ||  (request->kind == GC_BENCH_LEAVE && ok))
        slot->name = NULL;      //  the slot is free again
}

//  A reply: settles its request, then tells the driver
static void
s_on_reply (gc_bench_conn_t *self, const gc_wire_frame_t *frame, int64_t now)
{
    gc_bench_stats_t *stats = gc_bench_pool_counters (self->pool);
    gc_bench_request_t *front = s_ring_front (&self->requests);
    if (!front || front->id != frame->id) {
        stats->faults++;            //  a reply out of order, or to nothing
        return;
    }
    gc_bench_request_t request = *front;
    s_ring_pop (&self->requests);
    bool ok = frame->op == GC_CLIENT_OK;
    if (ok)
        stats->replies_ok++;
    else
    if (self->refusals_expected)
        stats->replies_refused++;
    else {
        stats->replies_error++;
        snprintf (stats->last_error, sizeof stats->last_error, "%s", gc_error_name (frame->code));
    }
    if (request.kind == GC_BENCH_LOGIN && ok && frame->token [0])
        gc_bench_pool_set_token (self->pool, frame->token);
    if (request.kind == GC_BENCH_JOIN || request.kind == GC_BENCH_LEAVE)
        s_settle_room (self, &request, frame);
    if (self->events && self->events->replied)
        self->events->replied (self->events_arg, self, &request, frame, now);
}

static void
s_on_push (gc_bench_conn_t *self, const gc_wire_frame_t *frame, int64_t now)
{
    gc_bench_stats_t *stats = gc_bench_pool_counters (self->pool);
    stats->pushes++;
    for (int index = 0; index < GC_BENCH_CONN_ROOMS; index++) {
        s_room_t *slot = &self->rooms [index];
        if (slot->name && slot->joined && strcmp (slot->name, frame->room) == 0) {
            gc_order_see (&slot->order, frame->seq);
            if (self->events && self->events->pushed)
                self->events->pushed (self->events_arg, self, slot->tag, frame, now);
            return;
        }
    }
    stats->faults++;                //  a push for a room not joined
}

static void
s_on_frame (gc_bench_conn_t *self, const char *data, size_t size)
{
    gc_wire_frame_t frame;
    if (gc_wire_parse (&frame, data, size)) {
        gc_bench_pool_counters (self->pool)->faults++;
        return;
    }
    int64_t now = gc_clock_mono_us ();
    if (frame.op == GC_CLIENT_MESSAGE)
        s_on_push (self, &frame, now);
    else
    if (frame.op == GC_CLIENT_OK || frame.op == GC_CLIENT_ERROR)
        s_on_reply (self, &frame, now);
    else
    if (frame.op == GC_CLIENT_LEFT)
        for (int index = 0; index < GC_BENCH_CONN_ROOMS; index++)
            if (self->rooms [index].name && strcmp (self->rooms [index].name, frame.room) == 0)
                self->rooms [index].name = NULL;
}

//  --------------------------------------------------------------------------
//  libwebsockets events

int
gc_bench_conn_connect (gc_bench_conn_t *self, struct lws_client_connect_info *info)
{
    self->state = GC_BENCH_CONNECTING;
    info->userdata = self;
    info->pwsi = &self->wsi;
    if (!lws_client_connect_via_info (info) && self->state == GC_BENCH_CONNECTING) {
        //  Failed before any callback said so
        gc_bench_conn_on_close (self);
        return -1;
    }
    return 0;
}

void
gc_bench_conn_forward (gc_bench_conn_t *self, uint32_t address)
{
    snprintf (self->forwarded, sizeof self->forwarded, "%u.%u.%u.%u",
              address >> 24, (address >> 16) & 255, (address >> 8) & 255, address & 255);
}

int
gc_bench_conn_on_handshake (gc_bench_conn_t *self, void *in, size_t len)
{
    unsigned char **position = in, *end = *position + len;
    if (!*self->forwarded)
        return 0;
    return lws_add_http_header_by_name (self->wsi, (const unsigned char *) "x-forwarded-for:",
                                        (const unsigned char *) self->forwarded,
                                        (int) strlen (self->forwarded), position, end)? -1: 0;
}

void
gc_bench_conn_on_open (gc_bench_conn_t *self)
{
    self->state = GC_BENCH_OPEN;
    gc_bench_pool_counters (self->pool)->opened++;
    gc_bench_pool_connected (self->pool, self);
    if (self->out.count)
        lws_callback_on_writable (self->wsi);
}

int
gc_bench_conn_on_receive (gc_bench_conn_t *self, const void *data, size_t size)
{
    bool complete = lws_is_final_fragment (self->wsi)
                 && lws_remaining_packet_payload (self->wsi) == 0;
    if (complete && self->rx_size == 0) {
        s_on_frame (self, data, size);
        return 0;
    }
    if (self->rx_size + size > 4 * GC_FRAME_MAX) {
        gc_bench_pool_counters (self->pool)->faults++;
        return -1;                  //  no gateway sends that: drop the connection
    }
    if (self->rx_size + size > self->rx_capacity) {
        size_t capacity = (self->rx_size + size) * 2;
        self->rx = gc_realloc (self->rx, capacity);
        self->rx_capacity = capacity;
    }
    memcpy (self->rx + self->rx_size, data, size);
    self->rx_size += size;
    if (complete) {
        s_on_frame (self, self->rx, self->rx_size);
        self->rx_size = 0;
    }
    return 0;
}

int
gc_bench_conn_on_writable (gc_bench_conn_t *self)
{
    s_out_t **front = s_ring_front (&self->out);
    if (!front)
        return 0;                   //  a spurious writable
    s_out_t *frame = *front;
    s_ring_pop (&self->out);
    int written = lws_write (self->wsi, frame->data + LWS_PRE, frame->size, LWS_WRITE_TEXT);
    bool whole = written >= (int) frame->size;
    free (frame);
    if (!whole)
        return -1;
    if (self->out.count)
        lws_callback_on_writable (self->wsi);
    return 0;
}

void
gc_bench_conn_on_close (gc_bench_conn_t *self)
{
    if (self->state == GC_BENCH_CLOSED)
        return;
    gc_bench_stats_t *stats = gc_bench_pool_counters (self->pool);
    bool was_connecting = self->state == GC_BENCH_CONNECTING;
    if (was_connecting)
        stats->failed++;
    else
        stats->closed++;
    stats->lost += self->requests.count;
    self->state = GC_BENCH_CLOSED;
    self->wsi = NULL;
    if (was_connecting)
        gc_bench_pool_connected (self->pool, self);
    //  The driver may want to know what was pending: tell it first
    if (self->events && self->events->closed)
        self->events->closed (self->events_arg, self);
    s_drop_queues (self);
}

//  --------------------------------------------------------------------------
//  Accessors

void
gc_bench_conn_expect_refusals (gc_bench_conn_t *self)
{
    self->refusals_expected = true;
}

gc_bench_state_t
gc_bench_conn_state (const gc_bench_conn_t *self)
{
    return self->state;
}

size_t
gc_bench_conn_pending (const gc_bench_conn_t *self)
{
    return self->requests.count;
}

gc_order_t *
gc_bench_conn_order (gc_bench_conn_t *self, int room)
{
    s_room_t *slot = s_room (self, room);
    return slot && slot->joined? &slot->order: NULL;
}

size_t
gc_bench_conn_url (const gc_bench_conn_t *self)
{
    return self->url;
}
