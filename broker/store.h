/*  store.h: the broker's durable state, whatever holds it.

    Users, rooms (one per group, named after it), memberships, messages,
    the nonces of the last day's says and login tokens. gc_store_new
    picks a backend from the database argument (store_backend.h lists them; SQLite is the default); the
    handlers see only this interface. Above every backend the store keeps
    what is the same for all of them: each room's head (its newest seq),
    so that a batch of says gets its seqs without a query, and the
    membership answers every say asks for. */
#ifndef GC_STORE_H_INCLUDED
#define GC_STORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "gc_codec.h"
#include "gc_limits.h"

typedef struct gc_store_t gc_store_t;

//  Bytes of the digest a nonce keeps of its say's text: enough that two
//  texts of one user's nonce never share one by chance
#define GC_STORE_DIGEST_SIZE    16

//  A message to append; room_id, seq, ts and digest are filled in by
//  gc_store_append (or gc_store_nonce)
typedef struct {
    const char *room;
    const char *from;
    const char *text;
    size_t text_size;
    const char *nonce;          //  the client's, NUL-terminated; NULL: none
    uint64_t seq;
    int64_t ts;
    int64_t room_id;            //  the backend's key for the room
    unsigned char digest [GC_STORE_DIGEST_SIZE];    //  of the text, kept with a nonce
} gc_store_say_t;

//  What a say's nonce tells of it (gc_store_nonce)
typedef enum {
    GC_NONCE_NEW,               //  not used by the user in the room in GC_NONCE_TTL_MS
    GC_NONCE_STORED,            //  stored already, with the same text: seq and ts are its
    GC_NONCE_CONFLICT,          //  used already, for another text
    GC_NONCE_FAILED             //  the database did not answer
} gc_nonce_t;

//  Query results: messages whose strings the history owns
typedef struct {
    gc_message_t *messages;
    size_t size;
} gc_history_t;


//  What an empty database (no users and no rooms) starts with: the
//  protocol's users Alex, Sue and Sandy and their groups' rooms, or
//  nothing (an operator adds users and groups with groupchat-admin)
typedef enum { GC_SEED_DEMO, GC_SEED_NONE } gc_seed_t;

//  The seed named name ("demo" or "none") into *seed: true, or false
//  when there is no such seed.
bool gc_seed_parse (const char *name, gc_seed_t *seed);

//  The database argument as a log may show it: a URI without what comes
//  before its host (a user and password) nor after its path (options,
//  a password= among them). Returns shown, cut to size.
const char *gc_store_shown (const char *database, char *shown, size_t size);

//  Opens the database (a path for SQLite, a postgresql:// URI for
//  PostgreSQL), creating it at the newest
//  schema or migrating an older one. An empty one gets what seed says; a
//  database that has any user or room is never seeded. NULL on failure,
//  after logging.
gc_store_t *gc_store_new (const char *database, gc_seed_t seed);
void gc_store_destroy (gc_store_t **self_p);

//  The user's password hash (heap copy, caller frees), or NULL.
char *gc_store_password_hash (gc_store_t *self, const char *user);

//  Makes a token for the user into token [GC_TOKEN_LEN + 1]; stores its hash.
int gc_store_token_new (gc_store_t *self, const char *user, int64_t now, char *token);

//  The user of a valid token (heap copy), refreshing its use; else NULL.
char *gc_store_token_user (gc_store_t *self, const char *token, int64_t now);

int gc_store_token_delete (gc_store_t *self, const char *token);

//  Deletes the tokens expired by now (unused for GC_TOKEN_TTL_MS): a
//  token is refused once expired anyway, this keeps the table to the
//  sessions that may still come back. How many went, or -1.
int gc_store_tokens_purge (gc_store_t *self, int64_t now);

//  Looks the say's nonce up: a say appended with the same user, room and
//  nonce less than GC_NONCE_TTL_MS before now, committed (a batch not
//  yet appended is the caller's to look in). The nonce is kept in the
//  transaction that stores its say, so an answer is as durable as a seq.
gc_nonce_t gc_store_nonce (gc_store_t *self, gc_store_say_t *say, int64_t now);

//  Deletes the nonces forgotten by now (kept GC_NONCE_TTL_MS), the oldest
//  first: budget of them, and the rest of the batch of says the last one
//  was stored with (they share its ts), or all when fewer. A forgotten one
//  is never looked at anyway; this bounds the table to a day of says.
//  How many went, or -1.
int gc_store_nonces_purge (gc_store_t *self, int64_t now, uint32_t budget);

//  Retention: deletes each room's messages written before older_than
//  (wall ms; 0: whatever their age) and those past the newest keep (0:
//  however many), budget of them at most, the oldest first. A room's
//  newest message always stays, so that its head survives a restart.
//  How many went, or -1.
int gc_store_retain (gc_store_t *self, int64_t older_than, uint64_t keep, uint32_t budget);

//  Name lists, sorted; the caller frees each name and the array (with
//  gc_store_names_free). Each returns the count, or -1 (*names NULL).
//  The rooms the user is a member of
int gc_store_rooms (gc_store_t *self, const char *user, char ***names);
//  Every user, every room, the members of a room
int gc_store_users (gc_store_t *self, char ***names);
int gc_store_all_rooms (gc_store_t *self, char ***names);
int gc_store_members (gc_store_t *self, const char *room, char ***names);
void gc_store_names_free (char ***names, int count);

//  True when the user exists
bool gc_store_user_exists (gc_store_t *self, const char *user);

//  Generations tell a user's logins apart over time. A new user takes
//  the newest generation; every password set and every removal takes the
//  next one, and a password set gives it to the user. So each login of a
//  name has a generation of its own that only grows, and a login whose
//  generation is not its user's any more (the password changed, or the
//  name was removed and added again) is over (docs/broker-protocol.md).
//  The user's generation, or 0 when there is no such user.
uint64_t gc_store_user_generation (gc_store_t *self, const char *user);
//  The newest generation taken; *changed_ms (if not NULL) gets when, in
//  wall ms, or 0 when not since the store opened.
uint64_t gc_store_generation (gc_store_t *self, int64_t *changed_ms);

//  True when the room exists; *head (if not NULL) gets its newest seq.
bool gc_store_room (gc_store_t *self, const char *room, uint64_t *head);
bool gc_store_is_member (gc_store_t *self, const char *user, const char *room);

//  Rooms whose newest message is younger than since_ms: calls fn for each.
void gc_store_recent_rooms (gc_store_t *self, int64_t since_ms,
                            void (*fn) (void *arg, const char *room, uint64_t head),
                            void *arg);

//  History queries; 0 or -1. Free with gc_history_free. A limit is how
//  many at most, any number: memory follows the messages found.
//  The newest `limit` with seq < before (before 0: no bound), oldest first
int gc_store_before (gc_store_t *self, const char *room, uint64_t before,
                     uint32_t limit, gc_history_t *history);
//  The first `limit` with seq > since
int gc_store_since (gc_store_t *self, const char *room, uint64_t since,
                    uint32_t limit, gc_history_t *history);
void gc_history_free (gc_history_t *history);

//  Takes the database's write lock for a batch, waiting for another
//  writer GC_STORE_BUSY_MS at most: 0, or -1 (nothing can be stored now).
//  Whatever was decided before the lock came may be stale once it has
//  (a deadline may have passed meanwhile): decide again, then append or
//  abandon.
int gc_store_begin (gc_store_t *self);

//  Appends the says in ONE transaction (group commit), giving each room's
//  says consecutive seqs; begins it first unless gc_store_begin did. All
//  or nothing: 0, or -1 with nothing stored.
int gc_store_append (gc_store_t *self, gc_store_say_t *says, size_t count, int64_t now);

//  Ends a batch begun with nothing appended
void gc_store_abandon (gc_store_t *self);

//  False while writes fail: the last batch could not be stored (a full
//  disk, a read-only file, another writer's lock) and a write tried now
//  fails too. Cheap while writes work; a probe write while they fail.
bool gc_store_writable (gc_store_t *self);

//  Administration: GC_OK, or GC_NO_SUCH_USER / GC_NO_SUCH_ROOM, or
//  GC_BAD_REQUEST when the user or room exists already, or GC_INTERNAL.
//  user_remove and password_set end the user's sessions: they take the
//  next generation and revoke the user's tokens.
gc_error_t gc_store_user_add (gc_store_t *self, const char *user, const char *hash);
gc_error_t gc_store_user_remove (gc_store_t *self, const char *user);
gc_error_t gc_store_password_set (gc_store_t *self, const char *user, const char *hash);
gc_error_t gc_store_room_add (gc_store_t *self, const char *room);
gc_error_t gc_store_member_set (gc_store_t *self, const char *user, const char *room,
                                bool member);

//  Fences the store by the database's lease (lease.h): from now on each
//  write checks, inside its own transaction, that holder still holds
//  it, and fails when not; and a lost connection is not made again.
//  Nothing for a file, whose lease the kernel holds.
void gc_store_fence (gc_store_t *self, const char *holder);

//  True once a fenced store may write no more: a write found the lease
//  another broker's, or the connection it proves the lease on went.
bool gc_store_fenced_out (gc_store_t *self);

//  Copies the database, consistently, to path. 0 or -1.
int gc_store_backup (gc_store_t *self, const char *path);

//  False when the database's own tools take its backups (PostgreSQL's
//  pg_dump and base backups), not the broker
bool gc_store_backs_up (gc_store_t *self);

//  The database's size in bytes, and how many rooms there are
int64_t gc_store_size (gc_store_t *self);
size_t gc_store_room_count (gc_store_t *self);

void gc_store_test (bool verbose);

#endif
