/*
 * pool_swap - one program, two back ends: the exchange-rate table of
 * Expert Python Programming, ch. 6 (multiprocessing.Pool, then
 * multiprocessing.dummy's thread Pool behind the same code), with the
 * pool chosen by a flag: --threads (cc_thread_pool_new) or --processes
 * (cc_process_pool_new).  Everything else is the same code, and so is the
 * output apart from the backend line and the time.
 *
 * The rates come from the local service (in this process; 20-50 ms per
 * answer), or from --base-url URL, through the fetch and the book's
 * {rate:7.03} columns that every rates_* example shares (rates_common.c).
 * What a task gets and returns are blobs -- "<base> <base url>" in, the
 * rates_result (plain bytes) out -- which is what lets either pool run it:
 * a process pool's workers are fresh runs of this executable that never
 * enter main().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/future.h"
#include "concur/process.h"
#include "net_example.h"
#include "rates_common.h"

enum { POOL_SIZE = 4, MAX_ARGS = 32 };

int main(int argc, char **argv)
{
    char *net_argv[MAX_ARGS + 1];
    ex_target target;
    cc_executor *pool;
    void *jobs[RATES_N] = {0};
    void *results[RATES_N] = {0};
    bool use_threads;
    double start;
    int rc = EXIT_FAILURE;

    if (argc < 2 || argc > MAX_ARGS ||
        (strcmp(argv[1], "--threads") != 0 &&
         strcmp(argv[1], "--processes") != 0)) {
        fprintf(stderr, "usage: %s --threads | --processes [--base-url URL]"
                "\n", argv[0]);
        return 2;
    }
    use_threads = strcmp(argv[1], "--threads") == 0;
    /* the options of every network example follow the backend flag */
    net_argv[0] = argv[0];
    for (int i = 2; i <= argc; i++)
        net_argv[i - 1] = argv[i];
    if (ex_target_open(&target, argc - 1, net_argv, NULL) != 0)
        return 2;
    start = cc_now();
    /* The one line that differs (the book's pool_cls). */
    if (use_threads)
        pool = cc_thread_pool_new(POOL_SIZE, NULL);
    else
        pool = cc_process_pool_new(POOL_SIZE, NULL);
    if (pool == NULL) {
        ex_target_close(&target);
        return rates_fail(argv[0]);
    }
    printf("backend: %s of %d workers\n", cc_executor_kind(pool),
           cc_executor_max_workers(pool));
    for (int i = 0; i < RATES_N; i++) {
        char job[512];

        snprintf(job, sizeof(job), "%s %s", rates_bases[i], target.base_url);
        jobs[i] = cc_blob_strdup(job);
    }
    /* with pool_cls(POOL_SIZE) as pool:
     *     results = pool.map(fetch_rates, BASES) */
    if (cc_map(pool, rates_fetch_job, jobs, RATES_N, 1, results, CC_FOREVER) != 0)
        rates_fail(argv[0]);
    else
        rc = 0;
    cc_executor_free(pool);
    for (int i = 0; i < RATES_N; i++) {
        if (rc == 0)
            rates_present(results[i]);
        cc_blob_free(results[i]); /* cc_map's results are ours, either way */
        cc_blob_free(jobs[i]);
    }
    if (rc == 0)
        rates_print_elapsed(start);
    ex_target_close(&target);
    return rc;
}
