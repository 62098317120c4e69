/*
 * life_serial - the Game of Life glider over five generations, one cell
 * after the other, with a blocking I/O call in every cell's game_logic: each
 * generation costs cells x latency.  Rebuilds the serial simulate of
 * Effective Python, Item 71 ("Know How to Recognize When Concurrency Is
 * Necessary").
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "life.h"

enum { GENERATIONS = 5 };

int main(int argc, char **argv)
{
    struct life_opts opts = {0};
    struct life_io io = {0};
    life_columns *columns;
    life_grid *grid;
    double elapsed = 0;
    int cells;

    if (life_parse_args(argc, argv, 0, &opts) != 0)
        return 2;
    io.delay = opts.io_ms / 1e3;
    life_set_io(&io);

    grid = life_glider(false);
    columns = life_columns_new();
    if (grid == NULL || columns == NULL) {
        fprintf(stderr, "life_serial: %s\n", cc_errmsg());
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
        next = life_simulate(grid);
        elapsed += cc_now() - start;
        if (next == NULL)
            goto fail;
        life_grid_free(grid);
        grid = next;
    }
    life_columns_print(columns, stdout);
    life_print_timing(elapsed / GENERATIONS, cells, cells,
                      "one cell after the other");
    life_grid_free(grid);
    life_columns_free(columns);
    return 0;
fail:
    fprintf(stderr, "life_serial: ");
    cc_error_print(cc_last_error(), stderr);
    life_grid_free(grid);
    life_columns_free(columns);
    return EXIT_FAILURE;
}
