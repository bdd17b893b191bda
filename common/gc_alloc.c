/*  gc_alloc.c: the out-of-memory stop (see gc_alloc.h for why). */
#include <stdio.h>
#include <stdlib.h>
#include "gc_alloc.h"

void
gc_alloc_fail (const char *file, int line)
{
    fprintf (stderr, "groupchat: out of memory at %s:%d\n", file, line);
    fflush (stderr);
    abort ();
}

void *
gc_alloc_check (void *ptr, const char *file, int line)
{
    if (!ptr)
        gc_alloc_fail (file, line);
    return ptr;
}
