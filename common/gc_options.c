/*  gc_options.c: the programs' command lines, parsed from one table.

    getopt_long does the parsing (abbreviations, --flag=value, its own
    message for an unknown flag); this adds what every program wants
    around it: defaults from the environment, --help, usage errors with
    exit status 2, and the log level. */
#include <assert.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "gc_alloc.h"
#include "gc_log.h"
#include "gc_options.h"

const char *
gc_env (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    return value && *value? value: fallback;
}

int
gc_options_error (gc_options_t *self, const char *why)
{
    if (why)
        fprintf (stderr, "%s: %s\n", self->program, why);
    fputs (self->usage, stderr);
    return GC_OPTIONS_USAGE;
}

//  How many flags the table has
static size_t
s_count (const gc_option_t *options)
{
    size_t count = 0;
    while (options [count].name)
        count++;
    return count;
}

//  The table in getopt_long's form, --help last; the caller frees it
static struct option *
s_getopt_table (const gc_option_t *options)
{
    size_t count = s_count (options);
    struct option *table = gc_calloc (count + 2, sizeof *table);
    for (size_t index = 0; index < count; index++) {
        bool takes_value = !options [index].set;
        table [index] = (struct option) {
            options [index].name, takes_value? required_argument: no_argument, NULL, 0
        };
    }
    table [count] = (struct option) { "help", no_argument, NULL, 0 };
    return table;
}

//  Built-in defaults give way to the environment's
static void
s_take_environment (const gc_option_t *options)
{
    for (const gc_option_t *option = options; option->name; option++) {
        if (option->env && option->text)
            *option->text = gc_env (option->env, *option->text);
        //  A flag without value is on when its variable is 1
        if (option->env && option->set && strcmp (gc_env (option->env, "0"), "1") == 0)
            *option->set = true;
    }
}

//  A repeatable flag's variable, for each such flag not given: its whole
//  value is taken once (the flag's taker splits a list, if it holds one).
//  Flags are read first so that a flag wins over its variable here too.
//  Returns NULL or why the value is wrong.
static const char *
s_take_listed_environment (const gc_option_t *options, const bool *given)
{
    for (const gc_option_t *option = options; option->name; option++) {
        const char *value = option->take && option->env? gc_env (option->env, NULL): NULL;
        const char *why = value && !given [option - options]? option->take (option, value): NULL;
        if (why)
            return why;
    }
    return NULL;
}

//  Stores one flag's value; returns NULL or why it is wrong
static const char *
s_take_flag (const gc_option_t *option, const char *value)
{
    if (option->take)
        return option->take (option, value);
    if (option->set)
        *option->set = true;
    else
    if (option->text)
        *option->text = value;
    return NULL;
}

//  A whole number from min to max written in text; -1 when it is not one
static long
s_number (const char *text, long min, long max)
{
    char *end;
    long value = strtol (text, &end, 10);
    return *text && !*end && value >= min && value <= max? value: -1;
}

//  Checks the values that must mean something (numbers, the log level)
//  and sets up the log; returns GC_OPTIONS_GO_ON or GC_OPTIONS_USAGE
static int
s_check_values (gc_options_t *self)
{
    char why [128];
    for (const gc_option_t *option = self->options; option->name; option++)
        if (option->number) {
            long value = s_number (*option->text, option->min, option->max);
            if (value < 0) {
                snprintf (why, sizeof why, "--%s must be %ld to %ld",
                          option->name, option->min, option->max);
                return gc_options_error (self, why);
            }
            *option->number = (int) value;
        }
        else
        if (option->log) {
            int level = gc_log_level_parse (*option->text);
            if (level < 0)
                return gc_options_error (self, "--log-level must be error, warn, info or debug");
            gc_log_init (option->log, (gc_log_level_t) level);
        }
    return GC_OPTIONS_GO_ON;
}

//  Reads the flags with getopt_long, marking each one given; returns
//  GC_OPTIONS_GO_ON, or the status of --help or of a usage error
static int
s_read_flags (gc_options_t *self, int argc, char **argv, bool *given)
{
    struct option *table = s_getopt_table (self->options);
    int status = GC_OPTIONS_GO_ON, index = 0, found;
    optind = 0;                 //  glibc: start afresh, even on a second parse
    while (status == GC_OPTIONS_GO_ON
    &&    (found = getopt_long (argc, argv, self->in_order? "+": "", table, &index)) != -1) {
        if (found == '?')       //  getopt_long said what was wrong
            status = gc_options_error (self, NULL);
        else
        if (self->options [index].name == NULL) {
            if (self->help)
                self->help (stdout);
            else
                fputs (self->usage, stdout);
            status = 0;
        }
        else {
            given [index] = true;
            const char *why = s_take_flag (&self->options [index], optarg);
            if (why)
                status = gc_options_error (self, why);
        }
    }
    free (table);
    self->first = optind;
    return status;
}

int
gc_options_parse (gc_options_t *self, int argc, char **argv)
{
    s_take_environment (self->options);
    bool *given = gc_calloc (s_count (self->options) + 1, sizeof *given);
    int status = s_read_flags (self, argc, argv, given);
    if (status == GC_OPTIONS_GO_ON && self->stray && self->first < argc)
        status = gc_options_error (self, self->stray);
    const char *why = status == GC_OPTIONS_GO_ON?
                      s_take_listed_environment (self->options, given): NULL;
    if (why)
        status = gc_options_error (self, why);
    free (given);
    if (status == GC_OPTIONS_GO_ON)
        status = s_check_values (self);
    return status;
}



//  --------------------------------------------------------------------------
//  Self test

static int s_helped;

static void
s_test_help (FILE *stream)
{
    (void) stream;
    s_helped++;
}

static const char *
s_test_take (const gc_option_t *option, const char *value)
{
    int *count = option->arg;
    (*count)++;
    return strcmp (value, "bad") == 0? "a bad value": NULL;
}

void
gc_options_test (bool verbose)
{
    printf (" * gc_options: ");
    const char *name = "nobody";
    int port = 0, taken = 0;
    bool json = false;
    gc_option_t table [] = {
        GC_OPTION_NUMBER ("port", "GC_OPTIONS_TEST_PORT", "8080", &port, 1, 65535),
        { .name = "json", .env = "GC_OPTIONS_TEST_JSON", .set = &json },
        { .name = "name", .env = "GC_OPTIONS_TEST_NAME", .text = &name },
        { .name = "url", .env = "GC_OPTIONS_TEST_URL", .take = s_test_take, .arg = &taken },
        GC_OPTION_LOG_LEVEL ("test"),
        { .name = NULL }
    };
    gc_options_t options = {
        .program = "test", .usage = "usage: test\n", .help = s_test_help,
        .options = table, .stray = "unexpected argument"
    };
    opterr = 0;                 //  keep getopt's messages out of the output

    //  Built-in defaults, unless the environment says otherwise
    char *bare [] = { "test", NULL };
    assert (gc_options_parse (&options, 1, bare) == GC_OPTIONS_GO_ON);
    assert (port == 8080 && !strcmp (name, "nobody") && !json && taken == 0);
    assert (!gc_log_enabled (GC_LOG_DEBUG));

    //  The environment gives defaults, and a flag wins over it
    setenv ("GC_OPTIONS_TEST_PORT", "9000", 1);
    setenv ("GC_OPTIONS_TEST_NAME", "Sue", 1);
    setenv ("GROUPCHAT_LOG_LEVEL", "debug", 1);
    char *flags [] = { "test", "--port", "9001", "--json", "--url", "a", "--url=b", NULL };
    assert (gc_options_parse (&options, 7, flags) == GC_OPTIONS_GO_ON);
    assert (port == 9001 && !strcmp (name, "Sue") && gc_log_enabled (GC_LOG_DEBUG));
    assert (json && taken == 2 && options.first == 7);

    //  A repeatable flag's variable is taken only when no flag is given
    setenv ("GC_OPTIONS_TEST_URL", "c,d", 1);
    taken = 0;
    assert (gc_options_parse (&options, 7, flags) == GC_OPTIONS_GO_ON && taken == 2);
    assert (gc_options_parse (&options, 1, bare) == GC_OPTIONS_GO_ON && taken == 3);
    unsetenv ("GC_OPTIONS_TEST_URL");
    unsetenv ("GC_OPTIONS_TEST_PORT");
    unsetenv ("GC_OPTIONS_TEST_NAME");
    unsetenv ("GROUPCHAT_LOG_LEVEL");

    //  A flag without value is set by its variable when that is 1 only
    json = false;
    setenv ("GC_OPTIONS_TEST_JSON", "yes", 1);
    assert (gc_options_parse (&options, 1, bare) == GC_OPTIONS_GO_ON && !json);
    setenv ("GC_OPTIONS_TEST_JSON", "1", 1);
    assert (gc_options_parse (&options, 1, bare) == GC_OPTIONS_GO_ON && json);
    unsetenv ("GC_OPTIONS_TEST_JSON");

    //  --help prints the help and ends the program with 0
    char *help [] = { "test", "--json", "--help", "--nonsense", NULL };
    assert (gc_options_parse (&options, 4, help) == 0 && s_helped == 1);

    //  Usage errors: unknown flag, missing value, bad value, stray word,
    //  a number out of range or not a number, no such log level
    char *wrong [] [4] = {
        { "test", "--nonsense" }, { "test", "--port" }, { "test", "--url", "bad" },
        { "test", "word" }, { "test", "-z" }, { "test", "--port", "0" },
        { "test", "--port", "65536" }, { "test", "--port", "80x" },
        { "test", "--port", "" }, { "test", "--log-level", "loud" }
    };
    FILE *saved = stderr;
    stderr = fopen ("/dev/null", "w");
    for (size_t index = 0; index < sizeof wrong / sizeof wrong [0]; index++) {
        int argc = wrong [index] [2]? 3: 2;
        assert (gc_options_parse (&options, argc, wrong [index]) == GC_OPTIONS_USAGE);
    }
    setenv ("GC_OPTIONS_TEST_URL", "bad", 1);
    assert (gc_options_parse (&options, 1, bare) == GC_OPTIONS_USAGE);
    unsetenv ("GC_OPTIONS_TEST_URL");
    fclose (stderr);
    stderr = saved;

    //  In order: flags end at the first word, which the program takes
    options.in_order = true;
    options.stray = NULL;
    char *command [] = { "test", "--log-level=info", "--port", "1", "user", "--json", NULL };
    json = false;
    assert (gc_options_parse (&options, 6, command) == GC_OPTIONS_GO_ON);
    assert (options.first == 4 && !json && port == 1);

    opterr = 1;
    gc_log_init ("groupchat", GC_LOG_INFO);
    if (verbose)
        printf ("(defaults, environment, flags, lists, help, usage errors) ");
    printf ("OK\n");
}
