/* test_prlock - cc_prlock, the process-shared RLock: recursion, EPERM for
 * a non-owner (another thread, another task of the same loop thread),
 * timeouts and cancellation from threads and tasks, bad input; children
 * and parent threads hammering a counter with nested acquisitions (no
 * lost update, never two owners at once); and owners killed with SIGKILL
 * while holding it, with a waiter blocked and without one, and an owner
 * thread that ends holding it: the next acquirer gets it with EOWNERDEAD
 * and the lock works on; a child forked by the owner does not own it. */
#include <math.h>
#include <signal.h>

#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

static cc_prlock *lk;

/* ---- one process ---- */

typedef struct attempt {
    double timeout;
    double scope;      /* > 0: a deadline scope around the acquire */
    int acquire_err;   /* errno of cc_prlock_acquire, 0 when it succeeded */
    int release_err;   /* errno of a release without owning */
} attempt;

static void *other_thread(void *arg)
{
    attempt *a = arg;

    errno = 0;
    a->release_err = cc_prlock_release(lk) == 0 ? 0 : errno;
    if (a->scope > 0 && cc_deadline_push(a->scope) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_deadline_push");
    errno = 0;
    a->acquire_err = cc_prlock_acquire(lk, a->timeout) == 0 ? 0 : errno;
    if (a->scope > 0)
        cc_deadline_pop();
    if (a->acquire_err == 0)
        cc_prlock_release(lk);
    return NULL;
}

static void test_recursion_and_ownership(void **state)
{
    (void)state;
    attempt a[2] = {{0, 0, -1, -1}, {0.05, 0, -1, -1}};
    tu_threads ts;

    lk = cc_prlock_new();
    assert_non_null(lk);
    assert_int_equal(cc_prlock_depth(lk), 0);
    assert_fails_with(cc_prlock_release(lk), EPERM);
    assert_ok(cc_prlock_acquire(lk, 0));
    assert_ok(cc_prlock_acquire(lk, 0));
    assert_ok(cc_prlock_acquire(lk, CC_FOREVER));
    assert_int_equal(cc_prlock_depth(lk), 3);
    /* other threads: not the owner, cannot take it, cannot release it */
    ts = tu_start(2, other_thread, a, sizeof(a[0]));
    tu_join(ts);
    assert_int_equal(a[0].release_err, EPERM);
    assert_int_equal(a[0].acquire_err, EAGAIN);
    assert_int_equal(a[1].release_err, EPERM);
    assert_int_equal(a[1].acquire_err, ETIMEDOUT);
    assert_int_equal(cc_prlock_depth(lk), 3);
    assert_ok(cc_prlock_release(lk));
    assert_ok(cc_prlock_release(lk));
    assert_int_equal(cc_prlock_depth(lk), 1);
    assert_ok(cc_prlock_release(lk));
    assert_int_equal(cc_prlock_depth(lk), 0);
    assert_fails_with(cc_prlock_release(lk), EPERM);
    /* free now: another thread takes it */
    a[0] = (attempt){0, 0, -1, -1};
    ts = tu_start(1, other_thread, a, sizeof(a[0]));
    tu_join(ts);
    assert_int_equal(a[0].acquire_err, 0);
    assert_int_equal(cc_prlock_owner_deaths(lk), 0);
    /* bad input */
    assert_fails_with(cc_prlock_acquire(lk, NAN), EINVAL);
    assert_fails_with(cc_prlock_acquire(NULL, 0), EINVAL);
    assert_fails_with(cc_prlock_release(NULL), EINVAL);
    char plain[128] = {0};
    assert_fails_with(cc_prlock_acquire((cc_prlock *)plain, 0), EINVAL);
    assert_fails_with(cc_prlock_release((cc_prlock *)plain), EINVAL);
    assert_int_equal(cc_prlock_depth(NULL), 0);
    assert_int_equal(cc_prlock_owner_deaths(NULL), 0);
    /* a deadline scope bounds a wait for it */
    assert_ok(cc_prlock_acquire(lk, 0));
    a[0] = (attempt){CC_FOREVER, 0.03, -1, -1};
    ts = tu_start(1, other_thread, a, sizeof(a[0]));
    tu_join(ts);
    assert_int_equal(a[0].acquire_err, ETIMEDOUT);
    assert_ok(cc_prlock_release(lk));
    cc_prlock_free(lk);
    cc_prlock_free(NULL);
}

/* ---- tasks: two tasks of one loop thread are two owners ---- */

typedef struct task_try {
    double timeout;
    int err;
    unsigned depth;    /* the task's depth once it had the lock */
} task_try;

static void *task_acquire(void *arg)
{
    task_try *t = arg;

    errno = 0;
    t->err = cc_prlock_acquire(lk, t->timeout) == 0 ? 0 : errno;
    if (t->err == 0) {
        cc_prlock_acquire(lk, 0);
        t->depth = cc_prlock_depth(lk);
        cc_prlock_release(lk);
        cc_prlock_release(lk);
    }
    return NULL;
}

static void *tasks_main(void *arg)
{
    task_try t[4] = {{0, -1, 0}, {0.05, -1, 0}, {30, -1, 0}, {30, -1, 0}};
    cc_future *f[4];
    void *res = arg;

    if (cc_prlock_acquire(lk, 0) != 0)
        return cc_fail(EPROTO, "main task: %s", cc_errmsg());
    /* the main task owns it; sibling tasks on the same thread do not */
    if (cc_prlock_release(lk) != 0 || cc_prlock_acquire(lk, 0) != 0)
        return cc_fail(EPROTO, "main task: %s", cc_errmsg());
    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(task_acquire, &t[i]);
    cc_gather(f, 2, NULL, true, CC_FOREVER);
    if (t[0].err != EAGAIN || t[1].err != ETIMEDOUT)
        res = cc_fail(EPROTO, "siblings: %s and %s", cc_errname(t[0].err),
                      cc_errname(t[1].err));
    cc_sleep(0.02);
    if (cc_future_done(f[2]) || cc_future_done(f[3]))
        res = cc_fail(EPROTO, "a waiter did not wait");
    cc_future_cancel(f[2]);
    cc_gather(&f[2], 1, NULL, true, CC_FOREVER);
    if (t[2].err != ECANCELED || !cc_future_cancelled(f[2]))
        res = cc_fail(EPROTO, "cancelled: %s", cc_errname(t[2].err));
    if (cc_future_done(f[3]))
        res = cc_fail(EPROTO, "a cancellation woke a neighbour");
    /* a sibling task cannot release it for us */
    if (cc_prlock_depth(lk) != 1)
        res = cc_fail(EPROTO, "main task's depth %u", cc_prlock_depth(lk));
    cc_prlock_release(lk);
    cc_gather(&f[3], 1, NULL, true, CC_FOREVER);
    if (t[3].err != 0 || t[3].depth != 2)
        res = cc_fail(EPROTO, "woken waiter: %s, depth %u",
                      cc_errname(t[3].err), t[3].depth);
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    return res;
}

static void test_tasks(void **state)
{
    lk = cc_prlock_new();
    assert_non_null(lk);
    assert_ok(cc_run(tasks_main, state, NULL));
    assert_int_equal(cc_prlock_depth(lk), 0);
    assert_ok(cc_prlock_acquire(lk, 0));
    assert_ok(cc_prlock_release(lk));
    cc_prlock_free(lk);
}

/* ---- children and threads hammering a counter ---- */

enum { CHILDREN = 4, THREADS = 3, ITERS = 3000 };

typedef struct counter_mem {
    long counter;              /* guarded by lk */
    int inside;                /* owners inside now: 0 or 1 */
    _Atomic int overlaps;      /* times two owners were inside */
} counter_mem;

static counter_mem *cm;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        unsigned depth = 1 + tu_rand_below(3);

        for (unsigned d = 0; d < depth; d++)
            if (cc_prlock_acquire(lk, 60) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "acquire");
        if (cm->inside++ != 0)
            atomic_fetch_add(&cm->overlaps, 1);
        long v = cm->counter;
        if (tu_rand_below(32) == 0)
            tu_jitter(50);
        cm->counter = v + 1;
        cm->inside--;
        if (cc_prlock_depth(lk) != depth)
            return cc_fail(EPROTO, "depth %u, expected %u",
                           cc_prlock_depth(lk), depth);
        for (unsigned d = 0; d < depth; d++)
            if (cc_prlock_release(lk) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "release");
    }
    return NULL;
}

static void test_processes_and_threads(void **state)
{
    (void)state;
    cc_shared *mem = cc_shared_new(sizeof(counter_mem), false);
    cc_process *p[CHILDREN];
    char args[THREADS];
    tu_threads ts;

    assert_non_null(mem);
    cm = cc_shared_ptr(mem);
    lk = cc_prlock_new();
    assert_non_null(lk);
    for (int i = 0; i < CHILDREN; i++)
        p[i] = child_start(hammer, NULL);
    ts = tu_start(THREADS, hammer, args, 1);
    tu_join(ts);
    for (int i = 0; i < CHILDREN; i++)
        assert_int_equal(child_join(p[i]), 0);
    assert_int_equal(atomic_load(&cm->overlaps), 0);
    assert_int_equal(cm->counter, (long)(CHILDREN + THREADS) * ITERS);
    assert_int_equal(cc_prlock_owner_deaths(lk), 0);
    cc_prlock_free(lk);
    cc_shared_free(mem);
}

/* ---- an owner killed while holding it ---- */

static cc_psem *held;

static void *hold_forever(void *arg)
{
    (void)arg;
    if (cc_prlock_acquire(lk, 60) != 0 || cc_prlock_acquire(lk, 0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    cc_psem_release(held);
    for (;;)
        cc_sleep(1);
}

typedef struct after_death {
    int err;
    unsigned depth;
} after_death;

static void *wait_for_dead_owner(void *arg)
{
    after_death *a = arg;

    errno = 0;
    a->err = cc_prlock_acquire(lk, 60) == 0 ? 0 : errno;
    a->depth = cc_prlock_depth(lk);
    if (a->err == EOWNERDEAD || a->err == 0)
        cc_prlock_release(lk);
    return NULL;
}

static void *task_waits_for_dead_owner(void *arg)
{
    return wait_for_dead_owner(arg);
}

static void *run_task_waiter(void *arg)
{
    if (cc_run(task_waits_for_dead_owner, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return NULL;
}

static void test_owner_killed(void **state)
{
    (void)state;
    lk = cc_prlock_new();
    held = cc_psem_new(0);
    assert_non_null(lk);
    assert_non_null(held);
    for (int round = 0; round < 6; round++) {
        cc_process *owner = child_start(hold_forever, NULL);
        after_death a = {-1, 0};
        tu_threads ts;
        cc_thread *task_thread = NULL;

        assert_ok(cc_psem_acquire(held, 60));
        assert_fails_with(cc_prlock_acquire(lk, 0), EAGAIN);
        assert_fails_with(cc_prlock_release(lk), EPERM);
        switch (round % 3) {
        case 0: /* a thread waits while the owner is killed */
            ts = tu_start(1, wait_for_dead_owner, &a, sizeof(a));
            break;
        case 1: /* a task waits while the owner is killed */
            task_thread = cc_thread_start(run_task_waiter, &a, NULL);
            assert_non_null(task_thread);
            break;
        default: /* nobody waits: the next acquire finds it */
            break;
        }
        tu_sleep((double)tu_rand_below(30000) / 1e6);
        assert_ok(cc_process_kill(owner));
        assert_int_equal(child_join(owner), -SIGKILL);
        switch (round % 3) {
        case 0:
            tu_join(ts);
            break;
        case 1:
            assert_ok(cc_thread_join(task_thread, NULL, 120));
            cc_thread_free(task_thread);
            break;
        default:
            wait_for_dead_owner(&a);
            break;
        }
        /* the waiter got it, told that its owner died, with depth 1 */
        assert_int_equal(a.err, EOWNERDEAD);
        assert_int_equal(a.depth, 1);
        assert_int_equal(cc_prlock_owner_deaths(lk), (unsigned)round + 1);
        /* and it is an ordinary lock again */
        assert_ok(cc_prlock_acquire(lk, 0));
        assert_ok(cc_prlock_release(lk));
        assert_fails_with(cc_prlock_release(lk), EPERM);
    }
    cc_psem_free(held);
    cc_prlock_free(lk);
}

/* ---- an owner thread that ends holding it; a child forked by the
 * owner does not own it ---- */

static void *take_and_leave(void *arg)
{
    (void)arg;
    if (cc_prlock_acquire(lk, 0) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    return NULL; /* ends holding it */
}

static void *forked_from_owner(void *arg)
{
    (void)arg;
    if (cc_prlock_depth(lk) != 0)
        return cc_fail(EPROTO, "the child owns it (depth %u)",
                       cc_prlock_depth(lk));
    if (cc_prlock_release(lk) == 0 || errno != EPERM)
        return cc_fail(EPROTO, "release in the child: %s",
                       cc_errname(errno));
    if (cc_prlock_acquire(lk, 0) == 0 || errno != EAGAIN)
        return cc_fail(EPROTO, "acquire in the child: %s",
                       cc_errname(errno));
    return NULL;
}

static void test_owner_thread_ends_and_fork(void **state)
{
    (void)state;
    cc_thread *t;

    lk = cc_prlock_new();
    assert_non_null(lk);
    t = cc_thread_start(take_and_leave, NULL, NULL);
    assert_non_null(t);
    assert_ok(cc_thread_join(t, NULL, 60));
    cc_thread_free(t);
    assert_fails_with(cc_prlock_acquire(lk, 0), EOWNERDEAD);
    assert_int_equal(cc_prlock_depth(lk), 1);
    assert_int_equal(cc_prlock_owner_deaths(lk), 1);
    /* held by this thread now: a child forked here is no owner */
    assert_int_equal(child_join(child_start(forked_from_owner, NULL)), 0);
    assert_int_equal(cc_prlock_depth(lk), 1);
    assert_ok(cc_prlock_release(lk));
    assert_ok(cc_prlock_acquire(lk, 0));
    assert_ok(cc_prlock_release(lk));
    cc_prlock_free(lk);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recursion_and_ownership),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_processes_and_threads),
        cmocka_unit_test(test_owner_killed),
        cmocka_unit_test(test_owner_thread_ends_and_fork),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
