/*  ui.h: the interactive client: log in, a menu whose first choice is
    "Join a chat room", the room list, then the room itself while the
    person types. Needs a terminal. */
#ifndef GC_UI_H_INCLUDED
#define GC_UI_H_INCLUDED

typedef struct {
    char **urls;
    int url_count;
    const char *user;           //  NULL: ask
    const char *password;       //  NULL: ask
    const char *ca;             //  CA file for wss://, NULL: the system's CAs
} gc_ui_config_t;

//  Runs until /quit, Ctrl-D or a signal; returns the exit status.
int gc_ui_run (const gc_ui_config_t *config);

#endif
