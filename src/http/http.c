/*
 * http.c - the public entry points: a request goes to the calling task's
 * loop (multi.c) or the calling thread's session (session.c); the
 * response's accessors, raise_for_status, reason phrases (http layer).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "concur/aio.h"
#include "http/xfer.h"
#include "internal/error.h"
#include "internal/fiber.h"

cc_http_response *cc_http_request(const char *url, const cc_http_opts *opts)
{
    if (opts != NULL &&
        CC__OPTS_RESERVED(opts, "cc_http_request", "cc_http_opts") != 0)
        return NULL;
    cc__http_global_init();
    /* A task suspends on its loop; anything else (a thread, or a loop
     * callback, which must not suspend) blocks its thread. */
    if (cc__ctx_get()->fiber != NULL && cc_loop_current() != NULL)
        return cc__http_loop_request(url, opts);
    return cc__http_thread_request(url, opts);
}

/* The timeout argument of get and post, as an options field: a request
 * cannot be made without waiting, so 0 is EINVAL (as in requests); a
 * negative value is CC_FOREVER.  -1 with the error recorded, or 0. */
static int arg_timeout(double timeout, const char *what, double *field)
{
    if (isnan(timeout))
        return cc__errf(EINVAL, "%s: timeout is NaN", what);
    if (timeout == 0)
        return cc__errf(EINVAL, "%s: timeout 0: a request cannot be made "
                                "without waiting (CC_FOREVER: no limit)",
                        what);
    *field = timeout < 0 ? CC_FOREVER : timeout;
    return 0;
}

cc_http_response *cc_http_get(const char *url, double timeout)
{
    cc_http_opts o = {0};

    if (arg_timeout(timeout, "cc_http_get", &o.timeout) != 0)
        return NULL;
    return cc_http_request(url, &o);
}

cc_http_response *cc_http_post(const char *url, const void *body, size_t len,
                               const char *content_type, double timeout)
{
    cc_http_opts o = {.method = "POST", .body = body, .body_len = len,
                      .content_type = content_type};

    if (arg_timeout(timeout, "cc_http_post", &o.timeout) != 0)
        return NULL;
    if (body == NULL && len == 0)
        o.body = ""; /* an empty POST still carries its Content-Type */
    return cc_http_request(url, &o);
}

static bool ok(const cc_http_response *r)
{
    return r != NULL && r->magic == CC__HTTP_MAGIC;
}

int cc_http_status(const cc_http_response *r)
{
    return ok(r) ? r->status : 0;
}

/* The reason phrases of the standard codes (RFC 9110 and friends), as
 * Python's http.HTTPStatus words them. */
static const char *reason_of(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a Teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}

const char *cc_http_reason(const cc_http_response *r)
{
    return ok(r) ? reason_of(r->status) : "";
}

const char *cc_http_url(const cc_http_response *r)
{
    if (!ok(r))
        return cc__err_null(EINVAL, "cc_http_url: not a response");
    return r->url;
}

const char *cc_http_header(const cc_http_response *r, const char *name)
{
    if (!ok(r) || name == NULL)
        return cc__err_null(EINVAL, "cc_http_header: response or name is "
                                    "NULL");
    for (size_t i = 0; i < r->h.count; i++)
        if (strcasecmp(r->h.buf + r->h.off[2 * i], name) == 0)
            return r->h.buf + r->h.off[2 * i + 1];
    return cc__errf_null(ENOENT, "cc_http_header: no header '%s'", name);
}

size_t cc_http_header_count(const cc_http_response *r)
{
    return ok(r) ? r->h.count : 0;
}

int cc_http_header_at(const cc_http_response *r, size_t i, const char **name,
                      const char **value)
{
    if (!ok(r))
        return cc__err(EINVAL, "cc_http_header_at: not a response");
    if (i >= r->h.count)
        return cc__errf(ERANGE, "cc_http_header_at: %zu is past the %zu "
                                "headers", i, r->h.count);
    if (name != NULL)
        *name = r->h.buf + r->h.off[2 * i];
    if (value != NULL)
        *value = r->h.buf + r->h.off[2 * i + 1];
    return 0;
}

const char *cc_http_body(const cc_http_response *r)
{
    if (!ok(r))
        return cc__err_null(EINVAL, "cc_http_body: not a response");
    return r->body;
}

size_t cc_http_body_len(const cc_http_response *r)
{
    return ok(r) && r->body != NULL ? cc_blob_len(r->body) : 0;
}

void *cc_http_response_take_body(cc_http_response *r)
{
    void *b;

    if (!ok(r))
        return cc__err_null(EINVAL, "cc_http_response_take_body: not a "
                                    "response");
    b = r->body;
    r->body = NULL;
    return b;
}

double cc_http_elapsed(const cc_http_response *r)
{
    return ok(r) ? r->elapsed : 0;
}

double cc_http_retry_after(const cc_http_response *r)
{
    return ok(r) ? r->retry_after : -1;
}

int cc_http_check(const cc_http_response *r)
{
    if (!ok(r))
        return cc__err(EINVAL, "cc_http_check: not a response");
    if (r->status < 400)
        return 0;
    return cc__errf(CC_EHTTP, "%d %s Error: %s for url: %s", r->status,
                    r->status < 500 ? "Client" : "Server", reason_of(r->status),
                    r->url);
}

void cc_http_response_free(cc_http_response *r)
{
    if (!ok(r))
        return;
    r->magic = 0;
    cc_blob_free(r->body);
    free(r->url);
    free(r->h.buf);
    free(r->h.off);
    free(r);
}

static char version[160];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_fill(void)
{
    curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);

    snprintf(version, sizeof(version), "concur-http/%s libcurl/%s",
             cc_version(), d != NULL ? d->version : "?");
}

const char *cc_http_version(void)
{
    pthread_once(&version_once, version_fill);
    return version;
}
