/*
 * bench_procpool - W4, the process pool workload (its Python peer is
 * bench/peers/py_procpool.py):
 *
 *   W4b  20,000 tiny tasks (return the argument) on 2 worker processes:
 *        cc_submit + collect every result, cc_map with chunksize 1, and
 *        cc_map with CC_CHUNKSIZE_AUTO (multiprocessing.Pool.map's default)
 *        -> tasks/s.  Timed as the peers time theirs: from creating the
 *        pool to freeing it, making the argument blobs and freeing the
 *        results included (Python pickles inside its timing too).
 *   W4a  Effective Python item 79's ten gcd pairs, serially and on 2 worker
 *        processes -> seconds and the speedup.
 *
 * Each figure is the median of `reps` runs in this process.  Output:
 * "RESULT <metric> <value> <unit>" (bench_util.h).
 * usage: bench_procpool [all|submit|map-c1|map-auto|gcd] [tasks] [reps]
 */
#include <stdint.h>
#include <string.h>

#include "bench_gcd.h"
#include "bench_util.h"

enum { WORKERS = 2, MAX_REPS = 15 };

static void *identity(void *arg)
{
    return arg;
}

/* ----------------------------------------------------------------- W4b */

static void **make_args(long n)
{
    void **args = malloc((size_t)n * sizeof(void *));

    for (long i = 0; i < n; i++) {
        int64_t v = i;

        args[i] = cc_blob_dup(&v, sizeof(v));
    }
    return args;
}

static void free_blobs(void **blobs, long n)
{
    for (long i = 0; i < n; i++)
        cc_blob_free(blobs[i]);
    free(blobs);
}

static void check_results(void **results, long n)
{
    for (long i = 0; i < n; i++) {
        int64_t v;

        memcpy(&v, results[i], sizeof(v));
        if (v != i) {
            fprintf(stderr, "result %ld is %lld\n", i, (long long)v);
            exit(1);
        }
    }
}

/* One run of a W4b mode; seconds. */
static double run_tasks(const char *mode, long n)
{
    double t0 = cc_now();
    cc_executor *pool = cc_process_pool_new(WORKERS, NULL);
    void **args;
    void **results = malloc((size_t)n * sizeof(void *));

    if (pool == NULL) {
        fprintf(stderr, "cc_process_pool_new: %s\n", cc_errmsg());
        exit(1);
    }
    args = make_args(n);
    if (strcmp(mode, "submit") == 0) {
        cc_future **fs = malloc((size_t)n * sizeof(*fs));

        for (long i = 0; i < n; i++) {
            fs[i] = cc_submit(pool, identity, args[i]);
            if (fs[i] == NULL)
                bench_check(-1, "cc_submit");
        }
        for (long i = 0; i < n; i++) {
            void *r;

            bench_check(cc_future_result(fs[i], &r, CC_FOREVER), "result");
            results[i] = cc_blob_dup(r, cc_blob_len(r)); /* kept, like a list */
            cc_future_free(fs[i]);
        }
        free(fs);
    } else {
        size_t chunk = strcmp(mode, "map-c1") == 0 ? 1 : CC_CHUNKSIZE_AUTO;

        bench_check(cc_map(pool, identity, args, (size_t)n, chunk, results,
                           CC_FOREVER), "cc_map");
    }
    cc_executor_free(pool);
    check_results(results, n);
    free_blobs(results, n);
    free_blobs(args, n);
    return cc_now() - t0;
}

/* ----------------------------------------------------------------- W4a */

/* The gcds of bench_gcd.h's pairs. */
static const uint32_t expected[10] = {10, 10, 50, 10, 320, 10, 140, 90, 10, 90};

static double run_gcd_serial(void)
{
    double t0 = cc_now();

    for (int i = 0; i < 10; i++)
        if (gcd(&numbers[i]) != expected[i])
            exit(1);
    return cc_now() - t0;
}

static double run_gcd_pool(void)
{
    double t0 = cc_now();
    cc_executor *pool = cc_process_pool_new(WORKERS, NULL);
    void *args[10];
    void *results[10];

    for (int i = 0; i < 10; i++)
        args[i] = cc_blob_dup(&numbers[i], sizeof(numbers[i]));
    bench_check(cc_map(pool, gcd_task, args, 10, 1, results, CC_FOREVER),
                "cc_map");
    cc_executor_free(pool);
    for (int i = 0; i < 10; i++) {
        uint32_t g;

        memcpy(&g, results[i], sizeof(g));
        if (g != expected[i])
            exit(1);
        cc_blob_free(results[i]);
        cc_blob_free(args[i]);
    }
    return cc_now() - t0;
}

/* ------------------------------------------------------------- driver */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

static void bench_tasks(const char *mode, long n, int reps)
{
    double t[MAX_REPS];
    char metric[64];

    for (int r = 0; r < reps; r++) {
        t[r] = run_tasks(mode, n);
        BENCH_INFO(mode, "run %d: %.4f s", r + 1, t[r]);
    }
    snprintf(metric, sizeof(metric), "%s_tasks_per_s", mode);
    for (char *c = metric; *c != '\0'; c++)
        if (*c == '-')
            *c = '_';
    BENCH_RESULT(metric, (double)n / median(t, reps), "1/s");
}

static void bench_gcd(int reps)
{
    double serial[MAX_REPS];
    double pooled[MAX_REPS];
    double s;
    double p;

    for (int r = 0; r < reps; r++) {
        serial[r] = run_gcd_serial();
        pooled[r] = run_gcd_pool();
        BENCH_INFO("gcd", "run %d: serial %.4f s, 2 processes %.4f s", r + 1,
                   serial[r], pooled[r]);
    }
    s = median(serial, reps);
    p = median(pooled, reps);
    BENCH_RESULT("gcd_serial_s", s, "s");
    BENCH_RESULT("gcd_processes_s", p, "s");
    BENCH_RESULT("gcd_speedup", s / p, "x");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    long n = bench_arg(argc, argv, 2, 20000);
    int reps = (int)bench_arg(argc, argv, 3, 5);
    bool all = strcmp(mode, "all") == 0;

    if (reps < 1 || reps > MAX_REPS || n < 1) {
        fprintf(stderr, "usage: %s [all|submit|map-c1|map-auto|gcd] [tasks] "
                "[reps <= %d]\n", argv[0], MAX_REPS);
        return 2;
    }
    BENCH_INFO("tasks", "%ld", n);
    BENCH_INFO("workers", "%d", WORKERS);
    BENCH_INFO("reps", "%d", reps);
    if (all || strcmp(mode, "submit") == 0)
        bench_tasks("submit", n, reps);
    if (all || strcmp(mode, "map-c1") == 0)
        bench_tasks("map-c1", n, reps);
    if (all || strcmp(mode, "map-auto") == 0)
        bench_tasks("map-auto", n, reps);
    if (all || strcmp(mode, "gcd") == 0)
        bench_gcd(reps);
    return 0;
}
