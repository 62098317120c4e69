/*
 * psem.c - cc_psem, a counting semaphore shared by forked processes
 * (multiprocessing.Semaphore; process layer).
 *
 * The value is one word in shared memory changed only by compare-and-swap:
 * a process killed at any instant has either taken a unit or not.  Units
 * are not handed over: a release raises the value and rings the doorbell
 * once; the woken waiter competes for the unit like everyone else (no
 * first-come-first-served order across processes).  A waiter that takes a
 * unit while more are left and others wait rings again (passing the baton,
 * see doorbell.h).  The maximum value is SEM_VALUE_MAX, as for POSIX
 * sem_post.
 */
#include <limits.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "process/doorbell.h"
#include "process/shm.h"

#define PSEM_MAGIC 0x5053454du /* "PSEM" */

#ifndef SEM_VALUE_MAX
#define SEM_VALUE_MAX INT_MAX
#endif

/* The part in shared memory (one page); zeroed by the mapping. */
struct psem_shared {
    _Atomic uint32_t value;   /* units available, <= SEM_VALUE_MAX */
    cc__doorbell_shared bell; /* the doorbell's counters */
};

/* This process's handle; children forked afterwards get copies. */
struct cc_psem {
    uint32_t magic;           /* PSEM_MAGIC while alive */
    struct psem_shared *sh;
    cc__doorbell bell;        /* rung by every release */
};

static bool psem_ok(const cc_psem *s)
{
    return s != NULL && s->magic == PSEM_MAGIC;
}

cc_psem *cc_psem_new(unsigned value)
{
    cc_psem *s;
    int rc;

    if (value > (unsigned)SEM_VALUE_MAX)
        return cc__errf_null(EINVAL, "cc_psem_new: value %u is above "
                                     "SEM_VALUE_MAX (%u)",
                             value, (unsigned)SEM_VALUE_MAX);
    s = malloc(sizeof(*s));
    if (s == NULL)
        return cc__err_null(ENOMEM, "cc_psem_new: out of memory");
    s->sh = cc__shm_map(sizeof(*s->sh), false);
    if (s->sh == NULL) {
        free(s);
        return cc__errf_null(ENOMEM, "cc_psem_new: cannot map shared "
                                     "memory: %s", strerror(errno));
    }
    atomic_store_explicit(&s->sh->value, value, memory_order_relaxed);
    rc = cc__doorbell_init(&s->bell, &s->sh->bell);
    if (rc != 0) {
        cc__shm_unmap(s->sh, sizeof(*s->sh));
        free(s);
        return cc__errf_null(rc, "cc_psem_new: cannot make its pipe: %s",
                             strerror(rc));
    }
    s->magic = PSEM_MAGIC;
    return s;
}

/* One attempt: 0 (took a unit) or EAGAIN (none left). */
static int try_acquire(void *arg)
{
    cc_psem *s = arg;
    uint32_t v = atomic_load_explicit(&s->sh->value, memory_order_relaxed);

    while (v > 0) {
        if (atomic_compare_exchange_weak_explicit(&s->sh->value, &v, v - 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return 0;
    }
    return EAGAIN;
}

int cc_psem_acquire(cc_psem *s, double timeout)
{
    int64_t deadline;
    int rc;

    if (!psem_ok(s))
        return cc__err(EINVAL, "cc_psem_acquire: not a process semaphore");
    if (cc__check_timeout(timeout, "cc_psem_acquire") != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("process semaphore acquire") != 0)
        return -1;
    if (try_acquire(s) == 0)
        return 0;
    if (timeout == 0)
        return cc__err(EAGAIN, "process semaphore: no unit available");
    if (cc__deadline_for(timeout, "cc_psem_acquire", &deadline) != 0)
        return -1;
    rc = cc__doorbell_wait(&s->bell, try_acquire, s, deadline);
    if (rc == 0) {
        /* More units than this one came (several releases while we
         * slept): make sure another waiter hears of them. */
        if (atomic_load_explicit(&s->sh->value, memory_order_relaxed) > 0)
            cc__doorbell_ring(&s->bell, 1);
        return 0;
    }
    if (rc == ETIMEDOUT)
        return cc__err(ETIMEDOUT, "process semaphore acquire timed out: no "
                                  "unit available");
    return cc__err_wait(rc, "process semaphore acquire");
}

int cc_psem_release(cc_psem *s)
{
    uint32_t v;

    if (!psem_ok(s))
        return cc__err(EINVAL, "cc_psem_release: not a process semaphore");
    v = atomic_load_explicit(&s->sh->value, memory_order_relaxed);
    do {
        if (v >= (uint32_t)SEM_VALUE_MAX)
            return cc__errf(EOVERFLOW, "process semaphore: released above "
                                       "its maximum value (%u)",
                            (unsigned)SEM_VALUE_MAX);
    } while (!atomic_compare_exchange_weak_explicit(&s->sh->value, &v, v + 1,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    cc__doorbell_ring(&s->bell, 1);
    return 0;
}

unsigned cc_psem_value(cc_psem *s)
{
    if (!psem_ok(s))
        return 0;
    return atomic_load_explicit(&s->sh->value, memory_order_relaxed);
}

void cc_psem_free(cc_psem *s)
{
    if (!psem_ok(s))
        return;
    s->magic = 0;
    cc__doorbell_fini(&s->bell);
    cc__shm_unmap(s->sh, sizeof(*s->sh));
    free(s);
}
