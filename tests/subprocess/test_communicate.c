/* test_communicate - cc_popen_communicate: 64 MiB into stdin and out of
 * stdout and stderr at once (tee: a deadlock if any pipe is left to
 * fill), a timeout and then a second call that collects the rest, with
 * the partial output visible meanwhile and the unsent input kept (copied),
 * timeout 0, deadline scopes, a task cancelled in the middle, a child
 * that never reads its input (EPIPE is no error, and no SIGPIPE reaches
 * us), EBUSY for a concurrent call, a grandchild holding the pipe after
 * its parent ended.  (64 MiB inside a coroutine: test_communicate_loop.) */
#include "subprocess/sp_util.h"

static cc_popen *start(const char *const argv[], const cc_popen_opts *o)
{
    cc_popen *p = cc_popen_new(argv, o);
    if (p == NULL)
        fail_msg("cc_popen_new(%s): %s", argv[0], cc_errmsg());
    return p;
}

static const cc_popen_opts all_pipes = {
    .in = {CC_PIPE, -1, NULL}, .out = {CC_PIPE, -1, NULL},
    .err = {CC_PIPE, -1, NULL}};

#define BIG (64u << 20)

/* ---- sizes ---- */

static void test_64_mib_in_and_out_of_all_three_pipes(void **state)
{
    (void)state;
    unsigned char *in = sp_noise(BIG, tu_seed());
    /* tee copies stdin to stdout and to stderr, a piece at a time: it
     * blocks as soon as either output pipe is full */
    cc_popen *p = start(ARGV("tee", "/dev/stderr"), &all_pipes);
    void *out = NULL, *err = NULL;
    int code = -1;
    double t0 = cc_now();
    assert_ok(cc_popen_communicate(p, in, BIG, 120, &out, &err, &code));
    printf("# 64 MiB in, 2 x 64 MiB out through tee: %.2f s\n",
           cc_now() - t0);
    assert_int_equal(code, 0);
    assert_int_equal(cc_blob_len(out), BIG);
    assert_int_equal(cc_blob_len(err), BIG);
    assert_true(memcmp(out, in, BIG) == 0);
    assert_true(memcmp(err, in, BIG) == 0);
    cc_blob_free(out);
    cc_blob_free(err);
    cc_popen_free(p);
    free(in);
}

static void test_large_stdout_and_stderr_without_input(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .err = CC_STDIO(CC_PIPE)};
    /* stderr is written only after all of stdout: both must be drained */
    cc_popen *p = start(ARGV(HELPER, "write", "20000000", "ewrite",
                             "30000000", "exit", "9"), &o);
    void *out = NULL, *err = NULL;
    int code;
    assert_ok(cc_popen_communicate(p, NULL, 0, 60, &out, &err, &code));
    assert_int_equal(code, 9);
    assert_int_equal(cc_blob_len(out), 20000000);
    assert_int_equal(cc_blob_len(err), 30000000);
    assert_true(sp_is_pattern(out, 20000000));
    assert_true(sp_is_pattern(err, 30000000));
    cc_blob_free(out);
    cc_blob_free(err);
    cc_popen_free(p);

    /* out and err NULL: read and thrown away */
    p = start(ARGV(HELPER, "write", "3000000", "ewrite", "3000000"), &o);
    assert_ok(cc_popen_communicate(p, NULL, 0, 60, NULL, NULL, &code));
    assert_int_equal(code, 0);
    cc_popen_free(p);
}

static void test_no_pipes_just_waits(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_DEVNULL)};
    cc_popen *p = start(ARGV(HELPER, "out", "x", "exit", "4"), &o);
    void *out = (void *)1, *err = (void *)1;
    int code;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, &err, &code));
    assert_null(out);
    assert_null(err);
    assert_int_equal(code, 4);
    /* and again, after success: nothing more, the same code */
    code = 0;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, &err, &code));
    assert_int_equal(code, 4);
    cc_popen_free(p);

    o.out = CC_STDIO(CC_PIPE);
    p = start(ARGV(HELPER, "out", "once"), &o);
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "once");
    cc_blob_free(out);
    out = (void *)1;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_null(out); /* the pipe is closed now */
    cc_popen_free(p);
}

/* ---- giving up and going on ---- */

static void test_timeout_then_collect_the_rest(void **state)
{
    (void)state;
    /* the rest comes after 2 s: the looks below, which must find it not
     * there yet, have that long even on a busy machine */
    cc_popen *p = start(ARGV(HELPER, "out", "AAA", "ewrite", "5", "sleep",
                             "2", "out", "BBB"), &all_pipes);
    void *out = NULL, *err = NULL;
    int code = -1;
    size_t len;

    double t0 = cc_now();
    assert_fails_with(cc_popen_communicate(p, NULL, 0, 0.15, &out, &err,
                                           &code), ETIMEDOUT);
    double took = cc_now() - t0;
    /* the child answers the rest after 2 s: a timeout that did not fire
     * would have collected it (no ETIMEDOUT above) */
    assert_true(took >= 0.149 && took < tu_hang_bound(0.15));
    assert_null(out);
    assert_int_equal(code, -1);
    const char *part = cc_popen_partial(p, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(part, "AAA", 3);
    part = cc_popen_partial(p, 2, &len);
    assert_int_equal(len, 5);
    assert_true(sp_is_pattern(part, 5));
    /* timeout 0: one look, EAGAIN */
    assert_fails_with(cc_popen_communicate(p, NULL, 0, 0, &out, &err, &code),
                      EAGAIN);
    /* a deadline scope gives ETIMEDOUT */
    assert_ok(cc_deadline_push(0.01));
    assert_fails_with(cc_popen_communicate(p, NULL, 0, CC_FOREVER, &out, &err,
                                           &code), ETIMEDOUT);
    cc_deadline_pop();
    /* then everything, from the start */
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, &err, &code));
    assert_string_equal(sp_text(out), "AAABBB");
    assert_int_equal(cc_blob_len(err), 5);
    assert_int_equal(code, 0);
    assert_null(cc_popen_partial(p, 1, &len));
    assert_int_equal(len, 0);
    cc_blob_free(out);
    cc_blob_free(err);
    cc_popen_free(p);
}

/* The input not yet written is copied when a call gives up: the caller's
 * buffer may go, and a later call (whose own input is ignored) sends the
 * rest. */
static void test_timeout_keeps_the_unsent_input(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    unsigned char *in = sp_noise(n, 7);
    unsigned char *want = malloc(n);
    memcpy(want, in, n);
    cc_popen *p = start(ARGV(HELPER, "sleep", "0.5", "echo"), &all_pipes);
    void *out = NULL;
    int code;
    assert_fails_with(cc_popen_communicate(p, in, n, 0.1, &out, NULL, &code),
                      ETIMEDOUT);
    memset(in, 0xAB, n); /* the caller reuses its buffer */
    assert_ok(cc_popen_communicate(p, "ignored", 7, 30, &out, NULL, &code));
    assert_int_equal(cc_blob_len(out), n);
    assert_true(memcmp(out, want, n) == 0);
    cc_blob_free(out);
    cc_popen_free(p);
    free(in);
    free(want);
}

/* Many short timeouts in a row: nothing lost, nothing doubled. */
static void test_tiny_timeouts_lose_nothing(void **state)
{
    (void)state;
    size_t n = 8u << 20;
    unsigned char *in = sp_noise(n, 11);
    cc_popen *p = start(ARGV("tee", "/dev/stderr"), &all_pipes);
    void *out = NULL, *err = NULL;
    int code, fails = 0, rc;
    while ((rc = cc_popen_communicate(p, fails == 0 ? in : NULL,
                                      fails == 0 ? n : 0,
                                      tu_rand_below(3) / 1000.0, &out, &err,
                                      &code)) != 0) {
        assert_true(errno == ETIMEDOUT || errno == EAGAIN);
        fails++;
        if (fails == 1)
            memset(in, 0, n); /* from here on only the kept copy counts */
    }
    printf("# %d calls timed out before the end\n", fails);
    assert_true(fails > 3);
    unsigned char *want = sp_noise(n, 11);
    assert_int_equal(cc_blob_len(out), n);
    assert_int_equal(cc_blob_len(err), n);
    assert_true(memcmp(out, want, n) == 0);
    assert_true(memcmp(err, want, n) == 0);
    cc_blob_free(out);
    cc_blob_free(err);
    cc_popen_free(p);
    free(in);
    free(want);
}

/* A task cancelled in the middle: ECANCELED, the output so far kept; a
 * thread collects the rest afterwards. */
static void *communicate_task(void *arg)
{
    void *out = NULL;
    int code;
    if (cc_popen_communicate(arg, NULL, 0, CC_FOREVER, &out, NULL, &code) ==
            -1 && errno == ECANCELED)
        return cc_fail(ECANCELED, "cancelled");
    cc_blob_free(out);
    return cc_fail(EPROTO, "communicate was not cancelled");
}

static void *cancel_main(void *arg)
{
    cc_future *t = cc_spawn(communicate_task, arg);
    cc_sleep(0.1);
    cc_future_cancel(t);
    void *r;
    int rc = cc_future_result(t, &r, 10);
    int e = errno;
    cc_future_free(t);
    if (rc != -1 || e != ECANCELED)
        return cc_fail(EPROTO, "task ended %d/%s", rc, cc_errname(e));
    return arg;
}

static void test_cancelled_task_keeps_the_output(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *p = start(ARGV(HELPER, "out", "first", "sleep", "1", "out",
                             "second"), &o);
    assert_ok(cc_run(cancel_main, p, NULL));
    size_t len;
    const char *part = cc_popen_partial(p, 1, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(part, "first", 5);
    void *out = NULL;
    int code;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "firstsecond");
    cc_blob_free(out);
    cc_popen_free(p);
}

/* ---- the child does not want the input ---- */

static void test_child_not_reading_is_not_an_error(void **state)
{
    (void)state;
    /* SIGPIPE has its default action here (sp_group_setup): a SIGPIPE
     * reaching this process would end the test run. */
    size_t n = 10u << 20;
    unsigned char *in = sp_noise(n, 3);
    void *out = NULL;
    int code;
    cc_popen *p = start(ARGV(HELPER, "closein", "out", "done"), &all_pipes);
    assert_ok(cc_popen_communicate(p, in, n, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "done");
    assert_int_equal(code, 0);
    cc_blob_free(out);
    cc_popen_free(p);

    p = start(ARGV(HELPER, "exit", "2"), &all_pipes);
    assert_ok(cc_popen_communicate(p, in, n, 30, &out, NULL, &code));
    assert_int_equal(code, 2);
    cc_blob_free(out);
    cc_popen_free(p);

    /* the child reads part, then leaves */
    p = start(ARGV("head", "-c", "1000"), &all_pipes);
    assert_ok(cc_popen_communicate(p, in, n, 30, &out, NULL, &code));
    assert_int_equal(cc_blob_len(out), 1000);
    assert_memory_equal(out, in, 1000);
    cc_blob_free(out);
    cc_popen_free(p);
    free(in);
}

/* ---- one at a time ---- */

typedef struct busy_arg {
    cc_popen *p;
    _Atomic int state; /* 1 once the first call is under way */
} busy_arg;

static void *long_communicate(void *arg)
{
    busy_arg *b = arg;
    void *out = NULL;
    int code;
    atomic_store(&b->state, 1);
    if (cc_popen_communicate(b->p, NULL, 0, 30, &out, NULL, &code) != 0)
        return NULL;
    bool ok = strcmp(sp_text(out), "late") == 0;
    cc_blob_free(out);
    return ok ? arg : NULL;
}

static void test_concurrent_communicate_is_ebusy(void **state)
{
    (void)state;
    /* The first call must be under way before the second: it says so just
     * before calling, and gets 0.3 s to get in (a loaded machine's
     * scheduling delay is far less); the child outlives both checks by
     * 1.7 s for the same reason. */
    busy_arg b = {.p = start(ARGV(HELPER, "sleep", "2", "out", "late"),
                             &all_pipes)};
    atomic_init(&b.state, 0);
    cc_thread *t = cc_thread_start(long_communicate, &b, "first");
    while (atomic_load(&b.state) == 0)
        tu_sleep(0.001);
    tu_sleep(0.3);
    assert_fails_with(cc_popen_communicate(b.p, NULL, 0, 1, NULL, NULL, NULL),
                      EBUSY);
    assert_fails_with(cc_popen_close_fd(b.p, 1), EBUSY);
    int code = -1;
    assert_ok(cc_popen_wait(b.p, 30, &code)); /* waiting is fine */
    void *r;
    assert_ok(cc_thread_join(t, &r, 30));
    assert_non_null(r);
    cc_thread_free(t);
    cc_popen_free(b.p);
}

/* ---- a grandchild holds the pipe ---- */

static void test_grandchild_holding_the_pipe(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .new_session = true};
    cc_popen *p = cc_popen_shell("sleep 100 & echo started", &o);
    assert_non_null(p);
    void *out = NULL;
    int code = -1;
    double t0 = cc_now();
    assert_fails_with(cc_popen_communicate(p, NULL, 0, 0.5, &out, NULL,
                                           &code), ETIMEDOUT);
    double took = cc_now() - t0;
    printf("# communicate with a grandchild holding stdout: gave up after "
           "%.3f s\n", took);
    /* held by the grandchild's pipe it would take its 100 s */
    assert_true(took < tu_hang_bound(0.5));
    size_t len;
    const char *part = cc_popen_partial(p, 1, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(part, "started\n", 8);
    /* the shell itself has ended; its sleep lives on in the group */
    assert_int_equal(cc_popen_poll(p, &code), 1);
    assert_int_equal(code, 0);
    assert_ok(cc_popen_signal_group(p, SIGKILL));
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "started\n");
    cc_blob_free(out);
    cc_popen_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SP_TEST(test_64_mib_in_and_out_of_all_three_pipes),
        SP_TEST(test_large_stdout_and_stderr_without_input),
        SP_TEST(test_no_pipes_just_waits),
        SP_TEST(test_timeout_then_collect_the_rest),
        SP_TEST(test_timeout_keeps_the_unsent_input),
        SP_TEST(test_tiny_timeouts_lose_nothing),
        SP_TEST(test_cancelled_task_keeps_the_output),
        SP_TEST(test_child_not_reading_is_not_an_error),
        SP_TEST(test_concurrent_communicate_is_ebusy),
        SP_TEST(test_grandchild_holding_the_pipe),
    };
    return cmocka_run_group_tests(tests, sp_group_setup, NULL);
}
