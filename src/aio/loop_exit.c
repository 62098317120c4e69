/*
 * loop_exit.c - the registry of event loops not yet freed, and its exit
 * report: a loop made with cc_loop_new and abandoned with tasks still
 * alive loses their work at exit, and says so (aio layer).
 *
 * cc_run frees its loop before it returns, cancelling leftover tasks as
 * asyncio.run does; cc_loop_free on a loop with live tasks cancels them
 * and runs them to their end, with a log line.  A loop never freed cannot
 * be run from an exit hook (its tasks belong to the thread that ran it),
 * so the hook only reports it, one line per loop.  The registry is touched
 * when a loop is made and freed, never while it runs.  A forked child
 * empties its copy: the parent's loops are not the child's to report.
 */
#include <stdlib.h>

#include "aio/loop.h"
#include "internal/atfork.h"
#include "internal/log.h"

static cc__mutex reg_mu = CC__MUTEX_INIT; /* guards everything below */
static cc__list reg_loops;               /* loops not freed, newest first */
static unsigned reg_generation;           /* bumped in a forked child */
static bool hook_installed;

static void fork_prepare(void)
{
    cc__mutex_lock(&reg_mu);
}

static void fork_parent(void)
{
    cc__mutex_unlock(&reg_mu);
}

static void fork_child(void)
{
    cc__mutex_init(&reg_mu);
    cc__list_init(&reg_loops);
    reg_generation++;
}

static const cc__fork_hooks fork_hooks = {"aio/loop_exit.c", fork_prepare,
                                          fork_parent, fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

static void exit_hook(void)
{
    cc__mutex_lock(&reg_mu);
    for (cc__link *n = reg_loops.head; n != NULL; n = n->next) {
        cc_loop *l = CC__CONTAINER_OF(n, cc_loop, reg_link);

        if (atomic_load(&l->running))
            cc__logf(CC_LOG_WARNING, "concur: at exit, an event loop still "
                                     "runs in another thread: its tasks' "
                                     "unfinished work is lost");
        else if (l->ntasks > 0)
            cc__logf(CC_LOG_WARNING, "concur: at exit, an event loop was "
                                     "never freed with %zu tasks unfinished: "
                                     "their work is lost (cc_loop_free "
                                     "cancels them and runs them to their "
                                     "end)",
                     l->ntasks);
    }
    cc__mutex_unlock(&reg_mu);
}

void cc__loop_register(cc_loop *l)
{
    cc__mutex_lock(&reg_mu);
    if (!hook_installed)
        hook_installed = atexit(exit_hook) == 0;
    l->reg_generation = reg_generation;
    cc__link_init(&l->reg_link);
    cc__list_push_front(&reg_loops, &l->reg_link);
    l->registered = true;
    cc__mutex_unlock(&reg_mu);
}

void cc__loop_unregister(cc_loop *l)
{
    cc__mutex_lock(&reg_mu);
    if (l->registered && l->reg_generation == reg_generation) {
        cc__list_remove(&reg_loops, &l->reg_link);
        l->registered = false;
    }
    cc__mutex_unlock(&reg_mu);
}
