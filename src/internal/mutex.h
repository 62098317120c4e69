/*
 * mutex.h - the library's internal lock (internal; layer core).
 *
 * A futex mutex after Drepper's "Futexes Are Tricky" (mutex3) with a short
 * spin before sleeping.  It guards the state of one primitive (a queue's
 * ring, a lock's wait list) for a few dozen instructions and is never held
 * across a wait, so fibers may take it too: a fiber cannot switch away
 * while it holds one, so the holder is always a thread.  Not recursive.
 *
 * Word values: 0 unlocked, 1 locked, 2 locked and maybe sleepers.
 *
 * With assertions on (internal/assert.h) the mutex also records which
 * thread holds it, so that every `_locked` helper can assert
 * cc__mutex_owned() on entry, a thread that locks a mutex it already holds
 * fails at once instead of deadlocking, and an unlock by a thread that
 * does not hold it is caught.  The record is one more word, written only
 * by the holder; release builds have neither the word nor the checks.
 *
 * For helgrind and DRD (internal/vg.h) an unlock is a release on the mutex
 * and a lock an acquire: what the holder wrote is visible to the next.
 */
#ifndef CC_INTERNAL_MUTEX_H
#define CC_INTERNAL_MUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/assert.h"
#include "internal/ctx.h"
#include "internal/futex.h"
#include "internal/vg.h"

typedef struct cc__mutex {
    _Atomic uint32_t word;      /* 0 free, 1 held, 2 held + maybe sleepers */
#if CC__ASSERTS_ON
    _Atomic uintptr_t owner;    /* cc__thread_id() of the holder, or 0 */
#endif
} cc__mutex;

#define CC__MUTEX_INIT {0}

void cc__mutex_lock_slow(cc__mutex *m);

static inline void cc__mutex_init(cc__mutex *m)
{
    atomic_init(&m->word, 0);
#if CC__ASSERTS_ON
    atomic_init(&m->owner, 0);
#endif
    CC__VG_ATOMIC_WORD(m, sizeof(*m)); /* only ever touched atomically */
}

/* For assertions: true when the calling thread holds m (release builds,
 * where it is never evaluated: when anybody does). */
static inline bool cc__mutex_owned(cc__mutex *m)
{
#if CC__ASSERTS_ON
    return atomic_load_explicit(&m->owner, memory_order_relaxed) ==
           cc__thread_id();
#else
    return atomic_load_explicit(&m->word, memory_order_relaxed) != 0;
#endif
}

/* For assertions only: true when somebody holds the mutex. */
static inline bool cc__mutex_held(cc__mutex *m)
{
    return atomic_load_explicit(&m->word, memory_order_relaxed) != 0;
}

/* Record the new holder (assertions) and, for valgrind, the acquire. */
static inline void cc__mutex_acquired(cc__mutex *m)
{
    CC__VG_ACQUIRE(m);
#if CC__ASSERTS_ON
    atomic_store_explicit(&m->owner, cc__thread_id(), memory_order_relaxed);
#else
    (void)m;
#endif
}

static inline void cc__mutex_lock(cc__mutex *m)
{
    uint32_t expected = 0;

    /* valgrind: a statically initialised mutex never saw cc__mutex_init */
    CC__VG_ATOMIC_WORD(m, sizeof(*m));
    CC__ASSERT(!cc__mutex_owned(m)); /* not recursive */
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(
                             &m->word, &expected, 1, memory_order_acquire,
                             memory_order_relaxed), 0))
        cc__mutex_lock_slow(m);
    cc__mutex_acquired(m);
}

static inline bool cc__mutex_trylock(cc__mutex *m)
{
    uint32_t expected = 0;

    if (!atomic_compare_exchange_strong_explicit(&m->word, &expected, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    cc__mutex_acquired(m);
    return true;
}

static inline void cc__mutex_unlock(cc__mutex *m)
{
    CC__ASSERT(cc__mutex_owned(m));
#if CC__ASSERTS_ON
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
#endif
    CC__VG_RELEASE(m);
    if (atomic_exchange_explicit(&m->word, 0, memory_order_release) == 2)
        cc__futex_wake(&m->word, 1);
}

#endif
