/*
 * bench_mpqueue - cc_mpqueue throughput: a forked producer child puts
 * small messages that the parent gets (messages per second across a real
 * process boundary), and one thread doing put-then-get pairs on an
 * uncontended queue (the cost of the calls themselves).
 * Usage: bench_mpqueue [messages (default 1000000)] [bytes (default 64)]
 */
#include <string.h>

#include "bench_util.h"

static long items;
static long size;
static cc_mpqueue *q;

static void *producer(void *arg)
{
    char buf[4096];

    (void)arg;
    memset(buf, 'x', sizeof(buf));
    for (long i = 0; i < items; i++)
        bench_check(cc_mpqueue_put_bytes(q, buf, (size_t)size, CC_FOREVER),
                    "cc_mpqueue_put_bytes");
    return NULL;
}

int main(int argc, char **argv)
{
    char buf[4096];
    cc_process *p;
    void *got;
    double t;
    int code;

    items = bench_arg(argc, argv, 1, 1000000);
    size = bench_arg(argc, argv, 2, 64);
    if (size < 0 || size > (long)sizeof(buf)) {
        fprintf(stderr, "bench_mpqueue: bytes must be 0..%zu\n", sizeof(buf));
        return 2;
    }
    memset(buf, 'x', sizeof(buf));
    q = cc_mpqueue_new(0, 0);
    if (q == NULL) {
        fprintf(stderr, "cc_mpqueue_new: %s\n", cc_errmsg());
        return 1;
    }
    t = cc_now();
    p = cc_process_start(producer, NULL, "producer");
    if (p == NULL) {
        fprintf(stderr, "cc_process_start: %s\n", cc_errmsg());
        return 1;
    }
    for (long i = 0; i < items; i++) {
        bench_check(cc_mpqueue_get(q, &got, CC_FOREVER), "cc_mpqueue_get");
        cc_blob_free(got);
    }
    t = cc_now() - t;
    bench_check(cc_process_join(p, CC_FOREVER), "cc_process_join");
    bench_check(cc_process_exitcode(p, &code), "cc_process_exitcode");
    cc_process_free(p);
    if (code != 0) {
        fprintf(stderr, "bench_mpqueue: the producer exited with %d\n", code);
        return 1;
    }
    BENCH_INFO("messages", "%ld", items);
    BENCH_INFO("bytes", "%ld", size);
    BENCH_RESULT("cross_process_items_per_s", items / t, "1/s");
    t = cc_now();
    for (long i = 0; i < items; i++) {
        bench_check(cc_mpqueue_put_bytes(q, buf, (size_t)size, CC_FOREVER),
                    "cc_mpqueue_put_bytes");
        bench_check(cc_mpqueue_get(q, &got, CC_FOREVER), "cc_mpqueue_get");
        cc_blob_free(got);
    }
    t = cc_now() - t;
    BENCH_RESULT("put_get_pair_ns", t / (double)items * 1e9, "ns");
    cc_mpqueue_free(q);
    return 0;
}
