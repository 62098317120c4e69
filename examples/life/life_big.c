/*
 * life_big - the Game of Life on 10,000 cells (100 x 100 from a fixed random
 * seed) for two generations, every cell doing its blocking I/O: (a) one
 * thread per cell, with the number of threads and the peak memory they
 * cost; (b) a pool of 100 workers.  Both must end on the grid a serial run
 * computes.  Rebuilds the 10,000-cell scaling argument of Effective Python,
 * Items 71, 72 and 74.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/sync.h"
#include "life.h"

enum {
    GENERATIONS = 2,
    DEFAULT_SIZE = 100,    /* 100 x 100 = 10,000 cells */
    DEFAULT_WORKERS = 100, /* the seed's max_workers of 100 */
    SEED = 71,
};

/* What one thread or task works on: a cell of `grid`, into `next`. */
struct cell_job {
    life_grid *grid;
    life_grid *next;
    int y;
    int x;
};

/* Threads of part (a) running right now, and the most at once. */
static atomic_int running;
static atomic_int most_running;

/* The process's peak resident memory so far, in KiB (-1 if unknown). */
static long peak_rss_kib(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* KiB on Linux */
}

/* A start grid with about a quarter of the cells alive, the same on every
 * machine (xorshift32, not rand()).  NULL on failure. */
static life_grid *random_grid(int size, bool locking)
{
    life_grid *g = locking ? life_locking_grid_new(size, size)
                           : life_grid_new(size, size);
    uint32_t s = SEED;

    if (g == NULL)
        return NULL;
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if ((s & 3) == 0 && life_grid_set(g, y, x, LIFE_ALIVE) != 0) {
                life_grid_free(g);
                return NULL;
            }
        }
    }
    return g;
}

/* ================================================ (a) a thread per cell */

static void *step_cell_thread(void *arg)
{
    struct cell_job *job = arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int most = atomic_load(&most_running);
    int rc;

    while (now > most &&
           !atomic_compare_exchange_weak(&most_running, &most, now))
        continue;
    rc = life_step_cell(job->grid, job->next, job->y, job->x);
    atomic_fetch_sub(&running, 1);
    return rc == 0 ? job : NULL; /* NULL: the error is pending */
}

/*
 * One generation with a thread per cell, counting the threads started in
 * *created.  Returns the next grid, or NULL with the last error set (a
 * thread that could not start, or failed).  Every thread started is joined.
 */
static life_grid *simulate_threaded(life_grid *grid, long *created)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    life_grid *next;
    struct cell_job *jobs;
    cc_thread **threads;
    cc_error *first = NULL;
    bool failed = false;
    int started;

    next = life_locking_grid_new(life_grid_height(grid), width);
    if (next == NULL)
        return NULL;
    jobs = calloc((size_t)cells, sizeof(*jobs));
    threads = calloc((size_t)cells, sizeof(*threads));
    if (jobs == NULL || threads == NULL) {
        cc_fail(ENOMEM, "simulate_threaded: out of memory");
        goto err_free;
    }
    for (started = 0; started < cells; started++) {
        struct cell_job *job = &jobs[started];

        job->grid = grid;
        job->next = next;
        job->y = started / width;
        job->x = started % width;
        threads[started] = cc_thread_start(step_cell_thread, job, NULL);
        if (threads[started] == NULL) {
            /* cc_errmsg() says why (EAGAIN: no more threads allowed). */
            printf("(a) could not start thread %d of %d: %s\n", started + 1,
                   cells, cc_errmsg());
            first = cc_error_copy(cc_last_error());
            failed = true;
            break;
        }
    }
    *created += started;
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0 && !failed) {
            first = cc_error_copy(cc_last_error());
            failed = true;
        }
        cc_thread_free(threads[i]);
    }
    free(jobs);
    free(threads);
    if (!failed)
        return next;
    cc_fail_from(first, first != NULL ? cc_error_code(first) : ENOMEM,
                 "simulate_threaded: a cell failed");
    cc_error_free(first);
    life_grid_free(next);
    return NULL;
err_free:
    free(jobs);
    free(threads);
    life_grid_free(next);
    return NULL;
}

/*
 * Part (a).  Returns 0 when it ran and matched `expected`, or when this
 * machine could not start that many threads (reported, not an error of the
 * example); -1 on any other failure.
 */
static int part_threads(int size, life_grid *expected)
{
    life_grid *grid = random_grid(size, true);
    long rss_before = peak_rss_kib();
    long created = 0;
    double start;
    double elapsed;
    char how[96];
    int cells = size * size;
    int same;

    printf("(a) one thread per cell per generation\n");
    if (grid == NULL)
        goto fail;
    start = cc_now();
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next = simulate_threaded(grid, &created);

        if (next == NULL) {
            int err = errno;
            bool no_threads = err == EAGAIN || err == ENOMEM;

            printf("(a) threads created: %ld before the failure\n", created);
            printf("(a) peak RSS: %ld KiB before, %ld KiB after\n",
                   rss_before, peak_rss_kib());
            if (!no_threads)
                goto fail;
            printf("(a) skipped: this machine cannot run one thread per "
                   "cell; the bounded pool below avoids that\n");
            cc_error_clear();
            life_grid_free(grid);
            return 0;
        }
        life_grid_free(grid);
        grid = next;
    }
    elapsed = cc_now() - start;
    printf("(a) threads created: %ld (%d per generation), at most %d running "
           "at once\n", created, cells, atomic_load(&most_running));
    printf("(a) peak RSS: %ld KiB before, %ld KiB after\n", rss_before,
           peak_rss_kib());
    snprintf(how, sizeof(how), "if all %d threads waited at once", cells);
    life_print_timing(elapsed / GENERATIONS, 1, cells, how);
    printf("(a) that is %.1f us per thread: starting %d threads, not the "
           "I/O, sets the pace\n", elapsed / (double)created * 1e6, cells);
    same = life_grid_equal(grid, expected);
    if (same < 0)
        goto fail;
    printf("(a) the final grid %s the serial run's\n",
           same ? "matches" : "DIFFERS FROM");
    life_grid_free(grid);
    return same ? 0 : -1;
fail:
    fprintf(stderr, "life_big: (a): ");
    cc_error_print(cc_last_error(), stderr);
    life_grid_free(grid);
    return -1;
}

/* ======================================================== (b) the pool */

static void *step_cell_task(void *arg)
{
    struct cell_job *job = arg;

    if (life_step_cell(job->grid, job->next, job->y, job->x) != 0)
        return NULL; /* the error is pending: the task fails with it */
    return job;
}

/* One generation on the pool.  The next grid, or NULL (last error set). */
static life_grid *simulate_pool(cc_executor *pool, life_grid *grid)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    life_grid *next;
    struct cell_job *jobs;
    cc_future **futures;
    cc_error *first = NULL;
    bool failed = false;
    int submitted;

    next = life_locking_grid_new(life_grid_height(grid), width);
    if (next == NULL)
        return NULL;
    jobs = calloc((size_t)cells, sizeof(*jobs));
    futures = calloc((size_t)cells, sizeof(*futures));
    if (jobs == NULL || futures == NULL) {
        cc_fail(ENOMEM, "simulate_pool: out of memory");
        goto err_free;
    }
    for (submitted = 0; submitted < cells; submitted++) {
        struct cell_job *job = &jobs[submitted];

        job->grid = grid;
        job->next = next;
        job->y = submitted / width;
        job->x = submitted % width;
        futures[submitted] = cc_submit(pool, step_cell_task, job);
        if (futures[submitted] == NULL) {
            first = cc_error_copy(cc_last_error());
            failed = true;
            break;
        }
    }
    for (int i = 0; i < submitted; i++) {
        if (cc_future_result(futures[i], NULL, CC_FOREVER) != 0 && !failed) {
            first = cc_error_copy(cc_last_error());
            failed = true;
        }
        cc_future_free(futures[i]);
    }
    free(jobs);
    free(futures);
    if (!failed)
        return next;
    cc_fail_from(first, first != NULL ? cc_error_code(first) : ENOMEM,
                 "simulate_pool: a cell failed");
    cc_error_free(first);
    life_grid_free(next);
    return NULL;
err_free:
    free(jobs);
    free(futures);
    life_grid_free(next);
    return NULL;
}

/* Part (b).  Returns 0 when it ran and matched `expected`, -1 otherwise. */
static int part_pool(int size, int workers, life_grid *expected)
{
    cc_executor *pool = cc_thread_pool_new(workers, NULL);
    life_grid *grid = random_grid(size, true);
    double start;
    double elapsed;
    char how[96];
    int cells = size * size;
    int same = -1;

    printf("(b) a thread pool of %d workers\n", workers);
    if (pool == NULL || grid == NULL)
        goto out;
    start = cc_now();
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next = simulate_pool(pool, grid);

        if (next == NULL)
            goto out;
        life_grid_free(grid);
        grid = next;
    }
    elapsed = cc_now() - start;
    snprintf(how, sizeof(how), "%d cells on %d pool workers", cells,
             workers);
    life_print_timing(elapsed / GENERATIONS, (cells + workers - 1) / workers,
                      cells, how);
    same = life_grid_equal(grid, expected);
    if (same >= 0)
        printf("(b) the final grid %s the serial run's\n",
               same ? "matches" : "DIFFERS FROM");
    printf("(b) peak RSS: %ld KiB\n", peak_rss_kib());
out:
    if (same < 0) {
        fprintf(stderr, "life_big: (b): ");
        cc_error_print(cc_last_error(), stderr);
    }
    cc_executor_free(pool);
    life_grid_free(grid);
    return same == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {.workers = DEFAULT_WORKERS,
                             .size = DEFAULT_SIZE};
    struct life_io io = {0};
    life_grid *expected;
    int alive_start;
    int alive_end;
    int rc = 0;

    if (life_parse_args(argc, argv, LIFE_OPT_WORKERS | LIFE_OPT_SIZE,
                        &opts) != 0)
        return 2;

    /* The serial reference, without I/O (no other thread exists yet). */
    life_set_io(&io);
    expected = random_grid(opts.size, false);
    if (expected == NULL)
        goto fail;
    alive_start = life_grid_alive(expected);
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next = life_simulate(expected);

        if (next == NULL)
            goto fail;
        life_grid_free(expected);
        expected = next;
    }
    alive_end = life_grid_alive(expected);
    if (alive_start < 0 || alive_end < 0)
        goto fail;
    printf("grid: %d x %d = %d cells (random, seed %d), %d generations, "
           "%g ms of I/O per cell\n", opts.size, opts.size,
           opts.size * opts.size, SEED, GENERATIONS, opts.io_ms);
    printf("serial run without I/O: %d alive at the start, %d after %d "
           "generations\n", alive_start, alive_end, GENERATIONS);

    io.delay = opts.io_ms / 1e3;
    life_set_io(&io);
    if (part_threads(opts.size, expected) != 0)
        rc = -1;
    if (part_pool(opts.size, opts.workers, expected) != 0)
        rc = -1;
    life_grid_free(expected);
    return rc == 0 ? 0 : EXIT_FAILURE;
fail:
    fprintf(stderr, "life_big: ");
    cc_error_print(cc_last_error(), stderr);
    life_grid_free(expected);
    return EXIT_FAILURE;
}
