/*
 * stream_read.c - the receiving side of a cc_stream: read, readexactly,
 * readline, readuntil, at_eof (net layer).
 *
 * Bytes come in through the read buffer rbuf[rpos, rend) (64 KiB, made on
 * the first read that finds data, grown only as far as a readexactly or a
 * line needs, given back when a large one empties).  A read of at least
 * half the buffer's size with nothing buffered goes straight into the
 * caller's memory.  A call consumes bytes only when it succeeds: a timeout,
 * a cancellation, EMSGSIZE or ENODATA leave everything buffered.
 *
 * The system call comes first and the wait only on EAGAIN -- except right
 * after a recv that returned less than it could (`rdrained`): the socket
 * was empty then, so the next read waits first and saves the recv that
 * would only say EAGAIN (level-triggered readiness makes this safe: data
 * that came in between is reported at once).  While it waits, a reader
 * also moves the stream's pending output (stream.h), so a request written
 * before a read never stalls in the buffer.
 *
 * All of it runs with rlock held, for the whole call: reads are atomic
 * with respect to each other.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal/aio.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "net/stream.h"

/* Room at rbuf + rend for at least one byte, the buffer able to hold
 * `need` unread bytes.  rlock held.  0 or ENOMEM. */
static int make_room_locked(cc_stream *s, size_t need)
{
    size_t unread;
    size_t cap;
    char *p;

    CC__ASSERT(cc__lock_is_owner(&s->rlock, cc__ctx_get()));
    if (s->rbuf == NULL) {
        s->rbuf = malloc(CC__RBUF_SIZE);
        if (s->rbuf == NULL)
            return ENOMEM;
        s->rcap = CC__RBUF_SIZE;
        s->rpos = s->rend = 0;
    }
    unread = s->rend - s->rpos;
    if (unread == 0)
        s->rpos = s->rend = 0;
    /* Plenty of room at the end, or nothing to gain by sliding. */
    if (s->rend < s->rcap &&
        (s->rcap - s->rend >= s->rcap / 4 || s->rpos == 0))
        return 0;
    if (s->rpos > 0) {
        memmove(s->rbuf, s->rbuf + s->rpos, unread);
        s->rpos = 0;
        s->rend = unread;
        if (s->rend < s->rcap)
            return 0;
    }
    /* Full of unread bytes: the caller needs more room than that (a long
     * line, a large readexactly).  Doubling keeps the copies O(n). */
    if (s->rcap >= need || s->rcap > SIZE_MAX / 2)
        return ENOMEM;
    cap = s->rcap * 2;
    p = realloc(s->rbuf, cap);
    if (p == NULL)
        return ENOMEM;
    s->rbuf = p;
    s->rcap = cap;
    return 0;
}

/* Take n bytes off the front of the buffer.  rlock held. */
static void consume_locked(cc_stream *s, size_t n)
{
    CC__ASSERT(cc__lock_is_owner(&s->rlock, cc__ctx_get()));
    s->rpos += n;
    if (s->rpos == s->rend) {
        s->rpos = s->rend = 0;
        if (s->rcap > 4 * CC__RBUF_SIZE) { /* a big message is over */
            free(s->rbuf);
            s->rbuf = NULL;
            s->rcap = 0;
        }
    }
}

/*
 * Get more bytes: into the read buffer (dst NULL; it must be able to hold
 * `need` unread bytes), or straight into dst (up to dstlen; *got says how
 * many).  rlock held.  Returns 0 when bytes came or the end of the stream
 * was reached (s->eof), else an errno: EAGAIN (timeout 0), ETIMEDOUT,
 * ECANCELED, ESHUTDOWN, ECONNRESET, ENOMEM...  Pending output is moved
 * while it waits.
 */
static int fill_locked(cc_stream *s, size_t need, char *dst, size_t dstlen,
                       double timeout, int64_t deadline, size_t *got)
{
    bool tried = false;

    CC__ASSERT(cc__lock_is_owner(&s->rlock, cc__ctx_get()));
    for (;;) {
        int rc = cc__stream_gone(s);
        int events;
        int m;

        if (rc != 0)
            return rc;
        if (s->eof)
            return 0;
        if (s->rerr != 0)
            return s->rerr;
        if (!s->rdrained || (timeout == 0 && !tried)) {
            char *p = dst;
            size_t room = dstlen;
            ssize_t r;

            if (dst == NULL) {
                rc = make_room_locked(s, need);
                if (rc != 0)
                    return rc;
                p = s->rbuf + s->rend;
                room = s->rcap - s->rend;
            }
            r = recv(s->fd, p, room, MSG_DONTWAIT);
            tried = true;
            if (r > 0) {
                if (dst == NULL)
                    s->rend += (size_t)r;
                else
                    *got = (size_t)r;
                s->rdrained = (size_t)r < room && !s->rhup;
                return 0;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                s->rdrained = true;
                continue;
            }
            rc = r == 0 ? 0 : errno;
            /* A shutdown by close or by the server looks like the end of
             * the stream or an error: the flags tell. */
            m = cc__stream_gone(s);
            if (m != 0)
                return m;
            if (r == 0) {
                s->eof = true;
                return 0;
            }
            s->rerr = rc;
            return rc;
        }
        if (timeout == 0)
            return EAGAIN;
        events = CC_READABLE;
        if (atomic_load_explicit(&s->wpending, memory_order_relaxed) > 0) {
            cc__stream_flush(s, false);
            if (atomic_load_explicit(&s->wpending, memory_order_relaxed) > 0)
                events |= CC_WRITABLE;
        }
        m = cc__stream_wait(s, events, timeout, deadline);
        if (m < 0)
            return -m;
        if (m & CC__HANGUP)
            s->rhup = true;
        if (m & CC_WRITABLE)
            cc__stream_flush(s, true);
        if (m & CC_READABLE)
            s->rdrained = false;
    }
}

/* The common start of a read call: a reference, the deadline, the
 * checkpoint, the read lock, the closed check.  0, or -1 (recorded). */
static int read_begin(cc_stream *s, double timeout, int64_t *deadline,
                      const char *fn, const char *what)
{
    int rc;

    if (!cc__stream_enter(s, fn))
        return -1;
    if (cc__deadline_for(timeout, fn, deadline) != 0)
        goto fail;
    if (timeout != 0 && cc__checkpoint(fn) != 0)
        goto fail;
    rc = cc__stream_lock(&s->rlock, timeout == 0 ? 0 : *deadline);
    if (rc != 0) {
        cc__stream_wait_err(s, rc, timeout, what);
        goto fail;
    }
    rc = cc__stream_gone(s);
    if (rc != 0) {
        cc__lock_release_owned(&s->rlock);
        cc__stream_gone_err(s, rc, what);
        goto fail;
    }
    return 0;
fail:
    cc__stream_leave(s);
    return -1;
}

/* The end of a read call: rc 0, or an errno recorded for `what`. */
static int read_end(cc_stream *s, int rc, double timeout, const char *what)
{
    cc__lock_release_owned(&s->rlock);
    if (rc != 0) {
        if (rc == ENOMEM)
            cc__errf(ENOMEM, "%s: out of memory for the read buffer", what);
        else
            cc__stream_wait_err(s, rc, timeout, what);
    }
    cc__stream_leave(s);
    return rc == 0 ? 0 : -1;
}

ssize_t cc_stream_read(cc_stream *s, void *buf, size_t n, double timeout)
{
    const char *what = "read from";
    int64_t deadline;
    ssize_t got = 0;
    int rc = 0;

    if (buf == NULL && n > 0 && s != NULL && s->magic == CC__STREAM_MAGIC)
        return cc__err(EINVAL, "cc_stream_read: buf is NULL");
    if (read_begin(s, timeout, &deadline, "cc_stream_read", what) != 0)
        return -1;
    while (n > 0) {
        size_t have = s->rend - s->rpos;

        if (have > 0) {
            size_t take = have < n ? have : n;

            memcpy(buf, s->rbuf + s->rpos, take);
            consume_locked(s, take);
            got = (ssize_t)take;
            break;
        }
        if (s->eof)
            break;
        if (n >= CC__RBUF_SIZE / 2) { /* big: no detour through rbuf */
            size_t direct = 0;

            rc = fill_locked(s, 0, buf, n, timeout, deadline, &direct);
            if (rc != 0 || direct > 0) {
                got = (ssize_t)direct;
                break;
            }
            continue; /* the end of the stream */
        }
        rc = fill_locked(s, 1, NULL, 0, timeout, deadline, NULL);
        if (rc != 0)
            break;
    }
    if (read_end(s, rc, timeout, what) != 0)
        return -1;
    return got;
}

int cc_stream_readexactly(cc_stream *s, void *buf, size_t n, double timeout)
{
    const char *what = "readexactly from";
    int64_t deadline;
    size_t have = 0;
    int rc = 0;

    if (buf == NULL && n > 0 && s != NULL && s->magic == CC__STREAM_MAGIC)
        return cc__err(EINVAL, "cc_stream_readexactly: buf is NULL");
    if (read_begin(s, timeout, &deadline, "cc_stream_readexactly", what) != 0)
        return -1;
    for (;;) {
        have = s->rend - s->rpos;
        if (have >= n) {
            if (n > 0)
                memcpy(buf, s->rbuf + s->rpos, n);
            consume_locked(s, n);
            break;
        }
        if (s->eof) {
            rc = ENODATA;
            break;
        }
        rc = fill_locked(s, n, NULL, 0, timeout, deadline, NULL);
        if (rc != 0)
            break;
    }
    if (rc == ENODATA) {
        char peer[CC__PEER_MAX];

        cc__lock_release_owned(&s->rlock);
        cc__errf(ENODATA, "%s %s: the connection closed after %zu of %zu "
                          "bytes", what, cc__stream_peer(s, peer), have, n);
        cc__stream_leave(s);
        return -1;
    }
    return read_end(s, rc, timeout, what);
}

/*
 * The bytes up to and including sep.  `rest_at_eof`: at the end of the
 * stream return what is left (readline) rather than fail with ENODATA
 * (readuntil).  The search resumes where the last one stopped, so a line
 * that arrives in many pieces costs O(length), not O(length^2).
 */
static void *read_until(cc_stream *s, const char *sep, size_t seplen,
                        double timeout, bool rest_at_eof, const char *fn,
                        const char *what)
{
    int64_t deadline;
    size_t limit;
    size_t searched = 0; /* separator starts already ruled out */
    size_t have = 0;
    void *line = NULL;
    int rc = 0;

    if (read_begin(s, timeout, &deadline, fn, what) != 0)
        return NULL;
    limit = atomic_load_explicit(&s->limit, memory_order_relaxed);
    for (;;) {
        const char *base = s->rbuf != NULL ? s->rbuf + s->rpos : "";

        have = s->rend - s->rpos;
        if (have >= seplen && have - seplen + 1 > searched) {
            const char *hit =
                seplen == 1
                    ? memchr(base + searched, sep[0], have - searched)
                    : memmem(base + searched, have - searched, sep, seplen);

            if (hit != NULL) {
                size_t at = (size_t)(hit - base);

                if (at > limit) {
                    rc = EMSGSIZE;
                    break;
                }
                line = cc_blob_dup(base, at + seplen);
                if (line == NULL)
                    rc = ENOMEM;
                else
                    consume_locked(s, at + seplen);
                break;
            }
            searched = have - seplen + 1;
        }
        if (searched > limit) { /* no separator can start within it */
            rc = EMSGSIZE;
            break;
        }
        if (s->eof) {
            if (!rest_at_eof) {
                rc = ENODATA;
                break;
            }
            line = have > 0 ? cc_blob_dup(base, have) : cc_blob_new(0);
            if (line == NULL)
                rc = ENOMEM;
            else
                consume_locked(s, have);
            break;
        }
        rc = fill_locked(s, limit > SIZE_MAX - seplen ? SIZE_MAX
                                                      : limit + seplen,
                         NULL, 0, timeout, deadline, NULL);
        if (rc != 0)
            break;
    }
    if (rc == EMSGSIZE || rc == ENODATA) {
        char peer[CC__PEER_MAX];

        cc__lock_release_owned(&s->rlock);
        if (rc == EMSGSIZE)
            cc__errf(EMSGSIZE, "%s %s: no separator within the limit of %zu "
                               "bytes (the data stays buffered)", what,
                     cc__stream_peer(s, peer), limit);
        else
            cc__errf(ENODATA, "%s %s: the connection closed after %zu bytes "
                              "without the separator", what,
                     cc__stream_peer(s, peer), have);
        cc__stream_leave(s);
        return NULL;
    }
    read_end(s, rc, timeout, what);
    return line;
}

void *cc_stream_readline(cc_stream *s, double timeout)
{
    return read_until(s, "\n", 1, timeout, true, "cc_stream_readline",
                      "readline from");
}

void *cc_stream_readuntil(cc_stream *s, const void *sep, size_t seplen,
                          double timeout)
{
    if (sep == NULL || seplen == 0)
        return cc__err_null(EINVAL, "cc_stream_readuntil: the separator must "
                                    "not be empty");
    return read_until(s, sep, seplen, timeout, false, "cc_stream_readuntil",
                      "readuntil from");
}

bool cc_stream_at_eof(cc_stream *s)
{
    bool at;

    if (!cc__stream_enter(s, "cc_stream_at_eof"))
        return false;
    /* A read in progress means the caller cannot be at the end yet. */
    if (cc__stream_lock(&s->rlock, 0) != 0) {
        cc__stream_leave(s);
        return false;
    }
    at = s->eof && s->rend == s->rpos;
    cc__lock_release_owned(&s->rlock);
    cc__stream_leave(s);
    return at;
}
