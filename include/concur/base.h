/*
 * concur/base.h - errors, clocks and deadlines, blobs, cpu count, debug mode.
 *
 * The base layer every other layer stands on.  Conventions used by every
 * header of concur (stated once here):
 *
 *   - A call that can fail returns int (0 ok, -1 failed) or a pointer (NULL
 *     failed) and sets errno to a standard code.  It also records a message
 *     for the calling thread (or coroutine): cc_errmsg() returns it.  A failed
 *     call changes nothing unless its entry says otherwise.
 *   - Timeouts are double seconds, by one rule.  Every blocking call takes
 *     one, named timeout, as its last argument: CC_FOREVER (any negative
 *     value) waits without limit; 0 does not wait -- the call does what it
 *     can at once, else fails with EAGAIN (a call that cannot do anything
 *     without waiting, an HTTP request, fails with EINVAL); a positive
 *     value waits that long, then fails with ETIMEDOUT; NaN is EINVAL.  A
 *     timeout in an options struct keeps the struct's rule that zero is the
 *     default: 0 there is the default its field states (cc_http_opts: 30 s;
 *     cc_run_opts: no limit), CC_FOREVER no limit, a positive value the
 *     limit.  Every wait is also bounded by the innermost deadline scope
 *     (cc_deadline_push).  Internally every wait uses an absolute monotonic
 *     deadline, so retries never stretch it.
 *   - The caller owns what it creates; every _new has a _free that does
 *     nothing when given NULL.
 *   - Every object is safe to use from many threads at once unless its entry
 *     says otherwise.
 *   - An options struct (cc_pool_opts, cc_serve_opts...) means "defaults"
 *     when zeroed: start from `= {0}` or a designated initializer and set
 *     what you need; NULL instead of a pointer to one is all defaults.  Its
 *     last member, `reserved`, must stay zero: new options are carved out
 *     of it, so the struct keeps its size and layout across 0.y.z
 *     releases, and a call given a non-zero `reserved` fails with EINVAL
 *     (a program built against a newer concur set an option this library
 *     does not have).  A result struct (cc_completed) has the same room,
 *     zeroed by the call that fills it.
 *
 * Errors of this layer: EINVAL (bad argument), ENOMEM (out of memory),
 * EOVERFLOW (too many nested deadline scopes).
 */
#ifndef CONCUR_BASE_H
#define CONCUR_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CC_BUILDING_LIBRARY)
/* Marks the public API; everything else in the library is hidden. */
#define CC_API __attribute__((visibility("default")))
#else
/* Marks the public API; empty outside the library's own build (which gives
 * these names default visibility and hides everything else). */
#define CC_API
#endif

#if defined(__GNUC__)
/* Marks a printf-like function (format: argument f, its values from argument
 * a on) so that the compiler checks its calls. */
#define CC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
/* Marks a printf-like function (format: argument f, its values from
 * argument a on); empty for a compiler that cannot check the calls. */
#define CC_PRINTF(f, a)
#endif

/* The major version.  The version is defined here only: CMake reads the
 * three CC_VERSION_ lines (nothing may follow the number) for the package,
 * the shared library's name and concur.pc; cc_version() gives them as
 * text. */
#define CC_VERSION_MAJOR 0
/* The minor version. */
#define CC_VERSION_MINOR 1
/* The patch level. */
#define CC_VERSION_PATCH 0

/* Wait without a time limit (any negative timeout means the same). */
#define CC_FOREVER (-1.0)

/*
 * CC_EBROKEN - the errno value of a broken pool or executor ("process pool is
 * broken", "thread pool initializer failed").  It is ENOTRECOVERABLE ("State
 * not recoverable"), a system code whose meaning is this one, so strerror()
 * and cc_errname() describe it truly and it needs no code of its own.
 */
#define CC_EBROKEN ENOTRECOVERABLE

/*
 * CC_EBASE - where concur's own error codes start.  A condition no system
 * errno describes (a called process that failed, an HTTP error status)
 * gets a code of its own: CC_EBASE + k, k = 1, 2, ... (0x43430001 on:
 * "CC" in the high bytes).  These values are positive ints that no system
 * errno uses (Linux's stay below 4096), so they travel in errno, in
 * cc_error codes and between processes like any other code, and never
 * compare equal to one.  cc_errname() gives their names ("CC_EHTTP") and
 * cc_strerror() their texts.  The codes so far: CC_ECALLEDPROCESS
 * (concur/subprocess.h) is CC_EBASE + 1, CC_EHTTP (concur/http.h) is
 * CC_EBASE + 2.
 */
#define CC_EBASE 0x43430000

/* A task: the function run by a thread, a pool worker or a coroutine. */
typedef void *(*cc_fn)(void *arg);

/* ------------------------------------------------------------------ errors */

/*
 * cc_error - an error with a code (an errno value), a message, the place it
 * was raised ("file.c:42 in thread 'worker-1'") and an optional cause, which
 * is itself a cc_error (like Python's `raise ... from`).  Opaque.
 */
typedef struct cc_error cc_error;

/*
 * cc_errmsg - the message of the calling thread's (or coroutine's) last error.
 *
 * Every failing call of the library records one, next to errno: "queue is
 * shut down", "lock: released by a thread that does not own it".  Returns ""
 * when nothing failed yet.  Messages are whole, however long the paths or
 * names they quote (only when memory runs out is a long one cut, to 255
 * bytes).  The string stays valid until the next failing call in the same
 * thread or coroutine.  Never fails.
 */
CC_API const char *cc_errmsg(void);

/*
 * cc_last_error - the calling thread's (or coroutine's) last error as a
 * cc_error, with its cause chain when it came from another thread or task
 * (a failed cc_thread_join hands over that thread's whole chain).
 *
 * Returns NULL when nothing failed yet.  The object belongs to the library and
 * stays valid until the next failing call in the same thread or coroutine;
 * use cc_error_copy() to keep it.  Never fails.
 */
CC_API const cc_error *cc_last_error(void);

/*
 * cc_fail - fail the running task: record an error and return NULL.
 *
 *     if (n < 0)
 *         return cc_fail(EINVAL, "negative size %d", n);
 *
 * A task (a thread's function, a pool job, a coroutine) fails by returning
 * NULL right after cc_fail.  Whoever joins or waits on it gets -1 with errno
 * = code, and the error (message, place, cause chain) from cc_thread_error()
 * or the future.  The error is also made the caller's last error (errno and
 * cc_errmsg()).  code 0 means "take the current errno" (EIO if that is 0 too).
 * A later cc_fail replaces an earlier pending one; cc_error_clear() drops it.
 *
 * Always returns NULL.  Out of memory, it still records code with the message
 * "out of memory while recording an error".  The cc_fail macro adds the file
 * and line; (cc_fail)(...) calls the function without them.
 */
CC_API void *cc_fail(int code, const char *fmt, ...) CC_PRINTF(2, 3);

/*
 * cc_fail_from - cc_fail with a cause: the new error's cause is a deep copy of
 * `cause` (NULL: no cause).  Typical causes are cc_last_error() after a call
 * failed, and cc_thread_error() after a join failed:
 *
 *     if (cc_queue_get(q, &item, 1.0) != 0)
 *         return cc_fail_from(cc_last_error(), EIO, "worker %d got no input", id);
 */
CC_API void *cc_fail_from(const cc_error *cause, int code, const char *fmt, ...)
    CC_PRINTF(3, 4);

/* cc_fail_at - cc_fail with the raising place given; the cc_fail macro
 * calls it.  Always returns NULL. */
CC_API void *cc_fail_at(const char *file, int line, int code,
                        const char *fmt, ...) CC_PRINTF(4, 5);

/* cc_fail_from_at - cc_fail_from with the raising place given; the
 * cc_fail_from macro calls it.  Always returns NULL. */
CC_API void *cc_fail_from_at(const char *file, int line, const cc_error *cause,
                             int code, const char *fmt, ...) CC_PRINTF(5, 6);

/* cc_vfail_at - cc_fail_from_at with a va_list (cause NULL: no cause), for
 * functions that take a format of their own.  Always returns NULL. */
CC_API void *cc_vfail_at(const char *file, int line, const cc_error *cause,
                         int code, const char *fmt, va_list ap)
    CC_PRINTF(5, 0);

/* The cc_fail macro: cc_fail_at with this file and line. */
#define cc_fail(...) cc_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* The cc_fail_from macro: cc_fail_from_at with this file and line. */
#define cc_fail_from(...) cc_fail_from_at(__FILE__, __LINE__, __VA_ARGS__)

/*
 * cc_error_pending - the failure that cc_fail recorded for the running task
 * and that has not been handed over yet (NULL if none).  Owned by the library.
 */
CC_API const cc_error *cc_error_pending(void);

/* cc_error_clear - forget the running task's pending failure (`except: pass`). */
CC_API void cc_error_clear(void);

/* Accessors: each reads an error (owned by it) and accepts NULL. */

/* The error's code, an errno value; 0 for NULL. */
CC_API int cc_error_code(const cc_error *e);

/* The error's message; "" for NULL.  Owned by the error. */
CC_API const char *cc_error_message(const cc_error *e);

/* The error's cause, itself a cc_error owned by e; NULL when it has none,
 * or for NULL. */
CC_API const cc_error *cc_error_cause(const cc_error *e);

/* Where it was raised: "src.c:42 in thread 'name'" ("" when unknown, and
 * for NULL).  Owned by the error. */
CC_API const char *cc_error_where(const cc_error *e);

/*
 * cc_error_new - make a free-standing error (for bridging code and tests).
 * The cause is deep-copied.  Returns NULL (ENOMEM) when out of memory.
 * The caller owns the result; free it with cc_error_free().
 */
CC_API cc_error *cc_error_new(int code, const cc_error *cause,
                              const char *fmt, ...) CC_PRINTF(3, 4);

/* cc_error_copy - deep copy (the whole cause chain).  NULL on ENOMEM. */
CC_API cc_error *cc_error_copy(const cc_error *e);

/* cc_error_free - free an error made by cc_error_new/cc_error_copy. */
CC_API void cc_error_free(cc_error *e);

/*
 * cc_error_format - write the error and its cause chain into buf:
 *     "worker 3 got no input (ETIMEDOUT)\n  caused by: queue get timed out ..."
 * Truncates to fit, always NUL-terminates when size > 0.  Returns the length
 * the full text needs (like snprintf).
 */
CC_API size_t cc_error_format(const cc_error *e, char *buf, size_t size);

/* cc_error_print - write the same text, followed by a newline, to `out`. */
CC_API void cc_error_print(const cc_error *e, FILE *out);

/*
 * cc_error_is - true when e or any error in its cause chain has the code
 * `code` (Go's errors.Is; Python's isinstance on an exception and its
 * __cause__s):
 *
 *     if (cc_error_is(cc_last_error(), ETIMEDOUT)) ...
 *
 * False for NULL e.  Reads e only; never fails, sets no error.
 */
CC_API bool cc_error_is(const cc_error *e, int code);

/* cc_errname - the symbolic name of an errno value ("ETIMEDOUT") or of one
 * of concur's own codes ("CC_EHTTP"), or "E?".  A static string; never
 * fails. */
CC_API const char *cc_errname(int code);

/*
 * cc_strerror - what an errno value means, like strerror() ("Connection
 * timed out"), also for concur's own codes (CC_EBASE): "called process
 * returned non-zero exit status" for CC_ECALLEDPROCESS, "HTTP status error"
 * for CC_EHTTP.  An unknown code gives "Unknown error N".  The string is
 * static or the calling thread's own (valid until its next call); never
 * fails.
 */
CC_API const char *cc_strerror(int code);

/* ---------------------------------------------------------- time, deadlines */

/* cc_now - seconds on the monotonic clock (not wall time).  Never fails. */
CC_API double cc_now(void);

/*
 * cc_deadline - the absolute cc_now() time `timeout` seconds from now;
 * INFINITY for a negative timeout (forever).
 */
CC_API double cc_deadline(double timeout);

/*
 * cc_remaining - seconds left until an absolute deadline made by
 * cc_deadline(): 0 once it has passed, CC_FOREVER for an infinite one.  Pass
 * the result as the timeout of the next call to keep one overall deadline.
 */
CC_API double cc_remaining(double deadline);

/*
 * cc_deadline_push - open a deadline scope (Python's asyncio.timeout()): for
 * the calling thread or coroutine, every blocking call made before the
 * matching cc_deadline_pop() gives up with ETIMEDOUT at the latest `seconds`
 * from now, whatever its own timeout.  Scopes nest; the earliest wins.
 *
 * Returns 0, or -1 with EINVAL (NaN) or EOVERFLOW (more than 32 nested).
 */
CC_API int cc_deadline_push(double seconds);

/* cc_deadline_pop - close the innermost deadline scope (no-op when none). */
CC_API void cc_deadline_pop(void);

/*
 * cc_deadline_expired - true when the innermost deadline scope of the
 * calling thread or coroutine has passed (false without a scope).
 */
CC_API bool cc_deadline_expired(void);

/* ------------------------------------------------------------------- blobs */

/*
 * Blobs: heap buffers that know their length, C's answer to "picklable".
 * Everything that crosses a process boundary is a blob.  A blob pointer
 * points at the data; one hidden NUL byte always follows the data, so a blob
 * holding text is also a C string.
 *
 * Pointers that are not blobs.  Every call below that takes a blob checks
 * the 16-byte header before it without faulting: a pointer below 64 KiB or
 * not 16-byte aligned (an integer cast to a pointer) is refused at once,
 * and the header's page is read only once a system call has said it is
 * readable (the first byte of a mapping, a page after a guard page, a stack
 * or a string literal is refused, not a crash).  The last pages found
 * readable are remembered per thread, so checking blobs from one heap costs
 * a system call per page, not per call.  A blob already freed is refused as
 * long as its memory is still mapped.
 */

/* cc_blob_new - len bytes (uninitialised, NUL after them).  NULL on ENOMEM. */
CC_API void *cc_blob_new(size_t len);

/* cc_blob_dup - a blob holding a copy of len bytes at p (p may be NULL if len
 * is 0).  NULL on ENOMEM or EINVAL. */
CC_API void *cc_blob_dup(const void *p, size_t len);

/* cc_blob_strdup - a blob holding the string s without its NUL; NULL on error. */
CC_API char *cc_blob_strdup(const char *s);

/*
 * cc_blob_resize - change a blob's length, keeping its content up to the
 * shorter length (like realloc; blob NULL makes a new one).  Returns the
 * possibly moved blob, or NULL (ENOMEM, the old blob unchanged; EINVAL when
 * blob is not a blob).
 */
CC_API void *cc_blob_resize(void *blob, size_t len);

/* cc_blob_len - the length of a blob; 0 with EINVAL for NULL or a non-blob
 * (any pointer: see "Pointers that are not blobs" above). */
CC_API size_t cc_blob_len(const void *blob);

/* cc_blob_is - true when p is a live blob (checks its header, without
 * faulting whatever p is); false for NULL and anything else.  Sets no
 * error. */
CC_API bool cc_blob_is(const void *p);

/* cc_blob_free - free a blob; NULL does nothing.  A pointer that is not a
 * blob, whatever it is, is left alone (and reported in debug mode). */
CC_API void cc_blob_free(void *blob);

/* -------------------------------------------------------- machine, debug */

/*
 * cc_cpu_count - how many CPUs this process may run on (its affinity mask,
 * like Python's os.process_cpu_count()), at least 1.  Never fails.
 */
CC_API int cc_cpu_count(void);

/*
 * Debug mode: reports errors that nobody retrieved and other likely
 * mistakes (on stderr, or to cc_set_log's sink, at CC_LOG_DEBUG).  On
 * when the environment has CONCUR_DEBUG=1 at start-up, or after
 * cc_set_debug(true).
 */
CC_API void cc_set_debug(bool on);

/* True while debug mode is on. */
CC_API bool cc_debug_enabled(void);

/* ------------------------------------------------------------------ logging */

/* The levels of the library's own reports (cc_set_log). */
enum {
    CC_LOG_ERROR = 0,   /* something failed that no caller can be told of:
                           a child process's uncaught error, a refused
                           free, fork hooks that could not be installed */
    CC_LOG_WARNING = 1, /* a failure nobody asked to hear about: a server
                           handler's error without on_error, a failing
                           done-callback */
    CC_LOG_DEBUG = 2,   /* debug mode's reports (cc_set_debug) */
};

/* Receives one report: its level, the line as it would be printed (no
 * newline; "concur: ..." or "Process <name>: ..."), and cc_set_log's arg. */
typedef void (*cc_log_fn)(int level, const char *line, void *arg);

/*
 * cc_set_log - send the library's own reports to fn(level, line, arg)
 * instead of stderr; NULL goes back to stderr (one write per line).  These
 * are every line the library writes by itself: a server handler's failure
 * when there is no on_error, a process's uncaught error ("Process
 * <name>: ..."), refused frees of executors and groups, a failing
 * done-callback, fork hooks that could not be installed, and debug mode's
 * reports.  The one exception is the report of a task that overflowed its
 * stack, written from the signal handler, where no callback may run.
 *
 * fn may be called from any thread, several at once, and in a forked
 * child; the line is valid during the call.  It should be quick and must
 * not wait on the thread that reports.  The setting is process-wide, and
 * a forked child inherits it; switching it while reports flow is safe
 * (each report goes whole to the old sink or the new one).  Never fails
 * (out of memory, the old sink stays).
 */
CC_API void cc_set_log(cc_log_fn fn, void *arg);

/* cc_version - "0.1.0". */
CC_API const char *cc_version(void);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_BASE_H */
