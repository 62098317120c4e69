/* test_mpqueue_join - cc_mpqueue as a JoinableQueue: task_done and join
 * semantics and bad input, join from threads and tasks with timeouts and
 * cancellation, producer and consumer children with parent threads and
 * tasks joining (join never returns before the last task_done, and every
 * message is handled exactly once), and producers killed with SIGKILL in
 * the middle of their puts, after which the unfinished count still equals
 * the messages delivered. */
#include <math.h>
#include <signal.h>

#include "process/ipc_debug.h"
#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

/* ---- semantics in one process ---- */

static void test_task_done_and_join(void **state)
{
    (void)state;
    cc_mpqueue *q = cc_mpqueue_new(0, 0);
    void *got;

    assert_non_null(q);
    assert_ok(cc_mpqueue_join(q, 0)); /* nothing was put */
    assert_fails_with(cc_mpqueue_task_done(q), EOVERFLOW);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_mpqueue_put_bytes(q, "m", 1, 0));
    assert_int_equal(cc_mpqueue_unfinished(q), 3);
    assert_fails_with(cc_mpqueue_join(q, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_mpqueue_join(q, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_ok(cc_deadline_push(0.03)); /* a scope bounds the wait */
    assert_fails_with(cc_mpqueue_join(q, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    /* a get alone finishes nothing */
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_mpqueue_get(q, &got, 0));
        cc_blob_free(got);
    }
    assert_int_equal(cc_mpqueue_unfinished(q), 3);
    assert_fails_with(cc_mpqueue_join(q, 0), EAGAIN);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_mpqueue_task_done(q));
    assert_int_equal(cc_mpqueue_unfinished(q), 0);
    assert_ok(cc_mpqueue_join(q, 0));
    assert_ok(cc_mpqueue_join(q, CC_FOREVER));
    /* one more task_done than puts: Python's ValueError */
    assert_fails_with(cc_mpqueue_task_done(q), EOVERFLOW);
    assert_int_equal(cc_mpqueue_unfinished(q), 0);
    /* a failed put adds no task */
    cc_mpqueue *one = cc_mpqueue_new(1, 0);
    assert_ok(cc_mpqueue_put_bytes(one, "a", 1, 0));
    assert_fails_with(cc_mpqueue_put_bytes(one, "b", 1, 0), EAGAIN);
    assert_int_equal(cc_mpqueue_unfinished(one), 1);
    /* a closed queue is joined the same way */
    assert_ok(cc_mpqueue_close(one));
    assert_fails_with(cc_mpqueue_put_bytes(one, "c", 1, 0), ESHUTDOWN);
    assert_fails_with(cc_mpqueue_join(one, 0), EAGAIN);
    assert_ok(cc_mpqueue_get(one, &got, 0));
    cc_blob_free(got);
    assert_ok(cc_mpqueue_task_done(one));
    assert_ok(cc_mpqueue_join(one, 0));
    cc_mpqueue_free(one);
    /* bad input */
    assert_fails_with(cc_mpqueue_join(q, NAN), EINVAL);
    assert_fails_with(cc_mpqueue_join(NULL, 0), EINVAL);
    assert_fails_with(cc_mpqueue_task_done(NULL), EINVAL);
    assert_int_equal(cc_mpqueue_unfinished(NULL), 0);
    char plain[64] = {0};
    assert_fails_with(cc_mpqueue_join((cc_mpqueue *)plain, 0), EINVAL);
    assert_fails_with(cc_mpqueue_task_done((cc_mpqueue *)plain), EINVAL);
    assert_ok(cc__mpqueue_check(q));
    cc_mpqueue_free(q);
}

/* ---- join from threads and tasks: wake-up, timeout, cancellation ---- */

typedef struct joiner {
    cc_mpqueue *q;
    double timeout;
    int err;
} joiner;

static void *run_join(void *arg)
{
    joiner *j = arg;

    errno = 0;
    j->err = cc_mpqueue_join(j->q, j->timeout) == 0 ? 0 : errno;
    return NULL;
}

static void *join_tasks_main(void *arg)
{
    cc_mpqueue *q = arg;
    joiner j[3] = {{q, 30, -1}, {q, 30, -1}, {q, 0.05, -1}};
    cc_future *f[3];
    void *res = NULL;

    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(run_join, &j[i]);
    cc_sleep(0.02);
    for (int i = 0; i < 2; i++)
        if (cc_future_done(f[i]))
            res = cc_fail(EPROTO, "join %d did not block", i);
    /* the one with a short timeout times out; the others keep waiting */
    cc_gather(&f[2], 1, NULL, true, CC_FOREVER);
    if (j[2].err != ETIMEDOUT)
        res = cc_fail(EPROTO, "timed join: %s", cc_errname(j[2].err));
    cc_future_cancel(f[0]);
    cc_gather(&f[0], 1, NULL, true, CC_FOREVER);
    if (j[0].err != ECANCELED || !cc_future_cancelled(f[0]))
        res = cc_fail(EPROTO, "cancelled join: %s", cc_errname(j[0].err));
    if (cc_future_done(f[1]))
        res = cc_fail(EPROTO, "a cancellation woke a neighbour");
    /* the last task_done wakes the remaining joiner */
    if (cc_mpqueue_task_done(q) != 0 || cc_mpqueue_task_done(q) != 0)
        res = cc_fail(EPROTO, "task_done: %s", cc_errmsg());
    cc_gather(&f[1], 1, NULL, true, CC_FOREVER);
    if (j[1].err != 0)
        res = cc_fail(EPROTO, "woken join: %s", cc_errname(j[1].err));
    for (int i = 0; i < 3; i++)
        cc_future_free(f[i]);
    return res;
}

static void *thread_done_later(void *arg)
{
    tu_sleep(0.02 + (double)tu_rand_below(20000) / 1e6);
    if (cc_mpqueue_task_done(arg) != 0)
        return cc_fail(EPROTO, "task_done: %s", cc_errmsg());
    return NULL;
}

static void test_join_waits_timeouts_cancellation(void **state)
{
    (void)state;
    cc_mpqueue *q = cc_mpqueue_new(0, 0);
    void *got;

    assert_ok(cc_mpqueue_put_bytes(q, "a", 1, 0));
    assert_ok(cc_mpqueue_put_bytes(q, "b", 1, 0));
    assert_ok(cc_run(join_tasks_main, q, NULL));
    assert_ok(cc_mpqueue_join(q, 0));
    /* threads: one joins while another finishes the task */
    for (int round = 0; round < 20; round++) {
        joiner j[4];
        tu_threads ts;
        cc_thread *t;

        assert_ok(cc_mpqueue_put_bytes(q, "c", 1, 0));
        assert_ok(cc_mpqueue_get(q, &got, 0));
        cc_blob_free(got);
        for (int i = 0; i < 4; i++)
            j[i] = (joiner){q, 30, -1};
        ts = tu_start(4, run_join, j, sizeof(j[0]));
        t = cc_thread_start(thread_done_later, q, NULL);
        assert_non_null(t);
        assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
        cc_thread_free(t);
        tu_join(ts);
        for (int i = 0; i < 4; i++)
            assert_int_equal(j[i].err, 0);
    }
    cc_mpqueue_free(q);
}

/* ---- children producing and consuming, parent threads and tasks
 * joining ---- */

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 2000 };

typedef struct tally_mem {
    _Atomic int seen[PRODUCERS * PER_PRODUCER];
    _Atomic int handled;
} tally_mem;

static cc_mpqueue *work_q;
static tally_mem *tally;

static void *producer(void *arg)
{
    uint32_t who = (uint32_t)(intptr_t)arg;

    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        uint32_t id = who * PER_PRODUCER + i;

        if (cc_mpqueue_put_bytes(work_q, &id, sizeof(id), 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "put");
        if (tu_rand_below(64) == 0)
            tu_jitter(200);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    void *got;
    uint32_t id;

    (void)arg;
    for (;;) {
        if (cc_mpqueue_get(work_q, &got, 60) != 0) {
            if (errno == ESHUTDOWN)
                return NULL;
            return cc_fail_from(cc_last_error(), EPROTO, "get");
        }
        if (cc_blob_len(got) != sizeof(id)) {
            cc_blob_free(got);
            return cc_fail(EPROTO, "a message of %zu bytes",
                           cc_blob_len(got));
        }
        memcpy(&id, got, sizeof(id));
        cc_blob_free(got);
        if (tu_rand_below(16) == 0)
            tu_jitter(100);
        /* handled first, done after: join must see this one counted */
        atomic_fetch_add(&tally->seen[id], 1);
        atomic_fetch_add(&tally->handled, 1);
        if (cc_mpqueue_task_done(work_q) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "task_done");
    }
}

typedef struct join_check {
    int err;
    int handled_after;
} join_check;

static void *checked_join(void *arg)
{
    join_check *c = arg;

    errno = 0;
    c->err = cc_mpqueue_join(work_q, 120) == 0 ? 0 : errno;
    c->handled_after = atomic_load(&tally->handled);
    return NULL;
}

static void *task_joiners_main(void *arg)
{
    join_check *c = arg;
    cc_future *f[3];

    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(checked_join, &c[i]);
    cc_gather(f, 3, NULL, true, CC_FOREVER);
    for (int i = 0; i < 3; i++)
        cc_future_free(f[i]);
    return NULL;
}

static void *run_task_joiners(void *arg)
{
    if (cc_run(task_joiners_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return NULL;
}

static void test_join_across_processes(void **state)
{
    (void)state;
    cc_shared *mem = cc_shared_new(sizeof(tally_mem), false);
    cc_process *p[PRODUCERS + CONSUMERS];
    join_check c[6];
    tu_threads ts;
    cc_thread *tasks;

    assert_non_null(mem);
    tally = cc_shared_ptr(mem);
    work_q = cc_mpqueue_new(64, 0); /* small: producers wait too */
    assert_non_null(work_q);
    /* the producers run first, so that join has something to wait for */
    for (int i = 0; i < PRODUCERS; i++)
        p[i] = child_start(producer, (void *)(intptr_t)i);
    for (int i = 0; i < CONSUMERS; i++)
        p[PRODUCERS + i] = child_start(consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(child_join(p[i]), 0);
    /* every put is in: joiners in threads and in tasks */
    memset(c, 0, sizeof(c));
    ts = tu_start(3, checked_join, c, sizeof(c[0]));
    tasks = cc_thread_start(run_task_joiners, c + 3, NULL);
    assert_non_null(tasks);
    tu_join(ts);
    assert_ok(cc_thread_join(tasks, NULL, CC_FOREVER));
    cc_thread_free(tasks);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c[i].err, 0);
        /* join returned only after the last task_done */
        assert_int_equal(c[i].handled_after, PRODUCERS * PER_PRODUCER);
    }
    assert_ok(cc_mpqueue_close(work_q));
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(child_join(p[PRODUCERS + i]), 0);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        if (atomic_load(&tally->seen[i]) != 1)
            fail_msg("message %d handled %d times", i,
                     atomic_load(&tally->seen[i]));
    assert_int_equal(cc_mpqueue_unfinished(work_q), 0);
    assert_fails_with(cc_mpqueue_task_done(work_q), EOVERFLOW);
    cc_mpqueue_free(work_q);
    cc_shared_free(mem);
}

/* ---- producers killed in the middle of their puts ---- */

enum { KILL_ROUNDS = 100, KILL_CHILDREN = 3 };

static cc_psem *kill_started;

static void *busy_putter(void *arg)
{
    char buf[256];

    (void)arg;
    memset(buf, 'k', sizeof(buf));
    cc_psem_release(kill_started);
    for (;;) {
        if (cc_mpqueue_put_bytes(work_q, buf, 1 + tu_rand_below(sizeof(buf)),
                                 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "put");
    }
}

static void test_kill9_putters_keep_the_count(void **state)
{
    (void)state;
    void *got;
    size_t delivered = 0;

    work_q = cc_mpqueue_new(0, 4 << 20);
    kill_started = cc_psem_new(0);
    assert_non_null(work_q);
    assert_non_null(kill_started);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        cc_process *busy[KILL_CHILDREN];

        for (int i = 0; i < KILL_CHILDREN; i++)
            busy[i] = child_start(busy_putter, NULL);
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_psem_acquire(kill_started, 60));
        tu_sleep((double)tu_rand_below(2000) / 1e6);
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_process_kill(busy[i]));
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_int_equal(child_join(busy[i]), -SIGKILL);
        /* every queued message is exactly one unfinished task: a put
         * killed before it published added none */
        assert_int_equal(cc_mpqueue_unfinished(work_q),
                         cc_mpqueue_size(work_q));
        while (cc_mpqueue_get(work_q, &got, 0) == 0) {
            cc_blob_free(got);
            assert_ok(cc_mpqueue_task_done(work_q));
            delivered++;
        }
        assert_ok(cc_mpqueue_join(work_q, 0));
        assert_fails_with(cc_mpqueue_task_done(work_q), EOVERFLOW);
    }
    assert_ok(cc__mpqueue_check(work_q));
    printf("# %d children killed; %llu repairs; %zu messages drained\n",
           KILL_ROUNDS * KILL_CHILDREN,
           (unsigned long long)cc__mpqueue_repairs(work_q), delivered);
    /* and joins still wait and wake */
    assert_ok(cc_mpqueue_put_bytes(work_q, "ok", 2, 1));
    assert_fails_with(cc_mpqueue_join(work_q, 0.01), ETIMEDOUT);
    assert_ok(cc_mpqueue_get(work_q, &got, 1));
    cc_blob_free(got);
    assert_ok(cc_mpqueue_task_done(work_q));
    assert_ok(cc_mpqueue_join(work_q, 1));
    cc_psem_free(kill_started);
    cc_mpqueue_free(work_q);
}

/* A put killed between raising the count and publishing its message, and
 * one killed after publishing but before clearing its intent: the first
 * adds no task (a join does not wait for it), the second adds one. */
typedef struct die_arg {
    int die_at;
} die_arg;

static void *die_in_put(void *arg)
{
    const die_arg *d = arg;

    cc__mpqueue_put_killed(work_q, "dead", 4, d->die_at);
    return cc_fail(EPROTO, "still alive after the put");
}

static void test_put_killed_between_its_stores(void **state)
{
    (void)state;
    void *got;

    work_q = cc_mpqueue_new(0, 0);
    assert_non_null(work_q);
    for (int die_at = 1; die_at <= 2; die_at++) {
        die_arg d = {die_at};
        uint64_t repairs = cc__mpqueue_repairs(work_q);

        assert_ok(cc_mpqueue_put_bytes(work_q, "live", 4, 0));
        assert_int_equal(child_join(child_start(die_in_put, &d)), -SIGKILL);
        /* a join sees the dead put's count as it should be at once */
        if (die_at == 1) {
            joiner j = {work_q, 30, -1};
            tu_threads ts;

            assert_ok(cc_mpqueue_get(work_q, &got, 0));
            cc_blob_free(got);
            assert_ok(cc_mpqueue_task_done(work_q));
            ts = tu_start(1, run_join, &j, sizeof(j));
            tu_join(ts);
            assert_int_equal(j.err, 0);
            assert_int_equal(cc_mpqueue_size(work_q), 0);
        } else {
            assert_int_equal(cc_mpqueue_unfinished(work_q), 2);
            assert_int_equal(cc_mpqueue_size(work_q), 2);
            for (int i = 0; i < 2; i++) {
                assert_ok(cc_mpqueue_get(work_q, &got, 0));
                assert_memory_equal(got, i == 0 ? "live" : "dead", 4);
                cc_blob_free(got);
                assert_fails_with(cc_mpqueue_join(work_q, 0), EAGAIN);
                assert_ok(cc_mpqueue_task_done(work_q));
            }
        }
        assert_true(cc__mpqueue_repairs(work_q) > repairs);
        assert_ok(cc_mpqueue_join(work_q, 0));
        assert_fails_with(cc_mpqueue_task_done(work_q), EOVERFLOW);
        assert_ok(cc__mpqueue_check(work_q));
    }
    cc_mpqueue_free(work_q);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_done_and_join),
        cmocka_unit_test(test_join_waits_timeouts_cancellation),
        cmocka_unit_test(test_join_across_processes),
        cmocka_unit_test(test_kill9_putters_keep_the_count),
        cmocka_unit_test(test_put_killed_between_its_stores),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
