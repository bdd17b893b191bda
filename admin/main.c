/*  main.c: groupchat-admin, administration of a running broker.

    Every change goes through the broker's request socket, never to the
    database behind its back, so the broker's state and its gateways stay
    right: a member removed from a group is put out of the group's room at
    once on every gateway. Passwords are hashed here (argon2id), so the
    slow hash never runs in the broker's loop. */
#include <termios.h>
#include <unistd.h>
#include <czmq.h>
#include <sodium.h>
#include "gc_alloc.h"
#include "gc_codec.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_clock.h"

static const char *s_usage =
    "usage: groupchat-admin [--requests ENDPOINT] [--timeout SECONDS] COMMAND\n"
    "\n"
    "Commands (a group and its chat room share one name):\n"
    "  user add NAME            add a user; password from GROUPCHAT_PASSWORD,\n"
    "                           else read from the terminal without echo\n"
    "  user remove NAME         remove a user (puts them out of every room)\n"
    "  password NAME            set a user's password (ends their sessions)\n"
    "  group add NAME           add a group and its chat room\n"
    "  member add USER GROUP    make USER a member of GROUP\n"
    "  member remove USER GROUP remove USER from GROUP (out of its room at once)\n"
    "  backup PATH              write a consistent copy of the database to PATH\n"
    "                           (a path on the broker's machine)\n"
    "  stats                    print the broker's figures (Prometheus text)\n"
    "\n"
    "  --requests ENDPOINT  broker's request socket  GROUPCHAT_REQUESTS (tcp://localhost:5555)\n"
    "  --timeout SECONDS    how long to wait for the broker (10)\n"
    "\n"
    "Exit status: 0 done, 1 refused or the broker did not answer, 2 usage.\n";

typedef struct {
    const char *words [2];      //  the command's words
    gc_op_t op;
    int arguments;              //  how many names follow
    bool password;              //  needs a password
} s_command_t;

static const s_command_t s_commands [] = {
    { { "user", "add" }, GC_OP_USER_ADD, 1, true },
    { { "user", "remove" }, GC_OP_USER_REMOVE, 1, false },
    { { "password", NULL }, GC_OP_PASSWORD_SET, 1, true },
    { { "group", "add" }, GC_OP_ROOM_ADD, 1, false },
    { { "member", "add" }, GC_OP_MEMBER_ADD, 2, false },
    { { "member", "remove" }, GC_OP_MEMBER_REMOVE, 2, false },
    { { "backup", NULL }, GC_OP_BACKUP, 1, false },
    { { "stats", NULL }, GC_OP_STATS, 0, false },
};

//  Finds the command named by argv; NULL if none or wrong argument count
static const s_command_t *
s_command (int argc, char **argv, char ***names)
{
    for (size_t index = 0; index < sizeof s_commands / sizeof s_commands [0]; index++) {
        const s_command_t *command = &s_commands [index];
        int words = command->words [1]? 2: 1;
        if (argc == words + command->arguments && streq (argv [0], command->words [0])
        &&  (words == 1 || streq (argv [1], command->words [1]))) {
            *names = argv + words;
            return command;
        }
    }
    return NULL;
}

//  The password from GROUPCHAT_PASSWORD, or one line read without echo
static char *
s_password (void)
{
    const char *given = getenv ("GROUPCHAT_PASSWORD");
    if (given)
        return gc_strdup (given);
    struct termios saved, quiet;
    bool terminal = tcgetattr (STDIN_FILENO, &saved) == 0;
    if (terminal) {
        fprintf (stderr, "Password: ");
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        tcsetattr (STDIN_FILENO, TCSANOW, &quiet);
    }
    char *line = NULL;
    size_t size = 0;
    ssize_t length = getline (&line, &size, stdin);
    if (terminal) {
        tcsetattr (STDIN_FILENO, TCSANOW, &saved);
        fprintf (stderr, "\n");
    }
    if (length <= 0) {
        free (line);
        return NULL;
    }
    line [strcspn (line, "\r\n")] = 0;
    return line;
}

//  Fills the request's fields from the command's names and password
static int
s_fill (gc_frame_t *request, const s_command_t *command, char **names, char *hash)
{
    gc_frame_init (request, command->op);
    if (command->op == GC_OP_BACKUP)
        gc_frame_set_cstr (request, GC_F_PATH, names [0]);
    else
    if (command->op == GC_OP_ROOM_ADD)
        gc_frame_set_cstr (request, GC_F_ROOM, names [0]);
    else
    if (command->arguments >= 1)
        gc_frame_set_cstr (request, GC_F_USER, names [0]);
    if (command->arguments == 2)
        gc_frame_set_cstr (request, GC_F_ROOM, names [1]);
    if (!command->password)
        return 0;
    char *password = s_password ();
    if (!password || !*password
    ||  crypto_pwhash_str (hash, password, strlen (password),
                           crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
        fprintf (stderr, "groupchat-admin: no password given\n");
        free (password);
        return -1;
    }
    sodium_memzero (password, strlen (password));
    free (password);
    gc_frame_set_cstr (request, GC_F_HASH, hash);
    return 0;
}

//  Sends the request and prints the outcome; returns the exit status
static int
s_call (const char *endpoint, gc_frame_t *request, int timeout)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    if (!dealer)
        return fprintf (stderr, "groupchat-admin: bad endpoint %s\n", endpoint), 1;
    gc_frame_set_uint (request, GC_F_RID, 1);
    //  If we stop waiting, the broker must not do it later
    gc_frame_set_uint (request, GC_F_DEADLINE, (uint64_t) (gc_clock_wall_ms () + timeout * 1000LL));
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    gc_frame_encode (request, &buffer);
    zmq_send (zsock_resolve (dealer), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
    int status = 1;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zframe_t *frame = zpoller_wait (poller, timeout * 1000)? zframe_recv (dealer): NULL;
    gc_frame_t reply;
    if (!frame)
        fprintf (stderr, "groupchat-admin: the broker at %s did not answer\n", endpoint);
    else
    if (gc_frame_decode (&reply, zframe_data (frame), zframe_size (frame)) == 0) {
        if (reply.op == GC_OP_OK) {
            status = 0;
            if (reply.fields & GC_F_TEXT)
                fwrite (reply.text.ptr, 1, reply.text.len, stdout);
            else
                printf ("done\n");
        }
        else
            fprintf (stderr, "groupchat-admin: %s: %.*s\n", gc_error_name (reply.code),
                     (int) reply.message.len, reply.message.ptr);
        gc_frame_release (&reply);
    }
    zframe_destroy (&frame);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return status;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = "tcp://localhost:5555", *timeout_text = "10";
    gc_option_t table [] = {
        { .name = "requests", .env = "GROUPCHAT_REQUESTS", .text = &endpoint },
        { .name = "timeout", .text = &timeout_text },
        { NULL }
    };
    //  In order: a command's names may start with a dash
    gc_options_t options = {
        .program = "groupchat-admin", .usage = s_usage, .options = table, .in_order = true
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    int timeout = atoi (timeout_text);
    char **names;
    const s_command_t *command = s_command (argc - options.first, argv + options.first, &names);
    if (!command)
        return gc_options_error (&options, options.first < argc? "unknown command or wrong arguments": "no command");
    if (timeout < 1)
        return gc_options_error (&options, "--timeout must be at least 1");
    if (sodium_init () < 0)
        return 1;
    zsys_handler_set (NULL);
    gc_frame_t request;
    char hash [crypto_pwhash_STRBYTES];
    if (s_fill (&request, command, names, hash))
        return 1;
    status = s_call (endpoint, &request, timeout);
    zsys_shutdown ();
    return status;
}
