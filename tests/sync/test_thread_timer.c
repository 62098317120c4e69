/* test_thread_timer - cc_thread_timer (threading.Timer): firing after the
 * interval, cancelling before it and too late, joining with timeouts and
 * from tasks (cancelled while blocked), errors handed over, free, and a
 * stress run of many timers cancelled at random: each one ran xor was
 * cancelled. */
#include <math.h>

#include "test_util.h"

static void *count_and_return(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
    return arg;
}

static void test_fires_after_interval(void **state)
{
    (void)state;
    _Atomic int ran = 0;
    cc_thread_timer *t = cc_thread_timer_new(0.05, count_and_return,
                                             (void *)&ran, "tick");
    void *res = NULL;
    double t0 = cc_now();

    assert_non_null(t);
    assert_ok(cc_thread_timer_start(t));
    assert_ok(cc_thread_timer_join(t, &res, tu_hang_bound(0.05)));
    assert_true(cc_now() - t0 >= 0.05);
    assert_ptr_equal(res, &ran);
    assert_int_equal(atomic_load(&ran), 1);
    assert_false(cc_thread_timer_cancelled(t));
    /* too late: Python's silent no-op is EALREADY here */
    assert_fails_with(cc_thread_timer_cancel(t), EALREADY);
    assert_false(cc_thread_timer_cancelled(t));
    /* joining again gives the same outcome */
    res = NULL;
    assert_ok(cc_thread_timer_join(t, &res, 0));
    assert_ptr_equal(res, &ran);
    cc_thread_timer_free(t);
}

static void test_cancel_before_it_fires(void **state)
{
    (void)state;
    _Atomic int ran = 0;
    cc_thread_timer *t = cc_thread_timer_new(30, count_and_return,
                                             (void *)&ran, NULL);
    void *res = &res;
    double t0;

    assert_ok(cc_thread_timer_start(t));
    assert_false(cc_thread_timer_cancelled(t));
    t0 = cc_now();
    assert_ok(cc_thread_timer_cancel(t));
    assert_true(cc_thread_timer_cancelled(t));
    assert_ok(cc_thread_timer_cancel(t)); /* again: still cancelled */
    /* the countdown ends at once, not after 30 s */
    assert_ok(cc_thread_timer_join(t, &res, tu_hang_bound(0)));
    assert_true(cc_now() - t0 < tu_hang_bound(0));
    assert_null(res);
    assert_int_equal(atomic_load(&ran), 0);
    cc_thread_timer_free(t);
}

static void test_cancel_before_start(void **state)
{
    (void)state;
    _Atomic int ran = 0;
    cc_thread_timer *t = cc_thread_timer_new(0, count_and_return,
                                             (void *)&ran, NULL);
    void *res = &res;

    assert_ok(cc_thread_timer_cancel(t));
    assert_ok(cc_thread_timer_start(t)); /* over at once, no thread */
    assert_ok(cc_thread_timer_join(t, &res, 0));
    assert_null(res);
    assert_fails_with(cc_thread_timer_start(t), EINVAL); /* only once */
    tu_sleep(0.05);
    assert_int_equal(atomic_load(&ran), 0);
    assert_true(cc_thread_timer_cancelled(t));
    cc_thread_timer_free(t);
}

static void test_join_timeouts(void **state)
{
    (void)state;
    _Atomic int ran = 0;
    cc_thread_timer *t = cc_thread_timer_new(30, count_and_return,
                                             (void *)&ran, "late");
    double t0;

    assert_ok(cc_thread_timer_start(t));
    assert_fails_with(cc_thread_timer_join(t, NULL, 0), EAGAIN);
    t0 = cc_now();
    assert_fails_with(cc_thread_timer_join(t, NULL, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.05);
    /* a deadline scope bounds the join too */
    assert_ok(cc_deadline_push(0.02));
    assert_fails_with(cc_thread_timer_join(t, NULL, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    assert_fails_with(cc_thread_timer_join(t, NULL, NAN), EINVAL);
    assert_ok(cc_thread_timer_cancel(t));
    assert_ok(cc_thread_timer_join(t, NULL, tu_hang_bound(0)));
    assert_int_equal(atomic_load(&ran), 0);
    cc_thread_timer_free(t);
}

static void *fail_edom(void *arg)
{
    (void)arg;
    return cc_fail(EDOM, "timer says no");
}

static void test_failure_is_handed_to_the_joiner(void **state)
{
    (void)state;
    cc_thread_timer *t = cc_thread_timer_new(0.01, fail_edom, NULL, "fails");

    assert_ok(cc_thread_timer_start(t));
    assert_fails_with(cc_thread_timer_join(t, NULL, tu_hang_bound(0.01)),
                      EDOM);
    assert_string_equal(cc_errmsg(), "timer says no");
    assert_non_null(strstr(cc_error_where(cc_last_error()), "fails"));
    cc_thread_timer_free(t);
}

static void *join_self(void *arg)
{
    cc_thread_timer *self = *(cc_thread_timer **)arg;

    if (cc_thread_timer_join(self, NULL, 1) == -1 && errno == EDEADLK &&
        cc_thread_timer_cancel(self) == -1 && errno == EALREADY)
        return arg;
    return cc_fail(EPROTO, "join from fn: %s", cc_errname(errno));
}

static void test_join_from_fn_is_refused(void **state)
{
    (void)state;
    cc_thread_timer *slot = NULL;
    cc_thread_timer *t = cc_thread_timer_new(0, join_self, &slot, NULL);
    void *res = NULL;

    slot = t;
    assert_ok(cc_thread_timer_start(t));
    assert_ok(cc_thread_timer_join(t, &res, tu_hang_bound(0)));
    assert_ptr_equal(res, &slot);
    cc_thread_timer_free(t);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int x;
    cc_thread_timer *t;

    assert_null_with(cc_thread_timer_new(1, NULL, NULL, NULL), EINVAL);
    assert_null_with(cc_thread_timer_new(-1, count_and_return, &x, NULL),
                     EINVAL);
    assert_null_with(cc_thread_timer_new(NAN, count_and_return, &x, NULL),
                     EINVAL);
    assert_fails_with(cc_thread_timer_start(NULL), EINVAL);
    assert_fails_with(cc_thread_timer_cancel(NULL), EINVAL);
    assert_fails_with(cc_thread_timer_join(NULL, NULL, 0), EINVAL);
    assert_fails_with(cc_thread_timer_start((cc_thread_timer *)&x), EINVAL);
    assert_false(cc_thread_timer_cancelled(NULL));
    cc_thread_timer_free(NULL);
    /* never started, never cancelled: joining would wait for ever */
    t = cc_thread_timer_new(0, count_and_return, &x, NULL);
    assert_fails_with(cc_thread_timer_join(t, NULL, CC_FOREVER), EINVAL);
    cc_thread_timer_free(t); /* never started: nothing to stop */
}

static void *wait_then_count(void *arg)
{
    void **a = arg;

    cc_event_set(a[2]);
    cc_event_wait(a[0], 30);
    atomic_fetch_add((_Atomic int *)a[1], 1);
    return arg;
}

static void test_free_cancels_or_detaches(void **state)
{
    (void)state;
    _Atomic int ran = 0;
    cc_event *go = cc_event_new();
    cc_event *started = cc_event_new();
    void *args[3] = {go, (void *)&ran, started};
    cc_thread_timer *t;

    /* still counting down: free cancels it */
    t = cc_thread_timer_new(0.05, count_and_return, (void *)&ran, NULL);
    assert_ok(cc_thread_timer_start(t));
    cc_thread_timer_free(t);
    tu_sleep(0.2);
    assert_int_equal(atomic_load(&ran), 0);

    /* fn running: it goes on detached and finishes */
    t = cc_thread_timer_new(0, wait_then_count, args, "detached");
    assert_ok(cc_thread_timer_start(t));
    assert_ok(cc_event_wait(started, tu_hang_bound(0)));
    assert_fails_with(cc_thread_timer_cancel(t), EALREADY);
    cc_thread_timer_free(t);
    cc_event_set(go);
    for (int i = 0; i < 3000 && atomic_load(&ran) == 0; i++)
        tu_sleep(0.01);
    assert_int_equal(atomic_load(&ran), 1);
    cc_event_free(go);
    cc_event_free(started);
}

/* ---- tasks: joining suspends only the task; cancelling it ---- */

static _Atomic int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (cc_sleep(0.005) == 0)
        atomic_fetch_add(&ticks, 1);
    return NULL;
}

static _Atomic int join_errno; /* what the last join_in_task's join gave */

static void *join_in_task(void *arg)
{
    void *res = NULL;
    int rc = cc_thread_timer_join(arg, &res, 30);

    atomic_store(&join_errno, rc == 0 ? 0 : errno);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), 0, "join in task");
    return res;
}

static void *task_main(void *arg)
{
    _Atomic int *ran = arg;
    cc_thread_timer *t = cc_thread_timer_new(0.1, count_and_return,
                                             (void *)ran, NULL);
    cc_thread_timer *never = cc_thread_timer_new(30, count_and_return,
                                                 (void *)ran, NULL);
    cc_future *tick = cc_spawn(ticker, NULL);
    cc_future *joiner, *blocked;
    void *res = NULL;
    void *out = arg;

    cc_thread_timer_start(t);
    cc_thread_timer_start(never);
    /* a task joining the timer lets its loop run the ticker meanwhile */
    joiner = cc_spawn(join_in_task, t);
    if (cc_future_result(joiner, &res, 30) != 0 || res != (void *)ran)
        out = cc_fail(EPROTO, "join in task: %s", cc_errmsg());
    if (atomic_load(&ticks) == 0)
        out = cc_fail(EPROTO, "the loop was blocked by the join");
    /* a task blocked in a join is cancelled: ECANCELED, promptly */
    blocked = cc_spawn(join_in_task, never);
    cc_sleep(0.02);
    if (cc_future_done(blocked))
        out = cc_fail(EPROTO, "the join did not block");
    cc_future_cancel(blocked);
    if (cc_future_result(blocked, NULL, tu_hang_bound(0)) != -1 ||
        errno != ECANCELED || !cc_future_cancelled(blocked) ||
        atomic_load(&join_errno) != ECANCELED)
        out = cc_fail(EPROTO, "cancelled join: %s, the join gave %s",
                      cc_errname(errno), cc_errname(atomic_load(&join_errno)));
    /* the timer is untouched by its joiner's cancellation */
    if (cc_thread_timer_cancelled(never) ||
        cc_thread_timer_cancel(never) != 0 ||
        cc_thread_timer_join(never, NULL, tu_hang_bound(0)) != 0)
        out = cc_fail(EPROTO, "timer after a cancelled join: %s",
                      cc_errmsg());
    cc_future_cancel(tick);
    cc_future_result(tick, NULL, tu_hang_bound(0));
    cc_future_free(tick);
    cc_future_free(joiner);
    cc_future_free(blocked);
    cc_thread_timer_free(t);
    cc_thread_timer_free(never);
    return out;
}

static void test_join_from_tasks(void **state)
{
    (void)state;
    _Atomic int ran = 0;

    atomic_store(&ticks, 0);
    assert_ok(cc_run(task_main, (void *)&ran, NULL));
    assert_int_equal(atomic_load(&ran), 1); /* t ran, never did not */
}

/* ---- stress: many timers, random intervals, random cancels ---- */

enum { N_TIMERS = 400, N_CANCELLERS = 4 };

typedef struct {
    cc_thread_timer *t;
    _Atomic int ran;         /* fn calls */
    _Atomic int cancel_ok;   /* cancels that returned 0 */
    _Atomic int cancel_late; /* cancels that returned EALREADY */
} stress_timer;

static stress_timer timers[N_TIMERS];

static void *stress_fn(void *arg)
{
    stress_timer *s = arg;

    /* a cancel that succeeded means fn never runs */
    if (atomic_load(&s->cancel_ok) != 0)
        return cc_fail(EPROTO, "fn ran after a successful cancel");
    atomic_fetch_add(&s->ran, 1);
    tu_jitter(200);
    return arg;
}

static void *canceller(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_TIMERS; i++) {
        stress_timer *s = &timers[tu_rand_below(N_TIMERS)];

        tu_jitter(100);
        if (tu_rand_below(3) != 0)
            continue;
        if (cc_thread_timer_cancel(s->t) == 0) {
            atomic_fetch_add(&s->cancel_ok, 1);
        } else {
            if (errno != EALREADY)
                return cc_fail(EPROTO, "cancel: %s", cc_errname(errno));
            atomic_fetch_add(&s->cancel_late, 1);
        }
    }
    return arg;
}

static void test_stress_ran_xor_cancelled(void **state)
{
    (void)state;
    int dummy[N_CANCELLERS];
    int ran = 0, cancelled = 0;

    for (int i = 0; i < N_TIMERS; i++) {
        double interval = (double)tu_rand_below(20000) / 1e6; /* < 20 ms */

        timers[i].t = cc_thread_timer_new(interval, stress_fn, &timers[i],
                                          NULL);
        assert_non_null(timers[i].t);
        atomic_store(&timers[i].ran, 0);
        atomic_store(&timers[i].cancel_ok, 0);
        atomic_store(&timers[i].cancel_late, 0);
    }
    tu_threads ts = tu_start(N_CANCELLERS, canceller, dummy, sizeof(int));
    for (int i = 0; i < N_TIMERS; i++) {
        /* some are cancelled before they start, by the cancellers */
        if (cc_thread_timer_start(timers[i].t) != 0)
            fail_msg("start %d: %s", i, cc_errmsg());
        if (i % 50 == 49) /* bound the live threads */
            tu_sleep(0.01);
    }
    tu_join(ts);
    for (int i = 0; i < N_TIMERS; i++) {
        stress_timer *s = &timers[i];
        void *res = NULL;
        bool was_cancelled;

        if (cc_thread_timer_join(s->t, &res, 30) != 0)
            fail_msg("timer %d: join: %s", i, cc_errmsg());
        was_cancelled = cc_thread_timer_cancelled(s->t);
        /* cancel once more: it must agree with what happened */
        if (cc_thread_timer_cancel(s->t) == 0) {
            if (!was_cancelled)
                fail_msg("timer %d: late cancel succeeded", i);
        } else if (errno != EALREADY || was_cancelled) {
            fail_msg("timer %d: final cancel %s", i, cc_errname(errno));
        }
        if (atomic_load(&s->ran) + (was_cancelled ? 1 : 0) != 1)
            fail_msg("timer %d: ran %d times, cancelled %d", i,
                     atomic_load(&s->ran), was_cancelled);
        if ((atomic_load(&s->cancel_ok) > 0) != was_cancelled)
            fail_msg("timer %d: %d successful cancels, cancelled %d", i,
                     atomic_load(&s->cancel_ok), was_cancelled);
        if (atomic_load(&s->cancel_late) > 0 && was_cancelled)
            fail_msg("timer %d: a cancel said too late, yet it is "
                     "cancelled", i);
        if (res != (was_cancelled ? NULL : (void *)s))
            fail_msg("timer %d: wrong result", i);
        ran += !was_cancelled;
        cancelled += was_cancelled;
        cc_thread_timer_free(s->t);
    }
    printf("# %d timers: %d ran, %d cancelled\n", N_TIMERS, ran, cancelled);
    assert_int_equal(ran + cancelled, N_TIMERS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_after_interval),
        cmocka_unit_test(test_cancel_before_it_fires),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_join_timeouts),
        cmocka_unit_test(test_failure_is_handed_to_the_joiner),
        cmocka_unit_test(test_join_from_fn_is_refused),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_free_cancels_or_detaches),
        cmocka_unit_test(test_join_from_tasks),
        cmocka_unit_test(test_stress_ran_xor_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
