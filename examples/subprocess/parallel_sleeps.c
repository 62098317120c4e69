/*
 * parallel_sleeps - children run side by side: start ten `sleep 1`
 * children at once, then wait for each with cc_popen_communicate, and
 * print how long it all took -- about one second, not ten.  Rebuilds the
 * parallel Popen program of Effective Python, item 67.
 *
 * The children have no pipes, so communicate just waits for each to end;
 * by the time the first has, the other nine have (nearly) too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/subprocess.h"

enum { N_CHILDREN = 10 };

/* Print seconds as Python's f"{delta:.3}" does: three significant digits,
 * and at least one digit after the point ("1.0", "1.01"). */
static void print_seconds(double delta)
{
    char text[32];

    snprintf(text, sizeof(text), "%.3g", delta);
    if (strpbrk(text, ".einf") == NULL)
        strcat(text, ".0");
    printf("Finished in %s seconds\n", text);
}

int main(void)
{
    const char *const argv[] = {"sleep", "1", NULL};
    cc_popen *sleep_procs[N_CHILDREN] = {NULL};
    int failed = 0;
    double start = cc_now();

    for (int i = 0; i < N_CHILDREN; i++) {
        sleep_procs[i] = cc_popen_new(argv, NULL);
        if (sleep_procs[i] == NULL) {
            fprintf(stderr, "parallel_sleeps: %s\n", cc_errmsg());
            failed = 1;
            break;
        }
    }
    /* Later: wait for each to finish its I/O and end. */
    for (int i = 0; i < N_CHILDREN && sleep_procs[i] != NULL; i++) {
        int status;

        if (cc_popen_communicate(sleep_procs[i], NULL, 0, CC_FOREVER, NULL,
                                 NULL, &status) != 0) {
            fprintf(stderr, "parallel_sleeps: %s\n", cc_errmsg());
            failed = 1;
        } else if (status != 0) {
            fprintf(stderr, "parallel_sleeps: a child exited %d\n", status);
            failed = 1;
        }
    }
    if (!failed)
        print_seconds(cc_now() - start);
    for (int i = 0; i < N_CHILDREN; i++)
        cc_popen_free(sleep_procs[i]);
    return failed ? EXIT_FAILURE : 0;
}
