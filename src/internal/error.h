/*
 * error.h - the cc_error record and the per-thread error helpers (internal; layer base).
 *
 * A heap cc_error is one allocation: the struct, then its message, then its
 * "where" text.  Its cause is a separate heap cc_error it owns.  Two kinds are
 * never freed: the static out-of-memory error, and the `last` error embedded
 * in each execution context (src/internal/ctx.h).
 */
#ifndef CC_INTERNAL_ERROR_H
#define CC_INTERNAL_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

#include "concur/base.h"

enum {
    CC__ERR_HEAP = 0,     /* one malloc'd block; cc_error_free frees it */
    CC__ERR_STATIC = 1,   /* static storage; never freed */
    CC__ERR_EMBEDDED = 2, /* a context's `last` error; never freed */
};

struct cc_error {
    int code;           /* errno value, never 0 */
    int kind;           /* CC__ERR_HEAP, _STATIC or _EMBEDDED */
    const char *message;/* never NULL */
    const char *where;  /* "file.c:42 in thread 'x'", or "" */
    cc_error *cause;    /* owned; NULL when none */
};

/*
 * Record a failure of a library call for the calling thread/coroutine:
 * sets errno = code and the message cc_errmsg() returns, and returns -1.
 * cc__err() stores a pointer to a constant string (no copy, no formatting:
 * cheap enough for hot paths such as EAGAIN); cc__errf() formats.
 */
int cc__err(int code, const char *static_msg);
int cc__errf(int code, const char *fmt, ...) CC_PRINTF(2, 3);
/* The same, returning NULL, for calls that return pointers. */
void *cc__err_null(int code, const char *static_msg);
void *cc__errf_null(int code, const char *fmt, ...) CC_PRINTF(2, 3);

/*
 * Make err (owned; may be NULL) the caller's last error, with errno = its
 * code, taking ownership.  Used to hand a thread's or task's error to the one
 * that joins it.  Returns -1.
 */
int cc__err_adopt(cc_error *err);

/*
 * cc__opts_reserved - check the `reserved` words at the end of an options
 * struct (concur/base.h): 0 when all n are zero, else -1 with EINVAL and a
 * message naming the call and the struct ("cc_serve: cc_serve_opts.reserved
 * is not zero: an option of a newer concur?").
 */
int cc__opts_reserved(const unsigned long long *reserved, size_t n,
                      const char *call, const char *type);
#define CC__OPTS_RESERVED(opts, call, type) \
    cc__opts_reserved((opts)->reserved, \
                      sizeof((opts)->reserved) / sizeof((opts)->reserved[0]), \
                      (call), (type))

/* A heap error; cause is deep-copied.  Never returns NULL: out of memory it
 * returns the static out-of-memory error (cc__error_is_static). */
cc_error *cc__error_vnew(const char *file, int line, int code,
                         const cc_error *cause, const char *fmt, va_list ap);
bool cc__error_is_static(const cc_error *e);

/* cc__error_vnew with its arguments inline and no place: what a pool hands
 * a future it must fail, which therefore can never be NULL. */
cc_error *cc__error_newf(int code, const cc_error *cause, const char *fmt, ...)
    CC_PRINTF(3, 4);

/* Name the calling process in the place of the errors it raises from now
 * on (a child concur started: cc_process_start, a pool worker); called by
 * the process layer while the child has a single thread. */
void cc__error_set_process_name(const char *name);

/* Take the calling context's pending failure (NULL if none); the caller now
 * owns it. */
cc_error *cc__error_take_pending(void);

#endif
