/*  rss.c: resident set sizes from /proc (see rss.h). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rss.h"
#include "gc_alloc.h"

int64_t
gc_bench_rss (int pid)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    FILE *status = fopen (path, "r");
    if (!status)
        return -1;
    int64_t rss = -1;
    while (fgets (line, sizeof line, status))
        if (strncmp (line, "VmRSS:", 6) == 0) {
            rss = strtoll (line + 6, NULL, 10);
            break;
        }
    fclose (status);
    return rss;
}

void
gc_bench_rss_test (bool verbose)
{
    if (verbose)
        printf (" * gc_bench_rss: ");
    int64_t before = gc_bench_rss (getpid ());
    assert (before > 0);
    //  Touching 16 MiB shows in the figure
    size_t size = 16 << 20;
    volatile char *block = gc_malloc (size);
    for (size_t offset = 0; offset < size; offset += 4096)
        block [offset] = 1;     //  volatile: the stores must happen
    int64_t after = gc_bench_rss (getpid ());
    assert (after >= before + 15 * 1024);
    free ((char *) block);
    assert (gc_bench_rss (-1) == -1);
    if (verbose)
        printf ("OK\n");
}
