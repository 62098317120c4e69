/*
 * concur/http.h - an HTTP client on libcurl: what requests and aiohttp
 * give Python programs, with one API for threads and coroutines.
 *
 *   cc_http_get, cc_http_post, cc_http_request   make a request
 *   cc_http_response                              status, headers, body
 *   cc_http_check                                 raise_for_status
 *
 * Threads and coroutines.  Called from a plain thread, a request runs on
 * that thread's own libcurl handle (curl_easy_perform), kept in a
 * thread-local session: the connections it opened stay alive for the
 * thread's next requests (the seeds' thread-local requests.Session), and
 * are closed when the thread exits (or by cc_http_thread_cleanup).  Any
 * number of threads may make requests at once.  Called from a coroutine,
 * the same call suspends only the calling task: the transfer is added to
 * a curl multi handle that belongs to the task's loop and is driven by
 * the loop itself (curl's multi-socket interface: socket readiness
 * through the loop's epoll, curl's timeouts through the loop's timers),
 * so one thread keeps hundreds of requests in flight, reusing the loop's
 * connections between tasks.  The multi handle is freed with the loop.
 *
 * Errors.  A request that got an answer succeeds whatever its status: a
 * 404 or a 500 is a response (check it with cc_http_status or
 * cc_http_check).  A request that got no answer returns NULL with errno
 * and curl's own words in cc_errmsg(), naming the method and the URL:
 * "GET http://127.0.0.1:1/: Failed to connect to 127.0.0.1 port 1 after
 * 0 ms: Couldn't connect to server".  The codes:
 *   EINVAL        url NULL, not an absolute http:// or https:// URL, a
 *                 NaN timeout, a bad option
 *   ENOENT        the host name does not resolve
 *   ECONNREFUSED  nobody listens there
 *   ETIMEDOUT     the timeout passed (the transfer is abandoned)
 *   ECANCELED     the calling task was cancelled (the transfer is
 *                 abandoned and its connection closed)
 *   EPROTO        the server broke the protocol (a malformed answer)
 *   ECONNRESET    the connection ended in the middle of the answer
 *   EMSGSIZE      the body grew past opts->max_body
 *   ELOOP         more redirects than opts->max_redirects
 *   EACCES        TLS: the certificate did not verify
 *   EIO           any other transport failure (curl's message says which)
 *   ENOMEM
 * TLS certificates and host names are verified (against the system's
 * store, or opts->ca_file) unless opts->insecure.
 *
 * Timeouts: every request has one (opts->timeout, 30 s by default), it
 * covers the whole exchange, and deadline scopes (cc_deadline_push)
 * shorten it.  Redirects are followed (up to 10 by default) for GET and
 * HEAD; a POST is not re-sent to a 301/302/303 target but becomes a GET
 * there, as curl and browsers do.
 *
 * Ownership: a response belongs to the caller (cc_http_response_free);
 * strings and the body it hands out are its own and live as long as it,
 * except the body taken with cc_http_response_take_body.
 */
#ifndef CONCUR_HTTP_H
#define CONCUR_HTTP_H

#include <stddef.h>

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The errno of cc_http_check for a status >= 400 (requests' HTTPError):
 * concur's own code (CC_EBASE + 2, see concur/base.h), so no system error
 * is mistaken for it; cc_errname() says "CC_EHTTP", cc_strerror() "HTTP
 * status error". */
#define CC_EHTTP (CC_EBASE + 2)

/* A response: status, headers and body; cc_http_request (or cc_http_get,
 * cc_http_post) makes one, cc_http_response_free frees it. */
typedef struct cc_http_response cc_http_response;

/* Options of cc_http_request.  Zero = default. */
typedef struct cc_http_opts {
    const char *method;        /* NULL: "GET" ("POST" when body is set);
                                  any token: "PUT", "DELETE", "HEAD"... */
    const void *body;          /* the request body (sent with a
                                  Content-Length), or NULL */
    size_t body_len;           /* bytes at body */
    const char *content_type;  /* for the body (NULL:
                                  "application/octet-stream") */
    const char *const *headers;/* extra request headers, "Name: value",
                                  NULL-terminated list, or NULL */
    double timeout;            /* the whole exchange, seconds (0: 30 s;
                                  CC_FOREVER: none) */
    double connect_timeout;    /* connecting alone (0: the timeout) */
    int max_redirects;         /* 0: 10; -1: do not follow redirects */
    const char *user_agent;    /* NULL: "concur/<version>" */
    size_t max_body;           /* 0: no limit; else EMSGSIZE past it */
    bool insecure;             /* true: do not verify TLS certificates */
    const char *ca_file;       /* a PEM file of certificates to verify the
                                  server's against instead of the system's
                                  (a private CA, a self-signed server);
                                  NULL: the system's store */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_http_opts;

/*
 * cc_http_request - make one request to url with opts (NULL: a GET with
 * the defaults above) and return its response, owned by the caller, or
 * NULL with errno (see the top of this header).  From a thread the call
 * blocks; from a coroutine it suspends the task only.
 */
CC_API cc_http_response *cc_http_request(const char *url, const cc_http_opts *opts);

/* cc_http_get - a GET with the default options, the whole exchange bounded
 * by `timeout` seconds (CC_FOREVER: no limit).  A request cannot be made
 * without waiting: timeout 0 (or NaN) is EINVAL.  Otherwise as
 * cc_http_request. */
CC_API cc_http_response *cc_http_get(const char *url, double timeout);

/* cc_http_post - a POST of len bytes of body with that content type
 * (NULL: "application/octet-stream"), bounded by `timeout` as cc_http_get
 * is (0: EINVAL). */
CC_API cc_http_response *cc_http_post(const char *url, const void *body, size_t len,
                                      const char *content_type, double timeout);

/* cc_http_status - the status code of the final response (after
 * redirects); 0 for NULL. */
CC_API int cc_http_status(const cc_http_response *r);

/* cc_http_reason - the reason phrase of the status as curl's peers word
 * it ("Not Found", "Internal Server Error", "" for a code it does not
 * know); never NULL. */
CC_API const char *cc_http_reason(const cc_http_response *r);

/* cc_http_url - the URL that answered last (after redirects). */
CC_API const char *cc_http_url(const cc_http_response *r);

/*
 * cc_http_header - the value of the final response's header `name`
 * (case-insensitive; several of the same name: the first), without
 * surrounding spaces, or NULL when absent (errno ENOENT) or r/name is
 * NULL (EINVAL).
 */
CC_API const char *cc_http_header(const cc_http_response *r, const char *name);

/* cc_http_header_count - how many headers the final response has (0 for
 * NULL); cc_http_header_at reads them, in the order received. */
CC_API size_t cc_http_header_count(const cc_http_response *r);

/* cc_http_header_at - the i-th header of the final response (0 <= i <
 * cc_http_header_count): returns 0 and sets *name and *value (either may
 * be NULL: not wanted), strings owned by the response; -1 with ERANGE past
 * the end, EINVAL when r is not a response. */
CC_API int cc_http_header_at(const cc_http_response *r, size_t i, const char **name,
                             const char **value);

/*
 * cc_http_body - the body as a blob (cc_blob_len gives its length; a NUL
 * follows the bytes, not counted, so text bodies are C strings).  Owned by
 * the response.  Never NULL for a response: an empty body is a blob of
 * length 0 -- unless it was taken, then NULL.
 */
CC_API const char *cc_http_body(const cc_http_response *r);

/* cc_http_body_len - the body's length in bytes (0 when taken). */
CC_API size_t cc_http_body_len(const cc_http_response *r);

/* cc_http_response_take_body - the body blob, now the caller's
 * (cc_blob_free); the response keeps none.  NULL when already taken. */
CC_API void *cc_http_response_take_body(cc_http_response *r);

/* cc_http_elapsed - seconds from the start of the request to its end. */
CC_API double cc_http_elapsed(const cc_http_response *r);

/*
 * cc_http_retry_after - the delay the response's Retry-After header asks
 * for, in seconds (delta-seconds or an HTTP date, read by libcurl); -1
 * when there is none, it cannot be read or it asks for no delay.
 */
CC_API double cc_http_retry_after(const cc_http_response *r);

/*
 * cc_http_check - 0 when the status is below 400; else -1 with errno
 * CC_EHTTP and the message requests' raise_for_status gives:
 * "404 Client Error: Not Found for url: http://...",
 * "500 Server Error: Internal Server Error for url: http://...".
 * EINVAL for NULL.
 */
CC_API int cc_http_check(const cc_http_response *r);

/* cc_http_response_free - release a response; NULL is fine. */
CC_API void cc_http_response_free(cc_http_response *r);

/*
 * cc_http_thread_cleanup - close the calling thread's kept connections
 * now (they are closed at thread exit anyway).  Never fails.
 */
CC_API void cc_http_thread_cleanup(void);

/* cc_http_version - "concur-http/<version> libcurl/<curl's version>". */
CC_API const char *cc_http_version(void);

#ifdef __cplusplus
}
#endif

#endif
