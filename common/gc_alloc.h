/*  gc_alloc.h: groupchat's one policy for running out of memory.

    Allocation failure stops the process, as czmq's zmalloc does: it
    prints where and aborts. A half-handled out-of-memory path that is
    never tested does more harm than a clean stop: a broker that stops is
    restarted by its supervisor with nothing acknowledged lost (acks follow
    commits), and a gateway's clients reconnect elsewhere. So every heap
    allocation goes through these, and callers never test for NULL.
    Memory is bounded by design instead (docs/architecture.md lists the
    bounds): the limits in gc_limits.h, not malloc failing, are what keep a
    misbehaving peer from exhausting it.

    Libraries that report allocation failure by a return value (jansson's
    NULL, msgpack's -1) are checked with gc_alloc_check. */
#ifndef GC_ALLOC_H_INCLUDED
#define GC_ALLOC_H_INCLUDED

#include <stddef.h>

#define gc_malloc(size)         gc_alloc_check (malloc (size), __FILE__, __LINE__)
#define gc_calloc(count, size)  gc_alloc_check (calloc ((count), (size)), __FILE__, __LINE__)
#define gc_realloc(ptr, size)   gc_alloc_check (realloc ((ptr), (size)), __FILE__, __LINE__)
#define gc_strdup(str)          gc_alloc_check (strdup (str), __FILE__, __LINE__)
#define gc_strndup(str, size)   gc_alloc_check (strndup ((str), (size)), __FILE__, __LINE__)
//  A library's result that is NULL only when it ran out of memory
#define gc_alloc_checked(ptr)   gc_alloc_check ((ptr), __FILE__, __LINE__)

#include <stdlib.h>
#include <string.h>

//  Returns ptr; when it is NULL, says where and aborts.
void *gc_alloc_check (void *ptr, const char *file, int line);

//  Aborts after saying where memory ran out (for non-pointer results).
void gc_alloc_fail (const char *file, int line) __attribute__ ((noreturn));

#endif
