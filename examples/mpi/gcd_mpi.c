/*
 * gcd_mpi - Effective Python, Item 79, on a cluster: ../processes/
 * gcd_processes.c with the process pool swapped for the MPI executor (the
 * same task: ../processes/gcd_task.h).  Run
 * it under mpirun (mpirun -n 3 ./gcd_mpi: rank 0 runs main, ranks 1 and 2
 * run the gcds; on several hosts, see README "More than one machine").
 * cc_mpi_main comes first so that only rank 0 runs main; the pairs go out
 * as futures (cc_submit, as mpi4py.futures' executor.submit) and come back
 * in order.  The result blobs belong to the futures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/mpi.h"

#include "../processes/gcd_task.h"

int main(int argc, char **argv)
{
    cc_executor *ex = cc_mpi_main(&argc, &argv, NULL); /* ranks 1.. stay */
    uint32_t serial[N_PAIRS];
    cc_future *fs[N_PAIRS];
    double serial_s, mpi_s, start;
    int failed = 0, workers;

    if (ex == NULL) {
        fprintf(stderr, "gcd_mpi: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    printf("serially (run_serial):\n");
    start = cc_now();
    for (int i = 0; i < N_PAIRS; i++)
        serial[i] = gcd(&numbers[i]);
    serial_s = cc_now() - start;
    printf("Took %.3f seconds\n", serial_s);

    workers = cc_executor_max_workers(ex);
    printf("MPI executor of %d worker ranks, cc_submit (run_parallel):\n",
           workers);
    start = cc_now();
    for (int i = 0; i < N_PAIRS; i++) {
        void *arg = cc_blob_dup(&numbers[i], sizeof(numbers[i]));
        fs[i] = arg != NULL ? cc_submit(ex, gcd_task, arg) : NULL;
        cc_blob_free(arg); /* the executor sent its own copy */
        if (fs[i] == NULL) {
            fprintf(stderr, "gcd_mpi: submit: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }
    printf("gcds:");
    for (int i = 0; i < N_PAIRS; i++) {
        void *r;
        uint32_t g = 0;

        if (cc_future_result(fs[i], &r, CC_FOREVER) != 0) {
            fprintf(stderr, "\ngcd_mpi: pair %d: ", i);
            cc_error_print(cc_last_error(), stderr);
            failed = 1;
        } else {
            memcpy(&g, r, sizeof(g)); /* the future owns the blob */
        }
        if (!failed && g != serial[i]) {
            fprintf(stderr, "\ngcd_mpi: the runs disagree on pair %d: %u and "
                    "%u\n", i, (unsigned)serial[i], (unsigned)g);
            failed = 1;
        }
        if (!failed)
            printf(" %u", (unsigned)g);
        cc_future_free(fs[i]);
    }
    mpi_s = cc_now() - start;
    printf("\n");
    cc_executor_free(ex); /* the worker ranks exit */
    if (failed)
        return EXIT_FAILURE;
    printf("Took %.3f seconds\n", mpi_s);
    printf("both runs found the same %d gcds\n", N_PAIRS);
    printf("speedup with %d worker ranks: %.1fx\n", workers,
           mpi_s > 0 ? serial_s / mpi_s : 0.0);
    return 0;
}
