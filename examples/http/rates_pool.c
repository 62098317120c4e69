/*
 * rates_pool - a pool of four worker threads that take base currencies
 * from a work queue until it is empty; each worker prints the lines of the
 * bases it fetched.  The number of threads no longer grows with the input,
 * at the price of a little time: five items on four workers take two
 * rounds.  Rebuilds thread_pool.py of Expert Python Programming, ch. 6,
 * with a cc_queue as its Queue; the program is in rates_queues.c.
 *
 * Without --base-url the local service answers, in this process, after
 * 20-50 ms per request; --base-url URL asks a real service instead.
 */
#include "rates_queues.h"

int main(int argc, char **argv)
{
    const rates_steps steps = {.results_queue = false};

    return rates_queues_main(argc, argv, &steps);
}
