/*
 * imap.c - cc_imap, the lazy map bounded in flight (Pool.imap and
 * imap_unordered) over any executor's cc_submit (future layer).
 *
 * The iterator keeps a window of at most `max` futures: the items
 * submitted and not yet taken.  Ordered, the window is a ring in input
 * order and next waits for its head; unordered, it is a plain array and
 * next waits for any of them (cc__wait, FIRST_COMPLETED) and takes the
 * first done one it finds.  A slot is refilled right after a result is
 * taken, before next returns, so the workers stay busy while the caller
 * handles the result.  Submission and the producer run only in the
 * calling thread: the iterator needs no lock (one caller at a time).
 *
 * A submit or producer failure stops the stream: it is kept (stop_*) and
 * reported once the items before it have all been given, then next says 0.
 * A process pool's future owns its result blob; taking a result clears
 * the future's OWNS_RESULT flag, handing the blob to the caller.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/future.h"

#define IMAP_MAGIC 0x494d4150u /* "IMAP" */

struct cc_imap {
    uint32_t magic;
    cc_executor *ex;
    cc_fn fn;
    void **args;            /* array source, or NULL */
    size_t n;
    cc_imap_source source;  /* producer source, or NULL */
    void *state;
    bool ordered;
    size_t max;             /* window size */
    cc_future **win;        /* max slots */
    size_t *idx;            /* each slot's item index */
    size_t head;            /* ordered: the oldest slot */
    size_t count;           /* slots used */
    size_t next_item;       /* index of the next item to submit */
    bool exhausted;         /* nothing more will be submitted */
    int stop_code;          /* a submit or producer failure, or 0 */
    cc_error *stop_error;   /* its error (owned; NULL if out of memory) */
    bool ended;             /* the stop was reported */
};

/* Window slot k, counting from the oldest (ordered: a ring). */
static size_t slot_at(const cc_imap *it, size_t k)
{
    return it->ordered ? (it->head + k) % it->max : k;
}

/* Draw the next argument; 1 with *arg, 0 at the end, -1 failed. */
static int draw(cc_imap *it, void **arg)
{
    int rc;

    if (it->source == NULL) {
        if (it->next_item >= it->n)
            return 0;
        *arg = it->args[it->next_item];
        return 1;
    }
    cc_error_clear();
    rc = it->source(it->state, it->next_item, arg);
    if (rc == 1 || rc == 0)
        return rc;
    if (cc_error_pending() != NULL)
        return cc__err_adopt(cc__error_take_pending());
    return cc__errf(errno > 0 ? errno : EIO, "cc_imap: the producer failed "
                    "on item %zu", it->next_item);
}

/* Submit items while the window has room and the source has items. */
static void refill(cc_imap *it)
{
    while (!it->exhausted && it->count < it->max) {
        void *arg = NULL;
        int rc = draw(it, &arg);
        cc_future *f = NULL;
        size_t k;

        if (rc == 1)
            f = cc_submit(it->ex, it->fn, arg);
        if (rc == 0) {
            it->exhausted = true;
            break;
        }
        if (f == NULL) {
            it->stop_code = errno;
            it->stop_error = cc_error_copy(cc_last_error());
            it->exhausted = true;
            break;
        }
        k = slot_at(it, it->count);
        it->win[k] = f;
        it->idx[k] = it->next_item++;
        it->count++;
    }
}

static void imap_discard(cc_imap *it)
{
    free(it->win);
    free(it->idx);
    cc_error_free(it->stop_error);
    free(it);
}

static cc_imap *imap_new(cc_executor *ex, cc_fn fn, void **args, size_t n,
                         cc_imap_source source, void *state, size_t max,
                         bool ordered, const char *what)
{
    cc_imap *it;

    if (!cc__executor_ok(ex))
        return cc__errf_null(EINVAL, "%s: not an executor", what);
    if (fn == NULL)
        return cc__errf_null(EINVAL, "%s: fn is NULL", what);
    if (max == 0)
        max = 2 * (size_t)ex->ops->max_workers(ex);
    if (max == 0)
        max = 1;
    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    it->win = calloc(max, sizeof(*it->win));
    it->idx = calloc(max, sizeof(*it->idx));
    if (it->win == NULL || it->idx == NULL) {
        imap_discard(it);
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    }
    it->ex = ex;
    it->fn = fn;
    it->args = args;
    it->n = n;
    it->source = source;
    it->state = state;
    it->ordered = ordered;
    it->max = max;
    refill(it);
    if (it->count == 0 && it->stop_code != 0) {
        /* Refused from the start (a shut-down pool, say): fail the call. */
        int code = it->stop_code;
        cc_error *why = it->stop_error;

        it->stop_error = NULL;
        imap_discard(it);
        if (why != NULL)
            cc__err_adopt(why);
        else
            cc__errf(code, "%s: the first item could not be submitted", what);
        return NULL;
    }
    it->magic = IMAP_MAGIC;
    return it;
}

cc_imap *cc_imap_new(cc_executor *ex, cc_fn fn, void **args, size_t n,
                     size_t max_in_flight, bool ordered)
{
    if (n > 0 && args == NULL)
        return cc__err_null(EINVAL, "cc_imap_new: args is NULL");
    return imap_new(ex, fn, args, n, NULL, NULL, max_in_flight, ordered,
                    "cc_imap_new");
}

cc_imap *cc_imap_new_source(cc_executor *ex, cc_fn fn, cc_imap_source next,
                            void *state, size_t max_in_flight, bool ordered)
{
    if (next == NULL)
        return cc__err_null(EINVAL, "cc_imap_new_source: next is NULL");
    return imap_new(ex, fn, NULL, 0, next, state, max_in_flight, ordered,
                    "cc_imap_new_source");
}

/* Wait for a done slot; its place in the window (counting from the
 * oldest) in *k.  0, or -1 with ETIMEDOUT/EAGAIN/ECANCELED recorded. */
static int wait_done(cc_imap *it, double timeout, size_t *k)
{
    cc_future **fs = it->ordered ? &it->win[it->head] : it->win;
    size_t n = it->ordered ? 1 : it->count;

    if (cc__wait(fs, n, CC_FIRST_COMPLETED, false, timeout) < 0) {
        if (errno == ETIMEDOUT)
            return cc__errf(ETIMEDOUT, "cc_imap_next: no result at the "
                                       "deadline (%zu in flight)", it->count);
        if (errno == EAGAIN)
            return cc__err(EAGAIN, "cc_imap_next: no result ready");
        return -1;
    }
    for (size_t j = 0; j < n; j++)
        if (cc_future_done(fs[j])) {
            *k = j;
            return 0;
        }
    return cc__err(EAGAIN, "cc_imap_next: no result ready"); /* unreachable:
                        cc__wait saw one done, and done is final */
}

/* Take slot k (counting from the oldest) out of the window. */
static cc_future *take_slot(cc_imap *it, size_t k, size_t *item)
{
    size_t s = slot_at(it, k);
    cc_future *f = it->win[s];

    *item = it->idx[s];
    if (it->ordered) {
        it->head = (it->head + 1) % it->max;
    } else {
        it->win[s] = it->win[it->count - 1];
        it->idx[s] = it->idx[it->count - 1];
    }
    it->count--;
    return f;
}

int cc_imap_next(cc_imap *it, void **result, size_t *index, double timeout)
{
    cc_future *f;
    size_t item;
    size_t k = 0;
    void *r = NULL;
    int rc;

    if (index != NULL)
        *index = SIZE_MAX;
    if (it == NULL || it->magic != IMAP_MAGIC)
        return cc__err(EINVAL, "cc_imap_next: not an iterator");
    if (cc__check_timeout(timeout, "cc_imap_next") != 0)
        return -1;
    if (it->count == 0) {
        if (it->ended || it->stop_code == 0)
            return 0;
        it->ended = true; /* report the stop once, then the end */
        if (index != NULL)
            *index = it->next_item;
        if (it->stop_error != NULL) {
            cc_error *e = it->stop_error;

            it->stop_error = NULL;
            return cc__err_adopt(e);
        }
        return cc__errf(it->stop_code, "cc_imap_next: item %zu could not be "
                                       "submitted", it->next_item);
    }
    if (wait_done(it, timeout, &k) != 0)
        return -1;
    f = take_slot(it, k, &item);
    refill(it); /* before reading f's outcome, which sets the error */
    rc = cc_future_result(f, &r, 0);
    if (rc == 0 && result != NULL) /* a process pool's blob becomes the
                                       caller's; not taken, it goes with f */
        atomic_fetch_and_explicit(&f->state, ~(uint32_t)CC__F_OWNS_RESULT,
                                  memory_order_relaxed);
    cc_future_free(f);
    if (index != NULL)
        *index = item;
    if (rc != 0)
        return -1; /* the item's error, as cc_future_result set it */
    if (result != NULL)
        *result = r;
    return 1;
}

void cc_imap_free(cc_imap *it)
{
    bool scoped;

    if (it == NULL || it->magic != IMAP_MAGIC)
        return;
    it->magic = 0;
    for (size_t k = 0; k < it->count; k++)
        (void)cc__future_cancel(it->win[slot_at(it, k)]);
    /* Wait for the running ones, whatever the caller's cancellation and
     * deadline scopes say: they use args and fn's data. */
    cc__cancel_mask();
    scoped = cc__deadline_push_own(CC__NS_FOREVER) == 0;
    for (size_t k = 0; k < it->count; k++) {
        cc_future *f = it->win[slot_at(it, k)];

        while (!cc_future_done(f))
            (void)cc__wait(&f, 1, CC_ALL_COMPLETED, false, CC_FOREVER);
        (void)cc_future_error(f); /* dropped on purpose: not a lost error */
        cc_future_free(f);
    }
    if (scoped)
        cc_deadline_pop();
    cc__cancel_unmask();
    imap_discard(it);
}
