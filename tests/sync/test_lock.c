/* test_lock - cc_lock: ownership (EPERM, EDEADLK), timeouts, wake-ups, and
 * a hammering stress test whose invariant is checked at the end. */
#include <math.h>

#include "test_util.h"

static void test_acquire_release(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_false(cc_lock_locked(l));
    assert_ok(cc_lock_acquire(l, CC_FOREVER));
    assert_true(cc_lock_locked(l));
    assert_true(cc_lock_owned(l));
    assert_ok(cc_lock_release(l));
    assert_false(cc_lock_locked(l));
    assert_ok(cc_lock_acquire(l, 0));
    assert_ok(cc_lock_release(l));
    cc_lock_free(l);
}

static void test_relock_by_owner_is_edeadlk(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_ok(cc_lock_acquire(l, 1));
    assert_fails_with(cc_lock_acquire(l, 1), EDEADLK);
    assert_non_null(strstr(cc_errmsg(), "already held by the calling thread"));
    assert_fails_with(cc_lock_acquire(l, 0), EDEADLK);
    assert_ok(cc_lock_release(l));
    cc_lock_free(l);
}

static void test_release_unlocked_is_eperm(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_fails_with(cc_lock_release(l), EPERM);
    assert_string_equal(cc_errmsg(), "lock: released while not locked");
    cc_lock_free(l);
}

static void *try_release(void *arg)
{
    cc_lock *l = arg;
    if (cc_lock_release(l) != -1 || errno != EPERM)
        return cc_fail(EPROTO, "non-owner release did not fail with EPERM");
    if (strcmp(cc_errmsg(), "lock: released by a thread that does not hold it"))
        return cc_fail(EPROTO, "wrong message: %s", cc_errmsg());
    if (cc_lock_owned(l))
        return cc_fail(EPROTO, "non-owner thinks it owns the lock");
    if (cc_lock_acquire(l, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "try-acquire of a held lock did not give EAGAIN");
    return arg;
}

static void test_release_by_non_owner_is_eperm(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_ok(cc_lock_acquire(l, 1));
    cc_thread *t = cc_thread_start(try_release, l, "intruder");
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_true(cc_lock_owned(l)); /* still ours */
    assert_ok(cc_lock_release(l));
    cc_lock_free(l);
}

typedef struct {
    cc_lock *l;
    double timeout;
    double took;
    int rc;
    int err;
} timed_arg;

static void *timed_acquire(void *p)
{
    timed_arg *a = p;
    double t0 = cc_now();
    a->rc = cc_lock_acquire(a->l, a->timeout);
    a->err = errno;
    a->took = cc_now() - t0;
    if (a->rc == 0)
        cc_lock_release(a->l);
    return p;
}

static void test_acquire_times_out(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_ok(cc_lock_acquire(l, 1));
    timed_arg a = {l, 0.05, 0, 0, 0};
    cc_thread *t = cc_thread_start(timed_acquire, &a, "timed");
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_int_equal(a.rc, -1);
    assert_int_equal(a.err, ETIMEDOUT);
    /* never early; late only to catch a timeout that does not fire */
    assert_true(a.took >= 0.049 && a.took < tu_hang_bound(0.05));
    assert_ok(cc_lock_release(l));
    cc_lock_free(l);
}

static void test_waiter_wakes_on_release(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    assert_ok(cc_lock_acquire(l, 1));
    timed_arg a = {l, 10.0, 0, 0, 0};
    cc_thread *t = cc_thread_start(timed_acquire, &a, "waiter");
    tu_sleep(0.05);
    assert_ok(cc_lock_release(l));
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_int_equal(a.rc, 0);
    /* woken by the release, not by its own 10 s timeout */
    assert_true(a.took >= 0.04 && a.took < tu_hang_bound(0.05));
    cc_lock_free(l);
}

static void test_bad_handles(void **state)
{
    (void)state;
    assert_fails_with(cc_lock_acquire(NULL, 1), EINVAL);
    assert_fails_with(cc_lock_release(NULL), EINVAL);
    cc_lock *l = cc_lock_new();
    assert_fails_with(cc_lock_acquire(l, NAN), EINVAL);
    assert_false(cc_lock_locked(l));
    cc_lock_free(l);
    cc_lock_free(NULL);
    cc_rlock *r = cc_rlock_new();
    assert_fails_with(cc_lock_acquire((cc_lock *)r, 0), EINVAL); /* wrong type */
    cc_rlock_free(r);
}

/* Stress: threads increment two counters under the lock with random
 * critical-section lengths and timed acquires; the counters must agree and
 * equal the number of successful acquisitions. */
enum { STRESS_THREADS = 8, STRESS_ROUNDS = 100000 };

static struct {
    cc_lock *l;
    long a, b;                 /* guarded by l */
    _Atomic long inside;       /* threads inside the critical section */
    _Atomic long acquired;
    _Atomic long timeouts;
} S;

static void *stress_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        double timeout = tu_rand_below(8) == 0 ? 0.0001 : CC_FOREVER;
        if (tu_rand_below(16) == 0)
            timeout = 0;
        if (cc_lock_acquire(S.l, timeout) != 0) {
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc_fail_from(cc_last_error(), EPROTO, "acquire");
            atomic_fetch_add(&S.timeouts, 1);
            continue;
        }
        if (atomic_fetch_add(&S.inside, 1) != 0)
            return cc_fail(EPROTO, "two threads inside the lock");
        long a = S.a;
        if (tu_rand_below(64) == 0)
            tu_jitter(50);
        S.a = a + 1;
        S.b++;
        atomic_fetch_sub(&S.inside, 1);
        atomic_fetch_add(&S.acquired, 1);
        if (cc_lock_release(S.l) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "release");
    }
    return arg;
}

static void test_stress_mutual_exclusion(void **state)
{
    (void)state;
    S.l = cc_lock_new();
    int args[STRESS_THREADS];
    tu_join(tu_start(STRESS_THREADS, stress_body, args, sizeof(int)));
    assert_int_equal(S.a, S.b);
    assert_int_equal(S.a, atomic_load(&S.acquired));
    assert_int_equal(S.a + atomic_load(&S.timeouts),
                     (long)STRESS_THREADS * STRESS_ROUNDS);
    assert_false(cc_lock_locked(S.l));
    printf("# %ld acquisitions, %ld timed out\n", S.a, atomic_load(&S.timeouts));
    cc_lock_free(S.l);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_release),
        cmocka_unit_test(test_relock_by_owner_is_edeadlk),
        cmocka_unit_test(test_release_unlocked_is_eperm),
        cmocka_unit_test(test_release_by_non_owner_is_eperm),
        cmocka_unit_test(test_acquire_times_out),
        cmocka_unit_test(test_waiter_wakes_on_release),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_stress_mutual_exclusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
