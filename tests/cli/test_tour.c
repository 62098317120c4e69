/* test_tour - `concur tour` run as a program: a quick tour of two
 * scenarios prints its table with every model's row right (the MPI ranks
 * model's too, when built with MPI); bad options and unknown scenarios
 * exit 2; --help describes it. */
#include "cli_util.h"

static void test_quick_tour_rows(void **state)
{
    tool_run r;

    (void)state;
    tool(&r, NULL, "tour", "--quick", "--only", "pokemon,gcd");
    assert_status(&r, 0);
    assert_output_has(&r, "Pokemon 1-20");
    assert_output_has(&r, "20 names, Bulbasaur..Raticate");
    assert_output_has(&r, "thread per item");
    assert_output_has(&r, "process pool (");
    assert_output_has(&r, "coroutines");
    assert_output_has(&r, "gcd of 10 pairs");
    assert_output_has(&r, "10 gcds, sum 740");
    assert_output_has(&r, "4.31 s"); /* the blog's figure beside ours */
#ifdef CONCUR_TEST_MPI
    /* the MPI ranks model ran (mpirun is installed with MPI) and its
     * answer was right: "0 runs wrong" below */
    assert_output_has(&r, "MPI ranks (");
    assert_output_lacks(&r, "skipped: no mpirun");
#endif
    assert_output_has(&r, "tour: 0 runs wrong");
    assert_output_lacks(&r, "WRONG");
    assert_output_lacks(&r, "exchange rates"); /* not asked for */
    tool_free(&r);
}

static void test_tour_usage_errors(void **state)
{
    tool_run r;

    (void)state;
    tool(&r, NULL, "tour", "--only", "rates,nope");
    assert_status(&r, 2);
    assert_output_has(&r, "'nope'");
    tool_free(&r);
    tool(&r, NULL, "tour", "--bogus");
    assert_status(&r, 2);
    tool_free(&r);
    tool(&r, NULL, "tour", "--base-url", "ftp://x");
    assert_status(&r, 2);
    tool_free(&r);
    tool(&r, NULL, "tour", "extra");
    assert_status(&r, 2);
    tool_free(&r);
    tool(&r, NULL, "tour", "--help");
    assert_status(&r, 0);
    assert_output_has(&r, "usage: concur tour");
    tool_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_tour_rows),
        cmocka_unit_test(test_tour_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
