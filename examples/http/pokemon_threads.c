/*
 * pokemon_threads - the blog's web/3_threaded.py: the same 20 downloads
 * submitted to a thread pool of Python's default size (min(32, CPUs + 4)),
 * so several requests wait at once and the names come back out of order;
 * the results are collected in order from the futures.  The blog: 1.77 s.
 * Usage: pokemon_threads [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/future.h"
#include "pokemon_common.h"

enum { N_POKEMON = 20 };

static const char *base_url;          /* set before the pool starts */
static pk_result results[N_POKEMON];  /* slot i written by task i only */

/* A pool task: download Pokemon number (intptr_t)arg into its slot. */
static void *download_single_pokemon(void *arg)
{
    int num = (int)(intptr_t)arg;

    if (pk_download(base_url, num, &results[num - 1]) != 0)
        return cc_fail_from(cc_last_error(), 0, "Pokémon %02d", num);
    return &results[num - 1];
}

int main(int argc, char **argv)
{
    cc_future *work[N_POKEMON];
    cc_executor *executor;
    ex_target target;
    int failed = 0;
    double t0;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, 0.10, 0.20);
    if (rc != 0)
        return rc;
    base_url = target.base_url;
    t0 = cc_now();
    printf("Starting coordinating function...\n");
    printf("Defining tasks...\n");
    printf("Kick off threaded tasks...\n");
    fflush(stdout);
    executor = cc_thread_pool_new(0, NULL); /* ThreadPoolExecutor() */
    if (executor == NULL) {
        fprintf(stderr, "pokemon_threads: %s\n", cc_errmsg());
        ex_target_close(&target);
        return 1;
    }
    for (int num = 1; num <= N_POKEMON; num++)
        work[num - 1] = cc_submit(executor, download_single_pokemon,
                                  (void *)(intptr_t)num);
    printf("Waiting for downloads...\n");
    fflush(stdout);
    cc_executor_free(executor); /* the end of the `with` block */
    printf("Done\n");
    for (int i = 0; i < N_POKEMON; i++) {
        if (work[i] == NULL || cc_future_result(work[i], NULL, 0) != 0) {
            fprintf(stderr, "pokemon_threads: %s\n", cc_errmsg());
            failed++;
        }
        cc_future_free(work[i]);
    }
    if (failed == 0)
        pk_print_end(cc_now() - t0, results, N_POKEMON);
    ex_target_close(&target);
    return failed > 0 ? 1 : 0;
}
