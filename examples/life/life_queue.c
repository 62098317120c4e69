/*
 * life_queue - the glider with a fixed set of stoppable worker threads
 * between two cc_queues: the main thread puts one item per cell on in_queue
 * (fan-out), workers run game_logic and put the results on out_queue, and
 * the main thread collects them (fan-in).  A failing game_logic travels back
 * on out_queue and becomes a simulation error caused by it (try --fail).
 * Rebuilds simulate_pipeline of Effective Python, Item 73.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/queue.h"
#include "concur/sync.h"
#include "life.h"

enum { GENERATIONS = 5, DEFAULT_WORKERS = 5 };

/* One cell's trip through the pipeline.  The main thread fills in the
 * first four fields; a worker fills in the rest. */
struct cell_item {
    int y;
    int x;
    int state;
    int neighbors;
    int next_state;  /* -1 when game_logic failed */
    cc_error *error; /* then its error (NULL if even that was lost) */
};

/*
 * stoppable_worker - takes items from `in` until it is shut down and
 * drained (ESHUTDOWN), passes each through func and on to `out`.
 */
struct stoppable_worker {
    void (*func)(struct cell_item *item);
    cc_queue *in;
    cc_queue *out;
    cc_thread *thread;
};

static void *worker_run(void *arg)
{
    struct stoppable_worker *w = arg;

    for (;;) {
        void *item;
        int err;

        if (cc_queue_get(w->in, &item, CC_FOREVER) != 0) {
            if (errno == ESHUTDOWN)
                return w;
            return cc_fail_from(cc_last_error(), errno, "worker: get failed");
        }
        w->func(item);
        if (cc_queue_put(w->out, item, CC_FOREVER) != 0) {
            /* Still mark it done, or the main thread's join would hang;
             * it finds the item missing on out_queue. */
            err = errno;
            cc_fail_from(cc_last_error(), err, "worker: put failed");
            if (cc_queue_task_done(w->in) != 0)
                fprintf(stderr, "life_queue: task_done: %s\n", cc_errmsg());
            return NULL;
        }
        if (cc_queue_task_done(w->in) != 0)
            return cc_fail_from(cc_last_error(), errno,
                                "worker: task_done failed");
    }
}

/* The seed's game_logic_thread: an error becomes part of the result. */
static void game_logic_item(struct cell_item *item)
{
    item->next_state = life_game_logic(item->state, item->neighbors);
    if (item->next_state < 0) {
        item->error = cc_error_copy(cc_error_pending());
        cc_error_clear(); /* caught: it travels in the item now */
    }
}

/*
 * One generation through the pipeline.  Returns the next grid, or NULL with
 * the calling thread's last error set: a "simulation error" caused by the
 * first failed cell found on out_queue, or a failed queue call.  Every item
 * put is collected again before returning, failure or not.
 */
static life_grid *simulate_pipeline(life_grid *grid, cc_queue *in_queue,
                                    cc_queue *out_queue)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    struct cell_item *items = calloc((size_t)cells, sizeof(*items));
    struct cell_item *failed = NULL; /* the first failed cell collected */
    life_grid *next = life_grid_new(life_grid_height(grid), width);
    size_t item_count;
    int put;
    int rc = 0;

    if (items == NULL || next == NULL) {
        if (items == NULL)
            cc_fail(ENOMEM, "simulate_pipeline: out of memory");
        free(items);
        life_grid_free(next);
        return NULL;
    }
    for (put = 0; put < cells; put++) { /* fan-out */
        struct cell_item *item = &items[put];

        item->y = put / width;
        item->x = put % width;
        item->state = life_grid_get(grid, item->y, item->x);
        item->neighbors = life_count_neighbors(grid, item->y, item->x);
        if (item->state < 0 || item->neighbors < 0) {
            rc = -1;
            break;
        }
        if (cc_queue_put(in_queue, item, CC_FOREVER) != 0) {
            cc_fail_from(cc_last_error(), errno, "simulate_pipeline: put");
            rc = -1;
            break;
        }
    }

    if (cc_queue_join(in_queue, CC_FOREVER) != 0) {
        /* Unreachable with a CC_FOREVER join; the items may still be in
         * use, so they are not freed. */
        fprintf(stderr, "life_queue: join: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
    item_count = cc_queue_size(out_queue);
    for (size_t i = 0; i < item_count; i++) { /* fan-in */
        void *p;
        struct cell_item *item;

        if (cc_queue_get(out_queue, &p, 0) != 0) {
            fprintf(stderr, "life_queue: get: %s\n", cc_errmsg());
            exit(EXIT_FAILURE);
        }
        item = p;
        if (item->next_state < 0) {
            if (failed == NULL)
                failed = item;
            continue;
        }
        if (rc == 0 &&
            life_grid_set(next, item->y, item->x, item->next_state) != 0)
            rc = -1;
    }
    if (rc == 0 && failed != NULL) {
        /* The seed's `raise SimulationError(y, x) from next_state`. */
        if (failed->error != NULL)
            cc_fail_from(failed->error, cc_error_code(failed->error),
                         "simulation error in cell (%d, %d)", failed->y,
                         failed->x);
        else
            cc_fail(ENOMEM, "simulation error in cell (%d, %d) (its cause "
                            "was lost: out of memory)", failed->y, failed->x);
        rc = -1;
    } else if (rc == 0 && item_count != (size_t)cells) {
        cc_fail(EIO, "simulate_pipeline: %zu of %d cells came back",
                item_count, cells);
        rc = -1;
    }
    for (int i = 0; i < cells; i++)
        cc_error_free(items[i].error);
    free(items);
    if (rc != 0) {
        life_grid_free(next);
        return NULL;
    }
    return next;
}

/* Start n workers running game_logic between the two queues. */
static struct stoppable_worker *start_workers(int n, cc_queue *in,
                                              cc_queue *out)
{
    struct stoppable_worker *workers = calloc((size_t)n, sizeof(*workers));

    if (workers == NULL) {
        fprintf(stderr, "life_queue: out of memory\n");
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < n; i++) {
        workers[i].func = game_logic_item;
        workers[i].in = in;
        workers[i].out = out;
        workers[i].thread = cc_thread_start(worker_run, &workers[i], NULL);
        if (workers[i].thread == NULL) {
            fprintf(stderr, "life_queue: start worker: %s\n", cc_errmsg());
            exit(EXIT_FAILURE);
        }
    }
    return workers;
}

/* Shut in_queue down, let the workers drain it and end, join them.
 * Returns 0, or -1 when one of them failed (printed). */
static int stop_workers(struct stoppable_worker *workers, int n,
                        cc_queue *in)
{
    int rc = 0;

    if (cc_queue_shutdown(in, false) != 0 ||
        cc_queue_join(in, CC_FOREVER) != 0) {
        fprintf(stderr, "life_queue: shutdown: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < n; i++) {
        if (cc_thread_join(workers[i].thread, NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "life_queue: %s failed: ",
                    cc_thread_name(workers[i].thread));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(workers[i].thread);
    }
    free(workers);
    return rc;
}

/* The glider for five generations; prints the columns and the timing. */
static int run_glider(cc_queue *in_queue, cc_queue *out_queue, int n_workers)
{
    life_columns *columns = life_columns_new();
    life_grid *grid = life_glider(false);
    double elapsed = 0;
    char how[96];
    int cells;
    int rc = -1;

    if (grid == NULL || columns == NULL)
        goto out;
    cells = life_grid_cells(grid);
    for (int i = 0; i < GENERATIONS; i++) {
        life_grid *next;
        double start;

        if (life_columns_append(columns, grid) != 0)
            goto out;
        start = cc_now();
        next = simulate_pipeline(grid, in_queue, out_queue);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto out;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    snprintf(how, sizeof(how), "%d cells on %d workers", cells, n_workers);
    life_print_timing(elapsed / GENERATIONS,
                      (cells + n_workers - 1) / n_workers, cells, how);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "life_queue: ");
        cc_error_print(cc_last_error(), stderr);
    }
    life_grid_free(grid);
    life_columns_free(columns);
    return rc;
}

/*
 * --fail: one generation of a 1 x 1 grid (as in the seed) with a failing
 * game_logic.  Returns 0 when the simulation error came back carrying the
 * worker's "Problem with I/O" as its cause, -1 otherwise.
 */
static int run_failing(cc_queue *in_queue, cc_queue *out_queue)
{
    life_grid *grid = life_grid_new(1, 1);
    life_grid *next;
    const cc_error *e;
    const cc_error *cause;

    if (grid == NULL) {
        fprintf(stderr, "life_queue: %s\n", cc_errmsg());
        return -1;
    }
    printf("game_logic fails (--fail): one generation of a 1 x 1 grid\n");
    next = simulate_pipeline(grid, in_queue, out_queue);
    life_grid_free(grid);
    if (next != NULL) {
        fprintf(stderr, "life_queue: the simulation did not fail\n");
        life_grid_free(next);
        return -1;
    }
    e = cc_last_error();
    cause = cc_error_cause(e);
    printf("simulate_pipeline failed: ");
    cc_error_print(e, stdout);
    if (cc_error_code(e) != EIO || cause == NULL ||
        strcmp(cc_error_message(cause), "Problem with I/O") != 0) {
        fprintf(stderr, "life_queue: not the expected error\n");
        return -1;
    }
    printf("as expected: a simulation error (%s) caused by the worker's "
           "\"%s\"\n", cc_errname(cc_error_code(e)), cc_error_message(cause));
    cc_error_clear();
    return 0;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {.workers = DEFAULT_WORKERS};
    struct life_io io = {0};
    struct stoppable_worker *workers;
    cc_queue *in_queue;
    cc_queue *out_queue;
    int rc;

    if (life_parse_args(argc, argv, LIFE_OPT_FAIL | LIFE_OPT_WORKERS,
                        &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    io.fail = opts.fail;
    life_set_io(&io);

    in_queue = cc_queue_new(0, CC_FIFO);
    out_queue = cc_queue_new(0, CC_FIFO);
    if (in_queue == NULL || out_queue == NULL) {
        fprintf(stderr, "life_queue: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    /* Start the threads up front. */
    workers = start_workers(opts.workers, in_queue, out_queue);
    if (opts.fail)
        rc = run_failing(in_queue, out_queue);
    else
        rc = run_glider(in_queue, out_queue, opts.workers);
    if (stop_workers(workers, opts.workers, in_queue) != 0)
        rc = -1;
    cc_queue_free(in_queue);
    cc_queue_free(out_queue);
    return rc == 0 ? 0 : EXIT_FAILURE;
}
