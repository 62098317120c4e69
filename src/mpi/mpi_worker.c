/*
 * mpi_worker.c - a worker rank's loop: receive a task from rank 0 (one
 * item, or a cc_map chunk of several), run it item by item, send back the
 * result blobs and, if an item failed, its error chain; exit when rank 0
 * says stop.
 * A task's failure is its future's error, never the rank's: the rank serves
 * on.  Waiting for work polls MPI_Iprobe with a back-off of up to 1 ms so
 * that an idle worker rank does not spin a core.
 */
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>

#include "mpi/mpi_int.h"

static void *recv_message(MPI_Comm comm, int *tag, int *len)
{
    MPI_Status st;
    int flag = 0;
    long nap = 1;
    void *data;
    double spin_until = cc_now() + CC__MPI_SPIN_S;
    unsigned probes = 0;

    for (;;) {
        MPI_Iprobe(0, MPI_ANY_TAG, comm, &flag, &st);
        if (flag)
            break;
        if (cc_now() < spin_until) {
            if (++probes % CC__MPI_YIELD_EVERY == 0)
                sched_yield(); /* ranks may outnumber the cores */
            continue;
        }
        cc__mpi_nap(nap);
        nap = nap < 1000 ? nap * 2 : 1000;
    }
    MPI_Get_count(&st, MPI_BYTE, len);
    data = malloc(*len > 0 ? (size_t)*len : 1);
    if (data == NULL)
        abort();    /* a worker rank that cannot take a message cannot go on */
    MPI_Recv(data, *len, MPI_BYTE, 0, st.MPI_TAG, comm,
             MPI_STATUS_IGNORE);
    *tag = st.MPI_TAG;
    return data;
}

/* Run fn on one item's bytes (NULL: a NULL argument); its result blob or
 * NULL, with *err set (owned by the caller) when it failed. */
static void *run_item(cc_fn fn, const char *bytes, uint64_t len, bool has,
                      cc_error **err)
{
    void *arg = NULL, *result;

    if (has && (arg = cc_blob_dup(bytes, len)) == NULL) {
        *err = cc_error_new(ENOMEM, NULL, "no memory for the argument");
        return NULL;
    }
    cc_error_clear();
    result = fn(arg);
    if (result == NULL && cc_error_pending() != NULL) {
        *err = cc_error_copy(cc_error_pending());
    } else if (result != NULL && !cc_blob_is(result)) {
        *err = cc_error_new(EINVAL, NULL, "the task's result is not a blob "
                            "(concur/base.h): an MPI task returns a blob or "
                            "NULL");
        result = NULL; /* not ours to free: we cannot tell what it is */
    }
    cc_error_clear();
    cc_blob_free(arg);
    return result;
}

/*
 * Run one task message (id, function reference, count, the items) item by
 * item, stopping at the first failure; its reply goes into out: the id,
 * how long the items ran (ns: the manager sizes its windows by it), how
 * many succeeded, their results, then 0, or 1 and the failing item's
 * error chain.
 */
static void run_task(const void *data, int len, cc__mbuf *out)
{
    cc__mrd r = { data, (size_t)len, false };
    uint64_t id = cc__mrd_u64(&r);
    cc_error *err = NULL;
    cc_fn fn = cc__mpi_fnref_get(&r, &err);
    uint64_t count = cc__mrd_u64(&r);
    uint64_t done = 0;
    size_t done_at, ns_at = out->len + sizeof id;
    double start = cc_now();
    uint64_t ns;

    cc__mbuf_u64(out, id);
    cc__mbuf_u64(out, 0); /* the run time, filled in at the end */
    done_at = out->len;
    cc__mbuf_u64(out, 0); /* done, filled in at the end */
    if (fn != NULL && (r.bad || count == 0))
        err = cc_error_new(EPROTO, NULL, "malformed task message");
    for (; err == NULL && done < count; done++) {
        uint64_t has = cc__mrd_u64(&r);
        uint64_t arg_len = cc__mrd_u64(&r);
        const char *bytes = cc__mrd_bytes(&r, arg_len);
        void *result;

        if (r.bad) {
            err = cc_error_new(EPROTO, NULL, "malformed task message");
            break;
        }
        result = run_item(fn, bytes, arg_len, has != 0, &err);
        if (err != NULL)
            break;
        cc__mbuf_u64(out, result != NULL);
        cc__mbuf_u64(out, result ? cc_blob_len(result) : 0);
        if (result != NULL) {
            cc__mbuf_put(out, result, cc_blob_len(result));
            cc_blob_free(result);
        }
    }
    ns = (uint64_t)((cc_now() - start) * 1e9);
    if (!out->failed) {
        memcpy(out->data + done_at, &done, sizeof done);
        memcpy(out->data + ns_at, &ns, sizeof ns);
    }
    cc__mbuf_u64(out, err != NULL);
    if (err != NULL) {
        cc__mpi_error_put(out, err);
        cc_error_free(err);
    }
}

void cc__mpi_serve(int rank, MPI_Comm comm)
{
    cc__mbuf hello = { 0 };
    uint64_t id[2];
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int host_len = 0;

    cc__mpi_build_id(rank, id);
    MPI_Get_processor_name(host, &host_len);
    cc__mbuf_u64(&hello, id[0]);
    cc__mbuf_u64(&hello, id[1]);
    cc__mbuf_put(&hello, host, strlen(host));
    if (hello.failed)
        abort();
    MPI_Send(hello.data, (int)hello.len, MPI_BYTE, 0, CC__MPI_TAG_HELLO, comm);
    cc__mbuf_free(&hello);
    for (;;) {
        int tag, len;
        void *data = recv_message(comm, &tag, &len);
        cc__mbuf out = { 0 };

        if (tag != CC__MPI_TAG_TASK) {
            free(data);
            break;
        }
        run_task(data, len, &out);
        if (out.failed) {   /* the results did not fit in memory: say so */
            cc__mrd r = { data, (size_t)len, false };
            uint64_t tid = cc__mrd_u64(&r);
            cc_error *e = cc_error_new(ENOMEM, NULL, "no memory to send the "
                                       "task's results");
            cc__mbuf_free(&out);
            out = (cc__mbuf){ 0 };
            cc__mbuf_u64(&out, tid);
            cc__mbuf_u64(&out, 0);  /* run time: unknown */
            cc__mbuf_u64(&out, 0);  /* none done */
            cc__mbuf_u64(&out, 1);
            cc__mpi_error_put(&out, e);
            cc_error_free(e);
        }
        free(data);
        MPI_Send(out.data, (int)out.len, MPI_BYTE, 0, CC__MPI_TAG_RESULT,
                 comm);
        cc__mbuf_free(&out);
    }
}
