/*
 * do_math_mpi - the blog's CPU-bound example on a cluster: twenty tasks (a
 * loop of pow() calls that ends where it started, plus one) one after the
 * other on rank 0, then on the MPI executor's worker ranks -- the task of
 * ../processes/do_math_processes.c (../processes/math_task.h), a number in
 * and a number out as blobs.  Run it under mpirun (mpirun -n 3 ./do_math_mpi).  The
 * seed's "Doing math" and "Done with math" lines come from the worker
 * ranks, whose stdout mpirun forwards, so the tasks show overlapping.
 * Usage: do_math_mpi [--iterations N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/mpi.h"

#include "../processes/math_task.h"

int main(int argc, char **argv)
{
    cc_executor *ex = cc_mpi_main(&argc, &argv, NULL); /* ranks 1.. stay */
    double serial[N_TASKS], ranks[N_TASKS];
    cc_future *work[N_TASKS];
    long iterations = 2000000;
    double serial_s, mpi_s, start;

    if (ex == NULL) {
        fprintf(stderr, "do_math_mpi: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    if (argc == 3 && strcmp(argv[1], "--iterations") == 0) {
        char *end;

        iterations = strtol(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || iterations <= 0)
            argc = 0;
    }
    if (argc != 1 && argc != 3) {
        fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
        cc_executor_free(ex);
        return 2;
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

    printf("\non the MPI executor's %d worker ranks:\n",
           cc_executor_max_workers(ex));
    say("Kick off tasks...\n");
    start = cc_now();
    for (int i = 0; i < N_TASKS; i++) {
        struct math_job job = {i + 1, iterations};
        void *arg = cc_blob_dup(&job, sizeof(job));

        work[i] = arg != NULL ? cc_submit(ex, math_task, arg) : NULL;
        cc_blob_free(arg); /* the executor sent its own copy */
        if (work[i] == NULL) {
            fprintf(stderr, "do_math_mpi: submit: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }
    for (int i = 0; i < N_TASKS; i++) {
        void *r;

        if (cc_future_result(work[i], &r, CC_FOREVER) != 0) {
            fprintf(stderr, "do_math_mpi: task %d: ", i + 1);
            cc_error_print(cc_last_error(), stderr);
            return EXIT_FAILURE;
        }
        memcpy(&ranks[i], r, sizeof(double)); /* the future owns r */
        cc_future_free(work[i]);
    }
    mpi_s = cc_now() - start;
    cc_executor_free(ex); /* the worker ranks exit */
    printf("Done with work\n");
    printf("\nThe code ran in %.2f seconds.\n\n", mpi_s);
    print_results(ranks);
    printf("\n");
    for (int i = 0; i < N_TASKS; i++) {
        if (memcmp(&serial[i], &ranks[i], sizeof(double)) != 0) {
            fprintf(stderr, "do_math_mpi: task %d differs: %.17g, %.17g\n",
                    i + 1, serial[i], ranks[i]);
            return EXIT_FAILURE;
        }
    }
    printf("both runs computed the same %d results\n", N_TASKS);
    printf("speedup: %.1fx\n", mpi_s > 0 ? serial_s / mpi_s : 0.0);
    return 0;
}
