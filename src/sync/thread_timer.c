/*
 * thread_timer.c - cc_thread_timer, threading.Timer: fn(arg) on a new
 * thread after a delay unless cancelled first (sync layer).
 *
 * The timer's thread is a cc_thread (so joining, results, errors and names
 * are cc_thread's) whose entry counts down by parking one waiter, with the
 * timer's deadline, on `sleeper`; cancel wakes it.  Who wins between the
 * countdown and a cancel is decided under `mu` by one state move out of
 * WAITING: to FIRED by the thread (fn then runs, outside the lock) or to
 * CANCELLED by cancel/free.  So fn runs exactly when no cancel returned 0.
 *
 * The thread first waits for cc_thread_timer_start to publish its handle
 * (`thread`), so that everything after the countdown -- fn joining its own
 * timer included -- sees a started timer.  The record is shared by the
 * handle and the started thread (refs); whoever drops the last reference
 * frees it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/clock.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define TIMER_MAGIC 0x54544d52u /* "TTMR" */

enum {
    T_IDLE,      /* made, not started, not cancelled */
    T_WAITING,   /* started: the thread counts down */
    T_CANCELLED, /* cancelled before fn started: fn never runs */
    T_FIRED,     /* fn has started (it may have returned) */
};

struct cc_thread_timer {
    uint32_t magic;         /* TIMER_MAGIC while the handle is alive */
    _Atomic int refs;       /* the handle + the started thread */
    double interval;
    cc_fn fn;
    void *arg;
    bool named;             /* name given (else cc_thread's "Thread-N") */
    char name[CC__NAME_MAX];
    cc__mutex mu;           /* guards everything below */
    int state;              /* T_* */
    bool started;           /* cc_thread_timer_start succeeded */
    int64_t deadline;       /* when fn is due, once started */
    cc_thread *thread;      /* the timer's thread, once started */
    cc__waitq sleeper;      /* the counting-down thread */
};

static bool timer_ok(const cc_thread_timer *t)
{
    return t != NULL && t->magic == TIMER_MAGIC;
}

static void timer_unref(cc_thread_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

/* Cancel a timer whose fn has not started: true when it is (now or
 * already) cancelled.  Wakes the counting-down thread, which then ends
 * without calling fn. */
static bool cancel_locked(cc_thread_timer *t)
{
    CC__ASSERT(cc__mutex_owned(&t->mu));
    if (t->state == T_IDLE || t->state == T_WAITING) {
        t->state = T_CANCELLED;
        cc__waitq_wake_all(&t->sleeper);
    }
    return t->state == T_CANCELLED;
}

static void *timer_entry(void *p)
{
    cc_thread_timer *t = p;
    void *result = NULL;
    bool fire;

    cc__mutex_lock(&t->mu);
    /* first wait for start to publish the thread: fn may join its own
     * timer (EDEADLK), which needs it */
    while (t->thread == NULL ||
           (t->state == T_WAITING && cc__now_ns() < t->deadline)) {
        cc__waiter w;
        int64_t until = t->thread == NULL ? CC__NS_FOREVER : t->deadline;

        cc__waiter_init(&w);
        cc__waitq_push(&t->sleeper, &w);
        cc__mutex_unlock(&t->mu);
        /* 0 (cancelled, published, or a stray wake) or ETIMEDOUT: the
         * loop re-checks */
        (void)cc__waiter_park(&w, until);
        cc__mutex_lock(&t->mu);
        cc__waitq_remove(&t->sleeper, &w);
    }
    fire = t->state == T_WAITING;
    if (fire)
        t->state = T_FIRED;
    cc__mutex_unlock(&t->mu);
    if (fire)
        result = t->fn(t->arg); /* NULL + cc_fail: the thread's error */
    timer_unref(t);
    return result;
}

cc_thread_timer *cc_thread_timer_new(double interval, cc_fn fn, void *arg,
                                     const char *name)
{
    cc_thread_timer *t;

    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_thread_timer_new: fn is NULL");
    if (!(interval >= 0)) /* negative or NaN */
        return cc__errf_null(EINVAL, "cc_thread_timer_new: bad interval %g",
                             interval);
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return cc__err_null(ENOMEM, "cc_thread_timer_new: out of memory");
    t->magic = TIMER_MAGIC;
    atomic_init(&t->refs, 1);
    t->interval = interval;
    t->fn = fn;
    t->arg = arg;
    if (name != NULL) {
        t->named = true;
        snprintf(t->name, sizeof(t->name), "%s", name);
    }
    cc__mutex_init(&t->mu);
    t->state = T_IDLE;
    cc__waitq_init(&t->sleeper);
    return t;
}

int cc_thread_timer_start(cc_thread_timer *t)
{
    cc_thread *th;
    int err;

    if (!timer_ok(t))
        return cc__err(EINVAL, "cc_thread_timer_start: not a timer");
    cc__mutex_lock(&t->mu);
    if (t->started) {
        cc__mutex_unlock(&t->mu);
        return cc__err(EINVAL, "cc_thread_timer_start: timer already started");
    }
    t->started = true;
    if (t->state == T_CANCELLED) { /* over before it began: no thread */
        cc__mutex_unlock(&t->mu);
        return 0;
    }
    t->state = T_WAITING;
    t->deadline = cc__deadline_after(t->interval);
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    cc__mutex_unlock(&t->mu);

    th = cc_thread_start(timer_entry, t, t->named ? t->name : NULL);
    cc__mutex_lock(&t->mu);
    if (th == NULL) {
        err = errno; /* the message is recorded already */
        t->started = false;
        if (t->state == T_WAITING)
            t->state = T_IDLE;
        cc__mutex_unlock(&t->mu);
        atomic_fetch_sub_explicit(&t->refs, 1, memory_order_relaxed);
        errno = err;
        return -1;
    }
    t->thread = th;
    cc__waitq_wake_all(&t->sleeper);
    cc__mutex_unlock(&t->mu);
    return 0;
}

int cc_thread_timer_cancel(cc_thread_timer *t)
{
    bool cancelled;

    if (!timer_ok(t))
        return cc__err(EINVAL, "cc_thread_timer_cancel: not a timer");
    cc__mutex_lock(&t->mu);
    cancelled = cancel_locked(t);
    cc__mutex_unlock(&t->mu);
    if (!cancelled)
        return cc__err(EALREADY, "timer: too late to cancel, fn has started");
    return 0;
}

int cc_thread_timer_join(cc_thread_timer *t, void **result, double timeout)
{
    cc_thread *th;
    bool cancelled;

    if (!timer_ok(t))
        return cc__err(EINVAL, "cc_thread_timer_join: not a timer");
    if (cc__check_timeout(timeout, "cc_thread_timer_join") != 0)
        return -1;
    cc__mutex_lock(&t->mu);
    th = t->thread;
    cancelled = t->state == T_CANCELLED;
    cc__mutex_unlock(&t->mu);
    if (th == NULL) {
        if (!cancelled)
            return cc__err(EINVAL, "cc_thread_timer_join: timer neither "
                                   "started nor cancelled");
        if (result != NULL)
            *result = NULL;
        return 0;
    }
    /* a cancelled timer's thread returns NULL without an error */
    return cc_thread_join(th, result, timeout);
}

bool cc_thread_timer_cancelled(cc_thread_timer *t)
{
    bool cancelled;

    if (!timer_ok(t))
        return false;
    cc__mutex_lock(&t->mu);
    cancelled = t->state == T_CANCELLED;
    cc__mutex_unlock(&t->mu);
    return cancelled;
}

void cc_thread_timer_free(cc_thread_timer *t)
{
    cc_thread *th;

    if (!timer_ok(t))
        return;
    cc__mutex_lock(&t->mu);
    t->magic = 0;
    (void)cancel_locked(t);
    th = t->thread;
    cc__mutex_unlock(&t->mu);
    cc_thread_free(th); /* detaches a thread still running fn */
    timer_unref(t);
}
