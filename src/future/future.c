/*
 * future.c - cc_future: states, completion, waiting, callbacks, hand-made
 * futures, runners and reference counting (future layer).
 *
 * See src/internal/future.h for the state word, its transitions and what
 * `mu` guards.  Lock order: f->mu may be held while a watcher's notify
 * takes the lock of the thing it belongs to (a cc_wait group, an
 * as_completed iterator) and while a runner's cancel takes its own (a
 * loop's remote list), never the reverse.  User callbacks run with no lock
 * held.  Records come from future_alloc.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future/future_alloc.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/future.h"
#include "internal/log.h"

static cc_future *future_init(cc_future *f, bool user, cc_executor *ex,
                              cc_fn fn, void *arg)
{
    f->magic = CC__FUTURE_MAGIC;
    atomic_init(&f->state, CC__F_PENDING | (user ? CC__F_USER : 0));
    atomic_init(&f->refs, user ? 1 : 2);
    cc__mutex_init(&f->mu);
    f->fn = fn;
    f->arg = arg;
    f->ex = ex;
    atomic_init(&f->next, NULL);
    CC__VG_ATOMIC_WORD(&f->state, sizeof(f->state));
    CC__VG_ATOMIC_WORD(&f->refs, sizeof(f->refs));
    CC__VG_ATOMIC_WORD(&f->next, sizeof(f->next));
    cc__list_init(&f->watchers);
    return f;
}

cc_future *cc__future_new_task(cc_executor *ex, cc_fn fn, void *arg)
{
    cc_future *f = cc__future_alloc();

    if (f == NULL)
        return cc__err_null(ENOMEM, "cc_submit: out of memory");
    return future_init(f, false, ex, fn, arg);
}

cc_future *cc__future_new_run_by(cc__runner *r)
{
    cc_future *f = cc__future_alloc();

    if (f == NULL)
        return cc__err_null(ENOMEM, "cc_spawn: out of memory for a future");
    future_init(f, false, NULL, NULL, NULL);
    atomic_store_explicit(&f->state, CC__F_RUNNING | CC__F_RUNNER,
                          memory_order_relaxed);
    f->runner = r;
    return f;
}

cc_future *cc_future_new(void)
{
    cc_future *f = cc__future_alloc();

    if (f == NULL)
        return cc__err_null(ENOMEM, "cc_future_new: out of memory");
    return future_init(f, true, NULL, NULL, NULL);
}

/* --------------------------------------------------------------- references */

static void report_unretrieved(cc_future *f)
{
    char text[1024];

    cc_error_format(f->error, text, sizeof(text));
    cc__debugf("a future's error was never retrieved: %s", text);
}

void cc__future_unref(cc_future *f)
{
    uint32_t refs;
    uint32_t s;

    CC__ASSERT(f->magic == CC__FUTURE_MAGIC); /* before: after, f may be gone */
    CC__VG_RELEASE(&f->refs); /* the last one's free comes after */
    refs = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    CC__ASSERT(refs >= 1);
    if (refs != 1)
        return;
    CC__VG_ACQUIRE(&f->refs);
    s = cc__future_state_word(f);
    if ((s & CC__F_RUNNER) && !(s & CC__F_AWAITED) && !(s & CC__F_FAILED) &&
        cc__debug())
        cc__debugf("a task's future was freed without its outcome ever "
                   "being awaited");
    if (s & CC__F_FAILED) {
        if (!(s & CC__F_ERROR_SEEN) && cc__debug())
            report_unretrieved(f);
        cc_error_free(f->error);
    } else if ((s & CC__F_OWNS_RESULT) &&
               (s & CC__F_STATE_MASK) == CC__F_FINISHED) {
        cc_blob_free(f->result); /* a process pool's result */
    }
    /* Callbacks of a future that never completed are dropped unrun; no
     * watcher can be left (whoever waits holds a reference). */
    for (cc__link *n; (n = cc__list_pop_front(&f->watchers)) != NULL;) {
        cc__watcher *w = CC__CONTAINER_OF(n, cc__watcher, link);

        CC__ASSERT(w->notify == NULL);
        free(CC__CONTAINER_OF(w, cc__callback, w));
    }
    cc__future_release(f);
}

cc_future *cc_future_ref(cc_future *f)
{
    if (!cc__future_ok(f))
        return cc__err_null(EINVAL, "cc_future_ref: not a future");
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void cc_future_free(cc_future *f)
{
    if (cc__future_ok(f))
        cc__future_unref(f);
}

/* ------------------------------------------------------------- completion */

/* Run the user callbacks of a done future, in order, with no lock held;
 * each is freed after it ran. */
static void run_callbacks(cc_future *f, cc__list *cbs)
{
    for (cc__link *n; (n = cc__list_pop_front(cbs)) != NULL;) {
        cc__callback *cb = CC__CONTAINER_OF(n, cc__callback, w.link);

        if (cb->fn(f, cb->arg) != 0) {
            char text[1024];
            const cc_error *e = cc_last_error();

            cc_error_format(e, text, sizeof(text));
            cc__logf(CC_LOG_WARNING, "concur: a done-callback of a future "
                                     "failed: %s",
                     e != NULL ? text : "(no error recorded)");
            cc_error_clear();
        }
        free(cb);
    }
}

/*
 * The future just became done (old = the state word before): notify the
 * watchers under mu, then run the callbacks outside it, in the order they
 * were added.
 */
static void after_done(cc_future *f, uint32_t old)
{
    cc__list cbs = {NULL, NULL};

    CC__ASSERT(cc__future_state(f) >= CC__F_FINISHED);
    CC__ASSERT((old & CC__F_STATE_MASK) < CC__F_FINISHED);
    if (!(old & CC__F_WATCHED))
        return;
    cc__mutex_lock(&f->mu);
    for (cc__link *n; (n = cc__list_pop_front(&f->watchers)) != NULL;) {
        cc__watcher *w = CC__CONTAINER_OF(n, cc__watcher, link);

        if (w->notify == NULL)
            cc__list_push_back(&cbs, n); /* a callback: after the unlock */
        else
            w->notify(w, f); /* may wake w's owner: read nothing of w after */
    }
    cc__mutex_unlock(&f->mu);
    run_callbacks(f, &cbs);
}

void cc__future_finish(cc_future *f, void *result, cc_error *error)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    uint32_t done;

    CC__ASSERT((old & CC__F_STATE_MASK) == CC__F_RUNNING ||
               (old & CC__F_STATE_MASK) == CC__F_PENDING);
    if (error != NULL)
        f->error = error;
    else
        f->result = result;
    /* Keep the flags that stay (USER); drop WATCHED (after_done handles
     * the watchers it announced). */
    CC__VG_RELEASE(f); /* the outcome, for whoever sees FINISHED */
    do {
        done = (old & CC__F_STICKY) | CC__F_FINISHED |
               (error != NULL ? CC__F_FAILED : 0);
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &old, done, memory_order_acq_rel, memory_order_relaxed));
    after_done(f, old);
}

bool cc__future_run(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    cc_error *error = NULL;
    void *result;

    do {
        if ((s & CC__F_STATE_MASK) != CC__F_PENDING)
            return false; /* cancelled before it could start */
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, (s & ~CC__F_STATE_MASK) | CC__F_RUNNING,
        memory_order_acquire, memory_order_relaxed));
    CC__VG_ACQUIRE(f); /* fn and arg, as the submitter wrote them */
    CC__ASSERT(!(s & CC__F_RUNNER) && f->fn != NULL);
    result = f->fn(f->arg); /* fn and arg are dead after this read */
    if (result == NULL)
        error = cc__error_take_pending();
    else
        cc_error_clear();
    cc__future_finish(f, error != NULL ? NULL : result, error);
    return true;
}

bool cc__future_cancel(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);

    CC__VG_RELEASE(f);
    for (;;) {
        uint32_t st = s & CC__F_STATE_MASK;

        if (st == CC__F_CANCELLED)
            return true;
        if (st != CC__F_PENDING)
            return false;
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, (s & CC__F_STICKY) | CC__F_CANCELLED,
                memory_order_acq_rel, memory_order_relaxed))
            break;
    }
    after_done(f, s);
    return true;
}

/* Ask a RUNNER future's runner to stop; true when it was asked or the
 * future ended cancelled. */
static bool cancel_runner(cc_future *f)
{
    cc__runner *r;

    cc__mutex_lock(&f->mu);
    r = f->runner;
    if (r == NULL) { /* ended already */
        cc__mutex_unlock(&f->mu);
        return cc__future_state(f) == CC__F_CANCELLED;
    }
    r->cancel(r);
    cc__mutex_unlock(&f->mu);
    return true;
}

bool cc_future_cancel(cc_future *f)
{
    if (!cc__future_ok(f)) {
        cc__err(EINVAL, "cc_future_cancel: not a future");
        return false;
    }
    if (cc__future_state_word(f) & CC__F_RUNNER)
        return cancel_runner(f); /* a running task: ask it */
    return cc__future_cancel(f);
}

void cc__future_finish_cancelled(cc_future *f)
{
    uint32_t old;

    CC__VG_RELEASE(f);
    old = atomic_exchange_explicit(
        &f->state,
        (atomic_load(&f->state) & CC__F_STICKY) | CC__F_CANCELLED,
        memory_order_acq_rel);

    CC__ASSERT((old & CC__F_STATE_MASK) == CC__F_RUNNING);
    after_done(f, old);
}

/* ----------------------------------------------------------------- runners */

void cc__future_runner_detach(cc_future *f)
{
    cc__mutex_lock(&f->mu);
    CC__ASSERT((atomic_load(&f->state) & CC__F_RUNNER) && f->runner != NULL);
    f->runner = NULL; /* cancellers stop here from now on */
    cc__mutex_unlock(&f->mu);
}

bool cc__future_runner_call(cc_future *f, void (*fn)(cc__runner *, void *),
                            void *arg)
{
    bool called = false;

    if (!(cc__future_state_word(f) &
          CC__F_RUNNER))
        return false;
    cc__mutex_lock(&f->mu);
    if (f->runner != NULL) {
        fn(f->runner, arg);
        called = true;
    }
    cc__mutex_unlock(&f->mu);
    return called;
}

/* ---------------------------------------------------------------- watching */

/*
 * Set WATCHED unless the future is done; mu held.  True when set (the
 * caller may now link a watcher: the completion will see the flag and take
 * mu to notify it), false when done (nothing to watch).  The one place the
 * registration side of the completion/registration order is decided.
 */
static bool watch_unless_done_locked(cc_future *f)
{
    uint32_t s = cc__future_state_word(f);

    CC__ASSERT(cc__mutex_owned(&f->mu));
    do {
        if ((s & CC__F_STATE_MASK) >= CC__F_FINISHED)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, s | CC__F_WATCHED, memory_order_acq_rel,
        memory_order_acquire));
    return true;
}

bool cc__future_watch(cc_future *f, cc__watcher *w)
{
    CC__ASSERT(w->notify != NULL);
    cc__link_init(&w->link);
    cc__mutex_lock(&f->mu);
    if (!watch_unless_done_locked(f)) {
        cc__mutex_unlock(&f->mu);
        return false;
    }
    cc__list_push_back(&f->watchers, &w->link);
    cc__mutex_unlock(&f->mu);
    return true;
}

void cc__future_unwatch(cc_future *f, cc__watcher *w)
{
    cc__mutex_lock(&f->mu);
    cc__list_remove(&f->watchers, &w->link); /* nothing if notified */
    cc__mutex_unlock(&f->mu);
}

/* --------------------------------------------------------------- waiting */

static void notify_waiter(cc__watcher *w, cc_future *f)
{
    cc__wakeup wk;

    (void)f;
    if (cc__waiter_claim(w->data, &wk))
        cc__wakeup_fire(wk);
}

/* Debug mode: a pool worker about to wait on a future of its own pool while
 * every worker of that pool is busy is probably waiting forever. */
static void check_self_deadlock(cc_future *f)
{
    cc_executor *mine = cc__ctx_get()->worker_of;

    if (mine == NULL || mine != f->ex || !cc__executor_ok(mine) ||
        mine->ops->saturated == NULL || !mine->ops->saturated(mine))
        return;
    cc__debugf("likely deadlock: worker '%s' of %s '%s' waits for a future "
               "of its own pool, and all %d of its workers are busy",
               cc__ctx_name(cc__ctx_get()), mine->ops->kind, mine->name,
               mine->ops->max_workers(mine));
}

/* Wait until done or the deadline: 0 or ETIMEDOUT. */
static int wait_done(cc_future *f, int64_t deadline)
{
    cc__waiter waiter;
    cc__watcher w;
    int rc;

    for (unsigned round = 0; cc__spin_round(round, deadline); round++)
        if (cc__future_state(f) >= CC__F_FINISHED)
            return 0;
    if (cc__debug())
        check_self_deadlock(f);
    cc__waiter_init(&waiter);
    w.notify = notify_waiter;
    w.data = &waiter;
    if (!cc__future_watch(f, &w))
        return 0; /* done meanwhile */
    rc = cc__waiter_park(&waiter, deadline);
    cc__future_unwatch(f, &w);
    if (rc != 0 && cc__future_state(f) >= CC__F_FINISHED)
        rc = 0;
    return rc;
}

int cc_future_result(cc_future *f, void **result, double timeout)
{
    uint32_t st;

    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_future_result: not a future");
    if (cc__check_timeout(timeout, "cc_future_result") != 0)
        return -1;
    atomic_fetch_or_explicit(&f->state, CC__F_AWAITED, memory_order_relaxed);
    st = cc__future_state(f);
    if (st < CC__F_FINISHED) {
        int64_t deadline;

        int rc;

        if (timeout == 0)
            return cc__err(EAGAIN, "future is not done yet");
        if (cc__checkpoint("future result") != 0 ||
            cc__deadline_for(timeout, "cc_future_result", &deadline) != 0)
            return -1;
        rc = wait_done(f, deadline);
        if (rc == ECANCELED)
            return cc__err_wait(rc, "future result");
        if (rc != 0)
            return cc__err(ETIMEDOUT, "future result timed out: the task is "
                                      "still pending or running");
        st = cc__future_state(f);
    }
    if (st == CC__F_CANCELLED)
        return cc__err(ECANCELED, "future was cancelled");
    if (cc__future_state_word(f) & CC__F_FAILED) {
        cc_error *copy = cc_error_copy(f->error);

        atomic_fetch_or(&f->state, CC__F_ERROR_SEEN | CC__F_AWAITED);
        if (copy == NULL)
            return cc__errf(cc_error_code(f->error), "%s",
                            cc_error_message(f->error));
        return cc__err_adopt(copy);
    }
    if (result != NULL)
        *result = f->result;
    return 0;
}

const cc_error *cc_future_error(cc_future *f)
{
    if (!cc__future_ok(f) ||
        !(cc__future_state_word(f) &
          CC__F_FAILED))
        return NULL;
    atomic_fetch_or(&f->state, CC__F_ERROR_SEEN | CC__F_AWAITED);
    return f->error;
}

int cc_future_outcome(cc_future *f, cc_outcome *out)
{
    uint32_t s;

    if (out == NULL)
        return cc__err(EINVAL, "cc_future_outcome: out is NULL");
    memset(out, 0, sizeof(*out));
    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_future_outcome: not a future");
    s = cc__future_state_word(f);
    if ((s & CC__F_STATE_MASK) < CC__F_FINISHED) {
        out->status = EINPROGRESS;
        return 0;
    }
    atomic_fetch_or_explicit(&f->state, CC__F_AWAITED, memory_order_relaxed);
    if ((s & CC__F_STATE_MASK) == CC__F_CANCELLED) {
        out->status = ECANCELED;
    } else if (s & CC__F_FAILED) {
        atomic_fetch_or(&f->state, CC__F_ERROR_SEEN);
        out->error = f->error;
        out->status = cc_error_code(f->error);
    } else {
        out->result = f->result;
    }
    return 0;
}

bool cc_future_cancelled(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) == CC__F_CANCELLED;
}

bool cc_future_running(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) == CC__F_RUNNING;
}

bool cc_future_done(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) >= CC__F_FINISHED;
}

/* --------------------------------------------------------------- callbacks */

int cc_future_add_done_callback(cc_future *f, cc_done_fn fn, void *arg)
{
    cc__callback *cb;

    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_future_add_done_callback: not a future");
    if (fn == NULL)
        return cc__err(EINVAL, "cc_future_add_done_callback: fn is NULL");
    cb = malloc(sizeof(*cb));
    if (cb == NULL)
        return cc__err(ENOMEM, "cc_future_add_done_callback: out of memory");
    cc__link_init(&cb->w.link);
    cb->w.notify = NULL;
    cb->w.data = NULL;
    cb->fn = fn;
    cb->arg = arg;
    cc__mutex_lock(&f->mu);
    if (!watch_unless_done_locked(f)) {
        cc__list one = {NULL, NULL};

        cc__mutex_unlock(&f->mu);
        cc__list_push_back(&one, &cb->w.link);
        run_callbacks(f, &one); /* already done: call it now */
        return 0;
    }
    cc__list_push_back(&f->watchers, &cb->w.link); /* in order of addition */
    cc__mutex_unlock(&f->mu);
    return 0;
}

/* ------------------------------------------------------ hand-made futures */

static int check_user(cc_future *f, const char *what)
{
    if (!cc__future_ok(f))
        return cc__errf(EINVAL, "%s: not a future", what);
    if (!(atomic_load_explicit(&f->state, memory_order_relaxed) & CC__F_USER))
        return cc__errf(EINVAL, "%s: only a future made by cc_future_new "
                                "can be completed by hand", what);
    return 0;
}

bool cc__future_claim(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);

    do {
        if ((s & CC__F_STATE_MASK) != CC__F_PENDING)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, (s & ~CC__F_STATE_MASK) | CC__F_RUNNING,
        memory_order_acquire, memory_order_relaxed));
    return true;
}

int cc_future_set_result(cc_future *f, void *result)
{
    if (check_user(f, "cc_future_set_result") != 0)
        return -1;
    if (!cc__future_claim(f))
        return cc__err(EALREADY, "cc_future_set_result: the future is already "
                                 "done");
    cc__future_finish(f, result, NULL);
    return 0;
}

int cc_future_set_error(cc_future *f, const cc_error *err)
{
    cc_error *copy;

    if (check_user(f, "cc_future_set_error") != 0)
        return -1;
    if (err == NULL || cc_error_code(err) <= 0)
        return cc__err(EINVAL, "cc_future_set_error: an error with a code > 0 "
                               "is required");
    copy = cc_error_copy(err);
    if (copy == NULL)
        return -1;
    if (!cc__future_claim(f)) {
        cc_error_free(copy);
        return cc__err(EALREADY, "cc_future_set_error: the future is already "
                                 "done");
    }
    cc__future_finish(f, NULL, copy);
    return 0;
}
