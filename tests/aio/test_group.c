/* test_group - many tasks together: cc_gather (first error vs every
 * result; its timeout and poll, which cancel nothing; per-slot outcomes
 * from a task and a thread, and cancelled), task groups (all
 * succeed; one fails and the others are cancelled; cancelling the group;
 * the waiter cancelled; the wait's timeout and poll), cc_wait_for, and
 * deadline scopes that are per task and nest. */
#include "test_util.h"

#include <math.h>

static void *after(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    if (cc_sleep((double)(ms % 1000) / 1000.0) != 0)
        return NULL;
    if (ms >= 1000)
        return cc_fail(EIO, "task %ld failed", (long)ms);
    return arg;
}

/* A task that ends (with 300) once the event it is given is set. */
static void *when_set(void *arg)
{
    if (cc_event_wait(arg, 10.0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "never set");
    return (void *)300;
}

static void *gather_main(void *arg)
{
    (void)arg;
    cc_event *ev = cc_event_new();
    /* return_errors false: the first failure in time comes back at once,
     * while the slow task still waits for the event */
    cc_future *f[3] = {cc_spawn(when_set, ev), cc_spawn(after, (void *)1020),
                       cc_spawn(after, (void *)30)};
    void *res[3];
    if (cc_gather(f, 3, res, false, CC_FOREVER) != -1 || errno != EIO ||
        strcmp(cc_errmsg(), "task 1020 failed") != 0)
        return cc_fail(EPROTO, "gather did not report the failure");
    if (cc_future_done(f[0]))
        return cc_fail(EPROTO, "gather waited for the slow task");
    cc_event_set(ev);
    /* return_errors true: every slot, NULL for the failed one */
    if (cc_gather(f, 3, res, true, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "gather all");
    if ((intptr_t)res[0] != 300 || res[1] != NULL || (intptr_t)res[2] != 30 ||
        cc_error_code(cc_future_error(f[1])) != EIO)
        return cc_fail(EPROTO, "gather slots wrong");
    for (int i = 0; i < 3; i++)
        cc_future_free(f[i]);
    cc_event_free(ev);
    return arg;
}

static void test_gather(void **state)
{
    assert_ok(cc_run(gather_main, state, NULL));
}

/* gather's timeout: ETIMEDOUT (EAGAIN for 0) leaves the futures running
 * and the results untouched; a later gather collects them. */
static void *gather_timeout_main(void *arg)
{
    cc_event *ev = cc_event_new();
    cc_future *f[4];
    void *res[4] = {(void *)7, (void *)7, (void *)7, (void *)7};

    for (int i = 0; i < 4; i++)
        f[i] = i % 2 ? cc_spawn(when_set, ev) : cc_spawn(after, (void *)1);
    errno = 0;
    if (cc_gather(f, 4, res, true, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "gather timeout 0: %s", cc_errmsg());
    errno = 0;
    if (cc_gather(f, 4, res, false, 0.05) != -1 || errno != ETIMEDOUT ||
        strstr(cc_errmsg(), "of 4 futures done at the deadline") == NULL)
        return cc_fail(EPROTO, "gather timeout: %s", cc_errmsg());
    errno = 0;
    if (cc_gather(f, 4, res, true, NAN) != -1 || errno != EINVAL)
        return cc_fail(EPROTO, "gather NaN: %s", cc_errmsg());
    for (int i = 0; i < 4; i++)
        if (res[i] != (void *)7 || cc_future_cancelled(f[i]))
            return cc_fail(EPROTO, "a timed-out gather touched slot %d", i);
    if (cc_future_done(f[1]) || cc_future_done(f[3]))
        return cc_fail(EPROTO, "the waiting tasks did not run on");
    cc_event_set(ev);
    if (cc_gather(f, 4, res, false, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "gather after the event");
    for (int i = 0; i < 4; i++) {
        if ((intptr_t)res[i] != (i % 2 ? 300 : 1))
            return cc_fail(EPROTO, "slot %d holds %ld", i, (long)(intptr_t)res[i]);
        cc_future_free(f[i]);
    }
    cc_event_free(ev);
    return arg;
}

static void test_gather_timeout(void **state)
{
    assert_ok(cc_run(gather_timeout_main, state, NULL));
}

/* From a thread, gather waits on pool futures with the same timeout rule. */
static void *pool_job(void *arg)
{
    if (cc_event_wait(arg, 10.0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "never set");
    return (void *)5;
}

static void test_gather_timeout_from_a_thread(void **state)
{
    cc_executor *ex = cc_thread_pool_new(3, NULL);
    cc_event *ev = cc_event_new();
    cc_future *f[3];
    void *res[3];

    (void)state;
    for (int i = 0; i < 3; i++)
        f[i] = cc_submit(ex, pool_job, ev);
    assert_fails_with(cc_gather(f, 3, res, true, 0.05), ETIMEDOUT);
    assert_fails_with(cc_gather(f, 3, res, true, 0), EAGAIN);
    cc_event_set(ev);
    assert_ok(cc_gather(f, 3, res, true, CC_FOREVER));
    for (int i = 0; i < 3; i++) {
        assert_int_equal((intptr_t)res[i], 5);
        cc_future_free(f[i]);
    }
    cc_event_free(ev);
    cc_executor_free(ex);
}

/* ---- groups ---- */

static _Atomic int group_cancelled_seen;

static void *member(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    if (cc_sleep((double)(ms % 1000) / 1000.0) != 0) {
        atomic_fetch_add(&group_cancelled_seen, 1);
        return NULL;
    }
    if (ms >= 1000)
        return cc_fail(EPIPE, "member %ld broke", (long)ms);
    return arg;
}

static void *group_main(void *arg)
{
    (void)arg;
    cc_group *g = cc_group_new();
    for (intptr_t i = 1; i <= 5; i++)
        cc_group_spawn(g, member, (void *)(i * 5));
    if (cc_group_wait(g, CC_FOREVER) != 0 || cc_group_error_count(g) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "all-good group");
    cc_group_free(g);

    /* one fails: the others are cancelled, and the wait reports it.  The
     * 1020 member is cancelled even when its timer expires in the same
     * pass of the loop as the 1010 member's (a loaded machine): the
     * cancellation reaches it before it resumes, and cancel wins. */
    atomic_store(&group_cancelled_seen, 0);
    g = cc_group_new();
    cc_group_spawn(g, member, (void *)500);
    cc_group_spawn(g, member, (void *)1010); /* fails after 10 ms */
    cc_group_spawn(g, member, (void *)1020); /* cancelled at 10 ms */
    cc_group_spawn(g, member, (void *)600);
    if (cc_group_wait(g, CC_FOREVER) != -1 || errno != EPIPE)
        return cc_fail(EPROTO, "failing group: %s", cc_errmsg());
    if (cc_group_error_count(g) != 1 ||
        strcmp(cc_error_message(cc_group_error(g, 0)), "member 1010 broke"))
        return cc_fail(EPROTO, "group errors wrong");
    if (strstr(cc_errmsg(), "1 of 4 tasks of the group failed") == NULL)
        return cc_fail(EPROTO, "message: %s", cc_errmsg());
    if (atomic_load(&group_cancelled_seen) != 3)
        return cc_fail(EPROTO, "%d siblings saw the cancellation",
                       atomic_load(&group_cancelled_seen));
    if (cc_group_spawn(g, member, NULL) != NULL || errno != ESHUTDOWN)
        return cc_fail(EPROTO, "spawn into a failed group");
    cc_group_free(g);

    /* cancelling the group */
    g = cc_group_new();
    cc_group_spawn(g, member, (void *)900);
    cc_group_spawn(g, member, (void *)900);
    cc_sleep(0.01);
    cc_group_cancel(g);
    if (cc_group_wait(g, CC_FOREVER) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "cancelled group wait");
    cc_group_free(g);
    return arg;
}

/* group_wait's timeout: ETIMEDOUT (EAGAIN for 0) cancels nothing and does
 * not finish the group: it still takes members, and a later wait sees
 * them all. */
static void *group_timeout_main(void *arg)
{
    cc_event *ev = cc_event_new();
    cc_group *g = cc_group_new();

    for (int i = 0; i < 5; i++)
        if (cc_group_spawn(g, when_set, ev) == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "spawn");
    errno = 0;
    if (cc_group_wait(g, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "group wait 0: %s", cc_errmsg());
    errno = 0;
    if (cc_group_wait(g, 0.05) != -1 || errno != ETIMEDOUT ||
        strstr(cc_errmsg(), "5 of 5 tasks still run at the deadline") == NULL)
        return cc_fail(EPROTO, "group wait timeout: %s", cc_errmsg());
    errno = 0;
    if (cc_group_wait(g, NAN) != -1 || errno != EINVAL)
        return cc_fail(EPROTO, "group wait NaN: %s", cc_errmsg());
    /* not finished: one more member is welcome */
    if (cc_group_spawn(g, after, (void *)2) == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "spawn after a timeout");
    cc_event_set(ev);
    if (cc_group_wait(g, CC_FOREVER) != 0 || cc_group_error_count(g) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "final wait");
    cc_group_free(g);
    cc_event_free(ev);
    return arg;
}

static void test_group_wait_timeout(void **state)
{
    assert_ok(cc_run(group_timeout_main, state, NULL));
}

static void test_task_groups(void **state)
{
    assert_ok(cc_run(group_main, state, NULL));
}

/* gather_outcomes tells apart the four ways a slot can end -- a NULL
 * result, a value, a failure, a cancellation -- and on a timeout fills
 * every slot, the unfinished ones EINPROGRESS, cancelling nothing. */
static void *returns_null(void *arg)
{
    (void)arg;
    return NULL;
}

static void *outcomes_main(void *arg)
{
    cc_event *ev = cc_event_new();
    cc_future *f[5] = {cc_spawn(returns_null, NULL),
                       cc_spawn(after, (void *)20),
                       cc_spawn(after, (void *)1010),
                       cc_spawn(when_set, ev),
                       cc_spawn(when_set, ev)};
    cc_outcome out[5];

    cc_future_cancel(f[4]);
    if (cc_gather_outcomes(f, 5, out, 0.2) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "outcomes before the event: %s", cc_errmsg());
    if (out[0].status != 0 || out[0].result != NULL || out[0].error != NULL ||
        out[1].status != 0 || (intptr_t)out[1].result != 20 ||
        out[2].status != EIO || out[2].result != NULL ||
        strcmp(cc_error_message(out[2].error), "task 1010 failed") != 0 ||
        out[3].status != EINPROGRESS || out[4].status != ECANCELED ||
        out[4].error != NULL)
        return cc_fail(EPROTO, "outcomes at the deadline are wrong");
    if (cc_future_done(f[3]))
        return cc_fail(EPROTO, "the timed-out gather cancelled a task");
    cc_event_set(ev);
    memset(out, 0x55, sizeof(out));
    if (cc_gather_outcomes(f, 5, out, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "outcomes");
    if (out[3].status != 0 || (intptr_t)out[3].result != 300 ||
        out[0].status != 0 || out[0].result != NULL ||
        out[4].status != ECANCELED || out[2].status != EIO)
        return cc_fail(EPROTO, "outcomes after the event are wrong");
    errno = 0;
    if (cc_gather_outcomes(f, 5, NULL, 0) != -1 || errno != EINVAL ||
        cc_gather_outcomes(f, 5, out, NAN) != -1 || errno != EINVAL)
        return cc_fail(EPROTO, "bad outcomes arguments accepted");
    for (int i = 0; i < 5; i++)
        cc_future_free(f[i]);
    cc_event_free(ev);
    return arg;
}

static void test_gather_outcomes(void **state)
{
    assert_ok(cc_run(outcomes_main, state, NULL));
}

/* A task cancelled inside gather_outcomes: ECANCELED, and the futures it
 * gathered are cancelled with it, as gather does. */
typedef struct {
    cc_future *f[2];
} outcomes_cancel_arg;

static void *gathers_outcomes_forever(void *arg)
{
    outcomes_cancel_arg *a = arg;
    cc_outcome out[2] = {{.status = 77}, {.status = 77}};

    a->f[0] = cc_spawn(after, (void *)999); /* NULL when cancelled */
    a->f[1] = cc_spawn(after, (void *)998);
    int rc = cc_gather_outcomes(a->f, 2, out, CC_FOREVER);
    if (rc != -1 || errno != ECANCELED || out[0].status != 77)
        return cc_fail(EPROTO, "gather_outcomes was not cancelled cleanly");
    return NULL; /* NULL after a cancel: the task ends cancelled */
}

static void *outcomes_cancel_main(void *arg)
{
    outcomes_cancel_arg a = {{NULL, NULL}};

    for (int round = 0; round < 20; round++) {
        cc_future *g = cc_spawn(gathers_outcomes_forever, &a);

        a.f[0] = a.f[1] = NULL;
        cc_sleep((double)tu_rand_below(3) / 1000.0); /* 0-2 ms */
        cc_future_cancel(g);
        if (cc_future_result(g, NULL, 10) != -1 || errno != ECANCELED)
            return cc_fail(EPROTO, "round %d: %s", round, cc_errmsg());
        for (int i = 0; i < 2; i++) {
            if (a.f[i] == NULL) /* cancelled before it started */
                continue;
            /* the gathered tasks were cancelled with it */
            if (cc_future_result(a.f[i], NULL, 10) != -1 || errno != ECANCELED)
                return cc_fail(EPROTO, "round %d: child %d not cancelled",
                               round, i);
            cc_future_free(a.f[i]);
        }
        cc_future_free(g);
    }
    return arg;
}

static void test_gather_outcomes_cancelled(void **state)
{
    assert_ok(cc_run(outcomes_cancel_main, state, NULL));
}

/* From a thread, over pool futures: the same outcomes. */
static void *pool_fails_odd(void *arg)
{
    intptr_t i = (intptr_t)arg;

    tu_jitter(200);
    if (i % 2)
        return cc_fail(EDOM, "item %ld is odd", (long)i);
    return i % 4 ? arg : NULL;
}

static void test_gather_outcomes_from_a_thread(void **state)
{
    enum { N = 64 };
    cc_executor *ex = cc_thread_pool_new(4, NULL);
    cc_future *f[N];
    cc_outcome out[N];

    (void)state;
    for (intptr_t i = 0; i < N; i++)
        f[i] = cc_submit(ex, pool_fails_odd, (void *)i);
    assert_ok(cc_gather_outcomes(f, N, out, CC_FOREVER));
    for (intptr_t i = 0; i < N; i++) {
        if (i % 2) {
            assert_int_equal(out[i].status, EDOM);
            assert_non_null(out[i].error);
        } else {
            assert_int_equal(out[i].status, 0);
            assert_ptr_equal(out[i].result, i % 4 ? (void *)i : NULL);
        }
        cc_future_free(f[i]);
    }
    cc_executor_free(ex);
}

static void *waits_on_group(void *arg)
{
    (void)arg;
    cc_group *g = cc_group_new();
    cc_group_spawn(g, member, (void *)900);
    int rc = cc_group_wait(g, CC_FOREVER); /* we get cancelled here */
    int e = errno;
    cc_group_free(g);
    errno = e;
    return rc == -1 && e == ECANCELED ? NULL : cc_fail(EPROTO, "not cancelled");
}

static void *waiter_cancel_main(void *arg)
{
    (void)arg;
    atomic_store(&group_cancelled_seen, 0);
    cc_future *f = cc_spawn(waits_on_group, NULL);
    cc_sleep(0.01);
    cc_future_cancel(f);
    int rc = cc_future_result(f, NULL, 10);
    cc_future_free(f);
    if (rc != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "the waiter did not end cancelled");
    if (atomic_load(&group_cancelled_seen) != 1)
        return cc_fail(EPROTO, "the member was not cancelled with its waiter");
    return arg;
}

static void test_cancelling_the_waiter_cancels_the_group(void **state)
{
    assert_ok(cc_run(waiter_cancel_main, state, NULL));
}

/* ---- wait_for ---- */

static _Atomic int cleaned_up;

static void *slow_with_cleanup(void *arg)
{
    (void)arg;
    if (cc_sleep(10) == 0)
        return arg;
    cc_shield_push(1.0);
    cc_sleep(0.02); /* cleanup takes a moment; wait_for waits for it */
    atomic_store(&cleaned_up, 1);
    cc_shield_pop();
    return NULL;
}

static void *wait_for_main(void *arg)
{
    (void)arg;
    cc_future *quick = cc_spawn(after, (void *)5);
    void *r;
    if (cc_wait_for(quick, &r, 60.0) != 0 || (intptr_t)r != 5)
        return cc_fail(EPROTO, "wait_for of a quick task");
    cc_future_free(quick);
    atomic_store(&cleaned_up, 0);
    cc_future *slow = cc_spawn(slow_with_cleanup, NULL);
    double t0 = cc_now();
    if (cc_wait_for(slow, &r, 0.05) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "wait_for should time out");
    double took = cc_now() - t0;
    if (!cc_future_cancelled(slow) || !atomic_load(&cleaned_up))
        return cc_fail(EPROTO, "the task was not cancelled and finished");
    if (took < 0.065) /* the timeout, then the cleanup's own 20 ms */
        return cc_fail(EPROTO, "wait_for took %.3f s", took);
    cc_future_free(slow);
    return arg;
}

static void test_wait_for(void **state)
{
    assert_ok(cc_run(wait_for_main, state, NULL));
}

/* ---- deadline scopes are per task and nest ---- */

static void *scoped(void *arg)
{
    double limit = *(double *)arg;
    double t0 = cc_now();
    if (cc_deadline_push(limit) != 0)
        return NULL;
    if (cc_deadline_push(10.0) != 0) /* later than the outer one */
        return NULL;
    int rc = cc_sleep(5);
    int e = errno;
    cc_deadline_pop();
    cc_deadline_pop();
    double took = cc_now() - t0;
    if (rc != -1 || e != ETIMEDOUT)
        return cc_fail(EPROTO, "the scope did not bound the sleep");
    if (took < limit - 1e-6) /* never early; late on a loaded machine */
        return cc_fail(EPROTO, "scope of %.2f s ended after %.3f s", limit,
                       took);
    return arg;
}

static void *scopes_main(void *arg)
{
    (void)arg;
    static double limits[3] = {0.02, 0.06, 0.1};
    cc_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(scoped, &limits[i]);
    int rc = cc_gather(f, 3, NULL, false, CC_FOREVER);
    for (int i = 0; i < 3; i++)
        cc_future_free(f[i]);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "scopes");
    if (cc_deadline_expired())
        return cc_fail(EPROTO, "a child's scope leaked into main");
    return arg;
}

static void test_deadline_scopes_per_task(void **state)
{
    assert_ok(cc_run(scopes_main, state, NULL));
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_timeout),
        cmocka_unit_test(test_gather_timeout_from_a_thread),
        cmocka_unit_test(test_gather_outcomes),
        cmocka_unit_test(test_gather_outcomes_cancelled),
        cmocka_unit_test(test_gather_outcomes_from_a_thread),
        cmocka_unit_test(test_group_wait_timeout),
        cmocka_unit_test(test_task_groups),
        cmocka_unit_test(test_cancelling_the_waiter_cancels_the_group),
        cmocka_unit_test(test_wait_for),
        cmocka_unit_test(test_deadline_scopes_per_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
