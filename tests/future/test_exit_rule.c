/* test_exit_rule - cc_executor_shutdown_timeout (EAGAIN, ETIMEDOUT, a later
 * call waiting again, nothing lost, cancellation of the calling task, a
 * hammer of submitters racing timed shutdowns) and
 * the exit rule: a child process that submits work which appends lines to
 * a file and then exits without freeing its pools -- every item is done,
 * and the wait is logged; with CONCUR_EXIT_WAIT=0 it is not waited for and
 * the log says so; exit() from a pool's own worker; a freed pool; a forked
 * child of a process with busy pools (it must not wait for the parent's);
 * a hammer of many submitters on several pools before exit; and event
 * loops: one freed with live tasks, one abandoned with them at exit, both
 * reported in the log, never silently. */
#include <fcntl.h>
#include <math.h>

#include "concur/aio.h"
#include "test_util.h"

static char out_path[64]; /* the file tasks append their lines to */

/* Set in the forked children: their exit must not run LeakSanitizer's
 * check, which can deadlock on an allocator lock that another thread of
 * the parent held at fork() (a sanitizer build's limit, not the rule's;
 * the children leak their pools on purpose). */
static volatile int in_child;

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return in_child;
}

static void out_reset(void)
{
    int fd;

    snprintf(out_path, sizeof(out_path), "/tmp/concur-exit-%d",
             (int)getpid());
    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static int out_lines(void)
{
    FILE *f = fopen(out_path, "r");
    int n = 0;
    int c;

    assert_non_null(f);
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void append_line(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    if (fd >= 0) {
        (void)!write(fd, "done\n", 5);
        close(fd);
    }
}

/* thread pool task: sleep arg microseconds, then append */
static void *thread_item(void *arg)
{
    struct timespec ts = {0, (long)(intptr_t)arg * 1000};

    nanosleep(&ts, NULL);
    append_line(out_path);
    return NULL;
}

/* process pool task: arg is the path (a blob string); sleep 20 ms */
static void *process_item(void *arg)
{
    struct timespec ts = {0, 20000000};

    nanosleep(&ts, NULL);
    append_line(arg);
    return NULL;
}

/* the same, 150 ms */
static void *slow_process_item(void *arg)
{
    struct timespec ts = {0, 150000000};

    nanosleep(&ts, NULL);
    append_line(arg);
    return NULL;
}

static void *sleep_item(void *arg)
{
    tu_sleep((double)(intptr_t)arg / 1000);
    return arg;
}

/* ------------------------------------------------ shutdown with a timeout */

static void shutdown_timeout_on(cc_executor *p, cc_fn fn, void *arg)
{
    cc_future *f[3];

    for (int i = 0; i < 3; i++)
        f[i] = cc_submit(p, fn, arg);
    assert_fails_with(cc_executor_shutdown_timeout(p, true, false, 0), EAGAIN);
    assert_null_with(cc_submit(p, fn, arg), ESHUTDOWN); /* shut down */
    double t0 = cc_now();
    assert_fails_with(cc_executor_shutdown_timeout(p, true, false, 0.05),
                      ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.04);
    assert_non_null(strstr(cc_errmsg(), "still finishing"));
    assert_fails_with(cc_executor_shutdown_timeout(p, true, false, NAN),
                      EINVAL);
    /* a deadline scope bounds it too */
    assert_ok(cc_deadline_push(0.02));
    errno = 0;
    int rc = cc_executor_shutdown_timeout(p, true, false, 30);
    int e = errno;
    cc_deadline_pop();
    assert_int_equal(rc, -1);
    assert_int_equal(e, ETIMEDOUT);
    /* a later call waits again, and nothing submitted was lost */
    assert_ok(cc_executor_shutdown_timeout(p, true, false, 60));
    for (int i = 0; i < 3; i++) {
        assert_true(cc_future_done(f[i]));
        assert_false(cc_future_cancelled(f[i]));
        assert_ok(cc_future_result(f[i], NULL, 0));
        cc_future_free(f[i]);
    }
    assert_ok(cc_executor_shutdown_timeout(p, true, false, 0)); /* done */
    cc_executor_free(p);
}

static void test_shutdown_timeout_thread_pool(void **state)
{
    (void)state;
    shutdown_timeout_on(cc_thread_pool_new(1, NULL), sleep_item,
                        (void *)(intptr_t)150);
    assert_fails_with(cc_executor_shutdown_timeout(NULL, true, false, 1),
                      EINVAL);
}

static void test_shutdown_timeout_process_pool(void **state)
{
    (void)state;
    out_reset();
    void *path = cc_blob_strdup(out_path);
    cc_executor *p = cc_process_pool_new(1, NULL);

    assert_non_null(p);
    shutdown_timeout_on(p, slow_process_item, path);
    assert_int_equal(out_lines(), 3);
    cc_blob_free(path);
    unlink(out_path);
}

static void test_shutdown_timeout_cancel_futures(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(1, NULL);
    cc_future *f[4];

    for (int i = 0; i < 4; i++)
        f[i] = cc_submit(p, sleep_item, (void *)(intptr_t)100);
    tu_sleep(0.02);
    assert_fails_with(cc_executor_shutdown_timeout(p, true, true, 0.01),
                      ETIMEDOUT);
    for (int i = 1; i < 4; i++)
        assert_true(cc_future_cancelled(f[i]));
    assert_ok(cc_executor_shutdown_timeout(p, true, true, CC_FOREVER));
    assert_ok(cc_future_result(f[0], NULL, 0));
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    cc_executor_free(p);
}

static cc_executor *busy_pool;

static void *shutdown_task(void *arg)
{
    (void)arg;
    if (cc_executor_shutdown_timeout(busy_pool, true, false, CC_FOREVER) ==
            -1 && errno == ECANCELED)
        return (void *)(intptr_t)1;
    return NULL;
}

static void *cancel_main(void *arg)
{
    void *r = NULL;

    (void)arg;
    cc_future *t = cc_spawn(shutdown_task, NULL);
    assert_ok(cc_sleep(0.05));
    cc_future_cancel(t);
    assert_ok(cc_wait_for(t, &r, 30));
    assert_int_equal((intptr_t)r, 1);
    cc_future_free(t);
    return NULL;
}

static void test_shutdown_cancelled_task(void **state)
{
    (void)state;
    busy_pool = cc_thread_pool_new(1, NULL);
    cc_future *f = cc_submit(busy_pool, sleep_item, (void *)(intptr_t)400);

    assert_ok(cc_run(cancel_main, NULL, NULL));
    /* it stayed shut down; waiting again works */
    assert_null_with(cc_submit(busy_pool, sleep_item, NULL), ESHUTDOWN);
    assert_ok(cc_executor_shutdown_timeout(busy_pool, true, false, 60));
    assert_ok(cc_future_result(f, NULL, 0));
    cc_future_free(f);
    cc_executor_free(busy_pool);
}

/* Many submitters race several timed shutdowns (some cancelling the queue,
 * all with short random timeouts, each retried until it succeeds): every
 * submit accepted ends done, the ones not cancelled have run exactly once,
 * and a submit after the first shutdown is refused. */
#define SH_SUBMITTERS 4
#define SH_MAX 3000

static cc_executor *sh_pool;
static _Atomic int sh_ran;

static void *sh_task(void *arg)
{
    (void)arg;
    tu_jitter(200);
    atomic_fetch_add(&sh_ran, 1);
    return NULL;
}

typedef struct sh_submitter {
    cc_future *fs[SH_MAX];
    int n;
} sh_submitter;

static void *sh_submit_loop(void *arg)
{
    sh_submitter *s = arg;

    while (s->n < SH_MAX) {
        cc_future *f = cc_submit(sh_pool, sh_task, NULL);

        if (f == NULL) {
            assert_int_equal(errno, ESHUTDOWN);
            break;
        }
        s->fs[s->n++] = f;
        tu_jitter(20);
    }
    return NULL;
}

static void *sh_shutdown_loop(void *arg)
{
    (void)arg;
    tu_jitter(20000);
    for (;;) {
        bool cancel = tu_rand_below(3) == 0;
        double timeout = tu_rand_below(4) * 0.002;

        if (cc_executor_shutdown_timeout(sh_pool, true, cancel, timeout) == 0)
            return NULL;
        assert_true(errno == ETIMEDOUT || errno == EAGAIN);
        assert_non_null(strstr(cc_errmsg(), "still finishing"));
    }
}

static void test_shutdown_timeout_hammer(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        sh_submitter *subs = calloc(SH_SUBMITTERS, sizeof(*subs));
        int ids[2] = {0, 1};
        int done_ok = 0;

        assert_non_null(subs);
        atomic_store(&sh_ran, 0);
        sh_pool = cc_thread_pool_new(3, NULL);
        tu_threads a = tu_start(SH_SUBMITTERS, sh_submit_loop, subs,
                                sizeof(*subs));
        tu_threads b = tu_start(2, sh_shutdown_loop, ids, sizeof(ids[0]));
        tu_join(b);
        tu_join(a);
        for (int k = 0; k < SH_SUBMITTERS; k++)
            for (int i = 0; i < subs[k].n; i++) {
                cc_future *f = subs[k].fs[i];

                assert_true(cc_future_done(f));
                if (!cc_future_cancelled(f)) {
                    assert_ok(cc_future_result(f, NULL, 0));
                    done_ok++;
                }
                cc_future_free(f);
            }
        assert_int_equal(atomic_load(&sh_ran), done_ok);
        assert_null_with(cc_submit(sh_pool, sh_task, NULL), ESHUTDOWN);
        cc_executor_free(sh_pool);
        free(subs);
    }
}

/* ------------------------------------------------ the exit rule */

/* In the child: a thread pool and a process pool with work, then exit. */
static void child_leaves_work(void *arg)
{
    in_child = 1;
    bool opt_out = arg != NULL;
    cc_executor *t = cc_thread_pool_new(1, NULL);
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *path = cc_blob_strdup(out_path);

    if (opt_out)
        setenv("CONCUR_EXIT_WAIT", "0", 1);
    for (int i = 0; i < 10; i++) {
        /* 60 ms each; opting out, 300 ms: long enough that the exit is
         * surely over before the thread pool's items are */
        cc_future_free(cc_submit(t, thread_item,
                                 (void *)(intptr_t)(opt_out ? 300000
                                                            : 60000)));
        cc_future_free(cc_submit(p, process_item, path));
    }
    cc_blob_free(path);
    exit(0); /* as returning from main: no free, no shutdown */
}

static void test_exit_waits_for_work(void **state)
{
    (void)state;
    out_reset();
    tu_child c = tu_run_child(child_leaves_work, NULL);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 0);
    assert_int_equal(out_lines(), 20); /* every item is done */
    assert_non_null(strstr(c.err, "at exit, waiting for thread pool"));
    assert_non_null(strstr(c.err, "at exit, waiting for process pool"));
    free(c.err);
    unlink(out_path);
}

static void test_exit_opt_out_is_loud(void **state)
{
    (void)state;
    out_reset();
    tu_child c = tu_run_child(child_leaves_work, (void *)1);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

    assert_true(WIFEXITED(c.status));
    assert_true(out_lines() < 20); /* not waited for */
    assert_non_null(strstr(c.err, "not waiting for thread pool"));
    assert_non_null(strstr(c.err, "not waiting for process pool"));
    assert_non_null(strstr(c.err, "CONCUR_EXIT_WAIT=0"));
    assert_null(strstr(c.err, "at exit, waiting"));
    free(c.err);
    unlink(out_path);
}

static void *exit_in_task(void *arg)
{
    (void)arg;
    append_line(out_path);
    exit(0);
}

static void child_exits_from_worker(void *arg)
{
    in_child = 1;
    cc_executor *t = cc_thread_pool_new(2, NULL);
    cc_executor *other = cc_thread_pool_new(1, NULL);

    (void)arg;
    for (int i = 0; i < 3; i++) /* the other pool's work is waited for */
        cc_future_free(cc_submit(other, thread_item, (void *)(intptr_t)10000));
    cc_future_free(cc_submit(t, exit_in_task, NULL));
    pause(); /* the task's exit() ends the process */
}

static void test_exit_from_a_worker(void **state)
{
    (void)state;
    out_reset();
    tu_child c = tu_run_child(child_exits_from_worker, NULL);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 0);
    assert_non_null(strstr(c.err, "cannot be waited for from its own "
                                  "worker"));
    assert_int_equal(out_lines(), 4);
    free(c.err);
    unlink(out_path);
}

static void child_frees_its_pool(void *arg)
{
    in_child = 1;
    cc_executor *t = cc_thread_pool_new(2, NULL);

    (void)arg;
    for (int i = 0; i < 5; i++)
        cc_future_free(cc_submit(t, thread_item, (void *)(intptr_t)100000));
    cc_executor_free(t);
    exit(0);
}

static void test_exit_after_free_is_quiet(void **state)
{
    (void)state;
    out_reset();
    tu_child c = tu_run_child(child_frees_its_pool, NULL);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

    assert_true(WIFEXITED(c.status));
    assert_int_equal(out_lines(), 5);
    assert_null(strstr(c.err, "at exit"));
    free(c.err);
    unlink(out_path);
}

static void child_just_exits(void *arg)
{
    in_child = 1;
    (void)arg;
    exit(0);
}

static void test_forked_child_ignores_parent_pools(void **state)
{
    (void)state;
    cc_executor *t = cc_thread_pool_new(1, NULL);
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *f = cc_submit(t, sleep_item, (void *)(intptr_t)500);

    assert_non_null(p);
    /* the parent's pools are busy; the child has copies without threads:
     * its exit must neither wait for them nor hang */
    tu_child c = tu_run_child(child_just_exits, NULL);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */
    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 0);
    assert_null(strstr(c.err, "at exit"));
    free(c.err);
    assert_ok(cc_future_result(f, NULL, 30));
    cc_future_free(f);
    cc_executor_free(p);
    cc_executor_free(t);
}

/* ------------------------------------------------ hammer */

#define HAMMER_THREADS 6
#define HAMMER_ITEMS 150

static cc_executor *hammer_pools[4];

static void *hammer_submitter(void *arg)
{
    (void)arg;
    for (int i = 0; i < HAMMER_ITEMS; i++) {
        cc_executor *ex = hammer_pools[tu_rand_below(4)];
        cc_future *f = cc_submit(ex, thread_item,
                                 (void *)(intptr_t)tu_rand_below(2000));

        assert_non_null(f);
        cc_future_free(f);
        tu_jitter(50);
    }
    return NULL;
}

static void child_hammer(void *arg)
{
    in_child = 1;
    (void)arg;
    for (int k = 0; k < 4; k++)
        hammer_pools[k] = cc_thread_pool_new(1 + k, NULL);
    /* pools that come and go meanwhile: registered, then freed */
    for (int k = 0; k < 20; k++)
        cc_executor_free(cc_thread_pool_new(1, NULL));
    int ids[HAMMER_THREADS] = {0};
    tu_join(tu_start(HAMMER_THREADS, hammer_submitter, ids, sizeof(ids[0])));
    if (tu_rand_below(2) == 0)
        cc_executor_free(hammer_pools[0]); /* one freed, the rest not */
    exit(0);
}

static void test_exit_hammer(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        out_reset();
        tu_child c = tu_run_child(child_hammer, NULL);
        assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

        if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
            printf("# the child said: %s\n", c.err);
        assert_true(WIFEXITED(c.status));
        assert_int_equal(WEXITSTATUS(c.status), 0);
        assert_int_equal(out_lines(), HAMMER_THREADS * HAMMER_ITEMS);
        free(c.err);
        unlink(out_path);
    }
}

/* ------------------------------------------------ event loops */

static void *forever_task(void *arg)
{
    (void)arg;
    (void)cc_sleep(3600);
    return NULL;
}

static void *spawn_two(void *arg)
{
    (void)arg;
    cc_future_free(cc_spawn(forever_task, NULL));
    cc_future_free(cc_spawn(forever_task, NULL));
    return NULL;
}

static void test_loop_free_with_live_tasks_is_loud(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    cc_future *f = cc_loop_spawn(l, spawn_two, NULL);

    assert_ok(cc_loop_run_until_done(l, f));
    cc_future_free(f);
    tu_capture cap = tu_capture_stderr();
    cc_loop_free(l);
    char *err = tu_capture_end(cap);
    assert_non_null(strstr(err, "cc_loop_free: cancelling 2 tasks still "
                                "alive"));
    free(err);
    /* cc_run cancels its leftovers as documented, without a report */
    cap = tu_capture_stderr();
    assert_ok(cc_run(spawn_two, NULL, NULL));
    err = tu_capture_end(cap);
    assert_null(strstr(err, "cancelling"));
    free(err);
}

static void child_abandons_loop(void *arg)
{
    in_child = 1;
    cc_loop *l = cc_loop_new();
    cc_future *f = cc_loop_spawn(l, spawn_two, NULL);

    (void)arg;
    (void)cc_loop_run_until_done(l, f);
    exit(0); /* the loop is never freed */
}

static void test_abandoned_loop_is_reported_at_exit(void **state)
{
    (void)state;
    tu_child c = tu_run_child(child_abandons_loop, NULL);
    assert_null(strstr(c.err, "Sanitizer")); /* nor in the child */

    assert_true(WIFEXITED(c.status));
    assert_non_null(strstr(c.err, "at exit, an event loop was never freed "
                                  "with 2 tasks unfinished"));
    free(c.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_timeout_thread_pool),
        cmocka_unit_test(test_shutdown_timeout_process_pool),
        cmocka_unit_test(test_shutdown_timeout_cancel_futures),
        cmocka_unit_test(test_shutdown_cancelled_task),
        cmocka_unit_test(test_shutdown_timeout_hammer),
        cmocka_unit_test(test_exit_waits_for_work),
        cmocka_unit_test(test_exit_opt_out_is_loud),
        cmocka_unit_test(test_exit_from_a_worker),
        cmocka_unit_test(test_exit_after_free_is_quiet),
        cmocka_unit_test(test_forked_child_ignores_parent_pools),
        cmocka_unit_test(test_exit_hammer),
        cmocka_unit_test(test_loop_free_with_live_tasks_is_loud),
        cmocka_unit_test(test_abandoned_loop_is_reported_at_exit),
    };

    tu_seed_pick();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
