/*
 * accept.c - a cc_server's acceptors and connections (net layer).
 *
 * TASKS mode: one task per listening socket on the caller's loop accepts
 * (waiting with cc_wait_fd, so the loop runs everything else meanwhile)
 * and spawns a task per connection on the same loop.  THREADS and POOL
 * modes: one acceptor thread polls every listening socket and an eventfd
 * that stops it, and starts a thread per connection or submits a job to
 * the pool.  Sockets are accepted non-blocking and close-on-exec, with
 * TCP_NODELAY.
 *
 * Running out of descriptors (EMFILE, ENFILE) or memory on accept pauses
 * the acceptor for PAUSE seconds and retries: a level-triggered listening
 * socket stays readable while a connection waits in the backlog, so
 * retrying at once would spin.  The first failure of such a spell is
 * reported (on_error, with an empty peer), the retries are not; the
 * server serves again as soon as descriptors free up.  max_connections is
 * a semaphore taken before each accept and given back when a connection
 * has been closed.
 *
 * See server.h for the records, the lists and who may free what.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal/error.h"
#include "internal/log.h"
#include "net/server.h"
#include "net/stream.h"

#define PAUSE 0.05          /* after EMFILE/ENFILE/ENOMEM on accept */
#define PAUSE_MS 50
#define YIELD_EVERY 32      /* accepts in a row before an acceptor task
                               lets the loop run the new handlers */
#define RETRIES_IN_A_ROW 16 /* transient accept errors before a pause */

/* ------------------------------------------------------------- waiting */

/* Run with a shield in a task, so that cleanup waits cannot be cut short
 * by the task's cancellation. */
static bool shield_on(void)
{
    return cc_current_task() != NULL && cc_shield_push(CC_FOREVER) == 0;
}

void cc__wait_future_hold(cc_future *f)
{
    bool shielded = shield_on();

    while (cc_future_result(f, NULL, CC_FOREVER) != 0 &&
           !cc_future_done(f))
        ;
    if (shielded)
        cc_shield_pop();
}

void cc__wait_event_hold(cc_event *e)
{
    bool shielded = shield_on();

    while (cc_event_wait(e, CC_FOREVER) != 0)
        ;
    if (shielded)
        cc_shield_pop();
}

/* -------------------------------------------------------- error reports */

/* Hand err (never NULL) about the connection from `peer` ("": about the
 * server itself) to on_error, or print it: "concur: handler for <peer>
 * failed: <err>" for a handler's failure, "concur: <err>" for the rest.
 * One report at a time. */
static void report_error(cc_server *srv, const char *peer, const cc_error *err,
                         bool handler)
{
    cc__stream_lock_hold(&srv->report);
    if (srv->on_error != NULL) {
        srv->on_error(srv, peer, err, srv->arg);
    } else {
        char text[1024];

        cc_error_format(err, text, sizeof(text));
        if (handler)
            cc__logf(CC_LOG_WARNING, "concur: handler for %s failed: %s",
                     peer, text);
        else
            cc__logf(CC_LOG_WARNING, "concur: %s", text);
    }
    cc__lock_release_owned(&srv->report);
}

/*
 * The handler returned -1: report its pending error (cc_fail), else its
 * last one, else "returned -1".  A copy goes to on_error, which may call
 * the library and so replace the originals; out of memory for the copy,
 * the original itself goes.
 */
static void report_failure(cc_server *srv, cc_stream *s)
{
    const cc_error *pending = cc_error_pending();
    const cc_error *err;
    char peer[CC__PEER_MAX];
    cc_error *copy;

    if (pending == NULL && cc_last_error() == NULL)
        cc__err(EIO, "the handler returned -1"); /* records even out of
                                                  * memory */
    err = pending != NULL ? pending : cc_last_error();
    copy = cc_error_copy(err);
    cc__stream_peer(s, peer);
    report_error(srv, peer, copy != NULL ? copy : err, true);
    cc_error_free(copy);
    if (pending != NULL)
        cc_error_clear();
}

/*
 * A connection was accepted but no handler could be started for it (code:
 * ENOMEM or EAGAIN; why: the failure's message): it has been closed, and
 * the server says so, as it does for a failed handler.  Nothing here
 * allocates: the error is recorded as the acceptor's last error, which
 * never fails.
 */
static void report_unserved(cc_server *srv, struct sockaddr_storage *ss,
                            socklen_t len, int code, const char *why)
{
    char peer[CC__PEER_MAX];

    if (cc__addr_format((const struct sockaddr *)ss, len, peer,
                        sizeof(peer)) < 0 || peer[0] == '\0')
        snprintf(peer, sizeof(peer), "?");
    cc__errf(code, "cc_serve: the connection from %s was closed unserved: "
                   "%s", peer, why);
    report_error(srv, peer, cc_last_error(), false);
}

/*
 * accept() keeps failing with err (out of descriptors or memory, or
 * errors in a row): report it once per spell -- *reported is cleared by
 * the next accept that succeeds -- with an empty peer.
 */
static void report_accept_spell(cc_server *srv, bool *reported, int err)
{
    if (*reported)
        return;
    *reported = true;
    cc__errf(err, "cc_serve: accept: %s; retrying every %d ms until it "
                  "succeeds", strerror(err), PAUSE_MS);
    report_error(srv, "", cc_last_error(), false);
}

/* ---------------------------------------------------------- connections */

/*
 * The end of a connection: close its stream (the output a handler left
 * gets flush_timeout to go, unless the connection was cancelled), give its
 * slot back, and move it to the zombies.
 */
void cc__conn_end(cc__conn *c)
{
    cc_server *srv = c->srv;
    bool drained;
    bool empty;
    cc_stream *s = c->s;

    if (!atomic_load(&s->cancelled) && !cc_cancelled() &&
        cc_stream_pending(s) > 0)
        (void)cc_stream_close(s, srv->flush_timeout);
    cc__mutex_lock(&srv->mu);
    c->s = NULL; /* the closer cancels no more */
    CC__ASSERT(srv->nlive > 0);
    cc__list_remove(&srv->live, &c->link);
    cc__list_push_back(&srv->zombies, &c->link);
    srv->nlive--;
    drained = srv->state != CC__SRV_OPEN && srv->nlive <= srv->drain_target;
    empty = srv->state != CC__SRV_OPEN && srv->nlive == 0;
    cc__mutex_unlock(&srv->mu);
    cc_stream_free(s);
    if (srv->slots != NULL)
        cc_sem_release(srv->slots);
    if (drained)
        cc_event_set(srv->drained);
    if (empty)
        cc_event_set(srv->empty);
}

/* A connection's task, thread or pool job. */
static void *conn_main(void *arg)
{
    cc__conn *c = arg;
    int expected = CC__CLAIM_NONE;
    cc_server *srv;
    int rc;

    c->runner = pthread_self();
    if (!atomic_compare_exchange_strong(&c->claimed, &expected,
                                        CC__CLAIM_RUN))
        return NULL; /* the closing server took it and ended it */
    srv = c->srv;
    rc = srv->handler(c->s, srv->arg);
    /* A handler the server's close cancelled failed because it was asked
     * to stop: cc_server_close counts it, on_error does not hear of it. */
    if (rc != 0 && !atomic_load(&c->s->cancelled))
        report_failure(srv, c->s);
    cc__conn_end(c);
    return NULL;
}

/* Free a zombie whose task, thread or job has ended. */
static void conn_free(cc__conn *c)
{
    if (c->f != NULL)
        cc_future_free(c->f);
    if (c->t != NULL)
        cc_thread_free(c->t);
    free(c);
}

/* Has a zombie's task, thread or job ended (wait: wait for it)? */
static bool conn_over(cc__conn *c, bool wait)
{
    if (c->f != NULL) {
        if (wait)
            cc__wait_future_hold(c->f);
        return cc_future_done(c->f);
    }
    if (c->t != NULL) {
        bool shielded;
        int rc;

        if (!wait)
            return cc_thread_join(c->t, NULL, 0) == 0 ||
                   !cc_thread_is_alive(c->t);
        shielded = shield_on();
        do
            rc = cc_thread_join(c->t, NULL, CC_FOREVER);
        while (rc != 0 && cc_thread_is_alive(c->t));
        if (shielded)
            cc_shield_pop();
    }
    return true;
}

void cc__server_reap(cc_server *srv, bool wait)
{
    cc__list list = {NULL, NULL};
    cc__list keep = {NULL, NULL};

    cc__mutex_lock(&srv->mu);
    cc__list_splice(&list, &srv->zombies);
    cc__mutex_unlock(&srv->mu);
    for (cc__link *n; (n = cc__list_pop_front(&list)) != NULL;) {
        cc__conn *c = CC__CONTAINER_OF(n, cc__conn, link);

        if (conn_over(c, wait))
            conn_free(c);
        else
            cc__list_push_back(&keep, n);
    }
    if (cc__list_empty(&keep))
        return;
    cc__mutex_lock(&srv->mu);
    cc__list_splice(&srv->zombies, &keep);
    cc__mutex_unlock(&srv->mu);
}

/*
 * Hand an accepted socket to a new connection.  0, or an errno (the
 * socket is closed and the slot given back by the caller): ESHUTDOWN (the
 * server is closing), ENOMEM, EAGAIN (no thread) -- these two reported
 * (report_unserved): a connection is never dropped without a word.
 */
static int conn_start(cc_server *srv, int fd, struct sockaddr_storage *ss,
                      socklen_t len)
{
    cc__conn *c;
    cc_stream *s;
    int rc = 0;

    if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    s = cc__stream_new(fd, (struct sockaddr *)ss, len);
    c = calloc(1, sizeof(*c));
    if (s == NULL || c == NULL) {
        if (s != NULL)
            cc_stream_free(s); /* closes fd */
        else
            close(fd);
        free(c);
        report_unserved(srv, ss, len, ENOMEM, "out of memory");
        return ENOMEM;
    }
    atomic_store_explicit(&s->limit, srv->limit, memory_order_relaxed);
    cc__link_init(&c->link);
    c->srv = srv;
    c->s = s;
    atomic_init(&c->claimed, CC__CLAIM_NONE);
    /* Start it under mu: its end (which takes mu) cannot come before it is
     * on the live list. */
    cc__mutex_lock(&srv->mu);
    if (srv->state != CC__SRV_OPEN) {
        rc = ESHUTDOWN;
    } else if (srv->mode == CC_SERVE_TASKS) {
        cc_task_opts o = {.stack_size = srv->stack_size};

        /* "spawned by cc_serve" in an overflow report, not this line */
        c->f = cc_spawn_at("cc_serve", 0, conn_main, c, &o);
        rc = c->f == NULL ? errno : 0;
    } else if (srv->mode == CC_SERVE_THREADS) {
        c->t = cc_thread_start(conn_main, c, "cc-conn");
        rc = c->t == NULL ? errno : 0;
    } else {
        c->f = cc_submit(srv->pool, conn_main, c);
        rc = c->f == NULL ? errno : 0;
    }
    if (rc == 0) {
        cc__list_push_back(&srv->live, &c->link);
        srv->nlive++;
    }
    cc__mutex_unlock(&srv->mu);
    if (rc != 0) {
        char why[256];

        snprintf(why, sizeof(why), "%s", cc_errmsg());
        cc_stream_free(s);
        free(c);
        if (rc != ESHUTDOWN)
            report_unserved(srv, ss, len, rc, why);
    }
    return rc;
}

/* What an acceptor does about an accept() error. */
enum { ACC_WAIT, ACC_PAUSE, ACC_RETRY, ACC_STOP };

static int accept_verdict(int e)
{
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return ACC_WAIT;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        return ACC_PAUSE;
    case EBADF:
    case EINVAL: /* not listening any more (shut down) */
    case ENOTSOCK:
        return ACC_STOP;
    default: /* ECONNABORTED, EPROTO, EINTR, EPERM, network errors of the
              * new connection: the next one may be fine */
        return ACC_RETRY;
    }
}

static int accept_one(int lfd, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = sizeof(*ss);
    return accept4(lfd, (struct sockaddr *)ss, len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* ------------------------------------------------------ TASKS acceptor */

static void *accept_task(void *arg)
{
    cc__listener *l = arg;
    cc_server *srv = l->srv;
    unsigned retries = 0;
    unsigned in_a_row = 0;
    bool spell_reported = false;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len;
        int fd;
        int rc;
        int err;

        if (srv->slots != NULL && cc_sem_acquire(srv->slots, CC_FOREVER) != 0)
            break; /* cancelled */
        for (;;) {
            fd = accept_one(l->fd, &ss, &len);
            if (fd >= 0)
                break;
            err = errno;
            switch (accept_verdict(err)) {
            case ACC_WAIT:
                in_a_row = 0;
                if (cc_wait_fd(l->fd, CC_READABLE, CC_FOREVER) < 0)
                    goto stop;
                continue;
            case ACC_RETRY:
                if (++retries < RETRIES_IN_A_ROW)
                    continue;
                __attribute__((fallthrough)); /* it keeps failing: pause */
            case ACC_PAUSE:
                retries = 0;
                report_accept_spell(srv, &spell_reported, err);
                if (cc_sleep(PAUSE) != 0)
                    goto stop;
                continue;
            default:
                goto stop;
            }
        }
        retries = 0;
        spell_reported = false;
        rc = conn_start(srv, fd, &ss, len);
        if (rc != 0) {
            if (srv->slots != NULL)
                cc_sem_release(srv->slots);
            if (rc == ESHUTDOWN)
                break;
            if (cc_sleep(PAUSE) != 0) /* out of memory: as EMFILE */
                break;
        }
        cc__server_reap(srv, false);
        if (++in_a_row % YIELD_EVERY == 0 && cc_yield() != 0)
            break;
    }
    return NULL;
stop:
    if (srv->slots != NULL)
        cc_sem_release(srv->slots);
    return NULL;
}

/* ---------------------------------------------------- THREADS acceptor */

/* Wait for a listening socket to be readable (or `ms`); false when the
 * server is stopping. */
static bool thread_wait(cc_server *srv, bool all, int ms)
{
    struct pollfd p[CC__ADDRS_MAX + 1];
    int n = 0;

    p[n].fd = srv->wakefd;
    p[n++].events = POLLIN;
    for (int i = 0; all && i < srv->nlisten; i++) {
        p[n].fd = srv->listen[i].fd;
        p[n++].events = POLLIN;
    }
    while (poll(p, (nfds_t)n, ms) < 0 && errno == EINTR)
        ;
    return !atomic_load(&srv->stopping);
}

static void *accept_thread(void *arg)
{
    cc_server *srv = arg;
    unsigned retries = 0;
    int next = 0;
    bool spell_reported = false;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len;
        int fd = -1;
        int verdict = ACC_WAIT;
        int err = 0;

        if (srv->slots != NULL)
            cc_sem_acquire(srv->slots, CC_FOREVER);
        if (atomic_load(&srv->stopping))
            break;
        for (int k = 0; k < srv->nlisten && fd < 0; k++) {
            int i = (next + k) % srv->nlisten;

            fd = accept_one(srv->listen[i].fd, &ss, &len);
            if (fd >= 0) {
                next = i + 1;
                break;
            }
            {
                int v = accept_verdict(errno);

                if (v > verdict) {
                    verdict = v;
                    err = errno;
                }
            }
        }
        if (fd >= 0) {
            int rc;

            retries = 0;
            spell_reported = false;
            rc = conn_start(srv, fd, &ss, len);
            if (rc != 0 && srv->slots != NULL)
                cc_sem_release(srv->slots);
            if (rc != 0 && rc != ESHUTDOWN && !thread_wait(srv, false,
                                                           PAUSE_MS))
                break;
            cc__server_reap(srv, false);
            continue;
        }
        if (srv->slots != NULL)
            cc_sem_release(srv->slots);
        if (verdict == ACC_STOP)
            break;
        if (verdict == ACC_RETRY && ++retries < RETRIES_IN_A_ROW)
            continue;
        if (verdict == ACC_RETRY || verdict == ACC_PAUSE) {
            retries = 0;
            report_accept_spell(srv, &spell_reported, err);
            if (!thread_wait(srv, false, PAUSE_MS))
                break;
            continue;
        }
        if (!thread_wait(srv, true, -1))
            break;
    }
    return NULL;
}

/* ----------------------------------------------------- starting, stopping */

int cc__server_start(cc_server *srv)
{
    if (srv->mode == CC_SERVE_TASKS) {
        for (int i = 0; i < srv->nlisten; i++) {
            cc_task_opts o = {.name = "cc-acceptor"};

            srv->listen[i].task = cc_spawn_opts(accept_task, &srv->listen[i],
                                                &o);
            if (srv->listen[i].task == NULL)
                return -1;
        }
        return 0;
    }
    srv->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->wakefd < 0)
        return cc__errf(errno, "cc_serve: eventfd: %s", strerror(errno));
    srv->acceptor = cc_thread_start(accept_thread, srv, "cc-acceptor");
    if (srv->acceptor == NULL)
        return -1;
    return 0;
}

void cc__server_stop(cc_server *srv)
{
    if (srv->mode == CC_SERVE_TASKS) {
        for (int i = 0; i < srv->nlisten; i++)
            if (srv->listen[i].task != NULL)
                cc_future_cancel(srv->listen[i].task);
        for (int i = 0; i < srv->nlisten; i++) {
            if (srv->listen[i].task == NULL)
                continue;
            cc__wait_future_hold(srv->listen[i].task);
            cc_future_free(srv->listen[i].task);
            srv->listen[i].task = NULL;
        }
        return;
    }
    if (srv->acceptor != NULL) {
        uint64_t one = 1;
        bool shielded;
        ssize_t w;

        atomic_store(&srv->stopping, true);
        w = write(srv->wakefd, &one, sizeof(one));
        (void)w;
        if (srv->slots != NULL)
            cc_sem_release(srv->slots); /* in case it waits for a slot */
        shielded = shield_on();
        while (cc_thread_join(srv->acceptor, NULL, CC_FOREVER) != 0 &&
               cc_thread_is_alive(srv->acceptor))
            ;
        if (shielded)
            cc_shield_pop();
        cc_thread_free(srv->acceptor);
        srv->acceptor = NULL;
    }
}
