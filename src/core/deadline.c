/*
 * deadline.c - timeouts turned into deadlines, and deadline scopes (core
 * layer).
 *
 * A deadline scope is pushed on the calling context (thread or task):
 * cc__deadline_for() clamps every blocking call's own deadline to the
 * innermost one, which is already the minimum of those around it (a
 * shield's own scope excepted: see cc__deadline_push_own).  Contexts are
 * touched only by the thread running them: no lock.
 */
#include <math.h>

#include "concur/base.h"
#include "internal/assert.h"
#include "internal/deadline.h"

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
    CC__ASSERT(c->nscopes >= 0 && c->nscopes < CC__SCOPES_MAX);
}

bool cc_deadline_expired(void)
{
    cc__ctx *c = cc__ctx_get();

    return c->nscopes > 0 && c->scopes[c->nscopes - 1] <= cc__now_ns();
}
