/*
 * ring.h - a lock-free bounded multi-producer multi-consumer ring (queue
 * layer, private).
 *
 * Dmitry Vyukov's bounded MPMC queue: each cell carries a sequence number
 * that says whose turn it is, so a put or a get is one compare-and-swap on
 * `tail` or `head` plus a store into the cell; producers and consumers never
 * share a lock, and they touch different cache lines except for the cells
 * that carry the items across.
 *
 * Closing sets the top bit of `tail`: no producer can claim a slot after
 * that, so the items a closed ring will ever hold are exactly those below
 * tail, and a consumer can tell "drained" from "an item is still being
 * written" (it then waits the few nanoseconds until it is published).
 *
 * The ring never blocks and never allocates after init; cc_queue adds the
 * waiting.  Capacity is exact (any size >= 2: with one cell, "holds the
 * item of lap n" and "free for lap n+1" would be the same sequence number);
 * powers of two index by mask.
 */
#ifndef CC_QUEUE_RING_H
#define CC_QUEUE_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CC__RING_CLOSED (UINT64_C(1) << 63)

typedef struct cc__ring_cell {
    _Atomic uint64_t seq;  /* pos: free for the put at pos; pos+1: holds it */
    void *item;
} cc__ring_cell;

typedef struct cc__ring {
    size_t cap;                       /* cells */
    uint64_t mask;                    /* cap - 1 when cap is a power of 2, else 0 */
    cc__ring_cell *cells;
    _Alignas(64) _Atomic uint64_t tail;  /* next put position | CLOSED */
    _Alignas(64) _Atomic uint64_t head;  /* next get position */
    char pad[64 - sizeof(uint64_t)];     /* keep the next object off head's line */
} cc__ring;

/* 0 or ENOMEM. */
int cc__ring_init(cc__ring *r, size_t cap);
void cc__ring_fini(cc__ring *r);

/* 0 (the item is in), EAGAIN (full), ESHUTDOWN (closed). */
int cc__ring_push(cc__ring *r, void *item);

/* 0 (*item taken), EAGAIN (empty), ESHUTDOWN (closed and drained). */
int cc__ring_pop(cc__ring *r, void **item);

/* Close for puts; returns the number of puts that ever succeeded. */
uint64_t cc__ring_close(cc__ring *r);

/* Puts that ever succeeded (a snapshot). */
static inline uint64_t cc__ring_puts(cc__ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire) &
           ~CC__RING_CLOSED;
}

static inline int cc__ring_closed(cc__ring *r)
{
    return (atomic_load_explicit(&r->tail, memory_order_acquire) &
            CC__RING_CLOSED) != 0;
}

/* Items in the ring (a snapshot; counts puts still being written). */
static inline size_t cc__ring_len(cc__ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t t = cc__ring_puts(r);

    return t > h ? (size_t)(t - h) : 0;
}

#endif
