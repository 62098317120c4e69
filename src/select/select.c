/*
 * select.c - cc_select: perform exactly one of several queue gets and
 * puts, future completions and fd readinesses (select layer).
 *
 * A call is a loop of two steps.  The pass looks at the cases in a fresh
 * random order and performs the first that is ready, with the same
 * non-blocking step a plain put or get takes (internal/queue.h), so a
 * select competes with every other getter and putter on equal terms and
 * performs at most one case.  When nothing is ready, the caller registers
 * one waiter on every object at once: a stand-in (internal/waiter.h) in
 * each queue's getters or putters, a watcher on each future, a stand-in
 * in the loop's registration of each fd (from a task) or the poller
 * (from a thread, poller.h).  Claiming any of them claims the one waiter:
 * a compare-and-swap on its state word, so exactly one waker wins and the
 * others move on to the next waiter of their object.  Then it makes the
 * pass again (the announcement came first, so a change it misses wakes
 * it) and parks.
 *
 * A wake-up is only a hint.  When the select was woken through queue A but
 * performs case B (or gives up), the wake-up A's waker spent on it is
 * passed on to another waiter of A that A can now serve.  Before it
 * returns, every registration is undone under its object's lock and any
 * wake still owed to the caller (a claim that raced its own success) has
 * been taken, so nothing refers to the call's stack afterwards.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "concur/select.h"
#include "internal/aio.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/future.h"
#include "internal/queue.h"
#include "internal/waiter.h"
#include "select/poller.h"

/* Per case, while registered. */
typedef struct slot {
    union {
        cc__waiter standin;      /* GET, PUT */
        cc__watcher watcher;     /* FUTURE */
        cc__fd_waiter fdw;       /* FD, from a task */
    };
    bool linked;
} slot;

/* The call's working memory: on the stack for a few cases. */
enum { SMALL = 8 };

typedef struct sel {
    cc_select_case *cases;
    size_t n;
    size_t *order;               /* n: this pass's order */
    struct pollfd *pfds;         /* nfd fd cases, then one spare */
    int *pfd_of;                 /* n: each case's pollfd, or -1 */
    size_t nfd;
    slot *slots;                 /* n */
    bool in_task;
    cc__waiter w;
    cc__poller poller;
    bool polling;                /* w is adopted by the poller */
    bool woken;                  /* some wait of this call was claimed */
    int failure;                 /* errno of a recorded failure, kept
                                    across the clean-up that follows */
} sel;

/* ------------------------------------------------------------- randomness */

static _Thread_local uint64_t rng;

/* A uniform index below n (xorshift64*, Lemire's reduction). */
static size_t rnd_below(size_t n)
{
    uint64_t x = rng;

    if (x == 0)
        x = ((uint64_t)(uintptr_t)&rng * 0x9E3779B97F4A7C15u) ^
            (uint64_t)cc__now_ns() ^ 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return (size_t)(((x * 0x2545F4914F6CDD1Du >> 32) * (uint64_t)n) >> 32);
}

static void shuffle(size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below(i);
        size_t t = order[i - 1];

        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* -------------------------------------------------------------- checking */

static int check_case(const cc_select_case *c, size_t i)
{
    switch (c->kind) {
    case CC_SELECT_KIND_GET:
        if (c->item_out == NULL)
            return cc__errf(EINVAL, "cc_select: case %zu: item_out is NULL",
                            i);
        /* fall through */
    case CC_SELECT_KIND_PUT:
        if (!cc__queue_ok(c->queue))
            return cc__errf(EINVAL, "cc_select: case %zu: not a queue", i);
        return 0;
    case CC_SELECT_KIND_FUTURE:
        if (!cc__future_ok(c->future))
            return cc__errf(EINVAL, "cc_select: case %zu: not a future", i);
        return 0;
    case CC_SELECT_KIND_FD:
        if (c->fd < 0)
            return cc__errf(EINVAL, "cc_select: case %zu: bad fd %d", i,
                            c->fd);
        if (c->events == 0 ||
            (c->events & ~(CC_READABLE | CC_WRITABLE)) != 0)
            return cc__errf(EINVAL, "cc_select: case %zu: events must be "
                                    "CC_READABLE and/or CC_WRITABLE, got %d",
                            i, c->events);
        return 0;
    default:
        return cc__errf(EINVAL, "cc_select: case %zu: unknown kind %d", i,
                        c->kind);
    }
}

/* ------------------------------------------------------------------ pass */

/* The ready mask of a polled fd case; -1 with EBADF recorded when the fd
 * is not open. */
static int fd_ready(const cc_select_case *c, const struct pollfd *p)
{
    if (p->revents & POLLNVAL)
        return cc__errf(EBADF, "cc_select: fd %d is not open", c->fd);
    if (p->revents & (POLLERR | POLLHUP))
        return c->events;
    return ((p->revents & POLLIN) ? CC_READABLE : 0) |
           ((p->revents & POLLOUT) ? CC_WRITABLE : 0);
}

/* Try case i: 1 performed (or ready, for a future or an fd), 0 not ready,
 * -1 failed with the error recorded. */
static int try_case(sel *s, size_t i)
{
    cc_select_case *c = &s->cases[i];
    int rc;

    switch (c->kind) {
    case CC_SELECT_KIND_GET:
        rc = cc__queue_try_get(c->queue, c->item_out);
        break;
    case CC_SELECT_KIND_PUT:
        rc = cc__queue_try_put(c->queue, c->item);
        if (rc == ENOMEM)
            return cc__err(ENOMEM, "cc_select: out of memory growing the "
                                   "queue");
        break;
    case CC_SELECT_KIND_FUTURE:
        if (cc__future_state(c->future) < CC__F_FINISHED)
            return 0;
        c->err = 0;
        return 1;
    default: {
        int m = fd_ready(c, &s->pfds[s->pfd_of[i]]);

        if (m <= 0)
            return m;
        c->revents = m;
        c->err = 0;
        return 1;
    }
    }
    if (rc == EAGAIN)
        return 0;
    c->err = rc; /* 0, or ESHUTDOWN: a shut-down queue is ready */
    return 1;
}

/* One pass: the index of the case performed, -1 when none was ready, -2
 * on a failure (recorded). */
static long pass(sel *s)
{
    if (s->nfd > 0) {
        int n;

        for (size_t k = 0; k < s->nfd; k++)
            s->pfds[k].revents = 0;
        while ((n = poll(s->pfds, s->nfd, 0)) < 0 && errno == EINTR)
            ;
        if (n < 0) {
            s->failure = errno;
            (void)cc__errf(errno, "cc_select: poll: %s", strerror(errno));
            return -2;
        }
    }
    shuffle(s->order, s->n);
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        int r = try_case(s, i);

        if (r > 0)
            return (long)i;
        if (r < 0) {
            s->failure = errno;
            return -2;
        }
    }
    return -1;
}

/* ------------------------------------------------------------ registering */

static void notify_select(cc__watcher *w, cc_future *f)
{
    cc__wakeup wk;

    (void)f;
    if (cc__waiter_claim(w->data, &wk))
        cc__wakeup_fire(wk);
}

/*
 * Register s->w on every object.  0; 1 when a case turned out ready while
 * registering (nothing more is registered); -1 on a failure (recorded).
 * What was registered is undone by unregister() in every case.
 */
static int register_all(sel *s)
{
    for (size_t i = 0; i < s->n; i++) {
        cc_select_case *c = &s->cases[i];
        slot *sl = &s->slots[i];
        int rc;

        switch (c->kind) {
        case CC_SELECT_KIND_GET:
        case CC_SELECT_KIND_PUT:
            cc__waiter_init_standin(&sl->standin, &s->w);
            cc__queue_watch(c->queue, c->kind == CC_SELECT_KIND_PUT,
                            &sl->standin);
            sl->linked = true;
            break;
        case CC_SELECT_KIND_FUTURE:
            sl->watcher.notify = notify_select;
            sl->watcher.data = &s->w;
            if (!cc__future_watch(c->future, &sl->watcher))
                return 1; /* done already */
            sl->linked = true;
            break;
        default:
            if (!s->in_task)
                break; /* the poller watches it */
            cc__waiter_init_standin(&sl->fdw.w, &s->w);
            sl->fdw.events = c->events;
            rc = cc__fd_select_add(c->fd, &sl->fdw);
            if (rc == 1)
                return 1; /* a regular file: always ready */
            if (rc != 0) {
                s->failure = rc;
                return cc__errf(rc, "cc_select: cannot watch fd %d: %s",
                                c->fd, strerror(rc));
            }
            sl->linked = true;
            break;
        }
    }
    return 0;
}

static void unregister(sel *s)
{
    for (size_t i = 0; i < s->n; i++) {
        cc_select_case *c = &s->cases[i];
        slot *sl = &s->slots[i];

        if (!sl->linked)
            continue;
        sl->linked = false;
        if (c->kind == CC_SELECT_KIND_GET || c->kind == CC_SELECT_KIND_PUT)
            cc__queue_unwatch(c->queue, c->kind == CC_SELECT_KIND_PUT,
                              &sl->standin);
        else if (c->kind == CC_SELECT_KIND_FUTURE)
            cc__future_unwatch(c->future, &sl->watcher);
        else
            cc__fd_select_remove(c->fd, &sl->fdw);
    }
}

static int park(sel *s, int64_t deadline)
{
    if (s->polling)
        return cc__poller_park(&s->poller, &s->w, deadline);
    return cc__waiter_park(&s->w, deadline);
}

/* Give the waiter up without having parked it; when a waker claimed it
 * first, take the wake it owes us (a task's post, the poller's eventfd). */
static void settle(sel *s)
{
    if (cc__waiter_give_up(&s->w, CC__W_PARKED, CC__W_CANCELLED))
        return;
    s->woken = true;
    (void)park(s, CC__NS_FOREVER); /* returns at once for a thread */
}

/* A wake-up taken but not used: hand it on (see the top). */
static void pass_on(sel *s, long fired)
{
    if (!s->woken)
        return;
    for (size_t i = 0; i < s->n; i++) {
        cc_select_case *c = &s->cases[i];

        if ((long)i != fired && (c->kind == CC_SELECT_KIND_GET ||
                                 c->kind == CC_SELECT_KIND_PUT))
            cc__queue_pass_on(c->queue, c->kind == CC_SELECT_KIND_PUT);
    }
}

/* ------------------------------------------------------------------- wait */

/* Wait until a case is performed, until the deadline: its index, or -1
 * with errno. */
static int wait_loop(sel *s, int64_t deadline)
{
    long r;

    for (;;) {
        int prc, reg;

        cc__waiter_init(&s->w);
        if (s->polling)
            cc__poller_adopt(&s->poller, &s->w);
        reg = register_all(s);
        r = reg < 0 ? -2 : pass(s);
        if (reg != 0 || r != -1) {
            settle(s);
            unregister(s);
        } else {
            prc = park(s, deadline);
            unregister(s);
            if (prc == 0) {
                s->woken = true;
            } else {
                /* One last look at the deadline (not when cancelled: then
                 * nothing may be performed). */
                r = prc == ETIMEDOUT ? pass(s) : -1;
                if (r >= 0)
                    break;
                pass_on(s, -1);
                if (r == -2) {
                    errno = s->failure;
                    return -1;
                }
                if (prc == ECANCELED)
                    return cc__err(ECANCELED, "cc_select: the task was "
                                              "cancelled");
                if (prc == ETIMEDOUT)
                    return cc__err(ETIMEDOUT, "cc_select timed out: no "
                                              "case became ready");
                return cc__errf(prc, "cc_select: poll: %s", strerror(prc));
            }
        }
        if (r >= 0 || r == -2)
            break;
        r = pass(s); /* woken, or a case was ready at registration */
        if (r != -1)
            break;
    }
    pass_on(s, r >= 0 ? r : -1);
    if (r >= 0)
        return (int)r;
    errno = s->failure; /* r == -2: the clean-up may have touched errno */
    return -1;
}

/* wait_loop with the deadline and, for a thread with fd cases, the
 * poller around it. */
static int wait_cases(sel *s, double timeout)
{
    int64_t deadline;
    int rc;

    if (cc__checkpoint("cc_select") != 0 ||
        cc__deadline_for(timeout, "cc_select", &deadline) != 0)
        return -1;
    if (!s->in_task && s->nfd > 0) {
        if (cc__poller_init(&s->poller, s->pfds, s->nfd) != 0)
            return -1;
        s->polling = true;
    }
    rc = wait_loop(s, deadline);
    if (s->polling) {
        int e = errno;

        cc__poller_fini(&s->poller);
        errno = e;
    }
    return rc;
}

/* --------------------------------------------------------------- the call */

static int run(sel *s, double timeout)
{
    long r;

    for (size_t i = 0; i < s->n; i++) {
        cc_select_case *c = &s->cases[i];

        s->pfd_of[i] = -1;
        if (c->kind == CC_SELECT_KIND_FD) {
            struct pollfd *p = &s->pfds[s->nfd];

            p->fd = c->fd;
            p->events = (short)(((c->events & CC_READABLE) ? POLLIN : 0) |
                                ((c->events & CC_WRITABLE) ? POLLOUT : 0));
            s->pfd_of[i] = (int)s->nfd++;
        }
    }
    r = pass(s);
    if (r >= 0)
        return (int)r;
    if (r == -2)
        return -1;
    if (timeout == 0)
        return cc__err(EAGAIN, "cc_select: no case is ready");
    return wait_cases(s, timeout);
}

int cc_select(cc_select_case *cases, size_t n, double timeout)
{
    size_t order[SMALL];
    int pfd_of[SMALL];
    struct pollfd pfds[SMALL + 1];
    slot slots[SMALL];
    void *heap = NULL;
    sel s;
    int rc;

    if (cases == NULL)
        return cc__err(EINVAL, "cc_select: cases is NULL");
    if (n == 0)
        return cc__err(EINVAL, "cc_select: no cases");
    for (size_t i = 0; i < n; i++)
        if (check_case(&cases[i], i) != 0)
            return -1;
    if (cc__check_timeout(timeout, "cc_select") != 0)
        return -1;
    memset(&s, 0, sizeof(s));
    s.cases = cases;
    s.n = n;
    s.in_task = cc__fiber_current() != NULL;
    if (n <= SMALL) {
        s.order = order;
        s.pfd_of = pfd_of;
        s.pfds = pfds;
        s.slots = slots;
    } else {
        char *p;

        heap = calloc(1, n * (sizeof(size_t) + sizeof(int) +
                              sizeof(struct pollfd) + sizeof(slot)) +
                             sizeof(struct pollfd));
        if (heap == NULL)
            return cc__err(ENOMEM, "cc_select: out of memory");
        p = heap;
        s.slots = (slot *)(void *)p;
        p += n * sizeof(slot);
        s.pfds = (struct pollfd *)(void *)p;
        p += (n + 1) * sizeof(struct pollfd);
        s.order = (size_t *)(void *)p;
        p += n * sizeof(size_t);
        s.pfd_of = (int *)(void *)p;
    }
    for (size_t i = 0; i < n; i++)
        s.slots[i].linked = false;
    rc = run(&s, timeout);
    free(heap);
    return rc;
}
