/*
 * svc_internal.h - what the files of the local service share (tools/service):
 * the service record, the knobs' state, the request and response records,
 * and the content tables.  Never installed; only tools/service/ includes it.
 *
 * Threads: the record is made by svc_start in the caller's thread, then
 * everything but `requests` (atomic) and the start/stop handshake belongs
 * to the service's own thread, whose one event loop runs the acceptor and
 * every connection task -- so the knobs' state (the random generator, the
 * rate-limit bucket) needs no lock.
 */
#ifndef CONCUR_TOOLS_SVC_INTERNAL_H
#define CONCUR_TOOLS_SVC_INTERNAL_H

#include <stdint.h>

#include "concur.h"
#include "service.h"

/* SVC_ASSERT - an invariant of the service's own state (never a check of
 * input, which gets an answer): in builds with CONCUR_ASSERTS (the tests'
 * builds, as the library's CC__ASSERT), a broken one prints its place
 * and aborts; elsewhere it compiles to nothing. */
#ifdef CONCUR_ASSERTS
#define SVC_ASSERT(cond)                                                   \
    ((cond) ? (void)0 : svc_assert_failed(#cond, __FILE__, __LINE__))
#else
#define SVC_ASSERT(cond) ((void)0)
#endif
_Noreturn void svc_assert_failed(const char *cond, const char *file,
                                 int line);

/* A running connection as svc_stop sees it: conn.c keeps one on each
 * connection task's stack, linked into svc.conns while the task runs
 * (loop thread only). */
typedef struct svc_link {
    struct svc_link *prev;
    struct svc_link *next;
    cc_future *task;             /* the connection's task */
    bool idle;                   /* parked waiting for a next request, with
                                    nothing half-read and nothing unsent */
} svc_link;

/* The service: one per svc_start. */
struct svc {
    svc_opts o;                  /* the knobs, defaults filled in */
    char host[64];               /* where it listens */
    char url[96];                /* "http://127.0.0.1:PORT" */
    int port;                    /* bound port (set before start returns) */
    cc_thread *thread;           /* runs the loop (svc_thread) */
    cc_event *ready;             /* set once listening (or failed) */
    int start_err;               /* errno of a failed start, 0 ok */
    char start_msg[256];         /* its message */
    cc_server *srv;              /* the server; loop thread only, and
                                    svc_stop once ready is set */
    cc_loop *loop;               /* the service's loop (set before ready) */
    bool stopping;               /* svc_stop began: no new request is
                                    started; loop thread only */
    svc_link *conns;             /* running connections; loop thread only */
    int served;                  /* connections being served (not shed);
                                    written by the loop thread only,
                                    atomically: svc_connections reads it */
    size_t mem_used;             /* body bytes reserved (budget.c); as
                                    `served` */
    size_t freed;                /* buffer bytes freed since the last
                                    malloc_trim; loop thread only */
    unsigned long requests;      /* answered so far; atomic */
    uint64_t rng;                /* splitmix64 state; loop thread only */
    double tokens;               /* rate-limit bucket; loop thread only */
    double tokens_at;            /* when it was last filled */
    char **rates_json;           /* a body per currency (svc_rates_bodies) */
    char *jython;                /* the /jython page, built once at start
                                    (~20 KiB, the same for every request) */
    size_t jython_len;
};

/* A parsed request, as routes see it. */
typedef struct svc_request {
    const char *method;          /* "GET", "HEAD", "POST"... */
    int method_id;               /* SVC_METHOD_* (svc_parse.h) */
    const char *path;            /* NUL-terminated, without the query */
    const char *query;           /* after '?', "" when none */
    const char *body;            /* POST body (may hold NULs), or "" */
    size_t body_len;
} svc_request;

/* What a route answers: status, content type and body.  `body` points to
 * static text, into a table of the service, or to `owned` (freed by the
 * caller with free()). */
typedef struct svc_response {
    int status;
    const char *type;            /* Content-Type */
    const char *body;
    size_t len;
    char *owned;                 /* heap body to free, or NULL */
    bool retry_after;            /* add "Retry-After: 1" (429) */
} svc_response;

/* routes.c: answer one request (never fails: errors are responses). */
void svc_route(svc *s, const svc_request *rq, svc_response *out);

/* The reason phrase of a status ("Not Found"). */
const char *svc_reason(int status);

/* rates.c: the JSON bodies of /rates, one per currency, built at start
 * (NULL with errno ENOMEM); free them with svc_rates_free.  svc_rates_find:
 * the body for a base (3 letters, any case), NULL when unknown. */
char **svc_rates_bodies(void);
void svc_rates_free(char **bodies);
const char *svc_rates_find(char *const *bodies, const char *base, size_t len);

/* content.c: the pages.  Each returns a heap body (free()) and its length
 * in *len, or NULL: not found (errno ENOENT) or no memory (ENOMEM). */
char *svc_pokedex_page(long n, size_t *len);
char *svc_sponsor_page(const char *path, int *status, size_t *len);
char *svc_jython_page(size_t *len);
char *svc_dice_page(int roll, size_t *len);
char *svc_index_page(size_t *len);

/* The knobs (server.c), loop thread only: a uniform draw in [0, 1), the
 * latency to apply to one request, and whether the rate limit lets a
 * request through now. */
double svc_random(svc *s);
double svc_latency(svc *s);
bool svc_admit(svc *s);

/* head.c: the request head's rules that the parsers leave to us or read
 * differently (a header name that is not a token or empty, obs-fold, a
 * bare LF, no version or a malformed one: 400; a version other than
 * 1.0/1.1: 505; Transfer-Encoding with Content-Length: 400, other than
 * exactly "chunked": 501).  One per connection, in its conn; reset at
 * the start of each request. */
typedef struct svc_head {
    int line;                    /* where the byte scan is (head.c) */
    int words;                   /* words of the request line so far */
    bool in_word;                /* the scan is inside one */
    bool cr;                     /* the last byte scanned was a CR */
    char version[8];             /* the third word ("HTTP/1.1", its
                                    start) */
    size_t version_len;          /* its whole length */
    bool field_open;             /* the last callback was a header name */
    char field[24];              /* that name in lower case (its start) */
    size_t field_len;            /* its whole length */
    bool te_field;               /* the current header is
                                    Transfer-Encoding */
    int te_count;                /* Transfer-Encoding headers so far */
    char te[16];                 /* their values, lower case, joined by
                                    ',' (the start) */
    size_t te_len;               /* their length, at most sizeof(te) + 1 */
} svc_head;

/* svc_head_reset: ready for the next request.  svc_head_scan: check the
 * line structure and the version of the raw bytes p[0..n) of a request's
 * head, called on each piece as it comes, before the parser sees it
 * (bytes past the head's end are ignored); 0, or 400 or 505.
 * svc_head_field / svc_head_value: from the parser's on_header_field /
 * on_header_value (pieces of one name
 * or value as they come); svc_head_field returns 0, or 400 for a name
 * that is not a token.  svc_head_check: from on_headers_complete, with
 * the parser's version and whether it saw a Content-Length and took the
 * body as chunked; 0, or the status to refuse the request with. */
void svc_head_reset(svc_head *h);
int svc_head_scan(svc_head *h, const char *p, size_t n);
int svc_head_field(svc_head *h, const char *at, size_t len);
void svc_head_value(svc_head *h, const char *at, size_t len);
int svc_head_check(const svc_head *h, int major, int minor,
                   bool content_length, bool chunked);

/* budget.c, loop thread only.  svc_conn_begin: count a new connection
 * in, or false when max_connections are served already (the caller sheds
 * it).  svc_conn_end: count it out, with the bytes of the buffers it
 * freed; gives freed heap memory back to the system when the service goes
 * idle (or after a lot was freed).  svc_mem_take: reserve n bytes of body
 * memory from max_memory, or false when they do not fit (nothing taken).
 * svc_mem_give: give n reserved bytes back (their buffer was freed). */
bool svc_conn_begin(svc *s);
void svc_conn_end(svc *s, size_t freed);
bool svc_mem_take(svc *s, size_t n);
void svc_mem_give(svc *s, size_t n);

/* conn.c: the connection handler given to cc_serve (arg: the svc). */
int svc_connection(cc_stream *st, void *arg);

#endif
