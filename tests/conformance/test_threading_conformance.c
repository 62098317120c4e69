/* test_threading_conformance - behaviours of Python's threading that
 * concur keeps, or differs from on purpose (its header says why), for
 * plain threads; each test is named after the CPython test (Lib/test/
 * test_threading.py, lock_tests.py) whose behaviour it mirrors, written in
 * our own words and code.  No test asserts how long anything took: a late
 * thread waits for an event, not for a clock. */
#include "test_util.h"

/* ---- ConditionAsRLockTests ---- */

/* The difference: threading.Condition() makes an RLock; cc_cond_new(NULL)
 * makes a plain lock, as asyncio.Condition() does, so acquiring it again
 * from its owner fails EDEADLK instead of nesting. */
static void test_condition_default_lock_is_not_reentrant(void **state)
{
    (void)state;
    cc_cond *c = cc_cond_new(NULL);

    assert_non_null(c);
    assert_ok(cc_cond_acquire(c, CC_FOREVER));
    assert_fails_with(cc_cond_acquire(c, CC_FOREVER), EDEADLK);
    assert_ok(cc_cond_release(c));
    assert_fails_with(cc_cond_release(c), EPERM);
    cc_cond_free(c);
}

/* threading's behaviour, asked for: a condition on an RLock nests, and a
 * wait releases every level and restores them. */
typedef struct {
    cc_cond *c;
    cc_event *waiting;
} nested;

static void *notifies_when_waiting(void *arg)
{
    nested *n = arg;

    cc_event_wait(n->waiting, 10.0);
    cc_cond_acquire(n->c, CC_FOREVER); /* free only while the owner waits */
    cc_cond_notify(n->c, 1);
    cc_cond_release(n->c);
    return arg;
}

static void test_condition_on_an_rlock_nests(void **state)
{
    (void)state;
    cc_rlock *r = cc_rlock_new();
    nested n = {cc_cond_new_rlock(r), cc_event_new()};
    cc_thread *t = cc_thread_start(notifies_when_waiting, &n, "notifier");

    assert_ok(cc_cond_acquire(n.c, CC_FOREVER));
    assert_ok(cc_cond_acquire(n.c, CC_FOREVER));
    assert_int_equal(cc_rlock_depth(r), 2);
    cc_event_set(n.waiting);
    assert_ok(cc_cond_wait(n.c, 10.0));
    assert_int_equal(cc_rlock_depth(r), 2);
    assert_ok(cc_cond_release(n.c));
    assert_ok(cc_cond_release(n.c));
    assert_ok(cc_thread_join(t, NULL, 10.0));
    cc_thread_free(t);
    cc_cond_free(n.c);
    cc_rlock_free(r);
    cc_event_free(n.waiting);
}

/* ---- LockTests ---- */

/* test_reacquire (the difference): Python's Lock blocks its owner for
 * good; cc_lock refuses with EDEADLK. */
static void test_lock_reacquire_by_owner_fails(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();

    assert_ok(cc_lock_acquire(l, CC_FOREVER));
    assert_fails_with(cc_lock_acquire(l, 1.0), EDEADLK);
    assert_ok(cc_lock_release(l));
    cc_lock_free(l);
}

/* ---- BarrierTests ---- */

/* test_timeout: one thread is late; a wait that times out breaks the
 * barrier for everyone (threading's rule, which concur keeps for every
 * timeout; a cancelled task breaks nothing: see the asyncio file). */
enum { PARTIES = 5 };

typedef struct {
    cc_barrier *b;
    cc_event *others_done;
    _Atomic int done;
    int rc[PARTIES];
    int err[PARTIES];
} late_party;

static void *barrier_thread(void *arg)
{
    late_party *lp = *(late_party **)arg;
    int me = (int)(intptr_t)((void **)arg)[1];

    if (me == PARTIES - 1) /* the late one */
        cc_event_wait(lp->others_done, 10.0);
    lp->rc[me] = cc_barrier_wait(lp->b, me == PARTIES - 1 ? 10.0 : 0.05);
    lp->err[me] = errno;
    if (atomic_fetch_add(&lp->done, 1) == PARTIES - 2)
        cc_event_set(lp->others_done);
    return arg;
}

static void test_barrier_timeout_breaks_it(void **state)
{
    (void)state;
    late_party lp = {cc_barrier_new(PARTIES, NULL, NULL), cc_event_new(), 0,
                     {0}, {0}};
    void *args[PARTIES][2];
    cc_thread *t[PARTIES];
    int timed_out = 0;

    for (int i = 0; i < PARTIES; i++) {
        args[i][0] = &lp;
        args[i][1] = (void *)(intptr_t)i;
        t[i] = cc_thread_start(barrier_thread, args[i], NULL);
    }
    for (int i = 0; i < PARTIES; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30.0));
        cc_thread_free(t[i]);
    }
    for (int i = 0; i < PARTIES; i++) {
        assert_int_equal(lp.rc[i], -1);
        if (lp.err[i] == ETIMEDOUT)
            timed_out++;
        else
            assert_int_equal(lp.err[i], EPIPE);
    }
    assert_true(timed_out >= 1);
    assert_true(cc_barrier_broken(lp.b));
    cc_barrier_free(lp.b);
    cc_event_free(lp.others_done);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_condition_default_lock_is_not_reentrant),
        cmocka_unit_test(test_condition_on_an_rlock_nests),
        cmocka_unit_test(test_lock_reacquire_by_owner_fails),
        cmocka_unit_test(test_barrier_timeout_breaks_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
