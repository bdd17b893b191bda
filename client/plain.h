/*  plain.h: the client's plain mode, for scripts and tests:
    --say sends messages and exits once they are acknowledged, --follow
    prints the room's messages one per line until interrupted. */
#ifndef GC_PLAIN_H_INCLUDED
#define GC_PLAIN_H_INCLUDED

#include <stdbool.h>

typedef struct {
    char **urls;
    int url_count;
    const char *user;
    const char *password;
    const char *room;
    const char *say;            //  text, "-" for stdin lines, NULL to follow
    bool json;                  //  print protocol objects, not lines
    const char *ca;             //  CA file for wss://, NULL: the system's CAs
} gc_plain_config_t;

//  Runs plain mode; returns the exit status (0 done, 1 refused or failed,
//  GC_EXIT_ENDED the server ended the session).
int gc_plain_run (const gc_plain_config_t *config);

#endif
