/*
 * bench_select - cc_select beside Go's select, three ways:
 *   threads [N]  two threads pass a token back and forth; each waits with
 *                cc_select over its inbox (maxsize 1) and a quit queue
 *                that stays empty: ns per round trip (W2 with a select)
 *   tasks [N]    the same between two tasks on one loop
 *   ready [N]    one thread selects N times over two queues that always
 *                hold an item, putting back what it took: ns per select,
 *                and how evenly the two cases were chosen
 * With no mode, runs all three (N: 200,000 round trips, 1,000,000 selects).
 * bench/peers/go_select runs the same three with goroutines and channels.
 */
#include <stdint.h>
#include <string.h>

#include "bench_util.h"

static long n_arg;
static cc_queue *to_pong, *to_ping, *quit;

/* Take the token from inbox (or a message from quit: -1), by cc_select. */
static intptr_t select_get(cc_queue *inbox)
{
    void *tok = NULL;
    void *msg = NULL;
    cc_select_case cs[2] = {CC_SELECT_GET(inbox, &tok),
                            CC_SELECT_GET(quit, &msg)};
    int i = cc_select(cs, 2, CC_FOREVER);

    if (i < 0)
        bench_check(-1, "cc_select");
    return i == 0 ? (intptr_t)tok : -1;
}

static void *pong(void *arg)
{
    for (;;) {
        intptr_t tok = select_get(to_pong);

        if (tok < 0)
            return arg;
        bench_check(cc_queue_put(to_ping, (void *)tok, CC_FOREVER), "put");
    }
}

/* The ping side: n round trips; ns per round trip. */
static double ping(void)
{
    double t0 = cc_now();

    for (long i = 1; i <= n_arg; i++) {
        bench_check(cc_queue_put(to_pong, (void *)(intptr_t)i, CC_FOREVER),
                    "put");
        if (select_get(to_ping) != i)
            bench_check(-1, "token");
    }
    return (cc_now() - t0) / (double)n_arg * 1e9;
}

static void make_queues(void)
{
    to_pong = cc_queue_new(1, CC_FIFO);
    to_ping = cc_queue_new(1, CC_FIFO);
    quit = cc_queue_new(1, CC_FIFO);
    if (to_pong == NULL || to_ping == NULL || quit == NULL)
        bench_check(-1, "cc_queue_new");
}

static void free_queues(void)
{
    cc_queue_free(to_pong);
    cc_queue_free(to_ping);
    cc_queue_free(quit);
}

static void bench_threads(void)
{
    cc_thread *t;

    make_queues();
    t = cc_thread_start(pong, NULL, "pong");
    BENCH_RESULT("threads_ns_per_rt", ping(), "ns");
    bench_check(cc_queue_put(quit, (void *)1, CC_FOREVER), "put quit");
    bench_check(cc_thread_join(t, NULL, CC_FOREVER), "join");
    cc_thread_free(t);
    free_queues();
}

static void *tasks_main(void *arg)
{
    cc_future *p;

    make_queues();
    p = cc_spawn(pong, NULL);
    BENCH_RESULT("tasks_ns_per_rt", ping(), "ns");
    bench_check(cc_queue_put(quit, (void *)1, CC_FOREVER), "put quit");
    bench_check(cc_future_result(p, NULL, CC_FOREVER), "pong");
    cc_future_free(p);
    free_queues();
    return arg;
}

static void bench_tasks(void)
{
    bench_check(cc_run(tasks_main, NULL, NULL), "cc_run");
}

static void bench_ready(long n)
{
    cc_queue *a = cc_queue_new(4, CC_FIFO);
    cc_queue *b = cc_queue_new(4, CC_FIFO);
    cc_queue *qs[2] = {a, b};
    long chosen[2] = {0, 0};
    double t0;

    bench_check(cc_queue_put(a, (void *)1, 0), "put");
    bench_check(cc_queue_put(b, (void *)2, 0), "put");
    t0 = cc_now();
    for (long i = 0; i < n; i++) {
        void *x = NULL;
        void *y = NULL;
        cc_select_case cs[2] = {CC_SELECT_GET(a, &x), CC_SELECT_GET(b, &y)};
        int k = cc_select(cs, 2, 0);

        if (k < 0)
            bench_check(-1, "cc_select");
        chosen[k]++;
        bench_check(cc_queue_put(qs[k], k == 0 ? x : y, 0), "put back");
    }
    BENCH_RESULT("ready_ns_per_select", (cc_now() - t0) / (double)n * 1e9,
                 "ns");
    BENCH_RESULT("ready_first_case_share",
                 100.0 * (double)chosen[0] / (double)n, "%");
    cc_queue_free(a);
    cc_queue_free(b);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    bool all = strcmp(mode, "all") == 0;

    n_arg = bench_arg(argc, argv, 2, 200000);
    BENCH_INFO("round_trips", "%ld", n_arg);
    if (all || strcmp(mode, "threads") == 0)
        bench_threads();
    if (all || strcmp(mode, "tasks") == 0)
        bench_tasks();
    if (all || strcmp(mode, "ready") == 0)
        bench_ready(bench_arg(argc, argv, 2, 1000000));
    if (!all && strcmp(mode, "threads") != 0 && strcmp(mode, "tasks") != 0 &&
        strcmp(mode, "ready") != 0) {
        fprintf(stderr, "usage: bench_select [threads|tasks|ready|all] [N]\n");
        return 2;
    }
    return 0;
}
