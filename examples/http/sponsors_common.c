/*
 * sponsors_common.c - the blog's urls.txt, fetch_url() request, report and
 * pool programs, shared by the sponsors_* examples.  Only main() touches a
 * `sponsors`; the functions that fetch keep no state and run in any
 * thread, task or worker process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "concur/future.h"
#include "concur/http.h"
#include "concur/process.h"
#include "sponsors_common.h"

/* Each request may take this long; a hung page should not hang a run. */
#define FETCH_TIMEOUT 30.0

int sponsors_open(sponsors *s, int argc, char **argv, bool forks)
{
    const char *const *paths = svc_sponsor_paths();
    int rc;

    memset(s, 0, sizeof(*s));
    rc = forks ? ex_target_open_apart(&s->target, argc, argv, NULL)
               : ex_target_open(&s->target, argc, argv, NULL);
    if (rc != 0)
        return -1;
    s->n = svc_sponsor_count();
    s->urls = calloc(s->n, sizeof(*s->urls));
    for (size_t i = 0; s->urls != NULL && i < s->n; i++) {
        size_t len = strlen(s->target.base_url) + strlen(paths[i]) + 1;

        s->urls[i] = malloc(len);
        if (s->urls[i] == NULL)
            break;
        snprintf(s->urls[i], len, "%s%s", s->target.base_url, paths[i]);
    }
    if (s->urls == NULL || s->urls[s->n - 1] == NULL) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        sponsors_close(s);
        return -1;
    }
    return 0;
}

void sponsors_close(sponsors *s)
{
    for (size_t i = 0; s->urls != NULL && i < s->n; i++)
        free(s->urls[i]);
    free(s->urls);
    ex_target_close(&s->target);
    memset(s, 0, sizeof(*s));
}

int sponsors_fetch(const char *url, char **text)
{
    cc_http_response *r = cc_http_get(url, FETCH_TIMEOUT);
    int rc;

    *text = NULL;
    if (r == NULL) {
        cc_fail(errno, "%s", cc_errmsg());
        return -1;
    }
    rc = cc_http_check(r);
    if (rc != 0)
        cc_fail(errno, "%s", cc_errmsg()); /* raise_for_status() */
    *text = cc_http_response_take_body(r);
    cc_http_response_free(r);
    if (*text == NULL && rc == 0) {
        cc_fail(ENOMEM, "out of memory for the page of %s", url);
        return -1;
    }
    return rc;
}

/* 'python' in response.lower() */
static bool mentions_python(const char *text)
{
    static const char word[] = "python";
    size_t len = cc_blob_len(text);

    for (size_t i = 0; i + sizeof(word) - 1 <= len; i++)
        if (strncasecmp(text + i, word, sizeof(word) - 1) == 0)
            return true;
    return false;
}

void sponsors_report(const sponsors *s, size_t n_responses,
                     char *const *texts)
{
    printf("%zu responses for %zu URL.\n", n_responses, s->n);
    for (size_t i = 0; i < s->n; i++)
        if (texts[i] != NULL && mentions_python(texts[i]))
            printf("%s contains the word \"Python\"\n", s->urls[i]);
}

void sponsors_free_texts(const sponsors *s, char **texts)
{
    for (size_t i = 0; i < s->n; i++)
        cc_blob_free(texts[i]);
}

int sponsors_threads_run(const sponsors *s, const char *prog, cc_fn fn,
                         void *shared)
{
    sponsors_job *jobs = calloc(s->n, sizeof(*jobs));
    void **args = calloc(s->n, sizeof(*args));
    cc_thread **threads = calloc(s->n, sizeof(*threads));
    int rc = -1;

    if (jobs == NULL || args == NULL || threads == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        jobs[i] = (sponsors_job){s->urls[i], i, shared};
        args[i] = &jobs[i];
    }
    if (ex_threads_start(prog, threads, (int)s->n, fn, args, NULL) == 0) {
        ex_threads_join(threads, (int)s->n);
        rc = 0;
    }
out:
    free(jobs);
    free(args);
    free(threads);
    return rc;
}

/* fetch_url(url) of the pool programs: print the error of a failed
 * request and return the page anyway (a blob, as a process pool needs). */
static void *fetch_url(void *url)
{
    char *text;

    if (sponsors_fetch(url, &text) != 0) {
        if (text == NULL)
            return NULL; /* no answer: the blog's code would fail here too */
        printf("%s\n", cc_errmsg()); /* print(e) */
        fflush(stdout);              /* a worker process's stdout too */
        cc_error_clear();
    }
    return text;
}

int sponsors_pool_main(int argc, char **argv, bool processes)
{
    sponsors s;
    cc_executor *pool;
    void **args;
    void **results;
    int rc = EXIT_FAILURE;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    args = calloc(s.n, sizeof(*args));
    results = calloc(s.n, sizeof(*results));
    /* pool = ThreadPoolExecutor(max_workers=len(urls)), or the process
     * pool: the one line that differs */
    pool = processes ? cc_process_pool_new((int)s.n, NULL)
                     : cc_thread_pool_new((int)s.n, NULL);
    if (args == NULL || results == NULL || pool == NULL)
        goto out;
    for (size_t i = 0; i < s.n; i++) {
        args[i] = cc_blob_strdup(s.urls[i]); /* blobs cross processes */
        if (args[i] == NULL)
            goto out;
    }
    /* results = pool.map(fetch_url, urls); responses = dict(results) */
    if (cc_map(pool, fetch_url, args, s.n, 1, results, CC_FOREVER) != 0)
        goto out;
    sponsors_report(&s, s.n, (char *const *)results);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "%s: ", argv[0]);
        cc_error_print(cc_last_error(), stderr);
    }
    cc_executor_free(pool);
    for (size_t i = 0; args != NULL && i < s.n; i++)
        cc_blob_free(args[i]);
    if (results != NULL)
        sponsors_free_texts(&s, (char **)results);
    free(args);
    free(results);
    sponsors_close(&s);
    return rc;
}
