/* test_sem - counting and bounded semaphores: EAGAIN/ETIMEDOUT, the bound
 * (EINVAL, nothing changed), first-come-first-served hand-over, and a stress
 * test that never lets more than `value` threads in at once. */
#include <limits.h>
#include <math.h>

#include "test_util.h"

static void test_counting(void **state)
{
    (void)state;
    cc_sem *s = cc_sem_new(2);
    assert_int_equal(cc_sem_value(s), 2);
    assert_ok(cc_sem_acquire(s, 0));
    assert_ok(cc_sem_acquire(s, 0));
    assert_fails_with(cc_sem_acquire(s, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_sem_acquire(s, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_ok(cc_sem_release(s));
    assert_ok(cc_sem_release_n(s, 5)); /* unbounded: may exceed the start */
    assert_int_equal(cc_sem_value(s), 6);
    cc_sem_free(s);
}

static void test_bounded_refuses_extra_release(void **state)
{
    (void)state;
    cc_sem *s = cc_sem_new_bounded(2);
    assert_fails_with(cc_sem_release(s), EINVAL);
    assert_string_equal(cc_errmsg(), "semaphore released too many times");
    assert_int_equal(cc_sem_value(s), 2);
    assert_ok(cc_sem_acquire(s, 0));
    assert_ok(cc_sem_acquire(s, 0));
    assert_fails_with(cc_sem_release_n(s, 3), EINVAL); /* all or nothing */
    assert_int_equal(cc_sem_value(s), 0);
    assert_ok(cc_sem_release_n(s, 2));
    assert_int_equal(cc_sem_value(s), 2);
    assert_fails_with(cc_sem_release(s), EINVAL);
    cc_sem_free(s);
}

static void test_overflow_and_bad_handles(void **state)
{
    (void)state;
    cc_sem *s = cc_sem_new(UINT_MAX - 1);
    assert_ok(cc_sem_release(s));
    assert_fails_with(cc_sem_release(s), EINVAL);
    assert_int_equal(cc_sem_value(s), UINT_MAX);
    assert_fails_with(cc_sem_acquire(s, NAN), EINVAL);
    cc_sem_free(s);
    assert_fails_with(cc_sem_acquire(NULL, 0), EINVAL);
    assert_fails_with(cc_sem_release(NULL), EINVAL);
    assert_int_equal(cc_sem_value(NULL), 0);
    cc_sem_free(NULL);
}

/* Waiters are served in arrival order. */
typedef struct {
    cc_sem *s;
    cc_lock *order_lock;
    int *order;
    int *n;
    int id;
} fifo_arg;

static _Atomic int fifo_arrived;

static void *fifo_waiter(void *p)
{
    fifo_arg *a = p;
    atomic_fetch_add(&fifo_arrived, 1);
    if (cc_sem_acquire(a->s, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    cc_lock_acquire(a->order_lock, CC_FOREVER);
    a->order[(*a->n)++] = a->id;
    cc_lock_release(a->order_lock);
    return p;
}

static void test_fifo_hand_over(void **state)
{
    (void)state;
    cc_sem *s = cc_sem_new(0);
    cc_lock *ol = cc_lock_new();
    int order[4];
    int n = 0;
    fifo_arg a[4];
    cc_thread *t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (fifo_arg){s, ol, order, &n, i};
        t[i] = cc_thread_start(fifo_waiter, &a[i], NULL);
        /* make the arrival order certain: thread i is queued before i+1 */
        while (atomic_load(&fifo_arrived) < i + 1)
            tu_sleep(0.001);
        tu_sleep(0.02 * TU_SLOW);
    }
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_sem_release(s));
        /* wait for the hand-over to be recorded before the next release */
        double t0 = cc_now();
        for (;;) {
            cc_lock_acquire(ol, CC_FOREVER);
            int seen = n;
            cc_lock_release(ol);
            if (seen == i + 1 || cc_now() - t0 > 10)
                break;
            tu_sleep(0.001);
        }
    }
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 10));
        cc_thread_free(t[i]);
        assert_int_equal(order[i], i);
    }
    assert_int_equal(cc_sem_value(s), 0);
    cc_lock_free(ol);
    cc_sem_free(s);
}

/* A release never gets lost to a waiter that is timing out: with timeouts
 * racing releases, every unit ends up either taken or back in the value. */
enum { LIMIT = 3, THREADS = 10, ROUNDS = 20000 };
static struct {
    cc_sem *s;
    _Atomic int inside, max_inside;
    _Atomic long taken, timeouts;
} S;

static void *sem_worker(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        double timeout = tu_rand_below(4) == 0 ? 0.00005 : 10.0;
        if (cc_sem_acquire(S.s, timeout) != 0) {
            if (errno != ETIMEDOUT)
                return cc_fail_from(cc_last_error(), EPROTO, "acquire");
            atomic_fetch_add(&S.timeouts, 1);
            continue;
        }
        int now = atomic_fetch_add(&S.inside, 1) + 1;
        int m = atomic_load(&S.max_inside);
        while (now > m && !atomic_compare_exchange_weak(&S.max_inside, &m, now))
            ;
        if (tu_rand_below(16) == 0)
            tu_jitter(30);
        atomic_fetch_sub(&S.inside, 1);
        atomic_fetch_add(&S.taken, 1);
        if (cc_sem_release(S.s) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "release");
    }
    return arg;
}

static void test_stress_limit_and_conservation(void **state)
{
    (void)state;
    S.s = cc_sem_new_bounded(LIMIT);
    int args[THREADS];
    tu_join(tu_start(THREADS, sem_worker, args, sizeof(int)));
    assert_true(atomic_load(&S.max_inside) <= LIMIT);
    assert_int_equal(atomic_load(&S.taken) + atomic_load(&S.timeouts),
                     (long)THREADS * ROUNDS);
    assert_int_equal(cc_sem_value(S.s), LIMIT); /* no unit lost or made up */
    printf("# max inside %d, %ld timeouts\n", atomic_load(&S.max_inside),
           atomic_load(&S.timeouts));
    cc_sem_free(S.s);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counting),
        cmocka_unit_test(test_bounded_refuses_extra_release),
        cmocka_unit_test(test_overflow_and_bad_handles),
        cmocka_unit_test(test_fifo_hand_over),
        cmocka_unit_test(test_stress_limit_and_conservation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
