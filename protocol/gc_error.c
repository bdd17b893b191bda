/*  gc_error.c: one table from error code to wire name and human text. */
#include <string.h>
#include "gc_error.h"

static const struct {
    const char *name;
    const char *text;
} s_errors [GC_ERROR_COUNT] = {
    [GC_OK]              = { "ok",              "done" },
    [GC_BAD_REQUEST]     = { "bad_request",     "the request is malformed" },
    [GC_NOT_LOGGED_IN]   = { "not_logged_in",   "log in first" },
    [GC_BAD_CREDENTIALS] = { "bad_credentials", "wrong user name, password or token" },
    [GC_NO_SUCH_ROOM]    = { "no_such_room",    "there is no such room" },
    [GC_NOT_MEMBER]      = { "not_member",      "you are not a member of that room's group" },
    [GC_NOT_IN_ROOM]     = { "not_in_room",     "join that room first" },
    [GC_TOO_LONG]        = { "too_long",        "the text is longer than 4096 bytes" },
    [GC_EMPTY_TEXT]      = { "empty_text",      "the text is empty" },
    [GC_RATE_LIMITED]    = { "rate_limited",    "too many requests, slow down" },
    [GC_UNAVAILABLE]     = { "unavailable",     "the service is unavailable right now, try again" },
    [GC_EXPIRED]         = { "expired",         "the request expired before it was carried out" },
    [GC_NO_SUCH_USER]    = { "no_such_user",    "there is no such user" },
    [GC_INTERNAL]        = { "internal",        "internal error, nothing was stored" },
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
