/*  rig.h: what the broker's self-tests stand on.

    A seeded store in a temporary file and a replier whose sockets have
    a gateway's DEALER and SUB attached over inproc, so a handler can be
    called directly and its replies and events read back through the
    real codec. Waits are bounded; nothing here sleeps. */
#ifndef GC_RIG_H_INCLUDED
#define GC_RIG_H_INCLUDED

#include "replier.h"
#include "store.h"

typedef struct {
    gc_store_t *store;
    gc_replier_t *reply;
    zsock_t *router, *xpub;     //  the replier's
    zsock_t *dealer, *sub;      //  the gateway's end
    gc_identity_t identity;     //  the dealer's, as the router knows it
    uint64_t rid;               //  of the newest request made
    char path [64];             //  the database
    FILE *capture;              //  open between capture and captured
    char *captured;             //  what was written to it
    size_t captured_size;
} gc_rig_t;

gc_rig_t *gc_rig_new (void);
void gc_rig_destroy (gc_rig_t **self_p);

//  Makes a request from the dealer, with a new rid; user and room may be NULL
void gc_rig_request (gc_rig_t *self, gc_broker_request_t *request, gc_op_t op,
                     const char *user, const char *room);

//  Receives one message on sock within 10 s, its last frame decoded into
//  frame; holder keeps the bytes (destroy it after releasing the frame)
void gc_rig_recv (zsock_t *sock, gc_frame_t *frame, zmsg_t **holder);

//  Receives the dealer's next reply, checks its rid is the newest request's
//  and returns its code (GC_OK for ok); the frame is released.
gc_error_t gc_rig_reply (gc_rig_t *self);

//  Subscribes the SUB to room (NULL: the users topic) and waits until the
//  XPUB has seen it
void gc_rig_subscribe (gc_rig_t *self, const char *room);

//  A stream to write figures to; gc_rig_captured then tells whether a
//  line of what was written is exactly line
FILE *gc_rig_capture (gc_rig_t *self);
bool gc_rig_captured (gc_rig_t *self, const char *line);

//  Removes a database and its -wal and -shm files
void gc_rig_unlink (const char *path);

#endif
