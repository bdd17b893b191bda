/*  gc_escape.c: text from the network made harmless to show.

    One character at a time: a UTF-8 decoder strict in the way RFC 3629
    is (no overlong forms, no surrogates, nothing past U+10FFFF) says
    where a character ends, or that the byte there starts none; then the
    character is shown as it is or escaped in the notation asked for. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include "gc_escape.h"
#include "gc_alloc.h"

//  Returns the length (1..4) of the valid UTF-8 character at text, its
//  code point in *point; 0 when the bytes there start no valid one
static size_t
s_decode (const unsigned char *text, size_t size, uint32_t *point)
{
    unsigned char lead = text [0], low = 0x80, high = 0xbf;
    size_t length;
    uint32_t value;
    if (lead < 0x80) {
        *point = lead;
        return 1;
    }
    if (lead >= 0xc2 && lead <= 0xdf)
        length = 2, value = lead & 0x1f;
    else
    if (lead >= 0xe0 && lead <= 0xef) {
        length = 3, value = lead & 0x0f;
        low = lead == 0xe0? 0xa0: low;      //  overlong below U+0800
        high = lead == 0xed? 0x9f: high;    //  surrogates U+D800..U+DFFF
    }
    else
    if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4, value = lead & 0x07;
        low = lead == 0xf0? 0x90: low;      //  overlong below U+10000
        high = lead == 0xf4? 0x8f: high;    //  past U+10FFFF
    }
    else
        return 0;                           //  a continuation, C0, C1, F5..FF
    if (size < length)
        return 0;
    for (size_t index = 1; index < length; index++) {
        if (text [index] < low || text [index] > high)
            return 0;
        low = 0x80, high = 0xbf;            //  only the second byte is narrowed
        value = value << 6 | (text [index] & 0x3f);
    }
    *point = value;
    return length;
}

//  True when the character must not reach a terminal or a log as it is
static bool
s_harmful (uint32_t point, int flags)
{
    if (point < 0x20 && (flags & GC_ESCAPE_JSON))
        return false;                       //  jansson's layout, see the header
    if ((point == '\n' || point == '\t') && (flags & GC_ESCAPE_LINES))
        return false;
    return point < 0x20 || point == 0x7f
        || (point >= 0x80 && point <= 0x9f)
        || (point >= 0x202a && point <= 0x202e)
        || (point >= 0x2066 && point <= 0x2069);
}

//  Writes the escaped form of the length bytes at text into shown; point
//  is their code point, or 0xFFFD when they are not UTF-8
static void
s_show_escaped (const unsigned char *text, size_t length, uint32_t point, int flags,
                char *shown)
{
    if (flags & GC_ESCAPE_JSON)
        snprintf (shown, GC_ESCAPE_CHAR_MAX, "\\u%04X", (unsigned) point);
    else
    if ((flags & GC_ESCAPE_CARET) && (point < 0x20 || point == 0x7f))
        snprintf (shown, GC_ESCAPE_CHAR_MAX, "^%c", (char) (point ^ 0x40));
    else
        for (size_t index = 0; index < length; index++)
            snprintf (shown + 4 * index, GC_ESCAPE_CHAR_MAX - 4 * index, "\\x%02x", text [index]);
}

size_t
gc_escape_char (const char *text, size_t size, int flags, char *shown)
{
    assert (size > 0);
    const unsigned char *bytes = (const unsigned char *) text;
    uint32_t point = 0xfffd;
    size_t length = s_decode (bytes, size, &point);
    if (length == 0) {          //  not UTF-8: that one byte is escaped
        length = 1;
        s_show_escaped (bytes, length, 0xfffd, flags, shown);
    }
    else
    if (s_harmful (point, flags))
        s_show_escaped (bytes, length, point, flags, shown);
    else
    if (point == '\\' && (flags & GC_ESCAPE_BACKSLASH))
        strcpy (shown, "\\\\");
    else {
        memcpy (shown, text, length);
        shown [length] = 0;
    }
    return length;
}

void
gc_escape_write (FILE *stream, const char *text, size_t size, int flags)
{
    char shown [GC_ESCAPE_CHAR_MAX];
    size_t done = 0;
    while (done < size) {
        done += gc_escape_char (text + done, size - done, flags, shown);
        fputs (shown, stream);
    }
}

char *
gc_escape (const char *text, int flags)
{
    char *escaped = NULL;
    size_t size = 0;
    FILE *stream = gc_alloc_checked (open_memstream (&escaped, &size));
    if (text)
        gc_escape_write (stream, text, strlen (text), flags);
    fclose (stream);
    return gc_alloc_checked (escaped);
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    const char *text;
    int flags;
    const char *shown;
} s_case_t;

static const s_case_t s_cases [] = {
    //  Harmless text passes, whatever the notation
    { "Sue: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", GC_ESCAPE_CARET,
      "Sue: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
    { "", GC_ESCAPE_HEX, "" },
    //  C0 and DEL: caret on the screen, \xHH elsewhere
    { "\x1b[31mred\x1b[0m", GC_ESCAPE_CARET, "^[[31mred^[[0m" },
    { "\x1b]0;TITLE\x07", GC_ESCAPE_CARET, "^[]0;TITLE^G" },
    { "a\rb\x7f\x01", GC_ESCAPE_CARET, "a^Mb^?^A" },
    { "\x1b[31m\x7f", GC_ESCAPE_HEX, "\\x1b[31m\\x7f" },
    //  LF and TAB: kept only in message texts
    { "two\nlines\tand\r", GC_ESCAPE_CARET | GC_ESCAPE_LINES, "two\nlines\tand^M" },
    { "two\nlines\t", GC_ESCAPE_CARET, "two^Jlines^I" },
    { "two\nlines", GC_ESCAPE_HEX, "two\\x0alines" },
    //  C1 controls, in UTF-8 and as raw bytes
    { "\xc2\x9b" "31m \xc2\x80 \xc2\x9f \xc2\xa0", GC_ESCAPE_CARET,
      "\\xc2\\x9b31m \\xc2\\x80 \\xc2\\x9f \xc2\xa0" },
    { "\x9b" "31m", GC_ESCAPE_CARET, "\\x9b31m" },
    //  Bidi embeddings, overrides and isolates; other marks pass
    { "\xe2\x80\xae" "txt \xe2\x80\xaa \xe2\x81\xa6 \xe2\x81\xa9 \xe2\x80\x8f",
      GC_ESCAPE_CARET, "\\xe2\\x80\\xaetxt \\xe2\\x80\\xaa \\xe2\\x81\\xa6 \\xe2\\x81\\xa9 "
      "\xe2\x80\x8f" },
    { "\xe2\x80\xa9 \xe2\x81\xaa", GC_ESCAPE_HEX, "\xe2\x80\xa9 \xe2\x81\xaa" },
    //  Invalid UTF-8: stray, overlong, surrogate, past U+10FFFF, cut short
    { "\x80 \xff \xc0\xaf \xe0\x80\xaf \xed\xa0\x80", GC_ESCAPE_CARET,
      "\\x80 \\xff \\xc0\\xaf \\xe0\\x80\\xaf \\xed\\xa0\\x80" },
    { "\xf4\x90\x80\x80 \xf0\x8f\xbf\xbf \xe2\x82", GC_ESCAPE_HEX,
      "\\xf4\\x90\\x80\\x80 \\xf0\\x8f\\xbf\\xbf \\xe2\\x82" },
    { "\xc3" "A", GC_ESCAPE_HEX, "\\xc3" "A" },
    //  Backslashes doubled only when asked, so that output reads back
    { "C:\\x1b\x1b", GC_ESCAPE_HEX | GC_ESCAPE_BACKSLASH, "C:\\\\x1b\\x1b" },
    { "C:\\x1b", GC_ESCAPE_CARET, "C:\\x1b" },
    //  JSON text from jansson: \u escapes, its own escapes and layout kept
    { "{\"t\":\"\\u001B\xc2\x9b\x7f\xe2\x80\xae\\\\\"}\n", GC_ESCAPE_JSON,
      "{\"t\":\"\\u001B\\u009B\\u007F\\u202E\\\\\"}\n" },
    { "\xff", GC_ESCAPE_JSON, "\\uFFFD" },
};

static void
s_test_cases (bool verbose)
{
    for (size_t index = 0; index < sizeof s_cases / sizeof s_cases [0]; index++) {
        const s_case_t *test = &s_cases [index];
        char *shown = gc_escape (test->text, test->flags);
        if (strcmp (shown, test->shown) && verbose)
            printf ("\ncase %zu: got \"%s\"\n", index, shown);
        assert (strcmp (shown, test->shown) == 0);
        //  Escaping what was escaped changes nothing
        char *again = gc_escape (shown, test->flags & ~GC_ESCAPE_BACKSLASH);
        assert (strcmp (again, shown) == 0);
        free (again);
        free (shown);
    }
}

//  Every byte pair: what is shown is valid UTF-8 with nothing harmful in
//  it, since escaping it again leaves it as it is
static void
s_test_every_pair (void)
{
    for (unsigned first = 0; first < 256; first++)
        for (unsigned second = 0; second < 256; second++) {
            char text [2] = { (char) first, (char) second }, shown [GC_ESCAPE_CHAR_MAX];
            size_t taken = gc_escape_char (text, 2, GC_ESCAPE_CARET, shown);
            assert (taken == 1 || taken == 2);
            char *again = gc_escape (shown, GC_ESCAPE_CARET);
            assert (strcmp (again, shown) == 0);
            free (again);
        }
}

void
gc_escape_test (bool verbose)
{
    if (verbose)
        printf (" * gc_escape: ");
    s_test_cases (verbose);
    s_test_every_pair ();
    char *none = gc_escape (NULL, GC_ESCAPE_HEX);
    assert (*none == 0);
    free (none);
    if (verbose)
        printf ("OK\n");
}
