/*
 * atfork.h - the fork-hook registry: how a module with global state keeps
 * a forked child sane (internal; layer base).
 *
 * The library makes one pthread_atfork registration (src/base/atfork.c).
 * A module that owns global locks or state registers its hooks from a
 * constructor of its own, so they are in place before the program can
 * start a thread (hooks registered later would miss a fork made before),
 * and a static link carries them exactly when it carries the module:
 *   prepare: take the module's global locks in the parent, just before
 *            fork();
 *   parent:  release them in the parent, after it;
 *   child:   re-initialise them in the child (whose only thread holds
 *            them in its copy of memory) and drop what belongs to the
 *            parent process or to threads the child does not have.
 * Any of the three may be NULL.  None may fail, allocate, or block on
 * anything but the module's own locks; no two modules' locks nest, so the
 * registry's fixed order (registration order for prepare and child, the
 * reverse for parent) is the only order needed.
 */
#ifndef CC_INTERNAL_ATFORK_H
#define CC_INTERNAL_ATFORK_H

#include <stdbool.h>

typedef struct cc__fork_hooks {
    const char *module;     /* "aio/stack.c": for the docs and debug mode */
    void (*prepare)(void);
    void (*parent)(void);
    void (*child)(void);
} cc__fork_hooks;

/* Add a module's hooks (a static record, kept by pointer).  Call it from
 * a constructor.  There is room for CC__FORK_HOOKS_MAX modules; past that
 * the call reports the module on stderr and its hooks are not run (a bug:
 * raise the limit). */
#define CC__FORK_HOOKS_MAX 16
void cc__atfork_register(const cc__fork_hooks *hooks);

/* True once the library's pthread_atfork registration is made (it fails
 * only when pthread_atfork does: ENOMEM at start-up).  cc_process_start
 * asks, to warn in debug mode. */
bool cc__atfork_installed(void);

#endif
