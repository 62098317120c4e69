/* test_http - the HTTP client from a plain thread against the test server
 * (http_server.h): GET, POST, custom methods, request and response
 * headers, the user agent, redirects and their limit (ELOOP), max_body
 * (EMSGSIZE), timeouts and deadline scopes (ETIMEDOUT), refused and
 * unresolvable hosts, invalid URLs, https to a plain server, a malformed
 * answer (EPROTO), answers cut short (ECONNRESET), large bodies,
 * raise_for_status messages, reason phrases, the accessors' argument
 * checks -- and that a thread's requests reuse one connection.  Every
 * test checks that no descriptor leaked. */
#include <math.h>

#include "http_server.h"

static sh_server sv;
static int fds_at_start;

static int setup(void **state)
{
    (void)state;
    /* one request first: libcurl's and the resolver's one-time files */
    cc_http_response_free(cc_http_get(sh_refused_url(), 5));
    cc_http_thread_cleanup();
    fds_at_start = tu_fds();
    sh_start(&sv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cc_http_thread_cleanup();
    sh_stop(&sv);
    tu_no_fd_leak(fds_at_start);
    return 0;
}

#define URL(path) sh_url(&sv, url, sizeof(url), path)

/* A GET: status, reason, body as a C string, URL, elapsed, headers. */
static void test_get(void **state)
{
    char url[128];
    cc_http_response *r = cc_http_get(URL("/status/200"), 10);

    (void)state;
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 200);
    assert_string_equal(cc_http_reason(r), "OK");
    assert_string_equal(cc_http_body(r), "status 200");
    assert_int_equal(cc_http_body_len(r), 10);
    assert_int_equal(cc_blob_len(cc_http_body(r)), 10);
    assert_string_equal(cc_http_url(r), url);
    assert_true(cc_http_elapsed(r) > 0 && cc_http_elapsed(r) < 10);
    assert_string_equal(cc_http_header(r, "content-length"), "10");
    assert_ok(cc_http_check(r));
    cc_http_response_free(r);
}

/* 404 and 500 are responses; check gives requests' messages. */
static void test_check(void **state)
{
    char url[128];
    char want[256];
    cc_http_response *r = cc_http_get(URL("/status/404"), 10);

    (void)state;
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 404);
    assert_string_equal(cc_http_reason(r), "Not Found");
    assert_fails_with(cc_http_check(r), CC_EHTTP);
    /* Its own code: not EBADMSG ("Bad message"), and so named. */
    assert_int_not_equal(errno, EBADMSG);
    assert_string_equal(cc_errname(errno), "CC_EHTTP");
    assert_string_equal(cc_strerror(errno), "HTTP status error");
    snprintf(want, sizeof(want), "404 Client Error: Not Found for url: %s", url);
    assert_string_equal(cc_errmsg(), want);
    cc_http_response_free(r);

    r = cc_http_get(URL("/status/500"), 10);
    assert_non_null(r);
    assert_fails_with(cc_http_check(r), CC_EHTTP);
    snprintf(want, sizeof(want),
             "500 Server Error: Internal Server Error for url: %s", url);
    assert_string_equal(cc_errmsg(), want);
    cc_http_response_free(r);

    r = cc_http_get(URL("/status/299"), 10); /* unknown code: "" */
    assert_non_null(r);
    assert_string_equal(cc_http_reason(r), "");
    assert_ok(cc_http_check(r));
    cc_http_response_free(r);
}

/* POST with a content type; custom methods with and without a body;
 * extra headers and the user agent reach the server. */
static void test_methods_and_headers(void **state)
{
    char url[128];
    const char *hdrs[] = {"X-Hello: world", "Accept: text/x-test", NULL};
    cc_http_opts o = {.method = "PUT", .body = "abc", .body_len = 3,
                      .headers = hdrs, .user_agent = "tester/1"};
    cc_http_response *r;
    const char *b;

    (void)state;
    r = cc_http_post(URL("/echo"), "{\"a\":1}", 7, "application/json", 10);
    assert_non_null(r);
    b = cc_http_body(r);
    assert_true(strncmp(b, "POST /echo\n", 11) == 0);
    assert_non_null(strstr(b, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(b, "Content-Length: 7\r\n"));
    assert_non_null(strstr(b, "User-Agent: concur/"));
    assert_null(strstr(b, "Expect:"));
    assert_true(strcmp(b + cc_http_body_len(r) - 7, "{\"a\":1}") == 0);
    cc_http_response_free(r);

    r = cc_http_request(URL("/echo"), &o);
    assert_non_null(r);
    b = cc_http_body(r);
    assert_true(strncmp(b, "PUT /echo\n", 10) == 0);
    assert_non_null(strstr(b, "X-Hello: world\r\n"));
    assert_non_null(strstr(b, "Accept: text/x-test\r\n"));
    assert_non_null(strstr(b, "User-Agent: tester/1\r\n"));
    assert_non_null(strstr(b, "Content-Type: application/octet-stream\r\n"));
    assert_true(strcmp(b + cc_http_body_len(r) - 3, "abc") == 0);
    cc_http_response_free(r);

    o = (cc_http_opts){.method = "DELETE"};
    r = cc_http_request(URL("/echo"), &o);
    assert_non_null(r);
    assert_true(strncmp(cc_http_body(r), "DELETE /echo\n", 13) == 0);
    cc_http_response_free(r);

    o = (cc_http_opts){.method = "HEAD"};
    r = cc_http_request(URL("/status/200"), &o);
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 200);
    assert_int_equal(cc_http_body_len(r), 0);
    assert_string_equal(cc_http_body(r), "");
    cc_http_response_free(r);

    o = (cc_http_opts){.method = "BAD METHOD"};
    assert_null_with(cc_http_request(URL("/echo"), &o), EINVAL);
}

/* Response headers: case-insensitive, trimmed, first of several, folded
 * lines joined, all of them in order; absent ones ENOENT. */
static void test_response_headers(void **state)
{
    char url[128];
    cc_http_response *r = cc_http_get(URL("/headers"), 10);
    const char *name;
    const char *value;
    size_t n;
    bool saw_second = false;

    (void)state;
    assert_non_null(r);
    assert_string_equal(cc_http_header(r, "x-one"), "1");
    assert_string_equal(cc_http_header(r, "X-TWO"), "spaced");
    assert_string_equal(cc_http_header(r, "X-Dup"), "first");
    assert_string_equal(cc_http_header(r, "X-Fold"), "a b");
    assert_null_with(cc_http_header(r, "X-None"), ENOENT);
    assert_null_with(cc_http_header(r, NULL), EINVAL);
    assert_null_with(cc_http_header(NULL, "X-One"), EINVAL);
    n = cc_http_header_count(r);
    assert_int_equal(n, 6); /* Content-Length and the five */
    for (size_t i = 0; i < n; i++) {
        assert_ok(cc_http_header_at(r, i, &name, &value));
        if (strcmp(name, "X-Dup") == 0 && strcmp(value, "second") == 0)
            saw_second = true;
    }
    assert_true(saw_second);
    assert_fails_with(cc_http_header_at(r, n, &name, &value), ERANGE);
    cc_http_response_free(r);
}

/* Retry-After, read by libcurl: seconds or an HTTP date; -1 when absent,
 * unreadable or on no response. */
static void test_retry_after(void **state)
{
    char url[128];
    cc_http_response *r;

    (void)state;
    r = cc_http_get(URL("/retry-after/7"), 10);
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 503);
    assert_true(cc_http_retry_after(r) == 7);
    cc_http_response_free(r);
    r = cc_http_get(URL("/retry-after/date"), 10);
    assert_non_null(r);
    double after = cc_http_retry_after(r);
    if (!(after > 7000 && after <= 7200))
        fail_msg("an HTTP date two hours ahead gave %g s", after);
    cc_http_response_free(r);
    r = cc_http_get(URL("/retry-after/soon"), 10);
    assert_non_null(r);
    assert_true(cc_http_retry_after(r) == -1);
    cc_http_response_free(r);
    r = cc_http_get(URL("/status/200"), 10);
    assert_non_null(r);
    assert_true(cc_http_retry_after(r) == -1);
    cc_http_response_free(r);
    assert_true(cc_http_retry_after(NULL) == -1);
}

/* Redirects: followed (final URL, final headers only), limited (ELOOP),
 * or not followed at all. */
static void test_redirects(void **state)
{
    char url[128];
    char want[128];
    cc_http_opts o = {.max_redirects = 2};
    cc_http_response *r = cc_http_get(URL("/redirect/3"), 10);

    (void)state;
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 200);
    assert_string_equal(cc_http_body(r), "done");
    assert_string_equal(cc_http_url(r), sh_url(&sv, want, sizeof(want),
                                               "/redirect/0"));
    assert_null(cc_http_header(r, "Location"));
    cc_http_response_free(r);

    assert_null_with(cc_http_request(URL("/redirect/3"), &o), ELOOP);
    assert_non_null(strstr(cc_errmsg(), "GET http://127.0.0.1:"));
    assert_non_null(strstr(cc_errmsg(), "edirects"));
    assert_null_with(cc_http_get(URL("/loop"), 10), ELOOP);

    o.max_redirects = -1;
    r = cc_http_request(URL("/redirect/3"), &o);
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 302);
    assert_string_equal(cc_http_header(r, "Location"), "/redirect/2");
    cc_http_response_free(r);
}

/* A large body arrives whole; max_body cuts it with EMSGSIZE; the body
 * can be taken. */
static void test_big_body(void **state)
{
    char url[128];
    size_t n = 6u << 20;
    cc_http_opts o = {.max_body = 1 << 20};
    cc_http_response *r = cc_http_get(URL("/big/6291456"), 30);
    char *body;

    (void)state;
    assert_non_null(r);
    assert_int_equal(cc_http_body_len(r), n);
    body = cc_http_response_take_body(r);
    assert_non_null(body);
    assert_null(cc_http_body(r));
    assert_null(cc_http_response_take_body(r));
    assert_int_equal(cc_http_body_len(r), 0);
    for (size_t i = 0; i < n; i += 4093)
        assert_int_equal((unsigned char)body[i], sh_byte(i));
    assert_int_equal(body[n], '\0');
    cc_blob_free(body);
    cc_http_response_free(r);

    assert_null_with(cc_http_request(URL("/big/6291456"), &o), EMSGSIZE);
    assert_non_null(strstr(cc_errmsg(), "max_body"));
    o.max_body = 100;
    r = cc_http_request(URL("/big/100"), &o); /* exactly the limit: fine */
    assert_non_null(r);
    cc_http_response_free(r);
}

/* The timeout, and a deadline scope shorter than it: ETIMEDOUT, well
 * before the server would answer. */
static void test_timeout(void **state)
{
    char url[128];
    double t0 = cc_now();

    (void)state;
    assert_null_with(cc_http_get(URL("/delay/3000"), 0.2), ETIMEDOUT);
    assert_non_null(strstr(cc_errmsg(), "GET http://"));
    assert_non_null(strstr(cc_errmsg(), "imed out"));
    /* a timeout that did not fire would have got the answer (not NULL);
     * the bound only catches a hang */
    assert_true(cc_now() - t0 < tu_hang_bound(0.2));

    t0 = cc_now();
    assert_ok(cc_deadline_push(0.2));
    assert_null_with(cc_http_get(URL("/delay/3000"), 30), ETIMEDOUT);
    cc_deadline_pop();
    assert_true(cc_now() - t0 < tu_hang_bound(0.2));

    assert_ok(cc_deadline_push(0));
    assert_null_with(cc_http_get(URL("/status/200"), 30), ETIMEDOUT);
    cc_deadline_pop();
    assert_null_with(cc_http_get(URL("/status/200"), NAN), EINVAL);
    /* a request cannot be made without waiting: timeout 0 is refused, for
     * get and post alike, with a message saying what to pass */
    assert_null_with(cc_http_get(URL("/status/200"), 0), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "timeout 0"));
    assert_null_with(cc_http_post(URL("/echo"), "x", 1, NULL, 0), EINVAL);
    /* any negative timeout is CC_FOREVER */
    cc_http_response *r = cc_http_get(URL("/status/200"), -5);
    assert_non_null(r);
    assert_int_equal(cc_http_status(r), 200);
    cc_http_response_free(r);
}

/* Nobody there, no such name, not a URL, TLS to a plain server. */
static void test_transport_errors(void **state)
{
    char url[128];
    char want[128];

    (void)state;
    assert_null_with(cc_http_get(sh_refused_url(), 10), ECONNREFUSED);
    snprintf(want, sizeof(want), "GET %s: ", sh_refused_url());
    assert_true(strncmp(cc_errmsg(), want, strlen(want)) == 0);
    assert_non_null(strstr(cc_errmsg(), "onnect"));

    assert_null_with(cc_http_get("http://nosuch.invalid/", 10), ENOENT);
    assert_non_null(strstr(cc_errmsg(), "GET http://nosuch.invalid/: "));
    assert_non_null(strstr(cc_errmsg(), "resolve"));

    assert_null_with(cc_http_get(NULL, 10), EINVAL);
    assert_null_with(cc_http_get("ftp://127.0.0.1/", 10), EINVAL);
    assert_string_equal(cc_errmsg(), "GET ftp://127.0.0.1/: not an absolute "
                                     "http:// or https:// URL");
    assert_null_with(cc_http_get("/relative", 10), EINVAL);
    assert_null_with(cc_http_get("http://[::1/", 10), EINVAL);

    snprintf(want, sizeof(want), "https://127.0.0.1:%d/status/200", sv.port);
    assert_null(cc_http_get(want, 10));
    assert_true(errno == EIO || errno == EPROTO);
    assert_non_null(strstr(cc_errmsg(), "GET https://127.0.0.1:"));
    assert_non_null(strstr(cc_errmsg(), "SSL"));
    (void)url;
}

/* Broken answers: a malformed status line, a reset in the middle, a body
 * shorter than announced, no answer at all. */
static void test_broken_answers(void **state)
{
    char url[128];

    (void)state;
    assert_null_with(cc_http_get(URL("/malformed"), 10), EPROTO);
    assert_null_with(cc_http_get(URL("/reset"), 10), ECONNRESET);
    assert_null_with(cc_http_get(URL("/short"), 10), ECONNRESET);
    assert_non_null(strstr(cc_errmsg(), "GET http://127.0.0.1:"));
    assert_null_with(cc_http_get(URL("/nothing"), 10), ECONNRESET);
    /* and the session goes on working */
    cc_http_response_free(cc_http_get(URL("/status/200"), 10));
}

/* Accessors on NULL; free(NULL); the version string. */
static void test_null_args(void **state)
{
    (void)state;
    assert_int_equal(cc_http_status(NULL), 0);
    assert_string_equal(cc_http_reason(NULL), "");
    assert_null_with(cc_http_url(NULL), EINVAL);
    assert_null_with(cc_http_body(NULL), EINVAL);
    assert_int_equal(cc_http_body_len(NULL), 0);
    assert_int_equal(cc_http_header_count(NULL), 0);
    assert_fails_with(cc_http_check(NULL), EINVAL);
    cc_http_response_free(NULL);
    assert_true(strncmp(cc_http_version(), "concur-http/", 12) == 0);
    assert_non_null(strstr(cc_http_version(), " libcurl/"));
}

/* One thread's requests share one kept-alive connection; cleanup closes
 * it and the next request opens another. */
static void test_thread_reuse(void **state)
{
    char url[128];
    int before;

    (void)state;
    cc_http_thread_cleanup();
    before = atomic_load(&sv.accepted);
    for (int i = 0; i < 50; i++) {
        cc_http_response *r = cc_http_get(URL("/status/200"), 10);

        assert_non_null(r);
        cc_http_response_free(r);
    }
    assert_int_equal(atomic_load(&sv.accepted) - before, 1);
    cc_http_thread_cleanup();
    cc_http_response_free(cc_http_get(URL("/status/200"), 10));
    assert_int_equal(atomic_load(&sv.accepted) - before, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_methods_and_headers),
        cmocka_unit_test(test_response_headers),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_big_body),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_broken_answers),
        cmocka_unit_test(test_null_args),
        cmocka_unit_test(test_thread_reuse),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
