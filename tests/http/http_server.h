/*
 * http_server.h - a small HTTP/1.1 test server on concur's own net layer
 * (cc_serve, a thread per connection), for the http tests.  Keep-alive;
 * counts the connections it accepted.  Paths:
 *
 *   /status/<code>          that status, body "status <code>"
 *   /echo                   200, body: "<METHOD> <target>\n", then each
 *                           request header line, "\n", then the request body
 *   /delay/<ms>             waits, then 200 "slept"
 *   /hold/<ms>              the same, but a client that closes its
 *                           connection meanwhile ends the wait at once,
 *                           counted in `abandoned` (the client must send
 *                           nothing more during the wait)
 *   /redirect/<n>           302 to /redirect/<n-1>; /redirect/0 is 200 "done"
 *   /loop                   302 to /loop, for ever
 *   /headers                200 with X-One: 1, X-Two: "  spaced  ", two
 *                           X-Dup, a folded X-Fold
 *   /big/<bytes>            that many bytes of a pattern (sh_byte)
 *   /malformed              a broken status line
 *   /reset                  promises 1 MiB, sends 64 KiB, then resets
 *   /short                  promises 1000 bytes, sends 10, then closes
 *   /nothing                closes without answering
 *   /rates?base=XXX         a small JSON body naming XXX
 */
#ifndef CONCUR_HTTP_SERVER_H
#define CONCUR_HTTP_SERVER_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "test_util.h"

typedef struct sh_server {
    cc_server *srv;
    int port;
    _Atomic int accepted;   /* connections accepted so far */
    _Atomic int requests;
    _Atomic int abandoned;  /* /hold waits ended by the client's close */
    char base[64];          /* "http://127.0.0.1:<port>" */
} sh_server;

static inline unsigned char sh_byte(size_t i)
{
    return (unsigned char)('a' + (i * 7 + i / 251) % 26);
}

/* An answer with a Content-Length; no body bytes for a HEAD. */
static inline int sh_reply(cc_stream *s, bool head, int code,
                           const char *extra, const void *body, size_t len)
{
    if (cc_stream_printf(s, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
                         code, len, extra != NULL ? extra : "") != 0)
        return -1;
    if (len > 0 && !head && cc_stream_write(s, body, len) != 0)
        return -1;
    return cc_stream_drain(s, 30);
}

/* Serve one request; 1 to keep the connection, 0 to close it, -1 on
 * error. */
static inline int sh_one(sh_server *sv, cc_stream *s)
{
    char *line = cc_stream_readline(s, 30);
    char method[32];
    char target[512];
    char *hdrs = NULL;
    size_t hlen = 0;
    size_t clen = 0;
    bool close_after = false;
    char *body = NULL;
    int rc = 0;
    bool keep = true;
    bool head;

    if (line == NULL || cc_blob_len(line) == 0) {
        cc_blob_free(line);
        return 0;
    }
    if (sscanf(line, "%31s %511s", method, target) != 2) {
        cc_blob_free(line);
        return 0;
    }
    cc_blob_free(line);
    head = strcmp(method, "HEAD") == 0;
    for (;;) {
        char *h = cc_stream_readline(s, 30);
        size_t n;

        if (h == NULL || cc_blob_len(h) == 0) {
            cc_blob_free(h);
            free(hdrs);
            return 0;
        }
        if (strcmp(h, "\r\n") == 0) {
            cc_blob_free(h);
            break;
        }
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = (size_t)strtoull(h + 15, NULL, 10);
        if (strncasecmp(h, "Connection: close", 17) == 0)
            close_after = true;
        n = cc_blob_len(h);
        hdrs = realloc(hdrs, hlen + n + 1);
        memcpy(hdrs + hlen, h, n);
        hlen += n;
        hdrs[hlen] = '\0';
        cc_blob_free(h);
    }
    body = malloc(clen + 1);
    if (clen > 0 && cc_stream_readexactly(s, body, clen, 30) != 0) {
        free(body);
        free(hdrs);
        return 0;
    }
    atomic_fetch_add(&sv->requests, 1);

    if (strncmp(target, "/status/", 8) == 0) {
        char b[64];
        int code = atoi(target + 8);
        int n = snprintf(b, sizeof(b), "status %d", code);

        rc = sh_reply(s, head, code, NULL, b, (size_t)n);
    } else if (strcmp(target, "/echo") == 0) {
        size_t n = strlen(method) + strlen(target) + 2 + hlen + 1 + clen;
        char *out = malloc(n + 1);
        size_t at = (size_t)sprintf(out, "%s %s\n", method, target);

        if (hlen > 0)
            memcpy(out + at, hdrs, hlen);
        at += hlen;
        out[at++] = '\n';
        if (clen > 0)
            memcpy(out + at, body, clen);
        at += clen;
        rc = sh_reply(s, head, 200, "Content-Type: text/plain\r\n", out, at);
        free(out);
    } else if (strncmp(target, "/delay/", 7) == 0) {
        tu_sleep(atoi(target + 7) / 1000.0);
        rc = sh_reply(s, head, 200, NULL, "slept", 5);
    } else if (strncmp(target, "/hold/", 6) == 0) {
        char b;

        /* wait by reading: the end of the stream comes at once if the
         * client gives up and closes */
        if (cc_stream_read(s, &b, 1, atoi(target + 6) / 1000.0) == 0) {
            atomic_fetch_add(&sv->abandoned, 1);
            rc = -1;
        } else {
            rc = sh_reply(s, head, 200, NULL, "slept", 5);
        }
    } else if (strncmp(target, "/redirect/", 10) == 0) {
        int n = atoi(target + 10);
        char loc[64];

        if (n <= 0) {
            rc = sh_reply(s, head, 200, NULL, "done", 4);
        } else {
            snprintf(loc, sizeof(loc), "Location: /redirect/%d\r\n", n - 1);
            rc = sh_reply(s, head, 302, loc, "moved", 5);
        }
    } else if (strncmp(target, "/retry-after/", 13) == 0) {
        /* 503 with Retry-After: the seconds given, "date" (an HTTP date
         * two hours ahead), or the text as it is */
        char h[96];
        const char *v = target + 13;

        if (strcmp(v, "date") == 0) {
            time_t t = time(NULL) + 7200;
            struct tm tm;
            char d[64];

            gmtime_r(&t, &tm);
            strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            snprintf(h, sizeof(h), "Retry-After: %s\r\n", d);
        } else {
            snprintf(h, sizeof(h), "Retry-After: %.60s\r\n", v);
        }
        rc = sh_reply(s, head, 503, h, "later", 5);
    } else if (strcmp(target, "/loop") == 0) {
        rc = sh_reply(s, head, 302, "Location: /loop\r\n", "", 0);
    } else if (strcmp(target, "/headers") == 0) {
        rc = sh_reply(s, head, 200,
                      "X-One: 1\r\nX-Two:   spaced  \r\nX-Dup: first\r\n"
                      "X-Dup: second\r\nX-Fold: a\r\n  b\r\n",
                      "h", 1);
    } else if (strncmp(target, "/big/", 5) == 0) {
        size_t n = (size_t)strtoull(target + 5, NULL, 10);
        char *out = malloc(n + 1);

        for (size_t i = 0; i < n; i++)
            out[i] = (char)sh_byte(i);
        rc = sh_reply(s, head, 200, NULL, out, n);
        free(out);
    } else if (strcmp(target, "/malformed") == 0) {
        cc_stream_printf(s, "HTTP/1.1 abc What\r\n\r\n");
        cc_stream_drain(s, 30);
        keep = false;
    } else if (strcmp(target, "/reset") == 0) {
        size_t n = 64 * 1024;
        char *out = malloc(n);
        struct linger lg = {1, 0};

        memset(out, 'r', n);
        cc_stream_printf(s, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                         1 << 20);
        cc_stream_write(s, out, n);
        cc_stream_drain(s, 30);
        free(out);
        tu_sleep(0.05); /* let the client read some of it */
        setsockopt(cc_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        keep = false;
    } else if (strcmp(target, "/short") == 0) {
        cc_stream_printf(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                            "0123456789");
        cc_stream_drain(s, 30);
        keep = false;
    } else if (strcmp(target, "/nothing") == 0) {
        keep = false;
    } else if (strncmp(target, "/rates?base=", 12) == 0) {
        char b[128];
        int n = snprintf(b, sizeof(b), "{\"base\": \"%s\", \"rate\": 1.5}",
                         target + 12);

        rc = sh_reply(s, head, 200, "Content-Type: application/json\r\n", b,
                      (size_t)n);
    } else {
        rc = sh_reply(s, head, 404, NULL, "no such page", 12);
    }
    free(body);
    free(hdrs);
    if (rc < 0)
        return -1;
    return close_after || !keep ? 0 : 1;
}

static inline int sh_handler(cc_stream *s, void *arg)
{
    sh_server *sv = arg;

    atomic_fetch_add(&sv->accepted, 1);
    while (sh_one(sv, s) > 0)
        ;
    return 0;
}

/* Start the server on a free port of 127.0.0.1, a thread per connection. */
static inline void sh_start(sh_server *sv)
{
    cc_serve_opts o = {.mode = CC_SERVE_THREADS, .flush_timeout = 5};

    memset(sv, 0, sizeof(*sv));
    sv->srv = cc_serve("127.0.0.1", 0, sh_handler, sv, &o);
    if (sv->srv == NULL)
        fail_msg("cc_serve: %s", cc_errmsg());
    sv->port = cc_server_port(sv->srv);
    snprintf(sv->base, sizeof(sv->base), "http://127.0.0.1:%d", sv->port);
}

static inline void sh_stop(sh_server *sv)
{
    cc_server_close(sv->srv, 1.0);
    cc_server_free(sv->srv);
    sv->srv = NULL;
}

/*
 * "http://127.0.0.1:<port>/x" where nobody listens, for ECONNREFUSED: the
 * port is held by a socket bound but not listening (a fixed port such as 1
 * may have a listener on a shared machine).  Opened once, kept open.
 */
static inline const char *sh_refused_url(void)
{
    static char url[64];

    if (url[0] == '\0') {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
            fail_msg("cannot hold a port: %s", strerror(errno));
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
    }
    return url;
}

/* base + path in buf. */
static inline const char *sh_url(const sh_server *sv, char *buf, size_t n,
                                 const char *path)
{
    snprintf(buf, n, "%s%s", sv->base, path);
    return buf;
}

#endif
