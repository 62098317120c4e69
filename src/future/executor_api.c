/*
 * executor_api.c - executors written outside the library
 * (concur/executor.h) on top of the internal executor interface
 * (internal/future.h) (future layer).
 *
 * cc_executor_new makes a record that starts with the struct cc_executor
 * every back end starts with, and carries its own copy of the internal
 * operations table (its `kind` is the implementation's) whose entries
 * forward to the public ones: the internal absolute deadline in
 * nanoseconds becomes the public one in cc_now() seconds, and the public
 * "-1 with errno" becomes the internal "errno with the error recorded".
 * An executor of this kind is told from the built-in ones by its table's
 * submit entry.  The cc_job_* calls check that the future is a task of such
 * an executor and map to the future's own transitions (claim, finish,
 * unref).  cc_map on a remote executor submits one job per item, or one
 * chunk job per chunk (CC_EXECUTOR_CHUNKS; see chunk_map).
 *
 * cc_executor_free clears the executor's magic before it destroys it; the
 * record is marked DESTROYING while the implementation's destroy runs, so
 * that cc_executor_state and cc_executor_name still answer it there.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/executor.h"
#include "internal/clock.h"
#include "internal/error.h"
#include "internal/future.h"

#define API_DESTROYING 0x44455354u /* "DEST": inside the user's destroy */

typedef struct api_executor {
    cc_executor base;              /* first: the executor interface */
    cc__executor_ops iops;         /* forwards to ops; base.ops points here */
    const cc_executor_ops *ops;    /* the implementation's (static) */
    void *state;                   /* the implementation's record */
} api_executor;

static _Atomic unsigned api_counter;

static api_executor *api_of(cc_executor *ex)
{
    return (api_executor *)ex;
}

/* The internal deadline (cc__now_ns; CC__NS_FOREVER: none; 0: do not wait)
 * on the public cc_now() clock (negative: none; 0: do not wait). */
static double public_deadline(int64_t deadline)
{
    if (deadline == CC__NS_FOREVER)
        return -1.0;
    if (deadline == 0)
        return 0.0;
    return (double)deadline / 1e9;
}

/* After an operation returned -1: errno is its code (EIO if it left errno
 * 0), with a message of the operation's own when it recorded one with that
 * code, else one naming the executor.  An operation that failed the
 * cc_fail way (`pending` is the calling task's pending failure from before
 * the call) has made it a pending failure of the calling task too: it is
 * the call's error only, so it stays the last error and stops pending. */
static int op_failed(cc_executor *ex, int code, const char *what,
                     const cc_error *pending)
{
    const cc_error *last;

    if (code == 0)
        code = EIO;
    if (cc_error_pending() != NULL && cc_error_pending() != pending)
        cc_error_clear(); /* keeps it as the last error */
    last = cc_last_error();
    if (last != NULL && cc_error_code(last) == code) {
        errno = code;
        return code;
    }
    cc__errf(code, "%s: %s '%s' failed without saying why", what,
             ex->ops->kind, ex->name);
    return code;
}

static int fwd_submit(cc_executor *ex, cc_future *f)
{
    api_executor *a = api_of(ex);
    const cc_error *pending = cc_error_pending();

    errno = 0;
    if (a->ops->submit(ex, f) == 0)
        return 0;
    return op_failed(ex, errno, "cc_submit", pending);
}

static int fwd_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                        int64_t deadline)
{
    api_executor *a = api_of(ex);
    const cc_error *pending = cc_error_pending();

    errno = 0;
    if (a->ops->shutdown(ex, wait, cancel_futures,
                         public_deadline(deadline)) == 0)
        return 0;
    op_failed(ex, errno, "cc_executor_shutdown", pending);
    return -1;
}

static void fwd_destroy(cc_executor *ex)
{
    api_executor *a = api_of(ex);

    a->base.magic = API_DESTROYING;
    a->ops->destroy(ex);
    a->base.magic = 0;
    free(a);
}

static int fwd_max_workers(cc_executor *ex)
{
    api_executor *a = api_of(ex);

    return a->ops->max_workers != NULL ? a->ops->max_workers(ex) : 0;
}

/*
 * cc_map on a CC_EXECUTOR_REMOTE executor: every item is a job of its own
 * (a chunk record holds in-process pointers and cannot travel), submitted
 * through the executor's submit and collected by the collector every
 * executor's map shares, with cc_map's rules.  Each item's result moves
 * from its job to the caller: a blob the job owned is no longer freed
 * with it.  chunksize is not used.
 */
static int item_map(cc_executor *ex, cc_fn fn, void **args, size_t n,
                    size_t chunksize, void **results, double deadline,
                    const char *file, int line)
{
    cc_future **fs = calloc(n, sizeof(*fs));
    size_t submitted = 0;
    size_t bad = SIZE_MAX;
    cc_error *failure = NULL; /* a copy of the first failure, if any */
    int failed = 0;

    (void)chunksize;
    if (fs == NULL)
        return cc__err(ENOMEM, "cc_map: out of memory");
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    for (; submitted < n; submitted++) {
        fs[submitted] = cc_submit(ex, fn, args[submitted]);
        if (fs[submitted] == NULL) {
            failed = errno;
            failure = cc_error_copy(cc_last_error());
            break;
        }
    }
    if (failed == 0)
        failed = cc__map_collect(fs, submitted, deadline, &failure, &bad);
    for (size_t i = 0; i < submitted; i++) {
        cc_future *f = fs[i];

        if (!cc__future_cancel(f) && cc_future_done(f)) {
            uint32_t st = atomic_fetch_and_explicit(
                &f->state, ~(uint32_t)CC__F_OWNS_RESULT, memory_order_acq_rel);

            if (!(st & CC__F_FAILED))
                results[i] = f->result; /* the caller's now */
        }
        (void)cc_future_error(f); /* retrieved: cc_map reports it */
        cc_future_free(f);
    }
    free(fs);
    return cc__map_result(failed, failure, bad, n, file, line);
}

/*
 * cc_map on a CC_EXECUTOR_CHUNKS executor: the items go in chunk jobs.  A
 * chunk job's future carries CC__F_CHUNK and keeps its api_chunk in the
 * arg slot in every state (finishing it stores the record as the result,
 * and a failure or a cancellation leaves the slot alone), so that
 * cc_job_items, cc_job_finish_items and cc_job_release find it.  The
 * chunk records live in an api_map that is reference-counted: cc_map
 * holds one reference and every chunk job the executor took one, dropped
 * by cc_job_release -- a chunk still running when cc_map returns at its
 * deadline writes into memory that stays valid, and the results it left
 * there are freed with the map.
 */
typedef struct api_map api_map;

typedef struct api_chunk {
    api_map *map;
    size_t start;      /* items [start, start + count) */
    size_t count;
    size_t failed_at;  /* the item that failed (SIZE_MAX: none); written
                          before the job finishes */
} api_chunk;

struct api_map {
    _Atomic size_t refs;
    size_t n;
    void **args;       /* a copy of the caller's array (the pointers) */
    void **results;    /* n slots: blobs written by cc_job_finish_items,
                          moved out by cc_map */
    api_chunk *chunks;
};

static void api_map_unref(api_map *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < m->n; i++)
        cc_blob_free(m->results[i]);
    free(m->args);
    free(m->results);
    free(m->chunks);
    free(m);
}

static api_map *api_map_new(void **args, size_t n, size_t chunksize,
                            size_t nchunks)
{
    api_map *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->args = malloc(n * sizeof(void *));
    m->results = calloc(n, sizeof(void *));
    m->chunks = calloc(nchunks, sizeof(api_chunk));
    if (m->args == NULL || m->results == NULL || m->chunks == NULL) {
        free(m->args);
        free(m->results);
        free(m->chunks);
        free(m);
        return NULL;
    }
    memcpy(m->args, args, n * sizeof(void *));
    atomic_init(&m->refs, 1);
    m->n = n;
    for (size_t c = 0; c < nchunks; c++) {
        api_chunk *ch = &m->chunks[c];

        ch->map = m;
        ch->start = c * chunksize;
        ch->count = n - ch->start < chunksize ? n - ch->start : chunksize;
        ch->failed_at = SIZE_MAX;
    }
    return m;
}

static int chunk_map(cc_executor *ex, cc_fn fn, void **args, size_t n,
                     size_t chunksize, void **results, double deadline,
                     const char *file, int line)
{
    size_t nchunks = n / chunksize + (n % chunksize != 0);
    api_map *m = api_map_new(args, n, chunksize, nchunks);
    cc_future **fs = calloc(nchunks, sizeof(*fs));
    size_t submitted = 0;
    size_t bad_chunk = SIZE_MAX, bad_item = SIZE_MAX;
    cc_error *failure = NULL; /* a copy of the first failure, if any */
    int failed = 0;

    if (m == NULL || fs == NULL) {
        if (m != NULL)
            api_map_unref(m);
        free(fs);
        return cc__err(ENOMEM, "cc_map: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    for (; submitted < nchunks; submitted++) {
        cc_future *f = cc__future_new_task(ex, fn, &m->chunks[submitted]);

        if (f == NULL) {
            failed = ENOMEM;
            failure = cc_error_copy(cc_last_error());
            break;
        }
        atomic_fetch_or_explicit(&f->state, CC__F_CHUNK,
                                 memory_order_relaxed);
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        failed = fwd_submit(ex, f);
        if (failed != 0) {
            /* not taken: the executor's reference and the chunk's are
             * ours to drop */
            atomic_fetch_sub_explicit(&m->refs, 1, memory_order_relaxed);
            failure = cc_error_copy(cc_last_error());
            cc__future_unref(f);
            cc__future_unref(f);
            break;
        }
        fs[submitted] = f;
    }
    if (failed == 0)
        failed = cc__map_collect(fs, submitted, deadline, &failure,
                                 &bad_chunk);
    if (bad_chunk != SIZE_MAX) /* its future is done: failed_at is set */
        bad_item = m->chunks[bad_chunk].failed_at;
    for (size_t c = 0; c < submitted; c++) {
        cc_future *f = fs[c];
        api_chunk *ch = &m->chunks[c];

        /* a finished chunk (failed ones too: the items before the
         * failure have their results) gives its results to the caller */
        if (!cc__future_cancel(f) && cc_future_done(f))
            for (size_t i = ch->start; i < ch->start + ch->count; i++) {
                results[i] = m->results[i];
                m->results[i] = NULL;
            }
        (void)cc_future_error(f); /* retrieved: cc_map reports it */
        cc_future_free(f);
    }
    free(fs);
    api_map_unref(m);
    return cc__map_result(failed, failure, bad_item, n, file, line);
}

/* An executor made by cc_executor_new (alive, or inside its destroy). */
static bool api_ok(cc_executor *ex)
{
    return ex != NULL &&
           (ex->magic == CC__EXECUTOR_MAGIC || ex->magic == API_DESTROYING) &&
           ex->ops->submit == fwd_submit;
}

cc_executor *cc_executor_new(const cc_executor_ops *ops, void *state,
                             const char *name_prefix)
{
    api_executor *a;
    unsigned n;

    if (ops == NULL)
        return cc__err_null(EINVAL, "cc_executor_new: ops is NULL");
    if (ops->kind == NULL || ops->submit == NULL || ops->shutdown == NULL ||
        ops->destroy == NULL)
        return cc__err_null(EINVAL, "cc_executor_new: ops needs kind, "
                                    "submit, shutdown and destroy");
    if ((ops->flags & ~(CC_EXECUTOR_REMOTE | CC_EXECUTOR_CHUNKS)) != 0)
        return cc__errf_null(EINVAL, "cc_executor_new: unknown flags 0x%x "
                                    "in cc_executor_ops.flags",
                            ops->flags &
                                ~(CC_EXECUTOR_REMOTE | CC_EXECUTOR_CHUNKS));
    if ((ops->flags & CC_EXECUTOR_CHUNKS) && !(ops->flags & CC_EXECUTOR_REMOTE))
        return cc__err_null(EINVAL, "cc_executor_new: CC_EXECUTOR_CHUNKS "
                                    "needs CC_EXECUTOR_REMOTE");
    if (CC__OPTS_RESERVED(ops, "cc_executor_new", "cc_executor_ops") != 0)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return cc__err_null(ENOMEM, "cc_executor_new: out of memory");
    a->iops.kind = ops->kind;
    a->iops.submit = fwd_submit;
    a->iops.shutdown = fwd_shutdown;
    a->iops.destroy = fwd_destroy;
    a->iops.max_workers = fwd_max_workers;
    if (ops->flags & CC_EXECUTOR_CHUNKS)
        a->iops.map = chunk_map;
    else if (ops->flags & CC_EXECUTOR_REMOTE)
        a->iops.map = item_map;
    a->ops = ops;
    a->state = state;
    a->base.magic = CC__EXECUTOR_MAGIC;
    a->base.ops = &a->iops;
    n = atomic_fetch_add(&api_counter, 1) + 1;
    snprintf(a->base.name, sizeof(a->base.name), "%s-%u",
             name_prefix != NULL ? name_prefix : ops->kind, n);
    cc__executor_register(&a->base); /* the exit rule (exit.c) */
    return &a->base;
}

void *cc_executor_state(cc_executor *ex)
{
    if (!api_ok(ex))
        return cc__err_null(EINVAL, "cc_executor_state: not an executor "
                                    "made by cc_executor_new");
    return api_of(ex)->state;
}

const char *cc_executor_name(cc_executor *ex)
{
    if (!cc__executor_ok(ex) && !api_ok(ex)) {
        cc__err(EINVAL, "cc_executor_name: not an executor");
        return "";
    }
    return ex->name;
}

/* ------------------------------------------------------------------- jobs */

/* A task future of an executor made by cc_executor_new, or -1 with EINVAL
 * recorded for `what`. */
static int check_job(cc_future *job, const char *what)
{
    uint32_t s;

    if (!cc__future_ok(job))
        return cc__errf(EINVAL, "%s: not a future", what);
    s = cc__future_state_word(job);
    if ((s & (CC__F_RUNNER | CC__F_USER)) || job->ex == NULL ||
        job->ex->ops->submit != fwd_submit)
        return cc__errf(EINVAL, "%s: not a job of an executor made by "
                                "cc_executor_new", what);
    return 0;
}

cc_fn cc_job_fn(cc_future *job)
{
    if (check_job(job, "cc_job_fn") != 0)
        return NULL;
    if (cc__future_state(job) == CC__F_FINISHED) {
        cc__err(EINVAL, "cc_job_fn: the job is finished");
        return NULL;
    }
    return job->fn;
}

void *cc_job_arg(cc_future *job)
{
    if (check_job(job, "cc_job_arg") != 0)
        return NULL;
    if (cc__future_state_word(job) & CC__F_CHUNK)
        return cc__err_null(EINVAL, "cc_job_arg: a chunk job has items "
                                    "(cc_job_items), not an argument");
    if (cc__future_state(job) == CC__F_FINISHED)
        return cc__err_null(EINVAL, "cc_job_arg: the job is finished");
    return job->arg;
}

size_t cc_job_items(cc_future *job, void *const **args)
{
    api_chunk *ch;

    if (args == NULL) {
        cc__err(EINVAL, "cc_job_items: args is NULL");
        return 0;
    }
    *args = NULL;
    if (check_job(job, "cc_job_items") != 0)
        return 0;
    if (cc__future_state(job) == CC__F_FINISHED) {
        cc__err(EINVAL, "cc_job_items: the job is finished");
        return 0;
    }
    if (!(cc__future_state_word(job) & CC__F_CHUNK))
        return 0; /* a plain job: no items, not an error */
    ch = job->arg;
    *args = ch->map->args + ch->start;
    return ch->count;
}

bool cc_job_start(cc_future *job)
{
    if (check_job(job, "cc_job_start") != 0)
        return false;
    if (cc__future_claim(job))
        return true;
    if (cc__future_state(job) != CC__F_CANCELLED)
        cc__err(EINVAL, "cc_job_start: the job was started already");
    return false;
}

/* Why the job cannot be finished with (result, result_is_blob, error), or
 * NULL when it can. */
static const char *finish_refused(cc_future *job, void *result,
                                  bool result_is_blob, cc_error *error)
{
    if (cc__future_state(job) != CC__F_RUNNING)
        return "cc_job_finish: the job is not started, or finished already";
    if (cc__future_state_word(job) & CC__F_CHUNK)
        return "cc_job_finish: a chunk job is finished with "
               "cc_job_finish_items";
    if (error == NULL && result_is_blob && result != NULL &&
        !cc_blob_is(result))
        return "cc_job_finish: result_is_blob, but the result is not a blob";
    return NULL;
}

int cc_job_finish(cc_future *job, void *result, bool result_is_blob,
                  cc_error *error)
{
    const char *why;

    if (check_job(job, "cc_job_finish") != 0) {
        cc_error_free(error); /* owned by the call */
        errno = EINVAL;
        return -1;
    }
    why = finish_refused(job, result, result_is_blob, error);
    if (why != NULL) {
        cc_error_free(error);
        return cc__err(EINVAL, why);
    }
    if (error == NULL && result_is_blob)
        atomic_fetch_or_explicit(&job->state, CC__F_OWNS_RESULT,
                                 memory_order_relaxed);
    cc__future_finish(job, error != NULL ? NULL : result, error);
    return 0;
}

/* Why the chunk job cannot be finished with (results, done, error), or
 * NULL when it can. */
static const char *finish_items_refused(cc_future *job, void *const *results,
                                        size_t done, const cc_error *error)
{
    uint32_t s = cc__future_state_word(job);
    const api_chunk *ch = job->arg;

    if (!(s & CC__F_CHUNK))
        return "cc_job_finish_items: not a chunk job (cc_job_finish)";
    if ((s & CC__F_STATE_MASK) != CC__F_RUNNING)
        return "cc_job_finish_items: the job is not started, or finished "
               "already";
    if (done > ch->count || (error == NULL && done != ch->count) ||
        (error != NULL && done == ch->count))
        return "cc_job_finish_items: done must be the item count when all "
               "succeeded, and the failed item's index when one failed";
    if (done > 0 && results == NULL)
        return "cc_job_finish_items: results is NULL";
    for (size_t i = 0; i < done; i++)
        if (results[i] != NULL && !cc_blob_is(results[i]))
            return "cc_job_finish_items: a result is not a blob";
    return NULL;
}

int cc_job_finish_items(cc_future *job, void *const *results, size_t done,
                        cc_error *error)
{
    const char *why;
    api_chunk *ch;

    if (check_job(job, "cc_job_finish_items") != 0) {
        cc_error_free(error); /* owned by the call */
        errno = EINVAL;
        return -1;
    }
    why = finish_items_refused(job, results, done, error);
    if (why != NULL) {
        cc_error_free(error);
        return cc__err(EINVAL, why);
    }
    ch = job->arg;
    for (size_t i = 0; i < done; i++)
        ch->map->results[ch->start + i] = results[i];
    if (error != NULL)
        ch->failed_at = ch->start + done;
    /* the record stays in the arg slot: a success stores it as the
     * result (never handed out: cc_map reads the results above), a
     * failure leaves the slot alone */
    cc__future_finish(job, error != NULL ? NULL : ch, error);
    return 0;
}

void cc_job_release(cc_future *job)
{
    if (check_job(job, "cc_job_release") != 0)
        return;
    if (cc__future_state_word(job) & CC__F_CHUNK) {
        api_chunk *ch = job->arg; /* see chunk_map */

        cc__future_unref(job);
        api_map_unref(ch->map);
        return;
    }
    cc__future_unref(job);
}
