/*
 * download_site_async - the course notes' asyncio version: a task per
 * site, all gathered with return_exceptions=True; every request is in
 * flight at once on one thread.  aiohttp's one ClientSession is concur's
 * loop itself: its tasks share the loop's connections.
 * Usage: download_site_async [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "concur/base.h"
#include "concur/http.h"
#include "download_site_common.h"
#include "pokemon_common.h"

/* A task: GET one site, print J or R. */
static void *download_site(void *arg)
{
    const char *url = arg;
    cc_http_response *r = cc_http_get(url, 30);

    if (r == NULL)
        return cc_fail_from(cc_last_error(), 0, "download %s", url);
    cc_http_response_free(r);
    putchar(ds_indicator(url));
    fflush(stdout);
    return arg;
}

/* download_all_sites: spawn the tasks, gather them; the result counts the
 * downloads that worked (errors are returned, not raised). */
static void *download_all_sites(void *arg)
{
    char **sites = arg;
    cc_future *tasks[DS_SITES];
    void *results[DS_SITES];
    size_t ok = 0;

    for (int i = 0; i < DS_SITES; i++) {
        tasks[i] = cc_spawn(download_site, sites[i]);
        if (tasks[i] == NULL) {
            for (int j = 0; j < i; j++)
                cc_future_free(tasks[j]);
            return cc_fail_from(cc_last_error(), 0, "spawn");
        }
    }
    cc_gather(tasks, DS_SITES, results, true, CC_FOREVER);
    for (int i = 0; i < DS_SITES; i++) {
        if (results[i] != NULL)
            ok++;
        else
            fprintf(stderr, "\n%s\n", cc_error_message(cc_future_error(tasks[i])));
        cc_future_free(tasks[i]);
    }
    return (void *)(uintptr_t)(ok + 1); /* never NULL */
}

int main(int argc, char **argv)
{
    char *sites[DS_SITES];
    ex_target target;
    void *result;
    double start;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, DS_LATENCY_MIN, DS_LATENCY_MAX);
    if (rc != 0)
        return rc;
    if (ds_sites(target.base_url, sites) != 0) {
        fprintf(stderr, "download_site_async: out of memory\n");
        ex_target_close(&target);
        return 1;
    }
    start = cc_now();
    rc = cc_run(download_all_sites, sites, &result);
    if (rc != 0) {
        fprintf(stderr, "download_site_async: %s\n", cc_errmsg());
    } else {
        size_t ok = (size_t)(uintptr_t)result - 1;
        ds_print_end(ok, cc_now() - start);
        rc = ok == DS_SITES ? 0 : 1;
    }
    ds_sites_free(sites);
    ex_target_close(&target);
    return rc == 0 ? 0 : 1;
}
