/*
 * parse_http_parser.c - svc_parse.h over Node's http-parser (Debian's
 * libhttp-parser-dev, 2.9), the service's parser before llhttp and its
 * fallback where llhttp is missing.  The parser pauses after each
 * request (http_parser_pause), so that the caller learns where the next
 * one starts; its own 80 KiB cap on a head (HPE_HEADER_OVERFLOW) is a
 * 431.
 */
#include <assert.h>

#include <http_parser.h>

#include "service.h"
#include "svc_parse.h"

/* F_CHUNKED and F_CONTENTLENGTH of http-parser's (semi-public) flags. */
#define HP_F_CHUNKED (1 << 0)
#define HP_F_CONTENTLENGTH (1 << 7)

typedef struct hp {
    http_parser p;
    const svc_parse_ops *ops;
    void *arg;
} hp;

static_assert(sizeof(hp) <= sizeof(svc_parser), "svc_parser too small");
static_assert(_Alignof(hp) <= _Alignof(svc_parser), "svc_parser alignment");

static int on_begin(http_parser *p)
{
    hp *h = p->data;

    return h->ops->begin(h->arg);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    hp *h = p->data;

    return h->ops->url(h->arg, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    hp *h = p->data;

    return h->ops->field(h->arg, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    hp *h = p->data;

    return h->ops->value(h->arg, at, len);
}

static int on_headers_complete(http_parser *p)
{
    hp *h = p->data;
    svc_parse_head head = {
        .method = p->method == HTTP_GET    ? SVC_METHOD_GET
                  : p->method == HTTP_HEAD ? SVC_METHOD_HEAD
                  : p->method == HTTP_POST ? SVC_METHOD_POST
                                           : SVC_METHOD_OTHER,
        .method_name = http_method_str((enum http_method)p->method),
        .major = p->http_major,
        .minor = p->http_minor,
        .has_length = (p->flags & HP_F_CONTENTLENGTH) != 0,
        .length = p->content_length,
        .chunked = (p->flags & HP_F_CHUNKED) != 0,
    };

    return h->ops->head(h->arg, &head);
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    hp *h = p->data;

    return h->ops->body(h->arg, at, len);
}

/* Pause after the request unless the caller stops. */
static int on_complete(http_parser *p)
{
    hp *h = p->data;
    bool keep = http_should_keep_alive(p) && !p->upgrade;

    if (h->ops->done(h->arg, keep) != 0)
        return -1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
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
    hp *h = (hp *)p->opaque;

    http_parser_init(&h->p, HTTP_REQUEST);
    h->p.data = h;
    h->ops = ops;
    h->arg = arg;
}

int svc_parse_execute(svc_parser *p, const char *data, size_t n,
                      size_t *used)
{
    hp *h = (hp *)p->opaque;
    size_t done = http_parser_execute(&h->p, &settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->p);

    *used = done;
    if (e == HPE_PAUSED) {
        http_parser_pause(&h->p, 0); /* a request ended at data + done */
        return SVC_PARSE_NEXT;
    }
    if (e == HPE_OK && done == n)
        return SVC_PARSE_MORE;
    return e == HPE_HEADER_OVERFLOW ? 431 : 400;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *svc_parser_name(void)
{
    return "http-parser " STR(HTTP_PARSER_VERSION_MAJOR) "." STR(
        HTTP_PARSER_VERSION_MINOR) "." STR(HTTP_PARSER_VERSION_PATCH);
}
