/*
 * connect.c - opening connections: TCP to host:port over IPv4 or IPv6, and
 * UNIX stream sockets (net layer).
 *
 * Every socket is made non-blocking and close-on-exec; connect() that
 * answers EINPROGRESS is waited for with cc_wait_fd (a thread polls, a task
 * suspends and can be cancelled) and its outcome read from SO_ERROR.  The
 * addresses a name resolves to are tried in order, all within the one
 * deadline.  A UNIX listener whose backlog is full makes a non-blocking
 * connect fail with EAGAIN and offers nothing to wait for: it is retried
 * after short, growing sleeps until the deadline.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "net/stream.h"

/* Seconds left until deadline for cc_wait_fd (CC_FOREVER: none). */
static double left_of(int64_t deadline)
{
    int64_t ns;

    if (deadline == CC__NS_FOREVER)
        return CC_FOREVER;
    ns = deadline - cc__now_ns();
    return ns > 0 ? (double)ns / 1e9 : 0;
}

/*
 * Connect a new socket of `family` to addr.  Returns the descriptor, or
 * minus an errno: the connect's own failure (ECONNREFUSED, ENOENT...), or
 * of the wait (ETIMEDOUT, EAGAIN with timeout 0, ECANCELED), or of
 * socket() (EMFILE...).
 */
static int connect_one(int family, const struct sockaddr *addr,
                       socklen_t len, double timeout, int64_t deadline)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    double nap = 0.001;
    int err;

    if (fd < 0)
        return -errno;
    for (;;) {
        if (connect(fd, addr, len) == 0)
            return fd;
        err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN && family == AF_UNIX) { /* a full backlog */
            double left = left_of(deadline);

            if (timeout == 0 || left == 0) {
                err = timeout == 0 ? EAGAIN : ETIMEDOUT;
                break;
            }
            if (cc_sleep(nap < left ? nap : left) != 0) {
                err = errno;
                break;
            }
            nap = nap * 2 > 0.05 ? 0.05 : nap * 2;
            continue;
        }
        if (err != EINPROGRESS)
            break;
        /* In progress: wait for the answer. */
        if (timeout == 0 || left_of(deadline) == 0) {
            err = timeout == 0 ? EAGAIN : ETIMEDOUT;
            break;
        }
        if (cc_wait_fd(fd, CC_WRITABLE, left_of(deadline)) < 0) {
            err = errno == EAGAIN ? ETIMEDOUT : errno;
            break;
        }
        {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);

            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                soerr = errno;
            if (soerr == 0)
                return fd;
            err = soerr;
        }
        break;
    }
    close(fd);
    return -err;
}

/* The stream over a connected fd; the fd is closed on failure. */
static cc_stream *wrap(int fd, const struct sockaddr *addr, socklen_t len,
                       const char *what)
{
    cc_stream *s = cc__stream_new(fd, addr, len);

    if (s == NULL) {
        close(fd);
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    }
    return s;
}

/* True for failures that no other address would avoid. */
static bool final_error(int err)
{
    return err == ETIMEDOUT || err == EAGAIN || err == ECANCELED ||
           err == EMFILE || err == ENFILE || err == ENOMEM ||
           err == ENOBUFS;
}

cc_stream *cc_open_connection(const char *host, int port, double timeout)
{
    const char *what = "cc_open_connection";
    char target[CC__PEER_MAX];
    int64_t deadline;
    cc__addrs addrs;
    int err = 0;
    size_t i;

    if (host == NULL || host[0] == '\0')
        return cc__err_null(EINVAL, "cc_open_connection: host is empty");
    if (port < 1 || port > 65535)
        return cc__errf_null(EINVAL, "cc_open_connection: port %d is not "
                                     "in 1..65535", port);
    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return NULL;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return NULL;
    snprintf(target, sizeof(target), "%s%s%s:%d",
             strchr(host, ':') && host[0] != '[' ? "[" : "", host,
             strchr(host, ':') && host[0] != '[' ? "]" : "", port);
    if (cc__resolve(host, port, false, timeout, deadline, &addrs,
                    "cc_open_connection") != 0)
        return NULL;
    for (i = 0; i < addrs.n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&addrs.addr[i];
        int fd = connect_one(sa->sa_family, sa, addrs.len[i], timeout,
                             deadline);

        if (fd >= 0) {
            int one = 1;

            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return wrap(fd, sa, addrs.len[i], what);
        }
        err = -fd;
        if (final_error(err))
            break;
    }
    {
        char addr[CC__PEER_MAX];
        const struct sockaddr *sa =
            (const struct sockaddr *)&addrs.addr[i < addrs.n ? i
                                                             : addrs.n - 1];

        cc__addr_format(sa, sizeof(addrs.addr[0]), addr, sizeof(addr));
        if (err == EAGAIN)
            return cc__err_null(EAGAIN, "cc_open_connection: not connected "
                                        "yet and the timeout is 0");
        if (err == ETIMEDOUT)
            return cc__errf_null(ETIMEDOUT, "connect to %s (%s) timed out",
                                 target, addr);
        if (err == ECANCELED)
            return cc__errf_null(ECANCELED, "connect to %s (%s): the task "
                                            "was cancelled", target, addr);
        return cc__errf_null(err, "connect to %s (%s): %s", target, addr,
                             strerror(err));
    }
}

cc_stream *cc_open_unix_connection(const char *path, double timeout)
{
    const char *what = "cc_open_unix_connection";
    struct sockaddr_un un;
    socklen_t len;
    int64_t deadline;
    int fd;
    int rc;

    if (path == NULL)
        return cc__err_null(EINVAL, "cc_open_unix_connection: path is NULL");
    rc = cc__addr_unix(path, &un, &len);
    if (rc != 0)
        return cc__errf_null(rc, "cc_open_unix_connection: '%s': %s", path,
                             rc == EINVAL ? "the path is empty"
                                          : "the path is too long for a "
                                            "UNIX socket");
    if (cc__deadline_for(timeout, what, &deadline) != 0)
        return NULL;
    if (timeout != 0 && cc__checkpoint(what) != 0)
        return NULL;
    fd = connect_one(AF_UNIX, (struct sockaddr *)&un, len, timeout, deadline);
    if (fd >= 0)
        return wrap(fd, (struct sockaddr *)&un, len, what);
    rc = -fd;
    if (rc == EAGAIN)
        return cc__err_null(EAGAIN, "cc_open_unix_connection: the listener "
                                    "is busy and the timeout is 0");
    if (rc == ETIMEDOUT)
        return cc__errf_null(ETIMEDOUT, "connect to %s timed out", path);
    if (rc == ECANCELED)
        return cc__errf_null(ECANCELED, "connect to %s: the task was "
                                        "cancelled", path);
    return cc__errf_null(rc, "connect to %s: %s", path, strerror(rc));
}
