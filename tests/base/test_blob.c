/* test_blob - length-carrying buffers: creation, copies, resize, the NUL
 * after the data, and refusal of pointers that are not blobs. */
#include "test_util.h"

static void test_new_has_length_and_nul(void **state)
{
    (void)state;
    unsigned char *b = cc_blob_new(100);
    assert_non_null(b);
    assert_int_equal(cc_blob_len(b), 100);
    assert_int_equal(b[100], 0);
    assert_int_equal((uintptr_t)b % 16, 0);
    memset(b, 0xab, 100);
    assert_true(cc_blob_is(b));
    cc_blob_free(b);
    void *z = cc_blob_new(0);
    assert_int_equal(cc_blob_len(z), 0);
    assert_int_equal(((char *)z)[0], 0);
    cc_blob_free(z);
}

static void test_dup_and_strdup(void **state)
{
    (void)state;
    const char data[] = {1, 2, 0, 4};
    char *b = cc_blob_dup(data, sizeof(data));
    assert_int_equal(cc_blob_len(b), 4);
    assert_memory_equal(b, data, 4);
    cc_blob_free(b);
    char *s = cc_blob_strdup("hello");
    assert_string_equal(s, "hello");
    assert_int_equal(cc_blob_len(s), 5);
    cc_blob_free(s);
    void *e = cc_blob_dup(NULL, 0);
    assert_non_null(e);
    cc_blob_free(e);
    assert_null_with(cc_blob_dup(NULL, 3), EINVAL);
    assert_null_with(cc_blob_strdup(NULL), EINVAL);
}

static void test_resize_keeps_content(void **state)
{
    (void)state;
    char *b = cc_blob_strdup("abcdef");
    b = cc_blob_resize(b, 3);
    assert_int_equal(cc_blob_len(b), 3);
    assert_string_equal(b, "abc");
    b = cc_blob_resize(b, 1 << 20);
    assert_int_equal(cc_blob_len(b), 1 << 20);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(b[1 << 20], 0);
    cc_blob_free(b);
    void *n = cc_blob_resize(NULL, 7);
    assert_int_equal(cc_blob_len(n), 7);
    cc_blob_free(n);
}

static void test_foreign_pointers_are_refused(void **state)
{
    (void)state;
    char *plain = calloc(1, 64);
    errno = 0;
    assert_int_equal(cc_blob_len(plain + 32), 0);
    assert_int_equal(errno, EINVAL);
    assert_false(cc_blob_is(plain + 32));
    assert_null_with(cc_blob_resize(plain + 32, 10), EINVAL);
    cc_blob_free(plain + 32); /* left alone: no crash, no free */
    free(plain);
    errno = 0;
    assert_int_equal(cc_blob_len(NULL), 0);
    assert_int_equal(errno, EINVAL);
    cc_blob_free(NULL);
}

static void test_huge_request_fails_cleanly(void **state)
{
    (void)state;
    assert_null_with(cc_blob_new(SIZE_MAX - 4), ENOMEM);
    assert_null_with(cc_blob_new(SIZE_MAX / 2), ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_has_length_and_nul),
        cmocka_unit_test(test_dup_and_strdup),
        cmocka_unit_test(test_resize_keeps_content),
        cmocka_unit_test(test_foreign_pointers_are_refused),
        cmocka_unit_test(test_huge_request_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
