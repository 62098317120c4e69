/*
 * do_math - twenty CPU-bound tasks (a loop of pow() calls that ends where it
 * started, plus one), run one after the other and then on a thread pool
 * with the default number of workers.  C threads use every CPU, so the pool
 * divides the time by about the CPU count, unlike Python's threads.
 * Rebuilds cpu_bound/1_sync.py and 2_threaded_no_improvement.py of the blog
 * post on async, threads and multiprocessing, with their lines: each task
 * says "Doing math" when it starts and "Done with math" when it ends, so
 * the pool's run shows the tasks overlapping (and finishing out of order).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"

enum { N_TASKS = 20 };

/* One task: its number (1..20) in, its result and finishing rank out. */
struct math_task {
    int starting_number;
    long iterations;
    double result;
    int rank; /* 0 for the first task to finish */
};

static atomic_int finished; /* tasks of the pool run done so far */

/* print() with flush=True: one line, out at once.  The pool's tasks
 * print from their threads; stdio's lock keeps each line whole. */
#define say(...) (printf(__VA_ARGS__), fflush(stdout))

/* The seed's do_math_once: x **= 4; x **= 0.25; x **= 2; x **= 0.5;
 * x += 1, `iterations` times, between its two lines. */
static double do_math_once(int starting_number, long iterations)
{
    double x = starting_number;

    say("Doing math, starting_number=%d...\n", starting_number);

    for (long i = 0; i < iterations; i++) {
        x = pow(x, 4);
        x = pow(x, 0.25);
        x = pow(x, 2);
        x = pow(x, 0.5);
        x += 1;
    }
    say("Done with math, starting_number=%d.\n", starting_number);
    return x;
}

static void *math_task_run(void *arg)
{
    struct math_task *t = arg;

    t->result = do_math_once(t->starting_number, t->iterations);
    t->rank = atomic_fetch_add(&finished, 1);
    return t;
}

static void print_results(const struct math_task *tasks)
{
    printf("results=[");
    for (int i = 0; i < N_TASKS; i++)
        printf("%s%.1f", i > 0 ? ", " : "", tasks[i].result);
    printf("]\n");
}

int main(int argc, char **argv)
{
    struct math_task serial[N_TASKS];
    struct math_task pooled[N_TASKS];
    cc_future *work[N_TASKS];
    int order[N_TASKS];
    long iterations = 2000000;
    cc_executor *executor;
    double serial_s;
    double pool_s;
    double start;
    int submitted;
    int rc = 0;

    if (argc == 3 && strcmp(argv[1], "--iterations") == 0) {
        char *end;

        iterations = strtol(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || iterations <= 0) {
            fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < N_TASKS; i++) {
        serial[i] = (struct math_task){i + 1, iterations, 0, 0};
        pooled[i] = serial[i];
    }

    printf("%d tasks of %ld iterations, one after the other:\n", N_TASKS,
           iterations);
    printf("Starting tasks...\n");
    start = cc_now();
    for (int i = 0; i < N_TASKS; i++)
        serial[i].result = do_math_once(i + 1, iterations);
    serial_s = cc_now() - start;
    printf("\nThe code ran in %.2f seconds.\n\n", serial_s);
    print_results(serial);

    executor = cc_thread_pool_new(0, NULL);
    if (executor == NULL) {
        fprintf(stderr, "do_math: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    printf("\nthe same on a thread pool of %d workers (the default):\n",
           cc_executor_max_workers(executor));
    printf("Starting tasks...\n");
    start = cc_now();
    /* the seed's list of (function, args, kwargs): here the task structs */
    printf("Defining tasks...\n");
    printf("Kick off multiprocess tasks...\n"); /* sic: the seed's line */
    fflush(stdout);
    for (submitted = 0; submitted < N_TASKS; submitted++) {
        work[submitted] = cc_submit(executor, math_task_run,
                                    &pooled[submitted]);
        if (work[submitted] == NULL) {
            fprintf(stderr, "do_math: submit: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    say("Waiting for work...\n");
    for (int i = 0; i < submitted; i++) {
        if (cc_future_result(work[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "do_math: task %d: ", i + 1);
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_future_free(work[i]);
    }
    cc_executor_free(executor);
    if (rc != 0)
        return EXIT_FAILURE;
    printf("Done with work\n");
    pool_s = cc_now() - start;
    printf("\nThe code ran in %.2f seconds.\n\n", pool_s);
    print_results(pooled);

    for (int i = 0; i < N_TASKS; i++)
        order[pooled[i].rank] = pooled[i].starting_number;
    printf("\nfinishing order:");
    for (int i = 0; i < N_TASKS; i++)
        printf(" %d", order[i]);
    printf("\n");

    for (int i = 0; i < N_TASKS; i++) {
        if (memcmp(&serial[i].result, &pooled[i].result,
                   sizeof(double)) != 0) {
            fprintf(stderr, "do_math: task %d: %.17g serially, %.17g in the "
                    "pool\n", i + 1, serial[i].result, pooled[i].result);
            return EXIT_FAILURE;
        }
    }
    printf("both runs computed the same %d results\n", N_TASKS);
    printf("speedup on %d CPU%s: %.1fx (Python's thread pool: ~1.0x)\n",
           cc_cpu_count(), cc_cpu_count() == 1 ? "" : "s",
           pool_s > 0 ? serial_s / pool_s : 0.0);
    return 0;
}
