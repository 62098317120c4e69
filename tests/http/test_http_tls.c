/* test_http_tls - certificates are verified by default: against an HTTPS
 * server whose certificate is self-signed (openssl s_server, started by
 * the test with a key and certificate made by `openssl req` -- both through
 * concur's own subprocess layer), a request fails with EACCES and curl's
 * words; with opts.ca_file naming that certificate it verifies and gets
 * 200; with opts.insecure it gets 200 unverified.  From a thread and from
 * a coroutine (the loop's multi handle), so both paths are checked. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "test_util.h"

static char dir[] = "/tmp/concur_tls_XXXXXX";
static char cert[64];
static char key[64];
static char url[64];
static cc_popen *server;

/* A port of 127.0.0.1 free now (the server binds it right after). */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int setup(void **state)
{
    char port_arg[16];
    cc_completed made;
    cc_run_opts ro = {.capture_output = true, .timeout = 60, .check = true};
    cc_popen_opts po = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_DEVNULL),
                        .err = CC_STDIO(CC_DEVNULL)};
    int port = free_port();

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    /* A certificate for 127.0.0.1, signed by its own key. */
    if (cc_subprocess_run((const char *const[]){"openssl", "req", "-x509",
                              "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                              "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                              "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                              NULL},
                          &ro, &made) != 0)
        fail_msg("openssl req: %s", cc_errmsg());
    cc_completed_free(&made);
    assert_true(port > 0);
    snprintf(port_arg, sizeof(port_arg), "%d", port);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
    /* -www answers every GET with a status page; stdin stays an open pipe
     * so s_server never reads an end of input. */
    server = cc_popen_new((const char *const[]){"openssl", "s_server", "-accept",
                              port_arg, "-cert", cert, "-key", key, "-www",
                              "-quiet", NULL},
                          &po);
    assert_non_null(server);
    for (int i = 0; i < 1000; i++) { /* until it listens (10 s at most) */
        struct sockaddr_in sa = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)port);
        ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok)
            return 0;
        tu_sleep(0.01);
    }
    fail_msg("openssl s_server did not listen on %d", port);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    cc_http_thread_cleanup();
    cc_popen_free(server); /* kills and reaps it */
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return 0;
}

/* The three cases, from whatever calls (a thread or a task). */
static void *check_verification(void *arg)
{
    cc_http_opts o = {.timeout = 20};
    cc_http_response *r;

    (void)arg;
    /* by default: the system's store does not know this certificate */
    r = cc_http_request(url, &o);
    assert_null(r);
    assert_int_equal(errno, EACCES);
    if (strstr(cc_errmsg(), "certificate") == NULL)
        fail_msg("message: %s", cc_errmsg());
    assert_non_null(strstr(cc_errmsg(), url));
    /* trusting that certificate: verified, answered */
    o.ca_file = cert;
    r = cc_http_request(url, &o);
    if (r == NULL)
        fail_msg("with ca_file: %s", cc_errmsg());
    assert_int_equal(cc_http_status(r), 200);
    cc_http_response_free(r);
    /* a CA file that does not exist: a clear error, not a silent pass */
    o.ca_file = "/nonexistent/ca.pem";
    r = cc_http_request(url, &o);
    assert_null(r);
    assert_int_equal(errno, EACCES);
    /* insecure: not verified, answered */
    o.ca_file = NULL;
    o.insecure = true;
    r = cc_http_request(url, &o);
    if (r == NULL)
        fail_msg("insecure: %s", cc_errmsg());
    assert_int_equal(cc_http_status(r), 200);
    cc_http_response_free(r);
    return arg;
}

static void test_thread_verifies(void **state)
{
    (void)state;
    check_verification(NULL);
}

static void test_task_verifies(void **state)
{
    (void)state;
    assert_ok(cc_run(check_verification, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_verifies),
        cmocka_unit_test(test_task_verifies),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
