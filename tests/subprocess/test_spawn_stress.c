/* test_spawn_stress - starting children from many threads and tasks at
 * once, with random jitter: 8 threads and 2 loops of 8 tasks each start
 * children of random shapes (echo through communicate, run with capture,
 * a two-stage pipeline, kill then wait, a child listing its descriptors
 * with one passed fd, an exec failure) while another thread keeps opening
 * and closing descriptors WITHOUT close-on-exec.  Every child must see
 * exactly 0, 1, 2 (and its passed fd): nothing of the concurrent starts
 * or of the noise leaks in, so every end of file arrives on time.  Every
 * output is checked; at the end no descriptor and no child is left. */
#include "subprocess/sp_util.h"

#define THREADS 8
#define PER_THREAD (TU_SLOW > 1 ? 30 : 100)
#define LOOPS 2
#define TASKS 8
#define PER_TASK (TU_SLOW > 1 ? 8 : 20)

static _Atomic bool noise_stop;
static _Atomic int noise_rounds;
static _Atomic int done_count;

/* Opens and closes pipes and files without O_CLOEXEC, all the time. */
static void *noise(void *arg)
{
    (void)arg;
    while (!atomic_load(&noise_stop)) {
        int p[2];
        if (pipe(p) == 0) {
            int d = open("/dev/null", O_RDONLY);
            tu_jitter(200);
            close(p[0]);
            close(p[1]);
            if (d >= 0)
                close(d);
        }
        atomic_fetch_add(&noise_rounds, 1);
    }
    return arg;
}

/* One child of a random shape; NULL and an error on failure. */
static void *one_child(unsigned id)
{
    char word[48], want[160];
    snprintf(word, sizeof(word), "w%u-%u", id, (unsigned)tu_rand_below(1000000));
    switch (tu_rand_below(6)) {
    case 0: { /* echo through communicate */
        cc_popen_opts o = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_PIPE)};
        cc_popen *p = cc_popen_new(ARGV(HELPER, "echo"), &o);
        if (p == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start echo");
        void *out = NULL;
        int code = -1;
        int rc = cc_popen_communicate(p, word, strlen(word), 30, &out, NULL,
                                      &code);
        cc_popen_free(p);
        bool ok = rc == 0 && code == 0 && strcmp(sp_text(out), word) == 0;
        cc_blob_free(out);
        return ok ? "" : cc_fail(EPROTO, "echo of %s", word);
    }
    case 1: { /* run with capture */
        cc_completed r;
        cc_run_opts o = {.capture_output = true, .timeout = 30};
        if (cc_subprocess_run(ARGV(HELPER, "out", word, "err", "e", "exit",
                                   "7"), &o, &r) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "run");
        bool ok = r.returncode == 7 && strcmp(sp_text(r.out), word) == 0 &&
                  strcmp(sp_text(r.err), "e") == 0;
        cc_completed_free(&r);
        return ok ? "" : cc_fail(EPROTO, "run of %s", word);
    }
    case 2: { /* a pipeline: the EOF must travel */
        cc_popen_opts o1 = {.out = CC_STDIO(CC_PIPE)};
        cc_popen *a = cc_popen_new(ARGV(HELPER, "out", word), &o1);
        if (a == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start a");
        cc_popen_opts o2 = {.in = CC_STDIO_FROM(a), .out = CC_STDIO(CC_PIPE)};
        cc_popen *b = cc_popen_new(ARGV(HELPER, "count"), &o2);
        if (b == NULL) {
            cc_popen_free(a);
            return cc_fail_from(cc_last_error(), EPROTO, "start b");
        }
        void *out = NULL;
        int code = -1, code_a = -1;
        int rc = cc_popen_communicate(b, NULL, 0, 30, &out, NULL, &code);
        int rc_a = cc_popen_wait(a, 30, &code_a);
        snprintf(want, sizeof(want), "%zu\n", strlen(word));
        bool ok = rc == 0 && rc_a == 0 && code == 0 && code_a == 0 &&
                  strcmp(sp_text(out), want) == 0;
        cc_blob_free(out);
        cc_popen_free(a);
        cc_popen_free(b);
        return ok ? "" : cc_fail(EPROTO, "pipeline of %s", word);
    }
    case 3: { /* kill then wait */
        cc_popen *p = cc_popen_new(ARGV(HELPER, "sleep", "10"), NULL);
        if (p == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "start sleep");
        tu_jitter(2000);
        int code = 0;
        bool ok = cc_popen_kill(p) == 0 && cc_popen_wait(p, 30, &code) == 0 &&
                  code == -SIGKILL;
        cc_popen_free(p);
        return ok ? "" : cc_fail(EPROTO, "kill: code %d", code);
    }
    case 4: { /* exactly 0, 1, 2 and the passed fd */
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) != 0)
            return cc_fail(errno, "pipe2");
        int pass[] = {pfd[1]};
        cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .pass_fds = pass,
                           .n_pass_fds = 1};
        cc_popen *p = cc_popen_new(ARGV(HELPER, "fds"), &o);
        close(pfd[1]);
        if (p == NULL) {
            close(pfd[0]);
            return cc_fail_from(cc_last_error(), EPROTO, "start fds");
        }
        void *out = NULL;
        int code = -1;
        int rc = cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code);
        /* the passed end is closed everywhere now: EOF */
        char c;
        ssize_t n = read(pfd[0], &c, 1);
        close(pfd[0]);
        cc_popen_free(p);
        snprintf(want, sizeof(want), "0 1 2 %d\n", pass[0]);
        bool ok = rc == 0 && code == 0 && n == 0 &&
                  strcmp(sp_text(out), want) == 0;
        void *err = ok ? "" : cc_fail(EPROTO, "fds: '%s', want '%s'",
                                      sp_text(out), want);
        cc_blob_free(out);
        return err;
    }
    default: { /* an exec failure leaves nothing behind */
        cc_popen_opts o = {.out = CC_STDIO(CC_PIPE)};
        errno = 0;
        cc_popen *p = cc_popen_new(ARGV("/nonexistent/cc-prog"), &o);
        if (p != NULL || errno != ENOENT) {
            cc_popen_free(p);
            return cc_fail(EPROTO, "exec failure gave %s", cc_errname(errno));
        }
        return "";
    }
    }
}

static void *starter_thread(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg * 1000;
    for (int i = 0; i < PER_THREAD; i++) {
        tu_jitter(3000);
        if (one_child(base + (unsigned)i) == NULL)
            return NULL;
        atomic_fetch_add(&done_count, 1);
    }
    return arg;
}

static void *starter_task(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg * 1000;
    for (int i = 0; i < PER_TASK; i++) {
        cc_sleep(tu_rand_below(3000) / 1e6);
        if (one_child(base + (unsigned)i) == NULL)
            return NULL;
        atomic_fetch_add(&done_count, 1);
    }
    return arg;
}

static void *tasks_main(void *arg)
{
    cc_future *f[TASKS];
    unsigned base = (unsigned)(uintptr_t)arg * 100;
    for (int i = 0; i < TASKS; i++)
        f[i] = cc_spawn(starter_task, (void *)(uintptr_t)(base + i + 1));
    int rc = cc_gather(f, TASKS, NULL, false, CC_FOREVER);
    const cc_error *first = NULL;
    for (int i = 0; i < TASKS && first == NULL; i++)
        first = cc_future_error(f[i]);
    void *res = rc == 0 ? arg
                        : cc_fail_from(first, EPROTO, "a task failed");
    for (int i = 0; i < TASKS; i++)
        cc_future_free(f[i]);
    return res;
}

static void *loop_thread(void *arg)
{
    void *res = NULL;
    if (cc_run(tasks_main, arg, &res) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "loop");
    return res;
}

static void test_concurrent_starts(void **state)
{
    (void)state;
    atomic_store(&noise_stop, false);
    atomic_store(&noise_rounds, 0);
    atomic_store(&done_count, 0);
    cc_thread *nt = cc_thread_start(noise, &nt, "noise");
    cc_thread *t[THREADS + LOOPS];
    double t0 = cc_now();
    for (int i = 0; i < THREADS; i++)
        t[i] = cc_thread_start(starter_thread, (void *)(uintptr_t)(i + 1),
                               "starter");
    for (int i = 0; i < LOOPS; i++)
        t[THREADS + i] = cc_thread_start(loop_thread,
                                         (void *)(uintptr_t)(i + 1), "loop");
    for (int i = 0; i < THREADS + LOOPS; i++) {
        void *res;
        if (cc_thread_join(t[i], &res, 300) != 0)
            fail_msg("starter %d: %s", i, cc_errmsg());
        cc_thread_free(t[i]);
    }
    atomic_store(&noise_stop, true);
    assert_ok(cc_thread_join(nt, NULL, 30));
    cc_thread_free(nt);
    printf("# %d children from %d threads and %d tasks in %.2f s; %d noise "
           "rounds\n", atomic_load(&done_count), THREADS, LOOPS * TASKS,
           cc_now() - t0, atomic_load(&noise_rounds));
    assert_int_equal(atomic_load(&done_count),
                     THREADS * PER_THREAD + LOOPS * TASKS * PER_TASK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SP_TEST(test_concurrent_starts),
    };
    return cmocka_run_group_tests(tests, sp_group_setup, NULL);
}
