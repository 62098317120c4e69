/*
 * concur/select.h - wait on several operations at once and perform exactly
 * one that is ready: Go's select, Python's asyncio.wait(FIRST_COMPLETED)
 * over queue gets.
 *
 * The operations are cases: a get from a cc_queue, a put into one, a
 * future becoming done, an fd becoming readable or writable.  cc_select
 * looks at them in a random order, performs the first one that is ready
 * and returns its index; when none is, it waits (up to a timeout) until
 * one becomes ready and performs that one.  Exactly one case has an
 * effect: a get that fired has taken exactly one item, which now belongs
 * to the caller; a put that fired has put exactly one; every other case
 * has done nothing (its item stays the caller's, its queue is untouched).
 *
 *     void *job, *msg;
 *     cc_select_case cs[] = {
 *         CC_SELECT_GET(jobs, &job),
 *         CC_SELECT_GET(control, &msg),
 *     };
 *     switch (cc_select(cs, 2, 1.0)) {
 *     case 0:  run(job); break;
 *     case 1:  obey(msg); break;
 *     default: ... errno: ETIMEDOUT, ECANCELED, EINVAL ...
 *     }
 *
 * When several cases are ready, each is chosen with equal probability (as
 * Go does), so a busy queue cannot starve the others.
 *
 * A shut-down queue counts as ready: a get on a queue that is shut down
 * and drained, or a put on a queue that is shut down, fires with its
 * case's `err` set to ESHUTDOWN and nothing taken or put -- as a receive
 * from a closed channel is ready in Go (and reports ok == false).  Check
 * `err` of the case that fired before using its item.
 *
 * Defaults (see concur/base.h): thread-safe; cc_select is a blocking call
 * that takes `double timeout` last, is bounded by the caller's deadline
 * scope, and from a task suspends only that task (fd cases then wait in
 * the task's loop's epoll; a plain thread polls them together with its
 * wake-up eventfd).
 */
#ifndef CONCUR_SELECT_H
#define CONCUR_SELECT_H

#include "concur/aio.h"
#include "concur/base.h"
#include "concur/future.h"
#include "concur/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a cc_select_case waits for; its `kind`. */
enum {
    CC_SELECT_KIND_GET = 1,    /* take an item from a queue into *item_out */
    CC_SELECT_KIND_PUT = 2,    /* put `item` into a queue */
    CC_SELECT_KIND_FUTURE = 3, /* a future becomes done (nothing is taken) */
    CC_SELECT_KIND_FD = 4,     /* fd becomes ready for `events` */
};

/*
 * One case of a cc_select.  Build it with CC_SELECT_GET, CC_SELECT_PUT,
 * CC_SELECT_FUTURE or CC_SELECT_FD; cc_select reads the inputs and writes
 * the outputs (`err`, `revents`) of the case that fired only.  The caller
 * owns the array; the queues, futures and fds it names must stay alive for
 * the call.
 */
typedef struct cc_select_case {
    int kind;             /* CC_SELECT_KIND_*: what this case waits for */
    cc_queue *queue;      /* GET, PUT: the queue */
    void **item_out;      /* GET: where the item taken goes (not NULL) */
    void *item;           /* PUT: the item to put (still the caller's unless
                             this case fired with err 0) */
    cc_future *future;    /* FUTURE: the future (not freed or consumed) */
    int fd;               /* FD: the descriptor */
    int events;           /* FD: CC_READABLE and/or CC_WRITABLE */
    int revents;          /* FD, out: what was ready (both on an error or a
                             hang-up) */
    int err;              /* out: 0 when the case was performed, ESHUTDOWN
                             when its queue is shut down (see the top) */
} cc_select_case;

/* A case that takes an item from queue q into *out (out: a void **). */
#define CC_SELECT_GET(q, out)                                                \
    ((cc_select_case){.kind = CC_SELECT_KIND_GET, .queue = (q),              \
                      .item_out = (out), .fd = -1})

/* A case that puts value (a void *) into queue q. */
#define CC_SELECT_PUT(q, value)                                              \
    ((cc_select_case){.kind = CC_SELECT_KIND_PUT, .queue = (q),              \
                      .item = (value), .fd = -1})

/* A case that fires when future f is done (finished, failed or
 * cancelled); the outcome stays in f, for cc_future_result. */
#define CC_SELECT_FUTURE(f)                                                  \
    ((cc_select_case){.kind = CC_SELECT_KIND_FUTURE, .future = (f),        \
                      .fd = -1})

/* A case that fires when descriptor fdnum is ready for mask (CC_READABLE
 * and/or CC_WRITABLE); what was ready goes to the case's revents. */
#define CC_SELECT_FD(fdnum, mask)                                            \
    ((cc_select_case){.kind = CC_SELECT_KIND_FD, .fd = (fdnum),              \
                      .events = (mask)})

/*
 * cc_select - perform exactly one of the n cases, the first to be ready,
 * waiting up to `timeout` seconds for one (CC_FOREVER: no limit; 0: do not
 * wait).
 *
 * Blocks the calling thread, or from a task suspends only the task.  Among
 * cases ready at the same time one is chosen uniformly at random.
 *
 * Returns the index of the case that fired.  For a GET with err 0 the item
 * is in *item_out and belongs to the caller; for a PUT with err 0 the queue
 * holds the item; a GET or PUT with err ESHUTDOWN found its queue shut down
 * (drained, for a get) and did nothing; a FUTURE's future is done; an FD's
 * revents says what is ready.  The other cases had no effect.
 *
 * Returns -1 with no case performed and errno:
 *   EAGAIN     timeout 0 and no case ready
 *   ETIMEDOUT  no case became ready in time (or the deadline scope's end)
 *   ECANCELED  the calling task was cancelled
 *   EINVAL     cases NULL, n 0, a bad kind, a NULL or freed queue or
 *              future, a GET without item_out, an FD case with fd < 0 or
 *              events not CC_READABLE/CC_WRITABLE, or a NaN timeout
 *   ENOMEM     out of memory (to wait, or for an unbounded queue's put)
 *   other      the errno of poll(), eventfd() or epoll_ctl() (EBADF: an fd
 *              that is not open)
 * cc_errmsg() names the cause.
 */
CC_API int cc_select(cc_select_case *cases, size_t n, double timeout);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_SELECT_H */
