/*
 * download_site_threads - the course notes' threading version: 160 pages
 * on a thread pool of five, each thread with a session of its own.  The
 * notes build that with threading.local() and a requests.Session per
 * thread; concur's HTTP client already keeps one per thread (the thread's
 * libcurl handle and its open connections), so download_site just calls
 * cc_http_get.  To show those sessions, each thread counts its requests in
 * a thread-local (cc_tls) and the end prints one count per session.
 * Usage: download_site_threads [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/http.h"
#include "concur/sync.h"
#include "download_site_common.h"
#include "pokemon_common.h"

enum { MAX_WORKERS = 5 };

/* A thread's session record: how many requests it made. */
struct session {
    int requests;
};

static cc_tls *session_tls;         /* this thread's struct session */
static struct session sessions[MAX_WORKERS];
static int n_sessions;              /* guarded by sessions_lock */
static cc_lock *sessions_lock;

/* The notes' get_session(): this thread's session record, made on its
 * first request. */
static struct session *get_session(void)
{
    struct session *s = cc_tls_get(session_tls);

    if (s == NULL) {
        cc_lock_acquire(sessions_lock, CC_FOREVER);
        s = &sessions[n_sessions++]; /* never more than MAX_WORKERS */
        cc_lock_release(sessions_lock);
        cc_tls_set(session_tls, s);
    }
    return s;
}

/* A pool task: GET one site on this thread's session, print J or R. */
static void *download_site(void *arg)
{
    const char *url = arg;
    struct session *s = get_session();
    cc_http_response *r = cc_http_get(url, 30);

    if (r == NULL)
        return cc_fail_from(cc_last_error(), 0, "download %s", url);
    s->requests++;
    cc_http_response_free(r);
    putchar(ds_indicator(url));
    fflush(stdout);
    return arg;
}

int main(int argc, char **argv)
{
    char *sites[DS_SITES];
    void *done[DS_SITES];
    cc_executor *executor;
    ex_target target;
    double start;
    int rc;

    rc = ex_target_open_latency(&target, argc, argv, DS_LATENCY_MIN, DS_LATENCY_MAX);
    if (rc != 0)
        return rc;
    session_tls = cc_tls_new(NULL);
    sessions_lock = cc_lock_new();
    if (session_tls == NULL || sessions_lock == NULL ||
        ds_sites(target.base_url, sites) != 0) {
        fprintf(stderr, "download_site_threads: %s\n", cc_errmsg());
        return 1;
    }
    start = cc_now();
    executor = cc_thread_pool_new(MAX_WORKERS, NULL);
    rc = executor != NULL ? cc_map(executor, download_site, (void **)sites,
                                   DS_SITES, 1, done, CC_FOREVER)
                          : -1;
    if (rc != 0)
        fprintf(stderr, "\ndownload_site_threads: %s\n", cc_errmsg());
    cc_executor_free(executor);
    if (rc == 0) {
        ds_print_end(DS_SITES, cc_now() - start);
        printf("%d sessions, one per pool thread; requests per session:",
               n_sessions);
        for (int i = 0; i < n_sessions; i++)
            printf(" %d", sessions[i].requests);
        printf("\n");
    }
    ds_sites_free(sites);
    cc_lock_free(sessions_lock);
    cc_tls_free(session_tls);
    ex_target_close(&target);
    return rc == 0 ? 0 : 1;
}
