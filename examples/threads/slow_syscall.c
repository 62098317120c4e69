/*
 * slow_syscall - five blocking select() calls of 0.1 s each, first one after
 * the other (0.5 s), then in five cc_threads while the main thread computes
 * helicopter positions (0.1 s): threads overlap blocking system calls.
 * Rebuilds the slow_systemcall program of Effective Python, Item 68.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "concur/sync.h"

enum { N_CALLS = 5 };

/*
 * Block for 0.1 s in select(), waiting for a socket that will never become
 * readable.  The seed selects on a fresh TCP socket; on Linux an unconnected
 * TCP socket reports "hung up", which counts as readable, so select() would
 * return at once.  A fresh UDP socket has nothing to read and really waits.
 * Returns 0, or -1 with errno set.
 */
static int slow_systemcall(void)
{
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 100000};
    fd_set readable;
    int fd;
    int rc;

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    if (fd >= FD_SETSIZE) {
        close(fd);
        errno = EMFILE;
        return -1;
    }
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    rc = select(fd + 1, &readable, NULL, NULL, &timeout);
    if (rc < 0) {
        int err = errno;

        close(fd);
        errno = err;
        return -1;
    }
    close(fd);
    return 0;
}

static void *syscall_thread(void *arg)
{
    (void)arg;
    if (slow_systemcall() != 0)
        return cc_fail(0, "select: %s", strerror(errno));
    return NULL;
}

/* The next position of helicopter `index`, a little trigonometry standing
 * in for the seed's computation. */
static void compute_helicopter_location(int index, double *x, double *y)
{
    double t = 0.25 * index;

    *x = 100.0 * cos(t) + 3.0 * t;
    *y = 100.0 * sin(t) + 1.5 * t * t;
}

int main(int argc, char **argv)
{
    cc_thread *threads[N_CALLS];
    double x[N_CALLS];
    double y[N_CALLS];
    double start;
    int started = 0;
    int rc = 0;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }

    printf("%d select() calls of 0.1 s, one after the other:\n", N_CALLS);
    start = cc_now();
    for (int i = 0; i < N_CALLS; i++) {
        if (slow_systemcall() != 0) {
            perror("slow_syscall: select");
            return EXIT_FAILURE;
        }
    }
    printf("Took %.3f seconds\n", cc_now() - start);

    printf("%d select() calls in %d threads, the main thread computing:\n",
           N_CALLS, N_CALLS);
    start = cc_now();
    for (; started < N_CALLS; started++) {
        threads[started] = cc_thread_start(syscall_thread, NULL, NULL);
        if (threads[started] == NULL) {
            fprintf(stderr, "slow_syscall: start: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < N_CALLS; i++)
        compute_helicopter_location(i, &x[i], &y[i]);
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "slow_syscall: %s failed: ",
                    cc_thread_name(threads[i]));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(threads[i]);
    }
    if (rc != 0)
        return EXIT_FAILURE;
    printf("Took %.3f seconds\n", cc_now() - start);
    printf("(meanwhile, helicopter %d was steered to (%.1f, %.1f))\n",
           N_CALLS - 1, x[N_CALLS - 1], y[N_CALLS - 1]);
    return 0;
}
