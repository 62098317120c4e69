/*
 * waiters - two waiter tasks, "first" and "second", each wait four times a
 * random 1 to 3 quarter-seconds.  With a blocking sleep (nanosleep) the
 * whole thread stops, so the tasks run one after the other; with cc_sleep
 * only the task waits and the two interleave, finishing sooner.  Rebuilds
 * the waiters.py and waiters_await.py programs of Expert Python, chapter 6.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/aio.h"

enum { N_WAITERS = 2, N_WAITS = 4 };

/* One waiter: its name, its own random sequence (so that both variants
 * make the same waits) and which kind of sleep it uses. */
struct waiter {
    const char *name;
    uint64_t random;  /* splitmix64 state */
    double scale;     /* multiplies every wait (--scale) */
    bool blocking;    /* nanosleep instead of cc_sleep */
    double slept;     /* seconds waited in all */
};

/* splitmix64: small and seedable, so that --seed replays a run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A plain blocking sleep: the thread, and so the whole loop, stops. */
static int blocking_sleep(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* The task: the seed's waiter coroutine. */
static void *waiter_task(void *arg)
{
    struct waiter *w = arg;

    for (int i = 0; i < N_WAITS; i++) {
        int quarters = 1 + (int)(next_random(&w->random) % 3);
        double seconds = quarters / 4.0 * w->scale;

        if (w->blocking) {
            if (blocking_sleep(seconds) != 0)
                return cc_fail(0, "%s: nanosleep: %s", w->name,
                               strerror(errno));
        } else if (cc_sleep(seconds) != 0) {
            return cc_fail_from(cc_last_error(),
                                cc_error_code(cc_last_error()),
                                "%s: cc_sleep failed", w->name);
        }
        w->slept += seconds;
        printf("%s waited %g seconds\n", w->name, seconds);
    }
    return w;
}

/* The main task: start both waiters (named after them) and gather them.
 * On a failure the other is cancelled and waited for. */
static void *main_task(void *arg)
{
    struct waiter *waiters = arg;
    cc_future *tasks[N_WAITERS];
    cc_error *first = NULL;
    int spawned;

    for (spawned = 0; spawned < N_WAITERS; spawned++) {
        cc_task_opts opts = {.name = waiters[spawned].name};

        tasks[spawned] = cc_spawn_opts(waiter_task, &waiters[spawned], &opts);
        if (tasks[spawned] == NULL)
            break;
    }
    if (spawned < N_WAITERS || cc_gather(tasks, N_WAITERS, NULL, false, CC_FOREVER) != 0) {
        first = cc_error_copy(cc_last_error());
        for (int i = 0; i < spawned; i++)
            cc_future_cancel(tasks[i]);
        (void)cc_gather(tasks, (size_t)spawned, NULL, true, CC_FOREVER);
    }
    for (int i = 0; i < spawned; i++)
        cc_future_free(tasks[i]);
    if (first == NULL)
        return waiters;
    cc_fail_from(first, cc_error_code(first), "waiters: %s",
                 spawned < N_WAITERS ? "cannot spawn" : "a waiter failed");
    cc_error_free(first);
    return NULL;
}

/*
 * Run both waiters on a new loop, with blocking sleeps or with cc_sleep.
 * Stores the wall time in *elapsed and the waits of each waiter in slept[].
 * Returns 0, or -1 after printing the error.
 */
static int run_variant(bool blocking, uint64_t seed, double scale,
                       double *elapsed, double slept[N_WAITERS])
{
    struct waiter waiters[N_WAITERS] = {
        {.name = "first", .random = seed * 2 + 1},
        {.name = "second", .random = seed * 2 + 2},
    };
    double start;

    for (int i = 0; i < N_WAITERS; i++) {
        waiters[i].scale = scale;
        waiters[i].blocking = blocking;
    }
    printf("\n=== %s\n", blocking
               ? "waiters with a blocking sleep (nanosleep stops the loop)"
               : "waiters with cc_sleep (only the task waits)");
    fflush(stdout);
    start = cc_now();
    if (cc_run(main_task, waiters, NULL) != 0) {
        fflush(stdout);
        fprintf(stderr, "waiters: ");
        cc_error_print(cc_last_error(), stderr);
        return -1;
    }
    *elapsed = cc_now() - start;
    for (int i = 0; i < N_WAITERS; i++)
        slept[i] = waiters[i].slept;
    return 0;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--seed N] [--scale S]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL);
    double scale = 1.0;
    double blocked;
    double interleaved;
    double slept[N_WAITERS];
    double sum;
    double longer;

    for (int i = 1; i < argc; i++) {
        char *end;

        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0')
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(scale > 0) ||
                scale > 100)
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }
    printf("seed=%llu, scale=%g (run again with --seed %llu for the same "
           "waits)\n", (unsigned long long)seed, scale,
           (unsigned long long)seed);

    if (run_variant(true, seed, scale, &blocked, slept) != 0)
        return EXIT_FAILURE;
    sum = slept[0] + slept[1];
    printf("blocking sleep: took %.2f s (the waiters' waits add up to "
           "%.2f s)\n", blocked, sum);
    printf("(each blocking waiter never let the loop run the other; "
           "CONCUR_DEBUG=1 reports it)\n");

    if (run_variant(false, seed, scale, &interleaved, slept) != 0)
        return EXIT_FAILURE;
    longer = slept[0] > slept[1] ? slept[0] : slept[1];
    printf("cc_sleep: took %.2f s (the longer waiter waits %.2f s)\n",
           interleaved, longer);

    if (!(interleaved < blocked)) {
        fprintf(stderr, "waiters: the cc_sleep run (%.3f s) was not shorter "
                "than the blocking one (%.3f s)\n", interleaved, blocked);
        return EXIT_FAILURE;
    }
    printf("cc_sleep run shorter by %.2f s: the waits overlapped\n",
           blocked - interleaved);
    return 0;
}
