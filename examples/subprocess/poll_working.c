/*
 * poll_working - the parent keeps working while its child runs: start
 * `sleep 1` with cc_popen_new, then, as long as cc_popen_poll says the
 * child has not ended, print "Working..." and do a little work (a 0.3 s
 * pause stands for it, so about four lines come out, as in the book);
 * then print the child's exit status.  Rebuilds the Popen/poll program
 * of Effective Python, item 67.
 *
 * cc_popen_poll never blocks: it only asks whether the child has ended.
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "concur/subprocess.h"

/* How long the stand-in for "some time-consuming work" takes. */
#define WORK_SECONDS 0.3

int main(void)
{
    const char *const argv[] = {"sleep", "1", NULL};
    cc_popen *proc = cc_popen_new(argv, NULL);
    int status;
    int rc;

    if (proc == NULL) {
        fprintf(stderr, "poll_working: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    for (;;) {
        rc = cc_popen_poll(proc, &status);
        if (rc != 0)
            break; /* 1: it has ended; -1: an error */
        printf("Working...\n");
        fflush(stdout);
        cc_sleep(WORK_SECONDS); /* some time-consuming work here */
    }
    if (rc < 0) {
        fprintf(stderr, "poll_working: %s\n", cc_errmsg());
        cc_popen_free(proc);
        return EXIT_FAILURE;
    }
    printf("Exit status %d\n", status);
    cc_popen_free(proc);
    return 0;
}
