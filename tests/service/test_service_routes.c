/* test_service_routes - what the local service answers, route by route:
 * /rates (consistent cross rates for every base, the seed's printed matrix
 * digit for digit, unknown bases), /pokedex/N (the blog's names, 404
 * outside 1..151), the 64 sponsor pages (two 403s, the seed's 20 pages
 * that mention Python), /jython, /dice, the index, POST /echo, HEAD, 404
 * and 405. */
#include <cjson/cJSON.h>

#include "svc_util.h"

static svc *S;
static int P;

static int setup(void **state)
{
    su_warm_up(state);
    S = su_start(NULL);
    P = svc_port(S);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    svc_stop(S);
    return 0;
}

/* GET /rates?base=b as parsed JSON (the caller deletes it). */
static cJSON *rates_of(const char *b)
{
    char target[64];
    hresp r;
    cJSON *j;

    snprintf(target, sizeof(target), "/rates?base=%s", b);
    su_get(P, "GET", target, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.type, "application/json"));
    j = cJSON_Parse(r.body);
    assert_non_null(j);
    hresp_free(&r);
    return j;
}

static double rate(cJSON *j, const char *cur)
{
    cJSON *rates = cJSON_GetObjectItemCaseSensitive(j, "rates");
    cJSON *v = cJSON_GetObjectItemCaseSensitive(rates, cur);

    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void close_to(double a, double b)
{
    if (!(a > b * (1 - 1e-9) && a < b * (1 + 1e-9)))
        fail_msg("%.15g is not %.15g", a, b);
}

static void test_rates_consistent(void **state)
{
    static const char *const seed[] = {"USD", "EUR", "PLN", "NOK", "CZK"};
    cJSON *usd = rates_of("USD");
    cJSON *eur = rates_of("EUR");
    cJSON *rates = cJSON_GetObjectItemCaseSensitive(usd, "rates");
    int n = cJSON_GetArraySize(rates);

    (void)state;
    assert_true(n >= 10); /* the seed's five and more */
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(eur, "base")->valuestring, "EUR");
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(eur, "date")));
    assert_true(rate(usd, "EUR") == 0.823);
    assert_true(rate(eur, "EUR") == 1.0);
    close_to(rate(eur, "USD"), 1 / 0.823);
    /* Every base: itself exactly 1.0, and every cross rate agrees with
     * the USD column: rate(b -> x) = usd(x) / usd(b). */
    for (cJSON *c = rates->child; c != NULL; c = c->next) {
        cJSON *b = rates_of(c->string);

        assert_true(rate(b, c->string) == 1.0);
        for (cJSON *x = rates->child; x != NULL; x = x->next)
            if (strcmp(x->string, c->string) != 0)
                close_to(rate(b, x->string), x->valuedouble / c->valuedouble);
        cJSON_Delete(b);
    }
    for (size_t i = 0; i < 5; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(rates, seed[i]));
    cJSON_Delete(usd);
    cJSON_Delete(eur);
}

/* The seed prints f"{rate:7.03}": three significant digits.  Its table,
 * checked cell by cell. */
static void test_rates_seed_matrix(void **state)
{
    static const char *const cur[] = {"USD", "EUR", "PLN", "NOK", "CZK"};
    static const char *const want[5][5] = {
        {"1", "0.823", "3.73", "8.5", "21.5"},
        {"1.22", "1", "4.54", "10.3", "26.2"},
        {"0.268", "0.22", "1", "2.28", "5.76"},
        {"0.118", "0.0968", "0.439", "1", "2.53"},
        {"0.0465", "0.0382", "0.174", "0.395", "1"},
    };

    (void)state;
    for (int b = 0; b < 5; b++) {
        cJSON *j = rates_of(cur[b]);

        for (int x = 0; x < 5; x++) {
            char got[32];

            snprintf(got, sizeof(got), "%.3g", rate(j, cur[x]));
            if (strcmp(got, want[b][x]) != 0)
                fail_msg("1 %s = %s %s, the seed prints %s", cur[b], got,
                         cur[x], want[b][x]);
        }
        cJSON_Delete(j);
    }
}

static void test_rates_errors(void **state)
{
    hresp r;
    cJSON *j;

    (void)state;
    su_get(P, "GET", "/rates?base=XYZ", &r);
    assert_int_equal(r.status, 400);
    j = cJSON_Parse(r.body);
    assert_non_null(j);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
    cJSON_Delete(j);
    hresp_free(&r);
    /* The client's text is escaped into the JSON, never pasted raw. */
    su_get(P, "GET", "/rates?base=%22%7D", &r);
    assert_int_equal(r.status, 400);
    j = cJSON_Parse(r.body);
    assert_non_null(j);
    cJSON_Delete(j);
    hresp_free(&r);
    su_get(P, "GET", "/rates?base=", &r);
    assert_int_equal(r.status, 400);
    hresp_free(&r);
    /* Lower case is fine; no base is EUR, as the real API. */
    j = rates_of("pln");
    assert_true(rate(j, "PLN") == 1.0);
    cJSON_Delete(j);
    su_get(P, "GET", "/rates", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"base\":\"EUR\""));
    hresp_free(&r);
}

/* The text of the first <h1>. */
static void first_h1(const char *html, char *out, size_t n)
{
    const char *a = strstr(html, "<h1>");
    const char *b = a != NULL ? strstr(a, "</h1>") : NULL;

    assert_non_null(b);
    snprintf(out, n, "%.*s", (int)(b - a - 4), a + 4);
}

static void test_pokedex(void **state)
{
    static const char *const blog[20] = {
        "Bulbasaur", "Ivysaur", "Venusaur", "Charmander", "Charmeleon",
        "Charizard", "Squirtle", "Wartortle", "Blastoise", "Caterpie",
        "Metapod", "Butterfree", "Weedle", "Kakuna", "Beedrill", "Pidgey",
        "Pidgeotto", "Pidgeot", "Rattata", "Raticate"};
    static const char *const missing[] = {"/pokedex/0", "/pokedex/152",
                                          "/pokedex/1000", "/pokedex/-1",
                                          "/pokedex/abc", "/pokedex/1x",
                                          "/pokedex/"};
    char target[32];
    char name[64];
    hresp r;

    (void)state;
    for (int i = 1; i <= 20; i++) {
        snprintf(target, sizeof(target), "/pokedex/%d", i);
        su_get(P, "GET", target, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.type, "text/html"));
        first_h1(r.body, name, sizeof(name));
        assert_string_equal(name, blog[i - 1]);
        hresp_free(&r);
    }
    su_get(P, "GET", "/pokedex/25", &r);
    first_h1(r.body, name, sizeof(name));
    assert_string_equal(name, "Pikachu");
    hresp_free(&r);
    su_get(P, "GET", "/pokedex/151", &r);
    first_h1(r.body, name, sizeof(name));
    assert_string_equal(name, "Mew");
    hresp_free(&r);
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        su_get(P, "GET", missing[i], &r);
        if (r.status != 404)
            fail_msg("%s: %d", missing[i], r.status);
        hresp_free(&r);
    }
}

static void test_sponsors(void **state)
{
    const char *const *paths = svc_sponsor_paths();
    int forbidden = 0;
    int python = 0;
    int ok = 0;
    size_t n = 0;

    (void)state;
    assert_int_equal(svc_sponsor_count(), 64);
    while (paths[n] != NULL)
        n++;
    assert_int_equal(n, 64);
    assert_string_equal(paths[0], "/sponsors/research.fb.com/");
    assert_string_equal(paths[63], "/sponsors/www.surveymonkey.com/");
    for (size_t i = 0; i < n; i++) {
        hresp r;

        assert_int_equal(strncmp(paths[i], "/sponsors/", 10), 0);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(paths[i], paths[k]);
        su_get(P, "GET", paths[i], &r);
        if (r.status == 403) {
            forbidden++;
            assert_true(strstr(paths[i], "enthought") != NULL ||
                        strstr(paths[i], "acties") != NULL);
        } else {
            assert_int_equal(r.status, 200);
            ok++;
            /* the seed: 'python' in response.lower() */
            if (strcasestr(r.body, "python") != NULL)
                python++;
        }
        hresp_free(&r);
    }
    assert_int_equal(forbidden, 2);
    assert_int_equal(ok, 62);     /* "62 responses for 64 URL." */
    assert_int_equal(python, 20); /* the seed's sequential run */
    /* Two of its list, and one it leaves out. */
    {
        hresp r;

        su_get(P, "GET", "/sponsors/aws.amazon.com/", &r);
        assert_non_null(strcasestr(r.body, "python"));
        hresp_free(&r);
        su_get(P, "GET", "/sponsors/www.datacamp.com", &r); /* no slash */
        assert_non_null(strcasestr(r.body, "python"));
        hresp_free(&r);
        su_get(P, "GET", "/sponsors/www.google.com/", &r);
        assert_int_equal(r.status, 200);
        assert_null(strcasestr(r.body, "python"));
        hresp_free(&r);
        su_get(P, "GET", "/sponsors/nosuch.example/", &r);
        assert_int_equal(r.status, 404);
        hresp_free(&r);
    }
}

static void test_pages(void **state)
{
    hresp r;
    hresp h;

    (void)state;
    su_get(P, "GET", "/jython", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.body_len > 10000);
    assert_non_null(strstr(r.body, "Jython"));
    /* HEAD: the same length, no body (the next answer on the connection
     * starts right after the headers). */
    {
        hc c;

        hc_open(&c, P);
        hc_send(&c, "HEAD /jython HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /dice HTTP/1.1\r\nHost: x\r\n\r\n");
        hc_read(&c, &h, true);
        assert_int_equal(h.status, 200);
        assert_int_equal(h.content_length, (long)r.body_len);
        hresp_free(&h);
        hc_read(&c, &h, false);
        assert_int_equal(h.status, 200);
        assert_non_null(strstr(h.body, "You rolled a "));
        hresp_free(&h);
        hc_close(&c);
    }
    hresp_free(&r);
    su_get(P, "GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "/rates"));
    assert_non_null(strstr(r.body, "/pokedex/"));
    hresp_free(&r);
}

static void test_not_found_and_methods(void **state)
{
    hresp r;
    hc c;
    static const char body[] = "a\0b\r\n\r\nGET / HTTP/1.1\r\n";
    char req[256];
    int n;

    (void)state;
    su_get(P, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    hresp_free(&r);
    su_get(P, "DELETE", "/", &r);
    assert_int_equal(r.status, 405);
    hresp_free(&r);
    su_get(P, "PUT", "/rates?base=USD", &r);
    assert_int_equal(r.status, 405);
    hresp_free(&r);
    su_get(P, "GET", "/echo", &r);
    assert_int_equal(r.status, 405);
    hresp_free(&r);
    /* POST /echo: the body back, byte for byte (NULs, CRLFs). */
    hc_open(&c, P);
    n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: %zu\r\n\r\n", sizeof(body) - 1);
    assert_ok(hc_try_send(&c, req, (size_t)n));
    assert_ok(hc_try_send(&c, body, sizeof(body) - 1));
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(body) - 1);
    assert_memory_equal(r.body, body, sizeof(body) - 1);
    hresp_free(&r);
    /* chunked too */
    hc_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    hc_read(&c, &r, false);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    hresp_free(&r);
    hc_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_consistent),
        cmocka_unit_test(test_rates_seed_matrix),
        cmocka_unit_test(test_rates_errors),
        cmocka_unit_test(test_pokedex),
        cmocka_unit_test(test_sponsors),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_not_found_and_methods),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
