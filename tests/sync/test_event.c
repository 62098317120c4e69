/* test_event - cc_event: set wakes every waiter, clear, EAGAIN/ETIMEDOUT,
 * and a stress test of set/clear races where no waiter is left behind. */
#include <math.h>

#include "test_util.h"

static void test_set_clear_is_set(void **state)
{
    (void)state;
    cc_event *e = cc_event_new();
    assert_false(cc_event_is_set(e));
    assert_fails_with(cc_event_wait(e, 0), EAGAIN);
    assert_ok(cc_event_set(e));
    assert_true(cc_event_is_set(e));
    assert_ok(cc_event_wait(e, 0));
    assert_ok(cc_event_wait(e, CC_FOREVER));
    assert_ok(cc_event_set(e)); /* twice is fine */
    assert_ok(cc_event_clear(e));
    assert_false(cc_event_is_set(e));
    double t0 = cc_now();
    assert_fails_with(cc_event_wait(e, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    cc_event_free(e);
}

static void test_bad_handles(void **state)
{
    (void)state;
    assert_fails_with(cc_event_set(NULL), EINVAL);
    assert_fails_with(cc_event_clear(NULL), EINVAL);
    assert_fails_with(cc_event_wait(NULL, 0), EINVAL);
    assert_false(cc_event_is_set(NULL));
    cc_event *e = cc_event_new();
    assert_fails_with(cc_event_wait(e, NAN), EINVAL);
    cc_event_free(e);
    cc_event_free(NULL);
}

typedef struct {
    cc_event *e;
    _Atomic int woke;
} evctx;

static void *ev_waiter(void *p)
{
    evctx *c = p;
    if (cc_event_wait(c->e, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "wait");
    atomic_fetch_add(&c->woke, 1);
    return p;
}

static void test_set_wakes_all_waiters(void **state)
{
    (void)state;
    evctx c = {cc_event_new(), 0};
    cc_thread *t[16];
    for (int i = 0; i < 16; i++)
        t[i] = cc_thread_start(ev_waiter, &c, NULL);
    tu_sleep(0.05);
    assert_int_equal(atomic_load(&c.woke), 0);
    assert_ok(cc_event_set(c.e));
    for (int i = 0; i < 16; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    assert_int_equal(atomic_load(&c.woke), 16);
    cc_event_free(c.e);
}

/* Stress: rounds of "waiters arrive, set, everyone passes, clear"; a
 * barrier separates the rounds.  A lost wake-up shows as a 30 s timeout. */
enum { WAITERS = 6, ROUNDS = 3000 };
static struct {
    cc_event *go;
    cc_barrier *round_end;
} R;

static void *round_waiter(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        tu_jitter(50);
        if (cc_event_wait(R.go, 30) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "round %d wait", i);
        if (cc_barrier_wait(R.round_end, 30) < 0)
            return cc_fail_from(cc_last_error(), EPROTO, "round %d barrier", i);
    }
    return arg;
}

static int clear_between_rounds(void *arg)
{
    (void)arg;
    return cc_event_clear(R.go);
}

static void *round_setter(void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        tu_jitter(50);
        if (cc_event_set(R.go) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "set");
        if (cc_barrier_wait(R.round_end, 30) < 0)
            return cc_fail_from(cc_last_error(), EPROTO, "round %d barrier", i);
    }
    return arg;
}

static void test_stress_rounds(void **state)
{
    (void)state;
    R.go = cc_event_new();
    /* The barrier's action (run once all have passed) clears the event. */
    R.round_end = cc_barrier_new(WAITERS + 1, clear_between_rounds, NULL);
    int args[WAITERS];
    tu_threads w = tu_start(WAITERS, round_waiter, args, sizeof(int));
    cc_thread *s = cc_thread_start(round_setter, NULL, "setter");
    tu_join(w);
    assert_ok(cc_thread_join(s, NULL, 60));
    cc_thread_free(s);
    assert_false(cc_event_is_set(R.go));
    cc_barrier_free(R.round_end);
    cc_event_free(R.go);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_clear_is_set),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_set_wakes_all_waiters),
        cmocka_unit_test(test_stress_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
