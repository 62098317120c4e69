/*
 * doorbell.c - the pipe-and-count wake-up of process-shared objects
 * (process layer).  The protocol and why it loses no wake-up are in
 * doorbell.h.  Nothing here is guarded by a lock: the count is atomic and
 * the pipe is the kernel's.
 */
#include <fcntl.h>
#include <unistd.h>

#include "concur/aio.h"
#include "internal/clock.h"
#include "internal/waiter.h"
#include "process/doorbell.h"

int cc__doorbell_init(cc__doorbell *d, cc__doorbell_shared *sh)
{
    int fds[2];

    d->rfd = d->wfd = -1;
    d->sh = sh;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return errno;
    d->rfd = fds[0];
    d->wfd = fds[1];
    return 0;
}

void cc__doorbell_fini(cc__doorbell *d)
{
    if (d->rfd >= 0)
        close(d->rfd);
    if (d->wfd >= 0)
        close(d->wfd);
    d->rfd = d->wfd = -1;
}

void cc__doorbell_ring(cc__doorbell *d, uint32_t n)
{
    static const char bytes[256];
    int64_t waiting;
    int64_t want;

    atomic_thread_fence(memory_order_seq_cst);
    waiting = atomic_load_explicit(&d->sh->waiters, memory_order_relaxed);
    if (waiting == 0)
        return; /* the fast path: nobody waits */
    /* Bytes already pending wake as many waiters (see doorbell.h). */
    want = waiting - atomic_load_explicit(&d->sh->pending,
                                          memory_order_relaxed);
    if (want > waiting)
        want = waiting; /* pending is low after a death: stay bounded */
    if (want < (int64_t)n)
        n = want > 0 ? (uint32_t)want : 0;
    while (n > 0) {
        size_t chunk = n < sizeof(bytes) ? n : sizeof(bytes);
        ssize_t w = write(d->wfd, bytes, chunk);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* EAGAIN: the pipe is full of pending wake-ups */
        /* Written first, counted after: pending never exceeds the bytes. */
        atomic_fetch_add_explicit(&d->sh->pending, (int32_t)w,
                                  memory_order_seq_cst);
        n -= (uint32_t)w;
    }
}

/* Count the caller in; the fence orders the increment before the re-check
 * that follows (see doorbell.h). */
static void enter(cc__doorbell *d)
{
    atomic_fetch_add_explicit(&d->sh->waiters, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

static void leave(cc__doorbell *d)
{
    atomic_fetch_sub_explicit(&d->sh->waiters, 1, memory_order_seq_cst);
}

/*
 * Wait until the pipe is readable or the deadline passes, then take one
 * byte if one is still there.  0 (re-check now), ETIMEDOUT, ECANCELED or
 * the errno of poll/epoll.
 */
static int sleep_on_pipe(cc__doorbell *d, int64_t deadline)
{
    double timeout = CC_FOREVER;
    char byte;
    ssize_t n;

    if (deadline != CC__NS_FOREVER) {
        int64_t left = deadline - cc__now_ns();

        if (left <= 0)
            return ETIMEDOUT;
        timeout = (double)left / 1e9;
    }
    if (cc_wait_fd(d->rfd, CC_READABLE, timeout) < 0)
        return errno == EAGAIN ? ETIMEDOUT : errno;
    /* Uncounted first, read after: pending never exceeds the bytes. */
    atomic_fetch_sub_explicit(&d->sh->pending, 1, memory_order_seq_cst);
    do
        n = read(d->rfd, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) /* another waiter took the byte first */
        atomic_fetch_add_explicit(&d->sh->pending, 1, memory_order_seq_cst);
    /* Our wake-up or another's: re-checking is right either way. */
    return 0;
}

int cc__doorbell_wait(cc__doorbell *d, int (*try_op)(void *arg), void *arg,
                      int64_t deadline)
{
    int rc;

    for (unsigned round = 0; cc__spin_round(round, deadline); round++) {
        rc = try_op(arg);
        if (rc != EAGAIN)
            return rc;
    }
    enter(d);
    for (;;) {
        int wrc;

        rc = try_op(arg);
        if (rc != EAGAIN)
            break;
        wrc = sleep_on_pipe(d, deadline);
        if (wrc != 0) {
            leave(d);
            rc = try_op(arg); /* one last try at the deadline */
            return rc == EAGAIN ? wrc : rc;
        }
    }
    leave(d);
    return rc;
}
