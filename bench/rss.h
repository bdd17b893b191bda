/*  rss.h: how much memory a process holds, from /proc, for the idle
    scenario's memory per connection. */
#ifndef GC_BENCH_RSS_H_INCLUDED
#define GC_BENCH_RSS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

//  The resident set size of process pid in KiB (VmRSS in
//  /proc/PID/status), or -1 when there is no such process.
int64_t gc_bench_rss (int pid);

void gc_bench_rss_test (bool verbose);

#endif
