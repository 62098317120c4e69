/*
 * pool_swap - one program, two back ends: the exchange-rate table of
 * Expert Python Programming, ch. 6 (multiprocessing.Pool, then
 * multiprocessing.dummy's thread Pool behind the same code), with the
 * pool chosen by a flag: --threads (cc_thread_pool_new) or --processes
 * (cc_process_pool_new).  Everything else is the same code, and so is the
 * output apart from the backend line and the time.
 *
 * The book fetched the rates from a web API; here a built-in table of
 * rates against the euro stands in for it, with a 20 ms pause per request
 * in place of the network, so the example runs offline and its figures are
 * exact.  What a task gets and returns are blobs: a currency code in, a
 * line of rates out, which is what lets either pool run it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/process.h"

enum { N = 5, POOL_SIZE = 4 };

static const char *const symbols[N] = {"USD", "EUR", "PLN", "NOK", "CZK"};
static const char *const bases[N] = {"USD", "EUR", "PLN", "NOK", "CZK"};

/* Units of each currency per euro (the stand-in for the web API). */
static const double per_euro[N] = {1.0850, 1.0, 4.3210, 11.6530, 25.1840};

static int index_of(const char *code)
{
    for (int i = 0; i < N; i++)
        if (strcmp(symbols[i], code) == 0)
            return i;
    return -1;
}

/* The task: "fetch" the rates of one base currency and format the line
 * ("1 USD =   0.922 EUR, ..."; the book's f"{rate:7.03}").  Runs in a
 * worker thread or a worker process alike. */
static void *fetch_rates(void *arg)
{
    struct timespec network = {0, 20 * 1000 * 1000};
    char line[256];
    int base = index_of(arg);
    int used;

    if (base < 0)
        return cc_fail(EINVAL, "fetch_rates: unknown currency '%s'",
                       (char *)arg);
    nanosleep(&network, NULL);
    used = snprintf(line, sizeof(line), "1 %s =", bases[base]);
    for (int s = 0; s < N; s++)
        used += snprintf(line + used, sizeof(line) - (size_t)used,
                         "%s %7.3g %s", s > 0 ? "," : "",
                         per_euro[s] / per_euro[base], symbols[s]);
    return cc_blob_strdup(line);
}

int main(int argc, char **argv)
{
    void *args[N];
    void *lines[N];
    cc_executor *pool;
    double start;
    int rc;

    if (argc != 2 || (strcmp(argv[1], "--threads") != 0 &&
                      strcmp(argv[1], "--processes") != 0)) {
        fprintf(stderr, "usage: %s --threads | --processes\n", argv[0]);
        return 2;
    }
    start = cc_now();
    /* The one line that differs (the book's pool_cls). */
    if (strcmp(argv[1], "--threads") == 0)
        pool = cc_thread_pool_new(POOL_SIZE, NULL);
    else
        pool = cc_process_pool_new(POOL_SIZE, NULL);
    if (pool == NULL) {
        fprintf(stderr, "pool_swap: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    printf("backend: %s of %d workers\n", cc_executor_kind(pool),
           cc_executor_max_workers(pool));
    for (int i = 0; i < N; i++)
        args[i] = cc_blob_strdup(bases[i]);
    rc = cc_map(pool, fetch_rates, args, N, 1, lines, CC_FOREVER);
    if (rc != 0) {
        fprintf(stderr, "pool_swap: ");
        cc_error_print(cc_last_error(), stderr);
    }
    cc_executor_free(pool);
    for (int i = 0; i < N; i++) {
        if (rc == 0)
            printf("%s\n", (char *)lines[i]);
        cc_blob_free(lines[i]); /* cc_map's results are ours, either way */
        cc_blob_free(args[i]);
    }
    if (rc != 0)
        return EXIT_FAILURE;
    printf("\ntime elapsed: %.2fs\n", cc_now() - start);
    return 0;
}
