/*
 * future.h - the cc_future record, the runner interface and the executor
 * interface (internal; layer future).
 *
 * State word: the low two bits are PENDING, RUNNING, FINISHED or CANCELLED;
 * the other bits are flags.  WATCHED says that watchers or callbacks are
 * registered.  Every transition is one atomic read-modify-write, so a
 * completion and a registration are totally ordered: either the completion
 * sees WATCHED and takes `mu` to notify, or the registration sees the
 * future done and does not register.  Completing a future nobody watches
 * costs one exchange and no lock.  The transitions, each asserted:
 *
 *     PENDING --run/claim--> RUNNING --finish--> FINISHED (FAILED or not)
 *        |                      `--finish_cancelled--> CANCELLED (runners)
 *        `--cancel--> CANCELLED           PENDING --finish--> FINISHED
 *
 * The record is one cache line (64 bytes): the task's fn and arg share
 * their slots with the error and the result, which are written once, when
 * the task is done, before the state becomes FINISHED (release), and read
 * only after seeing FINISHED (acquire).  FAILED tells which of the two a
 * finished future holds (with OWNS_RESULT, a successful result is a blob
 * freed with the future).  `mu` guards the watcher list and `runner`;
 * `next` links the future into its executor's queue and belongs to it.
 *
 * Two kinds of futures: an executor's (a queued fn(arg) that a worker runs
 * with cc__future_run) and a runner's (RUNNER: made RUNNING by whoever runs
 * it -- a task of the aio layer -- and completed by it).  The runner is the
 * one interface between a task and its future, and the only way the future
 * layer reaches up: cc_future_cancel on a runner's future calls the
 * runner's cancel, without knowing what a task is.
 */
#ifndef CC_INTERNAL_FUTURE_H
#define CC_INTERNAL_FUTURE_H

#include <stdatomic.h>

#include "concur/future.h"
#include "concur/sync.h"
#include "internal/assert.h"
#include "internal/list.h"
#include "internal/mutex.h"
#include "internal/vg.h"
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
    CC__F_RUNNER = 1u << 6,     /* run by a cc__runner (a task): `runner`
                                   points to it until it ends (under mu) */
    CC__F_AWAITED = 1u << 7,    /* someone asked for its outcome */
    CC__F_OWNS_RESULT = 1u << 8, /* a successful result is a blob the
                                    future owns: the last reference frees
                                    it with cc_blob_free (process pool) */
    CC__F_CHUNK = 1u << 9,      /* a cc_map chunk job of an executor made
                                   by cc_executor_new: the arg slot holds
                                   its chunk record in every state (its
                                   completion stores the record as the
                                   result; see executor_api.c) */
    /* flags a completion keeps */
    CC__F_STICKY = CC__F_USER | CC__F_RUNNER | CC__F_AWAITED |
                   CC__F_OWNS_RESULT | CC__F_CHUNK,
};

/*
 * Something to tell when a future is done; lives with whoever waits.  A
 * watcher's notify runs under f->mu, at completion, after the watcher was
 * taken off the list.  A user's done-callback is a watcher too, with no
 * notify: it is run after f->mu is released, in the order of registration.
 */
typedef struct cc__watcher {
    cc__link link;               /* in the future's list; guarded by f->mu */
    void (*notify)(struct cc__watcher *w, cc_future *f); /* NULL: callback */
    void *data;
} cc__watcher;

/* A user's done-callback (cc_future_add_done_callback); malloc'd. */
typedef struct cc__callback {
    cc__watcher w;               /* notify NULL */
    cc_done_fn fn;
    void *arg;
} cc__callback;

/*
 * Whoever runs a RUNNER future (a task of the aio layer).  cancel asks it
 * to stop; it is called with the future's mu held -- so the runner cannot
 * end and detach meanwhile -- from any thread, and must not take that mu,
 * block or run user code.
 */
typedef struct cc__runner {
    void (*cancel)(struct cc__runner *r);
} cc__runner;

struct cc_future {
    uint32_t magic;              /* CC__FUTURE_MAGIC while alive */
    _Atomic uint32_t state;      /* CC__F_* state and flags */
    _Atomic uint32_t refs;
    cc__mutex mu;                /* guards watchers and runner */
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
        cc__runner *runner;      /* RUNNER: who runs it, until it ends */
    };
    struct cc_future *_Atomic next; /* executor queue link */
    cc__list watchers;           /* cc__watcher: waiters and callbacks */
};

/* One cache line -- in release builds: with assertions on, the mutex
 * carries its holder and the record grows by 16 bytes. */
_Static_assert(sizeof(struct cc_future) <= 64 + (CC__ASSERTS_ON ? 16 : 0),
               "a future is one cache line");

static inline bool cc__future_ok(const cc_future *f)
{
    return f != NULL && f->magic == CC__FUTURE_MAGIC;
}

/* The state word, read with acquire; for helgrind and DRD (internal/vg.h)
 * also an acquire on f, pairing with the release every transition that
 * publishes (a completion, a cancellation) makes on f first. */
static inline uint32_t cc__future_state_word(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);

    CC__VG_ACQUIRE(f);
    return s;
}

static inline uint32_t cc__future_state(cc_future *f)
{
    return cc__future_state_word(f) & CC__F_STATE_MASK;
}

/* A task future for `ex`, holding two references: the caller's and the
 * executor's.  NULL with ENOMEM recorded. */
cc_future *cc__future_new_task(cc_executor *ex, cc_fn fn, void *arg);

/* A RUNNER future, already RUNNING, run by r: two references, the
 * caller's and the runner's.  NULL with ENOMEM recorded. */
cc_future *cc__future_new_run_by(cc__runner *r);

/* The runner has ended (before it completes the future): cancellers stop
 * reaching it from now on. */
void cc__future_runner_detach(cc_future *f);

/* Call fn(runner, arg) under f->mu while f's runner is attached; false
 * (fn not called) once it has detached or for a non-RUNNER future. */
bool cc__future_runner_call(cc_future *f, void (*fn)(cc__runner *, void *),
                            void *arg);

/*
 * Run a queued task in the calling thread: move it to RUNNING (returns
 * false, doing nothing, when it was cancelled first), call fn, complete the
 * future with the result or the pending failure.  Does not drop a reference.
 */
bool cc__future_run(cc_future *f);

/* Complete with a result or an error (owned), from RUNNING or PENDING. */
void cc__future_finish(cc_future *f, void *result, cc_error *error);

/* Complete a RUNNING future as cancelled (a runner that ended cancelled). */
void cc__future_finish_cancelled(cc_future *f);

/*
 * The collecting half of cc_map, shared by every executor's map: wait for
 * the n chunk futures fs[0..n) in input order, each until `deadline`
 * (cc_deadline seconds).  At the first chunk that failed, cancel the chunks
 * that have not started and let the running ones finish (within the
 * deadline) so that their results can be kept; stop at once on ETIMEDOUT
 * or ECANCELED (the caller was cancelled, or the executor is cancelling
 * its queue).  Returns 0, or the errno of the first failure with
 * *failure set to a copy of its error (NULL when out of memory for it)
 * and *chunk to the index of the chunk that failed (SIZE_MAX: none did,
 * the deadline or a cancellation stopped the call).
 */
int cc__map_collect(cc_future **fs, size_t n, double deadline,
                    cc_error **failure, size_t *chunk);

/*
 * cc_map's return: 0 when failed is 0, else -1 with `failure` (owned;
 * may be NULL) made the caller's error, or errno = failed.  When item
 * args[item] of n failed (item SIZE_MAX: the failure is not an item's),
 * the caller's error is "cc_map: args[7] (item 8 of 100) failed: <its
 * message>", raised at file:line (cc_map's call site; file NULL: none) in
 * the calling thread, with the item's error as its cause.
 */
int cc__map_result(int failed, cc_error *failure, size_t item, size_t n,
                   const char *file, int line);

/* cc_wait, with cancelled futures counted as failed when cancel_fails. */
int cc__wait(cc_future **fs, size_t n, int return_when, bool cancel_fails,
             double timeout);

/* Move a PENDING future to RUNNING so that the caller may complete it with
 * cc__future_finish; false when it was not pending (cancelled, say). */
bool cc__future_claim(cc_future *f);

/* Cancel if PENDING; true when cancelled (now or before). */
bool cc__future_cancel(cc_future *f);

/* Register a watcher (w->notify and w->data set; its link is initialised
 * here): false (not registered) when the future is already done.
 * Unregister with cc__future_unwatch, which is safe if the watcher was
 * already notified or never registered. */
bool cc__future_watch(cc_future *f, cc__watcher *w);
void cc__future_unwatch(cc_future *f, cc__watcher *w);

/* Release one reference. */
void cc__future_unref(cc_future *f);

/* ---------------------------------------------------------------- executors */

/*
 * The executor interface.  Every back end (the thread pool, the process
 * pool) starts its record with a cc_executor and fills in the table.
 *   submit:   take the future (and its executor reference) into the queue;
 *             0, or an errno (ESHUTDOWN, CC_EBROKEN) with the error recorded.
 *   shutdown: as cc_executor_shutdown_timeout, waiting (when wait) until
 *             `deadline` (absolute, cc__now_ns; CC__NS_FOREVER: none; 0:
 *             do not wait, EAGAIN when not done); 0 or -1 with the error
 *             recorded (ETIMEDOUT, EAGAIN, ECANCELED, EDEADLK).  A later
 *             call may wait again.
 *   destroy:  free the record after a waiting shutdown.
 *   map:      optional; NULL uses the generic chunked map over submit.
 *             cc_map calls it after checking its arguments, with n > 0,
 *             chunksize resolved (never 0 or CC_CHUNKSIZE_AUTO) and the
 *             absolute deadline (cc_deadline); it implements cc_map's
 *             whole contract (order, first failure by index, cancellation
 *             of the rest, the deadline) and returns 0 or -1 with the
 *             error recorded (file and line: cc_map's call site, for
 *             cc__map_result).
 */
typedef struct cc__executor_ops {
    const char *kind;
    int (*submit)(cc_executor *ex, cc_future *f);
    int (*shutdown)(cc_executor *ex, bool wait, bool cancel_futures,
                    int64_t deadline);
    void (*destroy)(cc_executor *ex);
    int (*max_workers)(cc_executor *ex);
    /* Debug mode: true when every worker is busy (a task of this executor
     * waiting on another of its futures may then wait forever). */
    bool (*saturated)(cc_executor *ex);
    int (*map)(cc_executor *ex, cc_fn fn, void **args, size_t n,
               size_t chunksize, void **results, double deadline,
               const char *file, int line);
} cc__executor_ops;

struct cc_executor {
    uint32_t magic;                 /* CC__EXECUTOR_MAGIC while alive */
    const cc__executor_ops *ops;
    char name[32];                  /* "ThreadPool-1", for messages */
    /* the exit registry (src/future/exit.c), under its lock */
    cc__link reg_link;              /* on the registry's (or the exited) list */
    unsigned reg_generation;        /* the fork generation it joined in */
    bool registered;
};

/*
 * The exit registry (src/future/exit.c).  A back end registers its
 * executor once it is made (the first registration installs the atexit
 * hook that waits for every registered executor's work), and
 * cc_executor_free unregisters it before destroying it; neither is on the
 * submit path.  unregister waits while the exit hook is using ex.
 */
void cc__executor_register(cc_executor *ex);
void cc__executor_unregister(cc_executor *ex);

/*
 * Join a worker (or manager) thread of an executor by `deadline` (as the
 * shutdown operation gets it).  0, or -1 with ETIMEDOUT, EAGAIN (deadline
 * 0) or ECANCELED recorded, naming the executor.
 */
int cc__executor_join(cc_executor *ex, cc_thread *t, int64_t deadline);

static inline bool cc__executor_ok(const cc_executor *ex)
{
    return ex != NULL && ex->magic == CC__EXECUTOR_MAGIC;
}

#endif
