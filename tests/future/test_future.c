/* test_future - cc_future on its own: hand-made futures, results and errors
 * with cause chains, cancellation, timeouts, done-callbacks (order, already
 * done, added while completing, failing), references and debug reports. */
#include <math.h>

#include "test_util.h"

static void test_set_result_then_get(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    int x = 5;
    void *r = NULL;
    assert_false(cc_future_done(f));
    assert_false(cc_future_running(f));
    assert_fails_with(cc_future_result(f, &r, 0), EAGAIN);
    assert_fails_with(cc_future_result(f, &r, 0.02), ETIMEDOUT);
    assert_ok(cc_future_set_result(f, &x));
    assert_true(cc_future_done(f));
    assert_ok(cc_future_result(f, &r, 0));
    assert_ptr_equal(r, &x);
    assert_ok(cc_future_result(f, &r, CC_FOREVER)); /* again: same answer */
    assert_ptr_equal(r, &x);
    assert_null(cc_future_error(f));
    assert_fails_with(cc_future_set_result(f, NULL), EALREADY);
    assert_false(cc_future_cancel(f)); /* finished stays finished */
    cc_future_free(f);
}

static void test_set_error_keeps_the_chain(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cc_error *root = cc_error_new(ECONNRESET, NULL, "peer reset");
    cc_error *top = cc_error_new(EIO, root, "fetch of %s failed", "page 3");
    assert_ok(cc_future_set_error(f, top));
    cc_error_free(root);
    cc_error_free(top);
    void *r = &r;
    assert_fails_with(cc_future_result(f, &r, 1), EIO);
    assert_ptr_equal(r, &r);
    assert_string_equal(cc_errmsg(), "fetch of page 3 failed");
    assert_string_equal(cc_error_message(cc_error_cause(cc_last_error())),
                        "peer reset");
    const cc_error *e = cc_future_error(f);
    assert_int_equal(cc_error_code(e), EIO);
    assert_int_equal(cc_error_code(cc_error_cause(e)), ECONNRESET);
    assert_fails_with(cc_future_set_error(f, NULL), EINVAL);
    cc_future_free(f);
}

static void test_cancel_pending(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    assert_true(cc_future_cancel(f));
    assert_true(cc_future_cancel(f)); /* again: still cancelled */
    assert_true(cc_future_cancelled(f));
    assert_true(cc_future_done(f));
    assert_fails_with(cc_future_result(f, NULL, 1), ECANCELED);
    assert_string_equal(cc_errmsg(), "future was cancelled");
    assert_null(cc_future_error(f));
    assert_fails_with(cc_future_set_result(f, NULL), EALREADY);
    cc_future_free(f);
}

static void test_bad_handles(void **state)
{
    (void)state;
    assert_fails_with(cc_future_result(NULL, NULL, 0), EINVAL);
    assert_false(cc_future_cancel(NULL));
    assert_false(cc_future_done(NULL));
    assert_null(cc_future_error(NULL));
    assert_fails_with(cc_future_add_done_callback(NULL, NULL, NULL), EINVAL);
    assert_null_with(cc_future_ref(NULL), EINVAL);
    cc_future *f = cc_future_new();
    assert_fails_with(cc_future_result(f, NULL, NAN), EINVAL);
    assert_fails_with(cc_future_add_done_callback(f, NULL, NULL), EINVAL);
    cc_future_free(f);
    cc_future_free(NULL);
}

static void *identity(void *arg)
{
    return arg;
}

static void test_task_future_refuses_set_result(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(1, NULL);
    cc_future *t = cc_submit(p, identity, &state);
    assert_fails_with(cc_future_set_result(t, NULL), EINVAL);
    assert_ok(cc_future_result(t, NULL, 10));
    cc_future_free(t);
    cc_executor_free(p);
}

/* ---- callbacks ---- */

typedef struct {
    int order[8];
    _Atomic int n;
} cb_log;

static int record(cc_future *f, void *arg)
{
    cb_log *log = arg;
    (void)f;
    int i = atomic_fetch_add(&log->n, 1);
    log->order[i] = i;
    return 0;
}

static int record_id(cc_future *f, void *arg)
{
    (void)f;
    static _Atomic int seq;
    *(int *)arg = atomic_fetch_add(&seq, 1);
    return 0;
}

static void test_callbacks_run_in_order_once(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    int ids[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)
        assert_ok(cc_future_add_done_callback(f, record_id, &ids[i]));
    assert_int_equal(ids[0], -1); /* nothing ran yet */
    assert_ok(cc_future_set_result(f, NULL));
    assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
    /* added after completion: runs at once, in the caller */
    cb_log log = {{0}, 0};
    assert_ok(cc_future_add_done_callback(f, record, &log));
    assert_int_equal(atomic_load(&log.n), 1);
    cc_future_free(f);
}

static void test_callbacks_run_on_cancel(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cb_log log = {{0}, 0};
    assert_ok(cc_future_add_done_callback(f, record, &log));
    assert_true(cc_future_cancel(f));
    assert_int_equal(atomic_load(&log.n), 1);
    cc_future_free(f);
}

static int failing_callback(cc_future *f, void *arg)
{
    (void)f;
    (void)arg;
    cc_fail(EPROTO, "callback exploded on purpose");
    return -1;
}

static void test_failing_callback_is_reported(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cb_log log = {{0}, 0};
    assert_ok(cc_future_add_done_callback(f, failing_callback, NULL));
    assert_ok(cc_future_add_done_callback(f, record, &log));
    tu_capture cap = tu_capture_stderr();
    assert_ok(cc_future_set_result(f, NULL));
    char *out = tu_capture_end(cap);
    assert_non_null(strstr(out, "a done-callback of a future failed"));
    assert_non_null(strstr(out, "callback exploded on purpose (EPROTO)"));
    assert_int_equal(atomic_load(&log.n), 1); /* later callbacks still ran */
    free(out);
    cc_future_free(f);
}

/* Callbacks added while another thread completes the future: each runs
 * exactly once, either in the completing thread or in the adder. */
enum { CB_ROUNDS = 2000, CB_ADDERS = 3 };

typedef struct {
    cc_future *f;
    _Atomic int runs;
    cc_barrier *start;
} race_ctx;

static int count_run(cc_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&((race_ctx *)arg)->runs, 1);
    return 0;
}

static void *adder(void *arg)
{
    race_ctx *rc = arg;
    cc_barrier_wait(rc->start, 30);
    tu_jitter(20);
    for (int i = 0; i < 4; i++)
        if (cc_future_add_done_callback(rc->f, count_run, rc) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "add");
    return arg;
}

static void test_stress_callbacks_added_while_completing(void **state)
{
    (void)state;
    for (int round = 0; round < CB_ROUNDS; round++) {
        race_ctx rc = {cc_future_new(), 0, cc_barrier_new(CB_ADDERS + 1, NULL, NULL)};
        cc_thread *t[CB_ADDERS];
        for (int i = 0; i < CB_ADDERS; i++)
            t[i] = cc_thread_start(adder, &rc, NULL);
        cc_barrier_wait(rc.start, 30);
        tu_jitter(20);
        assert_ok(cc_future_set_result(rc.f, NULL));
        for (int i = 0; i < CB_ADDERS; i++) {
            assert_ok(cc_thread_join(t[i], NULL, 30));
            cc_thread_free(t[i]);
        }
        assert_int_equal(atomic_load(&rc.runs), CB_ADDERS * 4);
        cc_barrier_free(rc.start);
        cc_future_free(rc.f);
        if (round == 200 && TU_SLOW > 1)
            break; /* sanitizer builds: fewer rounds */
    }
}

/* ---- waiting from many threads ---- */

static void *wait_result(void *arg)
{
    void *r;
    if (cc_future_result(arg, &r, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "result");
    return r;
}

static void test_many_waiters_all_wake(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cc_thread *t[12];
    for (int i = 0; i < 12; i++)
        t[i] = cc_thread_start(wait_result, f, NULL);
    tu_sleep(0.05);
    int x;
    assert_ok(cc_future_set_result(f, &x));
    for (int i = 0; i < 12; i++) {
        void *r;
        assert_ok(cc_thread_join(t[i], &r, 30));
        assert_ptr_equal(r, &x);
        cc_thread_free(t[i]);
    }
    cc_future_free(f);
}

static void test_refs_let_a_future_outlive_its_pool(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    cc_future *f = cc_submit(p, identity, &state);
    cc_future *g = cc_future_ref(f);
    cc_executor_free(p); /* waits for the task; the futures stay */
    void *r;
    assert_ok(cc_future_result(f, &r, 0));
    assert_ptr_equal(r, &state);
    cc_future_free(f);
    assert_ok(cc_future_result(g, &r, 0)); /* still ours */
    cc_future_free(g);
}

static void test_debug_reports_unretrieved_error(void **state)
{
    (void)state;
    cc_future *f = cc_future_new();
    cc_error *e = cc_error_new(ENOSPC, NULL, "nobody will read this");
    assert_ok(cc_future_set_error(f, e));
    cc_error_free(e);
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    cc_future_free(f);
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_non_null(strstr(out, "a future's error was never retrieved"));
    assert_non_null(strstr(out, "nobody will read this"));
    free(out);

    /* a retrieved one is not reported */
    f = cc_future_new();
    e = cc_error_new(ENOSPC, NULL, "read this one");
    assert_ok(cc_future_set_error(f, e));
    cc_error_free(e);
    assert_fails_with(cc_future_result(f, NULL, 0), ENOSPC);
    cc_set_debug(true);
    cap = tu_capture_stderr();
    cc_future_free(f);
    out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_null(strstr(out, "read this one"));
    free(out);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_result_then_get),
        cmocka_unit_test(test_set_error_keeps_the_chain),
        cmocka_unit_test(test_cancel_pending),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_task_future_refuses_set_result),
        cmocka_unit_test(test_callbacks_run_in_order_once),
        cmocka_unit_test(test_callbacks_run_on_cancel),
        cmocka_unit_test(test_failing_callback_is_reported),
        cmocka_unit_test(test_stress_callbacks_added_while_completing),
        cmocka_unit_test(test_many_waiters_all_wake),
        cmocka_unit_test(test_refs_let_a_future_outlive_its_pool),
        cmocka_unit_test(test_debug_reports_unretrieved_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
