/*
 * bench_throttle - 4 threads acquire one token at a time from a throttle
 * set to 10,000/s, for 2 s.  Prints the achieved rate, its error against the
 * set rate, and the largest excess over the bound rate * elapsed + burst
 * seen at any grant (must be <= 0).  usage: bench_throttle [rate] [seconds]
 */
#include <stdatomic.h>

#include "bench_util.h"

enum { THREADS = 4 };

static cc_throttle *t;
static double rate, burst, start, end;
static _Atomic long granted;
static double worst_excess = -1e9; /* guarded by excess_lock */
static cc_lock *excess_lock;

static void *grabber(void *arg)
{
    while (cc_now() < end) {
        long g;
        double excess;

        if (cc_throttle_acquire(t, 1, end - cc_now() + 0.01) != 0)
            break;
        g = atomic_fetch_add(&granted, 1) + 1;
        excess = (double)g - ((cc_now() - start) * rate + burst);
        cc_lock_acquire(excess_lock, CC_FOREVER);
        if (excess > worst_excess)
            worst_excess = excess;
        cc_lock_release(excess_lock);
    }
    return arg;
}

int main(int argc, char **argv)
{
    cc_thread *th[THREADS];
    double seconds;
    double elapsed;
    double achieved;

    rate = (double)bench_arg(argc, argv, 1, 10000);
    seconds = (double)bench_arg(argc, argv, 2, 2);
    burst = 1;
    excess_lock = cc_lock_new();
    start = cc_now();
    t = cc_throttle_new(rate, burst);
    end = start + seconds;
    for (int i = 0; i < THREADS; i++)
        th[i] = cc_thread_start(grabber, NULL, "grabber");
    for (int i = 0; i < THREADS; i++) {
        bench_check(cc_thread_join(th[i], NULL, CC_FOREVER), "join");
        cc_thread_free(th[i]);
    }
    elapsed = cc_now() - start;
    achieved = (double)atomic_load(&granted) / elapsed;
    BENCH_INFO("set_rate", "%.0f", rate);
    BENCH_INFO("threads", "%d", THREADS);
    BENCH_RESULT("achieved_per_s", achieved, "1/s");
    BENCH_RESULT("error_pct", (achieved - rate) / rate * 100.0, "%");
    BENCH_RESULT("max_excess_over_bound", worst_excess, "tokens");
    cc_throttle_free(t);
    cc_lock_free(excess_lock);
    return 0;
}
