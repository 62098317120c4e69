/*
 * log.c - where the library's own reports go: cc_set_log's sink, or stderr
 * (base layer).
 *
 * The sink (function and argument together) is a record published with
 * one atomic store, so a report never pairs one sink's function with
 * another's argument, and reporting takes no lock: it also runs in a
 * forked child and in threads that may hold any other lock.  Records are
 * never freed (a reporter may still be reading a replaced one); every one
 * made stays on the `made` list, which keeps it reachable.  A program sets
 * its sink a handful of times.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal/log.h"

typedef struct sink {
    cc_log_fn fn;
    void *arg;
    struct sink *made_before;     /* the `made` list */
} sink;

static _Atomic(sink *) current;   /* NULL: stderr */
static _Atomic(sink *) made;      /* every record, newest first */

void cc_set_log(cc_log_fn fn, void *arg)
{
    sink *s = NULL;

    if (fn != NULL) {
        s = malloc(sizeof(*s));
        if (s == NULL) /* keep the old sink rather than lose reports */
            return;
        s->fn = fn;
        s->arg = arg;
        s->made_before = atomic_load_explicit(&made, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &made, &s->made_before, s, memory_order_release,
            memory_order_relaxed))
            ;
    }
    atomic_store_explicit(&current, s, memory_order_release);
}

void cc__log(int level, const char *line)
{
    sink *s = atomic_load_explicit(&current, memory_order_acquire);

    if (s != NULL) {
        s->fn(level, line, s->arg);
        return;
    }
    /* One write per line, so that reports from threads do not interleave. */
    fprintf(stderr, "%s\n", line);
}

void cc__logf(int level, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    int need;

    va_start(ap, fmt);
    need = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if ((size_t)need < sizeof(small)) {
        cc__log(level, small);
        return;
    }
    char *big = malloc((size_t)need + 1);

    if (big == NULL) {
        cc__log(level, small); /* cut rather than nothing */
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)need + 1, fmt, ap);
    va_end(ap);
    cc__log(level, big);
    free(big);
}
