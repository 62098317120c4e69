/*
 * stream.c - the cc_stream record: making one, references, errors, waits,
 * close and free, limits and water marks, addresses (net layer).
 *
 * The locks and what they guard are described in stream.h.  Close is the
 * delicate part: it marks the stream closed, wakes the calls blocked in it
 * (a shutdown of the socket makes every waiter see the descriptor ready),
 * takes the read and drain locks they hold across their waits and only
 * then closes the descriptor, so a blocked call in another thread never
 * polls a closed or reused descriptor number.
 *
 * Waiting: a thread polls; a task waits through its loop with a kept
 * registration (src/aio/fdwait.c): the first loop whose task waits on the
 * socket keeps it in its epoll, edge-triggered, until the stream closes,
 * and a wait costs no epoll_ctl.  A close in that loop takes it out of the
 * epoll before the descriptor goes (elsewhere, closing fd does it).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/aio.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "net/stream.h"

/* ------------------------------------------------------------- making */

cc_stream *cc__stream_new(int fd, const struct sockaddr *peer,
                          socklen_t peerlen)
{
    cc_stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    static _Atomic uint64_t keys;

    s->fd = fd;
    s->key = atomic_fetch_add_explicit(&keys, 1, memory_order_relaxed) + 1;
    atomic_init(&s->kloop, NULL);
    atomic_init(&s->nokeep, false);
    atomic_init(&s->refs, 1);
    atomic_init(&s->closing, false);
    atomic_init(&s->closed, false);
    atomic_init(&s->cancelled, false);
    if (peer != NULL && peerlen > 0 && peerlen <= sizeof(s->peer)) {
        memcpy(&s->peer, peer, peerlen);
        s->peerlen = peerlen;
    } else {
        socklen_t len = sizeof(s->peer);

        if (getpeername(fd, (struct sockaddr *)&s->peer, &len) == 0)
            s->peerlen = len;
    }
    cc__lock_init(&s->rlock);
    cc__lock_init(&s->dlock);
    cc__mutex_init(&s->wmu);
    atomic_init(&s->limit, CC_STREAM_LIMIT);
    /* A new connection has usually nothing to read yet: wait before the
     * first recv, which also means an idle connection never allocates
     * its read buffer. */
    s->rdrained = true;
    s->high = 64 * 1024;
    s->low = 16 * 1024;
    atomic_init(&s->wpending, 0);
    s->magic = CC__STREAM_MAGIC;
    return s;
}

cc_stream *cc_stream_from_fd(int fd)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int type = 0;
    socklen_t tlen = sizeof(type);
    cc_stream *s;
    int rc;

    if (fd < 0)
        return cc__errf_null(EINVAL, "cc_stream_from_fd: bad fd %d", fd);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
        return cc__errf_null(EINVAL, "cc_stream_from_fd: fd %d is not a "
                                     "socket (%s)", fd, strerror(errno));
    if (type != SOCK_STREAM)
        return cc__errf_null(EINVAL, "cc_stream_from_fd: fd %d is not a "
                                     "stream socket", fd);
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
        return cc__errf_null(EINVAL, "cc_stream_from_fd: fd %d is not "
                                     "connected (%s)", fd, strerror(errno));
    rc = cc__fd_prepare(fd);
    if (rc != 0)
        return cc__errf_null(EINVAL, "cc_stream_from_fd: fd %d: %s", fd,
                             strerror(rc));
    s = cc__stream_new(fd, (struct sockaddr *)&peer, len);
    if (s == NULL)
        return cc__err_null(ENOMEM, "cc_stream_from_fd: out of memory");
    return s;
}

/* ------------------------------------------------------- references */

bool cc__stream_enter(cc_stream *s, const char *what)
{
    if (__builtin_expect(s == NULL || s->magic != CC__STREAM_MAGIC, 0)) {
        cc__errf(EINVAL, "%s: not a stream (NULL, freed or foreign)", what);
        return false;
    }
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return true;
}

static void stream_destroy(cc_stream *s)
{
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

void cc__stream_leave(cc_stream *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        stream_destroy(s);
}

/* ------------------------------------------------------------ errors */

const char *cc__stream_peer(const cc_stream *s, char *buf)
{
    if (s->peerlen == 0 ||
        cc__addr_format((const struct sockaddr *)&s->peer, s->peerlen, buf,
                        CC__PEER_MAX) < 0)
        snprintf(buf, CC__PEER_MAX, "?");
    else if (buf[0] == '\0')
        snprintf(buf, CC__PEER_MAX, "an unnamed socket");
    return buf;
}

int cc__stream_gone_err(cc_stream *s, int code, const char *what)
{
    char peer[CC__PEER_MAX];

    if (code == ECANCELED)
        return cc__errf(ECANCELED, "%s %s: the server is closing (the "
                                   "connection was cancelled)",
                        what, cc__stream_peer(s, peer));
    return cc__errf(ESHUTDOWN, "%s %s: the stream is closed", what,
                    cc__stream_peer(s, peer));
}

int cc__stream_errno(cc_stream *s, int code, const char *what)
{
    char peer[CC__PEER_MAX];

    return cc__errf(code, "%s %s: %s", what, cc__stream_peer(s, peer),
                    strerror(code));
}

int cc__stream_wait_err(cc_stream *s, int rc, double timeout,
                        const char *what)
{
    char peer[CC__PEER_MAX];

    if (rc == EAGAIN || (rc == ETIMEDOUT && timeout == 0))
        return cc__err(EAGAIN, "stream: not ready and the timeout is 0");
    if (rc == ETIMEDOUT)
        return cc__errf(ETIMEDOUT, "%s %s timed out", what,
                        cc__stream_peer(s, peer));
    if (rc == ECANCELED && !atomic_load(&s->cancelled))
        return cc__errf(ECANCELED, "%s %s: the task was cancelled", what,
                        cc__stream_peer(s, peer));
    if (rc == ECANCELED || rc == ESHUTDOWN)
        return cc__stream_gone_err(s, rc, what);
    return cc__stream_errno(s, rc, what);
}

/* ------------------------------------------------------------ waiting */

/*
 * Whether a task of `l` may keep the socket registered with its loop: the
 * first loop whose task waits on the stream keeps it for the stream's
 * life; if a task of another loop ever waits too, every wait is a plain
 * one from then on (the first loop's registration is left alone: a task
 * may be waiting in it, and it goes when the stream closes).
 */
static bool may_keep(cc_stream *s, cc_loop *l)
{
    cc_loop *k = atomic_load_explicit(&s->kloop, memory_order_acquire);

    if (__builtin_expect(k == l, 1))
        return !atomic_load_explicit(&s->nokeep, memory_order_relaxed);
    if (k == NULL && atomic_compare_exchange_strong(&s->kloop, &k, l))
        return !atomic_load_explicit(&s->nokeep, memory_order_relaxed);
    atomic_store_explicit(&s->nokeep, true, memory_order_relaxed);
    return false;
}

int cc__stream_wait(cc_stream *s, int events, double timeout,
                    int64_t deadline)
{
    double left = CC_FOREVER;
    cc_loop *l;
    int r;

    if (timeout == 0)
        return -EAGAIN;
    l = cc_loop_current();
    if (l != NULL && cc__ctx_get()->fiber != NULL && may_keep(s, l)) {
        if (deadline != CC__NS_FOREVER && deadline <= cc__now_ns())
            return -ETIMEDOUT;
        r = cc__wait_fd_kept(s->fd, events, deadline, s->key);
        return r >= 0 ? r : -errno;
    }
    if (deadline != CC__NS_FOREVER) {
        int64_t ns = deadline - cc__now_ns();

        if (ns <= 0)
            return -ETIMEDOUT;
        left = (double)ns / 1e9;
    }
    r = cc_wait_fd(s->fd, events, left);
    if (r >= 0)
        return r;
    r = errno;
    return -(r == EAGAIN ? ETIMEDOUT : r);
}

int cc__stream_lock(struct cc_lock *l, int64_t deadline)
{
    return cc__lock_acquire_dl(l, cc__ctx_get(), deadline);
}

void cc__stream_lock_hold(struct cc_lock *l)
{
    bool shielded = cc_current_task() != NULL && cc_shield_push(CC_FOREVER) == 0;

    while (cc__lock_acquire_dl(l, cc__ctx_get(), CC__NS_FOREVER) != 0)
        ; /* only a cancellation could fail it, and the shield stops that */
    if (shielded)
        cc_shield_pop();
}

/* -------------------------------------------------------------- close */

void cc__stream_cancel(cc_stream *s)
{
    atomic_store(&s->cancelled, true);
    cc__mutex_lock(&s->wmu);
    if (s->fd >= 0 && !atomic_load(&s->closed))
        shutdown(s->fd, SHUT_RDWR); /* wakes every call blocked on it */
    cc__mutex_unlock(&s->wmu);
}

/*
 * Take the socket out of the epoll of the loop that kept it registered,
 * while fd is still open: from the loop's own thread, cc__fd_unkeep.  From
 * another thread nothing is done: that loop may be freeing its epoll this
 * very moment, and closing fd removes the registration anyway -- unless a
 * copy of the descriptor lives on (a dup, a forked child's), and then the
 * loop only hears an edge now and then, for a file nobody waits on (kept
 * registrations are edge-triggered: no storm), until the copy closes.
 */
static void unkeep(cc_stream *s, int fd)
{
    cc_loop *k = atomic_load(&s->kloop);

    if (k != NULL && k == cc_loop_current())
        cc__fd_unkeep(fd, s->key);
}

/*
 * Close the descriptor once no call uses it.  Calls wait only while
 * holding rlock or dlock, so if both can be taken at once nobody is
 * blocked; else the socket is shut down, which wakes them (they see
 * `closed` and leave), and the locks are taken for good.
 */
static void stream_shut(cc_stream *s)
{
    cc__ctx *me = cc__ctx_get();
    bool have_r;
    bool have_d;
    int fd;

    atomic_store(&s->closed, true);
    have_r = cc__lock_acquire_dl(&s->rlock, me, 0) == 0;
    have_d = cc__lock_acquire_dl(&s->dlock, me, 0) == 0;
    if (!have_r || !have_d) {
        cc__mutex_lock(&s->wmu);
        shutdown(s->fd, SHUT_RDWR);
        cc__mutex_unlock(&s->wmu);
        if (!have_r)
            cc__stream_lock_hold(&s->rlock);
        if (!have_d)
            cc__stream_lock_hold(&s->dlock);
    }
    cc__mutex_lock(&s->wmu);
    fd = s->fd;
    s->fd = -1;
    cc__stream_wbuf_free_locked(s);
    cc__mutex_unlock(&s->wmu);
    unkeep(s, fd);
    free(s->rbuf);
    s->rbuf = NULL;
    s->rcap = s->rpos = s->rend = 0;
    close(fd);
    cc__lock_release_owned(&s->dlock);
    cc__lock_release_owned(&s->rlock);
}

/* Close: flush within the timeout (an errno, or 0), then shut.  Returns
 * -1 when this call was not the first close (nothing to do). */
static int stream_close(cc_stream *s, double timeout, int64_t deadline,
                        bool *first)
{
    bool expected = false;
    int rc = 0;

    *first = atomic_compare_exchange_strong(&s->closing, &expected, true);
    if (!*first)
        return 0;
    if (atomic_load_explicit(&s->wpending, memory_order_relaxed) > 0)
        rc = cc__stream_drain_to(s, 0, false, timeout, deadline);
    stream_shut(s);
    return rc;
}

int cc_stream_close(cc_stream *s, double timeout)
{
    const char *what = "close of the stream to";
    int64_t deadline;
    bool first;
    int rc;

    if (!cc__stream_enter(s, "cc_stream_close"))
        return -1;
    if (cc__deadline_for(timeout, "cc_stream_close", &deadline) != 0) {
        cc__stream_leave(s);
        return -1;
    }
    rc = stream_close(s, timeout, deadline, &first);
    if (rc != 0)
        cc__stream_wait_err(s, rc, timeout, what);
    cc__stream_leave(s);
    return rc == 0 ? 0 : -1;
}

void cc_stream_free(cc_stream *s)
{
    bool first;

    if (s == NULL || s->magic != CC__STREAM_MAGIC)
        return;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    /* A close already under way in another call keeps its own reference
     * and finishes on its own. */
    (void)stream_close(s, 0, 0, &first);
    s->magic = 0;
    cc__stream_leave(s); /* this call's */
    cc__stream_leave(s); /* the owner's */
}

/* ---------------------------------------------------------- settings */

int cc_stream_set_limit(cc_stream *s, size_t limit)
{
    if (!cc__stream_enter(s, "cc_stream_set_limit"))
        return -1;
    if (limit == 0) {
        cc__stream_leave(s);
        return cc__err(EINVAL, "cc_stream_set_limit: the limit must be > 0");
    }
    atomic_store_explicit(&s->limit, limit, memory_order_relaxed);
    cc__stream_leave(s);
    return 0;
}

int cc_stream_set_water(cc_stream *s, size_t high, size_t low)
{
    if (!cc__stream_enter(s, "cc_stream_set_water"))
        return -1;
    if (low > high) {
        cc__stream_leave(s);
        return cc__errf(EINVAL, "cc_stream_set_water: low (%zu) is above "
                                "high (%zu)", low, high);
    }
    cc__mutex_lock(&s->wmu);
    s->high = high;
    s->low = low;
    cc__mutex_unlock(&s->wmu);
    cc__stream_leave(s);
    return 0;
}

size_t cc_stream_pending(const cc_stream *s)
{
    if (s == NULL || s->magic != CC__STREAM_MAGIC)
        return 0;
    return atomic_load_explicit(&s->wpending, memory_order_relaxed);
}

int cc_stream_fd(const cc_stream *cs)
{
    cc_stream *s = (cc_stream *)(uintptr_t)cs; /* wmu and refs only */
    int fd;

    if (!cc__stream_enter(s, "cc_stream_fd"))
        return -1;
    cc__mutex_lock(&s->wmu);
    fd = atomic_load(&s->closed) ? -1 : s->fd;
    cc__mutex_unlock(&s->wmu);
    cc__stream_leave(s);
    if (fd < 0)
        return cc__err(ESHUTDOWN, "cc_stream_fd: the stream is closed");
    return fd;
}

/* ---------------------------------------------------------- addresses */

static int put_text(const struct sockaddr *sa, socklen_t len, char *buf,
                    size_t size, const char *what)
{
    char text[CC__PEER_MAX + 8];
    int n = cc__addr_format(sa, len, text, sizeof(text));

    if (n < 0)
        return cc__errf(ENOTCONN, "%s: unknown address family", what);
    if ((size_t)n >= size || buf == NULL)
        return cc__errf(ERANGE, "%s: the address needs %d bytes, the buffer "
                                "has %zu", what, n + 1, size);
    memcpy(buf, text, (size_t)n + 1);
    return 0;
}

int cc_stream_peername(const cc_stream *s, char *buf, size_t len)
{
    if (s == NULL || s->magic != CC__STREAM_MAGIC)
        return cc__err(EINVAL, "cc_stream_peername: not a stream");
    if (s->peerlen == 0)
        return cc__err(ENOTCONN, "cc_stream_peername: the peer's address "
                                 "is unknown");
    return put_text((const struct sockaddr *)&s->peer, s->peerlen, buf, len,
                    "cc_stream_peername");
}

int cc_stream_sockname(const cc_stream *cs, char *buf, size_t len)
{
    cc_stream *s = (cc_stream *)(uintptr_t)cs; /* wmu and refs only */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int rc = 0;

    if (!cc__stream_enter(s, "cc_stream_sockname"))
        return -1;
    cc__mutex_lock(&s->wmu);
    if (s->fd < 0 || atomic_load(&s->closed))
        rc = ESHUTDOWN;
    else if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0)
        rc = errno;
    cc__mutex_unlock(&s->wmu);
    if (rc == 0)
        rc = put_text((struct sockaddr *)&ss, sl, buf, len,
                      "cc_stream_sockname");
    else if (rc == ESHUTDOWN)
        rc = cc__err(ESHUTDOWN, "cc_stream_sockname: the stream is closed");
    else
        rc = cc__errf(rc, "cc_stream_sockname: %s", strerror(rc));
    cc__stream_leave(s);
    return rc;
}
