/*
 * life.c - the Game of Life of the life_* examples: grids that wrap around,
 * the rules with their simulated blocking I/O, the column printer and the
 * shared options.  A locking grid's cells are guarded by its cc_lock; the
 * I/O settings are written only while no other thread plays.  Rebuilds the
 * Grid, LockingGrid, count_neighbors, game_logic, step_cell, simulate and
 * ColumnPrinter of Effective Python, Items 71-74.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/base.h"
#include "concur/sync.h"
#include "life.h"

struct life_grid {
    int height;
    int width;
    char *cells;   /* height * width states, row after row; under lock */
    cc_lock *lock; /* NULL for a plain grid */
};

/* Written by life_set_io before the threads start, only read afterwards. */
static struct life_io io_settings = {0.010, false, false};

/* ------------------------------------------------------------------ grids */

static life_grid *grid_new(int height, int width, bool locking)
{
    life_grid *g;

    if (height <= 0 || width <= 0)
        return cc_fail(EINVAL, "grid: bad size %d x %d", height, width);
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return cc_fail(ENOMEM, "grid: out of memory");
    g->height = height;
    g->width = width;
    g->cells = malloc((size_t)height * (size_t)width);
    if (g->cells == NULL)
        goto err_free_g;
    memset(g->cells, LIFE_EMPTY, (size_t)height * (size_t)width);
    if (locking) {
        g->lock = cc_lock_new();
        if (g->lock == NULL)
            goto err_free_cells;
    }
    return g;
err_free_cells:
    free(g->cells);
err_free_g:
    free(g);
    return cc_fail(ENOMEM, "grid: out of memory");
}

life_grid *life_grid_new(int height, int width)
{
    return grid_new(height, width, false);
}

life_grid *life_locking_grid_new(int height, int width)
{
    return grid_new(height, width, true);
}

void life_grid_free(life_grid *g)
{
    if (g == NULL)
        return;
    cc_lock_free(g->lock);
    free(g->cells);
    free(g);
}

int life_grid_height(const life_grid *g)
{
    return g->height;
}

int life_grid_width(const life_grid *g)
{
    return g->width;
}

int life_grid_cells(const life_grid *g)
{
    return g->height * g->width;
}

/* Take a locking grid's lock (a plain grid has none).  0, or -1 failed. */
static int grid_lock(life_grid *g)
{
    if (g->lock == NULL)
        return 0;
    if (cc_lock_acquire(g->lock, CC_FOREVER) != 0) {
        cc_fail_from(cc_last_error(), errno, "grid: cannot take the lock");
        return -1;
    }
    return 0;
}

static int grid_unlock(life_grid *g)
{
    if (g->lock == NULL)
        return 0;
    if (cc_lock_release(g->lock) != 0) {
        cc_fail_from(cc_last_error(), errno, "grid: cannot release the lock");
        return -1;
    }
    return 0;
}

/* The index of (y, x), both wrapped around into the grid. */
static size_t cell_index(const life_grid *g, int y, int x)
{
    int wy = ((y % g->height) + g->height) % g->height;
    int wx = ((x % g->width) + g->width) % g->width;

    return (size_t)wy * (size_t)g->width + (size_t)wx;
}

int life_grid_get(life_grid *g, int y, int x)
{
    int state;

    if (grid_lock(g) != 0)
        return -1;
    state = g->cells[cell_index(g, y, x)];
    if (grid_unlock(g) != 0)
        return -1;
    return state;
}

int life_grid_set(life_grid *g, int y, int x, int state)
{
    if (state != LIFE_ALIVE && state != LIFE_EMPTY) {
        cc_fail(EINVAL, "grid: bad state %d", state);
        return -1;
    }
    if (grid_lock(g) != 0)
        return -1;
    g->cells[cell_index(g, y, x)] = (char)state;
    return grid_unlock(g);
}

char *life_grid_text(life_grid *g)
{
    size_t row = (size_t)g->width + 1;
    char *text = malloc(row * (size_t)g->height);

    if (text == NULL)
        return cc_fail(ENOMEM, "grid: out of memory");
    if (grid_lock(g) != 0) {
        free(text);
        return NULL;
    }
    for (int y = 0; y < g->height; y++) {
        memcpy(text + (size_t)y * row,
               g->cells + (size_t)y * (size_t)g->width, (size_t)g->width);
        text[(size_t)y * row + (size_t)g->width] = '\n';
    }
    text[row * (size_t)g->height - 1] = '\0'; /* the last '\n' */
    if (grid_unlock(g) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int life_grid_alive(life_grid *g)
{
    int alive = 0;

    if (grid_lock(g) != 0)
        return -1;
    for (int i = 0; i < g->height * g->width; i++)
        alive += g->cells[i] == LIFE_ALIVE;
    if (grid_unlock(g) != 0)
        return -1;
    return alive;
}

int life_grid_equal(life_grid *a, life_grid *b)
{
    char *ta;
    char *tb;
    int same;

    if (a->height != b->height || a->width != b->width)
        return 0;
    ta = life_grid_text(a);
    if (ta == NULL)
        return -1;
    tb = life_grid_text(b);
    if (tb == NULL) {
        free(ta);
        return -1;
    }
    same = strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

life_grid *life_glider(bool locking)
{
    static const int glider[5][2] = {{0, 3}, {1, 4}, {2, 2}, {2, 3}, {2, 4}};
    life_grid *g = grid_new(5, 9, locking);

    if (g == NULL)
        return NULL;
    for (int i = 0; i < 5; i++) {
        if (life_grid_set(g, glider[i][0], glider[i][1], LIFE_ALIVE) != 0) {
            life_grid_free(g);
            return NULL;
        }
    }
    return g;
}

/* ------------------------------------------------------------------ rules */

void life_set_io(const struct life_io *io)
{
    io_settings = *io;
}

struct life_io life_get_io(void)
{
    return io_settings;
}

void life_sleep(double seconds)
{
    struct timespec ts;

    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0)
        continue; /* EINTR: sleep the rest */
}

int life_count_neighbors(life_grid *g, int y, int x)
{
    /* N, NE, E, SE, S, SW, W, NW */
    static const int dy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    static const int dx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
    int count = 0;

    for (int i = 0; i < 8; i++) {
        int state = life_grid_get(g, y + dy[i], x + dx[i]);

        if (state < 0)
            return -1;
        count += state == LIFE_ALIVE;
    }
    if (io_settings.in_neighbors)
        life_sleep(io_settings.delay); /* blocking I/O would go here */
    return count;
}

int life_game_logic(int state, int neighbors)
{
    life_sleep(io_settings.delay); /* blocking I/O would go here */
    if (io_settings.fail) {
        cc_fail(EIO, "Problem with I/O");
        return -1;
    }
    if (state == LIFE_ALIVE) {
        if (neighbors < 2)
            return LIFE_EMPTY; /* dies: too few */
        if (neighbors > 3)
            return LIFE_EMPTY; /* dies: too many */
    } else if (neighbors == 3) {
        return LIFE_ALIVE; /* comes to life */
    }
    return state;
}

int life_step_cell(life_grid *g, life_grid *next, int y, int x)
{
    int state = life_grid_get(g, y, x);
    int neighbors;
    int next_state;

    if (state < 0)
        return -1;
    neighbors = life_count_neighbors(g, y, x);
    if (neighbors < 0)
        return -1;
    next_state = life_game_logic(state, neighbors);
    if (next_state < 0)
        return -1;
    return life_grid_set(next, y, x, next_state);
}

life_grid *life_simulate(life_grid *g)
{
    life_grid *next = life_grid_new(g->height, g->width);

    if (next == NULL)
        return NULL;
    for (int y = 0; y < g->height; y++) {
        for (int x = 0; x < g->width; x++) {
            if (life_step_cell(g, next, y, x) != 0) {
                life_grid_free(next);
                return NULL;
            }
        }
    }
    return next;
}

/* --------------------------------------------------------- column printer */

struct life_columns {
    char **texts; /* one grid text per column; n used of cap */
    size_t n;
    size_t cap;
};

life_columns *life_columns_new(void)
{
    life_columns *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return cc_fail(ENOMEM, "columns: out of memory");
    return c;
}

void life_columns_free(life_columns *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->texts[i]);
    free(c->texts);
    free(c);
}

int life_columns_append(life_columns *c, life_grid *g)
{
    char *text;

    if (c->n == c->cap) {
        size_t cap = c->cap != 0 ? 2 * c->cap : 8;
        char **texts = realloc(c->texts, cap * sizeof(*texts));

        if (texts == NULL) {
            cc_fail(ENOMEM, "columns: out of memory");
            return -1;
        }
        c->texts = texts;
        c->cap = cap;
    }
    text = life_grid_text(g);
    if (text == NULL)
        return -1;
    c->texts[c->n++] = text;
    return 0;
}

/* Line k (from 0) of text: its start, with its length in *len; NULL when
 * the text has fewer lines. */
static const char *line_of(const char *text, size_t k, size_t *len)
{
    for (; k > 0; k--) {
        text = strchr(text, '\n');
        if (text == NULL)
            return NULL;
        text++;
    }
    *len = strcspn(text, "\n");
    return text;
}

static size_t line_count(const char *text)
{
    size_t n = 1;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

void life_columns_print(const life_columns *c, FILE *out)
{
    size_t rows = 1;

    for (size_t i = 0; i < c->n; i++)
        if (line_count(c->texts[i]) + 1 > rows)
            rows = line_count(c->texts[i]) + 1;

    for (size_t j = 0; j < rows; j++) {
        size_t pending = 0; /* blanks owed: written only if text follows */

        for (size_t i = 0; i < c->n; i++) {
            size_t len = 0;
            const char *line = line_of(c->texts[i], j > 0 ? j - 1 : 0, &len);

            if (line == NULL) {
                line = "";
                len = 0;
            }
            if (j == 0) {
                /* The column's number, centred over its width. */
                fprintf(out, "%*s%zu", (int)(pending + len / 2), "", i);
                pending = len / 2;
            } else {
                fprintf(out, "%*s%.*s", (int)pending, "", (int)len, line);
                pending = 0;
            }
            if (i + 1 < c->n) {
                fprintf(out, "%*s|", (int)pending + 1, "");
                pending = 1;
            }
        }
        /* Trailing blanks are dropped, so that the text is the seed's. */
        fputc('\n', out);
    }
}

/* ---------------------------------------------------- options and timing */

static void usage(const char *prog, unsigned allowed)
{
    fprintf(stderr, "usage: %s [--io-ms MS]%s%s%s\n", prog,
            allowed & LIFE_OPT_FAIL ? " [--fail]" : "",
            allowed & LIFE_OPT_WORKERS ? " [--workers N]" : "",
            allowed & LIFE_OPT_SIZE ? " [--size N]" : "");
}

/* Parse a positive int option value.  0, or -1 when it is not one. */
static int parse_count(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

int life_parse_args(int argc, char **argv, unsigned allowed,
                    struct life_opts *o)
{
    o->io_ms = 10;
    o->fail = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "--io-ms") == 0 && value != NULL) {
            char *end;

            o->io_ms = strtod(value, &end);
            if (end == value || *end != '\0' || !(o->io_ms >= 0) ||
                o->io_ms > 10000)
                goto bad;
            i++;
        } else if (strcmp(arg, "--fail") == 0 && (allowed & LIFE_OPT_FAIL)) {
            o->fail = true;
        } else if (strcmp(arg, "--workers") == 0 && value != NULL &&
                   (allowed & LIFE_OPT_WORKERS)) {
            if (parse_count(value, &o->workers) != 0)
                goto bad;
            i++;
        } else if (strcmp(arg, "--size") == 0 && value != NULL &&
                   (allowed & LIFE_OPT_SIZE)) {
            if (parse_count(value, &o->size) != 0 || o->size > 1000)
                goto bad;
            i++;
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    usage(argv[0], allowed);
    return -1;
}

void life_print_timing(double seconds_per_generation, int waves,
                       int serial_waves, const char *how)
{
    double io_ms = io_settings.delay * 1e3;

    printf("time per generation: %.1f ms\n", seconds_per_generation * 1e3);
    if (io_ms <= 0) {
        printf("expected about 0 ms: the I/O delay is off (--io-ms 0)\n");
        return;
    }
    printf("expected about %.0f ms: %d wave%s of the I/O latency (%g ms), %s",
           waves * io_ms, waves, waves == 1 ? "" : "s", io_ms, how);
    if (waves < serial_waves)
        printf("; one I/O call after the other: %d x %g ms = %.0f ms",
               serial_waves, io_ms, serial_waves * io_ms);
    printf("\n");
}
