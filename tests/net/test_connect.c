/* test_connect - connecting and listening: IPv4 127.0.0.1, IPv6 ::1 (skipped
 * with a note where the machine has no IPv6 loopback), every address with
 * one dual-stack socket, the name "localhost" from a thread and from a
 * task, UNIX paths (a stale socket file replaced, another file refused,
 * the file removed at close, abstract names), port 0 and cc_server_port,
 * the errors of connecting (refused, unknown name, bad arguments) and of
 * serving (address in use, bad options), and connect timeouts and
 * cancellation against a listener whose backlog is full. */
#include <math.h>
#include <signal.h>
#include <sys/stat.h>

#include "net_util.h"

/* One echo exchange on a fresh connection; the stream's peer text is
 * checked against `peer` when given. */
static void exchange(cc_stream *c, const char *peer)
{
    char buf[128];
    assert_non_null(c);
    assert_ok(cc_stream_printf(c, "ping %s\n", peer ? peer : "-"));
    char *l = cc_stream_readline(c, 10);
    assert_non_null(l);
    assert_int_equal(strncmp(l, "ping ", 5), 0);
    cc_blob_free(l);
    if (peer != NULL) {
        assert_ok(cc_stream_peername(c, buf, sizeof(buf)));
        assert_string_equal(buf, peer);
    }
    assert_ok(cc_stream_close(c, 5));
    cc_stream_free(c);
}

static void test_ipv4_and_port_zero(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_server *srv = cc_serve("127.0.0.1", 0, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    int port = cc_server_port(srv);
    assert_true(port > 0 && port < 65536);
    char peer[64];
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", port);
    exchange(cc_open_connection("127.0.0.1", port, 5), peer);
    exchange(cc_open_connection("localhost", port, 5), peer);
    /* the same port cannot be listened on twice */
    assert_null_with(cc_serve("127.0.0.1", port, nu_echo_lines, NULL, NULL),
                     EADDRINUSE);
    assert_non_null(strstr(cc_errmsg(), "Address already in use"));
    assert_int_equal(cc_server_close(srv, 5), 0);
    cc_server_free(srv);
    /* the port is free again (SO_REUSEADDR): listen on it once more */
    srv = cc_serve("127.0.0.1", port, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    assert_int_equal(cc_server_port(srv), port);
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

static void test_ipv6(void **state)
{
    (void)state;
    if (!nu_have_ipv6()) {
        printf("# note: no IPv6 loopback on this machine; test_ipv6 "
               "skipped\n");
        skip();
    }
    int fds = tu_fds();
    cc_server *srv = cc_serve("::1", 0, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    int port = cc_server_port(srv);
    char peer[64];
    snprintf(peer, sizeof(peer), "[::1]:%d", port);
    exchange(cc_open_connection("::1", port, 5), peer);
    exchange(cc_open_connection("[::1]", port, 5), peer);
    /* not reachable over IPv4: the socket is IPv6 only */
    assert_null_with(cc_open_connection("127.0.0.1", port, 5), ECONNREFUSED);
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

/* No host: one socket for IPv6 and IPv4. */
static void test_every_address(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_server *srv = cc_serve(NULL, 0, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    int port = cc_server_port(srv);
    exchange(cc_open_connection("127.0.0.1", port, 5), NULL);
    if (nu_have_ipv6())
        exchange(cc_open_connection("::1", port, 5), NULL);
    else
        printf("# note: no IPv6 loopback; IPv4 only\n");
    cc_server_free(srv);
    srv = cc_serve("", 0, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    exchange(cc_open_connection("127.0.0.1", cc_server_port(srv), 5), NULL);
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

/* A name resolved from a task goes through the loop's executor. */
static void *connect_by_name(void *arg)
{
    int port = *(int *)arg;
    for (int i = 0; i < 3; i++) {
        cc_stream *c = cc_open_connection("localhost", port, 5);
        if (c == NULL)
            return cc_fail_from(cc_last_error(), EIO, "connect");
        if (cc_stream_write(c, "x\n", 2) != 0)
            return cc_fail(EIO, "write");
        char *l = cc_stream_readline(c, 5);
        bool ok = l != NULL && strcmp(l, "x\n") == 0;
        cc_blob_free(l);
        cc_stream_free(c);
        if (!ok)
            return cc_fail(EPROTO, "no echo");
    }
    cc_stream *bad = cc_open_connection("nosuch.invalid", port, 5);
    if (bad != NULL || errno != ENOENT)
        return cc_fail(EPROTO, "an unknown name resolved (%s)", cc_errmsg());
    return arg;
}

static void test_names_from_a_task(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_server *srv = cc_serve("localhost", 0, nu_echo_lines, NULL, NULL);
    assert_non_null(srv);
    int port = cc_server_port(srv);
    assert_ok(cc_run(connect_by_name, &port, NULL));
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

static void test_unix_paths(void **state)
{
    (void)state;
    int fds = tu_fds();
    char path[108];
    struct stat st;
    nu_unix_path(path, sizeof(path), "unix");
    /* a stale socket file is replaced */
    int old = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, path);
    unlink(path);
    assert_ok(bind(old, (struct sockaddr *)&un, sizeof(un)));
    close(old);
    cc_serve_opts o = {.unix_path = path};
    cc_server *srv = cc_serve(NULL, 0, nu_echo_lines, NULL, &o);
    assert_non_null(srv);
    assert_int_equal(cc_server_port(srv), 0);
    cc_stream *c = cc_open_unix_connection(path, 5);
    assert_non_null(c);
    char buf[128];
    assert_ok(cc_stream_sockname(c, buf, sizeof(buf)));
    assert_string_equal(buf, "");
    exchange(c, path);
    assert_ok(lstat(path, &st));
    cc_server_free(srv);
    assert_int_equal(lstat(path, &st), -1); /* removed at close */
    /* the socket is gone: ENOENT; a file that is no socket: refused */
    assert_null_with(cc_open_unix_connection(path, 5), ENOENT);
    FILE *f = fopen(path, "w");
    fclose(f);
    assert_null_with(cc_serve(NULL, 0, nu_echo_lines, NULL, &o), EADDRINUSE);
    assert_non_null(strstr(cc_errmsg(), "not a socket"));
    assert_null_with(cc_open_unix_connection(path, 5), ECONNREFUSED);
    unlink(path);
    /* a socket nobody listens on */
    old = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_ok(bind(old, (struct sockaddr *)&un, sizeof(un)));
    assert_null_with(cc_open_unix_connection(path, 5), ECONNREFUSED);
    close(old);
    unlink(path);
    /* too long */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_null_with(cc_open_unix_connection(longp, 5), ENAMETOOLONG);
    o.unix_path = longp;
    assert_null_with(cc_serve(NULL, 0, nu_echo_lines, NULL, &o), ENAMETOOLONG);
    assert_null_with(cc_open_unix_connection("", 5), EINVAL);
    assert_null_with(cc_open_unix_connection(NULL, 5), EINVAL);
    /* an abstract name */
    char abstract[64];
    snprintf(abstract, sizeof(abstract), "@concur-test-%d", (int)getpid());
    o.unix_path = abstract;
    srv = cc_serve(NULL, 0, nu_echo_lines, NULL, &o);
    assert_non_null(srv);
    exchange(cc_open_unix_connection(abstract, 5), abstract);
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

static void test_connect_errors(void **state)
{
    (void)state;
    int fds = tu_fds();
    /* a port nobody listens on */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_ok(bind(s, (struct sockaddr *)&sin, sizeof(sin)));
    assert_ok(getsockname(s, (struct sockaddr *)&sin, &sl));
    int port = ntohs(sin.sin_port);
    close(s);
    assert_null_with(cc_open_connection("127.0.0.1", port, 5), ECONNREFUSED);
    char want[128];
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d (127.0.0.1:%d): "
             "Connection refused", port, port);
    assert_string_equal(cc_errmsg(), want);
    assert_null_with(cc_open_connection("localhost", port, 5), ECONNREFUSED);
    snprintf(want, sizeof(want), "connect to localhost:%d (127.0.0.1:%d): "
             "Connection refused", port, port);
    assert_string_equal(cc_errmsg(), want);
    assert_null_with(cc_open_connection("nosuch.invalid", 80, 5), ENOENT);
    assert_non_null(strstr(cc_errmsg(), "cannot resolve 'nosuch.invalid'"));
    assert_null_with(cc_open_connection(NULL, 80, 5), EINVAL);
    assert_null_with(cc_open_connection("", 80, 5), EINVAL);
    assert_null_with(cc_open_connection("127.0.0.1", 0, 5), EINVAL);
    assert_null_with(cc_open_connection("127.0.0.1", 65536, 5), EINVAL);
    assert_null_with(cc_open_connection("127.0.0.1", 80, NAN), EINVAL);
    tu_no_fd_leak(fds);
}

static int never_called(cc_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static void test_serve_errors(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_serve_opts o = {0};
    assert_null_with(cc_serve("127.0.0.1", 0, NULL, NULL, NULL), EINVAL);
    assert_null_with(cc_serve("127.0.0.1", -1, never_called, NULL, NULL),
                     EINVAL);
    assert_null_with(cc_serve("127.0.0.1", 65536, never_called, NULL, NULL),
                     EINVAL);
    o.mode = CC_SERVE_TASKS; /* not in a coroutine */
    assert_null_with(cc_serve("127.0.0.1", 0, never_called, NULL, &o), EINVAL);
    o.mode = CC_SERVE_POOL; /* without a pool */
    assert_null_with(cc_serve("127.0.0.1", 0, never_called, NULL, &o), EINVAL);
    o.mode = (cc_serve_mode)42;
    assert_null_with(cc_serve("127.0.0.1", 0, never_called, NULL, &o), EINVAL);
    o.mode = CC_SERVE_THREADS;
    o.max_connections = -1;
    assert_null_with(cc_serve("127.0.0.1", 0, never_called, NULL, &o), EINVAL);
    assert_null_with(cc_serve("nosuch.invalid", 0, never_called, NULL, NULL),
                     ENOENT);
    assert_null_with(cc_serve("192.0.2.1", 0, never_called, NULL, NULL),
                     EADDRNOTAVAIL); /* not an address of this machine */
    /* handles */
    assert_fails_with(cc_server_port(NULL), EINVAL);
    assert_int_equal(cc_server_connections(NULL), 0);
    assert_fails_with(cc_server_close(NULL, 1), EINVAL);
    assert_fails_with(cc_server_wait(NULL, 1), EINVAL);
    cc_server_free(NULL);
    tu_no_fd_leak(fds);
}

/* ---- connect timeouts and cancellation ---- */

/* A listener whose backlog is full: the next connect hangs. */
typedef struct full {
    int lfd;
    int port;
    int fill[4];
} full;

static void full_open(full *f)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_ok(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)));
    assert_ok(listen(f->lfd, 1));
    assert_ok(getsockname(f->lfd, (struct sockaddr *)&sin, &sl));
    f->port = ntohs(sin.sin_port);
    for (int i = 0; i < 4; i++) {
        f->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            0);
        connect(f->fill[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    tu_sleep(0.05);
}

static void full_close(full *f)
{
    for (int i = 0; i < 4; i++)
        close(f->fill[i]);
    close(f->lfd);
}

static void *connect_forever(void *arg)
{
    full *f = arg;
    cc_stream *c = cc_open_connection("127.0.0.1", f->port, 30);
    if (c != NULL) {
        cc_stream_free(c);
        return cc_fail(EPROTO, "connected to a full backlog");
    }
    return NULL; /* ECANCELED pending */
}

static void *cancel_connect_main(void *arg)
{
    cc_future *t = cc_spawn(connect_forever, arg);
    cc_sleep(0.1);
    double t0 = cc_now();
    cc_future_cancel(t);
    int rc = cc_future_result(t, NULL, 10);
    int e = errno;
    cc_future_free(t);
    if (rc != -1 || e != ECANCELED)
        return cc_fail(EPROTO, "the connect was not cancelled: %s",
                       cc_errname(e));
    if (cc_now() - t0 > tu_hang_bound(0))
        return cc_fail(EPROTO, "cancelling took too long");
    /* a deadline scope bounds it too */
    full *f = arg;
    cc_deadline_push(0.1);
    cc_stream *c = cc_open_connection("127.0.0.1", f->port, 30);
    e = errno;
    cc_deadline_pop();
    if (c != NULL || e != ETIMEDOUT)
        return cc_fail(EPROTO, "the deadline scope did not bound connect");
    return arg;
}

static void test_connect_timeout_and_cancel(void **state)
{
    (void)state;
    int fds = tu_fds();
    full f;
    full_open(&f);
    double t0 = cc_now();
    assert_null_with(cc_open_connection("127.0.0.1", f.port, 0.2), ETIMEDOUT);
    double took = cc_now() - t0;
    assert_true(took >= 0.19 && took < tu_hang_bound(0.2));
    assert_non_null(strstr(cc_errmsg(), "timed out"));
    assert_null_with(cc_open_connection("127.0.0.1", f.port, 0), EAGAIN);
    assert_ok(cc_run(cancel_connect_main, &f, NULL));
    full_close(&f);
    tu_no_fd_leak(fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_and_port_zero),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_every_address),
        cmocka_unit_test(test_names_from_a_task),
        cmocka_unit_test(test_unix_paths),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_serve_errors),
        cmocka_unit_test(test_connect_timeout_and_cancel),
    };
    signal(SIGPIPE, SIG_DFL);
    tu_seed();
    if (getenv("CONCUR_TEST_FILTER") != NULL) /* run some tests only */
        cmocka_set_test_filter(getenv("CONCUR_TEST_FILTER"));
    return cmocka_run_group_tests(tests, nu_warm_up, NULL);
}
