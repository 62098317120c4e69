/*
 * child.c - the record of a child process the library started: reaping,
 * waiting with a deadline, signals, kill-and-reap and the free path, once
 * for cc_process and cc_popen (process layer).
 *
 * See src/internal/child.h for the rules.  Lock: c->mu guards reaped,
 * lost and code; it is held across a non-blocking waitid at most, never
 * across a wait, and no other lock is taken under it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/child.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/waiter.h"

int cc__pidfd_reap(int pidfd, int *code)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) != 0)
        if (errno != EINTR)
            return errno;
    if (si.si_pid == 0)
        return EAGAIN;
    *code = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return 0;
}

/* c->label: "<label> (pid N)", whole; cut into label_cut only when it is
 * too long for it and malloc fails. */
static void set_label(cc__child *c, const char *label, pid_t pid)
{
    int n = snprintf(c->label_cut, sizeof(c->label_cut), "%s (pid %d)", label,
                     (int)pid);
    char *whole;

    c->label = c->label_cut;
    if (n < (int)sizeof(c->label_cut))
        return;
    whole = malloc((size_t)n + 1);
    if (whole == NULL)
        return;
    snprintf(whole, (size_t)n + 1, "%s (pid %d)", label, (int)pid);
    c->label = whole;
}

static void free_label(cc__child *c)
{
    if (c->label != c->label_cut)
        free(c->label);
    c->label = c->label_cut;
}

int cc__child_adopt(cc__child *c, pid_t pid, bool group, const char *label,
                    const char *what)
{
    int e;

    c->pid = pid;
    c->group = group;
    cc__mutex_init(&c->mu);
    c->reaped = false;
    c->lost = false;
    c->code = 0;
    set_label(c, label, pid);
    c->pidfd = pidfd_open(pid, 0); /* close-on-exec by nature */
    if (c->pidfd >= 0)
        return 0;
    e = errno;
    if (e == ESRCH) {
        /* Already ended and reaped by someone else (SIGCHLD ignored: the
         * kernel reaps at once): nothing left to stop, and its pid may
         * name another process by now. */
        cc__errf(ESRCH, "%s: cannot watch %s: it ended and was reaped by "
                        "someone else (SIGCHLD ignored?) before its pidfd "
                        "was open", what, c->label);
        free_label(c);
        return e;
    }
    /* Not reaped by us, so unless SIGCHLD is ignored the pid still names
     * the child.  Without a pidfd it cannot be watched or signalled
     * safely: end it now. */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    cc__errf(e, "%s: pidfd_open for %s: %s", what, c->label, strerror(e));
    free_label(c);
    return e;
}

/* Reap if it has ended; mu held.  As cc__child_try_reap. */
static int reap_locked(cc__child *c)
{
    int rc;

    CC__ASSERT(cc__mutex_owned(&c->mu));
    if (c->reaped)
        return 0;
    rc = cc__pidfd_reap(c->pidfd, &c->code);
    if (rc == ECHILD) { /* SIGCHLD ignored, or a waitpid(-1) elsewhere */
        c->reaped = true;
        c->lost = true;
        return 0;
    }
    if (rc == 0)
        c->reaped = true;
    return rc;
}

int cc__child_try_reap(cc__child *c)
{
    int rc;

    cc__mutex_lock(&c->mu);
    rc = reap_locked(c);
    cc__mutex_unlock(&c->mu);
    return rc;
}

int cc__child_poll(cc__child *c, int *code, const char *what)
{
    int rc = cc__child_try_reap(c);

    if (rc == EAGAIN)
        return 0;
    if (rc != 0)
        return cc__errf(rc, "%s: waitid for %s: %s", what, c->label,
                        strerror(rc));
    if (c->lost) /* final once reaped: no lock needed */
        return cc__errf(ECHILD, "%s: %s was reaped by someone else (SIGCHLD "
                                "ignored, or a waitpid(-1)): its return code "
                                "is unknown", what, c->label);
    if (code != NULL)
        *code = c->code;
    return 1;
}

int cc__child_wait(cc__child *c, double timeout, int *code, const char *what)
{
    int64_t deadline;

    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return -1;
    for (;;) {
        int rc = cc__child_poll(c, code, what);
        double left;

        if (rc != 0)
            return rc > 0 ? 0 : -1;
        if (timeout == 0)
            return cc__errf(EAGAIN, "%s is still running", c->label);
        left = cc__seconds_until(deadline);
        if (left == 0)
            return cc__errf(ETIMEDOUT, "%s: %s still running at the deadline",
                            what, c->label);
        if (cc_wait_fd(c->pidfd, CC_READABLE, left) < 0) {
            if (errno == ECANCELED)
                return cc__err_wait(ECANCELED, what);
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc__errf(errno, "%s: waiting for %s: %s", what,
                                c->label, cc_errmsg());
            /* timed out: the next round reaps or reports the deadline */
        }
    }
}

int cc__child_signal(cc__child *c, int sig, const char *what)
{
    if (sig < 0 || sig >= NSIG)
        return cc__errf(EINVAL, "%s: %d is not a signal number", what, sig);
    /* An ended child is left alone: reap it first if it can be, so that a
     * zombie is never "signalled" and its code stays its exit status. */
    if (cc__child_try_reap(c) == 0)
        return 0;
    /* Reaped by a concurrent waiter meanwhile: the kernel says ESRCH. */
    if (pidfd_send_signal(c->pidfd, sig, NULL, 0) != 0 && errno != ESRCH) {
        int e = errno;

        return cc__errf(e, "%s: cannot send signal %d to %s: %s", what, sig,
                        c->label, strerror(e));
    }
    return 0;
}

/* Kill what still runs; mu held.  Returns reap_locked's answer. */
static int kill_locked(cc__child *c, bool whole_group)
{
    int rc;

    CC__ASSERT(cc__mutex_owned(&c->mu));
    rc = reap_locked(c);

    /* The group's id is the child's pid: while the child is unreaped, or
     * any member of its group lives, that number is not reused. */
    if (c->group && (rc == EAGAIN || whole_group))
        (void)kill(-c->pid, SIGKILL);
    if (rc == EAGAIN)
        (void)pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
    return rc;
}

int cc__child_kill_reap(cc__child *c, bool whole_group)
{
    int rc;

    cc__mutex_lock(&c->mu);
    rc = kill_locked(c, whole_group);
    cc__mutex_unlock(&c->mu);
    if (rc != EAGAIN)
        return 0;
    /* SIGKILL cannot be caught: the wait is short, and it must not be cut
     * short by an expired deadline scope or the caller's cancellation.  A
     * task waits in a shield (its own scope, no cancellation); a thread
     * polls the pidfd without any deadline. */
    if (cc__fiber_current() != NULL &&
        cc__shield_enter(CC__NS_FOREVER) == 0) {
        rc = cc__child_wait(c, CC_FOREVER, NULL, "kill and reap");
        cc__shield_leave();
        return rc;
    }
    for (;;) {
        struct pollfd pfd = {.fd = c->pidfd, .events = POLLIN};

        rc = cc__child_try_reap(c);
        if (rc != EAGAIN)
            break;
        (void)poll(&pfd, 1, -1);
    }
    if (rc != 0)
        return cc__errf(rc, "waitid for %s: %s", c->label, strerror(rc));
    return 0;
}

void cc__child_release(cc__child *c, const char *kind)
{
    int rc;

    cc__mutex_lock(&c->mu);
    rc = reap_locked(c);
    cc__mutex_unlock(&c->mu);
    if (rc == EAGAIN) {
        siginfo_t si;

        if (cc__debug())
            cc__debugf("%s was still running when its %s was freed: killed "
                       "it", c->label, kind);
        cc__mutex_lock(&c->mu);
        (void)kill_locked(c, false);
        cc__mutex_unlock(&c->mu);
        /* Blocking, but short: SIGKILL cannot be caught or ignored. */
        while (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED) != 0 &&
               errno == EINTR)
            ;
    }
    close(c->pidfd);
    c->pidfd = -1;
    free_label(c);
}
