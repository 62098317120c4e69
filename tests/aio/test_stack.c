/* test_stack - what task stacks cost the process beyond their tasks: the
 * alternate signal stack a loop's thread gets for overflow reports, which
 * must go with the thread; and stack regions under an address-space limit
 * (RLIMIT_AS) and a limit on writable memory (RLIMIT_DATA, which counts
 * what vm.overcommit_memory=2 charges), where tasks and a server must
 * still run. */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test_util.h"

static void *nap(void *arg)
{
    cc_sleep(0.001);
    return arg;
}

/* A thread that runs a loop (and so installs the overflow handler and its
 * alternate stack) and ends. */
static void *loop_thread(void *arg)
{
    if (cc_run(nap, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return arg;
}

static void run_loop_threads(int n)
{
    for (int i = 0; i < n; i++) {
        cc_thread *t = cc_thread_start(loop_thread, NULL, "looper");
        assert_non_null(t);
        assert_ok(cc_thread_join(t, NULL, 60));
        cc_thread_free(t);
    }
}

/* Bytes in use on the heap.  Every thread allocates from the main arena
 * (M_ARENA_MAX 1, set in main), which is the one mallinfo2 reports. */
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

/* The 64 KiB alternate stack of each thread that ran a loop used to stay
 * allocated after the thread ended: N threads one after the other grew the
 * heap by N x 64 KiB.  (Sanitizer builds replace malloc, and bring an
 * alternate stack of their own: the scenario runs, the figure is not
 * checked.) */
static void test_threads_that_ran_loops_leave_no_altstack(void **state)
{
    (void)state;
    enum { THREADS = 20 };
    run_loop_threads(2); /* what the first threads set up for good */
    size_t before = heap_in_use();
    run_loop_threads(THREADS);
    size_t grown = heap_in_use() > before ? heap_in_use() - before : 0;
#if defined(CONCUR_ASAN) || defined(CONCUR_TSAN)
    (void)grown;
#else
    if (grown >= THREADS * 64 * 1024 / 2)
        fail_msg("the heap grew by %zu bytes over %d threads that ran a "
                 "loop (%zu each)", grown, THREADS, grown / THREADS);
#endif
}

/* ---- stack regions under limits ---- */

/* A field of /proc/self/status in KiB ("VmSize", "VmData"), or -1. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t len = strlen(field);
    long v = -1;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = atol(line + len + 1);
            break;
        }
    if (f != NULL)
        fclose(f);
    return v;
}

static void *sleeper(void *arg)
{
    if (cc_sleep(0.01) != 0)
        return NULL;
    return arg;
}

static int echo_line(cc_stream *s, void *arg)
{
    (void)arg;
    char *line = cc_stream_readline(s, 10);
    if (line == NULL)
        return -1;
    int rc = cc_stream_write(s, line, cc_blob_len(line));
    cc_blob_free(line);
    return rc;
}

/* A plain client on a thread: "hello\n" to 127.0.0.1:port, the echo back. */
static void *echo_client(void *arg)
{
    int port = *(int *)arg;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    struct timeval tv = {10, 0};
    char buf[8] = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return cc_fail(0, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        send(fd, "hello\n", 6, MSG_NOSIGNAL) != 6 ||
        recv(fd, buf, 6, MSG_WAITALL) != 6 || memcmp(buf, "hello\n", 6) != 0) {
        close(fd);
        return cc_fail(EPROTO, "no echo from the server: %s", strerror(errno));
    }
    close(fd);
    return arg;
}

/* Hundreds of tasks at once, then a TASKS server that serves a client. */
static void *limited_main(void *arg)
{
    enum { TASKS = 300 };
    cc_future *fs[TASKS];
    for (int i = 0; i < TASKS; i++) {
        fs[i] = cc_spawn(sleeper, (void *)(intptr_t)(i + 1));
        if (fs[i] == NULL)
            return cc_fail_from(cc_last_error(), ENOMEM, "spawn %d of %d", i,
                                TASKS);
    }
    for (int i = 0; i < TASKS; i++) {
        void *r = NULL;
        if (cc_future_result(fs[i], &r, 30) != 0 || r != (void *)(intptr_t)(i + 1))
            return cc_fail_from(cc_last_error(), EPROTO, "task %d", i);
        cc_future_free(fs[i]);
    }
    cc_serve_opts o = {.mode = CC_SERVE_TASKS};
    cc_server *srv = cc_serve("127.0.0.1", 0, echo_line, NULL, &o);
    if (srv == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_serve");
    int port = cc_server_port(srv);
    cc_thread *c = cc_thread_start(echo_client, &port, "client");
    int rc = c != NULL ? cc_thread_join(c, NULL, 30) : -1;
    cc_server_close(srv, 1);
    cc_server_free(srv);
    if (rc != 0) {
        cc_fail_from(c != NULL ? cc_thread_error(c) : cc_last_error(), EPROTO,
                     "the client");
        cc_thread_free(c);
        return NULL;
    }
    cc_thread_free(c);
    return arg;
}

/* A child exec'd fresh (no stack region yet): set the limit named by
 * `mode`, run limited_main.  0 when everything ran; what failed on stderr
 * otherwise. */
static int limited_child(const char *mode)
{
    long data0;
    struct rlimit rl;

    mallopt(M_ARENA_MAX, 1); /* no 64 MiB arena per thread */
    if (strcmp(mode, "--as-limit") == 0) {
        /* a 272 MiB region cannot fit; 136 MiB can */
        rl.rlim_cur = rl.rlim_max =
            ((rlim_t)status_kib("VmSize") + 240 * 1024) * 1024;
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            return 2;
    } else {
        rl.rlim_cur = rl.rlim_max =
            ((rlim_t)status_kib("VmData") + 96 * 1024) * 1024;
        if (setrlimit(RLIMIT_DATA, &rl) != 0)
            return 2;
    }
    data0 = status_kib("VmData");
    if (cc_run(limited_main, &rl, NULL) != 0) {
        fprintf(stderr, "%s: %s\n", mode, cc_errmsg());
        return 1;
    }
    /* Writable memory grows with the stacks used, not the regions. */
    if (status_kib("VmData") - data0 > 64 * 1024) {
        fprintf(stderr, "%s: VmData grew by %ld KiB\n", mode,
                status_kib("VmData") - data0);
        return 3;
    }
    return 0;
}

/* Run this executable again with `mode` (a process with no region yet)
 * and expect it to exit 0. */
static void expect_limited_child_ok(const char *mode)
{
#if defined(CONCUR_ASAN) || defined(CONCUR_TSAN)
    (void)mode;
    skip(); /* the sanitizers reserve terabytes: no limit can apply */
#else
    int status;

    if (tu_under_valgrind()) {
        (void)mode;
        skip(); /* valgrind's own reservations do not fit such limits */
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_stack", mode, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("%s: the child died of signal %d", mode, WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

/* Under `ulimit -v 300000` the 272 MiB region could not be mapped, and
 * with no smaller one no task could start. */
static void test_tasks_run_under_an_address_space_limit(void **state)
{
    (void)state;
    expect_limited_child_ok("--as-limit");
}

/* A read-write region was charged whole (RLIMIT_DATA counts it, as
 * vm.overcommit_memory=2 does); only the slots handed out may be. */
static void test_tasks_run_under_a_data_limit(void **state)
{
    (void)state;
    expect_limited_child_ok("--data-limit");
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return limited_child(argv[1]);
    mallopt(M_ARENA_MAX, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_that_ran_loops_leave_no_altstack),
        cmocka_unit_test(test_tasks_run_under_an_address_space_limit),
        cmocka_unit_test(test_tasks_run_under_a_data_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
