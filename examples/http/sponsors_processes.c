/*
 * sponsors_processes - one child process per sponsor page (forked), each
 * storing its page in a dict shared by all the processes, cc_shdict (the
 * blog's multiprocessing.Manager().dict()).  A child whose request fails
 * ends with the error, which it prints as Python's multiprocessing does
 * ("Process Process-17: 403 Client Error: ...").  Rebuilds the
 * multiprocessing version of sponsors.py in the blog post "Concurrent
 * Programming" (Python): as concurrent as the threads, with more to pay
 * per fetch (a process each).
 *
 * Without --base-url the local service serves the pages from a process of
 * its own, started first (ex_target_open_apart), so this process has no
 * other thread when it forks; the children reach the service over TCP like
 * any client.  --base-url URL asks another service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/process.h"
#include "sponsors_common.h"

/* fetch_url(url), in a child: get, raise_for_status, responses[url] =
 * text in the shared dict. */
static void *fetch_url(void *arg)
{
    const sponsors_job *job = arg;
    cc_shdict *responses = job->shared;
    char *text;
    int rc;

    if (sponsors_fetch(job->url, &text) != 0) {
        cc_blob_free(text);
        return NULL; /* the child ends with the error, printing it */
    }
    rc = cc_shdict_set(responses, job->url, text);
    cc_blob_free(text);
    return rc == 0 ? arg
                   : cc_fail_from(cc_last_error(), 0, "storing the page of %s",
                                  job->url);
}

int main(int argc, char **argv)
{
    sponsors s;
    cc_shdict *responses;
    sponsors_job *jobs;
    cc_process **children;
    char **by_url;
    size_t started = 0;
    int rc = EXIT_FAILURE;

    if (sponsors_open(&s, argc, argv, true) != 0)
        return 2;
    responses = cc_shdict_new(0, 0);
    jobs = calloc(s.n, sizeof(*jobs));
    children = calloc(s.n, sizeof(*children));
    by_url = calloc(s.n, sizeof(*by_url));
    if (responses == NULL || jobs == NULL || children == NULL ||
        by_url == NULL)
        goto out;
    /* for url in urls: multiprocessing.Process(target=fetch_url).start() */
    for (; started < s.n; started++) {
        jobs[started] = (sponsors_job){s.urls[started], started, responses};
        children[started] = cc_process_start(fetch_url, &jobs[started], NULL);
        if (children[started] == NULL)
            goto out;
    }
    /* for job in jobs: job.join() -- a failed child has said why */
    for (size_t i = 0; i < s.n; i++)
        if (cc_process_join(children[i], CC_FOREVER) != 0)
            goto out;
    for (size_t i = 0; i < s.n; i++)
        if (cc_shdict_get(responses, s.urls[i], (void **)&by_url[i]) != 0 &&
            errno != ENOENT)
            goto out;
    sponsors_report(&s, cc_shdict_len(responses), by_url);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "%s: ", argv[0]);
        cc_error_print(cc_last_error(), stderr);
    }
    for (size_t i = 0; i < started; i++)
        cc_process_free(children[i]); /* kills and reaps one still running */
    if (by_url != NULL)
        sponsors_free_texts(&s, by_url);
    free(by_url);
    free(children);
    free(jobs);
    cc_shdict_free(responses);
    sponsors_close(&s);
    return rc;
}
