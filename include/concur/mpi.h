/*
 * concur/mpi.h - an executor whose workers are the ranks of an MPI job (a
 * cluster back end, as Python's mpi4py.futures.MPIPoolExecutor).
 *
 * An optional component: the library libconcur_mpi (pkg-config concur-mpi),
 * built when MPI is found; the core library does not depend on MPI.
 *
 * The same program runs on every rank (mpirun -n N ./prog).  On rank 0,
 * cc_mpi_pool_new returns an executor that cc_submit, cc_map, cc_wait,
 * cc_as_completed, cc_executor_shutdown and cc_executor_free drive as any
 * other; on ranks 1..N-1 the same call never returns: the rank serves the
 * tasks rank 0 sends until rank 0's executor shuts down, then the process
 * exits with status 0.  So a program changes nothing but the line that makes
 * its executor:
 *
 *     cc_executor *ex = cc_mpi_pool_new(NULL);    // was cc_process_pool_new
 *
 * What runs before that line runs on every rank; call cc_mpi_main first
 * thing in main when it must run on rank 0 alone.
 *
 * Tasks cross the network as the process pool's do: the function is named by
 * its module (the executable or a shared library, by path) and its offset in
 * it, so every rank must run the same build at the same path (checked at
 * start: see cc_mpi_pool_new); the argument and the result are blobs
 * (concur/base.h) or NULL, copied.  A task that fails with cc_fail fails its
 * future with its error and cause chain, the message ending in
 * "on rank R (host)"; the rank goes on serving.
 *
 * One manager thread on rank 0 makes every MPI call of the process (MPI is
 * initialised with MPI_THREAD_SERIALIZED from that thread, and finalised by
 * it after the workers were told to exit); submitters only queue jobs and
 * wake it.  With nothing in flight it sleeps on a condition; with tasks in
 * flight it polls MPI_Iprobe with a back-off of up to 200 us between
 * tries.  A rank holds several tiny tasks at once (a window sized by the
 * run times the ranks report) and one at a time when they run long.
 *
 * cc_map sends its items in chunks (CC_EXECUTOR_CHUNKS, concur/executor.h):
 * each chunk of `chunksize` items travels as one message and runs on one
 * rank, item by item, stopping at the first failure -- pass a chunksize
 * in the hundreds for tiny items, 1 for long ones (CC_CHUNKSIZE_AUTO makes
 * four chunks per worker rank).  cc_imap submits its items one by one.
 *
 * A worker rank that dies: OpenMPI 4.1 (no fault tolerance) ends the whole
 * job; mpirun prints that the process exited on a signal and kills every
 * rank, rank 0 included (exit status 137), so pending futures do not
 * complete.  With mpirun --enable-recovery rank 0 lives on, but the dead
 * rank's future never completes: wait for it with a timeout.
 *
 * Without mpirun (a singleton, ./prog alone) the pool starts its workers
 * itself with MPI_Comm_spawn: fresh runs of the executable with the same
 * arguments, max_workers of them (0: the CPU count), which serve inside the
 * same call.  OpenMPI allows as many as the machine has slots (cores) unless
 * oversubscription is allowed (OMPI_MCA_rmaps_base_oversubscribe=1).
 *
 * MPI allows one initialisation per process: one MPI pool per process run.
 */
#ifndef CONCUR_MPI_H
#define CONCUR_MPI_H

#include "concur/executor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Options of cc_mpi_pool_new; zero means the default (a NULL pointer is all
 * defaults).
 */
typedef struct cc_mpi_opts {
    /* How many worker ranks take jobs (0: every rank but 0, the world size
     * minus one; more than that is EINVAL).  Without mpirun, how many
     * workers to spawn (0: the CPU count). */
    int max_workers;
    /* The executor's name prefix in messages ("MPIPool" when NULL). */
    const char *name;
    /* Must be zero. */
    unsigned long long reserved[4];
} cc_mpi_opts;

/*
 * cc_mpi_pool_new - initialise MPI and make the MPI executor (rank 0), or
 * serve as a worker (every other rank: the call never returns, the process
 * exits with status 0 once rank 0 shuts the executor down).
 *
 * On rank 0 it waits until every worker rank reported the build it runs (a
 * hash of the executable's file and of libconcur's) and fails when one
 * differs from rank 0's.  Blocks the calling thread for MPI's start-up and
 * that exchange, like MPI_Init: it takes no timeout and is no place for a
 * coroutine task (call it from main).
 *
 * Returns the executor (free it with cc_executor_free; kind "mpi", name
 * "MPIPool-<n>"), or NULL with errno:
 *   EINVAL    opts->reserved not zero; max_workers negative or more than the
 *             world size minus one
 *   ECHILD    not started by mpirun and the workers could not be spawned
 *             (the message has MPI's reason: e.g. more workers than slots)
 *   EPROTO    a worker rank runs a different build (the message names the
 *             rank and its host)
 *   EBUSY     MPI was already initialised in this process (one MPI pool per
 *             process run)
 *   EIO       MPI failed to start (the message has MPI's error string)
 *   ENOMEM
 * Thread-safe; call it once per process.
 */
CC_API cc_executor *cc_mpi_pool_new(const cc_mpi_opts *opts);

/*
 * cc_mpi_main - make the executor early: call it first thing in main so that
 * only rank 0 runs the rest of main.  On worker ranks it serves tasks and
 * exits the process (never returns); on rank 0 it makes the MPI executor and
 * returns it, as cc_mpi_pool_new(opts) does (the same errors).  argc and argv
 * are accepted for MPI_Init's convention and left unchanged (NULL allowed).
 */
CC_API cc_executor *cc_mpi_main(int *argc, char ***argv,
                                const cc_mpi_opts *opts);

/*
 * cc_mpi_rank - the rank of this process in the MPI job (0 on the rank that
 * holds the executor), or -1 before cc_mpi_pool_new.  Never fails;
 * thread-safe.
 */
CC_API int cc_mpi_rank(void);

#ifdef __cplusplus
}
#endif

#endif
