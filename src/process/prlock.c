/*
 * prlock.c - cc_prlock, a recursive lock shared by forked processes
 * (multiprocessing.RLock; process layer).
 *
 * The lock is a robust process-shared pthread mutex (shm.h) in shared
 * memory, taken only with trylock and held by the owner's thread for as
 * long as the owner holds the cc_prlock -- across waits too, unlike the
 * mutexes of the other objects, which guard a short copy.  On top of it,
 * in the same memory, the owner's context (a thread's or a task's: see
 * internal/ctx.h) and the recursion depth, both written only by the owner
 * while it holds the mutex.  The caller owns the lock when the mutex's
 * lock word names its thread (glibc keeps the holder's tid there; the
 * kernel clears it when the holder dies) and the context is its own: two
 * tasks of one loop thread are two owners.
 *
 * Waiting: a doorbell (doorbell.h) that every final release rings once;
 * the waiter's attempt is a trylock.  A holder that dies does not ring: the
 * kernel marks the mutex (FUTEX_OWNER_DIED, through the dead thread's
 * robust list) and wakes only futex waiters, and nobody waits on the
 * futex.  Waiters therefore also retry every DEATH_POLL_NS while they
 * wait, and the first trylock after the death gets EOWNERDEAD: it takes
 * the lock, makes the mutex consistent again and reports EOWNERDEAD to its
 * caller, who now holds the lock with depth 1.
 */
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/clock.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "process/doorbell.h"
#include "process/shm.h"

#define PRLOCK_MAGIC 0x50524c4bu       /* "PRLK" */
#define DEATH_POLL_NS 100000000        /* 0.1 s between death checks */

/* The part in shared memory (one page); zeroed by the mapping. */
struct prlock_shared {
    pthread_mutex_t mu;          /* robust; held by the owner's thread */
    _Atomic uintptr_t owner;     /* the owner's cc__ctx in its process;
                                    0 when free; written under mu */
    uint32_t depth;              /* acquisitions by the owner; under mu */
    _Atomic uint64_t deaths;     /* owners that died holding it */
    cc__doorbell_shared bell;    /* the doorbell's counters */
};

/* This process's handle; children forked afterwards get copies. */
struct cc_prlock {
    uint32_t magic;              /* PRLOCK_MAGIC while alive */
    struct prlock_shared *sh;
    cc__doorbell bell;           /* rung by every final release */
};

static bool prlock_ok(const cc_prlock *l)
{
    return l != NULL && l->magic == PRLOCK_MAGIC;
}

cc_prlock *cc_prlock_new(void)
{
    cc_prlock *l = malloc(sizeof(*l));
    int rc;

    if (l == NULL)
        return cc__err_null(ENOMEM, "cc_prlock_new: out of memory");
    l->sh = cc__shm_map(sizeof(*l->sh), false);
    if (l->sh == NULL) {
        free(l);
        return cc__errf_null(ENOMEM, "cc_prlock_new: cannot map shared "
                                     "memory: %s", strerror(errno));
    }
    rc = cc__pmutex_init(&l->sh->mu);
    if (rc == 0)
        rc = cc__doorbell_init(&l->bell, &l->sh->bell);
    if (rc != 0) {
        cc__shm_unmap(l->sh, sizeof(*l->sh));
        free(l);
        return cc__errf_null(rc, "cc_prlock_new: %s", strerror(rc));
    }
    l->magic = PRLOCK_MAGIC;
    return l;
}

/* True when the calling thread holds the mutex and `me` is the owner. */
static bool owned_by(cc_prlock *l, cc__ctx *me)
{
    unsigned word = (unsigned)__atomic_load_n(&l->sh->mu.__data.__lock,
                                              __ATOMIC_RELAXED);

    return (word & FUTEX_TID_MASK) == (unsigned)gettid() &&
           atomic_load_explicit(&l->sh->owner, memory_order_relaxed) ==
               (uintptr_t)me;
}

/* One attempt: 0 (taken), EOWNERDEAD (taken from a dead owner), EAGAIN
 * (held), or the mutex's errno. */
static int try_acquire(void *arg)
{
    cc_prlock *l = arg;
    int rc = pthread_mutex_trylock(&l->sh->mu);

    if (rc == EBUSY)
        return EAGAIN;
    if (rc == EOWNERDEAD) {
        atomic_fetch_add_explicit(&l->sh->deaths, 1, memory_order_relaxed);
        rc = pthread_mutex_consistent(&l->sh->mu);
        return rc == 0 ? EOWNERDEAD : rc;
    }
    return rc;
}

/* Wait for the lock until `deadline`, retrying at least every
 * DEATH_POLL_NS in case its holder died. */
static int wait_for(cc_prlock *l, int64_t deadline)
{
    for (;;) {
        int64_t slice = cc__now_ns() + DEATH_POLL_NS;
        int64_t until = deadline < slice ? deadline : slice;
        int rc = cc__doorbell_wait(&l->bell, try_acquire, l, until);

        if (rc != ETIMEDOUT || until == deadline)
            return rc;
    }
}

int cc_prlock_acquire(cc_prlock *l, double timeout)
{
    cc__ctx *me;
    int64_t deadline;
    int rc;

    if (!prlock_ok(l))
        return cc__err(EINVAL, "cc_prlock_acquire: not a process rlock");
    if (cc__check_timeout(timeout, "cc_prlock_acquire") != 0)
        return -1;
    me = cc__ctx_get();
    if (owned_by(l, me)) {
        if (l->sh->depth == UINT_MAX)
            return cc__err(EOVERFLOW, "process rlock: acquired too many "
                                      "times");
        l->sh->depth++;
        return 0;
    }
    if (timeout != 0 && cc__checkpoint("process rlock acquire") != 0)
        return -1;
    rc = try_acquire(l);
    if (rc == EAGAIN) {
        if (timeout == 0)
            return cc__err(EAGAIN, "process rlock: held by another thread, "
                                   "task or process");
        if (cc__deadline_for(timeout, "cc_prlock_acquire", &deadline) != 0)
            return -1;
        rc = wait_for(l, deadline);
    }
    switch (rc) {
    case 0:
    case EOWNERDEAD:
        atomic_store_explicit(&l->sh->owner, (uintptr_t)me,
                              memory_order_relaxed);
        l->sh->depth = 1;
        if (rc == 0)
            return 0;
        return cc__err(EOWNERDEAD, "process rlock: its owner died holding "
                                   "it; the caller holds it now");
    case ETIMEDOUT:
        return cc__err(ETIMEDOUT, "process rlock acquire timed out: still "
                                  "held");
    case ECANCELED:
        return cc__err_wait(rc, "process rlock acquire");
    default:
        return cc__errf(rc, "process rlock acquire failed: %s",
                        strerror(rc));
    }
}

int cc_prlock_release(cc_prlock *l)
{
    if (!prlock_ok(l))
        return cc__err(EINVAL, "cc_prlock_release: not a process rlock");
    if (!owned_by(l, cc__ctx_get()))
        return cc__err(EPERM, "process rlock: released by a thread or task "
                              "that does not hold it");
    if (--l->sh->depth > 0)
        return 0;
    atomic_store_explicit(&l->sh->owner, 0, memory_order_relaxed);
    pthread_mutex_unlock(&l->sh->mu);
    cc__doorbell_ring(&l->bell, 1);
    return 0;
}

unsigned cc_prlock_depth(cc_prlock *l)
{
    if (!prlock_ok(l) || !owned_by(l, cc__ctx_get()))
        return 0;
    return l->sh->depth;
}

unsigned long long cc_prlock_owner_deaths(cc_prlock *l)
{
    if (!prlock_ok(l))
        return 0;
    return atomic_load_explicit(&l->sh->deaths, memory_order_relaxed);
}

void cc_prlock_free(cc_prlock *l)
{
    if (!prlock_ok(l))
        return;
    l->magic = 0;
    cc__doorbell_fini(&l->bell);
    cc__shm_unmap(l->sh, sizeof(*l->sh));
    free(l);
}
