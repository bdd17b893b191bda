/*  format.h: how the client shows a room message on one screen line
    (and indented continuation lines for texts with newlines):

        [18:42] Sue: Did you see the last task? */
#ifndef GC_FORMAT_H_INCLUDED
#define GC_FORMAT_H_INCLUDED

#include <stdbool.h>
#include <jansson.h>
#include "gc_error.h"
#include "gc_request.h"

//  The message formatted; a heap string the caller frees.
char *gc_format_message (json_t *message);

//  The human sentence for an error reply of op with code and message:
//  protocol/gc_error's words for the code, or the server's message.
char *gc_format_error (gc_client_op_t op, gc_error_t code, const char *message);

//  The sentence for the end of the session by the server, from the
//  closed push's reason: "your account was removed; you are logged out".
char *gc_format_ended (const char *reason);

//  The exit status of plain mode when the server ended the session
#define GC_EXIT_ENDED   3

void gc_format_test (bool verbose);

#endif
