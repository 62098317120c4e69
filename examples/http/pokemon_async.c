/*
 * pokemon_async - the blog's web/2_async_aiohttp.py: one coroutine per
 * Pokemon, gathered; all 20 requests are in flight at once on one thread,
 * each task suspended in cc_http_get while the loop drives the others.
 * The blog: 1.67 s with aiohttp.
 * Usage: pokemon_async [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "concur/base.h"
#include "pokemon_common.h"

enum { N_POKEMON = 20 };

static const char *base_url;
static pk_result results[N_POKEMON]; /* slot i written by task i only */

/* A task: download Pokemon number (intptr_t)arg. */
static void *download_single_pokemon(void *arg)
{
    int num = (int)(intptr_t)arg;

    if (pk_download(base_url, num, &results[num - 1]) != 0)
        return cc_fail_from(cc_last_error(), 0, "Pokémon %02d", num);
    return &results[num - 1];
}

/* The coordinating coroutine: create the tasks, gather them. */
static void *download_pokemon_list(void *arg)
{
    cc_future *tasks[N_POKEMON];
    int rc;

    (void)arg;
    printf("Creating coroutine objects...\n");
    printf("Gathering coroutines into tasks...\n");
    for (int num = 1; num <= N_POKEMON; num++) {
        tasks[num - 1] = cc_spawn(download_single_pokemon,
                                  (void *)(intptr_t)num);
        if (tasks[num - 1] == NULL) {
            for (int i = 0; i < num - 1; i++)
                cc_future_free(tasks[i]);
            return cc_fail_from(cc_last_error(), 0, "spawn");
        }
    }
    printf("Done gathering tasks. Running + awaiting tasks...\n");
    fflush(stdout);
    rc = cc_gather(tasks, N_POKEMON, NULL, false, CC_FOREVER);
    for (int i = 0; i < N_POKEMON; i++)
        cc_future_free(tasks[i]);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), 0, "gather");
    printf("Done gathering results.\n");
    return results;
}

int main(int argc, char **argv)
{
    ex_target target;
    double t0;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, 0.10, 0.20);
    if (rc != 0)
        return rc;
    base_url = target.base_url;
    t0 = cc_now();
    printf("Starting coordinating coroutine...\n");
    if (cc_run(download_pokemon_list, NULL, NULL) != 0) {
        fprintf(stderr, "pokemon_async: ");
        cc_error_print(cc_last_error(), stderr);
        ex_target_close(&target);
        return 1;
    }
    pk_print_end(cc_now() - t0, results, N_POKEMON);
    ex_target_close(&target);
    return 0;
}
