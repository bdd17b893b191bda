/*  complete.h: Tab in the interactive client completes commands, room
    names after /join, and the names of people seen; never file names. */
#ifndef GC_COMPLETE_H_INCLUDED
#define GC_COMPLETE_H_INCLUDED

#include <stdbool.h>
#include <jansson.h>

//  Makes readline's Tab complete these words
void gc_complete_install (void);

//  A room the user is in, or a person seen, to complete from now on
void gc_complete_room (const char *room);
void gc_complete_person (const char *name);

//  Frees what was kept
void gc_complete_forget (void);

void gc_complete_test (bool verbose);

#endif
