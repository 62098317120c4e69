/*
 * net_example.c - the command line of the network examples (--base-url,
 * or the local service started in-process with the knobs the options
 * give), and their threads' start and join.  Called from main() only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int ex_target_open(ex_target *t, int argc, char **argv, const svc_opts *knobs)
{
    svc_opts o = {0};
    const char *url = NULL;

    memset(t, 0, sizeof(*t));
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
    t->service = svc_start(&o);
    if (t->service == NULL) {
        fprintf(stderr, "%s: cannot start the local service: %s\n", argv[0],
                cc_errmsg());
        return -1;
    }
    t->base_url = svc_url(t->service);
    return 0;
}

void ex_target_close(ex_target *t)
{
    /* Close this thread's kept-alive connections first: the service's
     * stop waits (up to 1 s) for connections still open, idle or not. */
    cc_http_thread_cleanup();
    svc_stop(t->service);
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
