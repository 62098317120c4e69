/*
 * bench_mixed - one set of primitives for threads and coroutines:
 *   queue [N] [maxsize]  one producer and one consumer move N pointers
 *                        through one cc_queue; items/s for every pairing:
 *                        thread->thread, thread->coroutine,
 *                        coroutine->thread, coroutine->coroutine on one
 *                        loop and on two loops (each loop in its own
 *                        thread).  Defaults 1,000,000 and 1024.
 *   awaiters [N] [ms]    N coroutines each await a thread-pool job that
 *                        sleeps `ms` (cc_to_thread on the loop's default
 *                        pool of min(32, cpus + 4) threads), while a ticker
 *                        task measures the loop's lateness every 10 ms.
 *                        Prints total time, the floor N * ms / workers, and
 *                        worst and p99 lateness.  Defaults 10,000 and 1.
 * With no argument, runs both with their defaults.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* ------------------------------------------------------------------ queue */

static long items;
static size_t maxsize;
static cc_queue *q;
static long received_sum;

static void *producer(void *arg)
{
    for (long i = 1; i <= items; i++)
        bench_check(cc_queue_put(q, (void *)(intptr_t)i, CC_FOREVER), "put");
    return arg;
}

static void *consumer(void *arg)
{
    long sum = 0;
    void *item;

    for (long i = 0; i < items; i++) {
        bench_check(cc_queue_get(q, &item, CC_FOREVER), "get");
        sum += (intptr_t)item;
    }
    received_sum = sum;
    return arg;
}

static void *run_forever(void *loop)
{
    bench_check(cc_loop_run_forever(loop), "run_forever");
    return loop;
}

/* A loop running in a thread of its own. */
typedef struct {
    cc_loop *loop;
    cc_thread *thread;
} loop_thread;

static loop_thread loop_start(const char *name)
{
    loop_thread lt = {cc_loop_new(), NULL};

    if (lt.loop == NULL ||
        (lt.thread = cc_thread_start(run_forever, lt.loop, name)) == NULL)
        bench_check(-1, "starting a loop thread");
    return lt;
}

static void loop_finish(loop_thread lt)
{
    bench_check(cc_loop_stop(lt.loop), "loop stop");
    bench_check(cc_thread_join(lt.thread, NULL, CC_FOREVER), "loop join");
    cc_thread_free(lt.thread);
    cc_loop_free(lt.loop);
}

/* One side of the pairing: a thread, or a task on a loop. */
typedef struct {
    cc_thread *thread;
    cc_future *task;
} side;

static side side_start(cc_loop *loop, cc_fn fn, const char *name)
{
    side s = {NULL, NULL};

    if (loop == NULL)
        s.thread = cc_thread_start(fn, NULL, name);
    else
        s.task = cc_loop_spawn(loop, fn, NULL);
    if (s.thread == NULL && s.task == NULL)
        bench_check(-1, name);
    return s;
}

static void side_finish(side s)
{
    if (s.thread != NULL) {
        bench_check(cc_thread_join(s.thread, NULL, CC_FOREVER), "join");
        cc_thread_free(s.thread);
    } else {
        bench_check(cc_future_result(s.task, NULL, CC_FOREVER), "task");
        cc_future_free(s.task);
    }
}

/* Move `items` from a producer on `pl` to a consumer on `cl` (NULL: a
 * thread of its own); items/s. */
static double pair(cc_loop *pl, cc_loop *cl)
{
    side p, c;
    double t0;

    q = cc_queue_new(maxsize, CC_FIFO);
    if (q == NULL)
        bench_check(-1, "queue");
    received_sum = 0;
    t0 = cc_now();
    c = side_start(cl, consumer, "consumer");
    p = side_start(pl, producer, "producer");
    side_finish(p);
    side_finish(c);
    t0 = cc_now() - t0;
    if (received_sum != items * (items + 1) / 2) {
        fprintf(stderr, "lost or duplicated items\n");
        exit(1);
    }
    cc_queue_free(q);
    return (double)items / t0;
}

static void bench_queue(long n, long max)
{
    loop_thread a = loop_start("loop-a"), b = loop_start("loop-b");

    items = n;
    maxsize = (size_t)max;
    BENCH_INFO("items", "%ld", items);
    BENCH_INFO("maxsize", "%zu", maxsize);
    BENCH_RESULT("thread_to_thread", pair(NULL, NULL), "items/s");
    BENCH_RESULT("thread_to_coroutine", pair(NULL, a.loop), "items/s");
    BENCH_RESULT("coroutine_to_thread", pair(a.loop, NULL), "items/s");
    BENCH_RESULT("coroutine_to_coroutine_one_loop", pair(a.loop, a.loop),
                 "items/s");
    BENCH_RESULT("coroutine_to_coroutine_two_loops", pair(a.loop, b.loop),
                 "items/s");
    loop_finish(a);
    loop_finish(b);
}

/* --------------------------------------------------------------- awaiters */

static double job_seconds;
static _Atomic int ticking = 1;
static double *lateness;   /* one entry per tick */
static long nticks, max_ticks;

static void *sleeping_job(void *arg)
{
    cc_sleep(job_seconds); /* a pool thread: blocks that thread only */
    return arg;
}

static void *awaiter(void *arg)
{
    cc_future *f = cc_to_thread(sleeping_job, arg);
    void *r = NULL;

    if (f == NULL || cc_future_result(f, &r, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "awaiting a pool job");
    cc_future_free(f);
    return r;
}

static void *ticker(void *arg)
{
    double next = cc_now() + 0.01;

    while (atomic_load(&ticking)) {
        double wait = next - cc_now();

        cc_sleep(wait > 0 ? wait : 0);
        if (nticks < max_ticks)
            lateness[nticks++] = cc_now() - next;
        next += 0.01;
    }
    return arg;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

typedef struct {
    long n;       /* in: how many awaiting tasks */
    double wall;  /* out: seconds from the first spawn to the last result */
} awaiters_run;

static void *awaiters_main(void *arg)
{
    awaiters_run *run = arg;
    long n = run->n;
    cc_future **f = malloc((size_t)n * sizeof(*f));
    cc_future *tick;
    double t0;

    if (f == NULL)
        return cc_fail(ENOMEM, "awaiters");
    tick = cc_spawn(ticker, NULL);
    t0 = cc_now();
    for (long i = 0; i < n; i++)
        f[i] = cc_spawn(awaiter, (void *)(intptr_t)(i + 1));
    bench_check(cc_gather(f, (size_t)n, NULL, false, CC_FOREVER), "gather");
    t0 = cc_now() - t0;
    atomic_store(&ticking, 0);
    bench_check(cc_future_result(tick, NULL, CC_FOREVER), "ticker");
    cc_future_free(tick);
    for (long i = 0; i < n; i++)
        cc_future_free(f[i]);
    free(f);
    run->wall = t0;
    return arg;
}

static void bench_awaiters(long n, long ms)
{
    long workers = cc_cpu_count() + 4 < 32 ? cc_cpu_count() + 4 : 32;
    awaiters_run io = {n, 0};

    job_seconds = (double)ms / 1e3;
    max_ticks = 1 + (long)(n * job_seconds / workers / 0.01) * 4 + 1000;
    lateness = calloc((size_t)max_ticks, sizeof(double));
    nticks = 0;
    bench_check(cc_run(awaiters_main, &io, NULL), "cc_run");
    qsort(lateness, (size_t)nticks, sizeof(double), cmp_double);
    BENCH_INFO("tasks", "%ld", n);
    BENCH_INFO("job_ms", "%ld", ms);
    BENCH_INFO("pool_threads", "%ld", workers);
    BENCH_RESULT("wall_s", io.wall, "s");
    BENCH_RESULT("floor_s", n * job_seconds / workers, "s");
    BENCH_RESULT("lateness_worst_ms",
                 nticks > 0 ? lateness[nticks - 1] * 1e3 : 0, "ms");
    BENCH_RESULT("lateness_p99_ms",
                 nticks > 0 ? lateness[nticks * 99 / 100] * 1e3 : 0, "ms");
    free(lateness);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    bool all = strcmp(what, "all") == 0;

    if (all || strcmp(what, "queue") == 0)
        bench_queue(bench_arg(argc, argv, 2, 1000000),
                    bench_arg(argc, argv, 3, 1024));
    if (all || strcmp(what, "awaiters") == 0)
        bench_awaiters(bench_arg(argc, argv, 2, 10000),
                       bench_arg(argc, argv, 3, 1));
    if (!all && strcmp(what, "queue") != 0 && strcmp(what, "awaiters") != 0) {
        fprintf(stderr, "usage: bench_mixed [queue [N] [maxsize] | "
                        "awaiters [N] [ms]]\n");
        return 2;
    }
    return 0;
}
