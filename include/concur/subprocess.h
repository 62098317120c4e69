/*
 * concur/subprocess.h - running other programs: Python's subprocess, for C.
 *
 *   cc_subprocess_run    run a program to the end: capture its output, feed
 *                        it input, time it out, check its exit status
 *   cc_popen             a running program: pipes to and from it, poll,
 *                        wait, communicate, signals; pipelines of them
 *   cc_subprocess_shell  the same through /bin/sh, only when asked by name
 *
 * No shell is involved unless a *_shell call is made: argv[0] is looked up
 * in PATH (the child's PATH when opts->env replaces the environment, as
 * execvpe does) and the arguments reach the program as they are, so
 * nothing in them is ever interpreted.
 *
 * Starting.  Children are started with posix_spawn (vfork + exec under the
 * hood: no copy of the parent's memory), with their signal mask emptied
 * and every signal disposition back to its default.  A program that
 * cannot be started is reported by the starting call itself: -1 with the
 * errno exec gave (ENOENT: no such program, EACCES: not executable,
 * ENOEXEC, ENOTDIR...) and a message naming the program and the reason --
 * never a child that exits 127.  A child inherits file descriptors 0, 1
 * and 2 as opts say and the ones listed in opts->pass_fds, nothing else:
 * every descriptor the library opens is close-on-exec, and the child
 * closes every other descriptor of the parent before exec.  Starting is
 * safe from any number of threads at once.  The start itself blocks the
 * calling thread (a task's loop too) until the child has exec'd: well
 * under a millisecond, as no memory is copied.
 *
 * Ending.  The return code is the child's exit status, or minus the number
 * of the signal that killed it (-15 after cc_popen_terminate), as in
 * Python.  Every child is reaped: by the wait that sees it end, or by
 * cc_popen_free, which kills (SIGKILL) and reaps a child still running.
 * Nothing here installs a SIGCHLD handler or reaps children it did not
 * start (a pidfd watches each child).
 *
 * Threads and coroutines.  cc_popen_wait, cc_popen_communicate and
 * cc_subprocess_run block the calling thread -- or, called from a
 * coroutine, suspend only that coroutine while its loop runs the others
 * (the child's pidfd and the pipes are waited on by the loop).  Every
 * blocking call takes a timeout (ETIMEDOUT; EAGAIN when it is 0, where
 * that means "don't wait") and fails with ECANCELED when the calling task
 * is cancelled; deadline scopes (cc_deadline_push) apply.
 *
 * Defaults (see concur/base.h): a cc_popen may be used from several
 * threads, but only one communicate at a time (a second fails EBUSY);
 * EINVAL for NULL or a foreign handle; every call that fails sets errno
 * and cc_errmsg().  ECHILD from a wait means the child was reaped by
 * someone else (SIGCHLD set to SIG_IGN, or a waitpid(-1) in the program),
 * so its return code is unknown.
 */
#ifndef CONCUR_SUBPROCESS_H
#define CONCUR_SUBPROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A started child program (Popen); cc_popen_new, cc_popen_free. */
typedef struct cc_popen cc_popen;

/*
 * CC_ECALLEDPROCESS - the errno of a checked run whose child exited
 * non-zero or was killed by a signal (Python's CalledProcessError).
 * cc_errmsg() then reads "Command '[ls, /nope]' returned non-zero exit
 * status 2." or "Command '[sleep, 10]' died with SIGTERM.".  concur's own
 * code (CC_EBASE + 1, see concur/base.h), distinct from ECHILD (a child
 * reaped by someone else); cc_errname() says "CC_ECALLEDPROCESS",
 * cc_strerror() "called process returned non-zero exit status".
 */
#define CC_ECALLEDPROCESS (CC_EBASE + 1)

/* ----------------------------------------------------- what 0, 1, 2 are */

/* How one of the child's standard streams is set up. */
typedef enum cc_stdio_mode {
    CC_INHERIT = 0, /* the parent's own descriptor (the default) */
    CC_PIPE,        /* a new pipe; the parent's end is cc_popen_fd() */
    CC_DEVNULL,     /* /dev/null */
    CC_FD,          /* the caller's descriptor `fd` (the caller keeps it
                       and closes it when it likes) */
    CC_STDOUT,      /* stderr only: wherever stdout goes */
    CC_FROM         /* stdin only: the stdout pipe of `from` (a cc_popen
                       started with stdout CC_PIPE); the parent's end is
                       handed to this child and closed in the parent, so
                       EOF and SIGPIPE travel along the pipeline */
} cc_stdio_mode;

/* One of the child's standard streams: a mode, and what it needs. */
typedef struct cc_stdio {
    cc_stdio_mode mode;       /* how the stream is set up */
    int fd;                   /* CC_FD: the descriptor */
    cc_popen *from;           /* CC_FROM: the upstream process */
} cc_stdio;

/* Shorthands for the fields of cc_popen_opts: .out = CC_STDIO(CC_PIPE). */
#define CC_STDIO(mode_) ((cc_stdio){.mode = (mode_), .fd = -1, .from = NULL})
/* A cc_stdio for the caller's descriptor fd_ (CC_FD). */
#define CC_STDIO_FD(fd_) ((cc_stdio){.mode = CC_FD, .fd = (fd_), .from = NULL})
/* A cc_stdio for stdin from the stdout pipe of the cc_popen p_ (CC_FROM). */
#define CC_STDIO_FROM(p_) ((cc_stdio){.mode = CC_FROM, .fd = -1, .from = (p_)})

/*
 * How to start a child.  A zeroed struct (or NULL) means: inherit 0, 1, 2,
 * the environment and the working directory.
 */
typedef struct cc_popen_opts {
    cc_stdio in,              /* the child's stdin */
             out,             /* the child's stdout */
             err;             /* the child's stderr */
    const char *cwd;          /* run there (NULL: the parent's); ENOENT etc.
                                 are reported like an exec failure */
    /* The environment: `env` (NULL-terminated "NAME=value" strings)
     * replaces the parent's when not NULL; then every name in env_unset is
     * removed and every "NAME=value" of env_set is added or replaces the
     * one of that name (the last of several wins).  Read during the call
     * only, nothing is kept; NULL lists are empty. */
    const char *const *env;
    const char *const *env_set;   /* "NAME=value" to add or replace */
    const char *const *env_unset; /* names to remove */
    const int *pass_fds;      /* more descriptors the child keeps, as they
                                 are numbered in the parent (close-on-exec
                                 or not; 0-2 here are ignored: in/out/err
                                 say what they are) */
    size_t n_pass_fds;        /* how many descriptors pass_fds holds */
    bool new_session;         /* setsid(): the child leads a new session
                                 and process group, which the timeouts of
                                 cc_subprocess_run and
                                 cc_popen_signal_group reach as a whole
                                 (grandchildren included) */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_popen_opts;

/* --------------------------------------------------------------- Popen */

/*
 * cc_popen_new - start argv[0] with the arguments argv[0..] (a
 * NULL-terminated array; argv[0] is searched in PATH unless it contains a
 * '/').  Returns the running child's handle, owned by the caller
 * (cc_popen_free), or NULL with errno:
 *   ENOENT, EACCES, ENOEXEC, ...  the program (or opts->cwd) could not be
 *              used: "cannot run 'nosuch': No such file or directory"
 *   EINVAL     argv NULL or empty, a bad cc_stdio (CC_STDOUT for stdin,
 *              CC_FROM without a stdout pipe, CC_FD with a closed fd), an
 *              env string without '=' (or an env_unset name with one), a
 *              pass_fds entry that is negative or not open
 *   EBUSY      CC_FROM a process whose pipes a communicate is reading
 *   ENOTDIR, ENOENT, EACCES  opts->cwd is no usable directory:
 *              "cannot run 'ls': cannot change to directory '/nope': ..."
 *   EMFILE, ENOMEM, EAGAIN  out of descriptors, memory, processes
 *   ESRCH      the child ended and was reaped by someone else (SIGCHLD
 *              ignored) before it could be watched
 * Nothing is left behind on failure (no child, no descriptor).
 */
CC_API cc_popen *cc_popen_new(const char *const argv[], const cc_popen_opts *opts);

/*
 * cc_popen_shell - cc_popen_new of {"/bin/sh", "-c", command}.  The
 * command is interpreted by the shell: never build it from untrusted
 * text (a name like "x; rm -rf ~" runs both commands) -- pass argv to
 * cc_popen_new instead.
 */
CC_API cc_popen *cc_popen_shell(const char *command, const cc_popen_opts *opts);

/* cc_popen_pid - the child's process id (valid until cc_popen_free). */
CC_API pid_t cc_popen_pid(const cc_popen *p);

/*
 * cc_popen_fd - the parent's end of the pipe to the child's stream
 * `which` (0 stdin, 1 stdout, 2 stderr), to read or write directly;
 * owned by the handle, non-blocking (wait with cc_wait_fd) and
 * close-on-exec.  A write to stdin after the child closed it raises
 * SIGPIPE unless the program blocks or ignores it (communicate takes
 * care of that itself).  -1 with EBADF when that stream is not a pipe,
 * or its end was closed or handed to a CC_FROM child; EINVAL for a
 * `which` other than 0-2.
 */
CC_API int cc_popen_fd(const cc_popen *p, int which);

/*
 * cc_popen_close_fd - close the parent's end of the pipe to stream
 * `which` now (closing stdin is how a child that reads to EOF is told to
 * finish).  0, or -1 with EBADF as cc_popen_fd, EBUSY while a
 * communicate is using the pipes.
 */
CC_API int cc_popen_close_fd(cc_popen *p, int which);

/*
 * cc_popen_poll - has the child ended?  Never blocks.  Returns 1 and
 * stores the return code in *returncode (if not NULL) when it has, 0 while
 * it runs, -1 with EINVAL or ECHILD.
 */
CC_API int cc_popen_poll(cc_popen *p, int *returncode);

/*
 * cc_popen_wait - wait for the child to end.  Returns 0 and stores the
 * return code (if returncode is not NULL); -1 with ETIMEDOUT (EAGAIN for
 * timeout 0), ECANCELED, ECHILD or EINVAL (also for a NaN timeout).  Any number of threads and tasks may wait on
 * one child; they all see the same code.  Does not read the child's pipes:
 * a child blocked writing to a full pipe nobody reads never ends (use
 * cc_popen_communicate).
 */
CC_API int cc_popen_wait(cc_popen *p, double timeout, int *returncode);

/*
 * cc_popen_communicate - write `input` to the child's stdin (then close
 * it), read its stdout and stderr to their end, and wait for the child to
 * end -- all at once, so no pipe can fill up and stall the other side,
 * whatever the sizes.
 *
 * input may be NULL (len 0): stdin is just closed.  Input given without a
 * stdin pipe fails EINVAL.  On success returns 0 and stores what the child
 * wrote to stdout and stderr in *out and *err as blobs (caller frees with
 * cc_blob_free; NULL when that stream is not a pipe; out/err may be NULL
 * to discard), and the return code in *returncode.
 *
 * On ETIMEDOUT (EAGAIN for timeout 0) or ECANCELED, nothing is lost: what
 * was read so far stays in the handle, with the input not yet written
 * (copied, so the caller's buffer may go), and the child keeps running.
 * Call again to continue (input is then ignored) and get everything, or
 * kill the child first: as Python's Popen.communicate after
 * TimeoutExpired.  Other errors: EPIPE is not one (a child that exits
 * without reading its input is normal: the rest is dropped); EBUSY
 * (another communicate of this handle is running), ECHILD, ENOMEM,
 * EMFILE (no descriptor for the call's epoll instance: the input is kept,
 * call again later), EINVAL.  A call after a successful one finds the
 * pipes closed: NULL outputs and the return code.
 */
CC_API int cc_popen_communicate(cc_popen *p, const void *input, size_t len,
                                double timeout, void **out, void **err,
                                int *returncode);

/*
 * cc_popen_partial - after a communicate that timed out: what was read so
 * far from stdout (which 1) or stderr (2), owned by the handle, its length
 * in *len; NULL (len 0) when nothing was.  Valid until the next
 * communicate or cc_popen_free.
 */
CC_API const void *cc_popen_partial(const cc_popen *p, int which, size_t *len);

/*
 * cc_popen_send_signal - send signal `sig` to the child (cc_popen_terminate
 * and cc_popen_kill below send SIGTERM and SIGKILL).  A child that has
 * already ended (or been reaped) is left alone and the call returns 0, as
 * in Python.  Signals go through the child's pidfd, so a recycled pid is
 * never signalled.
 * -1 with EINVAL for a bad signal number (0 only checks, as in kill(2)),
 * or the kernel's error (EPERM).  (The same rule as cc_process_signal.)
 */
CC_API int cc_popen_send_signal(cc_popen *p, int sig);

/* cc_popen_terminate - send SIGTERM to the child, as cc_popen_send_signal
 * (the same returns and errors). */
CC_API int cc_popen_terminate(cc_popen *p);

/* cc_popen_kill - send SIGKILL to the child, as cc_popen_send_signal (the
 * same returns and errors). */
CC_API int cc_popen_kill(cc_popen *p);

/*
 * cc_popen_signal_group - signal the child's whole process group (the
 * child and what it started), for a child started with new_session.
 * -1 with EINVAL otherwise; 0 when the group is already gone.  Its id is
 * the child's pid, which cannot be reused while the child is unreaped or
 * any member of the group lives.
 */
CC_API int cc_popen_signal_group(cc_popen *p, int sig);

/*
 * cc_popen_free - release the handle: close the parent's pipe ends, and
 * if the child still runs, kill it (SIGKILL, its group too with
 * new_session) and reap it, so no zombie is left.  NULL is fine.
 */
CC_API void cc_popen_free(cc_popen *p);

/* ----------------------------------------------------------------- run */

/* Options of cc_subprocess_run.  Zero (or NULL) = default. */
typedef struct cc_run_opts {
    cc_popen_opts popen;      /* streams, cwd, env, pass_fds, new_session;
                                 the three below set .in/.out/.err for
                                 you (setting both is EINVAL) */
    bool capture_output;      /* stdout and stderr into the result */
    bool stderr_to_stdout;    /* stderr joins stdout (with capture_output:
                                 both in result.out, interleaved) */
    const void *input;        /* bytes for stdin (stdin becomes a pipe; may
                                 be empty), or NULL to leave stdin as
                                 popen.in says */
    size_t input_len;         /* bytes at input */
    double timeout;           /* seconds; 0 (the zeroed default) or
                                 CC_FOREVER: none (deadline scopes still
                                 apply) */
    bool check;               /* a non-zero return code fails the call
                                 with CC_ECALLEDPROCESS */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_run_opts;

/* The outcome of a run.  out and err are blobs or NULL (not captured). */
typedef struct cc_completed {
    int returncode;           /* exit status, or -signal */
    void *out;                /* captured stdout */
    void *err;                /* captured stderr */
    unsigned long long reserved[4]; /* zeroed by the call (room to grow) */
} cc_completed;

/*
 * cc_subprocess_run - start argv, feed it opts->input, collect what it
 * prints, wait for it to end (subprocess.run).  Returns 0 with *result
 * filled (the caller frees it with cc_completed_free), or -1 with errno:
 *   ENOENT, EACCES, ...  as cc_popen_new (result zeroed)
 *   ETIMEDOUT  the timeout (or a deadline scope) passed: the child was
 *              killed -- with new_session its whole process group, even
 *              if the child itself had ended -- and reaped; result holds
 *              its return code and what the pipes held by then; "Command
 *              '[sleep, 10]' timed out after 0.5 seconds".  A grandchild
 *              that keeps the pipes open does not delay the return.
 *   ECANCELED  the calling task was cancelled: the child was killed and
 *              reaped, as for a timeout
 *   CC_ECALLEDPROCESS  opts->check and a non-zero return code; result
 *              filled; cc_errmsg() "Command '[false]' returned non-zero
 *              exit status 1." or "Command '[sleep, 10]' died with
 *              SIGTERM." (a long command is cut with "...")
 *   EINVAL     result or argv NULL, a NaN timeout, input NULL with
 *              input_len > 0, capture_output with popen.out/err set,
 *              input with popen.in set, stderr_to_stdout with popen.err
 *              set
 *   ESRCH      the child was reaped by someone else (SIGCHLD ignored, a
 *              waitpid(-1) elsewhere): its status is lost
 *   ENOMEM, EMFILE, ...  the child was killed and reaped all the same
 * result must not be NULL; opts may be.  Like cc_popen_communicate, a
 * task waits suspended and the output arrives without stalling its loop.
 */
CC_API int cc_subprocess_run(const char *const argv[], const cc_run_opts *opts,
                             cc_completed *result);

/*
 * cc_subprocess_shell - cc_subprocess_run of {"/bin/sh", "-c", command}.
 * The shell interprets the command: the same injection risk as
 * cc_popen_shell; use cc_subprocess_run with argv for anything built
 * from outside input.
 */
CC_API int cc_subprocess_shell(const char *command, const cc_run_opts *opts,
                               cc_completed *result);

/* cc_completed_free - free the captured blobs and zero *c.  NULL is fine. */
CC_API void cc_completed_free(cc_completed *c);

#ifdef __cplusplus
}
#endif

#endif
