/* test_service_knobs - the service's knobs: a fixed latency delays each
 * answer (and only that connection: 100 delayed requests at once take
 * about one delay, not a hundred), a latency range, the error rate (its
 * share over 1,000 requests, and a seed that repeats the same sequence),
 * the rate limit (429 with Retry-After, a burst of N, refilled in a
 * second), and the request log. */
#include "svc_util.h"

static double timed_get(int port, const char *target)
{
    double t0 = cc_now();
    hresp r;

    su_get(port, "GET", target, &r);
    assert_int_equal(r.status, 200);
    hresp_free(&r);
    return cc_now() - t0;
}

static void test_latency(void **state)
{
    svc_opts o = {0};
    svc *s;
    hc c[100];
    double t0;
    double took;

    (void)state;
    o.latency_min = 0.1;
    s = su_start(&o);
    for (int i = 0; i < 3; i++)
        assert_true(timed_get(svc_port(s), "/pokedex/3") >= 0.099);
    /* 100 at once: they wait side by side. */
    for (int i = 0; i < 100; i++)
        hc_open(&c[i], svc_port(s));
    t0 = cc_now();
    for (int i = 0; i < 100; i++)
        hc_send(&c[i], "GET /rates?base=NOK HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 100; i++) {
        hresp r;

        hc_read(&c[i], &r, false);
        assert_int_equal(r.status, 200);
        hresp_free(&r);
        hc_close(&c[i]);
    }
    took = cc_now() - t0;
    printf("# 100 concurrent 100 ms requests: %.3f s\n", took);
    assert_true(took >= 0.099);
    /* One after another they cannot take less than 100 * 100 ms = 10 s,
     * two at a time 5 s, however fast the machine: that floor, not a
     * guess at how slow a busy machine is, sets the bound.  Side by side
     * they take ~0.15 s, which leaves a busy machine over 4 s. */
    if (took > 100 * 0.1 * 0.45)
        fail_msg("100 concurrent 100 ms requests took %.2f s", took);
    svc_stop(s);
    /* A range: every delay within it (above its low end, at least). */
    o.latency_min = 0.01;
    o.latency_max = 0.03;
    s = su_start(&o);
    for (int i = 0; i < 5; i++)
        assert_true(timed_get(svc_port(s), "/dice") >= 0.0095);
    svc_stop(s);
}

/* The statuses of n requests on one connection, in a 0/1 array (1: 500). */
static int count_errors(svc *s, int n, char *seq)
{
    int errors = 0;
    hc c;

    hc_open(&c, svc_port(s));
    for (int i = 0; i < n; i++) {
        hresp r;

        hc_send(&c, "GET /rates?base=CZK HTTP/1.1\r\n\r\n");
        hc_read(&c, &r, false);
        assert_true(r.status == 200 || r.status == 500);
        if (r.status == 500) {
            assert_non_null(strstr(r.body, "500"));
            errors++;
        }
        if (seq != NULL)
            seq[i] = r.status == 500;
        hresp_free(&r);
    }
    hc_close(&c);
    return errors;
}

static void test_error_rate(void **state)
{
    svc_opts o = {0};
    char a[300];
    char b[300];
    svc *s;
    int e;

    (void)state;
    o.error_rate = 0.3;
    o.seed = (unsigned)tu_seed();
    s = su_start(&o);
    e = count_errors(s, 1000, NULL);
    /* Binomial(1000, 0.3): mean 300, sd 14.5; 200..400 is 7 sd. */
    if (e < 200 || e > 400)
        fail_msg("%d errors in 1000 requests at rate 0.3", e);
    svc_stop(s);
    /* The same seed, the same sequence. */
    o.seed = 12345;
    s = su_start(&o);
    count_errors(s, 300, a);
    svc_stop(s);
    s = su_start(&o);
    count_errors(s, 300, b);
    svc_stop(s);
    assert_memory_equal(a, b, sizeof(a));
    /* 0 and 1 are exact. */
    o.error_rate = 1;
    s = su_start(&o);
    assert_int_equal(count_errors(s, 50, NULL), 50);
    svc_stop(s);
    o.error_rate = 0;
    s = su_start(&o);
    assert_int_equal(count_errors(s, 50, NULL), 0);
    svc_stop(s);
}

static void test_rate_limit(void **state)
{
    svc_opts o = {0};
    svc *s;
    int ok = 0;
    int limited = 0;
    double t0;
    double took;
    hc c;

    (void)state;
    o.rate_limit = 100;
    s = su_start(&o);
    hc_open(&c, svc_port(s));
    t0 = cc_now();
    for (int i = 0; i < 300; i++) {
        hresp r;

        hc_send(&c, "GET /pokedex/9 HTTP/1.1\r\n\r\n");
        hc_read(&c, &r, false);
        if (r.status == 429) {
            limited++;
            assert_int_equal(r.retry_after, 1);
            assert_false(r.close);
        } else {
            assert_int_equal(r.status, 200);
            ok++;
        }
        hresp_free(&r);
    }
    took = cc_now() - t0;
    /* A burst of 100, then 100 a second. */
    assert_true(ok >= 100);
    if (ok > 100 + (int)(took * 100) + 2)
        fail_msg("%d answered in %.2f s at 100/s", ok, took);
    if (took < 1.5)
        assert_true(limited > 0);
    /* After Retry-After, served again. */
    tu_sleep(1.1);
    {
        hresp r;

        hc_send(&c, "GET /pokedex/9 HTTP/1.1\r\n\r\n");
        hc_read(&c, &r, false);
        assert_int_equal(r.status, 200);
        hresp_free(&r);
    }
    hc_close(&c);
    svc_stop(s);
}

static void test_log(void **state)
{
    svc_opts o = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    svc *s;
    hresp r;

    (void)state;
    assert_non_null(f);
    o.log = f;
    s = su_start(&o);
    su_get(svc_port(s), "GET", "/pokedex/4", &r);
    hresp_free(&r);
    su_get(svc_port(s), "GET", "/nope", &r);
    hresp_free(&r);
    svc_stop(s);
    fclose(f);
    /* method target status bytes ms */
    {
        char m[8];
        char t[32];
        int st;
        size_t bytes;
        double ms;

        assert_int_equal(sscanf(text, "%7s %31s %d %zu %lf", m, t, &st,
                                &bytes, &ms), 5);
        assert_string_equal(m, "GET");
        assert_string_equal(t, "/pokedex/4");
        assert_int_equal(st, 200);
        assert_true(bytes > 100);
        assert_true(ms >= 0);
        assert_non_null(strstr(text, "GET /nope 404 "));
    }
    free(text);
}

static void test_bad_opts(void **state)
{
    svc_opts o = {0};

    (void)state;
    o.error_rate = 1.5;
    assert_null_with(svc_start(&o), EINVAL);
    o.error_rate = 0;
    o.latency_min = -1;
    assert_null_with(svc_start(&o), EINVAL);
    o.latency_min = 0;
    o.port = 70000;
    assert_null_with(svc_start(&o), EINVAL);
    /* a port in use */
    {
        svc *s = su_start(NULL);

        o.port = svc_port(s);
        assert_null_with(svc_start(&o), EADDRINUSE);
        svc_stop(s);
    }
    svc_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_error_rate),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_bad_opts),
    };

    return cmocka_run_group_tests(tests, su_warm_up, NULL);
}
