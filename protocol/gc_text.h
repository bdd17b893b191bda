/*  gc_text.h: the rules a message text must meet, written once.

    The gateway checks a say before it costs the broker anything; the
    broker checks again because it trusts no peer's input. Both ask
    here, so the two can never disagree on what is too long or blank,
    or on what is text at all. */
#ifndef GC_TEXT_H_INCLUDED
#define GC_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "gc_error.h"

//  True when text is empty or only spaces, tabs, CR and LF.
bool gc_text_is_blank (const char *text, size_t size);

//  True when text is well-formed UTF-8 (RFC 3629: no overlong forms, no
//  surrogates, nothing above U+10FFFF) without U+0000: what a string of
//  the client protocol can hold, since jansson lets no other through.
bool gc_text_is_clean (const char *text, size_t size);

//  GC_OK for a text that may be said; GC_TOO_LONG past GC_TEXT_MAX bytes,
//  GC_BAD_REQUEST when it is not clean (above), GC_EMPTY_TEXT when blank.
gc_error_t gc_text_check (const char *text, size_t size);

void gc_text_test (bool verbose);

#endif
