/*  store.c: SQLite storage for the broker.

    WAL with synchronous=FULL: a commit is on disk when sqlite3_step
    returns, which is what lets the broker acknowledge a say only after
    it. Everything the broker asks of the database is one of the prepared
    statements in s_sql, so the SQL of the whole product reads in one
    screen. */
#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <sqlite3.h>
#include "store.h"
#include "gc_limits.h"
#include "gc_log.h"

static const char *s_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS users ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rooms ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS members ("
    "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  room_id INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    "  PRIMARY KEY (user_id, room_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages ("
    "  room_id INTEGER NOT NULL REFERENCES rooms (id),"
    "  seq INTEGER NOT NULL, sender TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL,"
    "  PRIMARY KEY (room_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  last_used INTEGER NOT NULL) WITHOUT ROWID;";

typedef enum {
    Q_PASSWORD, Q_TOKEN_INSERT, Q_TOKEN_USER, Q_TOKEN_TOUCH, Q_TOKEN_DELETE,
    Q_ROOMS_OF, Q_IS_MEMBER, Q_BEFORE, Q_SINCE, Q_INSERT, Q_BEGIN, Q_COMMIT,
    Q_ROLLBACK, Q_USER_ADD, Q_USER_REMOVE, Q_PASSWORD_SET, Q_TOKENS_OF_USER,
    Q_ROOM_ADD, Q_MEMBER_ADD, Q_MEMBER_REMOVE, Q_USER_EXISTS, Q_COUNT
} s_query_t;

static const char *s_sql [Q_COUNT] = {
    [Q_PASSWORD]     = "SELECT password_hash FROM users WHERE name = ?1",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens (hash, user_id, last_used)"
                       " SELECT ?1, id, ?3 FROM users WHERE name = ?2",
    [Q_TOKEN_USER]   = "SELECT u.name, t.last_used FROM tokens t JOIN users u ON u.id = t.user_id"
                       " WHERE t.hash = ?1",
    [Q_TOKEN_TOUCH]  = "UPDATE tokens SET last_used = ?2 WHERE hash = ?1",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
    [Q_ROOMS_OF]     = "SELECT r.name FROM rooms r JOIN members m ON m.room_id = r.id"
                       " JOIN users u ON u.id = m.user_id WHERE u.name = ?1 ORDER BY r.name",
    [Q_IS_MEMBER]    = "SELECT 1 FROM members m JOIN users u ON u.id = m.user_id"
                       " JOIN rooms r ON r.id = m.room_id WHERE u.name = ?1 AND r.name = ?2",
    [Q_BEFORE]       = "SELECT seq, sender, text, ts FROM messages"
                       " WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [Q_SINCE]        = "SELECT seq, sender, text, ts FROM messages"
                       " WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_INSERT]       = "INSERT INTO messages (room_id, seq, sender, text, ts)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_BEGIN]        = "BEGIN IMMEDIATE",
    [Q_COMMIT]       = "COMMIT",
    [Q_ROLLBACK]     = "ROLLBACK",
    [Q_USER_ADD]     = "INSERT OR IGNORE INTO users (name, password_hash) VALUES (?1, ?2)",
    [Q_USER_REMOVE]  = "DELETE FROM users WHERE name = ?1",
    [Q_PASSWORD_SET] = "UPDATE users SET password_hash = ?2 WHERE name = ?1",
    [Q_TOKENS_OF_USER] = "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
    [Q_ROOM_ADD]     = "INSERT OR IGNORE INTO rooms (name) VALUES (?1)",
    [Q_MEMBER_ADD]   = "INSERT OR IGNORE INTO members (user_id, room_id)"
                       " SELECT u.id, r.id FROM users u, rooms r WHERE u.name = ?1 AND r.name = ?2",
    [Q_MEMBER_REMOVE] = "DELETE FROM members WHERE user_id = (SELECT id FROM users WHERE name = ?1)"
                       " AND room_id = (SELECT id FROM rooms WHERE name = ?2)",
    [Q_USER_EXISTS]  = "SELECT 1 FROM users WHERE name = ?1",
};

//  The initial data of protocol.md, inserted into an empty database
static const struct {
    const char *user;
    const char *rooms [4];
} s_seed [] = {
    { "Alex", { "8 out of 10 cats", "Taskmaster" } },
    { "Sue", { "8 out of 10 cats", "Quite Interesting", "Taskmaster" } },
    { "Sandy", { "Quite Interesting", "Taskmaster" } },
};
static const char *s_seed_password = "password";

typedef struct {
    int64_t id;
    char *name;
    uint64_t last;              //  newest seq
    int64_t changed_ms;         //  when last was stored, 0 if not since start
} s_room_t;


struct gc_store_t {
    sqlite3 *db;
    sqlite3_stmt *stmt [Q_COUNT];
    zhashx_t *rooms;            //  name -> s_room_t
    zhashx_t *membership;       //  s_membership_key -> &s_member or &s_not_member
};

//  Membership answers, kept because every say asks and only this store
//  changes them: s_change forgets them all
static const bool s_member = true, s_not_member = false;

//  --------------------------------------------------------------------------
//  Helpers

static sqlite3_stmt *
s_stmt (gc_store_t *self, s_query_t query)
{
    sqlite3_stmt *stmt = self->stmt [query];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

static int
s_exec (gc_store_t *self, s_query_t query)
{
    int rc = sqlite3_step (s_stmt (self, query));
    sqlite3_reset (self->stmt [query]);
    if (rc != SQLITE_DONE)
        gc_error ("store: %s failed: %s", s_sql [query], sqlite3_errmsg (self->db));
    return rc == SQLITE_DONE? 0: -1;
}

static void
s_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

static void
s_token_hash (const char *token, unsigned char hash [crypto_generichash_BYTES])
{
    crypto_generichash (hash, crypto_generichash_BYTES,
                        (const unsigned char *) token, strlen (token), NULL, 0);
}

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

//  --------------------------------------------------------------------------
//  Opening

static int
s_seed_users (gc_store_t *self)
{
    char hash [crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str (hash, s_seed_password, strlen (s_seed_password),
                           crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return -1;
    sqlite3_stmt *user, *room, *member;
    int rc = sqlite3_prepare_v2 (self->db, "INSERT INTO users (name, password_hash) VALUES (?1, ?2)", -1, &user, NULL)
          | sqlite3_prepare_v2 (self->db, "INSERT OR IGNORE INTO rooms (name) VALUES (?1)", -1, &room, NULL)
          | sqlite3_prepare_v2 (self->db, "INSERT INTO members (user_id, room_id) SELECT u.id, r.id"
                                " FROM users u, rooms r WHERE u.name = ?1 AND r.name = ?2", -1, &member, NULL);
    for (size_t index = 0; rc == SQLITE_OK && index < sizeof s_seed / sizeof s_seed [0]; index++) {
        //  Each user gets a hash of its own: the same password, another salt
        if (index && crypto_pwhash_str (hash, s_seed_password, strlen (s_seed_password),
                                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE))
            rc = SQLITE_ERROR;
        s_bind_text (user, 1, s_seed [index].user);
        s_bind_text (user, 2, hash);
        rc |= sqlite3_step (user) == SQLITE_DONE? SQLITE_OK: SQLITE_ERROR;
        sqlite3_reset (user);
        for (size_t at = 0; s_seed [index].rooms [at]; at++) {
            s_bind_text (room, 1, s_seed [index].rooms [at]);
            rc |= sqlite3_step (room) == SQLITE_DONE? SQLITE_OK: SQLITE_ERROR;
            sqlite3_reset (room);
            s_bind_text (member, 1, s_seed [index].user);
            s_bind_text (member, 2, s_seed [index].rooms [at]);
            rc |= sqlite3_step (member) == SQLITE_DONE? SQLITE_OK: SQLITE_ERROR;
            sqlite3_reset (member);
        }
    }
    sqlite3_finalize (user);
    sqlite3_finalize (room);
    sqlite3_finalize (member);
    return rc == SQLITE_OK? 0: -1;
}

static int
s_seed_if_empty (gc_store_t *self)
{
    sqlite3_stmt *count;
    if (sqlite3_prepare_v2 (self->db, "SELECT count(*) FROM users", -1, &count, NULL))
        return -1;
    bool empty = sqlite3_step (count) == SQLITE_ROW && sqlite3_column_int (count, 0) == 0;
    sqlite3_finalize (count);
    if (!empty)
        return 0;
    gc_info ("store: empty database, creating the initial users and rooms");
    if (sqlite3_exec (self->db, "BEGIN", NULL, NULL, NULL))
        return -1;
    int rc = s_seed_users (self);
    return sqlite3_exec (self->db, rc? "ROLLBACK": "COMMIT", NULL, NULL, NULL) || rc? -1: 0;
}

static int
s_load_rooms (gc_store_t *self)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "SELECT r.id, r.name, (SELECT max(seq) FROM messages m"
                            " WHERE m.room_id = r.id) FROM rooms r", -1, &stmt, NULL))
        return -1;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        s_room_t *room = calloc (1, sizeof *room);
        room->id = sqlite3_column_int64 (stmt, 0);
        room->name = strdup ((const char *) sqlite3_column_text (stmt, 1));
        room->last = (uint64_t) sqlite3_column_int64 (stmt, 2);
        zhashx_update (self->rooms, room->name, room);
    }
    sqlite3_finalize (stmt);
    return 0;
}

gc_store_t *
gc_store_new (const char *path)
{
    if (sodium_init () < 0)
        return NULL;
    gc_store_t *self = calloc (1, sizeof *self);
    self->rooms = zhashx_new ();
    zhashx_set_destructor (self->rooms, s_room_free);
    self->membership = zhashx_new ();
    if (sqlite3_open (path, &self->db) != SQLITE_OK
    ||  sqlite3_busy_timeout (self->db, GC_STORE_BUSY_MS) != SQLITE_OK
    ||  sqlite3_exec (self->db, s_schema, NULL, NULL, NULL) != SQLITE_OK)
        goto failed;
    for (int query = 0; query < Q_COUNT; query++)
        if (sqlite3_prepare_v3 (self->db, s_sql [query], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->stmt [query], NULL) != SQLITE_OK)
            goto failed;
    if (s_seed_if_empty (self) || s_load_rooms (self))
        goto failed;
    return self;

failed:
    gc_error ("store: cannot open db=%s: %s", path,
              self->db? sqlite3_errmsg (self->db): "out of memory");
    gc_store_destroy (&self);
    return NULL;
}

void
gc_store_destroy (gc_store_t **self_p)
{
    gc_store_t *self = *self_p;
    if (!self)
        return;
    for (int query = 0; query < Q_COUNT; query++)
        sqlite3_finalize (self->stmt [query]);
    sqlite3_close (self->db);
    zhashx_destroy (&self->rooms);
    zhashx_destroy (&self->membership);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Users and tokens

char *
gc_store_password_hash (gc_store_t *self, const char *user)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_PASSWORD);
    s_bind_text (stmt, 1, user);
    char *hash = sqlite3_step (stmt) == SQLITE_ROW?
                 strdup ((const char *) sqlite3_column_text (stmt, 0)): NULL;
    sqlite3_reset (stmt);
    return hash;
}

int
gc_store_token_new (gc_store_t *self, const char *user, int64_t now, char *token)
{
    unsigned char secret [32], hash [crypto_generichash_BYTES];
    randombytes_buf (secret, sizeof secret);
    sodium_bin2base64 (token, GC_TOKEN_LEN + 1, secret, sizeof secret,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_token_hash (token, hash);
    sqlite3_stmt *stmt = s_stmt (self, Q_TOKEN_INSERT);
    sqlite3_bind_blob (stmt, 1, hash, sizeof hash, SQLITE_STATIC);
    s_bind_text (stmt, 2, user);
    sqlite3_bind_int64 (stmt, 3, now);
    int rc = sqlite3_step (stmt) == SQLITE_DONE && sqlite3_changes (self->db) == 1? 0: -1;
    sqlite3_reset (stmt);
    return rc;
}

char *
gc_store_token_user (gc_store_t *self, const char *token, int64_t now)
{
    unsigned char hash [crypto_generichash_BYTES];
    s_token_hash (token, hash);
    sqlite3_stmt *stmt = s_stmt (self, Q_TOKEN_USER);
    sqlite3_bind_blob (stmt, 1, hash, sizeof hash, SQLITE_STATIC);
    char *user = NULL;
    int64_t last_used = 0;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        user = strdup ((const char *) sqlite3_column_text (stmt, 0));
        last_used = sqlite3_column_int64 (stmt, 1);
    }
    sqlite3_reset (stmt);
    if (user && now - last_used > GC_TOKEN_TTL_MS) {
        gc_store_token_delete (self, token);
        free (user);
        return NULL;
    }
    //  Refresh lazily: a write per reconnect would cost an fsync each
    if (user && now - last_used > 60 * 1000) {
        stmt = s_stmt (self, Q_TOKEN_TOUCH);
        sqlite3_bind_blob (stmt, 1, hash, sizeof hash, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, now);
        sqlite3_step (stmt);
        sqlite3_reset (stmt);
    }
    return user;
}

int
gc_store_token_delete (gc_store_t *self, const char *token)
{
    unsigned char hash [crypto_generichash_BYTES];
    s_token_hash (token, hash);
    sqlite3_stmt *stmt = s_stmt (self, Q_TOKEN_DELETE);
    sqlite3_bind_blob (stmt, 1, hash, sizeof hash, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: -1;
    sqlite3_reset (stmt);
    return rc;
}

//  --------------------------------------------------------------------------
//  Rooms

int
gc_store_rooms (gc_store_t *self, const char *user, char ***names)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_ROOMS_OF);
    s_bind_text (stmt, 1, user);
    int count = 0;
    *names = NULL;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        char **grown = realloc (*names, (count + 1) * sizeof (char *));
        if (!grown)
            break;
        *names = grown;
        (*names) [count++] = strdup ((const char *) sqlite3_column_text (stmt, 0));
    }
    sqlite3_reset (stmt);
    return count;
}

bool
gc_store_room (gc_store_t *self, const char *room, uint64_t *last)
{
    s_room_t *found = zhashx_lookup (self->rooms, room);
    if (found && last)
        *last = found->last;
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

static int
s_query_member (gc_store_t *self, const char *user, const char *room)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_IS_MEMBER);
    s_bind_text (stmt, 1, user);
    s_bind_text (stmt, 2, room);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc;
}

bool
gc_store_is_member (gc_store_t *self, const char *user, const char *room)
{
    char key [2 * GC_NAME_MAX + 24];
    if (!s_membership_key (key, sizeof key, user, room))
        return s_query_member (self, user, room) == SQLITE_ROW;
    const bool *known = zhashx_lookup (self->membership, key);
    if (known)
        return *known;
    int rc = s_query_member (self, user, room);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return false;           //  not an answer to keep
    if (zhashx_size (self->membership) >= GC_STORE_MEMBERSHIP_MAX)
        zhashx_purge (self->membership);
    zhashx_insert (self->membership, key, (void *) (rc == SQLITE_ROW? &s_member: &s_not_member));
    return rc == SQLITE_ROW;
}

void
gc_store_recent_rooms (gc_store_t *self, int64_t since_ms,
                       void (*fn) (void *arg, const char *room, uint64_t last), void *arg)
{
    for (s_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms))
        if (room->changed_ms && room->changed_ms >= since_ms)
            fn (arg, room->name, room->last);
}

//  --------------------------------------------------------------------------
//  Messages

//  Copies one row into a message whose strings share one allocation
static int
s_row_message (sqlite3_stmt *stmt, const char *room, gc_message_t *message)
{
    size_t room_size = strlen (room);
    size_t from_size = (size_t) sqlite3_column_bytes (stmt, 1);
    size_t text_size = (size_t) sqlite3_column_bytes (stmt, 2);
    char *strings = malloc (room_size + from_size + text_size + 1);
    if (!strings)
        return -1;
    memcpy (strings, room, room_size);
    memcpy (strings + room_size, sqlite3_column_text (stmt, 1), from_size);
    memcpy (strings + room_size + from_size, sqlite3_column_text (stmt, 2), text_size);
    *message = (gc_message_t) {
        { strings, room_size }, (uint64_t) sqlite3_column_int64 (stmt, 0),
        { strings + room_size, from_size }, { strings + room_size + from_size, text_size },
        sqlite3_column_int64 (stmt, 3)
    };
    return 0;
}

static int
s_query_messages (gc_store_t *self, s_query_t query, const char *room, uint64_t bound,
                  uint32_t limit, gc_history_t *history)
{
    history->messages = NULL;
    history->size = 0;
    s_room_t *found = zhashx_lookup (self->rooms, room);
    if (!found)
        return -1;
    history->messages = calloc (limit? limit: 1, sizeof (gc_message_t));
    if (!history->messages)
        return -1;
    sqlite3_stmt *stmt = s_stmt (self, query);
    sqlite3_bind_int64 (stmt, 1, found->id);
    sqlite3_bind_int64 (stmt, 2, bound > INT64_MAX? INT64_MAX: (int64_t) bound);
    sqlite3_bind_int64 (stmt, 3, limit);
    int rc = 0;
    while (history->size < limit && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
        if (s_row_message (stmt, room, &history->messages [history->size++]))
            break;
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        gc_history_free (history);
        return -1;
    }
    return 0;
}

int
gc_store_before (gc_store_t *self, const char *room, uint64_t before, uint32_t limit,
                 gc_history_t *history)
{
    if (s_query_messages (self, Q_BEFORE, room, before? before: UINT64_MAX, limit, history))
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
    return s_query_messages (self, Q_SINCE, room, since, limit, history);
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

static int
s_insert (gc_store_t *self, s_room_t *room, gc_store_say_t *say)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_INSERT);
    sqlite3_bind_int64 (stmt, 1, room->id);
    sqlite3_bind_int64 (stmt, 2, (int64_t) say->seq);
    s_bind_text (stmt, 3, say->from);
    sqlite3_bind_text (stmt, 4, say->text, (int) say->text_size, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, say->ts);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE? 0: -1;
}

int
gc_store_append (gc_store_t *self, gc_store_say_t *says, size_t count, int64_t now)
{
    if (count == 0)
        return 0;
    if (s_exec (self, Q_BEGIN))
        return -1;
    size_t index;
    for (index = 0; index < count; index++) {
        s_room_t *room = zhashx_lookup (self->rooms, says [index].room);
        if (!room)
            break;
        says [index].seq = room->last + 1;
        says [index].ts = now;
        if (s_insert (self, room, &says [index]))
            break;
        room->last++;
    }
    if (index == count && s_exec (self, Q_COMMIT) == 0) {
        for (index = 0; index < count; index++)
            ((s_room_t *) zhashx_lookup (self->rooms, says [index].room))->changed_ms = now;
        return 0;
    }
    gc_error ("store: append of %zu messages failed, rolled back: %s", count,
              sqlite3_errmsg (self->db));
    s_exec (self, Q_ROLLBACK);
    //  Give back the seqs the failed transaction took
    while (index-- > 0)
        ((s_room_t *) zhashx_lookup (self->rooms, says [index].room))->last--;
    return -1;
}

//  --------------------------------------------------------------------------
//  Administration

//  Runs one statement binding up to two texts; returns the rows changed,
//  or -1 on failure
static int
s_change (gc_store_t *self, s_query_t query, const char *first, const char *second)
{
    sqlite3_stmt *stmt = s_stmt (self, query);
    s_bind_text (stmt, 1, first);
    if (second)
        s_bind_text (stmt, 2, second);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    //  Users, rooms and members change only here, and seldom
    zhashx_purge (self->membership);
    return rc == SQLITE_DONE? sqlite3_changes (self->db): -1;
}

static bool
s_user_exists (gc_store_t *self, const char *user)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_EXISTS);
    s_bind_text (stmt, 1, user);
    bool exists = sqlite3_step (stmt) == SQLITE_ROW;
    sqlite3_reset (stmt);
    return exists;
}

gc_error_t
gc_store_user_add (gc_store_t *self, const char *user, const char *hash)
{
    int changed = s_change (self, Q_USER_ADD, user, hash);
    return changed == 1? GC_OK: changed == 0? GC_BAD_REQUEST: GC_INTERNAL;
}

gc_error_t
gc_store_user_remove (gc_store_t *self, const char *user)
{
    int changed = s_change (self, Q_USER_REMOVE, user, NULL);
    return changed == 1? GC_OK: changed == 0? GC_NO_SUCH_USER: GC_INTERNAL;
}

gc_error_t
gc_store_password_set (gc_store_t *self, const char *user, const char *hash)
{
    if (!s_user_exists (self, user))
        return GC_NO_SUCH_USER;
    //  A new password ends every session the old one opened
    return s_change (self, Q_PASSWORD_SET, user, hash) == 1
        && s_change (self, Q_TOKENS_OF_USER, user, NULL) >= 0? GC_OK: GC_INTERNAL;
}

gc_error_t
gc_store_room_add (gc_store_t *self, const char *room)
{
    int changed = s_change (self, Q_ROOM_ADD, room, NULL);
    if (changed != 1)
        return changed == 0? GC_BAD_REQUEST: GC_INTERNAL;
    s_room_t *added = calloc (1, sizeof *added);
    added->id = sqlite3_last_insert_rowid (self->db);
    added->name = strdup (room);
    zhashx_update (self->rooms, added->name, added);
    return GC_OK;
}

gc_error_t
gc_store_member_set (gc_store_t *self, const char *user, const char *room, bool member)
{
    if (!s_user_exists (self, user))
        return GC_NO_SUCH_USER;
    if (!zhashx_lookup (self->rooms, room))
        return GC_NO_SUCH_ROOM;
    return s_change (self, member? Q_MEMBER_ADD: Q_MEMBER_REMOVE, user, room) >= 0?
           GC_OK: GC_INTERNAL;
}

int
gc_store_backup (gc_store_t *self, const char *path)
{
    sqlite3 *copy;
    int rc = sqlite3_open (path, &copy);
    sqlite3_backup *backup = rc == SQLITE_OK?
                             sqlite3_backup_init (copy, "main", self->db, "main"): NULL;
    if (backup) {
        //  One step copies a consistent snapshot; the loop waits meanwhile
        sqlite3_backup_step (backup, -1);
        rc = sqlite3_backup_finish (backup);
    }
    else
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK)
        gc_error ("store: backup to path=%s failed: %s", path, sqlite3_errmsg (copy));
    sqlite3_close (copy);
    return rc == SQLITE_OK? 0: -1;
}

int64_t
gc_store_size (gc_store_t *self)
{
    sqlite3_stmt *stmt;
    int64_t size = 0;
    if (sqlite3_prepare_v2 (self->db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                            -1, &stmt, NULL) == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
        size = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return size;
}

size_t
gc_store_room_count (gc_store_t *self)
{
    return zhashx_size (self->rooms);
}

//  --------------------------------------------------------------------------
//  Self test

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
        says [index] = (gc_store_say_t) { "Taskmaster", "Sue", texts [index], strlen (texts [index]), 0, 0 };
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
    //  A batch naming an unknown room stores nothing at all
    gc_store_say_t bad [2] = {
        { "Taskmaster", "Sue", "x", 1, 0, 0 }, { "Nowhere", "Sue", "y", 1, 0, 0 }
    };
    assert (gc_store_append (self, bad, 2, 2000) == -1);
    uint64_t last;
    assert (gc_store_room (self, "Taskmaster", &last) && last == 15);
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
    assert (gc_store_size (self) > 0 && gc_store_room_count (self) == 4);
    s_test_long_names (self);
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
    gc_store_t *self = gc_store_new (path);
    assert (self);
    s_test_seed (self);
    s_test_messages (self);
    s_test_tokens (self);
    s_test_admin (self);
    char copy [64];
    snprintf (copy, sizeof copy, "%s.copy", path);
    assert (gc_store_backup (self, copy) == 0);
    gc_store_destroy (&self);
    gc_store_destroy (&self);
    //  The backup holds every message appended before it
    self = gc_store_new (copy);
    uint64_t copied;
    assert (self && gc_store_room (self, "Taskmaster", &copied) && copied == 15);
    gc_store_destroy (&self);
    unlink (copy);
    //  Reopened, the seqs go on where they were
    self = gc_store_new (path);
    uint64_t last;
    assert (self && gc_store_room (self, "Taskmaster", &last) && last == 15);
    gc_store_say_t say = { "Taskmaster", "Alex", "again", 5, 0, 0 };
    assert (gc_store_append (self, &say, 1, 3000) == 0 && say.seq == 16);
    gc_store_destroy (&self);
    char wal [64];
    unlink (path);
    snprintf (wal, sizeof wal, "%s-wal", path), unlink (wal);
    snprintf (wal, sizeof wal, "%s-shm", path), unlink (wal);
    if (verbose)
        printf ("OK\n");
}
