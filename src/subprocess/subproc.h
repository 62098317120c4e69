/*
 * subproc.h - the cc_popen record and what the files of the subprocess
 * layer share (private to src/subprocess/).
 *
 * env.c builds a child's environment, spawn.c turns a stdio plan into
 * posix_spawn actions and runs the program (PATH search included),
 * popen.c owns the handle (start, wait, signals, free -- the child's end
 * is the shared child record's, src/process/child.c),
 * communicate.c moves bytes through its pipes, run.c is subprocess.run.
 */
#ifndef CC_SUBPROCESS_SUBPROC_H
#define CC_SUBPROCESS_SUBPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "concur/subprocess.h"
#include "internal/child.h"
#include "internal/mutex.h"

#define CC__POPEN_MAGIC 0x504f504eu   /* "POPN" */

/*
 * Output read from one pipe so far: a list of chunks, so that growing it
 * never copies what was read (a realloc of tens of MiB would stall a
 * task's loop for milliseconds).  Chunks grow from 16 KiB to 256 KiB.
 */
typedef struct cc__chunk {
    struct cc__chunk *next;
    size_t cap;              /* bytes of data[] */
    size_t len;              /* bytes of data[] filled */
    unsigned char data[];
} cc__chunk;

typedef struct cc__outbuf {
    cc__chunk *head;         /* oldest; NULL when empty */
    cc__chunk *tail;         /* being filled */
    size_t total;            /* bytes in all chunks */
} cc__outbuf;

/*
 * A handle.  The child record (internal/child.h, shared with cc_process:
 * pid, pidfd, the return code under child.mu) and name are fixed at start.
 * mu guards the fds and `busy`.  While `busy` is set one communicate owns
 * the communicate state (everything from `started` down) and is the only
 * one that closes fds; outside a communicate that state is touched only
 * under mu.  mu is a short futex lock: never held across a wait, only
 * across a close; it is never held together with child.mu.  Freed by
 * cc_popen_free only, whose caller must be the last user.
 */
struct cc_popen {
    uint32_t magic;          /* CC__POPEN_MAGIC while alive */
    cc__child child;         /* group set for new_session */
    char *name;              /* argv[0], whole, for messages (malloc'd) */
    cc__mutex mu;
    int fd[3];               /* the parent's pipe ends (non-blocking,
                                close-on-exec), -1 when none */
    bool busy;               /* a communicate runs */
    /* --- the communicate state (see above) --- */
    bool started;            /* input taken: later calls ignore theirs */
    bool collect[2];         /* stdout / stderr were pipes when it started */
    char *in_buf;            /* input not yet written (malloc'd copy) */
    size_t in_len;
    size_t in_pos;
    cc__outbuf acc[2];       /* stdout / stderr read so far */
};

/* True when p looks like a live handle. */
static inline bool cc__popen_ok(const cc_popen *p)
{
    return p != NULL && p->magic == CC__POPEN_MAGIC;
}

/* ------------------------------------------------------------ env.c */

/*
 * The child's environment for opts: a malloc'd NULL-terminated array of
 * pointers into opts' strings and environ (valid while they are; used
 * only until posix_spawn returns).  0, or EINVAL/ENOMEM with the error
 * recorded.
 */
int cc__env_build(const cc_popen_opts *opts, char ***envp);

/* The value of NAME in a NULL-terminated "NAME=value" list, or NULL. */
const char *cc__env_get(char *const *envp, const char *name);

/* ---------------------------------------------------------- spawn.c */

/* How the child's fd i is made (i = 0, 1, 2). */
enum {
    CC__STD_KEEP = 0,    /* left as the parent has it */
    CC__STD_DUP,         /* dup2(src, i); src >= 3 or src == i */
    CC__STD_DEVNULL,     /* /dev/null, opened in the child */
    CC__STD_STDOUT,      /* stderr only: dup2(1, 2) once 1 is set */
};

typedef struct cc__stdio_plan {
    int how;             /* CC__STD_* */
    int src;             /* CC__STD_DUP: a descriptor of the parent */
} cc__stdio_plan;

typedef struct cc__spawn_req {
    const char *const *argv;
    char *const *envp;         /* the child's environment (cc__env_build) */
    const char *cwd;           /* or NULL */
    cc__stdio_plan std[3];
    const int *pass_fds;
    size_t n_pass_fds;
    bool new_session;
} cc__spawn_req;

/*
 * Start the program: the file actions and attributes for req, then
 * posix_spawn, searching argv[0] in the PATH of req->envp when it has no
 * '/'.  0 and *pid, or an errno with the error recorded ("cannot run
 * 'x': No such file or directory"); no child is left on failure.
 */
int cc__spawn(const cc__spawn_req *req, pid_t *pid);

/* ---------------------------------------------------------- popen.c */

/* Close the parent's end of stream i; mu held. */
void cc__popen_close_locked(cc_popen *p, int i);

/* --------------------------------------------------------- outbuf.c */

/* Space to read into at the end (at least 1 byte, *room of them), or NULL
 * with ENOMEM recorded. */
void *cc__outbuf_space(cc__outbuf *b, size_t *room);

/* n bytes were written at the space last returned. */
void cc__outbuf_commit(cc__outbuf *b, size_t n);

/* Make the contents one chunk (head->data, total bytes).  0, or -1 with
 * ENOMEM recorded and nothing changed. */
int cc__outbuf_flatten(cc__outbuf *b);

/* Copy the contents into blob (of b->total bytes) and empty b.  From a
 * task, yields between slices.  Cannot fail. */
void cc__outbuf_move(cc__outbuf *b, void *blob);

void cc__outbuf_free(cc__outbuf *b);

/* ---------------------------------------------------- communicate.c */

/*
 * After the child was killed: read what its stdout and stderr pipes hold
 * right now (never waiting for an end of file that a grandchild may
 * delay), then move everything collected into *out and *err (blobs, or
 * NULL for a stream that is not a pipe; either may be NULL to discard).
 * 0, or ENOMEM/EBUSY with the error recorded (nothing moved).
 */
int cc__popen_take_partial(cc_popen *p, void **out, void **err);

/* Free the communicate state (cc_popen_free). */
void cc__popen_comm_free(cc_popen *p);

#endif
