/*  gc_options.c: configuration helpers shared by the programs' mains. */
#include <stdio.h>
#include <stdlib.h>
#include "gc_options.h"

const char *
gc_env (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    return value && *value? value: fallback;
}

int
gc_usage_error (const char *program, const char *usage, const char *why)
{
    if (why)
        fprintf (stderr, "%s: %s\n", program, why);
    fputs (usage, stderr);
    return 2;
}
