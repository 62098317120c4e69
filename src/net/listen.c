/*
 * listen.c - the listening sockets of a cc_server (net layer).
 *
 * Every address of the host gets a socket (non-blocking, close-on-exec,
 * SO_REUSEADDR unless asked not to) on one port: with port 0 the first
 * bind picks it and the others take the same.  No host means every
 * address: one IPv6 socket with IPV6_V6ONLY off serves IPv4 too, and a
 * machine without IPv6 gets 0.0.0.0.  A UNIX socket replaces a stale
 * socket file at its path (never another kind of file) and remembers the
 * file's identity, so that closing removes its own file only.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal/error.h"
#include "net/server.h"

/* Bind and listen one socket; it joins srv->listen.  0 or an errno. */
static int open_one(cc_server *srv, const struct sockaddr *sa, socklen_t len,
                    int backlog, bool reuse, int v6only)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int one = 1;
    int e;

    if (fd < 0)
        return errno;
    if (reuse && sa->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6 && v6only >= 0)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    if (bind(fd, sa, len) != 0 || listen(fd, backlog) != 0) {
        e = errno;
        close(fd);
        return e;
    }
    srv->listen[srv->nlisten].srv = srv;
    srv->listen[srv->nlisten].fd = fd;
    srv->listen[srv->nlisten].task = NULL;
    srv->nlisten++;
    return 0;
}

/* The port the first socket got. */
static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static int listen_failed(int e, const struct sockaddr *sa, socklen_t len)
{
    char addr[128];

    if (cc__addr_format(sa, len, addr, sizeof(addr)) < 0)
        snprintf(addr, sizeof(addr), "?");
    return cc__errf(e, "cc_serve: cannot listen on %s: %s", addr,
                    strerror(e));
}

static int listen_unix(cc_server *srv, const char *path, int backlog)
{
    struct sockaddr_un un;
    socklen_t len;
    struct stat st;
    int rc = cc__addr_unix(path, &un, &len);

    if (rc != 0)
        return cc__errf(rc, "cc_serve: unix_path '%s': %s", path,
                        rc == EINVAL ? "empty" : "too long for a UNIX socket");
    if (path[0] != '@' && lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return cc__errf(EADDRINUSE, "cc_serve: '%s' exists and is not a "
                                        "socket", path);
        unlink(path); /* a socket file left by an earlier run */
    }
    rc = open_one(srv, (struct sockaddr *)&un, len, backlog, false, -1);
    if (rc != 0)
        return cc__errf(rc, "cc_serve: cannot listen on %s: %s", path,
                        strerror(rc));
    if (path[0] != '@') {
        srv->unix_path = strdup(path);
        if (srv->unix_path == NULL) {
            unlink(path);
            return cc__err(ENOMEM, "cc_serve: out of memory");
        }
        if (stat(path, &st) == 0) {
            srv->unix_dev = st.st_dev;
            srv->unix_ino = st.st_ino;
        }
    }
    return 0;
}

static int listen_any(cc_server *srv, int port, int backlog, bool reuse)
{
    struct sockaddr_in6 in6;
    struct sockaddr_in in4;
    int rc;

    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_addr = in6addr_any;
    in6.sin6_port = htons((uint16_t)port);
    rc = open_one(srv, (struct sockaddr *)&in6, sizeof(in6), backlog, reuse,
                  0);
    if (rc == 0)
        return 0;
    if (rc != EAFNOSUPPORT && rc != EADDRNOTAVAIL)
        return listen_failed(rc, (struct sockaddr *)&in6, sizeof(in6));
    memset(&in4, 0, sizeof(in4)); /* no IPv6 here */
    in4.sin_family = AF_INET;
    in4.sin_addr.s_addr = htonl(INADDR_ANY);
    in4.sin_port = htons((uint16_t)port);
    rc = open_one(srv, (struct sockaddr *)&in4, sizeof(in4), backlog, reuse,
                  -1);
    if (rc != 0)
        return listen_failed(rc, (struct sockaddr *)&in4, sizeof(in4));
    return 0;
}

int cc__server_listen(cc_server *srv, const char *host, int port,
                      const cc_serve_opts *opts)
{
    int backlog = opts != NULL && opts->backlog > 0 ? opts->backlog : 128;
    bool reuse = !(opts != NULL && opts->no_reuse_addr);
    cc__addrs addrs;
    int64_t deadline = CC__NS_FOREVER;
    int rc;

    if (opts != NULL && opts->unix_path != NULL)
        return listen_unix(srv, opts->unix_path, backlog);
    if (host == NULL || host[0] == '\0')
        rc = listen_any(srv, port, backlog, reuse);
    else {
        if (cc__resolve(host, port, true, CC_FOREVER, deadline, &addrs,
                        "cc_serve") != 0)
            return -1;
        rc = 0;
        for (size_t i = 0; i < addrs.n && rc == 0; i++) {
            struct sockaddr *sa = (struct sockaddr *)&addrs.addr[i];
            int e;

            if (i > 0 && port == 0)
                cc__addr_set_port(&addrs.addr[i], srv->port);
            e = open_one(srv, sa, addrs.len[i], backlog, reuse, 1);
            if (e != 0)
                rc = listen_failed(e, sa, addrs.len[i]);
            else if (i == 0)
                srv->port = bound_port(srv->listen[0].fd);
        }
    }
    if (rc != 0) {
        cc__server_unlisten(srv);
        return -1;
    }
    srv->port = bound_port(srv->listen[0].fd);
    return 0;
}

void cc__server_unlisten(cc_server *srv)
{
    struct stat st;

    for (int i = 0; i < srv->nlisten; i++) {
        if (srv->listen[i].fd >= 0)
            close(srv->listen[i].fd);
        srv->listen[i].fd = -1;
    }
    if (srv->unix_path != NULL) {
        if (stat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
            st.st_ino == srv->unix_ino)
            unlink(srv->unix_path);
        free(srv->unix_path);
        srv->unix_path = NULL;
    }
}
