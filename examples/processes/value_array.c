/*
 * value_array - a number and an array in memory shared with a child
 * process (multiprocessing's Value('d', 0.0) and Array('i', range(10))):
 * the child sets the number to 3.1415927 and negates the array, and the
 * parent, after joining it, sees both changes.  Rebuilds the sharedctypes
 * example of Expert Python Programming, chapter 6.
 *
 * The child is made with plain fork() in start_child() until
 * cc_process_start is merged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/process.h"

enum { N = 10 };

/* What Value('d') and Array('i', 10) hold, laid out in one cc_shared. */
struct num_arr {
    double num;
    int arr[N];
};

/* The child's work, under the lock that Value and Array carry. */
static int f(cc_shared *mem)
{
    struct num_arr *s = cc_shared_ptr(mem);

    if (cc_plock_acquire(cc_shared_lock(mem), 10) != 0)
        return 1;
    s->num = 3.1415927;
    for (int i = 0; i < N; i++)
        s->arr[i] = -s->arr[i];
    return cc_plock_release(cc_shared_lock(mem)) == 0 ? 0 : 1;
}

/* Fork a child that runs f(mem) and exits with its result. */
static pid_t start_child(cc_shared *mem)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int code = f(mem);

        fflush(NULL);
        _exit(code);
    }
    return pid;
}

/* Print a double as Python's repr does: the shortest text that reads
 * back as the same number. */
static void print_repr(double x)
{
    char buf[32];

    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    printf("%s\n", buf);
}

int main(void)
{
    cc_shared *mem = cc_shared_new(sizeof(struct num_arr), true);
    struct num_arr *s;
    int status;
    pid_t pid;

    if (mem == NULL) {
        fprintf(stderr, "value_array: %s\n", cc_errmsg());
        return 1;
    }
    s = cc_shared_ptr(mem);
    s->num = 0.0;
    for (int i = 0; i < N; i++)
        s->arr[i] = i;

    pid = start_child(mem);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "value_array: the child failed\n");
        return 1;
    }

    print_repr(s->num);
    printf("[");
    for (int i = 0; i < N; i++)
        printf("%s%d", i > 0 ? ", " : "", s->arr[i]);
    printf("]\n");
    cc_shared_free(mem);
    return 0;
}
