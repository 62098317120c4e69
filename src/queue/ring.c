/*
 * ring.c - the lock-free bounded MPMC ring behind bounded FIFO queues
 * (queue layer).  See ring.h for the algorithm and the closed bit.
 *
 * Memory order: a producer publishes a cell with a release store of its
 * sequence; a consumer reads the sequence with acquire before the item, and
 * frees the cell with a release store that the next producer acquires.  The
 * head/tail compare-and-swaps only hand out positions (relaxed).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "internal/futex.h"
#include "queue/ring.h"

int cc__ring_init(cc__ring *r, size_t cap)
{
    if (cap < 2)
        return EINVAL;
    r->cap = cap;
    r->mask = (cap & (cap - 1)) == 0 ? cap - 1 : 0;
    r->cells = malloc(cap * sizeof(*r->cells));
    if (r->cells == NULL)
        return ENOMEM;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&r->cells[i].seq, i);
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    return 0;
}

void cc__ring_fini(cc__ring *r)
{
    free(r->cells);
    r->cells = NULL;
}

static inline cc__ring_cell *cell_at(cc__ring *r, uint64_t pos)
{
    return &r->cells[r->mask != 0 ? pos & r->mask : pos % r->cap];
}

int cc__ring_push(cc__ring *r, void *item)
{
    uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);

    for (;;) {
        cc__ring_cell *c;
        int64_t dif;

        if (pos & CC__RING_CLOSED)
            return ESHUTDOWN;
        c = cell_at(r, pos);
        dif = (int64_t)(atomic_load_explicit(&c->seq, memory_order_acquire) -
                        pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(
                    &r->tail, &pos, pos + 1, memory_order_relaxed,
                    memory_order_relaxed)) {
                c->item = item;
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return 0;
            }
        } else if (dif < 0) {
            return EAGAIN; /* the cell still holds an item from a lap ago */
        } else {
            pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
        }
    }
}

int cc__ring_pop(cc__ring *r, void **item)
{
    uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    unsigned spins = 0;

    for (;;) {
        cc__ring_cell *c = cell_at(r, pos);
        int64_t dif = (int64_t)(atomic_load_explicit(&c->seq,
                                                     memory_order_acquire) -
                                (pos + 1));

        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(
                    &r->head, &pos, pos + 1, memory_order_relaxed,
                    memory_order_relaxed)) {
                *item = c->item;
                atomic_store_explicit(&c->seq, pos + r->cap,
                                      memory_order_release);
                return 0;
            }
        } else if (dif < 0) {
            uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);

            if (!(t & CC__RING_CLOSED))
                return EAGAIN;
            if (pos >= (t & ~CC__RING_CLOSED))
                return ESHUTDOWN;
            /* Closed, but a put that claimed this slot before the close is
             * still writing it: it is part of the queue, wait for it. */
            if (++spins < 100)
                cc__cpu_relax();
            else
                sched_yield();
            pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        } else {
            pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        }
    }
}

uint64_t cc__ring_close(cc__ring *r)
{
    return atomic_fetch_or_explicit(&r->tail, CC__RING_CLOSED,
                                    memory_order_acq_rel) &
           ~CC__RING_CLOSED;
}
