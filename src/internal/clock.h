/*
 * clock.h - monotonic nanoseconds and deadline arithmetic (internal; layer base).
 *
 * Every wait in the library is bounded by an absolute deadline in monotonic
 * nanoseconds.  CC__NS_FOREVER means none.  A timeout in seconds is converted
 * once, at the public boundary, by cc__deadline_ns().
 */
#ifndef CC_INTERNAL_CLOCK_H
#define CC_INTERNAL_CLOCK_H

#include <math.h>
#include <stdint.h>
#include <time.h>

#define CC__NS_FOREVER INT64_MAX

static inline int64_t cc__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The absolute deadline `timeout` seconds from now: CC__NS_FOREVER for a
 * negative timeout, now for 0.  Huge timeouts saturate to forever.  The
 * caller has already rejected NaN.
 */
static inline int64_t cc__deadline_after(double timeout)
{
    int64_t now;

    if (timeout < 0)
        return CC__NS_FOREVER;
    now = cc__now_ns();
    if (timeout >= (double)(CC__NS_FOREVER - now) / 1e9)
        return CC__NS_FOREVER;
    return now + (int64_t)(timeout * 1e9);
}

static inline int64_t cc__ns_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Seconds from now to a deadline, for the timeout of a call such as
 * cc_wait_fd: -1.0 (CC_FOREVER) for none, 0 once passed. */
static inline double cc__seconds_until(int64_t deadline)
{
    int64_t left;

    if (deadline == CC__NS_FOREVER)
        return -1.0;
    left = deadline - cc__now_ns();
    return left > 0 ? (double)left / 1e9 : 0;
}

#endif
