/*  out.c: WebSocket frames around protocol/gc_reply's JSON text. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "out.h"
#include "gc_alloc.h"

//  Writes the header of an unmasked, final text frame (RFC 6455, 5.2)
//  in the headroom before the text. lws frames each lws_write by itself;
//  a header made here lets one frame go to every member, and several to
//  one member in a single write, as raw bytes.
static void
s_out_seal (gc_out_t *out)
{
    unsigned char header [10] = { 0x81 };
    size_t head = 2;
    if (out->size < 126)
        header [1] = (unsigned char) out->size;
    else
    if (out->size <= 0xffff) {
        header [1] = 126;
        head = 4;
    }
    else {
        header [1] = 127;
        head = 10;
    }
    for (size_t index = 2; index < head; index++)
        header [index] = (unsigned char) (out->size >> (8 * (head - 1 - index)));
    out->head = head;
    memcpy (out->data + LWS_PRE - head, header, head);
}

//  Takes an encoded text's buffer into out and seals it. Its size is read
//  through a pointer, so that a maker's call and its size fit one call:
//  s_out_take (out, gc_reply_...(..., &size), &size)
static void
s_out_take (gc_out_t *out, unsigned char *data, const size_t *size)
{
    *out = (gc_out_t) { data, *size, 0 };
    s_out_seal (out);
}

void
gc_out_error (gc_out_t *out, const gc_request_t *request, gc_error_t code,
              const char *message, uint64_t retry_after)
{
    size_t size;
    s_out_take (out, gc_reply_error (request, code, message, retry_after, LWS_PRE, &size), &size);
}

void
gc_out_ok (gc_out_t *out, const gc_request_t *request, json_t *fields)
{
    size_t size;
    s_out_take (out, gc_reply_ok (request, fields, LWS_PRE, &size), &size);
}

void
gc_out_message (gc_out_t *out, const gc_message_t *message)
{
    size_t size;
    s_out_take (out, gc_reply_message (message, LWS_PRE, &size), &size);
}

void
gc_out_left (gc_out_t *out, const char *room, const char *reason)
{
    size_t size;
    s_out_take (out, gc_reply_left (room, reason, LWS_PRE, &size), &size);
}

void
gc_out_closed (gc_out_t *out, const char *reason)
{
    size_t size;
    s_out_take (out, gc_reply_closed (reason, LWS_PRE, &size), &size);
}

void
gc_out_presence (gc_out_t *out, const char *room, const char *user, const char *event)
{
    size_t size;
    s_out_take (out, gc_reply_presence (room, user, event, LWS_PRE, &size), &size);
}

void
gc_out_typing (gc_out_t *out, const char *room, const char *user)
{
    size_t size;
    s_out_take (out, gc_reply_typing (room, user, LWS_PRE, &size), &size);
}

void
gc_out_copy (gc_out_t *out, const gc_out_t *from)
{
    unsigned char *data = gc_malloc (LWS_PRE + from->size);
    memcpy (data, from->data, LWS_PRE + from->size);
    *out = (gc_out_t) { data, from->size, from->head };
}

void
gc_out_free (gc_out_t *out)
{
    free (out->data);
    out->data = NULL;
    out->size = 0;
    out->head = 0;
}

//  --------------------------------------------------------------------------
//  Self test

//  Header lengths switch at 126 and 65536 bytes (RFC 6455, 5.2)
static void
s_test_frame_header (void)
{
    static const struct { size_t size; size_t head; unsigned char header [10]; } cases [] = {
        { 1,      2,  { 0x81, 1 } },
        { 125,    2,  { 0x81, 125 } },
        { 126,    4,  { 0x81, 126, 0, 126 } },
        { 65535,  4,  { 0x81, 126, 0xff, 0xff } },
        { 65536,  10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        gc_out_t out = { gc_malloc (LWS_PRE + cases [index].size), cases [index].size, 0 };
        s_out_seal (&out);
        assert (out.head == cases [index].head);
        assert (gc_out_wire (&out) + out.head == out.data + LWS_PRE);
        assert (gc_out_wire_size (&out) == out.head + out.size);
        assert (memcmp (gc_out_wire (&out), cases [index].header, out.head) == 0);
        gc_out_free (&out);
    }
}

//  The text follows its header; a text jansson refuses leaves no frame
static void
s_test_encode (void)
{
    gc_message_t message = {
        { "Taskmaster", 10 }, 42, { "Sue", 3 }, { "hi", 2 }, 1795962000123
    };
    gc_out_t out;
    gc_out_message (&out, &message);
    const char *expected = "{\"op\":\"message\",\"room\":\"Taskmaster\",\"seq\":42,"
                           "\"from\":\"Sue\",\"text\":\"hi\",\"ts\":1795962000123}";
    assert (out.size == strlen (expected) && out.head == 2);
    assert (gc_out_wire (&out) [0] == 0x81 && gc_out_wire (&out) [1] == out.size);
    assert (memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);

    gc_out_left (&out, "Taskmaster", "removed from the group");
    expected = "{\"op\":\"left\",\"room\":\"Taskmaster\",\"reason\":\"removed from the group\"}";
    assert (out.size == strlen (expected) && memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);

    gc_out_error (&out, NULL, GC_RATE_LIMITED, NULL, 0);
    expected = "{\"op\":\"error\",\"code\":\"rate_limited\",\"message\":\"too many requests, slow down\"}";
    assert (out.size == strlen (expected) && memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);

    gc_out_ok (&out, NULL, NULL);
    assert (out.size == 11 && memcmp (out.data + LWS_PRE, "{\"op\":\"ok\"}", 11) == 0);
    gc_out_free (&out);

    gc_out_presence (&out, "Taskmaster", "Sue", "join");
    gc_out_t copy;
    gc_out_copy (&copy, &out);
    gc_out_free (&out);
    expected = "{\"op\":\"presence\",\"room\":\"Taskmaster\",\"user\":\"Sue\",\"event\":\"join\"}";
    assert (copy.size == strlen (expected) && memcmp (copy.data + LWS_PRE, expected, copy.size) == 0);
    assert (gc_out_wire (&copy) [0] == 0x81 && gc_out_wire_size (&copy) == copy.size + 2);
    gc_out_free (&copy);
    gc_out_typing (&out, "Taskmaster", "Sue");
    expected = "{\"op\":\"typing\",\"room\":\"Taskmaster\",\"user\":\"Sue\"}";
    assert (out.size == strlen (expected) && memcmp (out.data + LWS_PRE, expected, out.size) == 0);
    gc_out_free (&out);
}

void
gc_out_test (bool verbose)
{
    if (verbose)
        printf (" * gc_out: ");
    s_test_frame_header ();
    s_test_encode ();
    if (verbose)
        printf ("OK\n");
}
