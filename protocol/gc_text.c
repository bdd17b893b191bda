/*  gc_text.c: what makes a message text acceptable. */
#include <assert.h>
#include <stdint.h>
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

//  The code point of the UTF-8 sequence at *at, moving *at past it, or
//  -1 when the bytes before end are not a well-formed sequence
static int32_t
s_code_point (const unsigned char **at, const unsigned char *end)
{
    unsigned char lead = *(*at)++;
    if (lead < 0x80)
        return lead;
    //  The continuation bytes a lead byte announces, and the smallest code
    //  point that needs them (anything less is an overlong form)
    int more = lead >= 0xc2 && lead <= 0xdf? 1: lead >= 0xe0 && lead <= 0xef? 2:
               lead >= 0xf0 && lead <= 0xf4? 3: 0;
    static const int32_t least [4] = { 0, 0x80, 0x800, 0x10000 };
    if (more == 0 || end - *at < more)
        return -1;
    int32_t code = lead & (0x3f >> more);
    for (int index = 0; index < more; index++, (*at)++) {
        if ((**at & 0xc0) != 0x80)
            return -1;
        code = code << 6 | (**at & 0x3f);
    }
    if (code < least [more] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return -1;
    return code;
}

bool
gc_text_is_clean (const char *text, size_t size)
{
    const unsigned char *at = (const unsigned char *) text, *end = at + size;
    while (at < end)
        if (s_code_point (&at, end) <= 0)
            return false;
    return true;
}

gc_error_t
gc_text_check (const char *text, size_t size)
{
    if (size > GC_TEXT_MAX)
        return GC_TOO_LONG;
    if (!gc_text_is_clean (text, size))
        return GC_BAD_REQUEST;
    return gc_text_is_blank (text, size)? GC_EMPTY_TEXT: GC_OK;
}

//  Well-formed UTF-8 and each way of not being it
static void
s_test_clean (void)
{
    static const char *clean [] = {
        "", "plain", "caf\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\x7f",
        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\x1b[31m"
    };
    static const char *unclean [] = {
        "\xff", "\xc3", "caf\xc3", "\xc3\x28", "\x80", "\xc0\xaf",     //  bad, cut, lone, overlong
        "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xed\xa0\x80",          //  overlong, surrogate
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe4\xb8"             //  past U+10FFFF, cut
    };
    for (size_t index = 0; index < sizeof clean / sizeof clean [0]; index++)
        assert (gc_text_is_clean (clean [index], strlen (clean [index])));
    for (size_t index = 0; index < sizeof unclean / sizeof unclean [0]; index++)
        assert (!gc_text_is_clean (unclean [index], strlen (unclean [index])));
    assert (!gc_text_is_clean ("a\0b", 3));
    assert (gc_text_check ("caf\xc3", 4) == GC_BAD_REQUEST);
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
    s_test_clean ();
    if (verbose)
        printf ("OK\n");
}
