/*  replier.c: the broker's replier; every byte the broker sends goes
    through here, encoded once into one reused buffer. */
#include "replier.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_log.h"

struct gc_replier_t {
    zsock_t *router;            //  replies, by routing identity
    zsock_t *xpub;              //  events, by room topic or the users topic
    msgpack_sbuffer buffer;     //  encode buffer, reused
};

gc_replier_t *
gc_replier_new (zsock_t *router, zsock_t *xpub)
{
    gc_replier_t *self = gc_calloc (1, sizeof *self);
    self->router = router;
    self->xpub = xpub;
    msgpack_sbuffer_init (&self->buffer);
    return self;
}

void
gc_replier_destroy (gc_replier_t **self_p)
{
    gc_replier_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

void
gc_replier_send (gc_replier_t *self, const gc_identity_t *identity, const gc_frame_t *frame)
{
    gc_frame_encode (frame, &self->buffer);
    //  The gateway would drop its link rather than take a message this
    //  large, and lose every reply on the way with it; only a name list
    //  can grow so long, and the requester is told instead
    if (self->buffer.size > GC_LINK_MESSAGE_MAX) {
        gc_error ("a reply of %zu bytes is larger than the link takes, answered internal",
                  self->buffer.size);
        gc_frame_t error;
        gc_frame_error (&error, frame, GC_INTERNAL, "the reply is too large for the broker link");
        gc_frame_encode (&error, &self->buffer);
    }
    void *router = zsock_resolve (self->router);
    if (zmq_send (router, identity->data, identity->size, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (router, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
}

void
gc_replier_init (gc_frame_t *reply, uint64_t rid)
{
    gc_frame_init (reply, GC_OP_OK);
    gc_frame_set_uint (reply, GC_F_RID, rid);
}

void
gc_replier_ok (gc_replier_t *self, const gc_broker_request_t *request)
{
    gc_frame_t reply;
    gc_replier_init (&reply, request->frame.rid);
    gc_replier_send (self, &request->identity, &reply);
}

void
gc_replier_names (gc_replier_t *self, const gc_broker_request_t *request,
                  uint32_t field, char *const *names, int count)
{
    if (count < 0) {
        gc_replier_error (self, &request->identity, request->frame.rid, GC_INTERNAL, NULL);
        return;
    }
    gc_str_t *list = gc_calloc ((size_t) count + 1, sizeof *list);
    for (int index = 0; index < count; index++)
        list [index] = (gc_str_t) { names [index], strlen (names [index]) };
    gc_frame_t reply;
    gc_replier_init (&reply, request->frame.rid);
    reply.fields |= field;
    if (field == GC_F_ROOMS)
        reply.rooms = list, reply.rooms_size = (size_t) count;
    else
        reply.names = list, reply.names_size = (size_t) count;
    gc_replier_send (self, &request->identity, &reply);
    free (list);
}

void
gc_replier_error (gc_replier_t *self, const gc_identity_t *identity, uint64_t rid,
                gc_error_t code, const char *message)
{
    gc_replier_refuse (self, identity, rid, code, message, 0);
}

void
gc_replier_refuse (gc_replier_t *self, const gc_identity_t *identity, uint64_t rid,
                   gc_error_t code, const char *message, uint64_t retry_after)
{
    gc_frame_t request, reply;
    gc_frame_init (&request, GC_OP_NONE);
    gc_frame_set_uint (&request, GC_F_RID, rid);
    gc_frame_error (&reply, &request, code, message);
    if (retry_after)
        gc_frame_set_uint (&reply, GC_F_RETRY_AFTER, retry_after);
    gc_replier_send (self, identity, &reply);
}

void
gc_replier_publish (gc_replier_t *self, const gc_frame_t *event)
{
    char topic [GC_NAME_MAX + 1];
    size_t size = gc_topic (event->room, topic, sizeof topic);
    if (!size)
        return;
    gc_frame_encode (event, &self->buffer);
    void *xpub = zsock_resolve (self->xpub);
    zmq_send (xpub, topic, size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (xpub, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
}

void
gc_replier_head (gc_replier_t *self, const char *room, uint64_t head)
{
    gc_frame_t event;
    gc_frame_init (&event, GC_OP_HEAD);
    if (room)
        gc_frame_set_cstr (&event, GC_F_ROOM, room);
    gc_frame_set_uint (&event, GC_F_SEQ, head);
    gc_replier_publish (self, &event);
}

void
gc_replier_closed (gc_replier_t *self, const char *user, uint64_t generation, const char *reason)
{
    gc_frame_t event;
    gc_frame_init (&event, GC_OP_CLOSED);
    gc_frame_set_cstr (&event, GC_F_USER, user);
    gc_frame_set_uint (&event, GC_F_SEQ, generation);
    gc_frame_set_cstr (&event, GC_F_REASON, reason);
    gc_replier_publish (self, &event);
}

void
gc_replier_kick (gc_replier_t *self, const char *user, const char *room)
{
    gc_frame_t event;
    gc_frame_init (&event, GC_OP_KICK);
    gc_frame_set_cstr (&event, GC_F_ROOM, room);
    gc_frame_set_cstr (&event, GC_F_USER, user);
    gc_replier_publish (self, &event);
}

//  --------------------------------------------------------------------------
//  Self test: replies and events read back through the codec

void
gc_replier_test (bool verbose)
{
    if (verbose)
        printf (" * gc_replier: ");
    gc_rig_t *rig = gc_rig_new ();
    gc_replier_t *self = rig->reply;
    gc_rig_subscribe (rig, "Taskmaster");
    gc_broker_request_t request;
    gc_rig_request (rig, &request, GC_OP_PING, NULL, NULL);
    gc_replier_ok (self, &request);
    assert (gc_rig_reply (rig) == GC_OK);
    gc_replier_error (self, &request.identity, request.frame.rid, GC_NOT_MEMBER, NULL);
    gc_frame_t got;
    zmsg_t *holder;
    gc_rig_recv (rig->dealer, &got, &holder);
    assert (got.op == GC_OP_ERROR && got.rid == rig->rid && got.code == GC_NOT_MEMBER);
    assert (gc_str_eq (got.message, gc_error_text (GC_NOT_MEMBER)));
    gc_frame_release (&got), zmsg_destroy (&holder);

    //  Events go to their room's topic only, the name and its NUL
    gc_replier_kick (self, "Sue", "Taskmaster 2");
    gc_replier_closed (self, "Sue", 4, GC_REASON_PASSWORD);
    gc_replier_head (self, "Taskmaster", 3);
    gc_replier_kick (self, "Sue", "Taskmaster");
    gc_rig_recv (rig->sub, &got, &holder);
    assert (got.op == GC_OP_HEAD && got.seq == 3 && gc_str_eq (got.room, "Taskmaster"));
    assert (zframe_size (zmsg_first (holder)) == 11);
    gc_frame_release (&got), zmsg_destroy (&holder);
    gc_rig_recv (rig->sub, &got, &holder);
    assert (got.op == GC_OP_KICK && gc_str_eq (got.user, "Sue") && gc_str_eq (got.room, "Taskmaster"));
    gc_frame_release (&got), zmsg_destroy (&holder);
    //  Events of no room go to the users topic, a lone NUL
    gc_rig_subscribe (rig, NULL);
    gc_replier_closed (self, "Sue", 4, GC_REASON_PASSWORD);
    gc_replier_head (self, NULL, 4);
    gc_rig_recv (rig->sub, &got, &holder);
    assert (got.op == GC_OP_CLOSED && gc_str_eq (got.user, "Sue") && got.seq == 4);
    assert (gc_str_eq (got.reason, GC_REASON_PASSWORD) && !(got.fields & GC_F_ROOM));
    assert (zframe_size (zmsg_first (holder)) == GC_TOPIC_USERS_SIZE);
    gc_frame_release (&got), zmsg_destroy (&holder);
    gc_rig_recv (rig->sub, &got, &holder);
    assert (got.op == GC_OP_HEAD && got.seq == 4 && !(got.fields & GC_F_ROOM));
    gc_frame_release (&got), zmsg_destroy (&holder);

    //  A name list longer than the link takes is answered internal
    static char name [GC_NAME_MAX];
    memset (name, 'n', sizeof name - 1);
    int count = GC_LINK_MESSAGE_MAX / (GC_NAME_MAX - 1) + 1;
    char **names = gc_calloc ((size_t) count, sizeof *names);
    for (int index = 0; index < count; index++)
        names [index] = name;
    gc_replier_names (self, &request, GC_F_ROOMS, names, count);
    free (names);
    gc_rig_recv (rig->dealer, &got, &holder);
    assert (got.op == GC_OP_ERROR && got.rid == rig->rid && got.code == GC_INTERNAL);
    assert (zframe_size (zmsg_last (holder)) < 200);
    gc_frame_release (&got), zmsg_destroy (&holder);

    char buffer [4];
    assert (gc_str_copy ((gc_str_t) { "abc", 3 }, buffer, sizeof buffer) && streq (buffer, "abc"));
    assert (!gc_str_copy ((gc_str_t) { "abcd", 4 }, buffer, sizeof buffer));
    assert (!gc_str_copy ((gc_str_t) { "a\0b", 3 }, buffer, sizeof buffer));
    gc_replier_destroy (&rig->reply);
    gc_replier_destroy (&rig->reply);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
