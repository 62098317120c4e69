/*
 * parse_llhttp.c - svc_parse.h over llhttp, Node's HTTP parser since
 * 2019: Debian 13's libllhttp-dev, or on Debian 12 the C that node-llhttp
 * ships, built by service.cmake.  Set up to read requests as the
 * http-parser backend does:
 *
 *   - any HTTP/d.d version is parsed (llhttp's lenient version flag) and
 *     left to svc_head_check, which answers 505 for all but 1.0 and 1.1
 *     (llhttp itself refuses, say, HTTP/1.2 as malformed: a 400);
 *   - Transfer-Encoding too is left to svc_head_check (the lenient
 *     transfer-encoding flag), which refuses every value but exactly
 *     "chunked", once, before llhttp would: a 501, or a 400 with a
 *     Content-Length (llhttp refuses that pair itself, also a 400).
 *     Without the flag llhttp stops at a second "chunked" header with a
 *     400, before the rest of the head is read;
 *   - the parser pauses after each request (its on_message_complete
 *     returns HPE_PAUSED), so that the caller learns where the next one
 *     starts (llhttp_get_error_pos), then resumes it.
 *
 * llhttp has no cap of its own on a head's size: max_header_bytes, which
 * conn.c counts, is the only one.
 */
#include <assert.h>

#include <llhttp.h>

#include "service.h"
#include "svc_parse.h"

typedef struct lh {
    llhttp_t p;
    const svc_parse_ops *ops;
    void *arg;
} lh;

static_assert(sizeof(lh) <= sizeof(svc_parser), "svc_parser too small");
static_assert(_Alignof(lh) <= _Alignof(svc_parser), "svc_parser alignment");

static int on_begin(llhttp_t *p)
{
    lh *h = p->data;

    return h->ops->begin(h->arg);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    lh *h = p->data;

    return h->ops->url(h->arg, at, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    lh *h = p->data;

    return h->ops->field(h->arg, at, len);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    lh *h = p->data;

    return h->ops->value(h->arg, at, len);
}

static int on_headers_complete(llhttp_t *p)
{
    lh *h = p->data;
    svc_parse_head head = {
        .method = p->method == HTTP_GET    ? SVC_METHOD_GET
                  : p->method == HTTP_HEAD ? SVC_METHOD_HEAD
                  : p->method == HTTP_POST ? SVC_METHOD_POST
                                           : SVC_METHOD_OTHER,
        .method_name = llhttp_method_name((llhttp_method_t)p->method),
        .major = p->http_major,
        .minor = p->http_minor,
        .has_length = (p->flags & F_CONTENT_LENGTH) != 0,
        .length = p->content_length,
        .chunked = (p->flags & F_CHUNKED) != 0,
    };

    /* llhttp takes any nonzero but 1 and 2 (skip the body) as an error */
    return h->ops->head(h->arg, &head) != 0 ? -1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    lh *h = p->data;

    return h->ops->body(h->arg, at, len);
}

/* Pause after the request unless the caller stops. */
static int on_complete(llhttp_t *p)
{
    lh *h = p->data;
    bool keep = llhttp_should_keep_alive(p) && !p->upgrade;

    if (h->ops->done(h->arg, keep) != 0)
        return -1;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void svc_parse_init(svc_parser *p, const svc_parse_ops *ops, void *arg)
{
    lh *h = (lh *)p->opaque;

    llhttp_init(&h->p, HTTP_REQUEST, &settings);
    /* Versions and transfer codings: svc_head_check's (see above); 8.1,
     * Debian 12's, has no setter for the version flag yet. */
    llhttp_set_lenient_transfer_encoding(&h->p, 1);
#if LLHTTP_VERSION_MAJOR >= 9
    llhttp_set_lenient_version(&h->p, 1);
#else
    h->p.lenient_flags |= LENIENT_VERSION;
#endif
    h->p.data = h;
    h->ops = ops;
    h->arg = arg;
}

int svc_parse_execute(svc_parser *p, const char *data, size_t n,
                      size_t *used)
{
    lh *h = (lh *)p->opaque;
    llhttp_errno_t e = llhttp_execute(&h->p, data, n);

    switch (e) {
    case HPE_OK:
        *used = n;
        return SVC_PARSE_MORE;
    case HPE_PAUSED: /* a request ended at the pause */
        *used = (size_t)(llhttp_get_error_pos(&h->p) - data);
        llhttp_resume(&h->p);
        return SVC_PARSE_NEXT;
    default:
        *used = 0;
        return 400;
    }
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *svc_parser_name(void)
{
    return "llhttp " STR(LLHTTP_VERSION_MAJOR) "." STR(
        LLHTTP_VERSION_MINOR) "." STR(LLHTTP_VERSION_PATCH);
}
