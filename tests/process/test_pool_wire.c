/* test_pool_wire - the process pool's messages on their own: frames and
 * items (NULL, empty, bytes), error chains that come back whole (code,
 * message, place, every cause), malformed input refused without reading
 * past the end, and cc__blob_check telling blobs from anything else
 * without faulting. */
#include <sys/mman.h>

#include "internal/blob.h"
#include "process/wire.h"
#include "test_util.h"

static void test_frames_and_items_round_trip(void **state)
{
    (void)state;
    cc__buf b = {0};
    void *blob = cc_blob_dup("abc", 3);
    void *empty = cc_blob_new(0);
    size_t at = cc__frame_begin(&b, CC__FR_TASK, 99);
    cc__wire_put_item(&b, NULL);
    cc__wire_put_item(&b, empty);
    cc__wire_put_item(&b, blob);
    cc__frame_end(&b, at);
    assert_false(b.oom);

    cc__frame h;
    memcpy(&h, b.data, sizeof(h));
    assert_int_equal(h.id, 99);
    assert_int_equal(h.type, CC__FR_TASK);
    assert_int_equal(h.len, b.len - sizeof(h));
    cc__rd r = {b.data + sizeof(h), b.data + b.len, false};
    void *got;
    assert_int_equal(cc__wire_get_item_blob(&r, &got), 0);
    assert_null(got);
    assert_int_equal(cc__wire_get_item_blob(&r, &got), 0);
    assert_non_null(got);
    assert_int_equal(cc_blob_len(got), 0);
    cc_blob_free(got);
    assert_int_equal(cc__wire_get_item_blob(&r, &got), 0);
    assert_memory_equal(got, "abc", 4); /* with the NUL after it */
    cc_blob_free(got);
    assert_ptr_equal(r.p, r.end);
    assert_false(r.bad);
    /* past the end: refused, never read */
    assert_int_equal(cc__wire_get_item_blob(&r, &got), EPROTO);
    assert_true(r.bad);
    cc_blob_free(blob);
    cc_blob_free(empty);
    cc__buf_free(&b);
}

static void test_truncated_items_are_refused(void **state)
{
    (void)state;
    cc__buf b = {0};
    void *blob = cc_blob_dup("0123456789", 10);
    cc__wire_put_item(&b, blob);
    for (size_t cut = 0; cut < b.len; cut++) {
        cc__rd r = {b.data, b.data + cut, false};
        void *got = (void *)1;
        assert_int_equal(cc__wire_get_item_blob(&r, &got), EPROTO);
        assert_null(got);
    }
    cc_blob_free(blob);
    cc__buf_free(&b);
}

static void *fail_three_deep(void *arg)
{
    cc_error *inner = cc_error_new(ENOENT, NULL, "no file %s", "x.conf");
    cc_error *mid = cc_error_new(EIO, inner, "read failed");
    cc_fail_from(mid, ECANCELED, "gave up");
    cc_error_free(inner);
    cc_error_free(mid);
    return arg;
}

/* concur's own codes (CC_EBASE + k, far above the system's) cross the
 * wire unchanged, and keep their names. */
static void test_own_codes_round_trip(void **state)
{
    (void)state;
    cc__buf b = {0};
    cc_error *inner = cc_error_new(CC_EHTTP, NULL, "404 Client Error");
    cc_error *outer = cc_error_new(CC_ECALLEDPROCESS, inner, "Command failed");
    cc__error_encode(&b, outer);
    cc__rd r = {b.data, b.data + b.len, false};
    int err = -1;
    cc_error *d = cc__error_decode(&r, &err);
    assert_int_equal(err, 0);
    assert_non_null(d);
    assert_int_equal(cc_error_code(d), CC_ECALLEDPROCESS);
    assert_int_equal(cc_error_code(cc_error_cause(d)), CC_EHTTP);
    assert_true(cc_error_is(d, CC_EHTTP));
    char text[256];
    cc_error_format(d, text, sizeof(text));
    assert_string_equal(text, "Command failed (CC_ECALLEDPROCESS)\n"
                              "  caused by: 404 Client Error (CC_EHTTP)");
    cc_error_free(d);
    cc_error_free(outer);
    cc_error_free(inner);
    cc__buf_free(&b);
}

static void test_error_chains_round_trip(void **state)
{
    (void)state;
    cc__buf b = {0};
    (void)fail_three_deep(NULL);
    cc_error *e = cc__error_take_pending();
    cc__error_encode(&b, e);
    cc__rd r = {b.data, b.data + b.len, false};
    int err = -1;
    cc_error *d = cc__error_decode(&r, &err);
    assert_int_equal(err, 0);
    assert_non_null(d);
    const cc_error *x = e;
    const cc_error *y = d;
    int depth = 0;
    for (; x != NULL; x = cc_error_cause(x), y = cc_error_cause(y), depth++) {
        assert_non_null(y);
        assert_int_equal(cc_error_code(x), cc_error_code(y));
        assert_string_equal(cc_error_message(x), cc_error_message(y));
        assert_string_equal(cc_error_where(x), cc_error_where(y));
    }
    assert_null(y);
    assert_int_equal(depth, 3);
    assert_non_null(strstr(cc_error_where(d), "test_pool_wire.c:"));
    /* the copy is an ordinary error: copy, format, free */
    cc_error *copy = cc_error_copy(d);
    char text[512];
    cc_error_format(copy, text, sizeof(text));
    assert_non_null(strstr(text, "caused by: no file x.conf (ENOENT)"));
    cc_error_free(copy);
    cc_error_free(d);

    /* every truncation is refused, and leaks nothing */
    for (size_t cut = 0; cut < b.len; cut++) {
        cc__rd t = {b.data, b.data + cut, false};
        assert_null(cc__error_decode(&t, &err));
        assert_int_equal(err, EPROTO);
    }
    cc_error_free(e);
    cc__buf_free(&b);

    /* a chain of zero errors, or a code <= 0, is not an error */
    cc__buf z = {0};
    cc__buf_put_u32(&z, 0);
    cc__rd t = {z.data, z.data + z.len, false};
    assert_null(cc__error_decode(&t, &err));
    assert_int_equal(err, EPROTO);
    z.len = 0;
    cc__buf_put_u32(&z, 1);
    cc__buf_put_u32(&z, 0); /* code 0 */
    cc__buf_put_u32(&z, 0);
    cc__buf_put_u32(&z, 0);
    t = (cc__rd){z.data, z.data + z.len, false};
    assert_null(cc__error_decode(&t, &err));
    assert_int_equal(err, EPROTO);
    cc__buf_free(&z);
}

static void test_blob_check_never_faults(void **state)
{
    (void)state;
    void *blob = cc_blob_new(8);
    char *big = malloc(1 << 20);
    void *none = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    void *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(none != MAP_FAILED && gone != MAP_FAILED);
    munmap(gone, 8192);

    assert_true(cc__blob_check(blob));
    assert_false(cc__blob_check(NULL));
    assert_false(cc__blob_check((void *)(intptr_t)42));
    assert_false(cc__blob_check((void *)(intptr_t)0x7fff0));
    assert_false(cc__blob_check((char *)blob + 1));       /* misaligned */
    assert_false(cc__blob_check(big + 64));                /* not a blob */
    assert_false(cc__blob_check((char *)none + 4096));    /* unreadable */
    assert_false(cc__blob_check((char *)gone + 16));      /* unmapped */
    assert_false(cc__blob_check((char *)gone + 4096));
    assert_false(cc__blob_check((void *)(intptr_t)-4096)); /* kernel */
    cc_blob_free(blob);
    munmap(none, 8192);
    free(big);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_and_items_round_trip),
        cmocka_unit_test(test_truncated_items_are_refused),
        cmocka_unit_test(test_error_chains_round_trip),
        cmocka_unit_test(test_own_codes_round_trip),
        cmocka_unit_test(test_blob_check_never_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
