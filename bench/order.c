/*  order.c: per-receiver seq accounting (see order.h). */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "order.h"

static bool
s_seen (const gc_order_t *self, int64_t seq)
{
    uint64_t slot = (uint64_t) seq % GC_ORDER_WINDOW;
    return self->seen [slot / 64] >> (slot % 64) & 1;
}

static void
s_mark (gc_order_t *self, int64_t seq, bool seen)
{
    uint64_t slot = (uint64_t) seq % GC_ORDER_WINDOW;
    if (seen)
        self->seen [slot / 64] |= 1ULL << (slot % 64);
    else
        self->seen [slot / 64] &= ~(1ULL << (slot % 64));
}

void
gc_order_init (gc_order_t *self, int64_t next)
{
    memset (self, 0, sizeof *self);
    self->next = next;
}

//  Moves next past seq: the seqs jumped over are missing and unseen
static void
s_skip_to (gc_order_t *self, int64_t seq)
{
    self->missing += (uint64_t) (seq - self->next);
    if (seq - self->next >= GC_ORDER_WINDOW)
        memset (self->seen, 0, sizeof self->seen);
    else
        for (int64_t skipped = self->next; skipped < seq; skipped++)
            s_mark (self, skipped, false);
    self->next = seq;
}

void
gc_order_see (gc_order_t *self, int64_t seq)
{
    self->delivered++;
    if (seq >= self->next) {
        if (seq > self->next)
            s_skip_to (self, seq);
        s_mark (self, seq, true);
        self->next = seq + 1;
    }
    else
    if (self->next - seq > GC_ORDER_WINDOW || s_seen (self, seq))
        self->duplicates++;
    else {
        self->reordered++;
        self->missing--;
        s_mark (self, seq, true);
    }
}

void
gc_order_finish (gc_order_t *self, int64_t last)
{
    if (last >= self->next)
        s_skip_to (self, last + 1);
}

uint64_t
gc_order_faults (const gc_order_t *self)
{
    return self->missing + self->duplicates + self->reordered;
}

//  --------------------------------------------------------------------------
//  Self-test

void
gc_order_test (bool verbose)
{
    if (verbose)
        printf (" * gc_order: ");
    gc_order_t order;
    gc_order_init (&order, 11);
    for (int seq = 11; seq <= 2000; seq++)
        gc_order_see (&order, seq);
    gc_order_finish (&order, 2000);
    assert (order.delivered == 1990 && gc_order_faults (&order) == 0);

    //  A gap, then the gap filled late: out of order, not missing
    gc_order_init (&order, 1);
    int64_t seqs [] = { 1, 2, 5, 6, 3, 7, 4 };
    for (size_t index = 0; index < sizeof seqs / sizeof *seqs; index++)
        gc_order_see (&order, seqs [index]);
    assert (order.missing == 0 && order.reordered == 2 && order.duplicates == 0);

    //  Seen twice: duplicates, whether just now or a while ago
    gc_order_see (&order, 7);
    gc_order_see (&order, 2);
    assert (order.duplicates == 2 && order.missing == 0);

    //  Never came: missing, including the tail the finish reveals
    gc_order_see (&order, 10);
    gc_order_finish (&order, 12);
    assert (order.missing == 4 && order.next == 13);
    gc_order_finish (&order, 5);
    assert (order.missing == 4);

    //  A jump past the window forgets what it held; old seqs then count
    //  as duplicates
    gc_order_init (&order, 1);
    gc_order_see (&order, 1);
    gc_order_see (&order, 1 + 10 * GC_ORDER_WINDOW);
    assert (order.missing == 10 * GC_ORDER_WINDOW - 1);
    gc_order_see (&order, 2);
    assert (order.duplicates == 1);
    gc_order_see (&order, 5 + 9 * GC_ORDER_WINDOW);
    assert (order.reordered == 1 && order.missing == 10 * GC_ORDER_WINDOW - 2);
    gc_order_see (&order, 5 + 9 * GC_ORDER_WINDOW);
    assert (order.duplicates == 2);
    if (verbose)
        printf ("OK\n");
}
