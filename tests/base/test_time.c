/* test_time - the monotonic clock, absolute deadlines, and deadline scopes
 * bounding every blocking call of the calling thread. */
#include <math.h>

#include "test_util.h"

static void test_now_is_monotonic_seconds(void **state)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double ref = ts.tv_sec + ts.tv_nsec / 1e9;
    double a = cc_now();
    assert_true(fabs(a - ref) < 0.5);
    double prev = a;
    for (int i = 0; i < 100000; i++) {
        double t = cc_now();
        assert_true(t >= prev);
        prev = t;
    }
    tu_sleep(0.05);
    double d = cc_now() - a;
    assert_true(d >= 0.049);
}

static void test_deadline_and_remaining(void **state)
{
    (void)state;
    double dl = cc_deadline(0.2);
    double left = cc_remaining(dl);
    assert_true(left > 0.1 && left <= 0.2);
    assert_true(isinf(cc_deadline(CC_FOREVER)));
    assert_true(cc_remaining(cc_deadline(-7)) == CC_FOREVER);
    assert_true(cc_remaining(cc_now() - 1) == 0);
}

static void test_scope_bounds_a_forever_wait(void **state)
{
    (void)state;
    cc_event *e = cc_event_new();
    assert_ok(cc_deadline_push(0.05));
    double t0 = cc_now();
    assert_fails_with(cc_event_wait(e, CC_FOREVER), ETIMEDOUT);
    double took = cc_now() - t0;
    /* a forever wait: any end at all is the scope's; the bound catches a
     * wait the scope does not end */
    assert_true(took >= 0.045 && took < tu_hang_bound(0.05));
    assert_true(cc_deadline_expired());
    cc_deadline_pop();
    assert_false(cc_deadline_expired());
    /* outside the scope, a short timeout is the call's own */
    t0 = cc_now();
    assert_fails_with(cc_event_wait(e, 0.02), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.019);
    cc_event_free(e);
}

static void test_nested_scopes_take_the_earliest(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    cc_sem *s = cc_sem_new(0);
    assert_ok(cc_deadline_push(0.05));
    assert_ok(cc_deadline_push(20.0)); /* later than the outer: no effect */
    double t0 = cc_now();
    /* ends at 0.05 s; the inner scope would end it at 20 s, the call's own
     * timeout at 30 s: both far past the hang bound (8.2 s at most) */
    assert_fails_with(cc_sem_acquire(s, 30.0), ETIMEDOUT);
    assert_true(cc_now() - t0 < tu_hang_bound(0.05));
    cc_deadline_pop();
    assert_ok(cc_deadline_push(0.0)); /* already expired: the call fails at once */
    assert_fails_with(cc_sem_acquire(s, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    cc_deadline_pop();
    cc_deadline_pop(); /* popping with no scope is harmless */
    /* with the scopes gone, the lock can be taken normally */
    assert_ok(cc_lock_acquire(l, 1.0));
    assert_ok(cc_lock_release(l));
    cc_sem_free(s);
    cc_lock_free(l);
}

static void test_scope_limits_and_bad_values(void **state)
{
    (void)state;
    int pushed = 0;
    while (cc_deadline_push(100.0) == 0)
        pushed++;
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(pushed, 32);
    for (int i = 0; i < pushed; i++)
        cc_deadline_pop();
    assert_fails_with(cc_deadline_push(NAN), EINVAL);
    cc_event *e = cc_event_new();
    assert_fails_with(cc_event_wait(e, NAN), EINVAL);
    assert_string_equal(cc_errmsg(), "cc_event_wait: timeout is NaN");
    cc_event_free(e);
}

/* Scopes belong to the thread that opened them. */
static void *no_scope_here(void *arg)
{
    (void)arg;
    if (cc_deadline_expired())
        return cc_fail(EPROTO, "scope leaked into another thread");
    cc_event *e = cc_event_new();
    double t0 = cc_now();
    int rc = cc_event_wait(e, 0.2);
    cc_event_free(e);
    if (rc != -1 || errno != ETIMEDOUT || cc_now() - t0 < 0.19)
        return cc_fail(EPROTO, "the other thread's scope applied here");
    return arg;
}

static void test_scopes_are_per_thread(void **state)
{
    (void)state;
    assert_ok(cc_deadline_push(0.0));
    cc_thread *t = cc_thread_start(no_scope_here, &state, "noscope");
    cc_deadline_pop();
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_is_monotonic_seconds),
        cmocka_unit_test(test_deadline_and_remaining),
        cmocka_unit_test(test_scope_bounds_a_forever_wait),
        cmocka_unit_test(test_nested_scopes_take_the_earliest),
        cmocka_unit_test(test_scope_limits_and_bad_values),
        cmocka_unit_test(test_scopes_are_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
