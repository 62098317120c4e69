/*
 * concur/queue.h - bounded FIFO, LIFO and priority queues with task
 * tracking and shutdown: Python's `queue` module, for C.
 *
 * A queue carries `void *` items.  put hands an item over; a successful get
 * hands it to the receiver, who then owns it.  maxsize > 0 bounds the queue:
 * put blocks while it is full (back-pressure); maxsize 0 means unbounded.
 *
 * Defaults (see concur/base.h): thread-safe; every blocking call takes
 * `double timeout` last and is bounded by the caller's deadline scope; EINVAL
 * for NULL or a foreign handle.
 *
 * Shutdown follows Python 3.13: after cc_queue_shutdown(q, false) put fails
 * with ESHUTDOWN, get keeps draining what is queued and fails with ESHUTDOWN
 * once empty; blocked putters and (on an empty queue) getters wake up at
 * once.  With immediate = true the queued items are also discarded (given to
 * the item destructor, if one was set, and counted done for join).
 */
#ifndef CONCUR_QUEUE_H
#define CONCUR_QUEUE_H

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A thread-safe FIFO/LIFO/priority queue; cc_queue_new, cc_queue_free. */
typedef struct cc_queue cc_queue;

/* Kinds of queue. */
enum {
    CC_FIFO = 0,     /* first in, first out (queue.Queue) */
    CC_LIFO = 1,     /* last in, first out (queue.LifoQueue) */
    CC_PRIORITY = 2, /* smallest first (queue.PriorityQueue) */
};

/* Orders two items of a priority queue: < 0 when a comes out before b. */
typedef int (*cc_cmp_fn)(const void *a, const void *b);

/*
 * cc_queue_new - a queue of `kind` holding at most `maxsize` items (0: no
 * limit).  A CC_PRIORITY queue made here compares the items' pointer values
 * as unsigned integers (handy for small integers cast to pointers); use
 * cc_queue_new_priority for a comparator.  Returns NULL with EINVAL (unknown
 * kind) or ENOMEM.
 */
CC_API cc_queue *cc_queue_new(size_t maxsize, int kind);

/*
 * cc_queue_new_priority - a priority queue ordered by cmp (NULL: pointer
 * values).  Items that compare equal come out in the order they were put.
 */
CC_API cc_queue *cc_queue_new_priority(size_t maxsize, cc_cmp_fn cmp);

/*
 * cc_queue_set_item_free - give the queue a destructor for items it has to
 * drop: those discarded by an immediate shutdown and those still queued when
 * the queue is freed.  Without one, such items are simply forgotten (the
 * caller must drain the queue first if they own memory).  Set it before use.
 */
CC_API int cc_queue_set_item_free(cc_queue *q, void (*item_free)(void *item));

/*
 * cc_queue_put - add an item, waiting up to `timeout` while the queue is full.
 *
 * Returns 0: the queue now holds the item (and counts one more unfinished
 * task for join).  Returns -1 with the item NOT taken (the caller still owns
 * it) and errno:
 *   EAGAIN     full and timeout == 0       ETIMEDOUT  still full at the deadline
 *   ESHUTDOWN  the queue is shut down      EINVAL     q is NULL or not a queue
 */
CC_API int cc_queue_put(cc_queue *q, void *item, double timeout);

/*
 * cc_queue_get - take the next item out, waiting up to `timeout` while the
 * queue is empty.
 *
 * Returns 0 and stores the item in *item; the caller now owns it.
 * Returns -1, leaves the queue unchanged and sets errno:
 *   EAGAIN     empty and timeout == 0       ETIMEDOUT  nothing arrived in time
 *   ESHUTDOWN  shut down and drained        EINVAL     q or item is NULL
 */
CC_API int cc_queue_get(cc_queue *q, void **item, double timeout);

/*
 * cc_queue_task_done - tell the queue that the work on one item taken out of
 * it is finished.  When every item ever put has been marked done, join()ers
 * wake up.  Returns -1 with EINVAL when called more times than items were put
 * ("task_done() called too many times").
 */
CC_API int cc_queue_task_done(cc_queue *q);

/*
 * cc_queue_join - wait until every item put has been marked done (or
 * discarded by an immediate shutdown).  Returns 0, or -1 with EAGAIN
 * (timeout 0 and work unfinished), ETIMEDOUT, EINVAL.
 */
CC_API int cc_queue_join(cc_queue *q, double timeout);

/*
 * cc_queue_shutdown - shut the queue down (see the top of this file); wakes
 * every blocked putter and getter, and with immediate also every joiner.
 * Calling it again is allowed (a later immediate call still discards).
 * Returns 0, or -1 with EINVAL.
 */
CC_API int cc_queue_shutdown(cc_queue *q, bool immediate);

/* Snapshots. */

/* How many items the queue holds now; 0 for a bad handle. */
CC_API size_t cc_queue_size(cc_queue *q);

/* True when the queue holds no item (also for a bad handle: size 0). */
CC_API bool cc_queue_empty(cc_queue *q);

/* True when a bounded queue holds maxsize items; never when unbounded,
 * false for a bad handle. */
CC_API bool cc_queue_full(cc_queue *q);

/* The bound it was made with (0: unbounded, or a bad handle). */
CC_API size_t cc_queue_maxsize(cc_queue *q);

/* True once cc_queue_shutdown has been called; false for a bad handle. */
CC_API bool cc_queue_is_shutdown(cc_queue *q);

/* Unfinished tasks for join: items put minus cc_queue_task_done calls (and
 * minus items discarded by an immediate shutdown); 0 for a bad handle. */
CC_API size_t cc_queue_unfinished(cc_queue *q);

/*
 * cc_queue_free - free the queue; items still in it go to the item
 * destructor, if set.  Nobody may be using the queue.  NULL does nothing.
 */
CC_API void cc_queue_free(cc_queue *q);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_QUEUE_H */
