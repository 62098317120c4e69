/*
 * rates_processes - the five fetches on a pool of four worker processes,
 * with one call that maps fetch_rates over the bases and returns the
 * results in order; the main process prints them.  No queues, no joins,
 * no thread to watch: the pool does it.  Rebuilds the multiprocessing.Pool
 * program of Expert Python Programming, ch. 6, on concur's process pool.
 *
 * The pool's workers are fresh runs of this executable that never enter
 * main(), so what a task needs travels in its argument: a blob holding
 * "<base> <base url>".  The result comes back as a blob too: the
 * rates_result itself (plain bytes).
 *
 * Without --base-url the local service answers (in this process, which
 * the workers reach over TCP like any client) after 20-50 ms per request;
 * --base-url URL asks a real service instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"
#include "net_example.h"
#include "rates_common.h"

enum { POOL_SIZE = 4 };

int main(int argc, char **argv)
{
    ex_target target;
    cc_executor *pool;
    void *jobs[RATES_N] = {0};
    void *results[RATES_N] = {0};
    double start;
    int rc = EXIT_FAILURE;

    if (ex_target_open(&target, argc, argv, NULL) != 0)
        return 2;
    start = cc_now();
    pool = cc_process_pool_new(POOL_SIZE, NULL);
    if (pool == NULL) {
        ex_target_close(&target);
        return rates_fail(argv[0]);
    }
    for (int i = 0; i < RATES_N; i++) {
        char job[512];

        snprintf(job, sizeof(job), "%s %s", rates_bases[i], target.base_url);
        jobs[i] = cc_blob_strdup(job);
    }
    /* with Pool(POOL_SIZE) as pool: results = pool.map(fetch_rates, BASES) */
    if (cc_map(pool, rates_fetch_job, jobs, RATES_N, 1, results, CC_FOREVER) != 0)
        rates_fail(argv[0]);
    else
        rc = 0;
    cc_executor_free(pool);
    for (int i = 0; i < RATES_N; i++) {
        if (rc == 0)
            rates_present(results[i]);
        cc_blob_free(results[i]);
        cc_blob_free(jobs[i]);
    }
    if (rc == 0)
        rates_print_elapsed(start);
    ex_target_close(&target);
    return rc;
}
