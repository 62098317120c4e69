/*
 * xfer.c - one HTTP exchange on a libcurl easy handle: the options, the
 * body and header callbacks, and the outcome as a response or an errno
 * (http layer).  Shared by the thread path and the loop path.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/xfer.h"
#include "internal/clock.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/error.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static char agent[64]; /* "concur/<version>", the default User-Agent */

static void global_init(void)
{
    /* A failure here shows as each request's own failure (curl's
     * handles then refuse to work), with curl's words. */
    (void)curl_global_init(CURL_GLOBAL_ALL);
    snprintf(agent, sizeof(agent), "concur/%s", cc_version());
}

void cc__http_global_init(void)
{
    pthread_once(&global_once, global_init);
}

void *cc__xfer_fail(const http_xfer *x, int code, const char *what)
{
    return cc__errf_null(code, "%s %s: %s", x->method, x->url, what);
}

/* ---------------------------------------------------------- callbacks */

/* Make room for `more` bytes in the header buffer and 2 offsets. */
static bool headers_room(http_headers *h, size_t more)
{
    if (h->len + more > h->cap) {
        size_t cap = h->cap ? h->cap : 512;
        char *b;

        while (cap < h->len + more)
            cap *= 2;
        b = realloc(h->buf, cap);
        if (b == NULL)
            return false;
        h->buf = b;
        h->cap = cap;
    }
    if (2 * h->count + 2 > h->off_cap) {
        size_t cap = h->off_cap ? h->off_cap * 2 : 32;
        size_t *o = realloc(h->off, cap * sizeof(*o));

        if (o == NULL)
            return false;
        h->off = o;
        h->off_cap = cap;
    }
    return true;
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' ||
                      (*p)[*n - 1] == '\r' || (*p)[*n - 1] == '\n'))
        (*n)--;
}

/*
 * curl hands every header line of every response here, status lines
 * included: a status line starts a new response (a redirect's target, or
 * the real answer after a 100 Continue), so only the final one's headers
 * remain.  A folded line (starting with a space) continues the previous
 * header's value.
 */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    http_xfer *x = arg;
    http_headers *h = &x->h;
    size_t len = size * n;
    const char *colon;
    const char *name = line;
    const char *value;
    size_t nlen;
    size_t vlen;

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        h->len = 0;
        h->count = 0;
        return len;
    }
    if ((line[0] == ' ' || line[0] == '\t') && h->count > 0) {
        value = line;
        vlen = len;
        trim(&value, &vlen);
        if (vlen == 0)
            return len;
        if (!headers_room(h, vlen + 1)) {
            x->oom = true;
            return 0;
        }
        h->buf[h->len - 1] = ' '; /* the previous value ends the buffer */
        memcpy(h->buf + h->len, value, vlen);
        h->len += vlen;
        h->buf[h->len++] = '\0';
        return len;
    }
    colon = memchr(line, ':', len);
    if (colon == NULL) /* the blank line that ends the headers */
        return len;
    nlen = (size_t)(colon - line);
    value = colon + 1;
    vlen = len - nlen - 1;
    trim(&name, &nlen);
    trim(&value, &vlen);
    if (!headers_room(h, nlen + vlen + 2)) {
        x->oom = true;
        return 0;
    }
    h->off[2 * h->count] = h->len;
    memcpy(h->buf + h->len, name, nlen);
    h->len += nlen;
    h->buf[h->len++] = '\0';
    h->off[2 * h->count + 1] = h->len;
    memcpy(h->buf + h->len, value, vlen);
    h->len += vlen;
    h->buf[h->len++] = '\0';
    h->count++;
    return len;
}

/* The body goes straight into a blob whose length is its capacity (sized
 * from Content-Length when the server gave one), trimmed at the end. */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    http_xfer *x = arg;
    size_t len = size * n;
    size_t cap = x->body != NULL ? cc_blob_len(x->body) : 0;

    if (x->max_body != 0 && x->body_len + len > x->max_body) {
        x->too_big = true;
        return 0;
    }
    if (x->body_len + len > cap) {
        curl_off_t cl = -1;
        size_t want = cap ? cap * 2 : 16384;
        char *b;

        if (x->body == NULL &&
            curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                              &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl < SIZE_MAX / 2)
            want = (size_t)cl;
        if (x->max_body != 0 && want > x->max_body)
            want = x->max_body;
        if (want < x->body_len + len)
            want = x->body_len + len;
        b = cc_blob_resize(x->body, want);
        if (b == NULL) {
            x->oom = true;
            return 0;
        }
        x->body = b;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    return len;
}

/* -------------------------------------------------------------- setup */

static bool http_url(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 ||
           strncasecmp(url, "https://", 8) == 0;
}

/* A method is an HTTP token: visible characters, no separators. */
static bool token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
            return false;
    return true;
}

static bool has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);

    for (; headers != NULL && *headers != NULL; headers++)
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
            return true;
    return false;
}

static int add_header(http_xfer *x, const char *line)
{
    struct curl_slist *l = curl_slist_append(x->req_headers, line);

    if (l == NULL)
        return -1;
    x->req_headers = l;
    return 0;
}

/* Whole milliseconds, rounded up (curl's 0 would mean "no limit"), at
 * least 1.  No libm: the library links only libc, pthreads and curl. */
static long ms_of(double seconds)
{
    double ms = seconds * 1000.0;
    long whole;

    if (!(ms >= 1))
        return 1;
    if (ms > (double)(LONG_MAX / 2))
        return LONG_MAX / 2;
    whole = (long)ms;
    return (double)whole < ms ? whole + 1 : whole;
}

int cc__xfer_setup(http_xfer *x, CURL *e, const char *url,
                   const cc_http_opts *opts)
{
    static const cc_http_opts defaults;
    const cc_http_opts *o = opts != NULL ? opts : &defaults;
    double timeout;

    memset(x, 0, offsetof(http_xfer, errbuf)); /* not the 256-byte buffer */
    x->errbuf[0] = '\0';
    x->done = false;
    x->result = CURLE_OK;
    x->easy = e;
    x->start = cc__now_ns();
    x->url = url != NULL ? url : "(null)";
    x->method = o->method != NULL ? o->method : o->body != NULL ? "POST" : "GET";
    x->max_body = o->max_body;
    if (url == NULL)
        return cc__err(EINVAL, "cc_http_request: url is NULL");
    if (!http_url(url))
        return cc__xfer_fail(x, EINVAL, "not an absolute http:// or "
                                        "https:// URL"), -1;
    if (!token(x->method))
        return cc__xfer_fail(x, EINVAL, "the method is not an HTTP token"), -1;
    if (o->body == NULL && o->body_len > 0)
        return cc__xfer_fail(x, EINVAL, "body is NULL with body_len > 0"), -1;
    if (isnan(o->timeout) || isnan(o->connect_timeout))
        return cc__xfer_fail(x, EINVAL, "timeout is NaN"), -1;
    if (o->max_redirects < -1)
        return cc__xfer_fail(x, EINVAL, "max_redirects must be >= -1"), -1;
    timeout = o->timeout == 0 ? 30.0 : o->timeout;
    if (cc__deadline_for(timeout, "cc_http_request", &x->deadline) != 0)
        return -1;
    if (x->deadline != CC__NS_FOREVER) {
        int64_t left = x->deadline - x->start;

        if (left <= 0)
            return cc__xfer_fail(x, ETIMEDOUT, "timed out (the deadline had "
                                               "passed)"), -1;
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms_of((double)left / 1e9));
    }
    if (o->connect_timeout > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms_of(o->connect_timeout));

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (o->max_redirects >= 0) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS,
                         (long)(o->max_redirects == 0 ? 10 : o->max_redirects));
    }
    if (o->user_agent != NULL) {
        curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
    } else {
        curl_easy_setopt(e, CURLOPT_USERAGENT, agent);
    }
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);

    if (o->body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
        if (strcmp(x->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    } else if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(x->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(x->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    }

    for (const char *const *h = o->headers; h != NULL && *h != NULL; h++)
        if (add_header(x, *h) != 0)
            goto oom;
    if (o->body != NULL || strcmp(x->method, "POST") == 0) {
        if (!has_header(o->headers, "Content-Type")) {
            char line[256];

            snprintf(line, sizeof(line), "Content-Type: %s",
                     o->content_type != NULL ? o->content_type
                                             : "application/octet-stream");
            if (add_header(x, line) != 0)
                goto oom;
        }
        /* No "Expect: 100-continue" wait before larger bodies: the
         * servers this talks to answer without it. */
        if (!has_header(o->headers, "Expect") && add_header(x, "Expect:") != 0)
            goto oom;
    }
    if (x->req_headers != NULL)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    return 0;
oom:
    return cc__xfer_fail(x, ENOMEM, "out of memory"), -1;
}

void cc__xfer_release(http_xfer *x)
{
    cc_blob_free(x->body);
    x->body = NULL;
    free(x->h.buf);
    free(x->h.off);
    x->h.buf = NULL;
    x->h.off = NULL;
    curl_slist_free_all(x->req_headers);
    x->req_headers = NULL;
}

/* ------------------------------------------------------------ outcome */

/* The errno for a curl failure (see the top of concur/http.h). */
static int errno_of(const http_xfer *x, CURL *e, CURLcode rc)
{
    long os = 0;

    switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return EINVAL;
    case CURLE_UNSUPPORTED_PROTOCOL: /* the URL was checked: a reply in
                                        HTTP/0.9, or a redirect elsewhere */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        return EPROTO;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return ENOENT;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os);
        return os == ENETUNREACH || os == EHOSTUNREACH ? (int)os
                                                         : ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return ETIMEDOUT;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return ECONNRESET;
    case CURLE_FILESIZE_EXCEEDED:
        return EMSGSIZE;
    case CURLE_WRITE_ERROR:
        return x->too_big ? EMSGSIZE : x->oom ? ENOMEM : EIO;
    case CURLE_TOO_MANY_REDIRECTS:
        return ELOOP;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return EACCES;
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    default:
        return x->oom ? ENOMEM : EIO;
    }
}

cc_http_response *cc__xfer_finish(http_xfer *x, CURL *e, CURLcode rc)
{
    cc_http_response *r;
    long status = 0;
    char *url = NULL;

    if (rc != CURLE_OK) {
        int code = errno_of(x, e, rc);

        if (code == EMSGSIZE && x->too_big) {
            char what[96];

            snprintf(what, sizeof(what), "the body is larger than max_body "
                                         "(%zu bytes)", x->max_body);
            return cc__xfer_fail(x, code, what);
        }
        return cc__xfer_fail(x, code, x->errbuf[0] != '\0'
                                          ? x->errbuf
                                          : curl_easy_strerror(rc));
    }
    r = malloc(sizeof(*r));
    if (r == NULL)
        return cc__xfer_fail(x, ENOMEM, "out of memory");
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
    r->url = strdup(url != NULL ? url : x->url);
    if (x->body == NULL) {
        x->body = cc_blob_new(0);
    } else if (x->body_len != cc_blob_len(x->body)) {
        char *b = cc_blob_resize(x->body, x->body_len); /* shrinks */

        if (b == NULL) {
            cc_blob_free(x->body);
            x->body = NULL;
        } else
            x->body = b;
    }
    if (r->url == NULL || x->body == NULL) {
        free(r->url);
        free(r);
        return cc__xfer_fail(x, ENOMEM, "out of memory");
    }
    r->magic = CC__HTTP_MAGIC;
    r->status = (int)status;
    r->body = x->body;
    r->h = x->h;
    r->elapsed = (double)(cc__now_ns() - x->start) / 1e9;
    /* curl reads Retry-After for us, delta-seconds or an HTTP date (0 when
     * absent or unreadable, as for "0": only a positive delay counts). */
    {
        curl_off_t after = 0;

        r->retry_after = curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &after) ==
                                 CURLE_OK && after > 0
                             ? (double)after
                             : -1;
    }
    x->body = NULL;
    memset(&x->h, 0, sizeof(x->h));
    return r;
}
