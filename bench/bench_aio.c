/*
 * bench_aio - the event loop and coroutines:
 *   switch        raw context switch, ns (the assembly cc__switch alone)
 *   yield         cc_yield between two tasks, ns per yield
 *   create        spawn + run + collect a task with a warm stack pool, ns
 *   spawn [N]     W1: N tasks that each cc_sleep(10 ms), then all awaited:
 *                 wall time and RSS per task (default N 100,000)
 *   pingpong [N]  W2: two tasks pass a token through two cc_queues
 *                 (maxsize 1), ns per round trip
 *   timers [N]    N concurrent sleeps of 0-100 ms: lateness p50 and p99
 * With no argument, runs all but spawn's 1,000,000 variant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "aio/task.h" /* the switch and stacks, to time them alone */

static long n_arg;

/* ---- raw switch ---- */

static void *sw_main_sp, *sw_task_sp;

static void sw_entry(cc__task *t)
{
    (void)t;
    for (;;)
        cc__switch(&sw_task_sp, sw_main_sp);
}

static void bench_switch(void)
{
    long n = 20000000;
    cc__stack s;
    double t0;

    if (cc__stack_get(0, &s) != 0)
        exit(1);
    sw_task_sp = cc__stack_prepare(&s, s.base + s.size - 256, NULL, sw_entry);
    t0 = cc_now();
    for (long i = 0; i < n; i++)
        cc__switch(&sw_main_sp, sw_task_sp);
    BENCH_RESULT("switch_ns", (cc_now() - t0) / (2.0 * n) * 1e9, "ns");
}

/* ---- yield, create ---- */

static void *yielder(void *arg)
{
    for (long i = 0; i < n_arg; i++)
        cc_yield();
    return arg;
}

static void *noop(void *arg)
{
    return arg;
}

static void *yield_create_main(void *arg)
{
    cc_future *f[2];
    double t0;
    enum { ROUND = 10000, ROUNDS = 20 };
    static cc_future *fs[ROUND];
    double best = 1e9;

    n_arg = 2000000;
    t0 = cc_now();
    f[0] = cc_spawn(yielder, arg);
    f[1] = cc_spawn(yielder, arg);
    bench_check(cc_gather(f, 2, NULL, false, CC_FOREVER), "gather");
    BENCH_RESULT("yield_ns", (cc_now() - t0) / (2.0 * n_arg) * 1e9, "ns");
    cc_future_free(f[0]);
    cc_future_free(f[1]);
    /* rounds of ROUND tasks: the stack pool is warm after the first */
    for (int r = 0; r < ROUNDS; r++) {
        t0 = cc_now();
        for (int i = 0; i < ROUND; i++)
            fs[i] = cc_spawn(noop, arg);
        for (int i = 0; i < ROUND; i++) {
            bench_check(cc_future_result(fs[i], NULL, CC_FOREVER), "result");
            cc_future_free(fs[i]);
        }
        if (r > 0 && (cc_now() - t0) / ROUND < best)
            best = (cc_now() - t0) / ROUND;
    }
    BENCH_RESULT("create_run_destroy_ns", best * 1e9, "ns");
    return arg;
}

/* ---- W1: spawn N sleepers ---- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

static void *sleeper(void *arg)
{
    if (cc_sleep(0.01) != 0)
        return cc_fail_from(cc_last_error(), EIO, "sleep");
    return arg;
}

static void *spawn_main(void *arg)
{
    cc_future **fs = malloc((size_t)n_arg * sizeof(*fs));
    long rss0 = rss_kib();
    struct rusage ru;
    double t0 = cc_now();
    double dt;

    for (long i = 0; i < n_arg; i++) {
        fs[i] = cc_spawn(sleeper, arg);
        if (fs[i] == NULL)
            bench_check(-1, "spawn");
    }
    for (long i = 0; i < n_arg; i++) {
        bench_check(cc_future_result(fs[i], NULL, CC_FOREVER), "result");
        cc_future_free(fs[i]);
    }
    dt = cc_now() - t0;
    getrusage(RUSAGE_SELF, &ru);
    BENCH_INFO("tasks", "%ld", n_arg);
    BENCH_RESULT("wall_s", dt, "s");
    BENCH_RESULT("rss_per_task", (double)(ru.ru_maxrss - rss0) / n_arg, "KiB");
    BENCH_RESULT("peak_rss", ru.ru_maxrss, "KiB");
    free(fs);
    return arg;
}

/* ---- W2: ping-pong ---- */

static cc_queue *to_pong, *to_ping;

static void *pong(void *arg)
{
    void *tok;

    while (cc_queue_get(to_pong, &tok, CC_FOREVER) == 0)
        bench_check(cc_queue_put(to_ping, tok, CC_FOREVER), "put");
    return arg;
}

static void *pingpong_main(void *arg)
{
    cc_future *p;
    double t0;

    to_pong = cc_queue_new(1, CC_FIFO);
    to_ping = cc_queue_new(1, CC_FIFO);
    p = cc_spawn(pong, arg);
    t0 = cc_now();
    for (long i = 1; i <= n_arg; i++) {
        void *tok;

        bench_check(cc_queue_put(to_pong, (void *)(intptr_t)i, CC_FOREVER), "put");
        bench_check(cc_queue_get(to_ping, &tok, CC_FOREVER), "get");
        if ((intptr_t)tok != i)
            bench_check(-1, "token");
    }
    BENCH_RESULT("ns_per_rt", (cc_now() - t0) / n_arg * 1e9, "ns");
    cc_queue_shutdown(to_pong, false);
    bench_check(cc_future_result(p, NULL, CC_FOREVER), "pong");
    cc_future_free(p);
    cc_queue_free(to_pong);
    cc_queue_free(to_ping);
    return arg;
}

/* ---- timers ---- */

typedef struct {
    double want;
    double late;
} timed;

static void *timed_sleep(void *arg)
{
    timed *t = arg;
    double t0 = cc_now();

    bench_check(cc_sleep(t->want), "sleep");
    t->late = cc_now() - t0 - t->want;
    return arg;
}

static int cmp_late(const void *a, const void *b)
{
    double x = ((const timed *)a)->late, y = ((const timed *)b)->late;

    return (x > y) - (x < y);
}

static void *timers_main(void *arg)
{
    timed *t = calloc((size_t)n_arg, sizeof(*t));
    cc_future **fs = calloc((size_t)n_arg, sizeof(*fs));
    unsigned seed = 12345;

    (void)arg;
    for (long i = 0; i < n_arg; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i].want = (double)(seed >> 8 & 0xffff) / 65536.0 * 0.1;
        fs[i] = cc_spawn(timed_sleep, &t[i]);
    }
    bench_check(cc_gather(fs, (size_t)n_arg, NULL, false, CC_FOREVER), "gather");
    for (long i = 0; i < n_arg; i++)
        cc_future_free(fs[i]);
    qsort(t, (size_t)n_arg, sizeof(*t), cmp_late);
    BENCH_INFO("timers", "%ld", n_arg);
    BENCH_RESULT("lateness_p50_us", t[n_arg / 2].late * 1e6, "us");
    BENCH_RESULT("lateness_p99_us", t[n_arg * 99 / 100].late * 1e6, "us");
    BENCH_RESULT("lateness_max_us", t[n_arg - 1].late * 1e6, "us");
    free(t);
    free(fs);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    bool all = strcmp(what, "all") == 0;

    if (all || strcmp(what, "switch") == 0)
        bench_switch();
    if (all || strcmp(what, "yield") == 0 || strcmp(what, "create") == 0)
        bench_check(cc_run(yield_create_main, &n_arg, NULL), "run");
    if (all || strcmp(what, "spawn") == 0) {
        n_arg = bench_arg(argc, argv, 2, 100000);
        bench_check(cc_run(spawn_main, &n_arg, NULL), "run");
    }
    if (all || strcmp(what, "pingpong") == 0) {
        n_arg = bench_arg(argc, argv, 2, 200000);
        bench_check(cc_run(pingpong_main, &n_arg, NULL), "run");
    }
    if (all || strcmp(what, "timers") == 0) {
        n_arg = bench_arg(argc, argv, 2, 10000);
        bench_check(cc_run(timers_main, NULL, NULL), "run");
    }
    return 0;
}
