/*
 * net_util.h - helpers shared by the net tests: descriptor counting (every
 * test checks that it leaked none), stream pairs over a socketpair, a byte
 * pattern to check long transfers, raw socket helpers and echo handlers.
 */
#ifndef CONCUR_NET_UTIL_H
#define CONCUR_NET_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_util.h"

/* The descriptors the library opens once per process (the stack guards'
 * pidfd, ...) are opened here, before any test counts. */
static inline int nu_warm_up(void **state)
{
    (void)state;
    assert_ok(cc_run(tu_nothing, NULL, NULL));
    return 0;
}

/* Two connected streams over a UNIX socketpair. */
static inline void nu_pair(cc_stream **a, cc_stream **b)
{
    int sv[2];

    assert_ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    *a = cc_stream_from_fd(sv[0]);
    *b = cc_stream_from_fd(sv[1]);
    assert_non_null(*a);
    assert_non_null(*b);
}

/* A fixture for the tests that use one pair from start to end: the setup
 * counts the descriptors, then makes the pair; the teardown frees both
 * streams and checks that no descriptor leaked.  A test that frees a
 * stream itself sets it to NULL here. */
typedef struct nu_pair_fx {
    cc_stream *a, *b;
    int fds;
} nu_pair_fx;

static inline int nu_pair_setup(void **state)
{
    nu_pair_fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->fds = tu_fds();
    nu_pair(&fx->a, &fx->b);
    *state = fx;
    return 0;
}

static inline int nu_pair_teardown(void **state)
{
    nu_pair_fx *fx = *state;
    int fds = fx->fds;

    cc_stream_free(fx->a);
    cc_stream_free(fx->b);
    free(fx); /* before the check: a leak fails it, and it does not return */
    tu_no_fd_leak(fds);
    return 0;
}

/* A test run with the pair fixture. */
#define nu_pair_test(f) \
    cmocka_unit_test_setup_teardown(f, nu_pair_setup, nu_pair_teardown)

/* A byte pattern: byte i of stream `seed`. */
static inline unsigned char nu_byte(uint32_t seed, size_t i)
{
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ seed;

    x ^= x >> 29;
    return (unsigned char)(x * 0xBF58476D1CE4E5B9ULL >> 56);
}

static inline void nu_fill(unsigned char *p, size_t n, uint32_t seed,
                           size_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] = nu_byte(seed, off + i);
}

static inline bool nu_check(const unsigned char *p, size_t n, uint32_t seed,
                            size_t off)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != nu_byte(seed, off + i))
            return false;
    return true;
}

/* Echo every line back until the end of the stream (a handler). */
static inline int nu_echo_lines(cc_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        char *line = cc_stream_readline(s, 30);

        if (line == NULL) {
            cc_fail_from(cc_last_error(), errno, "echo: readline");
            return -1;
        }
        if (cc_blob_len(line) == 0) {
            cc_blob_free(line);
            return 0;
        }
        if (cc_stream_write(s, line, cc_blob_len(line)) != 0) {
            cc_blob_free(line);
            cc_fail_from(cc_last_error(), errno, "echo: write");
            return -1;
        }
        cc_blob_free(line);
    }
}

/* Does this machine have an IPv6 loopback? */
static inline bool nu_have_ipv6(void)
{
    struct sockaddr_in6 a;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A UNIX socket path unique to this process and tag. */
static inline const char *nu_unix_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/concur-net-%d-%s.sock", (int)getpid(), tag);
    return buf;
}

#endif
