/*
 * bench_queue - 2 producers x 2 consumers move 1,000,000 pointers through
 * one cc_queue of maxsize 1024: items/s.  Beside it, the same workload on a
 * plain pthread mutex + two condition variables ring (the hand-rolled queue
 * concur replaces).  usage: bench_queue [items] [maxsize]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench_util.h"

enum { PRODUCERS = 2, CONSUMERS = 2 };

static long items;
static cc_queue *q;
static _Atomic long sum;

static void *cc_producer(void *arg)
{
    long id = (long)(intptr_t)arg;

    for (long i = id; i < items; i += PRODUCERS)
        bench_check(cc_queue_put(q, (void *)(intptr_t)(i + 1), CC_FOREVER),
                    "put");
    return arg;
}

static void *cc_consumer(void *arg)
{
    long local = 0;
    void *item;

    while (cc_queue_get(q, &item, CC_FOREVER) == 0)
        local += (intptr_t)item;
    atomic_fetch_add(&sum, local);
    return arg;
}

/* ---- the baseline: mutex + not_empty/not_full condition variables ---- */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **ring;
    long cap, head, len;
    int producers_left;
} b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0};

static void *b_producer(void *arg)
{
    long id = (long)(intptr_t)arg;

    for (long i = id; i < items; i += PRODUCERS) {
        pthread_mutex_lock(&b.mu);
        while (b.len == b.cap)
            pthread_cond_wait(&b.not_full, &b.mu);
        b.ring[(b.head + b.len) % b.cap] = (void *)(intptr_t)(i + 1);
        b.len++;
        pthread_cond_signal(&b.not_empty);
        pthread_mutex_unlock(&b.mu);
    }
    pthread_mutex_lock(&b.mu);
    if (--b.producers_left == 0)
        pthread_cond_broadcast(&b.not_empty);
    pthread_mutex_unlock(&b.mu);
    return arg;
}

static void *b_consumer(void *arg)
{
    long local = 0;

    for (;;) {
        void *item;

        pthread_mutex_lock(&b.mu);
        while (b.len == 0 && b.producers_left > 0)
            pthread_cond_wait(&b.not_empty, &b.mu);
        if (b.len == 0) {
            pthread_mutex_unlock(&b.mu);
            break;
        }
        item = b.ring[b.head];
        b.head = (b.head + 1) % b.cap;
        b.len--;
        pthread_cond_signal(&b.not_full);
        pthread_mutex_unlock(&b.mu);
        local += (intptr_t)item;
    }
    atomic_fetch_add(&sum, local);
    return arg;
}

static double run(cc_fn producer, cc_fn consumer, void (*after_producers)(void))
{
    cc_thread *p[PRODUCERS];
    cc_thread *c[CONSUMERS];
    double t0 = cc_now();

    atomic_store(&sum, 0);
    for (long i = 0; i < CONSUMERS; i++)
        c[i] = cc_thread_start(consumer, (void *)(intptr_t)i, "consumer");
    for (long i = 0; i < PRODUCERS; i++)
        p[i] = cc_thread_start(producer, (void *)(intptr_t)i, "producer");
    for (int i = 0; i < PRODUCERS; i++) {
        bench_check(cc_thread_join(p[i], NULL, CC_FOREVER), "join");
        cc_thread_free(p[i]);
    }
    if (after_producers != NULL)
        after_producers();
    for (int i = 0; i < CONSUMERS; i++) {
        bench_check(cc_thread_join(c[i], NULL, CC_FOREVER), "join");
        cc_thread_free(c[i]);
    }
    t0 = cc_now() - t0;
    if (atomic_load(&sum) != items * (items + 1) / 2) {
        fprintf(stderr, "items lost or duplicated\n");
        exit(1);
    }
    return t0;
}

static void shut_queue(void)
{
    cc_queue_shutdown(q, false); /* consumers drain, then see ESHUTDOWN */
}

int main(int argc, char **argv)
{
    long maxsize;
    double t;

    items = bench_arg(argc, argv, 1, 1000000);
    maxsize = bench_arg(argc, argv, 2, 1024);
    BENCH_INFO("items", "%ld", items);
    BENCH_INFO("maxsize", "%ld", maxsize);
    q = cc_queue_new((size_t)maxsize, CC_FIFO);
    t = run(cc_producer, cc_consumer, shut_queue);
    cc_queue_free(q);
    BENCH_RESULT("items_per_s", items / t, "1/s");
    BENCH_RESULT("wall_s", t, "s");

    b.cap = maxsize;
    b.ring = calloc((size_t)maxsize, sizeof(void *));
    b.producers_left = PRODUCERS;
    t = run(b_producer, b_consumer, NULL);
    free(b.ring);
    BENCH_RESULT("pthread_mutex_cond_items_per_s", items / t, "1/s");
    return 0;
}
