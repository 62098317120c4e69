/*
 * pool_manager.c - the process pool's manager thread (process layer): it
 * starts the workers, sends them queued tasks, completes futures with what
 * they send back, replaces spent workers and breaks the pool when one dies.
 * Everything here runs on that one thread; see pool.h for what it shares.
 *
 * Its loop: take requests (shutdown, cancel), hand queued futures to
 * workers with room, write what is buffered, then sleep in epoll over the
 * eventfd, every worker's socket and every worker's pidfd.
 *
 * Windows.  A worker answers its frames in order, so each keeps a ring of
 * the futures it was sent.  How many it may hold adapts to how long tasks
 * run (a moving average of the run times workers report): about 2 ms of
 * work, between 1 and CC__POOL_WINDOW_MAX frames.  Tiny tasks then travel
 * 64 to a write and never leave a worker idle for a round trip; long tasks
 * go one at a time, so a free worker always gets the next one (no task
 * waits behind a slow one while another worker idles).  Before the first
 * result the window is 1.  A worker whose oldest task has run for more
 * than 4 average run times (and 1 ms) is "stalled" and gets nothing more
 * until it answers: with mixed run times, the quick tasks go to the other
 * workers instead of queueing behind a slow one.
 *
 * Deaths.  A worker's pidfd becomes readable when it ends; its socket
 * reaches end of file when it ends (or closes it).  Either way the manager
 * first reads what it sent (results that made it out count), then reaps it.
 * A spent worker (max_tasks_per_child) that ends after its last answer is
 * expected; any other end breaks the pool: every future in flight or
 * queued fails with CC_EBROKEN, the other workers are killed and reaped.
 * Worker records are freed only between event batches (an event for a
 * reaped worker may still be in the batch).
 *
 * Frames.  A worker's frames are checked as soon as their header is in,
 * before the manager waits for the payload: a type workers never send, or
 * a length longer than the machine's RAM and swap together (no worker
 * could have built it), breaks the pool at once.  A frame that stops
 * arriving while its worker lives -- part of it in, then nothing for
 * CC__POOL_STALL_S seconds although nothing keeps the worker from writing
 * (the manager reads whatever comes) -- breaks it then.  Either means the
 * worker's memory or its socket was corrupted (task code can write to
 * CC__POOL_FD); waiting for the rest would leave its futures pending for
 * ever and a waiting shutdown hung.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "internal/clock.h"
#include "internal/mpsc.h"
#include "process/pool.h"

#define TARGET_WINDOW_NS 2000000.0 /* work a worker holds, in ns */
#define STALL_NS ((int64_t)CC__POOL_STALL_S * 1000000000)
#define TAG_PIDFD ((uint64_t)1)    /* epoll data: worker | tag */
#define READ_SIZE (64 * 1024)
#define EVENTS 64

/* ------------------------------------------------------------- errors */

static cc_error *copy_error(const cc_error *e)
{
    cc_error *copy = cc_error_copy(e);

    return copy != NULL ? copy : cc__error_newf(cc_error_code(e), NULL, "%s",
                                            cc_error_message(e));
}

/* ------------------------------------------------------------ futures */

/* The chunk a future carries, if it is a map chunk (read before it is
 * completed: fn and arg share their slots with the outcome). */
static cc__map_chunk *chunk_of(cc_future *f)
{
    return f->fn == cc__pool_chunk_marker ? f->arg : NULL;
}

/* Drop the executor's reference (and a chunk's job reference). */
static void release(cc_future *f, cc__map_chunk *chunk)
{
    cc__future_unref(f);
    if (chunk != NULL)
        cc__map_job_unref(chunk->job);
}

/* Complete a RUNNING future and release it. */
static void complete(cc_future *f, void *result, cc_error *err)
{
    cc__map_chunk *chunk = chunk_of(f);

    cc__future_finish(f, result, err);
    release(f, chunk);
}

/* A future taken off the queue that will not be sent (cancelled, or the
 * pool is stopping with cancel_futures): free what it carries. */
static void drop_unsent(cc_future *f)
{
    cc__map_chunk *chunk = chunk_of(f);

    if (chunk != NULL)
        cc__buf_free(&chunk->payload);
    else
        cc_blob_free(f->arg);
    release(f, chunk);
}

/* The next queued future still pending, claimed (now RUNNING), or NULL. */
static cc_future *next_pending(cc__proc_pool *p)
{
    cc_future *f;

    while ((f = cc__mpsc_pop(&p->tail, &p->head, &p->stub)) != NULL) {
        if (cc__future_claim(f))
            return f;
        drop_unsent(f); /* cancelled while queued */
    }
    return NULL;
}

/* ------------------------------------------------------------- epoll */

/* Add fd to the manager's set.  0, or -1 with errno (ENOMEM, ENOSPC: the
 * kernel's memory or its max_user_watches) and nothing added. */
static int watch(cc__proc_pool *p, int fd, uint64_t data, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};

    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Explicitly: a forked child of the program may hold a copy of the fd, and
 * closing ours would then not take it out of the set. */
static void unwatch(cc__proc_pool *p, cc__pool_worker *w)
{
    if (w->sock >= 0 && !w->eof)
        (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
    if (w->pidfd >= 0)
        (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
}

static void want_output(cc__proc_pool *p, cc__pool_worker *w, bool on)
{
    struct epoll_event ev = {
        .events = EPOLLIN | (on ? EPOLLOUT : 0u),
        .data.u64 = (uint64_t)(uintptr_t)w,
    };

    if (w->want_out == on || w->eof)
        return;
    (void)epoll_ctl(p->epfd, EPOLL_CTL_MOD, w->sock, &ev);
    w->want_out = on;
}

/* ------------------------------------------------------------ workers */

static bool bury(cc__proc_pool *p, cc__pool_worker *w, bool kill_it,
                 char *text, size_t size);

/* Start a worker for slot i; NULL with the error recorded. */
static cc__pool_worker *start_worker(cc__proc_pool *p)
{
    cc__pool_worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return cc__errf_null(ENOMEM, "process pool '%s': out of memory",
                             p->base.name);
    if (cc__pool_spawn(p, w, p->next_number++) != 0) {
        free(w);
        return NULL;
    }
    /* A worker the manager cannot watch could never be heard from: its
     * tasks would wait forever.  Stop it and fail instead. */
    if (watch(p, w->sock, (uint64_t)(uintptr_t)w, EPOLLIN) != 0 ||
        watch(p, w->pidfd, (uint64_t)(uintptr_t)w | TAG_PIDFD, EPOLLIN) != 0) {
        int e = errno;
        char text[128];

        (void)bury(p, w, true, text, sizeof(text)); /* freed with the dead */
        return cc__errf_null(e, "process pool '%s': cannot watch a new "
                                "worker (epoll_ctl: %s)", p->base.name,
                             strerror(e));
    }
    return w;
}

/* Reap w (killing it first when kill_it) and queue its record for freeing.
 * Returns true when it exited with status 0. */
static bool bury(cc__proc_pool *p, cc__pool_worker *w, bool kill_it,
                 char *text, size_t size)
{
    bool clean;

    unwatch(p, w);
    clean = cc__pool_reap(w, kill_it, text, size);
    cc__buf_free(&w->in);
    cc__buf_free(&w->out);
    w->next = p->dead;
    p->dead = w;
    return clean;
}

static void free_dead(cc__proc_pool *p)
{
    while (p->dead != NULL) {
        cc__pool_worker *w = p->dead;

        p->dead = w->next;
        free(w);
    }
}

/* How long a worker's oldest task may run before it counts as stalled. */
static int64_t stall_ns(const cc__proc_pool *p)
{
    double four = 4 * p->avg_ns;

    return four > 1e6 ? (int64_t)four : 1000000;
}

static bool has_room(const cc__proc_pool *p, const cc__pool_worker *w,
                     int64_t now)
{
    return w != NULL && !w->retiring && !w->eof &&
           w->inflight < p->window &&
           (p->max_tasks == 0 || w->sent < (uint64_t)p->max_tasks) &&
           (w->inflight == 0 || now - w->head_since <= stall_ns(p));
}

static bool any_room(const cc__proc_pool *p)
{
    int64_t now = cc__now_ns();

    for (int i = 0; i < p->max_workers; i++)
        if (has_room(p, p->workers[i], now))
            return true;
    return false;
}

static bool all_answered(const cc__proc_pool *p)
{
    for (int i = 0; i < p->max_workers; i++)
        if (p->workers[i] != NULL && p->workers[i]->inflight > 0)
            return false;
    return true;
}

/* ----------------------------------------------------------- breaking */

/* Fail what w was sent and is still unanswered. */
static void fail_inflight(cc__proc_pool *p, cc__pool_worker *w)
{
    cc_error *broken = atomic_load_explicit(&p->broken, memory_order_relaxed);

    while (w->inflight > 0) {
        cc_future *f = w->ring[w->head];

        w->head = (w->head + 1) % CC__POOL_WINDOW_MAX;
        w->inflight--;
        complete(f, NULL, copy_error(broken));
    }
}

/*
 * The pool is broken (err: CC_EBROKEN, owned): refuse submits from now on,
 * fail every future in flight or queued, kill and reap every worker.  The
 * manager leaves its loop afterwards.
 */
static void break_pool(cc__proc_pool *p, cc_error *err)
{
    char text[128];
    cc_future *f;

    if (atomic_load_explicit(&p->broken, memory_order_relaxed) != NULL) {
        cc_error_free(err);
        return;
    }
    /* broken before CLOSED: a refused submit reads it (see refuse()) */
    atomic_store_explicit(&p->broken, err, memory_order_release);
    cc__mpsc_close(&p->tail);
    p->done = true;
    for (int i = 0; i < p->max_workers; i++) {
        cc__pool_worker *w = p->workers[i];

        if (w == NULL)
            continue;
        p->workers[i] = NULL;
        fail_inflight(p, w);
        (void)bury(p, w, true, text, sizeof(text));
    }
    while (p->retired != NULL) {
        cc__pool_worker *w = p->retired;

        p->retired = w->next;
        (void)bury(p, w, true, text, sizeof(text));
    }
    while ((f = cc__mpsc_pop(&p->tail, &p->head, &p->stub)) != NULL) {
        if (cc__future_claim(f)) {
            cc__map_chunk *chunk = chunk_of(f);

            if (chunk != NULL)
                cc__buf_free(&chunk->payload);
            else
                cc_blob_free(f->arg);
            complete(f, NULL, copy_error(err));
        } else {
            drop_unsent(f);
        }
    }
}

static void break_malformed(cc__proc_pool *p, cc__pool_worker *w)
{
    break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is broken: "
                             "worker %d sent a malformed message",
                             (int)w->pid));
}

/* ------------------------------------------------------------ sending */

/* Append f's frame to w's output and remember it as w's newest. */
static void send_future(cc__proc_pool *p, cc__pool_worker *w, cc_future *f,
                        int64_t now)
{
    cc__map_chunk *chunk = chunk_of(f);
    size_t before = w->out.len;
    uint64_t id = ++p->next_id;
    size_t at = cc__frame_begin(&w->out, chunk != NULL ? CC__FR_CHUNK
                                                       : CC__FR_TASK, id);
    unsigned slot;

    if (chunk != NULL) {
        cc__buf_put(&w->out, chunk->payload.data, chunk->payload.len);
        cc__buf_free(&chunk->payload);
    } else {
        const cc__fnref *ref = cc__fnref_of(f->fn, "cc_submit");

        if (ref == NULL) { /* out of memory (it was found at submit) */
            w->out.len = before;
            cc_blob_free(f->arg);
            complete(f, NULL, copy_error(cc_last_error()));
            return;
        }
        cc__fnref_put(&w->out, ref);
        cc__wire_put_item(&w->out, f->arg);
        cc_blob_free(f->arg); /* sent: the worker has its own copy */
    }
    cc__frame_end(&w->out, at);
    if (w->out.oom) {
        w->out.len = before;
        w->out.oom = false;
        complete(f, NULL, cc__error_newf(ENOMEM, NULL, "process pool '%s': out "
                                     "of memory sending a task",
                                     p->base.name));
        return;
    }
    if (w->inflight == 0)
        w->head_since = now;
    slot = (w->head + w->inflight) % CC__POOL_WINDOW_MAX;
    w->ring[slot] = f;
    w->ids[slot] = id;
    w->inflight++;
    w->sent++;
    if (p->max_tasks != 0 && w->sent >= (uint64_t)p->max_tasks)
        w->retiring = true; /* it leaves after answering this one */
}

/* Deal queued futures to workers with room, one per worker per round. */
static void dispatch(cc__proc_pool *p)
{
    int64_t now = cc__now_ns();
    bool sent = true;

    while (sent && !p->done) {
        sent = false;
        for (int i = 0; i < p->max_workers; i++) {
            cc__pool_worker *w = p->workers[(p->rr + (unsigned)i) %
                                            (unsigned)p->max_workers];
            cc_future *f;

            if (!has_room(p, w, now))
                continue;
            f = next_pending(p);
            if (f == NULL)
                return;
            send_future(p, w, f, now);
            sent = true;
        }
        p->rr = (p->rr + 1) % (unsigned)p->max_workers;
    }
}

/* Write what w has buffered, as far as its socket takes it. */
static void flush_worker(cc__proc_pool *p, cc__pool_worker *w)
{
    while (w->out.off < w->out.len) {
        ssize_t n = send(w->sock, w->out.data + w->out.off,
                         w->out.len - w->out.off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n >= 0) {
            w->out.off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            want_output(p, w, true);
            return;
        }
        /* EPIPE, ECONNRESET: it is gone; its pidfd will say how. */
        w->out.off = w->out.len;
        break;
    }
    w->out.off = w->out.len = 0;
    want_output(p, w, false);
}

static void flush_all(cc__proc_pool *p)
{
    for (int i = 0; i < p->max_workers; i++) {
        cc__pool_worker *w = p->workers[i];

        if (w != NULL && w->out.len > w->out.off && !w->want_out)
            flush_worker(p, w);
    }
}

/* ------------------------------------------------------------ results */

static void learn_run_time(cc__proc_pool *p, uint64_t ns)
{
    double window;

    p->avg_ns = p->avg_ns == 0 ? (double)ns + 1
                               : p->avg_ns + ((double)ns - p->avg_ns) / 8;
    window = 1 + TARGET_WINDOW_NS / p->avg_ns;
    p->window = window >= CC__POOL_WINDOW_MAX ? CC__POOL_WINDOW_MAX
                                              : (unsigned)window;
}

/* A spent worker answered its last task: move it to the retired list (it
 * is leaving) and start its replacement in its slot. */
static void retire(cc__proc_pool *p, cc__pool_worker *w)
{
    for (int i = 0; i < p->max_workers; i++) {
        if (p->workers[i] != w)
            continue;
        w->next = p->retired;
        p->retired = w;
        p->workers[i] = NULL;
        if (p->stopping && !cc__mpsc_nonempty_strict(&p->tail, &p->head,
                                                     &p->stub))
            return; /* nothing left to do: no replacement needed */
        p->workers[i] = start_worker(p);
        if (p->workers[i] == NULL)
            break_pool(p, cc__error_newf(CC_EBROKEN, cc_last_error(),
                                     "process pool is broken: cannot start "
                                     "a replacement worker"));
        return;
    }
}

/* A CHUNK_RESULT for chunk: results into its job, the first failure into
 * *err.  False when malformed. */
static bool read_chunk(cc__rd *r, cc__map_chunk *chunk, cc_error **err)
{
    cc__map_job *job = chunk->job;
    uint32_t count = cc__rd_u32(r);

    *err = NULL;
    if (r->bad || count > chunk->end - chunk->start)
        return false;
    for (uint32_t k = 0; k < count; k++) {
        size_t i = chunk->start + k;
        cc_error *e;
        void *res;

        if (!cc__wire_get_outcome(r, &res, &e))
            return false;
        job->results[i] = res;
        if (e != NULL) {
            /* The item's own error; cc_map (in the caller) names it. */
            chunk->failed_at = i;
            *err = e;
            return true; /* the chunk stopped here */
        }
    }
    return count == chunk->end - chunk->start;
}

/* A RESULT or CHUNK_RESULT from w: complete its oldest future. */
static void on_result(cc__proc_pool *p, cc__pool_worker *w,
                      const cc__frame *h, cc__rd *r)
{
    cc_future *f;
    cc__map_chunk *chunk;
    cc_error *err = NULL;
    void *result = NULL;
    bool ok;

    if (w->inflight == 0 || w->ids[w->head] != h->id) {
        break_malformed(p, w);
        return;
    }
    f = w->ring[w->head];
    chunk = chunk_of(f);
    learn_run_time(p, cc__rd_u64(r));
    if (chunk != NULL)
        ok = h->type == CC__FR_CHUNK_RESULT && read_chunk(r, chunk, &err);
    else
        ok = h->type == CC__FR_RESULT && cc__wire_get_outcome(r, &result, &err);
    if (!ok) {
        cc_error_free(err);
        cc_blob_free(result);
        break_malformed(p, w);
        return;
    }
    w->head = (w->head + 1) % CC__POOL_WINDOW_MAX;
    w->inflight--;
    if (w->inflight > 0)
        w->head_since = cc__now_ns(); /* the next one runs now (at latest) */
    complete(f, chunk != NULL && err == NULL ? (void *)chunk : result, err);
    if (w->retiring && w->inflight == 0)
        retire(p, w);
}

/* Handle every complete frame w has sent.  A header that cannot start a
 * frame a worker sends breaks the pool at once, before its payload is
 * waited for. */
static void parse_frames(cc__proc_pool *p, cc__pool_worker *w)
{
    cc__buf *in = &w->in;

    while (!p->done) {
        cc__frame h;
        cc__rd r;
        int code;
        int cut = cc__wire_cut_frame(in->data, in->len, &in->off,
                                     p->frame_max, &h, &r);

        if (cut == CC__CUT_MORE)
            break; /* the rest is on its way */
        if (cut == CC__CUT_BAD_TYPE) {
            break_malformed(p, w);
            return;
        }
        if (cut == CC__CUT_TOO_BIG) {
            break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is "
                                     "broken: worker %d sent a frame "
                                     "header claiming %llu bytes, more "
                                     "than this machine's memory and swap",
                                     (int)w->pid, (unsigned long long)h.len));
            return;
        }
        if (h.type == CC__FR_RESULT || h.type == CC__FR_CHUNK_RESULT) {
            on_result(p, w, &h, &r);
        } else {
            cc_error *cause = cc__error_decode(&r, &code);

            break_pool(p, cc__error_newf(CC_EBROKEN, cause, "process pool is "
                                     "broken: a worker's initializer "
                                     "failed"));
            cc_error_free(cause);
        }
    }
    if (!p->done)
        cc__buf_compact(in);
}

/* Read what w sent: once (level-triggered epoll brings us back), or until
 * end of file when `drain` (it has ended).  Returns false at end of file. */
static bool read_worker(cc__proc_pool *p, cc__pool_worker *w, bool drain)
{
    do {
        ssize_t n;

        if (!cc__buf_reserve(&w->in, READ_SIZE)) {
            break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is "
                                     "broken: out of memory reading from "
                                     "worker %d", (int)w->pid));
            return true;
        }
        n = recv(w->sock, w->in.data + w->in.len, w->in.cap - w->in.len,
                 MSG_DONTWAIT);
        if (n > 0) {
            w->in.len += (size_t)n;
            w->rx_at = cc__now_ns();
            parse_frames(p, w);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        return false; /* end of file, or ECONNRESET */
    } while (drain && !p->done && !w->reaped);
    return true;
}

static bool is_retired(const cc__proc_pool *p, const cc__pool_worker *w)
{
    for (const cc__pool_worker *r = p->retired; r != NULL; r = r->next)
        if (r == w)
            return true;
    return false;
}

static void unlink_retired(cc__proc_pool *p, cc__pool_worker *w)
{
    for (cc__pool_worker **r = &p->retired; *r != NULL; r = &(*r)->next)
        if (*r == w) {
            *r = w->next;
            return;
        }
}

/* w has ended (pidfd readable) or closed its socket. */
static void on_end(cc__proc_pool *p, cc__pool_worker *w)
{
    char text[128];
    pid_t pid = w->pid;

    if (!w->eof) {
        (void)read_worker(p, w, true); /* results sent before it ended */
        if (p->done || w->reaped)
            return;
    }
    if (is_retired(p, w)) { /* spent and answered all: expected */
        unlink_retired(p, w);
        (void)bury(p, w, false, text, sizeof(text));
        return;
    }
    for (int i = 0; i < p->max_workers; i++)
        if (p->workers[i] == w)
            p->workers[i] = NULL;
    /* Reap it first, so that the message says how it ended; its unanswered
     * futures stay in its ring and fail with the rest. */
    (void)bury(p, w, false, text, sizeof(text));
    break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is broken: "
                             "worker %d %s", (int)pid, text));
    fail_inflight(p, w);
}

/* -------------------------------------------------------- stalled frames */

/* True when w holds part of a frame: bytes in, the frame not complete. */
static bool mid_frame(const cc__pool_worker *w)
{
    return w != NULL && !w->reaped && !w->eof && w->in.len > w->in.off;
}

/* The epoll timeout until the first mid-frame worker's allowance runs out:
 * ms, rounded up, or -1 when no worker is in the middle of a frame. */
static int stall_timeout_ms(const cc__proc_pool *p, int64_t now)
{
    int64_t first = INT64_MAX;

    for (int i = 0; i < p->max_workers; i++)
        if (mid_frame(p->workers[i]) && p->workers[i]->rx_at < first)
            first = p->workers[i]->rx_at;
    for (const cc__pool_worker *w = p->retired; w != NULL; w = w->next)
        if (mid_frame(w) && w->rx_at < first)
            first = w->rx_at;
    if (first == INT64_MAX)
        return -1;
    if (first + STALL_NS <= now)
        return 0;
    return (int)((first + STALL_NS - now + 999999) / 1000000);
}

/* True when w's process has ended (its pidfd is readable): its death,
 * not its silence, is then the news, and on_end tells it. */
static bool has_ended(const cc__pool_worker *w)
{
    struct pollfd pfd = {.fd = w->pidfd, .events = POLLIN};

    return poll(&pfd, 1, 0) > 0;
}

/* True when w has stopped in the middle of a frame: nothing for
 * CC__POOL_STALL_S, nothing waiting in its socket (an event this batch
 * could not hold), and still alive. */
static bool stalled(const cc__pool_worker *w, int64_t now)
{
    char byte;

    if (!mid_frame(w) || now - w->rx_at < STALL_NS)
        return false;
    if (recv(w->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
        return false; /* data or end of file: the next round reads it */
    return errno == EAGAIN && !has_ended(w);
}

static void break_stalled(cc__proc_pool *p, const cc__pool_worker *w)
{
    size_t have = w->in.len - w->in.off;
    cc__frame h;

    if (have < sizeof(h)) {
        break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is broken: "
                                 "worker %d sent %zu bytes of a frame "
                                 "header, then nothing for %d s",
                                 (int)w->pid, have, CC__POOL_STALL_S));
        return;
    }
    memcpy(&h, w->in.data + w->in.off, sizeof(h));
    break_pool(p, cc__error_newf(CC_EBROKEN, NULL, "process pool is broken: "
                             "worker %d sent %zu bytes of a %llu-byte "
                             "frame, then nothing for %d s", (int)w->pid,
                             have, (unsigned long long)(h.len + sizeof(h)),
                             CC__POOL_STALL_S));
}

/* Break the pool if a worker has stopped in the middle of a frame. */
static void check_stalls(cc__proc_pool *p)
{
    int64_t now = cc__now_ns();

    for (int i = 0; i < p->max_workers && !p->done; i++)
        if (stalled(p->workers[i], now))
            break_stalled(p, p->workers[i]);
    for (cc__pool_worker *w = p->retired; w != NULL && !p->done; w = w->next)
        if (stalled(w, now))
            break_stalled(p, w);
}

/* The longest payload a worker could have built in memory: RAM and swap
 * together (UINT64_MAX when the kernel does not say). */
static uint64_t machine_memory(void)
{
    struct sysinfo si;

    if (sysinfo(&si) != 0)
        return UINT64_MAX;
    return ((uint64_t)si.totalram + (uint64_t)si.totalswap) * si.mem_unit;
}

/* --------------------------------------------------------- lifecycle */

/* Tell the workers to leave, and reap them (shutdown, all work done). */
static void stop_workers(cc__proc_pool *p)
{
    char text[128];

    for (int i = 0; i < p->max_workers; i++) {
        cc__pool_worker *w = p->workers[i];
        int flags;

        if (w == NULL)
            continue;
        if (!w->eof) {
            size_t at = cc__frame_begin(&w->out, CC__FR_EXIT, 0);

            cc__frame_end(&w->out, at);
            /* a few bytes to an idle worker: let them block if need be */
            flags = fcntl(w->sock, F_GETFL);
            if (flags >= 0)
                (void)fcntl(w->sock, F_SETFL, flags & ~O_NONBLOCK);
            (void)send(w->sock, w->out.data + w->out.off,
                       w->out.len - w->out.off, MSG_NOSIGNAL);
        }
    }
    for (int i = 0; i < p->max_workers; i++) {
        cc__pool_worker *w = p->workers[i];

        p->workers[i] = NULL;
        if (w != NULL && !bury(p, w, false, text, sizeof(text)) &&
            cc__debug())
            cc__debugf("process pool '%s': worker %d %s at shutdown",
                       p->base.name, (int)w->pid, text);
    }
    while (p->retired != NULL) {
        cc__pool_worker *w = p->retired;

        p->retired = w->next;
        (void)bury(p, w, false, text, sizeof(text));
    }
}

/* Take the requests made since the last look (under mu), then ack them. */
static void take_requests(cc__proc_pool *p)
{
    bool cancel;
    uint64_t seq;
    cc_future *f;

    cc__mutex_lock(&p->mu);
    if (p->shutdown)
        p->stopping = true;
    cancel = p->cancel_req;
    p->cancel_req = false;
    seq = p->req_seq;
    cc__mutex_unlock(&p->mu);
    if (cancel) {
        while ((f = cc__mpsc_pop(&p->tail, &p->head, &p->stub)) != NULL) {
            (void)cc__future_cancel(f);
            drop_unsent(f);
        }
    }
    cc__mutex_lock(&p->mu);
    p->ack_seq = seq;
    cc__waitq_wake_all(&p->waiters);
    cc__mutex_unlock(&p->mu);
}

/* Tell whoever waits on the manager (creator, requesters) that `what`
 * changed. */
static void announce(cc__proc_pool *p, bool *flag)
{
    cc__mutex_lock(&p->mu);
    *flag = true;
    cc__waitq_wake_all(&p->waiters);
    cc__mutex_unlock(&p->mu);
}

static bool start_all(cc__proc_pool *p)
{
    char text[128];

    for (int i = 0; i < p->max_workers; i++) {
        p->workers[i] = start_worker(p);
        if (p->workers[i] != NULL)
            continue;
        p->start_error = copy_error(cc_last_error());
        for (int k = 0; k < i; k++) {
            (void)bury(p, p->workers[k], true, text, sizeof(text));
            p->workers[k] = NULL;
        }
        free_dead(p);
        return false;
    }
    return true;
}

/* Sleep until something happens, then handle it.  Announce "room for
 * work" first when there is room, so submitters know to poke. */
static void wait_events(cc__proc_pool *p)
{
    struct epoll_event evs[EVENTS];
    int n;

    if (any_room(p) && !p->stopping) {
        atomic_store_explicit(&p->wants_work, 1, memory_order_seq_cst);
        if (cc__mpsc_nonempty_strict(&p->tail, &p->head, &p->stub)) {
            atomic_store_explicit(&p->wants_work, 0, memory_order_relaxed);
            return;
        }
    }
    n = epoll_wait(p->epfd, evs, EVENTS, stall_timeout_ms(p, cc__now_ns()));
    atomic_store_explicit(&p->wants_work, 0, memory_order_seq_cst);
    for (int i = 0; i < n && !p->done; i++) {
        uint64_t data = evs[i].data.u64;
        cc__pool_worker *w = (cc__pool_worker *)(uintptr_t)(data & ~TAG_PIDFD);

        if (w == NULL) {
            uint64_t count;

            /* Consume, then re-arm: a submitter that saw poked set
             * after this read relies on us being awake (we are), one that
             * sets it after the reset writes again.  The reverse order
             * would lose a wake-up: a write made between the reset and
             * the read is consumed while poked stays set. */
            (void)!read(p->efd, &count, sizeof(count));
            atomic_store_explicit(&p->poked, 0, memory_order_seq_cst);
            take_requests(p);
        } else if (w->reaped) {
            continue;
        } else if (data & TAG_PIDFD) {
            on_end(p, w);
        } else {
            if (evs[i].events & EPOLLOUT)
                flush_worker(p, w);
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                !read_worker(p, w, false) && !w->reaped) {
                /* end of file: it ended, or closed its socket */
                (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
                w->eof = true;
                on_end(p, w);
            }
        }
    }
    if (!p->done)
        check_stalls(p);
}

void *cc__pool_manager_main(void *arg)
{
    cc__proc_pool *p = arg;

    cc__ctx_get()->worker_of = &p->base;
    p->frame_max = machine_memory();
    if (!start_all(p)) {
        close(p->epfd);
        p->epfd = -1;
        announce(p, &p->started);
        return NULL;
    }
    announce(p, &p->started);
    take_requests(p);
    while (!p->done) {
        dispatch(p);
        flush_all(p);
        if (p->stopping && all_answered(p) &&
            !cc__mpsc_nonempty_strict(&p->tail, &p->head, &p->stub)) {
            stop_workers(p);
            p->done = true;
        } else {
            wait_events(p);
        }
        free_dead(p);
    }
    free_dead(p);
    close(p->epfd);
    p->epfd = -1;
    announce(p, &p->manager_gone);
    return NULL;
}
