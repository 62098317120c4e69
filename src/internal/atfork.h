/*
 * atfork.h - what the modules that own global state give the fork
 * handlers of src/process/atfork.c (internal).
 *
 * Each module with a global lock offers three small functions, called by
 * the library's one pthread_atfork registration: *_prepare takes the
 * module's global locks in the parent just before fork(), *_parent
 * releases them in the parent after it, *_child re-initializes them in the
 * child (which holds them in its copy of memory, taken by the only thread
 * it has) and drops state that belongs to the parent process or to
 * threads that do not exist in the child.  None of them may fail, allocate
 * or block on anything but the locks named.
 */
#ifndef CC_INTERNAL_ATFORK_H
#define CC_INTERNAL_ATFORK_H

#include "internal/ctx.h"

/* src/aio/stack.c: handler_mu, region_mu (the stack regions, the spares
 * list); the child drops the parent's pidfd used for process_madvise. */
void cc__stack_fork_prepare(void);
void cc__stack_fork_parent(void);
void cc__stack_fork_child(void);

/* src/future/future.c: global_mu (the global free list of future records
 * and the slab region cursor). */
void cc__future_fork_prepare(void);
void cc__future_fork_parent(void);
void cc__future_fork_child(void);

/* src/process/fnref.c: cache_mu (inserts into the cache of function
 * references the process pool sends). */
void cc__fnref_fork_prepare(void);
void cc__fnref_fork_parent(void);
void cc__fnref_fork_child(void);

/* src/aio/loop.c: the child forgets the loop whose cc_run handles SIGINT
 * (it runs in the parent) and puts SIGINT back to its default action. */
void cc__loop_fork_child(void);

/* src/process/atfork.c: true once the handlers are registered (at load
 * time).  cc_process_start asks, which also links the handlers in with
 * the static library. */
bool cc__atfork_installed(void);

/* --- for the child of cc_process_start only (src/process/process.c) --- */

/* src/aio/loop.c: the calling thread no longer runs a loop (the parent's
 * loop, whose copy the child holds, is unusable: it shares the parent's
 * epoll and eventfd).  cc_run and cc_loop_run_* work again afterwards. */
void cc__loop_child_detach(void);

/* src/base/ctx.c: give the calling thread a fresh context (no errors, no
 * deadline scopes, named "MainThread": in the child it is the main and
 * only thread) and make it current.  For a child forked from a task, whose
 * current context was the task's. */
cc__ctx *cc__ctx_child_fresh(void);

#endif
