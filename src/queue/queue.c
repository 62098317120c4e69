/*
 * queue.c - cc_queue: blocking FIFO/LIFO/priority queues with task tracking
 * and Python 3.13 shutdown (queue layer).
 *
 * Two storage back ends behind try_put()/try_get(), which never block:
 *   - bounded FIFO queues (maxsize >= 2) use the lock-free ring (ring.c): producers and
 *     consumers share no lock, which is what makes them fast under
 *     contention;
 *   - LIFO, priority and unbounded queues use the locked store (store.c)
 *     under `store_mu`.
 * One waiting protocol serves both.  A caller that must wait takes `mu`,
 * announces itself in a waiter count (getters_waiting, putters_waiting,
 * joiners_waiting), issues a full fence, and only then re-tries the
 * operation before parking.  The other side makes its change, issues a full
 * fence, and reads the count: so either the waiter's re-try sees the change
 * or the changer sees the waiter and wakes it (under mu).  Nothing takes
 * `mu` on the fast path while nobody waits.
 *
 * Lock order: mu, then store_mu.  Neither is held across a wait or while
 * user code (an item destructor) runs.
 *
 * Task tracking: unfinished = puts - dones, where puts is the back end's
 * count of successful puts and dones counts task_done() calls plus items an
 * immediate shutdown discarded; only task_done and join touch `dones`.
 */
#include <stdlib.h>

#include "concur/queue.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/queue.h"
#include "internal/waiter.h"
#include "queue/ring.h"
#include "queue/store.h"

#define QUEUE_MAGIC 0x51554555u /* "QUEU" */

struct cc_queue {
    uint32_t magic;                  /* QUEUE_MAGIC while alive */
    size_t maxsize;                  /* 0: unbounded */
    bool use_ring;                   /* bounded FIFO: lock-free ring */
    void (*item_free)(void *);       /* destructor for dropped items */
    _Atomic bool shutdown;           /* set once, under mu */
    _Atomic uint64_t dones;          /* task_done calls + discarded items */
    _Atomic size_t getters_waiting;  /* announced getters (see top) */
    _Atomic size_t putters_waiting;
    _Atomic size_t joiners_waiting;
    cc__mutex mu;                    /* guards the three wait queues */
    cc__waitq getters;
    cc__waitq putters;
    cc__waitq joiners;
    cc__mutex store_mu;              /* guards store and store_shutdown */
    cc__store store;                 /* the locked back end */
    bool store_shutdown;
    _Atomic uint64_t store_puts;     /* written under store_mu */
    cc__ring ring;                   /* the lock-free back end (last: it is
                                        cache-line aligned) */
};

static bool queue_ok(const cc_queue *q)
{
    return q != NULL && q->magic == QUEUE_MAGIC;
}

/* --------------------------------------------------------------- back ends */

/* 0, EAGAIN (full), ESHUTDOWN, ENOMEM.  Never blocks. */
static int try_put(cc_queue *q, void *item)
{
    int rc = 0;

    if (q->use_ring)
        return cc__ring_push(&q->ring, item);
    cc__mutex_lock(&q->store_mu);
    if (q->store_shutdown)
        rc = ESHUTDOWN;
    else if (q->maxsize > 0 && q->store.len >= q->maxsize)
        rc = EAGAIN;
    else if (cc__store_push(&q->store, item) != 0)
        rc = ENOMEM;
    else
        atomic_store_explicit(&q->store_puts,
                              atomic_load_explicit(&q->store_puts,
                                                   memory_order_relaxed) + 1,
                              memory_order_release);
    cc__mutex_unlock(&q->store_mu);
    return rc;
}

/* 0, EAGAIN (empty), ESHUTDOWN (shut down and drained).  Never blocks. */
static int try_get(cc_queue *q, void **item)
{
    int rc = 0;

    if (q->use_ring)
        return cc__ring_pop(&q->ring, item);
    cc__mutex_lock(&q->store_mu);
    if (q->store.len > 0)
        *item = cc__store_pop(&q->store);
    else
        rc = q->store_shutdown ? ESHUTDOWN : EAGAIN;
    cc__mutex_unlock(&q->store_mu);
    return rc;
}

static uint64_t puts_total(cc_queue *q)
{
    if (q->use_ring)
        return cc__ring_puts(&q->ring);
    return atomic_load_explicit(&q->store_puts, memory_order_acquire);
}

static uint64_t unfinished(cc_queue *q)
{
    uint64_t done = atomic_load_explicit(&q->dones, memory_order_acquire);
    uint64_t puts = puts_total(q);

    return puts > done ? puts - done : 0;
}

/* ------------------------------------------------------------------ waking */

/*
 * After a change that a waiter of `wq` may wait for: if anybody announced
 * itself, wake one (see the protocol at the top of the file).
 */
static void wake_one_if_waiting(cc_queue *q, _Atomic size_t *count,
                                cc__waitq *wq)
{
    cc__wakeup wk;

    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(count, memory_order_relaxed) == 0)
        return;
    cc__mutex_lock(&q->mu);
    wk = cc__waitq_wake_one(wq, NULL);
    cc__mutex_unlock(&q->mu);
    cc__wakeup_fire(wk);
}

/* Announce a waiter; mu held.  The fence orders the announcement before the
 * re-try that follows. */
static void announce_locked(cc_queue *q, _Atomic size_t *count)
{
    CC__ASSERT(cc__mutex_owned(&q->mu));
    atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

static void withdraw_locked(cc_queue *q, _Atomic size_t *count)
{
    CC__ASSERT(cc__mutex_owned(&q->mu));
    CC__ASSERT(atomic_load_explicit(count, memory_order_relaxed) > 0);
    atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
}

/*
 * Park w on wq until woken or the deadline; mu is held on entry and on
 * return.  `again` queues at the head: the waiter was woken before and lost
 * the race, so it keeps its turn.
 */
static int park_locked(cc_queue *q, cc__waitq *wq, int64_t deadline,
                       bool again)
{
    cc__waiter w;
    int rc;

    CC__ASSERT(cc__mutex_owned(&q->mu));
    cc__waiter_init(&w);
    if (again)
        cc__waitq_push_front(wq, &w);
    else
        cc__waitq_push(wq, &w);
    cc__mutex_unlock(&q->mu);
    rc = cc__waiter_park(&w, deadline);
    cc__mutex_lock(&q->mu);
    cc__waitq_remove(wq, &w);
    return rc;
}

/* --------------------------------------------------------------- lifecycle */

static cc_queue *queue_new(size_t maxsize, int kind, cc_cmp_fn cmp)
{
    cc_queue *q;

    if (kind != CC_FIFO && kind != CC_LIFO && kind != CC_PRIORITY)
        return cc__errf_null(EINVAL, "cc_queue_new: unknown kind %d", kind);
    if (posix_memalign((void **)&q, 64, sizeof(*q)) != 0)
        return cc__err_null(ENOMEM, "cc_queue_new: out of memory");
    q->magic = 0;
    q->maxsize = maxsize;
    /* The ring needs two cells at least: with one, "holds the item of lap
     * n" and "free for lap n+1" would be the same sequence number. */
    q->use_ring = kind == CC_FIFO && maxsize >= 2;
    q->item_free = NULL;
    atomic_init(&q->shutdown, false);
    atomic_init(&q->dones, 0);
    atomic_init(&q->getters_waiting, 0);
    atomic_init(&q->putters_waiting, 0);
    atomic_init(&q->joiners_waiting, 0);
    cc__mutex_init(&q->mu);
    cc__waitq_init(&q->getters);
    cc__waitq_init(&q->putters);
    cc__waitq_init(&q->joiners);
    cc__mutex_init(&q->store_mu);
    q->store_shutdown = false;
    atomic_init(&q->store_puts, 0);
    if (q->use_ring) {
        if (cc__ring_init(&q->ring, maxsize) != 0)
            goto err_free_q;
        /* The store stays empty; fini of a zeroed store is a no-op. */
        q->store = (cc__store){0};
    } else {
        /* A bounded queue gets its slots up front (up to 64k of them). */
        if (cc__store_init(&q->store, kind, cmp,
                           maxsize > 0 && maxsize <= 65536 ? maxsize : 64))
            goto err_free_q;
        q->ring.cells = NULL;
    }
    q->magic = QUEUE_MAGIC;
    return q;
err_free_q:
    free(q);
    return cc__err_null(ENOMEM, "cc_queue_new: out of memory");
}

cc_queue *cc_queue_new(size_t maxsize, int kind)
{
    return queue_new(maxsize, kind, NULL);
}

cc_queue *cc_queue_new_priority(size_t maxsize, cc_cmp_fn cmp)
{
    return queue_new(maxsize, CC_PRIORITY, cmp);
}

int cc_queue_set_item_free(cc_queue *q, void (*item_free)(void *item))
{
    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_set_item_free: not a queue");
    cc__mutex_lock(&q->mu);
    q->item_free = item_free;
    cc__mutex_unlock(&q->mu);
    return 0;
}

/* -------------------------------------------------------------- put and get */

static int put_failed(int rc)
{
    if (rc == ESHUTDOWN)
        return cc__err(ESHUTDOWN, "queue is shut down");
    if (rc == ENOMEM)
        return cc__err(ENOMEM, "queue: out of memory growing the queue");
    return cc__err(rc, "queue: put failed");
}

static int put_slow(cc_queue *q, void *item, double timeout)
{
    int64_t deadline;
    bool again = false;
    int rc;

    if (cc__checkpoint("queue put") != 0 ||
        cc__deadline_for(timeout, "cc_queue_put", &deadline) != 0)
        return -1;
    /* Full is often a moment's state: spin and yield a little first. */
    for (unsigned round = 0; cc__spin_round(round, deadline); round++) {
        rc = try_put(q, item);
        if (rc == 0)
            goto put;
        if (rc != EAGAIN)
            return put_failed(rc);
    }
    cc__mutex_lock(&q->mu);
    for (;;) {
        int prc;

        announce_locked(q, &q->putters_waiting);
        rc = try_put(q, item);
        if (rc != EAGAIN)
            break;
        prc = park_locked(q, &q->putters, deadline, again);
        withdraw_locked(q, &q->putters_waiting);
        if (prc != 0) {
            rc = try_put(q, item); /* one last try at the deadline */
            cc__mutex_unlock(&q->mu);
            if (rc == 0)
                goto put;
            if (rc == EAGAIN)
                return prc == ECANCELED
                           ? cc__err_wait(prc, "queue put")
                           : cc__err(ETIMEDOUT, "queue put timed out: "
                                                "still full");
            return put_failed(rc);
        }
        again = true;
    }
    withdraw_locked(q, &q->putters_waiting);
    cc__mutex_unlock(&q->mu);
    if (rc != 0)
        return put_failed(rc);
put:
    wake_one_if_waiting(q, &q->getters_waiting, &q->getters);
    return 0;
}

int cc_queue_put(cc_queue *q, void *item, double timeout)
{
    int rc;

    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_put: not a queue");
    if (cc__check_timeout(timeout, "cc_queue_put") != 0)
        return -1;
    rc = try_put(q, item);
    if (rc == 0) {
        wake_one_if_waiting(q, &q->getters_waiting, &q->getters);
        return 0;
    }
    if (rc != EAGAIN)
        return put_failed(rc);
    if (timeout == 0)
        return cc__err(EAGAIN, "queue is full");
    return put_slow(q, item, timeout);
}

static int get_slow(cc_queue *q, void **item, double timeout)
{
    int64_t deadline;
    bool again = false;
    int rc;

    if (cc__checkpoint("queue get") != 0 ||
        cc__deadline_for(timeout, "cc_queue_get", &deadline) != 0)
        return -1;
    /* Empty is often a moment's state: spin and yield a little first. */
    for (unsigned round = 0; cc__spin_round(round, deadline); round++) {
        rc = try_get(q, item);
        if (rc == 0)
            goto got;
        if (rc == ESHUTDOWN)
            return cc__err(ESHUTDOWN, "queue is shut down");
    }
    cc__mutex_lock(&q->mu);
    for (;;) {
        int prc;

        announce_locked(q, &q->getters_waiting);
        rc = try_get(q, item);
        if (rc != EAGAIN)
            break;
        prc = park_locked(q, &q->getters, deadline, again);
        withdraw_locked(q, &q->getters_waiting);
        if (prc != 0) {
            rc = try_get(q, item); /* one last try at the deadline */
            cc__mutex_unlock(&q->mu);
            if (rc == 0)
                goto got;
            if (rc == ESHUTDOWN)
                return cc__err(ESHUTDOWN, "queue is shut down");
            if (prc == ECANCELED)
                return cc__err_wait(prc, "queue get");
            return cc__err(ETIMEDOUT, "queue get timed out: nothing arrived");
        }
        again = true;
    }
    withdraw_locked(q, &q->getters_waiting);
    cc__mutex_unlock(&q->mu);
    if (rc == ESHUTDOWN)
        return cc__err(ESHUTDOWN, "queue is shut down");
got:
    wake_one_if_waiting(q, &q->putters_waiting, &q->putters);
    return 0;
}

int cc_queue_get(cc_queue *q, void **item, double timeout)
{
    int rc;

    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_get: not a queue");
    if (item == NULL)
        return cc__err(EINVAL, "cc_queue_get: item is NULL");
    if (cc__check_timeout(timeout, "cc_queue_get") != 0)
        return -1;
    rc = try_get(q, item);
    if (rc == 0) {
        wake_one_if_waiting(q, &q->putters_waiting, &q->putters);
        return 0;
    }
    if (rc == ESHUTDOWN)
        return cc__err(ESHUTDOWN, "queue is shut down");
    if (timeout == 0)
        return cc__err(EAGAIN, "queue is empty");
    return get_slow(q, item, timeout);
}

/* ------------------------------------------------------ task_done and join */

int cc_queue_task_done(cc_queue *q)
{
    uint64_t d;

    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_task_done: not a queue");
    d = atomic_load_explicit(&q->dones, memory_order_relaxed);
    do {
        if (d >= puts_total(q))
            return cc__err(EINVAL, "task_done() called too many times");
    } while (!atomic_compare_exchange_weak_explicit(
        &q->dones, &d, d + 1, memory_order_seq_cst, memory_order_relaxed));
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&q->joiners_waiting, memory_order_relaxed) > 0) {
        cc__mutex_lock(&q->mu);
        if (unfinished(q) == 0)
            cc__waitq_wake_all(&q->joiners);
        cc__mutex_unlock(&q->mu);
    }
    return 0;
}

int cc_queue_join(cc_queue *q, double timeout)
{
    int64_t deadline;

    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_join: not a queue");
    if (cc__deadline_for(timeout, "cc_queue_join", &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("queue join") != 0)
        return -1;
    cc__mutex_lock(&q->mu);
    for (;;) {
        uint64_t left;
        int prc;

        announce_locked(q, &q->joiners_waiting);
        left = unfinished(q);
        if (left == 0)
            break;
        if (timeout == 0) {
            withdraw_locked(q, &q->joiners_waiting);
            cc__mutex_unlock(&q->mu);
            return cc__err(EAGAIN, "queue join: work is unfinished");
        }
        prc = park_locked(q, &q->joiners, deadline, false);
        withdraw_locked(q, &q->joiners_waiting);
        if (prc != 0 && (left = unfinished(q)) > 0) {
            cc__mutex_unlock(&q->mu);
            if (prc == ECANCELED)
                return cc__err_wait(prc, "queue join");
            return cc__errf(ETIMEDOUT, "queue join timed out with %llu "
                                       "unfinished tasks",
                            (unsigned long long)left);
        }
        if (prc != 0) {
            cc__mutex_unlock(&q->mu);
            return 0;
        }
    }
    withdraw_locked(q, &q->joiners_waiting);
    cc__mutex_unlock(&q->mu);
    return 0;
}

/* ---------------------------------------------------------------- shutdown */

/*
 * Move every item still in the ring into `into` (an unbounded store) and
 * return how many.  Out of memory (for `into` itself or its growth), the
 * items that cannot be kept go to the destructor right away, under mu: a
 * last resort that keeps the discard complete.
 */
static uint64_t drain_ring(cc_queue *q, cc__store *into, bool usable)
{
    uint64_t n = 0;
    void *item;

    while (cc__ring_pop(&q->ring, &item) == 0) {
        n++;
        if ((!usable || cc__store_push(into, item) != 0) &&
            q->item_free != NULL)
            q->item_free(item);
    }
    return n;
}

int cc_queue_shutdown(cc_queue *q, bool immediate)
{
    cc__store dropped = {0};
    uint64_t discarded = 0;
    void (*item_free)(void *);

    if (!queue_ok(q))
        return cc__err(EINVAL, "cc_queue_shutdown: not a queue");
    cc__mutex_lock(&q->mu);
    atomic_store_explicit(&q->shutdown, true, memory_order_seq_cst);
    item_free = q->item_free;
    if (q->use_ring) {
        cc__ring_close(&q->ring);
        if (immediate)
            discarded = drain_ring(
                q, &dropped, cc__store_init(&dropped, CC_FIFO, NULL, 64) == 0);
    } else {
        cc__mutex_lock(&q->store_mu);
        q->store_shutdown = true;
        if (immediate && q->store.len > 0) {
            /* Move the items out whole; nothing is put again, so the
             * queue keeps an empty store without slots. */
            discarded = q->store.len;
            dropped = q->store;
            q->store.len = q->store.cap = q->store.head = 0;
            q->store.ring = NULL;
            q->store.heap = NULL;
        }
        cc__mutex_unlock(&q->store_mu);
    }
    if (discarded > 0)
        atomic_fetch_add_explicit(&q->dones, discarded, memory_order_seq_cst);
    cc__waitq_wake_all(&q->getters);
    cc__waitq_wake_all(&q->putters);
    if (unfinished(q) == 0)
        cc__waitq_wake_all(&q->joiners);
    cc__mutex_unlock(&q->mu);
    /* User code runs outside the locks. */
    cc__store_drain(&dropped, item_free);
    cc__store_fini(&dropped);
    return 0;
}

/* ------------------------------------------------- cc_select (internal/queue.h) */

bool cc__queue_ok(const cc_queue *q)
{
    return queue_ok(q);
}

int cc__queue_try_get(cc_queue *q, void **item)
{
    int rc = try_get(q, item);

    if (rc == 0)
        wake_one_if_waiting(q, &q->putters_waiting, &q->putters);
    return rc;
}

int cc__queue_try_put(cc_queue *q, void *item)
{
    int rc = try_put(q, item);

    if (rc == 0)
        wake_one_if_waiting(q, &q->getters_waiting, &q->getters);
    return rc;
}

void cc__queue_watch(cc_queue *q, bool put, cc__waiter *s)
{
    cc__mutex_lock(&q->mu);
    announce_locked(q, put ? &q->putters_waiting : &q->getters_waiting);
    cc__waitq_push(put ? &q->putters : &q->getters, s);
    cc__mutex_unlock(&q->mu);
}

void cc__queue_unwatch(cc_queue *q, bool put, cc__waiter *s)
{
    cc__mutex_lock(&q->mu);
    cc__waitq_remove(put ? &q->putters : &q->getters, s);
    withdraw_locked(q, put ? &q->putters_waiting : &q->getters_waiting);
    cc__mutex_unlock(&q->mu);
}

void cc__queue_pass_on(cc_queue *q, bool put)
{
    bool shut = atomic_load_explicit(&q->shutdown, memory_order_acquire);

    if (put) {
        if (shut || q->maxsize == 0 || cc_queue_size(q) < q->maxsize)
            wake_one_if_waiting(q, &q->putters_waiting, &q->putters);
    } else if (shut || cc_queue_size(q) > 0) {
        wake_one_if_waiting(q, &q->getters_waiting, &q->getters);
    }
}

/* --------------------------------------------------------------- snapshots */

size_t cc_queue_size(cc_queue *q)
{
    size_t n;

    if (!queue_ok(q))
        return 0;
    if (q->use_ring)
        return cc__ring_len(&q->ring);
    cc__mutex_lock(&q->store_mu);
    n = q->store.len;
    cc__mutex_unlock(&q->store_mu);
    return n;
}

bool cc_queue_empty(cc_queue *q)
{
    return cc_queue_size(q) == 0;
}

bool cc_queue_full(cc_queue *q)
{
    return queue_ok(q) && q->maxsize > 0 && cc_queue_size(q) >= q->maxsize;
}

size_t cc_queue_maxsize(cc_queue *q)
{
    return queue_ok(q) ? q->maxsize : 0;
}

bool cc_queue_is_shutdown(cc_queue *q)
{
    return queue_ok(q) &&
           atomic_load_explicit(&q->shutdown, memory_order_acquire);
}

size_t cc_queue_unfinished(cc_queue *q)
{
    return queue_ok(q) ? (size_t)unfinished(q) : 0;
}

void cc_queue_free(cc_queue *q)
{
    void *item;

    if (!queue_ok(q))
        return;
    q->magic = 0;
    if (q->use_ring) {
        while (cc__ring_pop(&q->ring, &item) == 0)
            if (q->item_free != NULL)
                q->item_free(item);
        cc__ring_fini(&q->ring);
    }
    cc__store_drain(&q->store, q->item_free);
    cc__store_fini(&q->store);
    free(q);
}
