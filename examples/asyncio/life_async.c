/*
 * life_async - the Game of Life with one task per cell per generation:
 * game_logic's I/O is a cc_sleep, so every cell of a generation waits at
 * once and a generation costs about one I/O latency, on one thread and
 * without locks.  Runs the glider, then a 100 x 100 grid that must match a
 * serial run.  A cc_group fans in.  Rebuilds Effective Python, Item 75.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "concur/aio.h"
#include "concur/base.h"
#include "life.h"

enum {
    GLIDER_GENERATIONS = 5,
    BIG_GENERATIONS = 2,
    DEFAULT_SIZE = 100, /* 100 x 100 = 10,000 cells */
    SEED = 71,          /* life_big's start grid */
};

/* What one cell task works on: a cell of `grid`, written into `next`. */
struct cell_job {
    life_grid *grid;
    life_grid *next;
    int y;
    int x;
    double io; /* seconds of simulated I/O (a cc_sleep) */
};

/* One generation, run as the main task of a loop: grid in, next out. */
struct generation {
    life_grid *grid;
    life_grid *next; /* set by simulate on success */
    double io;
};

/* Counters of the cell tasks.  Every task runs on the thread of cc_run,
 * which reads them only once the loop is gone: no lock needed. */
static long tasks_ran;
static int waiting_now;
static int most_waiting;

/* The process's peak resident memory so far, in KiB (-1 if unknown). */
static long peak_rss_kib(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* KiB on Linux */
}

/*
 * The seed's async game_logic: the I/O (a cc_sleep, during which the loop
 * runs the other cells), then the rules of life.c, whose own blocking I/O
 * is switched off in main.  The next state, or -1 with the error pending.
 */
static int game_logic(int state, int neighbors, double io)
{
    int rc;

    waiting_now++;
    if (waiting_now > most_waiting)
        most_waiting = waiting_now;
    rc = cc_sleep(io);
    waiting_now--;
    if (rc != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "game_logic: the I/O failed");
        return -1;
    }
    return life_game_logic(state, neighbors);
}

/* The task: the seed's async step_cell.  On failure the error is pending
 * (life.h's convention), so returning NULL fails the task with it. */
static void *step_cell(void *arg)
{
    struct cell_job *job = arg;
    int state;
    int neighbors;
    int next_state;

    tasks_ran++;
    state = life_grid_get(job->grid, job->y, job->x);
    if (state < 0)
        return NULL;
    neighbors = life_count_neighbors(job->grid, job->y, job->x);
    if (neighbors < 0)
        return NULL;
    next_state = game_logic(state, neighbors, job->io);
    if (next_state < 0)
        return NULL;
    if (life_grid_set(job->next, job->y, job->x, next_state) != 0)
        return NULL;
    return job;
}

/*
 * The main task of one generation (the seed's async simulate): one task
 * per cell spawned into a group (fan-out), one cc_group_wait (fan-in).
 * No lock on the grids: every task runs on this one thread.  Fails with
 * the first failed cell's error; the group cancels the others.
 */
static void *simulate(void *arg)
{
    struct generation *gen = arg;
    int width = life_grid_width(gen->grid);
    int cells = life_grid_cells(gen->grid);
    struct cell_job *jobs;
    life_grid *next;
    cc_group *group;
    cc_error *first = NULL;

    next = life_grid_new(life_grid_height(gen->grid), width);
    if (next == NULL)
        return NULL;
    jobs = calloc((size_t)cells, sizeof(*jobs));
    if (jobs == NULL) {
        cc_fail(ENOMEM, "simulate: out of memory");
        goto err_free_next;
    }
    group = cc_group_new();
    if (group == NULL)
        goto err_free_jobs;
    for (int i = 0; i < cells; i++) { /* fan-out */
        struct cell_job *job = &jobs[i];

        job->grid = gen->grid;
        job->next = next;
        job->y = i / width;
        job->x = i % width;
        job->io = gen->io;
        if (cc_group_spawn(group, step_cell, job) == NULL) {
            first = cc_error_copy(cc_last_error());
            cc_group_cancel(group);
            break;
        }
    }
    if (cc_group_wait(group, CC_FOREVER) != 0 && first == NULL) /* fan-in */
        first = cc_error_copy(cc_last_error());
    cc_group_free(group);
    if (first != NULL) {
        cc_fail_from(first, cc_error_code(first) != 0
                                ? cc_error_code(first) : ENOMEM,
                     "simulate: a cell failed");
        cc_error_free(first);
        goto err_free_jobs;
    }
    free(jobs);
    gen->next = next;
    return gen;
err_free_jobs:
    free(jobs);
err_free_next:
    life_grid_free(next);
    return NULL;
}

/* One generation on a loop of its own, as the seed's asyncio.run(simulate(
 * grid)).  The next grid, or NULL with the error as the last error. */
static life_grid *run_generation(life_grid *grid, double io)
{
    struct generation gen = {.grid = grid, .next = NULL, .io = io};

    if (cc_run(simulate, &gen, NULL) != 0)
        return NULL;
    return gen.next;
}

/* A start grid with about a quarter of the cells alive, the same on every
 * machine (xorshift32, not rand()).  NULL on failure. */
static life_grid *random_grid(int size)
{
    life_grid *g = life_grid_new(size, size);
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

static void print_expected(int cells, double io_ms, const char *extra)
{
    printf("expected about %g ms: all %d cells wait for their I/O (%g ms) "
           "at once%s; one cell after the other: %.0f ms\n", io_ms, cells,
           io_ms, extra, cells * io_ms);
}

/* Part 1: the seed's glider over five generations.  0, or -1 failed. */
static int part_glider(double io_ms)
{
    life_grid *grid = life_glider(false);
    life_columns *columns = life_columns_new();
    double elapsed = 0;
    int cells;
    int rc = -1;

    printf("=== the glider: one task per cell per generation\n");
    if (grid == NULL || columns == NULL)
        goto out;
    cells = life_grid_cells(grid);
    for (int i = 0; i < GLIDER_GENERATIONS; i++) {
        life_grid *next;
        double start;

        if (life_columns_append(columns, grid) != 0)
            goto out;
        start = cc_now();
        next = run_generation(grid, io_ms / 1e3);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto out;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    printf("time per generation: %.1f ms\n",
           elapsed / GLIDER_GENERATIONS * 1e3);
    print_expected(cells, io_ms, "");
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "life_async: glider: ");
        cc_error_print(cc_last_error(), stderr);
    }
    life_grid_free(grid);
    life_columns_free(columns);
    return rc;
}

/* Play `generations` generations from *grid with `io` seconds of I/O per
 * cell, replacing *grid; the mean time per generation in *per_generation.
 * 0, or -1 with the error as the last error (*grid is then the last good
 * generation). */
static int play(life_grid **grid, int generations, double io,
                double *per_generation)
{
    double start = cc_now();

    for (int i = 0; i < generations; i++) {
        life_grid *next = run_generation(*grid, io);

        if (next == NULL)
            return -1;
        life_grid_free(*grid);
        *grid = next;
    }
    *per_generation = (cc_now() - start) / generations;
    return 0;
}

/* Part 2: a size x size random grid, checked against a serial run without
 * I/O.  0, or -1 failed (or did not match). */
static int part_big(int size, double io_ms)
{
    life_grid *expected = random_grid(size);
    life_grid *grid = random_grid(size);
    int cells = size * size;
    long ran_before = tasks_ran;
    long ran;
    int alive_start;
    int alive_end;
    int same = -1;
    double with_io;
    char extra[64];

    printf("\n=== %d x %d cells: one task per cell per generation\n", size,
           size);
    if (expected == NULL || grid == NULL)
        goto out;
    alive_start = life_grid_alive(expected);
    for (int i = 0; i < BIG_GENERATIONS; i++) { /* the serial reference */
        life_grid *next = life_simulate(expected);

        if (next == NULL)
            goto out;
        life_grid_free(expected);
        expected = next;
    }
    alive_end = life_grid_alive(expected);
    if (alive_start < 0 || alive_end < 0)
        goto out;
    printf("grid: %d x %d = %d cells (random, seed %d), %d generations, "
           "%g ms of I/O per cell\n", size, size, cells, SEED,
           BIG_GENERATIONS, io_ms);
    printf("serial run without I/O: %d alive at the start, %d after %d "
           "generations\n", alive_start, alive_end, BIG_GENERATIONS);

    most_waiting = 0;
    if (play(&grid, BIG_GENERATIONS, io_ms / 1e3, &with_io) != 0)
        goto out;
    ran = tasks_ran - ran_before;
    printf("tasks ran: %ld (%d per generation), at most %d waiting for I/O "
           "at once\n", ran, cells, most_waiting);
    printf("time per generation: %.1f ms\n", with_io * 1e3);
    snprintf(extra, sizeof(extra), ", plus running %d tasks", cells);
    print_expected(cells, io_ms, extra);
    /* The rest is spawning and switching tasks and touching their stacks. */
    printf("beyond one I/O latency: %.2f us per task\n",
           (with_io - io_ms / 1e3) / cells * 1e6);
    same = life_grid_equal(grid, expected);
    if (same < 0)
        goto out;
    printf("the final grid %s the serial run's\n",
           same ? "matches" : "DIFFERS FROM");
    printf("peak RSS: %ld KiB\n", peak_rss_kib());
    if (ran != (long)cells * BIG_GENERATIONS) {
        fprintf(stderr, "life_async: %ld tasks ran, expected %ld\n", ran,
                (long)cells * BIG_GENERATIONS);
        same = 0;
    }
out:
    if (same < 0) {
        fprintf(stderr, "life_async: %d x %d: ", size, size);
        cc_error_print(cc_last_error(), stderr);
    }
    life_grid_free(expected);
    life_grid_free(grid);
    return same == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {.size = DEFAULT_SIZE};
    struct life_io no_blocking_io = {0};
    int rc = 0;

    if (life_parse_args(argc, argv, LIFE_OPT_SIZE, &opts) != 0)
        return 2;
    /* The I/O is the tasks' cc_sleep: life.c's rules must not block. */
    life_set_io(&no_blocking_io);
    if (part_glider(opts.io_ms) != 0)
        rc = -1;
    if (part_big(opts.size, opts.io_ms) != 0)
        rc = -1;
    return rc == 0 ? 0 : EXIT_FAILURE;
}
