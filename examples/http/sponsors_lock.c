/*
 * sponsors_lock - one thread per sponsor page, all storing into one shared
 * collection of responses guarded by a lock: `with responses_lock:
 * responses[url] = response.text`.  Rebuilds the threading.Lock version of
 * the blog post "Concurrent Programming" (Python).  The collection is the
 * blog's dict as C has it -- entries appended in the order the answers
 * come -- and appending is a read-modify-write of its length that two
 * threads must not do at once: the lock makes each append whole.
 *
 * Without --base-url the local service serves the pages (in this process,
 * 20-50 ms per answer); --base-url URL asks another service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/sync.h"
#include "sponsors_common.h"

/* responses: the dict, in arrival order.  All fields guarded by lock. */
struct responses {
    cc_lock *lock;
    size_t len;     /* entries so far */
    size_t *index;  /* entry k is the page of urls[index[k]] */
    char **text;    /* entry k's page (a blob) */
};

/* fetch_url(url): get, raise_for_status, then under the lock
 * responses[url] = text. */
static void *fetch_url(void *arg)
{
    const sponsors_job *job = arg;
    struct responses *responses = job->shared;
    char *text;

    if (sponsors_fetch(job->url, &text) != 0) {
        cc_blob_free(text);
        return NULL; /* the thread ends with the error */
    }
    if (cc_lock_acquire(responses->lock, CC_FOREVER) != 0) {
        cc_blob_free(text);
        return cc_fail(errno, "%s", cc_errmsg());
    }
    responses->index[responses->len] = job->index;
    responses->text[responses->len] = text;
    responses->len++;
    cc_lock_release(responses->lock);
    return arg;
}

int main(int argc, char **argv)
{
    sponsors s;
    struct responses responses = {0};
    char **by_url;
    int rc = EXIT_FAILURE;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    responses.lock = cc_lock_new();
    responses.index = calloc(s.n, sizeof(*responses.index));
    responses.text = calloc(s.n, sizeof(*responses.text));
    by_url = calloc(s.n, sizeof(*by_url));
    if (responses.lock != NULL && responses.index != NULL &&
        responses.text != NULL && by_url != NULL &&
        sponsors_threads_run(&s, argv[0], fetch_url, &responses) == 0) {
        /* the threads are joined: the dict is the main thread's now */
        for (size_t k = 0; k < responses.len; k++)
            by_url[responses.index[k]] = responses.text[k];
        sponsors_report(&s, responses.len, by_url);
        rc = 0;
    }
    for (size_t k = 0; k < responses.len; k++)
        cc_blob_free(responses.text[k]);
    free(by_url);
    free(responses.index);
    free(responses.text);
    cc_lock_free(responses.lock);
    sponsors_close(&s);
    return rc;
}
