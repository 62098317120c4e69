/*
 * thread_hello - the first threads of Expert Python Programming, ch. 6:
 * my_function() run in a new thread, which the main thread starts and then
 * joins (Thread(target=my_function), start(), join()).  With a count, the
 * book's next step: that many threads started in bulk, then joined in
 * bulk.  Each prints one line.
 * Usage: thread_hello [N]    (default 1, the first snippet; the book's
 *                             bulk example uses 10)
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/sync.h"

enum { MAX_THREADS = 1000 };

/* The function we want to run in the new thread.  One printf per line:
 * stdio's lock keeps lines from several threads whole. */
static void *my_function(void *arg)
{
    printf("printing from thread\n");
    return arg;
}

int main(int argc, char **argv)
{
    cc_thread *threads[MAX_THREADS];
    int n = 1;
    int started = 0;
    int failed = 0;

    if (argc == 2) {
        char *end;

        n = (int)strtol(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || n < 1 || n > MAX_THREADS)
            n = 0;
    }
    if (argc > 2 || n == 0) {
        fprintf(stderr, "usage: %s [N]    (1..%d threads)\n", argv[0],
                MAX_THREADS);
        return 2;
    }
    /* threads = [Thread(target=my_function) ...]; thread.start() */
    for (; started < n; started++) {
        threads[started] = cc_thread_start(my_function, NULL, NULL);
        if (threads[started] == NULL) {
            fprintf(stderr, "thread_hello: %s\n", cc_errmsg());
            failed = 1;
            break;
        }
    }
    /* thread.join(): the main thread waits for each to end */
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "thread_hello: %s: ", cc_thread_name(threads[i]));
            cc_error_print(cc_last_error(), stderr);
            failed = 1;
        }
        cc_thread_free(threads[i]);
    }
    return failed ? EXIT_FAILURE : 0;
}
