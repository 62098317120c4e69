/*
 * fdwait.c - waiting for file descriptors: epoll on the task's loop, poll()
 * in a plain thread (aio layer).
 *
 * Each fd a task waits on has a registration holding its waiters; the fd is
 * in epoll with the union of their interests while any waits, and removed
 * when none does (level-triggered, so nothing is missed between waits).
 * Several tasks may wait on one fd, for the same or different events.
 * Registrations belong to the loop thread.
 *
 * Kept registrations (cc__wait_fd_kept, for the net layer's sockets) are
 * made once, edge-triggered for reading and writing (Go's netpoller does
 * the same), and stay until the owner drops them (cc__fd_unkeep) before it
 * closes the fd: a connection waited on again and again costs no
 * epoll_ctl, and the loop never calls epoll_ctl on such an fd outside a
 * wait on it, so it cannot race the owner closing it from another thread.
 * An edge that comes while nobody waits is latched in `ready` and taken by
 * the next wait, which then returns at once; the owner's read or write
 * that follows meets at worst one EAGAIN.  A kept registration carries its
 * owner's key, unique to the open file: one found under another key (or
 * by a plain cc_wait_fd) is taken for what it may be -- left over from a
 * file since closed, whose number was reused -- and made again (adding an
 * fd that is ready reports it at once, so nothing is lost).
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "aio/loop.h"
#include "internal/deadline.h"
#include "internal/error.h"

/* A task waiting on an fd (internal/aio.h): its waiter is linked into the
 * registration's list through the waiter's own link (no wait queue is
 * involved); cc_select links a stand-in the same way. */
typedef cc__fd_waiter fd_waiter;

#define FD_WAITER_OF(n) CC__CONTAINER_OF(n, fd_waiter, w.link)

struct cc__fdreg {
    int fd;
    uint32_t mask;              /* epoll events registered (0: not in epoll) */
    uint64_t key;               /* the owner of a kept registration, or 0 */
    int ready;                  /* kept: edges nobody waited for (CC_*) */
    cc__list waiters;           /* fd_waiter, oldest first */
    cc__fd_watch_fn watch;      /* a callback watch (cc__fd_watch), or NULL */
    void *watch_arg;
};

static uint32_t to_epoll(int events)
{
    return (events & CC_READABLE ? EPOLLIN : 0) |
           (events & CC_WRITABLE ? EPOLLOUT : 0);
}

static cc__fdreg *reg_get(cc_loop *l, int fd)
{
    if ((size_t)fd >= l->nfds) {
        size_t n = l->nfds ? l->nfds : 64;
        cc__fdreg **fds;

        while (n <= (size_t)fd)
            n *= 2;
        fds = realloc(l->fds, n * sizeof(*fds));
        if (fds == NULL)
            return NULL;
        memset(fds + l->nfds, 0, (n - l->nfds) * sizeof(*fds));
        l->fds = fds;
        l->nfds = n;
    }
    if (l->fds[fd] == NULL) {
        l->fds[fd] = calloc(1, sizeof(cc__fdreg));
        if (l->fds[fd] != NULL)
            l->fds[fd]->fd = fd;
    }
    return l->fds[fd];
}

/* The union of the waiters' interests. */
static uint32_t wanted(const cc__fdreg *r)
{
    uint32_t want = 0;

    for (const cc__link *n = r->waiters.head; n != NULL; n = n->next)
        want |= to_epoll(FD_WAITER_OF(n)->events);
    return want;
}

/* Bring epoll in line with the waiters of a plain registration.  0 or an
 * errno. */
static int sync_interest(cc_loop *l, cc__fdreg *r)
{
    uint32_t want = wanted(r);
    struct epoll_event ev;

    if (want == r->mask)
        return 0;
    ev.events = want;
    ev.data.fd = r->fd;
    if (want == 0) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->fd, NULL); /* may be closed */
    } else if (r->mask == 0) {
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->fd, &ev) != 0) {
            if (errno != EEXIST)
                return errno;
            /* a stale registration of a reused fd number */
            if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, r->fd, &ev) != 0)
                return errno;
        }
    } else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, r->fd, &ev) != 0) {
        if (errno != ENOENT ||
            epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->fd, &ev) != 0)
            return errno;
    }
    r->mask = want;
    return 0;
}

static void unlink_waiter(cc__fdreg *r, fd_waiter *w)
{
    cc__list_remove(&r->waiters, &w->w.link); /* nothing if already off */
}

void cc__fd_ready(cc_loop *l, int fd, uint32_t events)
{
    cc__fdreg *r = (size_t)fd < l->nfds ? l->fds[fd] : NULL;
    int ready = (events & (EPOLLIN | EPOLLRDHUP) ? CC_READABLE : 0) |
                (events & EPOLLOUT ? CC_WRITABLE : 0);
    bool trouble = (events & (EPOLLERR | EPOLLHUP)) != 0;
    int taken = 0;

    if (r == NULL)
        return;
    if (r->watch != NULL) {
        r->watch(r->watch_arg, fd, trouble ? CC_READABLE | CC_WRITABLE : ready);
        return;
    }
    CC__LIST_EACH_SAFE(n, next, &r->waiters) {
        fd_waiter *w = FD_WAITER_OF(n);
        cc__wakeup wk;

        if (!trouble && !(w->events & ready))
            continue;
        w->revents = trouble ? w->events : (w->events & ready);
        unlink_waiter(r, w);
        if (cc__waiter_claim(&w->w, &wk)) {
            taken |= w->revents;
            cc__wakeup_fire(wk);
        }
    }
    if (r->key != 0) { /* kept: latch what nobody took; no epoll_ctl */
        r->ready |= (trouble ? CC_READABLE | CC_WRITABLE : ready) & ~taken;
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            r->ready |= CC__HANGUP; /* sticky: see cc__wait_fd_kept */
    } else
        (void)sync_interest(l, r);
}

void cc__fd_free_all(cc_loop *l)
{
    for (size_t i = 0; i < l->nfds; i++)
        free(l->fds[i]);
}

int cc__fd_select_add(int fd, cc__fd_waiter *w)
{
    cc_loop *l = cc__tls_loop;
    cc__fdreg *r;
    int rc;

    if (l == NULL)
        return EINVAL;
    r = reg_get(l, fd);
    if (r == NULL)
        return ENOMEM;
    if (r->watch != NULL) { /* a watch left on a since reused number */
        r->watch = NULL;
        r->mask = 0;
    }
    if (r->key != 0) { /* kept by its owner: register afresh, as a plain
                          wait does (see wait_in_loop) */
        r->key = 0;
        r->mask = 0;
        r->ready = 0;
    }
    w->revents = 0;
    cc__list_push_back(&r->waiters, &w->w.link);
    rc = sync_interest(l, r);
    if (rc != 0) {
        unlink_waiter(r, w);
        (void)sync_interest(l, r);
        return rc == EPERM ? 1 : rc;
    }
    return 0;
}

void cc__fd_select_remove(int fd, cc__fd_waiter *w)
{
    cc_loop *l = cc__tls_loop;
    cc__fdreg *r = l != NULL && (size_t)fd < l->nfds ? l->fds[fd] : NULL;

    if (r == NULL)
        return;
    unlink_waiter(r, w);
    if (r->key == 0)
        (void)sync_interest(l, r);
}

/* A plain thread: poll(). */
static int wait_fd_thread(int fd, int events, double timeout)
{
    struct pollfd p = {.fd = fd, .events = 0};
    int64_t deadline;

    if (events & CC_READABLE)
        p.events |= POLLIN;
    if (events & CC_WRITABLE)
        p.events |= POLLOUT;
    if (cc__deadline_for(timeout, "cc_wait_fd", &deadline) != 0)
        return -1;
    for (;;) {
        int64_t left = deadline == CC__NS_FOREVER ? -1
                                                  : deadline - cc__now_ns();
        int ms = left < 0 && deadline != CC__NS_FOREVER ? 0
                 : left < 0                             ? -1
                                : (int)((left + 999999) / 1000000);
        int n = poll(&p, 1, ms);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cc__errf(errno, "cc_wait_fd: poll: %s", strerror(errno));
        if (n == 0) {
            if (deadline != CC__NS_FOREVER && cc__now_ns() < deadline)
                continue;
            return timeout == 0 ? cc__err(EAGAIN, "cc_wait_fd: not ready")
                                : cc__err(ETIMEDOUT, "cc_wait_fd timed out");
        }
        if (p.revents & POLLNVAL)
            return cc__errf(EBADF, "cc_wait_fd: fd %d is not open", fd);
        if (p.revents & (POLLERR | POLLHUP))
            return events;
        return ((p.revents & POLLIN) ? CC_READABLE : 0) |
               ((p.revents & POLLOUT) ? CC_WRITABLE : 0);
    }
}

#define KEPT (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* Register a kept fd: once, edge-triggered, for both directions (a MOD,
 * like an ADD, reports an fd that is ready already).  0 or an errno. */
static int keep(cc_loop *l, cc__fdreg *r)
{
    struct epoll_event ev;

    ev.events = KEPT;
    ev.data.fd = r->fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->fd, &ev) != 0 &&
        (errno != EEXIST ||
         epoll_ctl(l->epfd, EPOLL_CTL_MOD, r->fd, &ev) != 0))
        return errno;
    r->mask = ev.events;
    r->ready = 0;
    return 0;
}

/*
 * A task's wait on its loop: key 0 for a plain wait (the registration goes
 * when the last waiter does), else a kept one.  The mask, or -1 recorded.
 */
static int wait_in_loop(cc_loop *l, int fd, int events, int64_t deadline,
                        uint64_t key)
{
    cc__fdreg *r = reg_get(l, fd);
    fd_waiter w;
    int rc;

    if (r == NULL)
        return cc__err(ENOMEM, "cc_wait_fd: out of memory");
    if (r->watch != NULL) { /* a watch left on a since reused number */
        r->watch = NULL;
        r->mask = 0;
    }
    if (r->key != key && r->key != 0) {
        /* Kept under another owner (or by one since gone): epoll may or
         * may not still hold it; registering afresh settles it (ADD meets
         * EEXIST, MOD meets ENOENT: both are handled). */
        r->mask = 0;
        r->ready = 0;
    }
    r->key = key;
    if (key != 0) {
        int got = r->ready & events;

        if (r->mask != KEPT) {
            rc = keep(l, r);
            if (rc != 0) {
                r->key = 0;
                if (rc == EPERM) /* a regular file: always ready */
                    return events;
                return cc__errf(rc, "cc_wait_fd: cannot watch fd %d: %s",
                                fd, strerror(rc));
            }
        }
        if (got != 0) { /* an edge came while nobody waited */
            r->ready &= ~got;
            return got | (r->ready & CC__HANGUP);
        }
    }
    cc__waiter_init(&w.w);
    w.events = events;
    w.revents = 0;
    cc__list_push_back(&r->waiters, &w.w.link);
    rc = key != 0 ? 0 : sync_interest(l, r);
    if (rc != 0) {
        unlink_waiter(r, &w);
        (void)sync_interest(l, r);
        if (rc == EPERM) /* a regular file: always ready, as poll() says */
            return events;
        return cc__errf(rc, "cc_wait_fd: cannot watch fd %d: %s", fd,
                        strerror(rc));
    }
    rc = cc__waiter_park(&w.w, deadline);
    unlink_waiter(r, &w);
    if (r->key == 0)
        (void)sync_interest(l, r);
    if (rc == 0)
        return w.revents | (r->key != 0 ? r->ready & CC__HANGUP : 0);
    if (rc == ECANCELED)
        return cc__err(ECANCELED, "cc_wait_fd: the task was cancelled");
    return cc__err(ETIMEDOUT, "cc_wait_fd timed out");
}

int cc_wait_fd(int fd, int events, double timeout)
{
    cc_loop *l = cc__tls_loop;
    int64_t deadline;

    if (fd < 0)
        return cc__errf(EBADF, "cc_wait_fd: bad fd %d", fd);
    if (events == 0 || (events & ~(CC_READABLE | CC_WRITABLE)) != 0)
        return cc__errf(EINVAL, "cc_wait_fd: events must be CC_READABLE "
                                "and/or CC_WRITABLE, got %d", events);
    if (cc__check_timeout(timeout, "cc_wait_fd") != 0)
        return -1;
    if (l == NULL || cc__ctx_get()->fiber == NULL || timeout == 0)
        return wait_fd_thread(fd, events, timeout); /* 0: just look */
    if (cc__cancel_pending())
        return cc__err(ECANCELED, "cc_wait_fd: the task is cancelled");
    if (cc__deadline_for(timeout, "cc_wait_fd", &deadline) != 0)
        return -1;
    return wait_in_loop(l, fd, events, deadline, 0);
}

int cc__wait_fd_kept(int fd, int events, int64_t deadline, uint64_t key)
{
    cc_loop *l = cc__tls_loop;

    if (cc__cancel_pending())
        return cc__err(ECANCELED, "cc_wait_fd: the task is cancelled");
    return wait_in_loop(l, fd, events, deadline, key);
}

void cc__fd_unkeep(int fd, uint64_t key)
{
    cc_loop *l = cc__tls_loop;
    cc__fdreg *r;

    if (l == NULL || fd < 0 || (size_t)fd >= l->nfds)
        return;
    r = l->fds[fd];
    if (r == NULL || r->key != key)
        return;
    r->key = 0;
    r->ready = 0;
    r->mask = 0;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    (void)sync_interest(l, r); /* plain waiters left: nothing, usually */
}

int cc__fd_watch(cc_loop *l, int fd, int events, cc__fd_watch_fn fn,
                 void *arg)
{
    cc__fdreg *r = reg_get(l, fd);
    struct epoll_event ev;
    int op;

    if (r == NULL)
        return cc__err(ENOMEM, "cc__fd_watch: out of memory");
    if (events == 0) {
        if (r->watch != NULL && r->mask != 0)
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        if (r->watch != NULL)
            r->mask = 0;
        r->watch = NULL;
        return 0;
    }
    if (r->watch == NULL) { /* take over whatever a closed file left */
        r->key = 0;
        r->ready = 0;
        r->mask = !cc__list_empty(&r->waiters) ? r->mask : 0;
    }
    ev.events = to_epoll(events);
    ev.data.fd = fd;
    if (ev.events == r->mask && r->watch != NULL) {
        r->watch_arg = arg;
        r->watch = fn;
        return 0;
    }
    op = r->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(l->epfd, op, fd, &ev) != 0)
            return cc__errf(errno, "cc__fd_watch: cannot watch fd %d: %s", fd,
                            strerror(errno));
    }
    r->mask = ev.events;
    r->watch = fn;
    r->watch_arg = arg;
    return 0;
}
