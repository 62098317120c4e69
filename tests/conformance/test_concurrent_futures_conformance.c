/* test_concurrent_futures_conformance - behaviours of Python's
 * concurrent.futures that concur's futures and executors keep, each test
 * named after the CPython test (Lib/test/test_concurrent_futures/) whose
 * behaviour it mirrors, written in our own words and code. */
#include "test_util.h"

/* A job that waits for the event it is given (bounded: a broken test
 * fails instead of hanging) and returns its argument's address. */
static void *job_waits_for_event(void *arg)
{
    cc_event_wait(arg, 5.0);
    return arg;
}

/* ---- AsCompletedTests ---- */

/* test_duplicate_futures: a future given several times is yielded once. */
static void test_as_completed_duplicate_futures(void **state)
{
    (void)state;
    cc_executor *pool = cc_thread_pool_new(2, NULL);
    cc_event *ev = cc_event_new();
    cc_future *f = cc_submit(pool, job_waits_for_event, ev);
    cc_future *fs[3] = {f, f, f};
    cc_as_completed *it = cc_as_completed_new(fs, 3, 10.0);
    cc_future *got;
    int given = 0;

    assert_non_null(it);
    cc_event_set(ev);
    while (cc_as_completed_next(it, &got) == 1) {
        assert_ptr_equal(got, f);
        given++;
    }
    assert_int_equal(given, 1);
    cc_as_completed_free(it);
    cc_future_free(f);
    cc_executor_free(pool);
    cc_event_free(ev);
}

/* The same with duplicates mixed in, some done before the iterator is
 * made and some after: each distinct future comes out exactly once. */
static void test_as_completed_mixed_duplicates(void **state)
{
    (void)state;
    enum { N = 16, COPIES = 64 };
    cc_executor *pool = cc_thread_pool_new(4, NULL);
    cc_event *ev = cc_event_new();
    cc_future *distinct[N];
    cc_future *fs[COPIES];
    int seen[N] = {0};
    cc_as_completed *it;
    cc_future *got;

    for (int i = 0; i < N; i++)
        distinct[i] = i % 2 ? cc_submit(pool, job_waits_for_event, ev)
                            : cc_submit(pool, tu_nothing, NULL);
    for (int i = 0; i < N; i++) /* the even ones are done before _new */
        if (i % 2 == 0)
            assert_ok(cc_future_result(distinct[i], NULL, CC_FOREVER));
    for (int i = 0; i < COPIES; i++)
        fs[i] = distinct[i < N ? (unsigned)i : tu_rand_below(N)];
    it = cc_as_completed_new(fs, COPIES, 10.0);
    assert_non_null(it);
    cc_event_set(ev);
    while (cc_as_completed_next(it, &got) == 1) {
        int k = 0;

        while (k < N && distinct[k] != got)
            k++;
        assert_true(k < N);
        seen[k]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    cc_as_completed_free(it);
    for (int i = 0; i < N; i++)
        cc_future_free(distinct[i]);
    cc_executor_free(pool);
    cc_event_free(ev);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_as_completed_duplicate_futures),
        cmocka_unit_test(test_as_completed_mixed_duplicates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
