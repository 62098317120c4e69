/*
 * sponsors_threads - one thread per sponsor page: the 64 requests wait
 * for their answers at the same time, so the run takes about as long as
 * the slowest one.  A failed request ends its thread with the error, and
 * joining it prints that error as Python prints an exception that ended a
 * thread ("Exception in thread Thread-16:" and the error with its place).
 * Rebuilds the threading version of sponsors.py in the blog post
 * "Concurrent Programming" (Python).
 *
 * The blog stores into one dict from every thread, safe only because of
 * Python's GIL; here each thread owns one slot of an array (responses[i]
 * for urls[i]), and joining the thread hands the slot to the main thread.
 * sponsors_lock and sponsors_queue show the two ways of sharing one
 * collection instead.
 *
 * Without --base-url the local service serves the pages (in this process,
 * 20-50 ms per answer); --base-url URL asks another service.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sponsors_common.h"

/* fetch_url(url): get, raise_for_status, responses[url] = text. */
static void *fetch_url(void *arg)
{
    const sponsors_job *job = arg;
    char **responses = job->shared;
    char *text;

    if (sponsors_fetch(job->url, &text) != 0) {
        cc_blob_free(text);
        return NULL; /* the thread ends with the error */
    }
    responses[job->index] = text; /* this thread's own slot */
    return text;
}

int main(int argc, char **argv)
{
    sponsors s;
    char **responses;
    size_t n_responses = 0;
    int rc = EXIT_FAILURE;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    responses = calloc(s.n, sizeof(*responses));
    if (responses != NULL &&
        sponsors_threads_run(&s, argv[0], fetch_url, responses) == 0) {
        for (size_t i = 0; i < s.n; i++)
            n_responses += responses[i] != NULL;
        sponsors_report(&s, n_responses, responses);
        rc = 0;
    }
    if (responses != NULL)
        sponsors_free_texts(&s, responses);
    free(responses);
    sponsors_close(&s);
    return rc;
}
