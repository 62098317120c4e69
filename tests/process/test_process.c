/* test_process - cc_process: start, join, exit codes, names, is_alive,
 * signals, a failing child's report, _exit semantics, joins from tasks
 * (with ticking neighbours, timeouts and cancellation), many processes
 * joined from many threads and tasks at once, freeing a live process, and
 * a child started from inside a coroutine that runs a loop of its own. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "test_util.h"

/* No child may be left behind by a test: not running, not a zombie. */
static void assert_no_children(void)
{
    errno = 0;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
        fail_msg("a child process is left over (waitpid: %s)",
                 cc_errname(errno));
}

/* ---- shapes of children ---- */

static void *return_arg(void *arg)
{
    return arg;
}

static void *exit_with(void *arg)
{
    cc_process_exit((int)(intptr_t)arg);
}

/* Sleeps until killed (or 60 s). */
static void *sleep_long(void *arg)
{
    (void)arg;
    tu_sleep(60);
    return arg;
}

/* ---- start, join, exit code ---- */

static void test_start_join_exitcode(void **state)
{
    (void)state;
    int code = -100;
    cc_process *p = cc_process_start(return_arg, &code, NULL);
    assert_non_null(p);
    assert_true(cc_process_pid(p) > 0);
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 0);
    assert_false(cc_process_is_alive(p));
    assert_ok(cc_process_join(p, 30)); /* joined again: still 0 */
    assert_ok(cc_process_join(p, 0));
    cc_process_free(p);

    p = cc_process_start(exit_with, (void *)(intptr_t)7, "seven");
    assert_non_null(p);
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 7);
    cc_process_free(p);

    /* NULL without a pending error is a normal end. */
    p = cc_process_start(return_arg, NULL, NULL);
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 0);
    cc_process_free(p);
    assert_no_children();
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int code;
    assert_null_with(cc_process_start(NULL, NULL, NULL), EINVAL);
    assert_fails_with(cc_process_join(NULL, 1), EINVAL);
    assert_fails_with(cc_process_exitcode(NULL, &code), EINVAL);
    assert_fails_with(cc_process_signal(NULL, SIGTERM), EINVAL);
    assert_fails_with(cc_process_pid(NULL), EINVAL);
    assert_false(cc_process_is_alive(NULL));
    assert_string_equal(cc_process_name(NULL), "");
    cc_process_free(NULL);
    cc_process *p = cc_process_start(return_arg, NULL, NULL);
    assert_non_null(p);
    assert_fails_with(cc_process_join(p, NAN), EINVAL);
    assert_fails_with(cc_process_exitcode(p, NULL), EINVAL);
    assert_ok(cc_process_join(p, 30));
    cc_process_free(p);
    assert_no_children();
}

/* ---- names ---- */

/* The child checks its names and exits 0 when they are right. */
static void *check_names(void *arg)
{
    const char *want = arg;
    char os[16] = "";

    prctl(PR_GET_NAME, os, 0, 0, 0);
    if (strcmp(cc_process_current_name(), want) != 0)
        return cc_fail(EPROTO, "current name '%s', want '%s'",
                       cc_process_current_name(), want);
    if (strncmp(os, want, 15) != 0)
        return cc_fail(EPROTO, "OS name '%s', want '%s'", os, want);
    if (strcmp(cc_thread_current_name(), "MainThread") != 0)
        return cc_fail(EPROTO, "thread name '%s'", cc_thread_current_name());
    return arg;
}

/* A child that starts a grandchild with the default name: Python names it
 * "Process-<child's n>:1". */
static void *start_grandchild(void *arg)
{
    char want[64];
    int code = -1;

    snprintf(want, sizeof(want), "%s:1", (const char *)arg);
    cc_process *g = cc_process_start(check_names, want, NULL);
    if (g == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "start");
    if (strcmp(cc_process_name(g), want) != 0)
        return cc_fail(EPROTO, "grandchild named '%s'", cc_process_name(g));
    if (cc_process_join(g, 30) != 0 || cc_process_exitcode(g, &code) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "join");
    cc_process_free(g);
    return code == 0 ? arg : cc_fail(EPROTO, "grandchild exit code %d", code);
}

static void test_names(void **state)
{
    (void)state;
    int code;

    assert_string_equal(cc_process_current_name(), "MainProcess");
    cc_process *a = cc_process_start(check_names, "a-worker-with-a-long-name",
                                     "a-worker-with-a-long-name");
    assert_non_null(a);
    assert_string_equal(cc_process_name(a), "a-worker-with-a-long-name");
    assert_ok(cc_process_join(a, 30));
    assert_ok(cc_process_exitcode(a, &code));
    assert_int_equal(code, 0);
    cc_process_free(a);

    /* Default names count up: Process-<n>, n one more each time. */
    static char name1[64];
    static char name2[64];
    cc_process *p1 = cc_process_start(return_arg, NULL, NULL);
    cc_process *p2 = cc_process_start(return_arg, NULL, NULL);
    assert_non_null(p1);
    assert_non_null(p2);
    snprintf(name1, sizeof(name1), "%s", cc_process_name(p1));
    snprintf(name2, sizeof(name2), "%s", cc_process_name(p2));
    unsigned n1 = 0, n2 = 0;
    assert_int_equal(sscanf(name1, "Process-%u", &n1), 1);
    assert_int_equal(sscanf(name2, "Process-%u", &n2), 1);
    assert_int_equal(n2, n1 + 1);
    assert_ok(cc_process_join(p1, 30));
    assert_ok(cc_process_join(p2, 30));
    cc_process_free(p1);
    cc_process_free(p2);

    /* The child sees its default name, and names its own children under
     * it. */
    static char want[64];
    snprintf(want, sizeof(want), "Process-%u", n2 + 1);
    cc_process *p = cc_process_start(start_grandchild, want, NULL);
    assert_string_equal(cc_process_name(p), want);
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 0);
    cc_process_free(p);
    assert_no_children();
}

/* ---- is_alive, signals ---- */

static void test_is_alive_kill_terminate_signal(void **state)
{
    (void)state;
    int code;
    cc_process *p = cc_process_start(sleep_long, NULL, "sleeper");
    assert_non_null(p);
    assert_true(cc_process_is_alive(p));
    assert_fails_with(cc_process_exitcode(p, &code), EAGAIN);
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_join(p, 30));
    assert_false(cc_process_is_alive(p));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGKILL);
    /* Joined: a signal does nothing and succeeds (Python's rule, the same
     * as cc_popen's); it cannot reach a process that reused the pid, and
     * the exit code stays what ended the child. */
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_terminate(p));
    assert_ok(cc_process_signal(p, SIGUSR1));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGKILL);
    cc_process_free(p);

    p = cc_process_start(sleep_long, NULL, NULL);
    assert_ok(cc_process_terminate(p));
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGTERM);
    cc_process_free(p);

    p = cc_process_start(sleep_long, NULL, NULL);
    assert_ok(cc_process_signal(p, SIGUSR1));
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGUSR1);
    assert_ok(cc_process_signal(p, SIGUSR1));
    cc_process_free(p);

    /* is_alive reaps a child that ended by itself: exitcode without join. */
    p = cc_process_start(exit_with, (void *)(intptr_t)3, NULL);
    double t0 = cc_now();
    while (cc_process_is_alive(p) && cc_now() - t0 < 30)
        tu_sleep(0.001);
    assert_false(cc_process_is_alive(p));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 3);
    cc_process_free(p);

    /* A bad signal number is EINVAL, checked before anything is sent;
     * 0 only checks that the child is there. */
    p = cc_process_start(sleep_long, NULL, NULL);
    assert_fails_with(cc_process_signal(p, 12345), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "not a signal number"));
    assert_fails_with(cc_process_signal(p, -1), EINVAL);
    assert_fails_with(cc_process_signal(p, NSIG), EINVAL);
    assert_ok(cc_process_signal(p, 0));
    assert_true(cc_process_is_alive(p));
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_join(p, 30));
    cc_process_free(p);
    assert_no_children();
}

/* A child that has exited but is not reaped yet (a zombie) is not
 * signalled: the call reaps it first, succeeds, and the exit code stays
 * its exit status -- the rule cc_popen follows too. */
static void test_signal_after_exit_keeps_code(void **state)
{
    (void)state;
    int code;
    cc_process *p = cc_process_start(exit_with, (void *)(intptr_t)3, "brief");
    siginfo_t si;

    assert_non_null(p);
    /* until it is a zombie, without reaping it */
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)cc_process_pid(p), &si,
                            WEXITED | WNOWAIT), 0);
    assert_ok(cc_process_terminate(p));
    assert_ok(cc_process_kill(p));
    assert_false(cc_process_is_alive(p));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 3);
    assert_ok(cc_process_join(p, 5));
    cc_process_free(p);
    assert_no_children();
}

/* Reaped behind the handle's back (a waitpid of the program's own). */
static void test_reaped_by_someone_else(void **state)
{
    (void)state;
    int status;
    int code;
    cc_process *p = cc_process_start(exit_with, (void *)(intptr_t)5, "stolen");
    assert_int_equal(waitpid(cc_process_pid(p), &status, 0), cc_process_pid(p));
    assert_int_equal(WEXITSTATUS(status), 5);
    assert_fails_with(cc_process_join(p, 30), ECHILD);
    assert_non_null(strstr(cc_errmsg(), "reaped by someone else"));
    assert_fails_with(cc_process_exitcode(p, &code), ECHILD);
    assert_false(cc_process_is_alive(p));
    cc_process_free(p);
    assert_no_children();
}

/* ---- a failing child ---- */

static void *failing_child(void *arg)
{
    (void)arg;
    return cc_fail(EINVAL, "bad input %d", 42);
}
enum { FAIL_LINE = __LINE__ - 2 };

static void *failing_with_cause(void *arg)
{
    (void)arg;
    cc_queue *q = cc_queue_new(1, CC_FIFO);
    void *item;
    if (cc_queue_get(q, &item, 0.01) == 0)
        return q;
    cc_queue_free(q);
    return cc_fail_from(cc_last_error(), EIO, "no work came");
}
enum { CAUSE_LINE = __LINE__ - 2 };

static void *failing_thread(void *arg)
{
    (void)arg;
    return cc_fail(EDOM, "thread failed");
}
enum { THREAD_LINE = __LINE__ - 2 };

/* A child whose own thread fails: the places name the thread and the
 * process it ran in. */
static void *failing_via_thread(void *arg)
{
    (void)arg;
    cc_thread *t = cc_thread_start(failing_thread, NULL, "helper");
    if (t == NULL || cc_thread_join(t, NULL, 30) == 0)
        cc_process_exit(3);
    cc_fail_from(cc_thread_error(t), EIO, "helper gave up");
    cc_thread_free(t);
    return NULL;
}
enum { VIA_LINE = __LINE__ - 4 };

static void test_failing_child_reports_on_stderr(void **state)
{
    (void)state;
    int code;
    char want[512];

    tu_capture cap = tu_capture_stderr();
    cc_process *p = cc_process_start(failing_child, NULL, "failer");
    assert_non_null(p);
    int rc = cc_process_join(p, 30);
    char *out = tu_capture_end(cap);
    assert_int_equal(rc, 0);
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 1);
    /* A child's errors name the process, not its 'MainThread'. */
    snprintf(want, sizeof(want),
             "Process failer: bad input 42 (EINVAL) at test_process.c:%d in "
             "process 'failer' (pid %ld)\n", FAIL_LINE,
             (long)cc_process_pid(p));
    assert_string_equal(out, want);
    free(out);
    cc_process_free(p);

    cap = tu_capture_stderr();
    p = cc_process_start(failing_with_cause, NULL, "chain");
    assert_ok(cc_process_join(p, 30));
    out = tu_capture_end(cap);
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 1);
    snprintf(want, sizeof(want),
             "Process chain: no work came (EIO) at test_process.c:%d in "
             "process 'chain' (pid %ld)\n  caused by: queue get timed out: "
             "nothing arrived "
             "(ETIMEDOUT)\n", CAUSE_LINE, (long)cc_process_pid(p));
    assert_string_equal(out, want);
    free(out);
    cc_process_free(p);

    cap = tu_capture_stderr();
    p = cc_process_start(failing_via_thread, NULL, "threaded");
    assert_ok(cc_process_join(p, 30));
    out = tu_capture_end(cap);
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 1);
    snprintf(want, sizeof(want),
             "Process threaded: helper gave up (EIO) at test_process.c:%d in "
             "process 'threaded' (pid %ld)\n  caused by: thread failed "
             "(EDOM) at test_process.c:%d in thread 'helper' of process "
             "'threaded' (pid %ld)\n", VIA_LINE, (long)cc_process_pid(p),
             THREAD_LINE, (long)cc_process_pid(p));
    assert_string_equal(out, want);
    free(out);
    cc_process_free(p);
    assert_no_children();
}

/* ---- _exit semantics ---- */

static int atexit_fd = -1;

static void atexit_marker(void)
{
    if (atexit_fd >= 0) {
        char line[64];
        int n = snprintf(line, sizeof(line), "ATEXIT %d\n", (int)getpid());
        ssize_t r = write(atexit_fd, line, (size_t)n);
        (void)r;
    }
}

static void *print_child(void *arg)
{
    (void)arg;
    printf("child-line\n"); /* buffered: written by the exit's flush */
    return arg;
}

static void test_exit_skips_atexit_and_writes_stdout_once(void **state)
{
    (void)state;
    int fds[2];
    char buf[4096];
    size_t got = 0;

    assert_ok(pipe(fds));
    atexit_fd = fds[1];
    atexit(atexit_marker);
    /* stdout into the pipe, fully buffered, with a line still buffered */
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    printf("parent-line\n");
    cc_process *p = cc_process_start(print_child, state, NULL);
    int rc = cc_process_join(p, 30);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    setvbuf(stdout, NULL, _IOLBF, 0);
    atexit_fd = -1;
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fds[0]);
    assert_int_equal(rc, 0);
    cc_process_free(p);
    /* Exactly one parent line (flushed before the fork), one child line,
     * and no atexit handler run by the child. */
    assert_string_equal(buf, "parent-line\nchild-line\n");
    assert_no_children();
}

/* ---- join from a coroutine ---- */

static void *ticker(void *arg)
{
    _Atomic int *ticks = arg;
    while (!cc_cancelled()) {
        if (cc_sleep(0.001) != 0)
            break;
        atomic_fetch_add(ticks, 1);
    }
    return NULL;
}

static void *sleep_then_exit(void *arg)
{
    tu_sleep((double)(intptr_t)arg / 1000.0);
    cc_process_exit(9);
}

static void *join_in_task_main(void *arg)
{
    (void)arg;
    static _Atomic int ticks;
    atomic_store(&ticks, 0);
    cc_future *t = cc_spawn(ticker, &ticks);
    cc_process *p = cc_process_start(sleep_then_exit, (void *)(intptr_t)300,
                                     NULL);
    if (p == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "start");
    double t0 = cc_now();
    int rc = cc_process_join(p, 30);
    double took = cc_now() - t0;
    int code = -1;
    cc_process_exitcode(p, &code);
    cc_process_free(p);
    cc_future_cancel(t);
    cc_future_result(t, NULL, 10);
    cc_future_free(t);
    if (rc != 0 || code != 9)
        return cc_fail(EPROTO, "join rc %d code %d", rc, code);
    if (took < 0.25)
        return cc_fail(EPROTO, "joined after %.3f s", took);
    /* ~300 ticks of 1 ms if the loop ran freely, fewer when a busy machine
     * wakes it late; a join that blocked the loop's thread leaves none
     * (the ticker never gets the thread before the join ends). */
    if (atomic_load(&ticks) < 5)
        return cc_fail(EPROTO, "only %d ticks: the join blocked the loop",
                       atomic_load(&ticks));
    return arg == NULL ? (void *)1 : arg;
}

static void test_join_from_task_keeps_loop_running(void **state)
{
    (void)state;
    assert_ok(cc_run(join_in_task_main, NULL, NULL));
    assert_no_children();
}

static void test_join_timeout(void **state)
{
    (void)state;
    cc_process *p = cc_process_start(sleep_long, NULL, "slow");
    double t0 = cc_now();
    assert_fails_with(cc_process_join(p, 0.1), ETIMEDOUT);
    double took = cc_now() - t0;
    assert_true(took >= 0.09);
    assert_true(took < 5 * TU_SLOW);
    assert_non_null(strstr(cc_errmsg(), "slow"));
    assert_fails_with(cc_process_join(p, 0), EAGAIN);
    /* A deadline scope bounds a join without a timeout. */
    assert_ok(cc_deadline_push(0.05));
    assert_fails_with(cc_process_join(p, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    assert_true(cc_process_is_alive(p));
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_join(p, 30));
    cc_process_free(p);
    assert_no_children();
}

static void *join_forever(void *arg)
{
    if (cc_process_join(arg, CC_FOREVER) == 0)
        return cc_fail(EPROTO, "join returned although the child runs");
    return NULL; /* ECANCELED pending: ends cancelled */
}

static void *join_cancel_main(void *arg)
{
    cc_process *p = arg;
    cc_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(join_forever, p);
    cc_sleep(0.05);
    for (int i = 0; i < 4; i++)
        cc_future_cancel(f[i]);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        if (cc_future_result(f[i], NULL, 10) != -1 || errno != ECANCELED)
            bad++;
        cc_future_free(f[i]);
    }
    /* A cancelled task's later joins fail at once; others still work. */
    if (bad)
        return cc_fail(EPROTO, "%d joins did not end cancelled", bad);
    if (!cc_process_is_alive(p))
        return cc_fail(EPROTO, "the child died");
    return p;
}

static void test_join_cancellation(void **state)
{
    (void)state;
    cc_process *p = cc_process_start(sleep_long, NULL, NULL);
    assert_ok(cc_run(join_cancel_main, p, NULL));
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_join(p, 30));
    cc_process_free(p);
    assert_no_children();
}

/* ---- many at once ---- */

#define NTHREADS 5
#define PER_THREAD 10

static void *exit_index(void *arg)
{
    tu_jitter(20000);
    cc_process_exit((int)(intptr_t)arg % 200);
}

typedef struct starter {
    int id;
    int bad;
} starter;

static void *start_and_join(void *arg)
{
    starter *s = arg;
    cc_process *ps[PER_THREAD];

    for (int i = 0; i < PER_THREAD; i++) {
        int n = s->id * PER_THREAD + i;
        ps[i] = cc_process_start(exit_index, (void *)(intptr_t)n, NULL);
        if (ps[i] == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start %d", n);
        tu_jitter(2000);
    }
    /* join in a random order, some with polls of is_alive first */
    for (int k = 0; k < PER_THREAD; k++) {
        int i = (int)tu_rand_below(PER_THREAD);
        while (ps[i] == NULL)
            i = (i + 1) % PER_THREAD;
        int code = -1;
        if (tu_rand_below(2))
            (void)cc_process_is_alive(ps[i]);
        if (cc_process_join(ps[i], 60) != 0 ||
            cc_process_exitcode(ps[i], &code) != 0 ||
            code != (s->id * PER_THREAD + i) % 200)
            s->bad++;
        cc_process_free(ps[i]);
        ps[i] = NULL;
    }
    return s;
}

static void test_fifty_processes_from_five_threads(void **state)
{
    (void)state;
    starter s[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        s[i] = (starter){i, 0};
    tu_threads ts = tu_start(NTHREADS, start_and_join, s, sizeof(s[0]));
    tu_join(ts);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(s[i].bad, 0);
    assert_no_children();
}

/* Many joiners of one process: threads and tasks, all get 0 and the same
 * exit code once the child is reaped (by exactly one of them). */
static cc_process *shared_proc;

static void *join_shared(void *arg)
{
    int code = -1;
    (void)arg;
    if (cc_process_join(shared_proc, 60) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "join");
    if (cc_process_exitcode(shared_proc, &code) != 0 || code != 9)
        return cc_fail(EPROTO, "exit code %d", code);
    return shared_proc;
}

static void *tasks_join_shared(void *arg)
{
    cc_future *f[8];
    void *res[8];
    (void)arg;
    for (int i = 0; i < 8; i++)
        f[i] = cc_spawn(join_shared, NULL);
    int rc = cc_gather(f, 8, res, false, CC_FOREVER);
    for (int i = 0; i < 8; i++)
        cc_future_free(f[i]);
    return rc == 0 ? shared_proc : NULL;
}

/* A thread that joins through eight tasks on a loop of its own. */
static void *loop_of_joiners(void *arg)
{
    if (cc_run(tasks_join_shared, NULL, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "tasks");
    return arg;
}

static void test_many_joiners_of_one_process(void **state)
{
    (void)state;
    for (int round = 0; round < 10; round++) {
        shared_proc = cc_process_start(sleep_then_exit,
                                       (void *)(intptr_t)tu_rand_below(30),
                                       NULL);
        assert_non_null(shared_proc);
        int dummy[6];
        tu_threads plain = tu_start(4, join_shared, dummy, sizeof(dummy[0]));
        tu_threads loops = tu_start(2, loop_of_joiners, dummy,
                                    sizeof(dummy[0]));
        tu_join(plain); /* fails the test if any joiner failed */
        tu_join(loops);
        cc_process_free(shared_proc);
    }
    assert_no_children();
}

/* ---- freeing a live process ---- */

static void test_free_kills_live_child_no_zombie(void **state)
{
    (void)state;
    cc_process *p = cc_process_start(sleep_long, NULL, "doomed");
    pid_t pid = cc_process_pid(p);
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    cc_process_free(p);
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_non_null(strstr(out, "process 'doomed'"));
    assert_non_null(strstr(out, "killed"));
    free(out);
    errno = 0;
    assert_int_equal(kill(pid, 0), -1); /* gone, not even a zombie */
    assert_int_equal(errno, ESRCH);
    assert_no_children();

    /* Ended but never joined: reaped quietly. */
    p = cc_process_start(return_arg, NULL, NULL);
    while (kill(cc_process_pid(p), 0) == 0) {
        int status;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* a zombie still answers kill(0); stop once it has exited */
        if (waitid(P_PID, (id_t)cc_process_pid(p), &si,
                   WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
            break;
        (void)status;
        tu_sleep(0.001);
    }
    cap = tu_capture_stderr();
    cc_set_debug(true);
    cc_process_free(p);
    cc_set_debug(false);
    out = tu_capture_end(cap);
    assert_string_equal(out, "");
    free(out);
    assert_no_children();
}

/* ---- started from inside a coroutine ---- */

static void *grand_task(void *arg)
{
    cc_sleep(0.01);
    return arg;
}

static void *child_task_main(void *arg)
{
    cc_future *f[10];
    void *res[10];
    for (int i = 0; i < 10; i++)
        f[i] = cc_spawn(grand_task, (void *)(intptr_t)(i + 1));
    int rc = cc_gather(f, 10, res, false, CC_FOREVER);
    intptr_t sum = 0;
    for (int i = 0; i < 10; i++) {
        if (rc == 0)
            sum += (intptr_t)res[i];
        cc_future_free(f[i]);
    }
    (void)arg;
    return rc == 0 ? (void *)sum : NULL;
}

/* In the child: a big frame (more than a task's 64 KiB stack), then a
 * loop of its own. */
static void *child_runs_loop(void *arg)
{
    volatile char big[1 << 20];
    void *sum = NULL;

    for (size_t i = 0; i < sizeof(big); i += 4096)
        big[i] = (char)i;
    if (cc_current_task() != NULL)
        return cc_fail(EPROTO, "the child runs inside a task");
    if (cc_loop_current() != NULL)
        return cc_fail(EPROTO, "the child is inside the parent's loop");
    if (cc_run(child_task_main, NULL, &sum) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run in the child");
    if ((intptr_t)sum != 55)
        return cc_fail(EPROTO, "sum %ld", (long)(intptr_t)sum);
    cc_process_exit((int)(intptr_t)arg);
}

static void *start_from_task_main(void *arg)
{
    (void)arg;
    static _Atomic int ticks;
    atomic_store(&ticks, 0);
    cc_future *t = cc_spawn(ticker, &ticks);
    cc_process *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = cc_process_start(child_runs_loop, (void *)(intptr_t)(40 + i),
                                NULL);
        if (p[i] == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start");
    }
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        int code = -1;
        if (cc_process_join(p[i], 60) != 0 ||
            cc_process_exitcode(p[i], &code) != 0 || code != 40 + i)
            bad++;
        cc_process_free(p[i]);
    }
    cc_future_cancel(t);
    cc_future_result(t, NULL, 10);
    cc_future_free(t);
    return bad ? cc_fail(EPROTO, "%d children failed", bad) : (void *)1;
}

static void test_start_from_coroutine_child_runs_its_own_loop(void **state)
{
    (void)state;
    tu_capture cap = tu_capture_stderr();
    int rc = cc_run(start_from_task_main, NULL, NULL);
    char *out = tu_capture_end(cap);
    if (rc != 0)
        fail_msg("%s; children said:\n%s", cc_errmsg(), out);
    free(out);
    assert_no_children();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_join_exitcode),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_is_alive_kill_terminate_signal),
        cmocka_unit_test(test_signal_after_exit_keeps_code),
        cmocka_unit_test(test_reaped_by_someone_else),
        cmocka_unit_test(test_failing_child_reports_on_stderr),
        cmocka_unit_test(test_exit_skips_atexit_and_writes_stdout_once),
        cmocka_unit_test(test_join_from_task_keeps_loop_running),
        cmocka_unit_test(test_join_timeout),
        cmocka_unit_test(test_join_cancellation),
        cmocka_unit_test(test_fifty_processes_from_five_threads),
        cmocka_unit_test(test_many_joiners_of_one_process),
        cmocka_unit_test(test_free_kills_live_child_no_zombie),
        cmocka_unit_test(test_start_from_coroutine_child_runs_its_own_loop),
    };
    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
