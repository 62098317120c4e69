/*
 * concur/future.h - futures, executors and the thread pool: Python's
 * concurrent.futures, for C.
 *
 * A future is the outcome of a task that runs elsewhere: a thread-pool
 * worker, a process-pool worker, or a coroutine (a task of concur/aio.h is
 * a future too).  It moves through PENDING -> RUNNING -> FINISHED, or
 * PENDING -> CANCELLED (a task: RUNNING -> CANCELLED).  A task fails by returning
 * cc_fail(...); whoever waits on its future gets -1 with errno = that code,
 * and cc_future_error() gives the error with its place and cause chain.
 *
 * An executor runs tasks and hands out futures.  One interface (cc_submit,
 * cc_map, cc_executor_shutdown, cc_executor_free) serves the thread pool
 * here and the process pool (concur/process.h), so calling code does not
 * change when the executor does.  Executors of other kinds are written
 * against the same interface, made public in concur/executor.h.
 *
 * Defaults (see concur/base.h): thread-safe; every blocking call takes
 * `double timeout` last and honours deadline scopes; EINVAL for NULL or a
 * foreign handle.
 *
 * Ownership: futures are reference-counted.  cc_submit returns one
 * reference to the caller, who releases it with cc_future_free(); the
 * executor holds its own until the task is done, so a future may outlive its
 * executor and vice versa.  A result is handed over as is (a pointer): the
 * future never frees it -- except on a process pool (concur/process.h),
 * whose futures own their result blobs and free them with the future.
 *
 * At exit: work submitted is never dropped silently.  When the program
 * returns from main or calls exit(), every executor not yet freed is shut
 * down and its queued and running tasks are finished first, as Python
 * joins its executors at interpreter exit; when that takes more than a
 * moment, one line per executor says so in the library's log (stderr, or
 * cc_set_log's sink).  CONCUR_EXIT_WAIT=0 in the environment opts out: the
 * exit then waits for nothing, and the log names each executor whose
 * unfinished work is lost.  exit() called by one of an executor's own
 * workers cannot wait for that executor (it is skipped, with a log line).
 * A forked child never waits for its parent's executors.  Freeing an
 * executor (or cc_executor_shutdown_timeout) before exit keeps it quiet.
 */
#ifndef CONCUR_FUTURE_H
#define CONCUR_FUTURE_H

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task's outcome, reference-counted: cc_submit, cc_spawn or
 * cc_future_new makes one, cc_future_ref takes another reference,
 * cc_future_free releases one. */
typedef struct cc_future cc_future;

/* Runs tasks and hands out futures: cc_thread_pool_new,
 * cc_process_pool_new or cc_executor_new (an executor written outside the
 * library, concur/executor.h) makes one, cc_executor_free frees it. */
typedef struct cc_executor cc_executor;

/* ----------------------------------------------------------------- futures */

/*
 * cc_future_result - wait for the future and collect its outcome.
 *
 * Waits up to `timeout`.  Returns 0 and stores the task's result in *result
 * (if result is not NULL) when it finished normally.  Returns -1 with errno:
 *   <code>     the task failed with cc_fail(code, ...): cc_errmsg() is its
 *              message, cc_last_error() and cc_future_error() the whole error
 *   ECANCELED  the future was cancelled
 *   ETIMEDOUT  still not done at the deadline (EAGAIN when timeout is 0)
 *   EINVAL     f is NULL or not a future
 * May be called any number of times, from any thread.
 */
CC_API int cc_future_result(cc_future *f, void **result, double timeout);

/*
 * cc_future_error - the error the task failed with, once done; NULL when it
 * succeeded, was cancelled or is not done.  Owned by the future.  Asking
 * counts as retrieving it (see debug mode below).
 */
CC_API const cc_error *cc_future_error(cc_future *f);

/*
 * cc_outcome - how one future ended: what cc_future_outcome and
 * cc_gather_outcomes report per future, so that a NULL result, a failure
 * and a cancellation can be told apart without asking the future again.
 */
typedef struct cc_outcome {
    int status;            /* 0: finished normally; ECANCELED: cancelled;
                              EINPROGRESS: not done yet; else the code the
                              task failed with */
    void *result;          /* the task's result when status is 0, else NULL */
    const cc_error *error; /* the failure when the task failed, else NULL;
                              owned by the future: valid while the caller
                              holds it */
    unsigned long long reserved[4]; /* zeroed by the call (room to grow) */
} cc_outcome;

/*
 * cc_future_outcome - fill *out with the future's outcome without waiting.
 * Returns 0 (status 0, ECANCELED or the failure's code) once the future is
 * done, and counts as retrieving its error (as cc_future_error does).  A
 * future not done yet gives 0 with status EINPROGRESS.  Returns -1 with
 * EINVAL when f is not a future or out is NULL.  Any thread, any time.
 */
CC_API int cc_future_outcome(cc_future *f, cc_outcome *out);

/*
 * cc_future_cancel - cancel the task if it has not started.  Returns true
 * when the future is (now or already) cancelled; false when it is running
 * or finished, which it then stays.  Waiters and callbacks are released.
 */
CC_API bool cc_future_cancel(cc_future *f);

/* State queries: snapshots. */

/* True when the future was cancelled; false for a bad handle. */
CC_API bool cc_future_cancelled(cc_future *f);

/* True while the task runs (started, not yet finished or cancelled); false
 * for a bad handle. */
CC_API bool cc_future_running(cc_future *f);

/* True when the future is finished or cancelled; false for a bad handle. */
CC_API bool cc_future_done(cc_future *f);

/* A done callback: returns 0, or -1 to fail (cc_future_add_done_callback
 * says what then happens). */
typedef int (*cc_done_fn)(cc_future *f, void *arg);

/*
 * cc_future_add_done_callback - call fn(f, arg) once the future is done:
 * right away in the calling thread if it already is, else in the thread
 * that completes it (a pool worker, or whoever cancels it).  Callbacks run
 * in the order they were added.  A callback fails by returning -1 (after
 * cc_fail, ideally); its error is printed on stderr with the future's
 * description, never silently dropped.  Returns 0, or -1 with ENOMEM/EINVAL
 * (f not a future, fn NULL).
 */
CC_API int cc_future_add_done_callback(cc_future *f, cc_done_fn fn, void *arg);

/*
 * A future made by hand, for bridging code (a callback API, another event
 * loop): the caller completes it with set_result or set_error, or cancels
 * it.  NULL on ENOMEM.  The caller holds one reference.
 */
CC_API cc_future *cc_future_new(void);

/* Complete a hand-made future.  -1 with EINVAL when it is not a hand-made
 * future, or EALREADY when it is already done (cancelled, for instance). */
CC_API int cc_future_set_result(cc_future *f, void *result);

/* Fail a hand-made future with a copy of err (its code must be > 0). */
CC_API int cc_future_set_error(cc_future *f, const cc_error *err);

/* Take another reference (returns f), for handing the future to someone
 * who will release it with cc_future_free. */
CC_API cc_future *cc_future_ref(cc_future *f);

/*
 * cc_future_free - release one reference; the last one frees it.  In debug
 * mode, a failure that nobody retrieved (through cc_future_result or
 * cc_future_error) is reported on stderr when the last reference goes.
 */
CC_API void cc_future_free(cc_future *f);

/* --------------------------------------------------------------- executors */

/* Options of cc_thread_pool_new (and of the process pool).  Zero = default. */
typedef struct cc_pool_opts {
    const char *thread_name_prefix; /* workers are "<prefix>_<n>";
                                       default "ThreadPool-<k>" */
    cc_fn initializer;              /* run once by every worker before any
                                       task; fails (returns cc_fail) -> the
                                       pool is broken */
    void *initarg;                  /* a blob for a process pool */
    int max_tasks_per_child;        /* process pools: replace a worker after
                                       this many tasks (0: never); a thread
                                       pool rejects it (EINVAL) */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_pool_opts;

/*
 * cc_thread_pool_new - a pool of at most max_workers threads (0: min(32,
 * cc_cpu_count() + 4), as in Python).  Threads are started lazily, one per
 * submit that finds no idle worker, and are reused.
 *
 * When the initializer fails in a worker, the pool is broken: every pending
 * and later task fails with CC_EBROKEN and a message naming the cause.
 * Returns NULL with EINVAL (max_workers < 0) or ENOMEM.
 */
CC_API cc_executor *cc_thread_pool_new(int max_workers, const cc_pool_opts *opts);

/*
 * cc_submit - schedule fn(arg) on the executor.  Returns its future (the
 * caller owns one reference), or NULL with ESHUTDOWN (after shutdown),
 * CC_EBROKEN (the pool is broken), EINVAL, ENOMEM.
 */
CC_API cc_future *cc_submit(cc_executor *ex, cc_fn fn, void *arg);

/*
 * cc_map - run fn on every args[i] and store the results in order in
 * results[i] (Executor.map).  chunksize > 1 sends the items in chunks of
 * that many per task (fewer hand-overs for tiny tasks); 0 means 1 and
 * CC_CHUNKSIZE_AUTO n / (4 * workers).  The whole call has one `timeout`.
 *
 * Returns 0 when every item succeeded.  When an item fails, the pending
 * items are cancelled, the running ones finish, and the call returns -1
 * with errno = the failure's code and cc_errmsg() naming the first failed
 * item in input order, by its index in args (0-based) and its position
 * (1-based): "cc_map: args[16] (item 17 of 100) failed: <the task's
 * message>".  cc_last_error() is that error, raised at cc_map's call site
 * ("prog.c:42 in thread 'MainThread'"), with the task's error, raised in
 * the worker, as its cause; results[i] holds every result that was
 * computed (NULL for the others).  At the deadline: -1 with ETIMEDOUT,
 * pending items cancelled, results of items still running dropped.  On a
 * process pool a chunk is one message each way, and the results are new
 * blobs the caller owns.
 * Also ESHUTDOWN, CC_EBROKEN, EINVAL, ENOMEM.
 */
CC_API int cc_map(cc_executor *ex, cc_fn fn, void **args, size_t n,
                  size_t chunksize, void **results, double timeout);

/* cc_map_at - cc_map with its call site given (file NULL: none), the place
 * of the error that names a failed item; the cc_map macro calls it. */
CC_API int cc_map_at(const char *file, int line, cc_executor *ex, cc_fn fn,
                     void **args, size_t n, size_t chunksize, void **results,
                     double timeout);

/* The cc_map macro: cc_map_at with this file and line; (cc_map)(...)
 * calls the function, without them. */
#define cc_map(...) cc_map_at(__FILE__, __LINE__, __VA_ARGS__)

/* cc_map's chunksize for "pick one": n / (4 * max_workers), rounded up
 * (multiprocessing.Pool.map's default). */
#define CC_CHUNKSIZE_AUTO ((size_t)-1)

/*
 * cc_executor_shutdown - stop accepting tasks.  With cancel_futures, cancel
 * every task not yet started.  With wait, return once every task has run
 * and the workers are gone, without a time limit (cc_executor_shutdown_
 * timeout bounds it).  Calling it again is fine.  Returns 0, or -1 with
 * EINVAL (or EDEADLK: a worker may not wait for its own pool; ECANCELED:
 * the calling task was cancelled while it waited).
 */
CC_API int cc_executor_shutdown(cc_executor *ex, bool wait, bool cancel_futures);

/*
 * cc_executor_shutdown_timeout - cc_executor_shutdown whose wait is bounded
 * by `timeout` (a new name rather than a new argument, so that code calling
 * cc_executor_shutdown keeps compiling).  The executor is shut down at
 * once whatever happens to the wait: submits fail with ESHUTDOWN from
 * here on.  With wait, it then waits up to `timeout` for the queued and
 * running tasks to finish and the workers to leave; without wait the
 * timeout bounds only the hand-over of the cancellation (cancel_futures on
 * a process pool, whose manager thread owns the queue).  In a task it
 * suspends only the task.
 *
 * Returns 0 when done.  Returns -1 with errno:
 *   ETIMEDOUT  the workers were still finishing at the deadline (EAGAIN
 *              when timeout is 0): the executor stays shut down, its
 *              workers go on with what was submitted, and a later call
 *              (or cc_executor_free) may wait again
 *   ECANCELED  the calling task was cancelled while it waited; as for
 *              ETIMEDOUT, the executor is shut down and a later call may
 *              wait again
 *   EDEADLK    called with wait from one of the executor's own workers
 *   EINVAL     ex is not an executor, or timeout is NaN
 */
CC_API int cc_executor_shutdown_timeout(cc_executor *ex, bool wait,
                                        bool cancel_futures, double timeout);

/*
 * cc_executor_free - shut down (waiting for running and queued work, as
 * Python's `with` block does) and free the executor.  Futures handed out
 * stay valid.  NULL does nothing.  Called from one of the executor's own
 * workers it cannot wait for them: it then frees nothing and prints a
 * warning on stderr ("cc_executor_free(...) refused") instead of pulling the
 * executor from under its running workers.
 */
CC_API void cc_executor_free(cc_executor *ex);

/* The executor's kind: "thread pool", "process pool", or the kind of an
 * executor made by cc_executor_new (concur/executor.h) ("" for a bad
 * handle).  A static string. */
CC_API const char *cc_executor_kind(cc_executor *ex);

/* The executor's limit of workers, the default filled in when it was made
 * with 0; for an executor made by cc_executor_new, what its max_workers
 * operation says (0 without one) (0 for a bad handle). */
CC_API int cc_executor_max_workers(cc_executor *ex);

/* ------------------------------------------------------ lazy map: imap */

/*
 * cc_imap - a lazy map over an executor, bounded in flight
 * (multiprocessing.Pool.imap and imap_unordered).
 *
 *     cc_imap *it = cc_imap_new(ex, fn, args, n, 8, true);
 *     void *r;
 *     size_t i;
 *     int rc;
 *     while ((rc = cc_imap_next(it, &r, &i, CC_FOREVER)) != 0)
 *         if (rc == 1) ... r is fn(args[i]) ...
 *         else ... item i failed: errno, cc_errmsg() ...
 *     cc_imap_free(it);
 *
 * The iterator submits fn(arg) for the items of its source (an array, or
 * a producer callback for a stream of any length) with cc_submit, and
 * never holds more than max_in_flight items submitted but not yet taken by
 * cc_imap_next: a slot frees, and the next item is submitted, only when a
 * result is taken.  Ordered, results come in input order; unordered, in
 * the order the tasks finish.  It works the same on a thread pool and on
 * a process pool (there fn must be a task function of the program and
 * every argument a blob or NULL, as for cc_submit; the results are blobs
 * that the caller owns once taken).
 *
 * An item that fails is reported at its place by cc_imap_next (-1 with its
 * error and its index) and iteration goes on with the next item, as
 * Python's imap raises at that item and can be resumed.  Not thread-safe:
 * one thread or task at a time calls cc_imap_next on an iterator.
 */
typedef struct cc_imap cc_imap;

/*
 * cc_imap_source - the producer of a stream of arguments: store the
 * argument of item `index` (0, 1, 2... in turn) in *arg and return 1;
 * return 0 at the end of the stream (it is not called again); return -1
 * to fail (after cc_fail, ideally: its error is reported), which ends the
 * stream too.  Called by cc_imap_new and cc_imap_next, in the calling
 * thread, whenever a slot is free.  The argument stays the producer's:
 * on a thread pool it must stay valid until its result is taken (or the
 * iterator freed); a process pool copies it at submit, so there the
 * producer may reuse or free it as soon as it is called again.
 */
typedef int (*cc_imap_source)(void *state, size_t index, void **arg);

/*
 * cc_imap_new - iterate over fn(args[0]) ... fn(args[n - 1]) on `ex`,
 * with at most max_in_flight items submitted and not yet taken (0: twice
 * the executor's workers); ordered false gives them in completion order.
 * The first max_in_flight items are submitted before it returns.  args
 * is read lazily: it must stay valid until the iterator is freed (the
 * values are submitted as they are, as by cc_submit).
 *
 * Returns the iterator (free it with cc_imap_free), or NULL with errno
 * EINVAL (not an executor, fn NULL, args NULL with n > 0), ESHUTDOWN or
 * CC_EBROKEN (the executor refused the first item), ENOMEM, or any error
 * of cc_submit for the first item.
 */
CC_API cc_imap *cc_imap_new(cc_executor *ex, cc_fn fn, void **args, size_t n,
                            size_t max_in_flight, bool ordered);

/*
 * cc_imap_new_source - cc_imap_new with the arguments drawn from a
 * producer, next(state, index, &arg), called lazily as slots free (an
 * unbounded stream works: only max_in_flight arguments exist at once).
 * Same returns; also the producer's error when it fails on the first
 * item.  next NULL is EINVAL.
 */
CC_API cc_imap *cc_imap_new_source(cc_executor *ex, cc_fn fn,
                                   cc_imap_source next, void *state,
                                   size_t max_in_flight, bool ordered);

/*
 * cc_imap_next - the next result.  Waits up to `timeout` for it (in a task
 * it suspends only the task).  Returns:
 *    1  *result (if result is not NULL) is fn's result and *index (if
 *       index is not NULL) the item's place in the input (0-based);
 *       ordered, items come in input order, unordered, as they finish.
 *       On a process pool the result blob is the caller's (cc_blob_free);
 *       with result NULL it is dropped (freed).
 *    0  the end: every item was given (and every later call says 0).
 *   -1  with errno:
 *       <code>     the item failed with cc_fail(code, ...): cc_errmsg() is
 *                  its message, cc_last_error() its error; *index says
 *                  which item.  The item is taken: the next call goes on
 *                  with the following ones.
 *       ECANCELED  with *index set: the item's future was cancelled (its
 *                  executor was shut down with cancel_futures); the item is
 *                  taken.  With *index set to SIZE_MAX: the calling task
 *                  was cancelled; nothing was taken.
 *       ETIMEDOUT  no result by the deadline (EAGAIN when timeout is 0);
 *                  nothing was taken, call again.  *index is SIZE_MAX.
 *       ESHUTDOWN, CC_EBROKEN, ENOMEM, or the producer's error: submitting
 *                  item *index failed.  The items before it are all given
 *                  first; after this one report the stream ends (0).
 *       EINVAL     not an iterator, or a NaN timeout.
 */
CC_API int cc_imap_next(cc_imap *it, void **result, size_t *index,
                        double timeout);

/*
 * cc_imap_free - free the iterator; NULL does nothing.  Items submitted and
 * not started are cancelled; the iterator waits for those already running
 * (at most max_in_flight; cancellation and deadline scopes of the caller
 * do not cut this wait short), so that once it returns no task of the
 * iterator runs and args, the producer's state and fn's data may go.
 * Results not taken are dropped: a process pool's blobs are freed, a
 * thread pool's results are not (they are fn's own pointers; take them
 * with cc_imap_next until it returns 0 first if they own memory).
 */
CC_API void cc_imap_free(cc_imap *it);

/* ------------------------------------------------------- waiting for many */

enum {
    CC_FIRST_COMPLETED = 1, /* any future is done */
    CC_FIRST_EXCEPTION = 2, /* any future failed, or all are done */
    CC_ALL_COMPLETED = 3,   /* every future is done */
};

/*
 * cc_wait - wait until the futures meet the condition `return_when`.
 *
 * Returns how many of them are done (use cc_future_done to tell which).
 * Returns -1 when the condition was not met by the deadline, with errno
 * ETIMEDOUT (EAGAIN for timeout 0), or EINVAL (bad return_when, NULL
 * futures).  n == 0 returns 0 at once.  The same future may appear twice.
 */
CC_API int cc_wait(cc_future **fs, size_t n, int return_when, double timeout);

/*
 * cc_wait_indexes - cc_wait that says which futures are done, as Python's
 * wait() returns its (done, not_done) sets: done[0 .. *ndone-1] are the
 * places in fs of the futures done when it returns, in input order (the
 * others are not done).  done must have room for n entries.
 *
 * Returns 0 when the condition was met.  Returns -1 with errno ETIMEDOUT
 * (EAGAIN for timeout 0) when it was not met by the deadline -- done and
 * *ndone are filled all the same, so what finished in time can be used --
 * or ECANCELED (the calling task was cancelled), or EINVAL (bad
 * return_when, fs/done/ndone NULL, an entry not a future); with these two
 * *ndone is 0.  A future appearing twice is listed at each of its places.
 */
CC_API int cc_wait_indexes(cc_future **fs, size_t n, int return_when,
                           double timeout, size_t *done, size_t *ndone);

/*
 * cc_as_completed - iterate over futures in the order they finish
 * (concurrent.futures.as_completed), with one overall timeout counted from
 * cc_as_completed_new.
 *
 *     cc_as_completed *it = cc_as_completed_new(fs, n, 10.0);
 *     cc_future *f;
 *     while (cc_as_completed_next(it, &f) == 1)
 *         ... f is done ...
 *     cc_as_completed_free(it);
 *
 * next returns 1 with the next done future (each given once, however
 * many times it appears in fs, as Python's as_completed takes a set; the
 * caller's references are not touched), 0 when all have been given, -1
 * with ETIMEDOUT when the deadline passed first, ECANCELED when the
 * calling task was cancelled (EINVAL on a bad handle).  _new returns NULL
 * with EINVAL (fs NULL with n > 0, an entry not a future, NaN timeout) or
 * ENOMEM.
 */
typedef struct cc_as_completed cc_as_completed;

/* cc_as_completed_new - an iterator over the n futures at fs, its deadline
 * `timeout` from now.  It takes its own reference to each future (fs may be
 * freed after the call).  NULL with EINVAL (fs NULL with n > 0, an entry
 * not a future, NaN timeout) or ENOMEM.  Free it with cc_as_completed_free. */
CC_API cc_as_completed *cc_as_completed_new(cc_future **fs, size_t n,
                                            double timeout);

/* cc_as_completed_next - store the next done future in *f and return 1;
 * 0 when all have been given; -1 with ETIMEDOUT, ECANCELED or EINVAL (a bad
 * iterator, f NULL).  *f is borrowed: the iterator's reference keeps it
 * valid until cc_as_completed_free; cc_future_ref it to keep it longer. */
CC_API int cc_as_completed_next(cc_as_completed *it, cc_future **f);

/* cc_as_completed_next_at - cc_as_completed_next that also says which
 * input finished: *index (when index is not NULL) is the future's place in
 * the array given to cc_as_completed_new -- its first place, if it was
 * there more than once -- so results can be matched to inputs without a
 * search (Python's {executor.submit(...): url} dict).  Same returns and
 * errors; *index is set only when it returns 1. */
CC_API int cc_as_completed_next_at(cc_as_completed *it, cc_future **f,
                                   size_t *index);

/* Free the iterator and drop its references; NULL does nothing. */
CC_API void cc_as_completed_free(cc_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_FUTURE_H */
