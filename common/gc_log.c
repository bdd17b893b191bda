/*  gc_log.c: timestamped, levelled log lines on stderr.

    Each line is formatted whole and written with one call, so lines from
    the broker's worker threads never interleave mid-line. Log lines carry
    names and texts from the network: whatever gc_escape finds harmful in
    them (C0 and C1 controls, DEL, bidi overrides, bytes that are not
    UTF-8) is written as \xHH, so that a name can neither drive the
    terminal of whoever reads the log nor forge a line of its own. */
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gc_escape.h"
#include "gc_log.h"

static const char *s_process = "groupchat";
static gc_log_level_t s_level = GC_LOG_INFO;
static const char *s_names [] = { "error", "warn", "info", "debug" };

void
gc_log_init (const char *process, gc_log_level_t level)
{
    s_process = process;
    s_level = level;
}

int
gc_log_level_parse (const char *name)
{
    for (int level = GC_LOG_ERROR; level <= GC_LOG_DEBUG; level++)
        if (strcmp (name, s_names [level]) == 0)
            return level;
    return -1;
}

int
gc_log_enabled (gc_log_level_t level)
{
    return level <= s_level;
}

//  Appends text to line [size..limit), escaped (gc_escape's \xHH); cuts
//  what does not fit, never in the middle of an escape. Returns the new size.
static int
s_append_escaped (char *line, int size, int limit, const char *text, int text_size)
{
    char shown [GC_ESCAPE_CHAR_MAX];
    int done = 0;
    while (done < text_size) {
        done += (int) gc_escape_char (text + done, text_size - done, GC_ESCAPE_HEX, shown);
        int length = (int) strlen (shown);
        if (size + length > limit)
            break;
        memcpy (line + size, shown, length);
        size += length;
    }
    return size;
}

void
gc_log (gc_log_level_t level, const char *format, ...)
{
    if (level > s_level)
        return;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r (&now.tv_sec, &utc);
    char line [2048];
    int size = (int) strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
    size += snprintf (line + size, sizeof line - size, ".%03ldZ %-5s %s: ",
                      now.tv_nsec / 1000000, s_names [level], s_process);
    char body [sizeof line];
    va_list args;
    va_start (args, format);
    int body_size = vsnprintf (body, sizeof body, format, args);
    va_end (args);
    if (body_size > (int) sizeof body - 1)
        body_size = (int) sizeof body - 1;
    size = s_append_escaped (line, size, (int) sizeof line - 1, body, body_size);
    line [size++] = '\n';
    if (write (STDERR_FILENO, line, size) < 0)
        return;                 //  nowhere left to report it
}

const char *
gc_log_quote (const char *text, char *buffer, size_t size)
{
    assert (size >= 4);
    if (!text)
        return strcpy (buffer, "-");
    size_t used = 0;
    buffer [used++] = '"';
    for (; *text && used + 3 < size; text++) {
        if (*text == '"' || *text == '\\')
            buffer [used++] = '\\';
        buffer [used++] = *text;
    }
    buffer [used++] = '"';
    buffer [used] = 0;
    return buffer;
}

size_t
gc_log_catch (void (*fn) (void *arg), void *arg, char *text, size_t size)
{
    int pipe_fds [2], saved = dup (STDERR_FILENO);
    assert (size > 0 && pipe (pipe_fds) == 0 && saved >= 0);
    dup2 (pipe_fds [1], STDERR_FILENO);
    fn (arg);
    dup2 (saved, STDERR_FILENO);
    close (saved), close (pipe_fds [1]);
    ssize_t got = read (pipe_fds [0], text, size - 1);
    close (pipe_fds [0]);
    text [got > 0? got: 0] = 0;
    return got > 0? (size_t) got: 0;
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_test_log_controls (void *arg)
{
    (void) arg;
    gc_log_init ("test", GC_LOG_INFO);
    gc_info ("user=%s said=%s", "Eve\x1b[31m", "two\nlines\x7f");
    gc_info ("room=\"%s\"", "\xc2\x9b" "31m \x9b \xe2\x80\xae" "cba \xff");
    gc_debug ("not written at level info");
}

static void
s_test_log_long (void *arg)
{
    gc_info ("%s", (const char *) arg);
}

//  A name cannot end its field early and fake another, nor overflow
static void
s_test_log_quote (void)
{
    char line [128];
    snprintf (line, sizeof line, "user=%s room=%s by=%s",
              gc_log_quoted ("Eve\" result=\"ok"), gc_log_quoted ("a\\b c"), gc_log_quoted (NULL));
    assert (!strcmp (line, "user=\"Eve\\\" result=\\\"ok\" room=\"a\\\\b c\" by=-"));
    char long_name [GC_NAME_MAX * 2];
    memset (long_name, '"', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    const char *quoted = gc_log_quoted (long_name);
    size_t size = strlen (quoted);
    assert (size < GC_LOG_VALUE_MAX && quoted [0] == '"' && quoted [size - 1] == '"');
    assert (quoted [size - 2] == '"' && quoted [size - 3] == '\\');  //  never half an escape
}

void
gc_log_test (bool verbose)
{
    if (verbose)
        printf (" * gc_log: ");
    char line [512];
    size_t size = gc_log_catch (s_test_log_controls, NULL, line, sizeof line);
    assert (size > 0);
    assert (strstr (line, " info  test: user=Eve\\x1b[31m said=two\\x0alines\\x7f\n"));
    assert (strstr (line, " info  test: room=\"\\xc2\\x9b31m \\x9b \\xe2\\x80\\xaecba \\xff\"\n"));
    size_t lines = 0;
    for (size_t index = 0; index < size; index++) {
        lines += line [index] == '\n';
        assert (line [index] == '\n' || (line [index] >= 0x20 && line [index] < 0x7f));
    }
    assert (lines == 2 && line [size - 1] == '\n');    //  one line a call, ended once
    //  A body longer than a line is cut, still one line
    char long_text [4000];
    memset (long_text, '\x1b', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    char whole [4096];
    size = gc_log_catch (s_test_log_long, long_text, whole, sizeof whole);
    assert (size > 1000 && size <= 2048 && whole [size - 1] == '\n');
    assert (memchr (whole, '\n', size - 1) == NULL);
    s_test_log_quote ();
    if (verbose)
        printf ("OK\n");
}
