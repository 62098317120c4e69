/*
 * rates.c - the /rates route's data: a fixed table of exchange rates in the
 * shape of the API the Expert Python seed reads (vatcomply.com:
 * {"base":"USD","date":"...","rates":{"USD":1.0,"EUR":0.823,...}}).
 *
 * Every rate derives from one column, the units of each currency one US
 * dollar buys, so every base is consistent with every other:
 * rate(base -> x) = per_usd(x) / per_usd(base), and the base itself is
 * exactly 1.0.  The five currencies of the seed's matrix are tuned so that
 * its printed table ("1 USD =     1.0 USD,   0.823 EUR,    3.73 PLN, ...",
 * three significant digits) comes out digit for digit for every base.
 * The bodies are built once, at start, with cJSON.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "svc_internal.h"

/* Units of each currency per US dollar; the seed's five first. */
static const struct {
    const char *code;
    double per_usd;
} currencies[] = {
    {"USD", 1.0},      {"EUR", 0.823},    {"PLN", 3.7346},
    {"NOK", 8.503},    {"CZK", 21.523},   {"GBP", 0.7126},
    {"JPY", 109.84},   {"CHF", 0.9087},   {"CAD", 1.2473},
    {"AUD", 1.2951},   {"SEK", 8.4518},   {"DKK", 6.1207},
    {"HUF", 297.41},   {"CNY", 6.4632},   {"INR", 73.215},
    {"BRL", 5.2694},   {"MXN", 19.984},   {"NZD", 1.3922},
    {"SGD", 1.3404},   {"HKD", 7.7627},   {"KRW", 1124.6},
    {"ZAR", 14.107},   {"TRY", 8.4862},   {"ILS", 3.2518},
    {"RON", 4.0611},   {"BGN", 1.6096},   {"ISK", 123.77},
    {"THB", 31.254},   {"PHP", 48.321},   {"IDR", 14378.0},
    {"MYR", 4.1245},
};
#define NCUR (sizeof(currencies) / sizeof(currencies[0]))

/* The date the table claims to be from (the data never changes). */
static const char rates_date[] = "2021-06-18";

/* One base's body, or NULL (ENOMEM). */
static char *build(size_t b)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *rates = NULL;
    char *text = NULL;

    if (root == NULL)
        goto out;
    if (!cJSON_AddStringToObject(root, "base", currencies[b].code) ||
        !cJSON_AddStringToObject(root, "date", rates_date))
        goto out;
    rates = cJSON_AddObjectToObject(root, "rates");
    if (rates == NULL)
        goto out;
    for (size_t i = 0; i < NCUR; i++) {
        double r = i == b ? 1.0
                          : currencies[i].per_usd / currencies[b].per_usd;

        if (!cJSON_AddNumberToObject(rates, currencies[i].code, r))
            goto out;
    }
    text = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    if (text == NULL)
        errno = ENOMEM;
    return text;
}

char **svc_rates_bodies(void)
{
    char **bodies = calloc(NCUR + 1, sizeof(*bodies));

    if (bodies == NULL)
        return NULL;
    for (size_t i = 0; i < NCUR; i++) {
        bodies[i] = build(i);
        if (bodies[i] == NULL) {
            svc_rates_free(bodies);
            errno = ENOMEM;
            return NULL;
        }
    }
    return bodies;
}

void svc_rates_free(char **bodies)
{
    if (bodies == NULL)
        return;
    for (size_t i = 0; bodies[i] != NULL; i++)
        cJSON_free(bodies[i]);
    free(bodies);
}

const char *svc_rates_find(char *const *bodies, const char *base, size_t len)
{
    char up[4];

    if (len != 3)
        return NULL;
    for (size_t i = 0; i < 3; i++)
        up[i] = (char)toupper((unsigned char)base[i]);
    up[3] = '\0';
    for (size_t i = 0; i < NCUR; i++)
        if (memcmp(currencies[i].code, up, 4) == 0)
            return bodies[i];
    return NULL;
}
