/*
 * fetch_one.c - fetch one URL: a token from the rate limiter before every
 * attempt, the attempt itself (cc_http_request on the caller's thread or
 * task), and the retry policy (what is worth another try, how long to wait
 * first).  Runs in whichever thread or coroutine the model gives it; every
 * wait in here (throttle, sleep, request) suspends only a coroutine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "concur/aio.h"
#include "concur/http.h"
#include "fetch.h"

enum { MAX_BACKOFF = 10, MAX_RETRY_AFTER = 60 };

/* A copy of the calling thread's error message (NULL out of memory). */
static char *errmsg_dup(void)
{
    return strdup(cc_errmsg());
}

/* The message of an attempt whose body passed the limit, in the words
 * of the command line (NULL out of memory). */
static char *too_big_msg(const char *url, size_t limit)
{
    char *msg = NULL;

    if (asprintf(&msg, "GET %s: the body is larger than --max-size (%zu "
                       "bytes)", url, limit) < 0)
        return NULL;
    return msg;
}

/* One attempt in this thread or task (a fetch_try_fn; ctx unused): the
 * request with o's timeout and body limit, its outcome in *out (which
 * owns the message and the body).  Always returns 0: failures are
 * outcomes. */
int fetch_try_here(void *ctx, const char *url, const fetch_opts *o,
                   fetch_try *out)
{
    cc_http_opts ho;
    cc_http_response *r;

    (void)ctx;
    memset(out, 0, sizeof(*out));
    out->retry_after = -1;
    memset(&ho, 0, sizeof(ho));
    ho.timeout = o->timeout > 0 ? o->timeout : 30;
    ho.max_body = o->max_body > 0 ? o->max_body : FETCH_MAX_BODY;
    r = cc_http_request(url, &ho);
    if (r == NULL) {
        out->err = errno != 0 ? errno : EIO;
        out->errmsg = out->err == EMSGSIZE ? too_big_msg(url, ho.max_body)
                                           : errmsg_dup();
        return 0;
    }
    out->status = cc_http_status(r);
    out->bytes = cc_http_body_len(r);
    if (o->grep != NULL)
        out->grep_hit = fetch_has_word(cc_http_body(r), out->bytes, o->grep);
    if (cc_http_check(r) != 0) {
        out->err = CC_EHTTP;
        out->errmsg = errmsg_dup();
        out->retry_after = cc_http_retry_after(r);
    }
    if (o->keep_body)
        out->body = cc_http_response_take_body(r);
    cc_http_response_free(r);
    return 0;
}

/* True when the same request may succeed a little later. */
static bool retryable(const fetch_try *t)
{
    if (t->status == 0)
        return t->err == ETIMEDOUT || t->err == ECONNRESET ||
               t->err == ECONNREFUSED || t->err == EPROTO || t->err == EIO;
    return t->status == 429 || t->status == 500 || t->status == 502 ||
           t->status == 503 || t->status == 504;
}

/* The delay before retry number `retry` (1, 2, ...): the server's
 * Retry-After when it gave one, else o->backoff doubling each time, with
 * up to a quarter taken off at random so that many clients that failed
 * together do not all come back together. */
static double backoff_delay(const fetch_opts *o, int retry, double retry_after)
{
    double d = o->backoff > 0 ? o->backoff : 0.1;

    if (retry_after >= 0)
        return retry_after < MAX_RETRY_AFTER ? retry_after : MAX_RETRY_AFTER;
    for (int i = 1; i < retry && d < MAX_BACKOFF; i++)
        d *= 2;
    if (d > MAX_BACKOFF)
        d = MAX_BACKOFF;
    /* rand() is not thread-safe; the clock's microseconds are enough
     * jitter (fmod keeps the value in range before any conversion) */
    double u = fmod(cc_now() * 1e6, 1000.0) / 1000.0;
    return d * (1.0 - 0.25 * u);
}

/* Move an attempt's outcome into the item (the item's old message and
 * body are dropped). */
static void keep_try(fetch_item *item, fetch_try *t)
{
    free(item->errmsg);
    cc_blob_free(item->body);
    item->status = t->status;
    item->err = t->err; /* 0, CC_EHTTP, or why no answer came */
    item->errmsg = t->errmsg;
    item->bytes = t->bytes;
    item->grep_hit = t->grep_hit;
    item->body = t->body;
    memset(t, 0, sizeof(*t));
}

void fetch_one(const char *url, const fetch_opts *o, cc_throttle *throttle,
               fetch_try_fn try_fn, void *try_ctx, fetch_item *item)
{
    double start = cc_now();
    fetch_try t;

    memset(item, 0, sizeof(*item));
    item->url = url;
    for (int attempt = 0;; attempt++) {
        if (throttle != NULL &&
            cc_throttle_acquire(throttle, 1, CC_FOREVER) != 0) {
            item->err = errno;
            item->errmsg = errmsg_dup();
            break;
        }
        item->attempts++;
        if (try_fn(try_ctx, url, o, &t) != 0) {
            item->err = errno != 0 ? errno : EIO;
            free(item->errmsg);
            item->errmsg = errmsg_dup();
            break;
        }
        bool again = t.err != 0 && retryable(&t) && attempt < o->retries;
        double delay = again ? backoff_delay(o, attempt + 1, t.retry_after) : 0;
        keep_try(item, &t);
        if (!again)
            break;
        if (cc_sleep(delay) != 0)
            break; /* cancelled: keep the last outcome */
    }
    item->seconds = cc_now() - start;
}
