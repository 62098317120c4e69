/*
 * barrier.c - cc_barrier, a reusable meeting point (sync layer).
 *
 * All state is guarded by `mu`.  Waiters of the current wave sit on
 * `waiters`; the last arrival releases them by popping each one, writing its
 * outcome into the waiter's tag and claiming it (the waiter reads its tag
 * only after taking mu again, so the write is safe; it is written even when
 * the claim fails because that waiter's timeout fired at the same moment).  While the last
 * arrival runs the action without mu, newcomers of the next wave wait on
 * `arrivals` until the trip is over.  A waiter whose timeout expired while
 * still linked breaks the barrier for everybody (threading.Barrier); one
 * whose task was cancelled leaves the wave and breaks nothing
 * (asyncio.Barrier).  Indexes are given at release, in arrival order
 * among the parties still there, so they stay distinct when one left.
 */
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define BARRIER_MAGIC 0x42415252u /* "BARR" */

/* A waiter's tag: its outcome in the low bits; with RELEASED, its index
 * above OUTCOME_BITS. */
enum { WAITING = 0, RELEASED = 1, BROKEN = 2 };
#define OUTCOME_BITS 2
#define OUTCOME_MASK ((uintptr_t)3)

struct cc_barrier {
    uint32_t magic;            /* BARRIER_MAGIC while alive */
    unsigned parties;          /* fixed at creation */
    cc_barrier_action action;  /* run by the last arrival; may be NULL */
    void *arg;
    cc__mutex mu;              /* guards everything below */
    unsigned count;            /* arrivals in the current wave */
    bool tripping;             /* the last arrival is running the action */
    bool broken;
    cc__waitq waiters;         /* the current wave; tag = WAITING/RELEASED/BROKEN */
    cc__waitq arrivals;        /* newcomers held back while tripping */
};

static bool barrier_ok(const cc_barrier *b)
{
    return b != NULL && b->magic == BARRIER_MAGIC;
}

cc_barrier *cc_barrier_new(unsigned parties, cc_barrier_action action,
                           void *arg)
{
    cc_barrier *b;

    if (parties == 0)
        return cc__err_null(EINVAL, "cc_barrier_new: parties must be > 0");
    b = malloc(sizeof(*b));
    if (b == NULL)
        return cc__err_null(ENOMEM, "cc_barrier_new: out of memory");
    b->magic = BARRIER_MAGIC;
    b->parties = parties;
    b->action = action;
    b->arg = arg;
    cc__mutex_init(&b->mu);
    b->count = 0;
    b->tripping = false;
    b->broken = false;
    cc__waitq_init(&b->waiters);
    cc__waitq_init(&b->arrivals);
    return b;
}

/* Give every waiter of the wave its outcome (RELEASED: with its index,
 * the order it arrived in) and wake it; mu held. */
static void release_wave_locked(cc_barrier *b, uintptr_t outcome)
{
    cc__waiter *w;
    cc__wakeup wk;
    uintptr_t index = 0;

    CC__ASSERT(cc__mutex_owned(&b->mu));
    while ((w = cc__waitq_pop(&b->waiters)) != NULL) {
        /* Written even if the claim fails: a waiter that timed out at the
         * same moment still reads its outcome once it has mu again. */
        w->tag = outcome == RELEASED ? RELEASED | index++ << OUTCOME_BITS
                                     : outcome;
        if (cc__waiter_claim(w, &wk))
            cc__wakeup_fire(wk);
    }
    b->count = 0;
}

static void break_locked(cc_barrier *b)
{
    CC__ASSERT(cc__mutex_owned(&b->mu));
    b->broken = true;
    release_wave_locked(b, BROKEN);
    cc__waitq_wake_all(&b->arrivals);
}

/* Park w on q until woken or the deadline; returns park's result with mu
 * held again and w unlinked. */
static int park_locked(cc_barrier *b, cc__waitq *q, cc__waiter *w,
                       int64_t deadline)
{
    int rc;

    CC__ASSERT(cc__mutex_owned(&b->mu));
    cc__waitq_push(q, w);
    cc__mutex_unlock(&b->mu);
    rc = cc__waiter_park(w, deadline);
    cc__mutex_lock(&b->mu);
    cc__waitq_remove(q, w);
    return rc;
}

/*
 * Wait while the last arrival of the previous wave runs the action; mu
 * held.  0, or -1 with the error recorded: a timeout breaks the barrier
 * (ETIMEDOUT), a cancellation only takes this caller away (ECANCELED).
 */
static int wait_trip_locked(cc_barrier *b, int64_t deadline)
{
    CC__ASSERT(cc__mutex_owned(&b->mu));
    while (b->tripping && !b->broken) {
        cc__waiter w;
        int rc;

        cc__waiter_init(&w);
        rc = park_locked(b, &b->arrivals, &w, deadline);
        if (rc == 0 || !b->tripping || b->broken)
            continue;
        if (rc == ECANCELED)
            return cc__err_wait(rc, "barrier wait");
        break_locked(b);
        return cc__err(ETIMEDOUT, "barrier: wait timed out; the barrier is "
                                  "now broken");
    }
    return 0;
}

/* The last arrival: run the action and release the wave; mu held.
 * Returns its index, or -1 with EPIPE. */
static int trip_locked(cc_barrier *b, unsigned index)
{
    int failed = 0;

    CC__ASSERT(cc__mutex_owned(&b->mu));
    if (b->action != NULL) {
        b->tripping = true;
        cc__mutex_unlock(&b->mu);
        failed = b->action(b->arg);
        cc__mutex_lock(&b->mu);
        b->tripping = false;
    }
    if (failed != 0 || b->broken) {
        if (!b->broken)
            break_locked(b);
        return cc__err(EPIPE, failed != 0 ? "barrier: the action failed; the "
                                            "barrier is now broken"
                                          : "barrier is broken");
    }
    release_wave_locked(b, RELEASED);
    cc__waitq_wake_all(&b->arrivals);
    return (int)index;
}

/* Wait for the wave's last arrival; mu held.  Returns the index given at
 * release, or -1: EPIPE (broken), ETIMEDOUT (this wait broke it),
 * ECANCELED (this party left the wave; nothing broken). */
static int wait_release_locked(cc_barrier *b, int64_t deadline)
{
    cc__waiter w;
    int rc;

    CC__ASSERT(cc__mutex_owned(&b->mu));
    cc__waiter_init(&w);
    w.tag = WAITING;
    rc = park_locked(b, &b->waiters, &w, deadline);
    if (rc != 0 && w.tag == WAITING) {
        b->count--; /* this party leaves the wave */
        if (rc == ECANCELED)
            return cc__err_wait(rc, "barrier wait");
        break_locked(b);
        return cc__err(ETIMEDOUT, "barrier: wait timed out; the barrier is "
                                  "now broken");
    }
    if ((w.tag & OUTCOME_MASK) == RELEASED)
        return (int)(w.tag >> OUTCOME_BITS);
    return cc__err(EPIPE, "barrier is broken");
}

int cc_barrier_wait(cc_barrier *b, double timeout)
{
    int64_t deadline;
    int rc;

    if (!barrier_ok(b))
        return cc__err(EINVAL, "cc_barrier_wait: not a barrier");
    if (cc__deadline_for(timeout, "cc_barrier_wait", &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("barrier wait") != 0)
        return -1;
    cc__mutex_lock(&b->mu);
    rc = wait_trip_locked(b, deadline);
    if (rc == 0 && b->broken)
        rc = cc__err(EPIPE, "barrier is broken");
    else if (rc == 0 && ++b->count == b->parties)
        rc = trip_locked(b, b->count - 1);
    else if (rc == 0)
        rc = wait_release_locked(b, deadline);
    cc__mutex_unlock(&b->mu);
    return rc;
}

int cc_barrier_abort(cc_barrier *b)
{
    if (!barrier_ok(b))
        return cc__err(EINVAL, "cc_barrier_abort: not a barrier");
    cc__mutex_lock(&b->mu);
    break_locked(b);
    cc__mutex_unlock(&b->mu);
    return 0;
}

int cc_barrier_reset(cc_barrier *b)
{
    if (!barrier_ok(b))
        return cc__err(EINVAL, "cc_barrier_reset: not a barrier");
    cc__mutex_lock(&b->mu);
    release_wave_locked(b, BROKEN);
    b->broken = false;
    cc__waitq_wake_all(&b->arrivals);
    cc__mutex_unlock(&b->mu);
    return 0;
}

bool cc_barrier_broken(cc_barrier *b)
{
    bool broken;

    if (!barrier_ok(b))
        return false;
    cc__mutex_lock(&b->mu);
    broken = b->broken;
    cc__mutex_unlock(&b->mu);
    return broken;
}

unsigned cc_barrier_parties(cc_barrier *b)
{
    return barrier_ok(b) ? b->parties : 0;
}

unsigned cc_barrier_n_waiting(cc_barrier *b)
{
    unsigned n;

    if (!barrier_ok(b))
        return 0;
    cc__mutex_lock(&b->mu);
    n = b->count;
    cc__mutex_unlock(&b->mu);
    return n;
}

void cc_barrier_free(cc_barrier *b)
{
    if (!barrier_ok(b))
        return;
    b->magic = 0;
    free(b);
}
