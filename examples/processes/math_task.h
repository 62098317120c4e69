/*
 * math_task.h - the blog's CPU-bound work, shared by do_math_processes.c
 * and ../mpi/do_math_mpi.c (the same task on a process pool and on MPI
 * ranks): the seed's do_math_once with its "Doing math" lines, the
 * blob-in, blob-out task around it, and the results line.  Included once
 * per program (static definitions).
 */
#ifndef EXAMPLES_MATH_TASK_H
#define EXAMPLES_MATH_TASK_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "concur/base.h"

enum { N_TASKS = 20 };

/* print() with flush=True: one line, out at once (from a pool's worker
 * thread, a worker process or a worker rank alike; stdio keeps each line
 * whole). */
#define say(...) (printf(__VA_ARGS__), fflush(stdout))

/* The seed's do_math_once: x **= 4; x **= 0.25; x **= 2; x **= 0.5;
 * x += 1, n times. */
static double do_math_once(int starting_number, long n)
{
    double x = starting_number;

    say("Doing math, starting_number=%d...\n", starting_number);
    for (long i = 0; i < n; i++) {
        x = pow(x, 4);
        x = pow(x, 0.25);
        x = pow(x, 2);
        x = pow(x, 0.5);
        x += 1;
    }
    say("Done with math, starting_number=%d.\n", starting_number);
    return x;
}

/* The task: {starting number, iterations} in, the result out.  The
 * iteration count travels with the task: a worker process or rank does
 * not see what main() parsed. */
struct math_job {
    int starting_number;
    long iterations;
};

static void *math_task(void *arg)
{
    struct math_job job;
    double x;

    if (cc_blob_len(arg) != sizeof(job))
        return cc_fail(EINVAL, "math_task: malformed job");
    memcpy(&job, arg, sizeof(job));
    x = do_math_once(job.starting_number, job.iterations);
    return cc_blob_dup(&x, sizeof(x));
}

static void print_results(const double *results)
{
    printf("results=[");
    for (int i = 0; i < N_TASKS; i++)
        printf("%s%.1f", i > 0 ? ", " : "", results[i]);
    printf("]\n");
}

#endif
