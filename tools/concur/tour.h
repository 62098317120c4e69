/*
 * tools/concur/tour.h - `concur tour`, the project's main job: each of the
 * seeds' scenarios run in each concurrency model, one table of times and
 * speedups beside the figures the seeds themselves print.
 *
 * Files: tour_cmd.c (options, the run), tour_io.c (the network scenarios,
 * on the fetch engine and the local service), tour_digest.c (what each
 * network scenario's answers add up to), tour_cpu.c (the CPU-bound
 * scenarios, on the thread and process pools), tour_mpi.c (the same on
 * MPI ranks, in an mpirun of its own), tour_table.c (the table).
 */
#ifndef CONCUR_TOOL_TOUR_H
#define CONCUR_TOOL_TOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "concur/future.h"
#include "fetch.h"

/* What the whole tour was asked for. */
typedef struct tour_cfg {
    bool quick;            /* less latency and less work: a few seconds */
    const char *base_url;  /* real services instead of the local one, or
                              NULL */
    const char *only;      /* comma-separated scenario keys, or NULL */
    int cpus;              /* cc_cpu_count() */
    FILE *out;             /* the table */
} tour_cfg;

/* True when the scenario `key` is to run under cfg->only. */
bool tour_wanted(const tour_cfg *cfg, const char *key);

/* ------------------------------------------------------ tour_table.c */

/* One row: a model's run of a scenario. */
typedef struct tour_row {
    const char *label;     /* the scenario column of this row ("" for
                              none): name, seed, conditions, in turn */
    char model[32];        /* "thread pool (4)" */
    double seconds;        /* < 0: did not run */
    double base_seconds;   /* the scenario's sync time (speedup = base /
                              seconds) */
    char result[48];       /* what came out, or "same" */
    bool ok;               /* the result is right */
    char seed_figure[40];  /* the seed's own figure, or "-" */
} tour_row;

void tour_table_header(FILE *out);
void tour_table_row(FILE *out, const tour_row *row);
void tour_table_rule(FILE *out);

/* -------------------------------------------------- the scenarios */

/* Run the network scenarios (rates, sponsors, pokemon, download) that
 * cfg wants; print their rows.  Returns how many rows went wrong. */
int tour_io_run(const tour_cfg *cfg);

/* Run the CPU-bound scenarios (gcd, math); print their rows.  Returns how
 * many rows went wrong. */
int tour_cpu_run(const tour_cfg *cfg);

/* `concur tour --mpi-child KEY [--quick]`, under mpirun: on rank 0, map
 * scenario KEY's items over the other ranks and print "<result>\t<seconds>"
 * (the map's time); the other ranks serve and exit inside.  Returns the
 * exit status (1 with a message on stderr when it failed). */
int tour_cpu_mpi_child(const char *key, bool quick);

/* ------------------------------------------------------- tour_mpi.c */

typedef enum tour_mpi_outcome {
    TOUR_MPI_RAN,      /* result and seconds are the run's */
    TOUR_MPI_SKIPPED,  /* result says why (no mpirun, built without MPI) */
    TOUR_MPI_FAILED,   /* result says what went wrong */
} tour_mpi_outcome;

/* Run scenario `key` on `workers` MPI worker ranks (mpirun with
 * workers + 1 ranks of this program, --mpi-child); result gets the
 * child's result text or why it did not run. */
tour_mpi_outcome tour_mpi_model(const char *key, bool quick, int workers,
                                char *result, size_t size, double *seconds);

/* The MPI executor for --mpi-child: on a worker rank it serves until rank
 * 0 is done and exits the process; NULL with ENOTSUP when the command was
 * built without MPI, or cc_mpi_pool_new's error. */
cc_executor *tour_mpi_pool(void);

/* ----------------------------------------------------- tour_digest.c */

/* A scenario's answers summed up as a short text, equal for equal
 * answers: "5 bases x 5 rates", "20 names, Bulbasaur..Raticate",
 * "62 of 64, 26 say Python", "160 of 160 pages".  *ok tells whether the
 * answers are the expected ones (with a base URL: whether they parse). */
typedef void (*tour_digest_fn)(const fetch_item *items, size_t n,
                               bool local, char *buf, size_t size,
                               bool *ok);
void tour_digest_rates(const fetch_item *items, size_t n, bool local,
                       char *buf, size_t size, bool *ok);
void tour_digest_pokemon(const fetch_item *items, size_t n, bool local,
                         char *buf, size_t size, bool *ok);
void tour_digest_sponsors(const fetch_item *items, size_t n, bool local,
                          char *buf, size_t size, bool *ok);
void tour_digest_pages(const fetch_item *items, size_t n, bool local,
                       char *buf, size_t size, bool *ok);

/* tour_main - `concur tour ARGS` (argv[0] is the command's name); the exit
 * status: 0 every run right, 1 some went wrong, 2 usage. */
int tour_main(int argc, char **argv);

#endif
