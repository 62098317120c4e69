/*
 * rates_common.c - fetch_rates() and present_result() of Expert Python
 * Programming, ch. 6, shared by the rates_* examples.  Nothing here keeps
 * state: every function may run in many threads, tasks and processes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "concur/aio.h"
#include "net_example.h"
#include "rates_common.h"

const char *const rates_symbols[RATES_N] = {"USD", "EUR", "PLN", "NOK",
                                            "CZK"};
const char *const rates_bases[RATES_N] = {"USD", "EUR", "PLN", "NOK", "CZK"};

/* Each request may take this long (the book's requests.get has no limit;
 * a hung service should not hang an example). */
#define FETCH_TIMEOUT 30.0

void rates_url(char *buf, size_t size, const char *base_url, const char *base)
{
    snprintf(buf, size, "%s/rates?base=%s", base_url, base);
}

int rates_from_response(const cc_http_response *r, const char *base,
                        rates_result *out)
{
    cJSON *json;
    cJSON *rates;

    if (cc_http_check(r) != 0) {
        /* a fresh error of our own, with raise_for_status's words */
        cc_fail(errno, "%s", cc_errmsg());
        return -1;
    }
    json = cJSON_ParseWithLength(cc_http_body(r), cc_http_body_len(r));
    rates = cJSON_GetObjectItemCaseSensitive(json, "rates");
    if (!cJSON_IsObject(rates)) {
        cJSON_Delete(json);
        cc_fail(EPROTO, "no \"rates\" object in the answer of %s",
                cc_http_url(r));
        return -1;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->base, sizeof(out->base), "%s", base);
    for (int i = 0; i < RATES_N; i++) {
        const cJSON *rate =
            cJSON_GetObjectItemCaseSensitive(rates, rates_symbols[i]);

        /* note: same currency exchanges to itself 1:1 */
        if (strcmp(rates_symbols[i], base) == 0) {
            out->rates[i] = 1.0;
        } else if (cJSON_IsNumber(rate)) {
            out->rates[i] = rate->valuedouble;
        } else {
            cJSON_Delete(json);
            cc_fail(EPROTO, "no %s rate in the answer of %s", rates_symbols[i],
                    cc_http_url(r));
            return -1;
        }
    }
    cJSON_Delete(json);
    return 0;
}

int rates_fetch(const char *base_url, const char *base, rates_result *out)
{
    char url[512];
    cc_http_response *r;
    int rc;

    rates_url(url, sizeof(url), base_url, base);
    r = cc_http_get(url, FETCH_TIMEOUT);
    if (r == NULL) {
        cc_fail(errno, "%s", cc_errmsg());
        return -1;
    }
    rc = rates_from_response(r, base, out);
    cc_http_response_free(r);
    return rc;
}

void *rates_fetch_job(void *arg)
{
    const char *job = arg;
    const char *space = strchr(job, ' ');
    char base[8];
    rates_result r;

    if (space == NULL || space - job >= (long)sizeof(base))
        return cc_fail(EINVAL, "fetch_rates: bad job '%s'", job);
    memcpy(base, job, (size_t)(space - job));
    base[space - job] = '\0';
    if (rates_fetch(space + 1, base, &r) != 0)
        return NULL;
    return cc_blob_dup(&r, sizeof(r));
}

/*
 * Python's format(v, "7.03"): three significant digits, like %g, but
 * scientific from an exponent of precision - 1 on (100.0 -> "1e+02"), and
 * a fixed-point number keeps one digit after the point ("1.0", "25.0").
 */
static void py_format(double v, int width, int prec, char *buf, size_t size)
{
    char text[64];
    char *e;
    char *end;
    int exp;

    snprintf(text, sizeof(text), "%.*e", prec - 1, v);
    e = strchr(text, 'e');
    if (!isfinite(v) || e == NULL) {
        snprintf(buf, size, "%*s", width, text);
        return;
    }
    exp = atoi(e + 1);
    if (exp < -4 || exp >= prec - 1) {
        /* "1.00e+02" -> "1e+02": drop the mantissa's trailing zeros */
        char exponent[16];

        snprintf(exponent, sizeof(exponent), "%s", e);
        end = e;
        while (end[-1] == '0')
            end--;
        if (end[-1] == '.')
            end--;
        snprintf(end, sizeof(text) - (size_t)(end - text), "%s", exponent);
    } else {
        snprintf(text, sizeof(text), "%.*f", prec - 1 - exp, v);
        end = text + strlen(text);
        if (strchr(text, '.') != NULL) {
            while (end[-1] == '0')
                end--;
            if (end[-1] == '.')
                end++; /* keep one zero after the point */
            *end = '\0';
        } else {
            snprintf(end, sizeof(text) - (size_t)(end - text), ".0");
        }
    }
    snprintf(buf, size, "%*s", width, text);
}

void rates_format(const rates_result *r, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "1 %s =", r->base);

    for (int i = 0; i < RATES_N && used < size; i++) {
        char rate[32];

        py_format(r->rates[i], 7, 3, rate, sizeof(rate));
        used += (size_t)snprintf(buf + used, size - used, "%s %s %s",
                                 i > 0 ? "," : "", rate, rates_symbols[i]);
    }
}

void rates_present(const rates_result *r)
{
    char line[256];

    rates_format(r, line, sizeof(line));
    printf("%s\n", line);
}

void rates_print_elapsed(double start)
{
    printf("\ntime elapsed: %.2fs\n", cc_now() - start);
}

int rates_fail(const char *prog)
{
    fprintf(stderr, "%s: ", prog);
    cc_error_print(cc_last_error(), stderr);
    return EXIT_FAILURE;
}

/* The coroutine examples' main(): what rates_async_main runs in the loop. */
struct gather_args {
    cc_fn fetch;
    const char *base_url;
};

static void *gather_rates(void *arg)
{
    const struct gather_args *g = arg;
    rates_job jobs[RATES_N];
    cc_future *tasks[RATES_N];
    void *results[RATES_N] = {0};
    int spawned = 0;
    int rc;

    for (; spawned < RATES_N; spawned++) {
        jobs[spawned] = (rates_job){g->base_url, rates_bases[spawned]};
        tasks[spawned] = cc_spawn(g->fetch, &jobs[spawned]);
        if (tasks[spawned] == NULL)
            break;
    }
    /* return_errors: wait for all, so that every result can be freed */
    rc = cc_gather(tasks, (size_t)spawned, results, true, CC_FOREVER);
    if (spawned < RATES_N)
        rc = -1; /* cc_spawn's error is the last one */
    for (int i = 0; i < spawned; i++) {
        if (rc == 0 && results[i] == NULL) {
            const cc_error *e = cc_future_error(tasks[i]);

            cc_fail_from(e, cc_error_code(e), "fetching the %s rates failed",
                         rates_bases[i]);
            rc = -1;
        }
        cc_future_free(tasks[i]);
    }
    for (int i = 0; i < RATES_N; i++) {
        if (rc == 0)
            rates_present(results[i]);
        free(results[i]);
    }
    return rc == 0 ? arg : NULL;
}

int rates_async_main(int argc, char **argv, cc_fn fetch)
{
    ex_target target;
    struct gather_args g = {fetch, NULL};
    double start;
    int rc = 0;

    if (ex_target_open(&target, argc, argv, NULL) != 0)
        return 2;
    g.base_url = target.base_url;
    start = cc_now();
    if (cc_run(gather_rates, &g, NULL) == 0)
        rates_print_elapsed(start);
    else
        rc = rates_fail(argv[0]);
    ex_target_close(&target);
    return rc;
}
