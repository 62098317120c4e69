/*
 * rates_threads - one thread per base currency: the five requests wait for
 * their answers at the same time, so the run takes about one round trip.
 * Each thread prints its own line, so the lines come out in the order the
 * answers arrive.  Rebuilds one_thread_per_item.py of Expert Python
 * Programming, ch. 6 -- with its flaws on show: as many threads as items,
 * printing from the threads, no way to limit the pace.
 *
 * Without --base-url the local service answers, in this process, after
 * 20-50 ms per request; --base-url URL asks a real service instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include "net_example.h"
#include "rates_common.h"

static const char *base_url; /* set before the threads start */

/* The thread's target: fetch_rates(base), printing the line. */
static void *fetch_rates(void *base)
{
    rates_result r;

    if (rates_fetch(base_url, base, &r) != 0)
        return NULL; /* fails the thread with the error rates_fetch raised */
    rates_present(&r);
    return base;
}

int main(int argc, char **argv)
{
    ex_target target;
    cc_thread *threads[RATES_N];
    double start;
    int rc = EXIT_FAILURE;

    if (ex_target_open(&target, argc, argv, NULL) != 0)
        return 2;
    base_url = target.base_url;
    start = cc_now();
    if (ex_threads_start(argv[0], threads, RATES_N, fetch_rates,
                         (void *const *)rates_bases, NULL) == 0 &&
        ex_threads_join(threads, RATES_N) == 0) {
        rates_print_elapsed(start);
        rc = 0;
    }
    ex_target_close(&target);
    return rc;
}
