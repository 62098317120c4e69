/* test_stack - what task stacks cost the process beyond their tasks: the
 * alternate signal stack a loop's thread gets for overflow reports, which
 * must go with the thread. */
#include <malloc.h>

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

int main(void)
{
    mallopt(M_ARENA_MAX, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_that_ran_loops_leave_no_altstack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
