/*
 * group.c - many tasks at once: cc_gather, cc_wait_for and task groups
 * (aio layer).
 *
 * A group belongs to the tasks of one loop: its members end on that
 * loop's thread, so the done-callback that counts them, notices a failure
 * and cancels the siblings runs there too, and the group needs no lock.
 */
#include <stdio.h>
#include <stdlib.h>

#include "aio/loop.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/future.h"
#include "internal/log.h"

int cc_gather(cc_future **fs, size_t n, void **results, bool return_errors,
              double timeout)
{
    if (n > 0 && fs == NULL)
        return cc__err(EINVAL, "cc_gather: futures are NULL");
    for (size_t i = 0; i < n; i++)
        if (!cc__future_ok(fs[i]))
            return cc__errf(EINVAL, "cc_gather: entry %zu is not a future", i);
    if (cc__check_timeout(timeout, "cc_gather") != 0)
        return -1;
    if (cc__wait(fs, n, return_errors ? CC_ALL_COMPLETED : CC_FIRST_EXCEPTION,
                 true, timeout) < 0) {
        int err = errno;
        size_t done = 0;

        if (err == ECANCELED) {
            /* The caller was cancelled: so are the children (as asyncio). */
            for (size_t i = 0; i < n; i++)
                cc_future_cancel(fs[i]);
            return cc__err(ECANCELED, "gather: the task was cancelled");
        }
        if (err != ETIMEDOUT && err != EAGAIN)
            return cc__errf(err, "gather failed: %s", cc_errmsg());
        /* The deadline: nothing is cancelled, the futures run on. */
        for (size_t i = 0; i < n; i++)
            done += cc_future_done(fs[i]);
        return cc__errf(err, "gather: %zu of %zu futures done %s", done, n,
                        err == EAGAIN ? "(timeout 0)" : "at the deadline");
    }
    if (!return_errors) {
        for (size_t i = 0; i < n; i++)
            if (cc_future_done(fs[i]) &&
                cc_future_result(fs[i], NULL, 0) != 0)
                return -1; /* the first failure in input order */
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;

        if (cc_future_done(fs[i]) && cc_future_result(fs[i], &r, 0) != 0)
            r = NULL; /* failed or cancelled: its error stays readable */
        if (results != NULL)
            results[i] = r;
    }
    return 0;
}

int cc_gather_outcomes(cc_future **fs, size_t n, cc_outcome *outs,
                       double timeout)
{
    int rc;
    int err;

    if (n > 0 && (fs == NULL || outs == NULL))
        return cc__err(EINVAL, "cc_gather_outcomes: futures or outs NULL");
    for (size_t i = 0; i < n; i++)
        if (!cc__future_ok(fs[i]))
            return cc__errf(EINVAL,
                            "cc_gather_outcomes: entry %zu is not a future", i);
    rc = cc_gather(fs, n, NULL, true, timeout);
    err = errno;
    if (rc != 0 && err != ETIMEDOUT && err != EAGAIN)
        return -1; /* ECANCELED or a NaN timeout: outs untouched */
    for (size_t i = 0; i < n; i++)
        (void)cc_future_outcome(fs[i], &outs[i]); /* cannot fail: checked */
    errno = err;
    return rc;
}

/* A task's future: its runner can be asked to stop and then ends.  An
 * executor's job or a hand-made future may run on whatever we ask. */
static bool is_task(cc_future *f)
{
    return (cc__future_state_word(f) &
            CC__F_RUNNER) != 0;
}

/*
 * wait_for's deadline passed (err ETIMEDOUT) or its caller was cancelled
 * (ECANCELED) on a future that is not a task: cancel it if it has not
 * started and return at once, as asyncio.wait_for does with an executor
 * future.  A running job runs on; its future stays the caller's, to await
 * or free.  A future that finished meanwhile gives its outcome.
 */
static int give_up_on_job(cc_future *f, void **result, int err)
{
    bool cancelled = cc_future_cancel(f);

    if (err == ECANCELED)
        return cc__err(ECANCELED, "wait_for: the task was cancelled");
    if (!cancelled && cc_future_done(f))
        return cc_future_result(f, result, 0); /* done just in time */
    return cc__err(ETIMEDOUT, cancelled
                                  ? "wait_for timed out; the job was "
                                    "cancelled before it started"
                                  : "wait_for timed out; the job still runs");
}

/* Fail with code and msg, keeping `cause` (may be NULL) as the error's
 * cause (a copy).  Returns -1. */
static int fail_with_cause(int code, const cc_error *cause, const char *msg)
{
    cc_error *e;

    if (cause == NULL)
        return cc__err(code, msg);
    e = cc_error_new(code, cause, "%s", msg);
    if (e == NULL)
        return cc__err(code, msg); /* out of memory: no cause, still code */
    return cc__err_adopt(e);
}

/*
 * The same for a task: cancel it and wait until it has finished
 * cancelling, as asyncio.wait_for does.  The wait is shielded, so the
 * caller's own cancellation cannot cut it short; it is reported once the
 * task has ended (ECANCELED wins, as for every blocking call of a
 * cancelled task).  A task that swallowed the cancellation and returned
 * a result gives it; one that failed with its own error while being
 * cancelled gives ETIMEDOUT caused by that error (Python re-raises it).
 */
static int cancel_task_and_wait(cc_future *f, void **result, int err)
{
    bool fiber = cc__ctx_get()->fiber != NULL;
    bool shielded;
    void *r = NULL;
    int rc;

    cc_future_cancel(f);
    shielded = fiber && cc_shield_push(CC_FOREVER) == 0;
    rc = cc_future_result(f, &r, CC_FOREVER);
    if (shielded)
        cc_shield_pop();
    if (err == ECANCELED || cc__cancel_pending())
        return fail_with_cause(ECANCELED, cc_future_error(f),
                               "wait_for: the task was cancelled");
    if (rc == 0) { /* it finished just before, or despite, the cancellation */
        if (result != NULL)
            *result = r;
        return 0;
    }
    if (cc_future_error(f) != NULL)
        return fail_with_cause(ETIMEDOUT, cc_future_error(f),
                               "wait_for timed out; the awaited task failed "
                               "while being cancelled");
    return cc__err(ETIMEDOUT, "wait_for timed out; the awaited task was "
                              "cancelled");
}

int cc_wait_for(cc_future *f, void **result, double timeout)
{
    int rc;
    int err;

    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_wait_for: not a future");
    rc = cc_future_result(f, result, timeout);
    if (rc == 0 || (errno != ETIMEDOUT && errno != EAGAIN &&
                    errno != ECANCELED))
        return rc;
    err = errno == EAGAIN ? ETIMEDOUT : errno;
    if (err == ECANCELED && cc_future_cancelled(f))
        return rc; /* the future itself was cancelled */
    if (!is_task(f))
        return give_up_on_job(f, result, err);
    return cancel_task_and_wait(f, result, err);
}

/* ----------------------------------------------------------------- groups */

#define GROUP_MAGIC 0x47525550u /* "GRUP" */

/*
 * A group and everything in it belong to one loop's thread: its members
 * are tasks of that loop, their done-callback (member_done) runs there
 * when each ends, and the group may be waited on only by a task of that
 * loop.  So no lock: `live` and `sleeper` are touched by one thread.
 * Members may spawn more members while a wait runs (asyncio.TaskGroup):
 * the wait counts members, it does not hold on to the array, which a
 * spawn may move.
 */
struct cc_group {
    uint32_t magic;
    cc_loop *loop;       /* the loop of its first member; NULL before */
    cc_future **tasks;   /* every member, in spawn order; one reference each */
    size_t n;
    size_t cap;
    size_t live;         /* members whose done-callback has not run yet */
    cc__waiter *sleeper; /* a wait parked until live == 0, or NULL */
    bool waiting;        /* cc_group_wait runs */
    bool failed;         /* a task failed: the rest were cancelled */
    bool cancelled;      /* cc_group_cancel */
    bool finished;       /* a wait has returned: no more members */
    cc_error **errors;   /* filled by cc_group_wait */
    size_t nerrors;
};

static bool group_ok(const cc_group *g)
{
    return g != NULL && g->magic == GROUP_MAGIC;
}

cc_group *cc_group_new(void)
{
    cc_group *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return cc__err_null(ENOMEM, "cc_group_new: out of memory");
    g->magic = GROUP_MAGIC;
    return g;
}

static void cancel_members(cc_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        cc_future_cancel(g->tasks[i]);
}

/*
 * A member ended (its done-callback, on the group's loop thread): if it
 * failed, cancel the others (asyncio.TaskGroup); when it was the last one
 * and a wait runs, the group is finished and the wait is woken.
 */
static int member_done(cc_future *f, void *arg)
{
    cc_group *g = arg;
    cc__wakeup wk;

    CC__ASSERT(g->live > 0);
    g->live--;
    if (!g->failed && (atomic_load(&f->state) & CC__F_FAILED)) {
        g->failed = true;
        cancel_members(g);
    }
    if (g->live > 0 || !g->waiting)
        return 0;
    g->finished = true;
    if (g->sleeper != NULL && cc__waiter_claim(g->sleeper, &wk))
        cc__wakeup_fire(wk);
    g->sleeper = NULL;
    return 0;
}

/* Why the group takes no new member (ESHUTDOWN), or 0 when it does. */
static int refuse_spawn(const cc_group *g)
{
    if (g->finished)
        return cc__err(ESHUTDOWN, "cc_group_spawn: the group is finished "
                                  "(its wait has returned)");
    if (g->failed || g->cancelled)
        return cc__err(ESHUTDOWN, "cc_group_spawn: the group has failed or "
                                  "was cancelled");
    if (g->loop != NULL && g->loop != cc_loop_current())
        return cc__err(EINVAL, "cc_group_spawn: the group belongs to "
                               "another loop");
    return 0;
}

/* Room for one more member; 0 or -1 with ENOMEM. */
static int reserve(cc_group *g)
{
    size_t cap;
    cc_future **t;

    if (g->n < g->cap)
        return 0;
    cap = g->cap ? g->cap * 2 : 8;
    t = realloc(g->tasks, cap * sizeof(*t));
    if (t == NULL)
        return cc__err(ENOMEM, "cc_group_spawn: out of memory");
    g->tasks = t;
    g->cap = cap;
    return 0;
}

cc_future *cc_group_spawn(cc_group *g, cc_fn fn, void *arg)
{
    cc_future *f;

    if (!group_ok(g))
        return cc__err_null(EINVAL, "cc_group_spawn: not a group");
    if (refuse_spawn(g) != 0 || reserve(g) != 0)
        return NULL;
    f = cc_spawn(fn, arg);
    if (f == NULL)
        return NULL;
    g->live++; /* before the callback: it counts this member down */
    if (cc_future_add_done_callback(f, member_done, g) != 0) {
        g->live--;
        cc_future_cancel(f);
        cc_future_free(f);
        return NULL;
    }
    g->loop = cc_loop_current();
    g->tasks[g->n++] = f;
    return f;
}

void cc_group_cancel(cc_group *g)
{
    if (!group_ok(g))
        return;
    g->cancelled = true;
    cancel_members(g);
}

/* True when the caller may wait for the members: a task of their loop
 * (or nobody is left to wait for). */
static bool may_wait(const cc_group *g)
{
    return g->live == 0 ||
           (cc_current_task() != NULL && cc_loop_current() == g->loop);
}

/*
 * Park until every member has ended, members spawned meanwhile included,
 * or the deadline.  Returns 0, ETIMEDOUT (members still run), or ECANCELED
 * when the calling task was cancelled first (not inside a shield).
 */
static int wait_members(cc_group *g, int64_t deadline)
{
    int rc = 0;

    g->waiting = true;
    while (g->live > 0) {
        cc__waiter w;

        cc__waiter_init(&w);
        g->sleeper = &w;
        rc = cc__waiter_park(&w, deadline);
        if (g->sleeper == &w)
            g->sleeper = NULL;
        if (rc != 0)
            break;
    }
    g->waiting = false;
    return rc;
}

/* Wait for every member to end, whatever happens to the caller: its
 * cancellation is masked (the members' callbacks point at g, which must
 * outlive them). */
static void wait_all(cc_group *g)
{
    cc__cancel_mask();
    (void)wait_members(g, CC__NS_FOREVER);
    cc__cancel_unmask();
    CC__ASSERT(g->live == 0);
}

/* Copy every member's error into g->errors; returns how many failed. */
static size_t collect_errors(cc_group *g)
{
    for (size_t i = 0; i < g->nerrors; i++)
        cc_error_free(g->errors[i]);
    free(g->errors);
    g->errors = calloc(g->n + 1, sizeof(cc_error *));
    g->nerrors = 0;
    for (size_t i = 0; i < g->n; i++) {
        const cc_error *e = cc_future_error(g->tasks[i]);

        if (e != NULL && g->errors != NULL)
            g->errors[g->nerrors++] = cc_error_copy(e);
    }
    return g->nerrors;
}

int cc_group_wait(cc_group *g, double timeout)
{
    int64_t deadline;
    int rc;

    if (!group_ok(g))
        return cc__err(EINVAL, "cc_group_wait: not a group");
    if (!may_wait(g))
        return cc__err(EINVAL, "cc_group_wait: only a task of the group's "
                               "loop can wait for it");
    if (cc__deadline_for(timeout, "cc_group_wait", &deadline) != 0)
        return -1;
    if (timeout == 0 && g->live > 0)
        return cc__errf(EAGAIN, "group wait: %zu of %zu tasks still run "
                                "(timeout 0)", g->live, g->n);
    rc = wait_members(g, deadline);
    if (rc == ETIMEDOUT || rc == EAGAIN)
        return cc__errf(ETIMEDOUT, "group wait: %zu of %zu tasks still run "
                                   "at the deadline", g->live, g->n);
    if (rc != 0) {
        /* The waiting task was cancelled: so is the group. */
        cc_group_cancel(g);
        wait_all(g);
        g->finished = true;
        return cc__err(ECANCELED, "group wait: the task was cancelled");
    }
    g->finished = true;
    if (collect_errors(g) > 0) {
        cc_error *first = g->errors[0];

        return cc__err_adopt(cc_error_new(
            cc_error_code(first), first,
            "%zu of %zu tasks of the group failed; the first: %s", g->nerrors,
            g->n, cc_error_message(first)));
    }
    if (g->cancelled)
        return cc__err(ECANCELED, "the group was cancelled");
    return 0;
}

size_t cc_group_error_count(cc_group *g)
{
    return group_ok(g) ? g->nerrors : 0;
}

const cc_error *cc_group_error(cc_group *g, size_t i)
{
    return group_ok(g) && i < g->nerrors ? g->errors[i] : NULL;
}

void cc_group_free(cc_group *g)
{
    if (!group_ok(g))
        return;
    if (g->live > 0) {
        cancel_members(g);
        if (!may_wait(g)) {
            /* Its members' callbacks still point at it: keep it. */
            cc__logf(CC_LOG_ERROR, "concur: cc_group_free(%p) refused: %zu "
                                   "tasks still run and only a task of the "
                                   "group's loop can wait for them",
                     (void *)g, g->live);
            return;
        }
        wait_all(g);
    }
    g->magic = 0;
    for (size_t i = 0; i < g->n; i++)
        cc_future_free(g->tasks[i]);
    for (size_t i = 0; i < g->nerrors; i++)
        cc_error_free(g->errors[i]);
    free(g->errors);
    free(g->tasks);
    free(g);
}
