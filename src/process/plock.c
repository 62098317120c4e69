/*
 * plock.c - cc_plock, a lock shared by forked processes
 * (multiprocessing.Lock; process layer).
 *
 * The lock is one word in shared memory: 0 free, 1 held, changed only by
 * compare-and-swap, so acquiring and releasing never take another lock and
 * a process killed at any instant leaves the word either free or held
 * (held for good if it died holding it: the header says so).  It has no
 * owner: any process, thread or task may release it.  Waiters wait through
 * a doorbell (doorbell.h); a release rings it once.
 */
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "process/doorbell.h"
#include "process/shm.h"

#define PLOCK_MAGIC 0x504c434bu /* "PLCK" */

/* The part in shared memory (one page); zeroed by the mapping. */
struct plock_shared {
    _Atomic uint32_t state;   /* 0 free, 1 held */
    cc__doorbell_shared bell; /* the doorbell's counters */
};

/* This process's handle; children forked afterwards get copies. */
struct cc_plock {
    uint32_t magic;            /* PLOCK_MAGIC while alive */
    struct plock_shared *sh;   /* the shared state */
    cc__doorbell bell;         /* rung by every release */
};

static bool plock_ok(const cc_plock *l)
{
    return l != NULL && l->magic == PLOCK_MAGIC;
}

cc_plock *cc_plock_new(void)
{
    cc_plock *l = malloc(sizeof(*l));
    int rc;

    if (l == NULL)
        return cc__err_null(ENOMEM, "cc_plock_new: out of memory");
    l->sh = cc__shm_map(sizeof(*l->sh), false);
    if (l->sh == NULL) {
        free(l);
        return cc__errf_null(ENOMEM, "cc_plock_new: cannot map shared "
                                     "memory: %s", strerror(errno));
    }
    rc = cc__doorbell_init(&l->bell, &l->sh->bell);
    if (rc != 0) {
        cc__shm_unmap(l->sh, sizeof(*l->sh));
        free(l);
        return cc__errf_null(rc, "cc_plock_new: cannot make its pipe: %s",
                             strerror(rc));
    }
    l->magic = PLOCK_MAGIC;
    return l;
}

/* One attempt: 0 (now held by the caller) or EAGAIN. */
static int try_acquire(void *arg)
{
    cc_plock *l = arg;
    uint32_t expected = 0;

    if (atomic_compare_exchange_strong_explicit(&l->sh->state, &expected, 1,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    return EAGAIN;
}

int cc_plock_acquire(cc_plock *l, double timeout)
{
    int64_t deadline;
    int rc;

    if (!plock_ok(l))
        return cc__err(EINVAL, "cc_plock_acquire: not a process lock");
    if (cc__check_timeout(timeout, "cc_plock_acquire") != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("process lock acquire") != 0)
        return -1;
    if (try_acquire(l) == 0)
        return 0;
    if (timeout == 0)
        return cc__err(EAGAIN, "process lock: held elsewhere");
    if (cc__deadline_for(timeout, "cc_plock_acquire", &deadline) != 0)
        return -1;
    rc = cc__doorbell_wait(&l->bell, try_acquire, l, deadline);
    if (rc == 0)
        return 0;
    if (rc == ETIMEDOUT)
        return cc__err(ETIMEDOUT, "process lock acquire timed out: still "
                                  "held");
    return cc__err_wait(rc, "process lock acquire");
}

int cc_plock_release(cc_plock *l)
{
    uint32_t expected = 1;

    if (!plock_ok(l))
        return cc__err(EINVAL, "cc_plock_release: not a process lock");
    if (!atomic_compare_exchange_strong_explicit(&l->sh->state, &expected, 0,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return cc__err(EPERM, "process lock: released while not held");
    cc__doorbell_ring(&l->bell, 1);
    return 0;
}

void cc_plock_free(cc_plock *l)
{
    if (!plock_ok(l))
        return;
    l->magic = 0;
    cc__doorbell_fini(&l->bell);
    cc__shm_unmap(l->sh, sizeof(*l->sh));
    free(l);
}
