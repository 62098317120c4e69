/* test_service_load - the service under many connections and bad input:
 * 1,000 connections open at once, each doing requests (all answered);
 * a fuzz loop of a few thousand random byte strings and random mutations
 * of valid requests, sent in random pieces -- every answer is a
 * well-formed one (400/413/431 for junk), or the connection just closes,
 * and the service keeps serving; no descriptor leaks. */
#include "svc_util.h"

#define NCONN 1000

static void test_thousand_connections(void **state)
{
    int fds = tu_fds();
    svc *s = su_start(NULL);
    hc *c = calloc(NCONN, sizeof(*c));
    unsigned long before = svc_requests(s);

    (void)state;
    assert_non_null(c);
    for (int i = 0; i < NCONN; i++) {
        /* a full backlog may refuse for a moment: retry a little */
        int tries = 0;

        while (hc_try_open(&c[i], svc_port(s), 60 * TU_SLOW) != 0) {
            if (++tries > 100)
                fail_msg("connection %d: %s", i, strerror(errno));
            tu_sleep(0.01);
        }
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NCONN; i++) {
            char req[64];

            snprintf(req, sizeof(req), "GET /pokedex/%d HTTP/1.1\r\n\r\n",
                     1 + (i + round) % 151);
            hc_send(&c[i], req);
        }
        for (int i = 0; i < NCONN; i++) {
            hresp r;

            hc_read(&c[i], &r, false);
            assert_int_equal(r.status, 200);
            hresp_free(&r);
        }
    }
    assert_true(svc_requests(s) - before >= 3 * NCONN);
    for (int i = 0; i < NCONN; i++)
        hc_close(&c[i]);
    free(c);
    svc_stop(s);
    tu_no_fd_leak(fds);
}

/* Valid requests to mutate (no HEAD: the reader could not tell where a
 * mutated HEAD's answer ends). */
static const char *const valid[] = {
    "GET /rates?base=USD HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "GET /pokedex/25 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
    "GET /jython HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    ("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\n\r\n"),
    "GET /sponsors/www.google.com/ HTTP/1.1\r\nUser-Agent: fuzz\r\n\r\n",
};

/* Mutate a valid request in place (buf has room for 2x). */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    int k = 1 + (int)tu_rand_below(4);

    for (int i = 0; i < k && len > 0; i++) {
        size_t at = tu_rand_below((unsigned)len);

        switch (tu_rand_below(5)) {
        case 0: /* flip a byte */
            buf[at] = (char)tu_rand();
            break;
        case 1: /* delete one */
            memmove(buf + at, buf + at + 1, len - at - 1);
            len--;
            break;
        case 2: /* insert one */
            if (len + 1 < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (char)tu_rand();
                len++;
            }
            break;
        case 3: /* cut short */
            len = at;
            break;
        default: /* repeat a piece */
        {
            size_t n = tu_rand_below((unsigned)(len - at)) + 1;

            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                len += n;
            }
        }
        }
    }
    return len;
}

/* Send buf in random pieces, end our side, and read every answer until
 * the close.  Junk (`junk`) may only get 400/413/431. */
static void fuzz_one(int port, const char *buf, size_t len, bool junk)
{
    hc c;
    size_t off = 0;

    hc_open(&c, port);
    while (off < len) {
        size_t n = 1 + tu_rand_below((unsigned)(len - off));

        if (hc_try_send(&c, buf + off, n) != 0)
            break; /* the service may close first: fine */
        off += n;
    }
    shutdown(c.fd, SHUT_WR);
    for (;;) {
        hresp r;

        if (hc_try_read(&c, &r, false) != 0) {
            /* a clean end (or a reset after our junk), never a timeout */
            if (errno == EAGAIN || errno == ETIMEDOUT || errno == EPROTO)
                fail_msg("fuzz: %s after %.60s", strerror(errno), buf);
            break;
        }
        if (junk && r.status != 400 && r.status != 413 && r.status != 431)
            fail_msg("fuzz: junk got %d", r.status);
        if (r.status < 200 || r.status > 599)
            fail_msg("fuzz: status %d", r.status);
        hresp_free(&r);
    }
    hc_close(&c);
}

static void test_fuzz(void **state)
{
    int fds = tu_fds();
    svc *s = su_start(NULL);
    int rounds = TU_SLOW > 1 ? 1000 : 3000;
    char buf[1024];

    (void)state;
    for (int i = 0; i < rounds; i++) {
        size_t len;
        bool junk = i % 2 == 0;

        if (junk) {
            len = 1 + tu_rand_below(300);
            for (size_t k = 0; k < len; k++)
                buf[k] = (char)tu_rand();
            /* never a valid method by chance: start with a non-letter */
            buf[0] = (char)(0x80 | tu_rand_below(0x80));
        } else {
            const char *v = valid[tu_rand_below(sizeof(valid) /
                                                sizeof(valid[0]))];

            len = strlen(v);
            memcpy(buf, v, len);
            len = mutate(buf, len, sizeof(buf));
        }
        fuzz_one(svc_port(s), buf, len, junk);
        if (i % 500 == 0) { /* still serving */
            hresp r;

            su_get(svc_port(s), "GET", "/pokedex/1", &r);
            assert_int_equal(r.status, 200);
            hresp_free(&r);
        }
    }
    {
        hresp r;

        su_get(svc_port(s), "GET", "/rates?base=USD", &r);
        assert_int_equal(r.status, 200);
        hresp_free(&r);
    }
    svc_stop(s);
    tu_no_fd_leak(fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_connections),
        cmocka_unit_test(test_fuzz),
    };

    tu_seed();
    return cmocka_run_group_tests(tests, su_warm_up, NULL);
}
