/*
 * bench_pool - W3 with futures: submit 200,000 no-op tasks to a 2-worker
 * cc_thread_pool, then collect every result (the timing covers creating and
 * shutting down the pool, as Python's `with ThreadPoolExecutor(2)` does):
 * tasks/s and ns/task.  Then the latency from submit to the task's start on
 * an idle pool (workers asleep) and on a busy one (workers still spinning),
 * median and 99th percentile.  usage: bench_pool [tasks] [latency-samples]
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

static void *noop(void *arg)
{
    return arg;
}

static void *stamp(void *arg)
{
    *(double *)arg = cc_now();
    return arg;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Submit-to-start latency, n samples, `gap` seconds of quiet before each. */
static void latency(int n, double gap, const char *name)
{
    cc_executor *pool = cc_thread_pool_new(2, NULL);
    double *lat = calloc((size_t)n, sizeof(double));
    char metric[64];

    for (int i = 0; i < n; i++) {
        double started = 0;
        cc_future *f;
        double t0;

        if (gap > 0) {
            struct timespec ts = {0, (long)(gap * 1e9)};

            nanosleep(&ts, NULL);
        }
        t0 = cc_now();
        f = cc_submit(pool, stamp, &started);
        bench_check(cc_future_result(f, NULL, CC_FOREVER), "result");
        cc_future_free(f);
        lat[i] = (started - t0) * 1e6;
    }
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    snprintf(metric, sizeof(metric), "%s_latency_p50_us", name);
    BENCH_RESULT(metric, lat[n / 2], "us");
    snprintf(metric, sizeof(metric), "%s_latency_p99_us", name);
    BENCH_RESULT(metric, lat[n * 99 / 100], "us");
    cc_executor_free(pool);
    free(lat);
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 200000);
    int samples = (int)bench_arg(argc, argv, 2, 500);
    cc_future **fs = malloc((size_t)n * sizeof(*fs));
    intptr_t total = 0;
    double t0;
    double dt;
    cc_executor *pool;

    BENCH_INFO("tasks", "%ld", n);
    t0 = cc_now();
    pool = cc_thread_pool_new(2, NULL);
    for (long i = 0; i < n; i++) {
        fs[i] = cc_submit(pool, noop, (void *)(intptr_t)(i + 1));
        if (fs[i] == NULL)
            bench_check(-1, "submit");
    }
    for (long i = 0; i < n; i++) {
        void *r;

        bench_check(cc_future_result(fs[i], &r, CC_FOREVER), "result");
        total += (intptr_t)r;
        cc_future_free(fs[i]);
    }
    cc_executor_free(pool);
    dt = cc_now() - t0;
    if (total != (intptr_t)n * (n + 1) / 2) {
        fprintf(stderr, "wrong total\n");
        return 1;
    }
    BENCH_RESULT("tasks_per_s", n / dt, "1/s");
    BENCH_RESULT("ns_per_task", dt / n * 1e9, "ns");
    BENCH_RESULT("wall_s", dt, "s");
    free(fs);
    latency(samples, 0.002, "idle");
    latency(samples, 0, "busy");
    return 0;
}
