/*  gc_codec.h: the msgpack codec between gateways and the broker.

    Every message between a gateway and the broker, request, reply or
    published event, is one msgpack map whose keys are the same names the
    client protocol uses ("op", "room", "seq", ...). A gc_frame_t holds any
    of them: `op` says which kind it is and `fields` says which of the
    optional members are present. Decoding never trusts its input: a
    malformed buffer is an error return, never a crash, and a buffer is
    refused before msgpack-c allocates anything for it when its headers
    claim more than its bytes could hold or more memory than
    GC_DECODE_MEMORY_MAX. docs/protocol.md lists which fields each op
    carries.

    Strings in a decoded frame point into the buffer it was decoded from,
    which must outlive the frame; they are NOT NUL-terminated. */
#ifndef GC_CODEC_H_INCLUDED
#define GC_CODEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "gc_error.h"

typedef enum {
    GC_OP_NONE = 0,
    //  Requests, gateway (or admin tool) to broker
    GC_OP_PING,             //  heartbeat; reply ok
    GC_OP_LOGIN,            //  user+password, or token
    GC_OP_LOGOUT,           //  token: revoke it
    GC_OP_ROOMS,            //  user: rooms of the user's groups
    GC_OP_JOIN,             //  user, room [, since]: membership + history
    GC_OP_SAY,              //  user, room, text [, nonce]: store and publish
    GC_OP_HISTORY,          //  room, before | since, limit
    //  Replies, broker to requester
    GC_OP_OK,
    GC_OP_ERROR,            //  code [, message]
    //  Events, published by the broker on PUB
    GC_OP_MESSAGE,          //  room, seq, from, text, ts
    GC_OP_HEAD,             //  room, seq: newest seq of the room
    //  Administration requests (groupchat-admin)
    GC_OP_USER_ADD,         //  user, hash: a new user with that password hash
    GC_OP_USER_REMOVE,      //  user
    GC_OP_PASSWORD_SET,     //  user, hash; revokes the user's tokens
    GC_OP_ROOM_ADD,         //  room: a new group and its room
    GC_OP_MEMBER_ADD,       //  user, room
    GC_OP_MEMBER_REMOVE,    //  user, room
    GC_OP_BACKUP,           //  path: online copy of the database
    GC_OP_STATS,            //  reply text: the broker's metrics
    //  Event: user is no longer a member of room; gateways put it out
    GC_OP_KICK,             //  room, user
    //  Administration queries; the reply's names are sorted
    GC_OP_USER_LIST,        //  reply names: every user
    GC_OP_ROOM_LIST,        //  [user]: every room, or the user's rooms
    GC_OP_MEMBER_LIST,      //  room: reply names: its members
    //  Event on the users topic: every login of user with a generation
    //  below seq is over (docs/broker-protocol.md, "Session end")
    GC_OP_CLOSED,           //  user, seq, reason
    //  Request: names: reply generations, each name's, in order (0: none)
    GC_OP_GENERATIONS,
    //  Presence and typing (docs/broker-protocol.md, "Presence")
    GC_OP_PRESENT,          //  instance, room, user, event: a gateway's user came or went
    GC_OP_PRESENCE_SYNC,    //  instance, room, names | rooms: a gateway's whole state
    GC_OP_WHO,              //  user, room: reply names, the users present
    GC_OP_PRESENCE,         //  event: room, user, event join|leave; or names, snapshot
    GC_OP_TYPING,           //  room, user: request, and the event it publishes
    GC_OP_COUNT
} gc_op_t;

//  Why a user's sessions were closed: the closed event's reason, for
//  people (a gateway's closed push passes it on), and what a gateway says
//  when it learns of the end otherwise (a lost event, a refused request)
#define GC_REASON_REMOVED   "your account was removed"
#define GC_REASON_PASSWORD  "your password was changed"
#define GC_REASON_ENDED     "your account was removed or its password was changed"

//  Bits of gc_frame_t.fields: which optional members a frame carries
#define GC_F_RID        (1u << 0)
#define GC_F_DEADLINE   (1u << 1)
#define GC_F_USER       (1u << 2)
#define GC_F_PASSWORD   (1u << 3)
#define GC_F_TOKEN      (1u << 4)
#define GC_F_ROOM       (1u << 5)
#define GC_F_TEXT       (1u << 6)
#define GC_F_FROM       (1u << 7)
#define GC_F_CODE       (1u << 8)
#define GC_F_MESSAGE    (1u << 9)
#define GC_F_SEQ        (1u << 10)
#define GC_F_TS         (1u << 11)
#define GC_F_SINCE      (1u << 12)
#define GC_F_BEFORE     (1u << 13)
#define GC_F_LIMIT      (1u << 14)
#define GC_F_HEAD       (1u << 15)
#define GC_F_COMPLETE   (1u << 16)
#define GC_F_HISTORY    (1u << 17)
#define GC_F_ROOMS      (1u << 18)
#define GC_F_HASH       (1u << 19)
#define GC_F_PATH       (1u << 20)
#define GC_F_NAMES      (1u << 21)
#define GC_F_ADDRESS    (1u << 22)
#define GC_F_RETRY_AFTER (1u << 23)
#define GC_F_GENERATION (1u << 24)
#define GC_F_REASON     (1u << 25)
#define GC_F_GENERATIONS (1u << 26)
#define GC_F_NONCE      (1u << 27)
#define GC_F_INSTANCE   (1u << 28)
#define GC_F_EVENT      (1u << 29)
#define GC_F_LAST       GC_F_EVENT          //  the highest bit: a new field moves it

//  A byte string that is not NUL-terminated
typedef struct {
    const char *ptr;
    size_t len;
} gc_str_t;

//  One stored room message, as history arrays and MESSAGE events hold it
typedef struct {
    gc_str_t room;
    uint64_t seq;           //  1, 2, 3, ... per room, no gaps
    gc_str_t from;          //  sender's user name
    gc_str_t text;          //  exactly as said
    int64_t ts;             //  ms since the Unix epoch, when stored
} gc_message_t;

typedef struct {
    gc_op_t op;             //  what kind of frame this is
    uint32_t fields;        //  GC_F_* bits of the members present
    uint64_t rid;           //  requester's id, echoed in the reply
    int64_t deadline;       //  ms since epoch; broker must not act after it
    gc_str_t user;
    gc_str_t password;
    gc_str_t token;
    gc_str_t room;
    gc_str_t text;
    gc_str_t nonce;         //  say: the client's, to store it once however often sent
    gc_str_t from;
    gc_error_t code;        //  in an error reply
    gc_str_t message;       //  human text of an error reply
    uint64_t seq;           //  say reply, MESSAGE and HEAD events
    int64_t ts;             //  MESSAGE event
    uint64_t since;         //  join/history: messages with seq > since
    uint64_t before;        //  history: messages with seq < before
    uint32_t limit;         //  history: how many at most
    uint64_t head;          //  join reply: the room's newest seq
    bool complete;          //  join-with-since reply: nothing left out
    gc_message_t *history;  //  join/history reply, oldest first
    size_t history_size;
    gc_str_t *rooms;        //  rooms reply, sorted by name
    size_t rooms_size;
    gc_str_t hash;          //  administration: an argon2id password hash
    gc_str_t path;          //  backup: where the broker writes the copy
    gc_str_t *names;        //  administration queries' reply, sorted
    size_t names_size;
    gc_str_t address;       //  login: the client's address, as its gateway saw it
    uint64_t retry_after;   //  rate_limited: ms to wait before trying again
    uint64_t generation;    //  login reply; every request acting for a user
    gc_str_t reason;        //  closed event: why, for people
    uint64_t *generations;  //  generations reply, one per name asked
    size_t generations_size;
    gc_str_t instance;      //  presence: the gateway's id, made at its start
    gc_str_t event;         //  present, presence: join, leave (or snapshot)
    msgpack_zone zone;      //  holds the decoded objects and arrays
    bool owns_zone;         //  true after a successful decode
} gc_frame_t;

//  Wire name of an op ("say"), or "?" for an unknown one.
const char *gc_op_name (gc_op_t op);

//  Initialises a frame of the given op with no fields present.
void gc_frame_init (gc_frame_t *self, gc_op_t op);

//  Decodes one msgpack buffer into self, which the caller must release.
//  Returns 0, or -1 when the buffer is not a well-formed frame (then self
//  needs no release, and holds the rid alone when one was read). Strings
//  point into data: keep it until the release.
int gc_frame_decode (gc_frame_t *self, const void *data, size_t size);

//  True when every string the frame carries is clean text (gc_text_is_clean):
//  msgpack's str is UTF-8, and no string of the client protocol holds
//  U+0000. The broker refuses a request that is not, as a gateway does.
bool gc_frame_is_clean (const gc_frame_t *self);

//  Frees what a successful decode allocated; safe to call twice.
void gc_frame_release (gc_frame_t *self);

//  Encodes the present fields of self into buffer (which is cleared
//  first).
void gc_frame_encode (const gc_frame_t *self, msgpack_sbuffer *buffer);

//  Convenience setters: set the member and its bit
void gc_frame_set_str (gc_frame_t *self, uint32_t field, const char *ptr, size_t len);
void gc_frame_set_cstr (gc_frame_t *self, uint32_t field, const char *cstr);
void gc_frame_set_uint (gc_frame_t *self, uint32_t field, uint64_t value);

//  Makes an error reply to request (same rid): code and human message.
void gc_frame_error (gc_frame_t *self, const gc_frame_t *request,
                     gc_error_t code, const char *message);

//  Returns true when the string equals the C string.
bool gc_str_eq (gc_str_t str, const char *cstr);

//  Copies str into a fresh NUL-terminated heap string.
char *gc_str_dup (gc_str_t str);

//  Copies str into buffer as a C string; false when it does not fit or
//  holds a NUL (no name, token or path of ours may).
bool gc_str_copy (gc_str_t str, char *buffer, size_t size);

//  Writes the PUB/SUB topic of a room into buf: the name and a NUL byte,
//  so that a prefix subscription to "Taskmaster" never matches
//  "Taskmaster 2". Returns its length, or 0 when buf is too small.
size_t gc_topic (gc_str_t room, char *buf, size_t size);

//  The users topic, where the events of no room go (closed, and the
//  users' head): a lone NUL byte, the topic of the empty name, which no
//  room has and no room's topic begins with.
#define GC_TOPIC_USERS      ""
#define GC_TOPIC_USERS_SIZE 1

//  Self test
void gc_codec_test (bool verbose);

#endif
