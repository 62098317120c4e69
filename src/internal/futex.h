/*
 * futex.h - thin wrappers over the Linux futex system call (internal;
 * layer core).
 *
 * Waits take an absolute CLOCK_MONOTONIC deadline in nanoseconds
 * (CC__NS_FOREVER for none), so a wait that is interrupted and retried never
 * stretches its timeout.  All futexes here are process-private.
 */
#ifndef CC_INTERNAL_FUTEX_H
#define CC_INTERNAL_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal/clock.h"
#include "internal/vg.h"

/*
 * Sleep while *addr == val, until woken or `deadline_ns` passes.  Returns 0
 * when woken (or spuriously, or the value differed), ETIMEDOUT at the
 * deadline, EINTR on a signal.  Callers re-check their condition either way.
 */
static inline int cc__futex_wait(_Atomic uint32_t *addr, uint32_t val,
                                 int64_t deadline_ns)
{
    struct timespec ts;
    struct timespec *tsp = NULL;
    long r;

    if (deadline_ns != CC__NS_FOREVER) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute timeout on CLOCK_MONOTONIC. */
    r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val,
                tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == -1 && errno == ETIMEDOUT)
        return ETIMEDOUT;
    if (r == -1 && errno == EINTR)
        return EINTR;
    return 0;
}

/* Wake up to n sleepers on addr (INT_MAX: all).  addr may be stale: a
 * waiter on a stack may have returned already (internal/waiter.h,
 * cc__wakeup_fire), and FUTEX_WAKE reads nothing there.  memcheck's model
 * of the call checks the word anyway, so its report is switched off for
 * this call alone. */
static inline void cc__futex_wake(_Atomic uint32_t *addr, int n)
{
    CC__VG_QUIET_BEGIN();
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
    CC__VG_QUIET_END();
}

/* A pause hint for spin loops. */
static inline void cc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
