/* test_tls - cc_tls: one value per thread, destructors at thread exit. */
#include "test_util.h"

static _Atomic int destroyed;

static void destroy(void *v)
{
    atomic_fetch_add(&destroyed, (int)(intptr_t)v);
}

static cc_tls *key;

static void *set_and_read(void *arg)
{
    intptr_t mine = (intptr_t)arg;
    if (cc_tls_get(key) != NULL)
        return cc_fail(EPROTO, "a new thread sees a value");
    if (cc_tls_set(key, (void *)mine) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "set");
    tu_jitter(1000);
    if ((intptr_t)cc_tls_get(key) != mine)
        return cc_fail(EPROTO, "saw another thread's value");
    return arg;
}

static void test_values_are_per_thread_and_destroyed(void **state)
{
    (void)state;
    key = cc_tls_new(destroy);
    assert_non_null(key);
    assert_ok(cc_tls_set(key, (void *)1000));
    atomic_store(&destroyed, 0);
    cc_thread *t[10];
    int want = 0;
    for (intptr_t i = 0; i < 10; i++) {
        t[i] = cc_thread_start(set_and_read, (void *)(i + 1), NULL);
        want += (int)(i + 1);
    }
    for (int i = 0; i < 10; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30)); /* reaped: destructors ran */
        cc_thread_free(t[i]);
    }
    assert_int_equal(atomic_load(&destroyed), want);
    assert_int_equal((intptr_t)cc_tls_get(key), 1000);
    assert_ok(cc_tls_set(key, NULL));
    cc_tls_free(key);
}

static void test_bad_handles(void **state)
{
    (void)state;
    assert_null_with(cc_tls_get(NULL), EINVAL);
    assert_fails_with(cc_tls_set(NULL, NULL), EINVAL);
    cc_tls_free(NULL);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_are_per_thread_and_destroyed),
        cmocka_unit_test(test_bad_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
