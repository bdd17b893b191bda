/*  gc_error.c: one table from error code to wire name and human texts. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "gc_error.h"
#include "gc_limits.h"

//  name: on the wire; text: the server's default message; person: what
//  the client shows a person instead of the server's message, when the
//  code says all there is to say (NULL: the server's message says more)
static const struct {
    const char *name;
    const char *text;
    const char *person;
} s_errors [GC_ERROR_COUNT] = {
    [GC_OK]              = { "ok", "done", NULL },
    [GC_BAD_REQUEST]     = { "bad_request", "the request is malformed", NULL },
    [GC_NOT_LOGGED_IN]   = { "not_logged_in", "log in first", NULL },
    [GC_BAD_CREDENTIALS] = { "bad_credentials", "wrong user name, password or token",
                             "wrong user name or password" },
    [GC_NO_SUCH_ROOM]    = { "no_such_room", "there is no such room",
                             "there is no such room" },
    [GC_NOT_MEMBER]      = { "not_member", "you are not a member of that room's group",
                             "you are not a member of that group" },
    [GC_NOT_IN_ROOM]     = { "not_in_room", "join that room first",
                             "join the room first" },
    [GC_TOO_LONG]        = { "too_long", "the text is longer than " GC_STR (GC_TEXT_MAX) " bytes",
                             "that message is too long (" GC_STR (GC_TEXT_MAX) " bytes at most)" },
    [GC_EMPTY_TEXT]      = { "empty_text", "the text is empty", "nothing to send" },
    //  Its message says more: a gateway's "slow down", or how long a
    //  throttled login must wait
    [GC_RATE_LIMITED]    = { "rate_limited", "too many requests, slow down", NULL },
    [GC_UNAVAILABLE]     = { "unavailable", "the service is unavailable right now, try again",
                             "the service is unavailable right now; try again shortly" },
    [GC_EXPIRED]         = { "expired", "the request expired before it was carried out", NULL },
    [GC_NO_SUCH_USER]    = { "no_such_user", "there is no such user", NULL },
    [GC_INTERNAL]        = { "internal", "internal error, nothing was stored", NULL },
    [GC_FORBIDDEN]       = { "forbidden", "this key may not do that", NULL },
    //  The gateway's message names the limit, which is its own setting
    [GC_TOO_MANY_CONNECTIONS] = { "too_many_connections",
                             "you hold all the connections to this gateway you may; close one first",
                             NULL },
    [GC_TOO_MANY_ROOMS]  = { "too_many_rooms",
                             "this connection is in all the rooms it may be in; leave one first",
                             NULL },
    [GC_CONFLICT]        = { "conflict", "that nonce was already used for another text", NULL },
};

const char *
gc_error_name (gc_error_t code)
{
    return code < GC_ERROR_COUNT? s_errors [code].name: "internal";
}

gc_error_t
gc_error_from_name (const char *name, size_t len)
{
    for (int code = 0; code < GC_ERROR_COUNT; code++)
        if (strlen (s_errors [code].name) == len
        &&  memcmp (s_errors [code].name, name, len) == 0)
            return (gc_error_t) code;
    return GC_INTERNAL;
}

const char *
gc_error_text (gc_error_t code)
{
    return code < GC_ERROR_COUNT? s_errors [code].text: "internal error";
}

const char *
gc_error_person_text (gc_error_t code)
{
    return code < GC_ERROR_COUNT? s_errors [code].person: NULL;
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_error_test (bool verbose)
{
    if (verbose)
        printf (" * gc_error: ");
    for (int code = 0; code < GC_ERROR_COUNT; code++) {
        const char *name = gc_error_name ((gc_error_t) code);
        assert ((int) gc_error_from_name (name, strlen (name)) == code);
        assert (*gc_error_text ((gc_error_t) code));
    }
    assert (gc_error_from_name ("not_membe", 9) == GC_INTERNAL);
    assert (strcmp (gc_error_name (GC_ERROR_COUNT), "internal") == 0);
    assert (strcmp (gc_error_person_text (GC_NOT_MEMBER),
                    "you are not a member of that group") == 0);
    assert (gc_error_person_text (GC_INTERNAL) == NULL);
    assert (gc_error_from_name ("too_many_rooms", 14) == GC_TOO_MANY_ROOMS);
    assert (gc_error_from_name ("conflict", 8) == GC_CONFLICT);
    assert (gc_error_person_text (GC_ERROR_COUNT) == NULL);
    if (verbose)
        printf ("OK\n");
}
