/* test_pool_failures - worker deaths break a process pool, at every stage:
 * right after creation before any task, during a task (SIGSEGV, _exit(3),
 * killed with SIGKILL by the test, the worker's socket closed), between
 * tasks, inside the initializer, in a loaded pool of several workers and
 * in the middle of cc_map.  Each time, with many futures pending: every
 * future fails with CC_EBROKEN and the message naming the worker and how
 * it ended (or, with several workers, had already succeeded), later
 * submits fail the same way, nothing hangs, and no fd or child is left.
 * So do bogus frames a live worker sends (task code writing to the
 * worker's socket, as memory corruption might): an impossible length or
 * an unknown type at once, a frame that stops arriving after a while. */
#include <sys/resource.h>

#include "process/pool.h"
#include "process/pool_util.h"

enum { PENDING = 60 };

static void *identity(void *arg)
{
    return arg;
}

static void *my_pid(void *arg)
{
    (void)arg;
    return pu_int(getpid());
}

static void *segfault(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    return NULL;
}

static void *exit_3(void *arg)
{
    (void)arg;
    _exit(3);
}

static void *close_socket(void *arg)
{
    (void)arg;
    for (int fd = 3; fd < 64; fd++) /* whatever the worker's socket is */
        close(fd);
    return NULL;
}

static void *gated(void *arg)
{
    if (pu_gate_pass(arg) != 0)
        return cc_fail(EIO, "gate unusable");
    return pu_int(getpid());
}

static void *crash_on_item(void *arg)
{
    if (pu_get(arg) == 77)
        raise(SIGSEGV);
    return arg;
}

/* ----------------------------------------------------------- checking */

/* The message of a pool broken by worker `pid` ending as `how`. */
static void expect_message(const char *msg, pid_t pid, const char *how)
{
    char want[256];

    snprintf(want, sizeof(want), "process pool is broken: worker %d %s",
             (int)pid, how);
    if (strcmp(msg, want) != 0)
        fail_msg("message '%s', expected '%s'", msg, want);
}

/* Every future (NULL: its submit was refused) failed with CC_EBROKEN and
 * the message; a later submit fails the same way. */
static void expect_all_broken(cc_executor *p, cc_future **fs, int n,
                              pid_t pid, const char *how)
{
    for (int i = 0; i < n; i++) {
        if (fs[i] == NULL)
            continue;
        assert_fails_with(cc_future_result(fs[i], NULL, 60), CC_EBROKEN);
        expect_message(cc_errmsg(), pid, how);
        cc_future_free(fs[i]);
    }
    assert_null_with(cc_submit(p, identity, NULL), CC_EBROKEN);
    expect_message(cc_errmsg(), pid, how);
    void *args[3] = {NULL, NULL, NULL};
    void *res[3];
    assert_fails_with(cc_map(p, identity, args, 3, 1, res, 10), CC_EBROKEN);
}

/* Submit n tasks of fn; a refused submit must be CC_EBROKEN. */
static void submit_many(cc_executor *p, cc_fn fn, cc_future **fs, int n)
{
    for (int i = 0; i < n; i++) {
        void *arg = pu_int(i);
        fs[i] = cc_submit(p, fn, arg);
        cc_blob_free(arg);
        if (fs[i] == NULL && errno != CC_EBROKEN)
            fail_msg("submit %d: %s", i, cc_errmsg());
    }
}

#define LEAK_CHECK_BEGIN() char *fds_before_ = pu_fds()
#define LEAK_CHECK_END()                                                   \
    do {                                                                   \
        pu_assert_fds(fds_before_);                                        \
        pu_assert_no_children();                                           \
    } while (0)

/* ------------------------------------------------------------- deaths */

static void test_death_right_after_creation(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    pid_t kids[4];
    assert_int_equal(pu_children(kids, 4), 1);
    assert_int_equal(kill(kids[0], SIGKILL), 0);
    cc_future *fs[PENDING];
    submit_many(p, identity, fs, PENDING);
    expect_all_broken(p, fs, PENDING, kids[0],
                      "was killed by signal 9 (SIGKILL)");
    cc_executor_free(p);
    LEAK_CHECK_END();
}

/* A one-worker pool whose task `fn` ends the worker, PENDING futures
 * queued behind it. */
static void death_in_task(cc_fn fn, const char *how)
{
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *first = cc_submit(p, my_pid, NULL);
    pid_t pid;
    void *r;
    assert_ok(cc_future_result(first, &r, 60));
    pid = (pid_t)pu_get(r);
    cc_future_free(first);
    cc_future *fs[PENDING + 1];
    fs[0] = cc_submit(p, fn, NULL);
    assert_non_null(fs[0]);
    submit_many(p, identity, fs + 1, PENDING);
    expect_all_broken(p, fs, PENDING + 1, pid, how);
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_death_by_sigsegv_in_a_task(void **state)
{
    (void)state;
    death_in_task(segfault, "was killed by signal 11 (SIGSEGV)");
}

static void test_death_by_exit_in_a_task(void **state)
{
    (void)state;
    death_in_task(exit_3, "exited with status 3");
}

static void test_task_closing_the_worker_socket(void **state)
{
    (void)state;
    /* the worker cannot answer and leaves with status 1 */
    death_in_task(close_socket, "exited with status 1");
}

static void test_busy_worker_killed(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    pu_gate *g = pu_gate_new();
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *arg = pu_gate_arg(g);
    cc_future *fs[PENDING + 1];
    fs[0] = cc_submit(p, gated, arg);
    cc_blob_free(arg);
    pid_t pid = pu_gate_wait_started(g);
    submit_many(p, identity, fs + 1, PENDING);
    assert_int_equal(kill(pid, SIGKILL), 0); /* while it runs a task */
    expect_all_broken(p, fs, PENDING + 1, pid,
                      "was killed by signal 9 (SIGKILL)");
    cc_executor_free(p);
    pu_gate_free(g);
    LEAK_CHECK_END();
}

static void test_death_between_tasks(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *f = cc_submit(p, my_pid, NULL);
    void *r;
    assert_ok(cc_future_result(f, &r, 60));
    pid_t pid = (pid_t)pu_get(r);
    cc_future_free(f);
    assert_int_equal(kill(pid, SIGKILL), 0); /* idle, waiting for work */
    tu_jitter(3000);
    cc_future *fs[PENDING];
    submit_many(p, identity, fs, PENDING);
    expect_all_broken(p, fs, PENDING, pid, "was killed by signal 9 (SIGKILL)");
    cc_executor_free(p);
    LEAK_CHECK_END();
}

/* ------------------------------------------------------ bogus frames */

/* In the worker: write a frame header of `len` bytes and `type` to the
 * parent, as task code that corrupted the worker's socket would. */
static int write_header(uint64_t len, uint32_t type)
{
    cc__frame h = {.len = len, .id = 0, .type = type, .status = 0};

    return write(CC__POOL_FD, &h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : -1;
}

/* A length no worker could have built (2^62 bytes); the task goes on. */
static void *impossible_length(void *arg)
{
    (void)arg;
    if (write_header((uint64_t)1 << 62, CC__FR_RESULT) != 0)
        return cc_fail(EIO, "write");
    return NULL;
}

/* A frame type workers never send, whose payload never comes. */
static void *unknown_type(void *arg)
{
    (void)arg;
    if (write_header(1 << 20, 99) != 0)
        return cc_fail(EIO, "write");
    sleep(120); /* the pool breaks (and kills us) long before */
    return NULL;
}

/* A plausible header (1 MiB of RESULT), then nothing while we live. */
static void *half_a_frame(void *arg)
{
    (void)arg;
    if (write_header(1 << 20, CC__FR_RESULT) != 0)
        return cc_fail(EIO, "write");
    sleep(120);
    return NULL;
}

/* A one-worker pool whose second task runs `fn`: that future and PENDING
 * more fail with CC_EBROKEN and "worker <pid> <how>", and a shutdown that
 * waits returns.  (Before the frame checks, the first future stayed
 * pending for ever: it is given 60 s.) */
static void broken_by_frame(cc_fn fn, const char *how)
{
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(1, NULL);
    cc_future *first = cc_submit(p, my_pid, NULL);
    void *r;
    assert_ok(cc_future_result(first, &r, 60));
    pid_t pid = (pid_t)pu_get(r);
    cc_future_free(first);
    cc_future *fs[PENDING + 1];
    fs[0] = cc_submit(p, fn, NULL);
    assert_non_null(fs[0]);
    submit_many(p, identity, fs + 1, PENDING);
    assert_fails_with(cc_future_result(fs[0], NULL, 60), CC_EBROKEN);
    expect_message(cc_errmsg(), pid, how);
    cc_future_free(fs[0]);
    expect_all_broken(p, fs + 1, PENDING, pid, how);
    assert_ok(cc_executor_shutdown(p, true, false));
    pu_assert_no_children();
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_frame_of_impossible_length_breaks_the_pool(void **state)
{
    (void)state;
    broken_by_frame(impossible_length, "sent a frame header claiming "
                    "4611686018427387904 bytes, more than this machine's "
                    "memory and swap");
}

static void test_frame_of_unknown_type_breaks_the_pool(void **state)
{
    (void)state;
    broken_by_frame(unknown_type, "sent a malformed message");
}

/* Takes CC__POOL_STALL_S (5 s): the wait for the rest of the frame. */
static void test_frame_that_stops_arriving_breaks_the_pool(void **state)
{
    (void)state;
    char how[160];
    snprintf(how, sizeof(how), "sent 24 bytes of a %d-byte frame, then "
             "nothing for %d s", (1 << 20) + 24, CC__POOL_STALL_S);
    broken_by_frame(half_a_frame, how);
}

static void *crash_init(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    return NULL;
}

static void test_death_in_the_initializer(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_pool_opts o = {.initializer = crash_init};
    cc_executor *p = cc_process_pool_new(1, &o);
    assert_non_null(p);
    pid_t kids[4];
    int n = pu_children(kids, 4); /* 0 if it already died and was reaped */
    cc_future *fs[PENDING];
    submit_many(p, identity, fs, PENDING);
    for (int i = 0; i < PENDING; i++) {
        if (fs[i] == NULL)
            continue;
        assert_fails_with(cc_future_result(fs[i], NULL, 60), CC_EBROKEN);
        assert_non_null(strstr(cc_errmsg(),
                               "was killed by signal 11 (SIGSEGV)"));
        if (n == 1)
            expect_message(cc_errmsg(), kids[0],
                           "was killed by signal 11 (SIGSEGV)");
        cc_future_free(fs[i]);
    }
    assert_null_with(cc_submit(p, identity, NULL), CC_EBROKEN);
    cc_executor_free(p);
    LEAK_CHECK_END();
}

/* Several workers under load, one task crashes its worker: every future
 * either succeeded before the break or fails with CC_EBROKEN. */
static void test_death_in_a_loaded_pool(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    enum { N = 400 };
    cc_executor *p = cc_process_pool_new(3, NULL);
    cc_future *fs[N];
    int crash_at = 50 + (int)tu_rand_below(300);
    for (int i = 0; i < N; i++) {
        void *arg = pu_int(i == crash_at ? 77 : 1000 + i);
        fs[i] = cc_submit(p, crash_on_item, arg);
        cc_blob_free(arg);
        if (fs[i] == NULL)
            assert_int_equal(errno, CC_EBROKEN);
        if (tu_rand_below(50) == 0)
            tu_jitter(500);
    }
    int ok = 0;
    int broken = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        if (fs[i] == NULL) {
            broken++;
            continue;
        }
        if (cc_future_result(fs[i], &r, 60) == 0) {
            assert_true(i != crash_at);
            assert_int_equal(pu_get(r), 1000 + i);
            ok++;
        } else {
            assert_int_equal(errno, CC_EBROKEN);
            assert_non_null(strstr(cc_errmsg(), "process pool is broken: "
                                                "worker "));
            assert_non_null(strstr(cc_errmsg(),
                                   "was killed by signal 11 (SIGSEGV)"));
            broken++;
        }
        cc_future_free(fs[i]);
    }
    printf("# crash at %d: %d succeeded before the break, %d broken\n",
           crash_at, ok, broken);
    assert_true(broken >= 1);
    assert_int_equal(ok + broken, N);
    assert_null_with(cc_submit(p, identity, NULL), CC_EBROKEN);
    cc_executor_free(p);
    LEAK_CHECK_END();
}

static void test_death_during_map(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    enum { N = 200 };
    cc_executor *p = cc_process_pool_new(2, NULL);
    void *args[N];
    void *res[N];
    for (int i = 0; i < N; i++)
        args[i] = pu_int(i);
    size_t chunk = tu_rand_below(2) ? 1 : CC_CHUNKSIZE_AUTO;
    assert_fails_with(cc_map(p, crash_on_item, args, N, chunk, res, 60),
                      CC_EBROKEN);
    assert_non_null(strstr(cc_errmsg(), "was killed by signal 11 (SIGSEGV)"));
    for (int i = 0; i < N; i++) {
        if (res[i] != NULL)
            assert_int_equal(pu_get(res[i]), i);
        cc_blob_free(res[i]);
        cc_blob_free(args[i]);
    }
    cc_executor_free(p);
    LEAK_CHECK_END();
}

/* shutdown(wait) on a broken pool returns; so does free. */
static void test_shutdown_of_a_broken_pool(void **state)
{
    (void)state;
    LEAK_CHECK_BEGIN();
    cc_executor *p = cc_process_pool_new(2, NULL);
    cc_future *f = cc_submit(p, segfault, NULL);
    assert_fails_with(cc_future_result(f, NULL, 60), CC_EBROKEN);
    cc_future_free(f);
    assert_ok(cc_executor_shutdown(p, true, true));
    pu_assert_no_children();
    cc_executor_free(p);
    LEAK_CHECK_END();
}

int main(void)
{
    /* Workers must die of the signal itself: no core files, and no
     * sanitizer turning SIGSEGV into a report and exit(1). */
    struct rlimit no_core = {0, 0};
    const char *vars[] = {"ASAN_OPTIONS", "TSAN_OPTIONS"};

    setrlimit(RLIMIT_CORE, &no_core);
    for (int i = 0; i < 2; i++) {
        const char *old = getenv(vars[i]);
        char buf[1024];

        snprintf(buf, sizeof(buf), "%s%shandle_segv=0", old ? old : "",
                 old && *old ? ":" : "");
        setenv(vars[i], buf, 1);
    }
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_death_right_after_creation),
        cmocka_unit_test(test_death_by_sigsegv_in_a_task),
        cmocka_unit_test(test_death_by_exit_in_a_task),
        cmocka_unit_test(test_task_closing_the_worker_socket),
        cmocka_unit_test(test_busy_worker_killed),
        cmocka_unit_test(test_death_between_tasks),
        cmocka_unit_test(test_death_in_the_initializer),
        cmocka_unit_test(test_death_in_a_loaded_pool),
        cmocka_unit_test(test_death_during_map),
        cmocka_unit_test(test_shutdown_of_a_broken_pool),
        cmocka_unit_test(test_frame_of_impossible_length_breaks_the_pool),
        cmocka_unit_test(test_frame_of_unknown_type_breaks_the_pool),
        cmocka_unit_test(test_frame_that_stops_arriving_breaks_the_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
