/*
 * store.c - ring and heap storage for cc_queue (queue layer).
 * Guarded by the owning queue's mutex; see store.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/store.h"

int cc__store_init(cc__store *s, int kind, cc_cmp_fn cmp, size_t cap_hint)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->cmp = cmp;
    s->cap = cap_hint > 0 ? cap_hint : 16;
    if (kind == CC_PRIORITY) {
        s->heap = malloc(s->cap * sizeof(*s->heap));
        if (s->heap == NULL)
            return ENOMEM;
    } else {
        s->ring = malloc(s->cap * sizeof(*s->ring));
        if (s->ring == NULL)
            return ENOMEM;
    }
    return 0;
}

void cc__store_fini(cc__store *s)
{
    free(s->ring);
    free(s->heap);
    s->ring = NULL;
    s->heap = NULL;
    s->len = s->cap = 0;
}

/* Double the capacity, unwrapping the ring so that head becomes 0. */
static int grow(cc__store *s)
{
    size_t ncap = s->cap * 2;

    if (ncap < s->cap || ncap > SIZE_MAX / sizeof(cc__pq_entry))
        return ENOMEM;
    if (s->kind == CC_PRIORITY) {
        cc__pq_entry *h = realloc(s->heap, ncap * sizeof(*h));

        if (h == NULL)
            return ENOMEM;
        s->heap = h;
    } else {
        void **r = malloc(ncap * sizeof(*r));
        size_t first = s->cap - s->head; /* items from head to the end */

        if (r == NULL)
            return ENOMEM;
        if (first > s->len)
            first = s->len;
        memcpy(r, s->ring + s->head, first * sizeof(*r));
        memcpy(r + first, s->ring, (s->len - first) * sizeof(*r));
        free(s->ring);
        s->ring = r;
        s->head = 0;
    }
    s->cap = ncap;
    return 0;
}

/* True when a must come out before b. */
static bool before(const cc__store *s, const cc__pq_entry *a,
                   const cc__pq_entry *b)
{
    int c;

    if (s->cmp != NULL)
        c = s->cmp(a->item, b->item);
    else
        c = (uintptr_t)a->item < (uintptr_t)b->item   ? -1
            : (uintptr_t)a->item > (uintptr_t)b->item ? 1
                                                      : 0;
    return c < 0 || (c == 0 && a->seq < b->seq);
}

int cc__store_push(cc__store *s, void *item)
{
    if (s->len == s->cap && grow(s) != 0)
        return ENOMEM;
    if (s->kind == CC_PRIORITY) {
        size_t i = s->len++;
        cc__pq_entry e = {item, s->next_seq++};

        while (i > 0) { /* sift up */
            size_t parent = (i - 1) / 2;

            if (!before(s, &e, &s->heap[parent]))
                break;
            s->heap[i] = s->heap[parent];
            i = parent;
        }
        s->heap[i] = e;
    } else {
        size_t tail = s->head + s->len;

        if (tail >= s->cap)
            tail -= s->cap;
        s->ring[tail] = item;
        s->len++;
    }
    return 0;
}

void *cc__store_pop(cc__store *s)
{
    void *item;

    if (s->kind == CC_FIFO) {
        item = s->ring[s->head];
        if (++s->head == s->cap)
            s->head = 0;
        s->len--;
    } else if (s->kind == CC_LIFO) {
        size_t top = s->head + s->len - 1;

        if (top >= s->cap)
            top -= s->cap;
        item = s->ring[top];
        s->len--;
    } else {
        cc__pq_entry last;
        size_t i = 0;
        size_t n;

        item = s->heap[0].item;
        n = --s->len;
        last = s->heap[n];
        for (;;) { /* sift the last entry down from the root */
            size_t child = 2 * i + 1;

            if (child >= n)
                break;
            if (child + 1 < n && before(s, &s->heap[child + 1], &s->heap[child]))
                child++;
            if (!before(s, &s->heap[child], &last))
                break;
            s->heap[i] = s->heap[child];
            i = child;
        }
        if (n > 0)
            s->heap[i] = last;
    }
    if (s->len == 0)
        s->head = 0;
    return item;
}

void cc__store_drain(cc__store *s, void (*fn)(void *item))
{
    while (s->len > 0) {
        void *item = cc__store_pop(s);

        if (fn != NULL)
            fn(item);
    }
}
