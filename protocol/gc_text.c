/*  gc_text.c: what makes a message text acceptable. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "gc_text.h"
#include "gc_limits.h"

bool
gc_text_is_blank (const char *text, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (!strchr (" \t\r\n", text [index]) || text [index] == 0)
            return false;
    return true;
}

gc_error_t
gc_text_check (const char *text, size_t size)
{
    if (size > GC_TEXT_MAX)
        return GC_TOO_LONG;
    if (memchr (text, 0, size))
        return GC_BAD_REQUEST;
    return gc_text_is_blank (text, size)? GC_EMPTY_TEXT: GC_OK;
}

void
gc_text_test (bool verbose)
{
    if (verbose)
        printf (" * gc_text: ");
    assert (gc_text_is_blank (" \t\r\n", 4) && gc_text_is_blank ("", 0));
    assert (!gc_text_is_blank (" x", 2) && !gc_text_is_blank ("\v", 1));
    assert (!gc_text_is_blank ("\0", 1));
    static char longest [GC_TEXT_MAX + 1];
    memset (longest, 'a', sizeof longest);
    assert (gc_text_check (longest, GC_TEXT_MAX) == GC_OK);
    assert (gc_text_check (longest, GC_TEXT_MAX + 1) == GC_TOO_LONG);
    assert (gc_text_check (" \n", 2) == GC_EMPTY_TEXT);
    assert (gc_text_check ("", 0) == GC_EMPTY_TEXT);
    assert (gc_text_check ("a\0b", 3) == GC_BAD_REQUEST);
    assert (gc_text_check ("Hi", 2) == GC_OK);
    if (verbose)
        printf ("OK\n");
}
