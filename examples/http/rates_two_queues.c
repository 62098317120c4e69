/*
 * rates_two_queues - the pool of four worker threads of rates_pool, with a
 * second queue the other way: workers put their results on it, and only
 * the main thread prints, once the work is done -- no more lines mixed by
 * threads printing at once.  Rebuilds the two-way queues program of Expert
 * Python Programming, ch. 6 (the program is in rates_queues.c).
 *
 * Without --base-url the local service answers, in this process, after
 * 20-50 ms per request; --base-url URL asks a real service instead.
 */
#include "rates_queues.h"

int main(int argc, char **argv)
{
    const rates_steps steps = {.results_queue = true};

    return rates_queues_main(argc, argv, &steps);
}
