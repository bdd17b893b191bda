/*  gc_codec.c: msgpack encoding and strict decoding of gc_frame_t.

    The key table below is the whole wire format: each key names one
    member, its kind and its GC_F_ bit. Decoding walks the map once and
    rejects any value of the wrong kind; unknown keys are skipped so that
    either side may add fields without breaking the other. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <assert.h>
#include <stdio.h>
#include "gc_codec.h"
#include "gc_alloc.h"
#include "gc_limits.h"
#include "gc_text.h"

typedef enum { K_STR, K_UINT, K_INT, K_BOOL, K_CODE, K_HISTORY, K_NAMES, K_UINTS } s_kind_t;

typedef struct {
    const char *name;       //  key on the wire
    uint32_t bit;           //  GC_F_* bit
    s_kind_t kind;          //  type of the value
    size_t offset;          //  where the member lives in gc_frame_t
    size_t size_offset;     //  K_NAMES, K_UINTS: where the array's size lives
} s_key_t;

#define KEY(name, bit, kind, member) { name, bit, kind, offsetof (gc_frame_t, member), 0 }
#define KEY_ARRAY(name, bit, kind, member) \
    { name, bit, kind, offsetof (gc_frame_t, member), offsetof (gc_frame_t, member##_size) }
static const s_key_t s_keys [] = {
    KEY ("rid",      GC_F_RID,      K_UINT,    rid),
    KEY ("deadline", GC_F_DEADLINE, K_INT,     deadline),
    KEY ("user",     GC_F_USER,     K_STR,     user),
    KEY ("password", GC_F_PASSWORD, K_STR,     password),
    KEY ("token",    GC_F_TOKEN,    K_STR,     token),
    KEY ("room",     GC_F_ROOM,     K_STR,     room),
    KEY ("text",     GC_F_TEXT,     K_STR,     text),
    KEY ("from",     GC_F_FROM,     K_STR,     from),
    KEY ("code",     GC_F_CODE,     K_CODE,    code),
    KEY ("message",  GC_F_MESSAGE,  K_STR,     message),
    KEY ("seq",      GC_F_SEQ,      K_UINT,    seq),
    KEY ("ts",       GC_F_TS,       K_INT,     ts),
    KEY ("since",    GC_F_SINCE,    K_UINT,    since),
    KEY ("before",   GC_F_BEFORE,   K_UINT,    before),
    KEY ("limit",    GC_F_LIMIT,    K_UINT,    limit),
    KEY ("head",     GC_F_HEAD,     K_UINT,    head),
    KEY ("complete", GC_F_COMPLETE, K_BOOL,    complete),
    KEY ("history",  GC_F_HISTORY,  K_HISTORY, history),
    KEY_ARRAY ("rooms", GC_F_ROOMS, K_NAMES, rooms),
    KEY ("hash",     GC_F_HASH,     K_STR,     hash),
    KEY ("path",     GC_F_PATH,     K_STR,     path),
    KEY_ARRAY ("names", GC_F_NAMES, K_NAMES, names),
    KEY ("generation", GC_F_GENERATION, K_UINT, generation),
    KEY ("reason",   GC_F_REASON,   K_STR,     reason),
    KEY_ARRAY ("generations", GC_F_GENERATIONS, K_UINTS, generations),
    KEY ("address",  GC_F_ADDRESS,  K_STR,     address),
    KEY ("retry_after", GC_F_RETRY_AFTER, K_UINT, retry_after),
    KEY ("nonce",    GC_F_NONCE,    K_STR,     nonce),
    KEY ("instance", GC_F_INSTANCE, K_STR,     instance),
    KEY ("event",    GC_F_EVENT,    K_STR,     event),
};
#define KEY_COUNT (sizeof (s_keys) / sizeof (s_keys [0]))

static const char *s_op_names [GC_OP_COUNT] = {
    [GC_OP_NONE] = "?", [GC_OP_PING] = "ping", [GC_OP_LOGIN] = "login",
    [GC_OP_LOGOUT] = "logout", [GC_OP_ROOMS] = "rooms", [GC_OP_JOIN] = "join",
    [GC_OP_SAY] = "say", [GC_OP_HISTORY] = "history", [GC_OP_OK] = "ok",
    [GC_OP_ERROR] = "error", [GC_OP_MESSAGE] = "message", [GC_OP_HEAD] = "head",
    [GC_OP_USER_ADD] = "user_add", [GC_OP_USER_REMOVE] = "user_remove",
    [GC_OP_PASSWORD_SET] = "password_set", [GC_OP_ROOM_ADD] = "room_add",
    [GC_OP_MEMBER_ADD] = "member_add", [GC_OP_MEMBER_REMOVE] = "member_remove",
    [GC_OP_BACKUP] = "backup", [GC_OP_STATS] = "stats", [GC_OP_KICK] = "kick",
    [GC_OP_USER_LIST] = "user_list", [GC_OP_ROOM_LIST] = "room_list",
    [GC_OP_MEMBER_LIST] = "member_list", [GC_OP_CLOSED] = "closed",
    [GC_OP_GENERATIONS] = "generations", [GC_OP_PRESENT] = "present",
    [GC_OP_PRESENCE_SYNC] = "presence_sync", [GC_OP_WHO] = "who",
    [GC_OP_PRESENCE] = "presence", [GC_OP_TYPING] = "typing",
};

const char *
gc_op_name (gc_op_t op)
{
    return op < GC_OP_COUNT? s_op_names [op]: "?";
}

static gc_op_t
s_op_from_name (const char *name, size_t len)
{
    for (int op = 1; op < GC_OP_COUNT; op++)
        if (strlen (s_op_names [op]) == len && memcmp (s_op_names [op], name, len) == 0)
            return (gc_op_t) op;
    return GC_OP_NONE;
}

void
gc_frame_init (gc_frame_t *self, gc_op_t op)
{
    memset (self, 0, sizeof (*self));
    self->op = op;
}

bool
gc_str_eq (gc_str_t str, const char *cstr)
{
    return strlen (cstr) == str.len && memcmp (str.ptr, cstr, str.len) == 0;
}

char *
gc_str_dup (gc_str_t str)
{
    char *copy = gc_malloc (str.len + 1);
    memcpy (copy, str.ptr, str.len);
    copy [str.len] = 0;
    return copy;
}

bool
gc_str_copy (gc_str_t str, char *buffer, size_t size)
{
    if (str.len >= size || (str.len && memchr (str.ptr, 0, str.len)))
        return false;
    if (str.len)
        memcpy (buffer, str.ptr, str.len);
    buffer [str.len] = 0;
    return true;
}

size_t
gc_topic (gc_str_t room, char *buf, size_t size)
{
    if (room.len + 1 > size)
        return 0;
    if (room.len)
        memcpy (buf, room.ptr, room.len);
    buf [room.len] = 0;
    return room.len + 1;
}

static bool
s_str_is_clean (gc_str_t str)
{
    return gc_text_is_clean (str.ptr, str.len);
}

//  A K_NAMES member: each of its strings
static bool
s_names_are_clean (const gc_frame_t *self, const s_key_t *key)
{
    const gc_str_t *names = *(gc_str_t *const *) ((const char *) self + key->offset);
    size_t size = *(const size_t *) ((const char *) self + key->size_offset);
    for (size_t index = 0; index < size; index++)
        if (!s_str_is_clean (names [index]))
            return false;
    return true;
}

static bool
s_history_is_clean (const gc_frame_t *self)
{
    for (size_t index = 0; index < self->history_size; index++) {
        const gc_message_t *message = &self->history [index];
        if (!s_str_is_clean (message->room) || !s_str_is_clean (message->from)
        ||  !s_str_is_clean (message->text))
            return false;
    }
    return true;
}

static bool
s_value_is_clean (const gc_frame_t *self, const s_key_t *key)
{
    switch (key->kind) {
        case K_STR:
            return s_str_is_clean (*(const gc_str_t *) ((const char *) self + key->offset));
        case K_NAMES:
            return s_names_are_clean (self, key);
        case K_HISTORY:
            return s_history_is_clean (self);
        default:
            return true;        //  numbers, booleans, codes
    }
}

bool
gc_frame_is_clean (const gc_frame_t *self)
{
    for (size_t index = 0; index < KEY_COUNT; index++)
        if ((self->fields & s_keys [index].bit) && !s_value_is_clean (self, &s_keys [index]))
            return false;
    return true;
}

void
gc_frame_set_str (gc_frame_t *self, uint32_t field, const char *ptr, size_t len)
{
    for (size_t index = 0; index < KEY_COUNT; index++)
        if (s_keys [index].bit == field) {
            assert (s_keys [index].kind == K_STR);
            gc_str_t *member = (gc_str_t *) ((char *) self + s_keys [index].offset);
            member->ptr = ptr;
            member->len = len;
            self->fields |= field;
            return;
        }
    assert (false);
}

void
gc_frame_set_cstr (gc_frame_t *self, uint32_t field, const char *cstr)
{
    gc_frame_set_str (self, field, cstr, strlen (cstr));
}

void
gc_frame_set_uint (gc_frame_t *self, uint32_t field, uint64_t value)
{
    for (size_t index = 0; index < KEY_COUNT; index++)
        if (s_keys [index].bit == field) {
            void *member = (char *) self + s_keys [index].offset;
            switch (s_keys [index].kind) {
                case K_UINT:
                    if (field == GC_F_LIMIT)
                        *(uint32_t *) member = (uint32_t) value;
                    else
                        *(uint64_t *) member = value;
                    break;
                case K_INT:  *(int64_t *) member = (int64_t) value; break;
                case K_BOOL: *(bool *) member = value != 0; break;
                default: assert (false);
            }
            self->fields |= field;
            return;
        }
    assert (false);
}

void
gc_frame_error (gc_frame_t *self, const gc_frame_t *request,
                gc_error_t code, const char *message)
{
    gc_frame_init (self, GC_OP_ERROR);
    if (request && (request->fields & GC_F_RID))
        gc_frame_set_uint (self, GC_F_RID, request->rid);
    self->code = code;
    self->fields |= GC_F_CODE;
    gc_frame_set_cstr (self, GC_F_MESSAGE, message? message: gc_error_text (code));
}

//  --------------------------------------------------------------------------
//  Encoding

static void
s_pack_str (msgpack_packer *pk, const char *ptr, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, ptr, len);
}

static void
s_pack_message (msgpack_packer *pk, const gc_message_t *msg)
{
    msgpack_pack_map (pk, 5);
    s_pack_str (pk, "room", 4);
    s_pack_str (pk, msg->room.ptr, msg->room.len);
    s_pack_str (pk, "seq", 3);
    msgpack_pack_uint64 (pk, msg->seq);
    s_pack_str (pk, "from", 4);
    s_pack_str (pk, msg->from.ptr, msg->from.len);
    s_pack_str (pk, "text", 4);
    s_pack_str (pk, msg->text.ptr, msg->text.len);
    s_pack_str (pk, "ts", 2);
    msgpack_pack_int64 (pk, msg->ts);
}

static void
s_pack_value (msgpack_packer *pk, const gc_frame_t *self, const s_key_t *key)
{
    const void *member = (const char *) self + key->offset;
    switch (key->kind) {
        case K_STR: {
            const gc_str_t *str = member;
            s_pack_str (pk, str->ptr, str->len);
            break;
        }
        case K_UINT:
            msgpack_pack_uint64 (pk, key->bit == GC_F_LIMIT?
                                 *(const uint32_t *) member: *(const uint64_t *) member);
            break;
        case K_INT:
            msgpack_pack_int64 (pk, *(const int64_t *) member);
            break;
        case K_BOOL:
            if (*(const bool *) member)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case K_CODE: {
            const char *name = gc_error_name (self->code);
            s_pack_str (pk, name, strlen (name));
            break;
        }
        case K_HISTORY:
            msgpack_pack_array (pk, self->history_size);
            for (size_t index = 0; index < self->history_size; index++)
                s_pack_message (pk, &self->history [index]);
            break;
        case K_NAMES: {
            const gc_str_t *names = *(gc_str_t *const *) member;
            size_t size = *(const size_t *) ((const char *) self + key->size_offset);
            msgpack_pack_array (pk, size);
            for (size_t index = 0; index < size; index++)
                s_pack_str (pk, names [index].ptr, names [index].len);
            break;
        }
        case K_UINTS: {
            const uint64_t *values = *(uint64_t *const *) member;
            size_t size = *(const size_t *) ((const char *) self + key->size_offset);
            msgpack_pack_array (pk, size);
            for (size_t index = 0; index < size; index++)
                msgpack_pack_uint64 (pk, values [index]);
            break;
        }
    }
}

void
gc_frame_encode (const gc_frame_t *self, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_clear (buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    uint32_t count = 1;
    for (size_t index = 0; index < KEY_COUNT; index++)
        if (self->fields & s_keys [index].bit)
            count++;
    msgpack_pack_map (&pk, count);
    const char *op = gc_op_name (self->op);
    s_pack_str (&pk, "op", 2);
    s_pack_str (&pk, op, strlen (op));
    for (size_t index = 0; index < KEY_COUNT; index++)
        if (self->fields & s_keys [index].bit) {
            s_pack_str (&pk, s_keys [index].name, strlen (s_keys [index].name));
            s_pack_value (&pk, self, &s_keys [index]);
        }
    //  sbuffer's write callback fails only when realloc fails, leaving
    //  data NULL; the packer has no other way to report it
    if (!buffer->data && buffer->size)
        gc_alloc_fail (__FILE__, __LINE__);
}

//  --------------------------------------------------------------------------
//  Decoding

static bool
s_obj_is_str (const msgpack_object *obj, gc_str_t *out)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return false;
    out->ptr = obj->via.str.ptr;
    out->len = obj->via.str.size;
    return true;
}

static bool
s_obj_is_uint (const msgpack_object *obj, uint64_t *out)
{
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = obj->via.u64;
    return true;
}

static bool
s_obj_is_int (const msgpack_object *obj, int64_t *out)
{
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER && obj->via.u64 <= INT64_MAX)
        *out = (int64_t) obj->via.u64;
    else
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = obj->via.i64;
    else
        return false;
    return true;
}

//  Decodes one history element; returns false when it is not a message.
static bool
s_decode_message (const msgpack_object *obj, gc_message_t *msg)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return false;
    unsigned seen = 0;
    for (uint32_t index = 0; index < obj->via.map.size; index++) {
        const msgpack_object *key = &obj->via.map.ptr [index].key;
        const msgpack_object *value = &obj->via.map.ptr [index].val;
        gc_str_t name;
        if (!s_obj_is_str (key, &name))
            return false;
        bool good = true;
        if (gc_str_eq (name, "room"))
            good = s_obj_is_str (value, &msg->room), seen |= 1;
        else
        if (gc_str_eq (name, "seq"))
            good = s_obj_is_uint (value, &msg->seq), seen |= 2;
        else
        if (gc_str_eq (name, "from"))
            good = s_obj_is_str (value, &msg->from), seen |= 4;
        else
        if (gc_str_eq (name, "text"))
            good = s_obj_is_str (value, &msg->text), seen |= 8;
        else
        if (gc_str_eq (name, "ts"))
            good = s_obj_is_int (value, &msg->ts), seen |= 16;
        if (!good)
            return false;
    }
    return seen == 31;
}

static bool
s_decode_history (gc_frame_t *self, const msgpack_object *value)
{
    if (value->type != MSGPACK_OBJECT_ARRAY)
        return false;
    size_t size = value->via.array.size;
    self->history = size? gc_alloc_checked (msgpack_zone_malloc (&self->zone, size * sizeof (gc_message_t))): NULL;
    for (size_t index = 0; index < size; index++)
        if (!s_decode_message (&value->via.array.ptr [index], &self->history [index]))
            return false;
    self->history_size = size;
    return true;
}

//  An array of strings (rooms, names) or of unsigned integers
//  (generations) into the key's two members
static bool
s_decode_array (gc_frame_t *self, const s_key_t *key, const msgpack_object *value)
{
    if (value->type != MSGPACK_OBJECT_ARRAY)
        return false;
    size_t size = value->via.array.size;
    size_t item = key->kind == K_NAMES? sizeof (gc_str_t): sizeof (uint64_t);
    void *items = size? gc_alloc_checked (msgpack_zone_malloc (&self->zone, size * item)): NULL;
    *(void **) ((char *) self + key->offset) = items;
    for (size_t index = 0; index < size; index++) {
        const msgpack_object *at = &value->via.array.ptr [index];
        if (key->kind == K_NAMES? !s_obj_is_str (at, (gc_str_t *) items + index)
                                : !s_obj_is_uint (at, (uint64_t *) items + index))
            return false;
    }
    *(size_t *) ((char *) self + key->size_offset) = size;
    return true;
}

static bool
s_decode_value (gc_frame_t *self, const s_key_t *key, const msgpack_object *value)
{
    void *member = (char *) self + key->offset;
    uint64_t number;
    gc_str_t str;
    switch (key->kind) {
        case K_STR:
            return s_obj_is_str (value, member);
        case K_UINT:
            if (!s_obj_is_uint (value, &number))
                return false;
            if (key->bit == GC_F_LIMIT) {
                if (number > UINT32_MAX)
                    return false;
                *(uint32_t *) member = (uint32_t) number;
            }
            else
                *(uint64_t *) member = number;
            return true;
        case K_INT:
            return s_obj_is_int (value, member);
        case K_BOOL:
            if (value->type != MSGPACK_OBJECT_BOOLEAN)
                return false;
            *(bool *) member = value->via.boolean;
            return true;
        case K_CODE:
            if (!s_obj_is_str (value, &str))
                return false;
            self->code = gc_error_from_name (str.ptr, str.len);
            return true;
        case K_HISTORY:
            return s_decode_history (self, value);
        case K_NAMES:
        case K_UINTS:
            return s_decode_array (self, key, value);
    }
    return false;
}

static bool
s_decode_pair (gc_frame_t *self, const msgpack_object_kv *pair)
{
    gc_str_t name;
    if (!s_obj_is_str (&pair->key, &name))
        return false;
    if (gc_str_eq (name, "op")) {
        gc_str_t op;
        if (!s_obj_is_str (&pair->val, &op))
            return false;
        self->op = s_op_from_name (op.ptr, op.len);
        return self->op != GC_OP_NONE;
    }
    for (size_t index = 0; index < KEY_COUNT; index++)
        if (gc_str_eq (name, s_keys [index].name)) {
            if (!s_decode_value (self, &s_keys [index], &pair->val))
                return false;
            self->fields |= s_keys [index].bit;
            return true;
        }
    return true;                //  unknown keys are allowed and skipped
}

//  --------------------------------------------------------------------------
//  Bounds. msgpack-c allocates a container's elements as soon as it reads
//  the container's header, before it knows whether they follow: a 5-byte
//  array32 header asks for 4 billion objects, about 100 GB. So before a
//  buffer reaches it, s_bounded walks the buffer's headers and refuses a
//  container that claims more elements than the bytes left could hold
//  (each element takes one byte at least), and a buffer whose containers
//  would need more than GC_DECODE_MEMORY_MAX in all.

//  A header's type byte from 0xc0 on: the bytes of its length (0: none),
//  the bytes that follow besides those the length counts, and what the
//  length counts: bytes, or the elements of an array or the pairs of a map
typedef enum { S_BYTES, S_ARRAY, S_MAP, S_NEVER } s_counts_t;
typedef struct {
    uint8_t length;
    uint8_t fixed;
    s_counts_t counts;
} s_format_t;

static const s_format_t s_formats [32] = {
    { 0, 0, S_BYTES },  { 0, 0, S_NEVER },  { 0, 0, S_BYTES },  { 0, 0, S_BYTES },  //  nil, -, false, true
    { 1, 0, S_BYTES },  { 2, 0, S_BYTES },  { 4, 0, S_BYTES },                      //  bin 8/16/32
    { 1, 1, S_BYTES },  { 2, 1, S_BYTES },  { 4, 1, S_BYTES },                      //  ext 8/16/32
    { 0, 4, S_BYTES },  { 0, 8, S_BYTES },                                          //  float 32/64
    { 0, 1, S_BYTES },  { 0, 2, S_BYTES },  { 0, 4, S_BYTES },  { 0, 8, S_BYTES },  //  uint 8..64
    { 0, 1, S_BYTES },  { 0, 2, S_BYTES },  { 0, 4, S_BYTES },  { 0, 8, S_BYTES },  //  int 8..64
    { 0, 2, S_BYTES },  { 0, 3, S_BYTES },  { 0, 5, S_BYTES },  { 0, 9, S_BYTES },  //  fixext 1..8
    { 0, 17, S_BYTES },                                                             //  fixext 16
    { 1, 0, S_BYTES },  { 2, 0, S_BYTES },  { 4, 0, S_BYTES },                      //  str 8/16/32
    { 2, 0, S_ARRAY },  { 4, 0, S_ARRAY },  { 2, 0, S_MAP },    { 4, 0, S_MAP },    //  array, map
};

//  Reads the header at data [*offset] and skips what it carries itself
//  (a string's bytes, a number); *elements gets how many objects follow
//  in it, and *memory what msgpack-c and the decoder may allocate for
//  them. False when the header or its bytes run past the end, or the type
//  byte is none of msgpack's.
static bool
s_skip_header (const uint8_t *data, size_t size, size_t *offset,
               uint64_t *elements, uint64_t *memory)
{
    uint8_t type = data [(*offset)++];
    s_format_t format = { 0, 0, S_BYTES };
    uint64_t count = 0;
    if (type >= 0xc0 && type <= 0xdf)
        format = s_formats [type - 0xc0];
    else
    if (type >= 0x80 && type <= 0x8f)
        format.counts = S_MAP, count = type & 0x0f;
    else
    if (type >= 0x90 && type <= 0x9f)
        format.counts = S_ARRAY, count = type & 0x0f;
    else
    if (type >= 0xa0 && type <= 0xbf)
        count = type & 0x1f;
    if (format.counts == S_NEVER || size - *offset < format.length)
        return false;
    for (uint8_t index = 0; index < format.length; index++)
        count = count << 8 | data [(*offset)++];
    *elements = 0;
    *memory = 0;
    if (format.counts == S_BYTES) {
        if (size - *offset < count + format.fixed)
            return false;
        *offset += count + format.fixed;
    }
    else
    if (format.counts == S_ARRAY) {
        //  Any array may be a history, whose messages the decoder copies
        *elements = count;
        *memory = count * (sizeof (msgpack_object) + sizeof (gc_message_t));
    }
    else {
        *elements = 2 * count;
        *memory = count * sizeof (msgpack_object_kv);
    }
    return true;
}

//  True when every container of data claims no more elements than the
//  bytes after it could hold, with the objects still owed besides, and
//  all of them fit in GC_DECODE_MEMORY_MAX. Each turn reads one byte at
//  least, so this is linear in size.
static bool
s_bounded (const uint8_t *data, size_t size)
{
    uint64_t pending = 1;       //  objects yet to be read
    uint64_t memory = 0;
    size_t offset = 0;
    while (pending > 0) {
        uint64_t elements, needs;
        if (offset >= size || !s_skip_header (data, size, &offset, &elements, &needs))
            return false;
        pending = pending - 1 + elements;
        if (pending > size - offset)
            return false;
        memory += needs;
        if (memory > GC_DECODE_MEMORY_MAX)
            return false;
    }
    return true;
}

//  The decode's own zone starts small enough for malloc's per-thread
//  cache: msgpack_unpack_next would make a new 8 KiB zone per frame,
//  and that size makes glibc consolidate its free lists each time
#define S_ZONE_CHUNK    512

int
gc_frame_decode (gc_frame_t *self, const void *data, size_t size)
{
    gc_frame_init (self, GC_OP_NONE);
    if (!s_bounded (data, size))
        return -1;
    if (!msgpack_zone_init (&self->zone, S_ZONE_CHUNK))
        gc_alloc_fail (__FILE__, __LINE__);
    msgpack_object root;
    size_t offset = 0;
    //  SUCCESS only when the buffer held one object and nothing more
    if (msgpack_unpack (data, size, &offset, &self->zone, &root) != MSGPACK_UNPACK_SUCCESS
    ||  root.type != MSGPACK_OBJECT_MAP)
        goto malformed;
    //  Every pair is read, a bad one too, so that the rid is found
    //  wherever it stands in the map
    const msgpack_object_map *map = &root.via.map;
    bool wellformed = true;
    for (uint32_t index = 0; index < map->size; index++)
        if (!s_decode_pair (self, &map->ptr [index]))
            wellformed = false;
    if (!wellformed || self->op == GC_OP_NONE)
        goto malformed;
    self->owns_zone = true;
    return 0;

malformed:;
    //  The rid alone is kept, so that a peer's bad request can be answered
    //  bad_request at once instead of waiting out its deadline
    uint64_t rid = self->rid;
    bool has_rid = self->fields & GC_F_RID;
    msgpack_zone_destroy (&self->zone);
    gc_frame_init (self, GC_OP_NONE);
    if (has_rid) {
        self->rid = rid;
        self->fields = GC_F_RID;
    }
    return -1;
}

void
gc_frame_release (gc_frame_t *self)
{
    if (self->owns_zone) {
        msgpack_zone_destroy (&self->zone);
        self->owns_zone = false;
    }
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_roundtrip (const gc_frame_t *in, gc_frame_t *out, msgpack_sbuffer *buffer)
{
    gc_frame_encode (in, buffer);
    int rc = gc_frame_decode (out, buffer->data, buffer->size);
    assert (rc == 0);
}

static void
s_test_say (msgpack_sbuffer *buffer)
{
    gc_frame_t say, got;
    gc_frame_init (&say, GC_OP_SAY);
    gc_frame_set_uint (&say, GC_F_RID, 77);
    gc_frame_set_uint (&say, GC_F_DEADLINE, 1795962000123);
    gc_frame_set_cstr (&say, GC_F_USER, "Sue");
    gc_frame_set_cstr (&say, GC_F_ROOM, "Taskmaster");
    gc_frame_set_str (&say, GC_F_TEXT, "a\0b", 3);
    s_roundtrip (&say, &got, buffer);
    assert (got.op == GC_OP_SAY);
    assert (got.fields == (GC_F_RID | GC_F_DEADLINE | GC_F_USER | GC_F_ROOM | GC_F_TEXT));
    assert (got.rid == 77 && got.deadline == 1795962000123);
    assert (gc_str_eq (got.user, "Sue") && gc_str_eq (got.room, "Taskmaster"));
    assert (got.text.len == 3 && memcmp (got.text.ptr, "a\0b", 3) == 0);
    gc_frame_release (&got);
    gc_frame_release (&got);    //  twice is safe
}

static void
s_test_history (msgpack_sbuffer *buffer)
{
    gc_message_t msgs [2] = {
        { { "Taskmaster", 10 }, 41, { "Alex", 4 }, { "hello", 5 }, 1795962000000 },
        { { "Taskmaster", 10 }, 42, { "Sue", 3 }, { "", 0 }, 1795962000123 },
    };
    gc_frame_t reply, got;
    gc_frame_init (&reply, GC_OP_OK);
    reply.history = msgs;
    reply.history_size = 2;
    reply.fields |= GC_F_HISTORY;
    gc_frame_set_uint (&reply, GC_F_HEAD, 42);
    gc_frame_set_uint (&reply, GC_F_COMPLETE, 1);
    s_roundtrip (&reply, &got, buffer);
    assert (got.op == GC_OP_OK && got.history_size == 2 && got.head == 42 && got.complete);
    assert (got.history [1].seq == 42 && gc_str_eq (got.history [1].from, "Sue"));
    assert (got.history [0].ts == 1795962000000 && gc_str_eq (got.history [0].text, "hello"));
    gc_frame_release (&got);
}

static void
s_test_names_and_error (msgpack_sbuffer *buffer)
{
    gc_str_t names [2] = { { "8 out of 10 cats", 16 }, { "Taskmaster", 10 } };
    gc_frame_t reply, got, request, error;
    gc_frame_init (&reply, GC_OP_OK);
    reply.rooms = names;
    reply.rooms_size = 2;
    reply.fields |= GC_F_ROOMS;
    s_roundtrip (&reply, &got, buffer);
    assert (got.rooms_size == 2 && gc_str_eq (got.rooms [0], "8 out of 10 cats"));
    assert (got.fields == GC_F_ROOMS && got.names_size == 0);
    gc_frame_release (&got);

    //  names: any strings, an escape byte included, and none at all
    gc_str_t users [3] = { { "Alex", 4 }, { "Eve\x1b[31m", 8 }, { "Sue", 3 } };
    gc_frame_init (&reply, GC_OP_OK);
    reply.names = users;
    reply.names_size = 3;
    reply.fields |= GC_F_NAMES;
    s_roundtrip (&reply, &got, buffer);
    assert (got.fields == GC_F_NAMES && got.names_size == 3 && got.rooms_size == 0);
    assert (gc_str_eq (got.names [1], "Eve\x1b[31m") && gc_str_eq (got.names [2], "Sue"));
    gc_frame_release (&got);
    reply.names_size = 0;
    s_roundtrip (&reply, &got, buffer);
    assert (got.fields == GC_F_NAMES && got.names_size == 0);
    gc_frame_release (&got);
    //  {"op":"ok","names":[1]}: not a string
    assert (gc_frame_decode (&got, "\x82\xa2op\xa2ok\xa5names\x91\x01", 15) == -1);
    gc_frame_init (&request, GC_OP_MEMBER_LIST);
    s_roundtrip (&request, &got, buffer);
    assert (got.op == GC_OP_MEMBER_LIST && strcmp (gc_op_name (got.op), "member_list") == 0);
    gc_frame_release (&got);

    gc_frame_init (&request, GC_OP_JOIN);
    gc_frame_set_uint (&request, GC_F_RID, 5);
    gc_frame_error (&error, &request, GC_NOT_MEMBER, NULL);
    s_roundtrip (&error, &got, buffer);
    assert (got.op == GC_OP_ERROR && got.rid == 5 && got.code == GC_NOT_MEMBER);
    assert (got.fields & GC_F_MESSAGE);
    gc_frame_release (&got);
}

//  Malformed or hostile buffers are errors, never crashes
static void
s_test_malformed (msgpack_sbuffer *buffer)
{
    gc_frame_t got;
    assert (gc_frame_decode (&got, "", 0) == -1);
    assert (gc_frame_decode (&got, "\x93\x01\x02\x03", 4) == -1);     //  array
    assert (gc_frame_decode (&got, "\x81\xa2op", 4) == -1);            //  truncated
    assert (gc_frame_decode (&got, "\x81\xa2op\xa4nope", 8) == -1);    //  unknown op
    assert (gc_frame_decode (&got, "\x80", 1) == -1);                  //  no op
    //  {"op":"say","seq":"x"}: wrong kind
    assert (gc_frame_decode (&got, "\x82\xa2op\xa3say\xa3seq\xa1x", 14) == -1);
    //  {"op":"say","zz":1}: unknown key skipped
    assert (gc_frame_decode (&got, "\x82\xa2op\xa3say\xa2zz\x01", 12) == 0);
    assert (got.op == GC_OP_SAY && got.fields == 0);
    gc_frame_release (&got);
    //  trailing garbage after a valid map
    gc_frame_t ping;
    gc_frame_init (&ping, GC_OP_PING);
    gc_frame_encode (&ping, buffer);
    msgpack_sbuffer_write (buffer, "\x01", 1);
    assert (gc_frame_decode (&got, buffer->data, buffer->size) == -1);
}

//  Containers that claim more than the buffer could hold are refused
//  before msgpack-c allocates for them, and so are frames whose objects
//  would take more than GC_DECODE_MEMORY_MAX; the largest reply a gateway
//  gets is well within both, and within half of GC_LINK_MESSAGE_MAX
static void
s_test_bounds (msgpack_sbuffer *buffer)
{
    gc_frame_t got;
    assert (gc_frame_decode (&got, "\xdd\xff\xff\xff\xff", 5) == -1);          //  array32 alone
    assert (gc_frame_decode (&got, "\xdf\xff\xff\xff\xff", 5) == -1);          //  map32 alone
    //  {"op"... with array32 of 1.9 billion: found by fuzz/codec.c
    assert (gc_frame_decode (&got, "\x83\xddop24-7o", 9) == -1);
    //  {"op":"ok","names":[two strings claimed, one there]}
    assert (gc_frame_decode (&got, "\x82\xa2op\xa2ok\xa5names\x92\xa0", 14) == -1);

    //  {"op":"ok","names":["", "", ...]}: every element a byte
    size_t per_element = sizeof (msgpack_object) + sizeof (gc_message_t);
    size_t within = GC_DECODE_MEMORY_MAX / per_element - 10;
    size_t size = 32 + within + 20;
    char *data = gc_malloc (size);
    for (size_t count = within; count <= within + 20; count += 20) {
        memcpy (data, "\x82\xa2op\xa2ok\xa5names\xdd", 14);
        for (int index = 0; index < 4; index++)
            data [14 + index] = (char) (count >> (24 - 8 * index));
        memset (data + 18, 0xa0, count);
        int rc = gc_frame_decode (&got, data, 18 + count);
        assert (rc == (count == within? 0: -1));
        assert (rc || got.names_size == within);
        gc_frame_release (&got);
    }
    free (data);

    //  A join-with-since reply of GC_SINCE_MAX messages with the longest
    //  texts and names
    static char text [GC_TEXT_MAX], name [GC_NAME_MAX];
    memset (text, 't', sizeof text);
    memset (name, 'n', sizeof name);
    gc_message_t *history = gc_calloc (GC_SINCE_MAX, sizeof *history);
    for (size_t index = 0; index < GC_SINCE_MAX; index++)
        history [index] = (gc_message_t) { { name, sizeof name }, index + 1,
                                           { name, sizeof name }, { text, sizeof text }, 1 };
    gc_frame_t reply;
    gc_frame_init (&reply, GC_OP_OK);
    gc_frame_set_uint (&reply, GC_F_RID, 1);
    gc_frame_set_str (&reply, GC_F_ROOM, name, sizeof name);
    reply.history = history;
    reply.history_size = GC_SINCE_MAX;
    reply.fields |= GC_F_HISTORY;
    gc_frame_set_uint (&reply, GC_F_HEAD, GC_SINCE_MAX);
    gc_frame_set_uint (&reply, GC_F_COMPLETE, 1);
    s_roundtrip (&reply, &got, buffer);
    assert (buffer->size <= GC_LINK_MESSAGE_MAX / 2);
    assert (got.history_size == GC_SINCE_MAX && got.history [GC_SINCE_MAX - 1].text.len == GC_TEXT_MAX);
    gc_frame_release (&got);
    free (history);
}

//  Strings that are not UTF-8, or hold U+0000, make a frame unclean
//  wherever they are
static void
s_test_clean (void)
{
    gc_frame_t say;
    gc_frame_init (&say, GC_OP_SAY);
    gc_frame_set_cstr (&say, GC_F_USER, "Zo\xc3\xab");
    gc_frame_set_cstr (&say, GC_F_ROOM, "Taskmaster");
    gc_frame_set_cstr (&say, GC_F_TEXT, "\xf0\x9f\x98\x80");
    assert (gc_frame_is_clean (&say));
    gc_frame_set_cstr (&say, GC_F_USER, "Zo\xeb");                 //  Latin-1
    assert (!gc_frame_is_clean (&say));
    gc_frame_set_cstr (&say, GC_F_USER, "Zoe");
    gc_frame_set_str (&say, GC_F_TEXT, "a\0b", 3);
    assert (!gc_frame_is_clean (&say));

    gc_str_t names [2] = { { "Alex", 4 }, { "\xc0\xaf", 2 } };    //  overlong '/'
    gc_frame_t reply;
    gc_frame_init (&reply, GC_OP_OK);
    reply.names = names;
    reply.names_size = 1;
    reply.fields |= GC_F_NAMES;
    assert (gc_frame_is_clean (&reply));
    reply.names_size = 2;
    assert (!gc_frame_is_clean (&reply));
    gc_message_t message = { { "r", 1 }, 1, { "Sue", 3 }, { "\xed\xa0\x80", 3 }, 1 };
    gc_frame_init (&reply, GC_OP_OK);
    reply.history = &message;
    reply.history_size = 1;
    reply.fields |= GC_F_HISTORY;
    assert (!gc_frame_is_clean (&reply));                         //  a surrogate
}

static void
s_test_topic (void)
{
    char topic [32];
    gc_str_t room = { "Taskmaster", 10 };
    assert (gc_topic (room, topic, sizeof topic) == 11 && topic [10] == 0);
    assert (gc_topic (room, topic, 10) == 0);
    //  No room: the users topic
    assert (gc_topic ((gc_str_t) { NULL, 0 }, topic, sizeof topic) == GC_TOPIC_USERS_SIZE);
    assert (memcmp (topic, GC_TOPIC_USERS, GC_TOPIC_USERS_SIZE) == 0);
}

//  A session's end and the generations that tell logins apart
static void
s_test_sessions (msgpack_sbuffer *buffer)
{
    gc_frame_t frame, got;
    gc_frame_init (&frame, GC_OP_CLOSED);
    gc_frame_set_cstr (&frame, GC_F_USER, "Greg");
    gc_frame_set_uint (&frame, GC_F_SEQ, 12);
    gc_frame_set_cstr (&frame, GC_F_REASON, "your account was removed");
    s_roundtrip (&frame, &got, buffer);
    assert (got.op == GC_OP_CLOSED && got.seq == 12 && gc_str_eq (got.user, "Greg"));
    assert (gc_str_eq (got.reason, "your account was removed"));
    assert (strcmp (gc_op_name (got.op), "closed") == 0);
    gc_frame_release (&got);

    uint64_t generations [3] = { 1, 0, UINT64_MAX };
    gc_frame_init (&frame, GC_OP_OK);
    gc_frame_set_uint (&frame, GC_F_GENERATION, 7);
    frame.generations = generations;
    frame.generations_size = 3;
    frame.fields |= GC_F_GENERATIONS;
    s_roundtrip (&frame, &got, buffer);
    assert (got.fields == (GC_F_GENERATION | GC_F_GENERATIONS) && got.generation == 7);
    assert (got.generations_size == 3 && got.generations [0] == 1);
    assert (got.generations [1] == 0 && got.generations [2] == UINT64_MAX);
    gc_frame_release (&got);
    gc_frame_init (&frame, GC_OP_GENERATIONS);
    s_roundtrip (&frame, &got, buffer);
    assert (got.op == GC_OP_GENERATIONS && strcmp (gc_op_name (got.op), "generations") == 0);
    gc_frame_release (&got);
    //  {"op":"ok","generations":["x"]} and [-1]: not unsigned integers
    assert (gc_frame_decode (&got, "\x82\xa2op\xa2ok\xabgenerations\x91\xa1x", 22) == -1);
    assert (gc_frame_decode (&got, "\x82\xa2op\xa2ok\xabgenerations\x91\xff", 21) == -1);
}

//  Presence: the instance and the event, and every new op by its name
static void
s_test_presence (msgpack_sbuffer *buffer)
{
    gc_frame_t frame, got;
    gc_frame_init (&frame, GC_OP_PRESENT);
    gc_frame_set_cstr (&frame, GC_F_INSTANCE, "5BD2F6B7A2F94CCFA58297F4AAD2D8DA");
    gc_frame_set_cstr (&frame, GC_F_EVENT, "join");
    s_roundtrip (&frame, &got, buffer);
    assert (got.fields == (GC_F_INSTANCE | GC_F_EVENT) && gc_str_eq (got.event, "join"));
    assert (gc_str_eq (got.instance, "5BD2F6B7A2F94CCFA58297F4AAD2D8DA"));
    gc_frame_release (&got);
    for (gc_op_t op = GC_OP_PRESENT; op <= GC_OP_TYPING; op++) {
        gc_frame_init (&frame, op);
        s_roundtrip (&frame, &got, buffer);
        assert (got.op == op && strcmp (gc_op_name (op), "?") != 0);
        gc_frame_release (&got);
    }
}

void
gc_codec_test (bool verbose)
{
    if (verbose)
        printf (" * gc_codec: ");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_test_say (&buffer);
    s_test_history (&buffer);
    s_test_names_and_error (&buffer);
    s_test_malformed (&buffer);
    s_test_bounds (&buffer);
    s_test_clean ();
    s_test_topic ();
    s_test_sessions (&buffer);
    s_test_presence (&buffer);
    msgpack_sbuffer_destroy (&buffer);
    if (verbose)
        printf ("OK\n");
}
