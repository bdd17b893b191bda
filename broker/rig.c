/*  rig.c: the broker's self-test rig (see rig.h). */
#include "rig.h"
#include "gc_alloc.h"

gc_rig_t *
gc_rig_new (void)
{
    gc_rig_t *self = gc_calloc (1, sizeof *self);
    snprintf (self->path, sizeof self->path, "/tmp/gc_rig_XXXXXX");
    close (mkstemp (self->path));
    self->store = gc_store_new (self->path, GC_SEED_DEMO);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://gc-rig-%p-requests", (void *) self);
    self->router = zsock_new_router (endpoint);
    self->dealer = zsock_new (ZMQ_DEALER);
    zsock_connect (self->dealer, "%s", endpoint);
    snprintf (endpoint, sizeof endpoint, "inproc://gc-rig-%p-events", (void *) self);
    self->xpub = zsock_new_xpub (endpoint);
    zsock_set_xpub_verbose (self->xpub, 1);
    self->sub = zsock_new (ZMQ_SUB);
    zsock_connect (self->sub, "%s", endpoint);
    assert (self->store && self->router && self->dealer && self->xpub && self->sub);
    self->reply = gc_replier_new (self->router, self->xpub);
    //  The router learns the dealer's identity from a first message
    zstr_send (self->dealer, "hello");
    zmsg_t *hello = zmsg_recv (self->router);
    self->identity.size = zframe_size (zmsg_first (hello));
    memcpy (self->identity.data, zframe_data (zmsg_first (hello)), self->identity.size);
    zmsg_destroy (&hello);
    return self;
}

void
gc_rig_destroy (gc_rig_t **self_p)
{
    gc_rig_t *self = *self_p;
    if (!self)
        return;
    gc_replier_destroy (&self->reply);
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->sub);
    zsock_destroy (&self->router);
    zsock_destroy (&self->xpub);
    gc_store_destroy (&self->store);
    gc_rig_unlink (self->path);
    if (self->capture)
        fclose (self->capture);
    free (self->captured);
    free (self);
    *self_p = NULL;
}

void
gc_rig_request (gc_rig_t *self, gc_broker_request_t *request, gc_op_t op,
                const char *user, const char *room)
{
    request->identity = self->identity;
    gc_frame_init (&request->frame, op);
    gc_frame_set_uint (&request->frame, GC_F_RID, ++self->rid);
    if (user)
        gc_frame_set_cstr (&request->frame, GC_F_USER, user);
    if (room)
        gc_frame_set_cstr (&request->frame, GC_F_ROOM, room);
}

void
gc_rig_recv (zsock_t *sock, gc_frame_t *frame, zmsg_t **holder)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (zpoller_wait (poller, 10000) == sock);
    zpoller_destroy (&poller);
    *holder = zmsg_recv (sock);
    zframe_t *body = zmsg_last (*holder);
    assert (gc_frame_decode (frame, zframe_data (body), zframe_size (body)) == 0);
}

gc_error_t
gc_rig_reply (gc_rig_t *self)
{
    gc_frame_t reply;
    zmsg_t *holder;
    gc_rig_recv (self->dealer, &reply, &holder);
    assert (reply.rid == self->rid);
    gc_error_t code = reply.op == GC_OP_OK? GC_OK: reply.code;
    gc_frame_release (&reply);
    zmsg_destroy (&holder);
    return code;
}

void
gc_rig_subscribe (gc_rig_t *self, const char *room)
{
    if (!room)
        room = GC_TOPIC_USERS;
    zmq_setsockopt (zsock_resolve (self->sub), ZMQ_SUBSCRIBE, room, strlen (room) + 1);
    zframe_t *subscription = zframe_recv (self->xpub);
    assert (subscription && zframe_size (subscription) == strlen (room) + 2);
    zframe_destroy (&subscription);
}

FILE *
gc_rig_capture (gc_rig_t *self)
{
    if (!self->capture)
        self->capture = gc_alloc_checked (open_memstream (&self->captured, &self->captured_size));
    return self->capture;
}

bool
gc_rig_captured (gc_rig_t *self, const char *line)
{
    fflush (gc_rig_capture (self));
    size_t size = strlen (line);
    for (const char *at = strstr (self->captured, line); at; at = strstr (at + 1, line))
        if ((at == self->captured || at [-1] == '\n') && at [size] == '\n')
            return true;
    return false;
}

void
gc_rig_unlink (const char *path)
{
    char other [80];
    unlink (path);
    snprintf (other, sizeof other, "%s-wal", path), unlink (other);
    snprintf (other, sizeof other, "%s-shm", path), unlink (other);
}
