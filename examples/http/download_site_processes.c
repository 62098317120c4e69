/*
 * download_site_processes - the course notes' multiprocessing version: a
 * process pool of one worker per CPU whose initializer (the notes'
 * set_global_session) sets each worker up -- here it receives the base URL
 * as its blob, state that main() has and a fresh worker process has not
 * -- and pool.map over the 160 sites.  Each worker prints the last
 * character of its name as the notes do (current_process().name[-1]).
 * Usage: download_site_processes [--base-url URL]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/http.h"
#include "concur/process.h"
#include "download_site_common.h"
#include "pokemon_common.h"

/* The worker's "session": set once by the initializer, in each worker. */
static const char *session_base;

/* The initializer: keep the base URL blob (the pool keeps it alive as
 * long as the worker) and open the worker's session with a first request
 * to the index, as requests.Session() would before its first use. */
static void *set_global_session(void *arg)
{
    char url[512];
    cc_http_response *r;

    if (session_base != NULL)
        return arg;
    session_base = arg;
    snprintf(url, sizeof(url), "%s/", session_base);
    r = cc_http_get(url, 30);
    if (r == NULL)
        return cc_fail_from(cc_last_error(), 0, "set_global_session");
    cc_http_response_free(r);
    return arg;
}

/* A pool task in a worker: the path in (a blob), the body length out. */
static void *download_site(void *arg)
{
    const char *name = cc_process_current_name();
    char url[512];
    cc_http_response *r;
    size_t len;

    snprintf(url, sizeof(url), "%s%s", session_base, (const char *)arg);
    r = cc_http_get(url, 30);
    if (r == NULL)
        return cc_fail_from(cc_last_error(), 0, "download %s", url);
    len = cc_http_body_len(r);
    cc_http_response_free(r);
    putchar(name[0] != '\0' ? name[strlen(name) - 1] : '?');
    fflush(stdout);
    return cc_blob_dup(&len, sizeof(len));
}

int main(int argc, char **argv)
{
    void *paths[DS_SITES];
    void *lengths[DS_SITES];
    cc_pool_opts po;
    cc_executor *pool;
    ex_target target;
    double start;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, DS_LATENCY_MIN, DS_LATENCY_MAX);
    if (rc != 0)
        return rc;
    memset(&po, 0, sizeof(po));
    po.initializer = set_global_session;
    po.initarg = cc_blob_strdup(target.base_url);
    for (int i = 0; i < DS_SITES; i++)
        paths[i] = cc_blob_strdup(i % 2 ? "/dice" : "/jython");
    memset(lengths, 0, sizeof(lengths));
    start = cc_now();
    pool = cc_process_pool_new(0, &po); /* multiprocessing.Pool() */
    rc = pool != NULL ? cc_map(pool, download_site, paths, DS_SITES, 1,
                               lengths, CC_FOREVER)
                      : -1;
    if (rc != 0)
        fprintf(stderr, "\ndownload_site_processes: %s\n", cc_errmsg());
    cc_executor_free(pool);
    if (rc == 0)
        ds_print_end(DS_SITES, cc_now() - start);
    for (int i = 0; i < DS_SITES; i++) {
        cc_blob_free(paths[i]);
        cc_blob_free(lengths[i]); /* cc_map's results are ours */
    }
    cc_blob_free(po.initarg);
    ex_target_close(&target);
    return rc == 0 ? 0 : 1;
}
