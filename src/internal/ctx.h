/*
 * ctx.h - the execution context: one per thread and one per task
 * (internal; layer base).
 *
 * Everything that Python keeps "per thread or per task" lives here: the last
 * error (cc_errmsg), the failure recorded by cc_fail, the stack of deadline
 * scopes and the name used in error places.  Each thread has one context in
 * static TLS; the loop points cc__cur at the running task's own context on
 * every switch (src/aio/task.c), so errors, scopes and lock ownership are
 * per task without the primitives knowing.  A context is only ever touched
 * by the thread currently running it, so it needs no lock.
 */
#ifndef CC_INTERNAL_CTX_H
#define CC_INTERNAL_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/clock.h"
#include "internal/error.h"

#define CC__MSG_MAX 256    /* longest formatted error message kept */
#define CC__SCOPES_MAX 32  /* deepest nesting of deadline scopes */
#define CC__NAME_MAX 32    /* longest thread/task name kept */

typedef struct cc__ctx {
    cc_error last;               /* last error of a library call; no cause */
    cc_error *last_heap;         /* owned; when set, it is the last error
                                    (handed over by a join, with its chain) */
    bool last_is_pending;        /* the last error is `pending` (cc_fail) */
    char msgbuf[CC__MSG_MAX];    /* storage for a formatted last.message */
    cc_error *pending;           /* failure recorded by cc_fail; owned */
    int nscopes;                 /* open deadline scopes */
    int64_t scopes[CC__SCOPES_MAX]; /* each already min'd with the outer one */
    char name[CC__NAME_MAX];     /* "MainThread", "worker-1", a task's name;
                                    "" for a task named by number */
    uint64_t number;             /* a task's N in "Task-N" (formatted only
                                    when asked: see cc__ctx_name) */
    struct cc__fiber *fiber;     /* the coroutine running this context
                                    (internal/fiber.h), or NULL: a thread */
    struct cc_executor *worker_of; /* the pool whose worker runs here, or NULL */
} cc__ctx;

extern __thread cc__ctx *cc__cur __attribute__((tls_model("initial-exec")));

cc__ctx *cc__ctx_init_thread(void);

/* The context of the calling thread or coroutine; never NULL. */
static inline cc__ctx *cc__ctx_get(void)
{
    cc__ctx *c = cc__cur;

    if (__builtin_expect(c == NULL, 0))
        c = cc__ctx_init_thread();
    return c;
}

/* Free what a context owns (its error chains); used when a thread or task ends. */
void cc__ctx_release(cc__ctx *c);

/* The context's name ("Task-N" is formatted here, on first use: a spawn
 * does not pay for snprintf). */
const char *cc__ctx_name(cc__ctx *c);

/* Set the name of the calling context (truncated to CC__NAME_MAX - 1). */
void cc__ctx_set_name(cc__ctx *c, const char *name);

/*
 * Give the calling thread a fresh context (no errors, no deadline scopes,
 * named "MainThread": in a forked child it is the main and only thread)
 * and make it current.  For the child of cc_process_start, which may have
 * been forked from a task, whose current context was the task's.
 */
cc__ctx *cc__ctx_child_fresh(void);

/*
 * A word that tells threads apart: the address of a thread-local, distinct
 * for every live thread and free to compute.  The internal mutex records
 * its holder with it for assertions (internal/mutex.h).
 */
extern __thread char cc__thread_anchor __attribute__((tls_model("initial-exec")));
static inline uintptr_t cc__thread_id(void)
{
    return (uintptr_t)&cc__thread_anchor;
}

/* Debug mode and its reports (stderr, prefixed "concur: "). */
extern _Atomic int cc__debug_on;
void cc__debugf(const char *fmt, ...) CC_PRINTF(1, 2);
static inline bool cc__debug(void)
{
    return __builtin_expect(atomic_load_explicit(&cc__debug_on,
                                                 memory_order_relaxed), 0);
}

#endif
