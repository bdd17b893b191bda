/*  fuzz/request.c: the libFuzzer harness of the client request parser.

    An input is one WebSocket text frame as a gateway reads it, up to
    GC_FRAME_MAX bytes (a longer one closes the connection unparsed).
    Whatever it holds, gc_request_parse must answer GC_OK, or
    GC_BAD_REQUEST with a reason, and what it accepts must be a request a
    gateway can act on: an op a client may send, the fields that op needs,
    strings the broker takes (UTF-8 without U+0000), a history limit in
    range, a say text that gc_text judges, a nonce of 1 to GC_NONCE_MAX
    bytes. Written back with gc_request_encode and parsed again,
    an accepted request must come back field for field, and writing that
    once more must give the same bytes. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include "gc_request.h"
#include "gc_text.h"
#include "gc_limits.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Room for any request written back: a byte of a string can take six
//  as an escape (\u001f)
#define S_WRITTEN_MAX   (8 * GC_FRAME_MAX)

//  A string field parsed: absent, or as long as it says, and text as the
//  broker judges it (jansson and gc_text agree on what UTF-8 is)
static void
s_check_string (const char *value, size_t len)
{
    assert (!value || (strlen (value) == len && gc_text_is_clean (value, len)));
}

//  The same string, or the second one absent (an op writes back only
//  the fields it reads)
static void
s_check_same_string (const char *first, size_t first_len, const char *second, size_t second_len)
{
    if (!second)
        return;
    assert (first && first_len == second_len && memcmp (first, second, first_len) == 0);
}

static void
s_check_accepted (const gc_request_t *request)
{
    assert (gc_client_op_is_request (request->op));
    s_check_string (request->user, request->user_len);
    s_check_string (request->password, request->password_len);
    s_check_string (request->token, request->token_len);
    s_check_string (request->room, request->room_len);
    s_check_string (request->text, request->text_len);
    s_check_string (request->nonce, request->nonce_len);
    assert (!request->nonce || (request->nonce_len >= 1 && request->nonce_len <= GC_NONCE_MAX));
    switch (request->op) {
        case GC_CLIENT_LOGIN:
            assert (request->token || (request->user && request->password));
            break;
        case GC_CLIENT_SAY: {
            assert (request->room && request->text);
            gc_error_t code = gc_text_check (request->text, request->text_len);
            assert (code == GC_OK || code == GC_TOO_LONG || code == GC_EMPTY_TEXT);
            assert (code != GC_TOO_LONG || request->text_len > GC_TEXT_MAX);
            break;
        }
        case GC_CLIENT_JOIN:
        case GC_CLIENT_LEAVE:
            assert (request->room);
            break;
        case GC_CLIENT_HISTORY:
            assert (request->room);
            assert (request->limit >= 1 && request->limit <= GC_HISTORY_MAX);
            break;
        default:
            break;
    }
}

//  What was written back and read again is the request that was accepted
static void
s_check_same (const gc_request_t *first, const gc_request_t *second)
{
    assert (second->op == first->op && second->has_id == first->has_id);
    assert (!first->has_id || second->id == first->id);
    s_check_same_string (first->user, first->user_len, second->user, second->user_len);
    s_check_same_string (first->password, first->password_len,
                         second->password, second->password_len);
    s_check_same_string (first->token, first->token_len, second->token, second->token_len);
    s_check_same_string (first->room, first->room_len, second->room, second->room_len);
    s_check_same_string (first->text, first->text_len, second->text, second->text_len);
    s_check_same_string (first->nonce, first->nonce_len, second->nonce, second->nonce_len);
    assert (!second->has_since || (first->has_since && second->since == first->since));
    assert (!second->has_before || (first->has_before && second->before == first->before));
    assert (!second->has_limit || (first->has_limit && second->limit == first->limit));
}

//  Writes the accepted request back, reads it, writes it once more
static void
s_round_trip (const gc_request_t *request)
{
    static char written [S_WRITTEN_MAX], again [S_WRITTEN_MAX];
    size_t size = gc_request_encode (request, written, sizeof written);
    assert (size > 0);
    gc_request_t read;
    const char *why;
    gc_error_t code = gc_request_parse (written, size, &read, &why);
    assert (code == GC_OK && why == NULL);
    s_check_same (request, &read);
    size_t again_size = gc_request_encode (&read, again, sizeof again);
    assert (again_size == size && memcmp (again, written, size) == 0);
    gc_request_release (&read);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > GC_FRAME_MAX)
        return -1;              //  never parsed: not worth keeping
    gc_request_t request;
    const char *why = NULL;
    gc_error_t code = gc_request_parse ((const char *) data, size, &request, &why);
    if (code == GC_OK) {
        assert (why == NULL);
        s_check_accepted (&request);
        s_round_trip (&request);
    }
    else {
        assert (code == GC_BAD_REQUEST && why && *why);
        assert (request.op == GC_CLIENT_NONE || gc_client_op_is_request (request.op));
    }
    gc_request_release (&request);
    return 0;
}
