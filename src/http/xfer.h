/*
 * xfer.h - one HTTP exchange on a libcurl easy handle, shared by the
 * thread path (session.c) and the loop path (multi.c); private to the
 * http layer.
 *
 * A transfer record lives on the requesting thread's or task's stack for
 * the length of the request: xfer_setup fills an easy handle from the
 * options and points curl's callbacks at the record, curl fills the body
 * and the headers in, and xfer_finish turns the outcome into a response
 * (or NULL with errno and "METHOD url: curl's words").
 */
#ifndef CC_HTTP_XFER_H
#define CC_HTTP_XFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "concur/http.h"
#include "internal/waiter.h"

#define CC__HTTP_MAGIC 0x48545450u /* "HTTP" */

/* The headers of one response: "name\0value\0" pairs packed in buf, with
 * the offsets of each name and value (offsets: buf may move as it grows). */
typedef struct http_headers {
    char *buf;
    size_t len;
    size_t cap;
    size_t *off;            /* 2 per header: name, value */
    size_t count;
    size_t off_cap;
} http_headers;

struct cc_http_response {
    uint32_t magic;         /* CC__HTTP_MAGIC while alive */
    int status;
    char *url;              /* the URL that answered last (malloc) */
    char *body;             /* a blob, or NULL once taken */
    http_headers h;
    double elapsed;
    double retry_after;     /* seconds Retry-After asks for, -1: none */
};

typedef struct http_xfer {
    CURL *easy;
    const char *url;
    const char *method;     /* for messages: "GET", "POST", the custom one */
    size_t max_body;        /* 0: none */
    bool too_big;           /* the write callback refused at max_body */
    bool oom;               /* out of memory in a callback */
    char *body;             /* blob being filled (capacity = its length) */
    size_t body_len;        /* bytes used */
    http_headers h;
    struct curl_slist *req_headers; /* freed by xfer_release */
    int64_t start;          /* cc__now_ns at the start */
    int64_t deadline;       /* effective deadline (scopes included) */
    char errbuf[CURL_ERROR_SIZE];
    /* the loop path (multi.c) */
    cc__waiter w;           /* claimed by the loop when the transfer ends;
                               its link puts the transfer on the multi's
                               list of running ones */
    bool done;              /* curl reported the end (result below) */
    bool parked;            /* its task waits in cc__waiter_park */
    bool aborted;           /* the loop could not drive it (out of memory
                               for curl's timer or a socket watch) */
    CURLcode result;
} http_xfer;

/* curl_global_init, once per process. */
void cc__http_global_init(void);

/*
 * Check the arguments, fill x and set up easy handle e (fresh or reset)
 * for url with opts (NULL: defaults).  0, or -1 with errno and a message
 * (EINVAL, ETIMEDOUT when the deadline has passed already, ENOMEM); x
 * needs xfer_release either way.
 */
int cc__xfer_setup(http_xfer *x, CURL *e, const char *url,
                   const cc_http_opts *opts);

/* The outcome of a finished transfer as a response, or NULL with errno;
 * x's body and headers move into the response. */
cc_http_response *cc__xfer_finish(http_xfer *x, CURL *e, CURLcode rc);

/* Record "METHOD url: what" with code for x; returns NULL. */
void *cc__xfer_fail(const http_xfer *x, int code, const char *what);

/* Free what x still owns. */
void cc__xfer_release(http_xfer *x);

/* The loop path: run x on the calling task's loop (multi.c). */
cc_http_response *cc__http_loop_request(const char *url,
                                        const cc_http_opts *opts);

/* The thread path: run x on the calling thread's session (session.c). */
cc_http_response *cc__http_thread_request(const char *url,
                                          const cc_http_opts *opts);

#endif
