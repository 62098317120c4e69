/*
 * forks - one fork, two memories: before the fork the parent records its
 * pid in a list; afterwards each process appends one more pid to its own
 * copy of the list and prints what it knows.  The child's list ends with
 * the child's pid, the parent's with its own pid again: the copies were
 * equal at the fork and diverged after it.  Rebuilds forks.py of Expert
 * Python Programming, ch. 6 (multiprocessing), with cc_process_start
 * instead of a bare os.fork().
 *
 * Unlike the original, the parent waits for the child before printing, so
 * that the output comes in one order every time (two processes writing at
 * once would race for the terminal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "concur/process.h"

/* The list both processes start from: a copy each after the fork. */
static pid_t pid_list[8];
static int pid_count;

static void append_pid(pid_t pid)
{
    if (pid_count < (int)(sizeof(pid_list) / sizeof(pid_list[0])))
        pid_list[pid_count++] = pid;
}

static void print_pids(const char *who)
{
    printf("%s: all the pids I know [", who);
    for (int i = 0; i < pid_count; i++)
        printf("%s%d", i > 0 ? ", " : "", (int)pid_list[i]);
    printf("]\n");
}

/* The child's side of the fork. */
static void *child(void *arg)
{
    (void)arg;
    append_pid(getpid());
    printf("\n");
    printf("CHLD: hey, I am the child process\n");
    print_pids("CHLD");
    return arg;
}

int main(int argc, char **argv)
{
    cc_process *p;
    int code;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    append_pid(getpid());
    p = cc_process_start(child, NULL, NULL);
    if (p == NULL) {
        fprintf(stderr, "forks: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    if (cc_process_join(p, CC_FOREVER) != 0 ||
        cc_process_exitcode(p, &code) != 0 || code != 0) {
        fprintf(stderr, "forks: the child failed: %s\n", cc_errmsg());
        cc_process_free(p);
        return EXIT_FAILURE;
    }
    /* The child's append happened in its own memory, not in ours. */
    append_pid(getpid());
    printf("\n");
    printf("PRNT: hey, I am the parent process\n");
    printf("PRNT: the child pid is %d\n", (int)cc_process_pid(p));
    print_pids("PRNT");
    cc_process_free(p);
    return 0;
}
