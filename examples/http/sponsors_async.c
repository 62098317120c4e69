/*
 * sponsors_async - one coroutine per sponsor page on a single event loop:
 * the 64 requests are in flight at once on one thread (libcurl's multi
 * interface driven by the loop), gathered with their errors; then the
 * errors, the count and the pages that mention Python, as the sequential
 * version prints them.  The blog post "Concurrent Programming" (Python)
 * ends by pointing at asyncio for this case without a program; this is
 * that program, with the same calls as the threaded versions.
 *
 * Without --base-url the local service serves the pages (on its own thread
 * and loop, in this process); --base-url URL asks another service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "sponsors_common.h"

/* fetch_url(url), a task: the page, or the task fails with the error. */
static void *fetch_url(void *url)
{
    char *text;

    if (sponsors_fetch(url, &text) != 0) {
        cc_blob_free(text);
        return NULL;
    }
    return text;
}

/* main(): gather fetch_url(url) for every URL, then report. */
static void *async_main(void *arg)
{
    const sponsors *s = arg;
    cc_future **tasks = calloc(s->n, sizeof(*tasks));
    char **responses = calloc(s->n, sizeof(*responses));
    size_t spawned = 0;
    size_t n_responses = 0;
    void *rc = NULL;

    if (tasks == NULL || responses == NULL) {
        cc_fail(ENOMEM, "out of memory");
        goto out;
    }
    for (; spawned < s->n; spawned++) {
        tasks[spawned] = cc_spawn(fetch_url, s->urls[spawned]);
        if (tasks[spawned] == NULL)
            break;
    }
    /* gather(..., return_exceptions=True) */
    if (cc_gather(tasks, spawned, (void **)responses, true, CC_FOREVER) != 0 ||
        spawned < s->n)
        goto out;
    for (size_t i = 0; i < s->n; i++) {
        if (responses[i] != NULL)
            n_responses++;
        else
            printf("%s\n", cc_error_message(cc_future_error(tasks[i])));
    }
    printf("\n");
    sponsors_report(s, n_responses, responses);
    rc = arg;
out:
    for (size_t i = 0; i < spawned; i++)
        cc_future_free(tasks[i]);
    if (responses != NULL)
        sponsors_free_texts(s, responses);
    free(responses);
    free(tasks);
    return rc;
}

int main(int argc, char **argv)
{
    sponsors s;
    int rc = 0;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    if (cc_run(async_main, &s, NULL) != 0) {
        fprintf(stderr, "%s: ", argv[0]);
        cc_error_print(cc_last_error(), stderr);
        rc = EXIT_FAILURE;
    }
    sponsors_close(&s);
    return rc;
}
