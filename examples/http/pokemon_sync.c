/*
 * pokemon_sync - the blog's web/1_sync.py: download the first 20 Pokemon
 * one after the other -- each request waits for the one before -- and
 * print each name as it comes, the time, and the list.  The blog's run
 * over the Internet took 4.31 s ("~4-6 seconds").
 * Usage: pokemon_sync [--base-url URL]   (default: the local service)
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "pokemon_common.h"

enum { N_POKEMON = 20 };

int main(int argc, char **argv)
{
    pk_result results[N_POKEMON];
    ex_target target;
    double t0;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, 0.10, 0.20);
    if (rc != 0)
        return rc;
    t0 = cc_now();
    printf("Starting coordinating function...\n");
    for (int num = 1; num <= N_POKEMON; num++) {
        if (pk_download(target.base_url, num, &results[num - 1]) != 0) {
            fprintf(stderr, "pokemon_sync: Pokémon %02d: %s\n", num,
                    cc_errmsg());
            ex_target_close(&target);
            return 1;
        }
    }
    pk_print_end(cc_now() - t0, results, N_POKEMON);
    ex_target_close(&target);
    return 0;
}
