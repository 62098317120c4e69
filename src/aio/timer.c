/*
 * timer.c - the loop's timers: a 4-ary min-heap by (deadline, arming
 * order) (half the depth of a binary heap: 9 levels for 100,000 timers), so that timers with equal deadlines fire in the order they were
 * armed (aio layer).  Each timer remembers its index: cancelling one is
 * O(log n).  The heap entries carry their keys, so sifting compares
 * contiguous memory instead of visiting each timer (a task's timer lives on
 * that task's stack page: one cache and TLB miss per comparison otherwise;
 * measured: 6% of 100,000 sleeping tasks' time went there).  Loop thread
 * only.
 *
 * Arming never fails: when the heap cannot grow (out of memory), the timer
 * goes on the spill list, an unsorted list through the timers themselves
 * that next/expire search linearly, still in (deadline, arming order).  A
 * timer that could not be armed would leave its task asleep forever, and
 * firing it at once would turn "out of memory" into a false timeout; the
 * spill list costs time only while memory is short.
 */
#include <stdlib.h>

#include "aio/loop.h"

static bool earlier(const cc__heap_entry *a, const cc__heap_entry *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(cc_loop *l, size_t i, cc__heap_entry e)
{
    l->heap[i] = e;
    e.timer->index = i;
}

#define ARITY 4

static void sift_up(cc_loop *l, size_t i)
{
    cc__heap_entry e = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / ARITY;

        if (!earlier(&e, &l->heap[parent]))
            break;
        place(l, i, l->heap[parent]);
        i = parent;
    }
    place(l, i, e);
}

static void sift_down(cc_loop *l, size_t i)
{
    cc__heap_entry e = l->heap[i];
    size_t n = l->ntimers;

    for (;;) {
        size_t first = ARITY * i + 1;
        size_t child = first;

        if (first >= n)
            break;
        for (size_t k = first + 1; k < first + ARITY && k < n; k++)
            if (earlier(&l->heap[k], &l->heap[child]))
                child = k;
        if (!earlier(&l->heap[child], &e))
            break;
        place(l, i, l->heap[child]);
        i = child;
    }
    place(l, i, e);
}

void cc__timer_arm(cc_loop *l, cc__timer *t, int64_t deadline)
{
    if (l->ntimers == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        cc__heap_entry *h = realloc(l->heap, cap * sizeof(*h));

        if (h == NULL) {
            t->deadline = deadline;
            t->seq = l->timer_seq++;
            t->index = CC__TIMER_SPILLED;
            t->spill_next = l->spilled;
            l->spilled = t;
            return;
        }
        l->heap = h;
        l->heap_cap = cap;
    }
    t->deadline = deadline;
    t->seq = l->timer_seq++;
    l->heap[l->ntimers].deadline = deadline;
    l->heap[l->ntimers].seq = t->seq;
    l->heap[l->ntimers].timer = t;
    t->index = l->ntimers++;
    sift_up(l, t->index);
}

/* Take t off the spill list. */
static void unspill(cc_loop *l, cc__timer *t)
{
    cc__timer **p = &l->spilled;

    while (*p != t)
        p = &(*p)->spill_next;
    *p = t->spill_next;
    t->index = SIZE_MAX;
}

/* The earliest spilled timer, or NULL. */
static cc__timer *first_spilled(cc_loop *l)
{
    cc__timer *best = NULL;

    for (cc__timer *t = l->spilled; t != NULL; t = t->spill_next)
        if (best == NULL || t->deadline < best->deadline ||
            (t->deadline == best->deadline && t->seq < best->seq))
            best = t;
    return best;
}

void cc__timer_disarm(cc_loop *l, cc__timer *t)
{
    size_t i = t->index;
    cc__heap_entry last;

    if (i == SIZE_MAX)
        return;
    if (i == CC__TIMER_SPILLED) {
        unspill(l, t);
        return;
    }
    t->index = SIZE_MAX;
    last = l->heap[--l->ntimers];
    if (i == l->ntimers)
        return;
    place(l, i, last);
    sift_down(l, i);
    sift_up(l, last.timer->index);
}

int64_t cc__timers_next(cc_loop *l)
{
    int64_t next = l->ntimers > 0 ? l->heap[0].deadline : CC__NS_FOREVER;
    cc__timer *s = l->spilled != NULL ? first_spilled(l) : NULL;

    return s != NULL && s->deadline < next ? s->deadline : next;
}

/* The earliest armed timer, heap or spill list; NULL when none. */
static cc__timer *first_timer(cc_loop *l)
{
    cc__timer *h = l->ntimers > 0 ? l->heap[0].timer : NULL;
    cc__timer *s = l->spilled != NULL ? first_spilled(l) : NULL;

    if (s == NULL)
        return h;
    if (h == NULL || s->deadline < h->deadline ||
        (s->deadline == h->deadline && s->seq < h->seq))
        return s;
    return h;
}

void cc__timers_expire(cc_loop *l, int64_t now)
{
    cc__timer *t;

    while ((t = first_timer(l)) != NULL && t->deadline <= now) {
        cc__timer_disarm(l, t);
        if (t->kind == CC__TIMER_TASK)
            cc__task_timer_fired(CC__TASK_OF(t, timer));
        else
            cc__callback_timer_fired(l, t);
    }
}

void cc__timers_drop(cc_loop *l)
{
    cc__timer *t;

    while ((t = first_timer(l)) != NULL) {
        cc__timer_disarm(l, t);
        /* Tasks have all ended: only call_later records can be left. */
        CC__ASSERT(t->kind == CC__TIMER_CALLBACK);
        if (t->kind == CC__TIMER_CALLBACK)
            cc__callback_timer_drop(t);
    }
}
