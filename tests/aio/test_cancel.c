/* test_cancel - level-triggered cancellation of tasks: a sleeping task, a
 * task blocked in each kind of blocking call, every later call failing
 * too, shields with their own deadline, cancel before start and after the
 * end, from another thread, and a stress test of many tasks cancelled at
 * random moments. */
#include <fcntl.h>

#include "test_util.h"

/* ---- the shapes ---- */

static void *sleep_long(void *arg)
{
    (void)arg;
    if (cc_sleep(30) == 0)
        return cc_fail(EPROTO, "slept through the cancellation");
    return NULL; /* ECANCELED pending: the task ends cancelled */
}

static void *cancel_sleeper_main(void *arg)
{
    (void)arg;
    cc_future *f = cc_spawn(sleep_long, NULL);
    cc_sleep(0.01);
    if (!cc_future_cancel(f))
        return cc_fail(EPROTO, "cancel of a running task returned false");
    if (cc_future_result(f, NULL, 10) != -1 || errno != ECANCELED ||
        !cc_future_cancelled(f))
        return cc_fail(EPROTO, "the task did not end cancelled");
    if (cc_future_cancel(f) != true) /* already cancelled: still true */
        return cc_fail(EPROTO, "second cancel");
    cc_future_free(f);
    return arg;
}

static void test_cancel_a_sleeping_task(void **state)
{
    assert_ok(cc_run(cancel_sleeper_main, state, NULL));
}

/* Every later blocking call fails at once, until the task returns. */
static void *keeps_failing(void *arg)
{
    cc_queue *q = arg;
    void *item;
    int fails = 0;
    if (cc_sleep(30) == -1 && errno == ECANCELED)
        fails++;
    double t0 = cc_now();
    /* each would block 10 s: past the hang bound (8 s at most) */
    if (cc_sleep(10) == -1 && errno == ECANCELED)
        fails++;
    if (cc_yield() == -1 && errno == ECANCELED)
        fails++;
    if (cc_queue_get(q, &item, 10) == -1 && errno == ECANCELED)
        fails++;
    if (cc_wait_fd(0, CC_READABLE, 10) == -1 && errno == ECANCELED)
        fails++;
    if (cc_now() - t0 > tu_hang_bound(0))
        return cc_fail(EPROTO, "a later call blocked");
    if (!cc_cancelled())
        return cc_fail(EPROTO, "cc_cancelled() is false");
    return (void *)(intptr_t)(fails + 1); /* a result: the task FINISHES */
}

static void *level_main(void *arg)
{
    (void)arg;
    cc_queue *q = cc_queue_new(1, CC_FIFO);
    cc_future *f = cc_spawn(keeps_failing, q);
    cc_sleep(0.01);
    cc_future_cancel(f);
    void *r;
    int rc = cc_future_result(f, &r, 10);
    cc_future_free(f);
    cc_queue_free(q);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "result");
    return r;
}

static void test_cancellation_is_level_triggered(void **state)
{
    (void)state;
    void *r;
    assert_ok(cc_run(level_main, NULL, &r));
    assert_int_equal((intptr_t)r - 1, 5); /* all five calls failed */
}

static _Atomic int ran_body;

static void *body(void *arg)
{
    atomic_store(&ran_body, 1);
    return arg;
}

static void *before_start_main(void *arg)
{
    (void)arg;
    atomic_store(&ran_body, 0);
    cc_future *f = cc_spawn(body, &ran_body);
    cc_future_cancel(f); /* it has not run yet */
    int rc = cc_future_result(f, NULL, 10);
    int e = errno;
    cc_future_free(f);
    if (rc != -1 || e != ECANCELED || atomic_load(&ran_body))
        return cc_fail(EPROTO, "a task cancelled before it started ran");
    f = cc_spawn(body, &ran_body);
    cc_future_result(f, NULL, 10);
    if (cc_future_cancel(f)) /* finished: cancel does nothing */
        return cc_fail(EPROTO, "cancel of a finished task returned true");
    rc = cc_future_result(f, NULL, 0);
    cc_future_free(f);
    return rc == 0 ? arg : cc_fail(EPROTO, "finished task lost its result");
}

static void test_cancel_before_start_and_after_end(void **state)
{
    assert_ok(cc_run(before_start_main, state, NULL));
}

/* ---- shields ---- */

static void *cleanup_in_shield(void *arg)
{
    int *steps = arg;
    if (cc_sleep(30) == 0)
        return cc_fail(EPROTO, "not cancelled");
    /* cancelled: clean up, which must still be able to block */
    if (cc_shield_push(1.0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "shield");
    if (cc_sleep(0.01) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "sleep in shield");
    (*steps)++;
    /* the shield's own deadline still applies */
    if (cc_sleep(5) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "the shield's deadline did not apply");
    (*steps)++;
    cc_shield_pop();
    if (cc_sleep(0.01) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "cancellation did not come back after the "
                               "shield");
    (*steps)++;
    return NULL;
}

static void *shield_main(void *arg)
{
    (void)arg;
    static int steps;
    steps = 0;
    if (cc_deadline_push(0.001) != 0) /* an outer, expired scope */
        return NULL;
    cc_deadline_pop();
    cc_future *f = cc_spawn(cleanup_in_shield, &steps);
    cc_sleep(0.01);
    cc_future_cancel(f);
    int rc = cc_future_result(f, NULL, 10);
    int e = errno;
    const cc_error *err = cc_future_error(f);
    cc_future_free(f);
    if (steps != 3)
        return cc_fail(EPROTO, "shield steps %d (%s)", steps,
                       err ? cc_error_message(err) : "");
    if (rc != -1 || e != ECANCELED)
        return cc_fail(EPROTO, "the task should end cancelled");
    return arg;
}

static void test_shield_lets_cleanup_block(void **state)
{
    assert_ok(cc_run(shield_main, state, NULL));
    assert_fails_with(cc_shield_push(1), EINVAL); /* not in a task */
}

/* ---- cancellation inside every kind of blocking call ---- */

typedef struct {
    const char *what;
    int (*block)(void *ctx);
    void *ctx;
    int err;
} blocked_call;

static void *run_blocked(void *arg)
{
    blocked_call *b = arg;
    errno = 0;
    int rc = b->block(b->ctx);
    b->err = rc == -1 ? errno : 0;
    return NULL;
}

static int b_lock(void *c) { return cc_lock_acquire(c, 30); }
static int b_rlock(void *c) { return cc_rlock_acquire(c, 30); }
static int b_sem(void *c) { return cc_sem_acquire(c, 30); }
static int b_event(void *c) { return cc_event_wait(c, 30); }
static int b_barrier(void *c) { return cc_barrier_wait(c, 30) >= 0 ? 0 : -1; }
static int b_get(void *c) { void *i; return cc_queue_get(c, &i, 30); }
static int b_put(void *c) { return cc_queue_put(c, NULL, 30); }
static int b_join(void *c) { return cc_queue_join(c, 30); }
static int b_future(void *c) { return cc_future_result(c, NULL, 30); }
static int b_thread(void *c) { return cc_thread_join(c, NULL, 30); }
static int b_timer(void *c) { return cc_thread_timer_join(c, NULL, 30); }
static int b_throttle(void *c) { return cc_throttle_acquire(c, 1, 30); }
static int b_fd(void *c) { return cc_wait_fd(*(int *)c, CC_READABLE, 30); }
static int b_sleep(void *c) { (void)c; return cc_sleep(30); }
/* a select over every kind of case, none of them ready */
static int b_select(void *c)
{
    cc_select_case *cs = c;
    return cc_select(cs, 4, 30);
}
static int b_cond(void *c)
{
    cc_cond *cv = c;
    cc_cond_acquire(cv, 30);
    int rc = cc_cond_wait(cv, 30);
    int e = errno;
    cc_cond_release(cv);
    errno = e;
    return rc;
}

static void *sleep_in_thread(void *arg)
{
    cc_event_wait(arg, 60);
    return arg;
}

static void *every_call_main(void *arg)
{
    (void)arg;
    cc_lock *lock = cc_lock_new();
    cc_rlock *rlock = cc_rlock_new();
    cc_sem *sem = cc_sem_new(0);
    cc_event *ev = cc_event_new();
    cc_barrier *bar = cc_barrier_new(2, NULL, NULL);
    cc_queue *empty = cc_queue_new(1, CC_FIFO);
    cc_queue *full = cc_queue_new(1, CC_FIFO);
    cc_queue *unfinished = cc_queue_new(0, CC_LIFO);
    cc_future *never = cc_future_new();
    cc_event *thread_go = cc_event_new();
    cc_thread *th = cc_thread_start(sleep_in_thread, thread_go, "sleeper");
    cc_thread_timer *timer = cc_thread_timer_new(60, sleep_in_thread,
                                                 thread_go, "timer");
    cc_throttle *thr = cc_throttle_new(0.001, 1);
    cc_cond *cv = cc_cond_new(NULL);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return cc_fail(0, "pipe");
    cc_thread_timer_start(timer);
    cc_queue_put(full, NULL, 0);
    cc_queue_put(unfinished, NULL, 0);
    void *got = NULL;
    cc_select_case sel[] = {CC_SELECT_GET(empty, &got),
                            CC_SELECT_PUT(full, NULL),
                            CC_SELECT_FUTURE(never),
                            CC_SELECT_FD(fds[0], CC_READABLE)};
    /* this (main) task holds the locks */
    cc_lock_acquire(lock, 1);
    cc_rlock_acquire(rlock, 1);
    blocked_call calls[] = {
        {"lock", b_lock, lock, 0},       {"rlock", b_rlock, rlock, 0},
        {"sem", b_sem, sem, 0},          {"event", b_event, ev, 0},
        {"barrier", b_barrier, bar, 0},  {"get", b_get, empty, 0},
        {"put", b_put, full, 0},         {"join", b_join, unfinished, 0},
        {"future", b_future, never, 0},  {"thread join", b_thread, th, 0},
        {"throttle", b_throttle, thr, 0}, {"wait_fd", b_fd, &fds[0], 0},
        {"sleep", b_sleep, NULL, 0},     {"cond", b_cond, cv, 0},
        {"timer join", b_timer, timer, 0}, {"select", b_select, sel, 0},
    };
    enum { N = sizeof(calls) / sizeof(calls[0]) };
    cc_future *f[N];
    for (size_t i = 0; i < N; i++)
        f[i] = cc_spawn(run_blocked, &calls[i]);
    cc_sleep(0.05); /* all blocked by now */
    for (size_t i = 0; i < N; i++)
        if (cc_future_done(f[i]))
            return cc_fail(EPROTO, "%s did not block", calls[i].what);
    double t0 = cc_now();
    for (size_t i = 0; i < N; i++)
        cc_future_cancel(f[i]);
    cc_gather(f, N, NULL, true, CC_FOREVER);
    double took = cc_now() - t0;
    void *res = arg;
    for (size_t i = 0; i < N; i++) {
        if (calls[i].err != ECANCELED)
            res = cc_fail(EPROTO, "%s: got %s instead of ECANCELED",
                          calls[i].what, cc_errname(calls[i].err));
        if (!cc_future_cancelled(f[i]))
            res = cc_fail(EPROTO, "%s: the task did not end cancelled",
                          calls[i].what);
        cc_future_free(f[i]);
    }
    if (took > tu_hang_bound(0)) /* each call would block 30 s */
        res = cc_fail(EPROTO, "cancellation took %.2f s", took);
    /* the primitives still work afterwards */
    cc_lock_release(lock);
    cc_rlock_release(rlock);
    if (cc_lock_acquire(lock, 0) != 0 || cc_sem_release(sem) != 0 ||
        cc_sem_acquire(sem, 0) != 0)
        res = cc_fail(EPROTO, "a primitive is left broken");
    cc_lock_release(lock);
    cc_event_set(thread_go);
    cc_thread_join(th, NULL, 30);
    cc_thread_free(th);
    if (cc_thread_timer_cancel(timer) != 0) /* it is still counting down */
        res = cc_fail(EPROTO, "timer: cancel after a cancelled join: %s",
                      cc_errmsg());
    cc_thread_timer_free(timer);
    close(fds[0]);
    close(fds[1]);
    cc_future_set_result(never, NULL);
    cc_future_free(never);
    cc_queue_task_done(unfinished);
    cc_lock_free(lock);
    cc_rlock_free(rlock);
    cc_sem_free(sem);
    cc_event_free(ev);
    cc_event_free(thread_go);
    cc_barrier_free(bar);
    cc_queue_free(empty);
    cc_queue_free(full);
    cc_queue_free(unfinished);
    cc_throttle_free(thr);
    cc_cond_free(cv);
    return res;
}

static void test_cancel_inside_every_blocking_call(void **state)
{
    assert_ok(cc_run(every_call_main, state, NULL));
}

/* ---- from another thread ---- */

static cc_loop *other_loop;

static void *run_other_loop(void *arg)
{
    cc_loop_run_forever(other_loop);
    return arg;
}

static void test_cancel_from_another_thread(void **state)
{
    other_loop = cc_loop_new();
    cc_thread *t = cc_thread_start(run_other_loop, state, "loop");
    cc_future *f[20];
    for (int i = 0; i < 20; i++)
        f[i] = cc_loop_spawn(other_loop, sleep_long, NULL);
    tu_sleep(0.05);
    for (int i = 0; i < 20; i++) {
        assert_true(cc_future_cancel(f[i]));
        assert_fails_with(cc_future_result(f[i], NULL, 30), ECANCELED);
        cc_future_free(f[i]);
    }
    cc_loop_stop(other_loop);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_loop_free(other_loop);
}

/* ---- stress: random sleeps, random cancellations ---- */

enum { STRESS_TASKS = 3000 };
static _Atomic int finished_ok, ended_cancelled;

static void *random_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        if (cc_sleep(0.0001 * tu_rand_below(50)) != 0)
            return NULL; /* cancelled */
    return arg;
}

static void *canceller(void *arg)
{
    cc_future **fs = arg;
    for (int i = 0; i < STRESS_TASKS / 3; i++) {
        cc_future_cancel(fs[tu_rand_below(STRESS_TASKS)]);
        if (tu_rand_below(8) == 0)
            cc_sleep(0.0005);
    }
    return arg;
}

static void *stress_main(void *arg)
{
    cc_future **fs = calloc(STRESS_TASKS, sizeof(*fs));
    for (int i = 0; i < STRESS_TASKS; i++)
        fs[i] = cc_spawn(random_worker, arg);
    cc_future *c = cc_spawn(canceller, fs);
    cc_future_result(c, NULL, 60);
    cc_future_free(c);
    cc_gather(fs, STRESS_TASKS, NULL, true, CC_FOREVER);
    for (int i = 0; i < STRESS_TASKS; i++) {
        if (cc_future_cancelled(fs[i]))
            atomic_fetch_add(&ended_cancelled, 1);
        else if (cc_future_result(fs[i], NULL, 0) == 0)
            atomic_fetch_add(&finished_ok, 1);
        cc_future_free(fs[i]);
    }
    free(fs);
    return arg;
}

static void test_stress_random_cancellations(void **state)
{
    assert_ok(cc_run(stress_main, state, NULL));
    printf("# %d finished, %d cancelled\n", atomic_load(&finished_ok),
           atomic_load(&ended_cancelled));
    assert_int_equal(atomic_load(&finished_ok) + atomic_load(&ended_cancelled),
                     STRESS_TASKS);
    assert_true(atomic_load(&ended_cancelled) > 0);
}

/* ---- cc_map in a cancelled task: it stops at once, whatever executor ----
 * The map's items block on a gate until the test opens it, so how many
 * started is known however loaded the machine is: the two the workers
 * took.  Cancelling the mapping task ends its cc_map with ECANCELED (the
 * collector every executor shares stops on it), the chunks that never
 * started are cancelled, and once the gate opens only those two ran. */

typedef struct map_gate {
    cc_event *gate;
    _Atomic int started;
} map_gate;

static map_gate the_gate;

static void *gated_item(void *arg)
{
    atomic_fetch_add(&the_gate.started, 1);
    if (cc_event_wait(the_gate.gate, 30) != 0)
        return cc_fail(ETIMEDOUT, "the gate never opened");
    return arg;
}

static void *mapper(void *arg)
{
    cc_executor *pool = arg;
    void *args[8];
    void *results[8];

    for (int i = 0; i < 8; i++)
        args[i] = (void *)(intptr_t)(i + 1);
    if (cc_map(pool, gated_item, args, 8, 1, results, 30) == 0)
        return cc_fail(EPROTO, "cc_map finished in a cancelled task");
    return NULL; /* its error (ECANCELED) is pending: the task ends so */
}

static void *cancel_map_main(void *arg)
{
    cc_executor *pool = arg;
    cc_future *f = cc_spawn(mapper, pool);
    int rc;

    while (atomic_load(&the_gate.started) < 2) /* both workers hold one */
        cc_sleep(0.001);
    cc_future_cancel(f);
    rc = cc_future_result(f, NULL, 30);
    if (rc != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "the mapping task did not end cancelled: "
                               "%d, %s", rc, cc_errname(errno));
    cc_future_free(f);
    return arg;
}

static void test_cancel_a_map_in_progress(void **state)
{
    (void)state;
    cc_pool_opts o = {0};
    cc_executor *pool = cc_thread_pool_new(2, &o);

    assert_non_null(pool);
    the_gate.gate = cc_event_new();
    atomic_store(&the_gate.started, 0);
    assert_ok(cc_run(cancel_map_main, pool, NULL));
    cc_event_set(the_gate.gate);
    assert_ok(cc_executor_shutdown(pool, true, false));
    assert_int_equal(atomic_load(&the_gate.started), 2);
    cc_executor_free(pool);
    cc_event_free(the_gate.gate);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_a_sleeping_task),
        cmocka_unit_test(test_cancellation_is_level_triggered),
        cmocka_unit_test(test_cancel_before_start_and_after_end),
        cmocka_unit_test(test_shield_lets_cleanup_block),
        cmocka_unit_test(test_cancel_inside_every_blocking_call),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_stress_random_cancellations),
        cmocka_unit_test(test_cancel_a_map_in_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
