/*
 * write_thread.c - Item 78's WriteThread, and how easy such a thread is to
 * write: a struct, three small tasks for its own loop and three calls
 * (start, write, stop).  Its loop runs one task at a time, so the file
 * needs no lock, and every failure comes back to the caller.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/aio.h"
#include "concur/sync.h"
#include "log_inputs.h"
#include "write_thread.h"

/*
 * write_thread - a thread that owns the output file and an event loop of
 * its own (the seed's WriteThread).  Any task or thread hands it a line with
 * write_thread_write, which runs real_write as a task on that loop and
 * awaits it: the slow write(2) happens in the writer thread, and since its
 * loop runs one task at a time no lock is needed.  The loop is made by
 * write_thread_start and run, then freed, by the thread itself.
 */
struct write_thread {
    cc_loop *loop;
    cc_thread *thread;
    int fd;             /* written only by tasks of `loop` */
    char path[PATH_MAX];
};

/* A line on its way to the writer: a copy, owned by the real_write task. */
struct write_req {
    struct write_thread *wt;
    size_t len;
    char line[];
};

/* A task on the writer's loop: write one line, then free the request (the
 * task owns it).  wt, or NULL with the error recorded. */
static void *real_write(void *arg)
{
    struct write_req *req = arg;
    struct write_thread *wt = req->wt;
    int err = 0;

    if (write_all(wt->fd, req->line, req->len) != 0)
        err = errno;
    free(req);
    if (err != 0)
        return cc_fail(err, "writer: %s: %s", wt->path, strerror(err));
    return wt;
}

/* A task on the writer's loop: stop that loop.  Posted last, so it runs
 * after every write handed over before it.  arg, or NULL with the error
 * recorded. */
static void *real_stop(void *arg)
{
    if (cc_loop_stop(cc_loop_current()) != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "writer: cannot stop its loop");
    return arg;
}

/* The writer thread: run its loop until real_stop stops it, then free the
 * loop (the thread owns it).  wt, or NULL with the error recorded. */
static void *write_thread_run(void *arg)
{
    struct write_thread *wt = arg;
    int rc = cc_loop_run_forever(wt->loop);

    cc_loop_free(wt->loop); /* any task left is finished first */
    if (rc != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "writer: its loop cannot run");
    return wt;
}

/* Open the output and start the thread.  NULL with the error recorded.
 * The caller owns the result until write_thread_stop frees it. */
struct write_thread *write_thread_start(const char *path)
{
    struct write_thread *wt = calloc(1, sizeof(*wt));

    if (wt == NULL)
        return cc_fail(ENOMEM, "writer: out of memory");
    snprintf(wt->path, sizeof(wt->path), "%s", path);
    wt->fd = open_output(path);
    if (wt->fd < 0)
        goto err_free_wt;
    wt->loop = cc_loop_new();
    if (wt->loop == NULL)
        goto err_close_fd;
    wt->thread = cc_thread_start(write_thread_run, wt, "writer");
    if (wt->thread == NULL)
        goto err_free_loop;
    return wt;
err_free_loop:
    cc_loop_free(wt->loop);
err_close_fd:
    close(wt->fd);
err_free_wt:
    free(wt);
    return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                        "cannot start the writer thread");
}

/* Write one line in the writer thread; the caller (a task) waits for it.
 * The line is copied, so the caller keeps its buffer.  0, or -1 with the
 * error recorded. */
int write_thread_write(struct write_thread *wt, const char *line,
                       size_t len)
{
    struct write_req *req = malloc(sizeof(*req) + len);
    cc_future *f;
    int rc;

    if (req == NULL) {
        cc_fail(ENOMEM, "writer: out of memory");
        return -1;
    }
    req->wt = wt;
    req->len = len;
    memcpy(req->line, line, len);
    f = cc_loop_spawn(wt->loop, real_write, req);
    if (f == NULL) {
        free(req);
        return -1;
    }
    rc = cc_future_result(f, NULL, CC_FOREVER);
    cc_future_free(f);
    return rc;
}

/*
 * Stop the loop (through a task queued behind the writes), join the
 * thread, close the file and free everything.  Cleanup, so shielded: it
 * still waits when the calling task has been cancelled.  0, or -1 with the
 * first error recorded.
 */
int write_thread_stop(struct write_thread *wt)
{
    cc_error *first = NULL;
    cc_future *f;

    if (cc_shield_push(30.0) != 0)
        return -1;
    f = cc_loop_spawn(wt->loop, real_stop, wt);
    if (f == NULL) {
        first = cc_error_copy(cc_last_error());
        (void)cc_loop_stop(wt->loop); /* then at least stop it directly */
    } else {
        if (cc_future_result(f, NULL, CC_FOREVER) != 0)
            first = cc_error_copy(cc_last_error());
        cc_future_free(f);
    }
    if (cc_thread_join(wt->thread, NULL, CC_FOREVER) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    cc_shield_pop();
    cc_thread_free(wt->thread);
    if (close(wt->fd) != 0 && first == NULL) {
        int err = errno;

        first = cc_error_new(err, NULL, "closing %s: %s", wt->path,
                             strerror(err));
    }
    free(wt);
    if (first == NULL)
        return 0;
    cc_fail_from(first, cc_error_code(first), "writer: cannot stop");
    cc_error_free(first);
    return -1;
}
