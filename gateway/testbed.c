/*  testbed.c: a real broker beside this process, for the gateway's
    self-tests.

    The broker runs as its own program (groupchat-broker, found beside
    the running binary), as it does in production: the gateway binary
    carries no broker code, and the tests cross a real TCP link. The
    child dies with its parent (PR_SET_PDEATHSIG), so a failed assertion
    never leaves a broker behind. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <czmq.h>
#include "testbed.h"
#include "gc_codec.h"
#include "link.h"
#include "gc_alloc.h"

struct gc_testbed_t {
    char path [32];             //  the broker's database
    pid_t broker;               //  the broker's process, 0 while stopped
    char requests [32];         //  tcp://127.0.0.1:PORT
    char events [32];
};

//  The lowest port the kernel gives outgoing connections
static int
s_ephemeral_low (void)
{
    int low = 32768;
    FILE *file = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (file) {
        if (fscanf (file, "%d", &low) != 1)
            low = 32768;
        fclose (file);
    }
    return low;
}

//  Two loopback ports free at this moment, below the ephemeral range:
//  a port from that range can be taken, before the broker binds it, by
//  a client connecting early that is given it as its own local port
//  (TCP simultaneous open on loopback). Both are held while choosing,
//  so they differ.
static void
s_free_ports (int *first, int *second)
{
    int fds [2], *ports [2] = { first, second };
    unsigned seed = (unsigned) getpid () ^ (unsigned) gc_clock_mono_us ();
    int span = s_ephemeral_low () - 10000;
    for (int index = 0; index < 2; index++) {
        fds [index] = socket (AF_INET, SOCK_STREAM, 0);
        assert (fds [index] >= 0 && span > 0);
        struct sockaddr_in address = { .sin_family = AF_INET,
                                       .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        do
            *ports [index] = 10000 + rand_r (&seed) % span;
        while (address.sin_port = htons ((uint16_t) *ports [index]),
               bind (fds [index], (struct sockaddr *) &address, sizeof address) != 0);
    }
    close (fds [0]), close (fds [1]);
}

//  Waits for the broker's answer to a ping: then both its sockets are
//  bound and it serves. False when none came in time.
static bool
s_answers (const char *requests)
{
    zsock_t *dealer = zsock_new_dealer (requests);
    gc_frame_t ping;
    gc_frame_init (&ping, GC_OP_PING);
    gc_frame_set_uint (&ping, GC_F_RID, 1);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    gc_frame_encode (&ping, &buffer);
    zsock_set_rcvtimeo (dealer, GC_TESTBED_WAIT_MS);
    zmq_send (zsock_resolve (dealer), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
    zframe_t *reply = zframe_recv (dealer);
    bool answered = reply != NULL;
    zframe_destroy (&reply);
    zsock_destroy (&dealer);
    return answered;
}

static void
s_exec_broker (gc_testbed_t *self)
{
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    char program [PATH_MAX];
    ssize_t size = readlink ("/proc/self/exe", program, sizeof program - 32);
    assert (size > 0);
    program [size] = 0;
    strcat (dirname (program), "/groupchat-broker");
    int null = open ("/dev/null", O_WRONLY);
    dup2 (null, STDOUT_FILENO);
    execl (program, program, "--db", self->path, "--requests", self->requests,
           "--events", self->events, "--log-level", "error", (char *) NULL);
    _exit (127);
}

gc_testbed_t *
gc_testbed_new (void)
{
    lws_set_log_level (LLL_ERR, NULL);
    gc_testbed_t *self = gc_calloc (1, sizeof *self);
    strcpy (self->path, "/tmp/gc_testbed_XXXXXX");
    int fd = mkstemp (self->path);
    assert (fd >= 0);
    close (fd);
    int requests_port, events_port;
    s_free_ports (&requests_port, &events_port);
    snprintf (self->requests, sizeof self->requests, "tcp://127.0.0.1:%d", requests_port);
    snprintf (self->events, sizeof self->events, "tcp://127.0.0.1:%d", events_port);
    gc_testbed_start_broker (self);
    return self;
}

void
gc_testbed_destroy (gc_testbed_t **self_p)
{
    gc_testbed_t *self = *self_p;
    if (!self)
        return;
    if (self->broker)
        gc_testbed_stop_broker (self, SIGTERM);
    char other [sizeof self->path + 4];
    unlink (self->path);
    snprintf (other, sizeof other, "%s-wal", self->path), unlink (other);
    snprintf (other, sizeof other, "%s-shm", self->path), unlink (other);
    free (self);
    *self_p = NULL;
}

void
gc_testbed_stop_broker (gc_testbed_t *self, int signum)
{
    assert (self->broker);
    int status = 0;
    kill (self->broker, signum);
    assert (waitpid (self->broker, &status, 0) == self->broker);
    if (signum == SIGTERM)
        assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    self->broker = 0;
}

void
gc_testbed_start_broker (gc_testbed_t *self)
{
    assert (!self->broker);
    self->broker = fork ();
    assert (self->broker >= 0);
    if (self->broker == 0)
        s_exec_broker (self);
    assert (s_answers (self->requests));
}

const char *
gc_testbed_requests (gc_testbed_t *self)
{
    return self->requests;
}

const char *
gc_testbed_events (gc_testbed_t *self)
{
    return self->events;
}

struct lws_context *
gc_testbed_context (void)
{
    static const struct lws_protocols protocols [] = {
        { .name = GC_LINK_PROTOCOL, .callback = gc_link_callback },
        { 0 }
    };
    struct lws_context_creation_info info = {
        .port = CONTEXT_PORT_NO_LISTEN,
        .protocols = protocols,
    };
    struct lws_context *context = lws_create_context (&info);
    assert (context);
    return context;
}

gc_link_t *
gc_testbed_link (gc_testbed_t *self, struct lws_context *context,
                 gc_link_event_fn *on_event, void *arg)
{
    gc_endpoints_t *endpoints = gc_endpoints_new ();
    gc_endpoints_complete (endpoints, self->requests, self->events);
    gc_link_t *link = gc_link_new (context, lws_get_vhost_by_name (context, "default"),
                                   endpoints, NULL, on_event, arg);
    gc_endpoints_destroy (&endpoints);
    assert (link);
    return link;
}

void
gc_testbed_unlink (gc_link_t **link_p, struct lws_context *context)
{
    gc_link_stop (*link_p);
    lws_context_destroy (context);
    gc_link_destroy (link_p);
}

json_t *
gc_testbed_frame (const gc_out_t *frame)
{
    json_t *root = json_loadb ((const char *) frame->data + LWS_PRE, frame->size, 0, NULL);
    assert (root);
    return root;
}
