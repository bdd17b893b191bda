/*  admin.h: gateways' heartbeats, the broker's figures, and the
    administration ops of groupchat-admin (users, rooms, members,
    backup). */
#ifndef GC_ADMIN_H_INCLUDED
#define GC_ADMIN_H_INCLUDED

#include "backups.h"
#include "commit.h"
#include "login.h"
#include "replier.h"
#include "store.h"

typedef struct gc_admin_t gc_admin_t;

//  login and commit are read for their figures only; backups (NULL when
//  the operator gave no backup directory) is where backups go
gc_admin_t *gc_admin_new (gc_store_t *store, gc_replier_t *reply,
                          gc_login_t *login, gc_commit_t *commit, gc_backups_t *backups);
void gc_admin_destroy (gc_admin_t **self_p);

//  Handlers (gc_handler_fn)
//  A gateway's heartbeat: remembered, and answered with the figures
void gc_admin_ping (void *self, const gc_broker_request_t *request);
//  The figures, Prometheus text, in the reply's text
void gc_admin_stats (void *self, const gc_broker_request_t *request);
//  An online copy of the database under the backup directory, named by
//  the request's path
void gc_admin_backup (void *self, const gc_broker_request_t *request);
//  user_add, user_remove, password_set, room_add, member_add, member_remove
void gc_admin_change (void *self, const gc_broker_request_t *request);
//  user_list, room_list (every room, or a user's), member_list: names
void gc_admin_list (void *self, const gc_broker_request_t *request);

void gc_admin_test (bool verbose);

#endif
