/*
 * lock.c - cc_lock, the owned mutual-exclusion lock (sync layer).
 *
 * See src/internal/lock.h for the state word.  Lock order: a thread holding
 * l->mu takes no other lock.  Invariants: state != 0 whenever owner != NULL
 * (owner is set right after winning the state word and cleared right before
 * releasing it); a waiter is linked only while state == 2.
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
    cc__mutex_init(&l->mu);
    cc__waitq_init(&l->waiters);
}

static bool try_fast(struct cc_lock *l)
{
    uint32_t expected = 0;

    return atomic_compare_exchange_strong_explicit(
        &l->state, &expected, 1, memory_order_acquire, memory_order_relaxed);
}

int cc__lock_acquire_dl(struct cc_lock *l, cc__ctx *me, int64_t deadline)
{
    bool retry = false;

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
    cc__mutex_lock(&l->mu);
    for (;;) {
        cc__waiter w;
        int rc;

        /* Announce a waiter; if the lock was free we own it now. */
        if (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) == 0)
            break;
        cc__waiter_init(&w);
        if (retry)
            cc__waitq_push_front(&l->waiters, &w);
        else
            cc__waitq_push(&l->waiters, &w);
        cc__mutex_unlock(&l->mu);
        rc = cc__waiter_park(&w, deadline);
        cc__mutex_lock(&l->mu);
        cc__waitq_remove(&l->waiters, &w);
        if (rc != 0) {
            cc__mutex_unlock(&l->mu);
            return rc;
        }
        retry = true;
    }
    cc__mutex_unlock(&l->mu);
owned:
    CC__ASSERT(atomic_load_explicit(&l->state, memory_order_relaxed) != 0);
    atomic_store_explicit(&l->owner, me, memory_order_relaxed);
    return 0;
}

void cc__lock_release_owned(struct cc_lock *l)
{
    CC__ASSERT(cc__lock_is_owner(l, cc__ctx_get()));
    CC__ASSERT(atomic_load_explicit(&l->state, memory_order_relaxed) != 0);
    atomic_store_explicit(&l->owner, NULL, memory_order_relaxed);
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2) {
        cc__wakeup wk;

        cc__mutex_lock(&l->mu);
        wk = cc__waitq_wake_one(&l->waiters, NULL);
        cc__mutex_unlock(&l->mu);
        cc__wakeup_fire(wk);
    }
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
