/*
 * slow_coroutine - debug mode names a task that blocks its loop: the task
 * sleeps 0.5 s with nanosleep (slow I/O, as far as the loop can tell) and
 * the library reports it on stderr.  The fix, the same sleep run through
 * cc_to_thread, leaves the loop free: nothing is reported.  A heartbeat task
 * shows the difference.  Rebuilds Effective Python item 78's slow_coroutine.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/aio.h"

#define SLOW_SECONDS 0.5
#define BEAT_SECONDS 0.01

/* Shared by the tasks of one run; all run on the loop's one thread. */
struct run {
    bool offload;      /* sleep through cc_to_thread instead of in the task */
    bool sleeping;     /* the slow task is inside its sleep */
    bool finished;     /* tells the heartbeat to end */
    int beats_during;  /* heartbeats that ran while the slow task slept */
    double longest;    /* the heartbeat's longest gap, seconds */
};

/* A plain blocking sleep (time.sleep): the thread stops, and so does every
 * task of a loop running in it.  Also the pool job of the fix. */
static void *blocking_sleep(void *arg)
{
    static int slept; /* a non-NULL result */
    struct timespec ts;

    (void)arg;
    ts.tv_sec = (time_t)SLOW_SECONDS;
    ts.tv_nsec = (long)((SLOW_SECONDS - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
        int err = errno;

        if (err != EINTR)
            return cc_fail(err, "nanosleep: %s", strerror(err));
    }
    return &slept;
}

/* The seed's slow_coroutine, or its fix. */
static void *slow_coroutine(void *arg)
{
    struct run *r = arg;
    void *ok;

    r->sleeping = true;
    if (!r->offload) {
        ok = blocking_sleep(NULL);
    } else {
        cc_future *f = cc_to_thread(blocking_sleep, NULL);

        ok = NULL;
        if (f != NULL && cc_future_result(f, &ok, CC_FOREVER) != 0)
            ok = NULL;
        cc_future_free(f);
    }
    r->sleeping = false;
    if (ok == NULL)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "slow_coroutine: the sleep failed");
    return r;
}

/* Beats every BEAT_SECONDS while the loop is free, timing the gaps. */
static void *heartbeat(void *arg)
{
    struct run *r = arg;
    double last = cc_now();

    while (!r->finished) {
        double now;

        if (cc_sleep(BEAT_SECONDS) != 0)
            return cc_fail_from(cc_last_error(),
                                cc_error_code(cc_last_error()),
                                "heartbeat: sleep failed");
        now = cc_now();
        if (now - last > r->longest)
            r->longest = now - last;
        last = now;
        if (r->sleeping)
            r->beats_during++;
    }
    return r;
}

/* The main task: the heartbeat starts first, then the slow task is
 * spawned (named, so that the report names it) and awaited. */
static void *main_task(void *arg)
{
    struct run *r = arg;
    cc_task_opts opts = {.name = "slow_coroutine"};
    cc_future *beat = cc_spawn(heartbeat, r);
    cc_future *slow;
    cc_error *first = NULL;

    if (beat == NULL)
        return NULL;
    if (cc_yield() != 0) /* let the heartbeat take its first step */
        first = cc_error_copy(cc_last_error());
    slow = first == NULL ? cc_spawn_opts(slow_coroutine, r, &opts) : NULL;
    if (slow == NULL && first == NULL)
        first = cc_error_copy(cc_last_error());
    if (slow != NULL && cc_future_result(slow, NULL, CC_FOREVER) != 0)
        first = cc_error_copy(cc_last_error());
    r->finished = true;
    if (cc_future_result(beat, NULL, CC_FOREVER) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    cc_future_free(slow);
    cc_future_free(beat);
    if (first == NULL)
        return r;
    cc_fail_from(first, cc_error_code(first), "slow_coroutine: run failed");
    cc_error_free(first);
    return NULL;
}

/* One run; 0, or -1 after printing the error. */
static int run(struct run *r)
{
    if (cc_run(main_task, r, NULL) != 0) {
        fflush(stdout);
        fprintf(stderr, "slow_coroutine: ");
        cc_error_print(cc_last_error(), stderr);
        return -1;
    }
    return 0;
}

int main(void)
{
    struct run blocked = {.offload = false};
    struct run offloaded = {.offload = true};

    cc_set_debug(true); /* asyncio.run(..., debug=True) */
    printf("debug mode on: a task running more than 100 ms without "
           "yielding is reported\n");
    printf("=== blocking: the task sleeps %.1f s with nanosleep\n",
           SLOW_SECONDS);
    fflush(stdout); /* the report goes to stderr: keep the order */
    if (run(&blocked) != 0)
        return EXIT_FAILURE;
    printf("blocking: the heartbeat beat %d times during the sleep; its "
           "longest gap was %.2f s\n", blocked.beats_during, blocked.longest);
    printf("=== fixed: the same sleep through cc_to_thread\n");
    fflush(stdout);
    if (run(&offloaded) != 0)
        return EXIT_FAILURE;
    printf("fixed: the heartbeat beat %d times during the sleep; its "
           "longest gap was %.2f s\n", offloaded.beats_during,
           offloaded.longest);
    fflush(stdout);

    /* Facts, not timings: a blocked loop runs nothing else during the
     * sleep; a free one runs the heartbeat at least once in 0.5 s. */
    if (blocked.beats_during != 0 || blocked.longest < 0.99 * SLOW_SECONDS ||
        offloaded.beats_during == 0) {
        fprintf(stderr, "slow_coroutine: expected no beat during the "
                "blocking sleep and some during the offloaded one\n");
        return EXIT_FAILURE;
    }
    printf("the blocking sleep stopped the loop; through cc_to_thread only "
           "the task waited\n");
    return 0;
}
