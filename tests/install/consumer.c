/* A tiny outside program: a thread puts 1..100 on a queue, main sums them. */
#include <concur.h>
#include <stdint.h>
#include <stdio.h>

static void *producer(void *arg)
{
    for (intptr_t i = 1; i <= 100; i++)
        if (cc_queue_put(arg, (void *)i, CC_FOREVER) != 0)
            return cc_fail(0, "put failed: %s", cc_errmsg());
    return arg;
}

int main(void)
{
    cc_queue *q = cc_queue_new(8, CC_FIFO);
    cc_thread *t = cc_thread_start(producer, q, "producer");
    intptr_t sum = 0;

    for (int i = 0; i < 100; i++) {
        void *item;

        if (cc_queue_get(q, &item, 5.0) != 0) {
            fprintf(stderr, "get: %s\n", cc_errmsg());
            return 1;
        }
        sum += (intptr_t)item;
    }
    if (cc_thread_join(t, NULL, 5.0) != 0 || sum != 5050) {
        fprintf(stderr, "sum %ld: %s\n", (long)sum, cc_errmsg());
        return 1;
    }
    cc_thread_free(t);
    cc_queue_free(q);
    printf("concur %s: sum %ld\n", cc_version(), (long)sum);
    return 0;
}
