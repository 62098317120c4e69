/*
 * async_print - ten tasks on one event loop each cc_sleep a random time
 * (0 to 1 s, times --scale), then print their number; cc_gather waits for
 * them all.  The numbers come out in the order the sleeps end, and the
 * program checks that each was printed exactly once.  Rebuilds the
 * async_print.py program of Expert Python Programming, chapter 6.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/aio.h"

enum { N_TASKS = 10 };

/* What one task does: sleep `delay` seconds, then print `number`. */
struct printer {
    int number;
    double delay;
};

/* How often each number was printed, and in which order; only the loop's
 * thread touches these. */
static int times_printed[N_TASKS];
static int finish_order[N_TASKS];
static int n_finished;

/* splitmix64: small and seedable, so that --seed replays a run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1), like Python's random.random(). */
static double random_unit(uint64_t *state)
{
    return (double)(next_random(state) >> 11) * 0x1.0p-53;
}

/* The task: the seed's print_number coroutine. */
static void *print_number(void *arg)
{
    struct printer *p = arg;

    if (cc_sleep(p->delay) != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "task %d: sleep failed", p->number);
    printf("%d\n", p->number);
    times_printed[p->number]++;
    finish_order[n_finished++] = p->number;
    return p;
}

/*
 * The main task: spawn the ten printers and gather them.  On a failure the
 * tasks already started are cancelled and waited for, and the main task
 * fails with the first error.
 */
static void *main_task(void *arg)
{
    struct printer *printers = arg;
    cc_future *tasks[N_TASKS];
    cc_error *first = NULL;
    int spawned;

    for (spawned = 0; spawned < N_TASKS; spawned++) {
        tasks[spawned] = cc_spawn(print_number, &printers[spawned]);
        if (tasks[spawned] == NULL)
            break;
    }
    if (spawned < N_TASKS || cc_gather(tasks, N_TASKS, NULL, false, CC_FOREVER) != 0) {
        first = cc_error_copy(cc_last_error());
        for (int i = 0; i < spawned; i++)
            cc_future_cancel(tasks[i]);
        (void)cc_gather(tasks, (size_t)spawned, NULL, true, CC_FOREVER);
    }
    for (int i = 0; i < spawned; i++)
        cc_future_free(tasks[i]);
    if (first == NULL)
        return printers;
    cc_fail_from(first, cc_error_code(first), "async_print: %s",
                 spawned < N_TASKS ? "cannot spawn" : "a task failed");
    cc_error_free(first);
    return NULL;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--seed N] [--scale S]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    struct printer printers[N_TASKS];
    uint64_t seed = (uint64_t)time(NULL);
    uint64_t state;
    double scale = 1.0;
    double longest = 0;
    double total = 0;
    double start;
    double elapsed;
    int missing = 0;

    for (int i = 1; i < argc; i++) {
        char *end;

        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0')
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(scale >= 0) ||
                scale > 100)
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }

    state = seed;
    for (int i = 0; i < N_TASKS; i++) {
        printers[i].number = i;
        printers[i].delay = random_unit(&state) * scale;
        total += printers[i].delay;
        longest = fmax(longest, printers[i].delay);
    }
    printf("seed=%llu: %d tasks sleep 0 to %g s each, then print their "
           "number\n", (unsigned long long)seed, N_TASKS, scale);
    fflush(stdout);

    start = cc_now();
    if (cc_run(main_task, printers, NULL) != 0) {
        fflush(stdout);
        fprintf(stderr, "async_print: ");
        cc_error_print(cc_last_error(), stderr);
        return EXIT_FAILURE;
    }
    elapsed = cc_now() - start;

    for (int i = 0; i < N_TASKS; i++) {
        if (times_printed[i] != 1) {
            fprintf(stderr, "async_print: %d was printed %d times\n", i,
                    times_printed[i]);
            missing++;
        }
    }
    if (missing > 0 || n_finished != N_TASKS)
        return EXIT_FAILURE;
    printf("every number printed exactly once, in the order");
    for (int i = 0; i < N_TASKS; i++)
        printf(" %d", finish_order[i]);
    printf("\n");
    printf("took %.2f s: about the longest sleep (%.2f s), not the sum of "
           "all ten (%.2f s)\n", elapsed, longest, total);
    return 0;
}
