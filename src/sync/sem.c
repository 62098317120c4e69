/*
 * sem.c - cc_sem, counting and bounded semaphores (sync layer).
 *
 * First come, first served: release() hands its unit straight to the oldest
 * waiter that can still take it (a successful claim), and only raises
 * `value` when nobody waits.  Hence value > 0 implies no live waiter, and a
 * newcomer can never overtake a waiter.  A waiter handed a unit but
 * cancelled before it resumed hands it on the same way.  All state is
 * guarded by `mu`.
 */
#include <limits.h>
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define SEM_MAGIC 0x53454d41u /* "SEMA" */

struct cc_sem {
    uint32_t magic;       /* SEM_MAGIC while alive */
    cc__mutex mu;         /* guards everything below */
    unsigned value;       /* units available */
    unsigned initial;     /* the bound of a bounded semaphore */
    unsigned out;         /* bounded only: units taken, not given back;
                             value + out == initial */
    bool bounded;
    cc__waitq waiters;    /* each waiter gets one unit handed over */
};

static cc_sem *sem_new(unsigned value, bool bounded)
{
    cc_sem *s = malloc(sizeof(*s));

    if (s == NULL)
        return cc__err_null(ENOMEM, "cc_sem_new: out of memory");
    s->magic = SEM_MAGIC;
    cc__mutex_init(&s->mu);
    s->value = value;
    s->initial = value;
    s->out = 0;
    s->bounded = bounded;
    cc__waitq_init(&s->waiters);
    return s;
}

cc_sem *cc_sem_new(unsigned value)
{
    return sem_new(value, false);
}

cc_sem *cc_sem_new_bounded(unsigned value)
{
    return sem_new(value, true);
}

static bool sem_ok(const cc_sem *s)
{
    return s != NULL && s->magic == SEM_MAGIC;
}

/* Take one unit; s->mu held, s->value > 0. */
static void take_locked(cc_sem *s)
{
    CC__ASSERT(cc__mutex_owned(&s->mu));
    CC__ASSERT(s->value > 0);
    s->value--;
    if (s->bounded)
        s->out++;
}

/*
 * Give n units back: one to each of the oldest waiters that can still take
 * it (a successful claim), the rest to `value`; s->mu held, the checks
 * (bound, overflow) done.  A unit handed to a waiter stays counted out.
 */
static void hand_out_locked(cc_sem *s, unsigned n)
{
    CC__ASSERT(cc__mutex_owned(&s->mu));
    while (n > 0) {
        bool woke;
        cc__wakeup wk = cc__waitq_wake_one(&s->waiters, &woke);

        if (!woke)
            break;
        cc__wakeup_fire(wk);
        n--;
    }
    CC__ASSERT(!s->bounded || n <= s->out);
    s->value += n;
    if (s->bounded)
        s->out -= n;
}

int cc_sem_acquire(cc_sem *s, double timeout)
{
    cc__waiter w;
    int64_t deadline;
    int rc;

    if (!sem_ok(s))
        return cc__err(EINVAL, "cc_sem_acquire: not a semaphore");
    if (cc__check_timeout(timeout, "cc_sem_acquire") != 0)
        return -1;
    cc__mutex_lock(&s->mu);
    if (s->value > 0) {
        take_locked(s);
        cc__mutex_unlock(&s->mu);
        return 0;
    }
    cc__mutex_unlock(&s->mu);
    if (timeout == 0)
        return cc__err(EAGAIN, "semaphore: no unit available");
    if (cc__checkpoint("semaphore acquire") != 0 ||
        cc__deadline_for(timeout, "cc_sem_acquire", &deadline) != 0)
        return -1;

    cc__waiter_init(&w);
    cc__mutex_lock(&s->mu);
    if (s->value > 0) { /* released meanwhile */
        take_locked(s);
        cc__mutex_unlock(&s->mu);
        return 0;
    }
    if (deadline <= cc__now_ns()) {
        cc__mutex_unlock(&s->mu);
        return cc__err(ETIMEDOUT, "semaphore: acquire timed out");
    }
    cc__waitq_push(&s->waiters, &w);
    cc__mutex_unlock(&s->mu);
    rc = cc__waiter_park(&w, deadline);
    if (rc == 0 && cc__cancel_pending()) {
        /* Handed a unit, but cancelled before it resumed: cancel wins and
         * the unit goes to the next waiter, as in asyncio. */
        cc__mutex_lock(&s->mu);
        hand_out_locked(s, 1);
        cc__mutex_unlock(&s->mu);
        return cc__err_wait(ECANCELED, "semaphore acquire");
    }
    if (rc == 0)
        return 0; /* the releaser handed us its unit (and counted it out) */
    cc__mutex_lock(&s->mu);
    cc__waitq_remove(&s->waiters, &w);
    cc__mutex_unlock(&s->mu);
    return cc__err_wait(rc, "semaphore acquire");
}

int cc_sem_release_n(cc_sem *s, unsigned n)
{
    if (!sem_ok(s))
        return cc__err(EINVAL, "cc_sem_release: not a semaphore");
    cc__mutex_lock(&s->mu);
    if (s->bounded && n > s->out) {
        cc__mutex_unlock(&s->mu);
        return cc__err(EINVAL, "semaphore released too many times");
    }
    if (n > UINT_MAX - s->value) {
        cc__mutex_unlock(&s->mu);
        return cc__err(EINVAL, "semaphore: value would overflow");
    }
    hand_out_locked(s, n);
    cc__mutex_unlock(&s->mu);
    return 0;
}

int cc_sem_release(cc_sem *s)
{
    return cc_sem_release_n(s, 1);
}

unsigned cc_sem_value(cc_sem *s)
{
    unsigned v;

    if (!sem_ok(s))
        return 0;
    cc__mutex_lock(&s->mu);
    v = s->value;
    cc__mutex_unlock(&s->mu);
    return v;
}

void cc_sem_free(cc_sem *s)
{
    if (!sem_ok(s))
        return;
    s->magic = 0;
    free(s);
}
