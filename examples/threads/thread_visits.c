/*
 * thread_visits - 100 threads each count 100,000 visits in one shared
 * counter: first with a plain read-then-write (updates get lost), then with a
 * cc_lock around the increment (exactly 10,000,000).  Rebuilds the
 * visit_counter program of Expert Python Programming, ch. 6.
 * The unlocked part is a data race ON PURPOSE; --locked-only skips it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/sync.h"

enum {
    THREAD_COUNT = 100,
    VISITS_PER_THREAD = 100000,
    WINDOW_SPINS = 8, /* busy work between read and write: widens the race */
};

/*
 * The shared counter.  volatile makes every read and write a real memory
 * access, so the compiler can neither fuse them into one instruction nor
 * keep the counter in a register for the whole loop.
 */
static volatile long thread_visits;

struct run {
    cc_event *go;  /* set once every thread has been started */
    cc_lock *lock; /* NULL: count without a lock (racy) */
};

/* A little work between the read and the write, like the Python
 * interpreter's few bytecodes there. */
static void widen_window(void)
{
    volatile int spin = 0;

    for (int i = 0; i < WINDOW_SPINS; i++)
        spin = spin + 1;
}

static void *visit_counter(void *arg)
{
    struct run *run = arg;

    if (cc_event_wait(run->go, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), 0, "waiting for the start");
    for (int i = 0; i < VISITS_PER_THREAD; i++) {
        long value;

        if (run->lock != NULL && cc_lock_acquire(run->lock, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), 0, "lock");
        value = thread_visits;
        widen_window();
        thread_visits = value + 1;
        if (run->lock != NULL && cc_lock_release(run->lock) != 0)
            return cc_fail_from(cc_last_error(), 0, "unlock");
    }
    return NULL;
}

/*
 * Start THREAD_COUNT counters, release them all at once (so that they really
 * overlap), wait for them and print the count and the time taken.
 * Returns 0, or -1 after printing what failed.
 */
static int count_visits(cc_lock *lock)
{
    cc_thread *threads[THREAD_COUNT];
    struct run run = {.go = NULL, .lock = lock};
    int started = 0;
    int rc = 0;
    double start;

    thread_visits = 0;
    run.go = cc_event_new();
    if (run.go == NULL) {
        fprintf(stderr, "thread_visits: event: %s\n", cc_errmsg());
        return -1;
    }
    for (; started < THREAD_COUNT; started++) {
        threads[started] = cc_thread_start(visit_counter, &run, NULL);
        if (threads[started] == NULL) {
            fprintf(stderr, "thread_visits: start: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    start = cc_now();
    if (cc_event_set(run.go) != 0) {
        /* Nobody will ever be released: give up without joining. */
        fprintf(stderr, "thread_visits: set: %s\n", cc_errmsg());
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "thread_visits: %s failed: ",
                    cc_thread_name(threads[i]));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(threads[i]);
    }
    cc_event_free(run.go);
    if (rc != 0)
        return rc;
    printf("thread_count=%d, thread_visits=%ld\n", THREAD_COUNT,
           (long)thread_visits);
    printf("  took %.3f seconds\n", cc_now() - start);
    return 0;
}

int main(int argc, char **argv)
{
    const long expected = (long)THREAD_COUNT * VISITS_PER_THREAD;
    bool locked_only = false;
    cc_lock *lock;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--locked-only") == 0) {
        locked_only = true;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--locked-only]\n", argv[0]);
        return 2;
    }

    if (!locked_only) {
        printf("Without a lock (a data race on purpose: the read and the "
               "write of the counter\nare separate steps, so threads "
               "overwrite each other's updates):\n");
        if (count_visits(NULL) != 0)
            return EXIT_FAILURE;
        printf("  %ld of %ld visits were lost\n", expected - thread_visits,
               expected);
    }

    printf("With a cc_lock around the read and the write:\n");
    lock = cc_lock_new();
    if (lock == NULL) {
        fprintf(stderr, "thread_visits: lock: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = count_visits(lock);
    cc_lock_free(lock);
    if (rc != 0)
        return EXIT_FAILURE;
    if (thread_visits != expected) {
        fprintf(stderr, "thread_visits: counted %ld, expected %ld\n",
                (long)thread_visits, expected);
        return EXIT_FAILURE;
    }
    return 0;
}
