/* test_counter - the plain program a race detector must accept: threads
 * add to a shared, non-atomic counter under a cc_lock (and under a
 * cc_rlock, taken twice), and the total is exact.  `make test-valgrind`
 * runs it under helgrind and DRD, which must report no error: they see
 * the library's futex locks only through its annotations
 * (src/internal/vg.h); without them helgrind reported ~70 races here. */
#include "test_util.h"

enum { THREADS = 4, ROUNDS = 2000 };

static long counter;        /* guarded by the lock under test only */
static cc_lock *lock;
static cc_rlock *rlock;

/* Add ROUNDS times to `counter` under the cc_lock. */
static void *add_under_lock(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        if (cc_lock_acquire(lock, CC_FOREVER) != 0)
            return NULL;
        counter++;
        if (cc_lock_release(lock) != 0)
            return NULL;
    }
    return arg;
}

/* Add ROUNDS times to `counter` under the cc_rlock, held twice deep. */
static void *add_under_rlock(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        if (cc_rlock_acquire(rlock, CC_FOREVER) != 0 ||
            cc_rlock_acquire(rlock, CC_FOREVER) != 0)
            return NULL;
        counter++;
        if (cc_rlock_release(rlock) != 0 || cc_rlock_release(rlock) != 0)
            return NULL;
    }
    return arg;
}

/* Start THREADS threads of fn, join them, and check the total. */
static void run_counters(cc_fn fn)
{
    cc_thread *t[THREADS];

    counter = 0;
    for (int i = 0; i < THREADS; i++) {
        t[i] = cc_thread_start(fn, (void *)1, "counter");
        assert_non_null(t[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        void *result = NULL;

        assert_ok(cc_thread_join(t[i], &result, CC_FOREVER));
        assert_non_null(result);
        cc_thread_free(t[i]);
    }
    assert_int_equal(counter, (long)THREADS * ROUNDS);
}

static void test_counter_under_lock(void **state)
{
    (void)state;
    lock = cc_lock_new();
    assert_non_null(lock);
    run_counters(add_under_lock);
    cc_lock_free(lock);
}

static void test_counter_under_rlock(void **state)
{
    (void)state;
    rlock = cc_rlock_new();
    assert_non_null(rlock);
    run_counters(add_under_rlock);
    cc_rlock_free(rlock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_under_lock),
        cmocka_unit_test(test_counter_under_rlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
