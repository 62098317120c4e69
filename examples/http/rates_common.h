/*
 * rates_common.h - what every exchange-rates example shares (Expert Python
 * Programming, ch. 6): the currencies, fetch_rates() (GET
 * /rates?base=XXX, raise_for_status, the JSON's "rates" through cJSON,
 * rates[base] = 1.0), present_result() with the book's {rate:7.03}
 * columns, and the "time elapsed" line.  The examples differ only in how
 * they run the five fetches.
 */
#ifndef EXAMPLES_HTTP_RATES_COMMON_H
#define EXAMPLES_HTTP_RATES_COMMON_H

#include <stddef.h>

#include "concur/http.h"

enum { RATES_N = 5 };

/* SYMBOLS and BASES of the book: the same five currencies. */
extern const char *const rates_symbols[RATES_N];
extern const char *const rates_bases[RATES_N];

/*
 * One answer: 1 `base` = rates[i] of rates_symbols[i].  Plain bytes with
 * no pointers, so it can travel as a blob between processes.
 */
typedef struct rates_result {
    char base[8];
    double rates[RATES_N];
} rates_result;

/*
 * rates_from_response - the book's fetch_rates() after requests.get():
 * raise_for_status, parse the JSON, take the five rates (the base's own
 * set to 1.0).  Returns 0, or -1 with the error recorded by cc_fail (so a
 * task that returns NULL next fails with it): the HTTP error as
 * raise_for_status words it ("500 Server Error: ... for url: ..."), or
 * EPROTO for an answer that is not the JSON expected.
 */
int rates_from_response(const cc_http_response *r, const char *base,
                        rates_result *out);

/* rates_fetch - fetch_rates(base) from `base_url`: cc_http_get, then
 * rates_from_response.  From a thread it blocks; from a task it suspends
 * only the task.  0, or -1 with the error recorded by cc_fail. */
int rates_fetch(const char *base_url, const char *base, rates_result *out);

/* rates_fetch_job - the pool task of the pool examples: fetch_rates(base)
 * for the job text "<base> <base url>", run by a worker thread or a worker
 * process alike.  Returns a blob of one rates_result (the caller frees it
 * with cc_blob_free), or NULL with the error (EINVAL for a bad job). */
void *rates_fetch_job(void *arg);

/* rates_url - base_url + "/rates?base=" + base into buf (size bytes). */
void rates_url(char *buf, size_t size, const char *base_url,
               const char *base);

/* rates_format - "1 USD =     1.0 USD,   0.823 EUR, ..." into buf. */
void rates_format(const rates_result *r, char *buf, size_t size);

/* rates_present - the book's present_result(): print that line (one
 * printf, so lines from several threads never mix). */
void rates_present(const rates_result *r);

/* rates_print_elapsed - print() and "time elapsed: 0.33s" since `start`
 * (a cc_now() reading). */
void rates_print_elapsed(double start);

/* A fetch task's argument: which base, from where. */
typedef struct rates_job {
    const char *base_url;
    const char *base;
} rates_job;

/*
 * rates_async_main - main() of the coroutine examples: the options and
 * the service, then asyncio.run(main()) where main() spawns fetch(job)
 * for the five bases (fetch returns a malloc'd rates_result, or fails),
 * gathers them and presents the results in order; then "time elapsed".
 * Returns main()'s status (2 for bad options).
 */
int rates_async_main(int argc, char **argv, cc_fn fetch);

/* rates_fail - report a failure of main()'s own calls ("<prog>: <error>")
 * and return EXIT_FAILURE. */
int rates_fail(const char *prog);

#endif
