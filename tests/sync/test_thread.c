/* test_thread - starting, naming and joining threads; results and errors
 * handed to the joiner with their cause chain; timeouts; debug reports. */
#include <sys/syscall.h>

#include <math.h>

#include "test_util.h"

static void *return_arg(void *arg)
{
    return arg;
}

static void test_join_returns_result(void **state)
{
    (void)state;
    int x = 7;
    cc_thread *t = cc_thread_start(return_arg, &x, "ret");
    void *res = NULL;
    assert_ok(cc_thread_join(t, &res, 10));
    assert_ptr_equal(res, &x);
    /* joining again gives the same outcome */
    res = NULL;
    assert_ok(cc_thread_join(t, &res, 0));
    assert_ptr_equal(res, &x);
    assert_false(cc_thread_is_alive(t));
    assert_null(cc_thread_error(t));
    cc_thread_free(t);
}

static void *return_null(void *arg)
{
    (void)arg;
    return NULL; /* a NULL result without cc_fail is a success */
}

static void test_null_result_is_not_an_error(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(return_null, NULL, NULL);
    void *res = &res;
    assert_ok(cc_thread_join(t, &res, 10));
    assert_null(res);
    cc_thread_free(t);
}

static void *fail_with_cause(void *arg)
{
    (void)arg;
    cc_queue *q = cc_queue_new(1, CC_FIFO);
    void *item;
    int rc = cc_queue_get(q, &item, 0.01);
    cc_queue_free(q);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EIO, "no input for %s", "sensor 3");
    return arg;
}

static void test_failed_thread_hands_over_its_error(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(fail_with_cause, NULL, "sensor");
    void *res = &res;
    assert_fails_with(cc_thread_join(t, &res, 10), EIO);
    assert_ptr_equal(res, &res); /* untouched */
    assert_string_equal(cc_errmsg(), "no input for sensor 3");
    const cc_error *e = cc_last_error();
    assert_int_equal(cc_error_code(e), EIO);
    assert_non_null(strstr(cc_error_where(e), "test_thread.c:"));
    assert_non_null(strstr(cc_error_where(e), "in thread 'sensor'"));
    assert_int_equal(cc_error_code(cc_error_cause(e)), ETIMEDOUT);
    assert_string_equal(cc_error_message(cc_error_cause(e)),
                        "queue get timed out: nothing arrived");
    /* the handle keeps its own copy */
    const cc_error *te = cc_thread_error(t);
    assert_int_equal(cc_error_code(te), EIO);
    assert_fails_with(cc_thread_join(t, NULL, 0), EIO);
    cc_thread_free(t);
}

static void *slow(void *arg)
{
    tu_sleep(0.3);
    return arg;
}

static void test_join_timeouts(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(slow, &state, "slow");
    assert_fails_with(cc_thread_join(t, NULL, 0), EAGAIN);
    assert_true(cc_thread_is_alive(t));
    double t0 = cc_now();
    assert_fails_with(cc_thread_join(t, NULL, 0.05), ETIMEDOUT);
    double took = cc_now() - t0;
    /* the thread sleeps 0.3 s: a join that waited for it instead of
     * timing out is caught by ETIMEDOUT above and by the thread being
     * alive below; the bound only catches a hang */
    assert_true(took >= 0.049 && took < tu_hang_bound(0.05));
    assert_null(cc_thread_error(t));
    void *res;
    assert_ok(cc_thread_join(t, &res, 10));
    assert_ptr_equal(res, &state);
    cc_thread_free(t);
}

static _Atomic(cc_thread *) self_handle;

static void *join_self(void *arg)
{
    (void)arg;
    cc_thread *me;
    while ((me = atomic_load(&self_handle)) == NULL)
        sched_yield();
    if (cc_thread_join(me, NULL, 1) != -1 || errno != EDEADLK)
        return cc_fail(EPROTO, "self-join did not fail with EDEADLK");
    return me;
}

static void test_self_join_is_refused(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(join_self, NULL, "selfish");
    atomic_store(&self_handle, t);
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
}

static void *report_names(void *arg)
{
    char *out = arg;
    char os[16] = "";
    pthread_getname_np(pthread_self(), os, sizeof(os));
    snprintf(out, 128, "%s|%s", cc_thread_current_name(), os);
    return arg;
}

static void test_names_library_and_os(void **state)
{
    (void)state;
    char buf[128];
    cc_thread *t = cc_thread_start(report_names, buf, "a-very-long-thread-name");
    assert_ok(cc_thread_join(t, NULL, 10));
    assert_string_equal(cc_thread_name(t), "a-very-long-thread-name");
    /* the OS keeps 15 bytes */
    assert_string_equal(buf, "a-very-long-thread-name|a-very-long-thr");
    cc_thread_free(t);

    t = cc_thread_start(report_names, buf, NULL);
    assert_ok(cc_thread_join(t, NULL, 10));
    assert_true(strncmp(cc_thread_name(t), "Thread-", 7) == 0);
    char want[128];
    snprintf(want, sizeof(want), "%s|%s", cc_thread_name(t), cc_thread_name(t));
    assert_string_equal(buf, want);
    cc_thread_free(t);

    assert_string_equal(cc_thread_current_name(), "MainThread");
    assert_ok(cc_thread_set_current_name("renamed-main"));
    assert_string_equal(cc_thread_current_name(), "renamed-main");
    assert_ok(cc_thread_set_current_name("MainThread"));
    assert_fails_with(cc_thread_set_current_name(NULL), EINVAL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null_with(cc_thread_start(NULL, NULL, "x"), EINVAL);
    assert_fails_with(cc_thread_join(NULL, NULL, 0), EINVAL);
    int not_a_thread[32] = {0};
    assert_fails_with(cc_thread_join((cc_thread *)not_a_thread, NULL, 0), EINVAL);
    cc_thread *t = cc_thread_start(return_arg, NULL, "nan");
    assert_fails_with(cc_thread_join(t, NULL, NAN), EINVAL);
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    cc_thread_free(NULL);
    assert_string_equal(cc_thread_name(NULL), "");
}

/* A handle freed while its thread still runs: the thread finishes alone. */
static _Atomic int detached_done;

static void *detached_body(void *arg)
{
    tu_sleep(0.05);
    atomic_store(&detached_done, 1);
    return arg;
}

static void test_free_while_running_detaches(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(detached_body, &state, "detached");
    cc_thread_free(t);
    double t0 = cc_now();
    while (!atomic_load(&detached_done) && cc_now() - t0 < 10)
        tu_sleep(0.005);
    assert_true(atomic_load(&detached_done));
    tu_sleep(0.05); /* let it finish its exit path */
}

static void *just_fail(void *arg)
{
    (void)arg;
    return cc_fail(ENOSPC, "disk full while writing %s", "log.txt");
}

static void test_debug_reports_unretrieved_thread_error(void **state)
{
    (void)state;
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    cc_thread *t = cc_thread_start(just_fail, NULL, "writer");
    while (cc_thread_is_alive(t))
        tu_sleep(0.001);
    cc_thread_free(t); /* failed, never joined */
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_non_null(strstr(out, "thread 'writer' failed and nobody joined it"));
    assert_non_null(strstr(out, "disk full while writing log.txt (ENOSPC)"));
    free(out);

    /* a joined failure is not reported */
    cc_set_debug(true);
    cap = tu_capture_stderr();
    t = cc_thread_start(just_fail, NULL, "writer2");
    assert_fails_with(cc_thread_join(t, NULL, 10), ENOSPC);
    cc_thread_free(t);
    out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_null(strstr(out, "writer2"));
    free(out);
}

/* Many threads joining one thread all get the outcome. */
static void *joiner(void *arg)
{
    cc_thread *target = arg;
    void *res;
    if (cc_thread_join(target, &res, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "join failed");
    return res;
}

static void test_many_joiners(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        cc_thread *target = cc_thread_start(slow, &state, "target");
        cc_thread *j[8];
        for (int i = 0; i < 8; i++)
            j[i] = cc_thread_start(joiner, target, NULL);
        for (int i = 0; i < 8; i++) {
            void *res;
            assert_ok(cc_thread_join(j[i], &res, 30));
            assert_ptr_equal(res, &state);
            cc_thread_free(j[i]);
        }
        cc_thread_free(target);
    }
}

/* Stress: start and join hundreds of short threads with random timing. */
static void *short_body(void *arg)
{
    tu_jitter(200);
    if (((uintptr_t)arg & 7) == 0)
        return cc_fail(EDOM, "odd one %lu", (unsigned long)(uintptr_t)arg);
    return arg;
}

static void test_stress_start_join(void **state)
{
    (void)state;
    enum { N = 400 };
    cc_thread *t[N];
    for (uintptr_t i = 0; i < N; i++) {
        t[i] = cc_thread_start(short_body, (void *)(i + 1), NULL);
        assert_non_null(t[i]);
    }
    int failed = 0;
    for (uintptr_t i = 0; i < N; i++) {
        void *res = NULL;
        double timeout = tu_rand_below(3) == 0 ? 0.0 : 30.0;
        int rc;
        while ((rc = cc_thread_join(t[i], &res, timeout)) != 0 && errno == EAGAIN)
            timeout = 30.0;
        if (((i + 1) & 7) == 0) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, EDOM);
            failed++;
        } else {
            assert_int_equal(rc, 0);
            assert_ptr_equal(res, (void *)(i + 1));
        }
        cc_thread_free(t[i]);
    }
    assert_int_equal(failed, N / 8);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_returns_result),
        cmocka_unit_test(test_null_result_is_not_an_error),
        cmocka_unit_test(test_failed_thread_hands_over_its_error),
        cmocka_unit_test(test_join_timeouts),
        cmocka_unit_test(test_self_join_is_refused),
        cmocka_unit_test(test_names_library_and_os),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_free_while_running_detaches),
        cmocka_unit_test(test_debug_reports_unretrieved_thread_error),
        cmocka_unit_test(test_many_joiners),
        cmocka_unit_test(test_stress_start_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
