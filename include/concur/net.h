/*
 * concur/net.h - TCP and UNIX stream connections and servers: asyncio's
 * streams and the socket servers of a threaded program, for C, in one API.
 *
 *   cc_open_connection   connect (TCP over IPv4/IPv6, or a UNIX socket)
 *   cc_stream            read, readexactly, readline, readuntil, write,
 *                        drain, write_eof, close: a buffered byte stream
 *   cc_serve             accept connections and run a handler for each:
 *                        as tasks on the caller's loop when called from a
 *                        coroutine, on threads (one per connection, or a
 *                        pool) when called from a plain thread
 *
 * Threads and coroutines.  Every call works from both: a thread blocks in
 * poll, a coroutine suspends while its loop runs the other tasks (sockets
 * are non-blocking; a socket a task waited on stays registered with its
 * loop's epoll until the stream closes, so waiting again is free).  Name
 * resolution (getaddrinfo) runs on the loop's default executor when called
 * from a coroutine (cc_to_thread), so a loop never blocks on DNS; a plain
 * thread calls it directly, and the timeout cannot cut it short.  Every
 * blocking
 * call takes a timeout (ETIMEDOUT; EAGAIN when it is 0, where that means
 * "don't wait"), honours deadline scopes (cc_deadline_push), and fails with
 * ECANCELED when the calling task is cancelled.
 *
 * Errors.  The end of the stream is not an error for read and readline (0
 * bytes, an empty line); readexactly and readuntil fail with ENODATA when
 * it comes too early.  A reset connection fails with ECONNRESET, writing
 * to a closed one with EPIPE -- never SIGPIPE (sends use MSG_NOSIGNAL).
 * Messages name the peer: "read from 127.0.0.1:8888: Connection reset by
 * peer".  EINVAL for NULL or a foreign handle.
 *
 * Concurrency on one stream: any number of threads and tasks may use a
 * stream, one reader and one writer at a time (reads are serialised among
 * themselves, writes among themselves: each whole call is atomic).  A
 * write never waits, not even for a reader blocked on the same stream.
 *
 * Defaults, once for the whole header: every call fails with EINVAL (and
 * changes nothing) given a NULL or foreign handle, a NaN timeout or bad
 * arguments; with ESHUTDOWN after cc_stream_close; and, on a stream whose
 * server is being closed (cc_server_close cancelling its handler),
 * with ECANCELED.  Blocking calls are cancellation points.
 */
#ifndef CONCUR_NET_H
#define CONCUR_NET_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "concur/base.h"
#include "concur/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A buffered TCP or UNIX stream connection; cc_open_connection,
 * cc_open_unix_connection or cc_stream_from_fd makes one (a server hands
 * one to each handler), cc_stream_free frees it. */
typedef struct cc_stream cc_stream;

/* A listening server running a handler per connection; cc_serve makes one,
 * cc_server_free frees it. */
typedef struct cc_server cc_server;

/* The default line limit of readline/readuntil (asyncio's 64 KiB). */
#define CC_STREAM_LIMIT (64 * 1024)

/* ------------------------------------------------------------ connecting */

/*
 * cc_open_connection - connect to host:port over TCP (asyncio's
 * open_connection).  host is a name or an IPv4/IPv6 literal ("::1");
 * every address it resolves to is tried in order until one answers, all
 * within `timeout`.  TCP_NODELAY is set.  Returns the stream, owned by
 * the caller (cc_stream_free), or NULL with errno:
 *   ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ...  no address answered (the
 *              message lists the last failure: "connect to localhost:1
 *              (127.0.0.1:1): Connection refused")
 *   ENOENT     the name does not resolve ("cannot resolve 'nosuch.':
 *              Name or service not known")
 *   ETIMEDOUT, ECANCELED, EMFILE, ENOMEM, EINVAL (host NULL, port not in
 *              1..65535)
 */
CC_API cc_stream *cc_open_connection(const char *host, int port, double timeout);

/* cc_open_unix_connection - the same for a UNIX stream socket at `path`
 * (ENOENT when nothing is there, ECONNREFUSED when nobody listens,
 * ENAMETOOLONG when the path does not fit a sockaddr_un).  A listener
 * whose backlog is full is retried until the timeout. */
CC_API cc_stream *cc_open_unix_connection(const char *path, double timeout);

/*
 * cc_stream_from_fd - a stream over a connected stream socket the caller
 * made (socketpair, accept of its own); the stream takes ownership of fd
 * (made non-blocking and close-on-exec) and closes it.  NULL with EINVAL
 * (not a connected stream socket) or ENOMEM; on failure the fd is left
 * open and still the caller's.
 */
CC_API cc_stream *cc_stream_from_fd(int fd);

/* -------------------------------------------------------------- reading */

/*
 * cc_stream_read - up to n bytes (asyncio's read(n)): waits until at least
 * one byte is there, then returns what is buffered, at most n.  Returns
 * the count, 0 at the end of the stream (or when n is 0), or -1 with
 * errno (ETIMEDOUT, EAGAIN, ECANCELED, ECONNRESET, ...).  Bytes already
 * buffered are returned before a reset is reported.
 */
CC_API ssize_t cc_stream_read(cc_stream *s, void *buf, size_t n, double timeout);

/*
 * cc_stream_readexactly - exactly n bytes into buf.  0, or -1 with ENODATA
 * when the stream ends first ("connection closed after 3 of 8 bytes"; the
 * bytes that did come stay buffered for the next read), or the errors of
 * cc_stream_read.  On every failure nothing is consumed: what had arrived
 * stays buffered (the buffer grows to n bytes to hold it).
 */
CC_API int cc_stream_readexactly(cc_stream *s, void *buf, size_t n, double timeout);

/*
 * cc_stream_readline - one line, up to and including "\n", as a blob the
 * caller frees (cc_blob_free; the blob's bytes are followed by a NUL not
 * counted in its length, so it is also a C string when the line holds no
 * NUL).  At the end of the stream: the last, unterminated bytes if any,
 * then an empty blob (length 0) -- as Python's readline returns b"".
 * NULL with errno:
 *   EMSGSIZE   more than `limit` bytes before the "\n" (cc_stream_set_limit;
 *              default CC_STREAM_LIMIT; as asyncio, the limit counts the
 *              line without its separator): the data stays buffered, as
 *              asyncio's LimitOverrunError leaves it; read it with
 *              cc_stream_read
 *   ETIMEDOUT, EAGAIN, ECANCELED  nothing consumed: a partial line stays
 *   ECONNRESET, ENOMEM, EINVAL
 */
CC_API void *cc_stream_readline(cc_stream *s, double timeout);

/*
 * cc_stream_readuntil - the bytes up to and including `sep` (seplen > 0)
 * as a blob.  ENODATA when the stream ends before sep (the bytes stay
 * buffered), EMSGSIZE past the limit, and the errors of readline.
 */
CC_API void *cc_stream_readuntil(cc_stream *s, const void *sep, size_t seplen,
                                 double timeout);

/* cc_stream_set_limit - the readline/readuntil limit in bytes (> 0).
 * 0, or -1 with EINVAL.  Never waits. */
CC_API int cc_stream_set_limit(cc_stream *s, size_t limit);

/* cc_stream_at_eof - true once the peer's end of the stream has been read
 * and the buffer is empty (asyncio's at_eof). */
CC_API bool cc_stream_at_eof(cc_stream *s);

/* -------------------------------------------------------------- writing */

/*
 * cc_stream_write - queue len bytes for sending (asyncio's write): never
 * waits.  What the socket takes at once is sent at once; the rest is
 * buffered and sent by the stream's later calls -- every call that waits
 * (a read, readline, drain, close) also moves pending output, so a
 * request/response exchange never stalls on output left in the buffer.
 * Returns 0, or -1 with EPIPE/ECONNRESET (the connection is broken; the
 * message says how), ESHUTDOWN (after write_eof or close), ECANCELED (its
 * server is being closed), ENOMEM (no memory to buffer the rest: nothing
 * was queued -- or, if part of the bytes had gone out already, the
 * connection is broken, since the stream would have a hole).  len 0 is
 * fine.
 * The buffer grows without bound if nobody drains: call cc_stream_drain
 * after writes that may outpace the peer.
 */
CC_API int cc_stream_write(cc_stream *s, const void *data, size_t len);

/* cc_stream_printf - cc_stream_write of formatted text (EINVAL for a NULL
 * or unusable format, ENOMEM, and the errors of cc_stream_write). */
CC_API int cc_stream_printf(cc_stream *s, const char *fmt, ...) CC_PRINTF(2, 3);

/* cc_stream_vprintf - the same with a va_list, for wrappers that format
 * their own messages (ap is used, not ended: va_end is the caller's). */
CC_API int cc_stream_vprintf(cc_stream *s, const char *fmt, va_list ap) CC_PRINTF(2, 0);

/*
 * cc_stream_drain - wait until the buffered output is at or below the low
 * water mark (asyncio's drain: returns at once while it is at or below
 * the high mark).  0, or -1 with ETIMEDOUT/EAGAIN/ECANCELED (the data
 * stays buffered), EPIPE/ECONNRESET.
 */
CC_API int cc_stream_drain(cc_stream *s, double timeout);

/*
 * cc_stream_set_water - the drain marks: drain returns at once while the
 * buffer holds at most `high` bytes, else waits for it to fall to `low`
 * (low <= high, else EINVAL; defaults 64 KiB and 16 KiB, as asyncio's).
 */
CC_API int cc_stream_set_water(cc_stream *s, size_t high, size_t low);

/* cc_stream_pending - the bytes of output buffered and not yet taken by
 * the socket (asyncio's get_write_buffer_size); 0 for a bad handle. */
CC_API size_t cc_stream_pending(const cc_stream *s);

/*
 * cc_stream_write_eof - after the buffered output, shut down the sending
 * direction (half-close): the peer reads EOF, this side can still read.
 * Never waits: with output still buffered, the shutdown happens when the
 * stream's later calls have sent it (drain to see it go).  Later writes
 * fail with ESHUTDOWN; a second write_eof is fine.  0, or -1 with
 * EPIPE/ECONNRESET, ECANCELED, ESHUTDOWN (closed).
 */
CC_API int cc_stream_write_eof(cc_stream *s);

/* ----------------------------------------------------------- the stream */

/*
 * cc_stream_close - send what is buffered (within `timeout`), then close
 * the connection (asyncio's close + wait_closed in one call).  0, or -1
 * with ETIMEDOUT/EAGAIN/ECANCELED (the rest of the output is dropped, the
 * connection closed all the same) or EPIPE/ECONNRESET.  Calls blocked on
 * the stream in other threads or tasks fail with ESHUTDOWN (they are woken
 * by a shutdown of the socket; the descriptor is closed only once none of
 * them uses it).  Later calls fail with ESHUTDOWN; closing twice is fine
 * (the second close returns 0 at once).  The handle stays valid until
 * cc_stream_free.
 */
CC_API int cc_stream_close(cc_stream *s, double timeout);

/* cc_stream_free - close without waiting (what the socket takes at once is
 * sent, the rest of the buffered output is dropped) and release the
 * stream.  Calls still blocked on it in other threads or tasks fail with
 * ESHUTDOWN and the memory goes when the last of them has left.  NULL is
 * fine. */
CC_API void cc_stream_free(cc_stream *s);

/*
 * cc_stream_peername - the remote address as text: "127.0.0.1:8888",
 * "[::1]:8888", or the UNIX path ("" when unnamed; "@name" for an abstract
 * one).  Writes at most len bytes (NUL included) into buf; 0, or -1 with
 * ERANGE (buf too small), ENOTCONN (the peer's address is unknown),
 * EINVAL.  The peer's address is taken when the stream is made, so
 * peername still answers after a reset or a close.  Never waits.
 */
CC_API int cc_stream_peername(const cc_stream *s, char *buf, size_t len);

/*
 * cc_stream_sockname - the local address, as text of the same forms, into
 * buf as cc_stream_peername does.  0, or -1 with ERANGE, ESHUTDOWN (after
 * close: it asks the socket), EINVAL, or getsockname's error.  Never waits.
 */
CC_API int cc_stream_sockname(const cc_stream *s, char *buf, size_t len);

/* cc_stream_fd - the socket, for setsockopt and the like.  Owned by the
 * stream: never close it (nor dup it and keep the copy past the stream's
 * close: a loop's epoll forgets a socket only when its last copy closes).
 * -1 with ESHUTDOWN after close. */
CC_API int cc_stream_fd(const cc_stream *s);

/* --------------------------------------------------------------- serving */

/*
 * A connection handler: serves one client on `s`, returns 0, or -1 after
 * cc_fail (the error is reported, see on_error; -1 without cc_fail reports
 * the handler's last error).  The server closes the stream after the
 * handler returns (its buffered output gets up to flush_timeout to go out)
 * and frees it; the handler may close it itself, but must not free it.
 *
 * Where a handler runs.  In TASKS mode each handler is a task on the
 * server's loop and runs on a task's stack (concur/aio.h, "Stacks"), not a
 * thread's 8 MiB: 256 KiB by default, enough for ordinary C such as a
 * 64 KiB buffer on the stack (200 KiB fits, with room for the calls it
 * makes); cc_serve_opts.stack_size sets it.  A handler that runs past its
 * stack ends the process with a report on stderr ("task 'Task-8'
 * overflowed its 256 KiB stack (spawned by cc_serve)...").
 */
typedef int (*cc_stream_handler)(cc_stream *s, void *arg);

/* How cc_serve runs its handlers (cc_serve_opts.mode). */
typedef enum cc_serve_mode {
    CC_SERVE_AUTO = 0,  /* tasks from a coroutine, else THREADS */
    CC_SERVE_TASKS,     /* a task per connection on the caller's loop */
    CC_SERVE_THREADS,   /* a thread per connection */
    CC_SERVE_POOL       /* handlers run on opts->pool (a cc_executor) */
} cc_serve_mode;

/* Options of cc_serve.  Zero = default. */
typedef struct cc_serve_opts {
    cc_serve_mode mode;       /* where handlers run (0: CC_SERVE_AUTO) */
    cc_executor *pool;        /* CC_SERVE_POOL: the executor (the caller's;
                                 it must outlive the server) */
    int backlog;              /* listen backlog (0: 128) */
    bool no_reuse_addr;       /* SO_REUSEADDR is set unless this is true */
    int max_connections;      /* at most this many handlers at once (0: no
                                 limit); beyond, accept waits for one to
                                 end */
    size_t limit;             /* the line limit of accepted streams (0:
                                 CC_STREAM_LIMIT) */
    const char *unix_path;    /* listen on this UNIX socket path instead of
                                 host:port (an existing socket file there is
                                 replaced, any other file is EADDRINUSE;
                                 removed at close) */
    double flush_timeout;     /* how long the output a handler left buffered
                                 may take to go out once it returns, before
                                 the connection is closed (0: 30 s;
                                 CC_FOREVER: no limit) */
    /* Called with each handler's error (the error is owned by the server,
     * valid during the call); NULL: printed on stderr as "concur: handler
     * for <peer> failed: <error with its cause chain>", a documented
     * warning.  Also called when a connection was accepted but no handler
     * could be started for it (ENOMEM, or EAGAIN: no thread): the
     * connection is closed and the error says "closed unserved"; and, with
     * peer "", when accept itself keeps failing (EMFILE...: once per
     * spell).  Without on_error these two print "concur: <error>".  Not
     * called for a handler that failed because the server's close
     * cancelled it (cc_server_close counts those).  Never called
     * concurrently with itself. */
    void (*on_error)(cc_server *srv, const char *peer, const cc_error *err,
                     void *arg);
    size_t stack_size;        /* TASKS: the stack of each handler task, in
                                 bytes (0: 256 KiB, or the tasks' default
                                 when CONCUR_STACK_SIZE is larger; at most
                                 1 GiB).  Reserved, not used: a page costs
                                 memory only once the handler touches it.
                                 THREADS and POOL ignore it (their threads
                                 have the system's stacks, 8 MiB here). */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_serve_opts;

/*
 * cc_serve - listen on host:port (host NULL or "" : every address, IPv6
 * and IPv4 on one dual-stack socket where the machine has IPv6; a name
 * that resolves to several addresses listens on each, up to 8, on one
 * port; port 0: a free port, see cc_server_port) and run handler(stream,
 * arg) for every connection, until cc_server_close.  Returns once
 * listening, with the server owned by the caller; the accepting goes on
 * in the background -- as a task on the calling coroutine's loop (TASKS:
 * the loop must keep running until the server is closed; a loop that ends
 * first cancels the acceptor and the handlers), or in an acceptor thread
 * (THREADS, POOL).  Accepted sockets are non-blocking, close-on-exec, with
 * TCP_NODELAY.  Running out of descriptors on accept (EMFILE/ENFILE)
 * pauses accepting for 50 ms and retries until it succeeds: the server
 * keeps serving once descriptors free up.  The first failure of such a
 * spell is reported like a handler's error (on_error, with "" as the
 * peer), the retries are not.  NULL with errno: EADDRINUSE,
 * EACCES, ENOENT (host unknown), EINVAL (handler NULL, port out of range,
 * CC_SERVE_POOL without a pool, CC_SERVE_TASKS outside a coroutine, an
 * unknown mode, stack_size over 1 GiB), ENAMETOOLONG (unix_path), EMFILE,
 * ENOMEM, ECANCELED.
 */
CC_API cc_server *cc_serve(const char *host, int port, cc_stream_handler handler,
                           void *arg, const cc_serve_opts *opts);

/* cc_server_port - the port bound (the one the system chose for port 0);
 * 0 for a UNIX socket. */
CC_API int cc_server_port(const cc_server *srv);

/* cc_server_connections - how many handlers are running now. */
CC_API size_t cc_server_connections(const cc_server *srv);

/*
 * cc_server_close - graceful close: stop accepting (the listening socket
 * is closed at once), let running handlers finish within `grace` seconds
 * (0: none; CC_FOREVER: no limit), then cancel the rest -- every call on
 * their streams fails with ECANCELED (the socket is shut down to wake a
 * blocked call), tasks are cancelled too (so is whatever else they wait
 * on; a thread blocked in something else is waited for), pool jobs not
 * started yet never start -- and wait for them to return.
 * Returns how many handlers had to be cancelled (0 when all finished in
 * time), or -1 with EINVAL.  Any thread or task may call it, once; later
 * calls return 0 at once.  A caller task that is cancelled skips the rest
 * of the grace; the waiting after the cancellations is not interruptible.
 * Called from one of the server's own handlers, it does all of this for
 * the other handlers; the calling one goes on, and cc_server_free waits
 * for it.  In TASKS mode the server's loop must be running (or gone).
 */
CC_API int cc_server_close(cc_server *srv, double grace);

/*
 * cc_server_wait - wait until the server is closed by someone else (what
 * a program's main does after cc_serve: serve_forever).  0, or -1 with
 * ETIMEDOUT/EAGAIN/ECANCELED.
 */
CC_API int cc_server_wait(cc_server *srv, double timeout);

/* cc_server_free - close (grace 0) if not closed, wait for every handler
 * to return (one that closed the server included) and release.  NULL is
 * fine.  Must not be called from one of the server's own handlers. */
CC_API void cc_server_free(cc_server *srv);

#ifdef __cplusplus
}
#endif

#endif
