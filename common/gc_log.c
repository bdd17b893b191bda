/*  gc_log.c: timestamped, levelled log lines on stderr.

    Each line is formatted whole and written with one call, so lines from
    the broker's worker threads never interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
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
    va_list args;
    va_start (args, format);
    int body = vsnprintf (line + size, sizeof line - size - 1, format, args);
    va_end (args);
    size = body < 0? size: size + body;
    if (size > (int) sizeof line - 2)
        size = (int) sizeof line - 2;   //  cut, but keep the newline
    line [size++] = '\n';
    if (write (STDERR_FILENO, line, size) < 0)
        return;                 //  nowhere left to report it
}
