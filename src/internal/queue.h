/*
 * queue.h - what cc_select needs of a cc_queue (internal; layer queue).
 *
 * A select tries a queue case with the same non-blocking step a plain put
 * or get takes first, and waits on several queues at once by linking a
 * stand-in waiter (internal/waiter.h) into each queue's wait queue under
 * the queue's announce protocol (src/queue/queue.c): the stand-in is
 * announced in the getters' or putters' count, so a change made after the
 * announcement wakes a waiter of that side, and claiming the stand-in
 * claims the select's own waiter.  The queue never hands an item to a
 * waiter: a wake-up only says "look again", and the woken side takes or
 * puts through the same atomic step as everybody else.  That is what
 * keeps a select exactly-once: only the case it performs has an effect.
 */
#ifndef CC_INTERNAL_QUEUE_H
#define CC_INTERNAL_QUEUE_H

#include <stdbool.h>

#include "concur/queue.h"
#include "internal/waiter.h"

/* True when q is a live queue. */
bool cc__queue_ok(const cc_queue *q);

/*
 * One non-blocking get: 0 with *item taken (and a waiting putter woken),
 * EAGAIN (empty) or ESHUTDOWN (shut down and drained).  Records no error.
 */
int cc__queue_try_get(cc_queue *q, void **item);

/*
 * One non-blocking put: 0 with the item in (and a waiting getter woken),
 * EAGAIN (full), ESHUTDOWN or ENOMEM.  Records no error.
 */
int cc__queue_try_put(cc_queue *q, void *item);

/*
 * Link the stand-in s into q's getters (put false) or putters (put true)
 * and announce it, with the fence that orders the announcement before the
 * caller's next try.  Undo with cc__queue_unwatch.
 */
void cc__queue_watch(cc_queue *q, bool put, cc__waiter *s);

/* Unlink s (if no waker did) and withdraw its announcement. */
void cc__queue_unwatch(cc_queue *q, bool put, cc__waiter *s);

/*
 * Pass a wake-up on: when q could serve a waiter of that side now (an
 * item or shutdown for getters, room or shutdown for putters) and one is
 * waiting, wake it.  For a select that was woken through q but performed
 * another case, so that the wake-up it took is not lost.
 */
void cc__queue_pass_on(cc_queue *q, bool put);

#endif
