/*
 * waiter.c - parking and waking of waiters (sync layer).
 *
 * See src/internal/waiter.h for the protocol.  A thread parks by spinning a
 * little (a wake-up that comes within a few microseconds then costs no
 * system call on either side), then announcing SLEEPING and sleeping on the
 * state word until a waker claims it or the deadline passes.
 */
#include <sched.h>

#include "internal/aio.h"
#include "internal/waiter.h"

/* Pauses before sleeping: ~2-5 us here, shorter than a futex sleep plus a
 * cross-CPU wake-up (tens of us in this VM). */
#define SPIN_ROUNDS 100

/* Give up at the deadline: returns ETIMEDOUT, or 0 if a waker won the race. */
static int give_up(cc__waiter *w, uint32_t from)
{
    if (atomic_compare_exchange_strong_explicit(&w->state, &from,
                                                CC__W_TIMEDOUT,
                                                memory_order_acquire,
                                                memory_order_acquire))
        return ETIMEDOUT;
    return 0; /* claimed meanwhile: the wake-up counts */
}

int cc__waiter_park(cc__waiter *w, int64_t deadline)
{
    uint32_t s;

    if (w->ctx->task != NULL)
        return cc__task_park(w, deadline); /* a task: only it sleeps */
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == CC__W_WOKEN)
            return 0;
        cc__cpu_relax();
    }
    s = CC__W_PARKED;
    if (!atomic_compare_exchange_strong_explicit(&w->state, &s,
                                                 CC__W_SLEEPING,
                                                 memory_order_acquire,
                                                 memory_order_acquire))
        return 0; /* claimed while spinning */
    for (;;) {
        int r = cc__futex_wait(&w->state, CC__W_SLEEPING, deadline);

        s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == CC__W_WOKEN)
            return 0;
        if (r == ETIMEDOUT || (deadline != CC__NS_FOREVER &&
                               cc__now_ns() >= deadline))
            return give_up(w, CC__W_SLEEPING);
    }
}

bool cc__spin_round(unsigned round, int64_t deadline)
{
    if (round >= CC__SPIN_ROUNDS || cc__ctx_get()->task != NULL)
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

    if (cc__ctx_get()->task != NULL)
        return cc__task_sleep_until(deadline);
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
