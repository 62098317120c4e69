/*
 * rates_queues.c - the workers of the book's hand-made thread pool and
 * the main thread's side of its queues (see rates_queues.h).  The workers
 * share only the queues and the throttle, which are thread-safe; each
 * outcome belongs to one thread at a time (its worker, then main).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "rates_queues.h"

/* What the workers share, made by main before they start; they use it only
 * through the queues and the throttle (both thread-safe). */
typedef struct rates_workers {
    const char *base_url;
    cc_queue *work_queue;    /* base currencies (const char *) */
    cc_queue *results_queue; /* rates_outcome *, or NULL: workers print */
    bool keep_errors;        /* put errors on results_queue (else a failed
                                fetch ends its worker, as in the book) */
    cc_throttle *throttle;   /* consulted before each request, or NULL */
} rates_workers;

/* An item of the results queue: a result, or the error instead (the
 * book puts the exception object itself on the queue). */
typedef struct rates_outcome {
    rates_result result;
    cc_error *error; /* NULL on success; owned by the outcome */
} rates_outcome;

/* worker(work_queue, results_queue, throttle) of the book, one loop for
 * all four programs. */
static void *worker(void *arg)
{
    rates_workers *w = arg;
    void *item;

    /* get_nowait(): EAGAIN is the book's Empty, the end of the work */
    while (cc_queue_get(w->work_queue, &item, 0) == 0) {
        rates_outcome *o = calloc(1, sizeof(*o));
        int rc;

        if (o == NULL) {
            cc_queue_task_done(w->work_queue);
            return cc_fail(ENOMEM, "worker: out of memory");
        }
        /* the book polls throttle.consume() with 0.1 s sleeps; acquire
         * sleeps exactly until the token is due */
        if (w->throttle != NULL)
            cc_throttle_acquire(w->throttle, 1, CC_FOREVER);
        rc = rates_fetch(w->base_url, item, &o->result);
        if (rc != 0 && w->keep_errors) {
            o->error = cc_error_copy(cc_last_error());
            cc_error_clear(); /* caught: the worker goes on */
        }
        if (rc == 0 && w->results_queue == NULL)
            rates_present(&o->result);
        if ((rc == 0 || w->keep_errors) && w->results_queue != NULL &&
            cc_queue_put(w->results_queue, o, CC_FOREVER) == 0)
            o = NULL;
        if (o != NULL)
            cc_error_free(o->error);
        free(o);
        /* The book marks a failed item done only once it catches errors,
         * and its main thread then waits forever; done either way here. */
        cc_queue_task_done(w->work_queue);
        if (rc != 0 && !w->keep_errors)
            return NULL; /* the worker dies with the fetch's error */
    }
    return errno == EAGAIN ? arg : cc_fail(errno, "worker: %s", cc_errmsg());
}

/* Put the bases on the work queue, start the workers, wait for
 * work_queue.join() and join them.  Returns how many workers failed, or
 * -1 when they could not start. */
static int run_workers(rates_workers *w, const char *prog)
{
    cc_thread *threads[THREAD_POOL_SIZE];

    for (int i = 0; i < RATES_N; i++)
        cc_queue_put(w->work_queue, (void *)rates_bases[i], CC_FOREVER);
    if (ex_threads_start(prog, threads, THREAD_POOL_SIZE, worker, NULL, w) != 0)
        return -1;
    cc_queue_join(w->work_queue, CC_FOREVER);
    return ex_threads_join(threads, THREAD_POOL_SIZE);
}

/* The main thread's loop over the results queue (NULL: nothing to do):
 * present each result, raise the first error.  Frees every outcome.
 * 0, or -1 after an error. */
static int present_results(cc_queue *results_queue, const char *prog)
{
    void *item;
    int rc = 0;

    while (results_queue != NULL &&
           cc_queue_get(results_queue, &item, 0) == 0) {
        rates_outcome *o = item;

        if (rc == 0 && o->error != NULL) {
            /* raise result */
            fprintf(stderr, "%s: ", prog);
            cc_error_print(o->error, stderr);
            rc = -1;
        } else if (rc == 0) {
            rates_present(&o->result);
        }
        cc_error_free(o->error);
        free(o);
    }
    return rc;
}

int rates_queues_main(int argc, char **argv, const rates_steps *steps)
{
    ex_target target;
    rates_workers w = {0};
    double start;
    int failed = -1;

    if (ex_target_open(&target, argc, argv,
                       steps->knobs.latency_max > 0 ? &steps->knobs : NULL) != 0)
        return 2;
    start = cc_now();
    w.base_url = target.base_url;
    w.keep_errors = steps->keep_errors;
    w.work_queue = cc_queue_new(0, CC_FIFO);
    if (steps->results_queue)
        w.results_queue = cc_queue_new(0, CC_FIFO);
    if (steps->throttle > 0)
        w.throttle = cc_throttle_new(steps->throttle, 0);
    if (w.work_queue == NULL || (steps->results_queue && !w.results_queue) ||
        (steps->throttle > 0 && w.throttle == NULL))
        rates_fail(argv[0]);
    else
        failed = run_workers(&w, argv[0]);
    if (present_results(w.results_queue, argv[0]) != 0)
        failed = -1;
    if (failed == 0)
        rates_print_elapsed(start);
    cc_throttle_free(w.throttle);
    cc_queue_free(w.results_queue);
    cc_queue_free(w.work_queue);
    ex_target_close(&target);
    return failed == 0 ? 0 : 1;
}
