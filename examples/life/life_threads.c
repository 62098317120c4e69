/*
 * life_threads - the glider again, now with one cc_thread per cell per
 * generation (fan-out) joined before the next generation (fan-in), all of
 * them sharing locking grids: the I/O overlaps, so a generation costs about
 * one I/O latency.  Rebuilds simulate_threaded of Effective Python, Item 72
 * ("Avoid Creating New Thread Instances for On-Demand Fan-out").
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/sync.h"
#include "life.h"

enum { GENERATIONS = 5 };

/* What one thread works on: a cell of `grid`, written into `next`. */
struct cell_job {
    life_grid *grid;
    life_grid *next;
    int y;
    int x;
};

/* A thread: step one cell.  On failure the error is pending (life.h), so
 * returning NULL fails the thread and the joiner gets that error. */
static void *step_cell_thread(void *arg)
{
    struct cell_job *job = arg;

    if (life_step_cell(job->grid, job->next, job->y, job->x) != 0)
        return NULL;
    return job;
}

/*
 * One generation with a thread per cell.  Returns the next grid, or NULL
 * with the first failure as the calling thread's last error (every thread
 * started is joined and freed either way).
 */
static life_grid *simulate_threaded(life_grid *grid)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    life_grid *next;
    struct cell_job *jobs;
    cc_thread **threads;
    cc_error *first = NULL; /* the first failure, kept to report it */
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

    for (started = 0; started < cells; started++) { /* fan-out */
        struct cell_job *job = &jobs[started];

        job->grid = grid;
        job->next = next;
        job->y = started / width;
        job->x = started % width;
        threads[started] = cc_thread_start(step_cell_thread, job, NULL);
        if (threads[started] == NULL) {
            first = cc_error_copy(cc_last_error());
            failed = true;
            break;
        }
    }
    for (int i = 0; i < started; i++) { /* fan-in */
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
    if (first != NULL)
        cc_fail_from(first, cc_error_code(first),
                     "simulate_threaded: a cell failed");
    else
        cc_fail(ENOMEM, "simulate_threaded: a cell failed (out of memory "
                        "while keeping its error)");
    cc_error_free(first);
    life_grid_free(next);
    return NULL;
err_free:
    free(jobs);
    free(threads);
    life_grid_free(next);
    return NULL;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {0};
    struct life_io io = {0};
    life_columns *columns;
    life_grid *grid;
    double elapsed = 0;
    char how[96];
    int cells;

    if (life_parse_args(argc, argv, 0, &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    life_set_io(&io);

    grid = life_glider(true);
    columns = life_columns_new();
    if (grid == NULL || columns == NULL) {
        fprintf(stderr, "life_threads: %s\n", cc_errmsg());
        life_grid_free(grid);
        life_columns_free(columns);
        return EXIT_FAILURE;
    }
    cells = life_grid_cells(grid);
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next;
        double start;

        if (life_columns_append(columns, grid) != 0)
            goto fail;
        start = cc_now();
        next = simulate_threaded(grid);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto fail;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    snprintf(how, sizeof(how), "%d threads at once, plus starting them",
             cells);
    life_print_timing(elapsed / GENERATIONS, 1, cells, how);
    life_grid_free(grid);
    life_columns_free(columns);
    return 0;
fail:
    fprintf(stderr, "life_threads: ");
    cc_error_print(cc_last_error(), stderr);
    life_grid_free(grid);
    life_columns_free(columns);
    return EXIT_FAILURE;
}
