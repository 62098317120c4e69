/*
 * fetch_wire.c - an attempt made by a worker of a process pool.  What
 * crosses between the processes are blobs (concur's pickles): the request
 * (timeout, body limit, flags, word, URL) one way, the outcome (status,
 * errno, message, Retry-After, the body when asked for) the other.  The
 * retry loop and the rate limiter stay in the parent (fetch_one), so the
 * rate limit holds over all workers together.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "fetch.h"

/* The fixed head of a request blob; the word and the URL follow, each
 * with its NUL. */
struct wire_request {
    double timeout;
    uint64_t max_body;      /* fetch_opts.max_body (0: the default) */
    uint8_t keep_body;
    uint8_t has_grep;
};

/* The fixed head of an outcome blob; the message (msg_len bytes) and the
 * body (body_len bytes) follow. */
struct wire_outcome {
    int32_t status;
    int32_t err;
    double retry_after;
    uint64_t bytes;
    uint64_t msg_len;
    uint64_t body_len;
    uint8_t grep_hit;
    uint8_t has_body;
};

/* The task run by a worker process: decode the request, make the attempt
 * there, encode the outcome. */
static void *fetch_worker_task(void *arg)
{
    struct wire_request rq;
    struct wire_outcome oc;
    fetch_opts o;
    fetch_try t;
    size_t len = cc_blob_len(arg);
    const char *p = arg;
    const char *grep = NULL;
    const char *url;
    char *out;

    if (len < sizeof(rq) + 2 || p[len - 1] != '\0')
        return cc_fail(EINVAL, "fetch worker: a malformed request");
    memcpy(&rq, p, sizeof(rq));
    p += sizeof(rq);
    if (rq.has_grep) {
        grep = p;
        p += strlen(p) + 1;
        if (p >= (const char *)arg + len)
            return cc_fail(EINVAL, "fetch worker: a request without a URL");
    }
    url = p;
    memset(&o, 0, sizeof(o));
    o.timeout = rq.timeout;
    o.max_body = (size_t)rq.max_body;
    o.grep = grep;
    o.keep_body = rq.keep_body != 0;
    fetch_try_here(NULL, url, &o, &t);

    memset(&oc, 0, sizeof(oc));
    oc.status = t.status;
    oc.err = t.err;
    oc.retry_after = t.retry_after;
    oc.bytes = t.bytes;
    oc.msg_len = t.errmsg != NULL ? strlen(t.errmsg) : 0;
    oc.body_len = t.body != NULL ? cc_blob_len(t.body) : 0;
    oc.grep_hit = t.grep_hit;
    oc.has_body = t.body != NULL;
    out = cc_blob_new(sizeof(oc) + oc.msg_len + oc.body_len);
    if (out != NULL) {
        memcpy(out, &oc, sizeof(oc));
        if (oc.msg_len > 0)
            memcpy(out + sizeof(oc), t.errmsg, oc.msg_len);
        if (oc.body_len > 0)
            memcpy(out + sizeof(oc) + oc.msg_len, t.body, oc.body_len);
    }
    free(t.errmsg);
    cc_blob_free(t.body);
    return out != NULL ? out : cc_fail(ENOMEM, "fetch worker: out of memory");
}

/* The request blob for url under o, or NULL (ENOMEM). */
static void *encode_request(const char *url, const fetch_opts *o)
{
    struct wire_request rq;
    size_t glen = o->grep != NULL ? strlen(o->grep) + 1 : 0;
    size_t ulen = strlen(url) + 1;
    char *b = cc_blob_new(sizeof(rq) + glen + ulen);

    if (b == NULL)
        return NULL;
    memset(&rq, 0, sizeof(rq));
    rq.timeout = o->timeout;
    rq.max_body = o->max_body;
    rq.keep_body = o->keep_body;
    rq.has_grep = o->grep != NULL;
    memcpy(b, &rq, sizeof(rq));
    if (glen > 0)
        memcpy(b + sizeof(rq), o->grep, glen);
    memcpy(b + sizeof(rq) + glen, url, ulen);
    return b;
}

/* Fill *out from an outcome blob; -1 (EPROTO) when it does not add up. */
static int decode_outcome(const char *b, fetch_try *out)
{
    struct wire_outcome oc;
    size_t len = cc_blob_len(b);

    if (len < sizeof(oc))
        return -1;
    memcpy(&oc, b, sizeof(oc));
    if (oc.msg_len > len - sizeof(oc) ||
        oc.body_len != len - sizeof(oc) - oc.msg_len)
        return -1;
    memset(out, 0, sizeof(*out));
    out->status = oc.status;
    out->err = oc.err;
    out->retry_after = oc.retry_after;
    out->bytes = oc.bytes;
    out->grep_hit = oc.grep_hit != 0;
    if (oc.msg_len > 0) {
        out->errmsg = strndup(b + sizeof(oc), oc.msg_len);
        if (out->errmsg == NULL)
            return -1;
    }
    if (oc.has_body) {
        out->body = cc_blob_dup(b + sizeof(oc) + oc.msg_len, oc.body_len);
        if (out->body == NULL) {
            free(out->errmsg);
            return -1;
        }
    }
    return 0;
}

int fetch_try_in_pool(void *ctx, const char *url, const fetch_opts *o,
                      fetch_try *out)
{
    cc_executor *pool = ctx;
    void *request = encode_request(url, o);
    cc_future *f;
    void *result = NULL;
    int rc;

    if (request == NULL) {
        cc_fail(ENOMEM, "fetch: out of memory");
        return -1;
    }
    f = cc_submit(pool, fetch_worker_task, request);
    cc_blob_free(request); /* the pool copied it */
    if (f == NULL)
        return -1;
    rc = cc_future_result(f, &result, CC_FOREVER);
    if (rc == 0 && decode_outcome(result, out) != 0) {
        cc_fail(EPROTO, "fetch: a worker's answer does not add up");
        rc = -1;
    }
    cc_future_free(f); /* the future owned the result blob */
    return rc;
}
