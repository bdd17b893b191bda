/*  rss.c: resident set sizes from /proc (see rss.h). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "rss.h"

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
    //  Touching 16 MiB of new pages shows in the figure. Mapped here, not
    //  malloc'd: malloc may hand back heap that earlier tests made resident
    size_t size = 16 << 20;
    volatile char *block = mmap (NULL, size, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert (block != MAP_FAILED);
    for (size_t offset = 0; offset < size; offset += 4096)
        block [offset] = 1;     //  volatile: the stores must happen
    int64_t after = gc_bench_rss (getpid ());
    assert (after >= before + 15 * 1024);
    munmap ((char *) block, size);
    assert (gc_bench_rss (-1) == -1);
    if (verbose)
        printf ("OK\n");
}
