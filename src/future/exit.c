/*
 * exit.c - the executor registry and the exit rule: at exit, wait for the
 * work of every executor not freed (future layer).
 *
 * Python's concurrent.futures joins its executors' pending work at
 * interpreter exit; a C program returning from main would otherwise lose
 * it (pool threads vanish with the process, process-pool workers see
 * their socket close).  Every executor is registered when it is made and
 * unregistered when cc_executor_free frees it: a mutex-guarded list
 * touched only then, never on cc_submit.  The first registration installs
 * an atexit hook that shuts down every executor still registered, waiting
 * for its queued and running tasks.  When that takes longer than a short
 * grace period the hook says so, one line per executor, through the
 * library's log.  CONCUR_EXIT_WAIT=0 in the environment opts out: the
 * hook then waits for nothing and logs, per executor still there, that
 * its unfinished work is abandoned.
 *
 * Forks: a forked child inherits the atexit hook and a copy of the list,
 * but not the executors' threads.  The fork hook empties the child's list
 * and starts a new generation, so the child never waits for (or unlinks)
 * the parent's executors.  An executor is taken off the list by the hook
 * while it waits for it (`busy`): a cc_executor_free racing with exit waits
 * for the hook to be done with it before it frees the record.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal/atfork.h"
#include "internal/clock.h"
#include "internal/future.h"
#include "internal/log.h"

/* How long the hook lets an executor finish before it says it waits. */
#define EXIT_GRACE_NS 50000000 /* 50 ms */

static cc__mutex reg_mu = CC__MUTEX_INIT;  /* guards everything below */
static cc__list reg_list;                  /* registered, newest first */
static unsigned reg_generation;            /* bumped in a forked child */
static cc_executor *reg_busy;              /* the hook waits for it */
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
    cc__list_init(&reg_list); /* the parent's executors: not ours */
    reg_busy = NULL;
    reg_generation++;
}

static const cc__fork_hooks fork_hooks = {"future/exit.c", fork_prepare,
                                          fork_parent, fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

/* CONCUR_EXIT_WAIT=0: do not wait at exit. */
static bool exit_wait_wanted(void)
{
    const char *v = getenv("CONCUR_EXIT_WAIT");

    return v == NULL || strcmp(v, "0") != 0;
}

static void unlink_locked(cc_executor *ex)
{
    CC__ASSERT(cc__mutex_owned(&reg_mu));
    cc__list_remove(&reg_list, &ex->reg_link);
    ex->registered = false;
}

/* Wait for one executor's work, saying so when it takes a while. */
static void finish_one(cc_executor *ex)
{
    if (ex->ops->shutdown(ex, true, false,
                          cc__now_ns() + EXIT_GRACE_NS) == 0)
        return;
    if (errno == EDEADLK) { /* exit() called by one of its own workers */
        cc__logf(CC_LOG_WARNING, "concur: at exit, %s '%s' cannot be waited "
                                 "for from its own worker; its unfinished "
                                 "work is abandoned",
                 ex->ops->kind, ex->name);
        return;
    }
    cc__logf(CC_LOG_WARNING, "concur: at exit, waiting for %s '%s' to "
                             "finish its submitted work (free or shut it "
                             "down before exit; CONCUR_EXIT_WAIT=0 skips "
                             "this)",
             ex->ops->kind, ex->name);
    if (ex->ops->shutdown(ex, true, false, CC__NS_FOREVER) != 0)
        cc__logf(CC_LOG_ERROR, "concur: at exit, waiting for %s '%s' "
                               "failed: %s",
                 ex->ops->kind, ex->name, cc_errmsg());
}

/* Executors the exit hook has finished with: never freed at exit (their
 * owners may still hold them), and kept reachable from here so that a leak
 * checker run at exit does not report them.  Linked through reg_link;
 * only ever appended to, under reg_mu. */
static cc__list reg_exited;

static void exit_hook(void)
{
    bool wait = exit_wait_wanted();

    for (;;) {
        cc_executor *ex;

        cc__mutex_lock(&reg_mu);
        ex = reg_list.head != NULL
                 ? CC__CONTAINER_OF(reg_list.head, cc_executor, reg_link)
                 : NULL;
        if (ex != NULL) {
            unlink_locked(ex);
            reg_busy = ex;
        }
        cc__mutex_unlock(&reg_mu);
        if (ex == NULL)
            return;
        if (wait)
            finish_one(ex);
        else
            cc__logf(CC_LOG_WARNING, "concur: at exit, not waiting for %s "
                                     "'%s' (CONCUR_EXIT_WAIT=0): work it has "
                                     "not finished is lost",
                     ex->ops->kind, ex->name);
        cc__mutex_lock(&reg_mu);
        reg_busy = NULL;
        cc__list_push_back(&reg_exited, &ex->reg_link);
        cc__mutex_unlock(&reg_mu);
    }
}

void cc__executor_register(cc_executor *ex)
{
    cc__mutex_lock(&reg_mu);
    if (!hook_installed)
        hook_installed = atexit(exit_hook) == 0;
    ex->reg_generation = reg_generation;
    cc__link_init(&ex->reg_link);
    cc__list_push_front(&reg_list, &ex->reg_link);
    ex->registered = true;
    cc__mutex_unlock(&reg_mu);
}

void cc__executor_unregister(cc_executor *ex)
{
    cc__mutex_lock(&reg_mu);
    if (ex->registered && ex->reg_generation == reg_generation)
        unlink_locked(ex);
    while (reg_busy == ex) { /* the exit hook is waiting for it */
        struct timespec ms = {0, 1000000};

        cc__mutex_unlock(&reg_mu);
        nanosleep(&ms, NULL);
        cc__mutex_lock(&reg_mu);
    }
    cc__mutex_unlock(&reg_mu);
}
