/*
 * net_example.h - what the network examples (rates_*, sponsors_*) share:
 * where they send their requests -- the service named by --base-url, or
 * else the local service (tools/service) started in-process on a free
 * port, with a realistic latency so that the timings show what each
 * concurrency model gains -- and starting and joining a set of threads.
 */
#ifndef EXAMPLES_HTTP_NET_EXAMPLE_H
#define EXAMPLES_HTTP_NET_EXAMPLE_H

#include "concur/sync.h"
#include "service.h"

/* The latency of the local service unless --latency says otherwise: each
 * answer waits 20-50 ms, about what a nearby real API takes. */
#define EX_LATENCY_MIN 0.020
#define EX_LATENCY_MAX 0.050

/* What the command line chose.  Owned by the caller; ex_target_close. */
typedef struct ex_target {
    const char *base_url; /* without a trailing slash */
    svc *service;         /* the local service in this process, or NULL */
    char *owned;          /* --base-url's copy, or the apart service's URL */
    int apart_pid;        /* the apart service's process, or 0 */
    int apart_fd;         /* its lifeline: closing it stops it (-1: none) */
} ex_target;

/*
 * ex_target_open - parse the options every network example takes:
 *   --base-url URL       talk to that service instead of the local one
 *   --latency S|MIN-MAX  the local service's delay per answer
 *   --error-rate P       the share of its answers that are 500s (0..1)
 *   --rate-limit N       requests per second before it answers 429
 *   --seed N             its random draws (latency, errors)
 * `knobs` gives the defaults of the local service (NULL: the latency
 * above, nothing else).  Starts the local service unless --base-url is
 * given.  Returns 0, or -1 after printing the usage or the service's error
 * on stderr.
 */
int ex_target_open(ex_target *t, int argc, char **argv, const svc_opts *knobs);

/* ex_target_open_latency - ex_target_open with the local service's answers
 * delayed by a uniform draw from [min, max] seconds unless --latency says
 * otherwise.  Returns 0, or 2 (a usage error or a service that could not
 * start, printed) -- a ready exit status for main. */
int ex_target_open_latency(ex_target *t, int argc, char **argv, double min,
                           double max);

/*
 * ex_target_open_apart - the same, but the local service runs in a child
 * process of its own, started before this process has any thread: for the
 * examples that fork children later (cc_process).  A fork copies only the
 * forking thread, and a thread of the service holding a lock of the
 * allocator or of stdio at that moment would leave the child stuck; with
 * the service apart, the forking process has no other thread.  The child
 * serves until the lifeline pipe closes (ex_target_close, or this
 * process's end), so it never outlives the example.
 */
int ex_target_open_apart(ex_target *t, int argc, char **argv, const svc_opts *knobs);

/* ex_target_close - close the calling thread's kept HTTP connections
 * (cc_http_thread_cleanup), stop the local service (if any), free the rest. */
void ex_target_close(ex_target *t);

/*
 * ex_threads_start - start n threads (named "Thread-N", as in Python) each
 * running fn(args[i]), or fn(arg) for all when args is NULL.  Returns 0,
 * or -1 when a thread could not start: the ones started are joined (as
 * ex_threads_join) and the error is printed as "<prog>: <error>".
 */
int ex_threads_start(const char *prog, cc_thread **threads, int n, cc_fn fn,
                     void *const *args, void *arg);

/*
 * ex_threads_join - join the n threads, last started first (the book's
 * `while threads: threads.pop().join()`), and free them.  A thread that
 * failed is reported as Python reports an exception that ended a thread:
 * "Exception in thread Thread-3:" and the error, on stderr.  Returns how
 * many failed.
 */
int ex_threads_join(cc_thread **threads, int n);

#endif
