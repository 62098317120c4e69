/* test_mixed - one set of primitives for threads and coroutines: a queue
 * between producer threads and a thousand consumer tasks on two loops, a
 * lock contended by threads and tasks, a barrier and a condition shared by
 * both, 10,000 tasks awaiting pool futures, a long pool job that does not
 * stall the loop (lateness measured), and cc_to_thread.  The first two
 * caught a lost wake-up: a task whose waiter a thread claimed before the
 * task switched out must still switch out and take the posted wake-up. */
#include "test_util.h"

/* ---- two loops, each in its own thread ---- */

typedef struct {
    cc_loop *loop;
    cc_thread *thread;
} loop_thread;

static void *run_loop(void *arg)
{
    if (cc_loop_run_forever(arg) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "run_forever");
    return arg;
}

static loop_thread start_loop(const char *name)
{
    loop_thread lt;
    lt.loop = cc_loop_new();
    assert_non_null(lt.loop);
    lt.thread = cc_thread_start(run_loop, lt.loop, name);
    assert_non_null(lt.thread);
    return lt;
}

static void stop_loop(loop_thread lt)
{
    assert_ok(cc_loop_stop(lt.loop));
    assert_ok(cc_thread_join(lt.thread, NULL, 60));
    cc_thread_free(lt.thread);
    cc_loop_free(lt.loop);
}

/* ---- many threads spawn short tasks onto one loop ---- */

enum { SPAWNERS = 4, SPAWNS = 3000 };
static cc_loop *spawn_target;

static void *echo_task(void *arg)
{
    return arg;
}

static void *spawner_thread(void *arg)
{
    intptr_t base = (intptr_t)*(int *)arg * SPAWNS;
    for (intptr_t i = 0; i < SPAWNS; i++) {
        /* the task may end, and its stack go to the next task, before
         * cc_loop_spawn returns: the future must still be this task's */
        cc_future *f = cc_loop_spawn(spawn_target, echo_task,
                                     (void *)(base + i + 1));
        void *r = NULL;
        if (f == NULL)
            return cc_fail_from(cc_last_error(), EPROTO, "cc_loop_spawn");
        if (tu_rand_below(8) == 0)
            tu_jitter(20);
        int rc = cc_future_result(f, &r, 60);
        cc_future_free(f);
        if (rc != 0 || r != (void *)(base + i + 1))
            return cc_fail(EPROTO, "task %ld: wrong future", (long)i);
    }
    return arg;
}

static void test_loop_spawn_from_many_threads(void **state)
{
    (void)state;
    loop_thread l = start_loop("spawned");
    spawn_target = l.loop;
    int ids[SPAWNERS];
    for (int i = 0; i < SPAWNERS; i++)
        ids[i] = i;
    tu_join(tu_start(SPAWNERS, spawner_thread, ids, sizeof(int)));
    stop_loop(l);
}

/* ---- threads produce, a thousand tasks on two loops consume ---- */

enum { PRODUCERS = 4, PER_PRODUCER = 5000, CONSUMERS = 1000 };
static cc_queue *shared_q;
static _Atomic unsigned char delivered[PRODUCERS * PER_PRODUCER];
static _Atomic long consumed;

static void *producer_thread(void *arg)
{
    intptr_t base = (intptr_t)*(int *)arg * PER_PRODUCER;
    for (intptr_t i = 0; i < PER_PRODUCER; i++) {
        if (cc_queue_put(shared_q, (void *)(base + i + 1), 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "put");
        if (tu_rand_below(512) == 0)
            tu_jitter(200);
    }
    return arg;
}

static void *consumer_task(void *arg)
{
    void *item;
    long mine = 0;
    while (cc_queue_get(shared_q, &item, 60) == 0) {
        atomic_fetch_add(&delivered[(intptr_t)item - 1], 1);
        mine++;
        if (tu_rand_below(64) == 0)
            cc_sleep(0.0002);
    }
    if (errno != ESHUTDOWN)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    atomic_fetch_add(&consumed, mine);
    return arg;
}

static void test_queue_threads_to_tasks_on_two_loops(void **state)
{
    (void)state;
    shared_q = cc_queue_new(64, CC_FIFO);
    loop_thread l[2] = {start_loop("loop-a"), start_loop("loop-b")};
    cc_future **c = calloc(CONSUMERS, sizeof(*c));
    for (int i = 0; i < CONSUMERS; i++)
        c[i] = cc_loop_spawn(l[i % 2].loop, consumer_task, &c);
    int ids[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        ids[i] = i;
    tu_join(tu_start(PRODUCERS, producer_thread, ids, sizeof(int)));
    assert_ok(cc_queue_shutdown(shared_q, false));
    for (int i = 0; i < CONSUMERS; i++) {
        assert_ok(cc_future_result(c[i], NULL, 60));
        cc_future_free(c[i]);
    }
    free(c);
    stop_loop(l[0]);
    stop_loop(l[1]);
    assert_int_equal(atomic_load(&consumed), PRODUCERS * PER_PRODUCER);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        if (atomic_load(&delivered[i]) != 1)
            fail_msg("item %d delivered %d times", i,
                     atomic_load(&delivered[i]));
    cc_queue_free(shared_q);
}

/* ---- tasks on two loops produce into a small queue, threads consume ---- */

enum { TPRODUCERS = 200, TPER = 100, TCONSUMERS = 4 };
static _Atomic unsigned char tdelivered[TPRODUCERS * TPER];
static _Atomic long tconsumed;

static void *producer_task(void *arg)
{
    intptr_t base = (intptr_t)arg * TPER;
    for (intptr_t i = 0; i < TPER; i++) {
        /* the queue holds 8: most puts park the task until a thread gets */
        if (cc_queue_put(shared_q, (void *)(base + i + 1), 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "put");
        if (tu_rand_below(32) == 0)
            cc_yield();
    }
    return arg;
}

static void *consumer_thread(void *arg)
{
    void *item;
    long mine = 0;
    while (cc_queue_get(shared_q, &item, 60) == 0) {
        atomic_fetch_add(&tdelivered[(intptr_t)item - 1], 1);
        mine++;
        if (tu_rand_below(256) == 0)
            tu_jitter(100);
    }
    if (errno != ESHUTDOWN)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    atomic_fetch_add(&tconsumed, mine);
    return arg;
}

static void test_queue_tasks_to_threads(void **state)
{
    (void)state;
    shared_q = cc_queue_new(8, CC_FIFO);
    loop_thread l[2] = {start_loop("put-a"), start_loop("put-b")};
    int ids[TCONSUMERS];
    tu_threads consumers =
        tu_start(TCONSUMERS, consumer_thread, ids, sizeof(int));
    cc_future *p[TPRODUCERS];
    for (intptr_t i = 0; i < TPRODUCERS; i++)
        p[i] = cc_loop_spawn(l[i % 2].loop, producer_task, (void *)i);
    for (int i = 0; i < TPRODUCERS; i++) {
        assert_ok(cc_future_result(p[i], NULL, 60));
        cc_future_free(p[i]);
    }
    assert_ok(cc_queue_shutdown(shared_q, false)); /* consumers drain, stop */
    tu_join(consumers);
    stop_loop(l[0]);
    stop_loop(l[1]);
    assert_int_equal(atomic_load(&tconsumed), TPRODUCERS * TPER);
    for (int i = 0; i < TPRODUCERS * TPER; i++)
        if (atomic_load(&tdelivered[i]) != 1)
            fail_msg("item %d delivered %d times", i,
                     atomic_load(&tdelivered[i]));
    cc_queue_free(shared_q);
}

/* ---- one lock, threads and tasks ---- */

enum { LOCK_THREADS = 3, LOCK_TASKS = 200, LOCK_ROUNDS = 300 };
static cc_lock *shared_lock;
static long guarded_a, guarded_b;   /* guarded by shared_lock */
static _Atomic int inside;

static int locked_step(bool in_task)
{
    if (cc_lock_acquire(shared_lock, 60) != 0)
        return -1;
    if (atomic_fetch_add(&inside, 1) != 0)
        return cc_fail(EPROTO, "two holders inside the lock"), -1;
    long a = guarded_a;
    if (tu_rand_below(16) == 0) {
        if (in_task)
            cc_yield(); /* hold the lock across a suspension */
        else
            tu_jitter(50);
    }
    guarded_a = a + 1;
    guarded_b++;
    atomic_fetch_sub(&inside, 1);
    return cc_lock_release(shared_lock);
}

static void *lock_thread(void *arg)
{
    for (int i = 0; i < LOCK_ROUNDS * 10; i++)
        if (locked_step(false) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "thread step");
    return arg;
}

static void *lock_task(void *arg)
{
    for (int i = 0; i < LOCK_ROUNDS; i++)
        if (locked_step(true) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "task step");
    return arg;
}

static void test_lock_shared_by_threads_and_tasks(void **state)
{
    (void)state;
    shared_lock = cc_lock_new();
    guarded_a = guarded_b = 0;
    loop_thread l[2] = {start_loop("lock-a"), start_loop("lock-b")};
    cc_future *f[LOCK_TASKS];
    for (int i = 0; i < LOCK_TASKS; i++)
        f[i] = cc_loop_spawn(l[i % 2].loop, lock_task, f);
    int ids[LOCK_THREADS];
    tu_join(tu_start(LOCK_THREADS, lock_thread, ids, sizeof(int)));
    for (int i = 0; i < LOCK_TASKS; i++) {
        assert_ok(cc_future_result(f[i], NULL, 120));
        cc_future_free(f[i]);
    }
    stop_loop(l[0]);
    stop_loop(l[1]);
    long want = (long)LOCK_THREADS * LOCK_ROUNDS * 10 +
                (long)LOCK_TASKS * LOCK_ROUNDS;
    assert_int_equal(guarded_a, want);
    assert_int_equal(guarded_b, want);
    assert_false(cc_lock_locked(shared_lock));
    cc_lock_free(shared_lock);
}

/* ---- a barrier and a condition with threads and tasks as parties ---- */

static cc_barrier *mixed_barrier;
static _Atomic long wave;

static int next_wave(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wave, 1);
    return 0;
}

static void *barrier_party(void *arg)
{
    for (long i = 0; i < 200; i++) {
        if (atomic_load(&wave) != i)
            return cc_fail(EPROTO, "party out of step");
        if (cc_barrier_wait(mixed_barrier, 60) < 0)
            return cc_fail_from(cc_last_error(), EPROTO, "barrier");
    }
    return arg;
}

static void test_barrier_with_threads_and_tasks(void **state)
{
    (void)state;
    atomic_store(&wave, 0);
    mixed_barrier = cc_barrier_new(6, next_wave, NULL); /* 3 threads, 3 tasks */
    loop_thread l = start_loop("barrier");
    cc_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = cc_loop_spawn(l.loop, barrier_party, f);
    int ids[3];
    tu_join(tu_start(3, barrier_party, ids, sizeof(int)));
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_future_result(f[i], NULL, 60));
        cc_future_free(f[i]);
    }
    stop_loop(l);
    assert_int_equal(atomic_load(&wave), 200);
    cc_barrier_free(mixed_barrier);
}

static cc_cond *mixed_cond;
static int mailbox;           /* guarded by mixed_cond's lock */

static bool has_mail(void *arg)
{
    (void)arg;
    return mailbox > 0;
}

static void *cond_receiver_task(void *arg)
{
    cc_cond_acquire(mixed_cond, 60);
    int rc = cc_cond_wait_for(mixed_cond, has_mail, NULL, 60);
    mailbox--;
    cc_cond_release(mixed_cond);
    return rc == 0 ? arg : cc_fail_from(cc_last_error(), EPROTO, "wait_for");
}

static void test_condition_thread_notifies_tasks(void **state)
{
    (void)state;
    mixed_cond = cc_cond_new(NULL);
    mailbox = 0;
    loop_thread l = start_loop("cond");
    cc_future *f[50];
    for (int i = 0; i < 50; i++)
        f[i] = cc_loop_spawn(l.loop, cond_receiver_task, f);
    tu_sleep(0.05);
    for (int i = 0; i < 50; i++) { /* one letter at a time, from a thread */
        cc_cond_acquire(mixed_cond, 60);
        mailbox++;
        cc_cond_notify(mixed_cond, 1);
        cc_cond_release(mixed_cond);
    }
    for (int i = 0; i < 50; i++) {
        assert_ok(cc_future_result(f[i], NULL, 60));
        cc_future_free(f[i]);
    }
    assert_int_equal(mailbox, 0);
    stop_loop(l);
    cc_cond_free(mixed_cond);
}

/* ---- 10,000 tasks await pool futures ---- */

static cc_executor *pool;

static void *pool_job(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

static void *await_pool_job(void *arg)
{
    cc_future *f = cc_submit(pool, pool_job, arg);
    void *r;
    if (f == NULL || cc_future_result(f, &r, 60) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "pool job");
    cc_future_free(f);
    return (intptr_t)r == (intptr_t)arg * 2 ? arg : cc_fail(EPROTO, "wrong");
}

static void *many_awaiters_main(void *arg)
{
    enum { N = 10000 };
    cc_future **f = calloc(N, sizeof(*f));
    for (intptr_t i = 0; i < N; i++)
        f[i] = cc_spawn(await_pool_job, (void *)(i + 1));
    int rc = cc_gather(f, N, NULL, false, CC_FOREVER);
    for (int i = 0; i < N; i++)
        cc_future_free(f[i]);
    free(f);
    return rc == 0 ? arg : NULL;
}

static void test_ten_thousand_tasks_await_pool_futures(void **state)
{
    pool = cc_thread_pool_new(4, NULL);
    assert_ok(cc_run(many_awaiters_main, state, NULL));
    cc_executor_free(pool);
}

/* ---- a 1 s pool job does not stall the loop ---- */

static double worst_lateness;
static _Atomic bool job_running; /* set by the job while it sleeps */
static int ticks_during_job;     /* ticks seen while it was set */

static void *ticker(void *arg)
{
    double *stop_at = arg;
    double next = cc_now() + 0.01;
    while (cc_now() < *stop_at) {
        cc_sleep(next - cc_now() > 0 ? next - cc_now() : 0);
        double late = cc_now() - next;
        if (late > worst_lateness)
            worst_lateness = late;
        if (atomic_load(&job_running))
            ticks_during_job++;
        next += 0.01;
    }
    return arg;
}

static void *sleep_one_second(void *arg)
{
    atomic_store(&job_running, true);
    tu_sleep(1.0); /* blocks its pool thread, not the loop */
    atomic_store(&job_running, false);
    return arg;
}

static void *long_job_main(void *arg)
{
    static double stop_at;
    cc_future *job = cc_to_thread(sleep_one_second, arg);
    stop_at = cc_now() + 1.0;
    cc_future *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = cc_spawn(ticker, &stop_at);
    void *r;
    int rc = cc_future_result(job, &r, 10); /* suspends only this task */
    cc_gather(t, 5, NULL, false, CC_FOREVER);
    for (int i = 0; i < 5; i++)
        cc_future_free(t[i]);
    cc_future_free(job);
    return rc == 0 && r == arg ? arg : cc_fail(EPROTO, "job");
}

static void test_long_pool_job_leaves_the_loop_running(void **state)
{
    worst_lateness = 0;
    ticks_during_job = 0;
    atomic_store(&job_running, false);
    assert_ok(cc_run(long_job_main, state, NULL));
    printf("# while a 1 s job ran: %d ticks (5 tickers every 10 ms), worst "
           "loop lateness %.2f ms\n", ticks_during_job,
           worst_lateness * 1e3);
    /* Judged by events, not by milliseconds of lateness (idle ~0.2 ms, a
     * few ms on a busy 2-CPU machine, more under load and sanitizers): a
     * loop blocked by the job runs no ticker while the job sleeps, and
     * whatever it is blocked by for most of the second leaves a tick at
     * least half a second late.  Free, it ticks ~500 times. */
    assert_true(ticks_during_job >= 10);
    assert_true(worst_lateness < 0.5);
}

/* ---- cc_to_thread ---- */

static void *thread_name_job(void *arg)
{
    (void)arg;
    return cc_blob_strdup(cc_thread_current_name());
}

static void *to_thread_main(void *arg)
{
    cc_future *f = cc_to_thread(thread_name_job, arg);
    void *name;
    if (cc_future_result(f, &name, 10) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "to_thread");
    cc_future_free(f);
    int ok = strncmp(name, "to_thread_", 10) == 0;
    cc_blob_free(name);
    /* a caller's executor instead */
    cc_pool_opts o = {.thread_name_prefix = "mine"};
    cc_executor *ex = cc_thread_pool_new(1, &o);
    cc_loop_set_default_executor(cc_loop_current(), ex);
    f = cc_to_thread(thread_name_job, arg);
    cc_future_result(f, &name, 10);
    cc_future_free(f);
    ok = ok && strcmp(name, "mine_0") == 0;
    cc_blob_free(name);
    cc_loop_set_default_executor(cc_loop_current(), NULL);
    cc_executor_free(ex);
    return ok ? arg : cc_fail(EPROTO, "to_thread ran on the wrong pool");
}

static void test_to_thread(void **state)
{
    assert_ok(cc_run(to_thread_main, state, NULL));
    assert_null_with(cc_to_thread(thread_name_job, NULL), EINVAL); /* no loop */
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_spawn_from_many_threads),
        cmocka_unit_test(test_queue_threads_to_tasks_on_two_loops),
        cmocka_unit_test(test_queue_tasks_to_threads),
        cmocka_unit_test(test_lock_shared_by_threads_and_tasks),
        cmocka_unit_test(test_barrier_with_threads_and_tasks),
        cmocka_unit_test(test_condition_thread_notifies_tasks),
        cmocka_unit_test(test_ten_thousand_tasks_await_pool_futures),
        cmocka_unit_test(test_long_pool_job_leaves_the_loop_running),
        cmocka_unit_test(test_to_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
