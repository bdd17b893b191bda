/*  complete.c: what Tab completes in the interactive client.

    Readline would complete file names, which mean nothing in a chat room.
    Here Tab completes what a person types in one: a command after "/",
    a room name after "/join " (room names hold spaces, so the whole line
    is the word there), and elsewhere the names of people seen in the
    rooms. A name or room that would not show as itself (one with a
    control character or a bidi override, see common/gc_escape.h) is
    never offered: completing would put it raw into the typed line. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include "complete.h"
#include "gc_alloc.h"
#include "gc_escape.h"

#define S_JOIN  "/join "

static const char *s_commands [] = {
    "/join ", "/leave", "/history", "/rooms", "/who", "/help", "/quit", NULL
};

static json_t *s_rooms;         //  room names, unique strings
static json_t *s_people;        //  people's names, unique strings

//  Adds name to words once, if it shows as itself
static void
s_add (json_t **words, const char *name)
{
    if (!name || !*name)
        return;
    char *shown = gc_escape (name, GC_ESCAPE_CARET);
    bool plain = strcmp (shown, name) == 0;
    free (shown);
    if (!*words)
        *words = gc_alloc_checked (json_array ());
    size_t index;
    json_t *word;
    json_array_foreach (*words, index, word)
        if (strcmp (json_string_value (word), name) == 0)
            return;
    if (plain)
        json_array_append_new (*words, json_string (name));
}

void
gc_complete_room (const char *room)
{
    s_add (&s_rooms, room);
}

void
gc_complete_person (const char *name)
{
    s_add (&s_people, name);
}

//  --------------------------------------------------------------------------
//  The candidates for one completion, made when it starts

static json_t *s_candidates;    //  what the word may become
static size_t s_next;           //  the next candidate to look at

//  The candidates for a word at start of the line being typed
static json_t *
s_candidates_for (const char *line, int start)
{
    json_t *candidates = gc_alloc_checked (json_array ());
    size_t index;
    json_t *word;
    if (start == 0 && strncmp (line, S_JOIN, strlen (S_JOIN)) == 0)
        json_array_foreach (s_rooms, index, word) {
            char *joined;
            if (asprintf (&joined, S_JOIN "%s", json_string_value (word)) < 0)
                gc_alloc_fail (__FILE__, __LINE__);
            json_array_append_new (candidates, json_string (joined));
            free (joined);
        }
    else
    if (start == 0 && line [0] == '/')
        for (const char **command = s_commands; *command; command++)
            json_array_append_new (candidates, json_string (*command));
    else
        json_array_extend (candidates, s_people? s_people: json_array ());
    return candidates;
}

//  Readline's generator: the next candidate starting with text, in any case
static char *
s_generate (const char *text, int state)
{
    if (!state)
        s_next = 0;
    size_t size = strlen (text);
    while (s_next < json_array_size (s_candidates)) {
        const char *word = json_string_value (json_array_get (s_candidates, s_next++));
        if (strncasecmp (word, text, size) == 0)
            return gc_strdup (word);
    }
    return NULL;
}

static char **
s_complete (const char *text, int start, int end)
{
    (void) end;
    rl_attempted_completion_over = 1;       //  never file names
    json_decref (s_candidates);
    s_candidates = s_candidates_for (rl_line_buffer, start);
    //  A room or a command that takes nothing more is whole as it is
    bool whole_line = start == 0 && rl_line_buffer [0] == '/';
    rl_completion_append_character = whole_line? '\0': ' ';
    return rl_completion_matches (text, s_generate);
}

//  After "/join " the whole line is one word: room names hold spaces
static char *
s_word_breaks (void)
{
    static char whole_line [] = "\n";
    return strncmp (rl_line_buffer, S_JOIN, strlen (S_JOIN)) == 0? whole_line: NULL;
}

void
gc_complete_install (void)
{
    rl_attempted_completion_function = s_complete;
    rl_completion_word_break_hook = s_word_breaks;
}

void
gc_complete_forget (void)
{
    json_decref (s_candidates);
    json_decref (s_rooms);
    json_decref (s_people);
    s_candidates = s_rooms = s_people = NULL;
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_complete_test (bool verbose)
{
    if (verbose)
        printf (" * gc_complete: ");
    gc_complete_room ("Quite Interesting");
    gc_complete_room ("Quite Interesting");
    gc_complete_room ("Lair\x1b[31m");
    gc_complete_person ("Sandy");
    gc_complete_person ("Sue\xe2\x80\xae");
    assert (json_array_size (s_rooms) == 1 && json_array_size (s_people) == 1);
    s_candidates = s_candidates_for ("/join qu", 0);
    char *match = s_generate ("/join qu", 0);
    assert (strcmp (match, "/join Quite Interesting") == 0 && !s_generate ("/join qu", 1));
    free (match);
    json_decref (s_candidates);
    s_candidates = s_candidates_for ("hi sa", 3);
    match = s_generate ("sa", 0);
    assert (strcmp (match, "Sandy") == 0);
    free (match);
    json_decref (s_candidates);
    s_candidates = s_candidates_for ("/hi", 0);
    match = s_generate ("/hi", 0);
    assert (strcmp (match, "/history") == 0);
    free (match);
    gc_complete_forget ();
    if (verbose)
        printf ("OK\n");
}
