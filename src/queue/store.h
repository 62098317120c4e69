/*
 * store.h - the item storage behind a cc_queue: a ring for FIFO and LIFO, a
 * binary heap for priority order (queue layer, private).
 *
 * Not thread-safe: the queue's mutex guards it.  A bounded queue allocates
 * its whole capacity up front, so put and get never allocate; an unbounded
 * one doubles its array when full (amortised O(1)).
 */
#ifndef CC_QUEUE_STORE_H
#define CC_QUEUE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concur/queue.h"

typedef struct cc__pq_entry {
    void *item;
    uint64_t seq;            /* insertion order: breaks ties, keeps FIFO */
} cc__pq_entry;

typedef struct cc__store {
    int kind;                /* CC_FIFO, CC_LIFO or CC_PRIORITY */
    cc_cmp_fn cmp;           /* priority order; NULL: compare pointer values */
    size_t cap;              /* slots allocated */
    size_t len;              /* items held */
    size_t head;             /* ring: index of the oldest item */
    void **ring;             /* FIFO/LIFO slots */
    cc__pq_entry *heap;      /* priority slots, heap-ordered */
    uint64_t next_seq;
} cc__store;

/* 0, or ENOMEM.  cap_hint is the initial capacity (the bound, if any). */
int cc__store_init(cc__store *s, int kind, cc_cmp_fn cmp, size_t cap_hint);
void cc__store_fini(cc__store *s);

/* Add an item; 0 or ENOMEM (only an unbounded store grows). */
int cc__store_push(cc__store *s, void *item);

/* Remove the next item (s->len > 0). */
void *cc__store_pop(cc__store *s);

/* Remove every item, in pop order, handing each to fn (NULL: drop them). */
void cc__store_drain(cc__store *s, void (*fn)(void *item));

#endif
