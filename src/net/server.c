/*
 * server.c - cc_serve and the life of a server: options, close (graceful,
 * then forced), wait, free (net layer).
 *
 * Closing, in order: the state becomes CLOSING (no connection is added
 * after that), the acceptors stop and the listening sockets close; the
 * running handlers get `grace` seconds; then each one left is cancelled --
 * its stream is marked cancelled and shut down (a blocked call wakes and
 * every call fails with ECANCELED), a task is also cancelled through
 * cc_future_cancel (for whatever else it waits on), a connection whose
 * handler never started is ended by the closer itself -- and the closer
 * waits for all
 * of them and reaps their tasks, threads and jobs.  A handler that closes
 * its own server is left out of that and waited for by cc_server_free.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/aio.h"
#include "internal/error.h"
#include "net/server.h"
#include "net/stream.h"

#define FLUSH_DEFAULT 30.0 /* seconds a finished handler's output may take */

static bool server_ok(const cc_server *srv)
{
    return srv != NULL && srv->magic == CC__SERVER_MAGIC;
}

static void server_destroy(cc_server *srv);

static void server_ref(cc_server *srv)
{
    atomic_fetch_add_explicit(&srv->refs, 1, memory_order_relaxed);
}

static void server_unref(cc_server *srv)
{
    if (atomic_fetch_sub_explicit(&srv->refs, 1, memory_order_acq_rel) == 1)
        server_destroy(srv);
}

static void server_destroy(cc_server *srv)
{
    srv->magic = 0;
    cc__server_unlisten(srv);
    if (srv->wakefd >= 0)
        close(srv->wakefd);
    cc_sem_free(srv->slots);
    cc_event_free(srv->drained);
    cc_event_free(srv->empty);
    cc_event_free(srv->closed);
    free(srv);
}

/* The stack of a TASKS handler: opts->stack_size, else CC__HANDLER_STACK,
 * or the tasks' default when that is larger (CONCUR_STACK_SIZE). */
static size_t handler_stack(const cc_serve_opts *opts)
{
    size_t tasks = cc__stack_default_size();

    if (opts != NULL && opts->stack_size != 0)
        return opts->stack_size;
    return tasks > CC__HANDLER_STACK ? tasks : CC__HANDLER_STACK;
}

/* Check the options and resolve AUTO.  0, or -1 recorded. */
static int check_opts(const char *host, int port, cc_stream_handler handler,
                      const cc_serve_opts *opts, cc_serve_mode *mode)
{
    bool in_task = cc_current_task() != NULL;

    (void)host;
    if (handler == NULL)
        return cc__err(EINVAL, "cc_serve: handler is NULL");
    if (opts != NULL &&
        CC__OPTS_RESERVED(opts, "cc_serve", "cc_serve_opts") != 0)
        return -1;
    if ((opts == NULL || opts->unix_path == NULL) &&
        (port < 0 || port > 65535))
        return cc__errf(EINVAL, "cc_serve: port %d is not in 0..65535", port);
    if (opts != NULL && opts->max_connections < 0)
        return cc__err(EINVAL, "cc_serve: max_connections is negative");
    if (opts != NULL && opts->flush_timeout != opts->flush_timeout)
        return cc__err(EINVAL, "cc_serve: flush_timeout is NaN");
    if (opts != NULL && opts->stack_size > CC__HANDLER_STACK_MAX)
        return cc__errf(EINVAL, "cc_serve: stack_size %zu is over 1 GiB",
                        opts->stack_size);
    *mode = opts != NULL ? opts->mode : CC_SERVE_AUTO;
    switch (*mode) {
    case CC_SERVE_AUTO:
        *mode = in_task ? CC_SERVE_TASKS : CC_SERVE_THREADS;
        return 0;
    case CC_SERVE_TASKS:
        if (!in_task)
            return cc__err(EINVAL, "cc_serve: CC_SERVE_TASKS needs to be "
                                   "called from a coroutine");
        return 0;
    case CC_SERVE_THREADS:
        return 0;
    case CC_SERVE_POOL:
        if (opts->pool == NULL)
            return cc__err(EINVAL, "cc_serve: CC_SERVE_POOL without a pool");
        return 0;
    default:
        return cc__errf(EINVAL, "cc_serve: unknown mode %d", (int)*mode);
    }
}

cc_server *cc_serve(const char *host, int port, cc_stream_handler handler,
                    void *arg, const cc_serve_opts *opts)
{
    cc_serve_mode mode = CC_SERVE_AUTO;
    cc_server *srv;

    if (check_opts(host, port, handler, opts, &mode) != 0)
        return NULL;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return cc__err_null(ENOMEM, "cc_serve: out of memory");
    srv->wakefd = -1;
    atomic_init(&srv->refs, 1);
    srv->mode = mode;
    srv->handler = handler;
    srv->arg = arg;
    srv->limit = CC_STREAM_LIMIT;
    srv->flush_timeout = FLUSH_DEFAULT;
    srv->stack_size = handler_stack(opts);
    if (opts != NULL) {
        srv->pool = opts->pool;
        srv->on_error = opts->on_error;
        if (opts->limit > 0)
            srv->limit = opts->limit;
        if (opts->flush_timeout != 0)
            srv->flush_timeout = opts->flush_timeout;
    }
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->close_started, false);
    cc__mutex_init(&srv->mu);
    cc__lock_init(&srv->report);
    srv->state = CC__SRV_OPEN;
    srv->drained = cc_event_new();
    srv->empty = cc_event_new();
    srv->closed = cc_event_new();
    if (srv->drained == NULL || srv->empty == NULL || srv->closed == NULL)
        goto err_nomem;
    if (opts != NULL && opts->max_connections > 0) {
        srv->slots = cc_sem_new((unsigned)opts->max_connections);
        if (srv->slots == NULL)
            goto err_nomem;
    }
    if (cc__server_listen(srv, host, port, opts) != 0)
        goto err_destroy;
    srv->magic = CC__SERVER_MAGIC;
    if (cc__server_start(srv) != 0) {
        int e = errno;

        cc__mutex_lock(&srv->mu);
        srv->state = CC__SRV_CLOSING;
        cc__mutex_unlock(&srv->mu);
        cc__server_stop(srv);
        srv->magic = 0;
        server_destroy(srv);
        errno = e;
        return NULL;
    }
    return srv;
err_nomem:
    cc__err(ENOMEM, "cc_serve: out of memory");
err_destroy:
    {
        int e = errno;

        server_destroy(srv);
        errno = e;
    }
    return NULL;
}

int cc_server_port(const cc_server *srv)
{
    if (!server_ok(srv))
        return cc__err(EINVAL, "cc_server_port: not a server");
    return srv->port;
}

size_t cc_server_connections(const cc_server *srv)
{
    cc_server *s = (cc_server *)(uintptr_t)srv; /* mu only */
    size_t n;

    if (!server_ok(srv))
        return 0;
    cc__mutex_lock(&s->mu);
    n = s->nlive;
    cc__mutex_unlock(&s->mu);
    return n;
}

/* The connection whose handler is the caller, or NULL; mu held. */
static cc__conn *self_locked(cc_server *srv)
{
    cc_future *task = cc_current_task();

    CC__ASSERT(cc__mutex_owned(&srv->mu));
    for (cc__link *n = srv->live.head; n != NULL; n = n->next) {
        cc__conn *c = CC__CONTAINER_OF(n, cc__conn, link);

        if (atomic_load(&c->claimed) != CC__CLAIM_RUN)
            continue;
        if (srv->mode == CC_SERVE_TASKS ? task != NULL && c->f == task
                                        : task == NULL &&
                                              pthread_equal(c->runner,
                                                            pthread_self()))
            return c;
    }
    return NULL;
}

/* Cancel every live handler but `self`; returns how many.  Connections
 * whose handler never started are ended here. */
static int cancel_rest(cc_server *srv, cc__conn *self)
{
    cc__conn *orphans = NULL;
    cc__conn *next;
    int n = 0;

    cc__mutex_lock(&srv->mu);
    for (cc__link *it = srv->live.head; it != NULL; it = it->next) {
        cc__conn *c = CC__CONTAINER_OF(it, cc__conn, link);
        int expected = CC__CLAIM_NONE;

        if (c == self)
            continue;
        n++;
        /* The stream first: a task woken by its cancellation must find
         * every call on its stream failing already. */
        if (c->s != NULL)
            cc__stream_cancel(c->s); /* wakes a thread; fails every call */
        if (c->f != NULL)
            cc_future_cancel(c->f); /* a task; a job not started yet */
        if (atomic_compare_exchange_strong(&c->claimed, &expected,
                                           CC__CLAIM_CLOSER)) {
            c->orphan = orphans; /* remembered here; still on live */
            orphans = c;
        }
    }
    cc__mutex_unlock(&srv->mu);
    for (cc__conn *c = orphans; c != NULL; c = next) {
        next = c->orphan;
        cc__conn_end(c);
    }
    return n;
}

int cc_server_close(cc_server *srv, double grace)
{
    cc__conn *self;
    bool wait_grace;
    bool wait_rest;
    int cancelled;

    if (!server_ok(srv))
        return cc__err(EINVAL, "cc_server_close: not a server");
    if (grace != grace)
        return cc__err(EINVAL, "cc_server_close: grace is NaN");
    if (atomic_exchange(&srv->close_started, true))
        return 0;
    server_ref(srv);
    cc__mutex_lock(&srv->mu);
    srv->state = CC__SRV_CLOSING;
    self = self_locked(srv);
    srv->drain_target = self != NULL ? 1 : 0;
    cc__mutex_unlock(&srv->mu);

    cc__server_stop(srv);
    cc__server_unlisten(srv);

    cc__mutex_lock(&srv->mu);
    wait_grace = srv->nlive > srv->drain_target;
    cc__mutex_unlock(&srv->mu);
    if (wait_grace && grace != 0)
        (void)cc_event_wait(srv->drained, grace); /* ETIMEDOUT, ECANCELED:
                                                     cancel the rest now */
    cancelled = cancel_rest(srv, self);

    cc__mutex_lock(&srv->mu);
    wait_rest = srv->nlive > srv->drain_target;
    cc__mutex_unlock(&srv->mu);
    if (wait_rest)
        cc__wait_event_hold(srv->drained);
    cc__server_reap(srv, true);

    cc__mutex_lock(&srv->mu);
    srv->state = CC__SRV_CLOSED;
    cc__mutex_unlock(&srv->mu);
    cc_event_set(srv->closed);
    server_unref(srv);
    return cancelled;
}

int cc_server_wait(cc_server *srv, double timeout)
{
    int rc;

    if (!server_ok(srv))
        return cc__err(EINVAL, "cc_server_wait: not a server");
    server_ref(srv);
    rc = cc_event_wait(srv->closed, timeout);
    if (rc != 0 && errno == ETIMEDOUT)
        cc__err(ETIMEDOUT, "cc_server_wait timed out");
    /* else EAGAIN, ECANCELED, EINVAL: as the event said */
    {
        int e = errno;

        server_unref(srv);
        errno = e;
    }
    return rc;
}

void cc_server_free(cc_server *srv)
{
    bool busy;

    if (!server_ok(srv))
        return;
    if (!atomic_load(&srv->close_started))
        (void)cc_server_close(srv, 0);
    cc__wait_event_hold(srv->closed); /* a close elsewhere may be running */
    cc__mutex_lock(&srv->mu);
    busy = srv->nlive > 0;
    cc__mutex_unlock(&srv->mu);
    if (busy) /* the handler that closed the server */
        cc__wait_event_hold(srv->empty);
    cc__server_reap(srv, true);
    srv->magic = 0;
    server_unref(srv); /* the owner's: a close or a wait still returning
                          holds its own */
}
