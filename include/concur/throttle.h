/*
 * concur/throttle.h - a token-bucket rate limiter (the seeds' Throttle).
 *
 * Tokens flow in continuously at `rate` per second.  The bucket starts
 * empty and never holds more than `burst` tokens, so no start-up or idle-time
 * burst can exceed the limit: over any interval of t seconds at most
 * rate * t + burst tokens are granted.
 *
 * Thread-safe.  acquire() sleeps exactly until its tokens are due (no
 * sleep-and-poll loop); waiters are served in arrival order, each reserving
 * its tokens as it starts to wait.
 */
#ifndef CONCUR_THROTTLE_H
#define CONCUR_THROTTLE_H

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A token-bucket rate limiter; cc_throttle_new, cc_throttle_free. */
typedef struct cc_throttle cc_throttle;

/*
 * cc_throttle_new - a bucket filling at rate_per_s tokens per second and
 * holding at most `burst` (0: one second's worth, burst = rate, as in the
 * seed).  Returns NULL with EINVAL (rate not > 0 and finite, burst < 0 or
 * not finite) or ENOMEM.
 */
CC_API cc_throttle *cc_throttle_new(double rate_per_s, double burst);

/*
 * cc_throttle_consume - take n tokens if the bucket holds them now, without
 * waiting.  Returns 1 when they were granted, 0 when not (nothing is taken),
 * -1 with EINVAL (n not > 0, or a bad handle).  (The seed's consume() returns
 * the amount granted; with a double amount, 1/0 is the C spelling.)
 */
CC_API int cc_throttle_consume(cc_throttle *t, double n);

/*
 * cc_throttle_acquire - take n tokens, waiting exactly as long as they need
 * to come in, up to `timeout`.
 *
 * Returns 0 once granted.  Returns -1, with nothing taken, and errno:
 *   EAGAIN     timeout == 0 and the tokens are not there now
 *   ETIMEDOUT  the tokens would not be due before the deadline (the call
 *              waits until the deadline first, like every timed wait)
 *   EINVAL     n not > 0, n > burst (it could never be granted), bad handle
 */
CC_API int cc_throttle_acquire(cc_throttle *t, double n, double timeout);

/* Tokens in the bucket now (negative while waiters hold reservations). */
CC_API double cc_throttle_tokens(cc_throttle *t);

/* The rate, tokens per second; 0 for a bad handle. */
CC_API double cc_throttle_rate(cc_throttle *t);

/* The bucket's capacity (the rate when made with burst 0); 0 for a bad
 * handle. */
CC_API double cc_throttle_burst(cc_throttle *t);

/* Free the throttle; NULL does nothing.  No waiter may remain. */
CC_API void cc_throttle_free(cc_throttle *t);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_THROTTLE_H */
