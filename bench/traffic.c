/*  traffic.c: says and their deliveries (see traffic.h). */
#include <stdlib.h>
#include <string.h>
#include "traffic.h"
#include "gc_alloc.h"
#include "gc_clock.h"

//  A member connection and the room it is in
typedef struct {
    gc_bench_conn_t *conn;
    int room;
} s_member_t;

//  A growable array of members
typedef struct {
    s_member_t *items;
    size_t count;
    size_t capacity;
} s_members_t;

struct gc_bench_traffic_t {
    gc_bench_pool_t *pool;
    const char *const *rooms;
    size_t room_count;
    size_t bytes;               //  of each text
    s_members_t members;        //  every receiver
    s_members_t senders;        //  the members that also send
    uint64_t *room_members;     //  receivers per room
    uint64_t *room_acked;       //  acknowledged says per room
    int64_t *room_last;         //  highest acknowledged seq per room
    bool running;
    bool closed_loop;
    //  Open loop: message index is due at base + (index - base_index) / rate
    double rate;
    int64_t base;
    uint64_t base_index;
    uint64_t index;             //  the next message to send
    int64_t first_due;          //  pushes stamped earlier are not ours
    uint64_t outstanding;       //  says sent and not answered
    uint64_t delivered;         //  pushes of our messages, all windows
    gc_bench_window_t window;
};

#define S_TURN_MAX  1000        //  says sent per alarm, at most

static gc_bench_events_t s_events;

//  --------------------------------------------------------------------------
//  Construction

gc_bench_traffic_t *
gc_bench_traffic_new (gc_bench_pool_t *pool, const char *const *rooms, size_t room_count,
                      size_t bytes)
{
    gc_bench_traffic_t *self = gc_calloc (1, sizeof *self);
    self->pool = pool;
    self->rooms = rooms;
    self->room_count = room_count;
    self->bytes = bytes;
    self->first_due = INT64_MAX;
    self->room_members = gc_calloc (room_count, sizeof *self->room_members);
    self->room_acked = gc_calloc (room_count, sizeof *self->room_acked);
    self->room_last = gc_calloc (room_count, sizeof *self->room_last);
    self->window.latency = gc_hist_new ();
    self->window.ack = gc_hist_new ();
    self->window.lag = gc_hist_new ();
    return self;
}

void
gc_bench_traffic_destroy (gc_bench_traffic_t **self_p)
{
    gc_bench_traffic_t *self = *self_p;
    if (!self)
        return;
    gc_bench_traffic_stop (self);
    for (size_t index = 0; index < self->members.count; index++)
        gc_bench_conn_set_events (self->members.items [index].conn, NULL, NULL);
    free (self->members.items);
    free (self->senders.items);
    free (self->room_members);
    free (self->room_acked);
    free (self->room_last);
    gc_hist_destroy (&self->window.latency);
    gc_hist_destroy (&self->window.ack);
    gc_hist_destroy (&self->window.lag);
    free (self);
    *self_p = NULL;
}

static void
s_members_add (s_members_t *members, gc_bench_conn_t *conn, int room)
{
    if (members->count == members->capacity) {
        size_t capacity = members->capacity? members->capacity * 2: 16;
        members->items = gc_realloc (members->items, capacity * sizeof *members->items);
        members->capacity = capacity;
    }
    members->items [members->count++] = (s_member_t) { conn, room };
}

int
gc_bench_traffic_add (gc_bench_traffic_t *self, gc_bench_conn_t *conn, int room, bool sends)
{
    if (room < 0 || (size_t) room >= self->room_count)
        return -1;
    s_members_add (&self->members, conn, room);
    if (sends)
        s_members_add (&self->senders, conn, room);
    self->room_members [room]++;
    gc_bench_conn_set_events (conn, &s_events, self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Sending

static void
s_say (gc_bench_traffic_t *self, const s_member_t *sender, int64_t due)
{
    self->window.offered++;
    if (due < self->first_due)
        self->first_due = due;
    if (gc_bench_conn_say (sender->conn, sender->room, due, self->bytes) == 0)
        self->outstanding++;
    else
        self->window.errors++;
}

static int64_t
s_due (const gc_bench_traffic_t *self, uint64_t index)
{
    return self->base + (int64_t) ((double) (index - self->base_index) * 1e6 / self->rate);
}

//  The alarm: sends what is due by now, then sleeps until the next. A
//  turn sends at most S_TURN_MAX, so that replies are read in between
//  even when the bench has fallen far behind.
static void
s_on_alarm (void *arg, int64_t now)
{
    gc_bench_traffic_t *self = arg;
    if (!self->running || self->closed_loop || !self->senders.count)
        return;
    int64_t due;
    for (int sent = 0; sent < S_TURN_MAX && (due = s_due (self, self->index)) <= now; sent++) {
        s_say (self, &self->senders.items [self->index % self->senders.count], due);
        gc_hist_record (self->window.lag, now - due);
        self->index++;
    }
    gc_bench_pool_alarm (self->pool, s_due (self, self->index), s_on_alarm, self);
}

void
gc_bench_traffic_start (gc_bench_traffic_t *self, double rate, int64_t at)
{
    self->running = true;
    self->closed_loop = false;
    gc_bench_traffic_set_rate (self, rate, at);
}

void
gc_bench_traffic_set_rate (gc_bench_traffic_t *self, double rate, int64_t at)
{
    self->rate = rate > 0? rate: 1;
    self->base = at;
    self->base_index = self->index;
    if (self->running && !self->closed_loop)
        gc_bench_pool_alarm (self->pool, at, s_on_alarm, self);
}

void
gc_bench_traffic_start_closed (gc_bench_traffic_t *self, size_t inflight)
{
    self->running = true;
    self->closed_loop = true;
    int64_t now = gc_clock_mono_us ();
    for (size_t index = 0; index < self->senders.count; index++)
        for (size_t count = 0; count < inflight; count++)
            s_say (self, &self->senders.items [index], now);
}

void
gc_bench_traffic_stop (gc_bench_traffic_t *self)
{
    if (self->running && !self->closed_loop)
        gc_bench_pool_alarm (self->pool, -1, NULL, self);
    self->running = false;
}

//  --------------------------------------------------------------------------
//  What comes back

static void
s_on_replied (void *arg, gc_bench_conn_t *conn, const gc_bench_request_t *request,
              const gc_wire_frame_t *reply, int64_t now)
{
    gc_bench_traffic_t *self = arg;
    if (request->kind != GC_BENCH_SAY)
        return;
    self->outstanding--;
    if (reply->op != GC_CLIENT_OK) {
        self->window.errors++;
        return;
    }
    self->window.acked++;
    self->room_acked [request->room]++;
    if (reply->seq > self->room_last [request->room])
        self->room_last [request->room] = reply->seq;
    gc_hist_record (self->window.ack, now - request->stamp);
    if (self->running && self->closed_loop) {
        s_member_t sender = { conn, request->room };
        s_say (self, &sender, now);
    }
}

static void
s_on_pushed (void *arg, gc_bench_conn_t *conn, int room, const gc_wire_frame_t *push, int64_t now)
{
    (void) conn, (void) room;
    gc_bench_traffic_t *self = arg;
    if (push->stamp < self->first_due)
        return;                 //  not a message of this traffic
    self->delivered++;
    self->window.delivered++;
    gc_hist_record (self->window.latency, now - push->stamp);
}

static void
s_on_closed (void *arg, gc_bench_conn_t *conn)
{
    gc_bench_traffic_t *self = arg;
    //  Its says will never be answered (the pool counts them as lost),
    //  and nothing more is due to it
    self->outstanding -= gc_bench_conn_pending (conn) <= self->outstanding?
                         gc_bench_conn_pending (conn): self->outstanding;
    for (size_t index = 0; index < self->members.count; index++)
        if (self->members.items [index].conn == conn)
            self->room_members [self->members.items [index].room]--;
}

static gc_bench_events_t s_events = {
    .replied = s_on_replied,
    .pushed = s_on_pushed,
    .closed = s_on_closed
};

//  --------------------------------------------------------------------------
//  Windows and checks

void
gc_bench_traffic_window (gc_bench_traffic_t *self, int64_t now)
{
    gc_bench_window_t *window = &self->window;
    window->start = now;
    window->offered = window->acked = window->errors = window->delivered = 0;
    gc_hist_reset (window->latency);
    gc_hist_reset (window->ack);
    gc_hist_reset (window->lag);
}

const gc_bench_window_t *
gc_bench_traffic_current (const gc_bench_traffic_t *self)
{
    return &self->window;
}

bool
gc_bench_traffic_settled (void *arg)
{
    gc_bench_traffic_t *self = arg;
    if (self->outstanding)
        return false;
    //  Members that closed had some deliveries before: counting only
    //  those still open may call it settled early, never late
    uint64_t expected = 0;
    for (size_t room = 0; room < self->room_count; room++)
        expected += self->room_acked [room] * self->room_members [room];
    return self->delivered >= expected;
}

void
gc_bench_traffic_check (gc_bench_traffic_t *self, gc_bench_faults_t *faults)
{
    memset (faults, 0, sizeof *faults);
    faults->unanswered = self->outstanding;
    for (size_t index = 0; index < self->members.count; index++) {
        s_member_t *member = &self->members.items [index];
        gc_order_t *order = gc_bench_conn_order (member->conn, member->room);
        if (!order || gc_bench_conn_state (member->conn) != GC_BENCH_OPEN) {
            faults->absent++;
            continue;
        }
        gc_order_finish (order, self->room_last [member->room]);
        faults->missing += order->missing;
        faults->duplicates += order->duplicates;
        faults->reordered += order->reordered;
        faults->receivers++;
        if (gc_order_faults (order) > faults->worst)
            faults->worst = gc_order_faults (order);
    }
}
