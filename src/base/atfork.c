/*
 * atfork.c - the fork-hook registry: the library's one pthread_atfork
 * registration, which runs every registered module's hooks (base layer).
 *
 * Why: a child made by fork() while other threads were using concur
 * starts with one thread and a copy of memory in which any global lock
 * may be held by a thread it does not have.  Each module with global
 * state registers hooks (internal/atfork.h) that take its locks before the
 * fork and re-initialise them in the child, so no child starts with one
 * held.  The modules that register, and what they protect:
 *   aio/stack.c        the stack regions and spare stacks (region_mu), the
 *                      chained SIGSEGV/SIGBUS handlers (handler_mu); the
 *                      child closes the parent's pidfd used for guards
 *   aio/signal.c       the signal counts and saved dispositions (sig_mu);
 *                      the child forgets cc_run's SIGINT hand-over (the
 *                      loop it would poke runs in the parent) and gets
 *                      back the dispositions the parent's cc_run, loop
 *                      handlers and signal waiters took
 *   future/future_alloc.c  the global free list of future records and the
 *                      slab region cursor (global_mu)
 *   process/fnref.c    inserts into the function-reference cache (cache_mu)
 *   process/pool.c     child only: bumps the fork generation, so the
 *                      parent's process pools refuse work in the child
 *
 * What needs nothing, and why:
 *   - The calling thread's context, loop pointer, stack pool and future
 *     cache are per thread and survive as they are: the child continues
 *     that thread.  cc_process_start also detaches the child from any loop
 *     and, forked from a task, gives it a fresh context on a fresh stack.
 *   - Other threads' contexts, stack pools, future caches and TLS exist
 *     only in their (absent) threads; no global list refers to them.  What
 *     they held is leaked in the child.
 *   - Counters and flags (thread, task and pool numbers, debug mode, guard
 *     mode) are atomics whose values are simply inherited.
 *   - Each object's own lock (a queue's, a lock's, a pool's) belongs to an
 *     object the child shares with nobody; if another thread held it at the
 *     fork it stays held in the child, like any lock of the program.
 *   - glibc makes malloc and stdio safe across fork itself.
 *
 * The table is filled by constructors, before main() and before any thread
 * can fork; a library dlopen'ed later registers while threads may run, so
 * a slot is claimed with an atomic counter and published with a release
 * store that the handlers read with acquire.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "internal/atfork.h"
#include "internal/log.h"

static const cc__fork_hooks *_Atomic hooks[CC__FORK_HOOKS_MAX];
static _Atomic unsigned nclaimed;  /* slots handed out */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static _Atomic bool installed;

static void fork_prepare(void)
{
    for (unsigned i = 0; i < CC__FORK_HOOKS_MAX; i++) {
        const cc__fork_hooks *h = atomic_load_explicit(&hooks[i],
                                                       memory_order_acquire);

        if (h != NULL && h->prepare != NULL)
            h->prepare();
    }
}

static void fork_parent(void)
{
    for (unsigned i = CC__FORK_HOOKS_MAX; i-- > 0;) {
        const cc__fork_hooks *h = atomic_load_explicit(&hooks[i],
                                                       memory_order_acquire);

        if (h != NULL && h->parent != NULL)
            h->parent();
    }
}

static void fork_child(void)
{
    for (unsigned i = 0; i < CC__FORK_HOOKS_MAX; i++) {
        const cc__fork_hooks *h = atomic_load_explicit(&hooks[i],
                                                       memory_order_acquire);

        if (h != NULL && h->child != NULL)
            h->child();
    }
}

static void install(void)
{
    int rc = pthread_atfork(fork_prepare, fork_parent, fork_child);

    if (rc != 0) /* ENOMEM at start-up: say so, forks stay unprotected */
        cc__logf(CC_LOG_ERROR, "concur: pthread_atfork failed (%d); forks "
                               "made while other threads use concur are not "
                               "protected", rc);
    atomic_store(&installed, rc == 0);
}

void cc__atfork_register(const cc__fork_hooks *h)
{
    unsigned i;

    pthread_once(&install_once, install);
    i = atomic_fetch_add_explicit(&nclaimed, 1, memory_order_relaxed);
    if (i >= CC__FORK_HOOKS_MAX) {
        cc__logf(CC_LOG_ERROR, "concur: no room for the fork hooks of %s "
                               "(raise CC__FORK_HOOKS_MAX)", h->module);
        return;
    }
    atomic_store_explicit(&hooks[i], h, memory_order_release);
}

bool cc__atfork_installed(void)
{
    pthread_once(&install_once, install);
    return atomic_load(&installed);
}
