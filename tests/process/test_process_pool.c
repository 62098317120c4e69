/* test_process_pool - the process pool: results and errors across the
 * process boundary (cause chains, NULL vs empty blobs, non-blob results),
 * names, workers that start clean, the initializer, max_tasks_per_child,
 * cc_map (chunk sizes, first failure by index, deadline), cc_wait and
 * as_completed, shutdown (wait, cancel_futures), done-callbacks, a parent
 * whose threads hold locks, 10,000 coroutines awaiting pool futures, and
 * stress: many submitters, cancel racing dispatch, shutdown racing submit.
 * Every test checks that no fd and no child is left behind. */
#include <sys/resource.h>

#include "concur/aio.h"
#include "process/pool_util.h"

/* ------------------------------------------------------------- tasks */

static void *identity(void *arg)
{
    return arg;
}

static void *twice(void *arg)
{
    return pu_int(pu_get(arg) * 2);
}

static void *my_pid(void *arg)
{
    (void)arg;
    return pu_int(getpid());
}

static void *return_null(void *arg)
{
    (void)arg;
    return NULL;
}

static void *return_empty(void *arg)
{
    (void)arg;
    return cc_blob_new(0);
}

static void *return_static(void *arg)
{
    (void)arg;
    return (void *)"not a blob";
}

static void *return_small_int(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)42; /* the thread pool habit */
}

static void *names(void *arg)
{
    char text[128];

    (void)arg;
    snprintf(text, sizeof(text), "%s|%s", cc_process_current_name(),
             cc_thread_current_name());
    return cc_blob_strdup(text);
}

static int set_in_main; /* set by the test before it makes the pool */

static void *read_main_state(void *arg)
{
    (void)arg;
    return pu_int(set_in_main);
}

/* Fails with a chain of three errors, the innermost from a helper. */
static void *open_config(const char *path)
{
    return cc_fail(ENOENT, "%s: no such file", path);
}

static void *load_settings(void *arg)
{
    if (open_config(arg) == NULL) {
        cc_error *cause = cc_error_copy(cc_error_pending());

        cc_error_clear();
        cc_fail_from(cause, EIO, "settings unreadable");
        cc_error_free(cause);
    }
    return NULL;
}

static void *start_service(void *arg)
{
    if (load_settings(arg) == NULL && cc_error_pending() != NULL) {
        cc_error *cause = cc_error_copy(cc_error_pending());

        cc_error_clear();
        cc_fail_from(cause, ECANCELED, "service did not start");
        cc_error_free(cause);
    }
    return NULL;
}

static void *fail_on_17(void *arg)
{
    int64_t v = pu_get(arg);

    if (v == 17 || v == 60)
        return cc_fail(EDOM, "item %lld is unlucky", (long long)v);
    return pu_int(v + 1000);
}

static void *sleep_ms(void *arg)
{
    tu_sleep((double)pu_get(arg) / 1000);
    return pu_int(pu_get(arg));
}

static void *gated(void *arg)
{
    if (pu_gate_pass(arg) != 0)
        return cc_fail(EIO, "gate %s unusable", (char *)arg);
    return pu_int(getpid());
}

/* --------------------------------------------------------- checking */

/* The checks every test ends with (pair with an fds snapshot). */
#define LEAK_CHECK_BEGIN() char *fds_before_ = pu_fds()
#define LEAK_CHECK_END()                                                   \
    do {                                                                   \
        pu_assert_fds(fds_before_);                                        \
        pu_assert_no_children();                                           \
    } while (0)

static int64_t result_int(cc_future *f)
{
    void *r;

    if (cc_future_result(f, &r, 60) != 0)
        fail_msg("result: %s", cc_errmsg());
    return pu_get(r);
}

/* ------------------------------------------------------------- basics */

static void test_submit_and_collect(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(2, NULL);
    assert_non_null(p);
    assert_string_equal(cc_executor_kind(p), "process pool");
    assert_int_equal(cc_executor_max_workers(p), 2);
    cc_future *f[200];
    for (int i = 0; i < 200; i++) {
        void *arg = pu_int(i);
        f[i] = cc_submit(p, twice, arg);
        cc_blob_free(arg); /* copied at submit */
        assert_non_null(f[i]);
    }
    for (int i = 0; i < 200; i++) {
        void *r1;
        void *r2;
        assert_ok(cc_future_result(f[i], &r1, 60));
        assert_ok(cc_future_result(f[i], &r2, 0));
        assert_ptr_equal(r1, r2); /* the future owns its result blob */
        assert_int_equal(pu_get(r1), 2 * i);
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_default_size_and_bad_options(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(0, NULL);
    assert_int_equal(cc_executor_max_workers(p), cc_cpu_count());
    cc_executor_free(p);
    assert_null_with(cc_process_pool_new(-1, NULL), EINVAL);
    cc_pool_opts o = {.max_tasks_per_child = -2};
    assert_null_with(cc_process_pool_new(1, &o), EINVAL);
    int not_a_blob = 5;
    cc_pool_opts o2 = {.initializer = identity, .initarg = &not_a_blob};
    assert_null_with(cc_process_pool_new(1, &o2), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "initarg must be a blob"));
    LEAK_CHECK_END();
}

static void test_null_result_and_empty_blob_differ(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *fn = cc_submit(p, return_null, NULL);
    cc_future *fe = cc_submit(p, return_empty, NULL);
    cc_future *fa = cc_submit(p, identity, NULL); /* a NULL argument */
    void *r = (void *)1;
    assert_ok(cc_future_result(fn, &r, 60));
    assert_null(r);
    assert_null(cc_future_error(fn));
    assert_ok(cc_future_result(fe, &r, 60));
    assert_non_null(r);
    assert_true(cc_blob_is(r));
    assert_int_equal(cc_blob_len(r), 0);
    assert_ok(cc_future_result(fa, &r, 60));
    assert_null(r);
    cc_future_free(fn);
    cc_future_free(fe);
    cc_future_free(fa);
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_results_that_are_not_blobs_fail(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_fn bad[] = {return_static, return_small_int};
    for (int i = 0; i < 2; i++) {
        cc_future *f = cc_submit(p, bad[i], NULL);
        assert_fails_with(cc_future_result(f, NULL, 60), EINVAL);
        assert_string_equal(cc_errmsg(),
                            "task returned a pointer that is not a blob");
        cc_future_free(f);
    }
    /* the worker is fine afterwards */
    cc_future *f = cc_submit(p, my_pid, NULL);
    assert_true(result_int(f) > 0);
    cc_future_free(f);
    cc_executor_free(p);
}

static void test_arguments_must_be_blobs(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(1, NULL);
    int local = 3;
    static char text[] = "static text";
    void *not_blobs[] = {&local, text, (void *)(intptr_t)7,
                         (void *)(intptr_t)0x100000, (void *)(intptr_t)-16};
    for (size_t i = 0; i < sizeof(not_blobs) / sizeof(*not_blobs); i++) {
        assert_null_with(cc_submit(p, identity, not_blobs[i]), EINVAL);
        assert_string_equal(cc_errmsg(),
                            "cc_submit: process pool arguments must be blobs");
    }
    void *args[3] = {pu_int(1), &local, pu_int(3)};
    void *res[3];
    assert_fails_with(cc_map(p, identity, args, 3, 1, res, 60), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "item 1 is not"));
    cc_blob_free(args[0]);
    cc_blob_free(args[2]);
    cc_executor_free(p);
}

static void test_error_chain_crosses_the_boundary(void **state)
{
    (void)state;
    cc_pool_opts o = {.thread_name_prefix = "errs"};
    cc_executor *p = cc_process_pool_new(1, &o);
    void *arg = cc_blob_strdup("/etc/service.conf");
    cc_future *f = cc_submit(p, start_service, arg);
    cc_blob_free(arg);
    assert_fails_with(cc_future_result(f, NULL, 60), ECANCELED);
    const cc_error *e = cc_future_error(f);
    assert_non_null(e);
    assert_string_equal(cc_error_message(e), "service did not start");
    assert_non_null(strstr(cc_error_where(e),
                           "test_process_pool.c:"));
    /* Raised in worker errs_0: the place names that process. */
    assert_non_null(strstr(cc_error_where(e), "in process 'errs_0' (pid "));
    assert_null(strstr(cc_error_where(e), "thread"));
    e = cc_error_cause(e);
    assert_int_equal(cc_error_code(e), EIO);
    assert_string_equal(cc_error_message(e), "settings unreadable");
    e = cc_error_cause(e);
    assert_int_equal(cc_error_code(e), ENOENT);
    assert_string_equal(cc_error_message(e), "/etc/service.conf: no such file");
    assert_null(cc_error_cause(e));
    /* cc_last_error after the failed result has the whole chain too */
    assert_fails_with(cc_future_result(f, NULL, 0), ECANCELED);
    assert_int_equal(cc_error_code(cc_error_cause(cc_error_cause(
                         cc_last_error()))), ENOENT);
    cc_future_free(f);
    cc_executor_free(p);
}

static void test_workers_are_named_and_start_clean(void **state)
{
    (void)state;
    set_in_main = 1234; /* main()'s state does not reach the workers */
    cc_executor *p = cc_process_pool_new(2, NULL);
    cc_future *f = cc_submit(p, names, NULL);
    void *r;
    unsigned k;
    unsigned n;
    char both[128];
    assert_ok(cc_future_result(f, &r, 60));
    /* "ProcessPool-<k>_<n>|ProcessPool-<k>_<n>" */
    assert_int_equal(sscanf(r, "ProcessPool-%u_%u|", &k, &n), 2);
    snprintf(both, sizeof(both), "ProcessPool-%u_%u|ProcessPool-%u_%u", k, n,
             k, n);
    assert_string_equal(r, both);
    cc_future_free(f);
    f = cc_submit(p, read_main_state, NULL);
    assert_int_equal(result_int(f), 0);
    cc_future_free(f);
    assert_string_equal(cc_process_current_name(), "MainProcess");
    cc_executor_free(p);

    cc_pool_opts o = {.thread_name_prefix = "crunch"};
    p = cc_process_pool_new(1, &o);
    f = cc_submit(p, names, NULL);
    assert_ok(cc_future_result(f, &r, 60));
    assert_string_equal(r, "crunch_0|crunch_0");
    cc_future_free(f);
    cc_executor_free(p);
    set_in_main = 0;
}

/* Count the worker's fds above stderr, and those of them that a program
 * the task started would inherit (no close-on-exec): {open, inheritable}. */
static void *count_fds(void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int64_t counts[2] = {0, 0};

    (void)arg;
    while (d != NULL && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);

        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
            continue;
        counts[0]++;
        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            counts[1]++;
    }
    if (d != NULL)
        closedir(d);
    return cc_blob_dup(counts, sizeof(counts));
}

static void test_workers_inherit_no_fds(void **state)
{
    (void)state;
    /* an fd of the parent's without close-on-exec: still not in workers */
    int leaky = dup(1);
    assert_true(leaky > 2);
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *f = cc_submit(p, count_fds, NULL);
    void *r;
    int64_t counts[2];
    assert_ok(cc_future_result(f, &r, 60));
    memcpy(counts, r, sizeof(counts));
    printf("# a worker has %lld fds above stderr, %lld inheritable\n",
           (long long)counts[0], (long long)counts[1]);
    assert_int_equal(counts[1], 0);
    assert_true(counts[0] >= 1); /* its socket to the parent */
    cc_future_free(f);
    cc_executor_free(p);
    close(leaky);
}

/* ------------------------------------------------------- initializer */

static int64_t worker_config; /* set in each worker by its initializer */

static void *configure(void *arg)
{
    worker_config = pu_get(arg);
    return arg;
}

static void *read_config(void *arg)
{
    (void)arg;
    if (worker_config == 0)
        return cc_fail(EPROTO, "a task ran before the initializer");
    return pu_int(worker_config);
}

static void test_initializer_runs_first_in_each_worker(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    void *initarg = pu_int(777);
    cc_pool_opts o = {.initializer = configure, .initarg = initarg};
    cc_executor *p = cc_process_pool_new(3, &o);
    cc_blob_free(initarg); /* copied */
    cc_future *f[60];
    for (int i = 0; i < 60; i++)
        f[i] = cc_submit(p, read_config, NULL);
    for (int i = 0; i < 60; i++) {
        assert_int_equal(result_int(f[i]), 777);
        cc_future_free(f[i]);
    }
    assert_int_equal(worker_config, 0); /* the parent's copy is untouched */
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void *bad_init(void *arg)
{
    (void)arg;
    return cc_fail(ENOENT, "config file %s is missing", "pool.conf");
}

static void test_failing_initializer_breaks_the_pool(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_pool_opts o = {.initializer = bad_init};
    cc_executor *p = cc_process_pool_new(2, &o);
    assert_non_null(p);
    cc_future *f[20];
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        f[i] = cc_submit(p, identity, NULL);
        if (f[i] == NULL) {
            assert_int_equal(errno, CC_EBROKEN);
            refused++;
        }
    }
    for (int i = 0; i < 20; i++) {
        if (f[i] == NULL)
            continue;
        assert_fails_with(cc_future_result(f[i], NULL, 60), CC_EBROKEN);
        assert_string_equal(cc_errmsg(), "process pool is broken: a "
                                         "worker's initializer failed");
        const cc_error *cause = cc_error_cause(cc_last_error());
        assert_int_equal(cc_error_code(cause), ENOENT);
        assert_string_equal(cc_error_message(cause),
                            "config file pool.conf is missing");
        cc_future_free(f[i]);
    }
    assert_null_with(cc_submit(p, identity, NULL), CC_EBROKEN);
    assert_int_equal(cc_error_code(cc_error_cause(cc_last_error())), ENOENT);
    cc_executor_free(p);
    printf("# %d of 20 submits were refused outright\n", refused);
    LEAK_CHECK_END();
}

/* ------------------------------------------------ max_tasks_per_child */

static void test_max_tasks_per_child_replaces_workers(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    enum { N = 90, PER = 4 };
    void *initarg = pu_int(5);
    cc_pool_opts o = {.max_tasks_per_child = PER, .initializer = configure,
                      .initarg = initarg};
    cc_executor *p = cc_process_pool_new(2, &o);
    cc_blob_free(initarg);
    cc_future *f[N];
    int64_t pids[N];
    for (int i = 0; i < N; i++) {
        void *arg = pu_int(tu_rand_below(3));
        f[i] = cc_submit(p, tu_rand_below(2) ? my_pid : sleep_ms, arg);
        cc_blob_free(arg);
        assert_non_null(f[i]);
        if (i % 10 == 0)
            tu_jitter(2000);
    }
    for (int i = 0; i < N; i++) {
        pids[i] = result_int(f[i]); /* every task completes */
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
    /* the my_pid results: no worker ran more than PER tasks in all */
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        if (pids[i] < 100) /* a sleep_ms result */
            continue;
        int seen = 0;
        for (int j = 0; j < N; j++)
            seen += pids[j] == pids[i];
        assert_true(seen <= PER);
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= pids[j] != pids[i];
        distinct += first;
    }
    printf("# %d distinct worker pids answered\n", distinct);
    assert_true(distinct >= 5);
    LEAK_CHECK_END();
}

/* ---------------------------------------------------------------- map */

static void check_map(cc_executor *p, size_t chunksize, size_t n)
{
    void **args = calloc(n, sizeof(void *));
    void **res = calloc(n, sizeof(void *));
    for (size_t i = 0; i < n; i++)
        args[i] = pu_int((int64_t)i);
    assert_ok(cc_map(p, twice, args, n, chunksize, res, 60));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pu_get(res[i]), 2 * (int64_t)i);
        cc_blob_free(res[i]); /* the caller owns map's results */
        cc_blob_free(args[i]);
    }
    free(args);
    free(res);
}

static void test_map_in_order(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(3, NULL);
    check_map(p, 1, 500);
    check_map(p, 7, 500);
    check_map(p, 7, 6);
    check_map(p, CC_CHUNKSIZE_AUTO, 1000);
    check_map(p, CC_CHUNKSIZE_AUTO, 5);
    check_map(p, 0, 50); /* 0 means 1 */
    assert_ok(cc_map(p, twice, NULL, 0, 1, NULL, 1)); /* nothing to do */
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_map_reports_first_failure_by_index(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(2, NULL);
    size_t sizes[] = {1, 7, CC_CHUNKSIZE_AUTO};
    for (int s = 0; s < 3; s++) {
        enum { N = 100 };
        void *args[N];
        void *res[N];
        for (int i = 0; i < N; i++)
            args[i] = pu_int(i);
        char site[80];
        int line = __LINE__ + 1;
        assert_fails_with(cc_map(p, fail_on_17, args, N, sizes[s], res, 60),
                          EDOM);
        assert_string_equal(cc_errmsg(), "cc_map: args[17] (item 18 of 100) "
                                         "failed: item 17 is unlucky");
        snprintf(site, sizeof(site),
                 "test_process_pool.c:%d in thread 'MainThread'", line);
        assert_string_equal(cc_error_where(cc_last_error()), site);
        const cc_error *cause = cc_error_cause(cc_last_error());
        assert_string_equal(cc_error_message(cause), "item 17 is unlucky");
        assert_null(cc_error_cause(cause));
        /* Raised in a worker process, which the place names. */
        assert_non_null(strstr(cc_error_where(cause), "in process '"));
        assert_non_null(strstr(cc_error_where(cause), "' (pid "));
        for (int i = 0; i < 17; i++) /* computed before the failure */
            assert_int_equal(pu_get(res[i]), i + 1000);
        assert_null(res[17]);
        for (int i = 0; i < N; i++) {
            cc_blob_free(res[i]);
            cc_blob_free(args[i]);
        }
    }
    cc_executor_free(p);
}

static void test_map_times_out(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *args[6];
    void *res[6];
    /* The worker runs before the clock starts (its start-up, under TSan on
     * a loaded machine, took more than a 0.3 s deadline once), and the
     * 10 ms item gets 2 s against items of 3 s that cannot finish in it. */
    cc_future *warm = cc_submit(p, identity, NULL);
    assert_ok(cc_future_result(warm, NULL, 60));
    cc_future_free(warm);
    for (int i = 0; i < 6; i++)
        args[i] = pu_int(i == 0 ? 10 : 3000);
    double t0 = cc_now();
    assert_fails_with(cc_map(p, sleep_ms, args, 6, 1, res, 2.0), ETIMEDOUT);
    assert_true(cc_now() - t0 < tu_hang_bound(3.0));
    assert_int_equal(pu_get(res[0]), 10); /* finished in time: kept */
    for (int i = 1; i < 6; i++)
        assert_null(res[i]);
    cc_blob_free(res[0]);
    for (int i = 0; i < 6; i++)
        cc_blob_free(args[i]);
    cc_executor_free(p); /* waits for the running one; the rest cancelled */
    LEAK_CHECK_END();
}

/* --------------------------------------------- waiting for many futures */

static void test_wait_and_as_completed(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(2, NULL);
    int64_t ms[6] = {300, 5, 200, 1, 100, 50};
    cc_future *f[6];
    for (int i = 0; i < 6; i++) {
        void *arg = pu_int(ms[i]);
        f[i] = cc_submit(p, sleep_ms, arg);
        cc_blob_free(arg);
    }
    int done = cc_wait(f, 6, CC_FIRST_COMPLETED, 60);
    assert_true(done >= 1);
    assert_int_equal(cc_wait(f, 6, CC_ALL_COMPLETED, 60), 6);
    cc_as_completed *it = cc_as_completed_new(f, 6, 60);
    cc_future *g;
    int seen = 0;
    int64_t sum = 0;
    while (cc_as_completed_next(it, &g) == 1) {
        sum += result_int(g);
        seen++;
    }
    cc_as_completed_free(it);
    assert_int_equal(seen, 6);
    assert_int_equal(sum, 300 + 5 + 200 + 1 + 100 + 50);
    for (int i = 0; i < 6; i++)
        cc_future_free(f[i]);

    cc_executor_free(p);

    /* as_completed while one runs long: the quick ones come first, on the
     * other worker (a worker busy for a while gets no more work) */
    p = cc_process_pool_new(2, NULL);
    pu_gate *gate = pu_gate_new();
    void *garg = pu_gate_arg(gate);
    f[0] = cc_submit(p, gated, garg);
    cc_blob_free(garg);
    (void)pu_gate_wait_started(gate);
    tu_sleep(0.005); /* it has been running a while (a lower bound) */
    for (int i = 1; i < 6; i++)
        f[i] = cc_submit(p, identity, NULL);
    it = cc_as_completed_new(f, 6, 60);
    for (int k = 1; k < 6; k++) {
        assert_int_equal(cc_as_completed_next(it, &g), 1);
        assert_ptr_not_equal(g, f[0]);
    }
    pu_gate_release(gate);
    assert_int_equal(cc_as_completed_next(it, &g), 1);
    assert_ptr_equal(g, f[0]);
    assert_int_equal(cc_as_completed_next(it, &g), 0);
    cc_as_completed_free(it);
    for (int i = 0; i < 6; i++)
        cc_future_free(f[i]);
    cc_executor_free(p);
    pu_gate_free(gate);
}

/* ---------------------------------------------------------- shutdown */

static void test_shutdown_cancel_futures(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    pu_gate *g = pu_gate_new();
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *arg = pu_gate_arg(g);
    cc_future *running = cc_submit(p, gated, arg);
    cc_blob_free(arg);
    pid_t worker = pu_gate_wait_started(g);
    cc_future *queued[10];
    for (int i = 0; i < 10; i++)
        queued[i] = cc_submit(p, identity, NULL);
    assert_ok(cc_executor_shutdown(p, false, true)); /* no wait */
    for (int i = 0; i < 10; i++) {
        assert_true(cc_future_cancelled(queued[i]));
        assert_fails_with(cc_future_result(queued[i], NULL, 0), ECANCELED);
        cc_future_free(queued[i]);
    }
    assert_true(cc_future_running(running)); /* it is not touched */
    assert_null_with(cc_submit(p, identity, NULL), ESHUTDOWN);
    pu_gate_release(g);
    assert_int_equal(result_int(running), worker);
    cc_future_free(running);
    cc_executor_free(p);
    pu_gate_free(g);
    LEAK_CHECK_END();
}

static void test_shutdown_wait_runs_queued_work(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(2, NULL);
    cc_future *f[20];
    for (int i = 0; i < 20; i++) {
        void *arg = pu_int(25);
        f[i] = cc_submit(p, sleep_ms, arg);
        cc_blob_free(arg);
    }
    assert_ok(cc_executor_shutdown(p, false, false));
    assert_false(cc_future_done(f[19])); /* 250 ms of work still queued */
    assert_null_with(cc_submit(p, identity, NULL), ESHUTDOWN);
    assert_non_null(strstr(cc_errmsg(), "shut down"));
    assert_ok(cc_executor_shutdown(p, true, false)); /* now wait */
    pu_assert_no_children(); /* workers reaped by the waiting shutdown */
    for (int i = 0; i < 20; i++) {
        assert_true(cc_future_done(f[i]));
        assert_int_equal(result_int(f[i]), 25);
        cc_future_free(f[i]);
    }
    assert_ok(cc_executor_shutdown(p, true, true)); /* again: fine */
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_futures_outlive_the_pool(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(2, NULL);
    cc_future *f[10];
    for (int i = 0; i < 10; i++) {
        void *arg = pu_int(i);
        f[i] = cc_submit(p, twice, arg);
        cc_blob_free(arg);
    }
    cc_executor_free(p); /* waits for them */
    for (int i = 0; i < 10; i++) {
        assert_true(cc_future_done(f[i]));
        assert_int_equal(result_int(f[i]), 2 * i);
        cc_future_free(f[i]);
    }
    cc_executor_free(NULL);
}

/* ---------------------------------------------------- done-callbacks */

static cc_executor *cb_pool;
static _Atomic int cb_calls;

static int free_own_pool(cc_future *f, void *arg)
{
    (void)f;
    (void)arg;
    cc_executor_free(cb_pool); /* on the manager thread: refused */
    if (cc_executor_shutdown(cb_pool, true, false) != -1 || errno != EDEADLK)
        return -1;
    atomic_fetch_add(&cb_calls, 1);
    return 0;
}

static void test_done_callback_cannot_free_its_pool(void **state)
{
    (void)state;
    cb_pool = cc_process_pool_new(1, NULL);
    atomic_store(&cb_calls, 0);
    pu_gate *gate = pu_gate_new();
    void *garg = pu_gate_arg(gate);
    tu_capture cap = tu_capture_stderr();
    /* gated: the callback is added before the future can complete, so it
     * runs on the manager thread */
    cc_future *f = cc_submit(cb_pool, gated, garg);
    cc_blob_free(garg);
    assert_ok(cc_future_add_done_callback(f, free_own_pool, NULL));
    (void)pu_gate_wait_started(gate);
    pu_gate_release(gate);
    assert_true(result_int(f) > 0);
    cc_future_free(f);
    pu_gate_free(gate);
    f = cc_submit(cb_pool, my_pid, NULL); /* still alive */
    assert_true(result_int(f) > 0);
    cc_future_free(f);
    cc_executor_free(cb_pool);
    char *out = tu_capture_end(cap);
    assert_non_null(strstr(out, "refused"));
    free(out);
    assert_int_equal(atomic_load(&cb_calls), 1);
}

/* ------------------------------------- a parent whose threads hold locks */

static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static cc_lock *held_lock;
static cc_event *hold_stop;
static cc_event *holders_ready[4];

static void *hold_mutex(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held_mutex);
    cc_event_set(holders_ready[0]);
    cc_event_wait(hold_stop, 120);
    pthread_mutex_unlock(&held_mutex);
    return arg;
}

static void *hold_cc_lock(void *arg)
{
    (void)arg;
    cc_lock_acquire(held_lock, CC_FOREVER);
    cc_event_set(holders_ready[1]);
    cc_event_wait(hold_stop, 120);
    cc_lock_release(held_lock);
    return arg;
}

static void *hammer_malloc(void *arg)
{
    cc_event_set(holders_ready[2]);
    while (!cc_event_is_set(hold_stop)) {
        void *b[16];
        for (int i = 0; i < 16; i++)
            b[i] = malloc(16 + tu_rand_below(4096));
        for (int i = 0; i < 16; i++)
            free(b[i]);
    }
    return arg;
}

static void *hold_stdout(void *arg)
{
    flockfile(stdout);
    cc_event_set(holders_ready[3]);
    cc_event_wait(hold_stop, 120);
    funlockfile(stdout);
    return arg;
}

static void test_pool_from_a_parent_whose_threads_hold_locks(void **state)
{
    (void)state;
    cc_fn holders[4] = {hold_mutex, hold_cc_lock, hammer_malloc, hold_stdout};
    cc_thread *t[4];
    held_lock = cc_lock_new();
    hold_stop = cc_event_new();
    for (int i = 0; i < 4; i++) {
        holders_ready[i] = cc_event_new();
        t[i] = cc_thread_start(holders[i], NULL, "holder");
    }
    for (int i = 0; i < 4; i++)
        assert_ok(cc_event_wait(holders_ready[i], 60));
    /* stdout is locked by another thread: this test must not print now */
    cc_executor *p = cc_process_pool_new(2, NULL);
    assert_non_null(p);
    cc_future *f[50];
    for (int i = 0; i < 50; i++) {
        void *arg = pu_int(i);
        f[i] = cc_submit(p, twice, arg);
        cc_blob_free(arg);
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(result_int(f[i]), 2 * i);
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
    cc_event_set(hold_stop);
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 60));
        cc_thread_free(t[i]);
        cc_event_free(holders_ready[i]);
    }
    cc_event_free(hold_stop);
    cc_lock_free(held_lock);
}

/* ------------------------------------------------------ forked children */

static cc_executor *parents_pool;

/* In a child forked while parents_pool runs: that pool refuses work, its
 * copy goes quietly, and a pool of the child's own works. */
static void child_uses_pools(void *arg)
{
    (void)arg;
    errno = 0;
    if (cc_submit(parents_pool, identity, NULL) != NULL || errno != EINVAL ||
        strstr(cc_errmsg(), "a forked child cannot use it") == NULL) {
        fprintf(stderr, "submit in the child: %s\n", cc_errmsg());
        _exit(3);
    }
    void *args[1] = {NULL};
    void *res[1];
    if (cc_map(parents_pool, identity, args, 1, 1, res, 5) != -1 ||
        errno != EINVAL) {
        fprintf(stderr, "map in the child: %s\n", cc_errmsg());
        _exit(4);
    }
    cc_executor_free(parents_pool); /* the child's copy only */
    cc_executor *mine = cc_process_pool_new(1, NULL);
    cc_future *f = mine != NULL ? cc_submit(mine, my_pid, NULL) : NULL;
    void *r;
    if (f == NULL || cc_future_result(f, &r, 60) != 0) {
        fprintf(stderr, "the child's own pool: %s\n", cc_errmsg());
        _exit(5);
    }
    cc_future_free(f);
    cc_executor_free(mine);
}

static void test_forked_child_cannot_use_the_pool(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    parents_pool = cc_process_pool_new(2, NULL);
    cc_future *f = cc_submit(parents_pool, my_pid, NULL);
    assert_true(result_int(f) > 0);
    cc_future_free(f);
    tu_child c = tu_run_child(child_uses_pools, NULL);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
        fail_msg("child: status %d, stderr: %s", c.status, c.err);
    free(c.err);
    f = cc_submit(parents_pool, my_pid, NULL); /* the parent's still works */
    assert_true(result_int(f) > 0);
    cc_future_free(f);
    cc_executor_free(parents_pool);
    LEAK_CHECK_END();
}

/* ---------------------------------------- coroutines awaiting the pool */

static cc_executor *co_pool;

static void *await_twice(void *arg)
{
    cc_future *f = cc_submit(co_pool, twice, arg);
    void *r;
    int64_t want = pu_get(arg) * 2;

    cc_blob_free(arg);
    if (f == NULL || cc_future_result(f, &r, 120) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "pool job");
    if (pu_get(r) != want) {
        cc_future_free(f);
        return cc_fail(EPROTO, "wrong result");
    }
    cc_future_free(f);
    return (void *)1;
}

static void *many_awaiters_main(void *arg)
{
    enum { N = 10000 };
    cc_future **f = calloc(N, sizeof(*f));
    for (int i = 0; i < N; i++)
        f[i] = cc_spawn(await_twice, pu_int(i));
    int rc = cc_gather(f, N, NULL, false, CC_FOREVER);
    for (int i = 0; i < N; i++)
        cc_future_free(f[i]);
    free(f);
    return rc == 0 ? arg : NULL;
}

static void *nothing(void *arg)
{
    return arg;
}

static void test_ten_thousand_coroutines_await_pool_futures(void **state)
{
    /* the coroutine layer keeps one fd for good once it has run (a pidfd
     * for its stack guards): open it before taking the fd snapshot */
    assert_ok(cc_run(nothing, state, NULL));
    LEAK_CHECK_BEGIN();
    co_pool = cc_process_pool_new(2, NULL);
    double t0 = cc_now();
    assert_ok(cc_run(many_awaiters_main, state, NULL));
    printf("# 10,000 coroutines awaited process pool futures in %.3f s\n",
           cc_now() - t0);
    cc_executor_free(co_pool);
    LEAK_CHECK_END();
}

/* --------------------------------------------------------------- stress */

enum { SUBMITTERS = 4, PER_SUBMITTER = 3000 };
static cc_executor *shared_pool;

static void *add_ten(void *arg)
{
    int64_t v = pu_get(arg);

    if (v % 97 == 0)
        tu_sleep((double)(v % 5) / 1000);
    return pu_int(v + 10);
}

static void *submitter(void *arg)
{
    int64_t base = (int64_t)*(int *)arg * PER_SUBMITTER;
    cc_future *fs[64];
    int n = 0;
    int64_t got = 0;

    for (int64_t i = 1; i <= PER_SUBMITTER; i++) {
        void *a = pu_int(base + i);
        fs[n++] = cc_submit(shared_pool, add_ten, a);
        cc_blob_free(a);
        if (fs[n - 1] == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "submit");
        if (n == 64 || i == PER_SUBMITTER) {
            for (int k = 0; k < n; k++) {
                int j = (k * 37 + (int)tu_rand_below(64)) % n;
                void *r;
                if (fs[j] == NULL)
                    continue;
                if (cc_future_result(fs[j], &r, tu_rand_below(2) ? 0 : 60) != 0) {
                    if (errno != EAGAIN)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                    if (cc_future_result(fs[j], &r, 60) != 0)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                }
                got += pu_get(r) - 10;
                cc_future_free(fs[j]);
                fs[j] = NULL;
            }
            for (int k = 0; k < n; k++)
                if (fs[k] != NULL) {
                    void *r;
                    if (cc_future_result(fs[k], &r, 60) != 0)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                    got += pu_get(r) - 10;
                    cc_future_free(fs[k]);
                }
            n = 0;
            tu_jitter(500);
        }
    }
    return pu_int(got);
}

/* Threads submitting functions the pool has never seen, all at once: each
 * function's reference is computed by several threads in a race, and one
 * record must be kept, the others freed (LeakSanitizer checks the ASan
 * run at exit; every result is checked here).  64 fresh functions, in 8
 * rounds of 8, each round started by a barrier. */
#define RACE_FN(k)                                                          \
    static void *race_fn_##k(void *arg)                                     \
    {                                                                       \
        return pu_int(pu_get(arg) * 100 + (k));                             \
    }
RACE_FN(0)
RACE_FN(1)
RACE_FN(2)
RACE_FN(3)
RACE_FN(4)
RACE_FN(5)
RACE_FN(6)
RACE_FN(7)
RACE_FN(8)
RACE_FN(9)
RACE_FN(10)
RACE_FN(11)
RACE_FN(12)
RACE_FN(13)
RACE_FN(14)
RACE_FN(15)
RACE_FN(16)
RACE_FN(17)
RACE_FN(18)
RACE_FN(19)
RACE_FN(20)
RACE_FN(21)
RACE_FN(22)
RACE_FN(23)
RACE_FN(24)
RACE_FN(25)
RACE_FN(26)
RACE_FN(27)
RACE_FN(28)
RACE_FN(29)
RACE_FN(30)
RACE_FN(31)
RACE_FN(32)
RACE_FN(33)
RACE_FN(34)
RACE_FN(35)
RACE_FN(36)
RACE_FN(37)
RACE_FN(38)
RACE_FN(39)
RACE_FN(40)
RACE_FN(41)
RACE_FN(42)
RACE_FN(43)
RACE_FN(44)
RACE_FN(45)
RACE_FN(46)
RACE_FN(47)
RACE_FN(48)
RACE_FN(49)
RACE_FN(50)
RACE_FN(51)
RACE_FN(52)
RACE_FN(53)
RACE_FN(54)
RACE_FN(55)
RACE_FN(56)
RACE_FN(57)
RACE_FN(58)
RACE_FN(59)
RACE_FN(60)
RACE_FN(61)
RACE_FN(62)
RACE_FN(63)

enum { RACERS = 8, RACE_ROUNDS = 8 };
static cc_fn race_fns[RACE_ROUNDS * RACERS] = {race_fn_0, race_fn_1, race_fn_2, race_fn_3, race_fn_4, race_fn_5, race_fn_6, race_fn_7, race_fn_8, race_fn_9, race_fn_10, race_fn_11, race_fn_12, race_fn_13, race_fn_14, race_fn_15, race_fn_16, race_fn_17, race_fn_18, race_fn_19, race_fn_20, race_fn_21, race_fn_22, race_fn_23, race_fn_24, race_fn_25, race_fn_26, race_fn_27, race_fn_28, race_fn_29, race_fn_30, race_fn_31, race_fn_32, race_fn_33, race_fn_34, race_fn_35, race_fn_36, race_fn_37, race_fn_38, race_fn_39, race_fn_40, race_fn_41, race_fn_42, race_fn_43, race_fn_44, race_fn_45, race_fn_46, race_fn_47, race_fn_48, race_fn_49, race_fn_50, race_fn_51, race_fn_52, race_fn_53, race_fn_54, race_fn_55, race_fn_56, race_fn_57, race_fn_58, race_fn_59, race_fn_60, race_fn_61, race_fn_62, race_fn_63};
static cc_barrier *race_start;

static void *racer(void *arg)
{
    int id = *(int *)arg;

    for (int round = 0; round < RACE_ROUNDS; round++) {
        cc_future *fs[RACERS];

        if (cc_barrier_wait(race_start, 60) < 0)
            return cc_fail_from(cc_last_error(), EPROTO, "barrier");
        for (int k = 0; k < RACERS; k++) { /* each racer its own order */
            int fn = round * RACERS + (k + id) % RACERS;
            void *a = pu_int(id);

            fs[k] = cc_submit(shared_pool, race_fns[fn], a);
            cc_blob_free(a);
            if (fs[k] == NULL)
                return cc_fail_from(cc_last_error(), EPROTO, "submit");
        }
        for (int k = 0; k < RACERS; k++) {
            int fn = round * RACERS + (k + id) % RACERS;
            int64_t want = (int64_t)id * 100 + fn;
            int64_t got = -1;
            void *r;

            if (cc_future_result(fs[k], &r, 60) == 0)
                got = pu_get(r);
            cc_future_free(fs[k]);
            if (got != want)
                return cc_fail(EPROTO, "racer %d: function %d gave %lld, "
                               "not %lld", id, fn, (long long)got,
                               (long long)want);
        }
    }
    return arg;
}

static void test_stress_first_submits_race(void **state)
{
    int ids[RACERS];
    cc_thread *t[RACERS];

    (void)state;
    LEAK_CHECK_BEGIN();
    shared_pool = cc_process_pool_new(2, NULL);
    race_start = cc_barrier_new(RACERS, NULL, NULL);
    assert_non_null(shared_pool);
    assert_non_null(race_start);
    for (int i = 0; i < RACERS; i++) {
        ids[i] = i;
        t[i] = cc_thread_start(racer, &ids[i], NULL);
        assert_non_null(t[i]);
    }
    for (int i = 0; i < RACERS; i++) {
        if (cc_thread_join(t[i], NULL, 120) != 0)
            fail_msg("racer %d: %s", i, cc_errmsg());
        cc_thread_free(t[i]);
    }
    cc_barrier_free(race_start);
    cc_executor_free(shared_pool);
    shared_pool = NULL;
    LEAK_CHECK_END();
}

static void test_stress_many_submitters(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    shared_pool = cc_process_pool_new(3, NULL);
    int ids[SUBMITTERS];
    cc_thread *t[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        ids[i] = i;
        t[i] = cc_thread_start(submitter, &ids[i], NULL);
    }
    int64_t total = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        void *got;
        if (cc_thread_join(t[i], &got, 120) != 0) {
            char text[2048];
            cc_error_format(cc_last_error(), text, sizeof(text));
            fail_msg("submitter %d: %s", i, text);
        }
        total += pu_get(got);
        cc_blob_free(got);
        cc_thread_free(t[i]);
    }
    int64_t n = (int64_t)SUBMITTERS * PER_SUBMITTER;
    assert_int_equal(total, n * (n + 1) / 2);
    cc_executor_free(shared_pool);
    LEAK_CHECK_END();
}

static void test_stress_cancel_races_dispatch(void **state)
{
    (void)state;
    enum { N = 3000 };
    cc_executor *p = cc_process_pool_new(2, NULL);
    cc_future **f = calloc(N, sizeof(*f));
    for (int i = 0; i < N; i++) {
        void *a = pu_int(i);
        f[i] = cc_submit(p, twice, a);
        cc_blob_free(a);
        if (tu_rand_below(500) == 0)
            tu_jitter(300);
    }
    int cancelled = 0;
    for (int i = N - 1; i >= 0; i -= 1 + (int)tu_rand_below(3))
        cancelled += cc_future_cancel(f[i]);
    int ran = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        int rc = cc_future_result(f[i], &r, 60);
        if (cc_future_cancelled(f[i])) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, ECANCELED);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(pu_get(r), 2 * i);
            ran++;
        }
        cc_future_free(f[i]);
    }
    assert_int_equal(ran + cancelled, N);
    printf("# %d ran, %d cancelled before they were sent\n", ran, cancelled);
    free(f);
    cc_executor_free(p);
}

static cc_executor *racing_pool;

static void *racing_submitter(void *arg)
{
    int64_t ok = 0;

    (void)arg;
    for (int i = 0; i < 400; i++) {
        cc_future *f = cc_submit(racing_pool, identity, NULL);
        if (f == NULL) {
            if (errno != ESHUTDOWN)
                return cc_fail_from(cc_last_error(), EPROTO, "submit");
            break;
        }
        if (cc_future_result(f, NULL, 60) != 0 && errno != ECANCELED)
            return cc_fail_from(cc_last_error(), EPROTO, "stranded task");
        cc_future_free(f);
        ok++;
    }
    return pu_int(ok);
}

static void test_stress_shutdown_races_submit(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    for (int round = 0; round < 12; round++) {
        racing_pool = cc_process_pool_new(2, NULL);
        cc_thread *t[3];
        for (int i = 0; i < 3; i++)
            t[i] = cc_thread_start(racing_submitter, NULL, NULL);
        tu_jitter(20000);
        assert_ok(cc_executor_shutdown(racing_pool, tu_rand_below(2),
                                       tu_rand_below(2)));
        for (int i = 0; i < 3; i++) {
            void *r;
            if (cc_thread_join(t[i], &r, 60) != 0)
                fail_msg("submitter: %s", cc_errmsg());
            cc_blob_free(r);
            cc_thread_free(t[i]);
        }
        cc_executor_free(racing_pool);
    }
    LEAK_CHECK_END();
}

static void test_big_arguments_and_results(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(2, NULL);
    size_t sizes[] = {0, 1, 4095, 65536, 3 << 20, 9 << 20};
    cc_future *f[6];
    for (int i = 0; i < 6; i++) {
        unsigned char *b = cc_blob_new(sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            b[k] = (unsigned char)(k * 7 + (size_t)i);
        f[i] = cc_submit(p, identity, b);
        cc_blob_free(b);
    }
    for (int i = 0; i < 6; i++) {
        unsigned char *r;
        assert_ok(cc_future_result(f[i], (void **)&r, 60));
        assert_int_equal(cc_blob_len(r), sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            if (r[k] != (unsigned char)(k * 7 + (size_t)i))
                fail_msg("blob %d differs at %zu", i, k);
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_and_collect),
        cmocka_unit_test(test_default_size_and_bad_options),
        cmocka_unit_test(test_null_result_and_empty_blob_differ),
        cmocka_unit_test(test_results_that_are_not_blobs_fail),
        cmocka_unit_test(test_arguments_must_be_blobs),
        cmocka_unit_test(test_error_chain_crosses_the_boundary),
        cmocka_unit_test(test_workers_are_named_and_start_clean),
        cmocka_unit_test(test_workers_inherit_no_fds),
        cmocka_unit_test(test_initializer_runs_first_in_each_worker),
        cmocka_unit_test(test_failing_initializer_breaks_the_pool),
        cmocka_unit_test(test_max_tasks_per_child_replaces_workers),
        cmocka_unit_test(test_map_in_order),
        cmocka_unit_test(test_map_reports_first_failure_by_index),
        cmocka_unit_test(test_map_times_out),
        cmocka_unit_test(test_wait_and_as_completed),
        cmocka_unit_test(test_shutdown_cancel_futures),
        cmocka_unit_test(test_shutdown_wait_runs_queued_work),
        cmocka_unit_test(test_futures_outlive_the_pool),
        cmocka_unit_test(test_done_callback_cannot_free_its_pool),
        cmocka_unit_test(test_pool_from_a_parent_whose_threads_hold_locks),
        cmocka_unit_test(test_forked_child_cannot_use_the_pool),
        cmocka_unit_test(test_ten_thousand_coroutines_await_pool_futures),
        cmocka_unit_test(test_big_arguments_and_results),
        cmocka_unit_test(test_stress_many_submitters),
        cmocka_unit_test(test_stress_first_submits_race),
        cmocka_unit_test(test_stress_cancel_races_dispatch),
        cmocka_unit_test(test_stress_shutdown_races_submit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
