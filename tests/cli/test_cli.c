/* test_cli - the `concur` command itself: `help`, `--help` and `-h` list
 * every command, `version` included, and exit 0; `version`, `--version`
 * and `-V` print the library's version (the one cc_version() gives) and
 * exit 0.  (The usage errors are in tests/service/test_service_cli.c.) */
#include "cli_util.h"

static void test_help_lists_the_commands(void **state)
{
    static const char *const forms[] = {"help", "--help", "-h"};
    tool_run r;

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        tool(&r, NULL, forms[i]);
        assert_status(&r, 0);
        assert_output_has(&r, "usage: concur <command>");
        assert_output_has(&r, "serve");
        assert_output_has(&r, "fetch");
        assert_output_has(&r, "tour");
        assert_output_has(&r, "version");
        tool_free(&r);
    }
}

static void test_version_is_the_librarys(void **state)
{
    static const char *const forms[] = {"version", "--version", "-V"};
    char want[64];
    tool_run r;

    (void)state;
    snprintf(want, sizeof(want), "concur %s (", cc_version());
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        tool(&r, NULL, forms[i]);
        assert_status(&r, 0);
        assert_output_has(&r, want);
        assert_output_has(&r, "libcurl/");
        tool_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_the_commands),
        cmocka_unit_test(test_version_is_the_librarys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
