/* test_loop - the loop's I/O side: fd waits in tasks (readable, writable,
 * several waiters on one fd, timeouts, bad fds, regular files) and in
 * plain threads, SIGINT cancelling cc_run's main task, wake-ups that
 * cross threads, and a loop in a process where epoll_pwait2 fails with
 * ENOSYS (a seccomp filter, as older kernels and container profiles do). */
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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
    if (cc_gather(f, 4, NULL, false, CC_FOREVER) != 0)
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
    int rc = cc_gather(f, 100, res, false, CC_FOREVER);
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

/* ---- a kernel (or a seccomp profile) without epoll_pwait2 ---- */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* Make epoll_pwait2 fail with ENOSYS in this process from now on (every
 * other system call is allowed).  0, or -1 when seccomp is unavailable. */
static int forbid_epoll_pwait2(void)
{
#ifdef TEST_AUDIT_ARCH
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & 0xffff)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -1;
    return 0;
#else
    return -1;
#endif
}

static void *write_later(void *arg)
{
    int fd = *(int *)arg;

    tu_sleep(0.1);
    if (write(fd, "x", 1) != 1)
        return cc_fail(0, "write");
    return NULL;
}

/* A sleep of `seconds` must not end early (the fallback's millisecond
 * timeouts round up). */
static int sleep_not_early(double seconds)
{
    double t0 = cc_now();

    if (cc_sleep(seconds) != 0) {
        cc_fail_from(cc_last_error(), EPROTO, "cc_sleep(%g)", seconds);
        return -1;
    }
    if (cc_now() - t0 < seconds) {
        cc_fail(EPROTO, "cc_sleep(%g) ended after %.6f s", seconds,
                cc_now() - t0);
        return -1;
    }
    return 0;
}

/* The main task of the ENOSYS child: a wait on a pipe written after 0.1 s
 * by a thread, then timers. */
static void *no_pwait2_main(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return cc_fail(0, "pipe");
    cc_thread *w = cc_thread_start(write_later, &p[1], "writer");
    if (w == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "thread");
    double t0 = cc_now();
    int rc = cc_wait_fd(p[0], CC_READABLE, 2.0);
    double waited = cc_now() - t0;
    cc_thread_join(w, NULL, CC_FOREVER);
    cc_thread_free(w);
    close(p[0]);
    close(p[1]);
    if (rc != CC_READABLE)
        return cc_fail(EPROTO, "cc_wait_fd returned %d (%s) after %.2f s", rc,
                       rc < 0 ? cc_errmsg() : "", waited);
    if (sleep_not_early(0.05) != 0 || sleep_not_early(0.0005) != 0)
        return NULL; /* failed: cc_run reports it */
    return arg;
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The forked child: 0 when the loop works without epoll_pwait2 and
 * sleeps meanwhile; 77 when seccomp is not available here. */
static int no_pwait2_child(void)
{
    if (forbid_epoll_pwait2() != 0)
        return 77;
    errno = 0;
    if (syscall(SYS_epoll_pwait2, -1, NULL, 1, NULL, NULL, 0) != -1 ||
        errno != ENOSYS) {
        fprintf(stderr, "the filter did not take: %s\n", strerror(errno));
        return 2;
    }
    double wall0 = cc_now();
    double cpu0 = cpu_seconds();
    if (cc_run(no_pwait2_main, NULL, NULL) != 0) {
        fprintf(stderr, "%s\n", cc_errmsg());
        return 1;
    }
    double wall = cc_now() - wall0;
    double cpu = cpu_seconds() - cpu0;
    /* A loop that spins on the failing call burns its whole wall time. */
    if (cpu > 0.5 * wall) {
        fprintf(stderr, "CPU %.3f s in %.3f s of wall time\n", cpu, wall);
        return 3;
    }
    return 0;
}

static void test_loop_works_without_epoll_pwait2(void **state)
{
    (void)state;
    int status;

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(no_pwait2_child());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no seccomp here: printed as SKIPPED */
    assert_int_equal(WEXITSTATUS(status), 0);
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
        cmocka_unit_test(test_loop_works_without_epoll_pwait2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
