/*
 * thread_pool.c - the thread pool executor (future layer).
 *
 * Submission queue: Dmitry Vyukov's intrusive MPSC queue
 * (src/internal/mpsc.h), linked through the futures' `next`.  A submit is one compare-and-swap on `tail` plus a
 * store, and takes no lock, so submitters never wait for workers; workers
 * take tasks one at a time under `pop_mu` (consumers must be serialised).
 * The low bit of `tail` is CLOSED: set by shutdown (or a broken pool), it
 * makes every later push fail, so the tasks a closed pool will ever hold
 * are fixed, and a worker may leave once it has found the queue empty.
 *
 * Workers are started lazily, following Python's ThreadPoolExecutor: a
 * worker that finds the queue empty adds an idle token; a submit that can
 * take a token starts no thread, otherwise it starts one if the limit
 * allows.  An idle worker spins and yields for a moment, then parks; to
 * park it increments `nparked` (seq_cst) under `mu` before its last look at
 * `tail`, and a submit reads `nparked` (seq_cst) after its CAS on `tail`, so
 * either the worker sees the task or the submit sees the worker and wakes it
 * (Dekker).  While workers are busy, a submit touches no lock at all.
 *
 * Lock order: mu, then pop_mu.  Neither is held while a task runs.  A
 * failing initializer breaks the pool: queued and later tasks fail with
 * CC_EBROKEN whose cause is the initializer's error.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/sync.h"
#include "internal/ctx.h"
#include "internal/future.h"
#include "internal/mpsc.h"

/*
 * Fields are grouped by who writes them, one group per cache line, so that
 * a submit and a spinning worker do not bounce lines between CPUs: the
 * submitters write `tail`, the workers `head` and `pop_mu`,
 * and the rest changes only when workers start, go idle or park.
 */
typedef struct thread_pool {
    cc_executor base;             /* first: the executor interface */
    int max_workers;
    char prefix[CC__NAME_MAX - 8];
    cc_fn initializer;
    void *initarg;
    /* written by submitters */
    _Alignas(64) _Atomic uintptr_t tail; /* last pushed | CLOSED */
    /* written by workers */
    _Alignas(64) cc__mutex pop_mu;        /* serialises the consumers */
    cc_future *_Atomic head;              /* next to pop; under pop_mu */
    /* the queue's dummy node: spinning workers watch its link */
    _Alignas(64) cc_future stub;
    /* read on every submit, written rarely */
    _Alignas(64) _Atomic int nthreads;    /* workers started (under mu) */
    _Atomic int nparked;         /* workers announced asleep (under mu) */
    _Atomic bool shutdown;       /* set under mu (tail is CLOSED too) */
    cc_error *_Atomic broken;    /* set once, under mu; owned */
    /* written by workers going idle and by submits while starting threads */
    _Alignas(64) _Atomic int idle_tokens;
    /* lifecycle, guarded by mu */
    _Alignas(64) cc__mutex mu;
    cc__waitq parked;            /* idle workers asleep */
    cc_thread **threads;         /* max_workers slots, nthreads used */
    struct worker_slot *slots;   /* max_workers, one cache line each */
} thread_pool;

/* Per-worker state, written only by its worker (debug checks read it). */
typedef struct worker_slot {
    _Alignas(64) _Atomic bool running; /* inside a task */
    thread_pool *pool;
} worker_slot;

static _Atomic unsigned pool_counter;

static thread_pool *pool_of(cc_executor *ex)
{
    return (thread_pool *)ex;
}

/* ------------------------------------------------------------------ queue */

/* The queue itself is src/internal/mpsc.h; these name its uses here. */

static bool mpsc_push(thread_pool *p, cc_future *f)
{
    return cc__mpsc_push(&p->tail, f);
}

static void mpsc_close(thread_pool *p)
{
    cc__mpsc_close(&p->tail);
}

static bool mpsc_closed(thread_pool *p)
{
    return cc__mpsc_closed(&p->tail);
}

static cc_future *pop_task(thread_pool *p)
{
    cc_future *f;

    cc__mutex_lock(&p->pop_mu);
    f = cc__mpsc_pop(&p->tail, &p->head, &p->stub);
    cc__mutex_unlock(&p->pop_mu);
    return f;
}

static bool queue_nonempty(thread_pool *p)
{
    return cc__mpsc_maybe_nonempty(&p->head, &p->stub);
}

static bool queue_nonempty_strict(thread_pool *p)
{
    return cc__mpsc_nonempty_strict(&p->tail, &p->head, &p->stub);
}

/* ---------------------------------------------------------------- workers */

/* Fail (err != NULL) or cancel (err == NULL) every queued task. */
static void drain_queue(thread_pool *p, const cc_error *err)
{
    cc_future *f;

    while ((f = pop_task(p)) != NULL) {
        if (err == NULL) {
            cc__future_cancel(f);
        } else if (cc__future_claim(f)) {
            cc_error *copy = cc_error_copy(err);

            cc__future_finish(f, NULL,
                              copy != NULL ? copy
                                           : cc_error_new(CC_EBROKEN, NULL,
                                                          "thread pool is "
                                                          "broken"));
        }
        cc__future_unref(f); /* the executor's reference */
    }
}

/* No new task can come any more: close the queue, let idle workers leave. */
static void close_pool(thread_pool *p)
{
    mpsc_close(p);
    cc__mutex_lock(&p->mu);
    cc__waitq_wake_all(&p->parked);
    cc__mutex_unlock(&p->mu);
}

static void break_pool(thread_pool *p, cc_error *cause)
{
    cc_error *broken = cc_error_new(CC_EBROKEN, cause,
                                    "thread pool '%s' is broken: a worker's "
                                    "initializer failed",
                                    p->base.name);

    cc_error_free(cause);
    cc__mutex_lock(&p->mu);
    if (atomic_load(&p->broken) == NULL && broken != NULL) {
        atomic_store_explicit(&p->broken, broken, memory_order_seq_cst);
        broken = NULL;
    }
    cc__mutex_unlock(&p->mu);
    cc_error_free(broken);
    close_pool(p);
    drain_queue(p, atomic_load(&p->broken));
}

/* Add an idle token, never more than there are workers. */
static void add_idle_token(thread_pool *p)
{
    int t = atomic_load_explicit(&p->idle_tokens, memory_order_relaxed);

    while (t < atomic_load_explicit(&p->nthreads, memory_order_relaxed) &&
           !atomic_compare_exchange_weak_explicit(&p->idle_tokens, &t, t + 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

static bool stopping(thread_pool *p)
{
    return mpsc_closed(p);
}

/*
 * Wait for a task; returns NULL when the worker should exit.  A worker that
 * finished a task and finds the queue empty adds an idle token (Python's
 * rule); a new worker does not: it was started for a task that its submit
 * pushes right after starting it, and a token it added would outlive its
 * taking that task -- the next submit would then count on an idle worker
 * that is busy, and its task could wait for as long as the busy ones run.
 */
static cc_future *next_task(thread_pool *p, bool ran_one)
{
    cc_future *f = pop_task(p);

    if (f != NULL)
        return f;
    if (ran_one)
        add_idle_token(p);
    for (;;) {
        cc__waiter w;

        if (stopping(p))
            return pop_task(p); /* after shutdown, drain what is queued */
        for (unsigned round = 0; cc__spin_round(round, CC__NS_FOREVER);
             round++)
            if (queue_nonempty(p) || stopping(p))
                break;
        f = pop_task(p);
        if (f != NULL)
            return f;
        cc__mutex_lock(&p->mu);
        atomic_fetch_add_explicit(&p->nparked, 1, memory_order_seq_cst);
        if (queue_nonempty_strict(p) || stopping(p)) {
            atomic_fetch_sub_explicit(&p->nparked, 1, memory_order_relaxed);
            cc__mutex_unlock(&p->mu);
        } else {
            cc__waiter_init(&w);
            cc__waitq_push(&p->parked, &w);
            cc__mutex_unlock(&p->mu);
            (void)cc__waiter_park(&w, CC__NS_FOREVER);
            cc__mutex_lock(&p->mu);
            cc__waitq_remove(&p->parked, &w);
            atomic_fetch_sub_explicit(&p->nparked, 1, memory_order_relaxed);
            cc__mutex_unlock(&p->mu);
        }
        f = pop_task(p);
        if (f != NULL)
            return f;
    }
}

static void *worker_main(void *arg)
{
    worker_slot *slot = arg;
    thread_pool *p = slot->pool;
    cc_future *f;

    cc__ctx_get()->worker_of = &p->base;
    if (p->initializer != NULL && p->initializer(p->initarg) == NULL &&
        cc_error_pending() != NULL) {
        break_pool(p, cc__error_take_pending());
        return arg;
    }
    cc_error_clear();
    for (bool ran_one = false; (f = next_task(p, ran_one)) != NULL;
         ran_one = true) {
        atomic_store_explicit(&slot->running, true, memory_order_relaxed);
        cc__future_run(f);
        atomic_store_explicit(&slot->running, false, memory_order_relaxed);
        cc__future_unref(f); /* the executor's reference */
    }
    return arg;
}

/* Start one more worker if the limit allows; mu held.  0 or an errno. */
static int spawn_locked(thread_pool *p)
{
    char name[CC__NAME_MAX + 16];
    int n = atomic_load_explicit(&p->nthreads, memory_order_relaxed);
    cc_thread *t;

    CC__ASSERT(cc__mutex_owned(&p->mu));
    if (n >= p->max_workers || mpsc_closed(p))
        return 0;
    snprintf(name, sizeof(name), "%s_%d", p->prefix, n);
    p->slots[n].pool = p;
    CC__VG_ATOMIC_WORD(&p->slots[n].running, sizeof(p->slots[n].running));
    t = cc_thread_start(worker_main, &p->slots[n], name);
    if (t == NULL)
        return errno;
    p->threads[n] = t;
    atomic_store_explicit(&p->nthreads, n + 1, memory_order_release);
    return 0;
}

/* ------------------------------------------------------------- operations */

/* Take an idle token if there is one. */
static bool take_idle_token(thread_pool *p)
{
    int t = atomic_load_explicit(&p->idle_tokens, memory_order_relaxed);

    while (t > 0)
        if (atomic_compare_exchange_weak_explicit(&p->idle_tokens, &t, t - 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static int refuse(thread_pool *p)
{
    cc_error *broken = atomic_load_explicit(&p->broken, memory_order_acquire);

    if (broken != NULL)
        return cc__errf(CC_EBROKEN, "%s", cc_error_message(broken)), CC_EBROKEN;
    return cc__errf(ESHUTDOWN, "cannot submit to thread pool '%s': it is "
                               "shut down", p->base.name), ESHUTDOWN;
}

static int pool_submit(cc_executor *ex, cc_future *f)
{
    thread_pool *p = pool_of(ex);

    if (mpsc_closed(p))
        return refuse(p);
    /* Once every worker is started, the tokens are not looked at: a busy
     * pool's submit then writes nothing the workers read. */
    if (atomic_load_explicit(&p->nthreads, memory_order_acquire) <
            p->max_workers &&
        !take_idle_token(p)) {
        int rc;

        cc__mutex_lock(&p->mu);
        rc = spawn_locked(p);
        cc__mutex_unlock(&p->mu);
        if (rc != 0 && atomic_load(&p->nthreads) == 0)
            return cc__errf(rc, "thread pool '%s': cannot start a worker: %s",
                            p->base.name, strerror(rc)), rc;
    }
    if (!mpsc_push(p, f))
        return refuse(p);
    if (atomic_load_explicit(&p->nparked, memory_order_seq_cst) > 0) {
        cc__wakeup wk = {NULL};

        cc__mutex_lock(&p->mu);
        if (!cc__waitq_empty(&p->parked))
            wk = cc__waitq_wake_one(&p->parked, NULL);
        cc__mutex_unlock(&p->mu);
        cc__wakeup_fire(wk);
    }
    return 0;
}

static int pool_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                         int64_t deadline)
{
    thread_pool *p = pool_of(ex);
    int n;

    if (wait && cc__ctx_get()->worker_of == ex)
        return cc__errf(EDEADLK, "thread pool '%s': a worker cannot wait for "
                                 "its own pool to shut down", p->base.name);
    cc__mutex_lock(&p->mu);
    atomic_store_explicit(&p->shutdown, true, memory_order_seq_cst);
    cc__mutex_unlock(&p->mu);
    close_pool(p);  /* spawns happen under mu and check CLOSED: none after */
    if (cancel_futures)
        drain_queue(p, NULL);
    if (wait) {
        cc__mutex_lock(&p->mu); /* no thread starts after close_pool */
        n = atomic_load(&p->nthreads);
        cc__mutex_unlock(&p->mu);
        for (int i = 0; i < n; i++)
            if (cc__executor_join(ex, p->threads[i], deadline) != 0)
                return -1; /* still finishing: a later call waits again */
        /* Workers leave only once the closed queue is empty; if there was
         * none at all (or none could start), nothing ran what is queued:
         * cancel it rather than leave it pending forever. */
        drain_queue(p, NULL);
    }
    return 0;
}

static void pool_destroy(cc_executor *ex)
{
    thread_pool *p = pool_of(ex);
    int n = atomic_load(&p->nthreads);

    for (int i = 0; i < n; i++)
        cc_thread_free(p->threads[i]);
    free(p->threads);
    free(p->slots);
    cc_error_free(atomic_load(&p->broken));
    free(p);
}

static int pool_max_workers(cc_executor *ex)
{
    return pool_of(ex)->max_workers;
}

/* Every worker is started and inside a task (debug mode only). */
static bool pool_saturated(cc_executor *ex)
{
    thread_pool *p = pool_of(ex);
    int n = atomic_load(&p->nthreads);

    if (n < p->max_workers)
        return false;
    for (int i = 0; i < n; i++)
        if (!atomic_load_explicit(&p->slots[i].running, memory_order_relaxed))
            return false;
    return true;
}

static const cc__executor_ops pool_ops = {
    .kind = "thread pool",
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .destroy = pool_destroy,
    .max_workers = pool_max_workers,
    .saturated = pool_saturated,
};

cc_executor *cc_thread_pool_new(int max_workers, const cc_pool_opts *opts)
{
    thread_pool *p;
    unsigned k;

    if (max_workers < 0)
        return cc__errf_null(EINVAL, "cc_thread_pool_new: max_workers must be "
                                     ">= 0, got %d", max_workers);
    if (opts != NULL &&
        CC__OPTS_RESERVED(opts, "cc_thread_pool_new", "cc_pool_opts") != 0)
        return NULL;
    if (opts != NULL && opts->max_tasks_per_child != 0)
        return cc__err_null(EINVAL, "cc_thread_pool_new: max_tasks_per_child "
                                    "is for process pools");
    if (max_workers == 0) {
        max_workers = cc_cpu_count() + 4;
        if (max_workers > 32)
            max_workers = 32;
    }
    if (posix_memalign((void **)&p, 64, sizeof(*p)) != 0)
        return cc__err_null(ENOMEM, "cc_thread_pool_new: out of memory");
    memset(p, 0, sizeof(*p));
    p->threads = calloc((size_t)max_workers, sizeof(cc_thread *));
    if (p->threads == NULL ||
        posix_memalign((void **)&p->slots, 64,
                       (size_t)max_workers * sizeof(worker_slot)) != 0) {
        free(p->threads);
        free(p);
        return cc__err_null(ENOMEM, "cc_thread_pool_new: out of memory");
    }
    memset(p->slots, 0, (size_t)max_workers * sizeof(worker_slot));
    k = atomic_fetch_add(&pool_counter, 1) + 1;
    p->base.magic = CC__EXECUTOR_MAGIC;
    p->base.ops = &pool_ops;
    p->max_workers = max_workers;
    if (opts != NULL && opts->thread_name_prefix != NULL)
        snprintf(p->prefix, sizeof(p->prefix), "%s", opts->thread_name_prefix);
    else
        snprintf(p->prefix, sizeof(p->prefix), "ThreadPool-%u", k);
    snprintf(p->base.name, sizeof(p->base.name), "%s", p->prefix);
    if (opts != NULL) {
        p->initializer = opts->initializer;
        p->initarg = opts->initarg;
    }
    cc__mpsc_init(&p->tail, &p->head, &p->stub);
    cc__mutex_init(&p->pop_mu);
    cc__mutex_init(&p->mu);
    atomic_init(&p->nthreads, 0);
    atomic_init(&p->idle_tokens, 0);
    atomic_init(&p->nparked, 0);
    atomic_init(&p->shutdown, false);
    atomic_init(&p->broken, NULL);
    /* valgrind: counters and flags the workers and submitters share are
     * only ever touched atomically (internal/vg.h) */
    CC__VG_ATOMIC_WORD(&p->nthreads, sizeof(p->nthreads));
    CC__VG_ATOMIC_WORD(&p->idle_tokens, sizeof(p->idle_tokens));
    CC__VG_ATOMIC_WORD(&p->nparked, sizeof(p->nparked));
    CC__VG_ATOMIC_WORD(&p->shutdown, sizeof(p->shutdown));
    CC__VG_ATOMIC_WORD(&p->broken, sizeof(p->broken));
    cc__waitq_init(&p->parked);
    cc__executor_register(&p->base); /* the exit rule (exit.c) */
    return &p->base;
}
