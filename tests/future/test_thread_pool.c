/* test_thread_pool - the thread pool: results, default size, lazy and
 * reused threads, names, initializers and broken pools, shutdown (wait,
 * cancel_futures, ESHUTDOWN, EDEADLK), the debug deadlock report, and
 * stress tests: cancel racing start, many submitters and waiters. */
#include <dirent.h>

#include "test_util.h"

static void *identity(void *arg)
{
    return arg;
}

static void *sleep_then_return(void *arg)
{
    tu_sleep(0.05);
    return arg;
}

static void test_submit_and_collect(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(4, NULL);
    assert_string_equal(cc_executor_kind(p), "thread pool");
    assert_int_equal(cc_executor_max_workers(p), 4);
    cc_future *f[100];
    for (intptr_t i = 0; i < 100; i++)
        f[i] = cc_submit(p, identity, (void *)(i + 1));
    for (intptr_t i = 0; i < 100; i++) {
        void *r;
        assert_ok(cc_future_result(f[i], &r, 30));
        assert_int_equal((intptr_t)r, i + 1);
        assert_true(cc_future_done(f[i]));
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
}

static void test_default_size(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(0, NULL);
    int want = cc_cpu_count() + 4;
    assert_int_equal(cc_executor_max_workers(p), want > 32 ? 32 : want);
    cc_executor_free(p);
    assert_null_with(cc_thread_pool_new(-1, NULL), EINVAL);
    cc_pool_opts per_child = {.max_tasks_per_child = 5}; /* processes only */
    assert_null_with(cc_thread_pool_new(2, &per_child), EINVAL);
}

/* How many threads of this process have a name starting with prefix. */
static int count_threads(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[300], name[64] = "";
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(name, sizeof(name), f) != NULL &&
            strncmp(name, prefix, strlen(prefix)) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

static void *report_name(void *arg)
{
    (void)arg;
    return cc_blob_strdup(cc_thread_current_name());
}

static void test_threads_are_lazy_reused_and_named(void **state)
{
    (void)state;
    cc_pool_opts o = {.thread_name_prefix = "lazy"};
    cc_executor *p = cc_thread_pool_new(8, &o);
    assert_int_equal(count_threads("lazy_"), 0); /* nothing started yet */
    /* one task at a time: the same single worker does them all */
    for (int i = 0; i < 20; i++) {
        cc_future *f = cc_submit(p, report_name, NULL);
        void *name;
        assert_ok(cc_future_result(f, &name, 30));
        assert_string_equal(name, "lazy_0");
        cc_blob_free(name);
        cc_future_free(f);
        tu_sleep(0.005 * TU_SLOW); /* the worker goes idle before the next */
    }
    assert_int_equal(count_threads("lazy_"), 1);
    /* a burst of slow tasks brings the pool up to its limit, no further */
    cc_future *f[20];
    for (int i = 0; i < 20; i++)
        f[i] = cc_submit(p, sleep_then_return, NULL);
    for (int i = 0; i < 20; i++) {
        assert_ok(cc_future_result(f[i], NULL, 30));
        cc_future_free(f[i]);
    }
    int n = count_threads("lazy_");
    assert_true(n >= 2 && n <= 8);
    cc_executor_free(p);
    assert_int_equal(count_threads("lazy_"), 0);
}

/* Tasks that block until all of them run: each must get a worker of its
 * own while the limit allows.  A new worker used to add an idle token on
 * its first look at the queue, before taking the task it was started
 * for; the next submit then relied on that busy worker and its task
 * waited (about 1 round in 40 here). */
static _Atomic int running_now;

static void *block_until_all_run(void *arg)
{
    int want = *(int *)arg;
    atomic_fetch_add(&running_now, 1);
    for (int i = 0; i < 5000 && atomic_load(&running_now) < want; i++)
        tu_sleep(0.001);
    return atomic_load(&running_now) >= want ? arg : cc_fail(ETIMEDOUT,
                                                             "starved");
}

static void test_blocked_workers_never_starve_a_new_task(void **state)
{
    (void)state;
    int want = 4;
    for (int round = 0; round < 100; round++) {
        cc_executor *p = cc_thread_pool_new(8, NULL);
        cc_future *f[4];
        atomic_store(&running_now, 0);
        for (int i = 0; i < want; i++)
            f[i] = cc_submit(p, block_until_all_run, &want);
        for (int i = 0; i < want; i++) {
            if (cc_future_result(f[i], NULL, 30) != 0)
                fail_msg("round %d: task %d: %s", round, i, cc_errmsg());
            cc_future_free(f[i]);
        }
        cc_executor_free(p);
    }
}

/* ---- initializer ---- */

static _Atomic int inits;
static __thread int initialized_here;

static void *good_init(void *arg)
{
    atomic_fetch_add(&inits, 1);
    initialized_here = 1;
    return arg;
}

static void *check_initialized(void *arg)
{
    if (!initialized_here)
        return cc_fail(EPROTO, "task ran on a worker before its initializer");
    return arg;
}

static void test_initializer_runs_first_in_each_worker(void **state)
{
    (void)state;
    atomic_store(&inits, 0);
    cc_pool_opts o = {.initializer = good_init, .initarg = &o};
    cc_executor *p = cc_thread_pool_new(3, &o);
    cc_future *f[30];
    for (int i = 0; i < 30; i++)
        f[i] = cc_submit(p, check_initialized, &o);
    for (int i = 0; i < 30; i++) {
        assert_ok(cc_future_result(f[i], NULL, 30));
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
    assert_true(atomic_load(&inits) >= 1 && atomic_load(&inits) <= 3);
}

static void *bad_init(void *arg)
{
    (void)arg;
    tu_sleep(0.02); /* let tasks queue up first */
    return cc_fail(ENOENT, "config file %s is missing", "pool.conf");
}

static void test_failing_initializer_breaks_the_pool(void **state)
{
    (void)state;
    cc_pool_opts o = {.initializer = bad_init};
    cc_executor *p = cc_thread_pool_new(2, &o);
    cc_future *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = cc_submit(p, identity, &o);
    for (int i = 0; i < 5; i++) {
        assert_non_null(f[i]);
        assert_fails_with(cc_future_result(f[i], NULL, 30), CC_EBROKEN);
        assert_non_null(strstr(cc_errmsg(), "is broken: a worker's initializer failed"));
        const cc_error *cause = cc_error_cause(cc_last_error());
        assert_int_equal(cc_error_code(cause), ENOENT);
        assert_string_equal(cc_error_message(cause), "config file pool.conf is missing");
        cc_future_free(f[i]);
    }
    assert_null_with(cc_submit(p, identity, NULL), CC_EBROKEN);
    assert_non_null(strstr(cc_errmsg(), "initializer failed"));
    cc_executor_free(p);
}

/* ---- shutdown ---- */

static void test_submit_after_shutdown(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    assert_ok(cc_executor_shutdown(p, true, false));
    assert_null_with(cc_submit(p, identity, NULL), ESHUTDOWN);
    assert_non_null(strstr(cc_errmsg(), "shut down"));
    assert_ok(cc_executor_shutdown(p, true, false)); /* again: fine */
    cc_executor_free(p);
    assert_fails_with(cc_executor_shutdown(NULL, true, false), EINVAL);
    assert_null_with(cc_submit(NULL, identity, NULL), EINVAL);
    cc_executor_free(NULL);
}

static void *block_on_event(void *arg)
{
    if (cc_event_wait(arg, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "event");
    return arg;
}

static void test_shutdown_cancel_futures(void **state)
{
    (void)state;
    cc_event *go = cc_event_new();
    cc_executor *p = cc_thread_pool_new(1, NULL);
    cc_future *running = cc_submit(p, block_on_event, go);
    while (!cc_future_running(running))
        tu_sleep(0.001);
    cc_future *queued[10];
    for (int i = 0; i < 10; i++)
        queued[i] = cc_submit(p, identity, go);
    assert_ok(cc_executor_shutdown(p, false, true)); /* no wait */
    for (int i = 0; i < 10; i++) {
        assert_true(cc_future_cancelled(queued[i]));
        assert_fails_with(cc_future_result(queued[i], NULL, 0), ECANCELED);
        cc_future_free(queued[i]);
    }
    assert_true(cc_future_running(running)); /* running work is not touched */
    cc_event_set(go);
    assert_ok(cc_future_result(running, NULL, 30));
    cc_future_free(running);
    cc_executor_free(p);
    cc_event_free(go);
}

static void test_shutdown_without_cancel_runs_queued_work(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    cc_future *f[20];
    for (intptr_t i = 0; i < 20; i++)
        f[i] = cc_submit(p, sleep_then_return, (void *)(i + 1));
    assert_ok(cc_executor_shutdown(p, false, false));
    /* it did not wait: 0.5 s of work is still (at least partly) queued */
    assert_false(cc_future_done(f[19]));
    assert_ok(cc_executor_shutdown(p, true, false)); /* now wait */
    for (intptr_t i = 0; i < 20; i++) {
        void *r;
        assert_true(cc_future_done(f[i]));
        assert_ok(cc_future_result(f[i], &r, 0));
        assert_int_equal((intptr_t)r, i + 1);
        cc_future_free(f[i]);
    }
    cc_executor_free(p);
}

static cc_executor *self_pool;

static void *shutdown_own_pool(void *arg)
{
    (void)arg;
    if (cc_executor_shutdown(self_pool, true, false) != -1 || errno != EDEADLK)
        return cc_fail(EPROTO, "a worker could wait for its own pool");
    return arg;
}

static void *free_own_pool(void *arg)
{
    (void)arg;
    cc_executor_free(self_pool); /* refused: must not free it */
    return arg;
}

static void test_worker_cannot_wait_for_own_pool(void **state)
{
    (void)state;
    self_pool = cc_thread_pool_new(1, NULL);
    cc_future *f = cc_submit(self_pool, shutdown_own_pool, &state);
    assert_ok(cc_future_result(f, NULL, 30));
    cc_future_free(f);
    cc_executor_free(self_pool);

    self_pool = cc_thread_pool_new(1, NULL);
    tu_capture cap = tu_capture_stderr();
    f = cc_submit(self_pool, free_own_pool, &state);
    assert_ok(cc_future_result(f, NULL, 30));
    char *out = tu_capture_end(cap);
    assert_non_null(strstr(out, "refused"));
    free(out);
    cc_future_free(f);
    assert_string_equal(cc_executor_kind(self_pool), "thread pool"); /* alive */
    cc_executor_free(self_pool);
}

/* A task that waits on another task of its own, saturated pool. */
static void *wait_for_sibling(void *arg)
{
    cc_future *sibling = cc_submit(self_pool, identity, arg);
    if (sibling == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "submit");
    int rc = cc_future_result(sibling, NULL, 0.2); /* would hang forever */
    cc_future_free(sibling);
    if (rc == 0)
        return cc_fail(EPROTO, "the sibling ran on a saturated pool?");
    return arg;
}

static void test_debug_reports_likely_deadlock(void **state)
{
    (void)state;
    cc_pool_opts o = {.thread_name_prefix = "tight"};
    self_pool = cc_thread_pool_new(1, &o);
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    cc_future *f = cc_submit(self_pool, wait_for_sibling, &state);
    int rc = cc_future_result(f, NULL, 30);
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "likely deadlock: worker 'tight_0' of thread "
                                "pool 'tight' waits for a future of its own "
                                "pool, and all 1 of its workers are busy"));
    free(out);
    cc_future_free(f);
    cc_executor_free(self_pool);
}

/* ---- stress ---- */

/* Cancel races start: every future either ran (its result is there and the
 * side effect happened once) or was cancelled (no side effect). */
static _Atomic int ran_flags[4000];

static void *mark_ran(void *arg)
{
    intptr_t i = (intptr_t)arg;
    atomic_fetch_add(&ran_flags[i], 1);
    return arg;
}

static void test_stress_cancel_races_start(void **state)
{
    (void)state;
    enum { N = 4000 };
    cc_executor *p = cc_thread_pool_new(3, NULL);
    cc_future **f = calloc(N, sizeof(*f));
    for (intptr_t i = 0; i < N; i++)
        f[i] = cc_submit(p, mark_ran, (void *)i);
    int cancelled = 0;
    for (int i = N - 1; i >= 0; i -= 1 + (int)tu_rand_below(3))
        cancelled += cc_future_cancel(f[i]);
    int ran = 0;
    for (intptr_t i = 0; i < N; i++) {
        void *r;
        int rc = cc_future_result(f[i], &r, 30);
        if (cc_future_cancelled(f[i])) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, ECANCELED);
            assert_int_equal(atomic_load(&ran_flags[i]), 0);
        } else {
            assert_int_equal(rc, 0);
            assert_ptr_equal(r, (void *)i);
            assert_int_equal(atomic_load(&ran_flags[i]), 1);
            ran++;
        }
        cc_future_free(f[i]);
    }
    assert_int_equal(ran + cancelled, N);
    printf("# %d ran, %d cancelled before they started\n", ran, cancelled);
    free(f);
    cc_executor_free(p);
}

/* Many submitters and many waiters on one pool; tasks nest submissions. */
enum { SUBMITTERS = 4, PER_SUBMITTER = 5000 };
static cc_executor *shared_pool;
static _Atomic long task_sum;

static void *add_task(void *arg)
{
    atomic_fetch_add(&task_sum, (intptr_t)arg);
    if (tu_rand_below(64) == 0)
        tu_jitter(100);
    return arg;
}

static void *submitter(void *arg)
{
    intptr_t base = *(int *)arg * PER_SUBMITTER;
    cc_future *fs[64];
    int n = 0;
    long got = 0;
    for (intptr_t i = 1; i <= PER_SUBMITTER; i++) {
        fs[n++] = cc_submit(shared_pool, add_task, (void *)(base + i));
        if (fs[n - 1] == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "submit");
        if (n == 64 || i == PER_SUBMITTER) {
            /* collect in a random order, sometimes with timeout 0 first */
            for (int k = 0; k < n; k++) {
                int j = (k * 37 + (int)tu_rand_below(64)) % n;
                void *r;
                if (fs[j] == NULL)
                    continue;
                if (cc_future_result(fs[j], &r, tu_rand_below(2) ? 0 : 30) != 0) {
                    if (errno != EAGAIN)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                    if (cc_future_result(fs[j], &r, 30) != 0)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                }
                got += (intptr_t)r;
                cc_future_free(fs[j]);
                fs[j] = NULL;
            }
            for (int k = 0; k < n; k++)
                if (fs[k] != NULL) {
                    void *r;
                    if (cc_future_result(fs[k], &r, 30) != 0)
                        return cc_fail_from(cc_last_error(), EPROTO, "result");
                    got += (intptr_t)r;
                    cc_future_free(fs[k]);
                }
            n = 0;
        }
    }
    return (void *)got;
}

static void test_stress_many_submitters_and_waiters(void **state)
{
    (void)state;
    shared_pool = cc_thread_pool_new(4, NULL);
    atomic_store(&task_sum, 0);
    int ids[SUBMITTERS];
    cc_thread *t[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        ids[i] = i;
        t[i] = cc_thread_start(submitter, &ids[i], NULL);
    }
    long total = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        void *got;
        assert_ok(cc_thread_join(t[i], &got, 120));
        total += (intptr_t)got;
        cc_thread_free(t[i]);
    }
    long n = (long)SUBMITTERS * PER_SUBMITTER;
    assert_int_equal(total, n * (n + 1) / 2);
    assert_int_equal(atomic_load(&task_sum), n * (n + 1) / 2);
    cc_executor_free(shared_pool);
}

/* Shutdown racing submits: a submit either fails with ESHUTDOWN or its
 * task runs (nothing is stranded), whatever the timing. */
static cc_executor *racing_pool;
static _Atomic int racing_ran;

static void *count_and_return(void *arg)
{
    atomic_fetch_add(&racing_ran, 1);
    return arg;
}

static void *racing_submitter(void *arg)
{
    long ok = 0;
    for (int i = 0; i < 500; i++) {
        cc_future *f = cc_submit(racing_pool, count_and_return, arg);
        if (f == NULL) {
            if (errno != ESHUTDOWN)
                return cc_fail_from(cc_last_error(), EPROTO, "submit");
            break;
        }
        if (cc_future_result(f, NULL, 30) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "stranded task");
        cc_future_free(f);
        ok++;
    }
    return (void *)(ok + 1);
}

static void test_stress_shutdown_races_submit(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        racing_pool = cc_thread_pool_new(2, NULL);
        atomic_store(&racing_ran, 0);
        cc_thread *t[3];
        for (int i = 0; i < 3; i++)
            t[i] = cc_thread_start(racing_submitter, &state, NULL);
        tu_jitter(2000);
        assert_ok(cc_executor_shutdown(racing_pool, tu_rand_below(2), false));
        long ok = 0;
        for (int i = 0; i < 3; i++) {
            void *r;
            assert_ok(cc_thread_join(t[i], &r, 60));
            ok += (intptr_t)r - 1;
            cc_thread_free(t[i]);
        }
        cc_executor_free(racing_pool);
        assert_int_equal(atomic_load(&racing_ran), ok);
    }
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_and_collect),
        cmocka_unit_test(test_default_size),
        cmocka_unit_test(test_threads_are_lazy_reused_and_named),
        cmocka_unit_test(test_blocked_workers_never_starve_a_new_task),
        cmocka_unit_test(test_initializer_runs_first_in_each_worker),
        cmocka_unit_test(test_failing_initializer_breaks_the_pool),
        cmocka_unit_test(test_submit_after_shutdown),
        cmocka_unit_test(test_shutdown_cancel_futures),
        cmocka_unit_test(test_shutdown_without_cancel_runs_queued_work),
        cmocka_unit_test(test_worker_cannot_wait_for_own_pool),
        cmocka_unit_test(test_debug_reports_likely_deadlock),
        cmocka_unit_test(test_stress_cancel_races_start),
        cmocka_unit_test(test_stress_many_submitters_and_waiters),
        cmocka_unit_test(test_stress_shutdown_races_submit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
