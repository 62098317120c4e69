/* test_queue - cc_queue: FIFO/LIFO/priority order (stable), bounds and
 * back-pressure, EAGAIN/ETIMEDOUT, task_done/join, Python 3.13 shutdown,
 * item destructors, and a many-producer many-consumer stress test in which
 * every item is delivered exactly once. */
#include <math.h>

#include "test_util.h"

#define P(i) ((void *)(intptr_t)(i))

static void test_fifo_lifo_order(void **state)
{
    (void)state;
    cc_queue *f = cc_queue_new(0, CC_FIFO);
    cc_queue *l = cc_queue_new(0, CC_LIFO);
    for (intptr_t i = 1; i <= 100; i++) {
        assert_ok(cc_queue_put(f, P(i), 0));
        assert_ok(cc_queue_put(l, P(i), 0));
    }
    assert_int_equal(cc_queue_size(f), 100);
    for (intptr_t i = 1; i <= 100; i++) {
        void *a, *b;
        assert_ok(cc_queue_get(f, &a, 0));
        assert_ok(cc_queue_get(l, &b, 0));
        assert_int_equal((intptr_t)a, i);
        assert_int_equal((intptr_t)b, 101 - i);
    }
    assert_true(cc_queue_empty(f));
    cc_queue_free(f);
    cc_queue_free(l);
}

/* Items for the priority tests: priority + an id to check stability. */
typedef struct {
    int prio;
    int id;
} job;

static int by_prio(const void *a, const void *b)
{
    const job *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

static void test_priority_order_is_stable(void **state)
{
    (void)state;
    enum { N = 2000 };
    static job jobs[N];
    cc_queue *q = cc_queue_new_priority(0, by_prio);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){(int)tu_rand_below(20), i};
        assert_ok(cc_queue_put(q, &jobs[i], 0));
    }
    job *prev = NULL;
    for (int i = 0; i < N; i++) {
        void *it;
        assert_ok(cc_queue_get(q, &it, 0));
        job *j = it;
        if (prev != NULL) {
            assert_true(prev->prio <= j->prio);
            if (prev->prio == j->prio)
                assert_true(prev->id < j->id); /* insertion order kept */
        }
        prev = j;
    }
    cc_queue_free(q);

    /* without a comparator: pointer values as integers */
    q = cc_queue_new(0, CC_PRIORITY);
    intptr_t vals[] = {5, 3, 9, 1, 7};
    for (int i = 0; i < 5; i++)
        assert_ok(cc_queue_put(q, P(vals[i]), 0));
    intptr_t want[] = {1, 3, 5, 7, 9};
    for (int i = 0; i < 5; i++) {
        void *it;
        assert_ok(cc_queue_get(q, &it, 0));
        assert_int_equal((intptr_t)it, want[i]);
    }
    cc_queue_free(q);
}

static void test_bounds_and_nonblocking(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(2, CC_FIFO);
    void *it;
    assert_int_equal(cc_queue_maxsize(q), 2);
    assert_fails_with(cc_queue_get(q, &it, 0), EAGAIN);
    assert_string_equal(cc_errmsg(), "queue is empty");
    assert_ok(cc_queue_put(q, P(1), 0));
    assert_ok(cc_queue_put(q, P(2), 0));
    assert_true(cc_queue_full(q));
    assert_fails_with(cc_queue_put(q, P(3), 0), EAGAIN);
    assert_string_equal(cc_errmsg(), "queue is full");
    double t0 = cc_now();
    assert_fails_with(cc_queue_put(q, P(3), 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_int_equal(cc_queue_size(q), 2);
    assert_ok(cc_queue_get(q, &it, 0));
    assert_ok(cc_queue_get(q, &it, 0));
    t0 = cc_now();
    assert_fails_with(cc_queue_get(q, &it, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    cc_queue_free(q);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    void *it;
    assert_null_with(cc_queue_new(0, 7), EINVAL);
    assert_fails_with(cc_queue_put(NULL, NULL, 0), EINVAL);
    assert_fails_with(cc_queue_get(NULL, &it, 0), EINVAL);
    assert_fails_with(cc_queue_task_done(NULL), EINVAL);
    assert_fails_with(cc_queue_join(NULL, 0), EINVAL);
    assert_fails_with(cc_queue_shutdown(NULL, false), EINVAL);
    cc_queue *q = cc_queue_new(1, CC_FIFO);
    assert_fails_with(cc_queue_get(q, NULL, 0), EINVAL);
    assert_fails_with(cc_queue_get(q, &it, NAN), EINVAL);
    assert_ok(cc_queue_put(q, P(1), 0));
    assert_fails_with(cc_queue_put(q, P(1), NAN), EINVAL);
    assert_int_equal(cc_queue_size(NULL), 0);
    cc_queue_free(q);
    cc_queue_free(NULL);
}

/* Back-pressure: a producer blocked on a full queue resumes on get. */
typedef struct {
    cc_queue *q;
    _Atomic int stage;
} bp;

static void *bp_producer(void *p)
{
    bp *b = p;
    if (cc_queue_put(b->q, P(1), 10) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "put 1");
    atomic_store(&b->stage, 1);
    if (cc_queue_put(b->q, P(2), 10) != 0) /* blocks: maxsize 1 */
        return cc_fail_from(cc_last_error(), EPROTO, "put 2");
    atomic_store(&b->stage, 2);
    return p;
}

static void test_put_blocks_while_full(void **state)
{
    (void)state;
    bp b = {cc_queue_new(1, CC_FIFO), 0};
    cc_thread *t = cc_thread_start(bp_producer, &b, "producer");
    while (atomic_load(&b.stage) < 1)
        tu_sleep(0.001);
    tu_sleep(0.05);
    assert_int_equal(atomic_load(&b.stage), 1); /* still blocked */
    void *it;
    assert_ok(cc_queue_get(b.q, &it, 10));
    assert_int_equal((intptr_t)it, 1);
    assert_ok(cc_thread_join(t, NULL, 10));
    assert_int_equal(atomic_load(&b.stage), 2);
    assert_ok(cc_queue_get(b.q, &it, 0));
    assert_int_equal((intptr_t)it, 2);
    cc_thread_free(t);
    cc_queue_free(b.q);
}

static void test_task_done_and_join(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(0, CC_FIFO);
    assert_fails_with(cc_queue_task_done(q), EINVAL);
    assert_string_equal(cc_errmsg(), "task_done() called too many times");
    assert_ok(cc_queue_join(q, 0)); /* nothing unfinished */
    assert_ok(cc_queue_put(q, P(1), 0));
    assert_ok(cc_queue_put(q, P(2), 0));
    assert_fails_with(cc_queue_join(q, 0), EAGAIN);
    void *it;
    assert_ok(cc_queue_get(q, &it, 0));
    assert_ok(cc_queue_get(q, &it, 0));
    assert_int_equal(cc_queue_unfinished(q), 2); /* taken is not done */
    assert_fails_with(cc_queue_join(q, 0.02), ETIMEDOUT);
    assert_ok(cc_queue_task_done(q));
    assert_ok(cc_queue_task_done(q));
    assert_ok(cc_queue_join(q, 0));
    assert_fails_with(cc_queue_task_done(q), EINVAL);
    cc_queue_free(q);
}

static void *worker_done(void *p)
{
    cc_queue *q = p;
    for (;;) {
        void *it;
        if (cc_queue_get(q, &it, 30) != 0) {
            if (errno == ESHUTDOWN)
                return p;
            return cc_fail_from(cc_last_error(), EPROTO, "get");
        }
        tu_jitter(100);
        cc_queue_task_done(q);
    }
}

static void test_join_waits_for_workers(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(10, CC_FIFO);
    cc_thread *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cc_thread_start(worker_done, q, NULL);
    for (intptr_t i = 0; i < 500; i++)
        assert_ok(cc_queue_put(q, P(i), 30));
    assert_ok(cc_queue_join(q, 60));
    assert_int_equal(cc_queue_unfinished(q), 0);
    assert_ok(cc_queue_shutdown(q, false));
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    cc_queue_free(q);
}

static void test_shutdown_drains_then_fails(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(0, CC_FIFO);
    assert_ok(cc_queue_put(q, P(1), 0));
    assert_ok(cc_queue_put(q, P(2), 0));
    assert_ok(cc_queue_shutdown(q, false));
    assert_true(cc_queue_is_shutdown(q));
    assert_fails_with(cc_queue_put(q, P(3), 0), ESHUTDOWN);
    assert_string_equal(cc_errmsg(), "queue is shut down");
    void *it;
    assert_ok(cc_queue_get(q, &it, 0));
    assert_int_equal((intptr_t)it, 1);
    assert_ok(cc_queue_get(q, &it, CC_FOREVER));
    assert_int_equal((intptr_t)it, 2);
    assert_fails_with(cc_queue_get(q, &it, CC_FOREVER), ESHUTDOWN);
    assert_fails_with(cc_queue_get(q, &it, 0), ESHUTDOWN);
    assert_ok(cc_queue_shutdown(q, false)); /* again: fine */
    cc_queue_free(q);
}

typedef struct {
    cc_queue *q;
    int op; /* 0 get, 1 put, 2 join */
    int rc, err;
    double took;
} blocked;

static void *blocked_body(void *p)
{
    blocked *b = p;
    void *it;
    double t0 = cc_now();
    if (b->op == 0)
        b->rc = cc_queue_get(b->q, &it, 30);
    else if (b->op == 1)
        b->rc = cc_queue_put(b->q, P(9), 30);
    else
        b->rc = cc_queue_join(b->q, 30);
    b->err = errno;
    b->took = cc_now() - t0;
    return p;
}

static void test_shutdown_wakes_blocked_callers(void **state)
{
    (void)state;
    /* getters on an empty queue and putters on a full one wake at once */
    cc_queue *empty = cc_queue_new(1, CC_FIFO);
    cc_queue *full = cc_queue_new(1, CC_FIFO);
    assert_ok(cc_queue_put(full, P(1), 0));
    blocked b[4] = {{empty, 0, 0, 0, 0}, {empty, 0, 0, 0, 0},
                    {full, 1, 0, 0, 0}, {full, 1, 0, 0, 0}};
    cc_thread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cc_thread_start(blocked_body, &b[i], NULL);
    tu_sleep(0.05);
    assert_ok(cc_queue_shutdown(empty, false));
    assert_ok(cc_queue_shutdown(full, false));
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 10));
        cc_thread_free(t[i]);
        assert_int_equal(b[i].rc, -1);
        assert_int_equal(b[i].err, ESHUTDOWN);
        assert_true(b[i].took < 5.0);
    }
    /* the full queue still drains after a plain shutdown */
    void *it;
    assert_ok(cc_queue_get(full, &it, 0));
    cc_queue_free(empty);
    cc_queue_free(full);
}

static _Atomic int freed_items;

static void count_free(void *item)
{
    atomic_fetch_add(&freed_items, 1);
    cc_blob_free(item);
}

static void test_immediate_shutdown_discards_and_releases_joiners(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(0, CC_PRIORITY);
    assert_ok(cc_queue_set_item_free(q, count_free));
    for (int i = 0; i < 10; i++)
        assert_ok(cc_queue_put(q, cc_blob_new(16), 0));
    void *taken;
    assert_ok(cc_queue_get(q, &taken, 0)); /* one in progress */
    blocked j = {q, 2, 0, 0, 0};
    cc_thread *t = cc_thread_start(blocked_body, &j, "joiner");
    tu_sleep(0.05);
    atomic_store(&freed_items, 0);
    assert_ok(cc_queue_shutdown(q, true));
    assert_int_equal(atomic_load(&freed_items), 9);
    assert_int_equal(cc_queue_size(q), 0);
    assert_int_equal(cc_queue_unfinished(q), 1); /* the one taken */
    /* the joiner still waits for the task in progress */
    tu_sleep(0.05);
    assert_true(cc_thread_is_alive(t));
    assert_ok(cc_queue_task_done(q));
    assert_ok(cc_thread_join(t, NULL, 10));
    assert_int_equal(j.rc, 0);
    cc_thread_free(t);
    void *it;
    assert_fails_with(cc_queue_get(q, &it, 0), ESHUTDOWN);
    assert_fails_with(cc_queue_put(q, taken, 0), ESHUTDOWN); /* not taken */
    cc_blob_free(taken);
    cc_queue_free(q);
}

static void test_free_gives_leftovers_to_destructor(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(3, CC_LIFO);
    assert_ok(cc_queue_set_item_free(q, count_free));
    atomic_store(&freed_items, 0);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_queue_put(q, cc_blob_new(8), 0));
    cc_queue_free(q);
    assert_int_equal(atomic_load(&freed_items), 3);
}

static void test_unbounded_growth_keeps_order(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(0, CC_FIFO);
    /* interleave puts and gets so the ring wraps before it grows */
    intptr_t next_put = 0, next_get = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 300; i++)
            assert_ok(cc_queue_put(q, P(next_put++), 0));
        for (int i = 0; i < 200; i++) {
            void *it;
            assert_ok(cc_queue_get(q, &it, 0));
            assert_int_equal((intptr_t)it, next_get++);
        }
    }
    while (next_get < next_put) {
        void *it;
        assert_ok(cc_queue_get(q, &it, 0));
        assert_int_equal((intptr_t)it, next_get++);
    }
    cc_queue_free(q);
}

/* Stress: producers and consumers with random timeouts and jitter; every
 * item arrives exactly once, and per producer in order (FIFO). */
enum { PRODUCERS = 4, CONSUMERS = 4, PER = 100000 };
static struct {
    cc_queue *q;
    _Atomic unsigned char seen[PRODUCERS * PER];
    _Atomic long got;
    _Atomic long put_timeouts, get_timeouts;
} S;

static void *stress_producer(void *arg)
{
    int id = *(int *)arg;
    for (int i = 0; i < PER; i++) {
        intptr_t v = (intptr_t)id * PER + i + 1;
        for (;;) {
            double timeout = tu_rand_below(8) == 0 ? 0 : 0.001;
            if (cc_queue_put(S.q, P(v), timeout) == 0)
                break;
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc_fail_from(cc_last_error(), EPROTO, "put");
            atomic_fetch_add(&S.put_timeouts, 1);
        }
        if (tu_rand_below(256) == 0)
            tu_jitter(200);
    }
    return arg;
}

static void *stress_consumer(void *arg)
{
    intptr_t last[PRODUCERS] = {0};
    for (;;) {
        void *it;
        double timeout = tu_rand_below(8) == 0 ? 0 : 0.002;
        if (cc_queue_get(S.q, &it, timeout) != 0) {
            if (errno == ESHUTDOWN)
                return arg;
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc_fail_from(cc_last_error(), EPROTO, "get");
            atomic_fetch_add(&S.get_timeouts, 1);
            continue;
        }
        intptr_t v = (intptr_t)it - 1;
        int producer = (int)(v / PER);
        if (v % PER < last[producer])
            return cc_fail(EPROTO, "producer %d's items out of order", producer);
        last[producer] = v % PER;
        atomic_fetch_add(&S.seen[v], 1);
        atomic_fetch_add(&S.got, 1);
        cc_queue_task_done(S.q);
        if (tu_rand_below(256) == 0)
            tu_jitter(200);
    }
}

static void test_stress_exactly_once(void **state)
{
    (void)state;
    S.q = cc_queue_new(64, CC_FIFO);
    int pid[PRODUCERS], cid[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++)
        pid[i] = i;
    tu_threads c = tu_start(CONSUMERS, stress_consumer, cid, sizeof(int));
    tu_threads p = tu_start(PRODUCERS, stress_producer, pid, sizeof(int));
    tu_join(p);
    assert_ok(cc_queue_join(S.q, 60));
    assert_ok(cc_queue_shutdown(S.q, false));
    tu_join(c);
    assert_int_equal(atomic_load(&S.got), PRODUCERS * PER);
    for (int v = 0; v < PRODUCERS * PER; v++)
        if (atomic_load(&S.seen[v]) != 1)
            fail_msg("item %d seen %d times", v, atomic_load(&S.seen[v]));
    printf("# %ld put timeouts, %ld get timeouts\n",
           atomic_load(&S.put_timeouts), atomic_load(&S.get_timeouts));
    cc_queue_free(S.q);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_lifo_order),
        cmocka_unit_test(test_priority_order_is_stable),
        cmocka_unit_test(test_bounds_and_nonblocking),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_put_blocks_while_full),
        cmocka_unit_test(test_task_done_and_join),
        cmocka_unit_test(test_join_waits_for_workers),
        cmocka_unit_test(test_shutdown_drains_then_fails),
        cmocka_unit_test(test_shutdown_wakes_blocked_callers),
        cmocka_unit_test(test_immediate_shutdown_discards_and_releases_joiners),
        cmocka_unit_test(test_free_gives_leftovers_to_destructor),
        cmocka_unit_test(test_unbounded_growth_keeps_order),
        cmocka_unit_test(test_stress_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
