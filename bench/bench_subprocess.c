/*
 * bench_subprocess - W7, the subprocess workload: how fast children start.
 * Its peers (Python subprocess, Go os/exec) are in bench/peers/.
 *
 *   spawn [N=1000] [reps=5]    /bin/true started and waited for N times in
 *                              a row, by cc_subprocess_run and by raw
 *                              posix_spawn + waitpid (the baseline, timed
 *                              in the same program, runs interleaved):
 *                              spawns/s, the parent's CPU per spawn, and
 *                              concur/raw
 *   threads [N=1000] [T=8] [reps=5]  the same N spawns shared by T threads
 *                              at once (cc_thread_start), concur then raw:
 *                              spawns/s and failures (must be 0)
 *   sleep10 [reps=3]           ten `sleep 1` children started together
 *                              with cc_popen_new, then waited for: wall s
 *
 * Each figure is the median of `reps` runs.  The parent's CPU is
 * getrusage(RUSAGE_SELF) user + system over the run, divided by N: what
 * starting and reaping a child costs the parent (the child's own time is
 * its own, counted in RUSAGE_CHILDREN).
 */
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench_util.h"
#include "concur/subprocess.h"

extern char **environ;

enum { MAX_REPS = 64, MAX_THREADS = 256 };

static const char *const true_argv[] = {"/bin/true", NULL};

/* ------------------------------------------------------------ helpers */

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of v[0..n-1] (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "INFO <key> a,b,c": the runs behind a median, in the order they ran. */
static void info_runs(const char *key, const double *v, int n)
{
    printf("INFO %s ", key);
    for (int i = 0; i < n; i++)
        printf("%s%.6g", i ? "," : "", v[i]);
    printf("\n");
}

/* One /bin/true through concur: 0 when it ran and exited 0. */
static int spawn_concur(void)
{
    cc_completed res;
    int code;

    if (cc_subprocess_run(true_argv, NULL, &res) != 0)
        return -1;
    code = res.returncode;
    cc_completed_free(&res); /* zeroes res */
    return code == 0 ? 0 : -1;
}

/* One /bin/true the way a C programmer would write it without a library:
 * posix_spawn with no file actions and no attributes, then waitpid. */
static int spawn_raw(void)
{
    pid_t pid;
    int status;
    int rc = posix_spawn(&pid, true_argv[0], NULL, NULL,
                         (char *const *)true_argv, environ);

    if (rc != 0) {
        errno = rc;
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

typedef int (*spawn_fn)(void);

/* ------------------------------------------------------- sequential */

struct seq_run {
    double per_s;  /* spawns per second */
    double cpu_us; /* the parent's CPU per spawn, microseconds */
};

static struct seq_run run_sequential(spawn_fn spawn, long n)
{
    struct seq_run r;
    double cpu0 = cpu_seconds();
    double t0 = cc_now();

    for (long i = 0; i < n; i++) {
        if (spawn() != 0) {
            fprintf(stderr, "spawn %ld of /bin/true failed: %s\n", i,
                    spawn == spawn_concur ? cc_errmsg() : strerror(errno));
            exit(1);
        }
    }
    r.per_s = (double)n / (cc_now() - t0);
    r.cpu_us = (cpu_seconds() - cpu0) * 1e6 / (double)n;
    return r;
}

static void bench_spawn(long n, int reps)
{
    double c_rate[MAX_REPS], c_cpu[MAX_REPS];
    double r_rate[MAX_REPS], r_cpu[MAX_REPS];
    double ratio[MAX_REPS];

    BENCH_INFO("mode", "%s", "spawn");
    BENCH_INFO("N", "%ld", n);
    BENCH_INFO("reps", "%d", reps);
    /* Warm up: page in the library's spawn path and /bin/true. */
    if (spawn_concur() != 0 || spawn_raw() != 0)
        bench_check(-1, "starting /bin/true");
    for (int i = 0; i < reps; i++) {
        /* Alternate the order, so a drift of the machine's speed during
         * a pair favours neither side. */
        struct seq_run c;
        struct seq_run r;

        if (i % 2 == 0) {
            c = run_sequential(spawn_concur, n);
            r = run_sequential(spawn_raw, n);
        } else {
            r = run_sequential(spawn_raw, n);
            c = run_sequential(spawn_concur, n);
        }
        c_rate[i] = c.per_s;
        c_cpu[i] = c.cpu_us;
        r_rate[i] = r.per_s;
        r_cpu[i] = r.cpu_us;
        ratio[i] = c.per_s / r.per_s;
    }
    info_runs("concur_spawns_per_s_runs", c_rate, reps);
    info_runs("raw_spawns_per_s_runs", r_rate, reps);
    info_runs("concur_over_raw_runs", ratio, reps);
    BENCH_RESULT("spawns_per_s", median(c_rate, reps), "1/s");
    BENCH_RESULT("cpu_us_per_spawn", median(c_cpu, reps), "us");
    BENCH_RESULT("raw_posix_spawn_spawns_per_s", median(r_rate, reps), "1/s");
    BENCH_RESULT("raw_posix_spawn_cpu_us_per_spawn", median(r_cpu, reps),
                 "us");
    /* The median of the paired ratios: each pair ran back to back. */
    BENCH_RESULT("concur_over_raw", median(ratio, reps), "x");
}

/* ---------------------------------------------------------- threads */

struct thread_job {
    spawn_fn spawn;
    long n;                    /* spawns this thread makes */
    atomic_long *failures;     /* shared by all the threads */
};

static void *spawner(void *arg)
{
    struct thread_job *job = arg;

    for (long i = 0; i < job->n; i++) {
        if (job->spawn() != 0)
            atomic_fetch_add(job->failures, 1);
    }
    return NULL;
}

struct par_run {
    double per_s;
    double cpu_us;
    long failures;
};

static struct par_run run_threads(spawn_fn spawn, long n, int nthreads)
{
    struct thread_job jobs[MAX_THREADS];
    cc_thread *threads[MAX_THREADS];
    atomic_long failures = 0;
    struct par_run r;
    double cpu0 = cpu_seconds();
    double t0 = cc_now();

    for (int i = 0; i < nthreads; i++) {
        jobs[i].spawn = spawn;
        jobs[i].n = n / nthreads + (i < n % nthreads);
        jobs[i].failures = &failures;
        threads[i] = cc_thread_start(spawner, &jobs[i], "spawner");
        if (threads[i] == NULL)
            bench_check(-1, "cc_thread_start");
    }
    for (int i = 0; i < nthreads; i++)
        bench_check(cc_thread_join(threads[i], NULL, CC_FOREVER),
                    "cc_thread_join");
    r.per_s = (double)n / (cc_now() - t0);
    r.cpu_us = (cpu_seconds() - cpu0) * 1e6 / (double)n;
    r.failures = atomic_load(&failures);
    return r;
}

static void bench_threads(long n, int nthreads, int reps)
{
    double c_rate[MAX_REPS], c_cpu[MAX_REPS];
    double r_rate[MAX_REPS], r_cpu[MAX_REPS];
    long c_fail = 0;
    long r_fail = 0;

    if (nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "threads: 1 to %d threads\n", MAX_THREADS);
        exit(2);
    }
    BENCH_INFO("mode", "%s", "threads");
    BENCH_INFO("N", "%ld", n);
    BENCH_INFO("threads", "%d", nthreads);
    BENCH_INFO("reps", "%d", reps);
    for (int i = 0; i < reps; i++) {
        struct par_run c;
        struct par_run r;

        if (i % 2 == 0) { /* alternated, as in bench_spawn */
            c = run_threads(spawn_concur, n, nthreads);
            r = run_threads(spawn_raw, n, nthreads);
        } else {
            r = run_threads(spawn_raw, n, nthreads);
            c = run_threads(spawn_concur, n, nthreads);
        }

        c_rate[i] = c.per_s;
        c_cpu[i] = c.cpu_us;
        c_fail += c.failures;
        r_rate[i] = r.per_s;
        r_cpu[i] = r.cpu_us;
        r_fail += r.failures;
    }
    info_runs("concur_spawns_per_s_runs", c_rate, reps);
    info_runs("raw_spawns_per_s_runs", r_rate, reps);
    BENCH_RESULT("spawns_per_s", median(c_rate, reps), "1/s");
    BENCH_RESULT("failures", c_fail, "spawns");
    BENCH_RESULT("cpu_us_per_spawn", median(c_cpu, reps), "us");
    BENCH_RESULT("raw_posix_spawn_spawns_per_s", median(r_rate, reps), "1/s");
    BENCH_RESULT("raw_posix_spawn_failures", r_fail, "spawns");
    BENCH_RESULT("raw_posix_spawn_cpu_us_per_spawn", median(r_cpu, reps),
                 "us");
}

/* ---------------------------------------------------------- sleep10 */

static void bench_sleep10(int reps)
{
    static const char *const argv[] = {"sleep", "1", NULL};
    double wall[MAX_REPS];

    BENCH_INFO("mode", "%s", "sleep10");
    BENCH_INFO("reps", "%d", reps);
    for (int r = 0; r < reps; r++) {
        cc_popen *procs[10];
        double t0 = cc_now();

        for (int i = 0; i < 10; i++) {
            procs[i] = cc_popen_new(argv, NULL);
            if (procs[i] == NULL)
                bench_check(-1, "cc_popen_new(sleep 1)");
        }
        for (int i = 0; i < 10; i++) {
            int code;

            bench_check(cc_popen_wait(procs[i], CC_FOREVER, &code),
                        "cc_popen_wait");
            if (code != 0)
                bench_check(-1, "sleep 1 exited non-zero");
        }
        wall[r] = cc_now() - t0;
        for (int i = 0; i < 10; i++)
            cc_popen_free(procs[i]);
    }
    info_runs("wall_s_runs", wall, reps);
    BENCH_RESULT("wall_s", median(wall, reps), "s");
}

/* -------------------------------------------------------------- main */

static int reps_arg(int argc, char **argv, int i, int dflt)
{
    long r = bench_arg(argc, argv, i, dflt);

    if (r < 1 || r > MAX_REPS) {
        fprintf(stderr, "reps: 1 to %d\n", MAX_REPS);
        exit(2);
    }
    return (int)r;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    long n = bench_arg(argc, argv, 2, 1000);

    if (n < 1) {
        fprintf(stderr, "N must be at least 1\n");
        return 2;
    }
    if (strcmp(mode, "spawn") == 0) {
        bench_spawn(n, reps_arg(argc, argv, 3, 5));
    } else if (strcmp(mode, "threads") == 0) {
        bench_threads(n, (int)bench_arg(argc, argv, 3, 8),
                      reps_arg(argc, argv, 4, 5));
    } else if (strcmp(mode, "sleep10") == 0) {
        bench_sleep10(reps_arg(argc, argv, 2, 3));
    } else if (strcmp(mode, "all") == 0) {
        bench_spawn(n, 5);
        bench_threads(n, 8, 5);
        bench_sleep10(3);
    } else {
        fprintf(stderr,
                "usage: %s [spawn [N] [reps] | threads [N] [T] [reps] | "
                "sleep10 [reps] | all]\n",
                argv[0]);
        return 2;
    }
    return 0;
}
