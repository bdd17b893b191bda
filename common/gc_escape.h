/*  gc_escape.h: text from the network made harmless to show, written once.

    Names, room names, message texts and the server's messages are data.
    Shown on a terminal or written to a log, none of their bytes may act
    as a terminal control, end a line or reorder what follows. Every
    printer of such text (the client's screen and its --follow and --json
    output, groupchat-admin's listings, every log line) goes through this
    module, which escapes, and shows visibly:

      - C0 controls (U+0000..U+001F) and DEL, except LF and TAB where a
        message's text keeps them (GC_ESCAPE_LINES): ESC starts escape
        sequences, CR overwrites the line it is on;
      - C1 controls (U+0080..U+009F, C2 80..C2 9F in UTF-8): a terminal
        may take U+009B as CSI, ESC [;
      - the bidi embeddings, overrides and isolates (U+202A..U+202E,
        U+2066..U+2069), which reorder the characters shown after them,
        so that a text can read as something else ("Trojan Source");
      - every byte that is not part of valid UTF-8 (overlong forms,
        surrogates and truncated sequences included): a raw 0x9B is CSI
        on a terminal that reads 8-bit controls.

    Everything else passes unchanged, UTF-8 letters and marks included.
    Escaped forms are made of printable ASCII only, so escaping twice
    changes nothing. */
#ifndef GC_ESCAPE_H_INCLUDED
#define GC_ESCAPE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    //  Each byte of an escaped character as \xHH: ESC is \x1b, U+009B
    //  \xc2\x9b (log lines, groupchat-admin)
    GC_ESCAPE_HEX = 0,
    //  C0 and DEL in caret notation (ESC ^[, CR ^M, DEL ^?), the rest as
    //  \xHH, as a terminal user knows them (the client's screen)
    GC_ESCAPE_CARET = 1 << 0,
    //  For JSON text that jansson wrote: \u escapes (\u009B, \u202E), and
    //  C0 passes, since jansson escapes C0 inside strings itself and any
    //  other C0 byte is its layout; the JSON stays valid and means the same
    GC_ESCAPE_JSON = 1 << 1,
    //  LF and TAB are kept (a message's text; never in names)
    GC_ESCAPE_LINES = 1 << 2,
    //  A backslash is written \\, so that the output reads back
    //  unambiguously (not with GC_ESCAPE_JSON)
    GC_ESCAPE_BACKSLASH = 1 << 3
} gc_escape_flags_t;

//  The longest shown form of one character, with its NUL: \xe2\x80\xae
#define GC_ESCAPE_CHAR_MAX  13

//  Reads the character that starts text (size > 0 bytes left) and writes
//  in shown (GC_ESCAPE_CHAR_MAX bytes) what to show for it, NUL-ended:
//  the character itself when it is harmless, else its escaped form.
//  Returns the bytes of text it took, 1 to 4.
size_t gc_escape_char (const char *text, size_t size, int flags, char *shown);

//  Writes text [0..size) to stream, escaped.
void gc_escape_write (FILE *stream, const char *text, size_t size, int flags);

//  text escaped, as a new heap string (never NULL); NULL text gives "".
char *gc_escape (const char *text, int flags);

//  Self test: every kind of character in every notation
void gc_escape_test (bool verbose);

#endif
