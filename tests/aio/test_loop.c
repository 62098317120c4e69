/* test_loop - the loop's I/O side: fd waits in tasks (readable, writable,
 * several waiters on one fd, timeouts, bad fds, regular files) and in
 * plain threads, SIGINT cancelling cc_run's main task, and wake-ups that
 * cross threads. */
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "test_util.h"

typedef struct {
    int fd;
    int events;
    double timeout;
    int rc;
    int err;
} fdwait;

static void *wait_fd_task(void *arg)
{
    fdwait *w = arg;
    w->rc = cc_wait_fd(w->fd, w->events, w->timeout);
    w->err = errno;
    return arg;
}

static void *fd_main(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return cc_fail(0, "pipe");
    /* three readers on one fd, one writer-side waiter */
    fdwait r[3], wr = {p[1], CC_WRITABLE, 5, 0, 0};
    cc_future *f[4];
    for (int i = 0; i < 3; i++) {
        r[i] = (fdwait){p[0], CC_READABLE, 5, 0, 0};
        f[i] = cc_spawn(wait_fd_task, &r[i]);
    }
    f[3] = cc_spawn(wait_fd_task, &wr);
    cc_sleep(0.02);
    for (int i = 0; i < 3; i++)
        if (cc_future_done(f[i]))
            return cc_fail(EPROTO, "a reader woke up before any data");
    if (!cc_future_done(f[3]) || wr.rc != CC_WRITABLE)
        return cc_fail(EPROTO, "an empty pipe should be writable at once");
    if (write(p[1], "x", 1) != 1)
        return cc_fail(0, "write");
    if (cc_gather(f, 4, NULL, false) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "gather");
    for (int i = 0; i < 3; i++)
        if (r[i].rc != CC_READABLE)
            return cc_fail(EPROTO, "reader %d got %d", i, r[i].rc);
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    char c;
    if (read(p[0], &c, 1) != 1)
        return cc_fail(0, "read");
    /* timeout, then EOF reports readable */
    double t0 = cc_now();
    if (cc_wait_fd(p[0], CC_READABLE, 0.03) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "no timeout");
    if (cc_now() - t0 < 0.029)
        return cc_fail(EPROTO, "timed out early");
    if (cc_wait_fd(p[0], CC_READABLE, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "timeout 0 on an empty pipe");
    close(p[1]);
    if (cc_wait_fd(p[0], CC_READABLE, 1) != CC_READABLE)
        return cc_fail(EPROTO, "a closed writer should make it readable");
    close(p[0]);
    /* the same fd number reused for another pipe still works */
    if (pipe2(p, O_CLOEXEC) != 0)
        return cc_fail(0, "pipe");
    if (write(p[1], "y", 1) != 1 ||
        cc_wait_fd(p[0], CC_READABLE, 1) != CC_READABLE)
        return cc_fail(EPROTO, "reused fd number");
    close(p[0]);
    close(p[1]);
    /* bad fds and bad arguments */
    if (cc_wait_fd(p[0], CC_READABLE, 1) != -1 || errno != EBADF)
        return cc_fail(EPROTO, "closed fd: %s", cc_errname(errno));
    if (cc_wait_fd(-1, CC_READABLE, 1) != -1 || errno != EBADF)
        return cc_fail(EPROTO, "fd -1");
    if (cc_wait_fd(0, 0, 1) != -1 || errno != EINVAL)
        return cc_fail(EPROTO, "no events");
    /* a regular file is always ready (as poll says) */
    FILE *tmp = tmpfile();
    if (cc_wait_fd(fileno(tmp), CC_READABLE | CC_WRITABLE, 1) !=
        (CC_READABLE | CC_WRITABLE))
        return cc_fail(EPROTO, "regular file");
    fclose(tmp);
    return arg;
}

static void test_fd_waits_in_tasks(void **state)
{
    assert_ok(cc_run(fd_main, state, NULL));
}

static void test_fd_waits_in_threads(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_fails_with(cc_wait_fd(p[0], CC_READABLE, 0.02), ETIMEDOUT);
    assert_fails_with(cc_wait_fd(p[0], CC_READABLE, 0), EAGAIN);
    assert_int_equal(cc_wait_fd(p[1], CC_WRITABLE, 1), CC_WRITABLE);
    assert_int_equal(write(p[1], "z", 1), 1);
    assert_int_equal(cc_wait_fd(p[0], CC_READABLE, 1), CC_READABLE);
    close(p[0]);
    close(p[1]);
    assert_fails_with(cc_wait_fd(p[0], CC_READABLE, 1), EBADF);
}

/* ---- child exits through pidfd ---- */

static void *await_child(void *arg)
{
    int pidfd = *(int *)arg;
    double t0 = cc_now();
    if (cc_wait_fd(pidfd, CC_READABLE, 10) != CC_READABLE)
        return cc_fail_from(cc_last_error(), EPROTO, "pidfd wait");
    return (void *)(intptr_t)((cc_now() - t0) * 1000 + 1);
}

static void *ticker(void *arg)
{
    int *ticks = arg;
    for (int i = 0; i < 10; i++) {
        cc_sleep(0.01);
        (*ticks)++;
    }
    return arg;
}

static void *pidfd_main(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        usleep(150000);
        _exit(3);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return cc_fail(0, "pidfd_open");
    static int ticks;
    ticks = 0;
    cc_future *w = cc_spawn(await_child, &pidfd);
    cc_future *t = cc_spawn(ticker, &ticks);
    void *ms;
    int rc = cc_future_result(w, &ms, 10);
    cc_future_result(t, NULL, 10);
    cc_future_free(w);
    cc_future_free(t);
    int status;
    waitpid(pid, &status, 0);
    close(pidfd);
    if (rc != 0)
        return NULL;
    if ((intptr_t)ms < 140 || !WIFEXITED(status) || WEXITSTATUS(status) != 3)
        return cc_fail(EPROTO, "woke after %ld ms", (long)(intptr_t)ms - 1);
    if (ticks != 10) /* the loop kept running other tasks meanwhile */
        return cc_fail(EPROTO, "ticks %d", ticks);
    return arg;
}

static void test_child_exit_through_pidfd(void **state)
{
    assert_ok(cc_run(pidfd_main, state, NULL));
}

/* ---- SIGINT ---- */

static void *sleep_forever(void *arg)
{
    (void)arg;
    cc_sleep(30);
    return NULL;
}


static void *kill_parent_later(void *arg)
{
    tu_sleep(0.2);
    kill(*(pid_t *)arg, SIGINT);
    return arg;
}

static void run_with_sigint(void *arg)
{
    (void)arg;
    static pid_t me;
    me = getpid();
    cc_thread *t = cc_thread_start(kill_parent_later, &me, "killer");
    int rc = cc_run(sleep_forever, NULL, NULL);
    int e = errno;
    fprintf(stderr, "rc=%d errno=%s msg=%s\n", rc, cc_errname(e), cc_errmsg());
    cc_thread_join(t, NULL, 30);
    cc_thread_free(t);
    fflush(stderr);
    _exit(rc == -1 && e == ECANCELED ? 7 : 1);
}

static void test_sigint_cancels_main_task(void **state)
{
    (void)state;
    tu_child c = tu_run_child(run_with_sigint, NULL);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 7)
        fail_msg("child status %d, stderr:\n%s", c.status, c.err);
    assert_non_null(strstr(c.err, "interrupted by SIGINT"));
    free(c.err);
}

/* ---- wake-ups from other threads ---- */

static void *await_user_future(void *arg)
{
    void *r;
    if (cc_future_result(arg, &r, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "result");
    return r;
}

static cc_future *shared_future;

static void *complete_later(void *arg)
{
    tu_sleep(0.05);
    cc_future_set_result(shared_future, arg);
    return arg;
}

static void *cross_thread_main(void *arg)
{
    shared_future = cc_future_new();
    cc_future *f[100];
    for (int i = 0; i < 100; i++)
        f[i] = cc_spawn(await_user_future, shared_future);
    cc_thread *t = cc_thread_start(complete_later, arg, "completer");
    void *res[100];
    int rc = cc_gather(f, 100, res, false);
    for (int i = 0; i < 100; i++) {
        if (rc == 0 && res[i] != arg)
            rc = -1;
        cc_future_free(f[i]);
    }
    cc_thread_join(t, NULL, 30);
    cc_thread_free(t);
    cc_future_free(shared_future);
    return rc == 0 ? arg : cc_fail(EPROTO, "a task missed the wake-up");
}

static void test_thread_wakes_many_tasks(void **state)
{
    assert_ok(cc_run(cross_thread_main, state, NULL));
}

/* A thread wakes the main task, which returns at once: cc_run frees the
 * loop while the waker may still be inside its post to it (it bumps the
 * loop's counters and writes its eventfd after queueing the task).  The
 * loop must outlive that; ASan and TSan saw it freed under the waker. */
static void *spin_task(void *arg)
{
    while (cc_yield() == 0) /* keeps the loop awake: no sleep in epoll */
        ;
    return arg;
}

static void *wake_main(void *arg)
{
    cc_future *busy = cc_spawn(spin_task, NULL);
    cc_event_wait(arg, 10);
    cc_future_free(busy); /* cc_run cancels it */
    return arg;
}

static void *set_soon(void *arg)
{
    tu_sleep(0.0002); /* the task is parked by now, mostly */
    cc_event_set(arg);
    return arg;
}

static void test_a_waker_is_done_before_its_loop_is_freed(void **state)
{
    (void)state;
    for (int i = 0; i < 500; i++) {
        cc_event *e = cc_event_new();
        cc_thread *t = cc_thread_start(set_soon, e, "waker");
        assert_ok(cc_run(wake_main, e, NULL));
        assert_ok(cc_thread_join(t, NULL, 10));
        cc_thread_free(t);
        cc_event_free(e);
    }
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_waits_in_tasks),
        cmocka_unit_test(test_fd_waits_in_threads),
        cmocka_unit_test(test_child_exit_through_pidfd),
        cmocka_unit_test(test_sigint_cancels_main_task),
        cmocka_unit_test(test_thread_wakes_many_tasks),
        cmocka_unit_test(test_a_waker_is_done_before_its_loop_is_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
