/*  broker.c: the broker actor.

    One thread runs a zloop over the ROUTER (requests), the XPUB (events
    out, subscriptions in), the hash workers' verdicts and a one-second
    clock. Each request goes to its handler through s_routes, the table
    below; the handlers live in a file each by what happens (login.c,
    reader.c, commit.c, admin.c) and answer through the replier (replier.c).
    With keys, both sockets speak CURVE and the ZAP handler (zap.c) lets
    in trusted keys only; each request is then judged by its key's role
    (keyring.c): a gateway's key serves users, an admin's administers.
    Says are not stored one by one: the ROUTER handler drains every
    request waiting, the say handler queues the valid ones, and they are
    all committed in one transaction at the end of the turn (commit.c). */
#include <czmq.h>
#include "broker.h"
#include "admin.h"
#include "commit.h"
#include "lease.h"
#include "login.h"
#include "presence.h"
#include "replier.h"
#include "rig.h"
#include "reader.h"
#include "store.h"
#include "zap.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

//  The objects handlers belong to, as s_routes names them
typedef enum { S_READER, S_LOGIN, S_COMMIT, S_ADMIN, S_PRESENCE, S_HANDLERS } s_handler_t;

struct gc_broker_t {
    gc_store_t *store;
    zsock_t *router;            //  requests from gateways
    zsock_t *xpub;              //  events to gateways, subscriptions from them
    zactor_t *actor;
    gc_replier_t *reply;          //  the one writer to both sockets
    gc_reader_t *reader;
    gc_login_t *login;
    gc_commit_t *commit;
    gc_admin_t *admin;
    gc_presence_t *presence;    //  who is in which room, on which gateway
    gc_backups_t *backups;      //  the backup directory; NULL: backups are off
    void *handlers [S_HANDLERS];    //  the five above, by s_handler_t
    gc_keys_t *keys;            //  the broker's pair; NULL: no CURVE
    gc_keyring_t *keyring;      //  the keys it trusts, by role
    gc_zap_t *zap;              //  judges handshakes
    char *requests_endpoint;
    char *events_endpoint;
    int64_t retain_ms;          //  retention by age; 0: none
    uint64_t retain_messages;   //  by count; 0: none
    int64_t retain_next;        //  wall ms of the next retention pass
};

//  --------------------------------------------------------------------------
//  Dispatch: what each op is, and who handles it

typedef struct {
    gc_handler_fn *handle;      //  NULL: not a request op
    s_handler_t handler;        //  whose object handle gets
    bool admin;                 //  says received before it are committed first
    gc_role_t roles;            //  the keys' roles that may ask it
    bool for_user;              //  acts for a login: its generation is checked
} s_route_t;

#define S_BY_GATEWAY     GC_ROLE_GATEWAY
#define S_BY_ADMIN       GC_ROLE_ADMIN
#define S_BY_EITHER      (GC_ROLE_GATEWAY | GC_ROLE_ADMIN)

//  Indexed by op, so a request finds its handler in one step
static const s_route_t s_routes [GC_OP_COUNT] = {
    [GC_OP_PING]          = { gc_admin_ping,      S_ADMIN,  false, S_BY_EITHER, false },
    [GC_OP_LOGIN]         = { gc_login_handle,    S_LOGIN,  false, S_BY_GATEWAY, false },
    [GC_OP_LOGOUT]        = { gc_login_logout,    S_LOGIN,  false, S_BY_GATEWAY, false },
    [GC_OP_ROOMS]         = { gc_reader_rooms,    S_READER, false, S_BY_GATEWAY, true },
    [GC_OP_JOIN]          = { gc_reader_join,     S_READER, false, S_BY_GATEWAY, true },
    [GC_OP_HISTORY]       = { gc_reader_history,  S_READER, false, S_BY_GATEWAY, true },
    [GC_OP_SAY]           = { gc_commit_say,      S_COMMIT, false, S_BY_GATEWAY, true },
    [GC_OP_STATS]         = { gc_admin_stats,     S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_BACKUP]        = { gc_admin_backup,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_USER_ADD]      = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_USER_REMOVE]   = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_PASSWORD_SET]  = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_ROOM_ADD]      = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_MEMBER_ADD]    = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_MEMBER_REMOVE] = { gc_admin_change,    S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_USER_LIST]     = { gc_admin_list,      S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_ROOM_LIST]     = { gc_admin_list,      S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_MEMBER_LIST]   = { gc_admin_list,      S_ADMIN,  true,  S_BY_ADMIN, false },
    [GC_OP_GENERATIONS]   = { gc_login_generations, S_LOGIN, false, S_BY_GATEWAY, false },
    //  A gateway's own bookkeeping: a leave must go through for a login
    //  that is over (its connections are leaving because of it)
    [GC_OP_PRESENT]       = { gc_presence_present, S_PRESENCE, false, S_BY_GATEWAY, false },
    [GC_OP_PRESENCE_SYNC] = { gc_presence_sync,   S_PRESENCE, false, S_BY_GATEWAY, false },
    [GC_OP_WHO]           = { gc_presence_who,    S_PRESENCE, false, S_BY_GATEWAY, true },
    [GC_OP_TYPING]        = { gc_presence_typing, S_PRESENCE, false, S_BY_GATEWAY, true },
};

//  Why a request acting for a login may not: NULL when it may. A login
//  whose generation is not its user's is over (store.h): the password
//  was set, or the name removed (and maybe added again), since. A
//  request naming no user is the handler's to refuse (bad_request).
static const char *
s_login_over (gc_broker_t *self, const gc_frame_t *frame)
{
    char user [GC_NAME_MAX + 1];
    if (!(frame->fields & GC_F_USER) || !gc_str_copy (frame->user, user, sizeof user))
        return NULL;
    uint64_t generation = gc_store_user_generation (self->store, user);
    if (!generation)
        return GC_REASON_REMOVED;
    if (!(frame->fields & GC_F_GENERATION) || frame->generation != generation)
        return GC_REASON_ENDED;
    return NULL;
}

//  A request past its deadline was answered unavailable by the gateway
//  already: it is refused, not carried out late. role is what the
//  sender's key may do now. A request for a login that is over is
//  refused whatever it asks: the broker, not the gateway, decides.
static void
s_dispatch (gc_broker_t *self, const gc_broker_request_t *request, gc_role_t role)
{
    const char *over = NULL;
    const gc_frame_t *frame = &request->frame;
    const s_route_t *route = frame->op < GC_OP_COUNT? &s_routes [frame->op]: NULL;
    //  A gateway's heartbeats and presence requests name its instance:
    //  hearing from it is what keeps its users present
    if ((frame->fields & GC_F_INSTANCE) && (role & GC_ROLE_GATEWAY))
        gc_presence_touch (self->presence, frame->instance);
    if ((frame->fields & GC_F_DEADLINE) && gc_clock_wall_ms () > frame->deadline)
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_EXPIRED, NULL);
    else
    if (!gc_frame_is_clean (frame))
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_BAD_REQUEST,
                          "a string is not UTF-8 or holds U+0000");
    else
    if (!route || !route->handle)
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_BAD_REQUEST,
                        "not a request op");
    else
    if (!(route->roles & role))
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_FORBIDDEN,
                          role == GC_ROLE_NONE? "this key is trusted no more"
                          : role == GC_ROLE_ADMIN? "an admin key cannot act for users"
                          : "a gateway key cannot administer");
    else
    if (route->for_user && (over = s_login_over (self, frame)))
        gc_replier_error (self->reply, &request->identity, frame->rid, GC_NOT_LOGGED_IN, over);
    else {
        if (route->admin)
            gc_commit_flush (self->commit);
        route->handle (self->handlers [route->handler], request);
    }
}

//  --------------------------------------------------------------------------
//  The loop's handlers

//  What the key a message came with may do now; without keys, anything
static gc_role_t
s_role (gc_broker_t *self, zmq_msg_t *message)
{
    if (!self->keyring)
        return GC_ROLE_ANY;
    return gc_keyring_role (self->keyring, zmq_msg_gets (message, "User-Id"));
}

//  Reads one [identity][body] request and dispatches it; false when none
//  is waiting. Without a readable rid no reply could be matched to it.
static bool
s_read_request (gc_broker_t *self)
{
    void *router = zsock_resolve (self->router);
    gc_broker_request_t request;
    int size = zmq_recv (router, request.identity.data, sizeof request.identity.data, ZMQ_DONTWAIT);
    if (size < 0)
        return false;
    request.identity.size = (size_t) size < sizeof request.identity.data?
                            (size_t) size: sizeof request.identity.data;
    zmq_msg_t body;
    zmq_msg_init (&body);
    if (zsock_rcvmore (self->router) && zmq_msg_recv (&body, router, ZMQ_DONTWAIT) >= 0) {
        if (gc_frame_decode (&request.frame, zmq_msg_data (&body), zmq_msg_size (&body)) == 0
        &&  (request.frame.fields & GC_F_RID))
            s_dispatch (self, &request, s_role (self, &body));
        else
        if (request.frame.fields & GC_F_RID)
            gc_replier_error (self->reply, &request.identity, request.frame.rid, GC_BAD_REQUEST,
                              "malformed request: a field is missing or of the wrong type");
        else
            gc_warn ("dropped a malformed request size=%zu", zmq_msg_size (&body));
        gc_frame_release (&request.frame);
    }
    while (zmq_msg_more (&body) && zmq_msg_recv (&body, router, ZMQ_DONTWAIT) >= 0)
        ;                       //  frames no request has
    zmq_msg_close (&body);
    return true;
}

//  A store fenced out may write no more (its lease is another broker's,
//  or the connection it proved it on went): this broker answers nothing
//  more, at once, and another serves
static void
s_check_fence (gc_broker_t *self)
{
    if (gc_store_fenced_out (self->store))
        gc_lease_lost ("the database refused a write under it, or the connection went");
}

static int
s_on_requests (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    for (int count = 0; count < GC_BROKER_TURN_MAX && s_read_request (self); count++)
        ;
    gc_commit_flush (self->commit);
    s_check_fence (self);
    return 0;
}

static int
s_on_verified (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    gc_login_verified (self->login);
    s_check_fence (self);
    return 0;
}

static void
s_publish_head (void *arg, const char *room, uint64_t head)
{
    gc_broker_t *self = arg;
    gc_replier_head (self->reply, room, head);
}

//  A gateway subscribed to a room, or to the users topic: tell it the
//  room's head, or the newest generation, so that it notices anything
//  published before its subscription took effect; and the room's presence
static int
s_on_subscription (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    void *xpub = zsock_resolve (self->xpub);
    for (int count = 0; count < GC_BROKER_TURN_MAX; count++) {
        char message [GC_NAME_MAX + 2];
        int size = zmq_recv (xpub, message, sizeof message, ZMQ_DONTWAIT);
        if (size < 0)
            break;
        uint64_t head;
        if (size == 1 + GC_TOPIC_USERS_SIZE && message [0] == 1
        &&  memcmp (message + 1, GC_TOPIC_USERS, GC_TOPIC_USERS_SIZE) == 0)
            gc_replier_head (self->reply, NULL, gc_store_generation (self->store, NULL));
        else
        if (size >= 2 && size <= (int) sizeof message && message [0] == 1
        &&  message [size - 1] == 0 && gc_store_room (self->store, message + 1, &head)) {
            s_publish_head (self, message + 1, head);
            gc_presence_subscribed (self->presence, message + 1);
        }
    }
    return 0;
}

//  Binds the events socket again once ZeroMQ has let go of its port
//  (unbinding finishes on ZeroMQ's own thread, a moment later)
static int
s_on_rebind (zloop_t *loop, int timer_id, void *arg)
{
    gc_broker_t *self = arg;
    if (zsock_bind (self->xpub, "%s", self->events_endpoint) < 0)
        return 0;
    gc_info ("events socket rebound after a revocation endpoint=%s", self->events_endpoint);
    zloop_timer_end (loop, timer_id);
    return 0;
}

//  A revoked gateway may still hold a connection to the events socket,
//  made while its key was trusted. A subscriber cannot be told apart
//  there, so every connection goes: the others come back by themselves
//  (and refill from since), the revoked one is refused at its handshake.
static void
s_rebind_events (gc_broker_t *self, zloop_t *loop)
{
    if (zsock_unbind (self->xpub, "%s", self->events_endpoint) == 0)
        zloop_timer (loop, GC_BROKER_REBIND_MS, 0, s_on_rebind, self);
    else
        gc_error ("cannot unbind endpoint=%s after a revocation: %s", self->events_endpoint,
                  zmq_strerror (zmq_errno ()));
}

//  Every second, the heads of rooms that changed lately: a gateway whose
//  SUB dropped the last message of a burst notices the gap. The same for
//  the newest generation, so that a gateway whose SUB dropped a closed
//  event notices. And the trusted keys, read again: a key taken away is
//  revoked within a second.
//  Retention in passes of GC_RETAIN_BATCH messages, so that the loop is
//  held a few ms at most: once a minute, or every second while a full
//  pass shows that more are due (retention just turned on, say)
static void
s_retain (gc_broker_t *self, int64_t now)
{
    if ((!self->retain_ms && !self->retain_messages) || now < self->retain_next)
        return;
    int gone = gc_store_retain (self->store, self->retain_ms? now - self->retain_ms: 0,
                                self->retain_messages, GC_RETAIN_BATCH);
    if (gone < 0)
        gc_warn ("retention failed: tried again in a minute");
    else
    if (gone > 0)
        gc_info ("retention deleted messages=%d", gone);
    self->retain_next = now + (gone == GC_RETAIN_BATCH? 0: GC_RETAIN_PASS_MS);
}

static int
s_on_clock (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    gc_broker_t *self = arg;
    if (self->keyring && gc_keyring_refresh (self->keyring))
        s_rebind_events (self, loop);
    gc_login_sweep (self->login, gc_clock_wall_ms ());
    gc_commit_sweep (self->commit, gc_clock_wall_ms ());
    s_retain (self, gc_clock_wall_ms ());
    s_check_fence (self);
    int64_t since = gc_clock_wall_ms () - GC_HEAD_RECENT_MS, changed;
    gc_store_recent_rooms (self->store, since, s_publish_head, self);
    uint64_t generation = gc_store_generation (self->store, &changed);
    if (changed && changed >= since)
        gc_replier_head (self->reply, NULL, generation);
    return 0;
}

static int
s_on_presence_clock (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    gc_broker_t *self = arg;
    gc_presence_sweep (self->presence, gc_clock_mono_us () / 1000);
    return 0;
}

static int
s_on_zap (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) reader;
    gc_broker_t *self = arg;
    gc_zap_answer (self->zap);
    return 0;
}

static int
s_on_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop, (void) arg;
    zmsg_t *message = zmsg_recv (reader);
    char *command = message? zmsg_popstr (message): NULL;
    bool terminate = !command || streq (command, "$TERM");
    free (command);
    zmsg_destroy (&message);
    return terminate? -1: 0;
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    gc_broker_t *self = arg;
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, pipe, s_on_pipe, self);
    zloop_reader (loop, self->router, s_on_requests, self);
    zloop_reader (loop, self->xpub, s_on_subscription, self);
    zloop_reader (loop, gc_login_verdicts (self->login), s_on_verified, self);
    if (self->zap)
        zloop_reader (loop, gc_zap_socket (self->zap), s_on_zap, self);
    zloop_timer (loop, GC_HEAD_BEACON_MS, 0, s_on_clock, self);
    zloop_timer (loop, GC_PRESENCE_SWEEP_MS, 0, s_on_presence_clock, self);
    zloop_set_nonstop (loop, true);     //  main decides when we stop
    zsock_signal (pipe, 0);
    zloop_start (loop);
    zloop_destroy (&loop);
}

//  --------------------------------------------------------------------------
//  Construction

static zsock_t *
s_bind (gc_broker_t *self, int type, const char *endpoint, char **bound)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    if (self->keys)
        gc_keys_serve (self->keys, sock, type == ZMQ_XPUB? GC_ZAP_EVENTS: GC_ZAP_REQUESTS);
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, type == ZMQ_XPUB? GC_BROKER_PUB_HWM: GC_BROKER_HWM);
    zsock_set_rcvhwm (sock, GC_BROKER_HWM);
    zsock_set_maxmsgsize (sock, GC_LINK_MESSAGE_MAX);
    zsock_set_heartbeat_ivl (sock, GC_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (sock, GC_HEARTBEAT_DEAD_MS);
    if (type == ZMQ_XPUB)
        zsock_set_xpub_verbose (sock, 1);
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        gc_error ("cannot bind endpoint=%s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    *bound = zsock_last_endpoint (sock);
    return sock;
}

//  The backup directory, when the operator named one (else backups are
//  off); false when it names one that cannot be used
static bool
s_open_backups (gc_broker_t *self, const char *dir)
{
    if (!dir || !*dir)
        return true;
    self->backups = gc_backups_new (dir);
    return self->backups != NULL;
}

//  The key pair, the trusted keys and the ZAP handler, when the operator
//  gave a key folder; false when it cannot be used
static bool
s_open_keys (gc_broker_t *self, const char *dir)
{
    if (!dir || !*dir)
        return true;
    self->keys = gc_keys_load (dir, "broker");
    if (self->keys) {
        self->keyring = gc_keyring_new (dir);
        self->zap = gc_zap_new (self->keyring);
    }
    return self->zap != NULL;
}

gc_broker_t *
gc_broker_new (const gc_broker_config_t *config)
{
    gc_broker_t *self = gc_calloc (1, sizeof *self);
    self->retain_ms = (int64_t) config->retain_days * 24 * 3600 * 1000;
    self->retain_messages = (uint64_t) config->retain_messages;
    self->store = gc_store_new (config->db, config->seed);
    if (self->store && config->holder)
        gc_store_fence (self->store, config->holder);
    //  A first pass before serving: nobody is handed what it deletes
    if (self->store)
        s_retain (self, gc_clock_wall_ms ());
    if (self->store && s_open_backups (self, config->backup_dir) && s_open_keys (self, config->keys))
        self->router = s_bind (self, ZMQ_ROUTER, config->requests, &self->requests_endpoint);
    if (self->router)
        self->xpub = s_bind (self, ZMQ_XPUB, config->events, &self->events_endpoint);
    if (self->xpub) {
        self->reply = gc_replier_new (self->router, self->xpub);
        self->login = gc_login_new (self->store, self->reply);
    }
    if (!self->login) {
        gc_broker_destroy (&self);
        return NULL;
    }
    self->reader = gc_reader_new (self->store, self->reply);
    self->commit = gc_commit_new (self->store, self->reply);
    self->admin = gc_admin_new (self->store, self->reply, self->login, self->commit,
                                self->backups);
    self->handlers [S_READER] = self->reader;
    self->handlers [S_LOGIN] = self->login;
    self->handlers [S_COMMIT] = self->commit;
    self->presence = gc_presence_new (self->store, self->reply, GC_PRESENCE_REBUILD_MS);
    self->handlers [S_ADMIN] = self->admin;
    self->handlers [S_PRESENCE] = self->presence;
    //  The sockets move to the actor's thread; zactor_new is the barrier
    self->actor = zactor_new (s_actor, self);
    return self;
}

void
gc_broker_destroy (gc_broker_t **self_p)
{
    gc_broker_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);      //  the last turn has committed
    gc_admin_destroy (&self->admin);
    gc_presence_destroy (&self->presence);
    gc_backups_destroy (&self->backups);
    gc_commit_destroy (&self->commit);
    gc_reader_destroy (&self->reader);
    gc_login_destroy (&self->login);
    gc_replier_destroy (&self->reply);
    zsock_destroy (&self->router);
    zsock_destroy (&self->xpub);
    gc_zap_destroy (&self->zap);
    gc_keyring_destroy (&self->keyring);
    gc_keys_destroy (&self->keys);
    gc_store_destroy (&self->store);
    zstr_free (&self->requests_endpoint);
    zstr_free (&self->events_endpoint);
    free (self);
    *self_p = NULL;
}

const char *
gc_broker_requests_endpoint (gc_broker_t *self)
{
    return self->requests_endpoint;
}

const char *
gc_broker_events_endpoint (gc_broker_t *self)
{
    return self->events_endpoint;
}

//  --------------------------------------------------------------------------
//  Self test: a real broker on ephemeral ports, driven through the codec

static uint64_t s_test_rid;

//  The seeded users' generation, which no test here changes
#define S_TEST_GENERATION 1

static void
s_test_send (zsock_t *dealer, gc_frame_t *request)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    gc_frame_set_uint (request, GC_F_RID, ++s_test_rid);
    gc_frame_encode (request, &buffer);
    zmq_send (zsock_resolve (dealer), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
}

static gc_error_t
s_test_call (zsock_t *dealer, gc_frame_t *request, gc_frame_t *reply, zmsg_t **holder)
{
    s_test_send (dealer, request);
    gc_rig_recv (dealer, reply, holder);
    assert (reply->rid == s_test_rid);
    return reply->op == GC_OP_OK? GC_OK: reply->code;
}

static gc_error_t
s_test_simple (zsock_t *dealer, gc_op_t op, const char *user, const char *room, const char *text)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, op);
    if (user)
        gc_frame_set_cstr (&request, GC_F_USER, user);
    if (user && op != GC_OP_LOGIN)
        gc_frame_set_uint (&request, GC_F_GENERATION, S_TEST_GENERATION);
    if (room)
        gc_frame_set_cstr (&request, GC_F_ROOM, room);
    if (text)
        gc_frame_set_cstr (&request, GC_F_TEXT, text);
    if (op == GC_OP_LOGIN)
        gc_frame_set_cstr (&request, GC_F_PASSWORD, text), request.fields &= ~GC_F_TEXT;
    gc_error_t code = s_test_call (dealer, &request, &reply, &holder);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    return code;
}

//  A say request from Sue
static void
s_test_say_frame (gc_frame_t *request, const char *room, const char *text)
{
    gc_frame_init (request, GC_OP_SAY);
    gc_frame_set_cstr (request, GC_F_USER, "Sue");
    gc_frame_set_uint (request, GC_F_GENERATION, S_TEST_GENERATION);
    gc_frame_set_cstr (request, GC_F_ROOM, room);
    gc_frame_set_cstr (request, GC_F_TEXT, text);
}

static void
s_test_logins (zsock_t *dealer)
{
    assert (s_test_simple (dealer, GC_OP_PING, NULL, NULL, NULL) == GC_OK);
    assert (s_test_simple (dealer, GC_OP_LOGIN, "Sue", NULL, "wrong") == GC_BAD_CREDENTIALS);
    assert (s_test_simple (dealer, GC_OP_LOGIN, "Nobody", NULL, "password") == GC_BAD_CREDENTIALS);
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, GC_OP_LOGIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Sue");
    gc_frame_set_cstr (&request, GC_F_PASSWORD, "password");
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.generation == 1);     //  a seeded user's
    char *token = gc_str_dup (reply.token);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_LOGIN);
    gc_frame_set_cstr (&request, GC_F_TOKEN, token);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (gc_str_eq (reply.user, "Sue"));
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    free (token);
}

//  Requests for a login that is over are refused, whatever they ask: a
//  generation that is not the user's (or none), a user who is gone
static void
s_test_logins_over (zsock_t *dealer)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    for (int index = 0; index < 3; index++) {
        s_test_say_frame (&request, "Taskmaster", "from a login that is over");
        if (index == 0)
            request.generation = S_TEST_GENERATION + 1;
        else
        if (index == 1)
            request.fields &= ~GC_F_GENERATION;
        else
            gc_frame_set_cstr (&request, GC_F_USER, "Nobody");
        assert (s_test_call (dealer, &request, &reply, &holder) == GC_NOT_LOGGED_IN);
        assert (gc_str_eq (reply.message, index == 2? GC_REASON_REMOVED: GC_REASON_ENDED));
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
    assert (s_test_simple (dealer, GC_OP_ROOMS, "Nobody", NULL, NULL) == GC_NOT_LOGGED_IN);
}

static void
s_test_errors (zsock_t *dealer)
{
    assert (s_test_simple (dealer, GC_OP_JOIN, "Sandy", "8 out of 10 cats", NULL) == GC_NOT_MEMBER);
    assert (s_test_simple (dealer, GC_OP_JOIN, "Sandy", "Nowhere", NULL) == GC_NO_SUCH_ROOM);
    assert (s_test_simple (dealer, GC_OP_HISTORY, "Sandy", "8 out of 10 cats", NULL) == GC_NOT_MEMBER);
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", "Taskmaster", " \r\n\t") == GC_EMPTY_TEXT);
    char long_text [GC_TEXT_MAX + 2];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [GC_TEXT_MAX + 1] = 0;
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", "Taskmaster", long_text) == GC_TOO_LONG);
    //  Strings that no client could send: not UTF-8, or holding U+0000
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", "Taskmaster", "caf\xe9") == GC_BAD_REQUEST);
    assert (s_test_simple (dealer, GC_OP_JOIN, "Su\xff", "Taskmaster", NULL) == GC_BAD_REQUEST);
    assert (s_test_simple (dealer, GC_OP_LOGIN, "Sue", NULL, "pass\xc0\x80") == GC_BAD_REQUEST);
    gc_frame_t request, reply;
    zmsg_t *holder;
    s_test_say_frame (&request, "Taskmaster", "a");
    gc_frame_set_str (&request, GC_F_TEXT, "a\0b", 3);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_BAD_REQUEST);
    assert (gc_str_eq (reply.message, "a string is not UTF-8 or holds U+0000"));
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    //  Replies and events are not requests
    assert (s_test_simple (dealer, GC_OP_HEAD, NULL, "Taskmaster", NULL) == GC_BAD_REQUEST);
    assert (s_test_simple (dealer, GC_OP_SAY, "Sue", NULL, "hi") == GC_BAD_REQUEST);
    //  Garbage is dropped, and the broker still answers afterwards
    zstr_send (dealer, "not msgpack");
    assert (s_test_simple (dealer, GC_OP_PING, NULL, NULL, NULL) == GC_OK);
    //  A say past its deadline is refused and not stored
    s_test_say_frame (&request, "Taskmaster", "too late");
    gc_frame_set_uint (&request, GC_F_DEADLINE, (uint64_t) gc_clock_wall_ms () - 1);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_EXPIRED);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    s_test_logins_over (dealer);
}

//  A burst of says: consecutive seqs, published in order on the room's
//  topic only ("Taskmaster 2" must not match the "Taskmaster" subscription)
static void
s_test_says (zsock_t *dealer, zsock_t *sub)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    for (int index = 0; index < 12; index++) {
        s_test_say_frame (&request, index == 5? "Taskmaster 2": "Taskmaster", "hello");
        s_test_send (dealer, &request);
    }
    uint64_t expected = 1;
    for (int index = 0; index < 12; index++) {
        gc_rig_recv (dealer, &reply, &holder);
        assert (reply.op == GC_OP_OK);
        if (index != 5)
            assert (reply.seq == expected++);
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
    for (uint64_t seq = 1; seq <= 11; seq++) {
        gc_rig_recv (sub, &reply, &holder);
        assert (reply.op == GC_OP_MESSAGE && reply.seq == seq && gc_str_eq (reply.room, "Taskmaster"));
        assert (gc_str_eq (reply.from, "Sue") && gc_str_eq (reply.text, "hello") && reply.ts > 0);
        assert (zframe_size (zmsg_first (holder)) == 11);
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
}

static void
s_test_joins (zsock_t *dealer)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    gc_frame_init (&request, GC_OP_JOIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");
    gc_frame_set_uint (&request, GC_F_GENERATION, S_TEST_GENERATION);
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.head == 11 && reply.history_size == 10);
    assert (reply.history [0].seq == 2 && reply.history [9].seq == 11);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_JOIN);
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");
    gc_frame_set_uint (&request, GC_F_GENERATION, S_TEST_GENERATION);
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_uint (&request, GC_F_SINCE, 5);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 6 && reply.history [0].seq == 6 && reply.complete);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    gc_frame_init (&request, GC_OP_HISTORY);
    gc_frame_set_cstr (&request, GC_F_USER, "Alex");
    gc_frame_set_uint (&request, GC_F_GENERATION, S_TEST_GENERATION);
    gc_frame_set_cstr (&request, GC_F_ROOM, "Taskmaster");
    gc_frame_set_uint (&request, GC_F_BEFORE, 4);
    gc_frame_set_uint (&request, GC_F_LIMIT, 2);
    assert (s_test_call (dealer, &request, &reply, &holder) == GC_OK);
    assert (reply.history_size == 2 && reply.history [0].seq == 2 && reply.history [1].seq == 3);
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
}

//  A say and a backup sent together: the backup holds the say, as an
//  administration op commits the says received before it
static void
s_test_backup (zsock_t *dealer, const char *backup_dir)
{
    gc_frame_t request, reply;
    zmsg_t *holder;
    s_test_say_frame (&request, "Quite Interesting", "before the backup");
    s_test_send (dealer, &request);
    gc_frame_init (&request, GC_OP_BACKUP);
    gc_frame_set_cstr (&request, GC_F_PATH, "copy.db");
    s_test_send (dealer, &request);
    for (int count = 0; count < 2; count++) {
        gc_rig_recv (dealer, &reply, &holder);
        assert (reply.op == GC_OP_OK);
        gc_frame_release (&reply);
        zmsg_destroy (&holder);
    }
    char copy [80];
    snprintf (copy, sizeof copy, "%s/copy.db", backup_dir);
    gc_store_t *store = gc_store_new (copy, GC_SEED_NONE);
    uint64_t head = 0;
    assert (store && gc_store_room (store, "Quite Interesting", &head) && head == 1);
    gc_store_destroy (&store);
    gc_rig_unlink (copy);
}

void
gc_broker_test (bool verbose)
{
    if (verbose)
        printf (" * gc_broker: ");
    char path [] = "/tmp/gc_broker_test_XXXXXX";
    close (mkstemp (path));
    gc_store_t *store = gc_store_new (path, GC_SEED_DEMO);
    assert (store && gc_store_room_add (store, "Taskmaster 2") == GC_OK);
    assert (gc_store_member_set (store, "Sue", "Taskmaster 2", true) == GC_OK);
    gc_store_destroy (&store);

    char backup_dir [] = "/tmp/gc_broker_backups_XXXXXX";
    assert (mkdtemp (backup_dir));
    gc_broker_config_t config = {
        .db = path, .requests = "tcp://127.0.0.1:*", .events = "tcp://127.0.0.1:*",
        .seed = GC_SEED_DEMO, .backup_dir = backup_dir
    };
    //  A backup directory that cannot be made stops the broker starting
    gc_broker_config_t unusable = config;
    unusable.backup_dir = "/nonexistent/gc_broker_test/backups";
    assert (gc_broker_new (&unusable) == NULL);
    gc_broker_t *self = gc_broker_new (&config);
    assert (self);
    zsock_t *dealer = zsock_new_dealer (gc_broker_requests_endpoint (self));
    zsock_t *sub = zsock_new_sub (gc_broker_events_endpoint (self), NULL);
    //  The topic is the room's name and a NUL byte
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, "Taskmaster", 11);
    //  The head event proves the subscription is active (no slow joiner)
    gc_frame_t head;
    zmsg_t *holder;
    gc_rig_recv (sub, &head, &holder);
    assert (head.op == GC_OP_HEAD && head.seq == 0 && gc_str_eq (head.room, "Taskmaster"));
    gc_frame_release (&head);
    zmsg_destroy (&holder);
    //  The users topic's subscription is answered with the newest generation
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, GC_TOPIC_USERS, GC_TOPIC_USERS_SIZE);
    gc_rig_recv (sub, &head, &holder);
    assert (head.op == GC_OP_HEAD && head.seq == 1 && !(head.fields & GC_F_ROOM));
    assert (zframe_size (zmsg_first (holder)) == GC_TOPIC_USERS_SIZE);
    gc_frame_release (&head);
    zmsg_destroy (&holder);

    s_test_logins (dealer);
    s_test_says (dealer, sub);
    s_test_joins (dealer);
    s_test_errors (dealer);
    s_test_backup (dealer, backup_dir);
    zsock_destroy (&dealer);
    zsock_destroy (&sub);
    gc_broker_destroy (&self);
    gc_broker_destroy (&self);
    gc_rig_unlink (path);
    assert (rmdir (backup_dir) == 0);
    if (verbose)
        printf ("OK\n");
}
