/*
 * rates_async_pool - coroutines that keep a blocking HTTP client: each
 * fetch_rates() task hands the blocking GET to the loop's thread pool
 * (cc_to_thread, asyncio's run_in_executor(None, requests.get, url)) and
 * awaits its future, then checks and parses the answer itself; the loop
 * gathers the five tasks.  Rebuilds the executors-and-futures program of
 * Expert Python Programming, ch. 6: "half a loaf is better than none" --
 * as fast as rates_async here, at the cost of a thread per request in
 * flight.
 *
 * Without --base-url the local service answers, in this process, after
 * 20-50 ms per request; --base-url URL asks a real service instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "rates_common.h"

/* requests.get(url): runs on a pool thread, where cc_http_get blocks. */
static void *blocking_get(void *url)
{
    cc_http_response *r = cc_http_get(url, 30.0);

    return r != NULL ? (void *)r : cc_fail(errno, "%s", cc_errmsg());
}

/* fetch_rates(base): a task; returns a rates_result it allocated. */
static void *fetch_rates(void *arg)
{
    const rates_job *job = arg;
    char url[512];
    cc_future *f;
    void *response = NULL;
    rates_result *r;
    int rc;

    rates_url(url, sizeof(url), job->base_url, job->base);
    /* response = await loop.run_in_executor(None, requests.get, url) */
    f = cc_to_thread(blocking_get, url);
    if (f == NULL)
        return NULL;
    rc = cc_future_result(f, &response, CC_FOREVER);
    cc_future_free(f);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), errno, "fetch_rates(%s)",
                            job->base);
    r = malloc(sizeof(*r));
    if (r == NULL)
        cc_fail(ENOMEM, "fetch_rates: out of memory");
    else if (rates_from_response(response, job->base, r) != 0) {
        free(r);
        r = NULL;
    }
    cc_http_response_free(response);
    return r;
}

int main(int argc, char **argv)
{
    return rates_async_main(argc, argv, fetch_rates);
}
