/*
 * fetch_run.c - the five ways of fetching a list of URLs: one after the
 * other, a thread per URL, a thread pool, a process pool, coroutines.
 * Every model runs the same fetch_one per URL; only who runs it changes.
 * The run's state (the throttle, the progress lock and counter) is shared
 * by all workers; each item has exactly one writer.
 */
#include <stdlib.h>
#include <string.h>

#include "concur/aio.h"
#include "concur/process.h"
#include "concur/sync.h"
#include "fetch.h"

enum { DEFAULT_WORKERS = 10 };

/* What every worker of one run shares. */
struct run {
    const char *const *urls;
    size_t n;
    const fetch_opts *o;
    fetch_item *items;
    cc_throttle *throttle;   /* NULL: no rate limit */
    cc_lock *lock;           /* guards done and the progress callback */
    size_t done;             /* finished URLs; guarded by lock */
    fetch_try_fn try_fn;     /* here, or in the process pool */
    void *try_ctx;
    cc_sem *slots;           /* coroutines in flight (NULL: no limit) */
};

/* One URL's job: the run and the index. */
struct job {
    struct run *run;
    size_t i;
};

static const char *const mode_names[] = {
    [FETCH_SYNC] = "sync",
    [FETCH_THREAD_EACH] = "thread-each",
    [FETCH_THREADS] = "threads",
    [FETCH_PROCESSES] = "processes",
    [FETCH_ASYNC] = "async",
};

const char *fetch_mode_name(fetch_mode mode)
{
    if ((size_t)mode >= sizeof(mode_names) / sizeof(mode_names[0]))
        return "?";
    return mode_names[mode];
}

int fetch_mode_parse(const char *name, fetch_mode *mode)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *mode = (fetch_mode)i;
            return 0;
        }
    return -1;
}

void fetch_items_clear(fetch_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].errmsg);
        cc_blob_free(items[i].body);
        items[i].errmsg = NULL;
        items[i].body = NULL;
    }
}

/* Fetch URL i and report it.  The job function of every model: a thread's,
 * a pool's, a task's.  Returns the job (any non-NULL result). */
static void *fetch_job(void *arg)
{
    struct job *job = arg;
    struct run *run = job->run;
    fetch_item *item = &run->items[job->i];

    if (run->slots != NULL && cc_sem_acquire(run->slots, CC_FOREVER) != 0) {
        memset(item, 0, sizeof(*item));
        item->url = run->urls[job->i];
        item->err = errno;
        item->errmsg = strdup(cc_errmsg());
    } else {
        fetch_one(run->urls[job->i], run->o, run->throttle, run->try_fn,
                  run->try_ctx, item);
        if (run->slots != NULL)
            cc_sem_release(run->slots);
    }
    cc_lock_acquire(run->lock, CC_FOREVER);
    run->done++;
    if (run->o->progress != NULL)
        run->o->progress(run->o->progress_arg, item, run->done, run->n);
    cc_lock_release(run->lock);
    return job;
}

/* An item for a job that never ran (its thread or task did not start). */
static void never_ran(struct run *run, size_t i)
{
    fetch_item *item = &run->items[i];

    memset(item, 0, sizeof(*item));
    item->url = run->urls[i];
    item->err = errno != 0 ? errno : EIO;
    item->errmsg = strdup(cc_errmsg());
}

static int run_sync(struct run *run, struct job *jobs)
{
    for (size_t i = 0; i < run->n; i++)
        fetch_job(&jobs[i]);
    return 0;
}

static int run_thread_each(struct run *run, struct job *jobs)
{
    cc_thread **threads = calloc(run->n, sizeof(*threads));

    if (threads == NULL && run->n > 0) {
        cc_fail(ENOMEM, "fetch: out of memory");
        return -1;
    }
    for (size_t i = 0; i < run->n; i++) {
        threads[i] = cc_thread_start(fetch_job, &jobs[i], "fetch");
        if (threads[i] == NULL)
            never_ran(run, i);
    }
    for (size_t i = 0; i < run->n; i++) {
        if (threads[i] != NULL) {
            cc_thread_join(threads[i], NULL, CC_FOREVER);
            cc_thread_free(threads[i]);
        }
    }
    free(threads);
    return 0;
}

/* Start every job as a future -- a job of `pool`, or with pool NULL a
 * task of the calling thread's loop -- then wait for all of them. */
static int run_futures(struct run *run, struct job *jobs, cc_executor *pool)
{
    cc_future **fs = calloc(run->n, sizeof(*fs));

    if (fs == NULL && run->n > 0) {
        cc_fail(ENOMEM, "fetch: out of memory");
        return -1;
    }
    for (size_t i = 0; i < run->n; i++) {
        fs[i] = pool != NULL ? cc_submit(pool, fetch_job, &jobs[i])
                             : cc_spawn(fetch_job, &jobs[i]);
        if (fs[i] == NULL)
            never_ran(run, i);
    }
    for (size_t i = 0; i < run->n; i++) {
        if (fs[i] != NULL) {
            cc_future_result(fs[i], NULL, CC_FOREVER);
            cc_future_free(fs[i]);
        }
    }
    free(fs);
    return 0;
}

static int run_threads(struct run *run, struct job *jobs)
{
    int workers = run->o->workers > 0 ? run->o->workers : DEFAULT_WORKERS;
    cc_pool_opts po = {.thread_name_prefix = "fetch"};
    cc_executor *pool = cc_thread_pool_new(workers, &po);
    int rc;

    if (pool == NULL)
        return -1;
    rc = run_futures(run, jobs, pool);
    cc_executor_free(pool);
    return rc;
}

/* The main task of the coroutine models: one task per URL, all awaited. */
static void *gather_main(void *arg)
{
    struct job *jobs = arg;

    return run_futures(jobs[0].run, jobs, NULL) == 0 ? jobs : NULL;
}

static int run_async(struct run *run, struct job *jobs)
{
    int rc;

    if (run->o->workers > 0) {
        run->slots = cc_sem_new((unsigned)run->o->workers);
        if (run->slots == NULL)
            return -1;
    }
    rc = run->n > 0 ? cc_run(gather_main, jobs, NULL) : 0;
    cc_sem_free(run->slots);
    run->slots = NULL;
    return rc;
}

/* A process pool makes the attempts; the tasks of one loop in this
 * process wait for them (and hold the retry loop and the rate limit). */
static int run_processes(struct run *run, struct job *jobs)
{
    int workers = run->o->workers > 0 ? run->o->workers : DEFAULT_WORKERS;
    cc_pool_opts po = {.thread_name_prefix = "fetch"};
    cc_executor *pool = cc_process_pool_new(workers, &po);
    int rc;

    if (pool == NULL)
        return -1;
    run->try_fn = fetch_try_in_pool;
    run->try_ctx = pool;
    rc = run->n > 0 ? cc_run(gather_main, jobs, NULL) : 0;
    cc_executor_free(pool);
    return rc;
}

int fetch_run(const char *const *urls, size_t n, const fetch_opts *o,
              fetch_item *items)
{
    struct run run = {.urls = urls, .n = n, .o = o, .items = items,
                      .try_fn = fetch_try_here};
    struct job *jobs = calloc(n > 0 ? n : 1, sizeof(*jobs));
    int rc = -1;
    int failed = 0;

    if (jobs == NULL) {
        cc_fail(ENOMEM, "fetch: out of memory");
        return -1;
    }
    run.lock = cc_lock_new();
    if (run.lock == NULL)
        goto err_free_jobs;
    if (o->rate > 0) {
        /* a burst of one: the attempts come evenly spaced, never two at
         * once, from the first (the bucket starts empty) */
        run.throttle = cc_throttle_new(o->rate, 1);
        if (run.throttle == NULL)
            goto err_free_lock;
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i].run = &run;
        jobs[i].i = i;
        memset(&items[i], 0, sizeof(items[i]));
        items[i].url = urls[i];
    }
    switch (o->mode) {
    case FETCH_SYNC:        rc = run_sync(&run, jobs); break;
    case FETCH_THREAD_EACH: rc = run_thread_each(&run, jobs); break;
    case FETCH_THREADS:     rc = run_threads(&run, jobs); break;
    case FETCH_PROCESSES:   rc = run_processes(&run, jobs); break;
    case FETCH_ASYNC:       rc = run_async(&run, jobs); break;
    default:
        cc_fail(EINVAL, "fetch: unknown mode %d", (int)o->mode);
        rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        failed += items[i].err != 0;
    cc_throttle_free(run.throttle);
err_free_lock:
    cc_lock_free(run.lock);
err_free_jobs:
    free(jobs);
    return rc == 0 ? failed : -1;
}
