/*
 * five_processes - five children, each printing its number and its pid;
 * the parent joins them (last started first, as the original pops them
 * off its list) and reports how each ended.  Rebuilds
 * basic_multiprocessing.py of Expert Python Programming, ch. 6: the
 * children's lines come in whatever order the system runs them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "concur/process.h"

enum { PROCESS_COUNT = 5 };

/* A child: the number it was given, as the argument pointer. */
static void *work(void *arg)
{
    int identifier = (int)(intptr_t)arg;

    printf("Hey, I am the process %d, pid: %d\n", identifier, (int)getpid());
    return arg;
}

int main(int argc, char **argv)
{
    cc_process *processes[PROCESS_COUNT];
    int failed = 0;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    for (int number = 0; number < PROCESS_COUNT; number++) {
        processes[number] = cc_process_start(work, (void *)(intptr_t)number,
                                             NULL);
        if (processes[number] == NULL) {
            fprintf(stderr, "five_processes: %s\n", cc_errmsg());
            for (int i = 0; i < number; i++)
                cc_process_free(processes[i]); /* kills and reaps */
            return EXIT_FAILURE;
        }
    }
    /* `while processes: processes.pop().join()` */
    for (int n = PROCESS_COUNT; n > 0; n--) {
        cc_process *p = processes[n - 1];
        int code = -1;

        if (cc_process_join(p, CC_FOREVER) != 0 ||
            cc_process_exitcode(p, &code) != 0) {
            fprintf(stderr, "five_processes: %s\n", cc_errmsg());
            failed++;
        } else {
            printf("joined %s (pid %d): exit code %d\n", cc_process_name(p),
                   (int)cc_process_pid(p), code);
            failed += code != 0;
        }
        cc_process_free(p);
    }
    return failed == 0 ? 0 : EXIT_FAILURE;
}
