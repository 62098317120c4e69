/*
 * future.h - the cc_future record and the executor interface (internal).
 *
 * State word: the low two bits are PENDING, RUNNING, FINISHED or CANCELLED;
 * the other bits are flags.  WATCHED says that watchers or callbacks are
 * registered.  Every transition is one atomic read-modify-write, so a
 * completion and a registration are totally ordered: either the completion
 * sees WATCHED and takes `mu` to notify, or the registration sees the
 * future done and does not register.  Completing a future nobody watches
 * costs one exchange and no lock.
 *
 * The record is one cache line (64 bytes): the task's fn and arg share
 * their slots with the error and the result, which are written once, when
 * the task is done, before the state becomes FINISHED (release), and read
 * only after seeing FINISHED (acquire).  FAILED tells which of the two a
 * finished future holds (with OWNS_RESULT, a successful result is a blob
 * freed with the future).  `mu` guards the watcher list and the callbacks;
 * `next` links the future into its executor's queue and belongs to it.
 */
#ifndef CC_INTERNAL_FUTURE_H
#define CC_INTERNAL_FUTURE_H

#include <stdatomic.h>

#include "concur/future.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define CC__FUTURE_MAGIC 0x46555455u   /* "FUTU" */
#define CC__EXECUTOR_MAGIC 0x45584543u /* "EXEC" */

enum {
    CC__F_PENDING = 0,
    CC__F_RUNNING = 1,
    CC__F_FINISHED = 2,
    CC__F_CANCELLED = 3,
    CC__F_STATE_MASK = 3,
    CC__F_WATCHED = 1u << 2,    /* watchers or callbacks registered */
    CC__F_FAILED = 1u << 3,     /* finished with an error (in `error`) */
    CC__F_USER = 1u << 4,       /* made by cc_future_new */
    CC__F_ERROR_SEEN = 1u << 5, /* the error was retrieved */
    CC__F_TASK = 1u << 6,       /* a task's future: `task` points to it
                                   (until it ends; under mu) */
    CC__F_AWAITED = 1u << 7,    /* someone asked for its outcome */
    CC__F_OWNS_RESULT = 1u << 8, /* a successful result is a blob the
                                    future owns: the last reference frees
                                    it with cc_blob_free (process pool) */
    /* flags a completion keeps */
    CC__F_STICKY = CC__F_USER | CC__F_TASK | CC__F_AWAITED |
                   CC__F_OWNS_RESULT,
};

/* Something to tell when a future is done; lives with whoever waits. */
typedef struct cc__watcher {
    struct cc__watcher *next;   /* in the future's list; guarded by f->mu */
    struct cc__watcher *prev;
    bool linked;
    void (*notify)(struct cc__watcher *w, cc_future *f); /* called under f->mu */
    void *data;
} cc__watcher;

typedef struct cc__callback {
    struct cc__callback *next;
    cc_done_fn fn;
    void *arg;
} cc__callback;

struct cc_future {
    uint32_t magic;              /* CC__FUTURE_MAGIC while alive */
    _Atomic uint32_t state;      /* CC__F_* state and flags */
    _Atomic uint32_t refs;
    cc__mutex mu;                /* guards watchers and callbacks */
    union {
        cc_fn fn;                /* the task, until it has run */
        cc_error *error;         /* owned, once FINISHED | FAILED */
    };
    union {
        void *arg;               /* the task's argument, until it has run */
        void *result;            /* once FINISHED and not FAILED */
    };
    union {
        cc_executor *ex;         /* who runs it (debug checks only) */
        struct cc__task *task;   /* a task's future: the task, until it ends */
    };
    struct cc_future *_Atomic next; /* executor queue link */
    cc__watcher *watchers;
    cc__callback *callbacks;     /* in order of addition */
};

_Static_assert(sizeof(struct cc_future) <= 64, "a future is one cache line");

static inline bool cc__future_ok(const cc_future *f)
{
    return f != NULL && f->magic == CC__FUTURE_MAGIC;
}

static inline uint32_t cc__future_state(cc_future *f)
{
    return atomic_load_explicit(&f->state, memory_order_acquire) &
           CC__F_STATE_MASK;
}

/* A task future for `ex`, holding two references: the caller's and the
 * executor's.  NULL with ENOMEM recorded. */
cc_future *cc__future_new_task(cc_executor *ex, cc_fn fn, void *arg);

/*
 * Run a queued task in the calling thread: move it to RUNNING (returns
 * false, doing nothing, when it was cancelled first), call fn, complete the
 * future with the result or the pending failure.  Does not drop a reference.
 */
bool cc__future_run(cc_future *f);

/* Complete with a result or an error (owned), from RUNNING or PENDING. */
void cc__future_finish(cc_future *f, void *result, cc_error *error);

/* Complete a RUNNING future as cancelled (a task that ended cancelled). */
void cc__future_finish_cancelled(cc_future *f);

/* cc_wait, with cancelled futures counted as failed when cancel_fails. */
int cc__wait(cc_future **fs, size_t n, int return_when, bool cancel_fails,
             double timeout);

/* Move a PENDING future to RUNNING so that the caller may complete it with
 * cc__future_finish; false when it was not pending (cancelled, say). */
bool cc__future_claim(cc_future *f);

/* Cancel if PENDING; true when cancelled (now or before). */
bool cc__future_cancel(cc_future *f);

/* Register a watcher: false (not registered) when the future is already
 * done.  Unregister with cc__future_unwatch, which is safe if the watcher
 * was already notified. */
bool cc__future_watch(cc_future *f, cc__watcher *w);
void cc__future_unwatch(cc_future *f, cc__watcher *w);

/* Release one reference. */
void cc__future_unref(cc_future *f);

/* ---------------------------------------------------------------- executors */

/*
 * The executor interface.  Every back end (thread pool, process pool,
 * cluster) starts its record with a cc_executor and fills in the table.
 *   submit:   take the future (and its executor reference) into the queue;
 *             0, or an errno (ESHUTDOWN, CC_EBROKEN) with the error recorded.
 *   shutdown: as cc_executor_shutdown; 0 or -1 with the error recorded.
 *   destroy:  free the record after a waiting shutdown.
 *   map:      optional; NULL uses the generic chunked map over submit.
 *             cc_map calls it after checking its arguments, with n > 0,
 *             chunksize resolved (never 0 or CC_CHUNKSIZE_AUTO) and the
 *             absolute deadline (cc_deadline); it implements cc_map's
 *             whole contract (order, first failure by index, cancellation
 *             of the rest, the deadline) and returns 0 or -1 with the
 *             error recorded.
 */
typedef struct cc__executor_ops {
    const char *kind;
    int (*submit)(cc_executor *ex, cc_future *f);
    int (*shutdown)(cc_executor *ex, bool wait, bool cancel_futures);
    void (*destroy)(cc_executor *ex);
    int (*max_workers)(cc_executor *ex);
    /* Debug mode: true when every worker is busy (a task of this executor
     * waiting on another of its futures may then wait forever). */
    bool (*saturated)(cc_executor *ex);
    int (*map)(cc_executor *ex, cc_fn fn, void **args, size_t n,
               size_t chunksize, void **results, double deadline);
} cc__executor_ops;

struct cc_executor {
    uint32_t magic;                 /* CC__EXECUTOR_MAGIC while alive */
    const cc__executor_ops *ops;
    char name[32];                  /* "ThreadPool-1", for messages */
};

static inline bool cc__executor_ok(const cc_executor *ex)
{
    return ex != NULL && ex->magic == CC__EXECUTOR_MAGIC;
}

#endif
