/*  fuzz/codec.c: the libFuzzer harness of the broker link's msgpack codec.

    An input is one ZeroMQ message body as the broker (a request) or a
    gateway (a reply or an event) receives it, of any op. gc_frame_decode
    must refuse it or decode it without asking for more memory than the
    input can justify; a frame it decodes has a known op, only known
    fields, and strings that point into the input. Encoded again and
    decoded, the frame must be the same (clean text or not, as the broker
    judges it), and its second encoding the same bytes as its first. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include "gc_codec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Every GC_F_ bit gc_codec.h defines
#define S_FIELDS_KNOWN  ((GC_F_LAST << 1) - 1)

static void
s_check_same_str (gc_str_t first, gc_str_t second)
{
    assert (first.len == second.len);
    assert (first.len == 0 || memcmp (first.ptr, second.ptr, first.len) == 0);
}

//  A string of a decoded frame lies within the buffer it came from
static void
s_check_within (gc_str_t str, const uint8_t *data, size_t size)
{
    const uint8_t *ptr = (const uint8_t *) str.ptr;
    assert (str.len <= size);
    assert (str.len == 0 || (ptr >= data && ptr + str.len <= data + size));
}

static void
s_check_strings_within (const gc_frame_t *frame, const uint8_t *data, size_t size)
{
    const gc_str_t strs [] = {
        frame->user, frame->password, frame->token, frame->room, frame->text,
        frame->from, frame->message, frame->hash, frame->path, frame->nonce
    };
    for (size_t index = 0; index < sizeof strs / sizeof strs [0]; index++)
        s_check_within (strs [index], data, size);
    for (size_t index = 0; index < frame->history_size; index++) {
        s_check_within (frame->history [index].room, data, size);
        s_check_within (frame->history [index].from, data, size);
        s_check_within (frame->history [index].text, data, size);
    }
    for (size_t index = 0; index < frame->rooms_size; index++)
        s_check_within (frame->rooms [index], data, size);
    for (size_t index = 0; index < frame->names_size; index++)
        s_check_within (frame->names [index], data, size);
}

static void
s_check_same_message (const gc_message_t *first, const gc_message_t *second)
{
    s_check_same_str (first->room, second->room);
    s_check_same_str (first->from, second->from);
    s_check_same_str (first->text, second->text);
    assert (first->seq == second->seq && first->ts == second->ts);
}

//  Two frames carry the same: op, fields, and each field present
static void
s_check_same (const gc_frame_t *first, const gc_frame_t *second)
{
    assert (first->op == second->op && first->fields == second->fields);
    assert (first->rid == second->rid && first->deadline == second->deadline);
    s_check_same_str (first->user, second->user);
    s_check_same_str (first->password, second->password);
    s_check_same_str (first->token, second->token);
    s_check_same_str (first->room, second->room);
    s_check_same_str (first->text, second->text);
    s_check_same_str (first->from, second->from);
    s_check_same_str (first->message, second->message);
    s_check_same_str (first->hash, second->hash);
    s_check_same_str (first->path, second->path);
    s_check_same_str (first->nonce, second->nonce);
    assert (first->code == second->code && first->seq == second->seq);
    assert (first->ts == second->ts && first->since == second->since);
    assert (first->before == second->before && first->limit == second->limit);
    assert (first->head == second->head && first->complete == second->complete);
    assert (first->history_size == second->history_size);
    for (size_t index = 0; index < first->history_size; index++)
        s_check_same_message (&first->history [index], &second->history [index]);
    assert (first->rooms_size == second->rooms_size);
    for (size_t index = 0; index < first->rooms_size; index++)
        s_check_same_str (first->rooms [index], second->rooms [index]);
    assert (first->names_size == second->names_size);
    for (size_t index = 0; index < first->names_size; index++)
        s_check_same_str (first->names [index], second->names [index]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    gc_frame_t frame;
    if (gc_frame_decode (&frame, data, size))
        return 0;
    assert (frame.op > GC_OP_NONE && frame.op < GC_OP_COUNT);
    assert ((frame.fields & ~S_FIELDS_KNOWN) == 0);
    s_check_strings_within (&frame, data, size);

    msgpack_sbuffer first, second;
    msgpack_sbuffer_init (&first);
    msgpack_sbuffer_init (&second);
    gc_frame_encode (&frame, &first);
    gc_frame_t again;
    int rc = gc_frame_decode (&again, first.data, first.size);
    assert (rc == 0);
    s_check_same (&frame, &again);
    assert (gc_frame_is_clean (&frame) == gc_frame_is_clean (&again));
    gc_frame_encode (&again, &second);
    assert (second.size == first.size && memcmp (second.data, first.data, first.size) == 0);
    gc_frame_release (&again);
    gc_frame_release (&frame);
    msgpack_sbuffer_destroy (&first);
    msgpack_sbuffer_destroy (&second);
    return 0;
}
