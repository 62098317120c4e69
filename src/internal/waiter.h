/*
 * waiter.h - the one way anything in concur waits (internal; layer core).
 *
 * Every blocking call (lock, condition, semaphore, event, barrier, queue,
 * future, join) is built the same way:
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
 * A waiter's state moves exactly once out of PARKED (or SLEEPING): to
 * WOKEN by a waker, or to TIMEDOUT/CANCELLED by the waiter itself (or, for
 * a fiber, its scheduler).  The compare-and-swap decides the race, so a
 * wake-up is never lost: a waker whose claim fails simply claims the next
 * waiter.  The waiter lives on the waiting thread's (or fiber's) stack;
 * after a successful claim the waker only touches what cc__wakeup
 * captured, never the waiter.
 *
 * Threads spin briefly, then sleep on the state word with a futex.  A
 * fiber (internal/fiber.h) is suspended instead, and only it waits; the
 * primitives do not know which kind they hold.
 */
#ifndef CC_INTERNAL_WAITER_H
#define CC_INTERNAL_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/assert.h"
#include "internal/ctx.h"
#include "internal/fiber.h"
#include "internal/futex.h"
#include "internal/list.h"
#include "internal/vg.h"

enum {
    CC__W_PARKED = 0,    /* waiting, thread still spinning (or a fiber) */
    CC__W_SLEEPING = 1,  /* waiting, thread asleep in the futex */
    CC__W_WOKEN = 2,     /* claimed by a waker */
    CC__W_TIMEDOUT = 3,  /* gave up at its deadline */
    CC__W_CANCELLED = 4, /* gave up because its fiber was cancelled */
};

typedef struct cc__waiter {
    cc__link link;            /* in a wait queue; guarded by the owner's mu */
    _Atomic uint32_t state;   /* CC__W_*; also the futex word */
    cc__ctx *ctx;             /* who waits */
    uintptr_t tag;            /* for the primitive (e.g. a barrier generation) */
    struct cc__waiter *owner; /* NULL, or the waiter this one stands in for
                                 (a stand-in: cc_select's, one per object) */
} cc__waiter;

/* A claimed wake-up, to be fired after the owner's mutex is released. */
typedef struct cc__wakeup {
    _Atomic uint32_t *futex;  /* futex to wake, or NULL (waiter was spinning) */
    cc__fiber *fiber;         /* a suspended fiber to make ready, or NULL */
} cc__wakeup;

/* A queue of waiters, oldest first; guarded by its owner's mutex. */
typedef struct cc__waitq {
    cc__list list;
    size_t len;
} cc__waitq;

static inline void cc__waiter_init(cc__waiter *w)
{
    cc__link_init(&w->link);
    atomic_init(&w->state, CC__W_PARKED);
    CC__VG_ATOMIC_WORD(&w->state, sizeof(w->state));
    w->ctx = cc__ctx_get();
    w->tag = 0;
    w->owner = NULL;
}

/*
 * Make s a stand-in for `owner`: linked into a wait queue like any waiter,
 * but claiming it claims owner (one state word for all of owner's
 * stand-ins, so that exactly one waker wins however many objects the
 * owner waits on).  Only the owner is ever parked.
 */
static inline void cc__waiter_init_standin(cc__waiter *s, cc__waiter *owner)
{
    cc__link_init(&s->link);
    atomic_init(&s->state, CC__W_PARKED);
    s->ctx = owner->ctx;
    s->tag = 0;
    s->owner = owner;
}

static inline bool cc__waiter_linked(const cc__waiter *w)
{
    return cc__link_linked(&w->link);
}

/*
 * Wait until claimed by a waker (returns 0), until `deadline` (monotonic
 * ns; ETIMEDOUT) or, for a fiber, until it is cancelled (ECANCELED).  No
 * lock may be held.  w must be PARKED (fresh from cc__waiter_init).  A
 * fiber cancelled before it resumed from a wait that timed out gets
 * ECANCELED (cancel wins over a timeout); one that was claimed gets 0
 * whatever happened after the claim.
 */
int cc__waiter_park(cc__waiter *w, int64_t deadline);

/*
 * Move w from `from` (PARKED, or SLEEPING for a thread) to `to` (TIMEDOUT or
 * CANCELLED) on behalf of the waiter: true when this call did it, false
 * when a waker claimed w first (the wake-up then counts).  Fiber
 * implementations call it from their timer and cancellation paths.
 */
bool cc__waiter_give_up(cc__waiter *w, uint32_t from, uint32_t to);

/*
 * Turn the result of a failed wait into the caller's error: ETIMEDOUT ->
 * "<what> timed out", ECANCELED -> "<what>: the task was cancelled".
 * Returns -1.
 */
int cc__err_wait(int rc, const char *what);

/*
 * Adaptive spinning before a wait.  Rounds 0 .. CC__SPIN_RELAX-1 pause the
 * CPU; the rounds up to CC__SPIN_ROUNDS yield it, which lets another thread
 * on the same core (often the one we wait for) run without the cost of a
 * futex sleep and a cross-CPU wake-up.  Measured with 2 producers and 2
 * consumers on a 2-vCPU VM (bench/bench_queue): 11 M items/s without the
 * phase, 27-58 M with 100 + 300 rounds.  Returns false when the phase is
 * over or the deadline has passed; a fiber never spins (it parks and lets
 * its scheduler run others).
 */
#define CC__SPIN_RELAX 100
#define CC__SPIN_ROUNDS 400

bool cc__spin_round(unsigned round, int64_t deadline);

/*
 * Sleep until `deadline` with nothing to wake the caller earlier (a timed
 * wait whose end is known in advance, such as a throttle reservation).
 * The deadline must be finite.  Returns 0 at the deadline, or ECANCELED
 * when the calling fiber was cancelled first (a thread always sleeps it
 * out).
 */
int cc__sleep_until(int64_t deadline);

/*
 * Claim a waiter for waking: true when this call moved it out of PARKED (the
 * waiter will return 0 from park), false when it had already given up.  Call
 * with the owner's mutex held; fire *wk after releasing it.  Claiming a
 * stand-in claims the waiter it stands in for.
 */
static inline bool cc__waiter_claim(cc__waiter *w, cc__wakeup *wk)
{
    uint32_t s;
    cc__fiber *fiber;

    if (__builtin_expect(w->owner != NULL, 0))
        w = w->owner;
    s = atomic_load_explicit(&w->state, memory_order_relaxed);
    fiber = w->ctx->fiber; /* read before the claim: after it, w may be
                              gone */

    /* valgrind: the waker's writes happen before the woken waiter's
     * return from park (which acquires on w) */
    CC__VG_RELEASE(w);
    while (s == CC__W_PARKED || s == CC__W_SLEEPING) {
        if (atomic_compare_exchange_weak_explicit(&w->state, &s, CC__W_WOKEN,
                                                  memory_order_release,
                                                  memory_order_relaxed)) {
            /* only a thread sleeps in the futex */
            CC__ASSERT(s == CC__W_PARKED || fiber == NULL);
            wk->futex = (s == CC__W_SLEEPING) ? &w->state : NULL;
            wk->fiber = fiber;
            return true;
        }
    }
    CC__ASSERT(s == CC__W_WOKEN || s == CC__W_TIMEDOUT ||
               s == CC__W_CANCELLED);
    return false;
}

/* Deliver a claimed wake-up.  Safe even if a thread waiter already
 * returned: a futex wake on a stale address only causes a spurious wake-up
 * elsewhere.  A fiber cannot return from its park before this makes it
 * ready. */
static inline void cc__wakeup_fire(cc__wakeup wk)
{
    if (wk.fiber != NULL)
        wk.fiber->ops->wake(wk.fiber);
    else if (wk.futex != NULL)
        cc__futex_wake(wk.futex, 1);
}

static inline void cc__waitq_init(cc__waitq *q)
{
    cc__list_init(&q->list);
    q->len = 0;
}

static inline bool cc__waitq_empty(const cc__waitq *q)
{
    return cc__list_empty(&q->list);
}

static inline void cc__waitq_push(cc__waitq *q, cc__waiter *w)
{
    cc__list_push_back(&q->list, &w->link);
    q->len++;
}

/* Put w at the head: for a woken waiter that lost its race and waits again,
 * so that it keeps its turn. */
static inline void cc__waitq_push_front(cc__waitq *q, cc__waiter *w)
{
    cc__list_push_front(&q->list, &w->link);
    q->len++;
}

/* Unlink w if it is still linked (a waker may have unlinked it already). */
static inline void cc__waitq_remove(cc__waitq *q, cc__waiter *w)
{
    if (!cc__link_linked(&w->link))
        return;
    CC__ASSERT(q->len > 0);
    cc__list_remove(&q->list, &w->link);
    q->len--;
}

static inline cc__waiter *cc__waitq_pop(cc__waitq *q)
{
    cc__link *n = cc__list_pop_front(&q->list);

    if (n == NULL)
        return NULL;
    CC__ASSERT(q->len > 0);
    q->len--;
    return CC__CONTAINER_OF(n, cc__waiter, link);
}

/* The oldest waiter, left queued; NULL when none. */
static inline cc__waiter *cc__waitq_first(const cc__waitq *q)
{
    return q->list.head != NULL
               ? CC__CONTAINER_OF(q->list.head, cc__waiter, link)
               : NULL;
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
