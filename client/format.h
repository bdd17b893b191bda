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
#include <jansson.h>
#include "gc_error.h"
#include "gc_request.h"

//  The message formatted; a heap string the caller frees. Its text keeps
//  its newlines (as continuation lines) and tabs, nothing else.
char *gc_format_message (json_t *message);

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

//  The exit status of plain mode when the server ended the session
#define GC_EXIT_ENDED   3

void gc_format_test (bool verbose);

#endif
