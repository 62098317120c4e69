/*
 * rates_queues.h - the hand-made thread pool of Expert Python Programming,
 * ch. 6, as the book grows it from program to program: THREAD_POOL_SIZE
 * workers that take base currencies from a work queue until it is empty
 * (thread_pool.py), hand their results to the main thread through a
 * results queue instead of printing them (two-way queues), put errors on
 * that queue too (error_handling.py), and ask a shared throttle before
 * each request (throttling).  rates_pool, rates_two_queues, rates_errors
 * and rates_throttle each switch on one more of these steps.
 */
#ifndef EXAMPLES_HTTP_RATES_QUEUES_H
#define EXAMPLES_HTTP_RATES_QUEUES_H

#include <stdbool.h>

#include "concur/queue.h"
#include "concur/throttle.h"
#include "net_example.h"
#include "rates_common.h"

enum { THREAD_POOL_SIZE = 4 };

/* Which of the book's steps a program takes (see the top of this file). */
typedef struct rates_steps {
    bool results_queue; /* two-way queues: main prints, not the workers */
    bool keep_errors;   /* errors travel on the results queue */
    double throttle;    /* requests per second (0: no throttle) */
    svc_opts knobs;     /* the local service's (latency 0: the default) */
} rates_steps;

/*
 * rates_queues_main - the whole program for those steps: the options and
 * the service (net_example.h), the queues, THREAD_POOL_SIZE workers,
 * work_queue.join(), the joins, then the main thread's loop over the
 * results queue, where the first error is "re-raised": printed on stderr
 * as "<prog>: <error> at <file:line> in thread '<worker>'", ending the
 * loop as the book's raise ends its program.  Returns main()'s status: 0,
 * 1 after an error (Python's status for an uncaught exception), 2 for bad
 * options.
 */
int rates_queues_main(int argc, char **argv, const rates_steps *steps);

#endif
