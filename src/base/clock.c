/*
 * clock.c - the monotonic clock, deadlines and deadline scopes (base layer).
 *
 * A deadline scope is pushed on the calling context (thread or coroutine):
 * cc__deadline_for() clamps every blocking call's own deadline to it.
 */
#include <math.h>

#include "internal/clock.h"
#include "internal/ctx.h"

double cc_now(void)
{
    return (double)cc__now_ns() / 1e9;
}

double cc_deadline(double timeout)
{
    if (isnan(timeout) || timeout < 0)
        return INFINITY;
    return cc_now() + timeout;
}

double cc_remaining(double deadline)
{
    double left;

    if (isinf(deadline) && deadline > 0)
        return CC_FOREVER;
    left = deadline - cc_now();
    return left > 0 ? left : 0;
}

int cc__check_timeout(double timeout, const char *what)
{
    if (__builtin_expect(isnan(timeout), 0))
        return cc__errf(EINVAL, "%s: timeout is NaN", what);
    return 0;
}

int cc__deadline_for(double timeout, const char *what, int64_t *deadline)
{
    cc__ctx *c = cc__ctx_get();
    int64_t dl;

    if (__builtin_expect(isnan(timeout), 0))
        return cc__errf(EINVAL, "%s: timeout is NaN", what), EINVAL;
    dl = cc__deadline_after(timeout);
    if (c->nscopes > 0)
        dl = cc__ns_min(dl, c->scopes[c->nscopes - 1]);
    *deadline = dl;
    return 0;
}

int cc_deadline_push(double seconds)
{
    cc__ctx *c = cc__ctx_get();
    int64_t dl;

    if (isnan(seconds))
        return cc__err(EINVAL, "cc_deadline_push: seconds is NaN");
    if (c->nscopes == CC__SCOPES_MAX)
        return cc__errf(EOVERFLOW,
                        "cc_deadline_push: more than %d nested scopes",
                        CC__SCOPES_MAX);
    dl = cc__deadline_after(seconds);
    if (c->nscopes > 0)
        dl = cc__ns_min(dl, c->scopes[c->nscopes - 1]);
    c->scopes[c->nscopes++] = dl;
    return 0;
}

int cc__deadline_push_own(int64_t deadline)
{
    cc__ctx *c = cc__ctx_get();

    if (c->nscopes == CC__SCOPES_MAX)
        return cc__errf(EOVERFLOW, "deadline scopes: more than %d nested",
                        CC__SCOPES_MAX);
    c->scopes[c->nscopes++] = deadline;
    return 0;
}

void cc_deadline_pop(void)
{
    cc__ctx *c = cc__ctx_get();

    if (c->nscopes > 0)
        c->nscopes--;
}

bool cc_deadline_expired(void)
{
    cc__ctx *c = cc__ctx_get();

    return c->nscopes > 0 && c->scopes[c->nscopes - 1] <= cc__now_ns();
}
