/*
 * gcd_mpi - Effective Python, Item 79, on a cluster: ../processes/
 * gcd_processes.c with the process pool swapped for the MPI executor.  Run
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

enum { N_PAIRS = 10 };

struct pair {
    uint32_t a;
    uint32_t b;
};

static const struct pair numbers[N_PAIRS] = {
    {19633090, 22659730}, {20306770, 38141720}, {15516450, 22296200},
    {20390450, 20208020}, {18237120, 19249280}, {22931290, 10204910},
    {12812380, 22737820}, {38238120, 42372810}, {38127410, 47291390},
    {12923910, 21238110},
};

/* Count down from the smaller number to the first common divisor. */
static uint32_t gcd(const struct pair *p)
{
    uint32_t low = p->a < p->b ? p->a : p->b;

    for (uint32_t i = low; i > 0; i--)
        if (p->a % i == 0 && p->b % i == 0)
            return i;
    return 0;
}

/* The task, on a worker rank: a pair in, its gcd out, as blobs. */
static void *gcd_task(void *arg)
{
    struct pair p;
    uint32_t g;

    if (cc_blob_len(arg) != sizeof(p))
        return cc_fail(EINVAL, "gcd_task: expected a pair of numbers");
    memcpy(&p, arg, sizeof(p));
    g = gcd(&p);
    if (g == 0)
        return cc_fail(EDOM, "gcd(%u, %u): not reachable", (unsigned)p.a,
                       (unsigned)p.b);
    return cc_blob_dup(&g, sizeof(g));
}

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
