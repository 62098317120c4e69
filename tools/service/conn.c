/*
 * conn.c - one connection of the local service: a task of the service's
 * loop (cc_serve, TASKS mode) that reads bytes as they come, feeds them to
 * the request parser (svc_parse.h: llhttp, or http-parser where llhttp
 * is missing), and answers each complete request in order -- so
 * pipelined requests are answered in the order they came, and keep-alive
 * follows HTTP/1.1 (persistent unless "Connection: close") and HTTP/1.0
 * (closed unless "Connection: keep-alive").
 *
 * Answers are queued in `out` while one read's worth of requests is
 * parsed, then handed to cc_stream_write (which never waits) in one piece;
 * the next read moves what the socket did not take, and a drain bounds the
 * backlog when a client pipelines without reading.  A body past 64 KiB (a
 * large echo) is written from where it lies, 64 KiB at a time, each piece
 * let go before the next, so it is never copied whole.
 *
 * Memory: a POST's body buffer is reserved from the service's max_memory
 * (budget.c) before it grows -- whole at the head when a Content-Length
 * announces it, doubling as a chunked body comes -- and freed after its
 * request when larger than 4 KiB; a body that does not fit gets "503
 * Service Unavailable" with Retry-After.  A connection past
 * max_connections gets the same 503 at once (shed), and is closed.
 *
 * Limits: the request line and headers may hold max_header_bytes (counted
 * in the url/field/value callbacks; http-parser's own 80 KiB cap maps to
 * the same 431), a body max_body_bytes (413).  Malformed input: 400;
 * what a parser may let pass but a server behind a proxy must refuse
 * (head.c: obs-fold, a space in a header name, no version, other
 * versions, other transfer codings): 400, 505 or 501.  A request must
 * arrive whole within read_timeout of the previous answer (or of the
 * connection): an idle connection is then closed, a partial request gets
 * 408.  After an error answer the connection is closed "lingering":
 * the sending side is shut, then what the client still sends is read and
 * dropped for a moment, so that the close does not reset the connection
 * and destroy the answer before the client reads it.
 *
 * Everything here runs on the connection's task; the `conn` record lives
 * on its stack.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_internal.h"
#include "svc_parse.h"

#define READ_SIZE (32 * 1024)    /* >= half the stream's buffer: recv goes
                                    straight into ours, no copy */
#define OUT_FLUSH (64 * 1024)    /* hand queued answers over past this;
                                    a body past it goes out in pieces of
                                    this size without a copy in `out` */
#define OUT_KEEP (64 * 1024)     /* `out` larger than this is freed once
                                    it has been handed over */
#define BODY_KEEP (4 * 1024)     /* a body buffer larger than this is
                                    freed after its request */
#define BODY_MIN 1024            /* a chunked body's first buffer */
#define LINGER_TIME 2.0          /* seconds a lingering close reads */
#define LINGER_BYTES (1 << 20)   /* ... and at most this much */

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf;

/* One connection's state (on its task's stack). */
typedef struct conn {
    svc *s;
    cc_stream *st;
    svc_parser p;                /* the request parser (svc_parse.h) */
    svc_parse_head req;          /* the current request's head */
    buf url;                     /* the request target as it came */
    buf body;                    /* a POST's body; its capacity is reserved
                                    from the service's max_memory */
    buf out;                     /* answers not yet handed to the stream */
    buf parts;                   /* "path\0query\0" of the current request */
    svc_head head;               /* the head's strict rules (head.c) */
    size_t header_bytes;         /* url + header fields and values so far */
    size_t body_bytes;           /* body bytes of this request so far */
    bool in_message;             /* between message begin and complete */
    int fail_status;             /* 400/413/431/501/503/505 decided in a
                                    callback */
    bool closing;                /* answered with Connection: close */
    bool dead;                   /* the stream failed or we were cancelled */
    double t0;                   /* when the request began (for the log) */
    double deadline;             /* for the next request to arrive whole */
    size_t freed;                /* bytes of buffers freed before the end
                                    (for svc_conn_end) */
} conn;

/* Append n bytes; false when out of memory. */
static bool buf_add(buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        char *q;

        while (cap - b->len < n)
            cap *= 2;
        q = realloc(b->p, cap);
        if (q == NULL)
            return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

/* ----------------------------------------------------------- answering */

/* "Date: ..." for the current second, cached per second (one formatting
 * a second; the loop's thread only). */
static const char *http_date(void)
{
    static _Thread_local time_t at;
    static _Thread_local char text[64];
    time_t now = time(NULL);

    if (now != at) {
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        at = now;
    }
    return text;
}

/* Hand the queued answers to the stream; when the client lets them pile up
 * (pipelining without reading), wait until they go.  false: the stream is
 * broken (the connection is to be dropped). */
static bool flush_out(conn *c)
{
    if (c->out.len == 0)
        return true;
    if (cc_stream_write(c->st, c->out.p, c->out.len) != 0) {
        c->out.len = 0;
        c->dead = true;
        return false;
    }
    c->out.len = 0;
    if (c->out.cap > OUT_KEEP) { /* a burst of answers is over */
        c->freed += c->out.cap;
        free(c->out.p);
        memset(&c->out, 0, sizeof(c->out));
    }
    if (cc_stream_pending(c->st) > OUT_FLUSH &&
        cc_stream_drain(c->st, c->s->o.read_timeout) != 0) {
        c->dead = true;
        return false;
    }
    return true;
}

/* Write a large body straight from where it is, a piece at a time,
 * letting each go before the next: a 1 MiB echo costs no 1 MiB copy in
 * `out` or in the stream's buffer.  The answers queued before it go
 * first.  false: the stream broke (c->dead). */
static bool write_big(conn *c, const char *p, size_t len)
{
    if (!flush_out(c))
        return false;
    for (size_t off = 0; off < len; off += OUT_FLUSH) {
        size_t n = len - off < OUT_FLUSH ? len - off : OUT_FLUSH;

        if (cc_stream_write(c->st, p + off, n) != 0 ||
            (cc_stream_pending(c->st) > OUT_FLUSH &&
             cc_stream_drain(c->st, c->s->o.read_timeout) != 0)) {
            c->dead = true;
            return false;
        }
    }
    return true;
}

/* Queue one answer: the status line, headers and (unless HEAD) the body;
 * a body larger than OUT_FLUSH is written at once (write_big). */
static void answer(conn *c, const svc_response *r, bool head, bool keep,
                   const char *method, const char *target)
{
    bool big = !head && r->len > OUT_FLUSH;
    char h[512];
    int n;

    n = snprintf(h, sizeof(h),
                 "HTTP/1.1 %d %s\r\nServer: concur\r\nDate: %s\r\n"
                 "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                 r->status, svc_reason(r->status), http_date(), r->type,
                 r->len, r->retry_after ? "Retry-After: 1\r\n" : "",
                 !keep ? "Connection: close\r\n"
                 : c->req.major == 1 && c->req.minor == 0
                     ? "Connection: keep-alive\r\n"
                     : "");
    if (!buf_add(&c->out, h, (size_t)n) ||
        (!head && !big && !buf_add(&c->out, r->body, r->len))) {
        c->dead = true;
        return;
    }
    if (big && !write_big(c, r->body, r->len))
        return;
    __atomic_fetch_add(&c->s->requests, 1, __ATOMIC_RELAXED);
    if (c->s->o.log != NULL)
        fprintf(c->s->o.log, "%s %s %d %zu %.1f\n", method, target,
                r->status, r->len, (cc_now() - c->t0) * 1e3);
    if (c->out.len >= OUT_FLUSH)
        flush_out(c);
}

/* An error's answer (400, 408, 413, 431, 501, 505; 503 with Retry-After:
 * load shed), always closing. */
static void answer_error(conn *c, int status)
{
    svc_response r = {0};
    char body[64];

    snprintf(body, sizeof(body), "%d %s\n", status, svc_reason(status));
    r.status = status;
    r.retry_after = status == 503;
    r.type = "text/plain; charset=utf-8";
    r.body = body;
    r.len = strlen(body);
    if (c->t0 == 0)
        c->t0 = cc_now();
    answer(c, &r, false, false, "-", "-");
    c->closing = true;
}

/* Split the target into path and query (c->parts).  false: malformed. */
static bool split_target(conn *c, const char **path, const char **query)
{
    const char *t = c->url.p;
    size_t poff;
    size_t plen;
    size_t qoff;
    size_t qlen;

    if (!svc_split_target(t, c->url.len, &poff, &plen, &qoff, &qlen))
        return false;
    c->parts.len = 0;
    if (plen == 0) {
        if (!buf_add(&c->parts, "/", 1))
            return false;
    } else if (!buf_add(&c->parts, t + poff, plen)) {
        return false;
    }
    if (!buf_add(&c->parts, "", 1) ||
        !buf_add(&c->parts, t + qoff, qlen) ||
        !buf_add(&c->parts, "", 1))
        return false;
    *path = c->parts.p;
    *query = c->parts.p + strlen(c->parts.p) + 1;
    return true;
}

/* Answer the request just parsed: rate limit, latency, injected errors,
 * then the route. */
static void respond(conn *c, bool keep)
{
    svc *s = c->s;
    svc_request rq = {0};
    svc_response r = {0};
    double delay;
    const char *target;

    if (!buf_add(&c->url, "", 1)) { /* NUL-terminate for the log */
        c->dead = true;
        return;
    }
    c->url.len--;
    target = c->url.p;
    rq.method = c->req.method_name;
    rq.method_id = c->req.method;
    rq.body = c->body.p != NULL ? c->body.p : "";
    rq.body_len = c->body.len;
    if (!split_target(c, &rq.path, &rq.query)) {
        answer_error(c, 400);
        return;
    }
    if (!svc_admit(s)) {
        r.status = 429;
        r.type = "text/plain; charset=utf-8";
        r.body = "429 Too Many Requests: slow down\n";
        r.len = strlen(r.body);
        r.retry_after = true;
        answer(c, &r, rq.method_id == SVC_METHOD_HEAD, keep, rq.method, target);
        return;
    }
    delay = svc_latency(s);
    if (delay > 0) {
        /* Others' answers must not wait for this one's delay. */
        if (!flush_out(c))
            return;
        if (cc_sleep(delay) != 0) { /* cancelled: the service stops */
            c->dead = true;
            return;
        }
    }
    if (s->o.error_rate > 0 && svc_random(s) < s->o.error_rate) {
        r.status = 500;
        r.type = "text/plain; charset=utf-8";
        r.body = "500 Internal Server Error (injected)\n";
        r.len = strlen(r.body);
    } else {
        svc_route(s, &rq, &r);
    }
    answer(c, &r, rq.method_id == SVC_METHOD_HEAD, keep, rq.method, target);
    free(r.owned);
}

/* ------------------------------------------------------ body memory */

/* Grow the body buffer to `cap` bytes, the growth reserved from the
 * service's max_memory first.  false: it does not fit in the budget, or
 * no memory (nothing changed either way; the caller answers 503). */
static bool body_grow(conn *c, size_t cap)
{
    size_t more;
    char *q;

    if (cap <= c->body.cap)
        return true;
    more = cap - c->body.cap;
    if (!svc_mem_take(c->s, more))
        return false;
    q = realloc(c->body.p, cap);
    if (q == NULL) {
        svc_mem_give(c->s, more);
        return false;
    }
    c->body.p = q;
    c->body.cap = cap;
    return true;
}

/* Room for n more body bytes: the buffer doubles, but never past the
 * largest body allowed.  false as body_grow. */
static bool body_room(conn *c, size_t n)
{
    size_t need = c->body.len + n;
    size_t cap = c->body.cap > 0 ? c->body.cap : BODY_MIN;

    while (cap < need)
        cap *= 2;
    if (cap > c->s->o.max_body_bytes && need <= c->s->o.max_body_bytes)
        cap = c->s->o.max_body_bytes; /* on_body refuses more (413) */
    return body_grow(c, cap);
}

/* Free the body buffer and give its reservation back: after each request
 * when it is large (all = false), and at the end of the connection. */
static void body_release(conn *c, bool all)
{
    if (c->body.cap == 0 || (!all && c->body.cap <= BODY_KEEP))
        return;
    free(c->body.p);
    svc_mem_give(c->s, c->body.cap);
    memset(&c->body, 0, sizeof(c->body));
}

/* -------------------------------------------------- parser callbacks */

static int on_begin(void *arg)
{
    conn *c = arg;

    c->url.len = 0;
    c->body.len = 0;
    c->header_bytes = 0;
    c->body_bytes = 0;
    c->in_message = true;
    c->t0 = cc_now();
    return 0;
}

/* Count request-line and header bytes against the limit. */
static int count_header(conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->s->o.max_header_bytes) {
        c->fail_status = 431;
        return -1;
    }
    return 0;
}

static int on_url(void *arg, const char *at, size_t len)
{
    conn *c = arg;

    if (count_header(c, len) != 0)
        return -1;
    if (!buf_add(&c->url, at, len)) {
        c->dead = true;
        return -1;
    }
    return 0;
}

/* A piece of a header name: counted, and a token or a 400. */
static int on_header_field(void *arg, const char *at, size_t len)
{
    conn *c = arg;

    if (count_header(c, len) != 0)
        return -1;
    c->fail_status = svc_head_field(&c->head, at, len);
    return c->fail_status != 0 ? -1 : 0;
}

/* A piece of a header value: counted, and kept when it is
 * Transfer-Encoding's. */
static int on_header_value(void *arg, const char *at, size_t len)
{
    conn *c = arg;

    if (count_header(c, len) != 0)
        return -1;
    svc_head_value(&c->head, at, len);
    return 0;
}

/* The head is whole: the version and framing rules (505, 501, 400), then
 * the announced body's size (413). */
static int on_headers_complete(void *arg, const svc_parse_head *h)
{
    conn *c = arg;

    c->req = *h;
    c->fail_status = svc_head_check(&c->head, h->major, h->minor,
                                    h->has_length, h->chunked);
    if (c->fail_status != 0)
        return -1;
    if (h->has_length && h->length > c->s->o.max_body_bytes) {
        c->fail_status = 413;
        return -1;
    }
    /* An announced body is reserved whole, before it is read: refused
     * now, the client need not send it. */
    if (h->method == SVC_METHOD_POST && h->has_length &&
        !body_grow(c, (size_t)h->length)) {
        c->fail_status = 503;
        return -1;
    }
    return 0;
}

static int on_body(void *arg, const char *at, size_t len)
{
    conn *c = arg;

    c->body_bytes += len;
    if (c->body_bytes > c->s->o.max_body_bytes) { /* chunked bodies */
        c->fail_status = 413;
        return -1;
    }
    if (c->req.method != SVC_METHOD_POST)
        return 0;
    if (!body_room(c, len)) { /* a chunked body past the budget */
        c->fail_status = 503;
        return -1;
    }
    memcpy(c->body.p + c->body.len, at, len);
    c->body.len += len;
    return 0;
}

/* A whole request: answer it.  Returning nonzero stops the parser: after
 * a closing answer, whatever follows is not read.  Otherwise the parser
 * pauses, so that feed() learns where the next request starts. */
static int on_complete(void *arg, bool keep)
{
    conn *c = arg;

    c->in_message = false;
    respond(c, keep);
    body_release(c, false);
    c->deadline = cc_deadline(c->s->o.read_timeout);
    if (!keep)
        c->closing = true;
    return c->closing || c->dead ? -1 : 0;
}

static const svc_parse_ops parse_ops = {
    .begin = on_begin,
    .url = on_url,
    .field = on_header_field,
    .value = on_header_value,
    .head = on_headers_complete,
    .body = on_body,
    .done = on_complete,
};

/* ------------------------------------------------------- the task */

/* Close after a closing answer without resetting the connection: shut our
 * sending side, then read and drop what the client still sends until it
 * closes (bounded in time and bytes), through `scratch` (size bytes). */
static void linger(conn *c, char *scratch, size_t size)
{
    double end = cc_deadline(LINGER_TIME);
    size_t dropped = 0;

    if (cc_stream_write_eof(c->st) != 0)
        return;
    while (dropped < LINGER_BYTES) {
        ssize_t n = cc_stream_read(c->st, scratch, size, cc_remaining(end));

        if (n <= 0)
            return;
        dropped += (size_t)n;
    }
}

/* The connection's place in svc.conns, for svc_stop (loop thread). */
static void link_in(svc *s, svc_link *l)
{
    l->prev = NULL;
    l->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = l;
    s->conns = l;
}

static void link_out(svc *s, svc_link *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        s->conns = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
}

/*
 * Parse one read's bytes p[0..n), a request at a time: each request's head
 * is scanned (svc_head_scan) before the parser sees it, and the parser
 * pauses after each request, so the next one's head is scanned from its
 * first byte.  Returns 0 when every byte was taken (read on); the status
 * of the error answer to give (400, 413, 431, 501, 505); or -1 when the
 * connection ends otherwise: a closing answer is queued (c->closing) or
 * the stream broke (c->dead).
 */
static int feed(conn *c, const char *p, size_t n)
{
    while (n > 0) {
        int status = svc_head_scan(&c->head, p, n);
        size_t done;

        if (status != 0)
            return status;
        status = svc_parse_execute(&c->p, p, n, &done);
        if (c->dead || c->closing)
            return -1;
        if (status != SVC_PARSE_NEXT) /* all taken, or what stopped it */
            return status == SVC_PARSE_MORE ? 0
                   : c->fail_status != 0    ? c->fail_status
                                            : status;
        svc_head_reset(&c->head); /* a request ended at p + done */
        p += done;
        n -= done;
    }
    return 0;
}

/* Read, parse and answer requests until the client leaves, a protocol
 * error, a broken stream or the stop; `in` is the read buffer (READ_SIZE
 * bytes), `link` the connection's entry on svc.conns.  Never fails: what
 * ends the connection is answered (408, 400...) or just closes it. */
static void serve_requests(conn *c, svc_link *link, char *in)
{
    int status = 0;

    for (;;) {
        ssize_t n;
        int rc;

        /* Stopping: finish the request in progress, start none. */
        if (c->s->stopping && !c->in_message)
            break;
        link->idle = !c->in_message && cc_stream_pending(c->st) == 0;
        n = cc_stream_read(c->st, in, READ_SIZE, cc_remaining(c->deadline));
        link->idle = false;
        if (n < 0) {
            /* past the deadline the read is made with timeout 0, which
             * fails EAGAIN rather than ETIMEDOUT: both mean time is up
             * (a task that started late, under load, got EAGAIN and
             * closed a half-sent request without its 408) */
            if ((errno == ETIMEDOUT || errno == EAGAIN) && c->in_message)
                status = 408; /* idle ones just close */
            break;
        }
        if (n == 0)
            break; /* the client is done (mid-request: nothing to say) */
        rc = feed(c, in, (size_t)n);
        if (rc > 0) {
            status = rc;
            break;
        }
        if (rc < 0) {
            if (!c->dead && flush_out(c))
                linger(c, in, READ_SIZE);
            break;
        }
        if (!flush_out(c))
            break;
    }
    if (status != 0 && !c->dead) {
        answer_error(c, status);
        if (flush_out(c))
            linger(c, in, READ_SIZE);
    }
}

/* A connection past max_connections: a 503 with Retry-After at once,
 * without reading the request, then a lingering close through a small
 * buffer of its own (nothing is allocated for it but the answer). */
static void shed(conn *c)
{
    char scratch[2048];

    answer_error(c, 503);
    if (!c->dead && flush_out(c))
        linger(c, scratch, sizeof(scratch));
}

/* Free what the record owns, its body memory given back; returns how
 * many bytes of buffers it freed over its life (for svc_conn_end). */
static size_t conn_free(conn *c)
{
    size_t freed = c->freed + c->url.cap + c->out.cap + c->parts.cap;

    body_release(c, true);
    free(c->url.p);
    free(c->out.p);
    free(c->parts.p);
    return freed;
}

/*
 * svc_connection - the handler cc_serve runs as a task per connection.
 * Always returns 0: the server then closes the stream.  Past
 * max_connections the connection is shed with a 503; one whose read
 * buffer cannot be allocated is dropped unanswered.  The conn record and
 * the svc_link live on this task's stack: the link is on svc.conns only
 * between link_in and link_out, and every way out passes link_out before
 * this frame goes (a link left behind once corrupted the list, and
 * svc_stop's stop_idle then walked it forever).  Everything the record
 * allocated is freed here, its body memory given back to the budget.
 */
int svc_connection(cc_stream *st, void *arg)
{
    conn c;
    svc_link link = {0};
    size_t freed = 0;
    char *in;

    memset(&c, 0, sizeof(c));
    c.s = arg;
    c.st = st;
    svc_parse_init(&c.p, &parse_ops, &c);
    svc_head_reset(&c.head);
    c.deadline = cc_deadline(c.s->o.read_timeout);
    if (!svc_conn_begin(c.s)) {
        shed(&c);
        conn_free(&c);
        return 0;
    }
    in = malloc(READ_SIZE);
    if (in == NULL)
        goto end_conn; /* nothing linked yet */
    link.task = cc_current_task();
    link_in(c.s, &link);
    serve_requests(&c, &link, in);
    link_out(c.s, &link);
    free(in);
    freed = READ_SIZE;
end_conn:
    freed += conn_free(&c);
    svc_conn_end(c.s, freed);
    return 0;
}
