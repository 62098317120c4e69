/*
 * bench_pingpong - W2 with threads: two threads pass a token back and forth
 * through two cc_queues (maxsize 1), 200,000 round trips: ns per round trip.
 * Beside it the bare baseline of W2's C peer: two one-slot mailboxes, each a
 * pthread mutex + condition variable.  usage: bench_pingpong [round-trips]
 */
#include <pthread.h>
#include <stdint.h>

#include "bench_util.h"

static long n;
static cc_queue *to_pong, *to_ping;

static void *cc_pong(void *arg)
{
    void *tok;

    while (cc_queue_get(to_pong, &tok, CC_FOREVER) == 0)
        bench_check(cc_queue_put(to_ping, tok, CC_FOREVER), "put");
    return arg;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int full;
    long val;
} slot;

static slot s_pong = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static slot s_ping = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void slot_put(slot *s, long v)
{
    pthread_mutex_lock(&s->mu);
    while (s->full)
        pthread_cond_wait(&s->cv, &s->mu);
    s->val = v;
    s->full = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static long slot_get(slot *s)
{
    long v;

    pthread_mutex_lock(&s->mu);
    while (!s->full)
        pthread_cond_wait(&s->cv, &s->mu);
    v = s->val;
    s->full = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void *slot_pong(void *arg)
{
    for (;;) {
        long v = slot_get(&s_pong);

        if (v < 0)
            return arg;
        slot_put(&s_ping, v);
    }
}

int main(int argc, char **argv)
{
    cc_thread *pong;
    double t0;

    n = bench_arg(argc, argv, 1, 200000);
    BENCH_INFO("round_trips", "%ld", n);
    to_pong = cc_queue_new(1, CC_FIFO);
    to_ping = cc_queue_new(1, CC_FIFO);
    t0 = cc_now();
    pong = cc_thread_start(cc_pong, NULL, "pong");
    for (long i = 1; i <= n; i++) {
        void *tok;

        bench_check(cc_queue_put(to_pong, (void *)(intptr_t)i, CC_FOREVER), "put");
        bench_check(cc_queue_get(to_ping, &tok, CC_FOREVER), "get");
        if ((intptr_t)tok != i) {
            fprintf(stderr, "bad token\n");
            return 1;
        }
    }
    cc_queue_shutdown(to_pong, false);
    bench_check(cc_thread_join(pong, NULL, CC_FOREVER), "join");
    BENCH_RESULT("ns_per_rt", (cc_now() - t0) / n * 1e9, "ns");
    cc_thread_free(pong);
    cc_queue_free(to_pong);
    cc_queue_free(to_ping);

    t0 = cc_now();
    pong = cc_thread_start(slot_pong, NULL, "pong");
    for (long i = 0; i < n; i++) {
        slot_put(&s_pong, i);
        if (slot_get(&s_ping) != i) {
            fprintf(stderr, "bad token\n");
            return 1;
        }
    }
    slot_put(&s_pong, -1);
    bench_check(cc_thread_join(pong, NULL, CC_FOREVER), "join");
    BENCH_RESULT("pthread_mutex_cond_ns_per_rt", (cc_now() - t0) / n * 1e9, "ns");
    cc_thread_free(pong);
    return 0;
}
