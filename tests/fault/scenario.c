/*
 * scenario.c - the checks scenarios make when a call fails (scenario.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

sc_outcome sc_out;

static void keep(int err, const char *what, const char *msg)
{
    if (sc_out.what[0] != '\0')
        return; /* the first outcome is the one that matters */
    sc_out.err = err;
    snprintf(sc_out.what, sizeof(sc_out.what), "%s", what);
    snprintf(sc_out.msg, sizeof(sc_out.msg), "%s", msg);
}

int sc_bad(const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    keep(0, "check", msg);
    return SC_BAD;
}

int sc_failed(const char *what)
{
    int err = errno;
    const char *msg = cc_errmsg();
    const cc_error *last = cc_last_error();

    if (err == 0)
        return sc_bad("%s failed with errno 0 (message \"%s\")", what, msg);
    if (msg == NULL || msg[0] == '\0')
        return sc_bad("%s failed (%s) without a message", what,
                      cc_errname(err));
    if (cc_error_code(last) != err)
        return sc_bad("%s failed with errno %s but its error says %s: %s",
                      what, cc_errname(err), cc_errname(cc_error_code(last)),
                      msg);
    if (err == ETIMEDOUT)
        return sc_bad("%s timed out after %.0f s (a lost wake-up): %s", what,
                      SC_WAIT, msg);
    keep(err, what, msg);
    return SC_REPORTED;
}

int sc_reported_error(const char *what, int code, const char *msg)
{
    if (code == 0)
        return sc_bad("%s failed without a code (message \"%s\")", what,
                      msg != NULL ? msg : "");
    if (msg == NULL || msg[0] == '\0')
        return sc_bad("%s failed (%s) without a message", what,
                      cc_errname(code));
    keep(code, what, msg);
    return SC_REPORTED;
}

void sc_keep_server_error(cc_server *srv, const char *peer,
                          const cc_error *err, void *arg)
{
    sc_server_log *log = arg;

    (void)srv, (void)peer;
    if (!atomic_load(&log->reported)) {
        log->code = cc_error_code(err);
        snprintf(log->msg, sizeof(log->msg), "%s", cc_error_message(err));
        atomic_store(&log->reported, true);
    }
}

int sc_also_failed(int rc, const char *what)
{
    int now = sc_failed(what);

    return rc == SC_BAD || now == SC_BAD ? SC_BAD : SC_REPORTED;
}
