/*
 * waiter.c - parking and waking of waiters (core layer).
 *
 * See src/internal/waiter.h for the protocol.  A thread parks by spinning a
 * little (a wake-up that comes within a few microseconds then costs no
 * system call on either side), then announcing SLEEPING and sleeping on the
 * state word until a waker claims it or the deadline passes.  A fiber is
 * handed to its implementation's suspend (internal/fiber.h) once the core
 * has checked its cancellation and its deadline.
 */
#include <sched.h>

#include "internal/waiter.h"

/* Pauses before sleeping: ~2-5 us here, shorter than a futex sleep plus a
 * cross-CPU wake-up (tens of us in this VM). */
#define SPIN_ROUNDS 100

/* The waiter's side of a claim, for helgrind and DRD (internal/vg.h):
 * whatever the waker did before claiming w happened before this. */
static int woken(cc__waiter *w)
{
    CC__VG_ACQUIRE(w);
    (void)w;
    return 0;
}

bool cc__waiter_give_up(cc__waiter *w, uint32_t from, uint32_t to)
{
    CC__ASSERT(from == CC__W_PARKED || from == CC__W_SLEEPING);
    CC__ASSERT(to == CC__W_TIMEDOUT || to == CC__W_CANCELLED);
    if (atomic_compare_exchange_strong_explicit(&w->state, &from, to,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return true;
    /* Out of PARKED already: a waker's claim, or (a fiber's) its timer or
     * its cancellation, whichever came first; never back. */
    CC__ASSERT(from == CC__W_WOKEN || from == CC__W_TIMEDOUT ||
               from == CC__W_CANCELLED);
    return false;
}

/*
 * A fiber's park: the checks that need no switch, then its suspend.
 * Cancel wins over a timeout, before the switch and after it: a fiber
 * whose deadline passed but that was cancelled before it resumed (its
 * timer fired in the same pass of its scheduler as the cancellation, or
 * it sat ready while another task cancelled it) fails ECANCELED, as a
 * cancel delivered to an asyncio task before it resumes is thrown into
 * it.  A waiter that was woken keeps its wake-up: what was handed over
 * (an item, a unit) is the primitive's to keep or pass on.
 */
static int fiber_park(cc__fiber *f, cc__waiter *w, int64_t deadline)
{
    uint32_t s;

    if (cc__fiber_cancel_pending(f) &&
        cc__waiter_give_up(w, CC__W_PARKED, CC__W_CANCELLED))
        return ECANCELED;
    if (deadline != CC__NS_FOREVER && deadline <= cc__now_ns() &&
        cc__waiter_give_up(w, CC__W_PARKED, CC__W_TIMEDOUT))
        return ETIMEDOUT;
    /* Even when a waker claimed w meanwhile, the fiber suspends: the wake
     * that follows every claim is what resumes it (fiber.h). */
    f->ops->suspend(f, w, deadline);
    s = atomic_load_explicit(&w->state, memory_order_acquire);
    CC__ASSERT(s == CC__W_WOKEN || s == CC__W_TIMEDOUT ||
               s == CC__W_CANCELLED);
    if (s == CC__W_TIMEDOUT)
        return cc__fiber_cancel_pending(f) ? ECANCELED : ETIMEDOUT;
    if (s == CC__W_CANCELLED)
        return ECANCELED;
    return woken(w);
}

int cc__waiter_park(cc__waiter *w, int64_t deadline)
{
    cc__fiber *f = w->ctx->fiber;
    uint32_t s;

    CC__ASSERT(w->ctx == cc__ctx_get()); /* only its owner parks a waiter */
    CC__ASSERT(atomic_load_explicit(&w->state, memory_order_relaxed) !=
               CC__W_SLEEPING);
    if (f != NULL)
        return fiber_park(f, w, deadline); /* only the fiber waits */
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == CC__W_WOKEN)
            return woken(w);
        cc__cpu_relax();
    }
    s = CC__W_PARKED;
    if (!atomic_compare_exchange_strong_explicit(&w->state, &s,
                                                 CC__W_SLEEPING,
                                                 memory_order_acquire,
                                                 memory_order_acquire)) {
        CC__ASSERT(s == CC__W_WOKEN);
        return woken(w); /* claimed while spinning */
    }
    for (;;) {
        int r = cc__futex_wait(&w->state, CC__W_SLEEPING, deadline);

        s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == CC__W_WOKEN)
            return woken(w);
        CC__ASSERT(s == CC__W_SLEEPING);
        if (r == ETIMEDOUT || (deadline != CC__NS_FOREVER &&
                               cc__now_ns() >= deadline)) {
            if (cc__waiter_give_up(w, CC__W_SLEEPING, CC__W_TIMEDOUT))
                return ETIMEDOUT;
            /* a thread's waiter leaves SLEEPING only by a claim or by
             * its owner: the wake-up counts */
            CC__ASSERT(atomic_load(&w->state) == CC__W_WOKEN);
            return woken(w);
        }
    }
}

int cc__err_wait(int rc, const char *what)
{
    if (rc == ECANCELED)
        return cc__errf(ECANCELED, "%s: the task was cancelled", what);
    if (rc == ETIMEDOUT || rc == EAGAIN)
        return cc__errf(ETIMEDOUT, "%s timed out", what);
    return cc__errf(rc, "%s failed", what);
}

bool cc__spin_round(unsigned round, int64_t deadline)
{
    if (round >= CC__SPIN_ROUNDS || cc__ctx_get()->fiber != NULL)
        return false;
    if (round < CC__SPIN_RELAX) {
        cc__cpu_relax();
        return true;
    }
    if (deadline != CC__NS_FOREVER && (round & 7) == 0 &&
        cc__now_ns() >= deadline)
        return false;
    sched_yield();
    return true;
}

int cc__sleep_until(int64_t deadline)
{
    struct timespec ts;

    CC__ASSERT(deadline != CC__NS_FOREVER);
    if (cc__ctx_get()->fiber != NULL) {
        /* A park that nobody wakes: it ends at the deadline or when the
         * fiber is cancelled. */
        cc__waiter w;
        int rc;

        cc__waiter_init(&w);
        rc = cc__waiter_park(&w, deadline);
        return rc == ETIMEDOUT ? 0 : rc;
    }
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    return 0;
}

size_t cc__waitq_wake_all(cc__waitq *q)
{
    size_t n = 0;
    cc__waiter *w;
    cc__wakeup wk;

    while ((w = cc__waitq_pop(q)) != NULL) {
        if (cc__waiter_claim(w, &wk)) {
            cc__wakeup_fire(wk);
            n++;
        }
    }
    return n;
}
