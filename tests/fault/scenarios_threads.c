/*
 * scenarios_threads.c - fault-injection scenarios for the thread layers:
 * threads and locks, the queue, the thread pool behind futures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

#define N_THREADS 3
#define N_INCR 200

/* ------------------------------------------------------------- sync */

typedef struct counter {
    cc_lock *lock;
    cc_sem *sem;
    cc_event *go;
    cc_barrier *barrier;
    long value;
} counter;

/* Waits for the go event, passes the barrier, then adds N_INCR under the
 * lock and a semaphore permit each.  Fails the thread (cc_fail) on any
 * failure, which cc_thread_join hands back. */
static void *count_up(void *arg)
{
    counter *c = arg;

    if (cc_event_wait(c->go, SC_WAIT) != 0)
        return cc_fail(0, "count_up: event: %s", cc_errmsg());
    if (cc_barrier_wait(c->barrier, SC_WAIT) < 0)
        return cc_fail(0, "count_up: barrier: %s", cc_errmsg());
    for (int i = 0; i < N_INCR; i++) {
        if (cc_sem_acquire(c->sem, SC_WAIT) != 0)
            return cc_fail(0, "count_up: sem: %s", cc_errmsg());
        if (cc_lock_acquire(c->lock, SC_WAIT) != 0) {
            cc_sem_release(c->sem);
            return cc_fail(0, "count_up: lock: %s", cc_errmsg());
        }
        c->value++;
        cc_lock_release(c->lock);
        cc_sem_release(c->sem);
    }
    return c;
}

/* Threads, a lock, a semaphore, an event and a barrier: the count must
 * come out exact.  A thread that cannot start aborts the barrier so the
 * ones already waiting at it come back. */
static int sync_counter(void)
{
    counter c = {0};
    cc_thread *t[N_THREADS] = {0};
    int started = 0;
    int rc = SC_DONE;

    SC_CALL((c.lock = cc_lock_new()) != NULL, "cc_lock_new");
    SC_CALL((c.sem = cc_sem_new(2)) != NULL, "cc_sem_new");
    SC_CALL((c.go = cc_event_new()) != NULL, "cc_event_new");
    SC_CALL((c.barrier = cc_barrier_new(N_THREADS, NULL, NULL)) != NULL,
            "cc_barrier_new");
    for (; started < N_THREADS; started++)
        SC_CALL((t[started] = cc_thread_start(count_up, &c, "counter")) != NULL,
                "cc_thread_start");
    SC_CALL(cc_event_set(c.go) == 0, "cc_event_set");
out:
    if (started < N_THREADS && c.barrier != NULL) {
        cc_barrier_abort(c.barrier);
        if (c.go != NULL)
            cc_event_set(c.go);
    }
    for (int i = 0; i < started; i++) {
        void *r = NULL;

        if (cc_thread_join(t[i], &r, SC_WAIT) != 0)
            rc = sc_also_failed(rc, "cc_thread_join");
        cc_thread_free(t[i]);
    }
    if (rc == SC_DONE && c.value != (long)N_THREADS * N_INCR)
        rc = sc_bad("count %ld, expected %d", c.value, N_THREADS * N_INCR);
    cc_barrier_free(c.barrier);
    cc_event_free(c.go);
    cc_sem_free(c.sem);
    cc_lock_free(c.lock);
    return rc;
}

/* A condition variable over an rlock, and thread-local values. */
typedef struct handoff {
    cc_rlock *lock;
    cc_cond *cond;
    cc_tls *tls;
    int stage;
} handoff;

static bool stage_one(void *arg)
{
    return ((handoff *)arg)->stage == 1;
}

static void *handoff_thread(void *arg)
{
    handoff *h = arg;
    int mine = 7;

    if (cc_tls_set(h->tls, &mine) != 0)
        return cc_fail(0, "tls_set: %s", cc_errmsg());
    if (cc_cond_acquire(h->cond, SC_WAIT) != 0)
        return cc_fail(0, "cond_acquire: %s", cc_errmsg());
    if (cc_cond_wait_for(h->cond, stage_one, h, SC_WAIT) != 0) {
        cc_cond_release(h->cond);
        return cc_fail(0, "cond_wait_for: %s", cc_errmsg());
    }
    h->stage = 2;
    cc_cond_notify_all(h->cond);
    cc_cond_release(h->cond);
    return cc_tls_get(h->tls) == &mine ? h : cc_fail(EIO, "tls lost");
}

static int sync_cond_tls(void)
{
    handoff h = {0};
    cc_thread *t = NULL;
    void *r = NULL;
    int rc = SC_DONE;

    SC_CALL((h.lock = cc_rlock_new()) != NULL, "cc_rlock_new");
    SC_CALL((h.cond = cc_cond_new_rlock(h.lock)) != NULL, "cc_cond_new_rlock");
    SC_CALL((h.tls = cc_tls_new(NULL)) != NULL, "cc_tls_new");
    SC_CALL((t = cc_thread_start(handoff_thread, &h, "handoff")) != NULL,
            "cc_thread_start");
    SC_CALL(cc_cond_acquire(h.cond, SC_WAIT) == 0, "cc_cond_acquire");
    h.stage = 1;
    cc_cond_notify(h.cond, 1);
    cc_cond_release(h.cond);
    SC_CALL(cc_thread_join(t, &r, SC_WAIT) == 0, "cc_thread_join");
    SC_EXPECT(r == &h && h.stage == 2, "handoff ended at stage %d", h.stage);
out:
    if (t != NULL && rc != SC_DONE && cc_thread_is_alive(t)) {
        /* Released the thread if it waits: stage 1 lets it finish. */
        if (cc_cond_acquire(h.cond, SC_WAIT) == 0) {
            h.stage = 1;
            cc_cond_notify_all(h.cond);
            cc_cond_release(h.cond);
        }
        cc_thread_join(t, &r, SC_WAIT);
    }
    cc_thread_free(t);
    cc_tls_free(h.tls);
    cc_cond_free(h.cond);
    cc_rlock_free(h.lock);
    return rc;
}

/* ------------------------------------------------------------ queue */

#define N_ITEMS 64

typedef struct queue_run {
    cc_queue *q;
    long sum;
} queue_run;

static void *produce(void *arg)
{
    queue_run *qr = arg;

    for (uintptr_t i = 1; i <= N_ITEMS; i++)
        if (cc_queue_put(qr->q, (void *)i, SC_WAIT) != 0)
            return cc_fail(0, "put: %s", cc_errmsg());
    return qr;
}

static void *consume(void *arg)
{
    queue_run *qr = arg;
    void *item;

    while (cc_queue_get(qr->q, &item, SC_WAIT) == 0) {
        qr->sum += (long)(uintptr_t)item;
        cc_queue_task_done(qr->q);
    }
    return errno == ESHUTDOWN ? qr : cc_fail(0, "get: %s", cc_errmsg());
}

/* A bounded queue between a producer and a consumer thread, joined and
 * shut down: every item arrives once. */
static int queue_threads(void)
{
    queue_run qr = {0};
    cc_thread *p = NULL, *c = NULL;
    void *r;
    int rc = SC_DONE;

    SC_CALL((qr.q = cc_queue_new(4, CC_FIFO)) != NULL, "cc_queue_new");
    SC_CALL((c = cc_thread_start(consume, &qr, "consumer")) != NULL,
            "cc_thread_start");
    SC_CALL((p = cc_thread_start(produce, &qr, "producer")) != NULL,
            "cc_thread_start");
    SC_CALL(cc_thread_join(p, &r, SC_WAIT) == 0, "cc_thread_join(producer)");
    SC_CALL(cc_queue_join(qr.q, SC_WAIT) == 0, "cc_queue_join");
out:
    if (p != NULL && rc != SC_DONE)
        cc_thread_join(p, &r, SC_WAIT);
    if (qr.q != NULL)
        cc_queue_shutdown(qr.q, rc != SC_DONE);
    if (c != NULL && cc_thread_join(c, &r, SC_WAIT) != 0)
        rc = sc_also_failed(rc, "cc_thread_join(consumer)");
    if (rc == SC_DONE && qr.sum != (long)N_ITEMS * (N_ITEMS + 1) / 2)
        rc = sc_bad("queue sum %ld, expected %d", qr.sum,
                    N_ITEMS * (N_ITEMS + 1) / 2);
    cc_thread_free(p);
    cc_thread_free(c);
    cc_queue_free(qr.q);
    return rc;
}

/* A priority queue with a free function: shut down with items inside. */
static int queue_priority(void)
{
    cc_queue *q = NULL;
    void *item = NULL;
    int rc = SC_DONE;

    SC_CALL((q = cc_queue_new(0, CC_PRIORITY)) != NULL, "cc_queue_new");
    for (uintptr_t i = 20; i > 0; i--)
        SC_CALL(cc_queue_put(q, (void *)i, 0) == 0, "cc_queue_put");
    SC_CALL(cc_queue_get(q, &item, 0) == 0, "cc_queue_get");
    SC_EXPECT(item == (void *)1, "priority queue gave %p first", item);
out:
    cc_queue_free(q);
    return rc;
}

/* ------------------------------------------------------ thread pool */

static void *square(void *arg)
{
    uintptr_t v = (uintptr_t)arg;

    return (void *)(v * v);
}

#define N_JOBS 16

/* Submit, wait, map and as_completed on a three-thread pool. */
static int thread_pool(void)
{
    cc_executor *ex = NULL;
    cc_future *fs[N_JOBS] = {0};
    void *args[N_JOBS], *results[N_JOBS];
    cc_as_completed *it = NULL;
    cc_future *f;
    int done = 0, next;
    int rc = SC_DONE;

    SC_CALL((ex = cc_thread_pool_new(3, NULL)) != NULL, "cc_thread_pool_new");
    for (uintptr_t i = 0; i < N_JOBS; i++)
        SC_CALL((fs[i] = cc_submit(ex, square, (void *)(i + 1))) != NULL,
                "cc_submit");
    SC_CALL(cc_wait(fs, N_JOBS, CC_ALL_COMPLETED, SC_WAIT) == N_JOBS,
            "cc_wait");
    for (uintptr_t i = 0; i < N_JOBS; i++) {
        void *r;

        SC_CALL(cc_future_result(fs[i], &r, 0) == 0, "cc_future_result");
        SC_EXPECT(r == (void *)((i + 1) * (i + 1)), "job %zu gave %p",
                  (size_t)i, r);
    }
    SC_CALL((it = cc_as_completed_new(fs, N_JOBS, SC_WAIT)) != NULL,
            "cc_as_completed_new");
    while ((next = cc_as_completed_next(it, &f)) == 1)
        done++;
    SC_CALL(next == 0, "cc_as_completed_next");
    SC_EXPECT(done == N_JOBS, "as_completed gave %d of %d", done, N_JOBS);
    for (uintptr_t i = 0; i < N_JOBS; i++)
        args[i] = (void *)(i + 2);
    SC_CALL(cc_map(ex, square, args, N_JOBS, 3, results, SC_WAIT) == 0,
            "cc_map");
    for (uintptr_t i = 0; i < N_JOBS; i++)
        SC_EXPECT(results[i] == (void *)((i + 2) * (i + 2)),
                  "map item %zu gave %p", (size_t)i, results[i]);
    SC_CALL(cc_executor_shutdown(ex, true, false) == 0, "cc_executor_shutdown");
out:
    cc_as_completed_free(it);
    for (int i = 0; i < N_JOBS; i++)
        cc_future_free(fs[i]);
    cc_executor_free(ex);
    return rc;
}

/* Futures made by hand, with callbacks, resolved from another thread. */
static int count_done(cc_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
    return 0;
}

static void *resolve(void *arg)
{
    return cc_future_set_result(arg, (void *)42) == 0 ? arg : NULL;
}

static int future_by_hand(void)
{
    cc_future *f = NULL;
    cc_thread *t = NULL;
    int callbacks = 0;
    void *r = NULL;
    int rc = SC_DONE;

    SC_CALL((f = cc_future_new()) != NULL, "cc_future_new");
    SC_CALL(cc_future_add_done_callback(f, count_done, &callbacks) == 0,
            "cc_future_add_done_callback");
    SC_CALL((t = cc_thread_start(resolve, f, "resolver")) != NULL,
            "cc_thread_start");
    SC_CALL(cc_future_result(f, &r, SC_WAIT) == 0, "cc_future_result");
    SC_EXPECT(r == (void *)42, "future gave %p", r);
    SC_CALL(cc_thread_join(t, NULL, SC_WAIT) == 0, "cc_thread_join");
    SC_EXPECT(callbacks == 1, "%d callbacks ran", callbacks);
out:
    if (t != NULL && rc != SC_DONE)
        cc_thread_join(t, NULL, SC_WAIT);
    cc_thread_free(t);
    cc_future_free(f);
    return rc;
}


/* ------------------------------------- pool with initializer, shutdown */

static void *name_worker(void *arg)
{
    (void)arg;
    return cc_thread_current_name() != NULL ? (void *)1 : NULL;
}

static void *slow_square(void *arg)
{
    cc_sleep(0.0005);
    return square(arg);
}

#define N_MANY 40

/* A pool with an initializer; many jobs, then shutdown with
 * cancel_futures: each future is either done with its square or
 * cancelled, none lost. */
static int thread_pool_cancel(void)
{
    cc_pool_opts opts = {.thread_name_prefix = "fault", .initializer =
                                                            name_worker};
    cc_executor *ex = NULL;
    cc_future *fs[N_MANY] = {0};
    int rc = SC_DONE;

    SC_CALL((ex = cc_thread_pool_new(2, &opts)) != NULL, "cc_thread_pool_new");
    for (uintptr_t i = 0; i < N_MANY; i++)
        SC_CALL((fs[i] = cc_submit(ex, slow_square, (void *)i)) != NULL,
                "cc_submit");
    SC_CALL(cc_executor_shutdown(ex, true, true) == 0, "cc_executor_shutdown");
    for (uintptr_t i = 0; i < N_MANY; i++) {
        void *r;

        SC_EXPECT(cc_future_done(fs[i]), "future %zu not done after shutdown",
                  (size_t)i);
        if (cc_future_cancelled(fs[i]))
            continue;
        SC_CALL(cc_future_result(fs[i], &r, 0) == 0, "cc_future_result");
        SC_EXPECT(r == (void *)(i * i), "job %zu gave %p", (size_t)i, r);
    }
out:
    if (rc != SC_DONE && ex != NULL)
        cc_executor_shutdown(ex, true, true);
    for (int i = 0; i < N_MANY; i++)
        cc_future_free(fs[i]);
    cc_executor_free(ex);
    return rc;
}

/* ---------------------------------------- LIFO queue, many consumers */

static void free_item(void *item)
{
    free(item);
}

typedef struct lifo_run {
    cc_queue *q;
    cc_lock *lock;
    long sum;
} lifo_run;

static void *lifo_consume(void *arg)
{
    lifo_run *lr = arg;
    void *item;

    while (cc_queue_get(lr->q, &item, SC_WAIT) == 0) {
        long v = *(long *)item;

        free(item);
        if (cc_lock_acquire(lr->lock, SC_WAIT) != 0)
            return cc_fail(0, "lock: %s", cc_errmsg());
        lr->sum += v;
        cc_lock_release(lr->lock);
        cc_queue_task_done(lr->q);
    }
    return errno == ESHUTDOWN ? lr : cc_fail(0, "get: %s", cc_errmsg());
}

/* Three consumers of a LIFO queue of malloc'd items; join, then an
 * immediate shutdown with items left, which the free function takes. */
static int queue_lifo(void)
{
    lifo_run lr = {0};
    cc_thread *t[3] = {0};
    int started = 0;
    long want = 0;
    int rc = SC_DONE;

    SC_CALL((lr.q = cc_queue_new(0, CC_LIFO)) != NULL, "cc_queue_new");
    SC_CALL(cc_queue_set_item_free(lr.q, free_item) == 0,
            "cc_queue_set_item_free");
    SC_CALL((lr.lock = cc_lock_new()) != NULL, "cc_lock_new");
    for (; started < 3; started++)
        SC_CALL((t[started] = cc_thread_start(lifo_consume, &lr, NULL)) != NULL,
                "cc_thread_start");
    for (long i = 1; i <= N_ITEMS; i++) {
        long *item = malloc(sizeof(*item));

        SC_EXPECT(item != NULL, "the test's own malloc failed");
        *item = i;
        if (cc_queue_put(lr.q, item, SC_WAIT) != 0) {
            free(item);
            SC_CALL(false, "cc_queue_put");
        }
        want += i;
    }
    SC_CALL(cc_queue_join(lr.q, SC_WAIT) == 0, "cc_queue_join");
out:
    if (lr.q != NULL)
        cc_queue_shutdown(lr.q, true);
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(t[i], NULL, SC_WAIT) != 0)
            rc = sc_also_failed(rc, "cc_thread_join");
        cc_thread_free(t[i]);
    }
    if (rc == SC_DONE && lr.sum != want)
        rc = sc_bad("LIFO sum %ld, expected %ld", lr.sum, want);
    cc_lock_free(lr.lock);
    cc_queue_free(lr.q);
    return rc;
}

/* ------------------------------------------------------------ throttle */

static void *take_tokens(void *arg)
{
    for (int i = 0; i < 20; i++)
        if (cc_throttle_acquire(arg, 1, SC_WAIT) != 0)
            return cc_fail(0, "acquire: %s", cc_errmsg());
    return arg;
}

/* Two threads draw 40 tokens from a fast bucket. */
static int throttle_threads(void)
{
    cc_throttle *th = NULL;
    cc_thread *t[2] = {0};
    int started = 0;
    int rc = SC_DONE;

    SC_CALL((th = cc_throttle_new(4000, 10)) != NULL, "cc_throttle_new");
    for (; started < 2; started++)
        SC_CALL((t[started] = cc_thread_start(take_tokens, th, NULL)) != NULL,
                "cc_thread_start");
out:
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(t[i], NULL, SC_WAIT) != 0)
            rc = sc_also_failed(rc, "cc_thread_join");
        cc_thread_free(t[i]);
    }
    cc_throttle_free(th);
    return rc;
}

const scenario sc_threads[] = {
    {"sync_counter", "threads, lock, semaphore, event, barrier", sync_counter},
    {"sync_cond_tls", "condition over an rlock, thread-local values",
     sync_cond_tls},
    {"queue_threads", "bounded queue between two threads, join, shutdown",
     queue_threads},
    {"queue_priority", "priority queue freed with items inside",
     queue_priority},
    {"thread_pool", "thread pool: submit, wait, as_completed, map",
     thread_pool},
    {"future_by_hand", "a future resolved by another thread, callbacks",
     future_by_hand},
    {"thread_pool_cancel", "pool with initializer, shutdown cancelling "
     "pending jobs", thread_pool_cancel},
    {"queue_lifo", "LIFO queue, three consumers, join, immediate shutdown",
     queue_lifo},
    {"throttle_threads", "a token bucket shared by two threads",
     throttle_threads},
    {NULL, NULL, NULL},
};
