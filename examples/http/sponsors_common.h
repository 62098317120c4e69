/*
 * sponsors_common.h - what every sponsors example shares (the blog post
 * "Concurrent Programming" in Python, fetching the PSF sponsors' pages and
 * looking for the word "Python"): the 64 URLs (the local service's sponsor
 * paths after the base URL), fetch_url()'s request, the "python" in
 * response.lower() test and the final report.  The examples differ only
 * in how they run the 64 fetches and where they keep the pages.
 */
#ifndef EXAMPLES_HTTP_SPONSORS_COMMON_H
#define EXAMPLES_HTTP_SPONSORS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "net_example.h"

/* urls.txt of the blog, on the service the example talks to. */
typedef struct sponsors {
    ex_target target;
    size_t n;    /* 64 */
    char **urls; /* base URL + svc_sponsor_paths()[i], in the seed's order */
} sponsors;

/* sponsors_open - the options (net_example.h) and the URLs.  0, or -1
 * after printing why on stderr.  forks: the program will fork children
 * (cc_process), so the local service runs apart (ex_target_open_apart). */
int sponsors_open(sponsors *s, int argc, char **argv, bool forks);

/* sponsors_close - free the URLs, stop the local service. */
void sponsors_close(sponsors *s);

/*
 * sponsors_fetch - requests.get(url) and raise_for_status().  Stores the
 * body, a blob (cc_blob_free) that is also a C string, in *text whenever
 * an answer came, even a 403 (the pool versions of the blog keep those
 * pages too); NULL when none came.  Returns 0 for a status below 400;
 * else -1 with the error recorded by cc_fail: raise_for_status's "403
 * Client Error: Forbidden for url: ..." or the transport's failure.
 * From a thread it blocks; from a task it suspends only the task.
 */
int sponsors_fetch(const char *url, char **text);

/*
 * sponsors_report - the blog's last lines: "<n_responses> responses for
 * 64 URL.", then '<url> contains the word "Python"' for every page in
 * texts[] (indexed like s->urls; NULL: no response) whose lower-case text
 * contains "python".  The pages are listed in urls.txt order, whichever
 * order they arrived in (the blog's dict keeps arrival order, which makes
 * two runs differ for no reason worth showing).
 */
void sponsors_report(const sponsors *s, size_t n_responses,
                     char *const *texts);

/* sponsors_free_texts - cc_blob_free every page of texts[s->n]. */
void sponsors_free_texts(const sponsors *s, char **texts);

/* What each thread of sponsors_threads_run gets. */
typedef struct sponsors_job {
    const char *url;
    size_t index;  /* of url in s->urls */
    void *shared;  /* where the example keeps the pages */
} sponsors_job;

/*
 * sponsors_threads_run - start one thread per URL running fn(job), then
 * join them all (ex_threads_join: a thread that failed is reported as
 * Python reports one).  Returns 0, or -1 when the threads could not be
 * started (after printing why).
 */
int sponsors_threads_run(const sponsors *s, const char *prog, cc_fn fn,
                         void *shared);

/*
 * sponsors_pool_main - the blog's two concurrent.futures programs: a pool
 * of len(urls) workers (processes ? cc_process_pool_new :
 * cc_thread_pool_new) maps fetch_url over the URLs; fetch_url prints a
 * failed request's error and returns the page anyway, so every URL has a
 * response.  Returns main()'s status.
 */
int sponsors_pool_main(int argc, char **argv, bool processes);

#endif
