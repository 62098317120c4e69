/*
 * throttle.c - cc_throttle, the token bucket (throttle layer).
 *
 * State (guarded by `mu`): `tokens` at time `stamp`.  Refilling adds
 * (now - stamp) * rate, capped at burst.  acquire() that cannot be served at
 * once reserves its tokens by driving `tokens` negative, and computes the
 * moment the balance is back at zero: that moment is exactly when its tokens
 * have come in, with every earlier reservation served first.  It then sleeps
 * until then on a private waiter nobody wakes (a timed park), so there is no
 * polling and no thundering herd.  A reservation that cannot be due before
 * the caller's deadline is never made.
 */
#include <math.h>
#include <stdlib.h>

#include "concur/throttle.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define THROTTLE_MAGIC 0x54485254u /* "THRT" */

struct cc_throttle {
    uint32_t magic;   /* THROTTLE_MAGIC while alive */
    double rate;      /* tokens per second, > 0 */
    double burst;     /* the most the bucket holds, > 0 */
    cc__mutex mu;     /* guards tokens and stamp */
    double tokens;    /* balance at `stamp`; < 0 while reserved */
    int64_t stamp;    /* monotonic ns of the last refill */
};

static bool throttle_ok(const cc_throttle *t)
{
    return t != NULL && t->magic == THROTTLE_MAGIC;
}

cc_throttle *cc_throttle_new(double rate_per_s, double burst)
{
    cc_throttle *t;

    if (!(rate_per_s > 0) || isinf(rate_per_s))
        return cc__errf_null(EINVAL, "throttle: rate must be > 0 and finite, "
                                     "got %g", rate_per_s);
    if (!(burst >= 0) || isinf(burst))
        return cc__errf_null(EINVAL, "throttle: burst must be >= 0 and "
                                     "finite, got %g", burst);
    t = malloc(sizeof(*t));
    if (t == NULL)
        return cc__err_null(ENOMEM, "cc_throttle_new: out of memory");
    t->magic = THROTTLE_MAGIC;
    t->rate = rate_per_s;
    t->burst = burst > 0 ? burst : rate_per_s;
    cc__mutex_init(&t->mu);
    t->tokens = 0; /* starts empty: no initial burst */
    t->stamp = cc__now_ns();
    return t;
}

/* Bring the balance up to `now`; mu held. */
static void refill_locked(cc_throttle *t, int64_t now)
{
    CC__ASSERT(cc__mutex_owned(&t->mu));
    if (now > t->stamp) {
        t->tokens += (double)(now - t->stamp) / 1e9 * t->rate;
        if (t->tokens > t->burst)
            t->tokens = t->burst;
        t->stamp = now;
    }
}

static int check_amount(cc_throttle *t, double n, const char *what)
{
    if (!throttle_ok(t))
        return cc__errf(EINVAL, "%s: not a throttle", what);
    if (!(n > 0) || isinf(n))
        return cc__errf(EINVAL, "%s: amount must be > 0, got %g", what, n);
    return 0;
}

int cc_throttle_consume(cc_throttle *t, double n)
{
    int granted = 0;

    if (check_amount(t, n, "cc_throttle_consume") != 0)
        return -1;
    cc__mutex_lock(&t->mu);
    refill_locked(t, cc__now_ns());
    if (t->tokens >= n) {
        t->tokens -= n;
        granted = 1;
    }
    cc__mutex_unlock(&t->mu);
    return granted;
}

int cc_throttle_acquire(cc_throttle *t, double n, double timeout)
{
    int64_t deadline;
    int64_t now;
    int64_t due;

    if (check_amount(t, n, "cc_throttle_acquire") != 0)
        return -1;
    if (n > t->burst)
        return cc__errf(EINVAL, "throttle: asking for %g tokens but the "
                                "bucket holds at most %g", n, t->burst);
    if (cc__deadline_for(timeout, "cc_throttle_acquire", &deadline) != 0)
        return -1;
    cc__mutex_lock(&t->mu);
    now = cc__now_ns();
    refill_locked(t, now);
    if (t->tokens >= n) {
        t->tokens -= n;
        cc__mutex_unlock(&t->mu);
        return 0;
    }
    if (timeout == 0) {
        cc__mutex_unlock(&t->mu);
        return cc__err(EAGAIN, "throttle: not enough tokens now");
    }
    if (cc__cancel_pending()) {
        cc__mutex_unlock(&t->mu);
        return cc__err_wait(ECANCELED, "throttle acquire");
    }
    /* Time until the balance covers n, rounded up to the next whole ns. */
    due = now + (int64_t)((n - t->tokens) / t->rate * 1e9) + 1;
    if (due > deadline) {
        cc__mutex_unlock(&t->mu);
        if (cc__sleep_until(deadline) == ECANCELED)
            return cc__err_wait(ECANCELED, "throttle acquire");
        return cc__err(ETIMEDOUT, "throttle: tokens not due before the "
                                  "deadline");
    }
    t->tokens -= n; /* the reservation */
    cc__mutex_unlock(&t->mu);
    if (cc__sleep_until(due) == ECANCELED) {
        /* A cancelled task gives its reservation back (never above the
         * burst: the tokens were not used, so the bound still holds). */
        cc__mutex_lock(&t->mu);
        refill_locked(t, cc__now_ns());
        t->tokens += n;
        if (t->tokens > t->burst)
            t->tokens = t->burst;
        cc__mutex_unlock(&t->mu);
        return cc__err_wait(ECANCELED, "throttle acquire");
    }
    return 0;
}

double cc_throttle_tokens(cc_throttle *t)
{
    double v;

    if (!throttle_ok(t))
        return 0;
    cc__mutex_lock(&t->mu);
    refill_locked(t, cc__now_ns());
    v = t->tokens;
    cc__mutex_unlock(&t->mu);
    return v;
}

double cc_throttle_rate(cc_throttle *t)
{
    return throttle_ok(t) ? t->rate : 0;
}

double cc_throttle_burst(cc_throttle *t)
{
    return throttle_ok(t) ? t->burst : 0;
}

void cc_throttle_free(cc_throttle *t)
{
    if (!throttle_ok(t))
        return;
    t->magic = 0;
    free(t);
}
