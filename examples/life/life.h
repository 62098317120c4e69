/*
 * life.h - the Game of Life shared by the life_* examples: a wrap-around
 * grid (plain, or guarded by a cc_lock), the rules with a simulated blocking
 * I/O call in them, the column printer, and the examples' common options.
 * Rebuilds the helpers of Effective Python, Items 71-74.
 */
#ifndef LIFE_H
#define LIFE_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Error convention of this module: a function that fails has recorded its
 * error with cc_fail (so it is pending for the calling thread or pool task)
 * and returns -1 or NULL.  A thread or task function may thus fail by
 * simply returning NULL; the main thread prints cc_last_error().
 */

enum { LIFE_ALIVE = '*', LIFE_EMPTY = '-' };

/* ------------------------------------------------------------------ grids */

/*
 * life_grid - height x width cells, every coordinate wrapping around (the
 * seed's Grid).  A locking grid (the seed's LockingGrid) takes its cc_lock
 * in every get, set and text call, so many threads may share it; a plain
 * grid belongs to one thread at a time.
 */
typedef struct life_grid life_grid;

life_grid *life_grid_new(int height, int width);
life_grid *life_locking_grid_new(int height, int width);
void life_grid_free(life_grid *g);

int life_grid_height(const life_grid *g);
int life_grid_width(const life_grid *g);
int life_grid_cells(const life_grid *g);

/* The state of cell (y, x): LIFE_ALIVE or LIFE_EMPTY; -1 on failure. */
int life_grid_get(life_grid *g, int y, int x);

/* Set cell (y, x) to state.  Returns 0, or -1 on failure. */
int life_grid_set(life_grid *g, int y, int x, int state);

/* The grid as text, rows joined by '\n' (no final newline); malloc'ed,
 * the caller frees it.  NULL on failure. */
char *life_grid_text(life_grid *g);

/* How many cells are alive; -1 on failure. */
int life_grid_alive(life_grid *g);

/* 1 when a and b hold the same cells, 0 when not, -1 on failure. */
int life_grid_equal(life_grid *a, life_grid *b);

/* A 5 x 9 grid holding the seed's glider.  NULL on failure. */
life_grid *life_glider(bool locking);

/* ------------------------------------------------------------------ rules */

/*
 * The simulated I/O.  game_logic always waits `delay` seconds first (the
 * seed's my_socket.recv); with `fail` it then fails with EIO "Problem with
 * I/O"; with `in_neighbors`, count_neighbors waits `delay` too (the
 * two-stage pipeline of Item 73).  Set it while no other thread plays.
 */
struct life_io {
    double delay;      /* seconds of "I/O" per call; 0: none */
    bool fail;         /* game_logic fails after its I/O */
    bool in_neighbors; /* count_neighbors does I/O as well */
};

void life_set_io(const struct life_io *io);
struct life_io life_get_io(void);

/* How many of the eight neighbours of (y, x) are alive; -1 on failure. */
int life_count_neighbors(life_grid *g, int y, int x);

/* The next state of a cell in `state` with `neighbors` live neighbours,
 * after the simulated I/O; -1 when the I/O fails (EIO). */
int life_game_logic(int state, int neighbors);

/* Compute cell (y, x) of the next generation from g into next.
 * Returns 0, or -1 on failure. */
int life_step_cell(life_grid *g, life_grid *next, int y, int x);

/* One generation, one cell after the other (the seed's simulate): a new
 * plain grid, or NULL on failure. */
life_grid *life_simulate(life_grid *g);

/* --------------------------------------------------------- column printer */

/* life_columns - grids side by side, one column per generation (the seed's
 * ColumnPrinter).  Owned by one thread. */
typedef struct life_columns life_columns;

life_columns *life_columns_new(void);
void life_columns_free(life_columns *c);

/* Add the grid's current text as the next column.  0, or -1 on failure. */
int life_columns_append(life_columns *c, life_grid *g);

/* Print a header row of column numbers, then the rows joined by " | ". */
void life_columns_print(const life_columns *c, FILE *out);

/* ---------------------------------------------------- options and timing */

/* Options a program accepts, besides --io-ms (which every one does). */
enum {
    LIFE_OPT_FAIL = 1 << 0,    /* --fail */
    LIFE_OPT_WORKERS = 1 << 1, /* --workers N */
    LIFE_OPT_SIZE = 1 << 2,    /* --size N (an N x N grid) */
};

struct life_opts {
    double io_ms; /* --io-ms: simulated I/O per call, in ms (default 10) */
    bool fail;    /* --fail: game_logic fails with EIO */
    int workers;  /* --workers: the program's default unless given */
    int size;     /* --size: the program's default unless given */
};

/*
 * Parse argv into *o (whose workers and size hold the defaults), allowing
 * the options in `allowed`.  Returns 0, or -1 after printing a usage
 * message on stderr (the program then exits with status 2).
 */
int life_parse_args(int argc, char **argv, unsigned allowed,
                    struct life_opts *o);

/* Sleep for `seconds` (the simulated I/O). */
void life_sleep(double seconds);

/*
 * Print the measured time per generation and, beside it, the figure the
 * I/O latency predicts: `waves` rounds of it (the calls of a round wait at
 * the same time), with `how` saying where the waves come from; and what
 * `serial_waves` calls one after the other would cost.
 */
void life_print_timing(double seconds_per_generation, int waves,
                       int serial_waves, const char *how);

#endif /* LIFE_H */
