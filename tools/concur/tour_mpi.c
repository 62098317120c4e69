/*
 * tour_mpi.c - the tour's "MPI ranks" model: a CPU-bound scenario run as
 * `mpirun --oversubscribe -n CPUS+1 concur tour --mpi-child KEY`, whose
 * rank 0 maps the scenario's items over the other ranks with the MPI
 * executor (concur/mpi.h) and prints what came out and how long the map
 * took (tour_cpu_mpi_child).  MPI starts and ends in those processes, never
 * in the tour's own, which goes on to its other scenarios.
 *
 * The model runs when the command was built with the MPI executor (CMake
 * found MPI: CONCUR_TOUR_MPI) and mpirun is in PATH; otherwise its row says
 * why it did not run.  The time is measured inside rank 0, from the map's
 * start to its end: mpirun's launch of the ranks (about half a second) is
 * not in it, as the process pool's row does not count the interpreter
 * start-ups of the seed's Python.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/subprocess.h"
#include "tour.h"

#ifdef CONCUR_TOUR_MPI
#include "concur/mpi.h"
#endif

cc_executor *tour_mpi_pool(void)
{
#ifdef CONCUR_TOUR_MPI
    return cc_mpi_pool_new(NULL); /* worker ranks serve, then exit */
#else
    return cc_fail(ENOTSUP, "concur was built without the MPI executor");
#endif
}

#ifdef CONCUR_TOUR_MPI
/* The first line of a captured stream, for a message ("" if none). */
static void first_line(const void *blob, char *buf, size_t size)
{
    size_t len = blob != NULL ? cc_blob_len(blob) : 0;
    const char *text = blob;
    size_t n = 0;

    while (n < len && text[n] != '\n' && n + 1 < size)
        n++;
    memcpy(buf, len > 0 ? text : "", n);
    buf[n] = '\0';
}

/* Parse the child's "<result>\t<seconds>" line (the last line of out). */
static int parse_child(const void *out, char *result, size_t size,
                       double *seconds)
{
    size_t len = out != NULL ? cc_blob_len(out) : 0;
    char *text = malloc(len + 1);
    char *line, *tab, *end;
    int rc = -1;

    if (text == NULL)
        return -1;
    memcpy(text, len > 0 ? out : "", len);
    text[len] = '\0';
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    line = strrchr(text, '\n');
    line = line != NULL ? line + 1 : text;
    tab = strchr(line, '\t');
    if (tab != NULL) {
        *tab = '\0';
        *seconds = strtod(tab + 1, &end);
        if (end != tab + 1 && *seconds >= 0) {
            snprintf(result, size, "%s", line);
            rc = 0;
        }
    }
    free(text);
    return rc;
}
#endif

tour_mpi_outcome tour_mpi_model(const char *key, bool quick, int workers,
                                char *result, size_t size, double *seconds)
{
#ifdef CONCUR_TOUR_MPI
    char exe[4096], ranks[16], why[160];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *argv[] = {"mpirun", "--oversubscribe", "-n", ranks, exe,
                          "tour", "--mpi-child", key,
                          quick ? "--quick" : NULL, NULL};
    /* OpenMPI refuses to run as root without both */
    const char *const root_env[] = {"OMPI_ALLOW_RUN_AS_ROOT=1",
                                    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", NULL};
    cc_run_opts opts = {.capture_output = true, .timeout = 600,
                        .popen = {.new_session = true}};
    cc_completed done;

    if (n <= 0) {
        snprintf(result, size, "ERROR: /proc/self/exe unreadable");
        return TOUR_MPI_FAILED;
    }
    exe[n] = '\0';
    snprintf(ranks, sizeof(ranks), "%d", workers + 1);
    if (geteuid() == 0)
        opts.popen.env_set = root_env;
    if (cc_subprocess_run(argv, &opts, &done) != 0) {
        if (errno == ENOENT) {
            snprintf(result, size, "skipped: no mpirun in PATH");
            return TOUR_MPI_SKIPPED;
        }
        snprintf(result, size, "ERROR %.40s", cc_errmsg());
        cc_completed_free(&done);
        return TOUR_MPI_FAILED;
    }
    if (done.returncode != 0 ||
        parse_child(done.out, result, size, seconds) != 0) {
        first_line(done.err != NULL && cc_blob_len(done.err) > 0 ? done.err
                                                                 : done.out,
                   why, sizeof(why));
        snprintf(result, size, "ERROR (status %d) %.30s", done.returncode,
                 why);
        cc_completed_free(&done);
        return TOUR_MPI_FAILED;
    }
    cc_completed_free(&done);
    return TOUR_MPI_RAN;
#else
    (void)key, (void)quick, (void)workers, (void)seconds;
    snprintf(result, size, "skipped: built without MPI");
    return TOUR_MPI_SKIPPED;
#endif
}
