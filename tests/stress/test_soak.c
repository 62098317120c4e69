/* test_soak - every primitive at once: items flow producer -> in-queue ->
 * workers -> out-queue -> collector while workers take a lock, a reentrant
 * lock and a bounded semaphore, wait on a "running" event that a chaos
 * thread keeps toggling, and meet at a barrier every so often.  Random
 * timeouts and jitter everywhere.  At the end every item has arrived exactly
 * once, the tallies agree, and no limit was ever exceeded.  The seed is
 * printed; repeat a run with CONCUR_TEST_SEED=<seed>. */
#include "test_util.h"

enum { ITEMS = 200000, WORKERS = 6, SEM_LIMIT = 3, BARRIER_EVERY = 1000 };

static struct {
    cc_queue *in, *out;
    cc_lock *tally_lock;
    cc_rlock *nested;
    cc_sem *slots;
    cc_event *running;
    cc_barrier *meet;
    long tally;                  /* guarded by tally_lock */
    long nested_tally;           /* guarded by nested */
    _Atomic int in_slots, max_in_slots;
    _Atomic int stop_chaos;
    _Atomic long processed;
    _Atomic unsigned char seen[ITEMS];
} S;

static void *producer(void *arg)
{
    for (intptr_t i = 1; i <= ITEMS; i++) {
        while (cc_queue_put(S.in, (void *)i, tu_rand_below(2) ? 0.001 : 0) != 0) {
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc_fail_from(cc_last_error(), EPROTO, "put in");
        }
    }
    cc_queue_shutdown(S.in, false);
    return arg;
}

static int add_nested(long v, int depth)
{
    if (cc_rlock_acquire(S.nested, 10) != 0)
        return -1;
    if (depth > 0)
        add_nested(v, depth - 1);
    else
        S.nested_tally += v;
    return cc_rlock_release(S.nested);
}

static void *worker(void *arg)
{
    long mine = 0;

    (void)arg;
    for (;;) {
        void *it;
        if (cc_queue_get(S.in, &it, 0.002) != 0) {
            if (errno == ESHUTDOWN)
                break;
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "get in");
            continue;
        }
        intptr_t v = (intptr_t)it;
        /* paused while the chaos thread holds the event clear */
        while (cc_event_wait(S.running, 0.001) != 0)
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "event");
        while (cc_sem_acquire(S.slots, 0.0005) != 0)
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "sem");
        int now = atomic_fetch_add(&S.in_slots, 1) + 1;
        int m = atomic_load(&S.max_in_slots);
        while (now > m && !atomic_compare_exchange_weak(&S.max_in_slots, &m, now))
            ;
        if (cc_lock_acquire(S.tally_lock, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "lock");
        S.tally += v;
        cc_lock_release(S.tally_lock);
        if (add_nested(v, (int)tu_rand_below(3)) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "rlock");
        if (tu_rand_below(512) == 0)
            tu_jitter(300);
        atomic_fetch_sub(&S.in_slots, 1);
        cc_sem_release(S.slots);
        while (cc_queue_put(S.out, it, 0.002) != 0)
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "put out");
        cc_queue_task_done(S.in);
        mine++;
        if (atomic_fetch_add(&S.processed, 1) % BARRIER_EVERY == 0) {
            /* a rendezvous nobody else may come to: it must time out or
             * be broken, never hang */
            int rc = cc_barrier_wait(S.meet, 0.001);
            if (rc >= 0 || (errno != ETIMEDOUT && errno != EPIPE))
                return cc_fail(EPROTO, "barrier with a missing party passed");
            cc_barrier_reset(S.meet);
        }
    }
    return (void *)(intptr_t)(mine + 1);
}

static void *chaos(void *arg)
{
    while (!atomic_load(&S.stop_chaos)) {
        cc_event_clear(S.running);
        tu_sleep((double)tu_rand_below(300) / 1e6);
        cc_event_set(S.running);
        tu_sleep((double)tu_rand_below(3000) / 1e6);
    }
    cc_event_set(S.running);
    return arg;
}

static void *collector(void *arg)
{
    long n = 0;

    (void)arg;
    for (;;) {
        void *it;
        if (cc_queue_get(S.out, &it, 0.003) != 0) {
            if (errno == ESHUTDOWN)
                break;
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "get out");
            continue;
        }
        atomic_fetch_add(&S.seen[(intptr_t)it - 1], 1);
        cc_queue_task_done(S.out);
        n++;
    }
    return (void *)(intptr_t)(n + 1);
}

static void test_soak_everything_at_once(void **state)
{
    (void)state;
    S.in = cc_queue_new(16, CC_FIFO);
    S.out = cc_queue_new(16, CC_LIFO);
    S.tally_lock = cc_lock_new();
    S.nested = cc_rlock_new();
    S.slots = cc_sem_new_bounded(SEM_LIMIT);
    S.running = cc_event_new();
    S.meet = cc_barrier_new(WORKERS + 1, NULL, NULL);
    cc_event_set(S.running);

    cc_thread *ch = cc_thread_start(chaos, NULL, "chaos");
    cc_thread *col = cc_thread_start(collector, NULL, "collector");
    cc_thread *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = cc_thread_start(worker, NULL, NULL);
    cc_thread *pr = cc_thread_start(producer, NULL, "producer");

    assert_ok(cc_thread_join(pr, NULL, 300));
    assert_ok(cc_queue_join(S.in, 300));
    long per_worker_total = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *res;
        assert_ok(cc_thread_join(w[i], &res, 60));
        per_worker_total += (intptr_t)res - 1;
        cc_thread_free(w[i]);
    }
    assert_ok(cc_queue_join(S.out, 60));
    assert_ok(cc_queue_shutdown(S.out, false));
    void *collected;
    assert_ok(cc_thread_join(col, &collected, 60));
    atomic_store(&S.stop_chaos, 1);
    assert_ok(cc_thread_join(ch, NULL, 60));

    long want = (long)ITEMS * (ITEMS + 1) / 2;
    assert_int_equal(per_worker_total, ITEMS);
    assert_int_equal((intptr_t)collected - 1, ITEMS);
    assert_int_equal(S.tally, want);
    assert_int_equal(S.nested_tally, want);
    for (int i = 0; i < ITEMS; i++)
        if (atomic_load(&S.seen[i]) != 1)
            fail_msg("item %d arrived %d times", i + 1, atomic_load(&S.seen[i]));
    assert_true(atomic_load(&S.max_in_slots) <= SEM_LIMIT);
    assert_int_equal(cc_sem_value(S.slots), SEM_LIMIT);
    printf("# max %d workers in the semaphore (limit %d)\n",
           atomic_load(&S.max_in_slots), SEM_LIMIT);

    cc_thread_free(pr);
    cc_thread_free(col);
    cc_thread_free(ch);
    cc_queue_free(S.in);
    cc_queue_free(S.out);
    cc_lock_free(S.tally_lock);
    cc_rlock_free(S.nested);
    cc_sem_free(S.slots);
    cc_event_free(S.running);
    cc_barrier_free(S.meet);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak_everything_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
