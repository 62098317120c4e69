/*
 * sp_util.h - what the subprocess tests share: the helper program's path
 * (HELPER, from CMake), argv shorthands, the leak checks every test runs
 * in its teardown (the number of open descriptors is what it was at its
 * setup; no child is left, running or zombie), and output checks.
 */
#ifndef SP_UTIL_H
#define SP_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_util.h"
#include "subprocess/sp_pattern.h"

#ifndef CHILD_HELPER
#error "CHILD_HELPER must name the helper program (tests/CMakeLists)"
#endif
#define HELPER CHILD_HELPER

/* argv as a compound literal: ARGV(HELPER, "out", "x"). */
#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* n bytes of seeded noise (malloc'd; the caller frees): what the
 * communicate tests send through children and expect back. */
static inline unsigned char *sp_noise(size_t n, uint64_t seed)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1DULL;
        memcpy(b + i, &v, n - i < 8 ? n - i : 8);
    }
    return b;
}

/* No child is left: not running, not a zombie. */
static inline bool sp_no_children(void)
{
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

static int sp_fds_at_setup;

static inline int sp_setup(void **state)
{
    (void)state;
    sp_fds_at_setup = tu_fds();
    return 0;
}

/* Fails the test (non-zero) on a leaked descriptor or child. */
static inline int sp_teardown(void **state)
{
    int now = tu_fds();

    (void)state;
    if (now != sp_fds_at_setup) {
        print_error("descriptors leaked: %d open at setup, %d now\n",
                    sp_fds_at_setup, now);
        return -1;
    }
    if (!sp_no_children()) {
        print_error("a child process is left over\n");
        return -1;
    }
    return 0;
}

#define SP_TEST(f) cmocka_unit_test_setup_teardown(f, sp_setup, sp_teardown)

static void *sp_warm_task(void *arg)
{
    /* A task's stack and an fd wait: what the library keeps open for
     * good once used (the stack-guard pidfd) is opened before the first
     * test counts descriptors. */
    cc_sleep(0.001);
    return arg;
}

static inline int sp_group_setup(void **state)
{
    (void)state;
    tu_seed();
    signal(SIGPIPE, SIG_DFL); /* the library must cope without SIG_IGN */
    if (cc_run(sp_warm_task, NULL, NULL) != 0)
        return -1;
    return 0;
}

/* True when p[0..n) is the helper's pattern from offset 0. */
static inline bool sp_is_pattern(const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++)
        if (c[i] != sp_pattern(i))
            return false;
    return true;
}

/* The text of a blob (blobs end with a NUL), or "" for NULL. */
static inline const char *sp_text(const void *blob)
{
    return blob != NULL ? (const char *)blob : "";
}

/* Run argv with stdout captured; returns its output (caller frees) and
 * checks the return code. */
static inline void *sp_output(const char *const argv[],
                              const cc_popen_opts *opts, int want_code)
{
    cc_popen_opts o = opts != NULL ? *opts : (cc_popen_opts){0};
    void *out = NULL;
    int code = -1000;

    if (o.out.mode == CC_INHERIT)
        o.out = CC_STDIO(CC_PIPE);
    cc_popen *p = cc_popen_new(argv, &o);
    if (p == NULL)
        fail_msg("cc_popen_new(%s): %s", argv[0], cc_errmsg());
    if (cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code) != 0)
        fail_msg("communicate: %s", cc_errmsg());
    cc_popen_free(p);
    if (code != want_code)
        fail_msg("return code %d, want %d (output '%s')", code, want_code,
                 sp_text(out));
    return out;
}

/* Assert that running argv prints exactly `want`. */
#define assert_prints(argv, opts, want)                                    \
    do {                                                                   \
        void *out_ = sp_output((argv), (opts), 0);                         \
        assert_string_equal(sp_text(out_), (want));                        \
        cc_blob_free(out_);                                                \
    } while (0)

/* Does process `pid` exist (zombies count as gone)? */
static inline bool sp_alive(pid_t pid)
{
    char path[64];
    char buf[512];
    FILE *f;
    char state = '?';

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        char *rp = strrchr(buf, ')');
        if (rp != NULL && rp[1] == ' ')
            state = rp[2];
    }
    fclose(f);
    return state != 'Z' && state != 'X' && state != '?';
}

#endif
