/* test_service_cli - the `concur` tool and its `serve` command as a user
 * runs them: `concur --help` lists the commands, an unknown command and a
 * bad option exit 2 with a message, `concur serve --port 0` prints where
 * it listens, answers, and stops with status 0 on SIGTERM (and SIGINT). */
#include <signal.h>

#include "svc_util.h"

/* Run the tool to the end; its status and output (blobs, freed by
 * cc_completed_free). */
static void run_tool(const char *const argv[], cc_completed *out)
{
    cc_run_opts o = {0};

    o.capture_output = true;
    o.timeout = 30;
    assert_ok(cc_subprocess_run(argv, &o, out));
}

static void test_help_and_errors(void **state)
{
    const char *help[] = {CONCUR_TOOL, "--help", NULL};
    const char *help2[] = {CONCUR_TOOL, "help", NULL};
    const char *unknown[] = {CONCUR_TOOL, "frobnicate", NULL};
    const char *none[] = {CONCUR_TOOL, NULL};
    const char *badopt[] = {CONCUR_TOOL, "serve", "--bogus", NULL};
    const char *badval[] = {CONCUR_TOOL, "serve", "--latency", "fast", NULL};
    const char *badrate[] = {CONCUR_TOOL, "serve", "--error-rate", "2", NULL};
    const char *noval[] = {CONCUR_TOOL, "serve", "--port", NULL};
    const char *sh[] = {CONCUR_TOOL, "serve", "--help", NULL};
    cc_completed r;

    (void)state;
    run_tool(help, &r);
    assert_int_equal(r.returncode, 0);
    assert_non_null(strstr(r.out, "serve"));
    cc_completed_free(&r);
    run_tool(help2, &r);
    assert_int_equal(r.returncode, 0);
    assert_non_null(strstr(r.out, "serve"));
    cc_completed_free(&r);
    run_tool(unknown, &r);
    assert_int_equal(r.returncode, 2);
    assert_non_null(strstr(r.err, "unknown command 'frobnicate'"));
    cc_completed_free(&r);
    run_tool(none, &r);
    assert_int_equal(r.returncode, 2);
    cc_completed_free(&r);
    run_tool(badopt, &r);
    assert_int_equal(r.returncode, 2);
    assert_non_null(strstr(r.err, "unknown option '--bogus'"));
    cc_completed_free(&r);
    run_tool(badval, &r);
    assert_int_equal(r.returncode, 2);
    assert_non_null(strstr(r.err, "bad latency 'fast'"));
    cc_completed_free(&r);
    run_tool(badrate, &r);
    assert_int_equal(r.returncode, 2);
    assert_non_null(strstr(r.err, "error rate"));
    cc_completed_free(&r);
    run_tool(noval, &r);
    assert_int_equal(r.returncode, 2);
    assert_non_null(strstr(r.err, "needs a value"));
    cc_completed_free(&r);
    run_tool(sh, &r);
    assert_int_equal(r.returncode, 0);
    assert_non_null(strstr(r.out, "--rate-limit"));
    cc_completed_free(&r);
}

/* Start `concur serve --port 0 ...`, read "serving on http://...:P". */
static cc_popen *serve(const char *extra, int *port)
{
    const char *argv[] = {CONCUR_TOOL, "serve", "--port", "0", extra, NULL};
    cc_popen_opts o = {0};
    cc_popen *p;
    char line[256];
    size_t n = 0;
    int fd;

    o.out = CC_STDIO(CC_PIPE);
    p = cc_popen_new(argv, &o);
    assert_non_null(p);
    fd = cc_popen_fd(p, 1);
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        ssize_t r;

        assert_true(cc_wait_fd(fd, CC_READABLE, 30) > 0);
        r = read(fd, line + n, 1);
        assert_true(r == 1);
        n++;
    }
    line[n] = '\0';
    if (sscanf(line, "serving on http://127.0.0.1:%d", port) != 1)
        fail_msg("first line: '%s'", line);
    return p;
}

static void test_serve_and_signals(void **state)
{
    static const int sigs[] = {SIGTERM, SIGINT};

    (void)state;
    for (int i = 0; i < 2; i++) {
        int port = 0;
        int rc = -1;
        cc_popen *p = serve(i == 0 ? "--log" : NULL, &port);
        hresp r;

        su_get(port, "GET", "/pokedex/1", &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "<h1>Bulbasaur</h1>"));
        hresp_free(&r);
        assert_ok(cc_popen_send_signal(p, sigs[i]));
        assert_ok(cc_popen_wait(p, 30, &rc));
        assert_int_equal(rc, 0);
        cc_popen_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_errors),
        cmocka_unit_test(test_serve_and_signals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
