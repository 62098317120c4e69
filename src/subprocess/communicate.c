/*
 * communicate.c - cc_popen_communicate: write the child's stdin, read its
 * stdout and stderr, and wait for its end, all at once (subprocess layer).
 *
 * One call makes an epoll instance holding the parent's pipe ends that are
 * still open (stdin for writing, stdout and stderr for reading) and the
 * child's pidfd, and waits for THAT descriptor with cc_wait_fd: an epoll
 * fd is readable while any of its members is ready, so a thread polls it
 * and a task has its loop's epoll watch it (nested epoll), suspending only
 * the task.  After each wake-up, epoll_wait(0) says which members are
 * ready; all pipes are non-blocking, so every step is a bounded amount of
 * work and no pipe can fill up while another is being waited on.  The
 * pidfd leaves the set once the child is reaped (else a grandchild that
 * keeps a pipe open would make it spin).  A task yields after every round
 * that did work, so 64 MiB through `cat` leaves its loop's other tasks on
 * time.
 *
 * State.  Output read so far lives in the handle (outbuf.c: chunks, so
 * growing never copies), and so does the input not yet written once a
 * call gives up: the first call writes straight from the caller's buffer
 * and copies only what is left when it times out or is cancelled.  A later call continues from
 * there, as Python's communicate after TimeoutExpired.  The `busy` flag
 * (under the handle's mutex) makes one communicate at a time the owner
 * of that state and of the pipe ends; a second gets EBUSY.
 *
 * SIGPIPE.  A write to a pipe whose reader has gone raises SIGPIPE, which
 * would end the parent.  Writes run with SIGPIPE blocked in the calling
 * thread; one raised by them is taken back with sigtimedwait (it is
 * directed at the thread) before the mask is restored.  EPIPE itself is
 * not an error: the child is done reading, the rest of the input is
 * dropped.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "subprocess/subproc.h"

#define READ_BUDGET (256u << 10) /* bytes read from one pipe per round:
                                    bounds a task's turn (fresh pages) */
#define WRITE_CHUNK (1u << 20)   /* bytes offered to one write() */
#define EV_PID 3                 /* epoll data of the pidfd (0-2: fds) */

/* One call's view; the handle's communicate state is ours while busy. */
typedef struct comm {
    cc_popen *p;
    int ep;                 /* this call's epoll fd */
    int fd[3];              /* the pipe ends, -1 once closed */
    const char *in;         /* input: the caller's buffer or p->in_buf */
    size_t in_len;
    size_t in_pos;          /* bytes of in written */
    bool in_is_callers;     /* in is the caller's: copy the rest on exit */
    bool reaped;            /* the child is reaped (pidfd out of ep) */
} comm;

static const char *const what = "cc_popen_communicate";

/* ----------------------------------------------------------- SIGPIPE */

typedef struct sigpipe_guard {
    sigset_t old;           /* the thread's mask before */
    bool was_pending;       /* a SIGPIPE was pending before: not ours */
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t set;
    sigset_t pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(sigpipe_guard *g, bool raised)
{
    if (raised && !g->was_pending) {
        sigset_t set;
        struct timespec zero = {0, 0};

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ------------------------------------------------------------- steps */

static void close_stream(comm *c, int i)
{
    epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd[i], NULL);
    cc__mutex_lock(&c->p->mu);
    cc__popen_close_locked(c->p, i);
    cc__mutex_unlock(&c->p->mu);
    c->fd[i] = -1;
}

/* Write what the pipe takes.  0, or -1 with the error recorded. */
static int write_some(comm *c)
{
    sigpipe_guard g;
    bool epipe = false;
    int rc = 0;

    sigpipe_block(&g);
    while (c->in_pos < c->in_len) {
        size_t left = c->in_len - c->in_pos;
        ssize_t n = write(c->fd[0], c->in + c->in_pos,
                          left < WRITE_CHUNK ? left : WRITE_CHUNK);

        if (n >= 0) {
            c->in_pos += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            break;
        if (errno == EPIPE) {
            /* The child closed its stdin: the rest is not wanted. */
            epipe = true;
            c->in_pos = c->in_len;
            break;
        }
        rc = cc__errf(errno, "%s: writing to the stdin of '%s': %s", what,
                      c->p->name, strerror(errno));
        break;
    }
    sigpipe_restore(&g, epipe);
    if (rc == 0 && c->in_pos == c->in_len)
        close_stream(c, 0);
    return rc;
}

/* Read stream i (1 stdout, 2 stderr) up to `budget` bytes, until it would
 * block or ends.  0, or -1 with the error recorded. */
static int read_some(comm *c, int i, size_t budget)
{
    cc__outbuf *b = &c->p->acc[i - 1];
    size_t got = 0;

    while (got < budget) {
        size_t room;
        void *at = cc__outbuf_space(b, &room);
        ssize_t n;

        if (at == NULL)
            return -1;
        if (room > budget - got)
            room = budget - got;
        n = read(c->fd[i], at, room);
        if (n > 0) {
            cc__outbuf_commit(b, (size_t)n);
            got += (size_t)n;
            continue;
        }
        if (n == 0) {
            close_stream(c, i);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        return cc__errf(errno, "%s: reading the %s of '%s': %s", what,
                        i == 1 ? "stdout" : "stderr", c->p->name,
                        strerror(errno));
    }
    return 0;
}

/* The pidfd is readable: reap, and stop watching it once reaped. */
static int on_exit_ready(comm *c)
{
    int rc;

    rc = cc__child_try_reap(&c->p->child);
    if (rc == 0) {
        c->reaped = true;
        epoll_ctl(c->ep, EPOLL_CTL_DEL, c->p->child.pidfd, NULL);
        return 0;
    }
    if (rc == EAGAIN) /* not reapable yet: look again next round */
        return 0;
    return cc__errf(rc, "%s: waitid for '%s' (pid %d): %s", what, c->p->name,
                    (int)c->p->child.pid, strerror(rc));
}

static int watch(comm *c, int fd, uint32_t events, uint32_t tag)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u32 = tag;
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return cc__errf(errno, "%s: epoll_ctl: %s", what, strerror(errno));
    return 0;
}

/* The epoll set for what is left to do. */
static int start(comm *c)
{
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    if (c->ep < 0)
        return cc__errf(errno, "%s: epoll_create1: %s", what,
                        strerror(errno));
    for (int i = 0; i < 3; i++)
        if (c->fd[i] >= 0 &&
            watch(c, c->fd[i], i == 0 ? EPOLLOUT : EPOLLIN, (uint32_t)i) != 0)
            return -1;
    cc__mutex_lock(&c->p->child.mu);
    c->reaped = c->p->child.reaped;
    cc__mutex_unlock(&c->p->child.mu);
    if (!c->reaped && watch(c, c->p->child.pidfd, EPOLLIN, EV_PID) != 0)
        return -1;
    return 0;
}

static bool finished(const comm *c)
{
    return c->fd[0] < 0 && c->fd[1] < 0 && c->fd[2] < 0 && c->reaped;
}

/* The deadline has passed: the error to report.  -1, recorded. */
static int deadline_error(const comm *c, double timeout)
{
    if (timeout == 0)
        return cc__errf(EAGAIN, "%s: '%s' (pid %d) is not done", what,
                        c->p->name, (int)c->p->child.pid);
    return cc__errf(ETIMEDOUT, "%s: '%s' (pid %d) timed out", what,
                    c->p->name, (int)c->p->child.pid);
}

/* A failed cc_wait_fd: -1 with the error recorded, or 0 when it was only
 * the deadline (the caller's next round reports that). */
static int wait_error(const comm *c)
{
    if (errno == ECANCELED)
        return cc__err_wait(ECANCELED, what);
    if (errno != ETIMEDOUT && errno != EAGAIN)
        return cc__errf(errno, "%s: waiting for '%s' (pid %d): %s", what,
                        c->p->name, (int)c->p->child.pid, cc_errmsg());
    return 0;
}

/*
 * No pipe left to write or read: wait on the pidfd alone.  The common
 * cc_subprocess_run without captured output comes here, and is spared
 * the epoll set (epoll_create1, epoll_ctl, epoll_wait, close: ~7 us of the
 * parent's ~60 us per spawn, measured by bench_subprocess).
 */
static int wait_exit_only(comm *c, int64_t deadline, double timeout)
{
    for (;;) {
        int rc;

        rc = cc__child_try_reap(&c->p->child);
        if (rc == 0) {
            c->reaped = true;
            return 0;
        }
        if (rc != EAGAIN)
            return cc__errf(rc, "%s: waitid for '%s' (pid %d): %s", what,
                            c->p->name, (int)c->p->child.pid, strerror(rc));
        if (deadline != CC__NS_FOREVER && cc__now_ns() >= deadline)
            return deadline_error(c, timeout);
        if (cc_wait_fd(c->p->child.pidfd, CC_READABLE,
                       cc__seconds_until(deadline)) < 0 &&
            wait_error(c) != 0)
            return -1;
    }
}

/* Move bytes until everything is done or the deadline.  0, or -1 with the
 * error recorded (EAGAIN for timeout 0, ETIMEDOUT, ECANCELED, ...). */
static int pump(comm *c, int64_t deadline, double timeout)
{
    bool in_task = cc_current_task() != NULL;

    if (c->fd[0] >= 0 && c->in_pos == c->in_len)
        close_stream(c, 0); /* nothing (more) to write: EOF for the child
                               (no epoll set yet: c->ep is -1) */
    if (c->fd[0] < 0 && c->fd[1] < 0 && c->fd[2] < 0)
        return wait_exit_only(c, deadline, timeout);
    if (start(c) != 0)
        return -1;
    for (;;) {
        struct epoll_event evs[4];
        int n = epoll_wait(c->ep, evs, 4, 0);
        int w;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cc__errf(errno, "%s: epoll_wait: %s", what,
                            strerror(errno));
        }
        for (int k = 0; k < n; k++) {
            uint32_t tag = evs[k].data.u32;
            int rc;

            if (tag == EV_PID)
                rc = c->reaped ? 0 : on_exit_ready(c);
            else if (c->fd[tag] < 0) /* closed earlier in this round */
                rc = 0;
            else if (tag == 0)
                rc = write_some(c);
            else
                rc = read_some(c, (int)tag, READ_BUDGET);
            if (rc != 0)
                return -1;
        }
        if (finished(c))
            return 0;
        if (deadline != CC__NS_FOREVER && cc__now_ns() >= deadline)
            return deadline_error(c, timeout);
        if (n > 0) {
            /* Work was done and more may be ready: in a task, let the
             * loop's other tasks run first. */
            if (in_task && cc_yield() != 0 && wait_error(c) != 0)
                return -1; /* cancelled; an expired scope: next round */
            continue;
        }
        w = cc_wait_fd(c->ep, CC_READABLE, cc__seconds_until(deadline));
        if (w < 0 && wait_error(c) != 0)
            return -1; /* else the deadline: one more round, then report */
    }
}

/* ----------------------------------------------------------- results */

/* The blobs for stdout and stderr from what was collected (NULL for a
 * stream that was not a pipe), the outputs emptied.  Called by the owner
 * of the communicate state (busy), without mu: filling big blobs takes a
 * while, and a task yields meanwhile.  0, or -1 with ENOMEM recorded and
 * nothing changed. */
static int take_outputs(cc_popen *p, void **out, void **err)
{
    void *b[2] = {NULL, NULL};

    for (int k = 0; k < 2; k++) {
        if (!p->collect[k])
            continue;
        b[k] = cc_blob_new(p->acc[k].total);
        if (b[k] == NULL) {
            cc_blob_free(b[0]);
            return cc__errf(ENOMEM, "%s: out of memory for %zu bytes of "
                                    "output", what, p->acc[k].total);
        }
    }
    for (int k = 0; k < 2; k++) {
        if (b[k] != NULL)
            cc__outbuf_move(&p->acc[k], b[k]);
        cc__outbuf_free(&p->acc[k]); /* (empty unless it was no pipe) */
        p->collect[k] = false;
    }
    if (out != NULL)
        *out = b[0];
    else
        cc_blob_free(b[0]);
    if (err != NULL)
        *err = b[1];
    else
        cc_blob_free(b[1]);
    return 0;
}

/* Keep the input not yet written for the next call (the owner, without
 * mu).  A failed copy drops it and closes stdin (ENOMEM): a child waiting
 * for the rest then sees an end of file rather than waiting forever. */
static int keep_input(comm *c)
{
    cc_popen *p = c->p;
    size_t left = c->in_len - c->in_pos;
    char *copy;

    if (!c->in_is_callers) {
        p->in_pos = c->in_pos;
        return 0;
    }
    if (left == 0 || c->fd[0] < 0)
        return 0;
    copy = malloc(left);
    if (copy == NULL) {
        cc__mutex_lock(&p->mu);
        cc__popen_close_locked(p, 0);
        cc__mutex_unlock(&p->mu);
        return cc__errf(ENOMEM, "%s: out of memory keeping %zu bytes of "
                                "input; stdin was closed", what, left);
    }
    memcpy(copy, c->in + c->in_pos, left);
    p->in_buf = copy;
    p->in_len = left;
    p->in_pos = 0;
    return 0;
}

int cc_popen_communicate(cc_popen *p, const void *input, size_t len,
                         double timeout, void **out, void **err,
                         int *returncode)
{
    int64_t deadline;
    comm c;
    int rc;
    int e;

    if (!cc__popen_ok(p))
        return cc__err(EINVAL, "cc_popen_communicate: not a cc_popen");
    if (input == NULL && len > 0)
        return cc__err(EINVAL, "cc_popen_communicate: input is NULL but len "
                               "is not 0");
    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return -1;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.ep = -1;
    cc__mutex_lock(&p->mu);
    if (p->busy) {
        cc__mutex_unlock(&p->mu);
        return cc__err(EBUSY, "cc_popen_communicate: another communicate "
                              "of this process is running");
    }
    if (!p->started) {
        if (len > 0 && p->fd[0] < 0) {
            cc__mutex_unlock(&p->mu);
            return cc__err(EINVAL, "cc_popen_communicate: input given but "
                                   "the child's stdin is not a pipe");
        }
        p->started = true;
        p->collect[0] = p->fd[1] >= 0;
        p->collect[1] = p->fd[2] >= 0;
        c.in = input;
        c.in_len = len;
        c.in_is_callers = true;
    } else {
        c.in = p->in_buf;
        c.in_len = p->in_len;
        c.in_pos = p->in_pos;
    }
    p->busy = true;
    for (int i = 0; i < 3; i++)
        c.fd[i] = p->fd[i];
    cc__mutex_unlock(&p->mu);

    rc = pump(&c, deadline, timeout);
    e = errno;
    if (c.ep >= 0)
        close(c.ep);
    /* The state is still ours (busy): finish without the mutex. */
    if (rc == 0 && p->child.lost) { /* final once reaped */
        rc = cc__errf(ECHILD, "%s: %s was reaped by someone else (SIGCHLD "
                              "ignored, or a waitpid(-1)): its return code "
                              "is unknown", what, p->child.label);
        e = ECHILD;
    }
    if (rc == 0) {
        rc = take_outputs(p, out, err);
        if (rc != 0)
            e = ENOMEM;
        else if (returncode != NULL)
            *returncode = p->child.code;
    } else if (c.in_pos < c.in_len && keep_input(&c) != 0) {
        e = ENOMEM;
    }
    if (rc == 0 || c.in_pos == c.in_len) {
        free(p->in_buf);
        p->in_buf = NULL;
        p->in_len = p->in_pos = 0;
    }
    cc__mutex_lock(&p->mu);
    p->busy = false;
    cc__mutex_unlock(&p->mu);
    errno = e;
    return rc;
}

const void *cc_popen_partial(const cc_popen *p, int which, size_t *len)
{
    cc_popen *q = (cc_popen *)p; /* flattening is not a visible change */
    const void *data = NULL;
    size_t n = 0;
    int rc;

    if (len != NULL)
        *len = 0;
    if (!cc__popen_ok(p))
        return cc__err_null(EINVAL, "cc_popen_partial: not a cc_popen");
    if (which != 1 && which != 2)
        return cc__errf_null(EINVAL, "cc_popen_partial: stream %d is not 1 "
                                     "(stdout) or 2 (stderr)", which);
    cc__mutex_lock(&q->mu);
    if (q->busy) {
        cc__mutex_unlock(&q->mu);
        return cc__err_null(EBUSY, "cc_popen_partial: a communicate is "
                                   "running");
    }
    q->busy = true;
    cc__mutex_unlock(&q->mu);
    rc = cc__outbuf_flatten(&q->acc[which - 1]);
    if (rc == 0 && q->acc[which - 1].total > 0) {
        data = q->acc[which - 1].head->data;
        n = q->acc[which - 1].total;
    }
    cc__mutex_lock(&q->mu);
    q->busy = false;
    cc__mutex_unlock(&q->mu);
    if (rc != 0)
        return NULL; /* ENOMEM recorded */
    if (len != NULL)
        *len = n;
    return data;
}

int cc__popen_take_partial(cc_popen *p, void **out, void **err)
{
    int rc = 0;

    cc__mutex_lock(&p->mu);
    if (p->busy) {
        cc__mutex_unlock(&p->mu);
        return cc__err(EBUSY, "another communicate of this process is "
                              "running"), EBUSY;
    }
    if (!p->started) {
        p->started = true;
        p->collect[0] = p->fd[1] >= 0;
        p->collect[1] = p->fd[2] >= 0;
    }
    p->busy = true;
    cc__mutex_unlock(&p->mu);
    /* Only what the pipes hold now (FIONREAD): a grandchild may still be
     * writing, and its end of file may never come. */
    for (int i = 1; i < 3 && rc == 0; i++) {
        cc__outbuf *b = &p->acc[i - 1];
        int avail = 0;

        if (p->fd[i] < 0 || ioctl(p->fd[i], FIONREAD, &avail) != 0)
            continue;
        while (avail > 0) {
            size_t room;
            void *at = cc__outbuf_space(b, &room);
            ssize_t n;

            if (at == NULL) {
                rc = ENOMEM;
                break;
            }
            if (room > (size_t)avail)
                room = (size_t)avail;
            n = read(p->fd[i], at, room);
            if (n <= 0)
                break;
            cc__outbuf_commit(b, (size_t)n);
            avail -= (int)n;
        }
    }
    if (rc == 0 && take_outputs(p, out, err) != 0)
        rc = ENOMEM;
    cc__mutex_lock(&p->mu);
    p->busy = false;
    cc__mutex_unlock(&p->mu);
    return rc;
}

void cc__popen_comm_free(cc_popen *p)
{
    free(p->in_buf);
    cc__outbuf_free(&p->acc[0]);
    cc__outbuf_free(&p->acc[1]);
}
