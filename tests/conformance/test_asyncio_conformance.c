/* test_asyncio_conformance - behaviours of Python's asyncio that concur's
 * tasks keep, each test named after the CPython test (Lib/test/
 * test_asyncio/) whose behaviour it mirrors, written in our own words and
 * code.  Where concur differs on purpose, the test shows the difference
 * its header documents.  Waits that a loaded machine may stretch are
 * never asserted as upper bounds: a job waits on an event the test sets. */
#include "test_util.h"

/* A job for a pool thread: waits for the event it is given (bounded, so
 * that a broken wait_for fails the test instead of hanging it), then
 * returns 7, or 8 when nobody set the event. */
static void *job_waits_for_event(void *arg)
{
    return cc_event_wait(arg, 5.0) == 0 ? (void *)7 : (void *)8;
}

/* ---- test_waitfor.py ---- */

/* test_wait_for (with an executor job): wait_for gives up at its deadline
 * even though a running pool job cannot be cancelled; the job runs on and
 * its future can still be awaited.  From a task. */
static void *wait_for_executor_main(void *arg)
{
    cc_event *ev = cc_event_new();
    cc_future *f = cc_to_thread(job_waits_for_event, ev);
    void *r = NULL;
    int rc = cc_wait_for(f, &r, 0.05);
    int e = errno;
    bool done = cc_future_done(f);

    cc_event_set(ev);
    if (rc != -1 || e != ETIMEDOUT)
        return cc_fail(EPROTO, "wait_for gave %d/%s (result %p), not "
                               "ETIMEDOUT", rc, cc_errname(e), r);
    if (done)
        return cc_fail(EPROTO, "the job ended before the event was set");
    if (cc_future_result(f, &r, CC_FOREVER) != 0 || (intptr_t)r != 7)
        return cc_fail(EPROTO, "the job's future lost its result");
    cc_future_free(f);
    cc_event_free(ev);
    return arg;
}

static void test_wait_for_executor_future_times_out_in_a_task(void **state)
{
    assert_ok(cc_run(wait_for_executor_main, state, NULL));
}

/* The same from a plain thread, on a pool's future. */
static void test_wait_for_executor_future_times_out_in_a_thread(void **state)
{
    (void)state;
    cc_executor *pool = cc_thread_pool_new(1, NULL);
    cc_event *ev = cc_event_new();
    cc_future *f = cc_submit(pool, job_waits_for_event, ev);
    void *r = NULL;

    assert_non_null(f);
    assert_fails_with(cc_wait_for(f, &r, 0.05), ETIMEDOUT);
    assert_false(cc_future_done(f));
    cc_event_set(ev);
    assert_ok(cc_future_result(f, &r, CC_FOREVER));
    assert_int_equal((intptr_t)r, 7);
    cc_future_free(f);
    cc_executor_free(pool);
    cc_event_free(ev);
}

/* A job that has not started when the deadline passes is cancelled, as
 * asyncio cancels the wrapped concurrent future. */
static void test_wait_for_cancels_an_executor_job_not_started(void **state)
{
    (void)state;
    cc_executor *pool = cc_thread_pool_new(1, NULL);
    cc_event *ev = cc_event_new();
    cc_future *busy = cc_submit(pool, job_waits_for_event, ev);
    cc_future *queued = cc_submit(pool, tu_nothing, (void *)1);

    assert_fails_with(cc_wait_for(queued, NULL, 0.02), ETIMEDOUT);
    assert_true(cc_future_cancelled(queued));
    cc_event_set(ev);
    assert_ok(cc_future_result(busy, NULL, CC_FOREVER));
    cc_future_free(busy);
    cc_future_free(queued);
    cc_executor_free(pool);
    cc_event_free(ev);
}

/* test_wait_for_self_cancellation: a task that holds up its cancellation
 * (cleanup under a shield, then a result) keeps wait_for waiting; the
 * waiter cancelled meanwhile still fails ECANCELED, and the inner task's
 * result stays in its future. */
typedef struct {
    cc_event *cleanup_started; /* set by the inner task once cancelled */
    cc_event *cleanup_may_end; /* set by main after cancelling the waiter */
    cc_future *inner;
    int rc;                    /* the waiter's wait_for */
    int err;
} self_cancel;

static void *holds_up_its_cancellation(void *arg)
{
    self_cancel *sc = arg;

    if (cc_sleep(30) == 0)
        return cc_fail(EPROTO, "slept through the cancellation");
    cc_shield_push(10.0);
    cc_event_set(sc->cleanup_started);
    cc_event_wait(sc->cleanup_may_end, 5.0);
    cc_shield_pop();
    return (void *)42;
}

static void *waits_for_inner(void *arg)
{
    self_cancel *sc = arg;
    void *r = NULL;

    sc->rc = cc_wait_for(sc->inner, &r, 0.01);
    sc->err = errno;
    return arg;
}

static void *self_cancellation_main(void *arg)
{
    self_cancel sc = {cc_event_new(), cc_event_new(), NULL, 0, 0};
    cc_future *waiter;
    void *r = NULL;

    sc.inner = cc_spawn(holds_up_its_cancellation, &sc);
    waiter = cc_spawn(waits_for_inner, &sc);
    if (cc_event_wait(sc.cleanup_started, 10.0) != 0)
        return cc_fail(EPROTO, "wait_for did not cancel the inner task");
    cc_future_cancel(waiter);
    cc_event_set(sc.cleanup_may_end);
    if (cc_future_result(waiter, NULL, CC_FOREVER) != 0)
        return cc_fail(EPROTO, "the waiter failed: %s", cc_errmsg());
    if (sc.rc != -1 || sc.err != ECANCELED)
        return cc_fail(EPROTO, "a cancelled wait_for gave %d/%s", sc.rc,
                       cc_errname(sc.err));
    if (cc_future_result(sc.inner, &r, CC_FOREVER) != 0 || (intptr_t)r != 42)
        return cc_fail(EPROTO, "the inner task's result was lost");
    cc_future_free(waiter);
    cc_future_free(sc.inner);
    cc_event_free(sc.cleanup_started);
    cc_event_free(sc.cleanup_may_end);
    return arg;
}

static void test_wait_for_self_cancellation(void **state)
{
    assert_ok(cc_run(self_cancellation_main, state, NULL));
}

/* test_wait_for_reraises_exception_during_cancellation: the awaited task
 * fails with its own error while being cancelled.  Python raises that
 * error; concur keeps ETIMEDOUT (the caller's deadline passed) and gives
 * the task's error as its cause. */
static void *fails_when_cancelled(void *arg)
{
    (void)arg;
    if (cc_sleep(30) == 0)
        return cc_fail(EPROTO, "slept through the cancellation");
    return cc_fail(EIO, "cleanup failed");
}

static void *reraise_main(void *arg)
{
    cc_future *inner = cc_spawn(fails_when_cancelled, NULL);
    const cc_error *cause;
    int rc = cc_wait_for(inner, NULL, 0.01);
    int e = errno;

    if (rc != -1 || e != ETIMEDOUT)
        return cc_fail(EPROTO, "wait_for gave %d/%s", rc, cc_errname(e));
    cause = cc_error_cause(cc_last_error());
    if (cc_error_code(cause) != EIO ||
        strcmp(cc_error_message(cause), "cleanup failed") != 0)
        return cc_fail(EPROTO, "the task's error is not the cause: '%s' "
                               "caused by '%s'", cc_errmsg(),
                       cc_error_message(cause));
    cc_future_free(inner);
    return arg;
}

static void test_wait_for_reraises_exception_during_cancellation(void **state)
{
    assert_ok(cc_run(reraise_main, state, NULL));
}

/* ---- test_taskgroups.py ---- */

/* A tree of tasks in one group: each member yields a random number of
 * times, spawns a random number of children into the group (while the
 * owner is already in cc_group_wait), yields again and ends.  The member
 * numbered fail_at fails on purpose: the "hercules" of test_taskgroup_25.
 * Members cancelled before they started never run their function, so the
 * checks are: every member the group accepted is done once the wait has
 * returned, and every one that started has ended. */
#define HYDRA_MAX 2048

typedef struct {
    int depth;
} head;

typedef struct {
    cc_group *g;
    int max_depth;
    long fail_at;            /* the member with this number fails; -1 none */
    head heads[HYDRA_MAX];   /* the members' arguments */
    cc_future *members[HYDRA_MAX]; /* borrowed from the group */
    long spawned;            /* members the group accepted */
    long started;            /* members whose function ran */
    long ended;              /* members whose function returned */
    char why[160];           /* what run_hydra found wrong */
} hydra;

static hydra hy; /* one tree at a time; the loop runs on one thread */

static void *hydra_head(void *arg);

/* Spawn a member at `depth`; false when the group refused it. */
static bool spawn_head(int depth)
{
    cc_future *f;

    if (hy.spawned == HYDRA_MAX)
        return false;
    hy.heads[hy.spawned].depth = depth;
    f = cc_group_spawn(hy.g, hydra_head, &hy.heads[hy.spawned]);
    if (f == NULL)
        return false;
    hy.members[hy.spawned++] = f;
    return true;
}

static void *hydra_head(void *arg)
{
    head *me = arg;
    long number = hy.started++;
    unsigned k = tu_rand_below(4);

    for (unsigned i = tu_rand_below(3); i > 0; i--)
        cc_yield();
    for (unsigned i = 0; i < k && me->depth < hy.max_depth; i++)
        if (!spawn_head(me->depth + 1) && errno != ESHUTDOWN)
            return cc_fail(EPROTO, "spawn failed: %s", cc_errmsg());
    for (unsigned i = tu_rand_below(3); i > 0; i--)
        cc_yield();
    hy.ended++;
    if (number == hy.fail_at)
        return cc_fail(EDOM, "hercules");
    return arg;
}

/* One tree: 4 roots spawned by the owner, who then waits.  Returns the
 * wait's result (errno kept), or -2 with hy.why when an invariant does not
 * hold. */
static int run_hydra(int max_depth, long fail_at)
{
    int rc;
    int e;

    memset(&hy, 0, sizeof(hy));
    hy.g = cc_group_new();
    hy.max_depth = max_depth;
    hy.fail_at = fail_at;
    for (int i = 0; i < 4; i++)
        if (!spawn_head(0))
            return -1;
    rc = cc_group_wait(hy.g, CC_FOREVER);
    e = errno;
    for (long i = 0; i < hy.spawned; i++)
        if (!cc_future_done(hy.members[i])) {
            snprintf(hy.why, sizeof(hy.why), "the wait returned before "
                     "member %ld of %ld ended", i, hy.spawned);
            return -2;
        }
    if (hy.ended != hy.started) {
        snprintf(hy.why, sizeof(hy.why), "%ld members started, %ld ended",
                 hy.started, hy.ended);
        return -2;
    }
    errno = e;
    return rc;
}

/* test_taskgroup_24: children add tasks to the group while its owner
 * waits; the wait returns once every one of them has ended. */
static void *children_spawn_main(void *arg)
{
    for (int round = 0; round < 50; round++) {
        int rc = run_hydra(5, -1);

        if (rc == -2)
            return cc_fail(EPROTO, "round %d: %s", round, hy.why);
        if (rc != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "round %d", round);
        cc_group_free(hy.g);
    }
    return arg;
}

static void test_taskgroup_children_spawn_while_waited(void **state)
{
    assert_ok(cc_run(children_spawn_main, state, NULL));
}

/* test_taskgroup_25: one member fails while the others keep adding
 * tasks; the group reports that error alone, refuses the spawns that come
 * after it, and every member it accepted has ended. */
static void *hercules_main(void *arg)
{
    for (int round = 0; round < 50; round++) {
        int rc = run_hydra(5, (long)tu_rand_below(4));
        int e = errno;

        if (rc == -2)
            return cc_fail(EPROTO, "round %d: %s", round, hy.why);
        if (rc != -1 || e != EDOM || cc_group_error_count(hy.g) != 1)
            return cc_fail(EPROTO, "round %d: wait gave %d/%s with %zu "
                                   "errors (%s)", round, rc, cc_errname(e),
                           cc_group_error_count(hy.g), cc_errmsg());
        if (cc_group_spawn(hy.g, tu_nothing, NULL) != NULL ||
            errno != ESHUTDOWN)
            return cc_fail(EPROTO, "round %d: spawn after the failure",
                           round);
        cc_group_free(hy.g);
    }
    return arg;
}

static void test_taskgroup_failure_while_children_spawn(void **state)
{
    assert_ok(cc_run(hercules_main, state, NULL));
}

/* test_taskgroup_finished: once the wait has returned, the group is
 * finished: a spawn is refused with an error and starts nothing. */
static _Atomic int late_ran;

static void *late_task(void *arg)
{
    atomic_store(&late_ran, 1);
    return arg;
}

static void *finished_main(void *arg)
{
    cc_group *g = cc_group_new();
    cc_future *f;
    int e;

    atomic_store(&late_ran, 0);
    cc_group_spawn(g, tu_nothing, (void *)1);
    if (cc_group_wait(g, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "wait");
    f = cc_group_spawn(g, late_task, NULL);
    e = errno;
    cc_yield();
    cc_yield();
    if (f != NULL || e != ESHUTDOWN || strstr(cc_errmsg(), "finished") == NULL)
        return cc_fail(EPROTO, "spawn into a finished group gave %p/%s (%s)",
                       (void *)f, cc_errname(e), cc_errmsg());
    if (atomic_load(&late_ran))
        return cc_fail(EPROTO, "the refused task ran");
    cc_group_free(g);
    return arg;
}

static void test_taskgroup_finished(void **state)
{
    assert_ok(cc_run(finished_main, state, NULL));
}

/* ---- cancel wins: a cancellation that reaches a task before it resumes ---- */

/* Blocks the loop's thread (not a timed assertion): every timer armed
 * before it expires meanwhile, so they all fire in the loop's next pass. */
static void block_the_loop(void)
{
    tu_sleep(0.02);
}

static void *short_sleep(void *arg)
{
    (void)arg;
    if (cc_sleep(0.001) != 0)
        return NULL; /* ECANCELED pending: the task ends cancelled */
    return (void *)1;
}

/* test_cancel_children_on_child_error, made deterministic: the sleep of
 * a task whose timer has fired but which has not run yet is cancelled; the
 * cancellation wins and the sleep fails ECANCELED, as in asyncio (a
 * cancel delivered before the task resumes is thrown into it). */
static void *cancel_after_timer_main(void *arg)
{
    for (int round = 0; round < 20; round++) {
        cc_future *t = cc_spawn(short_sleep, NULL);

        cc_yield();        /* t runs and sleeps */
        block_the_loop();  /* its timer expires */
        cc_yield();        /* the next pass fires it: t is ready, after us */
        cc_future_cancel(t);
        if (cc_future_result(t, NULL, CC_FOREVER) != -1 || errno != ECANCELED)
            return cc_fail(EPROTO, "round %d: the sleep whose timer fired "
                                   "before the cancel ended %s", round,
                           cc_future_done(t) && !cc_future_cancelled(t)
                               ? "with success" : "otherwise");
        cc_future_free(t);
    }
    return arg;
}

static void test_cancel_wins_over_an_expired_timer(void **state)
{
    assert_ok(cc_run(cancel_after_timer_main, state, NULL));
}

/* The flake it fixes: in a group, members whose timers expire in one
 * pass; the first fails and cancels the others, which have not run yet.
 * Every one of them ends cancelled, and the group reports one error. */
static void *fails_after_short_sleep(void *arg)
{
    (void)arg;
    if (cc_sleep(0.001) != 0)
        return NULL;
    return cc_fail(EPIPE, "member broke");
}

static void *group_same_pass_main(void *arg)
{
    for (int round = 0; round < 20; round++) {
        cc_group *g = cc_group_new();
        cc_future *others[4];

        cc_group_spawn(g, fails_after_short_sleep, NULL);
        for (int i = 0; i < 4; i++)
            others[i] = cc_group_spawn(g, short_sleep, NULL);
        cc_yield();       /* every member sleeps */
        block_the_loop(); /* every timer expires */
        if (cc_group_wait(g, CC_FOREVER) != -1 || errno != EPIPE ||
            cc_group_error_count(g) != 1)
            return cc_fail(EPROTO, "round %d: %zu errors (%s)", round,
                           cc_group_error_count(g), cc_errmsg());
        for (int i = 0; i < 4; i++)
            if (!cc_future_cancelled(others[i]))
                return cc_fail(EPROTO, "round %d: member %d slept on after "
                                       "the group was cancelled", round, i);
        cc_group_free(g);
    }
    return arg;
}

static void test_cancel_wins_over_timers_of_the_same_pass(void **state)
{
    assert_ok(cc_run(group_same_pass_main, state, NULL));
}

/* ---- test_locks.py: ConditionTests ---- */

/* A task in cc_cond_wait that records what the wait gave, whether it
 * held the lock then, and whether releasing it afterwards worked. */
typedef struct {
    cc_lock *l;
    cc_cond *c;
    int rc;
    int err;
    bool owned;        /* held the lock when the wait returned */
    int release_rc;
} cond_waiter;

static void *waits_on_cond(void *arg)
{
    cond_waiter *w = arg;

    if (cc_cond_acquire(w->c, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    w->rc = cc_cond_wait(w->c, 5.0);
    w->err = errno;
    w->owned = cc_lock_owned(w->l);
    w->release_rc = cc_cond_release(w->c);
    return arg;
}

/* The waiter of w ended as expected: rc/err, holding the lock, and its
 * release worked.  Returns NULL (a failure recorded) or arg. */
static void *check_cond_waiter(cond_waiter *w, int rc, int err,
                               const char *who)
{
    if (w->rc != rc || (rc != 0 && w->err != err))
        return cc_fail(EPROTO, "%s: wait gave %d/%s, not %d/%s", who, w->rc,
                       cc_errname(w->err), rc, cc_errname(err));
    if (!w->owned || w->release_rc != 0)
        return cc_fail(EPROTO, "%s: the wait returned without the lock "
                               "(release gave %d)", who, w->release_rc);
    return w;
}

/* test_wait_cancel_after_notify: notified, then cancelled while the
 * notifier still holds the lock.  The wait takes the lock back first and
 * then fails ECANCELED, as asyncio re-raises CancelledError once it has
 * re-acquired the lock. */
static void *cancel_after_notify_main(void *arg)
{
    cc_lock *l = cc_lock_new();
    cond_waiter w = {l, cc_cond_new(l), 0, 0, false, 0};
    cc_future *t = cc_spawn(waits_on_cond, &w);
    void *ok;

    cc_yield(); /* t waits */
    cc_cond_acquire(w.c, CC_FOREVER);
    cc_cond_notify(w.c, 1);
    cc_yield(); /* t, notified, now waits for the lock we hold */
    cc_future_cancel(t);
    cc_yield();
    cc_cond_release(w.c);
    if (cc_future_result(t, NULL, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "waiter");
    ok = check_cond_waiter(&w, -1, ECANCELED, "cancelled after notify");
    cc_future_free(t);
    cc_cond_free(w.c);
    cc_lock_free(l);
    return ok != NULL ? arg : NULL;
}

static void test_condition_wait_cancel_after_notify(void **state)
{
    assert_ok(cc_run(cancel_after_notify_main, state, NULL));
}

/* test_wait_cancel_contested, and the notification passed on: of two
 * waiters, the first is notified and cancelled before it could run; it
 * fails ECANCELED holding the lock, and the notification it did not use
 * wakes the second (asyncio hands it on the same way). */
static void *notify_passed_on_main(void *arg)
{
    cc_lock *l = cc_lock_new();
    cc_cond *c = cc_cond_new(l);
    cond_waiter w[2] = {{l, c, 0, 0, false, 0}, {l, c, 0, 0, false, 0}};
    cc_future *t[2];
    void *ok;

    t[0] = cc_spawn(waits_on_cond, &w[0]);
    t[1] = cc_spawn(waits_on_cond, &w[1]);
    cc_yield(); /* both wait, t[0] first */
    cc_cond_acquire(c, CC_FOREVER);
    cc_cond_notify(c, 1);
    cc_future_cancel(t[0]);
    cc_cond_release(c);
    for (int i = 0; i < 2; i++)
        if (cc_future_result(t[i], NULL, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "waiter %d", i);
    ok = check_cond_waiter(&w[0], -1, ECANCELED, "the cancelled one");
    if (ok != NULL)
        ok = check_cond_waiter(&w[1], 0, 0, "the other one");
    for (int i = 0; i < 2; i++)
        cc_future_free(t[i]);
    cc_cond_free(c);
    cc_lock_free(l);
    return ok != NULL ? arg : NULL;
}

static void test_condition_notification_passed_on(void **state)
{
    assert_ok(cc_run(notify_passed_on_main, state, NULL));
}

/*
 * The rule under fire: two loops in two threads run waiter tasks that
 * the loop's main task cancels at random moments, while two plain
 * threads notify at random.  Every wait, whatever it returns, must return
 * holding the lock (the counter it guards would race under TSan
 * otherwise, and a release without it fails EPERM).
 */
typedef struct {
    cc_lock *l;
    cc_cond *c;
    long counter;              /* guarded by l */
    _Atomic long waits;
    _Atomic long unlocked;     /* waits that returned without the lock */
    _Atomic bool stop;
} cond_storm;

static void *storm_waiter(void *arg)
{
    cond_storm *st = arg;

    for (;;) {
        int rc;

        if (cc_cond_acquire(st->c, CC_FOREVER) != 0)
            return NULL; /* cancelled before the wait */
        rc = cc_cond_wait(st->c, 0.001 * tu_rand_below(3));
        atomic_fetch_add(&st->waits, 1);
        if (!cc_lock_owned(st->l)) {
            atomic_fetch_add(&st->unlocked, 1);
            return NULL;
        }
        st->counter++;
        cc_cond_release(st->c);
        if (rc != 0 && errno == ECANCELED)
            return NULL;
    }
}

/* ---- a cancel storm: tasks of one loop cancelled and respawned at random ---- */

/* `tasks` tasks of `task(arg)` on the calling thread's loop; until *stop,
 * one picked at random is cancelled (after 0-3 yields), waited for and
 * replaced; at the end all are cancelled and waited for. */
typedef struct task_storm {
    cc_fn task;
    void *arg;
    _Atomic bool *stop;
    int tasks; /* at most STORM_MAX */
} task_storm;

enum { STORM_MAX = 8 };

static void *task_storm_main(void *arg)
{
    task_storm *ts = arg;
    cc_future *t[STORM_MAX];

    for (int i = 0; i < ts->tasks; i++)
        t[i] = cc_spawn(ts->task, ts->arg);
    while (!atomic_load(ts->stop)) {
        int i = (int)tu_rand_below((unsigned)ts->tasks);

        for (unsigned k = tu_rand_below(4); k > 0; k--)
            cc_yield();
        cc_future_cancel(t[i]);
        cc_future_result(t[i], NULL, CC_FOREVER);
        cc_future_free(t[i]);
        t[i] = cc_spawn(ts->task, ts->arg);
    }
    for (int i = 0; i < ts->tasks; i++) {
        cc_future_cancel(t[i]);
        cc_future_result(t[i], NULL, CC_FOREVER);
        cc_future_free(t[i]);
    }
    return arg;
}

/* A thread running task_storm_main in a loop of its own. */
static void *task_storm_thread(void *arg)
{
    if (cc_run(task_storm_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "loop");
    return arg;
}

static void *storm_notifier(void *arg)
{
    cond_storm *st = arg;

    while (!atomic_load(&st->stop)) {
        cc_cond_acquire(st->c, CC_FOREVER);
        st->counter++;
        if (tu_rand_below(2))
            cc_cond_notify(st->c, 1 + tu_rand_below(3));
        else
            cc_cond_notify_all(st->c);
        cc_cond_release(st->c);
        tu_jitter(200);
    }
    return arg;
}

static void test_condition_wait_always_returns_holding_the_lock(void **state)
{
    (void)state;
    static cond_storm st;
    cc_thread *th[4];

    task_storm ts = {.task = storm_waiter, .arg = &st, .stop = &st.stop,
                     .tasks = 8};

    st.l = cc_lock_new();
    st.c = cc_cond_new(st.l);
    for (int i = 0; i < 4; i++)
        th[i] = i < 2 ? cc_thread_start(task_storm_thread, &ts, NULL)
                      : cc_thread_start(storm_notifier, &st, NULL);
    while (atomic_load(&st.waits) < 20000)
        tu_sleep(0.01);
    atomic_store(&st.stop, true);
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_thread_join(th[i], NULL, 60.0));
        cc_thread_free(th[i]);
    }
    assert_int_equal(atomic_load(&st.unlocked), 0);
    assert_false(cc_lock_locked(st.l));
    cc_cond_free(st.c);
    cc_lock_free(st.l);
}

/* ---- test_timeouts.py ---- */

/* test_timeout_zero: in a deadline scope that has expired, the next
 * blocking call times out -- a zero sleep and a yield included, which
 * never have to wait (asyncio.timeout: the next await raises). */
static void *expired_scope_main(void *arg)
{
    int rc_sleep;
    int e_sleep;
    int rc_yield;
    int e_yield;

    cc_deadline_push(0);
    rc_sleep = cc_sleep(0);
    e_sleep = errno;
    rc_yield = cc_yield();
    e_yield = errno;
    cc_deadline_pop();
    if (rc_sleep != -1 || e_sleep != ETIMEDOUT)
        return cc_fail(EPROTO, "cc_sleep(0) gave %d/%s", rc_sleep,
                       cc_errname(e_sleep));
    if (rc_yield != -1 || e_yield != ETIMEDOUT)
        return cc_fail(EPROTO, "cc_yield gave %d/%s", rc_yield,
                       cc_errname(e_yield));
    if (cc_yield() != 0)
        return cc_fail(EPROTO, "a yield outside the scope failed");
    return arg;
}

static void test_timeout_zero_fails_the_next_yield(void **state)
{
    assert_ok(cc_run(expired_scope_main, state, NULL));
}

/* A polling loop that only yields ends when its scope expires; the 5 s
 * bound only keeps a broken build from spinning forever. */
static void *polling_main(void *arg)
{
    double t0 = cc_now();
    long polls = 0;
    int rc;

    cc_deadline_push(0.02);
    while ((rc = cc_sleep(0)) == 0 && cc_now() < t0 + 5.0)
        polls++;
    cc_deadline_pop();
    if (rc != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "the polling loop did not time out (%ld "
                               "polls)", polls);
    return arg;
}

static void test_timeout_ends_a_polling_loop(void **state)
{
    assert_ok(cc_run(polling_main, state, NULL));
}

/* A thread's yield follows the same rule. */
static void test_timeout_zero_fails_a_thread_yield(void **state)
{
    (void)state;
    assert_ok(cc_deadline_push(0));
    assert_fails_with(cc_yield(), ETIMEDOUT);
    assert_fails_with(cc_sleep(0), ETIMEDOUT);
    cc_deadline_pop();
    assert_ok(cc_yield());
}

/* ---- test_locks.py: BarrierTests ---- */

typedef struct {
    cc_barrier *b;
    int rc;
    int err;
} party;

static void *barrier_party(void *arg)
{
    party *p = arg;

    p->rc = cc_barrier_wait(p->b, CC_FOREVER);
    p->err = errno;
    return arg;
}

/* test_filling_tasks_cancel_one: of three parties, one is cancelled while
 * it waits.  It leaves (ECANCELED) without breaking the barrier; two more
 * arrivals complete the wave, and the three released get the indexes
 * 0, 1, 2 once each (asyncio can hand out one twice: concur numbers the
 * parties of a wave when it releases them). */
static void *barrier_cancel_one_main(void *arg)
{
    cc_barrier *b = cc_barrier_new(3, NULL, NULL);
    party p[4] = {{b, 0, 0}, {b, 0, 0}, {b, 0, 0}, {b, 0, 0}};
    cc_future *t[4];
    int seen[3] = {0, 0, 0};

    t[0] = cc_spawn(barrier_party, &p[0]);
    t[1] = cc_spawn(barrier_party, &p[1]);
    cc_yield(); /* both wait */
    cc_future_cancel(t[0]);
    cc_future_result(t[0], NULL, CC_FOREVER);
    if (p[0].rc != -1 || p[0].err != ECANCELED)
        return cc_fail(EPROTO, "the cancelled party got %d/%s", p[0].rc,
                       cc_errname(p[0].err));
    if (cc_barrier_broken(b) || cc_barrier_n_waiting(b) != 1)
        return cc_fail(EPROTO, "the cancel broke the barrier (broken %d, "
                               "%u waiting)", cc_barrier_broken(b),
                       cc_barrier_n_waiting(b));
    t[2] = cc_spawn(barrier_party, &p[2]);
    t[3] = cc_spawn(barrier_party, &p[3]);
    for (int i = 1; i < 4; i++) {
        cc_future_result(t[i], NULL, CC_FOREVER);
        if (p[i].rc < 0 || p[i].rc > 2)
            return cc_fail(EPROTO, "party %d got %d/%s", i, p[i].rc,
                           cc_errname(p[i].err));
        seen[p[i].rc]++;
    }
    for (int i = 0; i < 3; i++)
        if (seen[i] != 1)
            return cc_fail(EPROTO, "index %d given %d times", i, seen[i]);
    for (int i = 0; i < 4; i++)
        cc_future_free(t[i]);
    cc_barrier_free(b);
    return arg;
}

static void test_barrier_filling_tasks_cancel_one(void **state)
{
    assert_ok(cc_run(barrier_cancel_one_main, state, NULL));
}

/* The same under fire: twelve tasks meet at a barrier of four, wave after
 * wave, while the main task cancels them at random and starts new ones.
 * The barrier never breaks, and every wave the action saw released
 * exactly four parties. */
typedef struct {
    cc_barrier *b;
    long waves;        /* action runs */
    long passed;       /* successful waits */
    long bad;          /* EPIPE or an index out of range */
} barrier_storm;

static int count_wave(void *arg)
{
    ((barrier_storm *)arg)->waves++;
    return 0;
}

static void *storm_party(void *arg)
{
    barrier_storm *st = arg;

    for (;;) {
        int rc = cc_barrier_wait(st->b, CC_FOREVER);

        if (rc < 0)
            return errno == ECANCELED ? NULL : (st->bad++, NULL);
        if (rc > 3)
            st->bad++;
        st->passed++;
        for (unsigned k = tu_rand_below(3); k > 0; k--)
            if (cc_yield() != 0)
                return NULL;
    }
}

static void *barrier_storm_main(void *arg)
{
    static barrier_storm st;
    enum { TASKS = 12 };
    cc_future *t[TASKS];

    memset(&st, 0, sizeof(st));
    st.b = cc_barrier_new(4, count_wave, &st);
    for (int i = 0; i < TASKS; i++)
        t[i] = cc_spawn(storm_party, &st);
    for (int round = 0; round < 3000; round++) {
        int i = (int)tu_rand_below(TASKS);

        for (unsigned k = tu_rand_below(4); k > 0; k--)
            cc_yield();
        cc_future_cancel(t[i]);
        cc_future_result(t[i], NULL, CC_FOREVER);
        cc_future_free(t[i]);
        t[i] = cc_spawn(storm_party, &st);
    }
    for (int i = 0; i < TASKS; i++) {
        cc_future_cancel(t[i]);
        cc_future_result(t[i], NULL, CC_FOREVER);
        cc_future_free(t[i]);
    }
    if (cc_barrier_broken(st.b) || st.bad != 0)
        return cc_fail(EPROTO, "broken %d, %ld bad waits",
                       cc_barrier_broken(st.b), st.bad);
    if (st.waves == 0 || st.passed != 4 * st.waves)
        return cc_fail(EPROTO, "%ld waves released %ld parties", st.waves,
                       st.passed);
    cc_barrier_free(st.b);
    return arg;
}

static void test_barrier_cancellations_never_break_it(void **state)
{
    assert_ok(cc_run(barrier_storm_main, state, NULL));
}

/* ---- test_locks.py: LockTests ---- */

typedef struct {
    cc_lock *l;
    int rc;
    int err;
    bool release_after; /* release when acquired */
} locker;

static void *takes_lock(void *arg)
{
    locker *k = arg;

    k->rc = cc_lock_acquire(k->l, 5.0);
    k->err = errno;
    if (k->rc == 0 && k->release_after)
        cc_lock_release(k->l);
    return arg;
}

/* test_acquire: the lock is fair to parked waiters, as asyncio.Lock:
 * after a release, the oldest waiter owns it before it has even run, so a
 * newcomer -- here the releaser itself -- cannot overtake it, and a task
 * that starts waiting later is served after the ones already waiting. */
static char lock_order[8];
static int lock_order_len;

typedef struct {
    cc_lock *l;
    char name;
} orderly;

static void *takes_lock_in_turn(void *arg)
{
    orderly *o = arg;

    if (cc_lock_acquire(o->l, 5.0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    lock_order[lock_order_len++] = o->name;
    cc_yield(); /* the others are queued meanwhile */
    cc_lock_release(o->l);
    return arg;
}

static void *lock_fifo_main(void *arg)
{
    cc_lock *l = cc_lock_new();
    orderly o[3] = {{l, '1'}, {l, '2'}, {l, '3'}};
    cc_future *t[3];
    int rc;

    lock_order_len = 0;
    cc_lock_acquire(l, CC_FOREVER);
    t[0] = cc_spawn(takes_lock_in_turn, &o[0]);
    t[1] = cc_spawn(takes_lock_in_turn, &o[1]);
    cc_yield(); /* both wait */
    cc_lock_release(l); /* to t[0], which has not run yet */
    rc = cc_lock_acquire(l, 0);
    if (rc == 0)
        return cc_fail(EPROTO, "a newcomer overtook the waiting tasks");
    if (errno != EAGAIN)
        return cc_fail(EPROTO, "the newcomer got %s", cc_errname(errno));
    t[2] = cc_spawn(takes_lock_in_turn, &o[2]);
    for (int i = 0; i < 3; i++)
        if (cc_future_result(t[i], NULL, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "task %d", i);
    lock_order[lock_order_len] = '\0';
    if (strcmp(lock_order, "123") != 0)
        return cc_fail(EPROTO, "served in the order '%s'", lock_order);
    for (int i = 0; i < 3; i++)
        cc_future_free(t[i]);
    cc_lock_free(l);
    return arg;
}

static void test_lock_acquire_fifo_order(void **state)
{
    assert_ok(cc_run(lock_fifo_main, state, NULL));
}

/* What the FIFO order is for: two tasks of one loop that take the lock
 * over and over, yielding inside it, take turns.  (With a lock a newcomer
 * can take, the releaser took it back at once, every time: the other task
 * waited until the first was done -- starvation, which a coroutine, never
 * preempted, cannot escape.) */
static long turns[2];
static long worst_lead;

static void *takes_turns(void *arg)
{
    cc_lock *l = *(cc_lock **)arg;
    int me = (int)(intptr_t)((cc_lock **)arg)[1];

    for (int i = 0; i < 500; i++) {
        long lead;

        if (cc_lock_acquire(l, 5.0) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "acquire");
        turns[me]++;
        lead = turns[me] - turns[1 - me];
        if (lead > worst_lead)
            worst_lead = lead;
        cc_yield();
        cc_lock_release(l);
    }
    return arg;
}

static void *turns_main(void *arg)
{
    cc_lock *l = cc_lock_new();
    void *args[2][2] = {{l, (void *)0}, {l, (void *)1}};
    cc_future *t[2];

    turns[0] = turns[1] = worst_lead = 0;
    for (int i = 0; i < 2; i++)
        t[i] = cc_spawn(takes_turns, args[i]);
    for (int i = 0; i < 2; i++) {
        if (cc_future_result(t[i], NULL, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "task %d", i);
        cc_future_free(t[i]);
    }
    cc_lock_free(l);
    if (worst_lead > 1)
        return cc_fail(EPROTO, "one task got ahead by %ld turns",
                       worst_lead);
    return arg;
}

static void test_lock_tasks_take_turns(void **state)
{
    assert_ok(cc_run(turns_main, state, NULL));
}

/* test_finished_waiter_cancelled: the waiter a release woke is cancelled
 * before it runs.  It fails ECANCELED without taking the lock, and its
 * turn passes to the next waiter. */
static void *woken_waiter_cancelled_main(void *arg)
{
    cc_lock *l = cc_lock_new();
    locker w[2] = {{l, 0, 0, true}, {l, 0, 0, true}};
    cc_future *t[2];

    cc_lock_acquire(l, CC_FOREVER);
    t[0] = cc_spawn(takes_lock, &w[0]);
    t[1] = cc_spawn(takes_lock, &w[1]);
    cc_yield(); /* both wait, t[0] first */
    cc_lock_release(l); /* wakes t[0] */
    cc_future_cancel(t[0]);
    for (int i = 0; i < 2; i++)
        cc_future_result(t[i], NULL, CC_FOREVER);
    if (w[0].rc != -1 || w[0].err != ECANCELED)
        return cc_fail(EPROTO, "the cancelled waiter got %d/%s", w[0].rc,
                       cc_errname(w[0].err));
    if (w[1].rc != 0)
        return cc_fail(EPROTO, "the next waiter got %s",
                       cc_errname(w[1].err));
    if (cc_lock_locked(l))
        return cc_fail(EPROTO, "the lock stayed held");
    for (int i = 0; i < 2; i++)
        cc_future_free(t[i]);
    cc_lock_free(l);
    return arg;
}

static void test_lock_finished_waiter_cancelled(void **state)
{
    assert_ok(cc_run(woken_waiter_cancelled_main, state, NULL));
}

/* ---- test_locks.py: SemaphoreTests ---- */

typedef struct {
    cc_sem *s;
    int rc;
    int err;
} sem_taker;

static void *takes_unit(void *arg)
{
    sem_taker *k = arg;

    k->rc = cc_sem_acquire(k->s, 5.0);
    k->err = errno;
    return arg;
}

/* test_acquire_cancel_before_awoken, with the release first: the unit
 * handed to the oldest waiter, which is cancelled before it has run, goes
 * to the next waiter, as in asyncio; the cancelled one fails ECANCELED. */
static void *sem_cancel_after_handoff_main(void *arg)
{
    cc_sem *s = cc_sem_new(0);
    sem_taker k[3] = {{s, 0, 0}, {s, 0, 0}, {s, 0, 0}};
    cc_future *t[3];

    for (int i = 0; i < 3; i++)
        t[i] = cc_spawn(takes_unit, &k[i]);
    cc_yield(); /* all wait, t[0] first */
    cc_sem_release(s);      /* to t[0] */
    cc_future_cancel(t[0]); /* before t[0] runs */
    for (int i = 0; i < 2; i++)
        cc_future_result(t[i], NULL, CC_FOREVER);
    if (k[0].rc != -1 || k[0].err != ECANCELED)
        return cc_fail(EPROTO, "the cancelled waiter got %d/%s", k[0].rc,
                       cc_errname(k[0].err));
    if (k[1].rc != 0)
        return cc_fail(EPROTO, "the next waiter got %s", cc_errname(k[1].err));
    if (cc_future_done(t[2]) || cc_sem_value(s) != 0)
        return cc_fail(EPROTO, "one unit served two waiters");
    cc_sem_release(s);
    cc_future_result(t[2], NULL, CC_FOREVER);
    for (int i = 0; i < 3; i++)
        cc_future_free(t[i]);
    cc_sem_free(s);
    return arg;
}

static void test_semaphore_acquire_cancel_before_awoken(void **state)
{
    assert_ok(cc_run(sem_cancel_after_handoff_main, state, NULL));
}

/* test_acquire_fifo_order_3: waiters are served in arrival order, a
 * cancelled one skipped. */
static void *sem_fifo_main(void *arg)
{
    cc_sem *s = cc_sem_new(0);
    sem_taker k[3] = {{s, 0, 0}, {s, 0, 0}, {s, 0, 0}};
    cc_future *t[3];
    char got[4] = {0};
    int n = 0;

    for (int i = 0; i < 3; i++)
        t[i] = cc_spawn(takes_unit, &k[i]);
    cc_yield();
    cc_future_cancel(t[0]);
    cc_yield();
    cc_sem_release_n(s, 2);
    for (int i = 0; i < 3; i++) {
        cc_future_result(t[i], NULL, CC_FOREVER);
        if (k[i].rc == 0)
            got[n++] = (char)('0' + i);
        cc_future_free(t[i]);
    }
    cc_sem_free(s);
    if (strcmp(got, "12") != 0 || k[0].err != ECANCELED)
        return cc_fail(EPROTO, "served '%s'", got);
    return arg;
}

static void test_semaphore_acquire_fifo_order(void **state)
{
    assert_ok(cc_run(sem_fifo_main, state, NULL));
}

/*
 * Locks and semaphores under fire: on two loops in two threads, tasks take
 * a lock and a unit of a semaphore of 3 over and over while their loop's
 * main task cancels them at random; two plain threads do the same.  The
 * lock is never held twice, the semaphore never serves more than 3, and
 * at the end no turn and no unit is lost: the lock is free and all 3 units
 * are back.
 */
typedef struct {
    cc_lock *l;
    cc_sem *s;
    _Atomic int in_lock;
    _Atomic int in_sem;
    _Atomic long passes;
    _Atomic long violations;
    _Atomic bool stop;
} lock_storm;

static void lock_storm_round(lock_storm *st)
{
    if (cc_lock_acquire(st->l, 1.0) == 0) {
        if (atomic_fetch_add(&st->in_lock, 1) != 0)
            atomic_fetch_add(&st->violations, 1);
        if (tu_rand_below(4) == 0)
            cc_yield();
        atomic_fetch_sub(&st->in_lock, 1);
        cc_lock_release(st->l);
    }
    if (cc_sem_acquire(st->s, 1.0) == 0) {
        if (atomic_fetch_add(&st->in_sem, 1) >= 3)
            atomic_fetch_add(&st->violations, 1);
        if (tu_rand_below(4) == 0)
            cc_yield();
        atomic_fetch_sub(&st->in_sem, 1);
        cc_sem_release(st->s);
    }
    atomic_fetch_add(&st->passes, 1);
}

static void *lock_storm_task(void *arg)
{
    lock_storm *st = arg;

    while (!cc_cancelled() && !atomic_load(&st->stop))
        lock_storm_round(st);
    return NULL;
}

static void *lock_storm_thread(void *arg)
{
    lock_storm *st = arg;

    while (!atomic_load(&st->stop))
        lock_storm_round(st);
    return arg;
}

static void test_lock_and_semaphore_lose_no_turn_when_cancelled(void **state)
{
    (void)state;
    static lock_storm st;
    cc_thread *th[4];

    task_storm ts = {.task = lock_storm_task, .arg = &st, .stop = &st.stop,
                     .tasks = 6};

    st.l = cc_lock_new();
    st.s = cc_sem_new(3);
    for (int i = 0; i < 4; i++)
        th[i] = i < 2 ? cc_thread_start(task_storm_thread, &ts, NULL)
                      : cc_thread_start(lock_storm_thread, &st, NULL);
    while (atomic_load(&st.passes) < 30000)
        tu_sleep(0.01);
    atomic_store(&st.stop, true);
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_thread_join(th[i], NULL, 60.0));
        cc_thread_free(th[i]);
    }
    assert_int_equal(atomic_load(&st.violations), 0);
    assert_false(cc_lock_locked(st.l));
    assert_int_equal(cc_sem_value(st.s), 3);
    cc_lock_free(st.l);
    cc_sem_free(st.s);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_for_executor_future_times_out_in_a_task),
        cmocka_unit_test(test_wait_for_executor_future_times_out_in_a_thread),
        cmocka_unit_test(test_wait_for_cancels_an_executor_job_not_started),
        cmocka_unit_test(test_wait_for_self_cancellation),
        cmocka_unit_test(test_wait_for_reraises_exception_during_cancellation),
        cmocka_unit_test(test_taskgroup_children_spawn_while_waited),
        cmocka_unit_test(test_taskgroup_failure_while_children_spawn),
        cmocka_unit_test(test_taskgroup_finished),
        cmocka_unit_test(test_cancel_wins_over_an_expired_timer),
        cmocka_unit_test(test_cancel_wins_over_timers_of_the_same_pass),
        cmocka_unit_test(test_condition_wait_cancel_after_notify),
        cmocka_unit_test(test_condition_notification_passed_on),
        cmocka_unit_test(test_condition_wait_always_returns_holding_the_lock),
        cmocka_unit_test(test_timeout_zero_fails_the_next_yield),
        cmocka_unit_test(test_timeout_ends_a_polling_loop),
        cmocka_unit_test(test_timeout_zero_fails_a_thread_yield),
        cmocka_unit_test(test_barrier_filling_tasks_cancel_one),
        cmocka_unit_test(test_barrier_cancellations_never_break_it),
        cmocka_unit_test(test_lock_acquire_fifo_order),
        cmocka_unit_test(test_lock_tasks_take_turns),
        cmocka_unit_test(test_lock_finished_waiter_cancelled),
        cmocka_unit_test(test_semaphore_acquire_cancel_before_awoken),
        cmocka_unit_test(test_semaphore_acquire_fifo_order),
        cmocka_unit_test(test_lock_and_semaphore_lose_no_turn_when_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
