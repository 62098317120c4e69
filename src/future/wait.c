/*
 * wait.c - waiting for many futures: cc_wait and the as_completed iterator
 * (future layer).
 *
 * Both register one watcher per future.  A watcher's notify runs under the
 * future's mu and takes the waiting side's mu (lock order: future, then
 * waiter side); unregistering happens with the waiting side's mu released.
 * cc_wait recounts the futures at the end, so its counter only decides when
 * to wake up, never the answer.
 */
#include <stdlib.h>

#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/future.h"

/* ------------------------------------------------------------------ cc_wait */

typedef struct wait_group {
    cc__mutex mu;        /* guards done, failed */
    size_t n;
    size_t done;
    size_t failed;
    int when;
    bool cancel_fails;   /* a cancelled future counts as failed */
    cc__waiter waiter;   /* the caller, parked */
} wait_group;

/* Failed, or (when cancel_fails) cancelled. */
static bool bad_future(cc_future *f, bool cancel_fails)
{
    uint32_t s = cc__future_state_word(f);

    return (s & CC__F_FAILED) != 0 ||
           (cancel_fails && (s & CC__F_STATE_MASK) == CC__F_CANCELLED);
}

static bool condition_met(int when, size_t n, size_t done, size_t failed)
{
    if (when == CC_FIRST_COMPLETED)
        return done > 0;
    if (when == CC_FIRST_EXCEPTION)
        return failed > 0 || done == n;
    return done == n;
}

static void group_notify(cc__watcher *w, cc_future *f)
{
    wait_group *g = w->data;
    cc__wakeup wk = {NULL};
    bool wake = false;

    cc__mutex_lock(&g->mu);
    g->done++;
    if (bad_future(f, g->cancel_fails))
        g->failed++;
    if (condition_met(g->when, g->n, g->done, g->failed))
        wake = cc__waiter_claim(&g->waiter, &wk);
    cc__mutex_unlock(&g->mu);
    if (wake)
        cc__wakeup_fire(wk);
}

/* Count the done and failed futures now. */
static void count(cc_future **fs, size_t n, bool cancel_fails, size_t *done,
                  size_t *failed)
{
    *done = *failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (cc__future_state(fs[i]) >= CC__F_FINISHED)
            (*done)++;
        if (bad_future(fs[i], cancel_fails))
            (*failed)++;
    }
}

int cc_wait(cc_future **fs, size_t n, int return_when, double timeout)
{
    return cc__wait(fs, n, return_when, false, timeout);
}

int cc_wait_indexes(cc_future **fs, size_t n, int return_when,
                    double timeout, size_t *done, size_t *ndone)
{
    int rc;
    int err;
    size_t k = 0;

    if (ndone != NULL)
        *ndone = 0;
    if (ndone == NULL || (n > 0 && done == NULL))
        return cc__err(EINVAL, "cc_wait_indexes: done or ndone is NULL");
    rc = cc__wait(fs, n, return_when, false, timeout);
    err = errno;
    if (rc < 0 && err != ETIMEDOUT && err != EAGAIN)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (cc_future_done(fs[i]))
            done[k++] = i;
    *ndone = k;
    if (rc < 0) {
        errno = err;
        return -1;
    }
    return 0;
}

int cc__wait(cc_future **fs, size_t n, int return_when, bool cancel_fails,
             double timeout)
{
    wait_group g;
    cc__watcher *ws;
    int64_t deadline;
    size_t done;
    size_t failed;
    int rc;

    if (return_when != CC_FIRST_COMPLETED && return_when != CC_FIRST_EXCEPTION &&
        return_when != CC_ALL_COMPLETED)
        return cc__errf(EINVAL, "cc_wait: unknown return_when %d", return_when);
    if (n > 0 && fs == NULL)
        return cc__err(EINVAL, "cc_wait: futures are NULL");
    for (size_t i = 0; i < n; i++)
        if (!cc__future_ok(fs[i]))
            return cc__errf(EINVAL, "cc_wait: entry %zu is not a future", i);
    if (cc__deadline_for(timeout, "cc_wait", &deadline) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        atomic_fetch_or_explicit(&fs[i]->state, CC__F_AWAITED,
                                 memory_order_relaxed);
    count(fs, n, cancel_fails, &done, &failed);
    if (condition_met(return_when, n, done, failed))
        return (int)done;
    if (timeout == 0)
        return cc__err(EAGAIN, "cc_wait: not done yet");
    if (cc__cancel_pending())
        return cc__err(ECANCELED, "cc_wait: the task is cancelled");
    ws = calloc(n, sizeof(*ws));
    if (ws == NULL)
        return cc__err(ENOMEM, "cc_wait: out of memory");
    cc__mutex_init(&g.mu);
    g.n = n;
    g.done = 0;
    g.failed = 0;
    g.when = return_when;
    g.cancel_fails = cancel_fails;
    cc__waiter_init(&g.waiter);
    for (size_t i = 0; i < n; i++) {
        ws[i].notify = group_notify;
        ws[i].data = &g;
        if (!cc__future_watch(fs[i], &ws[i])) {
            cc__mutex_lock(&g.mu); /* done already: count it ourselves */
            g.done++;
            if (bad_future(fs[i], cancel_fails))
                g.failed++;
            if (condition_met(g.when, g.n, g.done, g.failed))
                (void)cc__waiter_claim(&g.waiter, &(cc__wakeup){NULL});
            cc__mutex_unlock(&g.mu);
        }
    }
    rc = cc__waiter_park(&g.waiter, deadline);
    for (size_t i = 0; i < n; i++)
        cc__future_unwatch(fs[i], &ws[i]);
    free(ws);
    count(fs, n, cancel_fails, &done, &failed);
    if (condition_met(return_when, n, done, failed))
        return (int)done;
    if (rc == ECANCELED)
        return cc__err(ECANCELED, "cc_wait: the task was cancelled");
    return cc__errf(ETIMEDOUT, "cc_wait: %zu of %zu futures done at the "
                               "deadline", done, n);
}

/* ------------------------------------------------------------ as_completed */

#define AS_COMPLETED_MAGIC 0x41534350u /* "ASCP" */

typedef struct as_watcher {
    cc__watcher w;                /* first: cast back in notify */
    struct cc_as_completed *it;
    size_t index;
} as_watcher;

struct cc_as_completed {
    uint32_t magic;
    size_t n;                     /* distinct futures */
    cc_future **fs;               /* each once; our own references */
    size_t *at;                   /* fs[i]'s first place in the caller's */
    as_watcher *ws;
    double deadline;
    cc__mutex mu;                 /* guards everything below */
    size_t *ready;                /* indexes of done futures, in order */
    size_t nready;                /* filled */
    size_t given;                 /* returned by next */
    cc__waiter *sleeper;          /* next() parked, or NULL */
};

/* Record index i as done; it->mu held.  Returns the wake-up to fire. */
static cc__wakeup ready_locked(struct cc_as_completed *it, size_t i)
{
    cc__wakeup wk = {NULL};

    CC__ASSERT(cc__mutex_owned(&it->mu));
    CC__ASSERT(it->nready < it->n);

    it->ready[it->nready++] = i;
    if (it->sleeper != NULL) {
        (void)cc__waiter_claim(it->sleeper, &wk);
        it->sleeper = NULL;
    }
    return wk;
}

static void as_notify(cc__watcher *w, cc_future *f)
{
    as_watcher *aw = (as_watcher *)w;
    struct cc_as_completed *it = aw->it;
    cc__wakeup wk;

    (void)f;
    cc__mutex_lock(&it->mu);
    wk = ready_locked(it, aw->index);
    cc__mutex_unlock(&it->mu);
    cc__wakeup_fire(wk);
}

/* A future and where it first appears, for finding duplicates. */
typedef struct slot {
    uintptr_t f;
    size_t at;
} slot;

static int by_future_then_place(const void *a, const void *b)
{
    const slot *x = a;
    const slot *y = b;

    if (x->f != y->f)
        return x->f < y->f ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * Write the distinct futures of fs[0..n) to out, each once, in the order
 * of their first appearance (concurrent.futures.as_completed takes a set
 * of them), with that first place in fs to at, and return how many there
 * are; SIZE_MAX when out of memory.  O(n log n).
 */
static size_t distinct_futures(cc_future **fs, size_t n, cc_future **out,
                               size_t *at)
{
    slot *s = malloc((n + 1) * sizeof(*s));
    bool *first = calloc(n + 1, sizeof(*first));
    size_t m = 0;

    if (s == NULL || first == NULL) {
        free(s);
        free(first);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        s[i].f = (uintptr_t)fs[i];
        s[i].at = i;
    }
    qsort(s, n, sizeof(*s), by_future_then_place);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s[i].f != s[i - 1].f)
            first[s[i].at] = true;
    for (size_t i = 0; i < n; i++)
        if (first[i]) {
            at[m] = i;
            out[m++] = fs[i];
        }
    free(s);
    free(first);
    return m;
}

cc_as_completed *cc_as_completed_new(cc_future **fs, size_t n, double timeout)
{
    struct cc_as_completed *it;

    if (n > 0 && fs == NULL)
        return cc__err_null(EINVAL, "cc_as_completed_new: futures are NULL");
    for (size_t i = 0; i < n; i++)
        if (!cc__future_ok(fs[i]))
            return cc__errf_null(EINVAL, "cc_as_completed_new: entry %zu is "
                                         "not a future", i);
    if (cc__check_timeout(timeout, "cc_as_completed_new") != 0)
        return NULL;
    it = calloc(1, sizeof(*it));
    if (it != NULL) {
        it->fs = calloc(n + 1, sizeof(*it->fs));
        it->ws = calloc(n + 1, sizeof(*it->ws));
        it->ready = calloc(n + 1, sizeof(*it->ready));
        it->at = calloc(n + 1, sizeof(*it->at));
    }
    if (it == NULL || it->fs == NULL || it->ws == NULL || it->ready == NULL ||
        it->at == NULL) {
        if (it != NULL) {
            free(it->fs);
            free(it->ws);
            free(it->ready);
            free(it->at);
        }
        free(it);
        return cc__err_null(ENOMEM, "cc_as_completed_new: out of memory");
    }
    n = distinct_futures(fs, n, it->fs, it->at);
    if (n == SIZE_MAX) {
        free(it->fs);
        free(it->ws);
        free(it->ready);
        free(it->at);
        free(it);
        return cc__err_null(ENOMEM, "cc_as_completed_new: out of memory");
    }
    it->magic = AS_COMPLETED_MAGIC;
    it->n = n;
    it->deadline = cc_deadline(timeout);
    cc__mutex_init(&it->mu);
    for (size_t i = 0; i < n; i++) {
        cc_future_ref(it->fs[i]);
        it->ws[i].w.notify = as_notify;
        it->ws[i].it = it;
        it->ws[i].index = i;
        if (!cc__future_watch(it->fs[i], &it->ws[i].w)) {
            cc__mutex_lock(&it->mu);
            (void)ready_locked(it, i);
            cc__mutex_unlock(&it->mu);
        }
    }
    return it;
}

int cc_as_completed_next(cc_as_completed *it, cc_future **f)
{
    return cc_as_completed_next_at(it, f, NULL);
}

int cc_as_completed_next_at(cc_as_completed *it, cc_future **f, size_t *index)
{
    int64_t deadline;

    if (it == NULL || it->magic != AS_COMPLETED_MAGIC || f == NULL)
        return cc__err(EINVAL, "cc_as_completed_next: bad iterator or output");
    if (cc__deadline_for(cc_remaining(it->deadline), "cc_as_completed_next",
                         &deadline) != 0)
        return -1;
    if (cc__checkpoint("as_completed next") != 0)
        return -1;
    cc__mutex_lock(&it->mu);
    for (;;) {
        cc__waiter w;
        int rc;

        if (it->given == it->n) {
            cc__mutex_unlock(&it->mu);
            return 0;
        }
        if (it->given < it->nready) {
            size_t k = it->ready[it->given++];

            *f = it->fs[k];
            if (index != NULL)
                *index = it->at[k];
            atomic_fetch_or_explicit(&(*f)->state, CC__F_AWAITED,
                                     memory_order_relaxed);
            cc__mutex_unlock(&it->mu);
            return 1;
        }
        if (deadline <= cc__now_ns())
            break;
        cc__waiter_init(&w);
        it->sleeper = &w;
        cc__mutex_unlock(&it->mu);
        rc = cc__waiter_park(&w, deadline);
        cc__mutex_lock(&it->mu);
        if (it->sleeper == &w)
            it->sleeper = NULL;
        if (rc == ECANCELED && it->given == it->nready) {
            cc__mutex_unlock(&it->mu);
            return cc__err_wait(rc, "as_completed next");
        }
        if (rc != 0 && it->given == it->nready)
            break;
    }
    cc__mutex_unlock(&it->mu);
    return cc__errf(ETIMEDOUT, "as_completed: %zu of %zu futures unfinished "
                               "at the deadline", it->n - it->given, it->n);
}

void cc_as_completed_free(cc_as_completed *it)
{
    if (it == NULL || it->magic != AS_COMPLETED_MAGIC)
        return;
    it->magic = 0;
    for (size_t i = 0; i < it->n; i++) {
        cc__future_unwatch(it->fs[i], &it->ws[i].w);
        cc_future_free(it->fs[i]);
    }
    free(it->fs);
    free(it->ws);
    free(it->ready);
    free(it->at);
    free(it);
}
