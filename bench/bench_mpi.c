/*
 * bench_mpi - the MPI executor (concur/mpi.h) under mpirun -n 3 (rank 0
 * submits, two worker ranks run; its peers are mpi4py.futures and a raw MPI
 * ping-pong):
 *
 *   submit   `tasks` tiny tasks (return the argument, an 8-byte blob):
 *            cc_submit them all, then collect every result -> tasks/s
 *            (executor start excluded: one executor per process)
 *   map-c1, map-256, map-auto
 *            the same tasks through cc_map with chunksize 1, 256 and
 *            CC_CHUNKSIZE_AUTO (a chunk travels as one message) -> tasks/s
 *            ("tiny": submit and the three maps, as mpi4py's peer does)
 *   latency  one tiny task at a time, submit to result -> microseconds
 *            per round trip (median of the runs)
 *   gcd      Effective Python item 79's ten gcd pairs, serially on rank 0
 *            and on the 2 worker ranks -> seconds and the speedup
 *   idle     the executor made, nothing submitted, for 2 s: rank 0's CPU
 *            time over that time -> percent of one core (the manager's
 *            bounded poll sleeps on a condition when nothing is out)
 *
 * One executor per process (MPI starts once), so one run does every mode
 * asked for.  usage: mpirun -n 3 bench_mpi
 *     [all|tiny|submit|map-c1|map-256|map-auto|latency|gcd|idle] [tasks] [reps]
 */
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_gcd.h"
#include "bench_util.h"
#include "concur/mpi.h"

enum { MAX_REPS = 15 };

static cc_executor *ex;

static void *identity(void *arg)
{
    return cc_blob_dup(arg, cc_blob_len(arg));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

static void bench_submit(long tasks, int reps)
{
    double rate[MAX_REPS];
    cc_future **fs = malloc((size_t)tasks * sizeof(*fs));

    for (int r = 0; r < reps; r++) {
        double start = cc_now();
        for (long i = 0; i < tasks; i++) {
            int64_t v = i;
            void *arg = cc_blob_dup(&v, sizeof(v));
            fs[i] = cc_submit(ex, identity, arg);
            cc_blob_free(arg);
            bench_check(fs[i] == NULL ? -1 : 0, "cc_submit");
        }
        for (long i = 0; i < tasks; i++) {
            void *res;
            int64_t v;
            bench_check(cc_future_result(fs[i], &res, CC_FOREVER), "result");
            memcpy(&v, res, sizeof(v));
            if (v != i) {
                fprintf(stderr, "result %ld is %lld\n", i, (long long)v);
                exit(1);
            }
            cc_future_free(fs[i]);
        }
        rate[r] = (double)tasks / (cc_now() - start);
    }
    free(fs);
    BENCH_RESULT("submit_tasks_per_s", median(rate, reps), "1/s");
}

static void bench_map(long tasks, int reps, size_t chunksize,
                      const char *metric)
{
    double rate[MAX_REPS];
    void **args = malloc((size_t)tasks * sizeof(void *));
    void **results = malloc((size_t)tasks * sizeof(void *));

    if (args == NULL || results == NULL) {
        fprintf(stderr, "bench_mpi: out of memory\n");
        exit(1);
    }
    for (int r = 0; r < reps; r++) {
        double start = cc_now();
        for (long i = 0; i < tasks; i++) {
            int64_t v = i;
            args[i] = cc_blob_dup(&v, sizeof(v));
        }
        bench_check(cc_map(ex, identity, args, (size_t)tasks, chunksize,
                           results, CC_FOREVER), "cc_map");
        for (long i = 0; i < tasks; i++) {
            int64_t v;
            memcpy(&v, results[i], sizeof(v));
            if (v != i) {
                fprintf(stderr, "result %ld is %lld\n", i, (long long)v);
                exit(1);
            }
            cc_blob_free(results[i]);
            cc_blob_free(args[i]);
        }
        rate[r] = (double)tasks / (cc_now() - start);
    }
    free(args);
    free(results);
    BENCH_RESULT(metric, median(rate, reps), "1/s");
}

static void bench_latency(long tasks, int reps)
{
    double us[MAX_REPS];

    for (int r = 0; r < reps; r++) {
        double start = cc_now();
        for (long i = 0; i < tasks; i++) {
            int64_t v = i;
            void *arg = cc_blob_dup(&v, sizeof(v));
            cc_future *f = cc_submit(ex, identity, arg);
            cc_blob_free(arg);
            bench_check(f == NULL ? -1 : 0, "cc_submit");
            bench_check(cc_future_result(f, NULL, CC_FOREVER), "result");
            cc_future_free(f);
        }
        us[r] = (cc_now() - start) / (double)tasks * 1e6;
    }
    BENCH_RESULT("roundtrip_us", median(us, reps), "us");
}


static void bench_gcd(int reps)
{
    double serial[MAX_REPS], ranks[MAX_REPS];
    volatile uint32_t sink = 0;

    for (int r = 0; r < reps; r++) {
        cc_future *fs[10];
        double start = cc_now();
        for (int i = 0; i < 10; i++)
            sink += gcd(&numbers[i]);
        serial[r] = cc_now() - start;
        start = cc_now();
        for (int i = 0; i < 10; i++) {
            void *arg = cc_blob_dup(&numbers[i], sizeof(numbers[i]));
            fs[i] = cc_submit(ex, gcd_task, arg);
            cc_blob_free(arg);
            bench_check(fs[i] == NULL ? -1 : 0, "cc_submit");
        }
        for (int i = 0; i < 10; i++) {
            bench_check(cc_future_result(fs[i], NULL, CC_FOREVER), "result");
            cc_future_free(fs[i]);
        }
        ranks[r] = cc_now() - start;
    }
    double s = median(serial, reps), m = median(ranks, reps);
    BENCH_INFO("gcd_serial_sum", "%u", (unsigned)sink); /* kept: computed */
    BENCH_RESULT("gcd_serial_s", s, "s");
    BENCH_RESULT("gcd_workers_s", m, "s");
    BENCH_RESULT("gcd_speedup", s / m, "x");
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void bench_idle(void)
{
    double cpu = cpu_seconds(), start = cc_now();

    cc_sleep(2.0);
    cpu = cpu_seconds() - cpu;
    BENCH_RESULT("idle_cpu_percent", 100.0 * cpu / (cc_now() - start),
                 "%");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    long tasks = bench_arg(argc, argv, 2, 20000);
    int reps = (int)bench_arg(argc, argv, 3, 5);
    bool all = strcmp(mode, "all") == 0;
    bool tiny = all || strcmp(mode, "tiny") == 0;

    ex = cc_mpi_main(&argc, &argv, NULL); /* worker ranks stay inside */
    if (ex == NULL) {
        fprintf(stderr, "bench_mpi: %s\n", cc_errmsg());
        return 1;
    }
    if (reps < 1 || reps > MAX_REPS)
        reps = 5;
    if (all || strcmp(mode, "idle") == 0)
        bench_idle();
    if (tiny || strcmp(mode, "submit") == 0)
        bench_submit(tasks, reps);
    if (tiny || strcmp(mode, "map-c1") == 0)
        bench_map(tasks, reps, 1, "map_c1_tasks_per_s");
    if (tiny || strcmp(mode, "map-256") == 0)
        bench_map(tasks, reps, 256, "map_256_tasks_per_s");
    if (tiny || strcmp(mode, "map-auto") == 0)
        bench_map(tasks, reps, CC_CHUNKSIZE_AUTO, "map_auto_tasks_per_s");
    if (all || strcmp(mode, "latency") == 0)
        bench_latency(tasks / 10 > 0 ? tasks / 10 : 1, reps);
    if (all || strcmp(mode, "gcd") == 0)
        bench_gcd(reps);
    cc_executor_free(ex);
    return 0;
}
