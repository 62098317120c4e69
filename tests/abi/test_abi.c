/*
 * test_abi.c - the options structs keep their promise (concur/base.h):
 *   - their size and the place of `reserved` are pinned, so a change that
 *     would break programs built against an earlier 0.y.z fails here and
 *     has to be made on purpose (new options come out of `reserved`);
 *   - every call that takes one refuses a non-zero `reserved` with EINVAL
 *     and a message naming the struct, changing nothing;
 *   - a call that fills a result struct zeroes its `reserved`.
 */
#include "test_util.h"

#include <stdint.h>

#include <concur/mpi.h>   /* its struct only: libconcur_mpi is optional */

#define LAYOUT(type, size, at)                                              \
    do {                                                                    \
        assert_int_equal(sizeof(type), (size));                             \
        assert_int_equal(offsetof(type, reserved), (at));                   \
        assert_int_equal(sizeof(((type *)0)->reserved), 32);                \
    } while (0)

/* The layouts of 0.1 on LP64 (x86_64, AArch64). */
static void test_layouts_are_pinned(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    LAYOUT(cc_task_opts, 48, 16);
    LAYOUT(cc_pool_opts, 64, 32);
    LAYOUT(cc_http_opts, 128, 96);
    LAYOUT(cc_serve_opts, 104, 72);
    LAYOUT(cc_popen_opts, 136, 104);
    LAYOUT(cc_run_opts, 208, 176);
    LAYOUT(cc_completed, 56, 24);
    LAYOUT(cc_outcome, 56, 24);
    LAYOUT(cc_thread_info, 80, 48);
    LAYOUT(cc_process_opts, 40, 8);
    LAYOUT(cc_mpi_opts, 48, 16);
    /* not an options struct, but compiled into the caller by the
     * CC_SELECT_* macros: its layout changes only on purpose */
    assert_int_equal(sizeof(cc_select_case), 56);
    assert_int_equal(offsetof(cc_select_case, err), 52);
#else
    skip();
#endif
}

/* The last call failed with EINVAL and blamed `type`'s reserved words. */
static void assert_reserved_error(const char *type)
{
    char want[64];

    snprintf(want, sizeof(want), "%s.reserved is not zero", type);
    if (strstr(cc_errmsg(), want) == NULL)
        fail_msg("message '%s' does not say '%s'", cc_errmsg(), want);
}

static void test_pools_refuse_reserved(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        cc_pool_opts o = {0};

        o.reserved[k] = 1;
        assert_null_with(cc_thread_pool_new(2, &o), EINVAL);
        assert_reserved_error("cc_pool_opts");
        assert_null_with(cc_process_pool_new(2, &o), EINVAL);
        assert_reserved_error("cc_pool_opts");
    }
}

static void *never_run(void *arg)
{
    return arg;
}

static void test_process_refuses_reserved(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        cc_process_opts o = {0};

        o.reserved[k] = 1;
        assert_null_with(cc_process_start_opts(never_run, NULL, NULL, &o),
                         EINVAL);
        assert_reserved_error("cc_process_opts");
    }
}

static void test_http_refuses_reserved(void **state)
{
    cc_http_opts o = {.reserved[3] = 7};

    (void)state;
    /* refused before any connection is tried: port 9 has no server */
    assert_null_with(cc_http_request("http://127.0.0.1:9/", &o), EINVAL);
    assert_reserved_error("cc_http_opts");
}

static int never_called(cc_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static void test_serve_refuses_reserved(void **state)
{
    cc_serve_opts o = {.mode = CC_SERVE_THREADS, .reserved[0] = 1};

    (void)state;
    assert_null_with(cc_serve("127.0.0.1", 0, never_called, NULL, &o), EINVAL);
    assert_reserved_error("cc_serve_opts");
}

static void test_subprocess_refuses_reserved(void **state)
{
    const char *argv[] = {"true", NULL};
    cc_popen_opts po = {.reserved[1] = 1};
    cc_run_opts ro = {.reserved[2] = 1};
    cc_run_opts inner = {.popen.reserved[0] = 1};
    cc_completed r;

    (void)state;
    assert_null_with(cc_popen_new(argv, &po), EINVAL);
    assert_reserved_error("cc_popen_opts");
    assert_fails_with(cc_subprocess_run(argv, &ro, &r), EINVAL);
    assert_reserved_error("cc_run_opts");
    /* the popen options inside the run options are checked too */
    assert_fails_with(cc_subprocess_run(argv, &inner, &r), EINVAL);
    assert_reserved_error("cc_popen_opts");
}

static void test_completed_reserved_is_zeroed(void **state)
{
    const char *argv[] = {"true", NULL};
    cc_completed r;

    (void)state;
    memset(&r, 0xAB, sizeof(r));
    assert_int_equal(cc_subprocess_run(argv, NULL, &r), 0);
    assert_int_equal(r.returncode, 0);
    for (int k = 0; k < 4; k++)
        assert_true(r.reserved[k] == 0);
    cc_completed_free(&r);
}

static void test_thread_info_reserved_is_zeroed(void **state)
{
    cc_thread_info info[2];

    (void)state;
    memset(info, 0xAB, sizeof(info));
    assert_true(cc_thread_enumerate(info, 2) >= 1);
    for (int k = 0; k < 4; k++)
        assert_true(info[0].reserved[k] == 0);
}

static void *child(void *arg)
{
    return arg;
}

static void *spawner(void *arg)
{
    cc_task_opts bad = {.name = "bad", .reserved[3] = 1};
    cc_task_opts good = {.name = "good"};
    cc_future *f;
    void *res = NULL;

    (void)arg;
    errno = 0;
    f = cc_spawn_opts(child, NULL, &bad);
    assert_null(f);
    assert_int_equal(errno, EINVAL);
    assert_reserved_error("cc_task_opts");
    f = cc_spawn_opts(child, (void *)42, &good);
    assert_non_null(f);
    assert_int_equal(cc_future_result(f, &res, CC_FOREVER), 0);
    assert_ptr_equal(res, (void *)42);
    cc_future_free(f);
    return NULL;
}

static void test_spawn_refuses_reserved(void **state)
{
    (void)state;
    assert_int_equal(cc_run(spawner, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_are_pinned),
        cmocka_unit_test(test_pools_refuse_reserved),
        cmocka_unit_test(test_process_refuses_reserved),
        cmocka_unit_test(test_http_refuses_reserved),
        cmocka_unit_test(test_serve_refuses_reserved),
        cmocka_unit_test(test_subprocess_refuses_reserved),
        cmocka_unit_test(test_completed_reserved_is_zeroed),
        cmocka_unit_test(test_thread_info_reserved_is_zeroed),
        cmocka_unit_test(test_spawn_refuses_reserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
