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

enum { N_PAIRS = 10, WORKERS = 2 };

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

/* Count down from the smaller number to the first common divisor; 0 only
 * when a number is 0 (never, for these pairs). */
static uint32_t gcd(const struct pair *p)
{
    uint32_t low = p->a < p->b ? p->a : p->b;

    for (uint32_t i = low; i > 0; i--)
        if (p->a % i == 0 && p->b % i == 0)
            return i;
    return 0;
}

/* The pool task, in a worker process: a pair in, its gcd out, as blobs
 * (what crosses between processes is bytes, like Python's pickles). */
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
