/*
 * cond.c - cc_cond, the condition variable (sync layer).
 *
 * A waiter joins the condition's wait queue *before* it releases the user's
 * lock, so a notify made after that release (by a thread that then holds the
 * lock) always finds it: no lost wake-ups.  notify() pops and claims waiters
 * under `mu`; the user's lock is taken back after the wait with no deadline
 * and the caller's cancellation masked, so that the caller always returns
 * holding it.
 *
 * Lock order: the user's lock, then mu.  Never the reverse: a waiter drops
 * mu before it releases or re-takes the user's lock.
 */
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/lock.h"
#include "internal/waiter.h"

#define COND_MAGIC 0x434f4e44u /* "COND" */

struct cc_cond {
    uint32_t magic;          /* COND_MAGIC while alive */
    struct cc_lock *lock;    /* the lock: a cc_lock, or the one inside rlock */
    cc_rlock *rlock;         /* set when bound to an RLock */
    bool owns_lock;          /* made its own cc_lock in cc_cond_new(NULL) */
    cc__mutex mu;            /* guards waiters */
    cc__waitq waiters;       /* threads in cc_cond_wait */
};

static cc_cond *cond_new(struct cc_lock *lock, cc_rlock *rlock, bool owns)
{
    cc_cond *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    c->magic = COND_MAGIC;
    c->lock = lock;
    c->rlock = rlock;
    c->owns_lock = owns;
    cc__mutex_init(&c->mu);
    cc__waitq_init(&c->waiters);
    return c;
}

cc_cond *cc_cond_new(cc_lock *lock)
{
    cc_cond *c;
    bool owns = false;

    if (lock == NULL) {
        lock = cc_lock_new();
        if (lock == NULL)
            return NULL;
        owns = true;
    } else if (!cc__lock_ok(lock)) {
        return cc__err_null(EINVAL, "cc_cond_new: not a lock");
    }
    c = cond_new(lock, NULL, owns);
    if (c == NULL) {
        if (owns)
            cc_lock_free(lock);
        return cc__err_null(ENOMEM, "cc_cond_new: out of memory");
    }
    return c;
}

cc_cond *cc_cond_new_rlock(cc_rlock *rlock)
{
    cc_cond *c;

    if (!cc__rlock_ok(rlock))
        return cc__err_null(EINVAL, "cc_cond_new_rlock: not an rlock");
    c = cond_new(&rlock->lock, rlock, false);
    if (c == NULL)
        return cc__err_null(ENOMEM, "cc_cond_new_rlock: out of memory");
    return c;
}

static bool cond_ok(const cc_cond *c)
{
    return c != NULL && c->magic == COND_MAGIC;
}

int cc_cond_acquire(cc_cond *c, double timeout)
{
    if (!cond_ok(c))
        return cc__err(EINVAL, "cc_cond_acquire: not a condition");
    if (c->rlock != NULL)
        return cc_rlock_acquire(c->rlock, timeout);
    return cc_lock_acquire(c->lock, timeout);
}

int cc_cond_release(cc_cond *c)
{
    if (!cond_ok(c))
        return cc__err(EINVAL, "cc_cond_release: not a condition");
    if (c->rlock != NULL)
        return cc_rlock_release(c->rlock);
    return cc_lock_release(c->lock);
}

/* Wake the oldest waiter for a notification the caller took but will not
 * use (cancelled after it was notified), so that none is lost. */
static void pass_notification_on(cc_cond *c)
{
    cc__wakeup wk;

    cc__mutex_lock(&c->mu);
    wk = cc__waitq_wake_one(&c->waiters, NULL);
    cc__mutex_unlock(&c->mu);
    cc__wakeup_fire(wk);
}

/*
 * Take the lock back after a wait, whatever happens to the caller
 * (Python's rule: a wait always returns holding the lock): no deadline,
 * and the caller's cancellation masked, so it cannot fail.  An RLock is
 * restored to its depth.
 */
static void relock(cc_cond *c, cc__ctx *me, unsigned depth)
{
    int rc;

    cc__cancel_mask();
    rc = cc__lock_acquire_dl(c->lock, me, CC__NS_FOREVER);
    cc__cancel_unmask();
    CC__ASSERT(rc == 0);
    (void)rc;
    if (c->rlock != NULL)
        c->rlock->depth = depth;
}

/*
 * One wait: returns 0 (notified), ETIMEDOUT or ECANCELED.  The caller
 * holds the lock and holds it again on return, in every case.  A task
 * cancelled before the wait returns fails ECANCELED even if it was
 * notified (asyncio re-raises CancelledError after re-acquiring); the
 * notification it took then goes to the next waiter.
 */
static int wait_once(cc_cond *c, cc__ctx *me, int64_t deadline)
{
    cc__waiter w;
    unsigned depth = 0;
    int rc;

    cc__waiter_init(&w);
    cc__mutex_lock(&c->mu);
    cc__waitq_push(&c->waiters, &w);
    cc__mutex_unlock(&c->mu);

    if (c->rlock != NULL) {
        depth = c->rlock->depth;
        c->rlock->depth = 0;
    }
    cc__lock_release_owned(c->lock);

    rc = cc__waiter_park(&w, deadline);

    cc__mutex_lock(&c->mu);
    cc__waitq_remove(&c->waiters, &w);
    cc__mutex_unlock(&c->mu);

    relock(c, me, depth);
    if (cc__cancel_pending()) {
        if (rc == 0)
            pass_notification_on(c);
        return ECANCELED;
    }
    return rc;
}

static int check_owner(cc_cond *c, cc__ctx *me, const char *what)
{
    if (!cond_ok(c))
        return cc__errf(EINVAL, "%s: not a condition", what);
    if (!cc__lock_is_owner(c->lock, me))
        return cc__errf(EPERM, "%s: the caller does not hold the lock", what);
    return 0;
}

int cc_cond_wait(cc_cond *c, double timeout)
{
    cc__ctx *me = cc__ctx_get();
    int64_t deadline;
    int rc;

    if (check_owner(c, me, "cc_cond_wait") != 0)
        return -1;
    if (cc__checkpoint("condition wait") != 0 ||
        cc__deadline_for(timeout, "cc_cond_wait", &deadline) != 0)
        return -1;
    rc = wait_once(c, me, deadline);
    if (rc != 0)
        return cc__err_wait(rc, "condition wait");
    return 0;
}

int cc_cond_wait_for(cc_cond *c, bool (*pred)(void *arg), void *arg,
                     double timeout)
{
    cc__ctx *me = cc__ctx_get();
    int64_t deadline;

    if (check_owner(c, me, "cc_cond_wait_for") != 0)
        return -1;
    if (pred == NULL)
        return cc__err(EINVAL, "cc_cond_wait_for: predicate is NULL");
    if (cc__deadline_for(timeout, "cc_cond_wait_for", &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("condition wait_for") != 0)
        return -1;
    while (!pred(arg)) {
        int rc;

        if (cc__now_ns() >= deadline)
            return cc__err(ETIMEDOUT, "condition: predicate still false at "
                                      "the deadline");
        rc = wait_once(c, me, deadline);
        if (rc != 0 && rc != ETIMEDOUT)
            return cc__err_wait(rc, "condition wait_for");
        /* On ETIMEDOUT, the loop checks pred one last time. */
    }
    return 0;
}

static int notify(cc_cond *c, unsigned n, const char *what)
{
    if (check_owner(c, cc__ctx_get(), what) != 0)
        return -1;
    cc__mutex_lock(&c->mu);
    while (n > 0) {
        bool woke;
        cc__wakeup wk = cc__waitq_wake_one(&c->waiters, &woke);

        if (!woke)
            break;
        cc__wakeup_fire(wk);
        n--;
    }
    cc__mutex_unlock(&c->mu);
    return 0;
}

int cc_cond_notify(cc_cond *c, unsigned n)
{
    return notify(c, n, "cc_cond_notify");
}

int cc_cond_notify_all(cc_cond *c)
{
    return notify(c, UINT32_MAX, "cc_cond_notify_all");
}

void cc_cond_free(cc_cond *c)
{
    if (!cond_ok(c))
        return;
    c->magic = 0;
    if (c->owns_lock)
        cc_lock_free(c->lock);
    free(c);
}
