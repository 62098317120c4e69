/*
 * scenario.h - what a fault-injection scenario is, and the checks it uses
 * (tests/fault/; the driver is fault_driver.c).
 *
 * A scenario is a small program over the public API: it makes objects,
 * runs work through them, checks every result and frees everything.  The
 * driver runs it once with nothing failing, then again with the library's
 * 1st, 2nd, 3rd, ... resource call failing, each run in a fresh process,
 * until a run completes without reaching the failing call.
 *
 * A run must end one of two ways:
 *   SC_DONE      every result right (the library absorbed the failure:
 *                retried it, or did without, as a pool does with fewer
 *                threads), or
 *   SC_REPORTED  a call failed the documented way -- -1 or NULL, errno
 *                set, and cc_errmsg() / cc_last_error() saying why with
 *                the same code -- and the scenario stopped there and freed
 *                what it had.
 * Anything else fails the campaign: a wrong or missing result (SC_BAD, a
 * silent loss), a failure without errno or message (SC_BAD), a crash, a
 * hang, a leak (LeakSanitizer at exit) or a descriptor left open.
 */
#ifndef CONCUR_TESTS_FAULT_SCENARIO_H
#define CONCUR_TESTS_FAULT_SCENARIO_H

#include <stdatomic.h>

#include <concur.h>

enum { SC_DONE = 0, SC_REPORTED = -1, SC_BAD = -2 };

/* How long a scenario waits for anything.  Nothing in a scenario should
 * take more than milliseconds, so a wait that ends in ETIMEDOUT means a
 * lost wake-up: sc_failed counts it as SC_BAD, not as a reported error. */
#define SC_WAIT 30.0

typedef struct scenario {
    const char *name;
    const char *what;   /* one line for the report */
    int (*run)(void);   /* SC_DONE, SC_REPORTED or SC_BAD */
} scenario;

/* What the run said, for the driver (filled by sc_failed / sc_bad). */
typedef struct sc_outcome {
    int err;            /* errno of the reported failure */
    char what[96];      /* the call that failed, or the check */
    char msg[256];      /* cc_errmsg(), or what was wrong */
} sc_outcome;

extern sc_outcome sc_out;

/*
 * sc_failed - a library call returned its failure value: check that errno
 * is set and the thread's last error says why with the same code.  Returns
 * SC_REPORTED when it does, SC_BAD when it does not.
 */
int sc_failed(const char *what);

/*
 * sc_reported_error - a failure reported somewhere else than the return
 * value (a server's on_error, a future): SC_REPORTED when it has a code
 * and a message, SC_BAD when either is missing.
 */
int sc_reported_error(const char *what, int code, const char *msg);

/*
 * The first error a server reported (a handler's, a connection it could
 * not serve, a spell of failing accepts): give sc_keep_server_error as
 * cc_serve_opts.on_error and the log as the server's arg.  `reported` is
 * set last, so a client thread that sees it may read the rest.
 */
typedef struct sc_server_log {
    int code;
    char msg[256];
    _Atomic bool reported;
} sc_server_log;

void sc_keep_server_error(cc_server *srv, const char *peer,
                          const cc_error *err, void *arg);

/* sc_bad - a wrong result (printf-style description).  Returns SC_BAD. */
int sc_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Check a library call: when `ok` is false, record and jump to `out`. */
#define SC_CALL(ok, what)                                                   \
    do {                                                                    \
        if (!(ok)) {                                                        \
            rc = sc_failed(what);                                           \
            goto out;                                                       \
        }                                                                   \
    } while (0)

/* Check a result: when `cond` is false, the run lost or bent something. */
#define SC_EXPECT(cond, ...)                                                \
    do {                                                                    \
        if (!(cond)) {                                                      \
            rc = sc_bad(__VA_ARGS__);                                       \
            goto out;                                                       \
        }                                                                   \
    } while (0)

/* Record a failure of `what` without jumping (cleanup code): keeps the
 * first outcome, returns the worse of `rc` and this one. */
int sc_also_failed(int rc, const char *what);

/* The scenarios, by layer (scenarios_*.c). */
extern const scenario sc_threads[];
extern const scenario sc_aio[];
extern const scenario sc_process[];
extern const scenario sc_http[];

#endif
