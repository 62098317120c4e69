/*
 * timeout_terminate - don't wait forever for a child: start `sleep 10`,
 * give cc_popen_communicate a tenth of a second, and when that times out
 * (ETIMEDOUT) terminate the child, wait for it to end, and print its
 * return code: -15, minus the number of the signal (SIGTERM) that ended
 * it.  Rebuilds the timeout program of Effective Python, item 67, where
 * communicate(timeout=0.1) raises TimeoutExpired.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "concur/subprocess.h"

int main(void)
{
    const char *const argv[] = {"sleep", "10", NULL};
    cc_popen *proc = cc_popen_new(argv, NULL);
    int status;

    if (proc == NULL) {
        fprintf(stderr, "timeout_terminate: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    if (cc_popen_communicate(proc, NULL, 0, 0.1, NULL, NULL, NULL) != 0) {
        if (errno != ETIMEDOUT) {
            fprintf(stderr, "timeout_terminate: %s\n", cc_errmsg());
            cc_popen_free(proc);
            return EXIT_FAILURE;
        }
        /* The child is still running: end it, then reap it. */
        if (cc_popen_terminate(proc) != 0 ||
            cc_popen_wait(proc, CC_FOREVER, NULL) != 0) {
            fprintf(stderr, "timeout_terminate: %s\n", cc_errmsg());
            cc_popen_free(proc);
            return EXIT_FAILURE;
        }
    }
    if (cc_popen_poll(proc, &status) != 1) {
        fprintf(stderr, "timeout_terminate: the child has not ended\n");
        cc_popen_free(proc);
        return EXIT_FAILURE;
    }
    printf("Exit status %d\n", status);
    cc_popen_free(proc);
    return 0;
}
