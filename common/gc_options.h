/*  gc_options.h: what every program's main does with its configuration:
    environment variables as defaults under flags, and usage errors. */
#ifndef GC_OPTIONS_H_INCLUDED
#define GC_OPTIONS_H_INCLUDED

//  The variable's value, or fallback when it is unset or empty.
const char *gc_env (const char *name, const char *fallback);

//  Prints "program: why" (when why) and the usage to stderr; returns 2,
//  the exit status of a usage error.
int gc_usage_error (const char *program, const char *usage, const char *why);

#endif
