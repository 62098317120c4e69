/*
 * bench_lock - cc_lock costs: uncontended acquire+release, two threads
 * contending on one lock, and the W8c workload (100 threads x 100,000
 * increments, each under the lock), each beside a pthread_mutex baseline.
 * usage: bench_lock [uncontended-iterations] [contended-per-thread]
 */
#include <pthread.h>

#include "bench_util.h"

static cc_lock *lock;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static long per_thread;

static void *cc_worker(void *arg)
{
    for (long i = 0; i < per_thread; i++) {
        cc_lock_acquire(lock, CC_FOREVER);
        counter++;
        cc_lock_release(lock);
    }
    return arg;
}

static void *mutex_worker(void *arg)
{
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&mutex);
        counter++;
        pthread_mutex_unlock(&mutex);
    }
    return arg;
}

/* Run `threads` workers; returns seconds and checks the count. */
static double run(int threads, cc_fn fn)
{
    cc_thread **t = calloc((size_t)threads, sizeof(*t));
    double t0;

    counter = 0;
    t0 = cc_now();
    for (int i = 0; i < threads; i++)
        t[i] = cc_thread_start(fn, NULL, "bench");
    for (int i = 0; i < threads; i++) {
        bench_check(cc_thread_join(t[i], NULL, CC_FOREVER), "join");
        cc_thread_free(t[i]);
    }
    t0 = cc_now() - t0;
    free(t);
    if (counter != threads * per_thread) {
        fprintf(stderr, "lost updates: %ld of %ld\n", counter,
                threads * per_thread);
        exit(1);
    }
    return t0;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 20000000);
    long contended = bench_arg(argc, argv, 2, 2000000);
    double t0;
    double cc_ns;
    double mx_ns;

    lock = cc_lock_new();
    t0 = cc_now();
    for (long i = 0; i < n; i++) {
        cc_lock_acquire(lock, CC_FOREVER);
        cc_lock_release(lock);
    }
    cc_ns = (cc_now() - t0) / n * 1e9;
    t0 = cc_now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mutex);
        pthread_mutex_unlock(&mutex);
    }
    mx_ns = (cc_now() - t0) / n * 1e9;
    BENCH_INFO("iterations", "%ld", n);
    BENCH_RESULT("uncontended_ns", cc_ns, "ns");
    BENCH_RESULT("uncontended_pthread_mutex_ns", mx_ns, "ns");

    per_thread = contended;
    cc_ns = run(2, cc_worker) / (2.0 * contended) * 1e9;
    mx_ns = run(2, mutex_worker) / (2.0 * contended) * 1e9;
    BENCH_RESULT("contended_2_threads_ns", cc_ns, "ns");
    BENCH_RESULT("contended_2_threads_pthread_mutex_ns", mx_ns, "ns");

    per_thread = 100000;
    t0 = run(100, cc_worker);
    BENCH_RESULT("w8c_100x100000_wall_s", t0, "s");
    BENCH_RESULT("w8c_ns_per_locked_inc", t0 / 1e7 * 1e9, "ns");
    t0 = run(100, mutex_worker);
    BENCH_RESULT("w8c_pthread_mutex_wall_s", t0, "s");
    cc_lock_free(lock);
    return 0;
}
