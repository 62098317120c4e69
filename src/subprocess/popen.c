/*
 * popen.c - cc_popen: a running program, its pipes, its end (subprocess
 * layer).
 *
 * Start: the streams are planned (pipes made here, close-on-exec, the
 * parent's ends non-blocking), spawn.c starts the program, and a pidfd is
 * opened right away: nobody has waited for the child yet, so its pid
 * still names it and the pidfd cannot refer to a recycled pid.  The
 * child's ends (and any temporary copies) are closed in the parent as
 * soon as posix_spawn returns, so an end of file reaches the parent when
 * the child closes its end.
 *
 * End: a waiter waits for the pidfd to become readable with cc_wait_fd
 * (poll in a thread, the loop's epoll in a task, which can be cancelled),
 * then reaps with waitid(P_PIDFD, WNOHANG) under the handle's mutex; the
 * first to reap records the return code, every other waiter (thread or
 * task) reads it.  Nothing here reaps a child it did not start, and no
 * SIGCHLD handler is involved.  Signals go through pidfd_send_signal, so
 * a recycled pid is never hit; a group signal is kill(-pgid).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "internal/error.h"
#include "internal/process.h"
#include "subprocess/subproc.h"

/* What popen_new made or took for one stream, to undo or finish. */
typedef struct stream_setup {
    int child_end;       /* our pipe's child end, or a temporary copy of a
                            caller's fd: closed after the spawn; -1 none */
    int parent_end;      /* our pipe's parent end: kept; -1 none */
    int taken;           /* CC_FROM: the upstream's end handed over; -1 */
} stream_setup;

static const char *const stream_names[3] = {"stdin", "stdout", "stderr"};

/* Move fd above 2 (a closed 0-2 in the parent makes pipe2 return one),
 * keeping close-on-exec.  Returns the new fd (the old one closed when
 * owned), or -1 with errno. */
static int above_stdio(int fd, bool owned)
{
    int hi;

    if (fd > 2)
        return fd;
    hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (hi >= 0 && owned)
        close(fd);
    return hi;
}

/* Give a CC_FROM end back to its upstream handle (a failed start). */
static void give_back(cc_popen *from, int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl != -1)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    cc__mutex_lock(&from->mu);
    from->fd[1] = fd;
    cc__mutex_unlock(&from->mu);
}

/* Check one cc_stdio; EINVAL recorded when it makes no sense for i. */
static int check_stdio(const cc_stdio *s, int i)
{
    const char *name = stream_names[i];

    switch (s->mode) {
    case CC_INHERIT:
    case CC_PIPE:
    case CC_DEVNULL:
        return 0;
    case CC_FD:
        if (s->fd < 0 || fcntl(s->fd, F_GETFD) == -1)
            return cc__errf(EINVAL, "cc_popen_new: %s: CC_FD %d is not an "
                                    "open descriptor", name, s->fd);
        return 0;
    case CC_STDOUT:
        if (i != 2)
            return cc__errf(EINVAL, "cc_popen_new: %s cannot be CC_STDOUT "
                                    "(only stderr can)", name);
        return 0;
    case CC_FROM:
        if (i != 0)
            return cc__errf(EINVAL, "cc_popen_new: %s cannot be CC_FROM "
                                    "(only stdin can)", name);
        if (!cc__popen_ok(s->from))
            return cc__err(EINVAL, "cc_popen_new: stdin: CC_FROM needs a "
                                   "cc_popen");
        return 0;
    default:
        return cc__errf(EINVAL, "cc_popen_new: %s: unknown mode %d", name,
                        (int)s->mode);
    }
}

/* Take the stdout pipe of `from` for a downstream child; 0 or EINVAL/EBUSY
 * recorded.  Its O_NONBLOCK is cleared: the flag belongs to the open file,
 * which the child shares, and a program reading its stdin expects it to
 * block. */
static int take_from(cc_popen *from, stream_setup *ss, cc__stdio_plan *plan)
{
    int fd;
    int fl;

    cc__mutex_lock(&from->mu);
    if (from->busy) {
        cc__mutex_unlock(&from->mu);
        return cc__err(EBUSY, "cc_popen_new: stdin: CC_FROM a process whose "
                              "pipes a communicate is reading");
    }
    fd = from->fd[1];
    from->fd[1] = -1;
    cc__mutex_unlock(&from->mu);
    if (fd < 0)
        return cc__errf(EINVAL, "cc_popen_new: stdin: CC_FROM '%s' (pid %d), "
                                "whose stdout is not a pipe (or was closed or "
                                "handed on)", from->name, (int)from->pid);
    ss->taken = fd;
    fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return cc__errf(errno, "cc_popen_new: stdin: CC_FROM: %s",
                        strerror(errno));
    plan->how = CC__STD_DUP;
    plan->src = fd;
    if (fd < 3) {
        ss->child_end = above_stdio(fd, false);
        if (ss->child_end < 0)
            return cc__errf(errno, "cc_popen_new: stdin: %s", strerror(errno));
        plan->src = ss->child_end;
    }
    return 0;
}

/* Make stream i's part of the plan: 0, or an errno recorded. */
static int setup_stream(const cc_stdio *s, int i, stream_setup *ss,
                        cc__stdio_plan *plan)
{
    int pfd[2];

    switch (s->mode) {
    case CC_INHERIT:
        plan->how = CC__STD_KEEP;
        return 0;
    case CC_DEVNULL:
        plan->how = CC__STD_DEVNULL;
        return 0;
    case CC_STDOUT:
        plan->how = CC__STD_STDOUT;
        return 0;
    case CC_FD:
        plan->how = CC__STD_DUP;
        plan->src = s->fd;
        if (s->fd < 3 && s->fd != i) {
            /* fd 0-2 of the parent as another stream: a copy above 2, so
             * that setting up 0-2 in order cannot clobber it first. */
            ss->child_end = above_stdio(s->fd, false);
            if (ss->child_end < 0)
                return cc__errf(errno, "cc_popen_new: %s: %s", stream_names[i],
                                strerror(errno));
            plan->src = ss->child_end;
        }
        return 0;
    case CC_FROM:
        return take_from(s->from, ss, plan);
    case CC_PIPE:
        break;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return cc__errf(errno, "cc_popen_new: cannot make a pipe for %s: %s",
                        stream_names[i], strerror(errno));
    /* stdin: the child reads pfd[0]; stdout/stderr: it writes pfd[1]. */
    ss->child_end = i == 0 ? pfd[0] : pfd[1];
    ss->parent_end = i == 0 ? pfd[1] : pfd[0];
    if (fcntl(ss->parent_end, F_SETFL, O_NONBLOCK) != 0)
        return cc__errf(errno, "cc_popen_new: pipe for %s: %s",
                        stream_names[i], strerror(errno));
    if (ss->child_end < 3) {
        int hi = above_stdio(ss->child_end, true);

        if (hi < 0)
            return cc__errf(errno, "cc_popen_new: pipe for %s: %s",
                            stream_names[i], strerror(errno));
        ss->child_end = hi;
    }
    plan->how = CC__STD_DUP;
    plan->src = ss->child_end;
    return 0;
}

/* Undo or finish the stream setups: child ends always closed; parent
 * ends closed unless kept; a taken CC_FROM end closed when the child has
 * it, else given back. */
static void finish_streams(stream_setup ss[3], const cc_popen_opts *o,
                           bool started)
{
    for (int i = 0; i < 3; i++) {
        if (ss[i].child_end >= 0)
            close(ss[i].child_end);
        if (!started && ss[i].parent_end >= 0)
            close(ss[i].parent_end);
        if (ss[i].taken >= 0) {
            if (started)
                close(ss[i].taken);
            else
                give_back(o->in.from, ss[i].taken);
        }
    }
}

cc_popen *cc_popen_new(const char *const argv[], const cc_popen_opts *opts)
{
    static const cc_popen_opts defaults;
    const cc_stdio *std[3];
    stream_setup ss[3];
    cc__spawn_req req;
    char **envp = NULL;
    cc_popen *p;
    pid_t pid;
    int rc = 0;

    if (argv == NULL || argv[0] == NULL)
        return cc__err_null(EINVAL, "cc_popen_new: argv is NULL or empty");
    if (opts == NULL)
        opts = &defaults;
    std[0] = &opts->in;
    std[1] = &opts->out;
    std[2] = &opts->err;
    for (int i = 0; i < 3; i++)
        if (check_stdio(std[i], i) != 0)
            return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return cc__err_null(ENOMEM, "cc_popen_new: out of memory");
    if (cc__env_build(opts, &envp) != 0) {
        free(p);
        return NULL;
    }
    memset(&req, 0, sizeof(req));
    for (int i = 0; i < 3; i++) {
        ss[i].child_end = ss[i].parent_end = ss[i].taken = -1;
        req.std[i].src = -1;
    }
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = setup_stream(std[i], i, &ss[i], &req.std[i]);
    if (rc != 0) {
        rc = errno;
        goto err_streams;
    }
    req.argv = argv;
    req.envp = envp;
    req.cwd = opts->cwd;
    req.pass_fds = opts->pass_fds;
    req.n_pass_fds = opts->n_pass_fds;
    req.new_session = opts->new_session;
    if (cc__spawn(&req, &pid) != 0) {
        rc = errno;
        goto err_streams;
    }
    p->pidfd = pidfd_open(pid, 0);
    if (p->pidfd < 0) {
        rc = errno;
        if (rc == ESRCH) {
            /* Already ended and reaped by someone else (SIGCHLD ignored:
             * the kernel reaps at once): nothing left to stop, and its
             * pid may name another process by now. */
            cc__errf(ESRCH, "cannot watch '%.100s' (pid %d): it ended and "
                            "was reaped by someone else (SIGCHLD ignored?) "
                            "before its pidfd was open", argv[0], (int)pid);
            goto err_streams;
        }
        /* Without a pidfd it cannot be watched: stop it now.  Not reaped
         * by us, so unless SIGCHLD is ignored the pid is still this
         * child. */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        cc__errf(rc, "cannot run '%.100s': pidfd_open: %s", argv[0],
                 strerror(rc));
        goto err_streams;
    }
    finish_streams(ss, opts, true);
    free(envp);
    p->pid = pid;
    p->new_session = opts->new_session;
    snprintf(p->name, sizeof(p->name), "%s", argv[0]);
    cc__mutex_init(&p->mu);
    for (int i = 0; i < 3; i++)
        p->fd[i] = ss[i].parent_end;
    p->magic = CC__POPEN_MAGIC;
    return p;
err_streams:
    finish_streams(ss, opts, false);
    free(envp);
    free(p);
    errno = rc; /* the message is already recorded */
    return NULL;
}

cc_popen *cc_popen_shell(const char *command, const cc_popen_opts *opts)
{
    const char *argv[] = {"/bin/sh", "-c", command, NULL};

    if (command == NULL)
        return cc__err_null(EINVAL, "cc_popen_shell: command is NULL");
    return cc_popen_new(argv, opts);
}

pid_t cc_popen_pid(const cc_popen *p)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_pid: not a cc_popen");
    return p->pid;
}

int cc_popen_fd(const cc_popen *p, int which)
{
    int fd;

    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_fd: not a cc_popen");
    if (which < 0 || which > 2)
        return cc__errf(EINVAL, "cc_popen_fd: stream %d is not 0, 1 or 2",
                        which);
    cc__mutex_lock((cc__mutex *)&p->mu);
    fd = p->fd[which];
    cc__mutex_unlock((cc__mutex *)&p->mu);
    if (fd < 0)
        return cc__errf(EBADF, "cc_popen_fd: the child's %s is not a pipe "
                               "(or its end was closed or handed on)",
                        stream_names[which]);
    return fd;
}

void cc__popen_close_locked(cc_popen *p, int i)
{
    CC__ASSERT(cc__mutex_owned(&p->mu));
    if (p->fd[i] >= 0) {
        close(p->fd[i]);
        p->fd[i] = -1;
    }
}

int cc_popen_close_fd(cc_popen *p, int which)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_close_fd: not a cc_popen");
    if (which < 0 || which > 2)
        return cc__errf(EINVAL, "cc_popen_close_fd: stream %d is not 0, 1 "
                                "or 2", which);
    cc__mutex_lock(&p->mu);
    if (p->busy) {
        cc__mutex_unlock(&p->mu);
        return cc__err(EBUSY, "cc_popen_close_fd: a communicate is using "
                              "the pipes");
    }
    if (p->fd[which] < 0) {
        cc__mutex_unlock(&p->mu);
        return cc__errf(EBADF, "cc_popen_close_fd: the child's %s is not a "
                               "pipe (or its end was closed or handed on)",
                        stream_names[which]);
    }
    cc__popen_close_locked(p, which);
    cc__mutex_unlock(&p->mu);
    return 0;
}

/* ------------------------------------------------------------- the end */

int cc__popen_reap_locked(cc_popen *p)
{
    int rc;

    CC__ASSERT(cc__mutex_owned(&p->mu));
    if (p->reaped)
        return 0;
    rc = cc__pidfd_reap(p->pidfd, &p->returncode);
    if (rc == ECHILD) { /* SIGCHLD ignored, or a waitpid(-1) elsewhere */
        p->reaped = true;
        p->lost = true;
        return 0;
    }
    if (rc == 0)
        p->reaped = true;
    return rc;
}

static int lost_error(const cc_popen *p, const char *what)
{
    return cc__errf(ECHILD, "%s: '%s' (pid %d) was reaped by someone else "
                            "(SIGCHLD ignored, or a waitpid(-1)): its return "
                            "code is unknown", what, p->name, (int)p->pid);
}

int cc_popen_poll(cc_popen *p, int *returncode)
{
    int rc;

    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_poll: not a cc_popen");
    cc__mutex_lock(&p->mu);
    rc = cc__popen_reap_locked(p);
    if (rc == 0 && !p->lost && returncode != NULL)
        *returncode = p->returncode;
    cc__mutex_unlock(&p->mu);
    if (rc == EAGAIN)
        return 0;
    if (rc != 0)
        return cc__errf(rc, "cc_popen_poll: waitid for '%s' (pid %d): %s",
                        p->name, (int)p->pid, strerror(rc));
    if (p->lost) /* final once reaped: no lock needed */
        return lost_error(p, "cc_popen_poll");
    return 1;
}

int cc_popen_wait(cc_popen *p, double timeout, int *returncode)
{
    int64_t deadline;

    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_wait: not a cc_popen");
    if (cc__deadline_for(timeout, "cc_popen_wait", &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("cc_popen_wait") != 0)
        return -1;
    for (;;) {
        int rc = cc_popen_poll(p, returncode);
        double left;

        if (rc == 1)
            return 0;
        if (rc < 0)
            return -1;
        if (timeout == 0)
            return cc__errf(EAGAIN, "'%s' (pid %d) is still running",
                            p->name, (int)p->pid);
        left = cc__seconds_until(deadline);
        if (left == 0)
            return cc__errf(ETIMEDOUT, "cc_popen_wait: '%s' (pid %d) still "
                                       "running at the deadline",
                            p->name, (int)p->pid);
        if (cc_wait_fd(p->pidfd, CC_READABLE, left) < 0) {
            if (errno == ECANCELED)
                return cc__err_wait(ECANCELED, "cc_popen_wait");
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc__errf(errno, "cc_popen_wait: waiting for '%s' "
                                       "(pid %d): %s", p->name, (int)p->pid,
                                cc_errmsg());
            /* timed out: the next round reaps or reports the deadline */
        }
    }
}

/* ------------------------------------------------------------- signals */

static int check_signal(int sig, const char *what)
{
    if (sig < 0 || sig >= NSIG)
        return cc__errf(EINVAL, "%s: %d is not a signal number", what, sig);
    return 0;
}

int cc_popen_send_signal(cc_popen *p, int sig)
{
    int rc;

    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_send_signal: not a cc_popen");
    if (check_signal(sig, "cc_popen_send_signal") != 0)
        return -1;
    /* Python's rule: a child that has ended is left alone.  Reap it first
     * if it can be, so an ended child is never "signalled" as a zombie. */
    cc__mutex_lock(&p->mu);
    rc = cc__popen_reap_locked(p);
    cc__mutex_unlock(&p->mu);
    if (rc == 0)
        return 0;
    /* Reaped by a concurrent waiter meanwhile: the kernel says ESRCH. */
    if (pidfd_send_signal(p->pidfd, sig, NULL, 0) != 0 && errno != ESRCH) {
        int e = errno;

        return cc__errf(e, "cannot send signal %d to '%s' (pid %d): %s", sig,
                        p->name, (int)p->pid, strerror(e));
    }
    return 0;
}

int cc_popen_terminate(cc_popen *p)
{
    return cc_popen_send_signal(p, SIGTERM);
}

int cc_popen_kill(cc_popen *p)
{
    return cc_popen_send_signal(p, SIGKILL);
}

int cc_popen_signal_group(cc_popen *p, int sig)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_signal_group: not a cc_popen");
    if (check_signal(sig, "cc_popen_signal_group") != 0)
        return -1;
    if (!p->new_session)
        return cc__errf(EINVAL, "cc_popen_signal_group: '%s' (pid %d) was "
                                "not started with new_session", p->name,
                        (int)p->pid);
    /* The child leads the group, so its pgid is its pid.  That number
     * cannot be reused while the child is unreaped or any member of the
     * group lives; once all are gone the call finds nobody (ESRCH). */
    if (kill(-p->pid, sig) != 0 && errno != ESRCH) {
        int e = errno;

        return cc__errf(e, "cannot send signal %d to the group of '%s' "
                           "(pgid %d): %s", sig, p->name, (int)p->pid,
                        strerror(e));
    }
    return 0;
}

/* ---------------------------------------------------------------- free */

int cc__popen_kill_reap(cc_popen *p, bool whole_group)
{
    int rc;

    cc__mutex_lock(&p->mu);
    rc = cc__popen_reap_locked(p);
    /* The group's id is the child's pid: while the child is unreaped, or
     * any member of its group lives, that number is not reused. */
    if (p->new_session && (rc == EAGAIN || whole_group))
        (void)kill(-p->pid, SIGKILL);
    if (rc == EAGAIN)
        (void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
    cc__mutex_unlock(&p->mu);
    if (rc != EAGAIN)
        return 0;
    /* SIGKILL cannot be caught: the wait is short, and it must not be cut
     * short by an expired deadline scope or the caller's cancellation.  A
     * task waits in a shield (its own scope, no cancellation); a thread
     * polls the pidfd without any deadline. */
    if (cc_current_task() != NULL && cc_shield_push(CC_FOREVER) == 0) {
        rc = cc_popen_wait(p, CC_FOREVER, NULL);
        cc_shield_pop();
        return rc;
    }
    for (;;) {
        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

        cc__mutex_lock(&p->mu);
        rc = cc__popen_reap_locked(p);
        cc__mutex_unlock(&p->mu);
        if (rc != EAGAIN)
            break;
        (void)poll(&pfd, 1, -1);
    }
    if (rc != 0)
        return cc__errf(rc, "waitid for '%s' (pid %d): %s", p->name,
                        (int)p->pid, strerror(rc));
    return 0;
}

void cc_popen_free(cc_popen *p)
{
    int rc;

    if (!cc__popen_ok(p))
        return;
    cc__mutex_lock(&p->mu);
    rc = cc__popen_reap_locked(p);
    cc__mutex_unlock(&p->mu);
    if (rc == EAGAIN) {
        siginfo_t si;

        if (cc__debug())
            cc__debugf("'%s' (pid %d) was still running when its cc_popen "
                       "was freed: killed it", p->name, (int)p->pid);
        if (p->new_session)
            (void)kill(-p->pid, SIGKILL);
        (void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
        /* Blocking, but short: SIGKILL cannot be caught or ignored. */
        while (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED) != 0 &&
               errno == EINTR)
            ;
    }
    p->magic = 0;
    for (int i = 0; i < 3; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    close(p->pidfd);
    cc__popen_comm_free(p);
    free(p);
}
