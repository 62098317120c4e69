/* test_process_spawn - cc_process's start methods: a spawned child is a
 * fresh run of this binary that sees none of the parent's memory, threads,
 * held locks or descriptors and never enters main(), runs the function on
 * a copy of its blob argument, exits with its code, reports a failure on
 * stderr like a forked child, has its name, is joined with timeouts and
 * cancellation and killed; fork stays the default and the process-wide
 * default can be changed; bad input is refused; many children spawned
 * from threads and tasks at once all come back with their own codes. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "test_util.h"

static const cc_process_opts spawn_opts = {.start_method = CC_START_SPAWN};
static const cc_process_opts fork_opts = {.start_method = CC_START_FORK};

/* No child may be left behind by a test: not running, not a zombie. */
static void assert_no_children(void)
{
    errno = 0;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
        fail_msg("a child process is left over (waitpid: %s)",
                 cc_errname(errno));
}

/* Start, join, and return the exit code (minus a signal). */
static int run_child(cc_fn fn, void *arg, const char *name,
                     const cc_process_opts *opts)
{
    int code = INT_MIN;
    cc_process *p = cc_process_start_opts(fn, arg, name, opts);

    if (p == NULL)
        fail_msg("start: %s", cc_errmsg());
    if (cc_process_join(p, 60) != 0 || cc_process_exitcode(p, &code) != 0)
        fail_msg("join: %s", cc_errmsg());
    cc_process_free(p);
    return code;
}

/* A blob holding one int. */
static void *int_blob(int v)
{
    void *b = cc_blob_new(sizeof(v));

    assert_non_null(b);
    memcpy(b, &v, sizeof(v));
    return b;
}

/* ---- what the parent had: memory, main, threads, locks, fds ---- */

static bool main_entered;          /* set first thing in main() */
static int parent_value;           /* set by the test before the start */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int parent_fd = -1;         /* open in the parent, not close-on-exec */

enum {
    SAW_VALUE = 1,    /* the parent's global value */
    SAW_MAIN = 2,     /* main() ran in this process */
    SAW_THREADS = 4,  /* more than one thread */
    SAW_LOCKED = 8,   /* the parent's held mutex is held here */
    SAW_FD = 16,      /* the parent's descriptor is open here */
};

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Exits with the SAW_* bits of what it finds of the parent. */
static void *probe(void *arg)
{
    int saw = 0;

    (void)arg;
    if (parent_value == 42)
        saw |= SAW_VALUE;
    if (main_entered)
        saw |= SAW_MAIN;
    if (count_threads() != 1)
        saw |= SAW_THREADS;
    if (pthread_mutex_trylock(&held) != 0)
        saw |= SAW_LOCKED;
    if (parent_fd >= 0 && fcntl(parent_fd, F_GETFD) != -1)
        saw |= SAW_FD;
    cc_process_exit(saw);
}

static void *park(void *arg)
{
    cc_event *ev = arg;

    return cc_event_wait(ev, 60) == 0 ? arg : NULL;
}

static void test_spawned_child_sees_nothing_of_the_parent(void **state)
{
    (void)state;
    cc_event *stop = cc_event_new();
    cc_thread *t = cc_thread_start(park, stop, "parked");
    assert_non_null(t);
    parent_value = 42;
    parent_fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
    assert_true(parent_fd >= 0);
    assert_int_equal(pthread_mutex_lock(&held), 0);

    /* spawned: nothing of it */
    assert_int_equal(run_child(probe, NULL, "probe", &spawn_opts), 0);
    /* forked: the memory (with main's mark and the held lock) and the
     * descriptor, but not the other thread */
    assert_int_equal(run_child(probe, NULL, "probe", &fork_opts),
                     SAW_VALUE | SAW_MAIN | SAW_LOCKED | SAW_FD);

    /* a value set after the start is not seen either */
    parent_value = 0;
    cc_process *p = cc_process_start_opts(probe, NULL, NULL, &spawn_opts);
    assert_non_null(p);
    parent_value = 42;
    int code = -1;
    assert_ok(cc_process_join(p, 60));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 0);
    cc_process_free(p);

    assert_int_equal(pthread_mutex_unlock(&held), 0);
    close(parent_fd);
    parent_fd = -1;
    parent_value = 0;
    assert_ok(cc_event_set(stop));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_event_free(stop);
    assert_no_children();
}

/* ---- runs the function on a copy of its argument ---- */

static void *exit_with_blob(void *arg)
{
    int v;

    memcpy(&v, arg, sizeof(v));
    cc_process_exit(v);
}

static void *return_arg(void *arg)
{
    return arg;
}

/* Checks a big blob's pattern, changes it, exits 0 when all was right. */
static void *check_big(void *arg)
{
    unsigned char *b = arg;
    size_t n = cc_blob_len(arg);

    if (n != (size_t)3 << 20)
        cc_process_exit(3);
    for (size_t i = 0; i < n; i++) {
        if (b[i] != (unsigned char)(i * 31 + 7))
            cc_process_exit(4);
        b[i] = 0;
    }
    return arg; /* its own copy: fine to return */
}

static void *empty_blob_is_not_null(void *arg)
{
    if (arg == NULL || cc_blob_len(arg) != 0)
        cc_process_exit(5);
    return NULL;
}

static void test_runs_fn_with_a_copy_of_its_blob(void **state)
{
    (void)state;
    for (int v = 0; v < 5; v++) {
        void *b = int_blob(v * 50 + 3);
        assert_int_equal(run_child(exit_with_blob, b, NULL, &spawn_opts),
                         v * 50 + 3);
        cc_blob_free(b);
    }
    assert_int_equal(run_child(return_arg, NULL, NULL, &spawn_opts), 0);

    size_t n = (size_t)3 << 20;
    unsigned char *big = cc_blob_new(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    assert_int_equal(run_child(check_big, big, NULL, &spawn_opts), 0);
    for (size_t i = 0; i < n; i += 4099) /* the parent's is untouched */
        assert_int_equal(big[i], (unsigned char)(i * 31 + 7));
    cc_blob_free(big);

    void *empty = cc_blob_new(0);
    assert_int_equal(run_child(empty_blob_is_not_null, empty, NULL,
                               &spawn_opts), 0);
    cc_blob_free(empty);
}

/* ---- failures come back as from a forked child ---- */

static void *failing_child(void *arg)
{
    (void)arg;
    return cc_fail(EDOM, "bad input %d", 42);
}
enum { FAIL_LINE = __LINE__ - 2 };

static void test_failure_is_reported_like_fork(void **state)
{
    (void)state;
    char want[512];
    int code = -1;

    tu_capture cap = tu_capture_stderr();
    cc_process *p = cc_process_start_opts(failing_child, NULL, "failer",
                                          &spawn_opts);
    assert_non_null(p);
    int rc = cc_process_join(p, 60);
    char *out = tu_capture_end(cap);
    assert_int_equal(rc, 0);
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 1);
    snprintf(want, sizeof(want),
             "Process failer: bad input 42 (EDOM) at test_process_spawn.c:%d "
             "in process 'failer' (pid %ld)\n", FAIL_LINE,
             (long)cc_process_pid(p));
    assert_string_equal(out, want);
    free(out);
    cc_process_free(p);
    assert_no_children();
}

/* ---- names ---- */

/* Checks its names against the blob (a C string). */
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
    return NULL;
}

/* A spawned child that forks a grandchild with the default name: Python
 * names it "Process-<child's n>:1". */
static void *start_grandchild(void *arg)
{
    char want[64];
    int code = -1;

    if (check_names(arg) != NULL || cc_last_error() != NULL)
        return NULL;
    if (cc_process_get_start_method() != CC_START_FORK)
        return cc_fail(EPROTO, "the default start method was inherited");
    snprintf(want, sizeof(want), "%s:1", (const char *)arg);
    void *b = cc_blob_strdup(want);
    cc_process *g = cc_process_start(check_names, b, NULL);
    if (g == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "start");
    if (strcmp(cc_process_name(g), want) != 0)
        return cc_fail(EPROTO, "grandchild named '%s'", cc_process_name(g));
    if (cc_process_join(g, 30) != 0 || cc_process_exitcode(g, &code) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "join");
    cc_process_free(g);
    cc_blob_free(b);
    return code == 0 ? NULL : cc_fail(EPROTO, "grandchild exit %d", code);
}

static void test_names(void **state)
{
    (void)state;
    void *b = cc_blob_strdup("a-spawned-child-with-a-long-name");
    assert_int_equal(run_child(check_names, b, b, &spawn_opts),
                     0);
    cc_blob_free(b);

    /* default names count on with the forked children's */
    cc_process *p1 = cc_process_start_opts(return_arg, NULL, NULL,
                                           &fork_opts);
    assert_non_null(p1);
    unsigned n1 = 0;
    assert_int_equal(sscanf(cc_process_name(p1), "Process-%u", &n1), 1);
    char want[64];
    snprintf(want, sizeof(want), "Process-%u", n1 + 1);
    b = cc_blob_strdup(want);
    cc_process *p2 = cc_process_start_opts(start_grandchild, b, NULL,
                                           &spawn_opts);
    assert_non_null(p2);
    assert_string_equal(cc_process_name(p2), want);
    int code = -1;
    assert_ok(cc_process_join(p2, 60));
    assert_ok(cc_process_exitcode(p2, &code));
    assert_int_equal(code, 0);
    assert_ok(cc_process_join(p1, 60));
    cc_process_free(p1);
    cc_process_free(p2);
    cc_blob_free(b);
    assert_no_children();
}

/* ---- join timeout, cancellation, kill ---- */

static void *sleep_long(void *arg)
{
    (void)arg;
    tu_sleep(60);
    return NULL;
}

static void *join_forever(void *arg)
{
    if (cc_process_join(arg, CC_FOREVER) == 0)
        return cc_fail(EPROTO, "join returned although the child runs");
    return NULL; /* ECANCELED pending: ends cancelled */
}

static void *join_cancel_main(void *arg)
{
    cc_future *f[4];
    int bad = 0;

    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(join_forever, arg);
    cc_sleep(0.05);
    for (int i = 0; i < 4; i++)
        cc_future_cancel(f[i]);
    for (int i = 0; i < 4; i++) {
        if (cc_future_result(f[i], NULL, 10) != -1 || errno != ECANCELED)
            bad++;
        cc_future_free(f[i]);
    }
    if (bad)
        return cc_fail(EPROTO, "%d joins did not end cancelled", bad);
    return arg;
}

static void test_join_timeout_cancel_kill(void **state)
{
    (void)state;
    int code = 0;
    cc_process *p = cc_process_start_opts(sleep_long, NULL, "slow",
                                          &spawn_opts);
    assert_non_null(p);
    assert_fails_with(cc_process_join(p, 0.1), ETIMEDOUT);
    assert_non_null(strstr(cc_errmsg(), "slow"));
    assert_fails_with(cc_process_join(p, 0), EAGAIN);
    assert_fails_with(cc_process_exitcode(p, &code), EAGAIN);
    assert_ok(cc_deadline_push(0.05));
    assert_fails_with(cc_process_join(p, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    assert_ok(cc_run(join_cancel_main, p, NULL));
    assert_true(cc_process_is_alive(p));
    assert_ok(cc_process_kill(p));
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGKILL);
    cc_process_free(p);

    /* freed while it runs: killed and reaped */
    p = cc_process_start_opts(sleep_long, NULL, NULL, &spawn_opts);
    assert_non_null(p);
    cc_process_free(p);
    assert_no_children();
}

/* ---- the default, and bad input ---- */

static void test_default_and_set_start_method(void **state)
{
    (void)state;
    int local = 0;

    assert_int_equal(cc_process_get_start_method(), CC_START_FORK);
    /* fork by default: any pointer goes */
    assert_int_equal(run_child(return_arg, &local, NULL, NULL), 0);
    cc_process_opts zero = {0};
    assert_int_equal(run_child(return_arg, &local, NULL, &zero), 0);
    parent_value = 42;
    assert_int_equal(run_child(probe, NULL, NULL, &zero) & SAW_VALUE,
                     SAW_VALUE);

    assert_ok(cc_process_set_start_method(CC_START_SPAWN));
    assert_int_equal(cc_process_get_start_method(), CC_START_SPAWN);
    assert_null_with(cc_process_start(return_arg, &local, NULL), EINVAL);
    assert_int_equal(run_child(probe, NULL, NULL, &zero), 0);
    cc_process *p = cc_process_start(probe, NULL, NULL);
    assert_non_null(p);
    int code = -1;
    assert_ok(cc_process_join(p, 60));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 0);
    cc_process_free(p);
    /* explicit fork still forks */
    assert_int_equal(run_child(probe, NULL, NULL, &fork_opts) & SAW_VALUE,
                     SAW_VALUE);

    assert_fails_with(cc_process_set_start_method(3), EINVAL);
    assert_fails_with(cc_process_set_start_method(-1), EINVAL);
    assert_int_equal(cc_process_get_start_method(), CC_START_SPAWN);
    assert_ok(cc_process_set_start_method(CC_START_DEFAULT));
    assert_int_equal(cc_process_get_start_method(), CC_START_FORK);
    parent_value = 0;
    assert_no_children();
}

static int data_word = 1;

static void test_bad_input(void **state)
{
    (void)state;
    int local = 0;
    void *heap = malloc(16);

    assert_null_with(cc_process_start_opts(NULL, NULL, NULL, &spawn_opts),
                     EINVAL);
    /* not a blob */
    assert_null_with(cc_process_start_opts(return_arg, &local, NULL,
                                           &spawn_opts), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "neither NULL nor a blob"));
    assert_null_with(cc_process_start_opts(return_arg, heap, NULL,
                                           &spawn_opts), EINVAL);
    assert_null_with(cc_process_start_opts(return_arg, (void *)(intptr_t)8,
                                           NULL, &spawn_opts), EINVAL);
    /* not a function in a module's code */
    assert_null_with(cc_process_start_opts((cc_fn)heap, NULL, NULL,
                                           &spawn_opts), EINVAL);
    assert_null_with(cc_process_start_opts((cc_fn)(void *)&data_word, NULL,
                                           NULL, &spawn_opts), EINVAL);
    /* bad options */
    cc_process_opts o = {.start_method = 3};
    assert_null_with(cc_process_start_opts(return_arg, NULL, NULL, &o),
                     EINVAL);
    o.start_method = -1;
    assert_null_with(cc_process_start_opts(return_arg, NULL, NULL, &o),
                     EINVAL);
    for (int k = 0; k < 4; k++) {
        cc_process_opts r = {.start_method = CC_START_SPAWN};
        r.reserved[k] = 1;
        assert_null_with(cc_process_start_opts(return_arg, NULL, NULL, &r),
                         EINVAL);
        assert_non_null(strstr(cc_errmsg(), "cc_process_opts.reserved"));
    }
    free(heap);
    assert_no_children();
}

/* ---- many at once, from threads and tasks ---- */

#define NTHREADS 4
#define PER_THREAD 4

typedef struct starter {
    int id;
    int bad;
} starter;

static void *start_many(void *arg)
{
    starter *s = arg;
    cc_process *ps[PER_THREAD];
    void *blobs[PER_THREAD];

    for (int i = 0; i < PER_THREAD; i++) {
        int want = (s->id * PER_THREAD + i) % 200 + 1;

        blobs[i] = int_blob(want);
        ps[i] = cc_process_start_opts(exit_with_blob, blobs[i], NULL,
                                      &spawn_opts);
        cc_blob_free(blobs[i]); /* copied at the start */
        if (ps[i] == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start");
        tu_jitter(2000);
    }
    for (int i = PER_THREAD; i-- > 0;) {
        int code = -1;
        int want = (s->id * PER_THREAD + i) % 200 + 1;

        if (cc_process_join(ps[i], 120) != 0 ||
            cc_process_exitcode(ps[i], &code) != 0 || code != want)
            s->bad++;
        cc_process_free(ps[i]);
    }
    return s;
}

static void *start_many_tasks(void *arg)
{
    starter *ss = arg;
    cc_future *f[NTHREADS];

    for (int i = 0; i < NTHREADS; i++)
        f[i] = cc_spawn(start_many, &ss[i]);
    for (int i = 0; i < NTHREADS; i++) {
        if (cc_future_result(f[i], NULL, 300) != 0)
            ss[i].bad++;
        cc_future_free(f[i]);
    }
    return arg;
}

static void test_many_from_threads_and_tasks(void **state)
{
    (void)state;
    starter ss[NTHREADS];
    starter ts[NTHREADS];
    int fds = tu_fds();

    for (int i = 0; i < NTHREADS; i++) {
        ss[i] = (starter){i, 0};
        ts[i] = (starter){i + NTHREADS, 0};
    }
    tu_threads th = tu_start(NTHREADS, start_many, ss, sizeof(ss[0]));
    assert_ok(cc_run(start_many_tasks, ts, NULL));
    tu_join(th);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(ss[i].bad, 0);
        assert_int_equal(ts[i].bad, 0);
    }
    tu_no_fd_leak(fds);
    assert_no_children();
}

int main(void)
{
    main_entered = true;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawned_child_sees_nothing_of_the_parent),
        cmocka_unit_test(test_runs_fn_with_a_copy_of_its_blob),
        cmocka_unit_test(test_failure_is_reported_like_fork),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_join_timeout_cancel_kill),
        cmocka_unit_test(test_default_and_set_start_method),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_many_from_threads_and_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
