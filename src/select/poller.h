/*
 * poller.h - how a plain thread waits in cc_select when fds are among the
 * cases (select layer, private).
 *
 * A thread normally sleeps on its waiter's futex, which no fd can wake.  A
 * select with fd cases in a thread parks its waiter as a *poller fiber*
 * instead: a minimal fiber (internal/fiber.h) whose context the waiter
 * names, so that a waker's claim is followed, as for every fiber, by the
 * fiber's wake -- here a write to an eventfd.  The poller's suspend
 * sleeps in poll() on the case's fds plus that eventfd: the eventfd says a
 * waker claimed the waiter; a ready fd lets the poller claim it itself;
 * the deadline gives it up.  After any claim by a waker the poller waits
 * for the wake that follows, so nothing touches the poller once the
 * select has returned.
 */
#ifndef CC_SELECT_POLLER_H
#define CC_SELECT_POLLER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/ctx.h"
#include "internal/fiber.h"
#include "internal/waiter.h"

typedef struct cc__poller {
    cc__fiber fiber;         /* ops: the poller's suspend and wake */
    cc__ctx ctx;             /* what the waiter names: fiber = &fiber */
    int efd;                 /* the eventfd the wake writes */
    struct pollfd *pfds;     /* npfds fd cases, then room for the eventfd */
    size_t npfds;
    int err;                 /* poll()'s errno when it failed, else 0 */
} cc__poller;

/* Make the eventfd; pfds has npfds + 1 entries (the fds' filled in).
 * 0, or -1 with the error recorded. */
int cc__poller_init(cc__poller *p, struct pollfd *pfds, size_t npfds);
void cc__poller_fini(cc__poller *p);

/* Point w (fresh from cc__waiter_init) at the poller: a waker's claim of
 * w (or of a stand-in for it) then writes the eventfd. */
void cc__poller_adopt(cc__poller *p, cc__waiter *w);

/* cc__waiter_park for an adopted waiter: 0 (claimed: by a waker or by the
 * poller for a ready fd), ETIMEDOUT, or poll()'s errno. */
int cc__poller_park(cc__poller *p, cc__waiter *w, int64_t deadline);

#endif
