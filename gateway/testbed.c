/*  testbed.c: a real broker in this process, for the gateway's self-tests. */
#include <assert.h>
#include <unistd.h>
#include "testbed.h"
#include "link.h"
#include "gc_alloc.h"
#include "../broker/broker.h"

struct gc_testbed_t {
    char path [32];             //  the broker's database
    gc_broker_t *broker;
};

gc_testbed_t *
gc_testbed_new (void)
{
    lws_set_log_level (LLL_ERR, NULL);
    gc_testbed_t *self = gc_calloc (1, sizeof *self);
    strcpy (self->path, "/tmp/gc_testbed_XXXXXX");
    int fd = mkstemp (self->path);
    assert (fd >= 0);
    close (fd);
    gc_broker_config_t config = { self->path, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*" };
    self->broker = gc_broker_new (&config);
    assert (self->broker);
    return self;
}

void
gc_testbed_destroy (gc_testbed_t **self_p)
{
    gc_testbed_t *self = *self_p;
    if (!self)
        return;
    gc_broker_destroy (&self->broker);
    char other [sizeof self->path + 4];
    unlink (self->path);
    snprintf (other, sizeof other, "%s-wal", self->path), unlink (other);
    snprintf (other, sizeof other, "%s-shm", self->path), unlink (other);
    free (self);
    *self_p = NULL;
}

const char *
gc_testbed_requests (gc_testbed_t *self)
{
    return gc_broker_requests_endpoint (self->broker);
}

const char *
gc_testbed_events (gc_testbed_t *self)
{
    return gc_broker_events_endpoint (self->broker);
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

json_t *
gc_testbed_frame (const gc_out_t *frame)
{
    json_t *root = json_loadb ((const char *) frame->data + LWS_PRE, frame->size, 0, NULL);
    assert (root);
    return root;
}
