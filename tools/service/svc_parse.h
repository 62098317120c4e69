/*
 * svc_parse.h - the request parser of the local service, one interface
 * over two backends: llhttp (parse_llhttp.c), Node's current parser, and
 * http-parser (parse_http_parser.c), the one it replaced, archived since
 * 2020 and kept as the fallback.  service.cmake builds the service with
 * one of them; conn.c drives whichever it is through this header and
 * never sees its types, and routes.c sees only the method below.
 *
 * The parser splits a request into its pieces and calls svc_parse_ops
 * back as they come (pieces of the target, of header names and values, of
 * the body may come in several calls); the strict rules of head.c, the
 * limits and the answers stay with the caller.  Everything runs on one
 * connection's task; the svc_parser lives in its conn.
 */
#ifndef CONCUR_TOOLS_SVC_PARSE_H
#define CONCUR_TOOLS_SVC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The methods the routes tell apart; every other is SVC_METHOD_OTHER. */
enum {
    SVC_METHOD_OTHER,
    SVC_METHOD_GET,
    SVC_METHOD_HEAD,
    SVC_METHOD_POST,
};

/* A request's head, as the parser read it (for svc_parse_ops.head). */
typedef struct svc_parse_head {
    int method;                  /* SVC_METHOD_* */
    const char *method_name;     /* "GET", "PUT"... (static text) */
    int major;                   /* the version, e.g. 1 and 1 */
    int minor;
    bool has_length;             /* a Content-Length was given ... */
    uint64_t length;             /* ... this one */
    bool chunked;                /* the body is framed as chunked */
} svc_parse_head;

/* The callbacks; `arg` is svc_parse_init's.  Each returns 0 to go on, or
 * nonzero to stop the parser (svc_parse_execute then returns 400 or what
 * the caller decided).  `done` ends a request: keep_alive says whether
 * the connection may carry another; returning 0 there pauses the parser
 * right after the request, nonzero stops it. */
typedef struct svc_parse_ops {
    int (*begin)(void *arg);
    int (*url)(void *arg, const char *at, size_t len);
    int (*field)(void *arg, const char *at, size_t len);
    int (*value)(void *arg, const char *at, size_t len);
    int (*head)(void *arg, const svc_parse_head *h);
    int (*body)(void *arg, const char *at, size_t len);
    int (*done)(void *arg, bool keep_alive);
} svc_parse_ops;

/* A parser's state: room for either backend's record (each checks that
 * it fits), so that it lives in the conn, without an allocation. */
typedef struct svc_parser {
    _Alignas(16) unsigned char opaque[192];
} svc_parser;

/* What svc_parse_execute returns besides a status. */
enum {
    SVC_PARSE_MORE = 0,          /* every byte was taken: read on */
    SVC_PARSE_NEXT = 1,          /* a request ended after *used bytes */
};

/* svc_parse_init: ready for a connection's first request; ops must
 * outlive the parser.  svc_parse_execute: parse data[0..n) -- until its
 * end (SVC_PARSE_MORE), until a request ends and `done` lets the
 * connection go on (SVC_PARSE_NEXT, *used bytes taken; call again with
 * the rest, the next request's first byte), or until the parser refuses
 * the input or a callback stops it: then the status to answer, 431 for
 * a head past the parser's own limit, 400 for everything else.  (Each
 * backend also gives service.h's svc_parser_name.) */
void svc_parse_init(svc_parser *p, const svc_parse_ops *ops, void *arg);
int svc_parse_execute(svc_parser *p, const char *data, size_t n,
                      size_t *used);

/* target.c: split a request target t[0..len) into its path and query,
 * as offsets into t (path_len 0: no path, as in "http://host"; query_len
 * 0: no query).  false for a target that is not one: empty, bad
 * characters, a scheme without a host, a bad host or port.  Both
 * backends use it, so they split targets alike. */
bool svc_split_target(const char *t, size_t len, size_t *path_off,
                      size_t *path_len, size_t *query_off,
                      size_t *query_len);

#endif
