/*  main.c: groupchat, the command-line client.

    Only wiring: flags into either the interactive client (ui.c) or the
    plain mode for scripts (plain.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plain.h"
#include "ui.h"
#include "gc_options.h"
#include "gc_pem.h"

static const char *s_usage =
    "usage: groupchat [ws://HOST:PORT ...]\n"
    "       groupchat --user NAME --room ROOM (--say TEXT | --say - | --follow) [--json]\n"
    "                 [ws://HOST:PORT ...]\n"
    "\n"
    "Chat rooms for your groups. Without --say or --follow it is interactive:\n"
    "it asks for your user name and password (or takes --user and\n"
    "GROUPCHAT_PASSWORD), then offers \"Join a chat room\". In a room, a typed\n"
    "line is said (//TEXT says /TEXT); /join ROOM goes to another room, the\n"
    "one left counting its unread messages; /leave goes back to the menu,\n"
    "/history shows 10 older messages, /rooms lists your rooms, /help lists\n"
    "the commands, /quit or Ctrl-D exits. Tab completes commands, rooms and\n"
    "people. Names are coloured on a terminal unless NO_COLOR is set.\n"
    "\n"
    "If the connection drops, it reconnects by itself (to the next URL when\n"
    "several are given), logs in again with its token and shows what was\n"
    "missed: nothing lost, nothing twice. A line typed while it is down shows\n"
    "as (pending) and is sent after the reconnect, stored once. When no\n"
    "gateway answers it says so and tries again, waiting longer each time\n"
    "(up to 30 s).\n"
    "\n"
    "Plain mode, for scripts (password from GROUPCHAT_PASSWORD, never asked):\n"
    "  --user NAME    log in as NAME\n"
    "  --room ROOM    the room to use\n"
    "  --say TEXT     say TEXT, exit 0 once it is stored; --say - says each\n"
    "                 line of standard input as it is read (blank ones skipped);\n"
    "                 each URL is tried once, then it exits 1; once connected,\n"
    "                 a lost connection is waited out (about 15 s) and\n"
    "                 every line is stored once\n"
    "  --follow       print the last 10 messages, then each new one, until\n"
    "                 interrupted (exit 0)\n"
    "  --json         print the protocol's message objects, one per line\n"
    "\n"
    "Always:\n"
    "  --ca FILE      trust the CAs of FILE (PEM) instead of the system's for\n"
    "                 wss:// servers (GROUPCHAT_CA), e.g. a self-signed\n"
    "                 gateway's own certificate\n"
    "  -h, --help     this text\n"
    "\n"
    "The default URL is ws://localhost:8080. A wss:// server must have a\n"
    "certificate that is trusted and names the URL's host; one that does not\n"
    "is refused, and the client exits.\n"
    "If an administrator removes your account or changes your password, the\n"
    "server ends the session: it says so and asks for a login again (plain\n"
    "mode exits 3); it never comes back with the old session.\n"
    "\n"
    "Exit status: 0 done, 1 refused by the server, connection failure, an\n"
    "untrusted certificate or an unreadable --ca file, 2 usage, 3 the session\n"
    "was ended by the server (account removed or password changed).\n";

typedef struct {
    const char *user, *room, *say, *ca;
    bool follow, json;
} s_flags_t;

static int
s_plain (gc_options_t *options, const s_flags_t *flags, char **urls, int url_count)
{
    const char *password = getenv ("GROUPCHAT_PASSWORD");
    if (!flags->user || !flags->room)
        return gc_options_error (options, "--say and --follow need --user and --room");
    if (flags->say && flags->follow)
        return gc_options_error (options, "--say or --follow, not both");
    if (!password)
        return gc_options_error (options, "plain mode takes the password from GROUPCHAT_PASSWORD");
    gc_plain_config_t config = {
        urls, url_count, flags->user, password, flags->room, flags->say, flags->json, flags->ca
    };
    return gc_plain_run (&config);
}

//  0 when there is no CA file or it can be used; else -1, said on stderr
static int
s_check_ca (const char *path)
{
    char why [256];
    if (!path || gc_pem_check (path, GC_PEM_CERTIFICATE, why, sizeof why) == 0)
        return 0;
    fprintf (stderr, "groupchat: --ca %s: %s\n", path, why);
    return -1;
}

//  -h is --help, as people try first; not where it is a flag's value
static void
s_short_help (int argc, char *argv [])
{
    static char help [] = "--help";
    static const char *valued [] = { "--user", "--room", "--say", "--ca", NULL };
    for (int index = 1; index < argc; index++) {
        bool value = false;
        for (const char **flag = valued; *flag; flag++)
            value |= strcmp (argv [index - 1], *flag) == 0;
        if (strcmp (argv [index], "-h") == 0 && !value)
            argv [index] = help;
    }
}

int
main (int argc, char *argv [])
{
    s_flags_t flags = { 0 };
    gc_option_t table [] = {
        { .name = "user", .text = &flags.user },
        { .name = "room", .text = &flags.room },
        { .name = "say", .text = &flags.say },
        { .name = "follow", .set = &flags.follow },
        { .name = "json", .set = &flags.json },
        { .name = "ca", .env = "GROUPCHAT_CA", .text = &flags.ca },
        { .name = NULL }
    };
    gc_options_t options = { .program = "groupchat", .usage = s_usage, .options = table };
    s_short_help (argc, argv);
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    static char *default_url [] = { "ws://localhost:8080" };
    int first = options.first;
    char **urls = first < argc? argv + first: default_url;
    int url_count = first < argc? argc - first: 1;
    for (int index = 0; index < url_count; index++)
        if (strncmp (urls [index], "ws://", 5) && strncmp (urls [index], "wss://", 6))
            return gc_options_error (&options, "a URL starts with ws:// or wss://");
    if (s_check_ca (flags.ca))
        return 1;
    if (flags.say || flags.follow)
        return s_plain (&options, &flags, urls, url_count);
    if (flags.room || flags.json)
        return gc_options_error (&options, "--room and --json go with --say or --follow");
    if (!isatty (STDIN_FILENO))
        return gc_options_error (&options,
                                 "the interactive client needs a terminal; use --say or --follow");
    gc_ui_config_t config = { urls, url_count, flags.user, getenv ("GROUPCHAT_PASSWORD"), flags.ca };
    return gc_ui_run (&config);
}
