/*
 * error.c - errors: the last error of each thread/coroutine, cc_fail, and
 * cc_error records with cause chains (base layer).
 *
 * State lives in the calling context (src/internal/ctx.h), so nothing here
 * takes a lock.  Hot paths (EAGAIN from a non-blocking get) use cc__err(),
 * which stores a pointer to a constant message: no formatting, no malloc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/ctx.h"
#include "internal/error.h"

static cc_error oom_error = {
    .code = ENOMEM,
    .kind = CC__ERR_STATIC,
    .message = "out of memory while recording an error",
    .where = "",
    .cause = NULL,
};

bool cc__error_is_static(const cc_error *e)
{
    return e == &oom_error;
}

/* A heap error with a copy of `text` as its message, no place, no cause;
 * the static out-of-memory error when malloc fails. */
static cc_error *text_error(int code, const char *text)
{
    size_t len = strlen(text);
    cc_error *e = malloc(sizeof(*e) + len + 2);

    if (e == NULL)
        return &oom_error;
    e->code = code;
    e->kind = CC__ERR_HEAP;
    e->message = memcpy((char *)(e + 1), text, len + 1);
    e->where = (char *)(e + 1) + len + 1;
    ((char *)(e + 1))[len + 1] = '\0';
    e->cause = NULL;
    return e;
}

/* The calling process's name when it is a child concur started ("" in
 * the main process); written while the child has a single thread. */
static char process_name[64];

void cc__error_set_process_name(const char *name)
{
    snprintf(process_name, sizeof(process_name), "%s",
             name != NULL ? name : "");
}

/*
 * The place of an error raised now at file:line: "f.c:42 in thread 'T'"
 * (or "in task 'T'").  In a child concur started (cc_process_start, a pool
 * worker) it names the process, whose main thread's name says nothing:
 * "f.c:42 in process 'Process-1' (pid 1234)", and "in thread 'T' of
 * process 'Process-1' (pid 1234)" for another thread or a task.
 */
static void format_where(char *where, size_t size, const char *file, int line)
{
    cc__ctx *c = cc__ctx_get();
    const char *base = strrchr(file, '/');
    const char *kind = c->fiber != NULL ? "task" : "thread";
    const char *name = cc__ctx_name(c);

    file = base != NULL ? base + 1 : file;
    if (process_name[0] == '\0')
        snprintf(where, size, "%s:%d in %s '%s'", file, line, kind, name);
    else if (c->fiber == NULL && (strcmp(name, "MainThread") == 0 ||
                                  strcmp(name, process_name) == 0))
        snprintf(where, size, "%s:%d in process '%s' (pid %ld)", file, line,
                 process_name, (long)getpid());
    else
        snprintf(where, size, "%s:%d in %s '%s' of process '%s' (pid %ld)",
                 file, line, kind, name, process_name, (long)getpid());
}

/* Drop the context's previous last error (and an adopted heap one). */
static void clear_last(cc__ctx *c)
{
    if (c->last_heap != NULL) {
        cc_error_free(c->last_heap);
        c->last_heap = NULL;
    }
    c->last_is_pending = false;
}

int cc__err(int code, const char *static_msg)
{
    cc__ctx *c = cc__ctx_get();

    clear_last(c);
    c->last.code = code;
    c->last.message = static_msg;
    c->last.where = "";
    errno = code;
    return -1;
}

/* A heap error holding the whole of a message too long for msgbuf, or
 * NULL when out of memory (the caller then keeps the cut copy). */
static cc_error *long_message(int code, const char *fmt, va_list ap)
{
    cc_error *e = cc__error_vnew(NULL, 0, code, NULL, fmt, ap);

    return cc__error_is_static(e) ? NULL : e;
}

/*
 * Record a formatted message as the last error.  One that fits msgbuf
 * (CC__MSG_MAX) costs no malloc; a longer one -- paths are up to PATH_MAX
 * -- is kept whole in a heap error (last_heap), so no message is cut
 * unless memory runs out.  The arguments may be the previous message
 * (cc_errmsg() as a cause's text), so everything is formatted before that
 * one is dropped.
 */
static void set_last_fmt(int code, const char *fmt, va_list ap)
{
    cc__ctx *c = cc__ctx_get();
    char buf[CC__MSG_MAX];
    cc_error *whole = NULL;
    va_list again;
    int n;

    buf[0] = '\0';
    va_copy(again, ap);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n >= (int)sizeof(buf))
        whole = long_message(code, fmt, again);
    va_end(again);
    clear_last(c);
    memcpy(c->msgbuf, buf, strlen(buf) + 1);
    c->last.code = code;
    c->last.message = c->msgbuf;
    c->last.where = "";
    c->last_heap = whole;
}

int cc__errf(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_last_fmt(code, fmt, ap);
    va_end(ap);
    errno = code;
    return -1;
}

void *cc__err_null(int code, const char *static_msg)
{
    cc__err(code, static_msg);
    return NULL;
}

void *cc__errf_null(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_last_fmt(code, fmt, ap);
    va_end(ap);
    errno = code;
    return NULL;
}

int cc__err_adopt(cc_error *err)
{
    cc__ctx *c = cc__ctx_get();

    if (err == NULL)
        return cc__err(EIO, "unknown error");
    clear_last(c);
    if (cc__error_is_static(err)) {
        c->last.code = err->code;
        c->last.message = err->message;
        c->last.where = "";
    } else {
        c->last_heap = err;
    }
    errno = err->code;
    return -1;
}

/* Make the last error a plain copy of e's code and message (a heap copy
 * when the message is too long for msgbuf). */
static void set_last_copy(cc__ctx *c, const cc_error *e)
{
    int n = snprintf(c->msgbuf, sizeof(c->msgbuf), "%s",
                     e != NULL ? e->message : "");

    c->last.code = e != NULL ? e->code : EIO;
    c->last.message = c->msgbuf;
    c->last.where = "";
    if (n >= (int)sizeof(c->msgbuf)) {
        cc_error *whole = text_error(e->code, e->message);

        if (!cc__error_is_static(whole))
            c->last_heap = whole;
    }
}

/*
 * The message is formatted into a stack buffer first; one that does not
 * fit is formatted again straight into the error's block, so a message of
 * any length is kept whole.
 */
cc_error *cc__error_vnew(const char *file, int line, int code,
                         const cc_error *cause, const char *fmt, va_list ap)
{
    char msg[1024];
    char where[320] = "";
    size_t mlen;
    size_t wlen;
    cc_error *e;
    cc_error *cause_copy = NULL;
    va_list again;
    int n;

    if (fmt == NULL)
        fmt = "";
    va_copy(again, ap);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    mlen = n > 0 ? (size_t)n : 0;
    if (file != NULL)
        format_where(where, sizeof(where), file, line);
    if (cause != NULL) {
        cause_copy = cc_error_copy(cause);
        if (cause_copy == NULL) {
            va_end(again);
            return &oom_error;
        }
    }
    wlen = strlen(where);
    e = malloc(sizeof(*e) + mlen + 1 + wlen + 1);
    if (e == NULL) {
        va_end(again);
        cc_error_free(cause_copy);
        return &oom_error;
    }
    e->code = code;
    e->kind = CC__ERR_HEAP;
    if (mlen < sizeof(msg))
        memcpy((char *)(e + 1), msg, mlen + 1);
    else
        vsnprintf((char *)(e + 1), mlen + 1, fmt, again);
    e->message = (char *)(e + 1);
    va_end(again);
    e->where = memcpy((char *)(e + 1) + mlen + 1, where, wlen + 1);
    e->cause = cause_copy;
    return e;
}

void *cc_vfail_at(const char *file, int line, const cc_error *cause, int code,
                  const char *fmt, va_list ap)
{
    cc__ctx *c;
    cc_error *e;

    if (code <= 0)
        code = errno != 0 ? errno : EIO;
    e = cc__error_vnew(file, line, code, cause, fmt, ap);
    c = cc__ctx_get();
    if (c->pending != NULL)
        cc_error_free(c->pending);
    clear_last(c);
    c->pending = e;
    c->last_is_pending = true;
    errno = e->code;
    return NULL;
}

void *cc_fail_at(const char *file, int line, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cc_vfail_at(file, line, NULL, code, fmt, ap);
    va_end(ap);
    return NULL;
}

void *cc_fail_from_at(const char *file, int line, const cc_error *cause,
                      int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cc_vfail_at(file, line, cause, code, fmt, ap);
    va_end(ap);
    return NULL;
}

void *(cc_fail)(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cc_vfail_at(NULL, 0, NULL, code, fmt, ap);
    va_end(ap);
    return NULL;
}

void *(cc_fail_from)(const cc_error *cause, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cc_vfail_at(NULL, 0, cause, code, fmt, ap);
    va_end(ap);
    return NULL;
}

cc_error *cc__error_take_pending(void)
{
    cc__ctx *c = cc__ctx_get();
    cc_error *e = c->pending;

    c->pending = NULL;
    if (c->last_is_pending) {
        /* Keep cc_errmsg() meaningful after the hand-over. */
        set_last_copy(c, e);
        c->last_is_pending = false;
    }
    return e;
}

const cc_error *cc_error_pending(void)
{
    return cc__ctx_get()->pending;
}

void cc_error_clear(void)
{
    cc__ctx *c = cc__ctx_get();

    if (c->last_is_pending) {
        set_last_copy(c, c->pending);
        c->last_is_pending = false;
    }
    if (c->pending != NULL)
        cc_error_free(c->pending);
    c->pending = NULL;
}

const char *cc_errmsg(void)
{
    cc__ctx *c = cc__ctx_get();

    if (c->last_is_pending && c->pending != NULL)
        return c->pending->message;
    if (c->last_heap != NULL)
        return c->last_heap->message;
    return c->last.message;
}

const cc_error *cc_last_error(void)
{
    cc__ctx *c = cc__ctx_get();

    if (c->last_is_pending && c->pending != NULL)
        return c->pending;
    if (c->last_heap != NULL)
        return c->last_heap;
    if (c->last.code == 0)
        return NULL;
    return &c->last;
}

int cc_error_code(const cc_error *e)
{
    return e != NULL ? e->code : 0;
}

const char *cc_error_message(const cc_error *e)
{
    return e != NULL ? e->message : "";
}

const cc_error *cc_error_cause(const cc_error *e)
{
    return e != NULL ? e->cause : NULL;
}

const char *cc_error_where(const cc_error *e)
{
    return e != NULL ? e->where : "";
}

cc_error *cc__error_newf(int code, const cc_error *cause, const char *fmt, ...)
{
    va_list ap;
    cc_error *e;

    va_start(ap, fmt);
    e = cc__error_vnew(NULL, 0, code, cause, fmt, ap);
    va_end(ap);
    return e;
}

cc_error *cc_error_new(int code, const cc_error *cause, const char *fmt, ...)
{
    va_list ap;
    cc_error *e;

    if (code <= 0)
        return cc__errf_null(EINVAL, "cc_error_new: code must be > 0, got %d",
                             code);
    va_start(ap, fmt);
    e = cc__error_vnew(NULL, 0, code, cause, fmt, ap);
    va_end(ap);
    if (cc__error_is_static(e))
        return cc__err_null(ENOMEM, "cc_error_new: out of memory");
    return e;
}

cc_error *cc_error_copy(const cc_error *e)
{
    cc_error *copy;
    size_t mlen;
    size_t wlen;

    if (e == NULL)
        return NULL;
    mlen = strlen(e->message);
    wlen = strlen(e->where);
    copy = malloc(sizeof(*copy) + mlen + 1 + wlen + 1);
    if (copy == NULL)
        return cc__err_null(ENOMEM, "cc_error_copy: out of memory");
    copy->code = e->code;
    copy->kind = CC__ERR_HEAP;
    copy->message = memcpy((char *)(copy + 1), e->message, mlen + 1);
    copy->where = memcpy((char *)(copy + 1) + mlen + 1, e->where, wlen + 1);
    copy->cause = NULL;
    if (e->cause != NULL) {
        copy->cause = cc_error_copy(e->cause);
        if (copy->cause == NULL) {
            free(copy);
            return NULL;
        }
    }
    return copy;
}

void cc_error_free(cc_error *e)
{
    while (e != NULL && e->kind == CC__ERR_HEAP) {
        cc_error *cause = e->cause;

        free(e);
        e = cause;
    }
}

size_t cc_error_format(const cc_error *e, char *buf, size_t size)
{
    size_t need = 0;
    bool first = true;

    if (size > 0)
        buf[0] = '\0';
    for (; e != NULL; e = e->cause) {
        char piece[1400];
        int n;

        n = snprintf(piece, sizeof(piece), "%s%s (%s)%s%s",
                     first ? "" : "\n  caused by: ", e->message,
                     cc_errname(e->code), e->where[0] ? " at " : "", e->where);
        if (n < 0)
            break;
        if (need + 1 < size)
            snprintf(buf + need, size - need, "%s", piece);
        need += (size_t)n;
        first = false;
    }
    return need;
}

void cc_error_print(const cc_error *e, FILE *out)
{
    char small[2048];
    size_t need = cc_error_format(e, small, sizeof(small));

    if (need < sizeof(small)) {
        fprintf(out, "%s\n", small);
    } else {
        char *big = malloc(need + 1);

        if (big == NULL) {
            fprintf(out, "%s\n", small);
            return;
        }
        cc_error_format(e, big, need + 1);
        fprintf(out, "%s\n", big);
        free(big);
    }
}

/* concur's own codes (CC_EBASE + k): name and text, by k - 1. */
static const struct {
    const char *name;
    const char *text;
} own_codes[] = {
    {"CC_ECALLEDPROCESS", "called process returned non-zero exit status"},
    {"CC_EHTTP", "HTTP status error"},
};

/* The entry of one of concur's own codes, or -1. */
static int own_code(int code)
{
    long k = (long)code - CC_EBASE - 1;

    return k >= 0 && k < (long)(sizeof(own_codes) / sizeof(own_codes[0]))
               ? (int)k : -1;
}

bool cc_error_is(const cc_error *e, int code)
{
    for (; e != NULL; e = e->cause)
        if (e->code == code)
            return true;
    return false;
}

const char *cc_errname(int code)
{
    int k = own_code(code);
    const char *name;

    if (k >= 0)
        return own_codes[k].name;
    name = strerrorname_np(code);
    return name != NULL ? name : "E?";
}

const char *cc_strerror(int code)
{
    static _Thread_local char buf[64];
    int k = own_code(code);
    const char *text;

    if (k >= 0)
        return own_codes[k].text;
    text = strerrordesc_np(code);
    if (text != NULL)
        return text;
    snprintf(buf, sizeof(buf), "Unknown error %d", code);
    return buf;
}

int cc__opts_reserved(const unsigned long long *reserved, size_t n,
                      const char *call, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (reserved[i] != 0)
            return cc__errf(EINVAL, "%s: %s.reserved is not zero: an option "
                                    "of a newer concur? (zero the struct, "
                                    "e.g. = {0})", call, type);
    return 0;
}
