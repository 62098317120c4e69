/* test_popen - a running child: the poll loop, waits with timeouts,
 * deadline scopes and cancellation (a task blocked in cc_popen_wait is
 * cancelled while its loop keeps ticking), many waiters on one child
 * (threads and tasks of two loops, randomized timing), return codes of
 * signals (-15, -9, -10, -6), signalling a child that has ended (0, the
 * code unchanged), the process group of a new session, freeing a live
 * child, and pipelines with CC_FROM: EOF and SIGPIPE travel along them
 * (`yes | head -n 1`: yes ends by SIGPIPE even when we ignore it). */
#include "subprocess/sp_util.h"

static cc_popen *start(const char *const argv[], const cc_popen_opts *o)
{
    cc_popen *p = cc_popen_new(argv, o);
    if (p == NULL)
        fail_msg("cc_popen_new(%s): %s", argv[0], cc_errmsg());
    return p;
}

static int wait_code(cc_popen *p)
{
    int code = -1000;
    if (cc_popen_wait(p, 30, &code) != 0)
        fail_msg("wait: %s", cc_errmsg());
    return code;
}

/* ---- poll and wait ---- */

static void test_poll_loop(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "sleep", "0.2", "exit", "7"), NULL);
    int code = -1, rounds = 0, rc;
    assert_true(cc_popen_pid(p) > 0);
    while ((rc = cc_popen_poll(p, &code)) == 0) {
        rounds++;
        tu_sleep(0.01);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(code, 7);
    assert_true(rounds >= 5);
    /* once ended, always ended, with the same code */
    code = -1;
    assert_int_equal(cc_popen_poll(p, &code), 1);
    assert_int_equal(code, 7);
    assert_int_equal(cc_popen_poll(p, NULL), 1);
    assert_ok(cc_popen_wait(p, 0, &code));
    assert_int_equal(code, 7);
    cc_popen_free(p);
}

static void test_wait_timeout(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "sleep", "30"), NULL);
    int code = 12345;
    assert_fails_with(cc_popen_wait(p, 0, &code), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_popen_wait(p, 0.1, &code), ETIMEDOUT);
    double took = cc_now() - t0;
    /* the child sleeps 30 s */
    assert_true(took >= 0.099 && took < tu_hang_bound(0.1));
    assert_int_equal(code, 12345); /* untouched */
    /* a deadline scope bounds a wait without a timeout */
    assert_ok(cc_deadline_push(0.05));
    assert_fails_with(cc_popen_wait(p, CC_FOREVER, &code), ETIMEDOUT);
    cc_deadline_pop();
    assert_int_equal(cc_popen_poll(p, NULL), 0);
    assert_ok(cc_popen_kill(p));
    assert_int_equal(wait_code(p), -SIGKILL);
    cc_popen_free(p);
}

/* A task blocked in cc_popen_wait is cancelled; the loop ticks meanwhile. */
static _Atomic int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (cc_sleep(0.005) == 0)
        atomic_fetch_add(&ticks, 1);
    return NULL;
}

static void *wait_in_task(void *arg)
{
    int code;
    int rc = cc_popen_wait(arg, CC_FOREVER, &code);
    int e = errno;
    if (rc == -1 && e == ECANCELED) {
        /* cancellation is level-triggered: the next wait fails at once */
        if (cc_popen_wait(arg, 10, &code) == -1 && errno == ECANCELED)
            return cc_fail(ECANCELED, "cancelled, as expected");
        return cc_fail(EPROTO, "second wait did not fail with ECANCELED");
    }
    return cc_fail(EPROTO, "wait returned %d/%s", rc, cc_errname(e));
}

static void *cancel_main(void *arg)
{
    atomic_store(&ticks, 0);
    cc_future *tk = cc_spawn(ticker, NULL);
    cc_future *w = cc_spawn(wait_in_task, arg);
    cc_sleep(0.1 + tu_rand_below(50) / 1000.0);
    int before = atomic_load(&ticks);
    cc_future_cancel(w);
    void *r;
    int rc = cc_future_result(w, &r, 10);
    int e = errno;
    cc_future_cancel(tk);
    cc_future_result(tk, &r, 10);
    cc_future_free(w);
    cc_future_free(tk);
    if (rc != -1 || e != ECANCELED)
        return cc_fail(EPROTO, "waiting task ended %d/%s", rc, cc_errname(e));
    if (before < 5)
        return cc_fail(EPROTO, "the loop stalled: %d ticks", before);
    return arg;
}

static void test_wait_cancelled_in_task(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "sleep", "30"), NULL);
    assert_ok(cc_run(cancel_main, p, NULL));
    assert_int_equal(cc_popen_poll(p, NULL), 0); /* still running */
    assert_ok(cc_popen_terminate(p));
    assert_int_equal(wait_code(p), -SIGTERM);
    cc_popen_free(p);
}

/* Many waiters, threads and tasks on two loops, on children that end at
 * random moments: all see the same code. */
#define ROUNDS 8
#define THREADS 4
#define TASKS 25

typedef struct many {
    cc_popen *p;
    int want;
    _Atomic int ok;
    _Atomic int bad;
} many;

static void *waiter_thread(void *arg)
{
    many *m = arg;
    int code = -1;
    tu_jitter(20000);
    if (cc_popen_wait(m->p, 30, &code) == 0 && code == m->want)
        atomic_fetch_add(&m->ok, 1);
    else
        atomic_fetch_add(&m->bad, 1);
    return arg;
}

static void *waiter_task(void *arg)
{
    many *m = arg;
    int code = -1;
    cc_sleep(tu_rand_below(20) / 1000.0);
    if (cc_popen_wait(m->p, 30, &code) == 0 && code == m->want)
        atomic_fetch_add(&m->ok, 1);
    else
        atomic_fetch_add(&m->bad, 1);
    return arg;
}

static void *tasks_main(void *arg)
{
    cc_future *f[TASKS];
    for (int i = 0; i < TASKS; i++)
        f[i] = cc_spawn(waiter_task, arg);
    cc_gather(f, TASKS, NULL, false, CC_FOREVER);
    for (int i = 0; i < TASKS; i++)
        cc_future_free(f[i]);
    return arg;
}

static void *loop_thread(void *arg)
{
    return cc_run(tasks_main, arg, NULL) == 0 ? arg : NULL;
}

static void test_many_waiters_threads_and_tasks(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        char life[32], code_s[16];
        many m = {.want = round * 3 + 1};
        atomic_init(&m.ok, 0);
        atomic_init(&m.bad, 0);
        snprintf(life, sizeof(life), "%.3f", tu_rand_below(60) / 1000.0);
        snprintf(code_s, sizeof(code_s), "%d", m.want);
        m.p = start(ARGV(HELPER, "sleep", life, "exit", code_s), NULL);
        cc_thread *t[THREADS + 2];
        for (int i = 0; i < THREADS; i++)
            t[i] = cc_thread_start(waiter_thread, &m, "waiter");
        t[THREADS] = cc_thread_start(loop_thread, &m, "loop-a");
        t[THREADS + 1] = cc_thread_start(loop_thread, &m, "loop-b");
        int code = -1;
        while (cc_popen_poll(m.p, &code) == 0)
            tu_jitter(2000);
        assert_int_equal(code, m.want);
        for (int i = 0; i < THREADS + 2; i++) {
            void *r;
            assert_ok(cc_thread_join(t[i], &r, 60));
            assert_non_null(r);
            cc_thread_free(t[i]);
        }
        assert_int_equal(atomic_load(&m.bad), 0);
        assert_int_equal(atomic_load(&m.ok), THREADS + 2 * TASKS);
        cc_popen_free(m.p);
    }
}

/* ---- signals ---- */

static void test_signal_return_codes(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "sleep", "30"), NULL);
    assert_ok(cc_popen_terminate(p));
    assert_int_equal(wait_code(p), -SIGTERM);
    /* ended and reaped: left alone, 0, the code stays */
    assert_ok(cc_popen_terminate(p));
    assert_ok(cc_popen_kill(p));
    assert_ok(cc_popen_send_signal(p, SIGUSR1));
    assert_int_equal(wait_code(p), -SIGTERM);
    cc_popen_free(p);

    p = start(ARGV(HELPER, "sleep", "30"), NULL);
    assert_ok(cc_popen_kill(p));
    assert_int_equal(wait_code(p), -SIGKILL);
    cc_popen_free(p);

    /* a bad signal number is EINVAL, checked before anything is sent
     * (the same rule as cc_process_signal) */
    p = start(ARGV(HELPER, "sleep", "30"), NULL);
    assert_fails_with(cc_popen_send_signal(p, -1), EINVAL);
    assert_fails_with(cc_popen_send_signal(p, NSIG), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "not a signal number"));
    assert_fails_with(cc_popen_signal_group(p, NSIG), EINVAL);
    assert_ok(cc_popen_send_signal(p, 0)); /* just checks */
    assert_ok(cc_popen_send_signal(p, SIGUSR1));
    assert_int_equal(wait_code(p), -SIGUSR1);
    cc_popen_free(p);

    /* a child that kills itself */
    char sig[8];
    snprintf(sig, sizeof(sig), "%d", SIGABRT);
    p = start(ARGV(HELPER, "kill", sig), NULL);
    assert_int_equal(wait_code(p), -SIGABRT);
    cc_popen_free(p);
}

/* A child that has exited but is not reaped yet is not signalled: the
 * signal would be lost anyway, and its code must stay its exit status. */
static void test_signal_after_exit_keeps_code(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "exit", "3"), NULL);
    /* wait until it is a zombie, without reaping it */
    for (int i = 0; i < 3000 && sp_alive(cc_popen_pid(p)); i++)
        tu_sleep(0.001);
    assert_false(sp_alive(cc_popen_pid(p)));
    assert_ok(cc_popen_terminate(p));
    assert_ok(cc_popen_kill(p));
    assert_int_equal(wait_code(p), 3);
    cc_popen_free(p);
}

/* Read one line the child prints on stdout (its grandchild's pid). */
static int read_number(cc_popen *p)
{
    char buf[64];
    size_t n = 0;
    int fd = cc_popen_fd(p, 1);
    assert_true(fd >= 0);
    while (n < sizeof(buf) - 1 && (n == 0 || buf[n - 1] != '\n')) {
        assert_true(cc_wait_fd(fd, CC_READABLE, 10) > 0);
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r < 0 && errno == EAGAIN)
            continue;
        assert_true(r > 0);
        n += (size_t)r;
    }
    buf[n] = '\0';
    return atoi(buf);
}

static bool gone_soon(pid_t pid)
{
    for (int i = 0; i < 2000; i++) {
        if (!sp_alive(pid))
            return true;
        tu_sleep(0.001);
    }
    return false;
}

static void test_signal_group(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .new_session = true};
    cc_popen *p = start(ARGV(HELPER, "grandchild", "30", "sleep", "30"), &o);
    pid_t g = read_number(p);
    assert_true(g > 0);
    assert_true(sp_alive(g));
    assert_int_equal(getpgid(g), cc_popen_pid(p));
    assert_ok(cc_popen_signal_group(p, SIGTERM));
    assert_int_equal(wait_code(p), -SIGTERM);
    assert_true(gone_soon(g));
    /* the group is gone: 0 */
    assert_ok(cc_popen_signal_group(p, SIGTERM));
    cc_popen_free(p);
}

static void test_free_kills_a_running_child(void **state)
{
    (void)state;
    cc_popen *p = start(ARGV(HELPER, "sleep", "30"), NULL);
    pid_t pid = cc_popen_pid(p);
    cc_popen_free(p); /* killed and reaped: the teardown finds no child */
    assert_false(sp_alive(pid));

    /* with new_session, the group goes too */
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .new_session = true};
    p = start(ARGV(HELPER, "grandchild", "30", "sleep", "30"), &o);
    pid_t g = read_number(p);
    cc_popen_free(p);
    assert_true(gone_soon(g));

    /* with pipes open and nothing read */
    o = (cc_popen_opts){.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_PIPE),
                        .err = CC_STDIO(CC_PIPE)};
    p = start(ARGV(HELPER, "write", "1000000"), &o);
    cc_popen_free(p);
}

/* ---- pipelines ---- */

static void test_pipeline_eof_propagates(void **state)
{
    (void)state;
    cc_popen_opts o1 = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *a = start(ARGV("printf", "hello world\\n"), &o1);
    cc_popen_opts o2 = {.in = CC_STDIO_FROM(a), .out = CC_STDIO(CC_PIPE)};
    cc_popen *b = start(ARGV("tr", "a-z", "A-Z"), &o2);
    cc_popen_opts o3 = {.in = CC_STDIO_FROM(b), .out = CC_STDIO(CC_PIPE)};
    cc_popen *c = start(ARGV("wc", "-c"), &o3);
    void *out = NULL;
    int code;
    assert_ok(cc_popen_communicate(c, NULL, 0, 30, &out, NULL, &code));
    assert_int_equal(code, 0);
    assert_int_equal(atoi(sp_text(out)), 12);
    cc_blob_free(out);
    assert_int_equal(wait_code(a), 0);
    assert_int_equal(wait_code(b), 0);
    cc_popen_free(a);
    cc_popen_free(b);
    cc_popen_free(c);

    /* what the middle stage made */
    a = start(ARGV("printf", "abc"), &o1);
    o2.in = CC_STDIO_FROM(a);
    b = start(ARGV("tr", "a-z", "A-Z"), &o2);
    assert_ok(cc_popen_communicate(b, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "ABC");
    cc_blob_free(out);
    assert_int_equal(wait_code(a), 0);
    cc_popen_free(a);
    cc_popen_free(b);

    /* 10 MiB through four helpers: the end of file arrives only if no
     * one else holds a write end */
    a = start(ARGV(HELPER, "write", "10485760"), &o1);
    o2.in = CC_STDIO_FROM(a);
    b = start(ARGV(HELPER, "echo"), &o2);
    o3.in = CC_STDIO_FROM(b);
    c = start(ARGV(HELPER, "echo"), &o3);
    cc_popen_opts o4 = {.in = CC_STDIO_FROM(c), .out = CC_STDIO(CC_PIPE)};
    cc_popen *d = start(ARGV(HELPER, "count"), &o4);
    assert_ok(cc_popen_communicate(d, NULL, 0, 60, &out, NULL, &code));
    assert_string_equal(sp_text(out), "10485760\n");
    cc_blob_free(out);
    assert_int_equal(wait_code(a), 0);
    assert_int_equal(wait_code(b), 0);
    assert_int_equal(wait_code(c), 0);
    cc_popen_free(a);
    cc_popen_free(b);
    cc_popen_free(c);
    cc_popen_free(d);
}

static void test_sigpipe_propagates(void **state)
{
    (void)state;
    /* we ignore SIGPIPE (as Python does); the children must not */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    cc_popen_opts o1 = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *yes = start(ARGV("yes"), &o1);
    cc_popen_opts o2 = {.in = CC_STDIO_FROM(yes), .out = CC_STDIO(CC_PIPE)};
    cc_popen *head = start(ARGV("head", "-n", "1"), &o2);
    void *out = NULL;
    int code;
    assert_ok(cc_popen_communicate(head, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "y\n");
    assert_int_equal(code, 0);
    cc_blob_free(out);
    assert_int_equal(wait_code(yes), -SIGPIPE);
    cc_popen_free(yes);
    cc_popen_free(head);
    sigaction(SIGPIPE, &old, NULL);

    /* the same with the helper writing 100 MB into `head -c 10` */
    yes = start(ARGV(HELPER, "write", "100000000"), &o1);
    o2.in = CC_STDIO_FROM(yes);
    head = start(ARGV("head", "-c", "10"), &o2);
    assert_ok(cc_popen_communicate(head, NULL, 0, 30, &out, NULL, &code));
    assert_int_equal(cc_blob_len(out), 10);
    assert_true(sp_is_pattern(out, 10));
    cc_blob_free(out);
    assert_int_equal(wait_code(yes), -SIGPIPE);
    cc_popen_free(yes);
    cc_popen_free(head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SP_TEST(test_poll_loop),
        SP_TEST(test_wait_timeout),
        SP_TEST(test_wait_cancelled_in_task),
        SP_TEST(test_many_waiters_threads_and_tasks),
        SP_TEST(test_signal_return_codes),
        SP_TEST(test_signal_after_exit_keeps_code),
        SP_TEST(test_signal_group),
        SP_TEST(test_free_kills_a_running_child),
        SP_TEST(test_pipeline_eof_propagates),
        SP_TEST(test_sigpipe_propagates),
    };
    return cmocka_run_group_tests(tests, sp_group_setup, NULL);
}
