/*
 * life_pipeline - the glider through a two-stage pipeline, for when
 * count_neighbors does blocking I/O too: in_queue -> count_neighbors workers
 * -> logic_queue -> game_logic workers -> out_queue, with errors of either
 * stage carried along to the main thread.  Rebuilds
 * simulate_phased_pipeline of Effective Python, Item 73.
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/queue.h"
#include "concur/sync.h"
#include "life.h"

enum { GENERATIONS = 5, DEFAULT_WORKERS = 5 };

/* One cell's trip through both stages. */
struct cell_item {
    life_grid *grid; /* the current generation (a locking grid) */
    int y;
    int x;
    int state;
    int neighbors;   /* set by stage 1; -1 when it failed */
    int next_state;  /* set by stage 2; -1 when either stage failed */
    cc_error *error; /* the failure (NULL if none, or lost to ENOMEM) */
};

/* A worker of one stage: items from `in`, through func, on to `out`,
 * until `in` is shut down and drained. */
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
            /* Still mark it done so that no join hangs; the main thread
             * finds the item missing. */
            err = errno;
            cc_fail_from(cc_last_error(), err, "worker: put failed");
            if (cc_queue_task_done(w->in) != 0)
                fprintf(stderr, "life_pipeline: task_done: %s\n", cc_errmsg());
            return NULL;
        }
        if (cc_queue_task_done(w->in) != 0)
            return cc_fail_from(cc_last_error(), errno,
                                "worker: task_done failed");
    }
}

/* Keep the pending failure in the item (the seed's `except ... as e`). */
static void catch_error(struct cell_item *item)
{
    item->error = cc_error_copy(cc_error_pending());
    cc_error_clear();
}

/* Stage 1, the seed's count_neighbors_thread. */
static void count_neighbors_item(struct cell_item *item)
{
    item->neighbors = life_count_neighbors(item->grid, item->y, item->x);
    if (item->neighbors < 0)
        catch_error(item);
}

/* Stage 2, the seed's game_logic_thread: a stage-1 failure passes on. */
static void game_logic_item(struct cell_item *item)
{
    if (item->neighbors < 0) {
        item->next_state = -1;
        return;
    }
    item->next_state = life_game_logic(item->state, item->neighbors);
    if (item->next_state < 0)
        catch_error(item);
}

/*
 * One generation through both stages.  Returns the next grid, or NULL with
 * the calling thread's last error set (a simulation error caused by the
 * first failed cell collected, or a failed call).  Every item put is
 * collected again before returning.
 */
static life_grid *simulate_phased_pipeline(life_grid *grid,
                                           cc_queue *in_queue,
                                           cc_queue *logic_queue,
                                           cc_queue *out_queue)
{
    int width = life_grid_width(grid);
    int cells = life_grid_cells(grid);
    struct cell_item *items = calloc((size_t)cells, sizeof(*items));
    struct cell_item *failed = NULL; /* the first failed cell collected */
    life_grid *next = life_locking_grid_new(life_grid_height(grid), width);
    size_t item_count;
    int rc = 0;

    if (items == NULL || next == NULL) {
        if (items == NULL)
            cc_fail(ENOMEM, "simulate_phased_pipeline: out of memory");
        free(items);
        life_grid_free(next);
        return NULL;
    }
    for (int i = 0; i < cells; i++) { /* fan-out */
        struct cell_item *item = &items[i];

        item->grid = grid;
        item->y = i / width;
        item->x = i % width;
        item->state = life_grid_get(grid, item->y, item->x);
        if (item->state < 0) {
            rc = -1;
            break;
        }
        if (cc_queue_put(in_queue, item, CC_FOREVER) != 0) {
            cc_fail_from(cc_last_error(), errno,
                         "simulate_phased_pipeline: put");
            rc = -1;
            break;
        }
    }

    /* Pipeline sequencing: everything has left stage 1, then stage 2. */
    if (cc_queue_join(in_queue, CC_FOREVER) != 0 ||
        cc_queue_join(logic_queue, CC_FOREVER) != 0) {
        /* Unreachable with CC_FOREVER; the items may still be in use. */
        fprintf(stderr, "life_pipeline: join: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
    item_count = cc_queue_size(out_queue);
    for (size_t i = 0; i < item_count; i++) { /* fan-in */
        void *p;
        struct cell_item *item;

        if (cc_queue_get(out_queue, &p, 0) != 0) {
            fprintf(stderr, "life_pipeline: get: %s\n", cc_errmsg());
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
        if (failed->error != NULL)
            cc_fail_from(failed->error, cc_error_code(failed->error),
                         "simulation error in cell (%d, %d)", failed->y,
                         failed->x);
        else
            cc_fail(ENOMEM, "simulation error in cell (%d, %d) (its cause "
                            "was lost: out of memory)", failed->y, failed->x);
        rc = -1;
    } else if (rc == 0 && item_count != (size_t)cells) {
        cc_fail(EIO, "simulate_phased_pipeline: %zu of %d cells came back",
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

static void start_worker(struct stoppable_worker *w,
                         void (*func)(struct cell_item *), cc_queue *in,
                         cc_queue *out)
{
    w->func = func;
    w->in = in;
    w->out = out;
    w->thread = cc_thread_start(worker_run, w, NULL);
    if (w->thread == NULL) {
        fprintf(stderr, "life_pipeline: start worker: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* Shut a stage's input down and wait until it is drained. */
static void shutdown_stage(cc_queue *q)
{
    if (cc_queue_shutdown(q, false) != 0 ||
        cc_queue_join(q, CC_FOREVER) != 0) {
        fprintf(stderr, "life_pipeline: shutdown: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* The glider for five generations; prints the columns and the timing. */
static int run_glider(cc_queue *in_queue, cc_queue *logic_queue,
                      cc_queue *out_queue, int n_workers)
{
    life_columns *columns = life_columns_new();
    life_grid *grid = life_glider(true);
    double elapsed = 0;
    char how[160];
    int cells;
    int waves;
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
        next = simulate_phased_pipeline(grid, in_queue, logic_queue,
                                        out_queue);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto out;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    /* Each stage needs ceil(cells / workers) waves; the second stage works
     * one wave behind the first, so together they take one wave more. */
    waves = (cells + n_workers - 1) / n_workers;
    snprintf(how, sizeof(how), "%d cells, %d waves in each stage on %d "
             "workers, stage 2 one wave behind stage 1", cells, waves,
             n_workers);
    life_print_timing(elapsed / GENERATIONS, waves + 1, 2 * cells, how);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "life_pipeline: ");
        cc_error_print(cc_last_error(), stderr);
    }
    life_grid_free(grid);
    life_columns_free(columns);
    return rc;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {.workers = DEFAULT_WORKERS};
    struct life_io io = {0};
    struct stoppable_worker *workers;
    cc_queue *queues[3]; /* in, logic, out */
    int n;
    int rc;

    if (life_parse_args(argc, argv, LIFE_OPT_WORKERS, &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    io.in_neighbors = true; /* the new requirement: I/O in both stages */
    life_set_io(&io);

    for (int i = 0; i < 3; i++) {
        queues[i] = cc_queue_new(0, CC_FIFO);
        if (queues[i] == NULL) {
            fprintf(stderr, "life_pipeline: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }
    n = opts.workers;
    workers = calloc(2 * (size_t)n, sizeof(*workers));
    if (workers == NULL) {
        fprintf(stderr, "life_pipeline: out of memory\n");
        return EXIT_FAILURE;
    }
    for (int i = 0; i < n; i++) {
        start_worker(&workers[i], count_neighbors_item, queues[0], queues[1]);
        start_worker(&workers[n + i], game_logic_item, queues[1], queues[2]);
    }

    rc = run_glider(queues[0], queues[1], queues[2], n);

    shutdown_stage(queues[0]);
    shutdown_stage(queues[1]);
    for (int i = 0; i < 2 * n; i++) {
        if (cc_thread_join(workers[i].thread, NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "life_pipeline: %s failed: ",
                    cc_thread_name(workers[i].thread));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(workers[i].thread);
    }
    free(workers);
    for (int i = 0; i < 3; i++)
        cc_queue_free(queues[i]);
    return rc == 0 ? 0 : EXIT_FAILURE;
}
