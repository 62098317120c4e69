/*
 * executor_basics - a future from a one-worker thread pool: the task starts
 * as soon as it is submitted (it prints "processing" before anybody asks
 * for its result), shutting the pool down waits for it, and the future then
 * hands over its result, 42.  Rebuilds the loudly_return session of Expert
 * Python Programming, ch. 6 (concurrent.futures).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/future.h"

static void *loudly_return(void *arg)
{
    (void)arg;
    printf("processing\n");
    return (void *)(intptr_t)42;
}

/* A one-line picture of the future, like Python's repr of one. */
static void print_future(cc_future *f)
{
    const char *state = cc_future_cancelled(f) ? "cancelled"
                        : cc_future_done(f)    ? "finished"
                        : cc_future_running(f) ? "running"
                                               : "pending";

    printf("<future at %p state=%s>\n", (void *)f, state);
}

int main(int argc, char **argv)
{
    cc_executor *executor;
    cc_future *future;
    void *result;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }

    /* `with ThreadPoolExecutor(1) as executor:` */
    executor = cc_thread_pool_new(1, NULL);
    if (executor == NULL) {
        fprintf(stderr, "executor_basics: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    future = cc_submit(executor, loudly_return, NULL);
    if (future == NULL) {
        fprintf(stderr, "executor_basics: submit: %s\n", cc_errmsg());
        cc_executor_free(executor);
        return EXIT_FAILURE;
    }
    /* The end of the `with` block: wait for the task, stop the worker. */
    if (cc_executor_shutdown(executor, true, false) != 0) {
        fprintf(stderr, "executor_basics: shutdown: %s\n", cc_errmsg());
        cc_future_free(future);
        cc_executor_free(executor);
        return EXIT_FAILURE;
    }
    cc_executor_free(executor); /* the future outlives its executor */

    print_future(future);
    /* Done already, so result() need not wait (timeout 0). */
    if (cc_future_result(future, &result, 0) != 0) {
        fprintf(stderr, "executor_basics: result: ");
        cc_error_print(cc_last_error(), stderr);
        cc_future_free(future);
        return EXIT_FAILURE;
    }
    printf("%d\n", (int)(intptr_t)result);
    cc_future_free(future);
    return 0;
}
