/* test_error - errno + cc_errmsg, cc_fail/cc_fail_from with places and
 * cause chains, copies, formatting, and per-thread isolation of errors. */
#include "test_util.h"

/* A fresh thread has no last error. */
static void *fresh_thread(void *arg)
{
    (void)arg;
    if (cc_last_error() != NULL || strcmp(cc_errmsg(), "") != 0)
        return cc_fail(EPROTO, "fresh thread already had an error");
    return arg;
}

static void test_no_error_at_start(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(fresh_thread, &state, "fresh");
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
}

static void test_library_failure_sets_errno_and_message(void **state)
{
    (void)state;
    assert_fails_with(cc_lock_acquire(NULL, 0), EINVAL);
    assert_string_equal(cc_errmsg(), "cc_lock_acquire: not a lock");
    assert_int_equal(cc_error_code(cc_last_error()), EINVAL);
    assert_string_equal(cc_error_message(cc_last_error()),
                        "cc_lock_acquire: not a lock");
    assert_null(cc_error_cause(cc_last_error()));
}

static void test_fail_records_code_message_and_place(void **state)
{
    (void)state;
    errno = 0;
    int line = __LINE__ + 1;
    void *r = cc_fail(ERANGE, "value %d out of range", 42);
    assert_null(r);
    assert_int_equal(errno, ERANGE);
    assert_string_equal(cc_errmsg(), "value 42 out of range");
    const cc_error *e = cc_error_pending();
    assert_non_null(e);
    assert_int_equal(cc_error_code(e), ERANGE);
    char where[128];
    snprintf(where, sizeof(where), "test_error.c:%d in thread 'MainThread'",
             line);
    assert_string_equal(cc_error_where(e), where);
    assert_ptr_equal(cc_last_error(), e);
    cc_error_clear();
    assert_null(cc_error_pending());
    /* the message survives clearing the pending failure */
    assert_string_equal(cc_errmsg(), "value 42 out of range");
}

static void test_fail_code_zero_takes_errno(void **state)
{
    (void)state;
    errno = ENOENT;
    cc_fail(0, "open %s", "/nowhere");
    assert_int_equal(errno, ENOENT);
    assert_int_equal(cc_error_code(cc_error_pending()), ENOENT);
    errno = 0;
    cc_fail(0, "no errno at all");
    assert_int_equal(cc_error_code(cc_error_pending()), EIO);
    cc_error_clear();
}

static void test_fail_from_chains_causes(void **state)
{
    (void)state;
    assert_fails_with(cc_queue_get(NULL, NULL, 0), EINVAL);
    cc_fail_from(cc_last_error(), EIO, "worker %d got no input", 3);
    cc_fail_from(cc_error_pending(), ECANCELED, "simulation failed");
    const cc_error *e = cc_error_pending();
    assert_int_equal(cc_error_code(e), ECANCELED);
    assert_string_equal(cc_error_message(e), "simulation failed");
    const cc_error *c1 = cc_error_cause(e);
    assert_int_equal(cc_error_code(c1), EIO);
    assert_string_equal(cc_error_message(c1), "worker 3 got no input");
    const cc_error *c2 = cc_error_cause(c1);
    assert_int_equal(cc_error_code(c2), EINVAL);
    assert_string_equal(cc_error_message(c2), "cc_queue_get: not a queue");
    assert_null(cc_error_cause(c2));

    char buf[512];
    size_t need = cc_error_format(e, buf, sizeof(buf));
    assert_int_equal(need, strlen(buf));
    assert_non_null(strstr(buf, "simulation failed (ECANCELED)"));
    assert_non_null(strstr(buf, "\n  caused by: worker 3 got no input (EIO)"));
    assert_non_null(strstr(buf, "\n  caused by: cc_queue_get: not a queue (EINVAL)"));

    /* truncation keeps a terminated prefix and reports the full length */
    char small[10];
    assert_int_equal(cc_error_format(e, small, sizeof(small)), need);
    assert_int_equal(strlen(small), 9);
    assert_memory_equal(small, buf, 9);
    cc_error_clear();
}

static void test_copy_and_free_chain(void **state)
{
    (void)state;
    cc_error *root = cc_error_new(EPIPE, NULL, "peer went away");
    cc_error *top = cc_error_new(EIO, root, "send failed after %d tries", 3);
    cc_error_free(root); /* top holds its own copy */
    cc_error *copy = cc_error_copy(top);
    cc_error_free(top);
    assert_string_equal(cc_error_message(copy), "send failed after 3 tries");
    assert_string_equal(cc_error_message(cc_error_cause(copy)), "peer went away");
    assert_int_equal(cc_error_code(cc_error_cause(copy)), EPIPE);
    cc_error_free(copy);
    cc_error_free(NULL);
    assert_null_with(cc_error_new(0, NULL, "zero"), EINVAL);
}

static void test_accessors_accept_null(void **state)
{
    (void)state;
    assert_int_equal(cc_error_code(NULL), 0);
    assert_string_equal(cc_error_message(NULL), "");
    assert_string_equal(cc_error_where(NULL), "");
    assert_null(cc_error_cause(NULL));
    assert_null(cc_error_copy(NULL));
    char buf[4] = "xyz";
    assert_int_equal(cc_error_format(NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_string_equal(cc_errname(ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(cc_errname(CC_EBROKEN), "ENOTRECOVERABLE");
    assert_string_equal(cc_errname(-5), "E?");
}

/* cc_error_is looks at the error and every cause, and nothing else. */
static void test_error_is_searches_the_cause_chain(void **state)
{
    (void)state;
    assert_false(cc_error_is(NULL, EIO));
    assert_false(cc_error_is(NULL, 0));

    cc_error *one = cc_error_new(ETIMEDOUT, NULL, "timed out");
    assert_true(cc_error_is(one, ETIMEDOUT));
    assert_false(cc_error_is(one, EIO));

    cc_error *two = cc_error_new(EPIPE, one, "pipe");
    cc_error *three = cc_error_new(CC_EHTTP, two, "top");
    assert_true(cc_error_is(three, CC_EHTTP));  /* itself */
    assert_true(cc_error_is(three, EPIPE));     /* its cause */
    assert_true(cc_error_is(three, ETIMEDOUT)); /* the innermost */
    assert_false(cc_error_is(three, ECHILD));
    assert_false(cc_error_is(three, CC_ECALLEDPROCESS));
    assert_false(cc_error_is(two, CC_EHTTP));   /* never looks outwards */

    /* A deep chain: 200 errors, code i + 1 at depth i from the top. */
    cc_error *deep = NULL;
    for (int i = 200; i >= 1; i--) {
        cc_error *e = cc_error_new(i, deep, "level %d", i);
        assert_non_null(e);
        cc_error_free(deep);
        deep = e;
    }
    assert_true(cc_error_is(deep, 1));
    assert_true(cc_error_is(deep, 200));
    assert_false(cc_error_is(deep, 201));
    cc_error_free(deep);

    /* The last error of a join, with its chain, is what callers ask. */
    cc_fail_from(three, EIO, "outer");
    assert_true(cc_error_is(cc_last_error(), EIO));
    assert_true(cc_error_is(cc_last_error(), ETIMEDOUT));
    cc_error_clear();
    cc_error_free(three);
    cc_error_free(two);
    cc_error_free(one);
}

/* concur's own codes have values, names and texts of their own. */
static void test_own_codes_have_names_and_texts(void **state)
{
    (void)state;
    int own[] = {CC_ECALLEDPROCESS, CC_EHTTP};

    for (size_t i = 0; i < 2; i++) {
        assert_true(own[i] > CC_EBASE);
        /* No system errno has these values. */
        assert_null(strerrorname_np(own[i]));
    }
    assert_int_not_equal(CC_ECALLEDPROCESS, CC_EHTTP);
    assert_int_not_equal(CC_ECALLEDPROCESS, ECHILD);
    assert_int_not_equal(CC_EHTTP, EBADMSG);
    assert_string_equal(cc_errname(CC_ECALLEDPROCESS), "CC_ECALLEDPROCESS");
    assert_string_equal(cc_errname(CC_EHTTP), "CC_EHTTP");
    assert_string_equal(cc_errname(CC_EBASE), "E?");
    assert_string_equal(cc_errname(CC_EBASE + 3), "E?");
    assert_string_equal(cc_strerror(CC_ECALLEDPROCESS),
                        "called process returned non-zero exit status");
    assert_string_equal(cc_strerror(CC_EHTTP), "HTTP status error");
    assert_string_equal(cc_strerror(ETIMEDOUT), strerror(ETIMEDOUT));
    assert_string_equal(cc_strerror(CC_EBROKEN), strerror(CC_EBROKEN));
    assert_string_equal(cc_strerror(-5), "Unknown error -5");

    /* Printed errors carry the name. */
    cc_error *e = cc_error_new(CC_EHTTP, NULL, "404 Client Error");
    char buf[128];
    cc_error_format(e, buf, sizeof(buf));
    assert_string_equal(buf, "404 Client Error (CC_EHTTP)");
    cc_error_free(e);
}

/* Errors are per thread: one thread's failures never show in another. */
static void *err_worker(void *arg)
{
    intptr_t id = (intptr_t)arg;

    for (int i = 0; i < 2000; i++) {
        cc_fail(EDOM, "thread %ld round %d", (long)id, i);
        char want[64];
        snprintf(want, sizeof(want), "thread %ld round %d", (long)id, i);
        if (strcmp(cc_errmsg(), want) != 0)
            return cc_fail(EPROTO, "saw '%s', wanted '%s'", cc_errmsg(), want);
        if (i % 3 == 0)
            cc_error_clear();
    }
    cc_error_clear();
    return arg;
}

static void test_errors_are_per_thread(void **state)
{
    (void)state;
    cc_thread *t[8];
    for (intptr_t i = 0; i < 8; i++)
        t[i] = cc_thread_start(err_worker, (void *)(i + 1), NULL);
    for (int i = 0; i < 8; i++) {
        void *res;
        if (cc_thread_join(t[i], &res, 30) != 0)
            fail_msg("%s", cc_errmsg());
        cc_thread_free(t[i]);
    }
}

/* A message longer than any fixed buffer (two PATH_MAX paths would be)
 * is kept whole, by cc_fail and after cc_error_clear hands it over. */
static void test_long_messages_are_kept_whole(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cc_fail(EINVAL, "%s", big);
    assert_string_equal(cc_errmsg(), big);
    cc_error_clear();
    assert_string_equal(cc_errmsg(), big);
    assert_int_equal(cc_error_code(cc_last_error()), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_error_at_start),
        cmocka_unit_test(test_library_failure_sets_errno_and_message),
        cmocka_unit_test(test_fail_records_code_message_and_place),
        cmocka_unit_test(test_fail_code_zero_takes_errno),
        cmocka_unit_test(test_fail_from_chains_causes),
        cmocka_unit_test(test_copy_and_free_chain),
        cmocka_unit_test(test_accessors_accept_null),
        cmocka_unit_test(test_error_is_searches_the_cause_chain),
        cmocka_unit_test(test_own_codes_have_names_and_texts),
        cmocka_unit_test(test_errors_are_per_thread),
        cmocka_unit_test(test_long_messages_are_kept_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
