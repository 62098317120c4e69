/*
 * rates_async - the five fetches as five coroutines on one event loop in
 * one thread, gathered: each cc_http_get suspends only its task while the
 * loop drives all five transfers (libcurl's multi interface on the loop's
 * epoll), so the run takes about one round trip with no thread per
 * request.  Rebuilds async_aiohttp.py of Expert Python Programming,
 * ch. 6: get_rates() is the same blocking-looking call the threaded
 * examples make -- in concur the call itself knows it runs in a task, so
 * there is no separate aiohttp.
 *
 * Without --base-url the local service answers (on its own thread and
 * loop, in this process) after 20-50 ms per request; --base-url URL asks a
 * real service instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "rates_common.h"

/* get_rates(session, base): a task; returns a rates_result it allocated.
 * (The session is the loop's: its connections are kept between tasks.) */
static void *get_rates(void *arg)
{
    const rates_job *job = arg;
    rates_result *r = malloc(sizeof(*r));

    if (r == NULL)
        return cc_fail(ENOMEM, "get_rates: out of memory");
    if (rates_fetch(job->base_url, job->base, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

int main(int argc, char **argv)
{
    return rates_async_main(argc, argv, get_rates);
}
