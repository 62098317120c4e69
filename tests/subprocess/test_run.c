/* test_run - cc_subprocess_run and cc_subprocess_shell: capture_output,
 * stderr_to_stdout, input, timeouts (the child killed and reaped,
 * ETIMEDOUT with the partial output, a prompt return even when a
 * grandchild holds the pipe; with new_session the grandchild dies too),
 * deadline scopes, a cancelled task, check (exit status and signal
 * messages, a long command cut), exec failures, bad arguments, and runs
 * from many tasks at once. */
#include "subprocess/sp_util.h"

static void test_capture_output(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.capture_output = true};
    assert_ok(cc_subprocess_run(ARGV(HELPER, "out", "O", "err", "E", "exit",
                                     "3"), &o, &r));
    assert_int_equal(r.returncode, 3);
    assert_string_equal(sp_text(r.out), "O");
    assert_string_equal(sp_text(r.err), "E");
    cc_completed_free(&r);
    assert_null(r.out);
    assert_null(r.err);

    /* not captured: NULL */
    o = (cc_run_opts){.popen.out = CC_STDIO(CC_DEVNULL)};
    assert_ok(cc_subprocess_run(ARGV(HELPER, "out", "x"), &o, &r));
    assert_null(r.out);
    assert_null(r.err);
    assert_int_equal(r.returncode, 0);
    cc_completed_free(&r);
    /* opts NULL: everything inherited */
    assert_ok(cc_subprocess_run(ARGV(HELPER, "exit", "5"), NULL, &r));
    assert_int_equal(r.returncode, 5);
    cc_completed_free(&r);
    cc_completed_free(NULL);
}

static void test_stderr_to_stdout(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.capture_output = true, .stderr_to_stdout = true};
    assert_ok(cc_subprocess_run(ARGV(HELPER, "out", "1", "err", "2", "out",
                                     "3", "err", "4"), &o, &r));
    assert_string_equal(sp_text(r.out), "1234");
    assert_null(r.err);
    cc_completed_free(&r);

    /* without capturing: both where stdout goes */
    FILE *f = tmpfile();
    int fd = fileno(f);
    o = (cc_run_opts){.popen.out = CC_STDIO_FD(fd), .stderr_to_stdout = true};
    assert_ok(cc_subprocess_run(ARGV(HELPER, "out", "a", "err", "b"), &o, &r));
    char buf[8] = "";
    assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 2);
    assert_string_equal(buf, "ab");
    cc_completed_free(&r);
    fclose(f);
}

static void test_input(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.capture_output = true, .input = "hello", .input_len = 5};
    assert_ok(cc_subprocess_run(ARGV(HELPER, "echo"), &o, &r));
    assert_string_equal(sp_text(r.out), "hello");
    cc_completed_free(&r);

    /* empty input: a pipe closed at once */
    o.input = "";
    o.input_len = 0;
    assert_ok(cc_subprocess_run(ARGV(HELPER, "count"), &o, &r));
    assert_string_equal(sp_text(r.out), "0\n");
    cc_completed_free(&r);

    /* no input: stdin as popen.in says */
    o.input = NULL;
    o.popen.in = CC_STDIO(CC_DEVNULL);
    assert_ok(cc_subprocess_run(ARGV(HELPER, "count"), &o, &r));
    assert_string_equal(sp_text(r.out), "0\n");
    cc_completed_free(&r);

    /* 8 MiB in and out */
    size_t n = 8u << 20;
    unsigned char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = sp_pattern(i);
    o = (cc_run_opts){.capture_output = true, .input = in, .input_len = n};
    assert_ok(cc_subprocess_run(ARGV("cat"), &o, &r));
    assert_int_equal(cc_blob_len(r.out), n);
    assert_true(sp_is_pattern(r.out, n));
    cc_completed_free(&r);
    free(in);
}

/* ---- timeouts ---- */

static void test_timeout_kills_and_reaps(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.capture_output = true, .timeout = 0.3};
    double t0 = cc_now();
    assert_fails_with(cc_subprocess_run(ARGV(HELPER, "out", "partial", "err",
                                             "e", "sleep", "10"), &o, &r),
                      ETIMEDOUT);
    double took = cc_now() - t0;
    /* the child sleeps 10 s: a run that waited for it is caught */
    assert_true(took >= 0.29 && took < tu_hang_bound(0.3));
    assert_string_equal(cc_errmsg(),
                        "Command '[" HELPER ", out, partial, err, e, sleep, "
                        "10]' timed out after 0.3 seconds");
    assert_int_equal(r.returncode, -SIGKILL);
    assert_string_equal(sp_text(r.out), "partial");
    assert_string_equal(sp_text(r.err), "e");
    cc_completed_free(&r);
    /* (reaped: the teardown finds no child) */

    /* a deadline scope works the same */
    assert_ok(cc_deadline_push(0.2));
    o.timeout = 0;
    assert_fails_with(cc_subprocess_run(ARGV(HELPER, "sleep", "10"), &o, &r),
                      ETIMEDOUT);
    cc_deadline_pop();
    assert_non_null(strstr(cc_errmsg(), "deadline scope"));
    assert_int_equal(r.returncode, -SIGKILL);
    cc_completed_free(&r);

    /* ended in time: no timeout */
    o.timeout = 10;
    assert_ok(cc_subprocess_run(ARGV(HELPER, "out", "quick"), &o, &r));
    assert_string_equal(sp_text(r.out), "quick");
    cc_completed_free(&r);
}

/* A grandchild that keeps stdout open does not hold the run up. */
static void test_timeout_with_a_grandchild_holding_the_pipe(void **state)
{
    (void)state;
    cc_completed r;
    /* with new_session: the whole group is killed */
    cc_run_opts o = {.capture_output = true, .timeout = 0.5,
                     .popen.new_session = true};
    double t0 = cc_now();
    assert_fails_with(cc_subprocess_shell("sleep 100 & echo $!", &o, &r),
                      ETIMEDOUT);
    double took = cc_now() - t0;
    printf("# new_session run with a grandchild: returned after %.3f s\n",
           took);
    /* a run held up by the grandchild's pipe would take its 100 s */
    assert_true(took < tu_hang_bound(0.5));
    assert_int_equal(r.returncode, 0); /* the shell itself had ended */
    pid_t g = atoi(sp_text(r.out));
    assert_true(g > 0);
    for (int i = 0; i < 2000 && sp_alive(g); i++)
        tu_sleep(0.001);
    assert_false(sp_alive(g));
    cc_completed_free(&r);

    /* without: the grandchild lives on, the run returns all the same */
    o.popen.new_session = false;
    t0 = cc_now();
    assert_fails_with(cc_subprocess_shell("sleep 100 & echo $!", &o, &r),
                      ETIMEDOUT);
    took = cc_now() - t0;
    assert_true(took < tu_hang_bound(0.5));
    g = atoi(sp_text(r.out));
    assert_true(g > 0 && sp_alive(g));
    kill(g, SIGKILL); /* not our child: init reaps it */
    cc_completed_free(&r);
}

/* A task running cc_subprocess_run is cancelled: the child is killed and
 * reaped, and what it printed is in the result. */
static char cancel_msg[4096]; /* quotes the helper's whole path */

static void *run_task(void *arg)
{
    cc_completed *r = arg;
    cc_run_opts o = {.capture_output = true};
    if (cc_subprocess_run(ARGV(HELPER, "out", "before", "sleep", "10"), &o,
                          r) == -1 && errno == ECANCELED) {
        snprintf(cancel_msg, sizeof(cancel_msg), "%s", cc_errmsg());
        return NULL; /* ends CANCELLED */
    }
    return cc_fail(EPROTO, "run was not cancelled: %s", cc_errmsg());
}

static _Atomic int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (cc_sleep(0.005) == 0)
        atomic_fetch_add(&ticks, 1);
    return NULL;
}

static void *cancel_main(void *arg)
{
    atomic_store(&ticks, 0);
    cc_future *tk = cc_spawn(ticker, NULL);
    cc_future *t = cc_spawn(run_task, arg);
    cc_sleep(0.2);
    double t0 = cc_now();
    cc_future_cancel(t);
    void *res;
    int rc = cc_future_result(t, &res, 10);
    int e = errno;
    double took = cc_now() - t0;
    bool msg_ok = strstr(cancel_msg, "was cancelled") != NULL;
    cc_future_cancel(tk);
    cc_future_result(tk, &res, 10);
    cc_future_free(t);
    cc_future_free(tk);
    if (rc != -1 || e != ECANCELED || !msg_ok)
        return cc_fail(EPROTO, "task ended %d/%s ('%s')", rc, cc_errname(e),
                       cancel_msg);
    /* the child sleeps 10 s: a cancel that waited for it is caught */
    if (took > tu_hang_bound(0))
        return cc_fail(EPROTO, "cancellation took %.3f s", took);
    /* a ticker every 5 ms: ~40 ticks in the 0.2 s before the cancel on a
     * free loop, a few on a busy machine; a loop held by the run, none */
    if (atomic_load(&ticks) < 3)
        return cc_fail(EPROTO, "the loop stalled: %d ticks",
                       atomic_load(&ticks));
    return arg;
}

static void test_cancelled_task_kills_the_child(void **state)
{
    (void)state;
    cc_completed r = {0};
    assert_ok(cc_run(cancel_main, &r, NULL));
    assert_int_equal(r.returncode, -SIGKILL);
    assert_string_equal(sp_text(r.out), "before");
    cc_completed_free(&r);
}

/* ---- check ---- */

static void test_check(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.check = true};
    assert_fails_with(cc_subprocess_run(ARGV("false"), &o, &r),
                      CC_ECALLEDPROCESS);
    /* Its own code: not ECHILD ("No child processes"), and so named. */
    assert_int_not_equal(errno, ECHILD);
    assert_string_equal(cc_errname(errno), "CC_ECALLEDPROCESS");
    assert_true(cc_error_is(cc_last_error(), CC_ECALLEDPROCESS));
    assert_string_equal(cc_errmsg(),
                        "Command '[false]' returned non-zero exit status 1.");
    assert_int_equal(r.returncode, 1);
    cc_completed_free(&r);

    o.capture_output = true;
    assert_fails_with(cc_subprocess_run(ARGV("ls", "/nonexistent-dir"), &o,
                                        &r), CC_ECALLEDPROCESS);
    assert_string_equal(cc_errmsg(), "Command '[ls, /nonexistent-dir]' "
                                     "returned non-zero exit status 2.");
    assert_true(cc_blob_len(r.err) > 0); /* filled even so */
    cc_completed_free(&r);

    assert_fails_with(cc_subprocess_run(ARGV("sh", "-c", "kill -TERM $$"), &o,
                                        &r), CC_ECALLEDPROCESS);
    assert_string_equal(cc_errmsg(),
                        "Command '[sh, -c, kill -TERM $$]' died with SIGTERM.");
    assert_int_equal(r.returncode, -SIGTERM);
    cc_completed_free(&r);

    assert_ok(cc_subprocess_run(ARGV("true"), &o, &r));
    cc_completed_free(&r);

    /* a long command is cut */
    const char *argv[102];
    argv[0] = "false";
    for (int i = 1; i < 101; i++)
        argv[i] = "an-argument";
    argv[101] = NULL;
    assert_fails_with(cc_subprocess_run(argv, &o, &r), CC_ECALLEDPROCESS);
    assert_true(strncmp(cc_errmsg(), "Command '[false, an-argument", 28) == 0);
    assert_non_null(strstr(cc_errmsg(),
                           "...]' returned non-zero exit status 1."));
    cc_completed_free(&r);
}

/* A child reaped behind the run's back (SIGCHLD ignored: the kernel reaps
 * it, before or after cc_popen_new opened its pidfd) is ESRCH, never
 * confused with a checked failure (CC_ECALLEDPROCESS). */
static void test_child_reaped_elsewhere_is_esrch(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    cc_completed r;
    cc_run_opts o = {.check = true};
    assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
    int rc = cc_subprocess_run(ARGV("true"), &o, &r);
    int e = errno;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", cc_errmsg());
    assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
    assert_int_equal(rc, -1);
    assert_int_equal(e, ESRCH);
    /* reaped before its pidfd was open, or after: both say so */
    assert_non_null(strstr(msg, "reaped by someone else"));
    cc_completed_free(&r);
}

static void test_shell(void **state)
{
    (void)state;
    cc_completed r;
    cc_run_opts o = {.capture_output = true};
    assert_ok(cc_subprocess_shell("echo hi; echo err >&2; exit 2", &o, &r));
    assert_string_equal(sp_text(r.out), "hi\n");
    assert_string_equal(sp_text(r.err), "err\n");
    assert_int_equal(r.returncode, 2);
    cc_completed_free(&r);
    o.check = true;
    assert_fails_with(cc_subprocess_shell("exit 3", &o, &r),
                      CC_ECALLEDPROCESS);
    assert_string_equal(cc_errmsg(), "Command '[/bin/sh, -c, exit 3]' "
                                     "returned non-zero exit status 3.");
    cc_completed_free(&r);
    assert_fails_with(cc_subprocess_shell(NULL, &o, &r), EINVAL);
}

static void test_failures_and_bad_arguments(void **state)
{
    (void)state;
    cc_completed r = {.returncode = 99};
    assert_fails_with(cc_subprocess_run(ARGV("cc-no-such-program"), NULL, &r),
                      ENOENT);
    assert_string_equal(cc_errmsg(), "cannot run 'cc-no-such-program': No "
                                     "such file or directory");
    assert_int_equal(r.returncode, 0);
    assert_null(r.out);

    cc_run_opts o = {0};
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, NULL), EINVAL);
    assert_fails_with(cc_subprocess_run(NULL, &o, &r), EINVAL);
    o.timeout = NAN;
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, &r), EINVAL);
    o = (cc_run_opts){.input = NULL, .input_len = 3};
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, &r), EINVAL);
    o = (cc_run_opts){.capture_output = true,
                      .popen.out = CC_STDIO(CC_DEVNULL)};
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, &r), EINVAL);
    o = (cc_run_opts){.input = "x", .input_len = 1,
                      .popen.in = CC_STDIO(CC_DEVNULL)};
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, &r), EINVAL);
    o = (cc_run_opts){.stderr_to_stdout = true,
                      .popen.err = CC_STDIO(CC_DEVNULL)};
    assert_fails_with(cc_subprocess_run(ARGV("true"), &o, &r), EINVAL);
    cc_completed_free(&r);
}

/* Runs from many tasks and threads at once, each with its own output. */
#define TASKS 12

/* Runs of one loop inside cc_subprocess_run at once (its tasks all run
 * on the loop's thread): the most seen tells overlapping runs, the point
 * of the test, from runs one after another, whatever the clock says. */
static __thread int runs_inside, most_inside;

static void *one_run(void *arg)
{
    char word[32];
    snprintf(word, sizeof(word), "run-%d", (int)(intptr_t)arg);
    cc_completed r;
    cc_run_opts o = {.capture_output = true, .input = word,
                     .input_len = strlen(word), .timeout = 30};
    cc_sleep(tu_rand_below(10) / 1000.0);
    if (++runs_inside > most_inside)
        most_inside = runs_inside;
    int rc = cc_subprocess_run(ARGV(HELPER, "sleep", "0.05", "echo"), &o, &r);
    runs_inside--;
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "run %s", word);
    bool ok = strcmp(sp_text(r.out), word) == 0 && r.returncode == 0;
    cc_completed_free(&r);
    return ok ? arg : cc_fail(EPROTO, "wrong output for %s", word);
}

static void *many_main(void *arg)
{
    cc_future *f[TASKS];
    runs_inside = most_inside = 0;
    for (int i = 0; i < TASKS; i++)
        f[i] = cc_spawn(one_run, (void *)(intptr_t)(i + 1));
    double t0 = cc_now();
    int rc = cc_gather(f, TASKS, NULL, false, CC_FOREVER);
    double took = cc_now() - t0;
    for (int i = 0; i < TASKS; i++)
        cc_future_free(f[i]);
    printf("# %d runs of 50 ms each in tasks of one loop: %.3f s, up to %d "
           "at once\n", TASKS, took, most_inside);
    if (rc != 0)
        return NULL;
    /* they overlapped: one run blocking the loop would keep the others
     * from starting until it ended (one at a time) */
    return most_inside >= 2 ? arg : NULL;
}

static void *loop_thread(void *arg)
{
    void *res = NULL;
    if (cc_run(many_main, arg, &res) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "loop");
    return res;
}

static void test_runs_in_tasks_overlap(void **state)
{
    (void)state;
    cc_thread *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = cc_thread_start(loop_thread, &t, "loop");
    for (int i = 0; i < 2; i++) {
        void *res;
        if (cc_thread_join(t[i], &res, 60) != 0)
            fail_msg("loop %d: %s", i, cc_errmsg());
        assert_non_null(res);
        cc_thread_free(t[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SP_TEST(test_capture_output),
        SP_TEST(test_stderr_to_stdout),
        SP_TEST(test_input),
        SP_TEST(test_timeout_kills_and_reaps),
        SP_TEST(test_timeout_with_a_grandchild_holding_the_pipe),
        SP_TEST(test_cancelled_task_kills_the_child),
        SP_TEST(test_check),
        SP_TEST(test_child_reaped_elsewhere_is_esrch),
        SP_TEST(test_shell),
        SP_TEST(test_failures_and_bad_arguments),
        SP_TEST(test_runs_in_tasks_overlap),
    };
    return cmocka_run_group_tests(tests, sp_group_setup, NULL);
}
