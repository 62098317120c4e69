/*
 * callbacks.c - plain callbacks run by a loop: call_soon, call_later and
 * call_soon_threadsafe (aio layer).
 *
 * A cc_timer record carries both a timer (for call_later) and a work node
 * (to sit in the run queue).  call_later records belong to the loop's
 * thread: only it may arm, fire or cancel them.
 */
#include <stdlib.h>

#include "aio/loop.h"
#include "internal/error.h"

enum { ARMED = 1, QUEUED = 2, CANCELLED = 3 };

struct cc_timer {
    cc__timer timer;        /* first: the heap hands this back */
    cc__work work;          /* in the run queue once due */
    cc_loop *loop;
    cc_callback_fn fn;
    void *arg;
    uint8_t state;          /* ARMED, QUEUED or CANCELLED; loop thread */
};

static struct cc_timer *record_new(cc_loop *l, cc_callback_fn fn, void *arg)
{
    struct cc_timer *t = malloc(sizeof(*t));

    if (t == NULL)
        return NULL;
    t->timer.index = SIZE_MAX;
    t->timer.kind = CC__TIMER_CALLBACK;
    t->work.kind = CC__WORK_CALLBACK;
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->state = QUEUED;
    return t;
}

static int check(cc_loop *l, cc_callback_fn fn, const char *what)
{
    if (l == NULL || l->magic != CC__LOOP_MAGIC)
        return cc__errf(EINVAL, "%s: not a loop", what);
    if (fn == NULL)
        return cc__errf(EINVAL, "%s: fn is NULL", what);
    return 0;
}

void cc__callback_run(cc__work *w)
{
    struct cc_timer *t =
        (struct cc_timer *)(void *)((char *)w - offsetof(struct cc_timer, work));

    if (t->state != CANCELLED)
        t->fn(t->arg);
    free(t);
}

void cc__callback_timer_fired(cc_loop *l, cc__timer *timer)
{
    struct cc_timer *t = (struct cc_timer *)(void *)timer;

    t->state = QUEUED;
    cc__loop_ready(l, &t->work);
}

void cc__callback_timer_drop(cc__timer *timer)
{
    free(timer); /* the timer is the record's first member */
}

int cc_loop_call_soon(cc_loop *l, cc_callback_fn fn, void *arg)
{
    struct cc_timer *t;

    if (check(l, fn, "cc_loop_call_soon") != 0)
        return -1;
    if (cc__tls_loop != l)
        return cc__err(EINVAL, "cc_loop_call_soon: not on the loop's thread "
                               "(use cc_loop_call_soon_threadsafe)");
    t = record_new(l, fn, arg);
    if (t == NULL)
        return cc__err(ENOMEM, "cc_loop_call_soon: out of memory");
    cc__loop_ready(l, &t->work);
    return 0;
}

int cc_loop_call_soon_threadsafe(cc_loop *l, cc_callback_fn fn, void *arg)
{
    struct cc_timer *t;

    if (check(l, fn, "cc_loop_call_soon_threadsafe") != 0)
        return -1;
    t = record_new(l, fn, arg);
    if (t == NULL)
        return cc__err(ENOMEM, "cc_loop_call_soon_threadsafe: out of memory");
    cc__loop_post(l, &t->work);
    return 0;
}

cc_timer *cc_loop_call_later(cc_loop *l, double delay, cc_callback_fn fn,
                             void *arg)
{
    struct cc_timer *t;

    if (check(l, fn, "cc_loop_call_later") != 0)
        return NULL;
    if (cc__tls_loop != l)
        return cc__err_null(EINVAL, "cc_loop_call_later: not on the loop's "
                                    "thread");
    if (!(delay >= 0))
        return cc__errf_null(EINVAL, "cc_loop_call_later: delay must be >= 0, "
                                     "got %g", delay);
    t = record_new(l, fn, arg);
    if (t == NULL)
        return cc__err_null(ENOMEM, "cc_loop_call_later: out of memory");
    t->state = ARMED;
    cc__timer_arm(l, &t->timer, cc__deadline_after(delay));
    return t;
}

bool cc_timer_cancel(cc_timer *t)
{
    if (t == NULL || cc__tls_loop != t->loop)
        return false;
    if (t->state == ARMED) {
        cc__timer_disarm(t->loop, &t->timer);
        free(t);
        return true;
    }
    if (t->state == QUEUED) {
        t->state = CANCELLED; /* freed when its turn comes */
        return true;
    }
    return false;
}
