/*
 * rlock.c - cc_rlock, the reentrant lock (sync layer).
 *
 * A cc_lock plus a depth counter.  Only the owner touches `depth`, and
 * ownership passes through the lock's acquire/release barriers, so depth
 * needs no lock of its own.
 */
#include <limits.h>
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/lock.h"
#include "internal/waiter.h"

cc_rlock *cc_rlock_new(void)
{
    cc_rlock *r = malloc(sizeof(*r));

    if (r == NULL)
        return cc__err_null(ENOMEM, "cc_rlock_new: out of memory");
    r->magic = CC__RLOCK_MAGIC;
    cc__lock_init(&r->lock);
    r->depth = 0;
    return r;
}

int cc_rlock_acquire(cc_rlock *r, double timeout)
{
    cc__ctx *me;
    int64_t deadline;
    int rc;

    if (!cc__rlock_ok(r))
        return cc__err(EINVAL, "cc_rlock_acquire: not an rlock");
    if (cc__check_timeout(timeout, "cc_rlock_acquire") != 0)
        return -1;
    me = cc__ctx_get();
    if (cc__lock_is_owner(&r->lock, me)) {
        if (r->depth == UINT_MAX)
            return cc__err(EOVERFLOW, "rlock: acquired too many times");
        r->depth++;
        return 0;
    }
    if (timeout == 0) {
        rc = cc__lock_acquire_dl(&r->lock, me, 0);
        if (rc != 0)
            return cc__err(EAGAIN, "rlock: held by another thread");
    } else {
        if (cc__checkpoint("rlock acquire") != 0 ||
            cc__deadline_for(timeout, "cc_rlock_acquire", &deadline) != 0)
            return -1;
        rc = cc__lock_acquire_dl(&r->lock, me, deadline);
        if (rc != 0)
            return cc__err_wait(rc, "rlock acquire");
    }
    r->depth = 1;
    return 0;
}

int cc_rlock_release(cc_rlock *r)
{
    if (!cc__rlock_ok(r))
        return cc__err(EINVAL, "cc_rlock_release: not an rlock");
    if (!cc__lock_is_owner(&r->lock, cc__ctx_get()))
        return cc__err(EPERM, "rlock: released by a thread that does not hold it");
    if (--r->depth == 0)
        cc__lock_release_owned(&r->lock);
    return 0;
}

unsigned cc_rlock_depth(cc_rlock *r)
{
    if (!cc__rlock_ok(r) || !cc__lock_is_owner(&r->lock, cc__ctx_get()))
        return 0;
    return r->depth;
}

void cc_rlock_free(cc_rlock *r)
{
    if (!cc__rlock_ok(r))
        return;
    r->magic = 0;
    r->lock.magic = 0;
    free(r);
}
