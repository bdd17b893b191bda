/*  store.c: the broker's store above its backend.

    Selects the backend by the database argument, then keeps what is the
    same for every backend: each room's head, given out as seqs when says
    are appended (so a batch needs no query), the membership answers,
    token generation and expiry, and the protocol's initial data. */
#include <czmq.h>
#include <sodium.h>
#include "store.h"
#include "store_backend.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

//  Backends by the prefix of the database argument; the last matches
//  anything (a plain path is an SQLite file). A prefix that is a URI's
//  scheme stays on: the backend takes the whole URI
static const struct {
    const char *prefix;
    const gc_store_backend_t *backend;
    bool whole;                 //  the backend gets the prefix too
} s_backends [] = {
    { "sqlite:", &gc_store_sqlite, false },
    { "postgresql://", &gc_store_pg, true },
    { "postgres://", &gc_store_pg, true },
    { "", &gc_store_sqlite, false },
};

//  The initial data of protocol.md, put into an empty database
static const char *const s_alex_rooms [] = { "8 out of 10 cats", "Taskmaster", NULL };
static const char *const s_sue_rooms [] = { "8 out of 10 cats", "Quite Interesting", "Taskmaster", NULL };
static const char *const s_sandy_rooms [] = { "Quite Interesting", "Taskmaster", NULL };
static const gc_store_seed_t s_seed [] = {
    { "Alex", NULL, s_alex_rooms },
    { "Sue", NULL, s_sue_rooms },
    { "Sandy", NULL, s_sandy_rooms },
};
static const char *s_seed_password = "password";
static const char *const s_seed_names [] = { [GC_SEED_DEMO] = "demo", [GC_SEED_NONE] = "none" };

typedef struct {
    int64_t id;                 //  the backend's key
    char *name;
    uint64_t head;              //  newest seq
    int64_t changed_ms;         //  when head was stored, 0 if not since start
} s_room_t;

struct gc_store_t {
    const gc_store_backend_t *backend;
    void *db;                   //  the backend's connection
    zhashx_t *rooms;            //  name -> s_room_t
    zhashx_t *membership;       //  s_membership_key -> &s_member or &s_not_member
    bool in_batch;              //  gc_store_begin took the write lock
    bool failing;               //  the last write failed; probe before saying it works
    zhashx_t *generations;      //  user -> generation, for users that exist
    uint64_t generation;        //  the newest taken
    int64_t generation_ms;      //  when, wall ms; 0: not since opening
};

//  Membership answers and users' generations, kept because every say
//  asks and only this store changes them: every administration change
//  forgets them all
static const bool s_member = true, s_not_member = false;

//  --------------------------------------------------------------------------
//  Opening

static void
s_room_free (void **item_p)
{
    s_room_t *room = *item_p;
    if (room) {
        free (room->name);
        free (room);
        *item_p = NULL;
    }
}

static void
s_room_put (void *arg, int64_t id, const char *name, uint64_t head)
{
    gc_store_t *self = arg;
    s_room_t *room = gc_calloc (1, sizeof *room);
    room->id = id;
    room->name = gc_strdup (name);
    room->head = head;
    zhashx_update (self->rooms, room->name, room);
}

bool
gc_seed_parse (const char *name, gc_seed_t *seed)
{
    for (size_t index = 0; index < sizeof s_seed_names / sizeof s_seed_names [0]; index++)
        if (streq (name, s_seed_names [index])) {
            *seed = (gc_seed_t) index;
            return true;
        }
    return false;
}

//  The demo users and their rooms. Each user gets a hash of its own: the
//  same password, another salt
static int
s_seed_demo (gc_store_t *self)
{
    gc_info ("store: empty database, creating the initial users and rooms (seed=demo)");
    size_t count = sizeof s_seed / sizeof s_seed [0];
    gc_store_seed_t users [count];
    char hashes [count][crypto_pwhash_STRBYTES];
    for (size_t index = 0; index < count; index++) {
        if (crypto_pwhash_str (hashes [index], s_seed_password, strlen (s_seed_password),
                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE))
            return -1;
        users [index] = s_seed [index];
        users [index].hash = hashes [index];
    }
    return self->backend->seed (self->db, users, count);
}

//  Only an empty database is seeded: one that has any user or room is an
//  operator's, however it came to be
static int
s_seed_if_empty (gc_store_t *self, gc_seed_t seed)
{
    if (!self->backend->is_empty (self->db))
        return 0;
    if (seed == GC_SEED_DEMO)
        return s_seed_demo (self);
    gc_info ("store: empty database, left empty (seed=none): add users and groups "
             "with groupchat-admin");
    return 0;
}

const char *
gc_store_shown (const char *database, char *shown, size_t size)
{
    const char *scheme = strstr (database, "://");
    if (!scheme) {
        snprintf (shown, size, "%s", database);
        return shown;
    }
    const char *host = scheme + 3;
    const char *at = strchr (host, '@');
    const char *query = strchr (host, '?');
    if (at && (!query || at < query))
        host = at + 1;
    int length = query? (int) (query - host): (int) strlen (host);
    snprintf (shown, size, "%.*s://%.*s", (int) (scheme - database), database, length, host);
    return shown;
}

gc_store_t *
gc_store_new (const char *database, gc_seed_t seed)
{
    if (sodium_init () < 0)
        return NULL;
    gc_store_t *self = gc_calloc (1, sizeof *self);
    size_t index = 0;
    while (strncmp (database, s_backends [index].prefix, strlen (s_backends [index].prefix)))
        index++;
    self->backend = s_backends [index].backend;
    self->rooms = zhashx_new ();
    zhashx_set_destructor (self->rooms, s_room_free);
    self->membership = zhashx_new ();
    self->generations = zhashx_new ();
    self->db = self->backend->open (s_backends [index].whole? database:
                                    database + strlen (s_backends [index].prefix));
    if (!self->db || s_seed_if_empty (self, seed)
    ||  self->backend->rooms_load (self->db, s_room_put, self)) {
        char shown [256];
        gc_error ("store: cannot open db=%s with backend=%s",
                  gc_store_shown (database, shown, sizeof shown), self->backend->name);
        gc_store_destroy (&self);
    }
    else
        self->generation = self->backend->generation (self->db);
    return self;
}

void
gc_store_destroy (gc_store_t **self_p)
{
    gc_store_t *self = *self_p;
    if (!self)
        return;
    if (self->db)
        self->backend->close (&self->db);
    zhashx_destroy (&self->rooms);
    zhashx_destroy (&self->membership);
    zhashx_destroy (&self->generations);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Users and tokens

char *
gc_store_password_hash (gc_store_t *self, const char *user)
{
    return self->backend->password_hash (self->db, user);
}

//  Only a token's hash is stored: a copy of the database opens no session
static void
s_token_hash (const char *token, unsigned char hash [crypto_generichash_BYTES])
{
    crypto_generichash (hash, crypto_generichash_BYTES,
                        (const unsigned char *) token, strlen (token), NULL, 0);
}

int
gc_store_token_new (gc_store_t *self, const char *user, int64_t now, char *token)
{
    unsigned char secret [32], hash [crypto_generichash_BYTES];
    randombytes_buf (secret, sizeof secret);
    sodium_bin2base64 (token, GC_TOKEN_LEN + 1, secret, sizeof secret,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_token_hash (token, hash);
    return self->backend->token_insert (self->db, hash, user, now) == 1? 0: -1;
}

char *
gc_store_token_user (gc_store_t *self, const char *token, int64_t now)
{
    unsigned char hash [crypto_generichash_BYTES];
    s_token_hash (token, hash);
    int64_t last_used = 0;
    char *user = self->backend->token_user (self->db, hash, &last_used);
    if (user && now - last_used > GC_TOKEN_TTL_MS) {
        self->backend->token_delete (self->db, hash);
        free (user);
        return NULL;
    }
    if (user && now - last_used > GC_TOKEN_TOUCH_MS)
        self->backend->token_touch (self->db, hash, now);
    return user;
}

int
gc_store_token_delete (gc_store_t *self, const char *token)
{
    unsigned char hash [crypto_generichash_BYTES];
    s_token_hash (token, hash);
    return self->backend->token_delete (self->db, hash) < 0? -1: 0;
}

int
gc_store_tokens_purge (gc_store_t *self, int64_t now)
{
    return self->backend->tokens_purge (self->db, now - GC_TOKEN_TTL_MS);
}

//  --------------------------------------------------------------------------
//  Rooms and membership

int
gc_store_rooms (gc_store_t *self, const char *user, char ***names)
{
    return self->backend->rooms_of (self->db, user, names);
}

int
gc_store_users (gc_store_t *self, char ***names)
{
    return self->backend->users (self->db, names);
}

int
gc_store_all_rooms (gc_store_t *self, char ***names)
{
    return self->backend->rooms (self->db, names);
}

int
gc_store_members (gc_store_t *self, const char *room, char ***names)
{
    return self->backend->members (self->db, room, names);
}

void
gc_store_names_free (char ***names, int count)
{
    for (int index = 0; index < count; index++)
        free ((*names) [index]);
    free (*names);
    *names = NULL;
}

bool
gc_store_user_exists (gc_store_t *self, const char *user)
{
    return self->backend->user_exists (self->db, user);
}

//  Only users that exist are kept: a name no one has is asked each time
uint64_t
gc_store_user_generation (gc_store_t *self, const char *user)
{
    void *known = zhashx_lookup (self->generations, user);
    if (known)
        return (uint64_t) (uintptr_t) known;
    uint64_t generation = self->backend->user_generation (self->db, user);
    if (generation && generation <= UINTPTR_MAX) {
        if (zhashx_size (self->generations) >= GC_STORE_MEMBERSHIP_MAX)
            zhashx_purge (self->generations);
        zhashx_insert (self->generations, user, (void *) (uintptr_t) generation);
    }
    return generation;
}

uint64_t
gc_store_generation (gc_store_t *self, int64_t *changed_ms)
{
    if (changed_ms)
        *changed_ms = self->generation_ms;
    return self->generation;
}

bool
gc_store_room (gc_store_t *self, const char *room, uint64_t *head)
{
    s_room_t *found = zhashx_lookup (self->rooms, room);
    if (found && head)
        *head = found->head;
    return found != NULL;
}

//  The user's length first, so that no two (user, room) pairs share a
//  key; false when the names are too long for one, which is never cached
static bool
s_membership_key (char *key, size_t size, const char *user, const char *room)
{
    int length = snprintf (key, size, "%zu:%s:%s", strlen (user), user, room);
    return length >= 0 && (size_t) length < size;
}

bool
gc_store_is_member (gc_store_t *self, const char *user, const char *room)
{
    char key [2 * GC_NAME_MAX + 24];
    if (!s_membership_key (key, sizeof key, user, room))
        return self->backend->is_member (self->db, user, room) == 1;
    const bool *known = zhashx_lookup (self->membership, key);
    if (known)
        return *known;
    int member = self->backend->is_member (self->db, user, room);
    if (member < 0)
        return false;           //  not an answer to keep
    if (zhashx_size (self->membership) >= GC_STORE_MEMBERSHIP_MAX)
        zhashx_purge (self->membership);
    zhashx_insert (self->membership, key, (void *) (member? &s_member: &s_not_member));
    return member == 1;
}

void
gc_store_recent_rooms (gc_store_t *self, int64_t since_ms,
                       void (*fn) (void *arg, const char *room, uint64_t head), void *arg)
{
    for (s_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms))
        if (room->changed_ms && room->changed_ms >= since_ms)
            fn (arg, room->name, room->head);
}

//  One rule on one room, within what is left of the budget
static int
s_retain_room (gc_store_t *self, s_room_t *room, uint64_t below, int64_t older_than,
               uint32_t left)
{
    if (below <= 1 || left == 0)
        return 0;
    return self->backend->retain (self->db, room->id, below, older_than, left);
}

int
gc_store_retain (gc_store_t *self, int64_t older_than, uint64_t keep, uint32_t budget)
{
    assert (!self->in_batch);
    uint32_t gone = 0;
    for (s_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms)) {
        int by_age = older_than? s_retain_room (self, room, room->head, older_than, budget - gone): 0;
        gone += by_age > 0? by_age: 0;
        int by_count = keep && room->head > keep?
                       s_retain_room (self, room, room->head - keep + 1, INT64_MAX, budget - gone): 0;
        gone += by_count > 0? by_count: 0;
        if (by_age < 0 || by_count < 0)
            return -1;
    }
    return (int) gone;
}

//  --------------------------------------------------------------------------
//  Nonces

static void
s_digest (gc_store_say_t *say)
{
    crypto_generichash (say->digest, sizeof say->digest,
                        (const unsigned char *) say->text, say->text_size, NULL, 0);
}

//  A nonce older than GC_NONCE_TTL_MS is forgotten even before a purge
//  deletes it, and a say that reuses it is new (its row is replaced)
gc_nonce_t
gc_store_nonce (gc_store_t *self, gc_store_say_t *say, int64_t now)
{
    s_room_t *room = zhashx_lookup (self->rooms, say->room);
    if (!room || !say->nonce)
        return GC_NONCE_NEW;
    say->room_id = room->id;
    s_digest (say);
    uint64_t seq;
    int64_t ts;
    unsigned char digest [GC_STORE_DIGEST_SIZE];
    int found = self->backend->nonce_find (self->db, say, &seq, &ts, digest);
    if (found < 0)
        return GC_NONCE_FAILED;
    if (found == 0 || now - ts >= GC_NONCE_TTL_MS)
        return GC_NONCE_NEW;
    if (memcmp (digest, say->digest, sizeof digest))
        return GC_NONCE_CONFLICT;
    say->seq = seq;
    say->ts = ts;
    return GC_NONCE_STORED;
}

int
gc_store_nonces_purge (gc_store_t *self, int64_t now, uint32_t budget)
{
    assert (!self->in_batch);
    return self->backend->nonces_purge (self->db, now - GC_NONCE_TTL_MS + 1, budget);
}

//  --------------------------------------------------------------------------
//  Messages

static int
s_messages (gc_store_t *self, const char *room, bool since, uint64_t bound,
            uint32_t limit, gc_history_t *history)
{
    history->messages = NULL;
    history->size = 0;
    s_room_t *found = zhashx_lookup (self->rooms, room);
    if (!found)
        return -1;
    return self->backend->messages (self->db, found->id, room, since, bound, limit, history);
}

int
gc_store_before (gc_store_t *self, const char *room, uint64_t before, uint32_t limit,
                 gc_history_t *history)
{
    if (s_messages (self, room, false, before? before: UINT64_MAX, limit, history))
        return -1;
    //  The query takes the newest first; replies are oldest first
    for (size_t low = 0, high = history->size; low + 1 < high; low++, high--) {
        gc_message_t swap = history->messages [low];
        history->messages [low] = history->messages [high - 1];
        history->messages [high - 1] = swap;
    }
    return 0;
}

int
gc_store_since (gc_store_t *self, const char *room, uint64_t since, uint32_t limit,
                gc_history_t *history)
{
    return s_messages (self, room, true, since, limit, history);
}

void
gc_store_message_set (gc_message_t *message, const char *room, uint64_t seq,
                      gc_str_t from, gc_str_t text, int64_t ts)
{
    size_t room_size = strlen (room);
    char *strings = gc_malloc (room_size + from.len + text.len + 1);
    memcpy (strings, room, room_size);
    memcpy (strings + room_size, from.ptr, from.len);
    memcpy (strings + room_size + from.len, text.ptr, text.len);
    *message = (gc_message_t) {
        { strings, room_size }, seq, { strings + room_size, from.len },
        { strings + room_size + from.len, text.len }, ts
    };
}

void
gc_history_free (gc_history_t *history)
{
    for (size_t index = 0; index < history->size; index++)
        free ((char *) history->messages [index].room.ptr);
    free (history->messages);
    history->messages = NULL;
    history->size = 0;
}

int
gc_store_begin (gc_store_t *self)
{
    if (!self->in_batch && self->backend->begin (self->db) == 0)
        self->in_batch = true;
    self->failing |= !self->in_batch;
    return self->in_batch? 0: -1;
}

//  A head stored beyond the one in memory
static void
s_room_raise (void *arg, int64_t id, const char *name, uint64_t head)
{
    s_room_t *room = zhashx_lookup (((gc_store_t *) arg)->rooms, name);
    if (room && room->id == id && room->head < head)
        room->head = head;
}

//  A commit whose answer was lost with a server's connection may have
//  been stored all the same: the heads are read again before writing, so
//  that no seq is given twice
bool
gc_store_writable (gc_store_t *self)
{
    if (self->failing && !self->in_batch && self->backend->probe (self->db) == 0
    &&  self->backend->rooms_load (self->db, s_room_raise, self) == 0) {
        gc_info ("store: writes work again");
        self->failing = false;
    }
    return !self->failing;
}

void
gc_store_abandon (gc_store_t *self)
{
    if (self->in_batch)
        self->backend->rollback (self->db);
    self->in_batch = false;
}

//  Seqs come from the heads in memory; a failed batch gives them back
int
gc_store_append (gc_store_t *self, gc_store_say_t *says, size_t count, int64_t now)
{
    if (count == 0) {
        gc_store_abandon (self);
        return 0;
    }
    if (gc_store_begin (self))
        return -1;
    self->in_batch = false;     //  append ends the transaction, either way
    size_t index;
    for (index = 0; index < count; index++) {
        s_room_t *room = zhashx_lookup (self->rooms, says [index].room);
        if (!room)
            break;
        says [index].room_id = room->id;
        says [index].seq = ++room->head;
        says [index].ts = now;
        if (says [index].nonce)
            s_digest (&says [index]);
    }
    if (index < count)
        self->backend->rollback (self->db);
    else
    if (self->backend->append (self->db, says, count) == 0) {
        self->failing = false;
        for (index = 0; index < count; index++)
            ((s_room_t *) zhashx_lookup (self->rooms, says [index].room))->changed_ms = now;
        return 0;
    }
    gc_error ("store: append of %zu messages failed, nothing stored", count);
    self->failing = true;
    while (index-- > 0)
        ((s_room_t *) zhashx_lookup (self->rooms, says [index].room))->head--;
    return -1;
}

//  --------------------------------------------------------------------------
//  Administration: users, rooms and members change only here, and seldom,
//  so each change simply forgets every kept membership answer

static gc_error_t
s_changed (gc_store_t *self, int changed, gc_error_t none)
{
    zhashx_purge (self->membership);
    zhashx_purge (self->generations);
    return changed == 1? GC_OK: changed == 0? none: GC_INTERNAL;
}

//  A removal or a password set took the next generation
static gc_error_t
s_sessions_ended (gc_store_t *self, int changed, uint64_t generation)
{
    if (changed == 1) {
        self->generation = generation;
        self->generation_ms = gc_clock_wall_ms ();
    }
    return s_changed (self, changed, GC_NO_SUCH_USER);
}

gc_error_t
gc_store_user_add (gc_store_t *self, const char *user, const char *hash)
{
    return s_changed (self, self->backend->user_add (self->db, user, hash), GC_BAD_REQUEST);
}

gc_error_t
gc_store_user_remove (gc_store_t *self, const char *user)
{
    uint64_t generation = 0;
    int changed = self->backend->user_remove (self->db, user, &generation);
    return s_sessions_ended (self, changed, generation);
}

//  A new password ends every session the old one opened
gc_error_t
gc_store_password_set (gc_store_t *self, const char *user, const char *hash)
{
    uint64_t generation = 0;
    int changed = self->backend->password_set (self->db, user, hash, &generation);
    return s_sessions_ended (self, changed, generation);
}

gc_error_t
gc_store_room_add (gc_store_t *self, const char *room)
{
    int64_t id = 0;
    gc_error_t code = s_changed (self, self->backend->room_add (self->db, room, &id),
                                 GC_BAD_REQUEST);
    if (code == GC_OK)
        s_room_put (self, id, room, 0);
    return code;
}

gc_error_t
gc_store_member_set (gc_store_t *self, const char *user, const char *room, bool member)
{
    if (!gc_store_user_exists (self, user))
        return GC_NO_SUCH_USER;
    if (!zhashx_lookup (self->rooms, room))
        return GC_NO_SUCH_ROOM;
    int changed = self->backend->member_set (self->db, user, room, member);
    return s_changed (self, changed > 0? 1: changed, GC_OK);
}

void
gc_store_fence (gc_store_t *self, const char *holder)
{
    self->backend->fence (self->db, holder);
}

bool
gc_store_fenced_out (gc_store_t *self)
{
    return self->backend->fenced_out (self->db);
}

int
gc_store_backup (gc_store_t *self, const char *path)
{
    return self->backend->backup (self->db, path);
}

bool
gc_store_backs_up (gc_store_t *self)
{
    return self->backend != &gc_store_pg;
}

int64_t
gc_store_size (gc_store_t *self)
{
    return self->backend->size (self->db);
}

size_t
gc_store_room_count (gc_store_t *self)
{
    return zhashx_size (self->rooms);
}

//  --------------------------------------------------------------------------
//  Self test: the store through its interface, on the default backend

static void
s_test_seed (gc_store_t *self)
{
    char *hash = gc_store_password_hash (self, "Sue");
    assert (hash && strstr (hash, "$argon2id$") == hash && !strstr (hash, "password"));
    assert (crypto_pwhash_str_verify (hash, "password", 8) == 0);
    free (hash);
    assert (gc_store_password_hash (self, "Nobody") == NULL);
    char **names;
    assert (gc_store_rooms (self, "Sandy", &names) == 2);
    assert (streq (names [0], "Quite Interesting") && streq (names [1], "Taskmaster"));
    free (names [0]), free (names [1]), free (names);
    assert (gc_store_is_member (self, "Alex", "8 out of 10 cats"));
    assert (!gc_store_is_member (self, "Sandy", "8 out of 10 cats"));
    assert (gc_store_room (self, "Taskmaster", NULL) && !gc_store_room (self, "taskmaster", NULL));
}

static void
s_test_messages (gc_store_t *self)
{
    gc_store_say_t says [15];
    char texts [15][8];
    for (int index = 0; index < 15; index++) {
        snprintf (texts [index], sizeof texts [index], "m%d", index + 1);
        says [index] = (gc_store_say_t) { .room = "Taskmaster", .from = "Sue",
            .text = texts [index], .text_size = strlen (texts [index]) };
    }
    assert (gc_store_append (self, says, 15, 1000) == 0);
    assert (says [0].seq == 1 && says [14].seq == 15 && says [14].ts == 1000);
    gc_history_t history;
    assert (gc_store_before (self, "Taskmaster", 0, 10, &history) == 0);
    assert (history.size == 10 && history.messages [0].seq == 6 && history.messages [9].seq == 15);
    assert (gc_str_eq (history.messages [9].text, "m15") && gc_str_eq (history.messages [9].from, "Sue"));
    gc_history_free (&history);
    assert (gc_store_before (self, "Taskmaster", 3, 10, &history) == 0);
    assert (history.size == 2 && history.messages [0].seq == 1);
    gc_history_free (&history);
    assert (gc_store_since (self, "Taskmaster", 12, 100, &history) == 0);
    assert (history.size == 3 && history.messages [0].seq == 13);
    gc_history_free (&history);
    assert (gc_store_since (self, "Nowhere", 0, 10, &history) == -1);
    //  A limit is how many at most, whatever it is: none, or far more than
    //  there are without the memory for them (found by fuzz/store.c)
    assert (gc_store_before (self, "Taskmaster", 0, 0, &history) == 0 && history.size == 0);
    gc_history_free (&history);
    assert (gc_store_since (self, "Taskmaster", 0, UINT32_MAX, &history) == 0);
    assert (history.size == 15 && history.messages [14].seq == 15);
    gc_history_free (&history);
    //  A batch naming an unknown room stores nothing at all
    gc_store_say_t bad [2] = {
        { .room = "Taskmaster", .from = "Sue", .text = "x", .text_size = 1 },
        { .room = "Nowhere", .from = "Sue", .text = "y", .text_size = 1 }
    };
    assert (gc_store_append (self, bad, 2, 2000) == -1);
    uint64_t head;
    assert (gc_store_room (self, "Taskmaster", &head) && head == 15);
}

//  The seqs a since 0 finds in room, in order, as one number: 14 15 16
//  is 141516 (the rooms here hold few)
static uint64_t
s_test_seqs (gc_store_t *self, const char *room)
{
    gc_history_t history;
    assert (gc_store_since (self, room, 0, 100, &history) == 0);
    uint64_t seqs = 0;
    for (size_t index = 0; index < history.size; index++)
        seqs = seqs * (history.messages [index].seq < 10? 10: 100) + history.messages [index].seq;
    gc_history_free (&history);
    return seqs;
}

//  Taskmaster holds 1..16, written at 1000 and 3000; Quite Interesting
//  gets six at 10000 and four at 20000
static void
s_test_retention (gc_store_t *self)
{
    gc_store_say_t says [10];
    for (int index = 0; index < 10; index++)
        says [index] = (gc_store_say_t) { .room = "Quite Interesting", .from = "Sue",
            .text = "q", .text_size = 1 };
    assert (gc_store_append (self, says, 6, 10000) == 0);
    assert (gc_store_append (self, says + 6, 4, 20000) == 0);
    //  By age, within the budget, every room; each room's newest stays
    assert (gc_store_retain (self, 15000, 0, 4) == 4);
    assert (gc_store_retain (self, 15000, 0, 100) == 15 + 6 - 4);
    assert (gc_store_retain (self, 15000, 0, 100) == 0);
    assert (s_test_seqs (self, "Quite Interesting") == 78910);
    assert (s_test_seqs (self, "Taskmaster") == 16);
    //  All of them old: the newest stays
    assert (gc_store_retain (self, 30000, 0, 100) == 3);
    assert (s_test_seqs (self, "Quite Interesting") == 10);
    //  By count: the newest keep stay
    for (int index = 0; index < 3; index++)
        says [index].room = "Taskmaster";
    assert (gc_store_append (self, says, 3, 30000) == 0 && says [2].seq == 19);
    assert (gc_store_retain (self, 0, 2, 100) == 2 + 0);
    assert (s_test_seqs (self, "Taskmaster") == 1819);
    assert (gc_store_retain (self, 0, 5, 100) == 0);
}

static void
s_test_tokens (gc_store_t *self)
{
    char token [GC_TOKEN_LEN + 1];
    assert (gc_store_token_new (self, "Alex", 1000, token) == 0 && strlen (token) == 43);
    char *user = gc_store_token_user (self, token, 2000);
    assert (user && streq (user, "Alex"));
    free (user);
    assert (gc_store_token_user (self, "forged", 2000) == NULL);
    assert (gc_store_token_user (self, token, 1000 + GC_TOKEN_TTL_MS + 1) == NULL);
    assert (gc_store_token_user (self, token, 2000) == NULL);   //  expired: gone
    assert (gc_store_token_new (self, "Alex", 5000, token) == 0);
    assert (gc_store_token_delete (self, token) == 0);
    assert (gc_store_token_user (self, token, 5000) == NULL);
    assert (gc_store_token_new (self, "Nobody", 5000, token) == -1);
    //  Expired tokens are purged, the others kept
    char young [GC_TOKEN_LEN + 1];
    assert (gc_store_token_new (self, "Alex", 1000, token) == 0);
    assert (gc_store_token_new (self, "Sue", 2000 + GC_TOKEN_TTL_MS, young) == 0);
    assert (gc_store_tokens_purge (self, 1001 + GC_TOKEN_TTL_MS) == 1);
    assert (gc_store_tokens_purge (self, 1001 + GC_TOKEN_TTL_MS) == 0);
    user = gc_store_token_user (self, young, 3000 + GC_TOKEN_TTL_MS);
    assert (user && streq (user, "Sue"));
    free (user);
}

//  A nonce is remembered GC_NONCE_TTL_MS with its seq and its text's
//  digest, by user and room, from the commit of its say on (the store
//  opened again too); forgotten after, and purged in passes
static void
s_test_nonces (void)
{
    char path [] = "/tmp/gc_store_nonces_XXXXXX";
    close (mkstemp (path));
    gc_store_t *self = gc_store_new (path, GC_SEED_DEMO);
    const char *room = "8 out of 10 cats";
    gc_store_say_t says [3] = {
        { .room = room, .from = "Sue", .text = "hi", .text_size = 2, .nonce = "n-1" },
        { .room = room, .from = "Alex", .text = "hi", .text_size = 2, .nonce = "n-1" },
        { .room = room, .from = "Sue", .text = "hi", .text_size = 2, .nonce = "n-2" },
    };
    int64_t then = 100000, day = GC_NONCE_TTL_MS;
    gc_store_say_t again = says [0];
    assert (gc_store_nonce (self, &again, then) == GC_NONCE_NEW);
    assert (gc_store_append (self, says, 3, then) == 0 && says [1].seq == says [0].seq + 1);
    gc_store_destroy (&self);
    self = gc_store_new (path, GC_SEED_DEMO);
    again = (gc_store_say_t) { .room = room, .from = "Alex", .text = "hi", .text_size = 2,
                               .nonce = "n-1" };
    assert (gc_store_nonce (self, &again, then + day - 1) == GC_NONCE_STORED);
    assert (again.seq == says [1].seq && again.ts == then);
    again.text = "ho";
    assert (gc_store_nonce (self, &again, then) == GC_NONCE_CONFLICT);
    again.room = "Taskmaster";
    assert (gc_store_nonce (self, &again, then) == GC_NONCE_NEW);
    //  A day on, forgotten: the nonce may go with another text, and its
    //  row (not purged yet) is replaced
    again = says [0];
    again.text = "ho";
    assert (gc_store_nonce (self, &again, then + day) == GC_NONCE_NEW);
    assert (gc_store_append (self, &again, 1, then + day) == 0);
    uint64_t seq = again.seq;
    assert (gc_store_nonce (self, &again, then + day + 1) == GC_NONCE_STORED && again.seq == seq);
    again.text = "hi";
    assert (gc_store_nonce (self, &again, then + day + 1) == GC_NONCE_CONFLICT);
    //  Only the forgotten go, the oldest first, a budget and the rest of
    //  its last one's batch at a time
    assert (gc_store_nonces_purge (self, then + day - 1, 100) == 0);
    assert (gc_store_nonces_purge (self, then + day, 1) == 2);     //  Alex's n-1, Sue's n-2
    assert (gc_store_nonces_purge (self, then + day, 100) == 0);
    assert (gc_store_nonces_purge (self, then + 2 * day, 1) == 1); //  Sue's n-1 again
    assert (gc_store_nonces_purge (self, then + 2 * day, 1) == 0);
    gc_store_destroy (&self);
    gc_rig_unlink (path);
}

//  Names too long for a membership key are asked of the database each
//  time: two rooms alike in their first GC_NAME_MAX bytes stay apart
static void
s_test_long_names (gc_store_t *self)
{
    char first [2 * GC_NAME_MAX + 2], second [2 * GC_NAME_MAX + 2];
    memset (first, 'r', sizeof first - 1);
    first [sizeof first - 1] = 0;
    memcpy (second, first, sizeof second);
    second [sizeof second - 2] = 's';
    assert (gc_store_room_add (self, first) == GC_OK);
    assert (gc_store_room_add (self, second) == GC_OK);
    assert (gc_store_member_set (self, "Sue", first, true) == GC_OK);
    assert (gc_store_is_member (self, "Sue", first));
    assert (!gc_store_is_member (self, "Sue", second));
    assert (gc_store_is_member (self, "Sue", first));
}

//  A new user takes the newest generation; a password set and a removal
//  each take the next: a name removed and added again, or given a new
//  password, is never at a generation it had before
static void
s_test_generations (gc_store_t *self)
{
    int64_t changed_ms;
    uint64_t newest = gc_store_generation (self, &changed_ms);
    assert (newest >= 3 && changed_ms > 0);     //  Greg's password, then his removal
    assert (gc_store_user_generation (self, "Greg") == 0);
    assert (gc_store_user_generation (self, "Sue") == 1);       //  seeded
    assert (gc_store_user_add (self, "Greg", "$argon2id$fake") == GC_OK);
    assert (gc_store_user_generation (self, "Greg") == newest);
    assert (gc_store_password_set (self, "Greg", "$argon2id$new") == GC_OK);
    assert (gc_store_generation (self, NULL) == newest + 1);
    assert (gc_store_user_generation (self, "Greg") == newest + 1);
    assert (gc_store_password_set (self, "Nobody", "$argon2id$new") == GC_NO_SUCH_USER);
    assert (gc_store_generation (self, NULL) == newest + 1);
    assert (gc_store_user_remove (self, "Greg") == GC_OK);
    assert (gc_store_user_generation (self, "Greg") == 0);
    assert (gc_store_user_add (self, "Greg", "$argon2id$fake") == GC_OK);
    assert (gc_store_user_generation (self, "Greg") == newest + 2);
    assert (gc_store_user_remove (self, "Greg") == GC_OK);
    assert (gc_store_generation (self, NULL) == newest + 3);
    assert (gc_store_user_generation (self, "Sue") == 1);
}

static void
s_test_admin (gc_store_t *self)
{
    assert (gc_store_user_add (self, "Greg", "$argon2id$fake") == GC_OK);
    assert (gc_store_user_add (self, "Greg", "$argon2id$fake") == GC_BAD_REQUEST);
    assert (gc_store_room_add (self, "Bake Off") == GC_OK);
    assert (gc_store_room_add (self, "Bake Off") == GC_BAD_REQUEST);
    //  A kept "no" is forgotten when the membership changes
    assert (!gc_store_is_member (self, "Greg", "Bake Off"));
    assert (gc_store_member_set (self, "Greg", "Bake Off", true) == GC_OK);
    assert (gc_store_is_member (self, "Greg", "Bake Off"));
    assert (gc_store_member_set (self, "Greg", "Nowhere", true) == GC_NO_SUCH_ROOM);
    assert (gc_store_member_set (self, "Nobody", "Bake Off", true) == GC_NO_SUCH_USER);
    assert (gc_store_member_set (self, "Greg", "Bake Off", false) == GC_OK);
    assert (!gc_store_is_member (self, "Greg", "Bake Off"));
    //  A kept "yes" is forgotten when the user goes, taking the membership
    assert (gc_store_member_set (self, "Greg", "Bake Off", true) == GC_OK);
    assert (gc_store_is_member (self, "Greg", "Bake Off"));
    char token [GC_TOKEN_LEN + 1];
    assert (gc_store_token_new (self, "Greg", 1000, token) == 0);
    assert (gc_store_password_set (self, "Greg", "$argon2id$other") == GC_OK);
    assert (gc_store_token_user (self, token, 1000) == NULL);      //  revoked
    assert (gc_store_user_remove (self, "Greg") == GC_OK);
    assert (gc_store_user_remove (self, "Greg") == GC_NO_SUCH_USER);
    assert (!gc_store_is_member (self, "Greg", "Bake Off"));
    assert (gc_store_password_hash (self, "Greg") == NULL);
    s_test_generations (self);
    assert (gc_store_size (self) > 0 && gc_store_room_count (self) == 4);
    s_test_long_names (self);
}

//  Every name list is sorted, whatever order the names came in
static void
s_test_lists (gc_store_t *self)
{
    assert (gc_store_user_add (self, "Aaron", "$argon2id$fake") == GC_OK);
    assert (gc_store_user_exists (self, "Aaron") && !gc_store_user_exists (self, "Nobody"));
    char **names;
    int count = gc_store_users (self, &names);
    assert (count == 4 && streq (names [0], "Aaron") && streq (names [1], "Alex"));
    assert (streq (names [2], "Sandy") && streq (names [3], "Sue"));
    gc_store_names_free (&names, count);
    assert (names == NULL);
    count = gc_store_all_rooms (self, &names);    //  the long names sort last
    assert (count == 6 && streq (names [0], "8 out of 10 cats") && streq (names [1], "Bake Off"));
    assert (streq (names [2], "Quite Interesting") && streq (names [3], "Taskmaster"));
    gc_store_names_free (&names, count);
    assert (gc_store_member_set (self, "Aaron", "Taskmaster", true) == GC_OK);
    count = gc_store_members (self, "Taskmaster", &names);
    assert (count == 4 && streq (names [0], "Aaron") && streq (names [3], "Sue"));
    gc_store_names_free (&names, count);
    assert (gc_store_members (self, "Nowhere", &names) == 0 && names == NULL);
}

//  seed none leaves an empty database empty; a database with a room but
//  no user is not empty, so it is never seeded afterwards
static void
s_test_seed_none (void)
{
    gc_seed_t seed;
    assert (gc_seed_parse ("demo", &seed) && seed == GC_SEED_DEMO);
    assert (gc_seed_parse ("none", &seed) && seed == GC_SEED_NONE);
    assert (!gc_seed_parse ("Demo", &seed) && !gc_seed_parse ("", &seed));
    char path [] = "/tmp/gc_store_none_XXXXXX";
    close (mkstemp (path));
    gc_store_t *self = gc_store_new (path, GC_SEED_NONE);
    char **names;
    assert (self && gc_store_users (self, &names) == 0);
    gc_store_names_free (&names, 0);
    assert (gc_store_room_count (self) == 0 && !gc_store_password_hash (self, "Sue"));
    assert (gc_store_room_add (self, "Bake Off") == GC_OK);
    gc_store_destroy (&self);
    self = gc_store_new (path, GC_SEED_DEMO);
    assert (self && gc_store_users (self, &names) == 0);
    gc_store_names_free (&names, 0);
    assert (gc_store_room_count (self) == 1);
    gc_store_destroy (&self);
    gc_rig_unlink (path);
}

//  No user nor password of a URI reaches a log
static void
s_test_shown (void)
{
    char shown [64];
    assert (streq (gc_store_shown ("/var/lib/chat.db", shown, sizeof shown), "/var/lib/chat.db"));
    assert (streq (gc_store_shown ("postgresql://chat:secret@db:5432/chat?sslmode=require",
                                   shown, sizeof shown), "postgresql://db:5432/chat"));
    assert (streq (gc_store_shown ("postgres://db/chat?password=secret", shown, sizeof shown),
                   "postgres://db/chat"));
    assert (streq (gc_store_shown ("postgresql://db?x=a@b", shown, sizeof shown), "postgresql://db"));
}

void
gc_store_test (bool verbose)
{
    if (verbose)
        printf (" * gc_store: ");
    char path [] = "/tmp/gc_store_test_XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    close (fd);
    gc_store_t *self = gc_store_new (path, GC_SEED_DEMO);
    assert (self);
    s_test_seed (self);
    s_test_messages (self);
    s_test_tokens (self);
    s_test_admin (self);
    s_test_lists (self);
    char copy [64];
    snprintf (copy, sizeof copy, "%s.copy", path);
    assert (gc_store_backup (self, copy) == 0);
    gc_store_destroy (&self);
    gc_store_destroy (&self);
    //  The backup holds every message appended before it; a database
    //  argument may name its backend
    char named [80];
    snprintf (named, sizeof named, "sqlite:%s", copy);
    self = gc_store_new (named, GC_SEED_NONE);
    uint64_t copied;
    assert (self && gc_store_room (self, "Taskmaster", &copied) && copied == 15);
    gc_store_destroy (&self);
    gc_rig_unlink (copy);
    //  Reopened, the seqs and the generations go on where they were
    self = gc_store_new (path, GC_SEED_DEMO);
    uint64_t head;
    assert (self && gc_store_room (self, "Taskmaster", &head) && head == 15);
    int64_t changed_ms;
    assert (gc_store_generation (self, &changed_ms) > 3 && changed_ms == 0);
    gc_store_say_t say = { .room = "Taskmaster", .from = "Alex", .text = "again", .text_size = 5 };
    assert (gc_store_append (self, &say, 1, 3000) == 0 && say.seq == 16);
    s_test_retention (self);
    gc_store_destroy (&self);
    //  Retention never takes a room's newest: the heads are read back
    self = gc_store_new (path, GC_SEED_DEMO);
    assert (self && gc_store_room (self, "Quite Interesting", &head) && head == 10);
    assert (gc_store_append (self, &say, 1, 40000) == 0 && say.seq == 20);
    gc_store_destroy (&self);
    gc_rig_unlink (path);
    s_test_seed_none ();
    s_test_nonces ();
    s_test_shown ();
    if (verbose)
        printf ("OK\n");
}
