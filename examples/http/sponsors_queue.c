/*
 * sponsors_queue - one thread per sponsor page, each putting (url, text)
 * on one queue; once every thread is joined, the main thread reports
 * response_queue.qsize() responses and takes the pages off the queue.  No
 * lock in sight: the queue is the only thing the threads share.  Rebuilds
 * the queue.Queue version of the blog post "Concurrent Programming"
 * (Python).
 *
 * Without --base-url the local service serves the pages (in this process,
 * 20-50 ms per answer); --base-url URL asks another service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/queue.h"
#include "sponsors_common.h"

/* An item of the queue: (url, response.text). */
struct response {
    size_t index; /* of the url in urls */
    char *text;   /* a blob */
};

/* fetch_url(url): get, raise_for_status, response_queue.put(...). */
static void *fetch_url(void *arg)
{
    const sponsors_job *job = arg;
    cc_queue *response_queue = job->shared;
    struct response *item = malloc(sizeof(*item));

    if (item == NULL)
        return cc_fail(ENOMEM, "out of memory");
    item->index = job->index;
    if (sponsors_fetch(job->url, &item->text) != 0 ||
        cc_queue_put(response_queue, item, CC_FOREVER) != 0) {
        cc_blob_free(item->text);
        free(item);
        return NULL; /* the thread ends with the error */
    }
    return arg;
}

int main(int argc, char **argv)
{
    sponsors s;
    cc_queue *response_queue;
    char **by_url;
    void *item;
    int rc = EXIT_FAILURE;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    response_queue = cc_queue_new(0, CC_FIFO);
    by_url = calloc(s.n, sizeof(*by_url));
    if (response_queue != NULL && by_url != NULL &&
        sponsors_threads_run(&s, argv[0], fetch_url, response_queue) == 0) {
        size_t n_responses = cc_queue_size(response_queue);

        /* while not response_queue.empty(): url, response = get() */
        while (cc_queue_get(response_queue, &item, 0) == 0) {
            struct response *r = item;

            by_url[r->index] = r->text;
            free(r);
        }
        sponsors_report(&s, n_responses, by_url);
        sponsors_free_texts(&s, by_url);
        rc = 0;
    }
    free(by_url);
    cc_queue_free(response_queue);
    sponsors_close(&s);
    return rc;
}
