/*
 * vg.h - what valgrind's tools are told about the library (internal; layer
 * base).
 *
 * Only a build configured with -DCONCUR_VALGRIND=ON (`make test-valgrind`)
 * includes valgrind's client-request headers; everywhere else (the normal,
 * release and sanitizer builds) every macro here expands to nothing, so it
 * costs nothing.  Under valgrind a client request is a few instructions;
 * run natively, a valgrind build behaves as any other.
 *
 * Two things valgrind cannot find out alone:
 *
 * - Coroutine stacks (memcheck).  A task's stack is memory the library
 *   mapped; without registering it, every switch to or from it looks like
 *   a wild move of the stack pointer ("client switching stacks?") and
 *   memcheck marks the wrong memory as (in)accessible.
 *   CC__VG_STACK_REGISTER / _DEREGISTER bracket the time a stack belongs
 *   to a task (src/aio/stack.c).
 *
 * - Happens-before through futexes and atomics (helgrind, DRD).  They
 *   understand pthread primitives, not a compare-and-swap followed by a
 *   futex wait.  Every place where one thread publishes memory and
 *   another takes it over (a lock's release and acquire, a future's
 *   completion and its reader, a queue's push and pop) says so:
 *   CC__VG_RELEASE(obj) just before the publishing store, CC__VG_ACQUIRE(obj)
 *   just after the load that observed it.  These are helgrind's
 *   ANNOTATE_HAPPENS_BEFORE/AFTER; DRD implements the same requests (same
 *   request codes: drd.h's macros of those names, which win, send them),
 *   so one annotation serves both.  All releases on an
 *   object happen before any later acquire on it, which is exactly what a
 *   lock, a completion or a FIFO gives.
 *
 * pthread_once is built on atomics too: an init function ends with
 * CC__VG_RELEASE(&once), and each caller follows pthread_once with
 * CC__VG_ONCE_DONE(&once), so that what the init wrote is seen as written
 * before everything its callers do next.
 *
 * CC__VG_ATOMIC_WORD(addr, size) marks a word that is only ever touched
 * through C11 atomics (a futex word, a lock-free state): neither tool
 * models atomics, so a relaxed load beside a compare-and-swap would be
 * reported as a race on the word itself.  Data next to it stays checked.
 */
#ifndef CC_INTERNAL_VG_H
#define CC_INTERNAL_VG_H

#if defined(CONCUR_VALGRIND) && !defined(CONCUR_ASAN) && !defined(CONCUR_TSAN)
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#include <valgrind/helgrind.h>
#include <valgrind/drd.h>

#define CC__VG_ON 1
/* An id for the stack [lo, hi); give it back with _DEREGISTER. */
#define CC__VG_STACK_REGISTER(lo, hi) \
    ((unsigned)VALGRIND_STACK_REGISTER((lo), (hi)))
#define CC__VG_STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#define CC__VG_RELEASE(obj) ANNOTATE_HAPPENS_BEFORE(obj)
#define CC__VG_ACQUIRE(obj) ANNOTATE_HAPPENS_AFTER(obj)
#define CC__VG_ONCE_DONE(once) ANNOTATE_HAPPENS_AFTER(once)
/* Two requests: ANNOTATE_BENIGN_RACE_SIZED is DRD's (drd.h, included
 * last, defines it); helgrind's own spelling is VALGRIND_HG_DISABLE_CHECKING. */
#define CC__VG_ATOMIC_WORD(addr, size)                                  \
    do {                                                                \
        VALGRIND_HG_DISABLE_CHECKING((addr), (size));                   \
        ANNOTATE_BENIGN_RACE_SIZED((addr), (size), "atomic word");      \
    } while (0)
#define CC__VG_RUNNING() (RUNNING_ON_VALGRIND != 0)
/* No error reports from the calling thread in between (one system call
 * whose memory argument the kernel does not read). */
#define CC__VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define CC__VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING

#else

#define CC__VG_ON 0
#define CC__VG_STACK_REGISTER(lo, hi) ((void)(lo), (void)(hi), 0u)
#define CC__VG_STACK_DEREGISTER(id) ((void)(id))
#define CC__VG_RELEASE(obj) ((void)0)
#define CC__VG_ACQUIRE(obj) ((void)0)
#define CC__VG_ONCE_DONE(once) ((void)0)
#define CC__VG_ATOMIC_WORD(addr, size) ((void)0)
#define CC__VG_RUNNING() 0
#define CC__VG_QUIET_BEGIN() ((void)0)
#define CC__VG_QUIET_END() ((void)0)

#endif

#endif
