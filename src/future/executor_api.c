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
 * unref).
 *
 * cc_executor_free clears the executor's magic before it destroys it; the
 * record is marked DESTROYING while the implementation's destroy runs, so
 * that cc_executor_state and cc_executor_name still answer it there.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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
    if (cc__future_state(job) == CC__F_FINISHED)
        return cc__err_null(EINVAL, "cc_job_arg: the job is finished");
    return job->arg;
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

void cc_job_release(cc_future *job)
{
    if (check_job(job, "cc_job_release") != 0)
        return;
    cc__future_unref(job);
}
