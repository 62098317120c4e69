/* test_task - tasks on the event loop: cc_run results and errors, spawning,
 * names, awaiting, yield fairness, sleeps in order, registers and FPU state
 * across switches, large stacks, stack overflow naming the task, loops
 * driven by hand and from other threads, and ASan inside coroutines. */
#include <fenv.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>

#include "test_util.h"

static void *answer(void *arg)
{
    (void)arg;
    return (void *)42;
}

static void *fail_main(void *arg)
{
    (void)arg;
    return cc_fail(ENOENT, "nothing to do in %s", "main");
}

static void test_run_returns_result_or_error(void **state)
{
    (void)state;
    void *r = NULL;
    assert_ok(cc_run(answer, NULL, &r));
    assert_int_equal((intptr_t)r, 42);
    assert_fails_with(cc_run(fail_main, NULL, &r), ENOENT);
    assert_string_equal(cc_errmsg(), "nothing to do in main");
    assert_non_null(strstr(cc_error_where(cc_last_error()), "in task 'Task-"));
    assert_fails_with(cc_run(NULL, NULL, NULL), EINVAL);
    assert_null_with(cc_spawn(answer, NULL), EINVAL); /* no loop here */
    assert_null(cc_loop_current());
}

static void *nested_run(void *arg)
{
    (void)arg;
    if (cc_run(answer, NULL, NULL) != -1 || errno != EBUSY)
        return cc_fail(EPROTO, "cc_run inside a loop did not fail with EBUSY");
    if (cc_loop_current() == NULL || cc_current_task() == NULL)
        return cc_fail(EPROTO, "no current loop/task inside cc_run");
    return arg;
}

static void test_nested_run_is_refused(void **state)
{
    assert_ok(cc_run(nested_run, state, NULL));
}

/* ---- spawn, await, names ---- */

static void *square_later(void *arg)
{
    intptr_t x = (intptr_t)arg;
    cc_sleep(0.001 * (double)(x % 5));
    return (void *)(x * x);
}

static void *fail_child(void *arg)
{
    (void)arg;
    cc_sleep(0.005);
    return cc_fail(EDOM, "child cannot");
}

static void *spawner(void *arg)
{
    (void)arg;
    enum { N = 200 };
    cc_future *f[N];
    for (intptr_t i = 0; i < N; i++)
        f[i] = cc_spawn(square_later, (void *)i);
    for (intptr_t i = 0; i < N; i++) {
        void *r;
        if (cc_future_result(f[i], &r, 10) != 0 || (intptr_t)r != i * i)
            return cc_fail(EPROTO, "task %ld gave a wrong result", (long)i);
        cc_future_free(f[i]);
    }
    /* awaiting a failed task gives its error and chain */
    cc_task_opts o = {.name = "doomed"};
    cc_future *bad = cc_spawn_opts(fail_child, NULL, &o);
    if (strcmp(cc_task_name(bad), "doomed") != 0)
        return cc_fail(EPROTO, "name '%s'", cc_task_name(bad));
    if (cc_future_result(bad, NULL, 10) != -1 || errno != EDOM ||
        strcmp(cc_errmsg(), "child cannot") != 0 ||
        !strstr(cc_error_where(cc_last_error()), "in task 'doomed'"))
        return cc_fail(EPROTO, "the child's error did not come through");
    cc_future_free(bad);
    if (strncmp(cc_task_name(cc_current_task()), "Task-", 5) != 0)
        return cc_fail(EPROTO, "default name");
    if (cc_future_result(cc_current_task(), NULL, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "own future should not be done");
    return arg;
}

static void test_spawn_await_and_names(void **state)
{
    assert_ok(cc_run(spawner, state, NULL));
}

/* ---- fairness ---- */

static char order[64];
static _Atomic int order_len;

static void *round_robin(void *arg)
{
    char c = *(char *)arg;
    for (int i = 0; i < 3; i++) {
        order[atomic_fetch_add(&order_len, 1)] = c;
        cc_yield();
    }
    return arg;
}

static void *fairness_main(void *arg)
{
    (void)arg;
    static char names[3] = {'A', 'B', 'C'};
    cc_future *f[3];
    atomic_store(&order_len, 0);
    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(round_robin, &names[i]);
    cc_gather(f, 3, NULL, false, CC_FOREVER);
    for (int i = 0; i < 3; i++)
        cc_future_free(f[i]);
    order[atomic_load(&order_len)] = '\0';
    return arg;
}

static void test_yield_is_fifo_fair(void **state)
{
    assert_ok(cc_run(fairness_main, state, NULL));
    assert_string_equal(order, "ABCABCABC");
}

/* ---- sleeps end in deadline order ---- */

/*
 * What is checked is the order the loop resumes sleepers in, not the
 * clock: a sleeper's deadline is known only within bounds -- at least its
 * start (read just before cc_sleep) plus its delay, at most the start of
 * the sleeper that ran after it (the loop runs one task at a time, so that
 * one started after this one's cc_sleep had computed its deadline) plus
 * the delay.  Whenever one deadline is surely later than another, its
 * sleeper must wake later: timers that expire in one pass of the loop
 * resume in deadline order.  A loaded machine only widens the bounds.
 * Delays start at 1 ms: cc_sleep(0) is a yield, which no timer orders.
 */
enum { SLEEPERS = 300 };

typedef struct {
    double delay;
    double start;       /* cc_now() just before cc_sleep */
    long started;       /* the order the sleepers started in */
    long woke;          /* the order they woke in */
} sleeper_arg;

static long sleepers_started;
static long sleepers_woke;
static double start_of[SLEEPERS]; /* start of the n-th sleeper to start */

static void *sleeper(void *p)
{
    sleeper_arg *a = p;

    a->started = sleepers_started++;
    a->start = cc_now();
    start_of[a->started] = a->start;
    if (cc_sleep(a->delay) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "sleep");
    a->woke = sleepers_woke++;
    if (cc_now() - a->start < a->delay)
        return cc_fail(EPROTO, "woke early: %g < %g", cc_now() - a->start,
                       a->delay);
    return p;
}

/* The latest a sleeper's deadline can be; INFINITY for the last one to
 * start, which no later start bounds. */
static double latest_deadline(const sleeper_arg *a)
{
    if (a->started + 1 >= SLEEPERS)
        return INFINITY;
    return start_of[a->started + 1] + a->delay;
}

static void *sleep_order_main(void *arg)
{
    (void)arg;
    static sleeper_arg a[SLEEPERS];
    cc_future *f[SLEEPERS];
    int compared = 0;

    sleepers_started = sleepers_woke = 0;
    for (int i = 0; i < SLEEPERS; i++) {
        a[i].delay = 0.001 * (1 + tu_rand_below(50));
        f[i] = cc_spawn(sleeper, &a[i]);
    }
    int rc = cc_gather(f, SLEEPERS, NULL, false, CC_FOREVER);
    for (int i = 0; i < SLEEPERS; i++)
        cc_future_free(f[i]);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "a sleeper failed");
    for (int i = 0; i < SLEEPERS; i++)
        for (int j = 0; j < SLEEPERS; j++) {
            if (a[j].start + a[j].delay <= latest_deadline(&a[i]))
                continue; /* not surely later */
            compared++;
            if (a[j].woke < a[i].woke)
                return cc_fail(EPROTO, "sleeper %d (deadline >= %.4f) woke "
                                       "before sleeper %d (deadline <= %.4f)",
                               j, a[j].start + a[j].delay, i,
                               latest_deadline(&a[i]));
        }
    if (compared == 0)
        return cc_fail(EPROTO, "no two deadlines were surely apart");
    return arg;
}

static void test_sleeps_end_in_deadline_order(void **state)
{
    assert_ok(cc_run(sleep_order_main, state, NULL));
}

/* ---- registers and FPU control state survive switches ---- */

static void *fpu_task(void *arg)
{
    int mode = *(int *)arg;
    volatile double acc = 0;
    long a1 = mode, a2 = mode * 3, a3 = mode * 7, a4 = mode * 11, a5 = mode * 13;
    fesetround(mode);
    for (int i = 0; i < 200; i++) {
        cc_yield();
        if (fegetround() != mode)
            return cc_fail(EPROTO, "rounding mode lost across a switch");
        a1 += 1;
        a2 += 3;
        a3 += 7;
        a4 += 11;
        a5 += 13;
        acc += 1.0 / 3.0;
    }
    if (a1 != mode + 200 || a2 != mode * 3 + 600 || a3 != mode * 7 + 1400 ||
        a4 != mode * 11 + 2200 || a5 != mode * 13 + 2600)
        return cc_fail(EPROTO, "locals lost across switches");
    if (acc < 66.0 || acc > 67.0)
        return cc_fail(EPROTO, "a floating-point sum went wrong: %g", acc);
    fesetround(FE_TONEAREST);
    return arg;
}

static void *fpu_main(void *arg)
{
    (void)arg;
    static int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    cc_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(fpu_task, &modes[i]);
    int rc = cc_gather(f, 4, NULL, false, CC_FOREVER);
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    if (fegetround() != FE_TONEAREST)
        return cc_fail(EPROTO, "the main task's rounding mode changed");
    return rc == 0 ? arg : NULL;
}

static void test_registers_and_fpu_state_survive(void **state)
{
    assert_ok(cc_run(fpu_main, state, NULL));
}

/* ---- stacks ---- */

static long deep(int n, volatile char *pad)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[1023] = pad != NULL ? pad[0] : 0;
    if (n == 0)
        return buf[0] + buf[1023];
    return deep(n - 1, buf) + buf[0];
}

static void *use_200k(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)(deep(200, NULL) + 1); /* ~200 KiB of stack */
}

static void *big_stack_main(void *arg)
{
    (void)arg;
    cc_task_opts o = {.name = "big", .stack_size = 512 * 1024};
    cc_future *f = cc_spawn_opts(use_200k, NULL, &o);
    void *r;
    int rc = cc_future_result(f, &r, 10);
    cc_future_free(f);
    return rc == 0 ? r : NULL;
}

static void test_large_stack_option(void **state)
{
    (void)state;
    void *r;
    assert_ok(cc_run(big_stack_main, NULL, &r));
    assert_true((intptr_t)r > 0);
}

static void *recurse_forever(void *arg)
{
    return (void *)(intptr_t)deep(1 << 20, arg);
}

static void *overflow_main(void *arg)
{
    (void)arg;
    cc_task_opts o = {.name = "deep", .stack_size = 16 * 1024};
    cc_future *f = cc_spawn_opts(recurse_forever, NULL, &o);
    cc_future_result(f, NULL, 10);
    return NULL;
}

static void run_overflow(void *arg)
{
    (void)arg;
    cc_run(overflow_main, NULL, NULL);
}

static void test_stack_overflow_names_the_task(void **state)
{
    (void)state;
    tu_child c = tu_run_child(run_overflow, NULL);
    assert_true(WIFSIGNALED(c.status));
    assert_true(WTERMSIG(c.status) == SIGSEGV || WTERMSIG(c.status) == SIGBUS ||
                WTERMSIG(c.status) == SIGABRT);
#if !defined(CONCUR_ASAN)
    /* (ASan reports stack overflows itself, first) */
    assert_non_null(strstr(c.err, "task 'deep' overflowed its 16 KiB stack"));
    assert_non_null(strstr(c.err, "test_task.c:"));
#endif
    free(c.err);
}

/* ---- ASan follows coroutines ---- */

#if defined(CONCUR_ASAN)
static void *use_after_free(void *arg)
{
    (void)arg;
    volatile char *p = malloc(16);
    free((void *)p);
    return (void *)(intptr_t)p[3]; /* deliberate: ASan must catch this */
}

static void *uaf_main(void *arg)
{
    cc_task_opts o = {.name = "careless"};
    cc_future *f = cc_spawn_opts(use_after_free, arg, &o);
    cc_future_result(f, NULL, 10);
    return NULL;
}

static void run_uaf(void *arg)
{
    cc_run(uaf_main, arg, NULL);
}
#endif

static void test_asan_catches_use_after_free_in_a_task(void **state)
{
    (void)state;
#if defined(CONCUR_ASAN)
    tu_child c = tu_run_child(run_uaf, NULL);
    assert_false(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
    assert_non_null(strstr(c.err, "heap-use-after-free"));
    assert_non_null(strstr(c.err, "use_after_free"));
    free(c.err);
#else
    skip(); /* only meaningful in the ASan build (make test-asan) */
#endif
}

/* ---- loops by hand, from other threads ---- */

static cc_loop *thread_loop;

static void *loop_thread(void *arg)
{
    (void)arg;
    if (cc_loop_run_forever(thread_loop) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "run_forever");
    return arg;
}

static void test_loop_spawn_from_another_thread(void **state)
{
    thread_loop = cc_loop_new();
    cc_thread *t = cc_thread_start(loop_thread, state, "loop");
    cc_future *f[50];
    for (intptr_t i = 0; i < 50; i++) /* from this thread, onto that loop */
        f[i] = cc_loop_spawn(thread_loop, square_later, (void *)i);
    for (intptr_t i = 0; i < 50; i++) {
        void *r;
        assert_ok(cc_future_result(f[i], &r, 30)); /* a thread waits */
        assert_int_equal((intptr_t)r, i * i);
        cc_future_free(f[i]);
    }
    assert_ok(cc_loop_stop(thread_loop));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_loop_free(thread_loop);
}

static void test_run_until_done_by_hand(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    cc_future *f = cc_loop_spawn(l, square_later, (void *)7);
    assert_ok(cc_loop_run_until_done(l, f));
    void *r;
    assert_ok(cc_future_result(f, &r, 0));
    assert_int_equal((intptr_t)r, 49);
    cc_future_free(f);
    /* tasks left over when the loop is freed are cancelled and finished */
    cc_future *g = cc_loop_spawn(l, sleeper, &(sleeper_arg){10.0, 0, 0});
    cc_loop_free(l);
    assert_true(cc_future_cancelled(g));
    cc_future_free(g);
}

/* ---- callbacks ---- */

static char cb_log[32];
static int cb_n;

static void log_cb(void *arg)
{
    cb_log[cb_n++] = *(char *)arg;
}

static void *callbacks_main(void *arg)
{
    (void)arg;
    static char a = 'a', b = 'b', c = 'c', d = 'd', x = 'x';
    cc_loop *l = cc_loop_current();
    cb_n = 0;
    cc_loop_call_later(l, 0.03, log_cb, &d);
    cc_timer *never = cc_loop_call_later(l, 0.02, log_cb, &x);
    cc_loop_call_later(l, 0.01, log_cb, &c);
    cc_loop_call_soon(l, log_cb, &a);
    cc_loop_call_soon_threadsafe(l, log_cb, &b);
    if (!cc_timer_cancel(never))
        return cc_fail(EPROTO, "cancel of a pending call_later");
    cc_sleep(0.06);
    cb_log[cb_n] = '\0';
    return arg;
}

static void test_callbacks_run_in_order(void **state)
{
    assert_ok(cc_run(callbacks_main, state, NULL));
    assert_string_equal(cb_log, "abcd");
}

/* Callbacks still armed when the loop ends are dropped with it, as
 * asyncio's close drops them: their records used to stay allocated (80
 * bytes each), which LeakSanitizer reports in the ASan build and the heap
 * figure shows in the others. */
#define N_UNFIRED 1000

static void *arm_unfired(void *arg)
{
    cc_loop *l = cc_loop_current();

    for (int i = 0; i < N_UNFIRED; i++)
        if (cc_loop_call_later(l, 3600, log_cb, arg) == NULL)
            return cc_fail(0, "call_later %d: %s", i, cc_errmsg());
    return arg;
}

static void test_unfired_call_later_is_freed_with_its_loop(void **state)
{
    static char never = 'n';
    size_t before;

    (void)state;
    assert_ok(cc_run(arm_unfired, &never, NULL)); /* warm the caches */
    before = mallinfo2().uordblks;
    cb_n = 0;
    assert_ok(cc_run(arm_unfired, &never, NULL));
    assert_int_equal(cb_n, 0);
#if !defined(CONCUR_ASAN) && !defined(CONCUR_TSAN)
    size_t after = mallinfo2().uordblks;
    if (after > before + N_UNFIRED * 16)
        fail_msg("the heap grew by %zu bytes over a loop with %d unfired "
                 "callbacks", after - before, N_UNFIRED);
#else
    (void)before;
#endif
}

/* ---- debug: a task that hogs the loop is reported ---- */

static void *hog(void *arg)
{
    (void)arg;
    double t0 = cc_now();
    while (cc_now() - t0 < 0.15)
        ; /* busy, never yields */
    return arg;
}

static void *hog_main(void *arg)
{
    cc_task_opts o = {.name = "hog"};
    cc_future *f = cc_spawn_opts(hog, arg, &o);
    cc_future_result(f, NULL, 10);
    cc_future_free(f);
    return arg;
}

static void test_debug_reports_slow_task(void **state)
{
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    assert_ok(cc_run(hog_main, state, NULL));
    assert_ok(cc_run(hog, state, NULL)); /* cc_run's own task hogs */
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_non_null(strstr(out, "task 'hog' (spawned at "));
    assert_non_null(strstr(out, "without yielding"));
    assert_non_null(strstr(out, "(spawned by cc_run) ran "));
    free(out);
}

static void *fire_and_forget_main(void *arg)
{
    cc_task_opts o = {.name = "forgotten"};
    cc_future *f = cc_spawn_opts(square_later, (void *)3, &o);
    cc_future_free(f); /* never awaited */
    f = cc_spawn(square_later, (void *)4);
    cc_future_result(f, NULL, 10); /* awaited: not reported */
    cc_future_free(f);
    cc_sleep(0.02);
    return arg;
}

static void test_debug_reports_task_never_awaited(void **state)
{
    cc_set_debug(true);
    tu_capture cap = tu_capture_stderr();
    assert_ok(cc_run(fire_and_forget_main, state, NULL));
    char *out = tu_capture_end(cap);
    cc_set_debug(false);
    assert_non_null(strstr(out, "task 'forgotten' (spawned at "));
    assert_non_null(strstr(out, "ended and was never awaited"));
    assert_null(strstr(out, "freed without")); /* said once */
    char *first = strstr(out, "never awaited");
    assert_null(strstr(first + 1, "never awaited")); /* the awaited one: no */
    free(out);
}

static void test_debug_stacks_report_use(void **state)
{
    cc_set_debug_stacks(true);
    tu_capture cap = tu_capture_stderr();
    assert_ok(cc_run(big_stack_main, state, NULL));
    char *out = tu_capture_end(cap);
    cc_set_debug_stacks(false);
    char *line = strstr(out, "task 'big' used at most ");
    assert_non_null(line);
    int kib = atoi(line + strlen("task 'big' used at most "));
    assert_true(kib >= 200 && kib <= 512);
    free(out);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_returns_result_or_error),
        cmocka_unit_test(test_nested_run_is_refused),
        cmocka_unit_test(test_spawn_await_and_names),
        cmocka_unit_test(test_yield_is_fifo_fair),
        cmocka_unit_test(test_sleeps_end_in_deadline_order),
        cmocka_unit_test(test_registers_and_fpu_state_survive),
        cmocka_unit_test(test_large_stack_option),
        cmocka_unit_test(test_stack_overflow_names_the_task),
        cmocka_unit_test(test_asan_catches_use_after_free_in_a_task),
        cmocka_unit_test(test_loop_spawn_from_another_thread),
        cmocka_unit_test(test_run_until_done_by_hand),
        cmocka_unit_test(test_callbacks_run_in_order),
        cmocka_unit_test(test_unfired_call_later_is_freed_with_its_loop),
        cmocka_unit_test(test_debug_reports_slow_task),
        cmocka_unit_test(test_debug_reports_task_never_awaited),
        cmocka_unit_test(test_debug_stacks_report_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
