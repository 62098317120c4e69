/*
 * value_array - a number and an array in memory shared with a child
 * process (multiprocessing's Value('d', 0.0) and Array('i', range(10))):
 * the child sets the number to 3.1415927 and negates the array, and the
 * parent, after joining it, sees both changes.  Rebuilds the sharedctypes
 * example of Expert Python Programming, chapter 6.
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/process.h"

enum { N = 10 };

/* What Value('d') and Array('i', 10) hold, laid out in one cc_shared. */
struct num_arr {
    double num;
    int arr[N];
};

/* The child, f(n, a): its work, under the lock that Value and Array
 * carry.  A failure makes the child print why and exit with code 1. */
static void *f(void *arg)
{
    cc_shared *mem = arg;
    struct num_arr *s = cc_shared_ptr(mem);

    if (cc_plock_acquire(cc_shared_lock(mem), 10) != 0)
        return cc_fail_from(cc_last_error(), 0, "f: cannot take the lock");
    s->num = 3.1415927;
    for (int i = 0; i < N; i++)
        s->arr[i] = -s->arr[i];
    if (cc_plock_release(cc_shared_lock(mem)) != 0)
        return cc_fail_from(cc_last_error(), 0, "f: cannot release the lock");
    return arg;
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
    cc_process *p;
    int code = -1;

    if (mem == NULL) {
        fprintf(stderr, "value_array: %s\n", cc_errmsg());
        return 1;
    }
    s = cc_shared_ptr(mem);
    s->num = 0.0;
    for (int i = 0; i < N; i++)
        s->arr[i] = i;

    /* p = Process(target=f, args=(num, arr)); p.start(); p.join() */
    p = cc_process_start(f, mem, NULL);
    if (p == NULL || cc_process_join(p, CC_FOREVER) != 0 ||
        cc_process_exitcode(p, &code) != 0) {
        fprintf(stderr, "value_array: %s\n", cc_errmsg());
        cc_process_free(p); /* kills and reaps a child still running */
        return 1;
    }
    cc_process_free(p);
    if (code != 0) {
        fprintf(stderr, "value_array: the child failed (exit code %d)\n",
                code);
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
