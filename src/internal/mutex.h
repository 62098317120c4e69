/*
 * mutex.h - the library's internal lock (internal).
 *
 * A futex mutex after Drepper's "Futexes Are Tricky" (mutex3) with a short
 * spin before sleeping.  It guards the state of one primitive (a queue's
 * ring, a lock's wait list) for a few dozen instructions and is never held
 * across a wait, so coroutines may take it too.  Not recursive, not owned:
 * the assert helpers below only check that it is held by someone.
 *
 * Word values: 0 unlocked, 1 locked, 2 locked and maybe sleepers.
 */
#ifndef CC_INTERNAL_MUTEX_H
#define CC_INTERNAL_MUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/futex.h"

typedef struct cc__mutex {
    _Atomic uint32_t word; /* 0 free, 1 held, 2 held + maybe sleepers */
} cc__mutex;

#define CC__MUTEX_INIT {0}

void cc__mutex_lock_slow(cc__mutex *m);

static inline void cc__mutex_init(cc__mutex *m)
{
    atomic_init(&m->word, 0);
}

static inline void cc__mutex_lock(cc__mutex *m)
{
    uint32_t expected = 0;

    if (__builtin_expect(atomic_compare_exchange_strong_explicit(
                             &m->word, &expected, 1, memory_order_acquire,
                             memory_order_relaxed), 1))
        return;
    cc__mutex_lock_slow(m);
}

static inline bool cc__mutex_trylock(cc__mutex *m)
{
    uint32_t expected = 0;

    return atomic_compare_exchange_strong_explicit(
        &m->word, &expected, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void cc__mutex_unlock(cc__mutex *m)
{
    if (atomic_exchange_explicit(&m->word, 0, memory_order_release) == 2)
        cc__futex_wake(&m->word, 1);
}

/* For assertions only: true when somebody holds the mutex. */
static inline bool cc__mutex_held(cc__mutex *m)
{
    return atomic_load_explicit(&m->word, memory_order_relaxed) != 0;
}

#endif
