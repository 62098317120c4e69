/* test_blob - length-carrying buffers: creation, copies, resize, the NUL
 * after the data, and refusal of pointers that are not blobs -- even ones
 * whose 16 bytes below are unmapped or unreadable, which must not fault. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

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

/* Every public blob call on p: EINVAL (or false, 0, nothing done), never a
 * fault.  Runs in a forked child, so that a fault is reported as one. */
static void check_refused(const void *p)
{
    errno = 0;
    if (cc_blob_is(p))
        _exit(10);
    if (cc_blob_len(p) != 0 || errno != EINVAL)
        _exit(11);
    errno = 0;
    if (cc_blob_resize((void *)(uintptr_t)p, 8) != NULL || errno != EINVAL)
        _exit(12);
    cc_blob_free((void *)(uintptr_t)p); /* left alone */
    _exit(0);
}

/* Fork, run check_refused(p) in the child, and fail naming `what` unless it
 * exits 0. */
static void expect_refused_in_child(const void *p, const char *what)
{
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: die of it */
        signal(SIGBUS, SIG_DFL);
        check_refused(p);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("%s (%p): the blob calls died of signal %d", what, p,
                 WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("%s (%p): check %d failed", what, p, WEXITSTATUS(status));
}

/* The first byte of a page whose neighbour below is PROT_NONE: the header
 * would be in the inaccessible page. */
static void test_page_after_a_guard_is_refused(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + page, (size_t)page, PROT_READ | PROT_WRITE),
                     0);
    memset(m + page, 0, (size_t)page);
    expect_refused_in_child(m + page, "a page after a PROT_NONE page");
    munmap(m, (size_t)page * 2);
}

/* The first byte of a mapping with nothing mapped below it. */
static void test_page_after_a_hole_is_refused(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(munmap(m, (size_t)page), 0);
    expect_refused_in_child(m + page, "a page after an unmapped page");
    munmap(m + page, (size_t)page);
}

static void test_stack_address_is_refused(void **state)
{
    (void)state;
    _Alignas(16) char local[64];
    memset(local, 0, sizeof(local));
    expect_refused_in_child(local, "a stack address");
    expect_refused_in_child(local + 16, "a stack address");
}

static void test_string_literal_is_refused(void **state)
{
    (void)state;
    static const char _Alignas(16) text[] = "not a blob, just text";
    expect_refused_in_child("hello", "a string literal");
    expect_refused_in_child(text, "an aligned constant string");
}

static void test_integers_as_pointers_are_refused(void **state)
{
    (void)state;
    static const uintptr_t values[] = {
        1, 16, 4096, 65536, 0x10000010, 0x7ff000000000, UINTPTR_MAX - 15,
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "the integer %#lx",
                 (unsigned long)values[i]);
        expect_refused_in_child((const void *)values[i], what);
    }
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
        cmocka_unit_test(test_page_after_a_guard_is_refused),
        cmocka_unit_test(test_page_after_a_hole_is_refused),
        cmocka_unit_test(test_stack_address_is_refused),
        cmocka_unit_test(test_string_literal_is_refused),
        cmocka_unit_test(test_integers_as_pointers_are_refused),
        cmocka_unit_test(test_huge_request_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
