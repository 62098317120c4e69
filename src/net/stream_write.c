/*
 * stream_write.c - the sending side of a cc_stream: write, printf, drain,
 * write_eof, and the flush that every waiting call uses (net layer).
 *
 * A write never waits.  With nothing pending it sends straight from the
 * caller's memory; what the socket does not take is copied into the write
 * buffer (wbuf[wpos, wend)), which the calls that wait move out later: a
 * reader waiting for input, drain, close.  Once the socket has refused
 * part of a send (`wblocked`), writes only append until one of those calls
 * sees the socket writable again, so a burst of small writes into a full
 * socket costs no system call each.  All of it under wmu, which is never
 * held across a wait.  Sends use MSG_NOSIGNAL: a dead peer is EPIPE, never
 * SIGPIPE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "net/stream.h"

/* Above this, an emptied write buffer is given back (a burst is over). */
#define WBUF_KEEP (256u * 1024)

void cc__stream_wbuf_free_locked(cc_stream *s)
{
    CC__ASSERT(cc__mutex_owned(&s->wmu));
    free(s->wbuf);
    s->wbuf = NULL;
    s->wcap = s->wpos = s->wend = 0;
    atomic_store_explicit(&s->wpending, 0, memory_order_relaxed);
}

/* A send error: sticky, and the pending output can never go (drop it, so
 * that no reader keeps waiting for writability on its account). */
static int broken_locked(cc_stream *s, int err)
{
    CC__ASSERT(cc__mutex_owned(&s->wmu));
    s->werr = err;
    s->wpos = s->wend = 0;
    s->wblocked = false;
    atomic_store_explicit(&s->wpending, 0, memory_order_relaxed);
    return err;
}

/* The buffer is empty: reset it, and do a requested write_eof. */
static void emptied_locked(cc_stream *s)
{
    CC__ASSERT(cc__mutex_owned(&s->wmu));
    s->wpos = s->wend = 0;
    s->wblocked = false;
    if (s->wcap > WBUF_KEEP) {
        free(s->wbuf);
        s->wbuf = NULL;
        s->wcap = 0;
    }
    if (s->weof && !s->weof_done) {
        s->weof_done = true;
        shutdown(s->fd, SHUT_WR);
    }
}

int cc__stream_flush_locked(cc_stream *s)
{
    CC__ASSERT(cc__mutex_owned(&s->wmu));
    if (s->werr != 0)
        return s->werr;
    if (s->fd < 0)
        return ESHUTDOWN;
    while (s->wpos < s->wend) {
        size_t len = s->wend - s->wpos;
        ssize_t n = send(s->fd, s->wbuf + s->wpos, len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            s->wpos += (size_t)n;
            if ((size_t)n < len) { /* the socket is full */
                s->wblocked = true;
                break;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->wblocked = true;
            break;
        }
        return broken_locked(s, n < 0 ? errno : EIO);
    }
    if (s->wpos == s->wend)
        emptied_locked(s);
    atomic_store_explicit(&s->wpending, s->wend - s->wpos,
                          memory_order_relaxed);
    return 0;
}

void cc__stream_flush(cc_stream *s, bool writable)
{
    cc__mutex_lock(&s->wmu);
    if (writable)
        s->wblocked = false;
    if (!s->wblocked && !atomic_load_explicit(&s->closed,
                                              memory_order_relaxed))
        (void)cc__stream_flush_locked(s);
    cc__mutex_unlock(&s->wmu);
}

/* Room for n more bytes at wend.  0 or ENOMEM. */
static int reserve_locked(cc_stream *s, size_t n)
{
    size_t used = s->wend - s->wpos;
    size_t cap;
    char *p;

    CC__ASSERT(cc__mutex_owned(&s->wmu));
    if (s->wcap - s->wend >= n)
        return 0;
    if (s->wpos > 0 && s->wcap - used >= n) { /* slide to the front */
        memmove(s->wbuf, s->wbuf + s->wpos, used);
        s->wpos = 0;
        s->wend = used;
        return 0;
    }
    if (used + n < used)
        return ENOMEM;
    cap = s->wcap ? s->wcap : 16 * 1024;
    while (cap < used + n) {
        if (cap > SIZE_MAX / 2)
            return ENOMEM;
        cap *= 2;
    }
    if (s->wpos > 0) { /* slide first: realloc then copies less */
        memmove(s->wbuf, s->wbuf + s->wpos, used);
        s->wpos = 0;
        s->wend = used;
    }
    p = realloc(s->wbuf, cap);
    if (p == NULL)
        return ENOMEM;
    s->wbuf = p;
    s->wcap = cap;
    return 0;
}

/*
 * Send what the socket takes of the pending bytes followed by data, and
 * buffer the rest.  wmu held.  0 or an errno; on ENOMEM nothing of data was
 * sent or queued.
 */
static int write_locked(cc_stream *s, const char *data, size_t len)
{
    size_t pending = s->wend - s->wpos;
    size_t sent = 0; /* bytes of data that went out */
    int gone = cc__stream_gone(s);

    CC__ASSERT(cc__mutex_owned(&s->wmu));
    if (gone != 0)
        return gone;
    if (s->werr != 0)
        return s->werr;
    if (s->weof)
        return ESHUTDOWN;
    if (len == 0)
        return 0;
    /* Reserve first: a failure then leaves the stream as it was. */
    if (s->wblocked && reserve_locked(s, len) != 0)
        return ENOMEM;
    while (!s->wblocked && sent < len) {
        ssize_t n;

        if (pending == 0) {
            n = send(s->fd, data + sent, len - sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        } else { /* the pending bytes, then the new ones, in one call */
            struct iovec iov[2];
            struct msghdr m;

            memset(&m, 0, sizeof(m));
            iov[0].iov_base = s->wbuf + s->wpos;
            iov[0].iov_len = pending;
            iov[1].iov_base = (char *)(uintptr_t)(data + sent);
            iov[1].iov_len = len - sent;
            m.msg_iov = iov;
            m.msg_iovlen = 2;
            n = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                s->wblocked = true;
                break;
            }
            return broken_locked(s, errno);
        }
        if ((size_t)n < pending + (len - sent))
            s->wblocked = true; /* the socket is full now */
        if ((size_t)n >= pending) {
            sent += (size_t)n - pending;
            s->wpos = s->wend = 0;
            pending = 0;
        } else {
            s->wpos += (size_t)n;
            pending -= (size_t)n;
        }
    }
    if (sent < len) {
        if (reserve_locked(s, len - sent) != 0) {
            /* Part of data went out and the rest has nowhere to go: the
             * byte stream would have a hole, so the connection is over. */
            if (sent > 0) {
                shutdown(s->fd, SHUT_RDWR);
                return broken_locked(s, ENOMEM);
            }
            return ENOMEM;
        }
        memcpy(s->wbuf + s->wend, data + sent, len - sent);
        s->wend += len - sent;
    } else if (s->wpos == s->wend) {
        emptied_locked(s);
    }
    atomic_store_explicit(&s->wpending, s->wend - s->wpos,
                          memory_order_relaxed);
    return 0;
}

int cc_stream_write(cc_stream *s, const void *data, size_t len)
{
    int rc;

    if (!cc__stream_enter(s, "cc_stream_write"))
        return -1;
    if (data == NULL && len > 0) {
        cc__stream_leave(s);
        return cc__err(EINVAL, "cc_stream_write: NULL data with a length");
    }
    cc__mutex_lock(&s->wmu);
    rc = write_locked(s, data, len);
    cc__mutex_unlock(&s->wmu);
    if (rc != 0) {
        if (rc == ECANCELED || rc == ESHUTDOWN)
            cc__stream_gone_err(s, rc, "write to");
        else if (rc == ENOMEM)
            cc__errf(ENOMEM, "cc_stream_write: no memory to buffer %zu "
                             "bytes", len);
        else
            cc__stream_errno(s, rc, "write to");
    }
    cc__stream_leave(s);
    return rc == 0 ? 0 : -1;
}

int cc_stream_vprintf(cc_stream *s, const char *fmt, va_list ap)
{
    char small[512];
    char *text = small;
    va_list again;
    int n;
    int rc;

    if (fmt == NULL)
        return cc__err(EINVAL, "cc_stream_printf: fmt is NULL");
    va_copy(again, ap); /* a long text is formatted twice */
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(again);
        return cc__errf(EINVAL, "cc_stream_printf: bad format '%s'", fmt);
    }
    if ((size_t)n >= sizeof(small)) {
        text = malloc((size_t)n + 1);
        if (text == NULL) {
            va_end(again);
            return cc__err(ENOMEM, "cc_stream_printf: out of memory");
        }
        vsnprintf(text, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    rc = cc_stream_write(s, text, (size_t)n);
    if (text != small)
        free(text);
    return rc;
}

int cc_stream_printf(cc_stream *s, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = cc_stream_vprintf(s, fmt, ap);
    va_end(ap);
    return rc;
}

int cc__stream_drain_to(cc_stream *s, size_t target, bool use_high,
                        double timeout, int64_t deadline)
{
    bool first = true;
    int rc;

    rc = cc__stream_lock(&s->dlock, timeout == 0 ? 0 : deadline);
    if (rc != 0)
        return rc;
    for (;;) {
        size_t pending;
        size_t high;
        int m;

        cc__mutex_lock(&s->wmu);
        rc = cc__stream_gone(s); /* close's own flush runs before `closed` */
        if (rc == 0) {
            if (!first)
                s->wblocked = false; /* we just saw the socket writable */
            rc = cc__stream_flush_locked(s);
        }
        pending = s->wend - s->wpos;
        high = s->high;
        if (use_high)
            target = s->low;
        cc__mutex_unlock(&s->wmu);
        if (rc != 0)
            break;
        if (pending <= target || (use_high && first && pending <= high))
            break;
        first = false;
        m = cc__stream_wait(s, CC_WRITABLE, timeout, deadline);
        if (m < 0) {
            rc = -m;
            break;
        }
    }
    cc__lock_release_owned(&s->dlock);
    return rc;
}

int cc_stream_drain(cc_stream *s, double timeout)
{
    int64_t deadline;
    int rc;

    if (!cc__stream_enter(s, "cc_stream_drain"))
        return -1;
    if (cc__deadline_for(timeout, "cc_stream_drain", &deadline) != 0 ||
        (timeout != 0 && cc__checkpoint("cc_stream_drain") != 0)) {
        cc__stream_leave(s);
        return -1;
    }
    rc = cc__stream_drain_to(s, 0, true, timeout, deadline);
    if (rc != 0)
        cc__stream_wait_err(s, rc, timeout, "drain to");
    cc__stream_leave(s);
    return rc == 0 ? 0 : -1;
}

int cc_stream_write_eof(cc_stream *s)
{
    int rc;

    if (!cc__stream_enter(s, "cc_stream_write_eof"))
        return -1;
    cc__mutex_lock(&s->wmu);
    rc = cc__stream_gone(s);
    if (rc == 0)
        rc = s->werr;
    if (rc == 0 && !s->weof) {
        s->weof = true;
        if (s->wpos == s->wend) {
            s->weof_done = true;
            if (shutdown(s->fd, SHUT_WR) != 0 && errno != ENOTCONN)
                rc = errno;
        }
    }
    cc__mutex_unlock(&s->wmu);
    if (rc != 0) {
        if (rc == ECANCELED || rc == ESHUTDOWN)
            cc__stream_gone_err(s, rc, "write_eof to");
        else
            cc__stream_errno(s, rc, "write_eof to");
    }
    cc__stream_leave(s);
    return rc == 0 ? 0 : -1;
}
