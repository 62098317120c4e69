/*
 * net_example.c - the command line of the network examples (--base-url,
 * or the local service started in-process with the knobs the options
 * give), and their threads' start and join.  Called from main() only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net_example.h"
#include "concur/base.h"
#include "concur/http.h"

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--base-url URL] [--latency S|MIN-MAX]\n"
            "       [--error-rate P] [--rate-limit N] [--seed N]\n"
            "Without --base-url the local service runs in this process;\n"
            "the other options set its knobs.\n",
            prog);
}

/* A whole number of seconds, a fraction, or "MIN-MAX". */
static int parse_latency(const char *s, double *min, double *max)
{
    char *end;

    *min = strtod(s, &end);
    *max = *min;
    if (end != s && *end == '-')
        *max = strtod(end + 1, &end);
    return end != s && *end == '\0' && *min >= 0 && *max >= *min ? 0 : -1;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/*
 * start_apart - fork the local service into a child process.  The child
 * starts it, writes its port on `ready` and serves until it reads the end
 * of `lifeline` (the parent closed its end or died), then stops it and
 * exits.  The parent keeps the lifeline's write end in t->apart_fd.
 */
static int start_apart(ex_target *t, const svc_opts *o, const char *prog)
{
    int ready[2], lifeline[2];
    int port = 0;
    char url[64];
    pid_t pid;

    if (pipe2(ready, O_CLOEXEC) != 0)
        goto fail;
    if (pipe2(lifeline, O_CLOEXEC) != 0) {
        close(ready[0]);
        close(ready[1]);
        goto fail;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        svc *s;
        char byte;

        close(ready[0]);
        close(lifeline[1]);
        s = svc_start(o);
        port = s != NULL ? svc_port(s) : -errno;
        if (write(ready[1], &port, sizeof(port)) != (ssize_t)sizeof(port))
            _exit(1);
        close(ready[1]);
        if (s == NULL)
            _exit(1);
        while (read(lifeline[0], &byte, 1) < 0 && errno == EINTR)
            ;
        svc_stop(s);
        _exit(0);
    }
    close(ready[1]);
    close(lifeline[0]);
    if (pid < 0) {
        close(ready[0]);
        close(lifeline[1]);
        goto fail;
    }
    t->apart_pid = (int)pid;
    t->apart_fd = lifeline[1];
    if (read(ready[0], &port, sizeof(port)) != (ssize_t)sizeof(port) || port <= 0) {
        close(ready[0]);
        fprintf(stderr, "%s: cannot start the local service: %s\n", prog,
                port < 0 ? strerror(-port) : "its process ended");
        return -1;
    }
    close(ready[0]);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    t->owned = strdup(url);
    if (t->owned == NULL)
        goto fail;
    t->base_url = t->owned;
    return 0;
fail:
    fprintf(stderr, "%s: cannot start the local service: %s\n", prog,
            strerror(errno));
    return -1;
}

static int open_target(ex_target *t, int argc, char **argv, const svc_opts *knobs,
                       bool apart)
{
    svc_opts o = {0};
    const char *url = NULL;

    memset(t, 0, sizeof(*t));
    t->apart_fd = -1;
    if (knobs != NULL)
        o = *knobs;
    else {
        o.latency_min = EX_LATENCY_MIN;
        o.latency_max = EX_LATENCY_MAX;
    }
    /* every option takes one value: step over both */
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d = 0;
        int bad;

        if (v == NULL) {
            usage(argv[0]);
            return -1;
        }
        if (strcmp(argv[i], "--base-url") == 0) {
            url = v;
            bad = strncmp(v, "http://", 7) != 0 &&
                  strncmp(v, "https://", 8) != 0;
        } else if (strcmp(argv[i], "--latency") == 0) {
            bad = parse_latency(v, &o.latency_min, &o.latency_max);
        } else if (strcmp(argv[i], "--error-rate") == 0) {
            bad = parse_double(v, 0, 1, &o.error_rate);
        } else if (strcmp(argv[i], "--rate-limit") == 0) {
            bad = parse_double(v, 0, 1e9, &o.rate_limit);
        } else if (strcmp(argv[i], "--seed") == 0) {
            bad = parse_double(v, 0, 4294967295.0, &d);
            o.seed = (unsigned)d;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "%s: bad option or value: %s %s\n", argv[0],
                    argv[i], v);
            usage(argv[0]);
            return -1;
        }
    }
    if (url != NULL) {
        size_t len = strlen(url);

        t->owned = strdup(url);
        if (t->owned == NULL) {
            perror(argv[0]);
            return -1;
        }
        while (len > 0 && t->owned[len - 1] == '/')
            t->owned[--len] = '\0';
        t->base_url = t->owned;
        return 0;
    }
    if (apart)
        return start_apart(t, &o, argv[0]);
    t->service = svc_start(&o);
    if (t->service == NULL) {
        fprintf(stderr, "%s: cannot start the local service: %s\n", argv[0],
                cc_errmsg());
        return -1;
    }
    t->base_url = svc_url(t->service);
    return 0;
}

int ex_target_open(ex_target *t, int argc, char **argv, const svc_opts *knobs)
{
    return open_target(t, argc, argv, knobs, false);
}

int ex_target_open_latency(ex_target *t, int argc, char **argv, double min,
                           double max)
{
    svc_opts knobs = {0};

    knobs.latency_min = min;
    knobs.latency_max = max;
    return open_target(t, argc, argv, &knobs, false) == 0 ? 0 : 2;
}

int ex_target_open_apart(ex_target *t, int argc, char **argv, const svc_opts *knobs)
{
    return open_target(t, argc, argv, knobs, true);
}

void ex_target_close(ex_target *t)
{
    /* Close this thread's kept-alive connections first, so the service
     * sees its clients leave rather than cancelling them at its stop. */
    cc_http_thread_cleanup();
    svc_stop(t->service);
    if (t->apart_pid > 0) {
        close(t->apart_fd); /* the child's read ends: it stops and exits */
        while (waitpid(t->apart_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(t->owned);
    memset(t, 0, sizeof(*t));
}

int ex_threads_start(const char *prog, cc_thread **threads, int n, cc_fn fn,
                     void *const *args, void *arg)
{
    for (int i = 0; i < n; i++) {
        threads[i] = cc_thread_start(fn, args != NULL ? args[i] : arg, NULL);
        if (threads[i] == NULL) {
            fprintf(stderr, "%s: ", prog);
            cc_error_print(cc_last_error(), stderr);
            ex_threads_join(threads, i);
            return -1;
        }
    }
    return 0;
}

int ex_threads_join(cc_thread **threads, int n)
{
    int failed = 0;

    while (n > 0) {
        cc_thread *t = threads[--n];

        if (cc_thread_join(t, NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "Exception in thread %s:\n", cc_thread_name(t));
            cc_error_print(cc_thread_error(t), stderr);
            failed++;
        }
        cc_thread_free(t);
    }
    return failed;
}
