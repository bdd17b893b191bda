/*  conn.c: one client's WebSocket connection.

    Requests are queued as slots in arrival order and replied to in that
    order. A slot is started (checked, and sent to the broker if need be)
    once the requests before it are done, so each sees the effect of the
    ones before: a say right after a join is in the room, a history right
    after a say includes it. Only consecutive says are in flight together:
    the broker stores them in arrival order, so nothing is lost by not
    waiting, and a sender need not wait a commit per message.
    Writing takes the oldest finished reply first, then the next message
    of one of the connection's rooms, taking the rooms in turn, and sends
    what is ready in one write.
    The rate limit is a token bucket checked before a frame is parsed: a
    frame that finds it empty is answered rate_limited, and nothing more
    is read until it holds a token again.
    A session ends when the broker says so (the user was removed, or
    their password set): the connection is logged out at once, is pushed
    `closed` after the replies already finished, and is closed with
    GC_CLOSE_SESSION_ENDED (docs/protocol.md, "Session end"). */
#include "conn.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_text.h"
#include "gc_log.h"
#include "gc_clock.h"

typedef enum { SLOT_WAITING, SLOT_IN_FLIGHT, SLOT_READY } s_state_t;

typedef struct {
    lws_dll2_t in_conn;         //  link in the connection's slot queue
    gc_conn_t *conn;
    s_state_t state;
    gc_request_t request;       //  the parsed client request
    int64_t arrived_ms;         //  when it reached the gateway
    uint64_t rid;               //  broker request in flight, 0 if none
    gc_room_t *held_room;       //  a join's room, held until the reply
    gc_out_t out;               //  the reply frame, once READY
} s_slot_t;

struct gc_conn_t {
    lws_dll2_t in_gateway;      //  link in the gateway's connection list
    gc_gateway_parts_t *parts;  //  the gateway's; NULL once closed
    gc_link_t *link;            //  parts->link, to the broker
    gc_rooms_t *rooms;          //  parts->rooms
    gc_counters_t *counters;    //  &parts->counters
    unsigned char *batch;       //  parts->batch, the write batch
    struct lws *wsi;            //  NULL for plain HTTP requests
    uint64_t id;                //  for log lines
    char *user;                 //  logged in as, NULL before login
    char *token;                //  the login's token, for logout
    char address [GC_ADDRESS_MAX + 1];  //  the client's, for login throttling
    uint64_t generation;        //  the login's, sent with every request
    char *ending;               //  the session ended, why: closed pushed, closing
    lws_dll2_owner_t members;   //  rooms joined, in turn order
    lws_dll2_owner_t slots;     //  requests in arrival order
    s_slot_t *first_waiting;    //  where s_dispatch starts, NULL: none waits
    unsigned in_flight;         //  slots waiting for the broker
    unsigned in_flight_others;  //  of which not says
    unsigned char *rx;          //  a message arriving in pieces
    size_t rx_size;
    bool rx_full;               //  too many slots queued, or reply bytes held
    bool rx_limited;            //  a frame came over the rate, no token yet
    bool rx_paused;             //  reading stopped, for either reason
    double tokens;              //  rate limit bucket
    int64_t tokens_ms;          //  monotonic, when last filled
    int64_t opened_ms;          //  monotonic, for the login timeout
    int64_t waiting_since;      //  monotonic ms: data ready, socket not writable
    s_slot_t *next_slot;        //  what gc_conn_peek chose: a reply,
    gc_member_t *next_member;   //  or a room's next message
};

static void s_dispatch (gc_conn_t *self);
static size_t s_held_bytes (gc_conn_t *self);

size_t
gc_conn_size (void)
{
    return sizeof (gc_conn_t);
}

static void
s_wake (gc_conn_t *self)
{
    if (!self->wsi)
        return;
    lws_callback_on_writable (self->wsi);
    if (!self->waiting_since)
        self->waiting_since = gc_clock_mono_us () / 1000;
}

//  --------------------------------------------------------------------------
//  Rooms joined

static gc_member_t *
s_member (gc_conn_t *self, const char *room)
{
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->members)) {
        gc_member_t *member = gc_member_of_owner_link (node);
        if (strcmp (gc_room_name (gc_member_place (member)->room), room) == 0)
            return member;
    } lws_end_foreach_dll (node);
    return NULL;
}

static void
s_leave (gc_member_t *member)
{
    gc_conn_t *self = gc_member_place (member)->owner;
    if (self->next_member == member)
        self->next_member = NULL;
    lws_dll2_remove (&gc_member_place (member)->in_owner);
    gc_room_leave (&member);
}

static void
s_leave_all (gc_conn_t *self)
{
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next,
                                lws_dll2_get_head (&self->members)) {
        s_leave (gc_member_of_owner_link (node));
    } lws_end_foreach_dll_safe (node, next);
}

//  The room has something for the member to receive
static void
s_on_wake (void *owner, gc_member_t *member)
{
    (void) member;
    s_wake (owner);
}

static void s_on_kick (void *owner, gc_member_t *member);
static void s_on_push (void *owner, gc_member_t *member, const gc_out_t *frame);

//  Joins, or joins again: pushes go on from the newest seq either the
//  connection was given or the join reply covers, so nothing repeats
static void
s_joined (gc_conn_t *self, gc_room_t *room, const gc_request_t *request,
          const gc_frame_t *reply)
{
    uint64_t covered = reply->head;
    if (request->has_since && reply->history_size)
        covered = reply->history [reply->history_size - 1].seq;
    gc_member_t *member = s_member (self, gc_room_name (room));
    if (!member) {
        member = gc_room_join (room, self->user, self->generation, covered,
                               s_on_wake, s_on_kick, self);
        gc_member_place (member)->push = s_on_push;
        lws_dll2_add_tail (&gc_member_place (member)->in_owner, &self->members);
    }
    else
    if (covered > gc_member_place (member)->cursor)
        gc_member_place (member)->cursor = covered;
    gc_room_joined (room, reply->head);
    gc_info ("joined conn=%lu user=%s room=%s seq=%lu", (unsigned long) self->id,
             gc_log_quoted (self->user), gc_log_quoted (gc_room_name (room)), (unsigned long) gc_member_place (member)->cursor);
}

//  A ready slot for an event the server sends of itself (left, closed),
//  queued in order with the replies; the caller fills its frame
static gc_out_t *
s_push (gc_conn_t *self)
{
    s_slot_t *slot = gc_calloc (1, sizeof *slot);
    slot->conn = self;
    slot->state = SLOT_READY;
    lws_dll2_add_tail (&slot->in_conn, &self->slots);
    s_wake (self);
    return &slot->out;
}

//  A presence or typing push of one of its rooms, queued after the
//  replies before it: after the join reply of a room just joined
static void
s_on_push (void *owner, gc_member_t *member, const gc_out_t *frame)
{
    (void) member;
    gc_out_copy (s_push (owner), frame);
}

//  The user was removed from the room's group: leave it, and tell the
//  client with a `left` event, in order with its replies
static void
s_on_kick (void *owner, gc_member_t *member)
{
    gc_conn_t *self = owner;
    const char *room = gc_room_name (gc_member_place (member)->room);
    gc_out_left (s_push (self), room, "removed from the group");
    gc_info ("put out conn=%lu user=%s room=%s", (unsigned long) self->id,
             gc_log_quoted (self->user), gc_log_quoted (room));
    s_leave (member);
}

//  Every login and logout goes through here, which keeps the gateway's
//  count of the connections logged in as each user
static void
s_set_user (gc_conn_t *self, const char *user, gc_str_t token, uint64_t generation)
{
    gc_admission_t *admission = self->parts->admission;
    s_leave_all (self);
    if (self->user)
        gc_admission_logged_out (admission, self->user);
    if (user)
        gc_admission_logged_in (admission, user);
    free (self->user);
    free (self->token);
    self->user = user? gc_strdup (user): NULL;
    self->token = user? gc_alloc_checked (gc_str_dup (token)): NULL;
    self->generation = user? generation: 0;
    //  Logged out: the time to log in again starts now
    if (!user)
        self->opened_ms = gc_clock_mono_us () / 1000;
}

//  --------------------------------------------------------------------------
//  Slots

//  Every change of state goes through here, to keep the counts of slots
//  in flight that s_dispatch decides by
static void
s_slot_set_state (s_slot_t *slot, s_state_t state)
{
    gc_conn_t *self = slot->conn;
    unsigned other = slot->request.op != GC_CLIENT_SAY;
    if (slot->state == SLOT_IN_FLIGHT) {
        self->in_flight--;
        self->in_flight_others -= other;
    }
    if (state == SLOT_IN_FLIGHT) {
        self->in_flight++;
        self->in_flight_others += other;
    }
    slot->state = state;
}

//  A typing without an id is answered by nothing, not even an error
//  (docs/protocol.md): its slot is ready with no frame, and goes
static bool
s_silent (const s_slot_t *slot)
{
    return slot->request.op == GC_CLIENT_TYPING && !slot->request.has_id;
}

//  retry_after: ms the client should wait before trying again, 0: none said
static void
s_slot_refuse (s_slot_t *slot, gc_error_t code, const char *message, uint64_t retry_after)
{
    if (code == GC_UNAVAILABLE)
        gc_counters_count (slot->conn->counters, GC_COUNTER_UNAVAILABLE);
    if (!s_silent (slot))
        gc_out_error (&slot->out, &slot->request, code, message, retry_after);
    s_slot_set_state (slot, SLOT_READY);
}

static void
s_slot_error (s_slot_t *slot, gc_error_t code, const char *message)
{
    s_slot_refuse (slot, code, message, 0);
}

static void
s_slot_free (s_slot_t *slot)
{
    s_slot_set_state (slot, SLOT_READY);
    if (slot->conn->next_slot == slot)
        slot->conn->next_slot = NULL;
    lws_dll2_remove (&slot->in_conn);
    gc_link_forget (slot->conn->link, slot->rid);
    if (slot->held_room) {
        gc_room_hold (slot->held_room, -1);
        gc_room_release_if_empty (slot->held_room);
    }
    gc_request_release (&slot->request);
    gc_out_free (&slot->out);
    free (slot);
}

//  Applies a successful broker reply to the connection's state
static void
s_apply (s_slot_t *slot, const gc_frame_t *reply)
{
    gc_conn_t *self = slot->conn;
    const gc_request_t *request = &slot->request;
    if (request->op == GC_CLIENT_LOGIN) {
        char *user = gc_alloc_checked (gc_str_dup (reply->user));
        s_set_user (self, user, reply->token, reply->generation);
        free (user);
        gc_counters_count (self->counters, GC_COUNTER_LOGINS_OK);
        gc_info ("login conn=%lu user=%s", (unsigned long) self->id,
                 gc_log_quoted (self->user));
    }
    else
    if (request->op == GC_CLIENT_LOGOUT)
        s_set_user (self, NULL, (gc_str_t) { NULL, 0 }, 0);
    else
    if (request->op == GC_CLIENT_JOIN)
        s_joined (self, slot->held_room, request, reply);
}

static void
s_on_revoked (void *arg, const gc_frame_t *reply)
{
    (void) arg;
    if (!reply || reply->op != GC_OP_OK)
        gc_warn ("the token of a login refused here was not revoked: unused, it lapses in 24 h");
}

//  A token nobody was given is of no use to anyone but a thief
static void
s_revoke (gc_conn_t *self, gc_str_t token)
{
    gc_frame_t frame;
    gc_frame_init (&frame, GC_OP_LOGOUT);
    gc_frame_set_str (&frame, GC_F_TOKEN, token.ptr, token.len);
    if (!gc_link_request (self->link, &frame, gc_clock_wall_ms (), s_on_revoked, NULL))
        s_on_revoked (NULL, NULL);
}

//  The broker took a login, but its user holds all the connections to
//  this gateway they may: it is refused all the same, and the connection
//  stays as it was. A password login's token was made for this login and
//  is revoked; a token login's is the client's, perhaps in use on other
//  connections, and is only not kept. Returns true when it refused.
static bool
s_refuse_over_user_limit (s_slot_t *slot, const gc_frame_t *reply)
{
    gc_conn_t *self = slot->conn;
    if (slot->request.op != GC_CLIENT_LOGIN)
        return false;
    char *user = gc_alloc_checked (gc_str_dup (reply->user));
    char why [GC_NAME_MAX + 64];
    bool refused = gc_admission_check_login (self->parts->admission, user, self->user,
                                             why, sizeof why) != 0;
    if (refused) {
        gc_counters_count (self->counters, GC_COUNTER_USER_LOGINS_REFUSED);
        gc_info ("login refused conn=%lu user=%s reason=too_many_connections",
                 (unsigned long) self->id, user);
        s_slot_error (slot, GC_TOO_MANY_CONNECTIONS, why);
        if (!slot->request.token)
            s_revoke (self, reply->token);
    }
    free (user);
    return refused;
}

static gc_error_t
s_broker_error (const gc_frame_t *reply)
{
    //  expired, internal and forbidden (this gateway's key was revoked)
    //  all mean nothing was done: to a client that is the broker being
    //  unavailable
    if (reply->code == GC_EXPIRED || reply->code == GC_INTERNAL
    ||  reply->code == GC_FORBIDDEN || reply->code >= GC_ERROR_COUNT)
        return GC_UNAVAILABLE;
    return reply->code;
}

static void s_end (gc_conn_t *self, const char *reason);

//  Reading stops for either reason and goes on only when neither holds:
//  the end of one pause must not end the other
static void
s_rx_flow (gc_conn_t *self)
{
    bool paused = self->rx_full || self->rx_limited;
    if (paused == self->rx_paused)
        return;
    self->rx_paused = paused;
    if (self->wsi)
        lws_rx_flow_control (self->wsi, !paused);
}

//  A client that does not read its replies stops being read: requests
//  queue in the kernel and its own buffers, not here, and the stalled
//  reader check closes it if it never reads again. Counted in requests
//  and in bytes: a join with since is a reply of up to a few MB
static void
s_pause_if_full (gc_conn_t *self)
{
    if (self->rx_full
    ||  (self->slots.count < GC_CONN_SLOTS_MAX && s_held_bytes (self) < GC_CONN_HELD_MAX))
        return;
    self->rx_full = true;
    s_rx_flow (self);
}

//  A request the broker refused as not_logged_in came from a login that
//  is over (a closed event this gateway has not heard yet, or lost): the
//  session ends here too, for the reason the broker gave. The slot is
//  answered first; it may be freed by the end.
static void
s_on_reply (void *arg, const gc_frame_t *reply)
{
    s_slot_t *slot = arg;
    gc_conn_t *self = slot->conn;
    slot->rid = 0;
    bool over = false;
    char reason [GC_CLOSE_REASON_MAX + 1] = GC_REASON_ENDED;
    if (!reply)
        s_slot_error (slot, GC_UNAVAILABLE, NULL);
    else
    if (reply->op != GC_OP_OK) {
        gc_error_t code = s_broker_error (reply);
        char *message = code == reply->code && (reply->fields & GC_F_MESSAGE)?
                        gc_alloc_checked (gc_str_dup (reply->message)): NULL;
        s_slot_refuse (slot, code, message,
                       reply->fields & GC_F_RETRY_AFTER? reply->retry_after: 0);
        free (message);
        if (slot->request.op == GC_CLIENT_LOGIN && code == GC_BAD_CREDENTIALS)
            gc_counters_count (self->counters, GC_COUNTER_LOGINS_FAILED);
        over = code == GC_NOT_LOGGED_IN && slot->request.op != GC_CLIENT_LOGIN && self->user;
        if (over && (reply->fields & GC_F_MESSAGE))
            gc_str_copy (reply->message, reason, sizeof reason);
    }
    else
    if (!s_refuse_over_user_limit (slot, reply)) {
        s_apply (slot, reply);
        gc_out_ok (&slot->out, &slot->request,
                    gc_reply_fields (&slot->request, reply, self->user));
        s_slot_set_state (slot, SLOT_READY);
    }
    if (slot->held_room) {
        gc_room_hold (slot->held_room, -1);
        gc_room_release_if_empty (slot->held_room);
        slot->held_room = NULL;
    }
    if (over)
        s_end (self, reason);
    s_dispatch (self);
    s_wake (self);
    s_pause_if_full (self);
}

//  Sends the slot's broker request; answers unavailable if it cannot go
static void
s_send (s_slot_t *slot, gc_frame_t *frame)
{
    gc_conn_t *self = slot->conn;
    if (self->user && frame->op != GC_OP_LOGIN) {
        gc_frame_set_cstr (frame, GC_F_USER, self->user);
        gc_frame_set_uint (frame, GC_F_GENERATION, self->generation);
    }
    slot->rid = gc_link_request (self->link, frame, slot->arrived_ms, s_on_reply, slot);
    if (slot->rid)
        s_slot_set_state (slot, SLOT_IN_FLIGHT);
    else
        s_slot_error (slot, GC_UNAVAILABLE, NULL);
}

static void
s_start_login (s_slot_t *slot, gc_frame_t *frame)
{
    const gc_request_t *request = &slot->request;
    if (request->token)
        gc_frame_set_str (frame, GC_F_TOKEN, request->token, request->token_len);
    else {
        gc_frame_set_str (frame, GC_F_USER, request->user, request->user_len);
        gc_frame_set_str (frame, GC_F_PASSWORD, request->password, request->password_len);
        if (*slot->conn->address)
            gc_frame_set_cstr (frame, GC_F_ADDRESS, slot->conn->address);
    }
    s_send (slot, frame);
}

//  A room joined already takes no further place
static bool
s_rooms_full (gc_conn_t *self, const char *room)
{
    return self->members.count >= self->parts->max_rooms && !s_member (self, room);
}

static void
s_start_join (s_slot_t *slot, gc_frame_t *frame)
{
    const gc_request_t *request = &slot->request;
    if (s_rooms_full (slot->conn, request->room)) {
        char why [128];
        snprintf (why, sizeof why, "this connection is in all the rooms it may be in (%zu): "
                  "leave one first", slot->conn->parts->max_rooms);
        gc_counters_count (slot->conn->counters, GC_COUNTER_JOINS_REFUSED);
        s_slot_error (slot, GC_TOO_MANY_ROOMS, why);
        return;
    }
    gc_room_t *room = gc_rooms_require (slot->conn->rooms, request->room, request->room_len);
    gc_room_hold (room, 1);
    slot->held_room = room;
    gc_frame_set_str (frame, GC_F_ROOM, request->room, request->room_len);
    if (request->has_since)
        gc_frame_set_uint (frame, GC_F_SINCE, request->since);
    s_send (slot, frame);
    if (slot->state == SLOT_READY) {
        gc_room_hold (room, -1);
        gc_room_release_if_empty (room);
        slot->held_room = NULL;
    }
}

static void
s_start_say (s_slot_t *slot, gc_frame_t *frame)
{
    const gc_request_t *request = &slot->request;
    gc_error_t code = gc_text_check (request->text, request->text_len);
    if (code != GC_OK)
        s_slot_error (slot, code, NULL);
    else {
        gc_frame_set_str (frame, GC_F_ROOM, request->room, request->room_len);
        gc_frame_set_str (frame, GC_F_TEXT, request->text, request->text_len);
        if (request->nonce)
            gc_frame_set_str (frame, GC_F_NONCE, request->nonce, request->nonce_len);
        s_send (slot, frame);
    }
}

static void
s_start_history (s_slot_t *slot, gc_frame_t *frame)
{
    const gc_request_t *request = &slot->request;
    gc_frame_set_str (frame, GC_F_ROOM, request->room, request->room_len);
    if (request->has_before)
        gc_frame_set_uint (frame, GC_F_BEFORE, request->before);
    gc_frame_set_uint (frame, GC_F_LIMIT, (uint64_t) request->limit);
    s_send (slot, frame);
}

static void
s_start (s_slot_t *slot)
{
    gc_conn_t *self = slot->conn;
    const gc_request_t *request = &slot->request;
    gc_frame_t frame;
    if (request->op != GC_CLIENT_LOGIN && !self->user) {
        s_slot_error (slot, GC_NOT_LOGGED_IN, NULL);
        return;
    }
    bool needs_room = request->op == GC_CLIENT_SAY || request->op == GC_CLIENT_LEAVE
                   || request->op == GC_CLIENT_HISTORY || request->op == GC_CLIENT_WHO
                   || request->op == GC_CLIENT_TYPING;
    gc_member_t *member = needs_room? s_member (self, request->room): NULL;
    if (needs_room && !member) {
        s_slot_error (slot, GC_NOT_IN_ROOM, NULL);
        return;
    }
    switch (request->op) {
        case GC_CLIENT_LOGIN:
            gc_frame_init (&frame, GC_OP_LOGIN);
            s_start_login (slot, &frame);
            break;
        case GC_CLIENT_LOGOUT:
            gc_frame_init (&frame, GC_OP_LOGOUT);
            gc_frame_set_cstr (&frame, GC_F_TOKEN, self->token? self->token: "");
            s_send (slot, &frame);
            break;
        case GC_CLIENT_ROOMS:
            gc_frame_init (&frame, GC_OP_ROOMS);
            s_send (slot, &frame);
            break;
        case GC_CLIENT_JOIN:
            gc_frame_init (&frame, GC_OP_JOIN);
            s_start_join (slot, &frame);
            break;
        case GC_CLIENT_SAY:
            gc_frame_init (&frame, GC_OP_SAY);
            s_start_say (slot, &frame);
            break;
        case GC_CLIENT_HISTORY:
            gc_frame_init (&frame, GC_OP_HISTORY);
            s_start_history (slot, &frame);
            break;
        case GC_CLIENT_LEAVE:
            s_leave (member);
            gc_out_ok (&slot->out, request, NULL);
            s_slot_set_state (slot, SLOT_READY);
            break;
        case GC_CLIENT_WHO:
            gc_frame_init (&frame, GC_OP_WHO);
            gc_frame_set_str (&frame, GC_F_ROOM, request->room, request->room_len);
            s_send (slot, &frame);
            break;
        case GC_CLIENT_TYPING:
            gc_room_typing (member);
            if (!s_silent (slot))
                gc_out_ok (&slot->out, request, NULL);
            s_slot_set_state (slot, SLOT_READY);
            break;
        default:
            s_slot_error (slot, GC_BAD_REQUEST, NULL);
    }
}

//  Bytes of replies written and waiting for the client to read them
static size_t
s_held_bytes (gc_conn_t *self)
{
    size_t bytes = 0;
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->slots)) {
        s_slot_t *slot = lws_container_of (node, s_slot_t, in_conn);
        if (slot->state == SLOT_READY)
            bytes += slot->out.size;
    } lws_end_foreach_dll (node);
    return bytes;
}

//  Starts the waiting slots whose predecessors are done (or are all says,
//  when it is a say too). Slots start in order, so those before the
//  first waiting one are all started: the walk begins there, and the
//  counts of slots in flight stand for everything before it.
static void
s_dispatch (gc_conn_t *self)
{
    struct lws_dll2 *node = self->first_waiting? &self->first_waiting->in_conn: NULL;
    //  Replies the client has not read hold enough: what waits goes on
    //  waiting until they are read (s_reply_sent dispatches again). Summed
    //  once: what s_start answers at once is an error of a few bytes
    if (node && s_held_bytes (self) >= GC_CONN_HELD_MAX)
        return;
    for (; node; node = node->next) {
        s_slot_t *slot = lws_container_of (node, s_slot_t, in_conn);
        if (slot->state != SLOT_WAITING)
            continue;           //  a `left` event, ready from the start
        bool say = slot->request.op == GC_CLIENT_SAY;
        if (self->in_flight && !(say && self->in_flight_others == 0))
            break;
        s_start (slot);
    }
    self->first_waiting = node? lws_container_of (node, s_slot_t, in_conn): NULL;
}

//  Token bucket: rate_limit per second, bursts of GC_RATE_BURST. Returns
//  0 when a token was taken, else the ms until the bucket holds one
static uint64_t
s_take_token (gc_conn_t *self, int64_t now)
{
    int rate = self->parts->rate_limit;
    if (rate <= 0)
        return 0;
    self->tokens += (double) (now - self->tokens_ms) * rate / 1000.0;
    if (self->tokens > GC_RATE_BURST (rate))
        self->tokens = GC_RATE_BURST (rate);
    self->tokens_ms = now;
    if (self->tokens < 1.0)
        return (uint64_t) ((1.0 - self->tokens) * 1000.0 / rate) + 1;
    self->tokens -= 1.0;
    return 0;
}

//  A frame over the rate is parsed only for the id its reply must carry,
//  and nothing more is read until the bucket holds a token again: a
//  flood then costs a parse per token, and TCP holds back the rest
static void
s_slot_over_rate (s_slot_t *slot, const char *data, size_t size, bool binary,
                  uint64_t wait_ms)
{
    gc_conn_t *self = slot->conn;
    gc_request_t parsed = { 0 };
    const char *why;
    if (!binary)
        gc_request_parse (data, size, &parsed, &why);
    slot->request.has_id = parsed.has_id;
    slot->request.id = parsed.id;
    gc_request_release (&parsed);
    s_slot_refuse (slot, GC_RATE_LIMITED, NULL, wait_ms);
    self->rx_limited = true;
    s_rx_flow (self);
    if (self->wsi)
        lws_set_timer_usecs (self->wsi, (lws_usec_t) wait_ms * LWS_US_PER_MS);
}

void
gc_conn_refilled (gc_conn_t *self)
{
    self->rx_limited = false;
    s_rx_flow (self);
}

//  Requests that come once the session ended are not read: the
//  connection is closing, and no reply would reach the client anyway.
//  The rate is checked before anything else, so a frame over it is
//  never taken for more than its id.
static void
s_queue_request (gc_conn_t *self, const char *data, size_t size, bool binary)
{
    if (self->ending)
        return;
    gc_counters_count (self->counters, GC_COUNTER_FRAMES_IN);
    s_slot_t *slot = gc_calloc (1, sizeof *slot);
    slot->conn = self;
    slot->arrived_ms = gc_clock_wall_ms ();
    lws_dll2_add_tail (&slot->in_conn, &self->slots);
    const char *why = NULL;
    uint64_t wait_ms = s_take_token (self, gc_clock_mono_us () / 1000);
    if (wait_ms)
        s_slot_over_rate (slot, data, size, binary, wait_ms);
    else
    if (binary)
        s_slot_error (slot, GC_BAD_REQUEST, "binary frames are not part of the protocol");
    else
    if (gc_request_parse (data, size, &slot->request, &why) != GC_OK)
        s_slot_error (slot, GC_BAD_REQUEST, why);
    if (!self->first_waiting && slot->state == SLOT_WAITING)
        self->first_waiting = slot;
    s_dispatch (self);
    s_wake (self);
    s_pause_if_full (self);
}

void
gc_conn_request (gc_conn_t *self, const char *data, size_t size)
{
    s_queue_request (self, data, size, false);
}

bool
gc_conn_reading (gc_conn_t *self)
{
    return !self->rx_paused;
}

unsigned
gc_conn_in_flight (gc_conn_t *self)
{
    return self->in_flight;
}

//  --------------------------------------------------------------------------
//  lws events

void
gc_conn_open (gc_conn_t *self, gc_gateway_parts_t *parts, struct lws *wsi)
{
    memset (self, 0, sizeof *self);
    self->parts = parts;
    self->link = parts->link;
    self->rooms = parts->rooms;
    self->counters = &parts->counters;
    self->batch = parts->batch;
    self->wsi = wsi;
    self->id = gc_counters_count (self->counters, GC_COUNTER_CONNECTIONS_OPENED);
    self->tokens = GC_RATE_BURST (parts->rate_limit);
    self->tokens_ms = gc_clock_mono_us () / 1000;
    self->opened_ms = self->tokens_ms;
    if (wsi && parts->proxies)
        gc_proxies_client_of (parts->proxies, wsi, self->address, sizeof self->address);
    else
        snprintf (self->address, sizeof self->address, "%s", "local");
    lws_dll2_add_tail (&self->in_gateway, &parts->conns);
    gc_debug ("open conn=%lu", (unsigned long) self->id);
}

const char *
gc_conn_address (gc_conn_t *self)
{
    return self->address;
}

void
gc_conn_close (gc_conn_t *self)
{
    if (!self->parts)
        return;                 //  never opened, or closed already
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next,
                                lws_dll2_get_head (&self->slots)) {
        s_slot_free (lws_container_of (node, s_slot_t, in_conn));
    } lws_end_foreach_dll_safe (node, next);
    self->first_waiting = NULL;
    s_set_user (self, NULL, (gc_str_t) { NULL, 0 }, 0);
    free (self->ending);
    self->ending = NULL;
    free (self->rx);
    lws_dll2_remove (&self->in_gateway);
    gc_counters_count (self->counters, GC_COUNTER_CONNECTIONS_CLOSED);
    gc_debug ("close conn=%lu", (unsigned long) self->id);
    self->parts = NULL;
    self->wsi = NULL;
}

//  Assembles a message that lws hands over in pieces; a message over
//  GC_FRAME_MAX closes the connection (1009) before it is buffered.
int
gc_conn_receive (gc_conn_t *self, const void *data, size_t size)
{
    struct lws *wsi = self->wsi;
    bool first = lws_is_first_fragment (wsi), final = lws_is_final_fragment (wsi);
    if (first)
        self->rx_size = 0;
    if (self->rx_size + size + lws_remaining_packet_payload (wsi) > GC_FRAME_MAX) {
        gc_info ("frame too large conn=%lu", (unsigned long) self->id);
        static const char reason [] = "frame too large";
        lws_close_reason (wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                          (unsigned char *) reason, sizeof reason - 1);
        return -1;
    }
    if (first && final) {
        s_queue_request (self, data, size, lws_frame_is_binary (wsi));
        return 0;
    }
    self->rx = gc_realloc (self->rx, self->rx_size + size);
    memcpy (self->rx + self->rx_size, data, size);
    self->rx_size += size;
    if (final) {
        s_queue_request (self, (char *) self->rx, self->rx_size, lws_frame_is_binary (wsi));
        free (self->rx);        //  idle connections hold no buffer
        self->rx = NULL;
        self->rx_size = 0;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Session end

//  Frees the slots from the first one not finished on: requests waiting
//  or at the broker get no reply, as on a dropped connection (a say among
//  them may or may not be stored); the replies before them keep their order
static void
s_drop_unfinished (gc_conn_t *self)
{
    bool finished = true;
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next,
                                lws_dll2_get_head (&self->slots)) {
        s_slot_t *slot = lws_container_of (node, s_slot_t, in_conn);
        finished = finished && slot->state == SLOT_READY;
        if (!finished)
            s_slot_free (slot);
    } lws_end_foreach_dll_safe (node, next);
    self->first_waiting = NULL;
}

//  The session is over: logged out at once (its rooms left, so nothing
//  more is pushed), then `closed` after the finished replies, then the
//  close (s_closing). A client that reads nothing is dropped after
//  GC_CLOSE_GRACE_S all the same.
static void
s_end (gc_conn_t *self, const char *reason)
{
    if (self->ending)
        return;
    gc_info ("session ended conn=%lu user=%s generation=%lu reason=\"%s\"",
             (unsigned long) self->id, gc_log_quoted (self->user),
             (unsigned long) self->generation, reason);
    self->ending = gc_strdup (reason);
    s_set_user (self, NULL, (gc_str_t) { NULL, 0 }, 0);
    s_drop_unfinished (self);
    gc_out_closed (s_push (self), reason);
    if (self->wsi)
        lws_set_timeout (self->wsi, PENDING_TIMEOUT_USER_OK, GC_CLOSE_GRACE_S);
}

//  Everything is written: closes with the session's code and reason once
//  lws has sent what it kept of the last write (it sends that before it
//  asks for more, so a writable without it comes next). -1: close now.
static int
s_closing (gc_conn_t *self)
{
    if (!self->wsi)
        return 0;
    if (lws_partial_buffered (self->wsi)) {
        s_wake (self);
        return 0;
    }
    lws_close_reason (self->wsi, (enum lws_close_status) GC_CLOSE_SESSION_ENDED,
                      (unsigned char *) self->ending, strlen (self->ending));
    return -1;
}

void
gc_conn_end_sessions (lws_dll2_owner_t *conns, const char *user, uint64_t below,
                      const char *reason)
{
    lws_start_foreach_dll_safe (struct lws_dll2 *, node, next, lws_dll2_get_head (conns)) {
        gc_conn_t *self = lws_container_of (node, gc_conn_t, in_gateway);
        if (self->user && strcmp (self->user, user) == 0 && self->generation < below)
            s_end (self, reason);
    } lws_end_foreach_dll_safe (node, next);
}

void
gc_conn_users (lws_dll2_owner_t *conns, zhashx_t *users)
{
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (conns)) {
        gc_conn_t *self = lws_container_of (node, gc_conn_t, in_gateway);
        if (self->user)
            zhashx_insert (users, self->user, self->user);
    } lws_end_foreach_dll (node);
}

//  --------------------------------------------------------------------------
//  Writing

static void s_resume_if_drained (gc_conn_t *self);

//  The oldest slot when it is ready; ready slots with nothing to send
//  (a typing without id) go on the way
static s_slot_t *
s_ready_slot (gc_conn_t *self)
{
    while (true) {
        struct lws_dll2 *head = lws_dll2_get_head (&self->slots);
        s_slot_t *slot = head? lws_container_of (head, s_slot_t, in_conn): NULL;
        if (!slot || slot->state != SLOT_READY)
            return NULL;
        if (slot->out.data)
            return slot;
        s_slot_free (slot);
        s_resume_if_drained (self);
    }
}

//  The first room, in turn order, with a message ready for this connection
static gc_member_t *
s_ready_member (gc_conn_t *self, const gc_out_t **frame)
{
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (&self->members)) {
        gc_member_t *member = gc_member_of_owner_link (node);
        *frame = gc_room_next_frame (member);
        if (*frame)
            return member;
    } lws_end_foreach_dll (node);
    return NULL;
}

//  Static, so that the write loop pays no call for it per frame
static const gc_out_t *
s_peek (gc_conn_t *self)
{
    const gc_out_t *frame = NULL;
    self->next_slot = s_ready_slot (self);
    self->next_member = self->next_slot? NULL: s_ready_member (self, &frame);
    return self->next_slot? &self->next_slot->out: frame;
}

static void
s_reply_sent (gc_conn_t *self, s_slot_t *slot)
{
    //  Pushes of a newly joined room wait until its join reply is out
    if (slot->request.op == GC_CLIENT_JOIN && slot->request.room) {
        gc_member_t *member = s_member (self, slot->request.room);
        if (member)
            gc_member_place (member)->announced = true;
    }
    s_slot_free (slot);
    s_dispatch (self);
    s_resume_if_drained (self);
}

//  Reading paused for too many slots or bytes goes on at half of either
static void
s_resume_if_drained (gc_conn_t *self)
{
    if (self->rx_full && self->slots.count < GC_CONN_SLOTS_MAX / 2
    &&  s_held_bytes (self) < GC_CONN_HELD_MAX / 2) {
        self->rx_full = false;
        s_rx_flow (self);
    }
}

static void
s_push_sent (gc_conn_t *self, gc_member_t *member)
{
    gc_member_delivered (member);
    gc_counters_count (self->counters, GC_COUNTER_MESSAGES_DELIVERED);
    //  Take rooms in turn: the one just served goes to the back
    lws_dll2_t *in_owner = &gc_member_place (member)->in_owner;
    lws_dll2_remove (in_owner);
    lws_dll2_add_tail (in_owner, &self->members);
}

static void
s_sent (gc_conn_t *self)
{
    gc_counters_count (self->counters, GC_COUNTER_FRAMES_OUT);
    if (self->next_slot)
        s_reply_sent (self, self->next_slot);
    else
    if (self->next_member)
        s_push_sent (self, self->next_member);
    self->next_slot = NULL;
    self->next_member = NULL;
}

const gc_out_t *
gc_conn_peek (gc_conn_t *self)
{
    return s_peek (self);
}

void
gc_conn_sent (gc_conn_t *self)
{
    s_sent (self);
}

//  The frames are whole WebSocket frames already (out.c): lws sends them
//  as they are, and keeps what the socket did not take for the next turn
static int
s_write_raw (gc_conn_t *self, unsigned char *data, size_t size)
{
    gc_counters_count (self->counters, GC_COUNTER_WRITES);
    return lws_write (self->wsi, data, size, LWS_WRITE_RAW) < 0? -1: 0;
}

//  Gathers what is ready, up to GC_BATCH_FRAMES frames in GC_BATCH_MAX
//  bytes, and writes it at once: a connection that fell behind catches up
//  with one system call for many frames, which is where the time goes
//  under load. One write per event, so that one busy connection does not
//  hold up the others (redis's NET_MAX_WRITES_PER_EVENT idea). A frame
//  too big for the batch goes alone, straight from its own buffer.
int
gc_conn_writable (gc_conn_t *self)
{
    unsigned char *batch = self->batch;
    size_t size = 0;
    for (int count = 0; count < GC_BATCH_FRAMES; count++) {
        const gc_out_t *frame = s_peek (self);
        if (!frame)
            break;
        size_t wire = gc_out_wire_size (frame);
        if (size + wire > GC_BATCH_MAX) {
            if (size)
                break;
            if (s_write_raw (self, gc_out_wire (frame), wire))
                return -1;
            s_sent (self);
            break;
        }
        memcpy (batch + size, gc_out_wire (frame), wire);
        size += wire;
        s_sent (self);
    }
    if (size && s_write_raw (self, batch, size))
        return -1;
    self->waiting_since = 0;
    if (s_peek (self))
        s_wake (self);
    else
    if (self->ending)
        return s_closing (self);
    return 0;
}

//  A connection that upgraded but never logged in holds a socket and
//  memory for nobody: it gets the login timeout, then is closed (a login
//  in flight, or one that failed, still counts as not logged in)
static bool
s_login_overdue (gc_conn_t *self, int64_t now)
{
    return self->wsi && !self->user && self->parts && self->parts->login_timeout_ms > 0
        && now - self->opened_ms > self->parts->login_timeout_ms;
}

//  Closes connections that made no write progress for GC_STALL_MS (now
//  is monotonic ms), and wakes members whose catch-up failed to try again
void
gc_conn_sweep (lws_dll2_owner_t *conns, int64_t now)
{
    //  No `continue` in here: lws's loop steps to the next node at its end
    lws_start_foreach_dll (struct lws_dll2 *, node, lws_dll2_get_head (conns)) {
        gc_conn_t *self = lws_container_of (node, gc_conn_t, in_gateway);
        if (self->wsi && self->waiting_since && now - self->waiting_since > GC_STALL_MS) {
            gc_counters_count (self->counters, GC_COUNTER_SLOW_READERS_CLOSED);
            gc_warn ("slow reader disconnected conn=%lu user=%s stalled_ms=%ld",
                     (unsigned long) self->id, gc_log_quoted (self->user),
                     (long) (now - self->waiting_since));
            self->waiting_since = 0;
            lws_set_timeout (self->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        else
        if (s_login_overdue (self, now)) {
            gc_info ("closed a connection that did not log in conn=%lu within_ms=%d",
                     (unsigned long) self->id, self->parts->login_timeout_ms);
            self->opened_ms = INT64_MAX / 2;    //  said and done once
            lws_set_timeout (self->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        else
        lws_start_foreach_dll (struct lws_dll2 *, at, lws_dll2_get_head (&self->members)) {
            if (gc_room_member_behind (gc_member_of_owner_link (at)))
                s_wake (self);
        } lws_end_foreach_dll (at);
    } lws_end_foreach_dll (node);
}

//  --------------------------------------------------------------------------
//  Self-test: a connection with no socket on a gateway with no listener,
//  against a real broker in this process. Requests go in whole and frames
//  come out through gc_conn_peek / gc_conn_sent, as a write would take them.

#include <assert.h>
#include "testbed.h"

typedef struct {
    int64_t id;                 //  of a reply, -1 for a push
    const char *op;             //  "ok", "error", "message", "left"
    json_int_t seq;             //  a push's, or a say reply's
    size_t history;             //  messages in a reply's history
} s_test_frame_t;

//  Newest seq pushed of Taskmaster [0] and of Quite Interesting [1]
static json_int_t s_test_pushed [2];

//  The link's events go to the rooms, as the gateway's server sends them
static void
s_test_on_event (void *arg, const gc_frame_t *event)
{
    gc_gateway_parts_t *parts = arg;
    gc_rooms_on_event (parts->rooms, event);
}

//  Takes the next frame, if one is ready, into *taken
static bool
s_test_take (gc_conn_t *self, s_test_frame_t *taken)
{
    const gc_out_t *frame = gc_conn_peek (self);
    if (!frame)
        return false;
    json_t *root = gc_testbed_frame (frame);
    json_t *id = json_object_get (root, "id");
    static char op [16];
    snprintf (op, sizeof op, "%s", json_string_value (json_object_get (root, "op")));
    taken->op = op;
    taken->id = id? json_integer_value (id): -1;
    taken->seq = json_integer_value (json_object_get (root, "seq"));
    taken->history = json_array_size (json_object_get (root, "history"));
    if (strcmp (op, "message") == 0) {
        //  Pushes come in order, nothing lost, nothing twice
        int room = strcmp (json_string_value (json_object_get (root, "room")), "Taskmaster")? 1: 0;
        assert (taken->seq == s_test_pushed [room] + 1);
        s_test_pushed [room] = taken->seq;
    }
    json_decref (root);
    gc_conn_sent (self);
    return true;
}

//  Waits for the next reply, skipping pushes; checks it is ok and has id
static s_test_frame_t
s_test_reply (struct lws_context *context, gc_conn_t *self, int64_t id, const char *op)
{
    s_test_frame_t taken = { 0 };
    GC_TESTBED_UNTIL (context, s_test_take (self, &taken) && taken.id >= 0);
    assert (taken.id == id && strcmp (taken.op, op) == 0);
    return taken;
}

static void
s_test_send (gc_conn_t *self, const char *request)
{
    gc_conn_request (self, request, strlen (request));
}

//  Only consecutive says go together; anything else waits for what is
//  before it, and makes what comes after it wait
static void
s_test_order (struct lws_context *context, gc_conn_t *self)
{
    s_test_send (self, "{\"op\":\"say\",\"id\":10,\"room\":\"Taskmaster\",\"text\":\"a\"}");
    s_test_send (self, "{\"op\":\"say\",\"id\":11,\"room\":\"Taskmaster\",\"text\":\"b\"}");
    s_test_send (self, "{\"op\":\"history\",\"id\":12,\"room\":\"Taskmaster\"}");
    s_test_send (self, "{\"op\":\"say\",\"id\":13,\"room\":\"Taskmaster\",\"text\":\"c\"}");
    assert (gc_conn_in_flight (self) == 2);
    json_int_t seq = s_test_reply (context, self, 10, "ok").seq;
    assert (s_test_reply (context, self, 11, "ok").seq == seq + 1);
    //  The history started once both says were stored: it holds them
    s_test_frame_t history = s_test_reply (context, self, 12, "ok");
    assert (history.history == (size_t) seq + 1);
    assert (s_test_reply (context, self, 13, "ok").seq == seq + 2);
    //  A say right after a join is in the room: it waited for the join
    s_test_send (self, "{\"op\":\"join\",\"id\":14,\"room\":\"Quite Interesting\"}");
    s_test_send (self, "{\"op\":\"say\",\"id\":15,\"room\":\"Quite Interesting\",\"text\":\"d\"}");
    assert (gc_conn_in_flight (self) == 1);
    s_test_reply (context, self, 14, "ok");
    assert (s_test_reply (context, self, 15, "ok").seq == 1);
    //  Every message of both rooms is pushed, in order (s_test_take)
    s_test_frame_t taken;
    GC_TESTBED_UNTIL (context, (s_test_take (self, &taken),
                                s_test_pushed [0] == seq + 2 && s_test_pushed [1] == 1));
    assert (s_test_pushed [0] == seq + 2 && s_test_pushed [1] == 1);
    assert (!gc_conn_peek (self));
}

//  Replies wait for those before them, in arrival order, and reading
//  pauses while GC_CONN_SLOTS_MAX requests are queued
static void
s_test_backpressure (gc_conn_t *self)
{
    for (int id = 0; id < GC_CONN_SLOTS_MAX; id++) {
        assert (gc_conn_reading (self));
        char request [64];
        snprintf (request, sizeof request, "{\"op\":\"nonsense\",\"id\":%d}", 1000 + id);
        s_test_send (self, request);
    }
    assert (!gc_conn_reading (self));
    s_test_frame_t taken;
    for (int id = 0; id < GC_CONN_SLOTS_MAX; id++) {
        assert (gc_conn_reading (self) == (GC_CONN_SLOTS_MAX - id < GC_CONN_SLOTS_MAX / 2));
        assert (s_test_take (self, &taken));
        assert (taken.id == 1000 + id && strcmp (taken.op, "error") == 0);
    }
    assert (gc_conn_reading (self) && !gc_conn_peek (self));
}

//  A frame over the rate gets rate_limited with its id and retry_after,
//  and stops reading; reading goes on only once neither the rate nor a
//  full queue holds it
static void
s_test_rate (gc_gateway_parts_t *parts)
{
    parts->rate_limit = 200;
    gc_conn_t *self = gc_malloc (gc_conn_size ());
    gc_conn_open (self, parts, NULL);
    assert (self->tokens == 400 && GC_RATE_BURST (5) == GC_RATE_BURST_MIN);
    for (int id = 0; id < GC_CONN_SLOTS_MAX; id++)
        s_test_send (self, "{\"op\":\"nonsense\"}");
    assert (!gc_conn_reading (self));
    //  A token a second from here: however slowly this runs (valgrind),
    //  none comes back between two statements
    parts->rate_limit = 1;
    self->tokens = 0;
    s_test_send (self, "{\"op\":\"rooms\",\"id\":7,\"pad\":[{},{}]}");
    gc_conn_refilled (self);
    assert (!gc_conn_reading (self));
    s_test_frame_t taken;
    for (int id = 0; id < GC_CONN_SLOTS_MAX; id++)
        assert (s_test_take (self, &taken) && taken.id == -1);
    assert (gc_conn_reading (self));
    self->tokens = 0;
    s_test_send (self, "[]");
    assert (!gc_conn_reading (self));
    gc_conn_refilled (self);
    assert (gc_conn_reading (self));
    for (int at = 0; at < 2; at++) {
        json_t *root = gc_testbed_frame (gc_conn_peek (self));
        json_int_t retry_after = json_integer_value (json_object_get (root, "retry_after"));
        assert (streq (json_string_value (json_object_get (root, "code")), "rate_limited"));
        assert (retry_after > 0 && retry_after <= 1000 + 1);
        assert (json_integer_value (json_object_get (root, "id")) == (at? 0: 7));
        assert (!json_object_get (root, "id") == (at == 1));
        json_decref (root);
        gc_conn_sent (self);
    }
    gc_conn_close (self);
    free (self);
    parts->rate_limit = 0;
}

//  The session ends: logged out and out of its rooms at once, the
//  replies finished before then `closed`, requests not finished get no
//  reply, and nothing more is read
static void
s_test_end (gc_gateway_parts_t *parts, gc_conn_t *self)
{
    zhashx_t *users = zhashx_new ();
    gc_conn_users (&parts->conns, users);
    assert (zhashx_size (users) == 1 && zhashx_lookup (users, "Sue"));
    zhashx_destroy (&users);
    s_test_send (self, "{\"op\":\"nonsense\",\"id\":30}");
    s_test_send (self, "{\"op\":\"rooms\",\"id\":31}");
    s_test_send (self, "{\"op\":\"rooms\",\"id\":32}");
    assert (gc_conn_in_flight (self) == 1);
    //  A login at the generation named, or after it, stays
    gc_conn_end_sessions (&parts->conns, "Sue", GC_TESTBED_GENERATION, GC_REASON_PASSWORD);
    gc_conn_end_sessions (&parts->conns, "Alex", UINT64_MAX, GC_REASON_REMOVED);
    assert (gc_conn_in_flight (self) == 1 && gc_rooms_size (parts->rooms) == 2);
    gc_conn_end_sessions (&parts->conns, "Sue", GC_TESTBED_GENERATION + 1, GC_REASON_PASSWORD);
    assert (gc_conn_in_flight (self) == 0 && gc_rooms_size (parts->rooms) == 0);
    s_test_frame_t taken;
    assert (s_test_take (self, &taken) && taken.id == 30 && streq (taken.op, "error"));
    assert (s_test_take (self, &taken) && taken.id == -1 && streq (taken.op, "closed"));
    s_test_send (self, "{\"op\":\"rooms\",\"id\":33}");
    assert (!gc_conn_peek (self) && gc_conn_in_flight (self) == 0);
    users = zhashx_new ();
    gc_conn_users (&parts->conns, users);
    assert (zhashx_size (users) == 0);
    zhashx_destroy (&users);
}

static void
s_test_on_set (void *arg, const gc_frame_t *reply)
{
    assert (reply && reply->op == GC_OP_OK);
    (*(int *) arg)++;
}

//  Sue's password is set behind the connection's back (this gateway has
//  no sessions to hear the closed event): the broker refuses the next
//  request of the old login, and the session ends for the broker's reason
static void
s_test_refused (struct lws_context *context, gc_gateway_parts_t *parts)
{
    gc_conn_t *self = gc_malloc (gc_conn_size ());
    gc_conn_open (self, parts, NULL);
    s_test_send (self, "{\"op\":\"login\",\"id\":1,\"user\":\"Sue\",\"password\":\"password\"}");
    s_test_reply (context, self, 1, "ok");
    gc_frame_t request;
    gc_frame_init (&request, GC_OP_PASSWORD_SET);
    gc_frame_set_cstr (&request, GC_F_USER, "Sue");
    gc_frame_set_cstr (&request, GC_F_HASH, "$argon2id$v=19$m=65536,t=2,p=1$new");
    int set = 0;
    assert (gc_link_request (parts->link, &request, gc_clock_wall_ms (), s_test_on_set, &set));
    GC_TESTBED_UNTIL (context, set == 1);
    s_test_send (self, "{\"op\":\"rooms\",\"id\":2}");
    s_test_reply (context, self, 2, "error");
    const gc_out_t *frame = gc_conn_peek (self);
    assert (frame);
    json_t *root = gc_testbed_frame (frame);
    assert (streq (json_string_value (json_object_get (root, "op")), "closed"));
    assert (streq (json_string_value (json_object_get (root, "reason")), GC_REASON_ENDED));
    json_decref (root);
    gc_conn_close (self);
    free (self);
}

void
gc_conn_test (bool verbose)
{
    if (verbose)
        printf (" * gc_conn: ");
    memset (s_test_pushed, 0, sizeof s_test_pushed);
    gc_testbed_t *testbed = gc_testbed_new ();
    struct lws_context *context = gc_testbed_context ();
    gc_gateway_parts_t *parts = gc_calloc (1, sizeof *parts);
    parts->link = gc_testbed_link (testbed, context, s_test_on_event, parts);
    parts->rooms = gc_rooms_new (parts->link, &parts->counters);
    parts->admission = gc_admission_new (1, 1, GC_GATEWAY_PER_USER_DEFAULT, NULL);
    parts->max_rooms = GC_GATEWAY_ROOMS_DEFAULT;
    GC_TESTBED_UNTIL (context, gc_link_up (parts->link));
    gc_conn_t *self = gc_malloc (gc_conn_size ());
    gc_conn_open (self, parts, NULL);

    //  Before login, every request but login is refused, in order
    s_test_send (self, "{\"op\":\"rooms\",\"id\":1}");
    s_test_send (self, "{\"op\":\"login\",\"id\":2,\"user\":\"Sue\",\"password\":\"password\"}");
    s_test_send (self, "{\"op\":\"join\",\"id\":3,\"room\":\"Taskmaster\"}");
    assert (gc_conn_in_flight (self) == 1);
    s_test_reply (context, self, 1, "error");
    s_test_reply (context, self, 2, "ok");
    s_test_reply (context, self, 3, "ok");
    s_test_order (context, self);
    s_test_backpressure (self);
    s_test_rate (parts);
    s_test_end (parts, self);
    s_test_refused (context, parts);

    gc_conn_close (self);
    gc_conn_close (self);
    free (self);
    assert (gc_rooms_size (parts->rooms) == 0);
    assert (gc_counters_get (&parts->counters, GC_COUNTER_LOGINS_OK) == 2);
    gc_link_stop (parts->link);
    lws_context_destroy (context);
    gc_rooms_destroy (&parts->rooms);
    gc_link_destroy (&parts->link);
    gc_admission_destroy (&parts->admission);
    free (parts);
    gc_testbed_destroy (&testbed);
    if (verbose)
        printf ("OK\n");
}
