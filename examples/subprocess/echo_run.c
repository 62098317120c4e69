/*
 * echo_run - run a program to its end and keep what it printed:
 * cc_subprocess_run of `echo "Hello from the child!"` with its output
 * captured and its exit status checked, then that output printed.
 * Rebuilds the first program of Effective Python, item 67
 * (subprocess.run with capture_output, then check_returncode).
 *
 * No shell is involved: "Hello from the child!" reaches echo as one
 * argument, exactly as written, whatever characters it holds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/subprocess.h"

int main(void)
{
    const char *const argv[] = {"echo", "Hello from the child!", NULL};
    cc_run_opts opts = {
        .capture_output = true, /* stdout and stderr come back as blobs */
        .check = true,          /* a non-zero exit status fails the call */
    };
    cc_completed result;

    if (cc_subprocess_run(argv, &opts, &result) != 0) {
        /* With check, a failed child is an error like any other. */
        fprintf(stderr, "echo_run: %s\n", cc_errmsg());
        cc_completed_free(&result);
        return EXIT_FAILURE;
    }
    /* Python's print(result.stdout): the child's line and print's own
     * newline after it. */
    fwrite(result.out, 1, cc_blob_len(result.out), stdout);
    putchar('\n');
    cc_completed_free(&result);
    return 0;
}
