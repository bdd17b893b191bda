/*  format.c: message and error lines for people. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "format.h"

char *
gc_format_message (json_t *message)
{
    const char *from = json_string_value (json_object_get (message, "from"));
    const char *text = json_string_value (json_object_get (message, "text"));
    time_t when = (time_t) (json_integer_value (json_object_get (message, "ts")) / 1000);
    struct tm local;
    localtime_r (&when, &local);
    char *line = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&line, &size);
    if (!stream)
        return NULL;
    int indent = fprintf (stream, "[%02d:%02d] %s: ", local.tm_hour, local.tm_min,
                          from? from: "?");
    //  Continuation lines line up under the text, not under the time
    for (const char *at = text? text: ""; *at; at++) {
        fputc (*at, stream);
        if (*at == '\n')
            fprintf (stream, "%*s", indent, "");
    }
    fclose (stream);
    return line;
}

char *
gc_format_error (gc_client_op_t op, gc_error_t code, const char *message)
{
    const char *text = gc_error_person_text (code);
    char *line = NULL;
    if (asprintf (&line, "%s failed: %s", gc_client_op_name (op), text? text: message) < 0)
        return NULL;
    return line;
}

char *
gc_format_ended (const char *reason)
{
    char *line = NULL;
    if (asprintf (&line, "%s; you are logged out", reason) < 0)
        return NULL;
    return line;
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
    line = gc_format_error (GC_CLIENT_JOIN, GC_NOT_MEMBER, "Sandy is not a member of x");
    assert (strcmp (line, "join failed: you are not a member of that group") == 0);
    free (line);
    line = gc_format_error (GC_CLIENT_SAY, GC_INTERNAL, "as the server says");
    assert (strcmp (line, "say failed: as the server says") == 0);
    free (line);
    line = gc_format_ended ("your account was removed");
    assert (strcmp (line, "your account was removed; you are logged out") == 0);
    free (line);
    if (verbose)
        printf ("OK\n");
}
