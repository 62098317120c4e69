/* test_cpu - cc_cpu_count follows the process's CPU affinity; debug mode
 * and the version string. */
#include <sched.h>

#include "test_util.h"

static void test_cpu_count_matches_affinity(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    assert_int_equal(cc_cpu_count(), CPU_COUNT(&set));
    assert_true(cc_cpu_count() >= 1);
}

static void test_cpu_count_follows_a_narrowed_mask(void **state)
{
    (void)state;
    cpu_set_t old;
    cpu_set_t one;
    assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
    CPU_ZERO(&one);
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &old)) {
            CPU_SET(i, &one);
            break;
        }
    }
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    assert_int_equal(cc_cpu_count(), 1);
    assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
    assert_int_equal(cc_cpu_count(), CPU_COUNT(&old));
}

static void test_debug_switch_and_version(void **state)
{
    (void)state;
    bool was = cc_debug_enabled();
    cc_set_debug(true);
    assert_true(cc_debug_enabled());
    cc_set_debug(false);
    assert_false(cc_debug_enabled());
    cc_set_debug(was);
    assert_string_equal(cc_version(), "0.1.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_count_matches_affinity),
        cmocka_unit_test(test_cpu_count_follows_a_narrowed_mask),
        cmocka_unit_test(test_debug_switch_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
