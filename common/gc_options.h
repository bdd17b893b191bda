/*  gc_options.h: what every program's main does with its command line,
    written once.

    A program describes its flags in a table: each flag's long name, the
    environment variable that gives its default, and where its value goes.
    gc_options_parse fills the values (built-in default, then variable,
    then flag: a flag wins over its variable; a repeatable flag given
    once or more replaces its variable's list), answers --help, checks
    numbers against their range and the log level, and turns a bad flag,
    a bad value or a stray argument into a usage error: "program: why" and
    the usage on stderr, exit status 2. A main then only wires its values
    up. */
#ifndef GC_OPTIONS_H_INCLUDED
#define GC_OPTIONS_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

//  The exit status of a usage error, for every program
#define GC_OPTIONS_USAGE    2

//  What gc_options_parse returns when the program should go on
#define GC_OPTIONS_GO_ON    -1

typedef struct _gc_option_t gc_option_t;

//  Takes one occurrence of a flag's value (a list, a number); returns
//  NULL, or why the value is wrong, which becomes a usage error.
typedef const char *(gc_option_take_fn) (const gc_option_t *option, const char *value);

struct _gc_option_t {
    const char *name;           //  the long flag, without its dashes
    const char *env;            //  the variable that gives its default, or NULL
    const char **text;          //  gets the value; holds the built-in default
    bool *set;                  //  a flag without value: true once given
    gc_option_take_fn *take;    //  or: called with each value given; with
                                //  env, once with the variable's value
                                //  when the flag is not given at all
    void *arg;                  //  what take fills
    int *number;                //  gets the text as a whole number,
    long min, max;              //  which must be from min to max
    const char *log;            //  --log-level: sets up gc_log for this process
};

//  A whole number from min to max; fallback is its default, as text
#define GC_OPTION_NUMBER(flag, variable, fallback, target, lowest, highest) \
    { .name = (flag), .env = (variable), .text = &(const char *) { fallback }, \
      .number = (target), .min = (lowest), .max = (highest) }

//  The servers' --log-level (error, warn, info or debug; info by default)
#define GC_OPTION_LOG_LEVEL(process) \
    { .name = "log-level", .env = "GROUPCHAT_LOG_LEVEL", \
      .text = &(const char *) { "info" }, .log = (process) }

//  The broker link's --keys DIR and --insecure, alike in every program
//  that has one: the key folder for CURVE, or the explicit choice of none
#define GC_OPTION_KEYS(folder, without) \
    { .name = "keys", .env = "GROUPCHAT_KEYS", .text = (folder) }, \
    { .name = "insecure", .env = "GROUPCHAT_INSECURE", .set = (without) }

typedef struct {
    const char *program;        //  its name, first word of each error
    const char *usage;          //  printed under a usage error (and for --help)
    void (*help) (FILE *stream);    //  prints --help's text instead, if set
    const gc_option_t *options; //  the flags, ended by an entry without name
    bool in_order;              //  flags end at the first argument (a command)
    const char *stray;          //  the error for an argument after the flags;
                                //  NULL when the program takes arguments
    int first;                  //  set by parse: argv index of the first argument
} gc_options_t;

//  Parses argv against self's table; --help is always a flag. Once the
//  flags are read, numbers and the log level are checked, in table order,
//  and the log is set up. Returns
//  GC_OPTIONS_GO_ON when the program should run, else the status main
//  returns: 0 after printing the help, GC_OPTIONS_USAGE after a usage
//  error (said on stderr).
int gc_options_parse (gc_options_t *self, int argc, char **argv);

//  Prints "program: why" (when why) and the usage to stderr; returns
//  GC_OPTIONS_USAGE.
int gc_options_error (gc_options_t *self, const char *why);

//  The variable's value, or fallback when it is unset or empty.
const char *gc_env (const char *name, const char *fallback);

//  Self test of this class.
void gc_options_test (bool verbose);

#endif
