/* test_service_proto - HTTP/1.1 as the service speaks it: 1,000 requests
 * on one keep-alive connection, 50 pipelined in one write (answered in
 * order), HTTP/1.0 with and without keep-alive, "Connection: close", 400
 * for garbage request lines and header syntax (then a close); the strict
 * rules a server behind a proxy needs against request smuggling (400 for
 * a space in a header name, obs-fold and a missing version, 505 for other
 * versions, 501 for a Transfer-Encoding other than chunked, 400 for one
 * with a Content-Length; 400 for what llhttp and http-parser read
 * differently: an empty header name, a bare LF, a malformed version), in
 * one write and byte by byte, while ordinary
 * requests (HEAD, pipelining, chunked POSTs) still pass; 431 for 64
 * KiB of headers, 413 for bodies past the limit (Content-Length and
 * chunked), 408 for a request that does not arrive within read_timeout,
 * idle connections closed, and svc_stop with connections open in every
 * state (no hang, no descriptor left). */
#include "svc_util.h"

static void test_keep_alive_1000(void **state)
{
    svc *s = su_start(NULL);
    unsigned long before = svc_requests(s);
    hc c;

    (void)state;
    hc_open(&c, svc_port(s));
    for (int i = 0; i < 1000; i++) {
        hresp r;

        hc_send(&c, i % 2 ? "GET /rates?base=USD HTTP/1.1\r\nHost: x\r\n\r\n"
                          : "GET /pokedex/7 HTTP/1.1\r\nHost: x\r\n\r\n");
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_false(r.close);
        hresp_free(&r);
    }
    hc_close(&c);
    assert_true(svc_requests(s) - before >= 1000);
    svc_stop(s);
}

static void test_pipelining_50(void **state)
{
    svc *s = su_start(NULL);
    char *all = malloc(50 * 128);
    size_t len = 0;
    hc c;

    (void)state;
    for (int i = 1; i <= 50; i++)
        len += (size_t)sprintf(all + len, i % 10 == 0
                               ? "HEAD /pokedex/%d HTTP/1.1\r\nHost: x\r\n\r\n"
                               : "GET /pokedex/%d HTTP/1.1\r\nHost: x\r\n\r\n",
                               i);
    hc_open(&c, svc_port(s));
    assert_ok(hc_try_send(&c, all, len)); /* one write */
    for (int i = 1; i <= 50; i++) {
        hresp r;
        char want[64];

        hc_read(&c, &r, i % 10 == 0);
        assert_int_equal(r.status, 200);
        if (i % 10 != 0) {
            /* in order: answer i is about Pokemon i */
            snprintf(want, sizeof(want), "entry %03d of", i);
            assert_non_null(strstr(r.body, want));
        }
        hresp_free(&r);
    }
    /* The answers to a pipeline that outruns the socket buffers: 200
     * pages of 11 KiB written before reading any. */
    len = 0;
    free(all);
    all = malloc(200 * 64);
    for (int i = 0; i < 200; i++)
        len += (size_t)sprintf(all + len, "GET /jython HTTP/1.1\r\n\r\n");
    assert_ok(hc_try_send(&c, all, len));
    tu_sleep(0.2);
    for (int i = 0; i < 200; i++) {
        hresp r;

        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_true(r.body_len > 10000);
        hresp_free(&r);
    }
    free(all);
    hc_close(&c);
    svc_stop(s);
}

static void test_http10_and_close(void **state)
{
    svc *s = su_start(NULL);
    hresp r;
    hc c;

    (void)state;
    /* HTTP/1.0: closed after the answer. */
    hc_open(&c, svc_port(s));
    hc_send(&c, "GET /pokedex/1 HTTP/1.0\r\n\r\n");
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    assert_true(r.close);
    hresp_free(&r);
    assert_true(hc_closed(&c));
    hc_close(&c);
    /* HTTP/1.0 asking for keep-alive: kept, and said so. */
    hc_open(&c, svc_port(s));
    for (int i = 0; i < 3; i++) {
        hc_send(&c, "GET /dice HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_true(r.keep_alive);
        hresp_free(&r);
    }
    hc_close(&c);
    /* HTTP/1.1 "Connection: close": answered, then closed -- and what was
     * pipelined after it is not answered. */
    hc_open(&c, svc_port(s));
    hc_send(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /dice HTTP/1.1\r\nConnection: close\r\n\r\n"
                "GET /jython HTTP/1.1\r\n\r\n");
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    assert_false(r.close);
    hresp_free(&r);
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    assert_true(r.close);
    hresp_free(&r);
    assert_fails_with(hc_try_read(&c, &r, false), ENODATA);
    assert_int_equal(c.len, 0);
    hc_close(&c);
    svc_stop(s);
}

/* Send len bytes, all in one write or (bytewise) one byte a write, so
 * that the service reads them in as many pieces as it can. */
static void send_request(hc *c, const char *req, size_t len, bool bytewise)
{
    for (size_t off = 0; off < len;) {
        size_t n = bytewise ? 1 : len - off;

        if (hc_try_send(c, req + off, n) != 0)
            fail_msg("send: %s", strerror(errno));
        off += n;
    }
}

/* Send `req` (len bytes, maybe bytewise), expect an answer `status` with
 * "Connection: close", then the close. */
static void expect_error_sent(int port, const char *req, size_t len,
                              int status, bool bytewise)
{
    hresp r;
    hc c;

    hc_open(&c, port);
    send_request(&c, req, len, bytewise);
    hc_read(&c, &r, false);
    if (r.status != status)
        fail_msg("'%.60s...'%s: %d, expected %d", req,
                 bytewise ? " (bytewise)" : "", r.status, status);
    assert_true(r.close);
    hresp_free(&r);
    assert_true(hc_closed(&c));
    hc_close(&c);
}

/* Send `req` (len bytes), expect an answer `status` with
 * "Connection: close", then the close. */
static void expect_error(int port, const char *req, size_t len, int status)
{
    expect_error_sent(port, req, len, status, false);
}

/* Each of reqs, in one write and bytewise, gets `status` and a close. */
static void expect_errors(const char *const *reqs, size_t n, int status)
{
    svc *s = su_start(NULL);

    for (size_t i = 0; i < n; i++) {
        expect_error_sent(svc_port(s), reqs[i], strlen(reqs[i]), status,
                          false);
        expect_error_sent(svc_port(s), reqs[i], strlen(reqs[i]), status,
                          true);
    }
    svc_stop(s);
}

static void test_bad_requests(void **state)
{
    static const char *const bad[] = {
        "HELLO WORLD\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "GET / XTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello */
        "GET /\x01 HTTP/1.1\r\n\r\n",
    };
    svc *s = su_start(NULL);

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(svc_port(s), bad[i], strlen(bad[i]), 400);
    /* A good request after garbage on another connection still works. */
    {
        hresp r;

        su_get(svc_port(s), "GET", "/", &r);
        assert_int_equal(r.status, 200);
        hresp_free(&r);
    }
    svc_stop(s);
}

/* A header name must be a token: whitespace before the colon (which a
 * proxy may read as another header's name) is a 400, not "Host". */
static void test_space_in_header_name_is_400(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n",
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n"),
        "GET / HTTP/1.1\r\nX Y: z\r\n\r\n",
    };

    (void)state;
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 400);
}

/* A line that starts with a space or a tab (obs-fold, RFC 9112 5.2) is a
 * 400: folded lines are read differently by different parsers. */
static void test_obs_fold_is_400(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A:\r\n b\r\n\r\n", /* the value all folded */
        "GET / HTTP/1.1\n X-A: a\n\n",            /* before any header */
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: identity\r\n chunked"
         "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    };

    (void)state;
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 400);
}

/* A request line without a version (HTTP/0.9's "GET /") is a 400. */
static void test_request_line_without_version_is_400(void **state)
{
    static const char *const bad[] = {
        "GET /\r\n\r\n",
        "GET /\n\n",
        "GET /pokedex/1\r\nHost: x\r\n\r\n",
    };

    (void)state;
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 400);
}

/* What the two request parsers read differently, refused by both: a
 * header with an empty name (llhttp takes it), a line of the head that
 * ends in a bare LF, a version other than HTTP/DIGIT.DIGIT (http-parser
 * takes any letters for "TTP/" and leading zeros), a fourth word. */
static void test_what_the_parsers_disagree_on_is_400(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n:\r\n\r\n",
        "GET / HTTP/1.1\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\n",
        "GET / HTge/1.1\r\n\r\n",
        "GET / HTTP01.1\r\n\r\n",
        "GET / HTTP/01.1\r\n\r\n",
        "GET / HTTP/10.1\r\n\r\n",
        "GET / HTTP/1.1x\r\n\r\n",
        "GET / HTTP/1.1 x\r\n\r\n",
    };

    (void)state;
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 400);
}

/* Only HTTP/1.0 and HTTP/1.1 are spoken: any other version is a 505. */
static void test_other_versions_are_505(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/9.9\r\n\r\n",
        "GET / HTTP/0.9\r\n\r\n",
        "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    };

    (void)state;
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 505);
}

/* Transfer-Encoding must be exactly "chunked": any other coding, or
 * chunked under another, is a 501; with a Content-Length as well, a 400
 * (RFC 9112 6.1: the two framings disagree, the smuggler's favourite). */
static void test_transfer_encoding_other_than_chunked_is_501(void **state)
{
    static const char *const unknown_codings[] = {
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n"
        "\r\n3\r\nabc\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n",
        /* http-parser frames only a value that ends right after "chunked" */
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n",
    };
    static const char *const bad[] = {
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
        "Content-Length: 3\r\n\r\nabc",
    };

    (void)state;
    expect_errors(unknown_codings,
                  sizeof(unknown_codings) / sizeof(unknown_codings[0]), 501);
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]), 400);
}

/* What the strict rules must let through: HEAD, keep-alive, pipelined
 * GETs, POST /echo with a chunked body ("Chunked" in any case, after
 * spaces and tabs) or a Content-Length, an empty header value, and all
 * of it sent one byte at a time. */
static void test_strict_rules_pass_ordinary_requests(void **state)
{
    static const char pipeline[] =
        "GET /pokedex/1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /pokedex/2 HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
        "\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        "POST /echo HTTP/1.1\r\nTransfer-Encoding:\t Chunked\r\n"
        "X-Empty:\r\nAccept:  */*\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
        "GET /dice HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    svc *s = su_start(NULL);

    (void)state;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        hresp r;
        hc c;

        hc_open(&c, svc_port(s));
        send_request(&c, pipeline, strlen(pipeline), bytewise);
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "Bulbasaur"));
        hresp_free(&r);
        hc_read(&c, &r, true);
        assert_int_equal(r.status, 200);
        assert_true(r.content_length > 0);
        hresp_free(&r);
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello world");
        hresp_free(&r);
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "abc");
        hresp_free(&r);
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "body");
        hresp_free(&r);
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_true(r.keep_alive);
        assert_false(r.close);
        hresp_free(&r);
        hc_close(&c);
    }
    svc_stop(s);
}

static void test_limits(void **state)
{
    svc_opts o = {0};
    svc *s;
    char *big = malloc(80 * 1024);
    size_t len;

    (void)state;
    o.max_body_bytes = 1000;
    s = su_start(&o);
    /* 64 KiB of headers (the default limit is 16 KiB) */
    len = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; len < 64 * 1024; i++)
        len += (size_t)sprintf(big + len, "X-Fill-%d: %0100d\r\n", i, i);
    len += (size_t)sprintf(big + len, "\r\n");
    expect_error(svc_port(s), big, len, 431);
    /* a 17 KiB target */
    len = (size_t)sprintf(big, "GET /");
    memset(big + len, 'a', 17 * 1024);
    len += 17 * 1024;
    len += (size_t)sprintf(big + len, " HTTP/1.1\r\n\r\n");
    expect_error(svc_port(s), big, len, 431);
    /* a body past max_body_bytes, announced or chunked */
    len = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nContent-Length: "
                               "2000\r\n\r\n");
    memset(big + len, 'b', 2000);
    expect_error(svc_port(s), big, len + 2000, 413);
    len = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nTransfer-Encoding: "
                               "chunked\r\n\r\n");
    for (int i = 0; i < 10; i++) {
        len += (size_t)sprintf(big + len, "c8\r\n");
        memset(big + len, 'c', 200);
        len += 200;
        len += (size_t)sprintf(big + len, "\r\n");
    }
    len += (size_t)sprintf(big + len, "0\r\n\r\n");
    expect_error(svc_port(s), big, len, 413);
    /* just under the limits: fine */
    {
        hresp r;
        hc c;

        hc_open(&c, svc_port(s));
        len = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nContent-Length: "
                                   "1000\r\n\r\n");
        memset(big + len, 'd', 1000);
        assert_ok(hc_try_send(&c, big, len + 1000));
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 1000);
        hresp_free(&r);
        len = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
        for (int i = 0; len < 15 * 1024; i++)
            len += (size_t)sprintf(big + len, "X-Fill-%d: %0100d\r\n", i, i);
        len += (size_t)sprintf(big + len, "\r\n");
        assert_ok(hc_try_send(&c, big, len));
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        hresp_free(&r);
        hc_close(&c);
    }
    free(big);
    svc_stop(s);
}

static void test_timeouts(void **state)
{
    svc_opts o = {0};
    svc *s;
    hresp r;
    hc c;
    double t0;

    (void)state;
    o.read_timeout = 0.3;
    s = su_start(&o);
    /* A partial request: 408 after read_timeout, then closed. */
    hc_open(&c, svc_port(s));
    t0 = cc_now();
    hc_send(&c, "GET /pokedex/1 HTTP/1.1\r\nHost:");
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 408);
    assert_true(r.close);
    assert_true(cc_now() - t0 >= 0.25);
    hresp_free(&r);
    assert_true(hc_closed(&c));
    hc_close(&c);
    /* Trickling bytes do not stretch the time limit (slowloris). */
    hc_open(&c, svc_port(s));
    t0 = cc_now();
    hc_send(&c, "GET /pokedex/1 HTTP/1.1\r\n");
    for (int i = 0; i < 8; i++) {
        tu_sleep(0.05);
        if (hc_try_send(&c, "X-A: b\r\n", 8) != 0)
            break;
    }
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 408);
    hresp_free(&r);
    hc_close(&c);
    /* Idle connections, fresh or after an answer: closed, nothing said. */
    hc_open(&c, svc_port(s));
    t0 = cc_now();
    assert_fails_with(hc_try_read(&c, &r, false), ENODATA);
    assert_int_equal(c.len, 0);
    assert_true(cc_now() - t0 >= 0.25);
    hc_close(&c);
    hc_open(&c, svc_port(s));
    hc_send(&c, "GET /dice HTTP/1.1\r\n\r\n");
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    hresp_free(&r);
    assert_fails_with(hc_try_read(&c, &r, false), ENODATA);
    assert_int_equal(c.len, 0);
    hc_close(&c);
    svc_stop(s);
}

/* svc_stop with connections idle, mid-request, mid-answer (a long
 * latency) and pipelining: returns in a bounded time; every client sees
 * its connection end; no descriptor is left behind. */
static void test_stop_with_connections(void **state)
{
    int fds = tu_fds();
    svc_opts o = {0};
    svc *s;
    hc c[40];
    double t0;

    (void)state;
    o.latency_min = 30; /* an answer in progress sleeps past the stop */
    s = su_start(&o);
    for (int i = 0; i < 40; i++) {
        hc_open(&c[i], svc_port(s));
        switch (i % 4) {
        case 0: break; /* idle */
        case 1: hc_send(&c[i], "GET /pokedex/1 HTTP/1.1\r\nHo"); break;
        case 2: hc_send(&c[i], "GET /pokedex/1 HTTP/1.1\r\n\r\n"); break;
        default:
            hc_send(&c[i], "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        }
    }
    tu_sleep(0.2); /* let the service take them all */
    t0 = cc_now();
    svc_stop(s);
    assert_true(cc_now() - t0 < 10 * TU_SLOW);
    for (int i = 0; i < 40; i++) {
        assert_true(hc_closed(&c[i]));
        hc_close(&c[i]);
    }
    tu_no_fd_leak(fds);
}

/* svc_stop with only idle keep-alive clients does not sit out its grace:
 * they are closed at once (what every example that stops the service while
 * a thread keeps its connection alive relies on). */
static void test_stop_closes_idle_at_once(void **state)
{
    int fds = tu_fds();
    hc c[20];
    hresp r;
    svc *s;
    double best = 1e9;

    (void)state;
    for (int round = 0; round < 3; round++) { /* best of 3: a busy machine */
        double t0;

        s = su_start(NULL);
        for (int i = 0; i < 20; i++) {
            hc_open(&c[i], svc_port(s));
            hc_send(&c[i], "GET /pokedex/25 HTTP/1.1\r\nHost: x\r\n\r\n");
            hc_read(&c[i], &r, false);
            assert_int_equal(r.status, 200);
            hresp_free(&r);
        }
        t0 = cc_now();
        svc_stop(s);
        if (cc_now() - t0 < best)
            best = cc_now() - t0;
        for (int i = 0; i < 20; i++) {
            assert_true(hc_closed(&c[i]));
            hc_close(&c[i]);
        }
    }
    assert_true(best < 0.5); /* the grace is 1 s */
    tu_no_fd_leak(fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_1000),
        cmocka_unit_test(test_pipelining_50),
        cmocka_unit_test(test_http10_and_close),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_space_in_header_name_is_400),
        cmocka_unit_test(test_obs_fold_is_400),
        cmocka_unit_test(test_request_line_without_version_is_400),
        cmocka_unit_test(test_what_the_parsers_disagree_on_is_400),
        cmocka_unit_test(test_other_versions_are_505),
        cmocka_unit_test(test_transfer_encoding_other_than_chunked_is_501),
        cmocka_unit_test(test_strict_rules_pass_ordinary_requests),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_stop_with_connections),
        cmocka_unit_test(test_stop_closes_idle_at_once),
    };

    return cmocka_run_group_tests(tests, su_warm_up, NULL);
}
