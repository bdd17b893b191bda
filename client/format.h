/*  format.h: how the client shows what the network sends, for people:
    a room message on one screen line (and indented continuation lines
    for texts with newlines),

        [18:42] Sue: Did you see the last task?

    error sentences, and names and server texts within a line. All of it
    is data: control characters, bidi overrides and bytes that are not
    UTF-8 are shown escaped (common/gc_escape.h), never sent to the
    terminal as they came; docs/client.md says what is shown how. */
#ifndef GC_FORMAT_H_INCLUDED
#define GC_FORMAT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "gc_error.h"
#include "gc_request.h"

//  The message formatted; a heap string the caller frees. Its text keeps
//  its newlines (as continuation lines) and tabs, nothing else.
char *gc_format_message (json_t *message);

//  How a terminal shows a message: colour on or off, and whose name in a
//  text is a mention
typedef struct {
    bool colour;                //  the sender's name in its colour, mentions bold
    const char *me;             //  the user's own name, NULL: none
} gc_format_style_t;

//  The message formatted as gc_format_message does, in style: the sender's
//  name coloured, and the whole line bold when another's text mentions me.
//  The colours are ours, around escaped text; style NULL: no colour.
char *gc_format_message_styled (json_t *message, const gc_format_style_t *style);

//  A line said by user that waits to be sent, as its message will show,
//  stamped ts (ms) and marked "  (pending)"; a heap string the caller frees
char *gc_format_pending (const char *user, const char *text, int64_t ts,
                         const gc_format_style_t *style);

//  Whether to colour: stdout is a terminal, TERM is set and not "dumb",
//  and NO_COLOR is not set to a non-empty value (https://no-color.org)
bool gc_format_colour_wanted (void);

//  The SGR foreground colour (31..36) of a name, the same on every run
int gc_format_nick_colour (const char *name);

//  Whether text mentions name as a word, in any case
bool gc_format_mentions (const char *text, const char *name);

//  The local day of a message's ts (ms): 20261203 for 3 December 2026
int gc_format_day_key (int64_t ts);

//  The line that opens a local day: "-- Thursday 3 December 2026 --"
char *gc_format_day (int64_t ts);

//  "cannot reach URL (why); trying NEXT now", "...; trying again in 2 s"
//  when delay_ms, or with no retry when next is NULL and delay_ms 0
char *gc_format_unreachable (const char *url, const char *why, const char *next,
                             unsigned delay_ms);

//  The message as one line of JSON (--json), control characters and
//  bidi overrides as \u escapes: the same JSON value, harmless on a
//  terminal. A heap string the caller frees.
char *gc_format_json (json_t *message);

//  The human sentence for an error reply of op with code and message:
//  protocol/gc_error's words for the code, or the server's message.
char *gc_format_error (gc_client_op_t op, gc_error_t code, const char *message);

//  A name, a room name or a server's text as shown within one line
//  (newlines escaped too); NULL gives "". A heap string the caller frees.
char *gc_format_escaped (const char *text);

//  The sentence for the end of the session by the server, from the
//  closed push's reason: "your account was removed; you are logged out".
char *gc_format_ended (const char *reason);

//  Names (a JSON array of strings) as one line, escaped, in their order:
//  "Alex, Sue"; "" for none. A heap string the caller frees.
char *gc_format_names (json_t *names);

//  Who is typing, for people: "Sue is typing", "Sue and Sandy are
//  typing", "Sue, Sandy and Alex are typing", past three "4 people are
//  typing"; names escaped. NULL for none, else a heap string to free.
char *gc_format_typing (json_t *names);

//  The exit status of plain mode when the server ended the session
#define GC_EXIT_ENDED   3

void gc_format_test (bool verbose);

#endif
