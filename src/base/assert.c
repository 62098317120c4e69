/*
 * assert.c - the report of a failed internal assertion (base layer).
 *
 * See src/internal/assert.h.  The report is one write, so that it does not
 * interleave with another thread's output, and names who failed: the
 * thread's or task's name from its context, when it has one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal/assert.h"
#include "internal/ctx.h"

_Noreturn void cc__assert_fail(const char *file, int line, const char *func,
                               const char *cond)
{
    char text[512];
    cc__ctx *c = cc__cur; /* not cc__ctx_get: no allocation, no recursion */
    int n;

    n = snprintf(text, sizeof(text),
                 "concur: internal assertion failed: %s\n"
                 "concur:   at %s:%d in %s(), in %s '%s'\n"
                 "concur:   this is a bug in concur; please report it\n",
                 cond, file, line, func,
                 c != NULL && c->fiber != NULL ? "task" : "thread",
                 c != NULL ? cc__ctx_name(c) : "?");
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, text,
                          (size_t)n < sizeof(text) ? (size_t)n
                                                   : sizeof(text) - 1);
        (void)w;
    }
    abort();
}
