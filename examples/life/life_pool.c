/*
 * life_pool - the glider with a thread pool: one cc_submit per cell fans
 * out, one cc_future_result per future fans in.  The ten workers are
 * started once and reused, so a generation costs one I/O latency per wave
 * of ten cells.  Rebuilds simulate_pool of Effective Python, Item 74
 * ("Consider ThreadPoolExecutor When Threads Are Necessary for Concurrency").
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/future.h"
#include "life.h"

enum { GENERATIONS = 5, DEFAULT_WORKERS = 10 };

/* What one task works on: a cell of `grid`, written into `next`. */
struct cell_job {
    life_grid *grid;
    life_grid *next;
    int y;
    int x;
};

/* A pool task: step one cell.  On failure the error is pending (life.h),
 * so returning NULL fails the task; its future then carries the error. */
static void *step_cell_task(void *arg)
{
    struct cell_job *job = arg;

    if (life_step_cell(job->grid, job->next, job->y, job->x) != 0)
        return NULL;
    return job;
}

/*
 * One generation on the pool.  Returns the next grid, or NULL with the
 * calling thread's last error set: the first failed cell's error, as the
 * cause of "simulate_pool: cell (y, x) failed".  Every future is waited for
 * and freed either way.
 */
static life_grid *simulate_pool(cc_executor *pool, life_grid *grid)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    life_grid *next;
    struct cell_job *jobs;
    cc_future **futures;
    cc_error *first = NULL; /* the first failure, kept to report it */
    int first_cell = -1;    /* its cell, or -1 for a failed submit */
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

    for (submitted = 0; submitted < cells; submitted++) { /* fan-out */
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
    for (int i = 0; i < submitted; i++) { /* fan-in */
        if (cc_future_result(futures[i], NULL, CC_FOREVER) != 0 && !failed) {
            first = cc_error_copy(cc_last_error());
            first_cell = i;
            failed = true;
        }
        cc_future_free(futures[i]);
    }
    free(jobs);
    free(futures);
    if (!failed)
        return next;
    if (first == NULL)
        cc_fail(ENOMEM, "simulate_pool: a cell failed (out of memory while "
                        "keeping its error)");
    else if (first_cell < 0)
        cc_fail_from(first, cc_error_code(first), "simulate_pool: submit");
    else
        cc_fail_from(first, cc_error_code(first),
                     "simulate_pool: cell (%d, %d) failed",
                     first_cell / width, first_cell % width);
    cc_error_free(first);
    life_grid_free(next);
    return NULL;
err_free:
    free(jobs);
    free(futures);
    life_grid_free(next);
    return NULL;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {.workers = DEFAULT_WORKERS};
    struct life_io io = {0};
    life_columns *columns = NULL;
    life_grid *grid = NULL;
    cc_executor *pool;
    double elapsed = 0;
    char how[96];
    int cells;
    int rc = -1;

    if (life_parse_args(argc, argv, LIFE_OPT_WORKERS, &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    life_set_io(&io);

    pool = cc_thread_pool_new(opts.workers, NULL);
    if (pool == NULL)
        goto out;
    grid = life_glider(true);
    columns = life_columns_new();
    if (grid == NULL || columns == NULL)
        goto out;
    cells = life_grid_cells(grid);
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next;
        double start;

        if (life_columns_append(columns, grid) != 0)
            goto out;
        start = cc_now();
        next = simulate_pool(pool, grid);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto out;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    snprintf(how, sizeof(how), "%d cells on %d pool workers", cells,
             cc_executor_max_workers(pool));
    life_print_timing(elapsed / GENERATIONS,
                      (cells + opts.workers - 1) / opts.workers, cells, how);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "life_pool: ");
        cc_error_print(cc_last_error(), stderr);
    }
    cc_executor_free(pool); /* waits for the workers, like `with` */
    life_grid_free(grid);
    life_columns_free(columns);
    return rc == 0 ? 0 : EXIT_FAILURE;
}
