/*
 * do_math_processes - the blog's CPU-bound example three ways: twenty
 * tasks (a loop of pow() calls that ends where it started, plus one) run
 * one after the other, on a thread pool and on a process pool, both with
 * their default number of workers.  In Python only the processes were
 * faster (cpu_bound/1_sync.py, 2_threaded_no_improvement.py,
 * 3_multiprocess.py); in C both pools divide the time by about the CPU
 * count, and the task code is the same for both: a number in, a number
 * out, as blobs.  See ../pools/do_math.c for the thread-only version.
 * The seed's lines come too: "Doing math" and "Done with math" from each
 * task, printed by a worker thread or a worker process (which writes to
 * the same stdout), so the pools' runs show the tasks overlapping.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/process.h"

#include "math_task.h"

static long iterations = 2000000;


/* Submit the twenty jobs to ex and collect them in order; the time. */
static double run_on(cc_executor *ex, void **jobs, double *results)
{
    cc_future *work[N_TASKS];
    double start = cc_now();
    int submitted;
    int failed = 0;

    printf("Starting tasks...\n");
    printf("Defining tasks...\n"); /* the jobs are made once, in main */
    say("Kick off multiprocess tasks...\n");
    for (submitted = 0; submitted < N_TASKS; submitted++) {
        work[submitted] = cc_submit(ex, math_task, jobs[submitted]);
        if (work[submitted] == NULL) {
            fprintf(stderr, "do_math_processes: submit: %s\n", cc_errmsg());
            failed = 1;
            break;
        }
    }
    say("Waiting for work...\n");
    for (int i = 0; i < submitted; i++) {
        void *r;

        if (cc_future_result(work[i], &r, CC_FOREVER) != 0) {
            fprintf(stderr, "do_math_processes: task %d: ", i + 1);
            cc_error_print(cc_last_error(), stderr);
            failed = 1;
        } else {
            memcpy(&results[i], r, sizeof(double));
            /* The one difference between the pools: a thread pool's
             * future hands over what the task returned (ours to free); a
             * process pool's future owns its result blob and frees it
             * itself. */
            if (strcmp(cc_executor_kind(ex), "process pool") != 0)
                cc_blob_free(r);
        }
        cc_future_free(work[i]);
    }
    if (failed)
        exit(EXIT_FAILURE);
    printf("Done with work\n");
    return cc_now() - start;
}

int main(int argc, char **argv)
{
    double serial[N_TASKS];
    double threaded[N_TASKS];
    double processes[N_TASKS];
    void *jobs[N_TASKS];
    cc_executor *ex;
    double serial_s;
    double threads_s;
    double processes_s;
    double start;

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
        struct math_job job = {i + 1, iterations};

        jobs[i] = cc_blob_dup(&job, sizeof(job));
    }

    printf("%d tasks of %ld iterations, one after the other:\n", N_TASKS,
           iterations);
    printf("Starting tasks...\n");
    start = cc_now();
    for (int i = 0; i < N_TASKS; i++)
        serial[i] = do_math_once(i + 1, iterations);
    serial_s = cc_now() - start;
    printf("\nThe code ran in %.2f seconds.\n\n", serial_s);
    print_results(serial);

    start = cc_now();
    ex = cc_thread_pool_new(0, NULL);
    printf("\non a thread pool of %d workers (the default):\n",
           cc_executor_max_workers(ex));
    threads_s = run_on(ex, jobs, threaded);
    cc_executor_free(ex);
    threads_s = cc_now() - start;
    printf("\nThe code ran in %.2f seconds.\n\n", threads_s);
    print_results(threaded);

    start = cc_now();
    ex = cc_process_pool_new(0, NULL);
    if (ex == NULL) {
        fprintf(stderr, "do_math_processes: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    printf("\non a process pool of %d workers (the default):\n",
           cc_executor_max_workers(ex));
    (void)run_on(ex, jobs, processes);
    cc_executor_free(ex);
    processes_s = cc_now() - start; /* starting and stopping included */
    printf("\nThe code ran in %.2f seconds.\n\n", processes_s);
    print_results(processes);
    printf("\n");

    for (int i = 0; i < N_TASKS; i++) {
        if (memcmp(&serial[i], &threaded[i], sizeof(double)) != 0 ||
            memcmp(&serial[i], &processes[i], sizeof(double)) != 0) {
            fprintf(stderr, "do_math_processes: task %d differs: %.17g, "
                    "%.17g, %.17g\n", i + 1, serial[i], threaded[i],
                    processes[i]);
            return EXIT_FAILURE;
        }
        cc_blob_free(jobs[i]);
    }
    printf("all three runs computed the same %d results\n", N_TASKS);
    printf("speedup on %d CPU%s: threads %.1fx, processes %.1fx (Python: "
           "threads ~1.0x, processes ~3x on 4 cores)\n", cc_cpu_count(),
           cc_cpu_count() == 1 ? "" : "s",
           threads_s > 0 ? serial_s / threads_s : 0.0,
           processes_s > 0 ? serial_s / processes_s : 0.0);
    return 0;
}
