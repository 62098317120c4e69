/*
 * fiber.h - who waits when it is not a thread: the interface a coroutine
 * implementation plugs into the core, and cancellation (internal; layer
 * core).
 *
 * The core parks and wakes two kinds of waiters through one protocol
 * (internal/waiter.h).  A context with no fiber is a plain thread: the
 * core parks it on a futex itself.  A context with a fiber belongs to a
 * coroutine: the core hands it to the fiber's operations, which the aio
 * layer implements for its tasks (src/aio/task.c).  That is the whole
 * contract between the primitives and the coroutine runtime; nothing
 * below aio knows what a task, a loop or a stack is.
 *
 *   suspend(f, w, deadline)  called by f itself, from cc__waiter_park,
 *       after the core checked that f is not cancelled and the deadline
 *       has not passed.  Switch away until w has left PARKED and f was
 *       made ready again: by a waker's claim (which is always followed by
 *       exactly one wake(f)), by f's deadline (the implementation CASes w
 *       PARKED -> TIMEDOUT with cc__waiter_give_up and resumes f), or by a
 *       cancellation (CAS to CANCELLED, then resume).  Must switch away
 *       even when w was claimed before it could: the wake that follows the
 *       claim is what resumes it (see the invariants in docs/ARCHITECTURE.md).
 *   wake(f)  make f ready again after its waiter was claimed; any thread.
 *
 * Cancellation is level-triggered, as in Trio and libdill: once `cancelled`
 * is set, every blocking call the fiber makes outside a shield fails with
 * ECANCELED until it returns.  A blocking call checks at its entry
 * (cc__checkpoint: "may I block here?") and the core checks again before
 * suspending; the implementation moves a fiber already suspended out of
 * its wait.  `shield` counts open shield scopes (cc_shield_push): while it
 * is non-zero the flag has no effect.
 */
#ifndef CC_INTERNAL_FIBER_H
#define CC_INTERNAL_FIBER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/ctx.h"

struct cc__waiter;
typedef struct cc__fiber cc__fiber;

typedef struct cc__fiber_ops {
    void (*suspend)(cc__fiber *f, struct cc__waiter *w, int64_t deadline);
    void (*wake)(cc__fiber *f);
} cc__fiber_ops;

struct cc__fiber {
    const cc__fiber_ops *ops;   /* fixed for the fiber's life */
    _Atomic bool cancelled;     /* cancellation requested; set by any thread,
                                   never cleared */
    int shield;                 /* open shield scopes; the fiber's own
                                   thread only */
};

/* The fiber of the calling context, or NULL in a plain thread. */
static inline cc__fiber *cc__fiber_current(void)
{
    return cc__ctx_get()->fiber;
}

/* True when f (not NULL) is cancelled and not inside a shield. */
static inline bool cc__fiber_cancel_pending(const cc__fiber *f)
{
    return f->shield == 0 &&
           atomic_load_explicit(&f->cancelled, memory_order_relaxed);
}

/* True when the calling context is a fiber that has been cancelled and is
 * not inside a shield: its blocking calls then fail with ECANCELED. */
static inline bool cc__cancel_pending(void)
{
    cc__fiber *f = cc__fiber_current();

    return f != NULL && cc__fiber_cancel_pending(f);
}

/*
 * Mask the calling fiber's cancellation for a wait that must not be cut
 * short (re-taking a condition's lock, waiting for a group's members to
 * end): a shield without a deadline scope of its own, so it cannot fail.
 * Does nothing in a thread.  Pair every mask with one unmask.
 */
static inline void cc__cancel_mask(void)
{
    cc__fiber *f = cc__fiber_current();

    if (f != NULL)
        f->shield++;
}

static inline void cc__cancel_unmask(void)
{
    cc__fiber *f = cc__fiber_current();

    if (f != NULL && f->shield > 0)
        f->shield--;
}

/*
 * The entry check of every blocking call (a checkpoint, as in Trio and
 * libdill): returns -1 with ECANCELED recorded ("<what>: the task was
 * cancelled") when the calling task is cancelled and not shielded, else 0.
 * Calls with timeout 0 never block and skip it.
 */
int cc__checkpoint(const char *what);

/* Initialise a fiber's core part (not cancelled, no shield). */
void cc__fiber_init(cc__fiber *f, const cc__fiber_ops *ops);

/* Ask f to stop: sets the flag (any thread).  Moving f out of a wait it is
 * suspended in is the implementation's part. */
void cc__fiber_cancel(cc__fiber *f);

/*
 * Shields, for the calling fiber: enter opens a shield scope and a
 * deadline scope at `deadline` that ignores the outer ones; 0, or -1 with
 * EINVAL (not a fiber) or EOVERFLOW recorded.  leave closes the innermost
 * of both; nothing when none is open.
 */
int cc__shield_enter(int64_t deadline);
void cc__shield_leave(void);

#endif
