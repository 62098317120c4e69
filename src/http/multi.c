/*
 * multi.c - requests from coroutines: one curl multi handle per loop,
 * driven by the loop itself through curl's multi-socket interface (http
 * layer).
 *
 * A task's request adds an easy handle to its loop's multi and parks the
 * task.  curl says which sockets it wants watched (socket callback ->
 * cc__fd_watch on the loop's epoll) and when it next needs to be called
 * (timer callback -> a cc_loop_call_later timer); the loop calls back on
 * readiness or at the timer, we hand that to curl_multi_socket_action, and
 * each transfer curl reports done (curl_multi_info_read) wakes its task.
 * Everything here runs on the loop's thread -- tasks, fd callbacks and
 * timers alike -- so the multi handle is never touched by two threads.
 *
 * When the loop cannot do what curl asks -- arm its timer or watch a
 * socket, for want of memory -- curl would wait for a call that never
 * comes.  Every running transfer of the loop is then ended at once with
 * ENOMEM ("aborted"): its task takes its handle out of the multi.
 *
 * The multi handle keeps the loop's connection cache (MAXCONNECTS), so
 * tasks reuse each other's kept-alive connections; finished easy handles
 * go to a small free list for the next request.  A cancelled task (or
 * one whose deadline passed before curl noticed) takes its easy handle
 * out of the multi itself -- curl closes the connection of an unfinished
 * transfer -- and frees it.  The multi is freed with the loop
 * (cc__loop_attach), after its tasks.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/xfer.h"
#include "internal/aio.h"
#include "internal/clock.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/waiter.h"

#define FREE_MAX 256      /* easy handles kept for reuse per loop */
#define MAX_CONNECTS 256  /* the loop's connection cache */

typedef struct http_multi {
    CURLM *multi;
    cc_loop *loop;
    cc_timer *timer;        /* curl's next timeout, or NULL */
    cc__list running;       /* transfers in the multi (http_xfer.w.link) */
    CURL *spare[FREE_MAX];  /* reset easy handles for the next requests */
    int nspare;
} http_multi;

static const char slot_key = 0; /* our cc__loop_attach key */

/* Wake the tasks whose transfers curl has finished. */
static void reap(http_multi *m)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        http_xfer *x = NULL;
        cc__wakeup wk;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        x->result = msg->data.result;
        x->done = true;
        curl_multi_remove_handle(m->multi, msg->easy_handle);
        if (cc__waiter_claim(&x->w, &wk))
            cc__wakeup_fire(wk);
        /* else the task gave up (timeout, cancel) and looks at x->done */
    }
}

/*
 * End every running transfer with ENOMEM and `why`: the loop cannot drive
 * them any more.  Called from inside curl (its callbacks), so a parked
 * task is woken and removes its handle itself; one not parked yet (its
 * task is the caller, inside curl_multi_add_handle) sees `aborted` before
 * it parks.
 */
static void abort_running(http_multi *m, const char *why)
{
    for (cc__link *n = m->running.head; n != NULL; n = n->next) {
        http_xfer *x = CC__CONTAINER_OF(n, http_xfer, w.link);
        cc__wakeup wk;

        if (x->done || x->aborted)
            continue;
        x->aborted = true;
        x->result = CURLE_OUT_OF_MEMORY;
        snprintf(x->errbuf, sizeof(x->errbuf), "%s", why);
        if (x->parked && cc__waiter_claim(&x->w, &wk))
            cc__wakeup_fire(wk);
    }
}

static void on_fd(void *arg, int fd, int ready)
{
    http_multi *m = arg;
    int running;
    int mask = (ready & CC_READABLE ? CURL_CSELECT_IN : 0) |
               (ready & CC_WRITABLE ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(m->multi, fd, mask, &running);
    reap(m);
}

static void on_timer(void *arg)
{
    http_multi *m = arg;
    int running;

    m->timer = NULL; /* the record is freed after this call */
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    reap(m);
}

/* curl: watch socket s for `what` (or stop). */
static int socket_cb(CURL *e, curl_socket_t s, int what, void *arg,
                     void *sockp)
{
    http_multi *m = arg;
    int events = what == CURL_POLL_IN      ? CC_READABLE
                 : what == CURL_POLL_OUT   ? CC_WRITABLE
                 : what == CURL_POLL_INOUT ? CC_READABLE | CC_WRITABLE
                                           : 0;

    (void)e;
    (void)sockp;
    if (cc__fd_watch(m->loop, s, events, on_fd, m) != 0)
        abort_running(m, "out of memory: the loop cannot watch the "
                         "transfer's socket");
    return 0;
}

/* curl: call me back in timeout_ms (-1: never).  The call comes from
 * inside curl, so the work is done from the loop, never from here. */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    http_multi *m = arg;

    (void)multi;
    if (m->timer != NULL) {
        cc_timer_cancel(m->timer);
        m->timer = NULL;
    }
    if (timeout_ms >= 0) {
        m->timer = cc_loop_call_later(m->loop, (double)timeout_ms / 1000.0,
                                      on_timer, m);
        if (m->timer == NULL)
            abort_running(m, "out of memory: the loop cannot arm curl's "
                             "timer");
    }
    return 0;
}

/* The loop's end (cc__loop_attach): its tasks are gone, so are their
 * transfers; close the cached connections and free the rest. */
static void multi_free(void *arg)
{
    http_multi *m = arg;

    while (m->nspare > 0)
        curl_easy_cleanup(m->spare[--m->nspare]);
    curl_multi_cleanup(m->multi); /* may still call socket_cb: fine */
    if (m->timer != NULL)
        cc_timer_cancel(m->timer);
    free(m);
}

static http_multi *multi_get(cc_loop *l)
{
    http_multi *m = cc__loop_attached(l, &slot_key);

    if (m != NULL)
        return m;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return cc__err_null(ENOMEM, "cc_http_request: out of memory");
    m->loop = l;
    cc__list_init(&m->running);
    m->multi = curl_multi_init();
    if (m->multi == NULL) {
        free(m);
        return cc__err_null(ENOMEM, "cc_http_request: cannot make a curl "
                                    "multi handle");
    }
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
    if (cc__loop_attach(l, &slot_key, m, multi_free) != 0) {
        curl_multi_cleanup(m->multi);
        free(m);
        return NULL;
    }
    return m;
}

/* An easy handle from the free list (reset), or a new one. */
static CURL *easy_get(http_multi *m)
{
    if (m->nspare > 0) {
        CURL *e = m->spare[--m->nspare];

        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

static void easy_put(http_multi *m, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    if (m->nspare < FREE_MAX)
        m->spare[m->nspare++] = e;
    else
        curl_easy_cleanup(e);
}

cc_http_response *cc__http_loop_request(const char *url,
                                        const cc_http_opts *opts)
{
    cc_loop *l = cc_loop_current();
    http_multi *m;
    CURL *e;
    http_xfer x;
    cc_http_response *r = NULL;
    CURLMcode mc;
    int rc;

    if (cc__checkpoint("cc_http_request") != 0)
        return NULL;
    m = multi_get(l);
    if (m == NULL)
        return NULL;
    e = easy_get(m);
    if (e == NULL)
        return cc__err_null(ENOMEM, "cc_http_request: cannot make a curl "
                                    "handle");
    if (cc__xfer_setup(&x, e, url, opts) != 0) {
        int saved = errno; /* the message stays recorded */

        cc__xfer_release(&x);
        easy_put(m, e);
        errno = saved;
        return NULL;
    }
    cc__waiter_init(&x.w);
    x.parked = false;
    x.aborted = false;
    cc__list_push_back(&m->running, &x.w.link);
    mc = curl_multi_add_handle(m->multi, e);
    if (mc != CURLM_OK) {
        cc__list_remove(&m->running, &x.w.link);
        cc__xfer_release(&x);
        curl_easy_cleanup(e);
        return cc__xfer_fail(&x, mc == CURLM_OUT_OF_MEMORY ? ENOMEM : EIO,
                             curl_multi_strerror(mc));
    }
    /* curl stops at the deadline itself (CURLOPT_TIMEOUT_MS); the park's
     * own deadline, a little later, only backs that up. */
    rc = 0;
    if (!x.aborted) {
        x.parked = true;
        rc = cc__waiter_park(&x.w, x.deadline == CC__NS_FOREVER
                                       ? CC__NS_FOREVER
                                       : x.deadline + 200 * 1000000LL);
        x.parked = false;
    }
    cc__list_remove(&m->running, &x.w.link);
    if (rc == 0 && x.aborted && !x.done) {
        curl_multi_remove_handle(m->multi, e);
        r = cc__xfer_finish(&x, e, x.result); /* ENOMEM and the reason */
        curl_easy_cleanup(e); /* not kept: the transfer did not end */
        cc__xfer_release(&x);
        return r;
    }
    if (rc == 0) {
        r = cc__xfer_finish(&x, e, x.result);
        cc__xfer_release(&x);
        easy_put(m, e);
        return r;
    }
    /* Cancelled or timed out: a transfer still running is taken out
     * (curl closes its connection); the handle is dropped either way. */
    if (!x.done)
        curl_multi_remove_handle(m->multi, e);
    curl_easy_cleanup(e);
    cc__xfer_release(&x);
    return cc__xfer_fail(&x, rc, rc == ECANCELED ? "the task was cancelled"
                                                 : "timed out");
}
