/*
 * addr.c - socket addresses as text, and descriptor flags (net layer).
 *
 * The text forms are the ones asyncio and most logs use: "127.0.0.1:8888",
 * "[::1]:8888" (with "%scope" for a link-local address), the path of a
 * UNIX socket, "@name" for an abstract one, "" for an unnamed one.
 * Stateless; safe from any thread.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "net/stream.h"

int cc__addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                    size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
        return -1;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        return snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        if (in6->sin6_scope_id != 0)
            return snprintf(buf, size, "[%s%%%u]:%u", host,
                            in6->sin6_scope_id, ntohs(in6->sin6_port));
        return snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t n = (size_t)len - offsetof(struct sockaddr_un, sun_path);

        if (len <= (socklen_t)offsetof(struct sockaddr_un, sun_path))
            return snprintf(buf, size, "%s", ""); /* unnamed */
        if (un->sun_path[0] == '\0') /* abstract: "@" + the name */
            return snprintf(buf, size, "@%.*s", (int)(n - 1),
                            un->sun_path + 1);
        return snprintf(buf, size, "%.*s", (int)strnlen(un->sun_path, n),
                        un->sun_path);
    }
    default:
        return -1;
    }
}

int cc__fd_prepare(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return errno;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return errno;
    if (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0)
        return errno;
    return 0;
}

int cc__addr_unix(const char *path, struct sockaddr_un *un, socklen_t *len)
{
    size_t n = strlen(path);

    if (n == 0)
        return EINVAL;
    if (n >= sizeof(un->sun_path))
        return ENAMETOOLONG;
    memset(un, 0, sizeof(*un));
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    if (path[0] == '@') { /* abstract: a leading NUL, no terminator */
        un->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}
