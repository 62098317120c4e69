/* test_service_cli - the `concur` tool and its `serve` command as a user
 * runs them: `concur --help` lists the commands, an unknown command and a
 * bad option exit 2 with a message, `concur serve --port 0` prints where
 * it listens, answers, and stops with status 0 on SIGTERM (and SIGINT);
 * --max-connections and --max-memory take effect (503 past them). */
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
    const char *const budgets[][3] = {
        {"--max-memory", "1k", "bad memory budget '1k'"},
        {"--max-memory", "64X", "bad memory budget '64X'"},
        {"--max-memory", "-5M", "bad memory budget '-5M'"},
        {"--max-connections", "0", "bad connection limit '0'"},
        {"--max-connections", "2.5", "bad connection limit '2.5'"},
        {"--max-connections", "1000001", "bad connection limit"},
    };
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
    assert_non_null(strstr(r.out, "--max-connections N"));
    assert_non_null(strstr(r.out, "--max-memory SIZE"));
    cc_completed_free(&r);
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        const char *argv[] = {CONCUR_TOOL, "serve", budgets[i][0],
                              budgets[i][1], NULL};

        run_tool(argv, &r);
        assert_int_equal(r.returncode, 2);
        if (strstr(r.err, budgets[i][2]) == NULL)
            fail_msg("%s %s: stderr '%s'", budgets[i][0], budgets[i][1],
                     (const char *)r.err);
        cc_completed_free(&r);
    }
}

/* Start `concur serve --port 0 [extra...]` (extra: NULL-terminated, or
 * NULL), read "serving on http://...:P". */
static cc_popen *serve(const char *const *extra, int *port)
{
    const char *argv[16] = {CONCUR_TOOL, "serve", "--port", "0"};
    cc_popen_opts o = {0};
    cc_popen *p;
    char line[256];
    size_t n = 0;
    int fd;

    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 11; i++)
        argv[4 + i] = extra[i];
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
    static const char *const log[] = {"--log", NULL};

    (void)state;
    for (int i = 0; i < 2; i++) {
        int port = 0;
        int rc = -1;
        cc_popen *p = serve(i == 0 ? log : NULL, &port);
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

/* `--max-connections=1 --max-memory 1M` (both forms of a value): one
 * kept-alive client is served, a second one gets a 503 with Retry-After
 * at once. */
static void test_budget_options_take_effect(void **state)
{
    static const char *const opts[] = {"--max-connections=1",
                                       "--max-memory", "1M", NULL};
    int port = 0;
    int rc = -1;
    cc_popen *p = serve(opts, &port);
    hresp r;
    hc first;
    hc second;

    (void)state;
    hc_open(&first, port);
    hc_send(&first, "GET /dice HTTP/1.1\r\nHost: x\r\n\r\n");
    hc_read(&first, &r, false);
    assert_int_equal(r.status, 200);
    hresp_free(&r);
    hc_open(&second, port);
    hc_send(&second, "GET /dice HTTP/1.1\r\nHost: x\r\n\r\n");
    hc_read(&second, &r, false);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.retry_after, 1);
    hresp_free(&r);
    hc_close(&second);
    hc_close(&first);
    assert_ok(cc_popen_send_signal(p, SIGTERM));
    assert_ok(cc_popen_wait(p, 30, &rc));
    assert_int_equal(rc, 0);
    cc_popen_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_errors),
        cmocka_unit_test(test_serve_and_signals),
        cmocka_unit_test(test_budget_options_take_effect),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
