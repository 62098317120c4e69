/*
 * child_util.h - children for the process-shared object tests
 * (test_shared, test_mpqueue, test_shdict): each runs a function in a
 * cc_process with a random stream of its own, is joined with its exit
 * code, and a last test checks that no child is left behind.
 */
#ifndef CONCUR_CHILD_UTIL_H
#define CONCUR_CHILD_UTIL_H

#include <limits.h>
#include <sys/wait.h>

#include "test_util.h"

/* What a child runs; on the parent's stack, copied into the child by the
 * fork. */
typedef struct child_call {
    cc_fn fn;
    void *arg;
} child_call;

/* The child: a random stream of its own (the fork copied the parent's, so
 * siblings would draw the same numbers), then fn(arg).  fn fails the usual
 * way (return cc_fail(...)): the child prints why and exits with code 1. */
static void *child_main(void *arg)
{
    const child_call *c = arg;

    tu_rng = tu_rand() ^ ((uint64_t)getpid() * 0x9E3779B97F4A7C15ULL);
    return c->fn(c->arg);
}

/* Start a child process that runs fn(arg). */
static cc_process *child_start(cc_fn fn, void *arg)
{
    child_call c = {fn, arg};
    cc_process *p = cc_process_start(child_main, &c, NULL);

    if (p == NULL)
        fail_msg("cc_process_start: %s", cc_errmsg());
    return p;
}

/* Join a child and free its handle: its exit code, or minus the signal
 * that ended it. */
static int child_join(cc_process *p)
{
    int code = INT_MIN;

    if (cc_process_join(p, 120) != 0 || cc_process_exitcode(p, &code) != 0)
        fail_msg("join %s (pid %d): %s", cc_process_name(p),
                 (int)cc_process_pid(p), cc_errmsg());
    cc_process_free(p);
    return code;
}

/* Run last: no child is left behind by the tests, not running, not a
 * zombie. */
static void test_no_child_left(void **state)
{
    pid_t pid;

    (void)state;
    errno = 0;
    pid = waitpid(-1, NULL, WNOHANG);
    if (pid != -1 || errno != ECHILD)
        fail_msg("a child process is left over (waitpid: %d, %s)", (int)pid,
                 cc_errname(errno));
}

#endif
