/*
 * atfork.c - the library's fork handlers: a child made by fork() while
 * other threads were using concur starts with concur's global state sane
 * (process layer).
 *
 * One pthread_atfork registration, made when the library is loaded.  The
 * prepare handler takes every global lock of the library in one fixed
 * order, so no other thread is halfway through a change of the state they
 * guard at the moment of the fork; the parent handler releases them in the
 * reverse order; the child handler re-initializes them (the child's only
 * thread holds them in its copy of memory) and drops state that belongs to
 * the parent process or to threads the child does not have.
 *
 * What is taken and reset, in this order (no two of these locks nest, so
 * the order only has to be fixed):
 *   1. src/aio/stack.c handler_mu: guards the SIGSEGV/SIGBUS handlers that
 *      the stack-overflow report chains to.  Re-initialized in the child.
 *   2. src/aio/stack.c region_mu: guards the coroutine stack regions (next
 *      never-used slot) and the list of spare stacks.  Re-initialized in
 *      the child, whose copies are then consistent and usable.
 *   3. src/future/future.c global_mu: guards the global free list of
 *      future records and the slab region cursor.  Re-initialized in the
 *      child (records cached by the parent's other threads are leaked).
 *   4. src/process/fnref.c cache_mu: serialises inserts into the cache of
 *      task-function references.  Re-initialized in the child.
 *   and in the child only:
 *   5. src/aio/stack.c's pidfd for process_madvise: it names the parent
 *      (the kernel refuses guard advice for another process); closed, so
 *      the child opens its own when it next makes a stack region.
 *   6. src/aio/loop.c cc_run's SIGINT hand-over: the loop it would poke
 *      runs in the parent (and shares the parent's eventfd).  The child
 *      forgets it and gets SIGINT's default action back, which is what
 *      cc_run had replaced.
 *
 * What needs nothing, and why:
 *   - The calling thread's context (src/base/ctx.c), its loop pointer, its
 *     stack pool and future cache are per-thread and survive as they are:
 *     the child continues that thread.  cc_process_start additionally
 *     detaches the child from any loop and, if it was forked from a task,
 *     gives it a fresh context on a fresh stack (src/process/process.c).
 *   - Other threads' contexts, stack pools, future caches and TLS exist
 *     only in their (absent) threads; no global list refers to them (there
 *     is no registry of threads: a cc_thread handle is reached only
 *     through its owner's pointer).  What they held is leaked in the child.
 *   - Counters (thread, task, pool numbers; the mprotect-guard count) and
 *     flags (debug mode, guard mode) are atomics whose value is simply
 *     inherited.
 *   - Each object's own lock (a queue's, a lock's, a pool's) belongs to an
 *     object the child shares with nobody; if another thread held it at
 *     the fork it stays held in the child, like any lock of the program.
 *     Loops, pools and threads of the parent are unusable in the child
 *     (their threads are gone; a loop shares its epoll with the parent):
 *     the child makes its own.
 *   - glibc makes malloc and stdio safe across fork itself.
 *
 * With the static library this file is linked in when the program uses
 * the process layer (cc_process_start refers to it); the shared library
 * always has it.
 */
#include <pthread.h>
#include <stdio.h>

#include "internal/atfork.h"

static void fork_prepare(void)
{
    cc__stack_fork_prepare();
    cc__future_fork_prepare();
    cc__fnref_fork_prepare();
}

static void fork_parent(void)
{
    cc__fnref_fork_parent();
    cc__future_fork_parent();
    cc__stack_fork_parent();
}

static void fork_child(void)
{
    cc__stack_fork_child();
    cc__future_fork_child();
    cc__fnref_fork_child();
    cc__loop_fork_child();
}

static bool installed;

/* At load time, before the program can start a thread: handlers registered
 * later would run in a child forked before that. */
__attribute__((constructor)) static void install(void)
{
    int rc = pthread_atfork(fork_prepare, fork_parent, fork_child);

    if (rc != 0) /* ENOMEM at start-up: say so, forks stay unprotected */
        fprintf(stderr, "concur: pthread_atfork failed (%d); forks made while "
                        "other threads use concur are not protected\n", rc);
    installed = rc == 0;
}

bool cc__atfork_installed(void)
{
    return installed;
}
