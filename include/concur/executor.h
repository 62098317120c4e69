/*
 * concur/executor.h - writing an executor outside the library: the
 * interface the thread pool and the process pool implement, made public
 * (public; layer future).
 *
 * Python subclasses concurrent.futures.Executor; concur fills in a table
 * of operations (cc_executor_ops) and calls cc_executor_new with it and
 * the implementation's own state.  The executor that comes back works with
 * everything of concur/future.h unchanged: cc_submit, cc_map, cc_imap,
 * cc_wait, cc_as_completed, cc_executor_shutdown(_timeout),
 * cc_executor_free, cc_executor_kind and cc_executor_max_workers, and the
 * exit rule (its submitted work is finished before the program exits,
 * unless it was shut down and freed first).
 *
 * A submitted task reaches the implementation as a job: a cc_future in
 * state PENDING whose function and argument cc_job_fn and cc_job_arg give
 * (on an executor flagged CC_EXECUTOR_CHUNKS, cc_map submits chunk jobs:
 * one function, several arguments, cc_job_items).  The implementation
 * promises:
 *
 *   - reference counting: submit hands it one reference to the job, which
 *     it drops with cc_job_release once it is done with the job (and never
 *     when submit fails: then the caller drops it);
 *   - completion exactly once: it calls cc_job_start before running a job
 *     and, when that returned true, cc_job_finish exactly once; when it
 *     returned false (the job was cancelled while queued) it does not run
 *     the job and just releases it;
 *   - shutdown: after shutdown no submit succeeds (ESHUTDOWN); with
 *     cancel_futures the queued jobs are cancelled (cc_future_cancel);
 *     with wait the call returns once every job taken has completed, or
 *     fails at its deadline, and a later call may wait again;
 *   - destroy runs once, after a waiting shutdown succeeded, from
 *     cc_executor_free; it frees the state, and then the library frees
 *     the executor's record.
 *
 * Thread safety: every call here may be made from any thread; the
 * operations are called concurrently (submit from many threads at once,
 * shutdown concurrently with submit), so the implementation locks as it
 * needs.  The library holds no lock of its own while it calls them.
 */
#ifndef CONCUR_EXECUTOR_H
#define CONCUR_EXECUTOR_H

#include "concur/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * cc_executor_ops - the operations an executor implements.  Zero means
 * default: a NULL max_workers gives 0.  The table must outlive the
 * executor (static storage); the library never writes to it.
 */
typedef struct cc_executor_ops {
    /* What cc_executor_kind returns, e.g. "mpi" (static storage). */
    const char *kind;
    /*
     * Take a job: the executor now holds one reference to `job`, released
     * with cc_job_release once it is done with it.  Returns 0, or -1 with
     * errno set and a message recorded (cc_fail-style: ESHUTDOWN after
     * shutdown, CC_EBROKEN when broken); cc_submit then fails the same
     * way (an error raised with cc_fail becomes the caller's last error,
     * not a pending failure of the calling task; with no message of the
     * code, one naming the executor is recorded; errno 0 becomes EIO).  On -1 the caller drops the reference itself: the executor must
     * not release it.  Called from any thread, concurrently.
     */
    int (*submit)(cc_executor *ex, cc_future *job);
    /*
     * Stop taking jobs; with cancel_futures cancel the ones not started;
     * with wait, wait until every job taken has completed, up to
     * `deadline` (absolute, on the cc_now() clock; negative: no limit; 0:
     * do not wait, EAGAIN if not done).  Returns 0, or -1 with errno
     * ETIMEDOUT, EAGAIN or ECANCELED (and a message, recorded as for
     * submit).  May be called again, and from several threads.
     */
    int (*shutdown)(cc_executor *ex, bool wait, bool cancel_futures,
                    double deadline);
    /* Free the executor's own state; called once by cc_executor_free,
     * after a waiting shutdown succeeded.  cc_executor_state and
     * cc_executor_name still work on ex during the call. */
    void (*destroy)(cc_executor *ex);
    /* How many jobs run at once (cc_executor_max_workers; cc_map's chunk
     * sizing).  NULL: 0. */
    int (*max_workers)(cc_executor *ex);
    /* CC_EXECUTOR_* flags saying how the jobs run; 0: in this process. */
    unsigned flags;
    /* Must be zero (cc_executor_new fails with EINVAL otherwise). */
    unsigned long long reserved[4];
} cc_executor_ops;

/*
 * CC_EXECUTOR_REMOTE - a cc_executor_ops flag: the jobs run in other
 * processes (worker processes, MPI ranks, other hosts), so their
 * arguments and results travel as blobs.  cc_map cannot hand such an
 * executor a chunk of in-process pointers, so on it cc_map submits every
 * item as a job of its own (through submit, with the item's blob as the
 * argument) and collects them with the same rules -- input order, the
 * first failure by index, the rest cancelled, the deadline -- ignoring
 * chunksize; each result is taken from its job (a result_is_blob result
 * becomes the caller's).  With CC_EXECUTOR_CHUNKS too, it submits chunks
 * instead.  Without it, cc_map submits jobs whose argument is an
 * in-process record.
 */
#define CC_EXECUTOR_REMOTE 1u

/*
 * CC_EXECUTOR_CHUNKS - a cc_executor_ops flag, only with
 * CC_EXECUTOR_REMOTE: the executor takes cc_map's chunks as jobs, so that
 * a map of many small items costs one message and one round trip per
 * chunk rather than per item.  cc_map cuts its items into chunks of
 * `chunksize` (CC_CHUNKSIZE_AUTO: four per worker) and submits each as a
 * chunk job: cc_job_items gives its items' arguments (blobs or NULL), the
 * implementation runs the job's function on each in order, stopping at
 * the first failure, and completes the job with cc_job_finish_items (not
 * cc_job_finish).  Starting, cancelling and releasing a chunk job are a
 * job's.  cc_map keeps its rules: results in input order, the first
 * failure named by its item, the chunks not started cancelled, the
 * deadline.
 */
#define CC_EXECUTOR_CHUNKS 2u

/*
 * cc_executor_new - make an executor around `state` (the implementation's
 * own record, handed back by cc_executor_state).  ops must outlive it
 * (static storage).  name_prefix names it "<prefix>-<n>" in messages (n
 * counts the executors made this way, from 1; NULL: the kind); the name
 * is cut to 31 bytes.  Like the built-in pools it joins the exit rule:
 * its submitted work is waited for at exit unless it was shut down and
 * freed.  Free it with cc_executor_free.  Does not block.
 *
 * Returns the executor, or NULL with errno:
 *   EINVAL  ops is NULL; its kind, submit, shutdown or destroy is NULL; its
 *           flags hold a bit that is not a CC_EXECUTOR_* flag, or
 *           CC_EXECUTOR_CHUNKS without CC_EXECUTOR_REMOTE; or its reserved
 *           words are not zero
 *   ENOMEM  out of memory
 */
CC_API cc_executor *cc_executor_new(const cc_executor_ops *ops, void *state,
                                    const char *name_prefix);

/* cc_executor_state - the state given to cc_executor_new; NULL with EINVAL
 * for anything else than an executor made by cc_executor_new (valid until
 * its destroy operation returns). */
CC_API void *cc_executor_state(cc_executor *ex);

/* cc_executor_name - the executor's name, as in messages ("MPIPool-1",
 * "ThreadPool-2"), for any executor; "" with EINVAL for a non-executor.
 * The string lives as long as the executor. */
CC_API const char *cc_executor_name(cc_executor *ex);

/*
 * cc_job_fn - the job's function, as given to cc_submit.  Valid until the
 * job is finished (so: to run it after cc_job_start); NULL with EINVAL for
 * a finished job or anything else than a job of an executor made by
 * cc_executor_new.
 */
CC_API cc_fn cc_job_fn(cc_future *job);

/*
 * cc_job_arg - the job's argument, as given to cc_submit; it stays the
 * caller's (as on the thread pool, it is not copied).  Valid until the job
 * is finished.  NULL with EINVAL for a finished job, a chunk job (see
 * cc_job_items) or a non-job (an argument that is NULL is NULL too: tell
 * them apart by errno only after clearing it).
 */
CC_API void *cc_job_arg(cc_future *job);

/*
 * cc_job_items - the items of a chunk job (CC_EXECUTOR_CHUNKS): returns
 * how many (at least 1) and points *args at their arguments, in input
 * order, each a blob (concur/base.h) or NULL.  The arguments are the
 * caller of cc_map's: they are valid during submit, but cc_map may return
 * (and its caller free them) once the job is started or cancelled, so an
 * executor that sends them later copies them in submit.  For a job that
 * is not a chunk it returns 0 and sets *args to NULL, which is not an
 * error.  0 with EINVAL (and *args NULL) for a finished job, a non-job or
 * a NULL args.
 */
CC_API size_t cc_job_items(cc_future *job, void *const **args);

/*
 * cc_job_start - move the job from PENDING to RUNNING, before running it
 * (anywhere: a thread, a remote rank).  Returns true when the job is now
 * the caller's to run and finish (cc_job_finish, exactly once); false
 * when it was cancelled first (do not run it, just cc_job_release it), or
 * with EINVAL for a non-job or a job already started.  Does not block.
 */
CC_API bool cc_job_start(cc_future *job);

/*
 * cc_job_finish - complete a started job with `result`, or with `error`
 * when it is not NULL (error is owned by the call: the future keeps it,
 * or it is freed on failure; a result given beside an error is ignored).
 * With result_is_blob true, a successful result is a blob (concur/base.h)
 * that the future owns and frees with its last reference, as the process
 * pool's results; otherwise it is handed over as is.  Wakes whoever waits
 * on the job and runs its done-callbacks in the calling thread.
 *
 * Returns 0, or -1 with errno:
 *   EINVAL  job is not a started (RUNNING) job of an executor made by
 *           cc_executor_new, or a chunk job (cc_job_finish_items), or
 *           result_is_blob with a result that is not a blob (a NULL
 *           result is allowed)
 */
CC_API int cc_job_finish(cc_future *job, void *result, bool result_is_blob,
                         cc_error *error);

/*
 * cc_job_finish_items - complete a started chunk job: results[0..done)
 * are the results of its first `done` items, each a blob or NULL, and
 * when error is not NULL, item `done` failed with it (the items after it
 * did not run); with error NULL, done must be the job's item count.  On
 * success the results become cc_map's (it hands them to its caller, or
 * frees them when it returned already), the results array itself stays
 * the implementation's, and whoever waits on the job is woken.  error is
 * owned by the call, as with cc_job_finish; on failure the results stay
 * the implementation's.
 *
 * Returns 0, or -1 with errno:
 *   EINVAL  job is not a started chunk job of an executor made by
 *           cc_executor_new; done is more than its items (or less, with
 *           error NULL; or equal, with an error); results is NULL while
 *           done is not 0; or a result is not a blob
 */
CC_API int cc_job_finish_items(cc_future *job, void *const *results,
                               size_t done, cc_error *error);

/*
 * cc_job_release - drop the executor's reference to the job: after
 * cc_job_finish, after cc_job_start returned false, or for a job
 * cancelled while queued.  The job may be freed by the call (when nobody
 * else holds it); it must not be used after.  A non-job does nothing
 * (EINVAL).
 */
CC_API void cc_job_release(cc_future *job);

#ifdef __cplusplus
}
#endif

#endif
