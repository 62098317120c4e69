/*
 * mpi_worker.c - a worker rank's loop: receive a task from rank 0, run it,
 * send back its result blob or its error chain; exit when rank 0 says stop.
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

/* Run one task message; its reply goes into out. */
static void run_task(const void *data, int len, cc__mbuf *out)
{
    cc__mrd r = { data, (size_t)len, false };
    uint64_t id = cc__mrd_u64(&r);
    cc_error *err = NULL;
    cc_fn fn = cc__mpi_fnref_get(&r, &err);
    uint64_t has_arg = cc__mrd_u64(&r);
    uint64_t arg_len = cc__mrd_u64(&r);
    const char *arg_bytes = cc__mrd_bytes(&r, arg_len);
    void *arg = NULL, *result = NULL;

    cc__mbuf_u64(out, id);
    if (fn != NULL && (r.bad || (has_arg && arg_bytes == NULL))) {
        err = cc_error_new(EPROTO, NULL, "malformed task message");
        fn = NULL;
    }
    if (fn != NULL && has_arg) {
        arg = cc_blob_dup(arg_bytes, arg_len);
        if (arg == NULL) {
            err = cc_error_new(ENOMEM, NULL, "no memory for the argument");
            fn = NULL;
        }
    }
    if (fn != NULL) {
        cc_error_clear();
        result = fn(arg);
        if (result == NULL && cc_error_pending() != NULL)
            err = cc_error_copy(cc_error_pending());
        else if (result != NULL && !cc_blob_is(result))
            err = cc_error_new(EINVAL, NULL, "the task's result is not a "
                               "blob (concur/base.h): an MPI task returns a "
                               "blob or NULL");
        cc_error_clear();
        cc_blob_free(arg);
    }
    if (err != NULL) {
        cc__mbuf_u64(out, 1);
        cc__mpi_error_put(out, err);
        cc_error_free(err);
        if (result != NULL && cc_blob_is(result))
            cc_blob_free(result);
        return;
    }
    cc__mbuf_u64(out, 0);
    cc__mbuf_u64(out, result != NULL);
    cc__mbuf_u64(out, result ? cc_blob_len(result) : 0);
    if (result != NULL) {
        cc__mbuf_put(out, result, cc_blob_len(result));
        cc_blob_free(result);
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
        free(data);
        if (out.failed) {   /* the result did not fit in memory: say so */
            cc__mrd r = { out.data, out.len, false };
            uint64_t tid = cc__mrd_u64(&r);
            cc_error *e = cc_error_new(ENOMEM, NULL, "no memory to send the "
                                       "task's result");
            cc__mbuf_free(&out);
            out = (cc__mbuf){ 0 };
            cc__mbuf_u64(&out, tid);
            cc__mbuf_u64(&out, 1);
            cc__mpi_error_put(&out, e);
            cc_error_free(e);
        }
        MPI_Send(out.data, (int)out.len, MPI_BYTE, 0, CC__MPI_TAG_RESULT,
                 comm);
        cc__mbuf_free(&out);
    }
}
