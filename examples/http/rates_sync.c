/*
 * rates_sync - the exchange-rate matrix fetched one base currency after
 * the other: each request waits for the previous answer, so the run takes
 * the sum of the five round trips.  Rebuilds synchronous.py of Expert
 * Python Programming, ch. 6 (the baseline the other rates_* examples beat).
 *
 * Without --base-url the local service answers, in this process, after
 * 20-50 ms per request; --base-url URL asks a real service of the same
 * shape (GET URL/rates?base=USD).
 */
#include <stdio.h>
#include <stdlib.h>

#include "net_example.h"
#include "concur/base.h"
#include "rates_common.h"

/* fetch_rates(base): get, check, parse, and print the line right away. */
static int fetch_rates(const char *base_url, const char *base)
{
    rates_result r;

    if (rates_fetch(base_url, base, &r) != 0)
        return -1;
    rates_present(&r);
    return 0;
}

int main(int argc, char **argv)
{
    ex_target target;
    double start;
    int rc = 0;

    if (ex_target_open(&target, argc, argv, NULL) != 0)
        return 2;
    start = cc_now();
    for (int i = 0; i < RATES_N && rc == 0; i++)
        rc = fetch_rates(target.base_url, rates_bases[i]);
    if (rc == 0)
        rates_print_elapsed(start);
    else
        rc = rates_fail(argv[0]);
    ex_target_close(&target);
    return rc;
}
