/*
 * life_pool_error - what happens when game_logic's I/O fails in a pool
 * task: the task fails with cc_fail(EIO, "Problem with I/O"), and whoever
 * waits on its future gets -1 with errno EIO and the error with its place
 * and cause chain; no error is lost in a worker thread.  Rebuilds the
 * failing game_logic of Effective Python, Item 74.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "life.h"

enum { WORKERS = 10, GLIDER_CELLS = 5 * 9 };

static const char expected_message[] = "Problem with I/O";

/* The arguments of game_logic, for a task. */
struct logic_args {
    int state;
    int neighbors;
};

/* A pool task running game_logic; returns the next state as a pointer.
 * When game_logic fails, its error is pending and NULL fails the task. */
static void *game_logic_task(void *arg)
{
    struct logic_args *a = arg;
    int next = life_game_logic(a->state, a->neighbors);

    if (next < 0)
        return NULL;
    return (void *)(intptr_t)next;
}

/* True when e is the I/O failure of game_logic. */
static bool is_io_problem(const cc_error *e)
{
    return e != NULL && cc_error_code(e) == EIO &&
           strcmp(cc_error_message(e), expected_message) == 0;
}

/*
 * The seed's `pool.submit(game_logic, ALIVE, 3).result()`.  Returns 0 when
 * the result call failed with EIO and the expected error, -1 otherwise.
 */
static int one_task(cc_executor *pool)
{
    struct logic_args args = {LIFE_ALIVE, 3};
    cc_future *task;
    void *result;
    int rc;
    int err;

    printf("one task: submit(game_logic, ALIVE, 3), then result()\n");
    task = cc_submit(pool, game_logic_task, &args);
    if (task == NULL) {
        fprintf(stderr, "life_pool_error: submit: %s\n", cc_errmsg());
        return -1;
    }
    rc = cc_future_result(task, &result, CC_FOREVER);
    err = errno;
    if (rc == 0) {
        fprintf(stderr, "life_pool_error: the task did not fail\n");
        cc_future_free(task);
        return -1;
    }
    printf("cc_future_result returned -1, errno %s, cc_errmsg() \"%s\"\n",
           cc_errname(err), cc_errmsg());
    printf("the error: ");
    cc_error_print(cc_last_error(), stdout);
    rc = err == EIO && is_io_problem(cc_last_error()) &&
                 is_io_problem(cc_future_error(task))
             ? 0
             : -1;
    cc_future_free(task);
    if (rc != 0)
        fprintf(stderr, "life_pool_error: not the expected error\n");
    return rc;
}

/* What one task of a generation works on. */
struct cell_job {
    life_grid *grid;
    life_grid *next;
    int y;
    int x;
};

static void *step_cell_task(void *arg)
{
    struct cell_job *job = arg;

    if (life_step_cell(job->grid, job->next, job->y, job->x) != 0)
        return NULL; /* the error is pending: the task fails with it */
    return job;
}

/*
 * A whole generation of the glider on the pool, every game_logic failing.
 * The waiting code collects every future; the first failure becomes the
 * cause of the error it reports.  Returns 0 when that error is as expected
 * and every cell failed with EIO, -1 otherwise.
 */
static int one_generation(cc_executor *pool)
{
    life_grid *grid = life_glider(true);
    life_grid *next = life_locking_grid_new(5, 9);
    struct cell_job jobs[GLIDER_CELLS];
    cc_future *futures[GLIDER_CELLS];
    cc_error *first = NULL; /* copy of the first failure */
    int first_cell = -1;
    int n_failed = 0;
    int n_eio = 0;
    int submitted;
    int rc = -1;

    if (grid == NULL || next == NULL) {
        fprintf(stderr, "life_pool_error: %s\n", cc_errmsg());
        goto out;
    }
    printf("\none generation of the glider, every game_logic failing\n");
    for (submitted = 0; submitted < GLIDER_CELLS; submitted++) { /* fan-out */
        jobs[submitted] = (struct cell_job){grid, next, submitted / 9,
                                            submitted % 9};
        futures[submitted] = cc_submit(pool, step_cell_task,
                                       &jobs[submitted]);
        if (futures[submitted] == NULL) {
            fprintf(stderr, "life_pool_error: submit: %s\n", cc_errmsg());
            break;
        }
    }
    for (int i = 0; i < submitted; i++) { /* fan-in */
        if (cc_future_result(futures[i], NULL, CC_FOREVER) != 0) {
            n_failed++;
            n_eio += errno == EIO;
            if (first == NULL && first_cell < 0) {
                first = cc_error_copy(cc_last_error());
                first_cell = i;
            }
        }
        cc_future_free(futures[i]);
    }
    if (submitted < GLIDER_CELLS)
        goto out;
    if (first == NULL) {
        fprintf(stderr, "life_pool_error: %d cells failed, but no error "
                        "came back\n", n_failed);
        goto out;
    }
    cc_fail_from(first, cc_error_code(first),
                 "simulate_pool: cell (%d, %d) failed", first_cell / 9,
                 first_cell % 9);
    printf("simulate_pool failed: ");
    cc_error_print(cc_last_error(), stdout);
    printf("%d of %d cells failed, %d of them with EIO\n", n_failed,
           submitted, n_eio);
    if (n_failed == GLIDER_CELLS && n_eio == GLIDER_CELLS &&
        is_io_problem(cc_error_cause(cc_last_error())))
        rc = 0;
    else
        fprintf(stderr, "life_pool_error: not the expected failures\n");
    cc_error_clear();
out:
    cc_error_free(first);
    life_grid_free(grid);
    life_grid_free(next);
    return rc;
}

int main(int argc, char **argv)
{
    struct life_opts opts = {0};
    struct life_io io = {0};
    cc_executor *pool;
    int rc;

    if (life_parse_args(argc, argv, 0, &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    io.fail = true; /* the flaky I/O of the seed */
    life_set_io(&io);

    pool = cc_thread_pool_new(WORKERS, NULL);
    if (pool == NULL) {
        fprintf(stderr, "life_pool_error: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = one_task(pool);
    if (one_generation(pool) != 0)
        rc = -1;
    cc_executor_free(pool);
    if (rc == 0)
        printf("\nevery failure reached the waiting code with its cause\n");
    return rc == 0 ? 0 : EXIT_FAILURE;
}
