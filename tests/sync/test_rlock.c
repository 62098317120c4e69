/* test_rlock - cc_rlock: re-entry by the owner, depth, EPERM for others,
 * timeouts, and a recursive stress test. */
#include <math.h>

#include "test_util.h"

static void test_reentry_and_depth(void **state)
{
    (void)state;
    cc_rlock *r = cc_rlock_new();
    assert_int_equal(cc_rlock_depth(r), 0);
    for (unsigned i = 1; i <= 5; i++) {
        assert_ok(cc_rlock_acquire(r, 0));
        assert_int_equal(cc_rlock_depth(r), i);
    }
    for (unsigned i = 5; i >= 1; i--) {
        assert_ok(cc_rlock_release(r));
        assert_int_equal(cc_rlock_depth(r), i - 1);
    }
    assert_fails_with(cc_rlock_release(r), EPERM);
    cc_rlock_free(r);
}

typedef struct {
    cc_rlock *r;
    int rc, err;
    double took;
} other_arg;

static void *other(void *p)
{
    other_arg *a = p;
    if (cc_rlock_release(a->r) != -1 || errno != EPERM)
        return cc_fail(EPROTO, "other thread could release");
    if (cc_rlock_depth(a->r) != 0)
        return cc_fail(EPROTO, "other thread sees a depth");
    double t0 = cc_now();
    a->rc = cc_rlock_acquire(a->r, 0.05);
    a->err = errno;
    a->took = cc_now() - t0;
    if (a->rc == 0 && cc_rlock_release(a->r) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "release after acquire");
    return p;
}

static void test_other_thread_is_kept_out(void **state)
{
    (void)state;
    cc_rlock *r = cc_rlock_new();
    assert_ok(cc_rlock_acquire(r, 1));
    assert_ok(cc_rlock_acquire(r, 1));
    other_arg a = {r, 0, 0, 0};
    cc_thread *t = cc_thread_start(other, &a, "other");
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_int_equal(a.rc, -1);
    assert_int_equal(a.err, ETIMEDOUT);
    assert_true(a.took >= 0.049);
    assert_ok(cc_rlock_release(r));
    assert_ok(cc_rlock_release(r));
    /* now free for the other thread */
    a.rc = -5;
    t = cc_thread_start(other, &a, "other2");
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_int_equal(a.rc, 0);
    assert_ok(cc_rlock_acquire(r, 0));
    assert_ok(cc_rlock_release(r));
    cc_rlock_free(r);
}

static void test_bad_handles(void **state)
{
    (void)state;
    assert_fails_with(cc_rlock_acquire(NULL, 0), EINVAL);
    assert_fails_with(cc_rlock_release(NULL), EINVAL);
    cc_lock *l = cc_lock_new();
    assert_fails_with(cc_rlock_acquire((cc_rlock *)l, 0), EINVAL);
    cc_lock_free(l);
    cc_rlock *r = cc_rlock_new();
    assert_fails_with(cc_rlock_acquire(r, NAN), EINVAL);
    cc_rlock_free(r);
    cc_rlock_free(NULL);
}

/* Stress: recursive transfers between accounts under one RLock (the
 * blog's bank, recursively); the total never changes. */
enum { ACCOUNTS = 5, THREADS = 6, ROUNDS = 40000 };
static cc_rlock *bank_lock;
static long balance[ACCOUNTS];

static int transfer(int from, int to, long amount, int depth)
{
    if (cc_rlock_acquire(bank_lock, CC_FOREVER) != 0)
        return -1;
    if (depth > 0) {
        if (transfer(from, to, amount, depth - 1) != 0)
            return -1;
    } else {
        long f = balance[from];
        if (tu_rand_below(128) == 0)
            tu_jitter(20);
        balance[from] = f - amount;
        balance[to] += amount;
    }
    return cc_rlock_release(bank_lock);
}

static void *bank_worker(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        int from = (int)tu_rand_below(ACCOUNTS);
        int to = (from + 1 + (int)tu_rand_below(ACCOUNTS - 1)) % ACCOUNTS;
        if (transfer(from, to, 1 + tu_rand_below(100), (int)tu_rand_below(4)))
            return cc_fail_from(cc_last_error(), EPROTO, "transfer");
    }
    return arg;
}

static void test_stress_recursive_transfers(void **state)
{
    (void)state;
    bank_lock = cc_rlock_new();
    for (int i = 0; i < ACCOUNTS; i++)
        balance[i] = 1000;
    int args[THREADS];
    tu_join(tu_start(THREADS, bank_worker, args, sizeof(int)));
    long sum = 0;
    for (int i = 0; i < ACCOUNTS; i++)
        sum += balance[i];
    assert_int_equal(sum, 5000);
    assert_int_equal(cc_rlock_depth(bank_lock), 0);
    assert_ok(cc_rlock_acquire(bank_lock, 0)); /* nobody left holding it */
    assert_ok(cc_rlock_release(bank_lock));
    cc_rlock_free(bank_lock);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reentry_and_depth),
        cmocka_unit_test(test_other_thread_is_kept_out),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_stress_recursive_transfers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
