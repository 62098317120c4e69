/*
 * pool_map.c - cc_map on a process pool (process layer): each chunk
 * travels to a worker as one CHUNK message and comes back as one
 * CHUNK_RESULT, so chunksize divides the messages, not just the futures.
 *
 * The caller encodes every chunk (this is where the arguments are copied),
 * queues one future per chunk, collects them in input order and settles
 * them, with cc_map's rules: the first failure by index is reported and
 * what has not started is cancelled; at the deadline pending chunks are
 * cancelled and the results of running ones dropped.  Result blobs land in
 * the job (written by the manager before it completes the chunk's future)
 * and move to the caller's array for every completed chunk; whatever is
 * still in the job when its last reference goes is freed with it.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal/blob.h"
#include "process/pool.h"

void *cc__pool_chunk_marker(void *chunk)
{
    return chunk; /* never called: its address marks a chunk's future */
}

void cc__map_job_unref(cc__map_job *job)
{
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; job->results != NULL && i < job->n; i++)
        cc_blob_free(job->results[i]);
    for (size_t c = 0; job->chunks != NULL && c < job->nchunks; c++)
        cc__buf_free(&job->chunks[c].payload);
    free(job->results);
    free(job->chunks);
    free(job);
}

/* The job and every chunk's payload; NULL with the error recorded. */
static cc__map_job *job_new(const cc__fnref *ref, void **args, size_t n,
                            size_t chunksize, size_t nchunks)
{
    cc__map_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return cc__err_null(ENOMEM, "cc_map: out of memory");
    atomic_init(&job->refs, 1);
    job->n = n;
    job->nchunks = nchunks;
    job->results = calloc(n, sizeof(void *));
    job->chunks = calloc(nchunks, sizeof(cc__map_chunk));
    if (job->results == NULL || job->chunks == NULL)
        goto nomem;
    for (size_t c = 0; c < nchunks; c++) {
        cc__map_chunk *ch = &job->chunks[c];
        size_t size;

        ch->job = job;
        ch->start = c * chunksize;
        ch->end = ch->start + chunksize < n ? ch->start + chunksize : n;
        ch->failed_at = SIZE_MAX;
        size = sizeof(uint64_t) + sizeof(uint16_t) + ref->path_len +
               sizeof(uint32_t);
        for (size_t i = ch->start; i < ch->end; i++)
            size += sizeof(uint64_t) +
                    (args[i] != NULL ? cc_blob_len(args[i]) : 0);
        (void)cc__buf_reserve(&ch->payload, size); /* one malloc, exact */
        cc__fnref_put(&ch->payload, ref);
        cc__buf_put_u32(&ch->payload, (uint32_t)(ch->end - ch->start));
        for (size_t i = ch->start; i < ch->end; i++)
            cc__wire_put_item(&ch->payload, args[i]);
        if (ch->payload.oom)
            goto nomem;
    }
    return job;
nomem:
    cc__map_job_unref(job);
    return cc__err_null(ENOMEM, "cc_map: out of memory");
}

/*
 * Settle chunk c at the end: cancel it if it has not started, move its
 * results to the caller's array if it completed (also when it failed: the
 * items before the failure have theirs).  A chunk still running is left to
 * finish; its results stay in the job and go with it.
 */
static void settle(cc__map_job *job, size_t c, cc_future *f, void **results)
{
    cc__map_chunk *ch = &job->chunks[c];
    bool cancelled = cc__future_cancel(f);

    if (!cancelled && cc_future_done(f)) {
        for (size_t i = ch->start; i < ch->end; i++) {
            results[i] = job->results[i];
            job->results[i] = NULL;
        }
    }
    (void)cc_future_error(f); /* retrieved: cc_map reports it */
    cc_future_free(f);
}

int cc__pool_map(cc_executor *ex, cc_fn fn, void **args, size_t n,
                 size_t chunksize, void **results, double deadline,
                 const char *file, int line)
{
    cc__proc_pool *p = cc__pool_of(ex);
    const cc__fnref *ref = cc__fnref_of(fn, "cc_map");
    size_t nchunks;
    size_t submitted = 0;
    cc__map_job *job;
    cc_future **fs;
    cc_error *failure = NULL; /* a copy of the first failure, if any */
    int failed = 0;           /* its code (kept even if the copy failed) */
    size_t bad_chunk = SIZE_MAX;
    size_t bad_item = SIZE_MAX;

    if (cc__pool_foreign(p))
        return cc__pool_refuse_foreign(p, "cc_map");
    if (ref == NULL)
        return -1;
    if (chunksize > UINT32_MAX) /* a chunk's count is a u32 on the wire */
        chunksize = UINT32_MAX;
    nchunks = n / chunksize + (n % chunksize != 0);
    for (size_t i = 0; i < n; i++)
        if (args[i] != NULL && !cc__blob_check(args[i]))
            return cc__errf(EINVAL, "cc_map: process pool arguments must be "
                                    "blobs (item %zu is not)", i);
    job = job_new(ref, args, n, chunksize, nchunks);
    if (job == NULL)
        return -1;
    fs = calloc(nchunks, sizeof(*fs));
    if (fs == NULL) {
        cc__map_job_unref(job);
        return cc__err(ENOMEM, "cc_map: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;

    for (; submitted < nchunks; submitted++) {
        cc_future *f = cc__future_new_task(ex, cc__pool_chunk_marker,
                                           &job->chunks[submitted]);
        int rc;

        if (f == NULL) {
            failed = ENOMEM;
            failure = cc_error_copy(cc_last_error());
            break;
        }
        atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
        rc = cc__pool_push(p, f);
        if (rc != 0) {
            atomic_fetch_sub_explicit(&job->refs, 1, memory_order_relaxed);
            failed = rc;
            failure = cc_error_copy(cc_last_error());
            cc__future_unref(f);
            cc__future_unref(f);
            break;
        }
        fs[submitted] = f;
    }
    if (failed == 0)
        failed = cc__map_collect(fs, submitted, deadline, &failure,
                                 &bad_chunk);
    if (bad_chunk != SIZE_MAX) /* its future is done: failed_at is set */
        bad_item = job->chunks[bad_chunk].failed_at;
    for (size_t c = 0; c < submitted; c++)
        settle(job, c, fs[c], results);
    free(fs);
    cc__map_job_unref(job);
    return cc__map_result(failed, failure, bad_item, n, file, line);
}
