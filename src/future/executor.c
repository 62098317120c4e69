/*
 * executor.c - the executor front end: cc_submit, cc_map, shutdown and free,
 * over the table of operations each back end provides (future layer).
 *
 * cc_map sends the items in chunks.  Chunk tasks read a copy of the args and
 * write their results into a map context on the heap, never into the
 * caller's arrays: a chunk still running when cc_map returns (at its
 * deadline) then uses memory that stays valid.  The context is reference-
 * counted: the caller holds one reference and every submitted chunk one.  A
 * chunk that runs drops its own at the end; for a chunk that never runs
 * (cancelled, or failed by a broken pool) the caller drops it, which it can
 * tell from the chunk's `ran` flag once the future is done.  A back end
 * with a map operation of its own (the process pool, which sends a chunk as
 * one message) takes over after the arguments are checked and the chunk
 * size is resolved.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/future.h"
#include "internal/log.h"

cc_future *cc_submit(cc_executor *ex, cc_fn fn, void *arg)
{
    cc_future *f;

    if (!cc__executor_ok(ex))
        return cc__err_null(EINVAL, "cc_submit: not an executor");
    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_submit: fn is NULL");
    f = cc__future_new_task(ex, fn, arg);
    if (f == NULL)
        return NULL;
    if (ex->ops->submit(ex, f) != 0) {
        /* Not taken: drop both references (the executor's and ours). */
        cc__future_unref(f);
        cc__future_unref(f);
        return NULL;
    }
    return f;
}

int cc_executor_shutdown(cc_executor *ex, bool wait, bool cancel_futures)
{
    if (!cc__executor_ok(ex))
        return cc__err(EINVAL, "cc_executor_shutdown: not an executor");
    return ex->ops->shutdown(ex, wait, cancel_futures, CC__NS_FOREVER);
}

int cc_executor_shutdown_timeout(cc_executor *ex, bool wait,
                                 bool cancel_futures, double timeout)
{
    int64_t deadline;

    if (!cc__executor_ok(ex))
        return cc__err(EINVAL, "cc_executor_shutdown_timeout: not an "
                               "executor");
    if (cc__deadline_for(timeout, "cc_executor_shutdown_timeout",
                         &deadline) != 0)
        return -1;
    if (timeout == 0)
        deadline = 0; /* do not wait: EAGAIN, not ETIMEDOUT */
    return ex->ops->shutdown(ex, wait, cancel_futures, deadline);
}

int cc__executor_join(cc_executor *ex, cc_thread *t, int64_t deadline)
{
    double left = deadline == 0 ? 0 : cc__seconds_until(deadline);
    int code;

    if (cc_thread_join(t, NULL, left) == 0)
        return 0;
    code = errno;
    if (code == EAGAIN && deadline != 0)
        code = ETIMEDOUT;
    if (code == ECANCELED)
        return cc__errf(ECANCELED, "cc_executor_shutdown: the task was "
                                   "cancelled while %s '%s' shut down",
                        ex->ops->kind, ex->name);
    if (code == ETIMEDOUT || code == EAGAIN)
        return cc__errf(code, "cc_executor_shutdown: %s '%s' is shut down "
                              "but its workers are still finishing",
                        ex->ops->kind, ex->name);
    return -1; /* the thread's own error: cc_thread_join recorded it */
}

void cc_executor_free(cc_executor *ex)
{
    if (!cc__executor_ok(ex))
        return;
    if (ex->ops->shutdown(ex, true, false, CC__NS_FOREVER) != 0) {
        /* A worker freeing its own executor: its siblings still run, so
         * freeing now would pull the executor from under them. */
        cc__logf(CC_LOG_ERROR, "concur: cc_executor_free(%s '%s') refused: %s",
                 ex->ops->kind, ex->name, cc_errmsg());
        return;
    }
    cc__executor_unregister(ex);
    ex->magic = 0;
    ex->ops->destroy(ex);
}

const char *cc_executor_kind(cc_executor *ex)
{
    return cc__executor_ok(ex) ? ex->ops->kind : "";
}

int cc_executor_max_workers(cc_executor *ex)
{
    return cc__executor_ok(ex) ? ex->ops->max_workers(ex) : 0;
}

/* --------------------------------------------------------------------- map */

typedef struct map_ctx map_ctx;

typedef struct map_chunk {
    map_ctx *ctx;
    size_t start;          /* items [start, end) */
    size_t end;
    size_t failed_at;      /* the item that failed, SIZE_MAX if none; read
                              once the chunk's future is done */
    _Atomic bool ran;      /* the task started (it drops its own reference) */
} map_chunk;

struct map_ctx {
    _Atomic size_t refs;   /* the caller + one per submitted chunk */
    cc_fn fn;
    size_t n;
    void **args;           /* a copy of the caller's args */
    void **results;        /* n slots, written by the chunk tasks */
    map_chunk *chunks;
};

static void map_ctx_unref(map_ctx *ctx)
{
    if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(ctx->args);
    free(ctx->results);
    free(ctx->chunks);
    free(ctx);
}

static void *run_chunk(void *arg)
{
    map_chunk *c = arg;
    map_ctx *ctx = c->ctx;
    void *outcome = c; /* any non-NULL value means success */

    atomic_store_explicit(&c->ran, true, memory_order_relaxed);
    for (size_t i = c->start; i < c->end; i++) {
        void *r = ctx->fn(ctx->args[i]);

        if (r == NULL && cc_error_pending() != NULL) {
            /* The item's error stays pending: it becomes the chunk's,
             * and cc_map (in the caller) names the item. */
            c->failed_at = i;
            outcome = NULL;
            break;
        }
        ctx->results[i] = r;
    }
    map_ctx_unref(ctx);
    return outcome;
}

static map_ctx *map_ctx_new(cc_fn fn, void **args, size_t n, size_t chunksize,
                            size_t nchunks)
{
    map_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->args = malloc(n * sizeof(void *));
    ctx->results = calloc(n, sizeof(void *));
    ctx->chunks = calloc(nchunks, sizeof(map_chunk));
    if (ctx->args == NULL || ctx->results == NULL || ctx->chunks == NULL) {
        free(ctx->args);
        free(ctx->results);
        free(ctx->chunks);
        free(ctx);
        return NULL;
    }
    memcpy(ctx->args, args, n * sizeof(void *));
    atomic_init(&ctx->refs, 1);
    ctx->fn = fn;
    ctx->n = n;
    for (size_t c = 0; c < nchunks; c++) {
        map_chunk *ch = &ctx->chunks[c];

        ch->ctx = ctx;
        ch->start = c * chunksize;
        ch->end = ch->start + chunksize < n ? ch->start + chunksize : n;
        ch->failed_at = SIZE_MAX;
        atomic_init(&ch->ran, false);
    }
    return ctx;
}

/*
 * Settle chunk c at the end of cc_map: cancel it if it has not started,
 * copy what it computed if it is done, and drop its reference if its task
 * never ran.  A chunk still running keeps its reference and is left alone.
 */
static void settle_chunk(map_ctx *ctx, size_t c, cc_future *f, void **results)
{
    map_chunk *ch = &ctx->chunks[c];
    bool cancelled = cc__future_cancel(f);

    if (cancelled || cc_future_done(f)) {
        if (!atomic_load_explicit(&ch->ran, memory_order_relaxed))
            map_ctx_unref(ctx);
        else if (!cancelled)
            for (size_t i = ch->start; i < ch->end; i++)
                results[i] = ctx->results[i];
    }
    (void)cc_future_error(f); /* retrieved: cc_map reports it */
    cc_future_free(f);
}

int cc_map_at(const char *file, int line, cc_executor *ex, cc_fn fn,
              void **args, size_t n, size_t chunksize, void **results,
              double timeout)
{
    map_ctx *ctx;
    cc_future **fs;
    size_t nchunks;
    size_t submitted = 0;
    size_t bad_chunk = SIZE_MAX;
    size_t bad_item = SIZE_MAX;
    int64_t deadline_ns;
    double deadline;
    cc_error *failure = NULL; /* a copy of the first failure, if any */
    int failed = 0;           /* its code (kept even if the copy failed) */

    if (!cc__executor_ok(ex))
        return cc__err(EINVAL, "cc_map: not an executor");
    if (fn == NULL || (n > 0 && (args == NULL || results == NULL)))
        return cc__err(EINVAL, "cc_map: fn, args and results are required");
    if (cc__deadline_for(timeout, "cc_map", &deadline_ns) != 0)
        return -1;
    if (n == 0)
        return 0;
    deadline = cc_deadline(timeout);
    if (chunksize == CC_CHUNKSIZE_AUTO) {
        int workers = ex->ops->max_workers(ex);
        /* an executor that reports no limit (concur/executor.h) counts
         * as one worker */
        size_t per = 4 * (size_t)(workers > 0 ? workers : 1);

        chunksize = (n + per - 1) / per;
    }
    if (chunksize == 0)
        chunksize = 1;
    if (ex->ops->map != NULL) /* a back end with its own (process pool) */
        return ex->ops->map(ex, fn, args, n, chunksize, results, deadline,
                            file, line);
    nchunks = n / chunksize + (n % chunksize != 0);
    ctx = map_ctx_new(fn, args, n, chunksize, nchunks);
    fs = calloc(nchunks, sizeof(*fs));
    if (ctx == NULL || fs == NULL) {
        if (ctx != NULL)
            map_ctx_unref(ctx);
        free(fs);
        return cc__err(ENOMEM, "cc_map: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;

    for (; submitted < nchunks; submitted++) {
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
        fs[submitted] = cc_submit(ex, run_chunk, &ctx->chunks[submitted]);
        if (fs[submitted] == NULL) {
            atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_relaxed);
            failed = errno;
            failure = cc_error_copy(cc_last_error());
            break;
        }
    }
    if (failed == 0)
        failed = cc__map_collect(fs, submitted, deadline, &failure,
                                 &bad_chunk);
    if (bad_chunk != SIZE_MAX) /* its future is done: failed_at is set */
        bad_item = ctx->chunks[bad_chunk].failed_at;
    for (size_t c = 0; c < submitted; c++)
        settle_chunk(ctx, c, fs[c], results);
    free(fs);
    map_ctx_unref(ctx);
    return cc__map_result(failed, failure, bad_item, n, file, line);
}

int (cc_map)(cc_executor *ex, cc_fn fn, void **args, size_t n,
             size_t chunksize, void **results, double timeout)
{
    return cc_map_at(NULL, 0, ex, fn, args, n, chunksize, results, timeout);
}

int cc__map_collect(cc_future **fs, size_t n, double deadline,
                    cc_error **failure, size_t *chunk)
{
    int failed;

    *failure = NULL;
    *chunk = SIZE_MAX;
    for (size_t c = 0; c < n; c++) {
        if (cc_future_result(fs[c], NULL, cc_remaining(deadline)) == 0)
            continue;
        failed = errno;
        /* The deadline passed while an earlier chunk was collected: the
         * look at this one had no time left (cc_remaining is 0), and a
         * look with timeout 0 at an unfinished future says EAGAIN.  For
         * the call that is its deadline: ETIMEDOUT. */
        if (failed == EAGAIN) {
            cc__errf(ETIMEDOUT, "cc_map: chunk %zu of %zu unfinished at the "
                                "deadline", c + 1, n);
            failed = ETIMEDOUT;
        }
        *failure = cc_error_copy(cc_last_error());
        if (failed == ETIMEDOUT || failed == ECANCELED)
            return failed;
        *chunk = c;
        /* A chunk failed: cancel what has not started, let the running
         * ones finish (within the deadline) so their results are kept. */
        for (size_t k = c + 1; k < n; k++)
            cc__future_cancel(fs[k]);
        for (size_t k = c + 1; k < n; k++)
            (void)cc_future_result(fs[k], NULL, cc_remaining(deadline));
        return failed;
    }
    return 0;
}

/* The error of cc_map(..., file, line) whose item failed with `cause`:
 * the arguments after cause fill the format (args index, position, n,
 * cause's message). */
static cc_error *item_error(const char *file, int line, const cc_error *cause,
                            ...)
{
    va_list ap;
    cc_error *e;

    va_start(ap, cause);
    e = cc__error_vnew(file, line, cause->code, cause,
                       "cc_map: args[%zu] (item %zu of %zu) failed: %s", ap);
    va_end(ap);
    return e;
}

int cc__map_result(int failed, cc_error *failure, size_t item, size_t n,
                   const char *file, int line)
{
    if (failure != NULL && item != SIZE_MAX) {
        cc_error *e = item_error(file, line, failure, item, item + 1, n,
                                 failure->message);

        cc_error_free(failure);
        return cc__err_adopt(e); /* also the static out-of-memory one */
    }
    if (failure != NULL)
        return cc__err_adopt(failure);
    if (failed != 0)
        return cc__err(failed, "cc_map failed (out of memory recording why)");
    return 0;
}
