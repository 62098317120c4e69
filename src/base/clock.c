/*
 * clock.c - the monotonic clock and deadlines in seconds (base layer).
 *
 * The internal side (nanoseconds, absolute deadlines) is inline in
 * internal/clock.h; deadline scopes, which bound every blocking call, are
 * the core layer's (src/core/deadline.c).
 */
#include <math.h>

#include "concur/base.h"
#include "internal/clock.h"

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
