/*
 * tour_cpu.c - the tour's CPU-bound scenarios: Effective Python item 79's
 * slow gcd of ten number pairs, and the blog's cpu_bound do_math (twenty
 * runs of 2,000,000 rounds of powers and roots).  Each runs its one task
 * function three ways: called in a loop, mapped on a thread pool, mapped
 * on a process pool.  Arguments and results are blobs, so the same
 * function serves both pools -- Python needed processes to get past the
 * GIL; C threads already run in parallel, and processes cost little more.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/process.h"
#include "tour.h"

enum { N_PAIRS = 10, N_MATH = 20, MATH_ROUNDS = 2000000 };

/* Item 79's pairs (run_serial.py). */
static const uint32_t gcd_pairs[N_PAIRS][2] = {
    {19633090, 22659730}, {20306770, 38141720}, {15516450, 22296200},
    {20390450, 20208020}, {18237120, 19249280}, {22931290, 10204910},
    {12812380, 22737820}, {38238120, 42372810}, {38127410, 47291390},
    {12923910, 21238110},
};

/* The slow gcd: try every divisor from the smaller number down.  Blob in
 * (two uint32), blob out (one uint32). */
static void *slow_gcd_task(void *arg)
{
    uint32_t ab[2];
    uint32_t d;

    if (cc_blob_len(arg) != sizeof(ab))
        return cc_fail(EINVAL, "gcd: wants two 32-bit numbers");
    memcpy(ab, arg, sizeof(ab));
    d = ab[0] < ab[1] ? ab[0] : ab[1];
    while (d > 1 && (ab[0] % d != 0 || ab[1] % d != 0))
        d--;
    return cc_blob_dup(&d, sizeof(d));
}

/* The blog's do_math_once: from a start number, `rounds` times raise to
 * the 4th, take the 4th root, square, take the square root, add one.  Blob
 * in (start, rounds as two int64), blob out (a double). */
static void *math_task(void *arg)
{
    static const double powers[] = {4.0, 0.25, 2.0, 0.5};
    int64_t job[2];
    double x;

    if (cc_blob_len(arg) != sizeof(job))
        return cc_fail(EINVAL, "math: wants a start and a round count");
    memcpy(job, arg, sizeof(job));
    x = (double)job[0];
    for (int64_t r = 0; r < job[1]; r++) {
        for (size_t k = 0; k < sizeof(powers) / sizeof(powers[0]); k++)
            x = pow(x, powers[k]);
        x += 1;
    }
    return cc_blob_dup(&x, sizeof(x));
}

/* One CPU-bound scenario. */
struct cpu_scenario {
    const char *key;
    const char *label[3];
    cc_fn task;
    const char *seed_figures[3]; /* sync, threads, processes */
};

/*
 * The seeds' figures: Effective Python item 79 on the author's 8-core
 * machine: run_serial.py 5.643 s, run_threads.py (8 threads) 5.810 s,
 * run_parallel.py (8 processes) 1.684 s.  The blog: cpu_bound/1_sync.py
 * 10.57 s, 2_threaded_no_improvement.py 10.79 s, 3_multiprocess.py
 * 2.99 s.
 */
static const struct cpu_scenario scenarios[] = {
    {"gcd", {"gcd of 10 pairs", "  Effective Python 79", NULL},
     slow_gcd_task, {"5.64 s", "5.81 s (8 thr)", "1.68 s (8 proc)"}},
    {"math", {"do_math x 20", "  the blog, cpu_bound", NULL}, math_task,
     {"10.57 s", "10.79 s", "2.99 s"}},
};

/* The argument blobs of scenario s: n of them into args; -1 ENOMEM. */
static int make_args(const struct cpu_scenario *s, int64_t rounds,
                     void **args, size_t *n)
{
    bool gcd = s->task == slow_gcd_task;

    *n = gcd ? N_PAIRS : N_MATH;
    for (size_t i = 0; i < *n; i++) {
        int64_t job[2] = {(int64_t)i + 1, rounds};
        args[i] = gcd ? cc_blob_dup(gcd_pairs[i], sizeof(gcd_pairs[i]))
                      : cc_blob_dup(job, sizeof(job));
        if (args[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                cc_blob_free(args[j]);
            return -1;
        }
    }
    return 0;
}

/* The results summed up: "10 gcds, sum 740". */
static void digest(const struct cpu_scenario *s, void **results, size_t n,
                   char *buf, size_t size)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        if (s->task == slow_gcd_task) {
            uint32_t g;
            memcpy(&g, results[i], sizeof(g));
            sum += g;
        } else {
            double x;
            memcpy(&x, results[i], sizeof(x));
            sum += x;
        }
    }
    snprintf(buf, size, "%zu %s, sum %.10g", n,
             s->task == slow_gcd_task ? "gcds" : "results", sum);
}

/* Model 0: call the task in a loop; 1: a thread pool; 2: a process pool
 * (3, MPI ranks, runs in an mpirun of its own: see run_mpi_row).
 * Returns 0 with results[0..n) (blobs the caller frees), or -1. */
static int run_model(int model, cc_fn task, void **args, size_t n,
                     int workers, void **results)
{
    cc_executor *pool;
    int rc;

    if (model == 0) {
        for (size_t i = 0; i < n; i++) {
            results[i] = task(args[i]);
            if (results[i] == NULL) {
                for (size_t j = 0; j < i; j++)
                    cc_blob_free(results[j]);
                return -1;
            }
        }
        return 0;
    }
    pool = model == 1 ? cc_thread_pool_new(workers, NULL)
                      : cc_process_pool_new(workers, NULL);
    if (pool == NULL)
        return -1;
    rc = cc_map(pool, task, args, n, 1, results, CC_FOREVER);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            cc_blob_free(results[i]);
    cc_executor_free(pool);
    return rc;
}

/* The scenario of `key`, or NULL. */
static const struct cpu_scenario *scenario_of(const char *key)
{
    for (size_t k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++)
        if (strcmp(scenarios[k].key, key) == 0)
            return &scenarios[k];
    return NULL;
}

int tour_cpu_mpi_child(const char *key, bool quick)
{
    const struct cpu_scenario *s = scenario_of(key);
    int64_t rounds = quick ? MATH_ROUNDS / 10 : MATH_ROUNDS;
    void *args[N_MATH];
    void *results[N_MATH];
    char digest_text[48];
    cc_executor *ex;
    double start, seconds;
    size_t n;
    int rc;

    if (s == NULL) {
        fprintf(stderr, "concur tour --mpi-child: no scenario '%s'\n", key);
        return 2;
    }
    ex = tour_mpi_pool(); /* a worker rank does not come back */
    if (ex == NULL) {
        fprintf(stderr, "concur tour --mpi-child: %s\n", cc_errmsg());
        return 1;
    }
    if (make_args(s, rounds, args, &n) != 0) {
        fprintf(stderr, "concur tour --mpi-child: out of memory\n");
        cc_executor_free(ex);
        return 1;
    }
    start = cc_now();
    rc = cc_map(ex, s->task, args, n, 1, results, CC_FOREVER);
    seconds = cc_now() - start;
    if (rc != 0)
        fprintf(stderr, "concur tour --mpi-child: %s\n", cc_errmsg());
    else
        digest(s, results, n, digest_text, sizeof(digest_text));
    for (size_t i = 0; i < n; i++) {
        cc_blob_free(args[i]);
        if (rc == 0)
            cc_blob_free(results[i]);
    }
    cc_executor_free(ex); /* the worker ranks stop */
    if (rc != 0)
        return 1;
    printf("%s\t%.6f\n", digest_text, seconds);
    return 0;
}

/* The MPI ranks row of scenario s (its sync run gave `reference` in
 * sync_seconds); 1 when it went wrong. */
static int run_mpi_row(const tour_cfg *cfg, const struct cpu_scenario *s,
                       const char *reference, double sync_seconds)
{
    tour_row row;
    tour_mpi_outcome out;

    memset(&row, 0, sizeof(row));
    row.label = "";
    row.seconds = -1;
    row.base_seconds = sync_seconds;
    snprintf(row.model, sizeof(row.model), "MPI ranks (%d)", cfg->cpus);
    snprintf(row.seed_figure, sizeof(row.seed_figure), "-");
    out = tour_mpi_model(s->key, cfg->quick, cfg->cpus, row.result,
                         sizeof(row.result), &row.seconds);
    if (out == TOUR_MPI_RAN) {
        row.ok = strcmp(reference, row.result) == 0;
        if (row.ok)
            snprintf(row.result, sizeof(row.result), "same");
    } else {
        row.seconds = -1;
        row.ok = out == TOUR_MPI_SKIPPED;
    }
    tour_table_row(cfg->out, &row);
    return !row.ok;
}

int tour_cpu_run(const tour_cfg *cfg)
{
    int64_t rounds = cfg->quick ? MATH_ROUNDS / 10 : MATH_ROUNDS;
    int wrong = 0;

    for (size_t k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
        const struct cpu_scenario *s = &scenarios[k];
        void *args[N_MATH];
        void *results[N_MATH];
        char reference[48] = "";
        char conditions[48];
        double sync_seconds = -1;
        size_t n;

        if (!tour_wanted(cfg, s->key))
            continue;
        if (make_args(s, rounds, args, &n) != 0) {
            fprintf(stderr, "concur tour: out of memory\n");
            return wrong + 1;
        }
        if (s->task == slow_gcd_task)
            snprintf(conditions, sizeof(conditions), "  %d CPUs", cfg->cpus);
        else
            snprintf(conditions, sizeof(conditions), "  %lldk rounds, %d CPUs",
                     (long long)rounds / 1000, cfg->cpus);
        for (int m = 0; m < 3; m++) {
            tour_row row;
            double start;
            int rc;

            memset(&row, 0, sizeof(row));
            memset(results, 0, sizeof(results));
            start = cc_now();
            rc = run_model(m, s->task, args, n, cfg->cpus, results);
            row.seconds = cc_now() - start;
            if (m == 0)
                sync_seconds = row.seconds;
            row.base_seconds = sync_seconds;
            row.label = m < 2 ? s->label[m] : conditions;
            snprintf(row.model, sizeof(row.model), "%s",
                     m == 0 ? "sync" : "");
            if (m > 0)
                snprintf(row.model, sizeof(row.model), "%s (%d)",
                         m == 1 ? "thread pool" : "process pool", cfg->cpus);
            if (rc != 0) {
                snprintf(row.result, sizeof(row.result), "ERROR %.40s",
                         cc_errmsg());
            } else {
                digest(s, results, n, row.result, sizeof(row.result));
                row.ok = true;
                if (m == 0)
                    snprintf(reference, sizeof(reference), "%s", row.result);
                else if (strcmp(reference, row.result) == 0)
                    snprintf(row.result, sizeof(row.result), "same");
                else
                    row.ok = false;
                for (size_t i = 0; i < n; i++)
                    cc_blob_free(results[i]);
            }
            snprintf(row.seed_figure, sizeof(row.seed_figure), "%s",
                     s->seed_figures[m]);
            tour_table_row(cfg->out, &row);
            wrong += !row.ok;
        }
        wrong += run_mpi_row(cfg, s, reference, sync_seconds);
        for (size_t i = 0; i < n; i++)
            cc_blob_free(args[i]);
        tour_table_rule(cfg->out);
    }
    return wrong;
}
