/*
 * child.h - one child process the library started: the record behind both
 * cc_process (src/process/process.c) and cc_popen (src/subprocess/popen.c)
 * (internal; layer process).
 *
 * The record holds the child's pid and a pidfd opened right after the
 * child was made, before anyone could reap it: the pid still names the
 * child then, so the pidfd can never refer to a recycled pid, and every
 * signal goes through it.  Whoever waits for the end waits for the pidfd to
 * become readable with cc_wait_fd -- a thread polls, a task suspends and
 * can be cancelled -- then reaps with waitid(P_PIDFD, WNOHANG) under `mu`:
 * the first reaper records the return code, every other waiter (thread or
 * task) reads it.  `mu` is held across that non-blocking waitid only, never
 * across a wait.  Nothing here reaps a child it did not start, and no
 * SIGCHLD handler is involved.
 *
 * The rules, the same for both APIs:
 *   - The return code is the exit status, or minus the signal that ended
 *     the child (Python's returncode and exitcode).
 *   - A child reaped behind the library's back (SIGCHLD ignored, a
 *     waitpid(-1) of the program's) has no code: waits and polls fail with
 *     ECHILD and say so.
 *   - A signal to a child that has ended -- reaped, or a zombie this call
 *     reaps first -- does nothing and succeeds, as Python's send_signal,
 *     terminate and kill do; so does one that loses the race with a
 *     concurrent reaper (the kernel's ESRCH).  Signal numbers are checked:
 *     EINVAL outside 0..NSIG-1 (0 only checks, as in kill(2)).
 *   - Freeing the record of a child that still runs kills it (its group
 *     too for a group leader), reaps it, and says so in debug mode.
 */
#ifndef CC_INTERNAL_CHILD_H
#define CC_INTERNAL_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "internal/mutex.h"

#define CC__CHILD_LABEL 96

typedef struct cc__child {
    pid_t pid;              /* fixed at start */
    int pidfd;              /* O_CLOEXEC; closed by cc__child_release */
    bool group;             /* leads its own process group (new_session) */
    cc__mutex mu;           /* guards the three below */
    bool reaped;            /* waited for: code is final */
    bool lost;              /* reaped by someone else: no code */
    int code;               /* exit status, or -signal */
    char *label;            /* "process 'worker' (pid 42)", for messages;
                               fixed at start: whole (malloc'd, freed by
                               cc__child_release), or label_cut when it is
                               long and memory ran out */
    char label_cut[CC__CHILD_LABEL];
} cc__child;

/*
 * Adopt the child `pid` (just made, not yet waited for): open its pidfd
 * and fill in c; `label` names it in messages ("process 'x'", "'sleep'"),
 * " (pid N)" is appended, and kept whole however long (a program's path).
 * 0, or an errno of pidfd_open with the error recorded for `what` -- the
 * child is then killed and reaped, so nothing is left behind, and c holds
 * nothing to release.
 */
int cc__child_adopt(cc__child *c, pid_t pid, bool group, const char *label,
                    const char *what);

/*
 * Reap the child if it has ended, without blocking (takes mu): 0 when it
 * has ended -- reaped now or before, by us or, `lost`, by someone else --
 * EAGAIN while it runs, or an errno of waitid.  Records no error.
 */
int cc__child_try_reap(cc__child *c);

/*
 * Reap the child if it has ended, without blocking.  1 when it has ended
 * (its code in *code when code is not NULL), 0 while it runs, -1 with the
 * error recorded for `what`: ECHILD when it was reaped by someone else, or
 * an errno of waitid.
 */
int cc__child_poll(cc__child *c, int *code, const char *what);

/*
 * Wait for the child to end and reap it, until `timeout` seconds (and the
 * caller's deadline scope).  0 with *code (when not NULL), or -1 with
 * EAGAIN (timeout 0 and still running), ETIMEDOUT, ECANCELED (the calling
 * task was cancelled), ECHILD, or an errno of the wait, recorded for
 * `what`.  Any number of threads and tasks may wait at once.
 */
int cc__child_wait(cc__child *c, double timeout, int *code,
                   const char *what);

/*
 * Send `sig` through the pidfd, by the rules above.  0, or -1 with EINVAL
 * (not a signal number) or the kernel's error (EPERM...) recorded for
 * `what`.
 */
int cc__child_signal(cc__child *c, int sig, const char *what);

/*
 * SIGKILL the child (and its group, for a group leader) if it still runs,
 * then wait for it, whatever deadline scope or cancellation the caller
 * has: a task waits in a shield, a thread polls the pidfd.  whole_group:
 * kill the group of a group leader even when the child itself has ended
 * (a run that gives up: a grandchild may hold its pipes).  0, or -1 with
 * the error of the reap recorded.
 */
int cc__child_kill_reap(cc__child *c, bool whole_group);

/*
 * The free path: a child still running is killed (its group too, for a
 * group leader) and reaped -- debug mode says so, naming it as `kind`
 * ("cc_popen", "process handle") -- then the pidfd is closed.  Never
 * fails; the record is dead afterwards.
 */
void cc__child_release(cc__child *c, const char *kind);

/*
 * Reap the child behind `pidfd` if it has ended, without blocking
 * (waitid(P_PIDFD, WNOHANG), retried on EINTR).  Returns 0 and stores its
 * return code in *code; EAGAIN while it runs; ECHILD when someone else
 * reaped it; or another errno of waitid.  The caller serialises calls for
 * one child.  The record's own reaper, and the process pool's for its
 * workers.
 */
int cc__pidfd_reap(int pidfd, int *code);

#endif
