/*
 * pool.c - the process pool executor: cc_process_pool_new and the executor
 * operations (submit, shutdown, destroy, ...), and the start-up hook that
 * turns a started worker into one (process layer; see pool.h for who owns
 * what, pool_manager.c for the manager thread).
 *
 * The hook is a constructor in this file on purpose: a program that calls
 * cc_process_pool_new links this object, even from the static library, so
 * every executable that can start workers contains the code that makes
 * them workers.  In a worker it takes over before main() and never
 * returns; everywhere else it costs one getenv.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "concur/aio.h"
#include "concur/process.h"
#include "internal/atfork.h"
#include "internal/blob.h"
#include "internal/fiber.h"
#include "internal/mpsc.h"
#include "internal/waiter.h"
#include "process/pool.h"

/* A started worker: CONCUR_POOL_WORKER is set (see pool_spawn.c). */
__attribute__((constructor)) static void worker_boot(void)
{
    const char *spec = getenv(CC__POOL_ENV);

    if (spec != NULL)
        cc__pool_worker_run(spec);
}

static _Atomic unsigned pool_counter;

/*
 * Forks.  A child forked from a process with a pool gets a copy of the
 * pool's memory but none of its threads: no manager would ever run what it
 * submitted.  Every fork bumps this counter in the child (a fork hook,
 * internal/atfork.h); a pool made in another "generation" refuses work,
 * and shutting it down or freeing it there only releases the child's copy.
 */
static _Atomic unsigned fork_generation;

static void fork_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static const cc__fork_hooks fork_hooks = {"process/pool.c", NULL, NULL,
                                          fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

bool cc__pool_foreign(const cc__proc_pool *p)
{
    return atomic_load_explicit(&fork_generation, memory_order_relaxed) !=
           p->generation;
}

int cc__pool_refuse_foreign(cc__proc_pool *p, const char *what)
{
    return cc__errf(EINVAL, "%s: process pool '%s' belongs to the process "
                            "that made it; a forked child cannot use it",
                    what, p->base.name);
}

/* Wake the manager: a request, or work while it sleeps. */
static void poke(cc__proc_pool *p)
{
    uint64_t one = 1;

    (void)!write(p->efd, &one, sizeof(one));
}

/* Why a submit is refused: the pool broke (its error, cause included), or
 * it was shut down.  Returns the errno. */
static int refuse(cc__proc_pool *p)
{
    cc_error *broken;

    (void)cc__mpsc_closed(&p->tail); /* acquire: the manager set broken
                                        before it closed the queue */
    broken = atomic_load_explicit(&p->broken, memory_order_acquire);
    if (broken != NULL) {
        cc_error *copy = cc_error_copy(broken);

        if (copy != NULL)
            return cc__err_adopt(copy), CC_EBROKEN;
        return cc__errf(CC_EBROKEN, "%s", cc_error_message(broken)),
               CC_EBROKEN;
    }
    return cc__errf(ESHUTDOWN, "cannot submit to process pool '%s': it is "
                               "shut down", p->base.name), ESHUTDOWN;
}

int cc__pool_push(cc__proc_pool *p, cc_future *f)
{
    if (!cc__mpsc_push(&p->tail, f))
        return refuse(p);
    /* seq_cst: pairs with the manager's announcement (see pool.h) */
    if (atomic_load_explicit(&p->wants_work, memory_order_seq_cst) &&
        !atomic_exchange_explicit(&p->poked, 1, memory_order_relaxed))
        poke(p);
    return 0;
}

static int pool_submit(cc_executor *ex, cc_future *f)
{
    cc__proc_pool *p = cc__pool_of(ex);
    void *arg = f->arg;
    int rc;

    if (cc__pool_foreign(p))
        return cc__pool_refuse_foreign(p, "cc_submit"), EINVAL;
    if (cc__mpsc_closed(&p->tail))
        return refuse(p);
    if (cc__fnref_of(f->fn, "cc_submit") == NULL)
        return errno;
    if (arg != NULL) {
        if (!cc__blob_check(arg))
            return cc__err(EINVAL, "cc_submit: process pool arguments must "
                                   "be blobs"), EINVAL;
        f->arg = cc_blob_dup(arg, cc_blob_len(arg)); /* copied at submit */
        if (f->arg == NULL)
            return cc__err(ENOMEM, "cc_submit: out of memory"), ENOMEM;
    }
    atomic_fetch_or_explicit(&f->state, CC__F_OWNS_RESULT,
                             memory_order_relaxed);
    rc = cc__pool_push(p, f);
    if (rc != 0) {
        cc_blob_free(f->arg);
        f->arg = NULL;
    }
    return rc;
}

/* Wait (mu held) until cond(p) holds; 0, or ECANCELED for a cancelled
 * calling task.  The manager wakes `waiters` whenever it changes what the
 * conditions read. */
static int wait_locked(cc__proc_pool *p, bool (*cond)(cc__proc_pool *, uint64_t),
                       uint64_t seq, int64_t deadline)
{
    CC__ASSERT(cc__mutex_owned(&p->mu));
    while (!cond(p, seq)) {
        cc__waiter w;
        int rc;

        cc__waiter_init(&w);
        cc__waitq_push(&p->waiters, &w);
        cc__mutex_unlock(&p->mu);
        rc = cc__waiter_park(&w, deadline);
        cc__mutex_lock(&p->mu);
        cc__waitq_remove(&p->waiters, &w);
        if (rc != 0 && !cond(p, seq))
            return rc;
    }
    return 0;
}

static bool started(cc__proc_pool *p, uint64_t seq)
{
    (void)seq;
    return p->started;
}

static bool acked(cc__proc_pool *p, uint64_t seq)
{
    return p->ack_seq >= seq || p->manager_gone;
}

static int pool_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                         int64_t deadline)
{
    cc__proc_pool *p = cc__pool_of(ex);
    bool on_manager = cc__ctx_get()->worker_of == ex;
    uint64_t seq;
    int rc = 0;

    if (cc__pool_foreign(p))
        return 0; /* nothing of it runs in this process */
    if (wait && on_manager)
        return cc__errf(EDEADLK, "process pool '%s': its manager thread (in "
                                 "a done-callback) cannot wait for the pool "
                                 "to shut down", p->base.name);
    cc__mutex_lock(&p->mu);
    p->shutdown = true;
    if (cancel_futures)
        p->cancel_req = true;
    seq = ++p->req_seq;
    cc__mutex_unlock(&p->mu);
    cc__mpsc_close(&p->tail); /* no submit succeeds from here on */
    poke(p);
    if (cancel_futures && !on_manager) {
        /* Return with the queued futures cancelled, as the thread pool
         * does: the manager, which owns the queue, does it and says so. */
        cc__mutex_lock(&p->mu);
        rc = wait_locked(p, acked, seq, deadline);
        cc__mutex_unlock(&p->mu);
    }
    if (rc == ETIMEDOUT && wait)
        return cc__errf(deadline == 0 ? EAGAIN : ETIMEDOUT,
                        "cc_executor_shutdown: process pool '%s' is shut "
                        "down but still cancelling its queue", p->base.name);
    if (rc != 0 && rc != ETIMEDOUT) /* not waiting: the manager goes on */
        return cc__err_wait(rc, "cc_executor_shutdown");
    if (wait && cc__executor_join(ex, p->manager, deadline) != 0)
        return -1;
    return 0;
}

static void pool_destroy(cc_executor *ex)
{
    cc__proc_pool *p = cc__pool_of(ex);

    if (cc__pool_foreign(p)) {
        /* A forked child's copy: the manager and the workers are the
         * parent's.  Free the memory this copy owns; the copies of the
         * workers' fds are close-on-exec and go when the child ends. */
        close(p->efd);
        free(p->workers);
        cc_blob_free(p->initarg);
        free(p);
        return;
    }
    cc_thread_free(p->manager);
    close(p->efd);
    free(p->workers);
    cc_blob_free(p->initarg);
    cc_error_free(atomic_load(&p->broken));
    cc_error_free(p->start_error);
    free(p);
}

static int pool_max_workers(cc_executor *ex)
{
    return cc__pool_of(ex)->max_workers;
}

/* Debug mode: asked only on a thread that is "a worker of" this pool,
 * which here is the manager thread (in a done-callback).  Waiting there on
 * a future of the pool can never end: the manager would have to complete
 * it. */
static bool pool_saturated(cc_executor *ex)
{
    (void)ex;
    return true;
}

static const cc__executor_ops pool_ops = {
    .kind = "process pool",
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .destroy = pool_destroy,
    .max_workers = pool_max_workers,
    .saturated = pool_saturated,
    .map = cc__pool_map,
};

/* Check the options; 0 or -1 with the error recorded. */
static int check_opts(int max_workers, const cc_pool_opts *opts)
{
    if (max_workers < 0)
        return cc__errf(EINVAL, "cc_process_pool_new: max_workers must be "
                                ">= 0, got %d", max_workers);
    if (opts == NULL)
        return 0;
    if (CC__OPTS_RESERVED(opts, "cc_process_pool_new", "cc_pool_opts") != 0)
        return -1;
    if (opts->max_tasks_per_child < 0)
        return cc__errf(EINVAL, "cc_process_pool_new: max_tasks_per_child "
                                "must be >= 0, got %d",
                        opts->max_tasks_per_child);
    if (opts->initializer != NULL &&
        cc__fnref_of(opts->initializer, "cc_process_pool_new") == NULL)
        return -1;
    if (opts->initarg != NULL && !cc__blob_check(opts->initarg))
        return cc__err(EINVAL, "cc_process_pool_new: initarg must be a blob "
                               "or NULL");
    return 0;
}

/* Free a pool that never started (its manager joined or never made). */
static void pool_discard(cc__proc_pool *p)
{
    if (p->efd >= 0)
        close(p->efd);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p->workers);
    cc_blob_free(p->initarg);
    cc_error_free(p->start_error);
    free(p);
}

cc_executor *cc_process_pool_new(int max_workers, const cc_pool_opts *opts)
{
    cc__proc_pool *p;
    char name[CC__NAME_MAX + 16];
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    bool shielded;
    unsigned k;
    int rc;

    if (check_opts(max_workers, opts) != 0)
        return NULL;
    if (max_workers == 0)
        max_workers = cc_cpu_count();
    if (posix_memalign((void **)&p, 64, sizeof(*p)) != 0)
        return cc__err_null(ENOMEM, "cc_process_pool_new: out of memory");
    memset(p, 0, sizeof(*p));
    p->efd = p->epfd = -1;
    p->workers = calloc((size_t)max_workers, sizeof(*p->workers));
    if (p->workers == NULL)
        goto fail_nomem;
    if (opts != NULL && opts->initarg != NULL) {
        p->initarg = cc_blob_dup(opts->initarg, cc_blob_len(opts->initarg));
        if (p->initarg == NULL)
            goto fail_nomem;
    }
    p->generation = atomic_load(&fork_generation);
    k = atomic_fetch_add(&pool_counter, 1) + 1;
    p->base.magic = CC__EXECUTOR_MAGIC;
    p->base.ops = &pool_ops;
    p->max_workers = max_workers;
    if (opts != NULL) {
        p->max_tasks = opts->max_tasks_per_child;
        p->initializer = opts->initializer;
    }
    if (opts != NULL && opts->thread_name_prefix != NULL)
        snprintf(p->prefix, sizeof(p->prefix), "%s", opts->thread_name_prefix);
    else
        snprintf(p->prefix, sizeof(p->prefix), "ProcessPool-%u", k);
    snprintf(p->base.name, sizeof(p->base.name), "%s", p->prefix);
    cc__mpsc_init(&p->tail, &p->head, &p->stub);
    atomic_init(&p->wants_work, 0);
    atomic_init(&p->poked, 0);
    atomic_init(&p->broken, NULL);
    p->window = 1; /* until the first results tell how long tasks take */
    cc__mutex_init(&p->mu);
    cc__waitq_init(&p->waiters);
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->efd < 0 || p->epfd < 0 ||
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev) != 0) {
        rc = errno;
        pool_discard(p);
        return cc__errf_null(rc, "cc_process_pool_new: %s", strerror(rc));
    }
    /* The manager starts the workers (see pool_spawn.c for why there). */
    snprintf(name, sizeof(name), "%s-manager", p->prefix);
    p->manager = cc_thread_start(cc__pool_manager_main, p, name);
    if (p->manager == NULL) {
        rc = errno;
        pool_discard(p);
        return cc__errf_null(rc, "cc_process_pool_new: cannot start the "
                             "manager thread");
    }
    /* A short wait (the spawns); a cancelled task waits it out too, in a
     * shield, rather than leave a half-made pool behind. */
    shielded = cc__ctx_get()->fiber != NULL && cc_shield_push(CC_FOREVER) == 0;
    cc__mutex_lock(&p->mu);
    (void)wait_locked(p, started, 0, CC__NS_FOREVER);
    cc__mutex_unlock(&p->mu);
    if (shielded)
        cc_shield_pop();
    if (p->start_error != NULL) {
        cc_error *why = p->start_error;

        p->start_error = NULL;
        (void)cc_thread_join(p->manager, NULL, CC_FOREVER);
        cc_thread_free(p->manager);
        pool_discard(p); /* the manager closed epfd: it is -1 now */
        cc__err_adopt(why);
        return NULL;
    }
    cc__executor_register(&p->base); /* the exit rule (future/exit.c) */
    return &p->base;
fail_nomem:
    pool_discard(p);
    return cc__err_null(ENOMEM, "cc_process_pool_new: out of memory");
}
