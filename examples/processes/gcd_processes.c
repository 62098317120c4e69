/*
 * gcd_processes - Effective Python, Item 79 ("Consider concurrent.futures
 * for true parallelism"): a deliberately slow greatest common divisor of
 * ten number pairs, first one pair after the other, then with cc_map on a
 * process pool of two workers.  The process pool is the one change from
 * ../pools/gcd.c: in C, threads would do as well (no GIL), but processes
 * are what Python needed, and here they cost almost nothing more -- the
 * pairs and the results cross as 8- and 4-byte blobs.  Rebuilds
 * run_serial.py and run_parallel.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/process.h"

#include "gcd_task.h"

enum { WORKERS = 2 };

int main(int argc, char **argv)
{
    uint32_t serial[N_PAIRS];
    void *args[N_PAIRS];
    void *pooled[N_PAIRS];
    cc_executor *pool;
    double serial_s;
    double pool_s;
    double start;
    int rc;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < N_PAIRS; i++) {
        args[i] = cc_blob_dup(&numbers[i], sizeof(numbers[i]));
        if (args[i] == NULL) {
            fprintf(stderr, "gcd_processes: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }

    printf("serially (run_serial):\n");
    start = cc_now();
    for (int i = 0; i < N_PAIRS; i++)
        serial[i] = gcd(&numbers[i]);
    serial_s = cc_now() - start;
    printf("Took %.3f seconds\n", serial_s);

    printf("process pool of %d workers, cc_map (run_parallel):\n", WORKERS);
    start = cc_now();
    pool = cc_process_pool_new(WORKERS, NULL);
    if (pool == NULL) {
        fprintf(stderr, "gcd_processes: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = cc_map(pool, gcd_task, args, N_PAIRS, 1, pooled, CC_FOREVER);
    if (rc != 0) {
        fprintf(stderr, "gcd_processes: map: ");
        cc_error_print(cc_last_error(), stderr);
    }
    cc_executor_free(pool);
    pool_s = cc_now() - start;
    if (rc != 0)
        return EXIT_FAILURE;
    printf("Took %.3f seconds\n", pool_s);

    printf("gcds:");
    for (int i = 0; i < N_PAIRS; i++) {
        uint32_t g;

        memcpy(&g, pooled[i], sizeof(g));
        printf(" %u", (unsigned)serial[i]);
        if (g != serial[i]) {
            printf("\n");
            fprintf(stderr, "gcd_processes: the runs disagree on pair %d: "
                    "%u and %u\n", i, (unsigned)serial[i], (unsigned)g);
            return EXIT_FAILURE;
        }
        cc_blob_free(pooled[i]); /* cc_map's results are ours */
        cc_blob_free(args[i]);
    }
    printf("\nboth runs found the same %d gcds\n", N_PAIRS);
    printf("speedup with %d worker processes on %d CPU%s: %.1fx (Python "
           "here: 6.6 s serially, 3.2 s on 2 processes)\n", WORKERS,
           cc_cpu_count(),
           cc_cpu_count() == 1 ? "" : "s",
           pool_s > 0 ? serial_s / pool_s : 0.0);
    return 0;
}
