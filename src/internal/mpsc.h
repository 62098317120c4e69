/*
 * mpsc.h - Dmitry Vyukov's intrusive multi-producer single-consumer queue
 * of futures, linked through cc_future.next (internal; layer
 * future: the executors' submission queue, used by the thread pool and
 * the process pool).
 *
 * A push is one compare-and-swap on `tail` plus a store, and takes no lock,
 * so submitters never wait for the consumer.  Pops must be serialised by
 * the caller (the thread pool's pop_mu; the process pool's one manager).
 * The low bit of `tail` is CLOSED: once set, every later push fails, so the
 * futures a closed queue will ever hold are fixed, and a consumer that finds
 * a closed queue empty knows nothing can come any more.
 *
 * The functions take the queue's three parts separately so that an owner
 * can put them in different cache lines (`tail` is written by producers,
 * `head` by the consumer; the stub is watched by spinning consumers).  The
 * owner initialises them with cc__mpsc_init.
 *
 * For helgrind and DRD (internal/vg.h) a push is a release on the future
 * and its pop an acquire: what the producer wrote into it (the job) is
 * seen as written before the consumer reads it.  The links and the two
 * ends are atomic words: the ends and the stub's link are marked so once,
 * by cc__mpsc_init, and every future's link by its own initialisation
 * (future.c).
 */
#ifndef CC_INTERNAL_MPSC_H
#define CC_INTERNAL_MPSC_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/future.h"
#include "internal/futex.h"
#include "internal/vg.h"

#define CC__MPSC_CLOSED ((uintptr_t)1)

static inline cc_future *cc__mpsc_node(uintptr_t t)
{
    return (cc_future *)(t & ~CC__MPSC_CLOSED);
}

/* An empty queue: stub.next = NULL, tail = head = &stub. */
static inline void cc__mpsc_init(_Atomic uintptr_t *tail,
                                 cc_future *_Atomic *headp, cc_future *stub)
{
    atomic_init(&stub->next, NULL);
    atomic_init(tail, (uintptr_t)stub);
    atomic_init(headp, stub);
    CC__VG_ATOMIC_WORD(&stub->next, sizeof(stub->next));
    CC__VG_ATOMIC_WORD(tail, sizeof(*tail));
    CC__VG_ATOMIC_WORD(headp, sizeof(*headp));
}

/*
 * Push f unless the queue is closed (then false).  The CAS is seq_cst: an
 * owner may pair it with a consumer's announcement that it goes to sleep
 * (Dekker: the consumer announces, then looks at `tail`; the producer
 * pushes, then looks at the announcement).
 */
static inline bool cc__mpsc_push(_Atomic uintptr_t *tail, cc_future *f)
{
    uintptr_t t = atomic_load_explicit(tail, memory_order_relaxed);

    atomic_store_explicit(&f->next, NULL, memory_order_relaxed);
    CC__VG_RELEASE(f);
    do {
        if (t & CC__MPSC_CLOSED)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(
        tail, &t, (uintptr_t)f, memory_order_seq_cst, memory_order_relaxed));
    /* the step that makes f reachable from the old tail */
    atomic_store_explicit(&cc__mpsc_node(t)->next, f, memory_order_release);
    return true;
}

/* Push the stub back (consumer side), closed or not. */
static inline void cc__mpsc_push_stub(_Atomic uintptr_t *tail, cc_future *stub)
{
    uintptr_t t = atomic_load_explicit(tail, memory_order_relaxed);

    atomic_store_explicit(&stub->next, NULL, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        tail, &t, (uintptr_t)stub | (t & CC__MPSC_CLOSED),
        memory_order_acq_rel, memory_order_relaxed))
        ;
    atomic_store_explicit(&cc__mpsc_node(t)->next, stub, memory_order_release);
}

/* Close the queue: pushes fail from now on. */
static inline void cc__mpsc_close(_Atomic uintptr_t *tail)
{
    atomic_fetch_or_explicit(tail, CC__MPSC_CLOSED, memory_order_seq_cst);
}

static inline bool cc__mpsc_closed(_Atomic uintptr_t *tail)
{
    return (atomic_load_explicit(tail, memory_order_acquire) &
            CC__MPSC_CLOSED) != 0;
}

/*
 * Pop the oldest future (consumers serialised by the caller).  NULL when
 * the queue is empty.  A producer between its CAS and its link makes the
 * queue look empty for a moment: wait for it to finish linking (it is not
 * blocked on anything but the CPU), so that a consumer that leaves on
 * "empty and closed" never strands a future whose push succeeded.
 */
static inline cc_future *cc__mpsc_pop(_Atomic uintptr_t *tail,
                                      cc_future *_Atomic *headp,
                                      cc_future *stub)
{
    for (unsigned spins = 0;; spins++) {
        cc_future *head = atomic_load_explicit(headp, memory_order_relaxed);
        cc_future *next = atomic_load_explicit(&head->next,
                                               memory_order_acquire);

        if (head == stub) {
            if (next == NULL) {
                if (cc__mpsc_node(atomic_load_explicit(
                        tail, memory_order_acquire)) == stub)
                    return NULL;
                goto producer_linking;
            }
            atomic_store_explicit(headp, next, memory_order_relaxed);
            head = next;
            next = atomic_load_explicit(&head->next, memory_order_acquire);
        }
        if (next != NULL) {
            atomic_store_explicit(headp, next, memory_order_relaxed);
            CC__VG_ACQUIRE(head);
            return head;
        }
        if (head == cc__mpsc_node(atomic_load_explicit(tail,
                                                       memory_order_acquire))) {
            /* head is the last future: put the stub behind it to take it. */
            cc__mpsc_push_stub(tail, stub);
            next = atomic_load_explicit(&head->next, memory_order_acquire);
            if (next != NULL) {
                atomic_store_explicit(headp, next, memory_order_relaxed);
                CC__VG_ACQUIRE(head);
                return head;
            }
        }
producer_linking:
        if (spins < 64)
            cc__cpu_relax();
        else
            sched_yield();
    }
}

/*
 * True when a future may be queued (a hint for a spinning consumer).  It
 * reads the head and the link a producer writes when it pushes onto an
 * empty queue, not `tail`: polling `tail` would pull its cache line away
 * from the producers before every push.
 */
static inline bool cc__mpsc_maybe_nonempty(cc_future *_Atomic *headp,
                                           cc_future *stub)
{
    cc_future *h = atomic_load_explicit(headp, memory_order_relaxed);

    return h != stub ||
           atomic_load_explicit(&stub->next, memory_order_acquire) != NULL;
}

/* The check before a consumer sleeps: also looks at `tail` (seq_cst), which
 * pairs with a producer's CAS (see cc__mpsc_push). */
static inline bool cc__mpsc_nonempty_strict(_Atomic uintptr_t *tail,
                                            cc_future *_Atomic *headp,
                                            cc_future *stub)
{
    return cc__mpsc_node(atomic_load_explicit(tail, memory_order_seq_cst)) !=
               stub ||
           cc__mpsc_maybe_nonempty(headp, stub);
}

#endif
