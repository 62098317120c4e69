/*
 * assert.h - CC__ASSERT, the library's internal invariants (internal; layer
 * base).
 *
 * CC__ASSERT(cond) checks a condition that only a bug in concur can make
 * false: a lock not held by the caller of a `_locked` helper, a waiter
 * leaving a state it is not in, a task resumed twice.  It is on when the
 * library is built with CONCUR_ASSERTS (CMake option CONCUR_ASSERTS: on
 * for Debug and every test build -- plain, ASan, TSan -- off for the
 * release build that `make bench` and `make install` use).  A failed
 * assertion prints the condition, the file, line and function, and the
 * calling thread's or task's name, then aborts: the process state is
 * already wrong, and going on would only move the crash away from its
 * cause.
 *
 * Off, the condition is not evaluated (it sits inside sizeof), so an
 * assertion costs nothing in release code -- yet it is still compiled,
 * so a release build cannot let an assertion rot.  Bad input from a user
 * is never asserted: it gets an errno and a message.
 *
 * Helpers that exist only for assertions (cc__mutex_owned, ...) are
 * declared in the headers of what they check and follow the same rule:
 * call them only inside CC__ASSERT.
 */
#ifndef CC_INTERNAL_ASSERT_H
#define CC_INTERNAL_ASSERT_H

#if defined(CONCUR_ASSERTS)
#define CC__ASSERTS_ON 1
#define CC__ASSERT(cond)                                                     \
    (__builtin_expect(!!(cond), 1)                                           \
         ? (void)0                                                           \
         : cc__assert_fail(__FILE__, __LINE__, __func__, #cond))
#else
#define CC__ASSERTS_ON 0
#define CC__ASSERT(cond) ((void)sizeof((cond) ? 1 : 0))
#endif

/* Report a failed assertion on stderr and abort (src/base/assert.c). */
_Noreturn void cc__assert_fail(const char *file, int line, const char *func,
                               const char *cond);

#endif
