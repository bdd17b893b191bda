/*  store_backend.h: what a database must do for the store.

    A backend is one table of functions; store.c selects one by the
    prefix of the database argument and keeps, above it, what every
    backend would otherwise repeat: room heads and seq assignment, the
    membership cache, token generation and expiry, the initial data.
    A backend knows rooms by its own integer key. Adding a database is a
    new store_NAME.c with one of these and a line in store.c's table. */
#ifndef GC_STORE_BACKEND_H_INCLUDED
#define GC_STORE_BACKEND_H_INCLUDED

#include "store.h"

//  An initial user: name, password hash and rooms (NULL-terminated)
typedef struct {
    const char *user;
    const char *hash;
    const char *const *rooms;
} gc_store_seed_t;

//  Called for each room when the store opens
typedef void (gc_store_room_fn) (void *arg, int64_t id, const char *name, uint64_t head);

//  Counts are rows changed, or -1 on failure; strings returned are the
//  caller's to free. Token hashes are binary, crypto_generichash_BYTES long.
typedef struct {
    const char *name;
    void *(*open) (const char *location);               //  NULL on failure
    void (*close) (void **db_p);
    bool (*is_empty) (void *db);                        //  no users and no rooms
    int (*seed) (void *db, const gc_store_seed_t *seed, size_t count);  //  one transaction
    int (*rooms_load) (void *db, gc_store_room_fn *fn, void *arg);
    char *(*password_hash) (void *db, const char *user);
    int (*token_insert) (void *db, const unsigned char *hash, const char *user, int64_t now);
    char *(*token_user) (void *db, const unsigned char *hash, int64_t *last_used);
    int (*token_touch) (void *db, const unsigned char *hash, int64_t now);
    int (*token_delete) (void *db, const unsigned char *hash);
    int (*tokens_purge) (void *db, int64_t unused_since);  //  how many went, or -1
    //  Deletes up to limit of the room's oldest messages with seq < below
    //  and ts < older_than (INT64_MAX: any age): how many went, or -1
    int (*retain) (void *db, int64_t room_id, uint64_t below, int64_t older_than,
                   uint32_t limit);
    //  The seq, ts and text digest kept with the user's nonce in the room:
    //  1, 0 when none is kept, or -1
    int (*nonce_find) (void *db, const gc_store_say_t *say, uint64_t *seq, int64_t *ts,
                       unsigned char *digest);
    //  Deletes the oldest limit nonces kept before older_than, and those
    //  kept at the same ts as the last of them
    int (*nonces_purge) (void *db, int64_t older_than, uint32_t limit);
    //  Name lists, sorted; the count, or -1 (then *names is NULL)
    int (*rooms_of) (void *db, const char *user, char ***names);
    int (*users) (void *db, char ***names);
    int (*rooms) (void *db, char ***names);
    int (*members) (void *db, const char *room, char ***names);
    int (*is_member) (void *db, const char *user, const char *room);    //  1, 0 or -1
    //  seq < bound newest first, or seq > bound oldest first (since)
    int (*messages) (void *db, int64_t room_id, const char *room, bool since,
                     uint64_t bound, uint32_t limit, gc_history_t *history);
    int (*begin) (void *db);        //  takes the write lock: 0, or -1 when it stays taken
    //  Within begin's transaction, with the nonce of each say that has
    //  one (replacing a forgotten one's): 0, committed, or -1, all rolled back
    int (*append) (void *db, const gc_store_say_t *says, size_t count);
    void (*rollback) (void *db);    //  ends begin's transaction, nothing written
    int (*probe) (void *db);        //  0 when a write commits now; never waits
    bool (*user_exists) (void *db, const char *user);
    int (*user_add) (void *db, const char *user, const char *hash);
    //  Both end the user's sessions: they take the next generation (the
    //  newest into *generation) and revoke the user's tokens
    int (*user_remove) (void *db, const char *user, uint64_t *generation);
    int (*password_set) (void *db, const char *user, const char *hash, uint64_t *generation);
    uint64_t (*generation) (void *db);                  //  the newest taken
    uint64_t (*user_generation) (void *db, const char *user);  //  0: no such user
    int (*room_add) (void *db, const char *room, int64_t *id);
    int (*member_set) (void *db, const char *user, const char *room, bool member);
    int (*backup) (void *db, const char *path);
    int64_t (*size) (void *db);
    //  Writes from now on check the database's lease is holder's (gc_store_fence)
    void (*fence) (void *db, const char *holder);
    bool (*fenced_out) (void *db);  //  a fenced write was refused, or the connection went
} gc_store_backend_t;

//  A backend table whose functions are the file's statics named after
//  each member with the prefix s_ (s_open, s_close, ...)
#define GC_STORE_BACKEND(backend_name) { \
    .name = backend_name, .open = s_open, .close = s_close, .is_empty = s_is_empty, \
    .seed = s_seed, .rooms_load = s_rooms_load, .password_hash = s_password_hash, \
    .token_insert = s_token_insert, .token_user = s_token_user, \
    .token_touch = s_token_touch, .token_delete = s_token_delete, \
    .tokens_purge = s_tokens_purge, .retain = s_retain, .nonce_find = s_nonce_find, \
    .nonces_purge = s_nonces_purge, .rooms_of = s_rooms_of, .users = s_users, \
    .rooms = s_rooms, .members = s_members, .is_member = s_is_member, \
    .messages = s_messages, .begin = s_begin, .append = s_append, \
    .rollback = s_rollback, .probe = s_probe, .user_exists = s_user_exists, \
    .user_add = s_user_add, .user_remove = s_user_remove, \
    .password_set = s_password_set, .generation = s_generation, \
    .user_generation = s_user_generation, .room_add = s_room_add, \
    .member_set = s_member_set, .backup = s_backup, .size = s_size, \
    .fence = s_fence, .fenced_out = s_fenced_out, \
}

//  One row of history: a message whose strings (room, from, text) share
//  one allocation, which gc_history_free frees
void gc_store_message_set (gc_message_t *message, const char *room, uint64_t seq,
                           gc_str_t from, gc_str_t text, int64_t ts);

extern const gc_store_backend_t gc_store_sqlite;
extern const gc_store_backend_t gc_store_pg;

//  Brings a PostgreSQL database's tables to the newest version on a
//  connection of the caller's (a PGconn: the lease's, before any store
//  opens): 0, or -1 after logging
int gc_store_pg_upgrade (void *conn);

//  A new connection (a PGconn, whether it worked or not) to the database
//  at uri, with the settings every broker connection takes, named
//  application in the server's views
void *gc_store_pg_connect (const char *uri, const char *application);

void gc_store_sqlite_test (bool verbose);

#endif
