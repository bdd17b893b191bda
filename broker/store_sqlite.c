/*  store_sqlite.c: the store's SQLite backend.

    WAL with synchronous=FULL: a commit is on disk when sqlite3_step
    returns, which is what lets the broker acknowledge a say only after
    it. Every statement, schema, migrations, seeding and sizing included,
    is in s_sql, so the SQL of the whole product reads in one screen.

    The schema is versioned with PRAGMA user_version. Version 0 is the
    first schema, frozen; every later version is one migration on top of
    it. A new database is made as version 0 and migrated like any older
    one, in the same transaction, so every database in the field took
    the very path the tests take. */
#include <czmq.h>
#include <sodium.h>
#include <sqlite3.h>
#include "store_backend.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_clock.h"
#include "gc_limits.h"
#include "gc_log.h"

typedef enum {
    //  Run once with sqlite3_exec, in this order
    Q_PRAGMAS, Q_SCHEMA_0, Q_MIGRATE_1, Q_MIGRATE_2, Q_MIGRATE_3,
    //  Prepared once, for the store's whole life: first those that work
    //  on any schema, then (from Q_TABLES) those that need the newest
    Q_PREPARED, Q_VERSION = Q_PREPARED, Q_HAS_TABLES, Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
    Q_TABLES, Q_IS_EMPTY = Q_TABLES, Q_ROOMS_LOAD, Q_SIZE,
    Q_PASSWORD, Q_TOKEN_INSERT, Q_TOKEN_USER, Q_TOKEN_TOUCH, Q_TOKEN_DELETE, Q_TOKENS_PURGE, Q_RETAIN,
    Q_ROOMS_OF, Q_IS_MEMBER, Q_BEFORE, Q_SINCE, Q_INSERT, Q_USER_ADD, Q_USER_REMOVE, Q_PASSWORD_SET, Q_TOKENS_OF_USER,
    Q_ROOM_ADD, Q_MEMBER_ADD, Q_MEMBER_REMOVE, Q_USER_EXISTS, Q_USERS, Q_ROOMS, Q_MEMBERS,
    Q_GENERATION, Q_GENERATION_NEXT, Q_USER_GENERATION,
    Q_NONCE_FIND, Q_NONCE_INSERT, Q_NONCES_PURGE,
    Q_COUNT
} s_query_t;

//  The newest schema version: Q_SCHEMA_0, then Q_MIGRATE_1 .. _n
#define S_VERSION 3

static const char *s_sql [Q_COUNT] = {
    [Q_PRAGMAS]      = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
    //  Version 0, as the first release made it; never edit, migrate
    [Q_SCHEMA_0]     = "CREATE TABLE users ("
                       "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);"
                       "CREATE TABLE rooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
                       "CREATE TABLE members ("
                       "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
                       "  room_id INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
                       "  PRIMARY KEY (user_id, room_id)) WITHOUT ROWID;"
                       "CREATE TABLE messages ("
                       "  room_id INTEGER NOT NULL REFERENCES rooms (id),"
                       "  seq INTEGER NOT NULL, sender TEXT NOT NULL, text TEXT NOT NULL,"
                       "  ts INTEGER NOT NULL, PRIMARY KEY (room_id, seq)) WITHOUT ROWID;"
                       "CREATE TABLE tokens ("
                       "  hash BLOB PRIMARY KEY,"
                       "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
                       "  last_used INTEGER NOT NULL) WITHOUT ROWID;",
    //  Version 0 called a message's author its sender
    [Q_MIGRATE_1]    = "ALTER TABLE messages RENAME COLUMN sender TO \"from\";"
                       "PRAGMA user_version = 1",
    //  Each user's generation, and the newest one taken (store.h); the
    //  users there are, each alone with its name, start at 1
    [Q_MIGRATE_2]    = "ALTER TABLE users ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;"
                       "CREATE TABLE generation (last INTEGER NOT NULL);"
                       "INSERT INTO generation VALUES (1);"
                       "PRAGMA user_version = 2",
    //  The nonces of the last day's says (store.h): the seq the first say
    //  got, and a digest of its text, which tells a resend from another
    //  text under the same nonce even once retention took the message.
    //  Keyed as looked up, so a lookup is one search; by ts for the purge.
    //  A user's go with the user: a name added again starts afresh.
    [Q_MIGRATE_3]    = "CREATE TABLE nonces ("
                       "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
                       "  room_id INTEGER NOT NULL REFERENCES rooms (id),"
                       "  nonce TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
                       "  digest BLOB NOT NULL,"
                       "  PRIMARY KEY (user_id, room_id, nonce)) WITHOUT ROWID;"
                       "CREATE INDEX nonces_by_ts ON nonces (ts);"
                       "PRAGMA user_version = 3",
    [Q_VERSION]      = "PRAGMA user_version",
    [Q_HAS_TABLES]   = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
    [Q_IS_EMPTY]     = "SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM rooms)",
    [Q_ROOMS_LOAD]   = "SELECT r.id, r.name, (SELECT max(seq) FROM messages m"
                       " WHERE m.room_id = r.id) FROM rooms r",
    [Q_SIZE]         = "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
    [Q_PASSWORD]     = "SELECT password_hash FROM users WHERE name = ?1",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens (hash, user_id, last_used)"
                       " SELECT ?1, id, ?3 FROM users WHERE name = ?2",
    [Q_TOKEN_USER]   = "SELECT u.name, t.last_used FROM tokens t JOIN users u ON u.id = t.user_id"
                       " WHERE t.hash = ?1",
    [Q_TOKEN_TOUCH]  = "UPDATE tokens SET last_used = ?2 WHERE hash = ?1",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
    [Q_TOKENS_PURGE] = "DELETE FROM tokens WHERE last_used < ?1",
    //  The room's oldest ?4 below ?2, by its key, of those older than ?3:
    //  a bounded walk however long the room (ts follows seq, but for a
    //  clock set back, whose messages then go a little late)
    [Q_RETAIN]       = "DELETE FROM messages WHERE room_id = ?1 AND ts < ?3 AND seq IN"
                       " (SELECT seq FROM messages WHERE room_id = ?1 AND seq < ?2"
                       " ORDER BY seq LIMIT ?4)",
    [Q_ROOMS_OF]     = "SELECT r.name FROM rooms r JOIN members m ON m.room_id = r.id"
                       " JOIN users u ON u.id = m.user_id WHERE u.name = ?1 ORDER BY r.name",
    [Q_IS_MEMBER]    = "SELECT 1 FROM members m JOIN users u ON u.id = m.user_id"
                       " JOIN rooms r ON r.id = m.room_id WHERE u.name = ?1 AND r.name = ?2",
    [Q_BEFORE]       = "SELECT seq, \"from\", text, ts FROM messages"
                       " WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [Q_SINCE]        = "SELECT seq, \"from\", text, ts FROM messages"
                       " WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_INSERT]       = "INSERT INTO messages (room_id, seq, \"from\", text, ts)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_BEGIN]        = "BEGIN IMMEDIATE",
    [Q_COMMIT]       = "COMMIT",
    [Q_ROLLBACK]     = "ROLLBACK",
    //  A new user takes the newest generation: the name's last one, if it
    //  had any, was before its removal, which took a newer one
    [Q_USER_ADD]     = "INSERT OR IGNORE INTO users (name, password_hash, generation)"
                       " SELECT ?1, ?2, last FROM generation",
    [Q_USER_REMOVE]  = "DELETE FROM users WHERE name = ?1",
    [Q_PASSWORD_SET] = "UPDATE users SET password_hash = ?2,"
                       " generation = (SELECT last + 1 FROM generation) WHERE name = ?1",
    [Q_TOKENS_OF_USER] = "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
    [Q_ROOM_ADD]     = "INSERT OR IGNORE INTO rooms (name) VALUES (?1)",
    [Q_MEMBER_ADD]   = "INSERT OR IGNORE INTO members (user_id, room_id)"
                       " SELECT u.id, r.id FROM users u, rooms r WHERE u.name = ?1 AND r.name = ?2",
    [Q_MEMBER_REMOVE] = "DELETE FROM members WHERE user_id = (SELECT id FROM users WHERE name = ?1)"
                       " AND room_id = (SELECT id FROM rooms WHERE name = ?2)",
    [Q_USER_EXISTS]  = "SELECT 1 FROM users WHERE name = ?1",
    [Q_USERS]        = "SELECT name FROM users ORDER BY name",
    [Q_ROOMS]        = "SELECT name FROM rooms ORDER BY name",
    [Q_MEMBERS]      = "SELECT u.name FROM users u JOIN members m ON m.user_id = u.id"
                       " JOIN rooms r ON r.id = m.room_id WHERE r.name = ?1 ORDER BY u.name",
    [Q_GENERATION]   = "SELECT last FROM generation",
    [Q_GENERATION_NEXT] = "UPDATE generation SET last = last + 1",
    [Q_USER_GENERATION] = "SELECT generation FROM users WHERE name = ?1",
    [Q_NONCE_FIND]   = "SELECT n.seq, n.ts, n.digest FROM nonces n JOIN users u ON u.id = n.user_id"
                       " WHERE u.name = ?1 AND n.room_id = ?2 AND n.nonce = ?3",
    //  A forgotten nonce not yet purged is replaced
    [Q_NONCE_INSERT] = "INSERT OR REPLACE INTO nonces (user_id, room_id, nonce, seq, ts, digest)"
                       " SELECT id, ?2, ?3, ?4, ?5, ?6 FROM users WHERE name = ?1",
    //  The oldest ?2 before ?1, and the others of the ?2nd's ts (its says'
    //  batch): one range of the ts index, where a walk by key would look
    //  each row up again
    [Q_NONCES_PURGE] = "DELETE FROM nonces WHERE ts < ?1 AND ts <= coalesce ("
                       " (SELECT ts FROM nonces WHERE ts < ?1 ORDER BY ts LIMIT 1 OFFSET ?2 - 1),"
                       " ?1)",
};

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *stmt [Q_COUNT];   //  the prepared ones, from Q_PREPARED on
} s_sqlite_t;

//  --------------------------------------------------------------------------
//  Statements

static sqlite3_stmt *
s_stmt (s_sqlite_t *self, s_query_t query)
{
    sqlite3_stmt *stmt = self->stmt [query];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

//  Steps a statement with up to two texts bound: its first result code
static int
s_step (s_sqlite_t *self, s_query_t query, const char *first, const char *second)
{
    sqlite3_stmt *stmt = s_stmt (self, query);
    if (first)
        sqlite3_bind_text (stmt, 1, first, -1, SQLITE_STATIC);
    if (second)
        sqlite3_bind_text (stmt, 2, second, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        gc_error ("store: %s failed: %s", s_sql [query], sqlite3_errmsg (self->db));
    return rc;
}

//  Runs a change: rows changed, or -1
static int
s_change (s_sqlite_t *self, s_query_t query, const char *first, const char *second)
{
    int rc = s_step (self, query, first, second);
    sqlite3_reset (self->stmt [query]);
    return rc == SQLITE_DONE? sqlite3_changes (self->db): -1;
}

//  The first column of a one-row query, as an integer (0 when no row)
static int64_t
s_integer (s_sqlite_t *self, s_query_t query, const char *first)
{
    int64_t value = s_step (self, query, first, NULL) == SQLITE_ROW?
                    sqlite3_column_int64 (self->stmt [query], 0): 0;
    sqlite3_reset (self->stmt [query]);
    return value;
}

//  The first column of a one-row query as a heap string, or NULL
static char *
s_text (sqlite3_stmt *stmt, int rc)
{
    return rc == SQLITE_ROW? gc_strdup ((const char *) sqlite3_column_text (stmt, 0)): NULL;
}

//  --------------------------------------------------------------------------
//  Opening: schema and migrations

static int
s_exec (s_sqlite_t *self, s_query_t query)
{
    if (sqlite3_exec (self->db, s_sql [query], NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    gc_error ("store: %s failed: %s", s_sql [query], sqlite3_errmsg (self->db));
    return -1;
}

//  Makes version 0 in an empty database, then migrates version by
//  version to the newest, all in one transaction
static int
s_upgrade (s_sqlite_t *self)
{
    if (s_change (self, Q_BEGIN, NULL, NULL) < 0)
        return -1;
    int rc = 0;
    int64_t version = s_integer (self, Q_VERSION, NULL);
    bool empty = s_integer (self, Q_HAS_TABLES, NULL) == 0;
    if (empty)
        rc = s_exec (self, Q_SCHEMA_0);
    if (version > S_VERSION) {
        gc_error ("store: the database is at version=%" PRId64 ", newer than this broker's", version);
        rc = -1;
    }
    else
    for (int64_t next = version + 1; rc == 0 && next <= S_VERSION; next++) {
        if (!empty)
            gc_info ("store: migrating the database to version=%" PRId64, next);
        rc = s_exec (self, Q_MIGRATE_1 + (s_query_t) (next - 1));
    }
    return s_change (self, rc? Q_ROLLBACK: Q_COMMIT, NULL, NULL) < 0 || rc? -1: 0;
}

static int
s_prepare (s_sqlite_t *self, s_query_t from, s_query_t to)
{
    for (s_query_t query = from; query < to; query++)
        if (sqlite3_prepare_v3 (self->db, s_sql [query], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->stmt [query], NULL) != SQLITE_OK) {
            gc_error ("store: cannot prepare %s: %s", s_sql [query], sqlite3_errmsg (self->db));
            return -1;
        }
    return 0;
}

static void
s_close (void **db_p)
{
    s_sqlite_t *self = *db_p;
    if (!self)
        return;
    for (int query = 0; query < Q_COUNT; query++)
        sqlite3_finalize (self->stmt [query]);
    sqlite3_close (self->db);
    free (self);
    *db_p = NULL;
}

//  A damaged file answers queries wrongly rather than failing them (rooms
//  missing, every password wrong), so it is looked at before serving:
//  quick_check reads every page once, seconds for gigabytes
static int
s_check_pages (s_sqlite_t *self, const char *path)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA quick_check(1)", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    int64_t started = gc_clock_mono_us ();
    int rc = sqlite3_step (stmt);
    const char *verdict = rc == SQLITE_ROW? (const char *) sqlite3_column_text (stmt, 0): NULL;
    bool sound = verdict && streq (verdict, "ok");
    if (sound)
        gc_info ("store: checked path=%s in %" PRId64 " ms", path,
                 (gc_clock_mono_us () - started) / 1000);
    else
        gc_error ("store: the database path=%s is damaged (%s): restore a backup "
                  "(docs/administration.md)", path,
                  verdict? verdict: sqlite3_errmsg (self->db));
    sqlite3_finalize (stmt);
    return sound? 0: -1;
}

//  Writes one page and commits it, durably: SQLITE_OK, or why not
static int
s_write_page (s_sqlite_t *self)
{
    int64_t version = s_integer (self, Q_VERSION, NULL);
    char *probe = zsys_sprintf ("BEGIN IMMEDIATE; PRAGMA user_version = %" PRId64 "; COMMIT", version);
    int rc = sqlite3_exec (self->db, probe, NULL, NULL, NULL);
    zstr_free (&probe);
    if (rc != SQLITE_OK)
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

//  A read-only file or folder, or a full disk, would otherwise start a
//  broker that refuses every say
static int
s_check_writable (s_sqlite_t *self, const char *path)
{
    if (s_write_page (self) == SQLITE_OK)
        return 0;
    gc_error ("store: cannot write the database path=%s: %s", path, sqlite3_errmsg (self->db));
    return -1;
}

//  The same, at run time, without waiting for another writer: asked
//  while writes fail, to learn when they work again
static int
s_probe (void *db)
{
    s_sqlite_t *self = db;
    sqlite3_busy_timeout (self->db, 0);
    int rc = s_write_page (self);
    sqlite3_busy_timeout (self->db, GC_STORE_BUSY_MS);
    return rc == SQLITE_OK? 0: -1;
}

//  SQLite says "unable to open database file" for a read-only file or
//  folder too (WAL needs to write beside the file): say which it is
static void
s_say_why_not (s_sqlite_t *self, const char *path)
{
    const char *slash = strrchr (path, '/');
    char *folder = slash? zsys_sprintf ("%.*s", (int) (slash - path), path): zsys_sprintf (".");
    const char *where = access (path, W_OK) == 0 || errno == ENOENT? folder: path;
    if (*where && access (where, W_OK) != 0 && errno != ENOENT)
        gc_error ("store: cannot write the database path=%s: %s: %s", path, where, strerror (errno));
    else
        gc_error ("store: cannot open path=%s: %s", path, sqlite3_errmsg (self->db));
    zstr_free (&folder);
}

//  The statements that work on any schema are prepared first; the rest
//  only once the tables are as they expect
static void *
s_open (const char *path)
{
    s_sqlite_t *self = gc_calloc (1, sizeof *self);
    if (sqlite3_open (path, &self->db) != SQLITE_OK
    ||  sqlite3_busy_timeout (self->db, GC_STORE_BUSY_MS) != SQLITE_OK
    ||  s_exec (self, Q_PRAGMAS)
    ||  s_prepare (self, Q_PREPARED, Q_TABLES)
    ||  s_check_pages (self, path)
    ||  s_upgrade (self)
    ||  s_check_writable (self, path)
    ||  s_prepare (self, Q_TABLES, Q_COUNT)) {
        s_say_why_not (self, path);
        void *db = self;
        s_close (&db);
        return NULL;
    }
    return self;
}

static bool
s_is_empty (void *db)
{
    return s_integer (db, Q_IS_EMPTY, NULL) == 1;
}

static int
s_seed (void *db, const gc_store_seed_t *seed, size_t count)
{
    s_sqlite_t *self = db;
    if (s_change (self, Q_BEGIN, NULL, NULL) < 0)
        return -1;
    int rc = 0;
    for (size_t index = 0; rc == 0 && index < count; index++) {
        rc = s_change (self, Q_USER_ADD, seed [index].user, seed [index].hash) == 1? 0: -1;
        for (size_t at = 0; rc == 0 && seed [index].rooms [at]; at++)
            rc = s_change (self, Q_ROOM_ADD, seed [index].rooms [at], NULL) < 0
              || s_change (self, Q_MEMBER_ADD, seed [index].user, seed [index].rooms [at]) != 1? -1: 0;
    }
    return s_change (self, rc? Q_ROLLBACK: Q_COMMIT, NULL, NULL) < 0 || rc? -1: 0;
}

static int
s_rooms_load (void *db, gc_store_room_fn *fn, void *arg)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_stmt (self, Q_ROOMS_LOAD);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        fn (arg, sqlite3_column_int64 (stmt, 0), (const char *) sqlite3_column_text (stmt, 1),
            (uint64_t) sqlite3_column_int64 (stmt, 2));
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE? 0: -1;
}

//  --------------------------------------------------------------------------
//  Users and tokens

static char *
s_password_hash (void *db, const char *user)
{
    s_sqlite_t *self = db;
    char *hash = s_text (self->stmt [Q_PASSWORD], s_step (self, Q_PASSWORD, user, NULL));
    sqlite3_reset (self->stmt [Q_PASSWORD]);
    return hash;
}

static sqlite3_stmt *
s_token_stmt (s_sqlite_t *self, s_query_t query, const unsigned char *hash)
{
    sqlite3_stmt *stmt = s_stmt (self, query);
    sqlite3_bind_blob (stmt, 1, hash, crypto_generichash_BYTES, SQLITE_STATIC);
    return stmt;
}

static int
s_token_insert (void *db, const unsigned char *hash, const char *user, int64_t now)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_token_stmt (self, Q_TOKEN_INSERT, hash);
    sqlite3_bind_text (stmt, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, now);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

static char *
s_token_user (void *db, const unsigned char *hash, int64_t *last_used)
{
    sqlite3_stmt *stmt = s_token_stmt (db, Q_TOKEN_USER, hash);
    int rc = sqlite3_step (stmt);
    char *user = s_text (stmt, rc);
    if (user)
        *last_used = sqlite3_column_int64 (stmt, 1);
    sqlite3_reset (stmt);
    return user;
}

static int
s_token_touch (void *db, const unsigned char *hash, int64_t now)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_token_stmt (self, Q_TOKEN_TOUCH, hash);
    sqlite3_bind_int64 (stmt, 2, now);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

static int
s_token_delete (void *db, const unsigned char *hash)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_token_stmt (self, Q_TOKEN_DELETE, hash);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

static int
s_tokens_purge (void *db, int64_t unused_since)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_stmt (self, Q_TOKENS_PURGE);
    sqlite3_bind_int64 (stmt, 1, unused_since);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

static int
s_retain (void *db, int64_t room_id, uint64_t below, int64_t older_than, uint32_t limit)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_stmt (self, Q_RETAIN);
    sqlite3_bind_int64 (stmt, 1, room_id);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) below);
    sqlite3_bind_int64 (stmt, 3, older_than);
    sqlite3_bind_int64 (stmt, 4, limit);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

//  --------------------------------------------------------------------------
//  Rooms and messages

//  The first column of every row, as heap strings: the count, or -1
//  with nothing kept when the query failed part way
static int
s_names (s_sqlite_t *self, s_query_t query, const char *first, char ***names)
{
    sqlite3_stmt *stmt = self->stmt [query];
    int count = 0, rc;
    *names = NULL;
    for (rc = s_step (self, query, first, NULL); rc == SQLITE_ROW; rc = sqlite3_step (stmt)) {
        *names = gc_realloc (*names, (count + 1) * sizeof (char *));
        (*names) [count++] = s_text (stmt, rc);
    }
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE)
        return count;
    gc_store_names_free (names, count);
    return -1;
}

static int
s_rooms_of (void *db, const char *user, char ***names)
{
    return s_names (db, Q_ROOMS_OF, user, names);
}

static int
s_users (void *db, char ***names)
{
    return s_names (db, Q_USERS, NULL, names);
}

static int
s_rooms (void *db, char ***names)
{
    return s_names (db, Q_ROOMS, NULL, names);
}

static int
s_members (void *db, const char *room, char ***names)
{
    return s_names (db, Q_MEMBERS, room, names);
}

static int
s_is_member (void *db, const char *user, const char *room)
{
    s_sqlite_t *self = db;
    int rc = s_step (self, Q_IS_MEMBER, user, room);
    sqlite3_reset (self->stmt [Q_IS_MEMBER]);
    return rc == SQLITE_ROW? 1: rc == SQLITE_DONE? 0: -1;
}

//  The column as a byte string, valid until the next step
static gc_str_t
s_column_str (sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *) sqlite3_column_text (stmt, column);
    return (gc_str_t) { text, (size_t) sqlite3_column_bytes (stmt, column) };
}

//  Appends the row to history, whose array grows with the rows: memory
//  follows what the room holds, not the limit asked for (up to 4 billion)
static void
s_history_add (gc_history_t *history, size_t *capacity, sqlite3_stmt *stmt, const char *room)
{
    if (history->size == *capacity) {
        *capacity = *capacity? 2 * *capacity: 16;
        history->messages = gc_realloc (history->messages, *capacity * sizeof (gc_message_t));
    }
    gc_store_message_set (&history->messages [history->size++], room,
                          (uint64_t) sqlite3_column_int64 (stmt, 0), s_column_str (stmt, 1),
                          s_column_str (stmt, 2), sqlite3_column_int64 (stmt, 3));
}

static int
s_messages (void *db, int64_t room_id, const char *room, bool since, uint64_t bound,
            uint32_t limit, gc_history_t *history)
{
    s_sqlite_t *self = db;
    s_query_t query = since? Q_SINCE: Q_BEFORE;
    sqlite3_stmt *stmt = s_stmt (self, query);
    sqlite3_bind_int64 (stmt, 1, room_id);
    sqlite3_bind_int64 (stmt, 2, bound > INT64_MAX? INT64_MAX: (int64_t) bound);
    sqlite3_bind_int64 (stmt, 3, limit);
    int rc = SQLITE_DONE;       //  a limit of 0 asks for nothing, and gets it
    size_t capacity = 0;
    while (history->size < limit && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
        s_history_add (history, &capacity, stmt, room);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        gc_history_free (history);
        return -1;
    }
    return 0;
}

//  A nonce statement with the user, room and nonce bound (?1 to ?3)
static sqlite3_stmt *
s_nonce_stmt (s_sqlite_t *self, s_query_t query, const gc_store_say_t *say)
{
    sqlite3_stmt *stmt = s_stmt (self, query);
    sqlite3_bind_text (stmt, 1, say->from, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, say->room_id);
    sqlite3_bind_text (stmt, 3, say->nonce, -1, SQLITE_STATIC);
    return stmt;
}

static int
s_nonce_find (void *db, const gc_store_say_t *say, uint64_t *seq, int64_t *ts,
              unsigned char *digest)
{
    sqlite3_stmt *stmt = s_nonce_stmt (db, Q_NONCE_FIND, say);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t) sqlite3_column_int64 (stmt, 0);
        *ts = sqlite3_column_int64 (stmt, 1);
        //  A digest of another size is no text's: it matches none
        memset (digest, 0, GC_STORE_DIGEST_SIZE);
        if (sqlite3_column_bytes (stmt, 2) == GC_STORE_DIGEST_SIZE)
            memcpy (digest, sqlite3_column_blob (stmt, 2), GC_STORE_DIGEST_SIZE);
    }
    sqlite3_reset (stmt);
    return rc == SQLITE_ROW? 1: rc == SQLITE_DONE? 0: -1;
}

static int
s_nonces_purge (void *db, int64_t older_than, uint32_t limit)
{
    s_sqlite_t *self = db;
    sqlite3_stmt *stmt = s_stmt (self, Q_NONCES_PURGE);
    sqlite3_bind_int64 (stmt, 1, older_than);
    sqlite3_bind_int64 (stmt, 2, limit);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? sqlite3_changes (self->db): -1;
    sqlite3_reset (stmt);
    return rc;
}

static int
s_insert_nonce (s_sqlite_t *self, const gc_store_say_t *say)
{
    sqlite3_stmt *stmt = s_nonce_stmt (self, Q_NONCE_INSERT, say);
    sqlite3_bind_int64 (stmt, 4, (int64_t) say->seq);
    sqlite3_bind_int64 (stmt, 5, say->ts);
    sqlite3_bind_blob (stmt, 6, say->digest, sizeof say->digest, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE? 0: -1;
}

static int
s_insert (s_sqlite_t *self, const gc_store_say_t *say)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_INSERT);
    sqlite3_bind_int64 (stmt, 1, say->room_id);
    sqlite3_bind_int64 (stmt, 2, (int64_t) say->seq);
    sqlite3_bind_text (stmt, 3, say->from, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, say->text, (int) say->text_size, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, say->ts);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE && say->nonce)
        return s_insert_nonce (self, say);
    return rc == SQLITE_DONE? 0: -1;
}

//  BEGIN IMMEDIATE takes the write lock now, waiting for another writer
//  at most the busy timeout
static int
s_begin (void *db)
{
    s_sqlite_t *self = db;
    if (s_change (self, Q_BEGIN, NULL, NULL) >= 0)
        return 0;
    gc_error ("store: cannot take the write lock: %s", sqlite3_errmsg (self->db));
    return -1;
}

static void
s_rollback (void *db)
{
    s_change (db, Q_ROLLBACK, NULL, NULL);
}

static int
s_append (void *db, const gc_store_say_t *says, size_t count)
{
    s_sqlite_t *self = db;
    size_t index = 0;
    while (index < count && s_insert (self, &says [index]) == 0)
        index++;
    if (index == count && s_change (self, Q_COMMIT, NULL, NULL) >= 0)
        return 0;
    gc_error ("store: append rolled back: %s", sqlite3_errmsg (self->db));
    s_change (self, Q_ROLLBACK, NULL, NULL);
    return -1;
}

//  --------------------------------------------------------------------------
//  Administration

static bool
s_user_exists (void *db, const char *user)
{
    return s_integer (db, Q_USER_EXISTS, user) == 1;
}

static int
s_user_add (void *db, const char *user, const char *hash)
{
    return s_change (db, Q_USER_ADD, user, hash);
}

//  A change that ends the user's sessions (a removal, a new password):
//  the change, the next generation and the end of the user's tokens, in
//  one transaction, so that a crash never leaves a user at a generation
//  the counter has not passed, nor a token after a new password. Rows
//  changed (0: no such user) or -1; *generation gets the newest one.
static int
s_end_sessions (s_sqlite_t *self, s_query_t query, const char *user, const char *hash,
                uint64_t *generation)
{
    if (s_change (self, Q_BEGIN, NULL, NULL) < 0)
        return -1;
    int changed = s_change (self, query, user, hash);
    if (changed == 1 && (s_change (self, Q_GENERATION_NEXT, NULL, NULL) != 1
                     ||  s_change (self, Q_TOKENS_OF_USER, user, NULL) < 0))
        changed = -1;
    *generation = (uint64_t) s_integer (self, Q_GENERATION, NULL);
    if (s_change (self, changed < 0? Q_ROLLBACK: Q_COMMIT, NULL, NULL) < 0)
        return -1;
    return changed;
}

//  Its tokens and memberships go with it (ON DELETE CASCADE)
static int
s_user_remove (void *db, const char *user, uint64_t *generation)
{
    return s_end_sessions (db, Q_USER_REMOVE, user, NULL, generation);
}

static int
s_password_set (void *db, const char *user, const char *hash, uint64_t *generation)
{
    return s_end_sessions (db, Q_PASSWORD_SET, user, hash, generation);
}

static uint64_t
s_generation (void *db)
{
    return (uint64_t) s_integer (db, Q_GENERATION, NULL);
}

static uint64_t
s_user_generation (void *db, const char *user)
{
    return (uint64_t) s_integer (db, Q_USER_GENERATION, user);
}

static int
s_room_add (void *db, const char *room, int64_t *id)
{
    s_sqlite_t *self = db;
    int changed = s_change (self, Q_ROOM_ADD, room, NULL);
    *id = sqlite3_last_insert_rowid (self->db);
    return changed;
}

static int
s_member_set (void *db, const char *user, const char *room, bool member)
{
    return s_change (db, member? Q_MEMBER_ADD: Q_MEMBER_REMOVE, user, room);
}

//  SQLite's online backup: one step copies a consistent snapshot, and
//  the broker's loop waits meanwhile
static int
s_backup (void *db, const char *path)
{
    s_sqlite_t *self = db;
    sqlite3 *copy;
    int rc = sqlite3_open (path, &copy);
    sqlite3_backup *backup = rc == SQLITE_OK?
                             sqlite3_backup_init (copy, "main", self->db, "main"): NULL;
    if (backup) {
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

static int64_t
s_size (void *db)
{
    return s_integer (db, Q_SIZE, NULL);
}

//  A file's lease is its flock (lease.c), held by the kernel for the
//  process: there is no row to check, and no connection to lose
static void
s_fence (void *db, const char *holder)
{
    (void) db, (void) holder;
}

static bool
s_fenced_out (void *db)
{
    (void) db;
    return false;
}

const gc_store_backend_t gc_store_sqlite = GC_STORE_BACKEND ("sqlite");

//  --------------------------------------------------------------------------
//  Self test: a database made by the version 0 schema is migrated on
//  open, and its messages read back under the new column name

//  Version 0's data: what a database of the first release held
static const char *s_test_data_0 =
    "INSERT INTO users (name, password_hash) VALUES ('Sue', '$argon2id$old');"
    "INSERT INTO rooms (name) VALUES ('Taskmaster');"
    "INSERT INTO members VALUES (1, 1);"
    "INSERT INTO messages VALUES (1, 1, 'Sue', 'from before', 1000);";

static int64_t
s_test_version (const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    assert (sqlite3_open (path, &db) == SQLITE_OK);
    assert (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK);
    assert (sqlite3_step (stmt) == SQLITE_ROW);
    int64_t version = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return version;
}

//  Reads the old message back, and appends one more with that seq
static void
s_test_read_back (const char *path, uint64_t seq)
{
    void *db = s_open (path);
    assert (db && !s_is_empty (db));
    gc_history_t history = { NULL, 0 };
    assert (s_messages (db, 1, "Taskmaster", true, 0, 1, &history) == 0);
    assert (history.size == 1 && history.messages [0].seq == 1 && history.messages [0].ts == 1000);
    assert (gc_str_eq (history.messages [0].from, "Sue"));
    assert (gc_str_eq (history.messages [0].text, "from before"));
    gc_history_free (&history);
    gc_store_say_t say = {
        .room = "Taskmaster", .from = "Sue", .text = "after", .text_size = 5,
        .seq = seq, .ts = 2000, .room_id = 1
    };
    assert (s_begin (db) == 0 && s_append (db, &say, 1) == 0);
    //  A user from before generations is at the first one
    assert (s_user_generation (db, "Sue") == 1 && s_generation (db) == 1);
    s_close (&db);
    s_close (&db);
}

//  Another process's write transaction: the write lock is refused after
//  the busy timeout, not waited for as long as it lasts
static void
s_test_locked (const char *path)
{
    void *db = s_open (path);
    sqlite3 *other;
    assert (sqlite3_open (path, &other) == SQLITE_OK);
    assert (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    int64_t started = gc_clock_mono_us ();
    assert (s_begin (db) == -1);
    int64_t waited_ms = (gc_clock_mono_us () - started) / 1000;
    assert (waited_ms >= GC_STORE_BUSY_MS / 2 && waited_ms < 2 * GC_STORE_BUSY_MS + 1000);
    assert (sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close (other);
    assert (s_begin (db) == 0);
    s_rollback (db);
    s_close (&db);
}

void
gc_store_sqlite_test (bool verbose)
{
    if (verbose)
        printf (" * gc_store_sqlite: ");
    char path [] = "/tmp/gc_store_sqlite_test_XXXXXX";
    close (mkstemp (path));
    sqlite3 *old;
    assert (sqlite3_open (path, &old) == SQLITE_OK);
    assert (sqlite3_exec (old, s_sql [Q_SCHEMA_0], NULL, NULL, NULL) == SQLITE_OK);
    assert (sqlite3_exec (old, s_test_data_0, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close (old);
    assert (s_test_version (path) == 0);
    s_test_read_back (path, 2);
    assert (s_test_version (path) == S_VERSION);
    //  Opened again, there is nothing left to migrate
    s_test_read_back (path, 3);
    s_test_locked (path);
    //  The store opens the migrated database with its heads where they were
    gc_store_t *store = gc_store_new (path, GC_SEED_DEMO);
    uint64_t head;
    assert (store && gc_store_room (store, "Taskmaster", &head) && head == 3);
    gc_store_destroy (&store);
    gc_rig_unlink (path);
    //  A new database is made at the newest version, seeded
    store = gc_store_new (path, GC_SEED_DEMO);
    assert (store && s_test_version (path) == S_VERSION);
    gc_store_destroy (&store);
    void *db = s_open (path);
    assert (db && !s_is_empty (db) && s_size (db) > 0);
    s_close (&db);
    gc_rig_unlink (path);
    if (verbose)
        printf ("OK\n");
}
