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
 * End: the handle's child record (internal/child.h, shared with
 * cc_process) waits, reaps, signals and frees, by its rules: a waiter
 * waits for the pidfd with cc_wait_fd (poll in a thread, the loop's epoll
 * in a task, which can be cancelled), the first reaper records the return
 * code for every other waiter, a signal to an ended child does nothing.
 * A group signal is kill(-pgid).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/error.h"
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
                                "handed on)", from->name, (int)from->child.pid);
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

/* "'name'" (malloc'd), the child's label in messages; NULL when out of
 * memory. */
static char *quoted(const char *name)
{
    size_t len = strlen(name);
    char *q = malloc(len + 3);

    if (q == NULL)
        return NULL;
    q[0] = '\'';
    memcpy(q + 1, name, len);
    q[len + 1] = '\'';
    q[len + 2] = '\0';
    return q;
}

cc_popen *cc_popen_new(const char *const argv[], const cc_popen_opts *opts)
{
    static const cc_popen_opts defaults;
    const cc_stdio *std[3];
    stream_setup ss[3];
    cc__spawn_req req;
    char *label;
    char **envp = NULL;
    cc_popen *p;
    pid_t pid;
    int rc = 0;

    if (argv == NULL || argv[0] == NULL)
        return cc__err_null(EINVAL, "cc_popen_new: argv is NULL or empty");
    if (opts == NULL)
        opts = &defaults;
    if (CC__OPTS_RESERVED(opts, "cc_popen_new", "cc_popen_opts") != 0)
        return NULL;
    std[0] = &opts->in;
    std[1] = &opts->out;
    std[2] = &opts->err;
    for (int i = 0; i < 3; i++)
        if (check_stdio(std[i], i) != 0)
            return NULL;
    p = calloc(1, sizeof(*p));
    if (p != NULL)
        p->name = strdup(argv[0]);
    if (p == NULL || p->name == NULL) {
        free(p);
        return cc__err_null(ENOMEM, "cc_popen_new: out of memory");
    }
    if (cc__env_build(opts, &envp) != 0) {
        free(p->name);
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
    label = quoted(p->name);
    rc = cc__child_adopt(&p->child, pid, opts->new_session,
                         label != NULL ? label : "a child", "cc_popen_new");
    free(label);
    if (rc != 0)
        goto err_streams;
    finish_streams(ss, opts, true);
    free(envp);
    cc__mutex_init(&p->mu);
    for (int i = 0; i < 3; i++)
        p->fd[i] = ss[i].parent_end;
    p->magic = CC__POPEN_MAGIC;
    return p;
err_streams:
    finish_streams(ss, opts, false);
    free(envp);
    free(p->name);
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
    return p->child.pid;
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

int cc_popen_poll(cc_popen *p, int *returncode)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_poll: not a cc_popen");
    return cc__child_poll(&p->child, returncode, "cc_popen_poll");
}

int cc_popen_wait(cc_popen *p, double timeout, int *returncode)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_wait: not a cc_popen");
    return cc__child_wait(&p->child, timeout, returncode, "cc_popen_wait");
}

/* ------------------------------------------------------------- signals */

int cc_popen_send_signal(cc_popen *p, int sig)
{
    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_send_signal: not a cc_popen");
    return cc__child_signal(&p->child, sig, "cc_popen_send_signal");
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
    if (sig < 0 || sig >= NSIG)
        return cc__errf(EINVAL, "cc_popen_signal_group: %d is not a signal "
                                "number", sig);
    if (!p->child.group)
        return cc__errf(EINVAL, "cc_popen_signal_group: %s was not started "
                                "with new_session", p->child.label);
    /* The child leads the group, so its pgid is its pid.  That number
     * cannot be reused while the child is unreaped or any member of the
     * group lives; once all are gone the call finds nobody (ESRCH). */
    if (kill(-p->child.pid, sig) != 0 && errno != ESRCH) {
        int e = errno;

        return cc__errf(e, "cannot send signal %d to the group of '%s' "
                           "(pgid %d): %s", sig, p->name, (int)p->child.pid,
                        strerror(e));
    }
    return 0;
}

/* ---------------------------------------------------------------- free */

void cc_popen_free(cc_popen *p)
{
    if (!cc__popen_ok(p))
        return;
    p->magic = 0;
    cc__child_release(&p->child, "cc_popen");
    for (int i = 0; i < 3; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    cc__popen_comm_free(p);
    free(p->name);
    free(p);
}
