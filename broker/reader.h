/*  reader.h: the requests that only read: rooms (a user's list), join
    (membership, then recent history and the head) and history (pages
    of older or newer messages), each for a member only. And the check
    every room request makes, which a say makes too. */
#ifndef GC_READER_H_INCLUDED
#define GC_READER_H_INCLUDED

#include "replier.h"
#include "store.h"

typedef struct gc_reader_t gc_reader_t;

gc_reader_t *gc_reader_new (gc_store_t *store, gc_replier_t *reply);
void gc_reader_destroy (gc_reader_t **self_p);

//  Handlers (gc_handler_fn)
void gc_reader_rooms (void *self, const gc_broker_request_t *request);
void gc_reader_join (void *self, const gc_broker_request_t *request);
void gc_reader_history (void *self, const gc_broker_request_t *request);

//  The check of every request that reads or writes a room (join,
//  history, say): the room exists and the user the request names is a
//  member of its group. Copies both names into room and user
//  [GC_NAME_MAX + 1]: 0, or -1 after replying bad_request (a name
//  missing or invalid), no_such_room or not_member.
int gc_reader_check (gc_store_t *store, gc_replier_t *reply, const gc_broker_request_t *request,
                     char *user, char *room);

void gc_reader_test (bool verbose);

#endif
