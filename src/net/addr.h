/*
 * addr.h - socket addresses for the net layer: lists of resolved
 * addresses, their text form, descriptor flags (private to src/net/).
 */
#ifndef CC_NET_ADDR_H
#define CC_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CC__ADDRS_MAX 8 /* addresses tried per name (connect and listen) */

/* What a host name resolved to, in getaddrinfo's order. */
typedef struct cc__addrs {
    size_t n;
    socklen_t len[CC__ADDRS_MAX];
    struct sockaddr_storage addr[CC__ADDRS_MAX];
} cc__addrs;

/*
 * Resolve host (a literal or a name; passive: for bind) with `port` set in
 * every address.  From a task, a name is looked up on the loop's default
 * executor within the deadline (resolve.c).  0, or -1 with the error
 * recorded for `what`: ENOENT (does not resolve), ETIMEDOUT/EAGAIN,
 * ECANCELED, ENOMEM.
 */
int cc__resolve(const char *host, int port, bool passive, double timeout,
                int64_t deadline, cc__addrs *out, const char *what);

/* Set the port of an IPv4 or IPv6 address. */
void cc__addr_set_port(struct sockaddr_storage *ss, int port);

/* Format a socket address as "1.2.3.4:80", "[::1]:80", a path, "@abstract"
 * or "" (an unnamed UNIX socket).  Returns the length it needs (as
 * snprintf), or -1 for an unknown family. */
int cc__addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                    size_t size);

/* Fill a sockaddr_un for path ("@name": abstract).  0, or ENAMETOOLONG /
 * EINVAL (empty). */
struct sockaddr_un;
int cc__addr_unix(const char *path, struct sockaddr_un *un, socklen_t *len);

/* Make fd non-blocking and close-on-exec.  0 or an errno. */
int cc__fd_prepare(int fd);

#endif
