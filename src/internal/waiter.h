/*
 * waiter.h - the one way anything in concur waits (internal).
 *
 * Every blocking call (lock, condition, semaphore, event, barrier, queue,
 * throttle, join) is built the same way:
 *
 *     cc__mutex_lock(&obj->mu);
 *     while (!ready(obj)) {
 *         cc__waiter w;
 *         cc__waiter_init(&w);
 *         cc__waitq_push(&obj->waiters, &w);       linked under obj->mu
 *         cc__mutex_unlock(&obj->mu);
 *         rc = cc__waiter_park(&w, deadline);     sleeps; no lock held
 *         cc__mutex_lock(&obj->mu);
 *         cc__waitq_remove(&obj->waiters, &w);    no-op if a waker unlinked it
 *         if (rc != 0) -> give up with rc (ETIMEDOUT, ECANCELED)
 *     }
 *
 * and a waker, holding obj->mu, pops waiters and claims them:
 *
 *     wk = cc__waitq_wake_one(&obj->waiters);     under obj->mu
 *     cc__mutex_unlock(&obj->mu);
 *     cc__wakeup_fire(wk);                        the syscall, outside the lock
 *
 * A waiter's state moves exactly once out of PARKED: to WOKEN by a waker, or
 * to TIMEDOUT/CANCELLED by the waiter itself (or its loop).  The compare-and-
 * swap decides the race, so a wake-up is never lost: a waker whose claim
 * fails simply claims the next waiter.  The waiter lives on the waiting
 * thread's (or coroutine's) stack; after a successful claim the waker only
 * touches what cc__wakeup captured, never the waiter.
 *
 * Threads spin briefly, then sleep on the state word with a futex.  The
 * coroutine layer parks a task instead of the thread (ctx->task != NULL);
 * the primitives do not change.
 */
#ifndef CC_INTERNAL_WAITER_H
#define CC_INTERNAL_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/ctx.h"
#include "internal/futex.h"

enum {
    CC__W_PARKED = 0,    /* waiting, thread still spinning */
    CC__W_SLEEPING = 1,  /* waiting, thread asleep in the futex */
    CC__W_WOKEN = 2,     /* claimed by a waker */
    CC__W_TIMEDOUT = 3,  /* gave up at its deadline */
    CC__W_CANCELLED = 4, /* gave up because its task was cancelled */
};

typedef struct cc__waiter {
    struct cc__waiter *next;  /* wait-queue links; guarded by the owner's mu */
    struct cc__waiter *prev;
    bool linked;              /* on a wait queue; guarded by the owner's mu */
    _Atomic uint32_t state;   /* CC__W_*; also the futex word */
    cc__ctx *ctx;             /* who waits */
    uintptr_t tag;            /* for the primitive (e.g. a barrier generation) */
} cc__waiter;

/* A claimed wake-up, to be fired after the owner's mutex is released. */
typedef struct cc__wakeup {
    _Atomic uint32_t *futex;  /* futex to wake, or NULL (waiter was spinning) */
    struct cc__task *task;    /* a parked task to make ready, or NULL */
} cc__wakeup;

/* Make a task ready again (src/aio/task.c). */
void cc__task_wake(struct cc__task *t);

typedef struct cc__waitq {
    cc__waiter *head;         /* oldest waiter */
    cc__waiter *tail;
    size_t len;
} cc__waitq;

static inline void cc__waiter_init(cc__waiter *w)
{
    w->next = w->prev = NULL;
    w->linked = false;
    atomic_init(&w->state, CC__W_PARKED);
    w->ctx = cc__ctx_get();
    w->tag = 0;
}

/*
 * Wait until claimed by a waker (returns 0) or until `deadline` (monotonic ns;
 * returns ETIMEDOUT).  No lock may be held.
 */
int cc__waiter_park(cc__waiter *w, int64_t deadline);

/*
 * Adaptive spinning before a wait.  Rounds 0 .. CC__SPIN_RELAX-1 pause the
 * CPU; the rounds up to CC__SPIN_ROUNDS yield it, which lets another thread
 * on the same core (often the one we wait for) run without the cost of a
 * futex sleep and a cross-CPU wake-up.  Measured with 2 producers and 2
 * consumers on a 2-vCPU VM (bench/bench_queue): 11 M items/s without the
 * phase, 27-58 M with 100 + 300 rounds.  Returns false when the phase is
 * over or the deadline has passed; a coroutine never spins (it parks and
 * lets its loop run).
 */
#define CC__SPIN_RELAX 100
#define CC__SPIN_ROUNDS 400

bool cc__spin_round(unsigned round, int64_t deadline);

/*
 * Sleep until `deadline` with nothing to wake the caller earlier (a timed
 * wait whose end is known in advance, such as a throttle reservation).
 * The deadline must be finite.  Returns 0 at the deadline, or ECANCELED
 * when the calling task was cancelled first (a thread always sleeps it
 * out).
 */
int cc__sleep_until(int64_t deadline);

/*
 * Claim a waiter for waking: true when this call moved it out of PARKED (the
 * waiter will return 0 from park), false when it had already given up.  Call
 * with the owner's mutex held; fire *wk after releasing it.
 */
static inline bool cc__waiter_claim(cc__waiter *w, cc__wakeup *wk)
{
    uint32_t s = atomic_load_explicit(&w->state, memory_order_relaxed);
    struct cc__task *task = w->ctx->task; /* read before the claim: after
                                             it, w may be gone */

    while (s == CC__W_PARKED || s == CC__W_SLEEPING) {
        if (atomic_compare_exchange_weak_explicit(&w->state, &s, CC__W_WOKEN,
                                                  memory_order_release,
                                                  memory_order_relaxed)) {
            wk->futex = (s == CC__W_SLEEPING) ? &w->state : NULL;
            wk->task = task;
            return true;
        }
    }
    return false;
}

/* Deliver a claimed wake-up.  Safe even if a thread waiter already
 * returned: a futex wake on a stale address only causes a spurious wake-up
 * elsewhere.  A task waiter cannot return before this makes it ready. */
static inline void cc__wakeup_fire(cc__wakeup wk)
{
    if (wk.task != NULL)
        cc__task_wake(wk.task);
    else if (wk.futex != NULL)
        cc__futex_wake(wk.futex, 1);
}

static inline void cc__waitq_init(cc__waitq *q)
{
    q->head = q->tail = NULL;
    q->len = 0;
}

static inline bool cc__waitq_empty(const cc__waitq *q)
{
    return q->head == NULL;
}

static inline void cc__waitq_push(cc__waitq *q, cc__waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->linked = true;
    q->len++;
}

/* Put w at the head: for a woken waiter that lost its race and waits again,
 * so that it keeps its turn. */
static inline void cc__waitq_push_front(cc__waitq *q, cc__waiter *w)
{
    w->prev = NULL;
    w->next = q->head;
    if (q->head != NULL)
        q->head->prev = w;
    else
        q->tail = w;
    q->head = w;
    w->linked = true;
    q->len++;
}

/* Unlink w if it is still linked (a waker may have unlinked it already). */
static inline void cc__waitq_remove(cc__waitq *q, cc__waiter *w)
{
    if (!w->linked)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->linked = false;
    q->len--;
}

static inline cc__waiter *cc__waitq_pop(cc__waitq *q)
{
    cc__waiter *w = q->head;

    if (w != NULL)
        cc__waitq_remove(q, w);
    return w;
}

/*
 * Pop waiters until one is claimed; returns that wake-up (futex NULL when
 * nobody was claimable or the claimed one was still spinning).  *woke, when
 * not NULL, tells whether anybody was claimed.
 */
static inline cc__wakeup cc__waitq_wake_one(cc__waitq *q, bool *woke)
{
    cc__wakeup wk = {NULL, NULL};
    cc__waiter *w;

    while ((w = cc__waitq_pop(q)) != NULL) {
        if (cc__waiter_claim(w, &wk)) {
            if (woke != NULL)
                *woke = true;
            return wk;
        }
    }
    if (woke != NULL)
        *woke = false;
    return wk;
}

/*
 * Claim and wake every waiter now queued.  Fires the wake-ups while the
 * owner's mutex is still held (wake-all paths are rare: shutdown, set,
 * notify_all), which keeps this simple.  Returns how many were woken.
 */
size_t cc__waitq_wake_all(cc__waitq *q);

#endif
