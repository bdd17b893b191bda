/*  main.c: groupchat-admin, administration of a running broker.

    Every change goes through the broker's request socket, never to the
    database behind its back, so the broker's state and its gateways stay
    right: a member removed from a group is put out of the group's room at
    once on every gateway. Passwords are hashed here (argon2id), so the
    slow hash never runs in the broker's loop. Names listed come from the
    network: they are printed escaped (common/gc_escape), never as terminal
    controls, and so are the broker's texts. It also makes the broker
    link's keys (`keys init`, `keys add`), on this host: they are files,
    never sent anywhere. */
#include <termios.h>
#include <unistd.h>
#include <czmq.h>
#include <jansson.h>
#include <sodium.h>
#include "gc_alloc.h"
#include "gc_codec.h"
#include "gc_endpoints.h"
#include "gc_escape.h"
#include "gc_log.h"
#include "gc_options.h"
#include "gc_clock.h"
#include "gc_keys.h"
#include "gc_limits.h"

static const char *s_usage =
    "usage: groupchat-admin [--requests ENDPOINT ...] [--keys DIR] [--insecure]\n"
    "                       [--timeout SECONDS] [--json] COMMAND\n"
    "\n"
    "Commands (a group and its chat room share one name):\n"
    "  users                    list every user\n"
    "  groups [USER]            list every group, or the groups USER is a member of\n"
    "  members GROUP            list the members of GROUP\n"
    "  user add NAME            add a user; password from GROUPCHAT_PASSWORD,\n"
    "                           else asked twice on the terminal without echo\n"
    "  user remove NAME         remove a user (puts them out of every room)\n"
    "  password NAME            set a user's password (ends their sessions)\n"
    "  group add NAME           add a group and its chat room\n"
    "  member add USER GROUP    make USER a member of GROUP\n"
    "  member remove USER GROUP remove USER from GROUP (out of its room at once)\n"
    "  backup NAME              write a consistent copy of the database as NAME in\n"
    "                           the broker's --backup-dir: a file name, or a path\n"
    "                           through folders there (no '..'); never over a file\n"
    "  stats                    print the broker's figures (Prometheus text)\n"
    "\n"
    "Keys of the broker link, made here and never sent (docs/security.md):\n"
    "  keys init DIR            make what is missing of DIR/broker, DIR/gateway and\n"
    "                           DIR/admin: each program's key folder; never\n"
    "                           replaces a key\n"
    "  keys add gateway|admin NAME DIR\n"
    "                           one more key: its folder DIR/gateway-NAME (or\n"
    "                           admin-NAME), trusted as DIR/broker/gateways/NAME.cert\n"
    "                           (admins/); delete that file to revoke it\n"
    "\n"
    "  --requests ENDPOINT  broker's request socket  GROUPCHAT_REQUESTS (tcp://localhost:5555)\n"
    "                       repeatable (the variable: comma-separated): each broker\n"
    "                       is tried in turn, for its share of the timeout, and the\n"
    "                       command runs on the first that answers\n"
    "  --keys DIR           this tool's key folder (admin.cert_secret and broker.cert)\n"
    "                                                GROUPCHAT_KEYS (none)\n"
    "  --insecure           allow a broker on another host without keys\n"
    "                                                GROUPCHAT_INSECURE=1\n"
    "  --timeout SECONDS    how long to wait for the broker (10)\n"
    "  --json               a list as one JSON array of strings (may also end\n"
    "                       a listing command); else one name a line, control\n"
    "                       characters and backslashes escaped (\\x1b, \\\\)\n"
    "\n"
    "Exit status: 0 done, 1 refused or the broker did not answer, 2 usage.\n";

typedef struct {
    const char *words [2];      //  the command's words
    gc_op_t op;
    int arguments;              //  how many names follow
    uint32_t fields [2];        //  the request field each name goes in
    bool password;              //  needs a password
} s_command_t;

static const s_command_t s_commands [] = {
    { { "users", NULL }, GC_OP_USER_LIST, 0, { 0 }, false },
    { { "groups", NULL }, GC_OP_ROOM_LIST, 0, { 0 }, false },
    { { "groups", NULL }, GC_OP_ROOM_LIST, 1, { GC_F_USER }, false },
    { { "members", NULL }, GC_OP_MEMBER_LIST, 1, { GC_F_ROOM }, false },
    { { "user", "add" }, GC_OP_USER_ADD, 1, { GC_F_USER }, true },
    { { "user", "remove" }, GC_OP_USER_REMOVE, 1, { GC_F_USER }, false },
    { { "password", NULL }, GC_OP_PASSWORD_SET, 1, { GC_F_USER }, true },
    { { "group", "add" }, GC_OP_ROOM_ADD, 1, { GC_F_ROOM }, false },
    { { "member", "add" }, GC_OP_MEMBER_ADD, 2, { GC_F_USER, GC_F_ROOM }, false },
    { { "member", "remove" }, GC_OP_MEMBER_REMOVE, 2, { GC_F_USER, GC_F_ROOM }, false },
    { { "backup", NULL }, GC_OP_BACKUP, 1, { GC_F_PATH }, false },
    { { "stats", NULL }, GC_OP_STATS, 0, { 0 }, false },
};

static bool
s_is_listing (const s_command_t *command)
{
    return command->op == GC_OP_USER_LIST || command->op == GC_OP_ROOM_LIST
        || command->op == GC_OP_MEMBER_LIST;
}

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

//  One line from stdin, after prompt and without echo on a terminal; NULL
//  at the end of input
static char *
s_line (const char *prompt, bool terminal)
{
    struct termios saved, quiet;
    //  Echo goes off before the prompt shows, so nothing typed after it echoes
    if (terminal) {
        tcgetattr (STDIN_FILENO, &saved);
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        tcsetattr (STDIN_FILENO, TCSANOW, &quiet);
        fprintf (stderr, "%s", prompt);
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

static void
s_forget (char *password)
{
    if (password)
        sodium_memzero (password, strlen (password));
    free (password);
}

//  The password from GROUPCHAT_PASSWORD, or read from stdin; asked twice
//  on a terminal, where a typing mistake would go unseen. NULL, after
//  saying why, when there is none
static char *
s_password (void)
{
    const char *given = getenv ("GROUPCHAT_PASSWORD");
    if (given)
        return gc_strdup (given);
    bool terminal = isatty (STDIN_FILENO);
    char *password = s_line ("Password: ", terminal);
    if (!password || !*password) {
        fprintf (stderr, "groupchat-admin: no password given\n");
        s_forget (password);
        return NULL;
    }
    char *again = terminal? s_line ("Password again: ", terminal): NULL;
    bool differ = terminal && (!again || strcmp (password, again) != 0);
    s_forget (again);
    if (differ) {
        fprintf (stderr, "groupchat-admin: the passwords differ, nothing changed\n");
        s_forget (password);
        return NULL;
    }
    return password;
}

//  Fills the request's fields from the command's names and password
static int
s_fill (gc_frame_t *request, const s_command_t *command, char **names, char *hash)
{
    gc_frame_init (request, command->op);
    for (int index = 0; index < command->arguments; index++)
        gc_frame_set_cstr (request, command->fields [index], names [index]);
    if (!command->password)
        return 0;
    char *password = s_password ();
    if (!password)
        return -1;
    int rc = crypto_pwhash_str (hash, password, strlen (password),
                                crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    s_forget (password);
    if (rc) {
        fprintf (stderr, "groupchat-admin: cannot hash the password (out of memory)\n");
        return -1;
    }
    gc_frame_set_cstr (request, GC_F_HASH, hash);
    return 0;
}

//  --------------------------------------------------------------------------
//  Printing names

//  Writes name escaped by gc_escape, backslash doubled (\x1b, \\), so a
//  name can never drive the terminal it is shown on and reads back
static void
s_escape (FILE *stream, gc_str_t name)
{
    gc_escape_write (stream, name.ptr, name.len, GC_ESCAPE_HEX | GC_ESCAPE_BACKSLASH);
}

//  One JSON string; a name that is not UTF-8 is given escaped, as above
static json_t *
s_json_name (gc_str_t name)
{
    json_t *string = json_stringn (name.ptr, name.len);
    if (string)
        return string;
    char *text = NULL;
    size_t size = 0;
    FILE *stream = gc_alloc_checked (open_memstream (&text, &size));
    s_escape (stream, name);
    fclose (stream);
    string = gc_alloc_checked (json_string (text));
    free (text);
    return string;
}

static void
s_print_names (const gc_frame_t *reply, bool json)
{
    if (!json) {
        for (size_t index = 0; index < reply->names_size; index++) {
            s_escape (stdout, reply->names [index]);
            fputc ('\n', stdout);
        }
        return;
    }
    json_t *array = gc_alloc_checked (json_array ());
    for (size_t index = 0; index < reply->names_size; index++)
        if (json_array_append_new (array, s_json_name (reply->names [index])))
            gc_alloc_fail (__FILE__, __LINE__);
    char *text = gc_alloc_checked (json_dumps (array, JSON_COMPACT));
    char *shown = gc_escape (text, GC_ESCAPE_JSON);
    printf ("%s\n", shown);
    free (shown);
    free (text);
    json_decref (array);
}

//  A DEALER to the broker, with keys if any, and a PAIR that hears when
//  the broker refuses the handshake (ZeroMQ then gives up in silence)
static zsock_t *
s_dial (const char *endpoint, gc_keys_t *keys, zsock_t **refusals)
{
    //  A monitor endpoint of its own for each broker tried
    static int dialled;
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://groupchat-admin-monitor-%d", dialled++);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    //  Whoever answers, nothing larger than the broker ever sends is read
    zsock_set_maxmsgsize (dealer, GC_LINK_MESSAGE_MAX);
    if (keys)
        gc_keys_dial (keys, dealer);
    *refusals = NULL;
    if (zmq_socket_monitor (zsock_resolve (dealer), monitor, GC_KEYS_REFUSED) == 0) {
        *refusals = zsock_new (ZMQ_PAIR);
        if (*refusals && zsock_connect (*refusals, "%s", monitor) != 0)
            zsock_destroy (refusals);
    }
    if (!*refusals || zsock_connect (dealer, "%s", endpoint) != 0) {
        zsock_destroy (refusals);
        zsock_destroy (&dealer);
    }
    return dealer;
}

//  What s_call returns when the broker did not answer (or refused us):
//  the next one may
#define S_NO_ANSWER -1

//  Sends the request and prints the outcome; returns the exit status,
//  or S_NO_ANSWER
static int
s_call (const char *endpoint, gc_keys_t *keys, gc_frame_t *request, int64_t timeout_ms,
        bool json)
{
    zsock_t *refusals;
    zsock_t *dealer = s_dial (endpoint, keys, &refusals);
    if (!dealer)
        return fprintf (stderr, "groupchat-admin: bad endpoint %s\n", endpoint), 1;
    gc_frame_set_uint (request, GC_F_RID, 1);
    //  If we stop waiting, the broker must not do it later
    gc_frame_set_uint (request, GC_F_DEADLINE, (uint64_t) (gc_clock_wall_ms () + timeout_ms));
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    gc_frame_encode (request, &buffer);
    zmq_send (zsock_resolve (dealer), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
    int status = S_NO_ANSWER;
    zpoller_t *poller = zpoller_new (dealer, refusals, NULL);
    void *ready = zpoller_wait (poller, (int) timeout_ms);
    zframe_t *frame = ready == dealer? zframe_recv (dealer): NULL;
    gc_frame_t reply;
    if (ready == refusals)
        fprintf (stderr, "groupchat-admin: the broker at %s refused the handshake: %s\n", endpoint,
                 keys? "is this tool's public key in the broker's admins/ folder, and "
                       "broker.cert the broker's own? (docs/security.md)"
                     : "it wants keys (--keys DIR)");
    else
    if (!frame)
        fprintf (stderr, "groupchat-admin: the broker at %s did not answer\n", endpoint);
    else
    if (gc_frame_decode (&reply, zframe_data (frame), zframe_size (frame)) == 0) {
        status = 1;
        if (reply.op == GC_OP_OK) {
            status = 0;
            if (reply.fields & GC_F_NAMES)
                s_print_names (&reply, json);
            else
            if (reply.fields & GC_F_TEXT)
                gc_escape_write (stdout, reply.text.ptr, reply.text.len,
                                 GC_ESCAPE_HEX | GC_ESCAPE_LINES);
            else
                printf ("done\n");
        }
        else {
            fprintf (stderr, "groupchat-admin: %s: ", gc_error_name (reply.code));
            gc_escape_write (stderr, reply.message.ptr, reply.message.len, GC_ESCAPE_HEX);
            fputc ('\n', stderr);
        }
        gc_frame_release (&reply);
    }
    zframe_destroy (&frame);
    zpoller_destroy (&poller);
    //  Closing the socket ends its monitor; the monitor's peer goes last
    zsock_destroy (&dealer);
    zsock_destroy (&refusals);
    return status;
}

//  keys init DIR, keys add ROLE NAME DIR: files only, no broker; returns
//  the exit status
static int
s_keys (gc_options_t *options, int argc, char **argv)
{
    int rc;
    if (argc == 3 && streq (argv [1], "init"))
        rc = gc_keys_init (argv [2], stdout);
    else
    if (argc == 5 && streq (argv [1], "add"))
        rc = gc_keys_add (argv [4], argv [2], argv [3], stdout);
    else
        return gc_options_error (options, "keys init DIR, or keys add gateway|admin NAME DIR");
    fflush (stdout);
    if (rc)
        fprintf (stderr, "groupchat-admin: keys %s failed, nothing was replaced\n", argv [1]);
    return rc? 1: 0;
}

//  Tries each broker in turn, each for its share of timeout (a broker
//  that is not the one serving does not answer), until one answers;
//  returns the exit status
static int
s_call_any (const gc_endpoints_t *endpoints, gc_keys_t *keys, gc_frame_t *request,
            int timeout, bool json)
{
    size_t count = gc_endpoints_count (endpoints);
    int64_t share_ms = timeout * 1000LL / (int64_t) count;
    int status = S_NO_ANSWER;
    for (size_t index = 0; index < count && status == S_NO_ANSWER; index++)
        status = s_call (gc_endpoints_requests (endpoints, index), keys, request, share_ms, json);
    return status == S_NO_ANSWER? 1: status;
}

//  Sends command to the brokers of endpoints; returns the exit status
static int
s_command_broker (const s_command_t *command, char **names, const gc_endpoints_t *endpoints,
                  const char *keys_dir, int timeout, bool json)
{
    if (sodium_init () < 0)
        return 1;
    gc_keys_t *keys = NULL;
    if (keys_dir && *keys_dir && !(keys = gc_keys_load (keys_dir, "admin")))
        return 1;
    gc_frame_t request;
    char hash [crypto_pwhash_STRBYTES];
    int status = s_fill (&request, command, names, hash)? 1
               : s_call_any (endpoints, keys, &request, timeout, json);
    gc_keys_destroy (&keys);
    return status;
}

//  Parses the command line and runs its command; returns the exit status
static int
s_main (int argc, char *argv [], gc_endpoints_t *endpoints)
{
    const char *timeout_text = "10", *keys = NULL;
    bool json = false, insecure = false;
    gc_option_t table [] = {
        { .name = "requests", .env = "GROUPCHAT_REQUESTS", .take = gc_endpoints_take_requests,
          .arg = endpoints },
        GC_OPTION_KEYS (&keys, &insecure),
        { .name = "timeout", .text = &timeout_text },
        { .name = "json", .set = &json },
        { .name = NULL }
    };
    //  In order: a command's names may start with a dash
    gc_options_t options = {
        .program = "groupchat-admin", .usage = s_usage, .options = table, .in_order = true
    };
    int status = gc_options_parse (&options, argc, argv);
    if (status != GC_OPTIONS_GO_ON)
        return status;
    gc_endpoints_complete (endpoints, "tcp://localhost:5555", NULL);
    int timeout = atoi (timeout_text);
    if (options.first < argc && streq (argv [options.first], "keys"))
        return s_keys (&options, argc - options.first, argv + options.first);
    char **names;
    const s_command_t *command = s_command (argc - options.first, argv + options.first, &names);
    //  A listing command may end with --json ("groups --json"); a name
    //  it would leave missing stays a name ("members --json")
    char **listed;
    if (argc > options.first && streq (argv [argc - 1], "--json")) {
        const s_command_t *listing = s_command (argc - 1 - options.first, argv + options.first, &listed);
        if (listing && s_is_listing (listing))
            command = listing, names = listed, json = true;
    }
    if (!command)
        return gc_options_error (&options, options.first < argc? "unknown command or wrong arguments": "no command");
    if (timeout < 1)
        return gc_options_error (&options, "--timeout must be at least 1");
    char why [400];
    for (size_t index = 0; index < gc_endpoints_count (endpoints); index++)
        if (gc_keys_allow (gc_endpoints_requests (endpoints, index), keys && *keys, insecure,
                           why, sizeof why))
            return gc_options_error (&options, why);
    zsys_handler_set (NULL);
    status = s_command_broker (command, names, endpoints, keys, timeout, json);
    zsys_shutdown ();
    return status;
}

int
main (int argc, char *argv [])
{
    gc_endpoints_t *endpoints = gc_endpoints_new ();
    int status = s_main (argc, argv, endpoints);
    gc_endpoints_destroy (&endpoints);
    return status;
}
