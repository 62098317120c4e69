/*
 * rates_throttle - the error-handling pool of rates_errors, paced: every
 * worker takes a token from one shared throttle of 10 requests per second
 * before each request.  The bucket starts empty and never overfills, so
 * the five requests go out at about 0.1, 0.2 ... 0.5 s and the run takes
 * about half a second whatever the service's speed.  Rebuilds the
 * throttling program of Expert Python Programming, ch. 6, with concur's
 * cc_throttle in place of the book's Throttle class (which it implements:
 * a token bucket behind a lock; acquire sleeps exactly until a token is
 * due where the book polls consume() with 0.1 s sleeps).  The program is
 * in rates_queues.c.
 *
 * The local service also enforces 10 requests per second here (beyond
 * that it answers 429), so a client that did not throttle would see
 * errors.  --base-url URL asks a real service instead.
 */
#include "rates_queues.h"

int main(int argc, char **argv)
{
    const rates_steps steps = {
        .results_queue = true,
        .keep_errors = true,
        .throttle = 10,
        .knobs = {.latency_min = EX_LATENCY_MIN,
                  .latency_max = EX_LATENCY_MAX,
                  .rate_limit = 10},
    };

    return rates_queues_main(argc, argv, &steps);
}
