/*
 * future.c - cc_future: states, completion, waiting, callbacks, hand-made
 * futures and reference counting (future layer).
 *
 * See src/internal/future.h for the state word and what `mu` guards.
 * Lock order: f->mu may be held while a watcher's notify takes the lock of
 * the thing it belongs to (a cc_wait group, an as_completed iterator), never
 * the reverse.  User callbacks run with no lock held.
 *
 * Records are recycled through a small per-thread cache, so a thread that
 * submits and collects many tasks does not call malloc for each.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal/aio.h"
#include "internal/atfork.h"
#include "internal/ctx.h"
#include "internal/future.h"

/* ------------------------------------------------------------- allocation */

/*
 * Future records come from slabs of SLAB records, cached per thread (a
 * thread that submits and collects reuses its own records without a lock)
 * with a global free list behind the caches.  Slabs are never given back:
 * the memory kept is what the most futures ever alive at once needed (64
 * bytes each).  Sanitizer builds use plain malloc/free instead, so that
 * ASan still sees every use after free.
 */
#if defined(CONCUR_ASAN) || defined(CONCUR_TSAN)

static cc_future *future_alloc(void)
{
    return malloc(sizeof(cc_future));
}

static void future_release_memory(cc_future *f)
{
    f->magic = 0;
    free(f);
}

/* No global state to protect across fork() (src/process/atfork.c). */
void cc__future_fork_prepare(void) {}
void cc__future_fork_parent(void) {}
void cc__future_fork_child(void) {}

#else /* the slab cache */

#define SLAB 64          /* records per malloc */
#define CACHE_MAX 1024   /* records a thread keeps; above, half go global */

static __thread cc_future *cache_head;
static __thread unsigned cache_len;
static __thread bool cache_armed; /* the exit-time flush is set up */

static cc__mutex global_mu = CC__MUTEX_INIT; /* guards global_* */
static cc_future *global_head;
static size_t global_len;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* Move n records (all if n is 0) from this thread's cache to the global
 * list. */
static void cache_flush(unsigned n)
{
    cc_future *first = cache_head;
    cc_future *last = NULL;
    unsigned moved = 0;

    if (first == NULL)
        return;
    for (cc_future *f = first; f != NULL && (n == 0 || moved < n);
         f = atomic_load_explicit(&f->next, memory_order_relaxed)) {
        last = f;
        moved++;
    }
    cache_head = atomic_load_explicit(&last->next, memory_order_relaxed);
    cache_len -= moved;
    cc__mutex_lock(&global_mu);
    atomic_store_explicit(&last->next, global_head, memory_order_relaxed);
    global_head = first;
    global_len += moved;
    cc__mutex_unlock(&global_mu);
}

static void cache_destroy(void *unused)
{
    (void)unused;
    cache_flush(0);
}

static void cache_key_create(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

/* Arrange for the cache to be flushed when this thread ends (a non-NULL
 * key value is what makes pthreads call the destructor). */
static void cache_arm(void)
{
    pthread_once(&cache_once, cache_key_create);
    cache_armed = pthread_setspecific(cache_key, (void *)1) == 0;
}

static void cache_push(cc_future *f)
{
    atomic_store_explicit(&f->next, cache_head, memory_order_relaxed);
    cache_head = f;
    cache_len++;
}

/*
 * A new slab of records.  Small at first (a program with a few futures
 * keeps a few kilobytes), then carved from 2 MiB regions that ask for
 * transparent huge pages: a burst of 200,000 futures then takes 7 page
 * faults instead of 3,000 (measured: ~14% of bench_pool's time went to
 * first-touch faults with 4 KiB pages).  Guarded by global_mu.
 */
#define REGION_BYTES (2u << 20)

static char *region_next;   /* unused part of the current region */
static size_t region_left;
static unsigned slabs_made;

static cc_future *slab_new_locked(size_t *count)
{
    cc_future *slab;

    if (slabs_made++ < 8) {
        *count = SLAB;
        return malloc(SLAB * sizeof(cc_future));
    }
    if (region_left < SLAB * 16 * sizeof(cc_future)) {
        void *r = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (r == MAP_FAILED)
            return NULL;
        (void)madvise(r, REGION_BYTES, MADV_HUGEPAGE);
        region_next = r;
        region_left = REGION_BYTES;
    }
    *count = SLAB * 16;
    slab = (cc_future *)(void *)region_next;
    region_next += SLAB * 16 * sizeof(cc_future);
    region_left -= SLAB * 16 * sizeof(cc_future);
    return slab;
}

/* Refill an empty cache: from the global list, else a new slab. */
static void cache_refill(void)
{
    cc_future *slab;
    size_t count = 0;

    if (!cache_armed)
        cache_arm();
    cc__mutex_lock(&global_mu);
    while (global_head != NULL && cache_len < CACHE_MAX / 2) {
        cc_future *f = global_head;

        global_head = atomic_load_explicit(&f->next, memory_order_relaxed);
        global_len--;
        cache_push(f);
    }
    if (cache_head != NULL) {
        cc__mutex_unlock(&global_mu);
        return;
    }
    slab = slab_new_locked(&count);
    cc__mutex_unlock(&global_mu);
    if (slab == NULL)
        return;
    for (size_t i = count; i-- > 0;)
        cache_push(&slab[i]);
}

static cc_future *future_alloc(void)
{
    cc_future *f;

    if (cache_head == NULL)
        cache_refill();
    f = cache_head;
    if (f != NULL) {
        cache_head = atomic_load_explicit(&f->next, memory_order_relaxed);
        cache_len--;
    }
    return f;
}

static void future_release_memory(cc_future *f)
{
    f->magic = 0;
    if (!cache_armed)
        cache_arm();
    cache_push(f);
    if (cache_len > CACHE_MAX)
        cache_flush(CACHE_MAX / 2);
}

/*
 * Fork handlers (src/process/atfork.c).  global_mu is held across fork(),
 * so the child's copy of the global list and the region cursor is not
 * halfway through a change; the child re-initializes the lock it holds.
 * Records in other threads' caches are lost to the child (their threads do
 * not exist there): a leak of at most CACHE_MAX records per thread.
 */
void cc__future_fork_prepare(void)
{
    cc__mutex_lock(&global_mu);
}

void cc__future_fork_parent(void)
{
    cc__mutex_unlock(&global_mu);
}

void cc__future_fork_child(void)
{
    cc__mutex_init(&global_mu);
}

#endif /* the slab cache */

static cc_future *future_init(cc_future *f, bool user, cc_executor *ex,
                              cc_fn fn, void *arg)
{
    f->magic = CC__FUTURE_MAGIC;
    atomic_init(&f->state, CC__F_PENDING | (user ? CC__F_USER : 0));
    atomic_init(&f->refs, user ? 1 : 2);
    cc__mutex_init(&f->mu);
    f->fn = fn;
    f->arg = arg;
    f->ex = ex;
    atomic_init(&f->next, NULL);
    f->watchers = NULL;
    f->callbacks = NULL;
    return f;
}

cc_future *cc__future_new_task(cc_executor *ex, cc_fn fn, void *arg)
{
    cc_future *f = future_alloc();

    if (f == NULL)
        return cc__err_null(ENOMEM, "cc_submit: out of memory");
    return future_init(f, false, ex, fn, arg);
}

cc_future *cc_future_new(void)
{
    cc_future *f = future_alloc();

    if (f == NULL)
        return cc__err_null(ENOMEM, "cc_future_new: out of memory");
    return future_init(f, true, NULL, NULL, NULL);
}

/* --------------------------------------------------------------- references */

static void report_unretrieved(cc_future *f)
{
    char text[1024];

    cc_error_format(f->error, text, sizeof(text));
    cc__debugf("a future's error was never retrieved: %s", text);
}

void cc__future_unref(cc_future *f)
{
    cc__callback *cb;
    uint32_t s;

    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    s = atomic_load_explicit(&f->state, memory_order_acquire);
    if ((s & CC__F_TASK) && !(s & CC__F_AWAITED) && !(s & CC__F_FAILED) &&
        cc__debug())
        cc__debugf("a task's future was freed without its outcome ever "
                   "being awaited");
    if (s & CC__F_FAILED) {
        if (!(s & CC__F_ERROR_SEEN) && cc__debug())
            report_unretrieved(f);
        cc_error_free(f->error);
    } else if ((s & CC__F_OWNS_RESULT) &&
               (s & CC__F_STATE_MASK) == CC__F_FINISHED) {
        cc_blob_free(f->result); /* a process pool's result */
    }
    while ((cb = f->callbacks) != NULL) { /* never run: future never done */
        f->callbacks = cb->next;
        free(cb);
    }
    future_release_memory(f);
}

cc_future *cc_future_ref(cc_future *f)
{
    if (!cc__future_ok(f))
        return cc__err_null(EINVAL, "cc_future_ref: not a future");
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void cc_future_free(cc_future *f)
{
    if (cc__future_ok(f))
        cc__future_unref(f);
}

/* ------------------------------------------------------------- completion */

/* Run the user callbacks of a done future, in order, with no lock held. */
static void run_callbacks(cc_future *f, cc__callback *cb)
{
    while (cb != NULL) {
        cc__callback *next = cb->next;

        if (cb->fn(f, cb->arg) != 0) {
            char text[1024];
            const cc_error *e = cc_last_error();

            cc_error_format(e, text, sizeof(text));
            fprintf(stderr, "concur: a done-callback of a future failed: %s\n",
                    e != NULL ? text : "(no error recorded)");
            cc_error_clear();
        }
        free(cb);
        cb = next;
    }
}

/*
 * The future just became done (old = the state word before): notify the
 * watchers under mu, then run the callbacks outside it.
 */
static void after_done(cc_future *f, uint32_t old)
{
    cc__callback *cbs;
    cc__watcher *w;

    if (!(old & CC__F_WATCHED))
        return;
    cc__mutex_lock(&f->mu);
    while ((w = f->watchers) != NULL) {
        f->watchers = w->next;
        w->linked = false;
        w->notify(w, f); /* may wake w's owner: read nothing of w after */
    }
    cbs = f->callbacks;
    f->callbacks = NULL;
    cc__mutex_unlock(&f->mu);
    run_callbacks(f, cbs);
}

void cc__future_finish(cc_future *f, void *result, cc_error *error)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    uint32_t done;

    if (error != NULL)
        f->error = error;
    else
        f->result = result;
    /* Keep the flags that stay (USER); drop WATCHED (after_done handles
     * the watchers it announced). */
    do {
        done = (old & CC__F_STICKY) | CC__F_FINISHED |
               (error != NULL ? CC__F_FAILED : 0);
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &old, done, memory_order_acq_rel, memory_order_relaxed));
    after_done(f, old);
}

bool cc__future_run(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    cc_error *error = NULL;
    void *result;

    do {
        if ((s & CC__F_STATE_MASK) != CC__F_PENDING)
            return false; /* cancelled before it could start */
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, (s & ~CC__F_STATE_MASK) | CC__F_RUNNING,
        memory_order_acquire, memory_order_relaxed));
    result = f->fn(f->arg); /* fn and arg are dead after this read */
    if (result == NULL)
        error = cc__error_take_pending();
    else
        cc_error_clear();
    cc__future_finish(f, error != NULL ? NULL : result, error);
    return true;
}

bool cc__future_cancel(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);

    for (;;) {
        uint32_t st = s & CC__F_STATE_MASK;

        if (st == CC__F_CANCELLED)
            return true;
        if (st != CC__F_PENDING)
            return false;
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, (s & CC__F_STICKY) | CC__F_CANCELLED,
                memory_order_acq_rel, memory_order_relaxed))
            break;
    }
    after_done(f, s);
    return true;
}

bool cc_future_cancel(cc_future *f)
{
    if (!cc__future_ok(f)) {
        cc__err(EINVAL, "cc_future_cancel: not a future");
        return false;
    }
    if (atomic_load_explicit(&f->state, memory_order_acquire) & CC__F_TASK)
        return cc__task_cancel_future(f); /* a running task: ask it */
    return cc__future_cancel(f);
}

void cc__future_finish_cancelled(cc_future *f)
{
    uint32_t old = atomic_exchange_explicit(
        &f->state,
        (atomic_load(&f->state) & CC__F_STICKY) | CC__F_CANCELLED,
        memory_order_acq_rel);

    after_done(f, old);
}

/* ---------------------------------------------------------------- watching */

bool cc__future_watch(cc_future *f, cc__watcher *w)
{
    uint32_t s;

    cc__mutex_lock(&f->mu);
    s = atomic_load_explicit(&f->state, memory_order_acquire);
    do {
        uint32_t st = s & CC__F_STATE_MASK;

        if (st == CC__F_FINISHED || st == CC__F_CANCELLED) {
            cc__mutex_unlock(&f->mu);
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, s | CC__F_WATCHED, memory_order_acq_rel,
        memory_order_acquire));
    w->prev = NULL;
    w->next = f->watchers;
    if (f->watchers != NULL)
        f->watchers->prev = w;
    f->watchers = w;
    w->linked = true;
    cc__mutex_unlock(&f->mu);
    return true;
}

void cc__future_unwatch(cc_future *f, cc__watcher *w)
{
    cc__mutex_lock(&f->mu);
    if (w->linked) {
        if (w->prev != NULL)
            w->prev->next = w->next;
        else
            f->watchers = w->next;
        if (w->next != NULL)
            w->next->prev = w->prev;
        w->linked = false;
    }
    cc__mutex_unlock(&f->mu);
}

/* --------------------------------------------------------------- waiting */

static void notify_waiter(cc__watcher *w, cc_future *f)
{
    cc__wakeup wk;

    (void)f;
    if (cc__waiter_claim(w->data, &wk))
        cc__wakeup_fire(wk);
}

/* Debug mode: a pool worker about to wait on a future of its own pool while
 * every worker of that pool is busy is probably waiting forever. */
static void check_self_deadlock(cc_future *f)
{
    cc_executor *mine = cc__ctx_get()->worker_of;

    if (mine == NULL || mine != f->ex || !cc__executor_ok(mine) ||
        mine->ops->saturated == NULL || !mine->ops->saturated(mine))
        return;
    cc__debugf("likely deadlock: worker '%s' of %s '%s' waits for a future "
               "of its own pool, and all %d of its workers are busy",
               cc__ctx_name(cc__ctx_get()), mine->ops->kind, mine->name,
               mine->ops->max_workers(mine));
}

/* Wait until done or the deadline: 0 or ETIMEDOUT. */
static int wait_done(cc_future *f, int64_t deadline)
{
    cc__waiter waiter;
    cc__watcher w;
    int rc;

    for (unsigned round = 0; cc__spin_round(round, deadline); round++)
        if (cc__future_state(f) >= CC__F_FINISHED)
            return 0;
    if (cc__debug())
        check_self_deadlock(f);
    cc__waiter_init(&waiter);
    w.notify = notify_waiter;
    w.data = &waiter;
    if (!cc__future_watch(f, &w))
        return 0; /* done meanwhile */
    rc = cc__waiter_park(&waiter, deadline);
    cc__future_unwatch(f, &w);
    if (rc != 0 && cc__future_state(f) >= CC__F_FINISHED)
        rc = 0;
    return rc;
}

int cc_future_result(cc_future *f, void **result, double timeout)
{
    uint32_t st;

    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_future_result: not a future");
    if (cc__check_timeout(timeout, "cc_future_result") != 0)
        return -1;
    atomic_fetch_or_explicit(&f->state, CC__F_AWAITED, memory_order_relaxed);
    st = cc__future_state(f);
    if (st < CC__F_FINISHED) {
        int64_t deadline;

        int rc;

        if (timeout == 0)
            return cc__err(EAGAIN, "future is not done yet");
        if (cc__checkpoint("future result") != 0 ||
            cc__deadline_for(timeout, "cc_future_result", &deadline) != 0)
            return -1;
        rc = wait_done(f, deadline);
        if (rc == ECANCELED)
            return cc__err_wait(rc, "future result");
        if (rc != 0)
            return cc__err(ETIMEDOUT, "future result timed out: the task is "
                                      "still pending or running");
        st = cc__future_state(f);
    }
    if (st == CC__F_CANCELLED)
        return cc__err(ECANCELED, "future was cancelled");
    if (atomic_load_explicit(&f->state, memory_order_acquire) & CC__F_FAILED) {
        cc_error *copy = cc_error_copy(f->error);

        atomic_fetch_or(&f->state, CC__F_ERROR_SEEN | CC__F_AWAITED);
        if (copy == NULL)
            return cc__errf(cc_error_code(f->error), "%s",
                            cc_error_message(f->error));
        return cc__err_adopt(copy);
    }
    if (result != NULL)
        *result = f->result;
    return 0;
}

const cc_error *cc_future_error(cc_future *f)
{
    if (!cc__future_ok(f) ||
        !(atomic_load_explicit(&f->state, memory_order_acquire) &
          CC__F_FAILED))
        return NULL;
    atomic_fetch_or(&f->state, CC__F_ERROR_SEEN | CC__F_AWAITED);
    return f->error;
}

bool cc_future_cancelled(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) == CC__F_CANCELLED;
}

bool cc_future_running(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) == CC__F_RUNNING;
}

bool cc_future_done(cc_future *f)
{
    return cc__future_ok(f) && cc__future_state(f) >= CC__F_FINISHED;
}

/* --------------------------------------------------------------- callbacks */

int cc_future_add_done_callback(cc_future *f, cc_done_fn fn, void *arg)
{
    cc__callback *cb;
    uint32_t s;

    if (!cc__future_ok(f))
        return cc__err(EINVAL, "cc_future_add_done_callback: not a future");
    if (fn == NULL)
        return cc__err(EINVAL, "cc_future_add_done_callback: fn is NULL");
    cb = malloc(sizeof(*cb));
    if (cb == NULL)
        return cc__err(ENOMEM, "cc_future_add_done_callback: out of memory");
    cb->next = NULL;
    cb->fn = fn;
    cb->arg = arg;
    cc__mutex_lock(&f->mu);
    s = atomic_load_explicit(&f->state, memory_order_acquire);
    do {
        uint32_t st = s & CC__F_STATE_MASK;

        if (st == CC__F_FINISHED || st == CC__F_CANCELLED) {
            cc__mutex_unlock(&f->mu);
            run_callbacks(f, cb); /* already done: call it now */
            return 0;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, s | CC__F_WATCHED, memory_order_acq_rel,
        memory_order_acquire));
    {
        cc__callback **tail = &f->callbacks; /* callbacks are few: walk */

        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = cb;
    }
    cc__mutex_unlock(&f->mu);
    return 0;
}

/* ------------------------------------------------------ hand-made futures */

static int check_user(cc_future *f, const char *what)
{
    if (!cc__future_ok(f))
        return cc__errf(EINVAL, "%s: not a future", what);
    if (!(atomic_load_explicit(&f->state, memory_order_relaxed) & CC__F_USER))
        return cc__errf(EINVAL, "%s: only a future made by cc_future_new "
                                "can be completed by hand", what);
    return 0;
}

bool cc__future_claim(cc_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);

    do {
        if ((s & CC__F_STATE_MASK) != CC__F_PENDING)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, (s & ~CC__F_STATE_MASK) | CC__F_RUNNING,
        memory_order_acquire, memory_order_relaxed));
    return true;
}

int cc_future_set_result(cc_future *f, void *result)
{
    if (check_user(f, "cc_future_set_result") != 0)
        return -1;
    if (!cc__future_claim(f))
        return cc__err(EALREADY, "cc_future_set_result: the future is already "
                                 "done");
    cc__future_finish(f, result, NULL);
    return 0;
}

int cc_future_set_error(cc_future *f, const cc_error *err)
{
    cc_error *copy;

    if (check_user(f, "cc_future_set_error") != 0)
        return -1;
    if (err == NULL || cc_error_code(err) <= 0)
        return cc__err(EINVAL, "cc_future_set_error: an error with a code > 0 "
                               "is required");
    copy = cc_error_copy(err);
    if (copy == NULL)
        return -1;
    if (!cc__future_claim(f)) {
        cc_error_free(copy);
        return cc__err(EALREADY, "cc_future_set_error: the future is already "
                                 "done");
    }
    cc__future_finish(f, NULL, copy);
    return 0;
}
