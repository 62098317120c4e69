/*
 * rates_errors - the two-way queues of rates_two_queues, with errors
 * caught in the workers and put on the results queue; the main thread
 * prints results until it meets the first error and re-raises it (prints
 * it with the place and thread it came from, and exits with status 1, as
 * Python does).  Rebuilds error_handling.py of Expert Python Programming,
 * ch. 6 (the program is in rates_queues.c).
 *
 * The book made one response in six a 500 on the client side
 * (random.randint(0, 5) < 1); here the local service does it for real:
 * its error rate is 1/6 unless --error-rate says otherwise, and --seed
 * replays its draws.  With --base-url, errors are whatever that service
 * answers.
 */
#include "rates_queues.h"

int main(int argc, char **argv)
{
    const rates_steps steps = {
        .results_queue = true,
        .keep_errors = true,
        .knobs = {.latency_min = EX_LATENCY_MIN,
                  .latency_max = EX_LATENCY_MAX,
                  .error_rate = 1.0 / 6.0},
    };

    return rates_queues_main(argc, argv, &steps);
}
