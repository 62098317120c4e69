/*
 * bench_util.h - timing and reporting for the benchmark programs.  Output
 * is the protocol every program of bench/ and of its peers (bench/peers/)
 * follows: "RESULT <metric> <value> <unit>" lines (the first is the primary
 * metric) and "INFO <key> <value>" lines; bench/run.sh collects them.
 */
#ifndef CONCUR_BENCH_UTIL_H
#define CONCUR_BENCH_UTIL_H

#include <concur.h>
#include <stdio.h>
#include <stdlib.h>

#define BENCH_RESULT(metric, value, unit) \
    printf("RESULT %s %.6g %s\n", (metric), (double)(value), (unit))
#define BENCH_INFO(key, fmt, ...) printf("INFO %s " fmt "\n", (key), __VA_ARGS__)

/* Exit with the library's message when a call fails. */
static inline void bench_check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s failed: %s\n", what, cc_errmsg());
        exit(1);
    }
}

static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    return argc > i ? atol(argv[i]) : dflt;
}

#endif
