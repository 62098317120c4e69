/*
 * run.c - cc_subprocess_run: start, feed, collect, wait, check
 * (subprocess.run), and the /bin/sh variants (subprocess layer).
 *
 * A run is a cc_popen plus one cc_popen_communicate bounded by the run's
 * timeout (and any deadline scope).  When that gives up -- the timeout,
 * or the calling task cancelled -- the child is killed (its whole group
 * with new_session) and reaped, and the result gets what the pipes hold
 * at that moment without waiting for their end of file: a grandchild
 * that inherited them could hold them open for ever, and Python's run
 * hangs there.  Nothing is shared between runs; no lock.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/error.h"
#include "subprocess/subproc.h"

#define CMD_ARGS_SHOWN 160 /* bytes of arguments a message shows */

/*
 * "[ls, -l, /nope]" for messages (malloc'd; NULL when out of memory): the
 * program's path whole, the arguments after it cut with "...]" past
 * CMD_ARGS_SHOWN bytes (a run may have thousands of them).
 */
static char *format_command(const char *const argv[])
{
    size_t prog = strlen(argv[0]);
    size_t size = 1 + prog + CMD_ARGS_SHOWN + 2;
    char *buf = malloc(size);
    size_t at = 1 + prog;

    if (buf == NULL)
        return NULL;
    buf[0] = '[';
    memcpy(buf + 1, argv[0], prog);
    for (size_t i = 1; argv[i] != NULL; i++) {
        int n = snprintf(buf + at, size - at, ", %s", argv[i]);

        if (n < 0 || at + (size_t)n + 2 > size) {
            memcpy(buf + size - 5, "...]", 5); /* cut */
            return buf;
        }
        at += (size_t)n;
    }
    memcpy(buf + at, "]", 2);
    return buf;
}

/* "SIGTERM", or "signal 42" for one without a name. */
static void signal_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);

    if (abbrev != NULL)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
}

/* The popen options a run implies; EINVAL recorded for a contradiction. */
static int popen_opts_for(const cc_run_opts *o, cc_popen_opts *po)
{
    *po = o->popen;
    if (o->capture_output) {
        if (po->out.mode != CC_INHERIT || po->err.mode != CC_INHERIT)
            return cc__err(EINVAL, "cc_subprocess_run: capture_output with "
                                   "popen.out or popen.err set");
        po->out = CC_STDIO(CC_PIPE);
        po->err = CC_STDIO(CC_PIPE);
    }
    if (o->stderr_to_stdout) {
        if (po->err.mode != CC_INHERIT && !o->capture_output)
            return cc__err(EINVAL, "cc_subprocess_run: stderr_to_stdout "
                                   "with popen.err set");
        po->err = CC_STDIO(CC_STDOUT);
    }
    if (o->input != NULL) {
        if (po->in.mode != CC_INHERIT)
            return cc__err(EINVAL, "cc_subprocess_run: input with popen.in "
                                   "set");
        po->in = CC_STDIO(CC_PIPE);
    }
    return 0;
}

/* The run gave up (code ETIMEDOUT or ECANCELED): kill, reap, collect. */
static int give_up(cc_popen *p, const char *const argv[], const cc_run_opts *o,
                   int code, cc_completed *result)
{
    char *cmd;
    int rc;

    rc = cc__child_kill_reap(&p->child, true);
    if (rc == 0 && !p->child.lost)
        result->returncode = p->child.code;
    (void)cc__popen_take_partial(p, &result->out, &result->err);
    cmd = format_command(argv);
    if (code == ECANCELED)
        cc__errf(ECANCELED, "Command '%s' was cancelled (the calling task "
                            "was cancelled): killed it", cmd ? cmd : argv[0]);
    else if (o->timeout > 0)
        cc__errf(ETIMEDOUT, "Command '%s' timed out after %g seconds",
                 cmd ? cmd : argv[0], o->timeout);
    else
        cc__errf(ETIMEDOUT, "Command '%s' timed out (a deadline scope "
                            "expired)", cmd ? cmd : argv[0]);
    free(cmd);
    return -1;
}

/* The checked run's error: the code was not 0 (CC_ECALLEDPROCESS). */
static int called_process_error(const char *const argv[], int returncode)
{
    char *cmd = format_command(argv);
    char sig[32];

    if (returncode > 0) {
        cc__errf(CC_ECALLEDPROCESS, "Command '%s' returned non-zero exit "
                                    "status %d.", cmd ? cmd : argv[0],
                 returncode);
    } else {
        signal_name(-returncode, sig, sizeof(sig));
        cc__errf(CC_ECALLEDPROCESS, "Command '%s' died with %s.",
                 cmd ? cmd : argv[0], sig);
    }
    free(cmd);
    return -1;
}

int cc_subprocess_run(const char *const argv[], const cc_run_opts *opts,
                      cc_completed *result)
{
    static const cc_run_opts defaults;
    cc_popen_opts po;
    cc_popen *p;
    double timeout;
    int rc;

    if (result == NULL)
        return cc__err(EINVAL, "cc_subprocess_run: result is NULL");
    memset(result, 0, sizeof(*result));
    if (opts == NULL)
        opts = &defaults;
    if (CC__OPTS_RESERVED(opts, "cc_subprocess_run", "cc_run_opts") != 0)
        return -1;
    if (isnan(opts->timeout))
        return cc__err(EINVAL, "cc_subprocess_run: timeout is NaN");
    if (opts->input == NULL && opts->input_len > 0)
        return cc__err(EINVAL, "cc_subprocess_run: input is NULL but "
                               "input_len is not 0");
    if (popen_opts_for(opts, &po) != 0)
        return -1;
    timeout = opts->timeout > 0 ? opts->timeout : CC_FOREVER;
    p = cc_popen_new(argv, &po);
    if (p == NULL)
        return -1;
    rc = cc_popen_communicate(p, opts->input, opts->input_len, timeout,
                              &result->out, &result->err, &result->returncode);
    if (rc != 0) {
        int e = errno;

        if (e == ETIMEDOUT || e == ECANCELED) {
            give_up(p, argv, opts, e, result);
        } else {
            /* ENOMEM, EMFILE...: keep that message; the child must not
             * outlive the call all the same.  A child reaped by someone
             * else (ECHILD from the wait) becomes ESRCH here, as the
             * header says: the run's child is gone without a status. */
            char *msg = strdup(cc_errmsg());

            if (e == ECHILD)
                e = ESRCH;
            (void)cc__child_kill_reap(&p->child, true);
            cc__errf(e, "cc_subprocess_run: %s", msg ? msg : "out of memory");
            free(msg);
        }
        cc_popen_free(p);
        errno = e;
        return -1;
    }
    cc_popen_free(p);
    if (opts->check && result->returncode != 0)
        return called_process_error(argv, result->returncode);
    return 0;
}

int cc_subprocess_shell(const char *command, const cc_run_opts *opts,
                        cc_completed *result)
{
    const char *argv[] = {"/bin/sh", "-c", command, NULL};

    if (result != NULL)
        memset(result, 0, sizeof(*result));
    if (command == NULL)
        return cc__err(EINVAL, "cc_subprocess_shell: command is NULL");
    return cc_subprocess_run(argv, opts, result);
}

void cc_completed_free(cc_completed *c)
{
    if (c == NULL)
        return;
    cc_blob_free(c->out);
    cc_blob_free(c->err);
    memset(c, 0, sizeof(*c));
}
