/*
 * download_site_mpi - the course notes' download_site on a cluster: the 160
 * pages ([jython, dice] * 80) fetched by the MPI executor's worker ranks.
 * A worker rank has no state from main, so each task carries its full URL
 * (where the process pool version sets a session up in an initializer).
 * Rank 0 runs the local service (or uses --base-url: on several hosts give
 * one every rank can reach) and prints, per page in order, the digit of the
 * rank that fetched it (the notes print the worker's), then the count.
 * Run it under mpirun (mpirun -n 3 ./download_site_mpi).
 * Usage: download_site_mpi [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "concur/future.h"
#include "concur/http.h"
#include "concur/mpi.h"
#include "download_site_common.h"
#include "net_example.h"

/* What a task sends back: the body's length and the rank that got it. */
struct page {
    uint64_t len;
    int32_t rank;
};

/* The task, on a worker rank: a URL in (a blob), a page record out. */
static void *download_site(void *arg)
{
    cc_http_response *r = cc_http_get((const char *)arg, 30);
    struct page p;

    if (r == NULL)
        return cc_fail_from(cc_last_error(), 0, "download %s",
                            (const char *)arg);
    p.len = cc_http_body_len(r);
    p.rank = cc_mpi_rank();
    cc_http_response_free(r);
    return cc_blob_dup(&p, sizeof(p));
}

int main(int argc, char **argv)
{
    cc_executor *ex = cc_mpi_main(&argc, &argv, NULL); /* ranks 1.. stay */
    cc_future *fs[DS_SITES];
    ex_target target;
    double start;
    int rc, failed = 0;

    if (ex == NULL) {
        fprintf(stderr, "download_site_mpi: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = ex_target_open_latency(&target, argc, argv, DS_LATENCY_MIN,
                                DS_LATENCY_MAX);
    if (rc != 0) {
        cc_executor_free(ex);
        return rc;
    }
    start = cc_now();
    for (int i = 0; i < DS_SITES; i++) {
        char url[512];
        void *arg;

        snprintf(url, sizeof(url), "%s%s", target.base_url,
                 i % 2 ? "/dice" : "/jython");
        arg = cc_blob_strdup(url);
        fs[i] = arg != NULL ? cc_submit(ex, download_site, arg) : NULL;
        cc_blob_free(arg); /* the executor sent its own copy */
        if (fs[i] == NULL) {
            fprintf(stderr, "download_site_mpi: submit: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }
    for (int i = 0; i < DS_SITES; i++) {
        void *r;
        struct page p;

        if (cc_future_result(fs[i], &r, CC_FOREVER) != 0) {
            if (!failed) {
                fprintf(stderr, "\ndownload_site_mpi: ");
                cc_error_print(cc_last_error(), stderr);
            }
            failed = 1;
        } else {
            memcpy(&p, r, sizeof(p)); /* the future owns r */
            putchar(p.rank >= 0 && p.rank <= 9 ? '0' + p.rank : '?');
            fflush(stdout);
        }
        cc_future_free(fs[i]);
    }
    cc_executor_free(ex); /* the worker ranks exit */
    if (!failed)
        ds_print_end(DS_SITES, cc_now() - start);
    ex_target_close(&target);
    return failed;
}
