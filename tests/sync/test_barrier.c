/* test_barrier - cc_barrier: distinct arrival indexes, the action run once
 * per wave by the last arrival, abort, timeouts that break it, a failing
 * action, reset, and many waves under stress. */
#include <math.h>

#include "test_util.h"

typedef struct {
    cc_barrier *b;
    double timeout;
    int index;
    int err;
} party;

static void *party_body(void *p)
{
    party *a = p;
    a->index = cc_barrier_wait(a->b, a->timeout);
    a->err = a->index < 0 ? errno : 0;
    return p;
}

static _Atomic int action_runs;

static int count_action(void *arg)
{
    (void)arg;
    atomic_fetch_add(&action_runs, 1);
    return 0;
}

static void test_indexes_and_action(void **state)
{
    (void)state;
    enum { N = 5 };
    cc_barrier *b = cc_barrier_new(N, count_action, NULL);
    assert_int_equal(cc_barrier_parties(b), N);
    party p[N];
    cc_thread *t[N];
    atomic_store(&action_runs, 0);
    for (int wave = 0; wave < 3; wave++) {
        for (int i = 0; i < N; i++) {
            p[i] = (party){b, 30, -9, 0};
            t[i] = cc_thread_start(party_body, &p[i], NULL);
        }
        int seen = 0;
        for (int i = 0; i < N; i++) {
            assert_ok(cc_thread_join(t[i], NULL, 30));
            cc_thread_free(t[i]);
            assert_true(p[i].index >= 0 && p[i].index < N);
            seen |= 1 << p[i].index;
        }
        assert_int_equal(seen, (1 << N) - 1);
        assert_int_equal(atomic_load(&action_runs), wave + 1);
        assert_int_equal(cc_barrier_n_waiting(b), 0);
    }
    cc_barrier_free(b);
}

static void test_single_party_passes_at_once(void **state)
{
    (void)state;
    cc_barrier *b = cc_barrier_new(1, NULL, NULL);
    assert_int_equal(cc_barrier_wait(b, 0), 0);
    assert_int_equal(cc_barrier_wait(b, 0), 0);
    cc_barrier_free(b);
}

static void wait_for_waiting(cc_barrier *b, unsigned n)
{
    double t0 = cc_now();
    while (cc_barrier_n_waiting(b) < n && cc_now() - t0 < 10)
        tu_sleep(0.001);
    assert_int_equal(cc_barrier_n_waiting(b), n);
}

static void test_abort_breaks_waiters_until_reset(void **state)
{
    (void)state;
    cc_barrier *b = cc_barrier_new(3, NULL, NULL);
    party p[2] = {{b, 30, 0, 0}, {b, 30, 0, 0}};
    cc_thread *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = cc_thread_start(party_body, &p[i], NULL);
    wait_for_waiting(b, 2);
    assert_ok(cc_barrier_abort(b));
    for (int i = 0; i < 2; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
        assert_int_equal(p[i].index, -1);
        assert_int_equal(p[i].err, EPIPE);
    }
    assert_true(cc_barrier_broken(b));
    assert_fails_with(cc_barrier_wait(b, 1), EPIPE);
    assert_string_equal(cc_errmsg(), "barrier is broken");
    assert_ok(cc_barrier_reset(b));
    assert_false(cc_barrier_broken(b));
    /* usable again */
    for (int i = 0; i < 2; i++) {
        p[i] = (party){b, 30, -9, 0};
        t[i] = cc_thread_start(party_body, &p[i], NULL);
    }
    assert_true(cc_barrier_wait(b, 30) >= 0);
    for (int i = 0; i < 2; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
        assert_true(p[i].index >= 0);
    }
    cc_barrier_free(b);
}

static void test_timeout_breaks_the_barrier(void **state)
{
    (void)state;
    cc_barrier *b = cc_barrier_new(3, NULL, NULL);
    party other = {b, 30, 0, 0};
    cc_thread *t = cc_thread_start(party_body, &other, "patient");
    wait_for_waiting(b, 1);
    double t0 = cc_now();
    assert_fails_with(cc_barrier_wait(b, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    assert_int_equal(other.index, -1);
    assert_int_equal(other.err, EPIPE);
    assert_true(cc_barrier_broken(b));
    assert_ok(cc_barrier_reset(b));
    cc_barrier_free(b);
}

static int failing_action(void *arg)
{
    (void)arg;
    return -1;
}

static void test_failing_action_breaks_it(void **state)
{
    (void)state;
    cc_barrier *b = cc_barrier_new(2, failing_action, NULL);
    party other = {b, 30, 0, 0};
    cc_thread *t = cc_thread_start(party_body, &other, NULL);
    wait_for_waiting(b, 1);
    assert_fails_with(cc_barrier_wait(b, 30), EPIPE);
    assert_non_null(strstr(cc_errmsg(), "action failed"));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    assert_int_equal(other.err, EPIPE);
    assert_true(cc_barrier_broken(b));
    cc_barrier_free(b);
}

static void test_reset_releases_waiters_with_epipe(void **state)
{
    (void)state;
    cc_barrier *b = cc_barrier_new(4, NULL, NULL);
    party p = {b, 30, 0, 0};
    cc_thread *t = cc_thread_start(party_body, &p, NULL);
    wait_for_waiting(b, 1);
    assert_ok(cc_barrier_reset(b));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    assert_int_equal(p.err, EPIPE);
    assert_false(cc_barrier_broken(b));
    assert_int_equal(cc_barrier_n_waiting(b), 0);
    cc_barrier_free(b);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null_with(cc_barrier_new(0, NULL, NULL), EINVAL);
    assert_fails_with(cc_barrier_wait(NULL, 0), EINVAL);
    assert_fails_with(cc_barrier_abort(NULL), EINVAL);
    assert_fails_with(cc_barrier_reset(NULL), EINVAL);
    cc_barrier *b = cc_barrier_new(2, NULL, NULL);
    assert_fails_with(cc_barrier_wait(b, NAN), EINVAL);
    assert_int_equal(cc_barrier_n_waiting(b), 0);
    cc_barrier_free(b);
    cc_barrier_free(NULL);
}

/* Stress: many waves, random arrival jitter; in each wave every party sees
 * the same wave counter, advanced once per wave by the action. */
enum { PARTIES = 6, WAVES = 10000 };
static struct {
    cc_barrier *b;
    _Atomic long wave;
} W;

static int next_wave(void *arg)
{
    (void)arg;
    atomic_fetch_add(&W.wave, 1);
    return 0;
}

static void *wave_party(void *arg)
{
    for (long i = 0; i < WAVES; i++) {
        if (atomic_load(&W.wave) != i)
            return cc_fail(EPROTO, "wave %ld seen at step %ld",
                           atomic_load(&W.wave), i);
        tu_jitter(30);
        int idx = cc_barrier_wait(W.b, 60);
        if (idx < 0)
            return cc_fail_from(cc_last_error(), EPROTO, "wave %ld", i);
    }
    return arg;
}

static void test_stress_waves(void **state)
{
    (void)state;
    W.b = cc_barrier_new(PARTIES, next_wave, NULL);
    int args[PARTIES];
    tu_join(tu_start(PARTIES, wave_party, args, sizeof(int)));
    assert_int_equal(atomic_load(&W.wave), WAVES);
    assert_false(cc_barrier_broken(W.b));
    cc_barrier_free(W.b);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexes_and_action),
        cmocka_unit_test(test_single_party_passes_at_once),
        cmocka_unit_test(test_abort_breaks_waiters_until_reset),
        cmocka_unit_test(test_timeout_breaks_the_barrier),
        cmocka_unit_test(test_failing_action_breaks_it),
        cmocka_unit_test(test_reset_releases_waiters_with_epipe),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_stress_waves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
