/*
 * lock.h - the Lock and RLock records, shared with the condition variable
 * (internal; layer sync).
 *
 * A cc_lock is a three-state word (0 free, 1 held, 2 held and maybe waiters)
 * with its owner, plus a wait queue guarded by `mu`.  Uncontended, acquire
 * and release are two compare-and-swaps; only state 2 makes a release look
 * at the wait queue.  There it hands the lock to the oldest parked waiter
 * (FIFO, as asyncio.Lock) without freeing it in between; while nobody is
 * parked, whoever comes first takes it (see src/sync/lock.c).
 */
#ifndef CC_INTERNAL_LOCK_H
#define CC_INTERNAL_LOCK_H

#include "internal/ctx.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define CC__LOCK_MAGIC 0x4c4f434bu  /* "LOCK" */
#define CC__RLOCK_MAGIC 0x524c434bu /* "RLCK" */

struct cc_lock {
    uint32_t magic;             /* CC__LOCK_MAGIC while alive */
    _Atomic uint32_t state;     /* 0 free, 1 held, 2 held + maybe waiters */
    _Atomic(cc__ctx *) owner;   /* holder; written by the holder only */
    cc__mutex mu;               /* guards waiters */
    cc__waitq waiters;          /* threads/tasks waiting to acquire */
};

struct cc_rlock {
    uint32_t magic;             /* CC__RLOCK_MAGIC while alive */
    struct cc_lock lock;        /* the underlying lock; owner = holder */
    unsigned depth;             /* times acquired; touched by the owner only */
};

static inline bool cc__lock_ok(const struct cc_lock *l)
{
    return l != NULL && l->magic == CC__LOCK_MAGIC;
}

static inline bool cc__rlock_ok(const struct cc_rlock *r)
{
    return r != NULL && r->magic == CC__RLOCK_MAGIC;
}

void cc__lock_init(struct cc_lock *l);

/* Acquire for `me` before `deadline`: 0, EAGAIN (deadline already passed and
 * held), ETIMEDOUT, ECANCELED (a task cancelled while it waited, or handed
 * the lock and cancelled before it resumed: the lock then passes on).  The
 * caller has checked that `me` is not the owner. */
int cc__lock_acquire_dl(struct cc_lock *l, cc__ctx *me, int64_t deadline);

/* Release by its owner (checked by the caller); hands the lock to the
 * oldest parked waiter, if any. */
void cc__lock_release_owned(struct cc_lock *l);

static inline bool cc__lock_is_owner(struct cc_lock *l, cc__ctx *me)
{
    return atomic_load_explicit(&l->owner, memory_order_relaxed) == me;
}

#endif
