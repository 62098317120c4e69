/*
 * tour_digest.c - what the answers of a network scenario add up to, as one
 * short text per run: the tour prints it for the sync run and checks that
 * every other model got the same.  Against the local service the expected
 * answers are known (the seeds' own: the blog's first twenty Pokemon, the
 * sponsors seed's "62 responses for 64 URL"), so each digest also says
 * whether they are right.
 */
#include <stdlib.h>
#include <string.h>

#include "tour.h"

static const char *const symbols[] = {"USD", "EUR", "PLN", "NOK", "CZK"};
enum { N_SYMBOLS = 5 };

/* The blog's output: Pokedex numbers 1 to 20. */
static const char *const blog_names[20] = {
    "Bulbasaur", "Ivysaur", "Venusaur", "Charmander", "Charmeleon",
    "Charizard", "Squirtle", "Wartortle", "Blastoise", "Caterpie",
    "Metapod", "Butterfree", "Weedle", "Kakuna", "Beedrill",
    "Pidgey", "Pidgeotto", "Pidgeot", "Rattata", "Raticate",
};

/* The number after "SYM": inside the "rates" object of a JSON body; -1
 * when it is not there.  Enough JSON for this one known shape. */
static double rate_of(const char *body, const char *sym)
{
    const char *rates = body != NULL ? strstr(body, "\"rates\"") : NULL;
    char key[16];
    const char *p;

    if (rates == NULL)
        return -1;
    snprintf(key, sizeof(key), "\"%s\"", sym);
    p = strstr(rates, key);
    if (p == NULL)
        return -1;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    char *end;
    double v = strtod(p, &end);
    return end == p ? -1 : v;
}

void tour_digest_rates(const fetch_item *items, size_t n, bool local,
                       char *buf, size_t size, bool *ok)
{
    size_t bases = 0;
    double sum = 0;

    (void)local;
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        if (items[i].err != 0)
            continue;
        for (int s = 0; s < N_SYMBOLS; s++) {
            double v = rate_of(items[i].body, symbols[s]);
            if (v > 0) {
                found++;
                sum += v;
            }
        }
        bases += found == N_SYMBOLS;
    }
    *ok = bases == n;
    snprintf(buf, size, "%zu bases x 5 rates, sum %.4g", bases, sum);
}

/* The text of the first <h1> of an HTML body, into name; false if none. */
static bool first_h1(const char *html, char *name, size_t size)
{
    const char *open = html != NULL ? strstr(html, "<h1") : NULL;
    const char *start;
    const char *close;

    if (open == NULL || (start = strchr(open, '>')) == NULL)
        return false;
    start++;
    close = strstr(start, "</h1>");
    if (close == NULL || (size_t)(close - start) >= size)
        return false;
    memcpy(name, start, (size_t)(close - start));
    name[close - start] = '\0';
    return name[0] != '\0';
}

void tour_digest_pokemon(const fetch_item *items, size_t n, bool local,
                         char *buf, size_t size, bool *ok)
{
    char first[64] = "?";
    char last[64] = "?";
    char name[64];
    size_t named = 0;
    bool right = true;

    for (size_t i = 0; i < n; i++) {
        if (items[i].err != 0 || !first_h1(items[i].body, name, sizeof(name))) {
            right = false;
            continue;
        }
        named++;
        if (i == 0)
            snprintf(first, sizeof(first), "%s", name);
        if (i == n - 1)
            snprintf(last, sizeof(last), "%s", name);
        if (local && (i >= 20 || strcmp(name, blog_names[i]) != 0))
            right = false;
    }
    *ok = right && named == n;
    snprintf(buf, size, "%zu names, %.16s..%.16s", named, first, last);
}

void tour_digest_sponsors(const fetch_item *items, size_t n, bool local,
                          char *buf, size_t size, bool *ok)
{
    size_t answered = 0;
    size_t forbidden = 0;
    size_t python = 0;

    for (size_t i = 0; i < n; i++) {
        if (items[i].err == 0) {
            answered++;
            python += items[i].grep_hit;
        } else if (items[i].status == 403) {
            forbidden++;
        }
    }
    /* the seed: two sponsors answer 403, "62 responses for 64 URL." */
    *ok = local ? answered == n - 2 && forbidden == 2 : answered > 0;
    snprintf(buf, size, "%zu of %zu answered, %zu say Python", answered, n,
             python);
}

void tour_digest_pages(const fetch_item *items, size_t n, bool local,
                       char *buf, size_t size, bool *ok)
{
    size_t got = 0;
    size_t bytes = 0;

    (void)local;
    for (size_t i = 0; i < n; i++) {
        if (items[i].err == 0 && items[i].bytes > 0) {
            got++;
            bytes += items[i].bytes;
        }
    }
    *ok = got == n;
    char b[32];
    fetch_format_bytes(b, sizeof(b), bytes);
    snprintf(buf, size, "%zu of %zu pages, %s", got, n, b);
}
