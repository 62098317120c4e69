/*
 * stream.h - the cc_stream record and what the net layer's files share
 * (private to src/net/).
 *
 * A stream is a non-blocking, close-on-exec stream socket with a read
 * buffer and a write buffer.  Its three locks, in the order they are taken:
 *
 *   rlock  (cc_lock)    the read side: held by a read call for its whole
 *                       length, across waits; guards rbuf/rpos/rend/eof/
 *                       rdrained/rerr
 *   dlock  (cc_lock)    held by the calls that wait for the socket to take
 *                       output (drain, close's flush) across their waits
 *   wmu    (cc__mutex)  the write buffer and the write state; held only
 *                       around a non-blocking send, never across a wait,
 *                       so a write never waits behind a reader or a drain
 *
 * Every use of the descriptor happens under one of the three, after a
 * check of `closed`; close sets `closed`, wakes the others (shutdown of the
 * socket), then takes all three before it closes the descriptor, so no
 * call ever touches a closed (or reused) descriptor number.  A reader that
 * must wait while output is pending waits for writability too and flushes
 * under wmu (rlock -> wmu, the lock order above).
 *
 * Memory: `refs` counts the owner's reference and one per call in
 * progress; cc_stream_free drops the owner's, and the last one frees.
 */
#ifndef CC_NET_STREAM_H
#define CC_NET_STREAM_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "concur/aio.h"
#include "concur/net.h"
#include "net/addr.h"
#include "internal/lock.h"
#include "internal/mutex.h"

#define CC__STREAM_MAGIC 0x5354524du /* "STRM" */
#define CC__RBUF_SIZE (64u * 1024)   /* the read buffer, made on demand */
#define CC__PEER_MAX 112             /* "[v6 address%scope]:port", a path */

struct cc_stream {
    uint32_t magic;             /* CC__STREAM_MAGIC until cc_stream_free */
    int fd;                     /* -1 once closed (changed with all 3 locks) */
    _Atomic int refs;           /* owner + calls in progress */
    _Atomic bool closing;       /* cc_stream_close has begun (once) */
    _Atomic bool closed;        /* set before the fd is shut: ESHUTDOWN */
    _Atomic bool cancelled;     /* the server cancelled it: ECANCELED */
    uint64_t key;               /* names this socket in loops' fd tables */
    _Atomic(cc_loop *) kloop;   /* the loop that keeps fd registered, once
                                   a task waited on it (stream.c) */
    _Atomic bool nokeep;        /* tasks of a second loop waited: plain
                                   waits from then on */
    socklen_t peerlen;          /* 0: the peer's address is unknown */
    struct sockaddr_storage peer; /* the peer's address, taken at creation */

    /* --- read side: guarded by rlock --- */
    struct cc_lock rlock;
    char *rbuf;                 /* rbuf[rpos, rend) is unread; NULL at first */
    size_t rcap;
    size_t rpos;
    size_t rend;
    bool eof;                   /* the peer's end of stream has been read */
    bool rdrained;              /* the last recv found the socket empty: wait
                                   before the next one (a recv would only
                                   say EAGAIN) */
    bool rhup;                  /* a wait saw the peer hang up: a short recv
                                   no longer means empty */
    int rerr;                   /* a sticky receive error (ECONNRESET) */
    _Atomic size_t limit;       /* readline/readuntil limit */

    /* --- waiting for output to go: dlock --- */
    struct cc_lock dlock;

    /* --- write side: guarded by wmu (own cache line: a writer thread and
     * a reader thread do not share it) --- */
    _Alignas(64) cc__mutex wmu;
    char *wbuf;                 /* wbuf[wpos, wend) is pending */
    size_t wcap;
    size_t wpos;
    size_t wend;
    bool wblocked;              /* the socket took less than offered: leave
                                   sends to the calls that wait for it */
    bool weof;                  /* write_eof asked: no more writes */
    bool weof_done;             /* shutdown(SHUT_WR) done */
    int werr;                   /* a sticky send error (EPIPE, ECONNRESET) */
    size_t high;                /* drain's water marks */
    size_t low;
    _Atomic size_t wpending;    /* wend - wpos, read without wmu */
};

/* --- stream.c --- */

/* A stream over fd (non-blocking and close-on-exec already), with the
 * peer's address if known (NULL: ask getpeername).  NULL with ENOMEM. */
cc_stream *cc__stream_new(int fd, const struct sockaddr *peer,
                          socklen_t peerlen);

/* A call enters (takes a reference; false for a bad handle, EINVAL
 * recorded) and leaves (drops it; the last reference frees). */
bool cc__stream_enter(cc_stream *s, const char *what);
void cc__stream_leave(cc_stream *s);

/* The error a call must fail with now (ESHUTDOWN, ECANCELED), or 0. */
static inline int cc__stream_gone(const cc_stream *s)
{
    if (atomic_load_explicit(&s->closed, memory_order_acquire))
        return ESHUTDOWN;
    if (atomic_load_explicit(&s->cancelled, memory_order_acquire))
        return ECANCELED;
    return 0;
}

/* Record the error of a call that found the stream gone; returns -1. */
int cc__stream_gone_err(cc_stream *s, int code, const char *what);

/* Record "<what> <peer>: <strerror(code)>" (code kept as errno); -1. */
int cc__stream_errno(cc_stream *s, int code, const char *what);

/* The failure of a wait (EAGAIN for timeout 0, ETIMEDOUT, ECANCELED, or
 * another errno) as the caller's error; returns -1. */
int cc__stream_wait_err(cc_stream *s, int rc, double timeout,
                        const char *what);

/* Wait until the socket is ready for `events` (CC_READABLE/CC_WRITABLE)
 * or the deadline.  The ready mask (> 0), or minus an errno: -EAGAIN
 * (timeout 0), -ETIMEDOUT, -ECANCELED, -EBADF. */
int cc__stream_wait(cc_stream *s, int events, double timeout,
                    int64_t deadline);

/* Take a per-direction lock by the deadline: 0, or EAGAIN/ETIMEDOUT/
 * ECANCELED.  The _hold variant cannot be cancelled (close, cleanup). */
int cc__stream_lock(struct cc_lock *l, int64_t deadline);
void cc__stream_lock_hold(struct cc_lock *l);

/* Mark the stream cancelled by its server and wake its blocked calls. */
void cc__stream_cancel(cc_stream *s);

/* The peer as text into buf (at least CC__PEER_MAX bytes); "?" if
 * unknown.  Returns buf. */
const char *cc__stream_peer(const cc_stream *s, char *buf);

/* --- stream_write.c --- */

/* Send what the socket takes of the pending output; wmu held.  Returns 0
 * or the send error (also made sticky in werr).  Performs a requested
 * write_eof once the buffer is empty. */
int cc__stream_flush_locked(cc_stream *s);

/* Flush from a call that waits (a reader, close): takes wmu, flushes,
 * clears wblocked (the caller saw the socket writable when `writable`). */
void cc__stream_flush(cc_stream *s, bool writable);

/* Drop the buffers (close): wmu held / rlock held. */
void cc__stream_wbuf_free_locked(cc_stream *s);

/* Wait until at most `target` bytes are pending (use_high: return at once
 * while at most the high water mark are); takes dlock.  0 or an errno
 * (nothing recorded): EAGAIN, ETIMEDOUT, ECANCELED, ESHUTDOWN, EPIPE... */
int cc__stream_drain_to(cc_stream *s, size_t target, bool use_high,
                        double timeout, int64_t deadline);

#endif
