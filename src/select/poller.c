/*
 * poller.c - the poller fiber: a plain thread's wait in cc_select over fds
 * and wake-ups at once (select layer; see poller.h).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal/clock.h"
#include "internal/error.h"
#include "select/poller.h"

#define POLLER_OF(f) CC__CONTAINER_OF(f, cc__poller, fiber)

/* Take the one wake that follows a waker's claim. */
static void absorb_wake(cc__poller *p)
{
    uint64_t n;

    while (read(p->efd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
}

/* The fiber's wake: any thread, after claiming the poller's waiter. */
static void poller_wake(cc__fiber *f)
{
    cc__poller *p = POLLER_OF(f);
    uint64_t one = 1;

    while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static int poll_ms(int64_t deadline)
{
    int64_t left;

    if (deadline == CC__NS_FOREVER)
        return -1;
    left = deadline - cc__now_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000; /* ms, rounded up */
    return left > INT_MAX ? INT_MAX : (int)left; /* longer: poll again */
}

/*
 * The fiber's suspend: returns once w has left PARKED and no wake is still
 * owed to the poller.
 */
static void poller_suspend(cc__fiber *f, cc__waiter *w, int64_t deadline)
{
    cc__poller *p = POLLER_OF(f);
    struct pollfd *ev = &p->pfds[p->npfds];

    ev->fd = p->efd;
    ev->events = POLLIN;
    for (;;) {
        int n;
        bool ready = false;
        cc__wakeup wk;

        ev->revents = 0;
        n = poll(p->pfds, p->npfds + 1, poll_ms(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            p->err = errno;
            if (!cc__waiter_give_up(w, CC__W_PARKED, CC__W_TIMEDOUT))
                absorb_wake(p);
            return;
        }
        if (ev->revents & POLLIN) { /* a waker claimed w and woke us */
            absorb_wake(p);
            return;
        }
        for (size_t i = 0; i < p->npfds && n > 0; i++)
            if (p->pfds[i].revents != 0)
                ready = true;
        if (ready) {
            /* An fd is ready: claim w ourselves (nobody owes us a wake
             * then), unless a waker did first. */
            if (!cc__waiter_claim(w, &wk))
                absorb_wake(p);
            return;
        }
        if (deadline != CC__NS_FOREVER && cc__now_ns() >= deadline) {
            if (!cc__waiter_give_up(w, CC__W_PARKED, CC__W_TIMEDOUT))
                absorb_wake(p);
            return;
        }
    }
}

static const cc__fiber_ops poller_ops = {poller_suspend, poller_wake};

int cc__poller_init(cc__poller *p, struct pollfd *pfds, size_t npfds)
{
    memset(p, 0, sizeof(*p));
    p->efd = eventfd(0, EFD_CLOEXEC);
    if (p->efd < 0)
        return cc__errf(errno, "cc_select: eventfd: %s", strerror(errno));
    cc__fiber_init(&p->fiber, &poller_ops);
    p->ctx.fiber = &p->fiber;
    p->pfds = pfds;
    p->npfds = npfds;
    return 0;
}

void cc__poller_fini(cc__poller *p)
{
    close(p->efd);
}

void cc__poller_adopt(cc__poller *p, cc__waiter *w)
{
    w->ctx = &p->ctx;
}

int cc__poller_park(cc__poller *p, cc__waiter *w, int64_t deadline)
{
    uint32_t s;

    if (deadline != CC__NS_FOREVER && deadline <= cc__now_ns() &&
        cc__waiter_give_up(w, CC__W_PARKED, CC__W_TIMEDOUT))
        return ETIMEDOUT;
    p->err = 0;
    p->fiber.ops->suspend(&p->fiber, w, deadline);
    s = atomic_load_explicit(&w->state, memory_order_acquire);
    CC__ASSERT(s == CC__W_WOKEN || s == CC__W_TIMEDOUT);
    if (s == CC__W_WOKEN) {
        /* helgrind and DRD: the waker's writes happen before this, as
         * for any woken waiter (waiter.c) */
        CC__VG_ACQUIRE(w);
        return 0;
    }
    return p->err != 0 ? p->err : ETIMEDOUT;
}
