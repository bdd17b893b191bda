/*  format.c: message and error lines for people, and --json lines, with
    what came from the network escaped by common/gc_escape. The screen
    shows C0 controls in caret notation (ESC as ^[), as terminal users
    know them, and the rest as \xHH. The only escape sequences in a line
    are the colours written here, around text already escaped. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "format.h"
#include "gc_alloc.h"
#include "gc_escape.h"
#include "gc_limits.h"

//  Foreground colours that read on light and dark backgrounds alike
static const int s_palette [] = { 31, 32, 33, 34, 35, 36 };
#define S_PALETTE_SIZE  (sizeof s_palette / sizeof s_palette [0])

int
gc_format_nick_colour (const char *name)
{
    uint32_t hash = 2166136261u;        //  FNV-1a: stable across runs
    for (const unsigned char *at = (const unsigned char *) name; *at; at++)
        hash = (hash ^ *at) * 16777619u;
    return s_palette [hash % S_PALETTE_SIZE];
}

static bool
s_word_char (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || c == '_' || (c & 0x80);
}

bool
gc_format_mentions (const char *text, const char *name)
{
    size_t size = name? strlen (name): 0;
    if (!text || !size)
        return false;
    for (const char *at = text; (at = strcasestr (at, name)); at++)
        if ((at == text || !s_word_char (at [-1])) && !s_word_char (at [size]))
            return true;
    return false;
}

bool
gc_format_colour_wanted (void)
{
    const char *no_colour = getenv ("NO_COLOR");
    const char *term = getenv ("TERM");
    return isatty (STDOUT_FILENO) && term && *term && strcmp (term, "dumb")
        && !(no_colour && *no_colour);
}

//  The time and the sender of a line, coloured when style says so;
//  returns the width the text is indented by on continuation lines
static int
s_print_head (FILE *stream, json_t *message, const gc_format_style_t *style, bool mention)
{
    const char *from = json_string_value (json_object_get (message, "from"));
    char *shown_from = gc_format_escaped (from? from: "?");
    time_t when = (time_t) (json_integer_value (json_object_get (message, "ts")) / 1000);
    struct tm local;
    localtime_r (&when, &local);
    int indent;
    if (style && style->colour) {
        fprintf (stream, "%s[%02d:%02d] \033[%dm%s\033[39m: ", mention? "\033[1m": "",
                 local.tm_hour, local.tm_min, gc_format_nick_colour (from? from: "?"),
                 shown_from);
        indent = (int) strlen ("[00:00] : ") + (int) strlen (shown_from);
    }
    else
        indent = fprintf (stream, "[%02d:%02d] %s: ", local.tm_hour, local.tm_min, shown_from);
    free (shown_from);
    return indent;
}

char *
gc_format_message_styled (json_t *message, const gc_format_style_t *style)
{
    const char *raw = json_string_value (json_object_get (message, "text"));
    const char *from = json_string_value (json_object_get (message, "from"));
    bool own = from && style && style->me && strcmp (from, style->me) == 0;
    bool mention = style && style->colour && !own && gc_format_mentions (raw, style->me);
    char *text = gc_escape (raw, GC_ESCAPE_CARET | GC_ESCAPE_LINES);
    char *line = NULL;
    size_t size = 0;
    FILE *stream = gc_alloc_checked (open_memstream (&line, &size));
    int indent = s_print_head (stream, message, style, mention);
    //  Continuation lines line up under the text, not under the time
    for (const char *at = text; *at; at++) {
        fputc (*at, stream);
        if (*at == '\n')
            fprintf (stream, "%*s", indent, "");
    }
    if (mention)
        fputs ("\033[0m", stream);
    fclose (stream);
    free (text);
    return line;
}

char *
gc_format_pending (const char *user, const char *text, int64_t ts,
                   const gc_format_style_t *style)
{
    json_t *message = json_pack ("{s:s?,s:s?,s:I}", "from", user, "text", text,
                                 "ts", (json_int_t) ts);
    char *shown = gc_format_message_styled (gc_alloc_checked (message), style), *line;
    if (asprintf (&line, "%s  (pending)", shown) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    free (shown);
    json_decref (message);
    return line;
}

char *
gc_format_message (json_t *message)
{
    return gc_format_message_styled (message, NULL);
}

int
gc_format_day_key (int64_t ts)
{
    time_t when = (time_t) (ts / 1000);
    struct tm local;
    localtime_r (&when, &local);
    return (local.tm_year + 1900) * 10000 + (local.tm_mon + 1) * 100 + local.tm_mday;
}

char *
gc_format_day (int64_t ts)
{
    time_t when = (time_t) (ts / 1000);
    struct tm local;
    localtime_r (&when, &local);
    char day [64];
    strftime (day, sizeof day, "%A %e %B %Y", &local);
    char *line;
    //  %e pads the day with a space; a date line reads without it
    if (asprintf (&line, "-- %s --", day) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    char *pad = strstr (line, "  ");
    if (pad)
        memmove (pad, pad + 1, strlen (pad));
    return line;
}

char *
gc_format_unreachable (const char *url, const char *why, const char *next, unsigned delay_ms)
{
    char *shown_url = gc_format_escaped (url), *shown_why = gc_format_escaped (why);
    char *shown_next = next? gc_format_escaped (next): NULL, *line;
    char retry [600] = "";
    if (next)
        snprintf (retry, sizeof retry, "; trying %s now", shown_next);
    else
    if (delay_ms)
        snprintf (retry, sizeof retry, "; trying again in %g s", delay_ms / 1000.0);
    if (asprintf (&line, "cannot reach %s (%s)%s", shown_url,
                  why && *why? shown_why: "no answer", retry) < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    free (shown_url);
    free (shown_why);
    free (shown_next);
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

char *
gc_format_names (json_t *names)
{
    char *line = gc_strdup (""), *longer;
    size_t index;
    json_t *name;
    json_array_foreach (names, index, name) {
        char *shown = gc_format_escaped (json_string_value (name));
        if (asprintf (&longer, "%s%s%s", line, index? ", ": "", shown) < 0)
            gc_alloc_fail (__FILE__, __LINE__);
        free (line);
        free (shown);
        line = longer;
    }
    return line;
}

char *
gc_format_typing (json_t *names)
{
    size_t count = json_array_size (names);
    char *line = NULL;
    int made = 0;
    if (count == 0)
        return NULL;
    if (count > GC_CLIENT_TYPISTS_NAMED)
        made = asprintf (&line, "%zu people are typing", count);
    else {
        //  "A, B and C": the last name joined by "and", the others listed
        json_t *first = gc_alloc_checked (json_array ()), *last = json_array_get (names, count - 1);
        for (size_t index = 0; index + 1 < count; index++)
            json_array_append (first, json_array_get (names, index));
        char *listed = gc_format_names (first);
        char *final = gc_format_escaped (json_string_value (last));
        made = asprintf (&line, "%s%s%s %s typing", listed, count > 1? " and ": "", final,
                         count > 1? "are": "is");
        free (listed);
        free (final);
        json_decref (first);
    }
    if (made < 0)
        gc_alloc_fail (__FILE__, __LINE__);
    return line;
}

//  --------------------------------------------------------------------------
//  Self test

//  The typing indicator for names, or NULL for none
static void
s_test_typing_is (json_t *names, const char *expected)
{
    char *line = gc_format_typing (names);
    assert (expected? line && strcmp (line, expected) == 0: line == NULL);
    free (line);
}

//  Lists of names, as /who and the typing indicator show them
static void
s_test_names (void)
{
    json_t *names = json_pack ("[sss]", "Alex", "Eve\x1b[2J", "Sue");
    char *line = gc_format_names (names);
    assert (strcmp (line, "Alex, Eve^[[2J, Sue") == 0);
    free (line);
    s_test_typing_is (names, "Alex, Eve^[[2J and Sue are typing");
    json_array_append_new (names, json_string ("Sandy"));
    s_test_typing_is (names, "4 people are typing");
    json_array_clear (names);
    s_test_typing_is (names, NULL);
    line = gc_format_names (names);
    assert (strcmp (line, "") == 0);
    free (line);
    json_array_append_new (names, json_string ("Sue"));
    s_test_typing_is (names, "Sue is typing");
    json_array_append_new (names, json_string ("Sandy"));
    s_test_typing_is (names, "Sue and Sandy are typing");
    json_decref (names);
}

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

//  Colours on, a stable one per name, and the mention of one's name
//  bolded, never one's own message
static void
s_test_style (void)
{
    assert (gc_format_nick_colour ("Sue") == gc_format_nick_colour ("Sue"));
    assert (gc_format_mentions ("hi sue!", "Sue") && !gc_format_mentions ("Suez", "Sue"));
    assert (!gc_format_mentions ("hi", NULL) && gc_format_mentions ("Sue", "Sue"));
    json_t *message = json_pack ("{s:s,s:s,s:I}", "from", "Alex\x1b[1m",
                                 "text", "Sandy, look", "ts", (json_int_t) 0);
    gc_format_style_t style = { .colour = true, .me = "Sandy" };
    char *line = gc_format_message_styled (message, &style);
    char expected [64];
    snprintf (expected, sizeof expected, "\033[%dmAlex^[[1m\033[39m: Sandy, look\033[0m",
              gc_format_nick_colour ("Alex\x1b[1m"));
    assert (strncmp (line, "\033[1m[", 5) == 0 && strstr (line, expected));
    free (line);
    style.me = "Alex\x1b[1m";
    json_object_set_new (message, "text", json_string ("Alex\x1b[1m here"));
    line = gc_format_message_styled (message, &style);
    assert (line [0] == '[' && !strstr (line, "\033[0m"));
    free (line);
    json_decref (message);
}

static void
s_test_lines (void)
{
    setenv ("TZ", "UTC", 1);
    tzset ();
    char *line = gc_format_day (1796256000000);     //  2026-12-03 00:00 UTC
    assert (strcmp (line, "-- Thursday 3 December 2026 --") == 0);
    free (line);
    assert (gc_format_day_key (1796256000000) == 20261203);
    assert (gc_format_day_key (1796256000000 - 1) == 20261202);
    line = gc_format_unreachable ("ws://h:1", "connection refused", NULL, 2000);
    assert (strcmp (line, "cannot reach ws://h:1 (connection refused); trying again in 2 s") == 0);
    free (line);
    line = gc_format_unreachable ("ws://h:1", NULL, "ws://h:2", 0);
    assert (strcmp (line, "cannot reach ws://h:1 (no answer); trying ws://h:2 now") == 0);
    free (line);
    line = gc_format_pending ("Sue", "not yet\x1b[2J", 1796256000000 + 60000, NULL);
    assert (strcmp (line, "[00:01] Sue: not yet^[[2J  (pending)") == 0);
    free (line);
    unsetenv ("TZ");
    tzset ();
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
    s_test_style ();
    s_test_lines ();
    s_test_names ();
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
