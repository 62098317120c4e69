/*
 * deadline.h - from a timeout to the deadline a blocking call waits for
 * (internal; layer core).
 *
 * A blocking call takes `double timeout` seconds at the API (CC_FOREVER,
 * negative, for none; 0 for "do not wait").  It converts it once, at its
 * entry, to an absolute monotonic deadline in nanoseconds, clamped to the
 * innermost deadline scope of the calling thread or task, and passes that
 * down; retries and re-parks never stretch it.  The scopes themselves
 * (cc_deadline_push/pop, declared in concur/base.h) live in the calling
 * context (internal/ctx.h) and are implemented with these in
 * src/core/deadline.c.
 */
#ifndef CC_INTERNAL_DEADLINE_H
#define CC_INTERNAL_DEADLINE_H

#include <stdint.h>

#include "internal/clock.h"
#include "internal/ctx.h"

/*
 * The deadline that bounds a blocking call made now with `timeout` seconds:
 * the earlier of the call's own and the innermost deadline scope.  Returns
 * EINVAL for a NaN timeout (recording the error for `what`), else 0.
 */
int cc__deadline_for(double timeout, const char *what, int64_t *deadline);

/* Reject a NaN timeout up front (EINVAL), before any fast path.  Returns -1
 * with the error recorded, or 0. */
int cc__check_timeout(double timeout, const char *what);

/* The innermost deadline scope of the calling context (CC__NS_FOREVER when
 * none is open). */
static inline int64_t cc__scope_deadline(void)
{
    cc__ctx *c = cc__ctx_get();

    return c->nscopes > 0 ? c->scopes[c->nscopes - 1] : CC__NS_FOREVER;
}

/* Open a deadline scope at an absolute deadline that ignores the outer
 * scopes (a shield's own deadline).  0, or -1 with EOVERFLOW recorded. */
int cc__deadline_push_own(int64_t deadline);

#endif
