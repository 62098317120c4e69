/*
 * svc_util.h - a raw-socket HTTP/1.1 client for the service's tests: it
 * owes nothing to concur's net layer (plain blocking sockets with receive
 * timeouts), so the tests check the service from the outside.  A `hc` is
 * one connection with its own read buffer, so pipelined answers are read
 * one after another.  Every failure is a cmocka failure unless the helper's
 * name says it may fail (hc_try_*).
 */
#ifndef CONCUR_SVC_UTIL_H
#define CONCUR_SVC_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "test_util.h"

#include "service.h"

typedef struct hc {
    int fd;
    char *buf;          /* bytes received, not yet consumed */
    size_t len;
    size_t cap;
} hc;

/* One answer. */
typedef struct hresp {
    int status;
    int minor;          /* HTTP/1.x */
    long content_length;
    bool close;         /* "Connection: close" */
    bool keep_alive;    /* "Connection: keep-alive" */
    int retry_after;    /* -1 when absent */
    char type[128];     /* Content-Type */
    char *body;         /* NUL-terminated, free() it (hresp_free) */
    size_t body_len;
} hresp;

static inline void hresp_free(hresp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Let this process hold many descriptors (1,000 connections, both ends). */
static inline void su_raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Connect to 127.0.0.1:port; receive timeout `timeout` seconds.  -1 on
 * failure (errno). */
static inline int hc_try_open(hc *c, int port, double timeout)
{
    struct sockaddr_in a = {0};
    struct timeval tv;
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;

        close(c->fd);
        errno = e;
        return -1;
    }
    tv.tv_sec = (time_t)timeout;
    tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static inline void hc_open(hc *c, int port)
{
    if (hc_try_open(c, port, 30 * TU_SLOW) != 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
}

static inline void hc_close(hc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Send everything; -1 on failure (a reset peer, ...). */
static inline int hc_try_send(hc *c, const void *p, size_t n)
{
    const char *q = p;

    while (n > 0) {
        ssize_t w = send(c->fd, q, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline void hc_send(hc *c, const char *text)
{
    if (hc_try_send(c, text, strlen(text)) != 0)
        fail_msg("send: %s", strerror(errno));
}

/* Receive more bytes into the buffer: >0 count, 0 EOF, -1 error/timeout. */
static inline ssize_t hc_fill(hc *c)
{
    ssize_t r;

    if (c->cap - c->len < 16384) {
        size_t cap = c->cap == 0 ? 65536 : c->cap * 2;
        char *p = realloc(c->buf, cap + 1);

        assert_non_null(p);
        c->buf = p;
        c->cap = cap;
    }
    do
        r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        c->len += (size_t)r;
    return r;
}

static inline const char *find_crlf2(const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
            p[i + 3] == '\n')
            return p + i;
    return NULL;
}

/*
 * Read one answer (`head`: to a HEAD request, no body).  0, or -1 with
 * errno: ENODATA (the connection ended first, after `c->len` unparsed
 * bytes), EAGAIN/ETIMEDOUT (the receive timed out), EPROTO (not HTTP),
 * ECONNRESET...
 */
static inline int hc_try_read(hc *c, hresp *r, bool head)
{
    const char *end;
    size_t hlen;
    char *line;

    memset(r, 0, sizeof(*r));
    r->retry_after = -1;
    r->content_length = -1;
    while ((end = find_crlf2(c->buf == NULL ? "" : c->buf, c->len)) == NULL) {
        ssize_t n = hc_fill(c);

        if (n == 0)
            errno = ENODATA;
        if (n <= 0)
            return -1;
    }
    hlen = (size_t)(end - c->buf) + 4;
    c->buf[hlen - 2] = '\0';
    if (sscanf(c->buf, "HTTP/1.%d %d", &r->minor, &r->status) != 2) {
        errno = EPROTO;
        return -1;
    }
    line = strstr(c->buf, "\r\n");
    while (line != NULL && line[2] != '\0') {
        char *h = line + 2;
        char *next = strstr(h, "\r\n");

        if (next != NULL)
            *next = '\0';
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            r->content_length = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "Connection:", 11) == 0) {
            r->close = strcasestr(h, "close") != NULL;
            r->keep_alive = strcasestr(h, "keep-alive") != NULL;
        } else if (strncasecmp(h, "Retry-After:", 12) == 0)
            r->retry_after = atoi(h + 12);
        else if (strncasecmp(h, "Content-Type:", 13) == 0)
            snprintf(r->type, sizeof(r->type), "%s", h + 14);
        if (next == NULL)
            break;
        *next = '\r';
        line = next;
    }
    if (r->content_length < 0) {
        errno = EPROTO; /* the service always sends a length */
        return -1;
    }
    r->body_len = head ? 0 : (size_t)r->content_length;
    while (c->len < hlen + r->body_len) {
        ssize_t n = hc_fill(c);

        if (n == 0)
            errno = ENODATA;
        if (n <= 0)
            return -1;
    }
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, c->buf + hlen, r->body_len);
    r->body[r->body_len] = '\0';
    memmove(c->buf, c->buf + hlen + r->body_len, c->len - hlen - r->body_len);
    c->len -= hlen + r->body_len;
    return 0;
}

static inline void hc_read(hc *c, hresp *r, bool head)
{
    if (hc_try_read(c, r, head) != 0)
        fail_msg("reading an answer: %s", strerror(errno));
}

/* True once the peer has closed (EOF; a reset counts too), within the
 * receive timeout; bytes that still come are dropped. */
static inline bool hc_closed(hc *c)
{
    for (;;) {
        ssize_t n = hc_fill(c);

        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
        c->len = 0;
    }
}

/* GET (or any method) on a fresh connection, "Connection: close". */
static inline void su_get(int port, const char *method, const char *target,
                          hresp *r)
{
    hc c;
    char req[1024];

    hc_open(&c, port);
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n", method, target);
    hc_send(&c, req);
    hc_read(&c, r, strcmp(method, "HEAD") == 0);
    hc_close(&c);
}

/* A service on a free port with these knobs (NULL: defaults). */
static inline svc *su_start(const svc_opts *o)
{
    svc *s = svc_start(o);

    if (s == NULL)
        fail_msg("svc_start: %s", cc_errmsg());
    return s;
}

/* Kill, reap and free the child *p if it is still there (a test that
 * failed early leaves its `concur serve` running); *p becomes NULL. */
static inline void su_reap(cc_popen **p)
{
    if (*p != NULL) {
        cc_popen_kill(*p);
        cc_popen_wait(*p, CC_FOREVER, NULL);
        cc_popen_free(*p);
        *p = NULL;
    }
}

/* Open the descriptors the library keeps per process before counting. */
static inline int su_warm_up(void **state)
{
    (void)state;
    su_raise_fd_limit();
    assert_ok(cc_run(tu_nothing, NULL, NULL));
    svc_stop(su_start(NULL));
    return 0;
}

#endif
