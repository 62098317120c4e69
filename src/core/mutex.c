/*
 * mutex.c - the contended path of the internal futex mutex (core layer).
 *
 * Spins briefly first: the mutex guards a few dozen instructions, so its
 * holder usually releases it sooner than a futex sleep and wake-up would
 * take (tens of microseconds in a VM).  The caller (cc__mutex_lock)
 * records the new holder once this returns.
 */
#include "internal/mutex.h"

#define SPIN_ROUNDS 64

void cc__mutex_lock_slow(cc__mutex *m)
{
    uint32_t c;

    for (int i = 0; i < SPIN_ROUNDS; i++) {
        c = atomic_load_explicit(&m->word, memory_order_relaxed);
        if (c == 0) {
            uint32_t expected = 0;

            if (atomic_compare_exchange_strong_explicit(
                    &m->word, &expected, 1, memory_order_acquire,
                    memory_order_relaxed))
                return;
        }
        if (c == 2)
            break; /* others already sleep: join them */
        cc__cpu_relax();
    }
    c = atomic_exchange_explicit(&m->word, 2, memory_order_acquire);
    while (c != 0) {
        cc__futex_wait(&m->word, 2, CC__NS_FOREVER);
        c = atomic_exchange_explicit(&m->word, 2, memory_order_acquire);
    }
}
