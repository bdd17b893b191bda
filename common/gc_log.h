/*  gc_log.h: one line per event on stderr, the same shape in every program:

        2026-11-24T18:30:00.123Z info  gateway: joined conn=12 user="Alex" room="Taskmaster"

    Fields are key=value so that lines can be grepped and parsed; a name
    is given through gc_log_quoted, so that a name holding a quote or a
    space cannot end its field and fake another. Message
    texts and passwords are never logged above debug level. Each line is
    escaped whole after formatting (gc_escape.h: controls, bidi overrides
    and bytes that are not UTF-8 as \xHH), so a caller passes names from
    the network as they are and a line is always one event. */
#ifndef GC_LOG_H_INCLUDED
#define GC_LOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "gc_limits.h"

typedef enum { GC_LOG_ERROR, GC_LOG_WARN, GC_LOG_INFO, GC_LOG_DEBUG } gc_log_level_t;

//  Sets the process name shown in each line and the lowest level shown.
void gc_log_init (const char *process, gc_log_level_t level);

//  Parses "error", "warn", "info" or "debug"; returns -1 when unknown.
int gc_log_level_parse (const char *name);

//  True when lines of that level are shown (skip costly formatting if not).
int gc_log_enabled (gc_log_level_t level);

void gc_log (gc_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  text as a log value: in double quotes, with " and \ escaped; "-" for
//  none. Written into buffer (size bytes, cut to fit), which it returns.
const char *gc_log_quote (const char *text, char *buffer, size_t size);

//  gc_log_quote into a buffer of the enclosing block, sized for any name:
//  gc_info ("login user=%s", gc_log_quoted (user))
#define gc_log_quoted(text) \
    gc_log_quote ((text), (char [GC_LOG_VALUE_MAX]) { 0 }, GC_LOG_VALUE_MAX)

#define gc_error(...)   gc_log (GC_LOG_ERROR, __VA_ARGS__)
#define gc_warn(...)    gc_log (GC_LOG_WARN, __VA_ARGS__)
#define gc_info(...)    gc_log (GC_LOG_INFO, __VA_ARGS__)
#define gc_debug(...)   gc_log (GC_LOG_DEBUG, __VA_ARGS__)

//  For self-tests of what a class logs: runs fn (arg) with stderr caught
//  and returns in text what it wrote (at most size - 1 bytes, and less
//  than a pipe holds), NUL-ended; returns its length.
size_t gc_log_catch (void (*fn) (void *arg), void *arg, char *text, size_t size);

//  Self test: control characters escaped, one line per call
void gc_log_test (bool verbose);

#endif
