/* test_exit_rule - cc_executor_shutdown_timeout (EAGAIN, ETIMEDOUT, a later
 * call waiting again, nothing lost, cancellation of the calling task). */
#include <fcntl.h>
#include <math.h>

#include "concur/aio.h"
#include "test_util.h"

static char out_path[64]; /* the file tasks append their lines to */

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

/* process pool task: arg is the path (a blob string); sleep 150 ms */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_timeout_thread_pool),
        cmocka_unit_test(test_shutdown_timeout_process_pool),
        cmocka_unit_test(test_shutdown_timeout_cancel_futures),
        cmocka_unit_test(test_shutdown_cancelled_task),
    };

    tu_seed_pick();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
