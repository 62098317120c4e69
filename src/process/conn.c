/*
 * conn.c - cc_conn, the two ends of a Pipe: framed messages over a Unix
 * stream socket pair (process layer).
 *
 * A frame is an 8-byte little-endian length, then that many bytes.  The
 * socket is non-blocking; every wait goes through cc_wait_fd, so a thread
 * polls and a task suspends (and can be cancelled).  SIGPIPE is never
 * raised: sends use MSG_NOSIGNAL.
 *
 * Sending: the header and the payload go out in one sendmsg; a partial
 * write continues after a wait for writability.  A send that gives up
 * (timeout, cancellation) after part of a message went out breaks the
 * connection: the peer could no longer tell where the next frame starts.
 *
 * Receiving: bytes come in through a per-end read-ahead buffer, so one
 * read() delivers many small messages; a large payload is read straight
 * into its blob.  What has arrived of a message (header bytes, the blob and
 * how much of it is filled) stays in the end across a timeout or a
 * cancellation and the next recv continues it.
 *
 * Locks: send_lock serializes senders (one whole message each), recv_lock
 * receivers and guards the receive state; both are cc_locks, so a task
 * waiting for one suspends.  No thread holds both.  `broken` is set once
 * (0 -> errno) and read without a lock.
 *
 * Fork: an end is copied into children forked after it was made, with its
 * read-ahead buffer; an end should be used by one process (each closes
 * the end it does not use).
 */
#include <endian.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "concur/aio.h"
#include "concur/process.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/lock.h"
#include "internal/waiter.h"

#define CONN_MAGIC 0x434f4e4eu            /* "CONN" */
#define RBUF_SIZE (64u * 1024)            /* read-ahead buffer */
#define MAX_FRAME ((uint64_t)1 << 40)     /* 1 TiB: longer is garbage */
#define HDR 8                             /* bytes of a frame's length */

/*
 * One end.  fd, can_send and can_recv are fixed at creation.  The receive
 * state is guarded by recv_lock; `rbuffered` mirrors rend - rpos for poll,
 * which does not take the lock.
 */
struct cc_conn {
    uint32_t magic;             /* CONN_MAGIC while open */
    int fd;                     /* non-blocking, close-on-exec */
    bool can_send;
    bool can_recv;
    cc__mutex break_mu;         /* serializes conn_break */
    _Atomic int broken;         /* 0, or the errno it broke with; set once,
                                   under break_mu, after `why` */
    char why[192];              /* why it broke */
    struct cc_lock send_lock;   /* one sender at a time */
    struct cc_lock recv_lock;   /* one receiver at a time; guards below */
    unsigned char hdr[HDR];     /* the length being received */
    size_t hdr_have;            /* bytes of hdr received */
    char *msg;                  /* the blob being filled, or NULL */
    size_t msg_len;
    size_t msg_have;            /* bytes of msg received */
    char *rbuf;                 /* read-ahead (RBUF_SIZE), made on demand */
    size_t rpos;                /* unconsumed bytes: rbuf[rpos, rend) */
    size_t rend;
    _Atomic size_t rbuffered;   /* rend - rpos */
};

static bool conn_ok(const cc_conn *c)
{
    return c != NULL && c->magic == CONN_MAGIC;
}

/* ------------------------------------------------------------ creating */

static cc_conn *conn_new(int fd, bool can_send, bool can_recv)
{
    cc_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->can_send = can_send;
    c->can_recv = can_recv;
    cc__mutex_init(&c->break_mu);
    atomic_init(&c->broken, 0);
    atomic_init(&c->rbuffered, 0);
    cc__lock_init(&c->send_lock);
    cc__lock_init(&c->recv_lock);
    c->magic = CONN_MAGIC;
    return c;
}

int cc_pipe_new(cc_conn **a, cc_conn **b, bool duplex)
{
    int sv[2];

    if (a == NULL || b == NULL)
        return cc__err(EINVAL, "cc_pipe_new: a and b must not be NULL");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) != 0) {
        int e = errno;

        return cc__errf(e, "cc_pipe_new: socketpair: %s", strerror(e));
    }
    /* One-way: a receives, b sends; the kernel closes the other two
     * directions too, so even the raw fds cannot be used backwards. */
    if (!duplex && (shutdown(sv[0], SHUT_WR) != 0 ||
                    shutdown(sv[1], SHUT_RD) != 0)) {
        int e = errno;

        close(sv[0]);
        close(sv[1]);
        return cc__errf(e, "cc_pipe_new: shutdown: %s", strerror(e));
    }
    *a = conn_new(sv[0], duplex, true);
    *b = conn_new(sv[1], true, duplex);
    if (*a == NULL || *b == NULL) {
        free(*a);
        free(*b);
        *a = *b = NULL;
        close(sv[0]);
        close(sv[1]);
        return cc__err(ENOMEM, "cc_pipe_new: out of memory");
    }
    return 0;
}

int cc_conn_fileno(cc_conn *c)
{
    if (!conn_ok(c))
        return cc__err(EINVAL, "cc_conn_fileno: not a connection");
    return c->fd;
}

void cc_conn_close(cc_conn *c)
{
    if (!conn_ok(c))
        return;
    c->magic = 0;
    close(c->fd);
    cc_blob_free(c->msg);
    free(c->rbuf);
    free(c);
}

/* ------------------------------------------------------------- helpers */

/*
 * Break the connection: record why (the first reason wins), and shut the
 * socket down both ways so that the peer sees the end of the stream
 * instead of waiting for the rest of a frame that will never come.
 */
CC_PRINTF(3, 4)
static void conn_break(cc_conn *c, int code, const char *fmt, ...)
{
    va_list ap;

    cc__mutex_lock(&c->break_mu);
    if (atomic_load_explicit(&c->broken, memory_order_relaxed) != 0) {
        cc__mutex_unlock(&c->break_mu);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    atomic_store_explicit(&c->broken, code, memory_order_release);
    cc__mutex_unlock(&c->break_mu);
    shutdown(c->fd, SHUT_RDWR);
}

/* -1 with EPIPE when the connection is broken, else 0. */
static int check_broken(cc_conn *c, const char *what)
{
    if (__builtin_expect(atomic_load_explicit(&c->broken,
                                              memory_order_acquire) == 0, 1))
        return 0;
    return cc__errf(EPIPE, "%s: the connection is broken: %s", what, c->why);
}

/*
 * Wait until fd is ready for `events` or the deadline.  Returns 0, or an
 * errno: EAGAIN (timeout 0: nothing ready), ETIMEDOUT, ECANCELED, or what
 * cc_wait_fd failed with (its message recorded).
 */
static int wait_ready(cc_conn *c, int events, double timeout, int64_t deadline)
{
    double left;

    if (timeout == 0)
        return EAGAIN;
    left = cc__seconds_until(deadline);
    if (left == 0)
        return ETIMEDOUT;
    if (cc_wait_fd(c->fd, events, left) >= 0)
        return 0;
    return errno == EAGAIN ? ETIMEDOUT : errno;
}

/* Take a per-direction lock by the deadline: 0, or EAGAIN/ETIMEDOUT/
 * ECANCELED. */
static int lock_dl(struct cc_lock *l, int64_t deadline)
{
    return cc__lock_acquire_dl(l, cc__ctx_get(), deadline);
}

/* The error of a failed wait or lock, for the call `what`. */
static int wait_error(int rc, double timeout, const char *what)
{
    if (rc == EAGAIN || (rc == ETIMEDOUT && timeout == 0))
        return cc__errf(EAGAIN, "%s: not ready and timeout is 0", what);
    if (rc == ETIMEDOUT || rc == ECANCELED)
        return cc__err_wait(rc, what);
    return cc__errf(rc, "%s: %s", what, cc_errmsg());
}

/* -------------------------------------------------------------- sending */

static int conn_send(cc_conn *c, const void *p, size_t len, double timeout,
                     const char *what)
{
    unsigned char hdr[HDR];
    uint64_t le = htole64((uint64_t)len);
    struct iovec iov[2];
    size_t total = HDR + len;
    size_t sent = 0;
    int64_t deadline;
    int rc = 0;

    if (!c->can_send)
        return cc__errf(EBADF, "%s: this end of a one-way pipe only "
                               "receives", what);
    if ((uint64_t)len > MAX_FRAME)
        return cc__errf(EMSGSIZE, "%s: %zu bytes is more than a message may "
                                  "hold (1 TiB)", what, len);
    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return -1;
    if (check_broken(c, what) != 0)
        return -1;
    rc = lock_dl(&c->send_lock, timeout == 0 ? 0 : deadline);
    if (rc != 0)
        return wait_error(rc, timeout, what);
    if (check_broken(c, what) != 0) {
        cc__lock_release_owned(&c->send_lock);
        return -1;
    }
    memcpy(hdr, &le, HDR);
    while (sent < total) {
        struct msghdr m;
        ssize_t n;
        int nv = 0;

        memset(&m, 0, sizeof(m));
        if (sent < HDR) {
            iov[nv].iov_base = hdr + sent;
            iov[nv++].iov_len = HDR - sent;
        }
        if (len > 0) {
            size_t off = sent < HDR ? 0 : sent - HDR;

            iov[nv].iov_base = (char *)(uintptr_t)p + off;
            iov[nv++].iov_len = len - off;
        }
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)nv;
        n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rc = wait_ready(c, CC_WRITABLE, timeout, deadline);
            if (rc == 0)
                continue;
            break;
        }
        rc = n < 0 ? errno : EIO;
        break;
    }
    if (rc == 0) {
        cc__lock_release_owned(&c->send_lock);
        return 0;
    }
    if (sent > 0 && sent < total)
        conn_break(c, rc == EPIPE || rc == ECONNRESET ? EPIPE : rc,
                   "a send %s after %zu of the %zu bytes of a message had "
                   "gone out",
                   rc == ECANCELED                   ? "was cancelled"
                   : rc == ETIMEDOUT || rc == EAGAIN ? "timed out"
                                                     : "failed",
                   sent, total);
    cc__lock_release_owned(&c->send_lock);
    if (rc == EPIPE || rc == ECONNRESET)
        return cc__errf(EPIPE, "%s: the peer closed its end", what);
    if (rc == EBADF || rc == ENOTSOCK)
        return cc__errf(EBADF, "%s: the file descriptor %d is not open",
                        what, c->fd);
    if (rc == EAGAIN || rc == ETIMEDOUT || rc == ECANCELED)
        return wait_error(rc, timeout, what);
    return cc__errf(rc, "%s: sendmsg: %s", what, strerror(rc));
}

int cc_conn_send_bytes(cc_conn *c, const void *p, size_t len, double timeout)
{
    if (!conn_ok(c))
        return cc__err(EINVAL, "cc_conn_send_bytes: not a connection");
    if (p == NULL && len > 0)
        return cc__err(EINVAL, "cc_conn_send_bytes: NULL data with a length");
    return conn_send(c, p, len, timeout, "cc_conn_send_bytes");
}

int cc_conn_send(cc_conn *c, const void *blob, double timeout)
{
    if (!conn_ok(c))
        return cc__err(EINVAL, "cc_conn_send: not a connection");
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_conn_send: not a blob (use "
                               "cc_conn_send_bytes for plain memory)");
    return conn_send(c, blob, blob != NULL ? cc_blob_len(blob) : 0, timeout,
                     "cc_conn_send");
}

/* ------------------------------------------------------------ receiving */

/* Take up to n buffered bytes into dst; recv_lock held.  Returns how many. */
static size_t take_buffered_locked(cc_conn *c, void *dst, size_t n)
{
    size_t have = c->rend - c->rpos;

    CC__ASSERT(cc__lock_is_owner(&c->recv_lock, cc__ctx_get()));
    if (n > have)
        n = have;
    if (n == 0)
        return 0;
    memcpy(dst, c->rbuf + c->rpos, n);
    c->rpos += n;
    if (c->rpos == c->rend)
        c->rpos = c->rend = 0;
    atomic_store_explicit(&c->rbuffered, c->rend - c->rpos,
                          memory_order_relaxed);
    return n;
}

/*
 * One read from the socket, into the read-ahead buffer (dst NULL) or
 * straight into dst (up to n bytes); recv_lock held.  Returns the bytes
 * read, 0 at the end of the stream, or -1 with errno (EAGAIN: nothing
 * there yet).
 */
static ssize_t read_some_locked(cc_conn *c, char *dst, size_t n)
{
    bool ahead = dst == NULL;
    ssize_t r;

    CC__ASSERT(cc__lock_is_owner(&c->recv_lock, cc__ctx_get()));
    if (ahead) {
        if (c->rbuf == NULL) {
            c->rbuf = malloc(RBUF_SIZE);
            if (c->rbuf == NULL) {
                errno = ENOMEM;
                return -1;
            }
        }
        if (c->rpos > 0) { /* keep the unconsumed bytes at the start */
            memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
            c->rend -= c->rpos;
            c->rpos = 0;
        }
        dst = c->rbuf + c->rend;
        n = RBUF_SIZE - c->rend;
    }
    do
        r = recv(c->fd, dst, n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r > 0 && ahead) {
        c->rend += (size_t)r;
        atomic_store_explicit(&c->rbuffered, c->rend - c->rpos,
                              memory_order_relaxed);
    }
    return r;
}

/* Forget the message being received; recv_lock held. */
static void reset_msg_locked(cc_conn *c)
{
    CC__ASSERT(cc__lock_is_owner(&c->recv_lock, cc__ctx_get()));
    c->hdr_have = 0;
    c->msg = NULL;
    c->msg_len = c->msg_have = 0;
}

/*
 * Advance the message being received with what is buffered, then with at
 * most one read.  recv_lock held.  Returns 1 when the message is complete,
 * 2 when bytes came in (call again), 0 when nothing is there yet (wait for
 * the socket), or -1 with the error recorded (the peer closed its end, the
 * connection is broken, out of memory).
 */
static int advance_locked(cc_conn *c, const char *what)
{
    ssize_t r;

    CC__ASSERT(cc__lock_is_owner(&c->recv_lock, cc__ctx_get()));
    if (c->hdr_have < HDR) {
        c->hdr_have += take_buffered_locked(c, c->hdr + c->hdr_have,
                                            HDR - c->hdr_have);
        if (c->hdr_have < HDR) {
            r = read_some_locked(c, NULL, 0);
            goto got;
        }
        {
            uint64_t le;
            uint64_t len;

            memcpy(&le, c->hdr, HDR);
            len = le64toh(le);
            if (len > MAX_FRAME) {
                conn_break(c, EPROTO, "a frame announced %llu bytes (more "
                                      "than 1 TiB: not a frame of cc_conn)",
                           (unsigned long long)len);
                return cc__errf(EPROTO, "%s: malformed frame: it announces "
                                        "%llu bytes", what,
                                (unsigned long long)len);
            }
            c->msg = cc_blob_new((size_t)len);
            if (c->msg == NULL) {
                conn_break(c, ENOMEM, "no memory for an incoming message of "
                                      "%llu bytes", (unsigned long long)len);
                return cc__errf(ENOMEM, "%s: no memory for an incoming "
                                        "message of %llu bytes", what,
                                (unsigned long long)len);
            }
            c->msg_len = (size_t)len;
            c->msg_have = 0;
        }
    }
    c->msg_have += take_buffered_locked(c, c->msg + c->msg_have,
                                        c->msg_len - c->msg_have);
    if (c->msg_have == c->msg_len)
        return 1;
    /* A large rest goes straight into the blob; a small one through the
     * buffer, which may bring the next messages along with it. */
    if (c->msg_len - c->msg_have >= RBUF_SIZE / 2) {
        r = read_some_locked(c, c->msg + c->msg_have,
                             c->msg_len - c->msg_have);
        if (r > 0)
            c->msg_have += (size_t)r;
    } else {
        r = read_some_locked(c, NULL, 0);
    }
got:
    if (r > 0)
        return 2;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (r == 0 || errno == ECONNRESET) {
        bool midway = c->hdr_have > 0;
        const char *how = r == 0 ? "closed" : "reset";

        if (!midway)
            return cc__errf(EPIPE, "%s: connection %s by the peer", what,
                            how);
        conn_break(c, EPIPE, "the peer's end was %s in the middle of a "
                             "message (%zu of %zu bytes received)", how,
                   c->msg != NULL ? c->msg_have : 0,
                   c->msg != NULL ? c->msg_len : 0);
        return cc__errf(EPIPE, "%s: connection %s by the peer in the middle "
                               "of a message", what, how);
    }
    if (errno == ENOMEM)
        return cc__errf(ENOMEM, "%s: no memory for the read-ahead buffer",
                        what);
    {
        int e = errno;

        return cc__errf(e == ENOTSOCK ? EBADF : e, "%s: recv: %s", what,
                        strerror(e));
    }
}

int cc_conn_recv(cc_conn *c, void **blob, double timeout)
{
    const char *what = "cc_conn_recv";
    int64_t deadline;
    int rc;

    if (!conn_ok(c))
        return cc__err(EINVAL, "cc_conn_recv: not a connection");
    if (blob == NULL)
        return cc__err(EINVAL, "cc_conn_recv: blob is NULL");
    if (!c->can_recv)
        return cc__err(EBADF, "cc_conn_recv: this end of a one-way pipe only "
                              "sends");
    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return -1;
    if (check_broken(c, what) != 0)
        return -1;
    rc = lock_dl(&c->recv_lock, timeout == 0 ? 0 : deadline);
    if (rc != 0)
        return wait_error(rc, timeout, what);
    for (;;) {
        int done;

        if (check_broken(c, what) != 0)
            break;
        done = advance_locked(c, what);
        if (done == 1) {
            *blob = c->msg;
            reset_msg_locked(c);
            cc__lock_release_owned(&c->recv_lock);
            return 0;
        }
        if (done < 0)
            break;
        if (done == 2)
            continue;
        rc = wait_ready(c, CC_READABLE, timeout, deadline);
        if (rc != 0) {
            cc__lock_release_owned(&c->recv_lock);
            return wait_error(rc, timeout, what);
        }
    }
    cc__lock_release_owned(&c->recv_lock);
    return -1;
}

int cc_conn_poll(cc_conn *c, double timeout)
{
    const char *what = "cc_conn_poll";

    if (!conn_ok(c))
        return cc__err(EINVAL, "cc_conn_poll: not a connection");
    if (!c->can_recv)
        return cc__err(EBADF, "cc_conn_poll: this end of a one-way pipe only "
                              "sends");
    if (cc__check_timeout(timeout, what) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return -1;
    if (atomic_load_explicit(&c->rbuffered, memory_order_relaxed) > 0 ||
        atomic_load_explicit(&c->broken, memory_order_acquire) != 0)
        return 1; /* a recv would not wait */
    if (cc_wait_fd(c->fd, CC_READABLE, timeout) >= 0)
        return 1;
    if (errno == ETIMEDOUT || errno == EAGAIN)
        return 0;
    return -1;
}
