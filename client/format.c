/*  format.c: message and error lines for people, and --json lines, with
    what came from the network escaped by common/gc_escape. The screen
    shows C0 controls in caret notation (ESC as ^[), as terminal users
    know them, and the rest as \xHH. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "format.h"
#include "gc_alloc.h"
#include "gc_escape.h"

char *
gc_format_message (json_t *message)
{
    const char *from = json_string_value (json_object_get (message, "from"));
    char *shown_from = gc_format_escaped (from? from: "?");
    char *text = gc_escape (json_string_value (json_object_get (message, "text")),
                            GC_ESCAPE_CARET | GC_ESCAPE_LINES);
    time_t when = (time_t) (json_integer_value (json_object_get (message, "ts")) / 1000);
    struct tm local;
    localtime_r (&when, &local);
    char *line = NULL;
    size_t size = 0;
    FILE *stream = gc_alloc_checked (open_memstream (&line, &size));
    int indent = fprintf (stream, "[%02d:%02d] %s: ", local.tm_hour, local.tm_min, shown_from);
    //  Continuation lines line up under the text, not under the time
    for (const char *at = text; *at; at++) {
        fputc (*at, stream);
        if (*at == '\n')
            fprintf (stream, "%*s", indent, "");
    }
    fclose (stream);
    free (shown_from);
    free (text);
    return line;
}

char *
gc_format_json (json_t *message)
{
    char *json = gc_alloc_checked (json_dumps (message, JSON_COMPACT));
    char *line = gc_escape (json, GC_ESCAPE_JSON);
    free (json);
    return line;
}

char *
gc_format_error (gc_client_op_t op, gc_error_t code, const char *message)
{
    const char *text = gc_error_person_text (code);
    char *shown = gc_format_escaped (text? text: message);
    char *line;
    if (asprintf (&line, "%s failed: %s", gc_client_op_name (op), shown) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    free (shown);
    return line;
}

char *
gc_format_ended (const char *reason)
{
    char *shown = gc_format_escaped (reason);
    char *line = NULL;
    if (asprintf (&line, "%s; you are logged out", shown) < 0)
        line = NULL;
    free (shown);
    return line;
}

char *
gc_format_escaped (const char *text)
{
    return gc_escape (text, GC_ESCAPE_CARET);
}

//  --------------------------------------------------------------------------
//  Self test

//  A message from a hostile sender: nothing of it reaches the terminal raw
static void
s_test_hostile_message (void)
{
    json_t *message = json_pack ("{s:s,s:s,s:I}", "from", "Eve\x1b]0;T\x07",
        "text", "\x1b[31mred\r\xc2\x9b" "2J\xe2\x80\xae" "ab\nnext\tcol\x7f", "ts", (json_int_t) 0);
    char *line = gc_format_message (message);
    assert (strstr (line, "] Eve^[]0;T^G: ^[[31mred^M\\xc2\\x9b2J\\xe2\\x80\\xae" "ab\n"));
    assert (strstr (line, "\n" "                     next\tcol^?"));
    for (const char *at = line; *at; at++)
        assert (*at == '\n' || *at == '\t' || (*at >= 0x20 && *at < 0x7f));
    free (line);
    line = gc_format_json (message);
    assert (strstr (line, "\"text\":\"\\u001B[31mred\\r\\u009B2J\\u202E" "ab\\nnext\\tcol\\u007F\""));
    json_t *back = json_loads (line, 0, NULL);
    assert (back && json_equal (back, message));
    json_decref (back);
    free (line);
    json_decref (message);
}

void
gc_format_test (bool verbose)
{
    if (verbose)
        printf (" * gc_format: ");
    json_t *message = json_pack ("{s:s,s:s,s:I}", "from", "Sue",
                                 "text", "two\nlines", "ts", (json_int_t) 0);
    char *line = gc_format_message (message);
    assert (strstr (line, "] Sue: two\n") && strstr (line, "\n             lines"));
    free (line);
    json_decref (message);
    s_test_hostile_message ();
    line = gc_format_error (GC_CLIENT_JOIN, GC_NOT_MEMBER, "Sandy is not a member of x");
    assert (strcmp (line, "join failed: you are not a member of that group") == 0);
    free (line);
    line = gc_format_error (GC_CLIENT_SAY, GC_INTERNAL, "as the server says");
    assert (strcmp (line, "say failed: as the server says") == 0);
    free (line);
    line = gc_format_error (GC_CLIENT_SAY, GC_INTERNAL, "\x1b[2Jcleared\nforged line");
    assert (strcmp (line, "say failed: ^[[2Jcleared^Jforged line") == 0);
    free (line);
    line = gc_format_escaped (NULL);
    assert (strcmp (line, "") == 0);
    free (line);
    line = gc_format_ended ("your account was removed");
    assert (strcmp (line, "your account was removed; you are logged out") == 0);
    free (line);
    line = gc_format_ended ("\x1b]0;owned\x07gone");
    assert (strcmp (line, "^[]0;owned^Ggone; you are logged out") == 0);
    free (line);
    if (verbose)
        printf ("OK\n");
}
