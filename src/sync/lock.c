/*
 * lock.c - cc_lock, the owned mutual-exclusion lock (sync layer).
 *
 * See src/internal/lock.h for the state word.  Lock order: a thread holding
 * l->mu takes no other lock.  Invariants: state != 0 whenever owner != NULL
 * (owner is set right after winning the state word and cleared right before
 * releasing it); a waiter is linked only while state == 2; state leaves 2
 * only under l->mu.
 *
 * Fair to parked waiters, in asyncio.Lock's FIFO order: a release that
 * finds waiters announced hands the lock to the oldest one still parked --
 * the state word never passes through 0 meanwhile, so no newcomer can take
 * it in between -- and a newcomer queues behind them.  While nobody is
 * parked, the lock goes to whoever comes first (a spinning thread
 * included), which is where its throughput comes from.
 *
 * For helgrind and DRD (internal/vg.h): every release is a release on l,
 * every way of becoming the owner (the fast path, a free lock found while
 * queueing, a hand-over) an acquire on l.
 */
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/lock.h"
#include "internal/waiter.h"

void cc__lock_init(struct cc_lock *l)
{
    l->magic = CC__LOCK_MAGIC;
    atomic_init(&l->state, 0);
    atomic_init(&l->owner, NULL);
    CC__VG_ATOMIC_WORD(&l->state, sizeof(l->state));
    CC__VG_ATOMIC_WORD(&l->owner, sizeof(l->owner));
    cc__mutex_init(&l->mu);
    cc__waitq_init(&l->waiters);
}

static bool try_fast(struct cc_lock *l)
{
    uint32_t expected = 0;

    if (!atomic_compare_exchange_strong_explicit(
            &l->state, &expected, 1, memory_order_acquire,
            memory_order_relaxed))
        return false;
    CC__VG_ACQUIRE(l);
    return true;
}

/*
 * Queue behind the parked waiters and wait until a release hands the lock
 * over.  Returns 0 (the caller owns the state word now), ETIMEDOUT or
 * ECANCELED.  A task handed the lock but cancelled before it resumed
 * hands it on at once (cancel wins: asyncio's
 * test_finished_waiter_cancelled).
 */
static int wait_turn(struct cc_lock *l, cc__ctx *me, int64_t deadline)
{
    cc__waiter w;
    int rc;

    cc__mutex_lock(&l->mu);
    /* Announce a waiter; if the lock was free we own it now. */
    if (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) == 0) {
        CC__VG_ACQUIRE(l);
        cc__mutex_unlock(&l->mu);
        return 0;
    }
    cc__waiter_init(&w);
    cc__waitq_push(&l->waiters, &w);
    cc__mutex_unlock(&l->mu);
    rc = cc__waiter_park(&w, deadline);
    if (rc == 0)
        CC__VG_ACQUIRE(l); /* handed over: after the releaser's writes */
    if (rc == 0 && cc__cancel_pending()) {
        atomic_store_explicit(&l->owner, me, memory_order_relaxed);
        cc__lock_release_owned(l);
        return ECANCELED;
    }
    if (rc == 0)
        return 0; /* handed over by a release */
    cc__mutex_lock(&l->mu);
    cc__waitq_remove(&l->waiters, &w);
    cc__mutex_unlock(&l->mu);
    return rc;
}

int cc__lock_acquire_dl(struct cc_lock *l, cc__ctx *me, int64_t deadline)
{
    int rc;

    if (try_fast(l))
        goto owned;
    if (deadline <= cc__now_ns())
        return EAGAIN;
    /* Critical sections are usually short: spin and yield a little first. */
    for (unsigned round = 0; cc__spin_round(round, deadline); round++) {
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            try_fast(l))
            goto owned;
    }
    rc = wait_turn(l, me, deadline);
    if (rc != 0)
        return rc;
owned:
    CC__ASSERT(atomic_load_explicit(&l->state, memory_order_relaxed) != 0);
    atomic_store_explicit(&l->owner, me, memory_order_relaxed);
    return 0;
}

/*
 * A release with waiters announced (state 2): hand the lock to the oldest
 * waiter still parked, keeping the state non-zero, or free it when every
 * one of them gave up.  When a single waiter is queued the state drops to
 * 1 before the claim, not after: the new owner may run -- and release --
 * the moment it is claimed, and its release must then find "held, nobody
 * waiting" (with two or more queued the state stays 2, and a release that
 * finds nobody to hand to frees it).
 */
static void hand_over(struct cc_lock *l)
{
    cc__wakeup wk;
    bool woke;

    cc__mutex_lock(&l->mu);
    CC__ASSERT(atomic_load_explicit(&l->state, memory_order_relaxed) == 2);
    if (l->waiters.len == 1)
        atomic_store_explicit(&l->state, 1, memory_order_relaxed);
    wk = cc__waitq_wake_one(&l->waiters, &woke);
    if (!woke)
        atomic_store_explicit(&l->state, 0, memory_order_release);
    cc__mutex_unlock(&l->mu);
    cc__wakeup_fire(wk);
}

void cc__lock_release_owned(struct cc_lock *l)
{
    uint32_t held = 1;

    CC__ASSERT(cc__lock_is_owner(l, cc__ctx_get()));
    CC__ASSERT(atomic_load_explicit(&l->state, memory_order_relaxed) != 0);
    CC__VG_RELEASE(l);
    atomic_store_explicit(&l->owner, NULL, memory_order_relaxed);
    if (atomic_compare_exchange_strong_explicit(&l->state, &held, 0,
                                                memory_order_release,
                                                memory_order_relaxed))
        return; /* nobody announced a wait */
    hand_over(l);
}

cc_lock *cc_lock_new(void)
{
    cc_lock *l = malloc(sizeof(*l));

    if (l == NULL)
        return cc__err_null(ENOMEM, "cc_lock_new: out of memory");
    cc__lock_init(l);
    return l;
}

int cc_lock_acquire(cc_lock *l, double timeout)
{
    cc__ctx *me;
    int64_t deadline;
    int rc;

    if (!cc__lock_ok(l))
        return cc__err(EINVAL, "cc_lock_acquire: not a lock");
    if (cc__check_timeout(timeout, "cc_lock_acquire") != 0)
        return -1;
    me = cc__ctx_get();
    if (try_fast(l)) {
        atomic_store_explicit(&l->owner, me, memory_order_relaxed);
        return 0;
    }
    if (cc__lock_is_owner(l, me))
        return cc__errf(EDEADLK,
                        "lock: already held by the calling %s '%s' (use an "
                        "RLock to acquire it again)",
                        me->fiber != NULL ? "task" : "thread",
                        cc__ctx_name(me));
    if (timeout == 0)
        return cc__err(EAGAIN, "lock: held by another thread");
    if (cc__checkpoint("lock acquire") != 0 ||
        cc__deadline_for(timeout, "cc_lock_acquire", &deadline) != 0)
        return -1;
    rc = cc__lock_acquire_dl(l, me, deadline);
    if (rc != 0)
        return cc__err_wait(rc, "lock acquire");
    return 0;
}

int cc_lock_release(cc_lock *l)
{
    if (!cc__lock_ok(l))
        return cc__err(EINVAL, "cc_lock_release: not a lock");
    if (!cc__lock_is_owner(l, cc__ctx_get()))
        return cc__err(EPERM,
                       atomic_load_explicit(&l->state, memory_order_relaxed)
                           ? "lock: released by a thread that does not hold it"
                           : "lock: released while not locked");
    cc__lock_release_owned(l);
    return 0;
}

bool cc_lock_locked(cc_lock *l)
{
    return cc__lock_ok(l) &&
           atomic_load_explicit(&l->state, memory_order_relaxed) != 0;
}

bool cc_lock_owned(cc_lock *l)
{
    return cc__lock_ok(l) && cc__lock_is_owner(l, cc__ctx_get());
}

void cc_lock_free(cc_lock *l)
{
    if (!cc__lock_ok(l))
        return;
    l->magic = 0;
    free(l);
}
