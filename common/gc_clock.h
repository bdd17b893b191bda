/*  gc_clock.h: the one clock of every groupchat program.

    Two readings of it, for two different questions. Wall time answers
    "when": message stamps and request deadlines, which cross processes
    and machines and so must be the Unix epoch. Monotonic time answers
    "how long": latencies, stalls and timers inside one process, which
    must not jump when an operator or NTP sets the wall clock. */
#ifndef GC_CLOCK_H_INCLUDED
#define GC_CLOCK_H_INCLUDED

#include <stdint.h>

//  Wall time in milliseconds since the Unix epoch.
int64_t gc_clock_wall_ms (void);

//  Monotonic time in microseconds, for durations within one process.
int64_t gc_clock_mono_us (void);

#endif
