/*  gc_error.h: the stable error codes of the client protocol.

    Broker and gateway speak of errors by these codes only; the table in
    gc_error.c maps each to its wire name, the server's default message and the
    sentence a client shows a person. */
#ifndef GC_ERROR_H_INCLUDED
#define GC_ERROR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GC_OK = 0,
    GC_BAD_REQUEST,
    GC_NOT_LOGGED_IN,
    GC_BAD_CREDENTIALS,
    GC_NO_SUCH_ROOM,
    GC_NOT_MEMBER,
    GC_NOT_IN_ROOM,
    GC_TOO_LONG,
    GC_EMPTY_TEXT,
    GC_RATE_LIMITED,
    GC_UNAVAILABLE,
    GC_EXPIRED,             //  broker only: request past its deadline, not done
    GC_NO_SUCH_USER,        //  administration only
    GC_INTERNAL,            //  storage failed; nothing was stored
    GC_FORBIDDEN,           //  broker only: the link's key may not do that
    //  Gateway only; appended, so that no earlier code changes number
    GC_TOO_MANY_CONNECTIONS,    //  the user's logins on this gateway are all taken
    GC_TOO_MANY_ROOMS,          //  the connection is in all the rooms it may be
    //  v1.1: a say's nonce already used, by that user in that room, for another text
    GC_CONFLICT,
    GC_ERROR_COUNT
} gc_error_t;

//  Wire name of a code ("not_member"); never NULL.
const char *gc_error_name (gc_error_t code);

//  Code of a wire name, or GC_INTERNAL when the name is unknown.
gc_error_t gc_error_from_name (const char *name, size_t len);

//  A short human sentence for a code, used when nothing better is known.
const char *gc_error_text (gc_error_t code);

//  What a client shows a person for a code, in the person's words, or
//  NULL when the server's message for it says more than the code does.
const char *gc_error_person_text (gc_error_t code);

void gc_error_test (bool verbose);

#endif
