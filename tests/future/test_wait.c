/* test_wait - waiting for many futures: cc_wait's three conditions and its
 * timeout, cc_wait_indexes' listing (on success, on a timeout, cancelled),
 * cc_future_outcome, as_completed's order and overall timeout, and cc_map: order,
 * chunks, a failing item (its index, the rest cancelled, results kept),
 * the deadline, and a shut-down pool. */
#include "test_util.h"

static cc_future *done_with(void *r)
{
    cc_future *f = cc_future_new();
    cc_future_set_result(f, r);
    return f;
}

static cc_future *failed_with(int code)
{
    cc_future *f = cc_future_new();
    cc_error *e = cc_error_new(code, NULL, "failed on purpose");
    cc_future_set_error(f, e);
    cc_error_free(e);
    return f;
}

static void free_all(cc_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cc_future_free(fs[i]);
}

static void test_wait_conditions_already_met(void **state)
{
    (void)state;
    cc_future *fs[3] = {done_with(NULL), cc_future_new(), cc_future_new()};
    assert_int_equal(cc_wait(fs, 3, CC_FIRST_COMPLETED, 0), 1);
    assert_fails_with(cc_wait(fs, 3, CC_ALL_COMPLETED, 0), EAGAIN);
    assert_fails_with(cc_wait(fs, 3, CC_FIRST_EXCEPTION, 0.02), ETIMEDOUT);
    cc_future_free(fs[2]);
    fs[2] = failed_with(EIO);
    assert_int_equal(cc_wait(fs, 3, CC_FIRST_EXCEPTION, 1), 2);
    assert_true(cc_future_done(fs[0]) && !cc_future_done(fs[1]) &&
                cc_future_done(fs[2]));
    assert_int_equal(cc_wait(fs, 0, CC_ALL_COMPLETED, 0), 0);
    assert_fails_with(cc_wait(fs, 3, 99, 0), EINVAL);
    assert_fails_with(cc_wait(NULL, 3, CC_ALL_COMPLETED, 0), EINVAL);
    free_all(fs, 3);
}

/* cc_future_outcome: each way a future can stand, without waiting. */
static void test_future_outcome(void **state)
{
    (void)state;
    cc_future *fs[4] = {done_with(NULL), failed_with(EIO), cc_future_new(),
                        cc_future_new()};
    cc_outcome o;

    cc_future_cancel(fs[3]);
    assert_ok(cc_future_outcome(fs[0], &o));
    assert_int_equal(o.status, 0);
    assert_null(o.result);
    assert_null(o.error);
    assert_ok(cc_future_outcome(fs[1], &o));
    assert_int_equal(o.status, EIO);
    assert_string_equal(cc_error_message(o.error), "failed on purpose");
    assert_ok(cc_future_outcome(fs[2], &o));
    assert_int_equal(o.status, EINPROGRESS);
    assert_ok(cc_future_outcome(fs[3], &o));
    assert_int_equal(o.status, ECANCELED);
    assert_fails_with(cc_future_outcome(NULL, &o), EINVAL);
    assert_fails_with(cc_future_outcome(fs[0], NULL), EINVAL);
    cc_future_set_result(fs[2], (void *)9);
    assert_ok(cc_future_outcome(fs[2], &o));
    assert_int_equal(o.status, 0);
    assert_ptr_equal(o.result, (void *)9);
    free_all(fs, 4);
}

/* cc_wait_indexes lists exactly the futures done when it returns, in input
 * order, on success and on a timeout alike; while threads finish random
 * futures, the listing always agrees with cc_future_done afterwards for
 * the ones it lists (done never goes back). */
enum { IX_N = 96 };

static void *finish_random_half(void *arg)
{
    cc_future **fs = arg;

    for (int i = 0; i < IX_N / 2; i++) {
        (void)cc_future_set_result(fs[tu_rand_below(IX_N)], NULL);
        tu_jitter(50);
    }
    return NULL;
}

static void test_wait_indexes(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        cc_future *fs[IX_N];
        size_t done[IX_N];
        size_t nd = 77;
        cc_thread *t[3];

        for (int i = 0; i < IX_N; i++)
            fs[i] = cc_future_new();
        for (int i = 0; i < 3; i++)
            t[i] = cc_thread_start(finish_random_half, fs, NULL);
        if (cc_wait_indexes(fs, IX_N, CC_FIRST_COMPLETED, 30, done, &nd) != 0)
            fail_msg("first completed: %s", cc_errmsg());
        assert_true(nd >= 1 && nd <= IX_N);
        for (size_t k = 0; k < nd; k++) {
            assert_true(cc_future_done(fs[done[k]]));
            if (k > 0)
                assert_true(done[k] > done[k - 1]);
        }
        for (int i = 0; i < 3; i++) {
            assert_ok(cc_thread_join(t[i], NULL, 30));
            cc_thread_free(t[i]);
        }
        /* now quiet: the listing is exactly the done set, and the rest are
         * not done; ALL_COMPLETED times out (EAGAIN at 0) with it filled */
        size_t expect = 0;
        for (int i = 0; i < IX_N; i++)
            expect += cc_future_done(fs[i]);
        errno = 0;
        assert_int_equal(cc_wait_indexes(fs, IX_N, CC_ALL_COMPLETED,
                                         round % 2 ? 0 : 0.01, done, &nd), -1);
        assert_int_equal(errno, round % 2 ? EAGAIN : ETIMEDOUT);
        assert_int_equal(nd, expect);
        for (size_t k = 0, j = 0; j < IX_N; j++) {
            bool listed = k < nd && done[k] == j;
            assert_int_equal(listed, cc_future_done(fs[j]));
            k += listed;
        }
        free_all(fs, IX_N);
    }
    cc_future *f = cc_future_new();
    cc_future *two[2] = {f, f};
    size_t done[2];
    size_t nd = 9;
    cc_future_set_result(f, NULL);
    assert_ok(cc_wait_indexes(two, 2, CC_ALL_COMPLETED, 0, done, &nd));
    assert_int_equal(nd, 2);
    assert_true(done[0] == 0 && done[1] == 1);
    assert_fails_with(cc_wait_indexes(two, 2, CC_ALL_COMPLETED, 0, NULL, &nd),
                      EINVAL);
    assert_fails_with(cc_wait_indexes(two, 2, CC_ALL_COMPLETED, 0, done, NULL),
                      EINVAL);
    assert_fails_with(cc_wait_indexes(two, 2, 42, 0, done, &nd), EINVAL);
    assert_int_equal(nd, 0);
    cc_future_free(f);
}

/* A task parked in cc_wait_indexes and cancelled: ECANCELED, nothing listed. */
static void *waits_indexes_forever(void *arg)
{
    cc_future *fs[2] = {arg, arg};
    size_t done[2];
    size_t nd = 5;
    int rc = cc_wait_indexes(fs, 2, CC_FIRST_COMPLETED, CC_FOREVER, done, &nd);

    if (rc != -1 || errno != ECANCELED || nd != 0)
        return cc_fail(EPROTO, "not cancelled: rc %d nd %zu", rc, nd);
    return NULL;
}

static void *wait_indexes_cancel_main(void *arg)
{
    cc_future *never = cc_future_new();

    for (int round = 0; round < 20; round++) {
        cc_future *t = cc_spawn(waits_indexes_forever, never);

        cc_sleep((double)tu_rand_below(3) / 1000.0);
        cc_future_cancel(t);
        if (cc_future_result(t, NULL, 10) != -1 || errno != ECANCELED)
            return cc_fail(EPROTO, "round %d: %s", round, cc_errmsg());
        cc_future_free(t);
    }
    cc_future_free(never);
    return arg;
}

static void test_wait_indexes_cancelled(void **state)
{
    assert_ok(cc_run(wait_indexes_cancel_main, state, NULL));
}

typedef struct {
    cc_future *f;
    double delay;
    int fail;
} completer_arg;

static void *completer(void *p)
{
    completer_arg *a = p;
    tu_sleep(a->delay);
    if (a->fail) {
        cc_error *e = cc_error_new(a->fail, NULL, "late failure");
        cc_future_set_error(a->f, e);
        cc_error_free(e);
    } else {
        cc_future_set_result(a->f, a);
    }
    return p;
}

static void test_wait_wakes_when_condition_met(void **state)
{
    (void)state;
    for (int when = CC_FIRST_COMPLETED; when <= CC_ALL_COMPLETED; when++) {
        cc_future *fs[4];
        completer_arg a[4];
        cc_thread *t[4];
        for (int i = 0; i < 4; i++) {
            fs[i] = cc_future_new();
            a[i] = (completer_arg){fs[i], 0.02 * (i + 1), i == 1 ? EIO : 0};
            t[i] = cc_thread_start(completer, &a[i], NULL);
        }
        int n = cc_wait(fs, 4, when, 30);
        if (when == CC_FIRST_COMPLETED)
            assert_true(n >= 1 && n < 4 * (int)TU_SLOW);
        else if (when == CC_FIRST_EXCEPTION)
            assert_true(n >= 2 && cc_future_done(fs[1]));
        else
            assert_int_equal(n, 4);
        for (int i = 0; i < 4; i++) {
            assert_ok(cc_thread_join(t[i], NULL, 30));
            cc_thread_free(t[i]);
        }
        (void)cc_future_error(fs[1]);
        free_all(fs, 4);
    }
}

static void test_wait_with_duplicates(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cc_future *fs[2] = {f, f};
    completer_arg a = {f, 0.02, 0};
    cc_thread *t = cc_thread_start(completer, &a, NULL);
    assert_int_equal(cc_wait(fs, 2, CC_ALL_COMPLETED, 30), 2);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_future_free(f);
}

/* next_at names the input: fs[index] is the future given, at its first
 * place when it appears twice; every distinct input exactly once, whatever
 * order threads finish them in. */
enum { AT_N = 200 };

static void *finish_shuffled(void *arg)
{
    cc_future **fs = arg;

    for (int i = 0; i < AT_N; i++) {
        int k = (int)tu_rand_below(AT_N);

        (void)cc_future_set_result(fs[k], (void *)(intptr_t)k);
        tu_jitter(20);
    }
    for (int k = 0; k < AT_N; k++) /* the rest, in order */
        (void)cc_future_set_result(fs[k], (void *)(intptr_t)k);
    return NULL;
}

static void test_as_completed_names_the_input(void **state)
{
    cc_future *distinct[AT_N];
    cc_future *in[AT_N + AT_N / 2];
    size_t first[AT_N];
    int seen[AT_N] = {0};
    size_t n_in = 0;

    (void)state;
    for (int k = 0; k < AT_N; k++) {
        distinct[k] = cc_future_new();
        first[k] = n_in;
        in[n_in++] = distinct[k];
        if (k % 2 == 0) /* every other one twice, later in the array */
            in[AT_N + k / 2] = distinct[k];
    }
    n_in = AT_N + AT_N / 2;
    cc_as_completed *it = cc_as_completed_new(in, n_in, CC_FOREVER);
    assert_non_null(it);
    cc_thread *t[2] = {cc_thread_start(finish_shuffled, distinct, "fin-1"),
                       cc_thread_start(finish_shuffled, distinct, "fin-2")};
    cc_future *got;
    size_t index = SIZE_MAX;
    int given = 0;
    int rc;

    while ((rc = cc_as_completed_next_at(it, &got, &index)) == 1) {
        assert_true(index < n_in);
        assert_ptr_equal(in[index], got);
        void *r = NULL;
        assert_ok(cc_future_result(got, &r, 0));
        int k = (int)(intptr_t)r;
        assert_int_equal(index, first[k]); /* the first place */
        seen[k]++;
        given++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(given, AT_N);
    for (int k = 0; k < AT_N; k++)
        assert_int_equal(seen[k], 1);
    /* NULL index is allowed; a bad iterator is EINVAL */
    assert_int_equal(cc_as_completed_next_at(it, &got, NULL), 0);
    assert_fails_with(cc_as_completed_next_at(NULL, &got, &index), EINVAL);
    cc_as_completed_free(it);
    for (int i = 0; i < 2; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    free_all(distinct, AT_N);
}

static void test_as_completed_order_and_timeout(void **state)
{
    (void)state;
    cc_future *fs[4];
    completer_arg a[4];
    cc_thread *t[4];
    double delays[4] = {0.12, 0.04, 0.08, 5.0}; /* the last comes too late */
    for (int i = 0; i < 4; i++) {
        fs[i] = cc_future_new();
        a[i] = (completer_arg){fs[i], delays[i] * TU_SLOW, 0};
    }
    cc_future_set_result(fs[3], NULL); /* already done: comes first */
    for (int i = 0; i < 3; i++)
        t[i] = cc_thread_start(completer, &a[i], NULL);
    cc_as_completed *it = cc_as_completed_new(fs, 4, 2.0 * TU_SLOW);
    cc_future *got;
    int order[4];
    for (int k = 0; k < 4; k++) {
        assert_int_equal(cc_as_completed_next(it, &got), 1);
        for (int i = 0; i < 4; i++)
            if (got == fs[i])
                order[k] = i;
    }
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
    assert_int_equal(cc_as_completed_next(it, &got), 0); /* exhausted */
    cc_as_completed_free(it);
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    free_all(fs, 4);

    /* one never completes: the overall deadline ends the iteration */
    cc_future *slow[2] = {done_with(NULL), cc_future_new()};
    it = cc_as_completed_new(slow, 2, 0.05);
    assert_int_equal(cc_as_completed_next(it, &got), 1);
    double t0 = cc_now();
    assert_fails_with(cc_as_completed_next(it, &got), ETIMEDOUT);
    assert_true(cc_now() - t0 < tu_hang_bound(0.05)); /* else: for ever */
    cc_as_completed_free(it); /* unregisters from the pending future */
    cc_future_set_result(slow[1], NULL);
    free_all(slow, 2);
    assert_fails_with(cc_as_completed_next(NULL, &got), EINVAL);
}

/* ---- map ---- */

static void *square(void *arg)
{
    intptr_t x = (intptr_t)arg;
    return (void *)(x * x);
}

static void *fail_on_13(void *arg)
{
    intptr_t x = (intptr_t)arg;
    if (x == 13)
        return cc_fail(EDOM, "13 is unlucky");
    tu_jitter(100);
    return (void *)(x * x);
}

static void test_map_in_order_with_chunks(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(3, NULL);
    enum { N = 1000 };
    void *args[N], *res[N];
    for (intptr_t i = 0; i < N; i++)
        args[i] = (void *)(i + 1);
    size_t chunks[] = {0, 1, 7, 100, 5000, CC_CHUNKSIZE_AUTO};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
        memset(res, 0xff, sizeof(res));
        assert_ok(cc_map(p, square, args, N, chunks[c], res, 30));
        for (intptr_t i = 0; i < N; i++)
            assert_int_equal((intptr_t)res[i], (i + 1) * (i + 1));
    }
    assert_ok(cc_map(p, square, NULL, 0, 1, NULL, 0)); /* nothing to do */
    assert_fails_with(cc_map(p, NULL, args, N, 1, res, 1), EINVAL);
    assert_fails_with(cc_map(NULL, square, args, N, 1, res, 1), EINVAL);
    cc_executor_free(p);
}

static void test_map_reports_first_failure_with_index(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    enum { N = 40 };
    void *args[N], *res[N];
    for (intptr_t i = 0; i < N; i++)
        args[i] = (void *)(i + 1); /* item 12 is 13 */
    for (size_t chunk = 1; chunk <= 5; chunk += 4) {
        char site[64];
        int line = __LINE__ + 1;
        assert_fails_with(cc_map(p, fail_on_13, args, N, chunk, res, 30), EDOM);
        /* Named by index and position, raised where cc_map was called,
         * with the item's own error (raised in a worker) as cause. */
        assert_string_equal(cc_errmsg(), "cc_map: args[12] (item 13 of 40) "
                                         "failed: 13 is unlucky");
        snprintf(site, sizeof(site), "test_wait.c:%d in thread 'MainThread'",
                 line);
        assert_string_equal(cc_error_where(cc_last_error()), site);
        assert_string_equal(cc_error_message(cc_error_cause(cc_last_error())),
                            "13 is unlucky");
        assert_non_null(strstr(cc_error_where(cc_error_cause(cc_last_error())),
                               "in thread 'ThreadPool-"));
        assert_null(cc_error_cause(cc_error_cause(cc_last_error())));
        for (int i = 0; i < 12; i++) /* all items before it were kept */
            assert_int_equal((intptr_t)res[i], (i + 1) * (i + 1));
        assert_null(res[12]);
        for (int i = 13; i < N; i++) /* later ones: computed or NULL */
            assert_true(res[i] == NULL ||
                        (intptr_t)res[i] == (i + 1) * (i + 1));
    }
    cc_executor_free(p);
}

static void *slow_item(void *arg)
{
    tu_sleep(0.05);
    return arg;
}

static void test_map_deadline(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    enum { N = 40 };
    void *args[N], *res[N];
    for (intptr_t i = 0; i < N; i++)
        args[i] = (void *)(i + 1);
    double t0 = cc_now();
    assert_fails_with(cc_map(p, slow_item, args, N, 1, res, 0.12), ETIMEDOUT);
    double took = cc_now() - t0;
    /* 40 items of 50 ms on 2 workers take 1 s: a map that waited for them
     * all would keep every result (kept == N below); the bound only
     * catches a hang */
    assert_true(took >= 0.11 && took < tu_hang_bound(0.12));
    int kept = 0;
    for (int i = 0; i < N; i++)
        if (res[i] != NULL) {
            assert_ptr_equal(res[i], args[i]);
            kept++;
        }
    assert_true(kept >= 1 && kept < N);
    /* A deadline that passes while the results are collected is still
     * the deadline (it used to come out as the EAGAIN of a look with no
     * time left): timeout 0 makes that certain. */
    assert_fails_with(cc_map(p, slow_item, args, 4, 1, res, 0), ETIMEDOUT);
    assert_non_null(strstr(cc_errmsg(), "deadline"));
    cc_executor_free(p); /* the cancelled items never run */
}

static void test_map_on_shut_down_pool(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    cc_executor_shutdown(p, true, false);
    void *args[3] = {0}, *res[3];
    assert_fails_with(cc_map(p, square, args, 3, 1, res, 1), ESHUTDOWN);
    cc_executor_free(p);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_conditions_already_met),
        cmocka_unit_test(test_wait_wakes_when_condition_met),
        cmocka_unit_test(test_wait_with_duplicates),
        cmocka_unit_test(test_future_outcome),
        cmocka_unit_test(test_wait_indexes),
        cmocka_unit_test(test_wait_indexes_cancelled),
        cmocka_unit_test(test_as_completed_order_and_timeout),
        cmocka_unit_test(test_as_completed_names_the_input),
        cmocka_unit_test(test_map_in_order_with_chunks),
        cmocka_unit_test(test_map_reports_first_failure_with_index),
        cmocka_unit_test(test_map_deadline),
        cmocka_unit_test(test_map_on_shut_down_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
