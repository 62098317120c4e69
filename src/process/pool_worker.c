/*
 * pool_worker.c - a process pool worker's side (process layer): the loop
 * that runs tasks sent by the parent and sends back their outcomes.
 *
 * It runs on the process's only thread, from the start-up constructor in
 * pool.c, before main() (which never runs in a worker), and ends with
 * _exit.  Batching is where the speed comes from: it reads whatever the
 * parent has written in one go, runs every complete frame, and keeps the
 * results in one buffer that it writes when its input is drained, when the
 * buffer is large, right after a task that ran 100 us or more (a write
 * then costs under 5% of it), or before the next task once the oldest
 * result has waited 1 ms.  So results of quick tasks travel together, and
 * the only result held back by a slow task is one of a quick task run
 * less than 1 ms before it in the same batch.
 *
 * Ownership in a task: the argument blob belongs to the worker (the task
 * may read and even return it, not free it); a result blob is sent and
 * then freed by the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/blob.h"
#include "internal/clock.h"
#include "internal/log.h"
#include "internal/process.h"
#include "process/pool.h"

#define READ_CHUNK (256 * 1024)       /* bytes asked for per read */
#define FLUSH_BYTES (256 * 1024)      /* results buffered before a write */
#define FLUSH_AFTER_NS 1000000        /* results older than this go out
                                         before the next task starts */
#define SLOW_TASK_NS 100000           /* after a task this long, a write
                                         costs < 5%: send at once */

/* The initializer's argument: kept for the worker's life, since the
 * initializer may have stored it for the tasks. */
static void *initarg;

typedef struct worker {
    int fd;
    cc__buf in;
    cc__buf out;
    int64_t oldest;      /* when the first unsent result was made; 0: none */
    uint32_t max_tasks;  /* leave after this many tasks (0: never) */
    uint32_t done;       /* tasks answered */
} worker;

#if defined(CONCUR_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

static void leave(int code) __attribute__((noreturn));
static void leave(int code)
{
    fflush(NULL); /* what tasks printed; no atexit handlers run */
#if defined(CONCUR_ASAN)
    /* _exit skips LeakSanitizer's check at exit: run it here, so that the
     * sanitizer build checks the workers too. */
    __lsan_do_leak_check();
#endif
    _exit(code);
}

/* Write every buffered result.  The parent gone: nothing left to do. */
static void flush(worker *me)
{
    size_t off = 0;

    if (me->out.oom)
        leave(1); /* a result was lost: the parent sees the worker die */
    while (off < me->out.len) {
        ssize_t n = send(me->fd, me->out.data + off, me->out.len - off,
                         MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            leave(1);
        }
        off += (size_t)n;
    }
    me->out.len = 0;
    me->oldest = 0;
}

/*
 * Append the outcome of a task that returned r for argument arg: takes the
 * pending failure if there is one, frees r when it is a result blob of its
 * own.  Returns false when the outcome is an error.
 */
static bool put_outcome(worker *me, void *r, void *arg)
{
    cc_error *e = NULL;

    if (r == NULL) {
        e = cc__error_take_pending();
        cc__buf_put_u8(&me->out, e != NULL ? CC__OUT_ERROR : CC__OUT_NULL);
    } else if (r == arg || cc__blob_check(r)) {
        size_t len = cc_blob_len(r);

        cc_error_clear();
        cc__buf_put_u8(&me->out, CC__OUT_BLOB);
        cc__buf_put_u64(&me->out, len);
        cc__buf_put(&me->out, r, len);
        if (r != arg)
            cc_blob_free(r);
    } else {
        /* Like Python's pickling error: the worker cannot send it. */
        cc_error_clear();
        e = cc_error_new(EINVAL, NULL, "task returned a pointer that is not "
                                       "a blob");
        cc__buf_put_u8(&me->out, CC__OUT_ERROR);
    }
    if (me->oldest == 0)
        me->oldest = cc__now_ns();
    if (e == NULL)
        return true;
    cc__error_encode(&me->out, e);
    cc_error_free(e);
    return false;
}

/* An error outcome made here (the function could not be found, ...). */
static void put_error(worker *me, cc_error *e)
{
    cc__buf_put_u8(&me->out, CC__OUT_ERROR);
    cc__error_encode(&me->out, e);
    cc_error_free(e);
    if (me->oldest == 0)
        me->oldest = cc__now_ns();
}

/* Run fn on the next item of r and append its outcome.  False when the
 * task failed (a chunk stops there). */
static bool run_item(worker *me, cc_fn fn, cc__rd *r)
{
    void *arg;
    void *res;
    bool ok;
    int rc = cc__wire_get_item_blob(r, &arg);

    if (rc != 0) {
        put_error(me, cc_error_new(rc, NULL, "process pool worker: cannot "
                                   "read a task's argument: %s",
                                   strerror(rc)));
        return false;
    }
    res = fn(arg);
    ok = put_outcome(me, res, arg);
    cc_blob_free(arg);
    return ok;
}

/* A TASK or CHUNK frame: run it, append its RESULT or CHUNK_RESULT.
 * Returns how long it ran (ns). */
static uint64_t run_frame(worker *me, const cc__frame *h, cc__rd *r)
{
    bool chunk = h->type == CC__FR_CHUNK;
    size_t at = cc__frame_begin(&me->out, chunk ? CC__FR_CHUNK_RESULT
                                                : CC__FR_RESULT, h->id);
    size_t ns_at = me->out.len;
    size_t count_at;
    cc_error *e = NULL;
    int64_t t0 = cc__now_ns();
    cc_fn fn = cc__fnref_resolve(r, &e);
    uint32_t count = chunk ? cc__rd_u32(r) : 1;
    uint32_t answered = 0;
    uint64_t ns;

    cc__buf_put_u64(&me->out, 0); /* run time, filled in below */
    count_at = me->out.len;
    if (chunk)
        cc__buf_put_u32(&me->out, 0); /* outcomes, filled in below */
    if (fn == NULL) {
        put_error(me, e);
        answered = 1;
    } else {
        while (answered < count) {
            answered++;
            if (!run_item(me, fn, r))
                break;
        }
    }
    ns = (uint64_t)(cc__now_ns() - t0);
    if (!me->out.oom) {
        memcpy(me->out.data + ns_at, &ns, sizeof(ns));
        if (chunk)
            memcpy(me->out.data + count_at, &answered, sizeof(answered));
    }
    cc__frame_end(&me->out, at);
    return ns;
}

/* INIT: the budget, then the initializer (if any) runs before any task.
 * Its argument blob stays alive for the worker's life (the initializer may
 * keep it for the tasks).  A failure is reported and ends the worker. */
static void run_init(worker *me, cc__rd *r)
{
    uint32_t has_init = cc__rd_u32(r);
    cc_error *e = NULL;
    cc_fn fn;

    me->max_tasks = cc__rd_u32(r);
    if (!has_init)
        return;
    fn = cc__fnref_resolve(r, &e);
    if (fn != NULL) {
        int rc = cc__wire_get_item_blob(r, &initarg);

        if (rc != 0)
            e = cc_error_new(rc, NULL, "process pool worker: cannot read the "
                             "initializer's argument");
        else if (fn(initarg) == NULL)
            e = cc__error_take_pending();
        cc_error_clear();
    }
    if (e == NULL)
        return;
    {
        size_t at = cc__frame_begin(&me->out, CC__FR_INIT_FAILED, 0);

        cc__error_encode(&me->out, e);
        cc__frame_end(&me->out, at);
        cc_error_free(e);
    }
    flush(me);
    leave(1);
}

/* Handle every complete frame in the input buffer. */
static void handle_frames(worker *me)
{
    while (me->in.len - me->in.off >= sizeof(cc__frame)) {
        cc__frame h;
        cc__rd r;
        uint64_t ns;

        memcpy(&h, me->in.data + me->in.off, sizeof(h));
        if (h.len > me->in.len - me->in.off - sizeof(h))
            break; /* not all here yet */
        r.p = me->in.data + me->in.off + sizeof(h);
        r.end = r.p + h.len;
        r.bad = false;
        me->in.off += sizeof(h) + h.len;
        switch (h.type) {
        case CC__FR_INIT:
            run_init(me, &r);
            break;
        case CC__FR_TASK:
        case CC__FR_CHUNK:
            if (me->out.len > 0 &&
                cc__now_ns() - me->oldest >= FLUSH_AFTER_NS)
                flush(me);
            ns = run_frame(me, &h, &r);
            me->done++;
            if (me->max_tasks != 0 && me->done >= me->max_tasks) {
                flush(me); /* the last one: the parent expects us to go */
                leave(0);
            }
            if (ns >= SLOW_TASK_NS || me->out.len >= FLUSH_BYTES)
                flush(me);
            break;
        case CC__FR_EXIT:
            flush(me);
            leave(0);
        default:
            leave(2); /* not a message of ours: give up */
        }
    }
}

/* The loop: read what the parent sent, run it, answer. */
static void serve(worker *me)
{
    for (;;) {
        size_t want = READ_CHUNK;
        ssize_t n;

        handle_frames(me);
        cc__buf_compact(&me->in);
        if (me->in.len >= sizeof(cc__frame)) {
            cc__frame h;

            memcpy(&h, me->in.data, sizeof(h));
            if (h.len + sizeof(h) - me->in.len > want)
                want = h.len + sizeof(h) - me->in.len; /* a big frame */
        }
        if (!cc__buf_reserve(&me->in, want))
            leave(1);
        n = -1;
        if (me->out.len > 0) {
            /* Results wait: more input now?  Else send them first. */
            n = recv(me->fd, me->in.data + me->in.len,
                     me->in.cap - me->in.len, MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                leave(1);
            if (n < 0)
                flush(me);
        }
        if (n < 0) {
            fflush(stdout); /* going idle: let what tasks printed out */
            fflush(stderr);
            n = recv(me->fd, me->in.data + me->in.len,
                     me->in.cap - me->in.len, 0);
        }
        if (n == 0) {
            flush(me); /* the parent closed its end (or is gone) */
            leave(0);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            leave(1);
        }
        me->in.len += (size_t)n;
    }
}

void cc__pool_worker_run(const char *spec)
{
    worker me = {.fd = -1};
    long ppid = 0;
    unsigned number = 0;
    int used = 0;
    char name[CC__NAME_MAX];
    const char *debug = getenv("CONCUR_DEBUG");

    if (sscanf(spec, "%d,%ld,%u,%n", &me.fd, &ppid, &number, &used) != 3 ||
        used == 0) {
        cc__logf(CC_LOG_ERROR, "concur: malformed %s='%s'", CC__POOL_ENV,
                 spec);
        _exit(2);
    }
    snprintf(name, sizeof(name), "%s", spec + used);
    /* What this process starts is not a worker, and does not get our
     * socket (it came without close-on-exec, to survive our own exec). */
    unsetenv(CC__POOL_ENV);
    (void)fcntl(me.fd, F_SETFD, FD_CLOEXEC);
    /* Die with the parent's manager thread; the parent may be gone already. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if ((long)getppid() != ppid)
        _exit(1);
    if (debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0)
        cc_set_debug(true);
    cc__process_set_current_name(name);
    cc_thread_set_current_name(name);
    serve(&me);
    leave(0);
}
