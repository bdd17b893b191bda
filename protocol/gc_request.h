/*  gc_request.h: the client protocol's ops and requests (docs/protocol.md).

    One table names every op of protocol v1, the requests a client sends
    and the frames a server sends back, and says which fields each
    request needs. The gateway parses requests with it; the client and
    the bench write theirs with it, so the three cannot drift apart.

    Parsing is strict about types and lenient about unknown fields, as
    the protocol asks. Say texts are checked against gc_text by the
    gateway after membership, so that a say to a room not joined is
    answered not_in_room whatever its text. */
#ifndef GC_REQUEST_H_INCLUDED
#define GC_REQUEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gc_error.h"

//  The wire names of fields, for writers and for streaming readers
#define GC_KEY_OP           "op"
#define GC_KEY_ID           "id"
#define GC_KEY_USER         "user"
#define GC_KEY_PASSWORD     "password"
#define GC_KEY_TOKEN        "token"
#define GC_KEY_ROOM         "room"
#define GC_KEY_TEXT         "text"
#define GC_KEY_NONCE        "nonce"
#define GC_KEY_SINCE        "since"
#define GC_KEY_BEFORE       "before"
#define GC_KEY_LIMIT        "limit"
#define GC_KEY_SEQ          "seq"
#define GC_KEY_FROM         "from"
#define GC_KEY_TS           "ts"
#define GC_KEY_HISTORY      "history"
#define GC_KEY_COMPLETE     "complete"
#define GC_KEY_ROOMS        "rooms"
#define GC_KEY_NAME         "name"
#define GC_KEY_CODE         "code"
#define GC_KEY_MESSAGE      "message"
#define GC_KEY_REASON       "reason"
#define GC_KEY_RETRY_AFTER  "retry_after"
#define GC_KEY_PRESENT      "present"
#define GC_KEY_EVENT        "event"

typedef enum {
    GC_CLIENT_NONE = 0,     //  not an op of the protocol
    //  Requests, client to server
    GC_CLIENT_LOGIN,
    GC_CLIENT_LOGOUT,
    GC_CLIENT_ROOMS,
    GC_CLIENT_JOIN,
    GC_CLIENT_SAY,
    GC_CLIENT_LEAVE,
    GC_CLIENT_HISTORY,
    GC_CLIENT_WHO,          //  v1.1
    GC_CLIENT_TYPING,       //  v1.1: a request, and a push of the same name
    //  Server to client: replies, then pushes
    GC_CLIENT_OK,
    GC_CLIENT_ERROR,
    GC_CLIENT_MESSAGE,
    GC_CLIENT_LEFT,
    GC_CLIENT_CLOSED,
    GC_CLIENT_PRESENCE,     //  v1.1
    GC_CLIENT_OP_COUNT
} gc_client_op_t;

//  Wire name of an op ("join"); "?" for GC_CLIENT_NONE.
const char *gc_client_op_name (gc_client_op_t op);

//  Op of a wire name, or GC_CLIENT_NONE when the protocol has none.
gc_client_op_t gc_client_op_from_name (const char *name, size_t len);

//  True for the ops a client may send.
bool gc_client_op_is_request (gc_client_op_t op);

//  A client request. Parsed, its strings point into `root` and live as
//  long as the request does; built for sending, they are the caller's.
typedef struct {
    gc_client_op_t op;      //  a request op, never a server frame's
    bool has_id;            //  the frame had an id, so the reply echoes it
    int64_t id;             //  the client's, any integer
    const char *user, *password, *token, *room, *text;     //  NULL when absent
    const char *nonce;      //  say: the client's, so a resend stores nothing; NULL when absent
    size_t room_len, text_len, user_len, password_len, token_len, nonce_len;   //  in bytes
    bool has_since, has_before, has_limit;                  //  present
    uint64_t since, before; //  seqs
    int64_t limit;          //  GC_HISTORY_DEFAULT when parsed without one
    json_t *root;           //  owns the parsed strings
} gc_request_t;

//  Parses one client text frame. Returns GC_OK, or GC_BAD_REQUEST with
//  *why set to a human reason; in both cases `id`/`has_id` are set when
//  the frame had an integer id. Release with gc_request_release().
gc_error_t gc_request_parse (const char *data, size_t size, gc_request_t *request,
                             const char **why);
void gc_request_release (gc_request_t *request);

//  The request as a JSON object: op, id when it has one, and each field
//  of its op that is set (strings by length when their _len is not 0).
json_t *gc_request_json (const gc_request_t *request);

//  Writes the request as JSON text into buffer; its size, or 0 when it
//  does not fit.
size_t gc_request_encode (const gc_request_t *request, char *buffer, size_t capacity);

void gc_request_test (bool verbose);

#endif
