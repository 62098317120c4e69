/*
 * scenarios_aio.c - fault-injection scenarios for the event loop and the
 * network layer: tasks, groups, timeouts and cancellation, a loop fed
 * from another thread, TCP streams served by tasks and by threads.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

#define N_TASKS 8

/* A task: sleeps a little, yields, returns twice its argument. */
static void *twice(void *arg)
{
    if (cc_sleep(0.001) != 0 || cc_yield() != 0)
        return cc_fail(0, "twice: %s", cc_errmsg());
    return (void *)((uintptr_t)arg * 2);
}

/* A task that waits until cancelled (an hour, as good as forever). */
static void *forever(void *arg)
{
    (void)arg;
    cc_sleep(3600);
    return NULL;
}

typedef struct aio_run {
    int rc;
} aio_run;

/* Main task: gather, a group, wait_for that times out, to_thread. */
static void *tasks_main(void *arg)
{
    aio_run *a = arg;
    cc_future *fs[N_TASKS] = {0};
    void *results[N_TASKS];
    cc_group *g = NULL;
    cc_future *slow = NULL, *t = NULL;
    void *r;
    int rc = SC_DONE;

    for (uintptr_t i = 0; i < N_TASKS; i++)
        SC_CALL((fs[i] = cc_spawn(twice, (void *)(i + 1))) != NULL, "cc_spawn");
    SC_CALL(cc_gather(fs, N_TASKS, results, false, CC_FOREVER) == 0, "cc_gather");
    for (uintptr_t i = 0; i < N_TASKS; i++)
        SC_EXPECT(results[i] == (void *)(2 * (i + 1)), "task %zu gave %p",
                  (size_t)i, results[i]);
    SC_CALL((g = cc_group_new()) != NULL, "cc_group_new");
    for (uintptr_t i = 0; i < 4; i++) {
        /* borrowed: the group keeps it */
        SC_CALL(cc_group_spawn(g, twice, (void *)i) != NULL, "cc_group_spawn");
    }
    SC_CALL(cc_group_wait(g, CC_FOREVER) == 0, "cc_group_wait");
    SC_CALL((slow = cc_spawn(forever, NULL)) != NULL, "cc_spawn");
    SC_EXPECT(cc_wait_for(slow, &r, 0.005) != 0,
              "wait_for on a sleeping task returned 0");
    SC_CALL(errno == ETIMEDOUT, "cc_wait_for");
    SC_EXPECT(cc_future_cancelled(slow), "wait_for left the task uncancelled");
    SC_CALL((t = cc_to_thread(twice, (void *)21)) != NULL, "cc_to_thread");
    SC_CALL(cc_future_result(t, &r, SC_WAIT) == 0, "cc_future_result");
    SC_EXPECT(r == (void *)42, "to_thread gave %p", r);
out:
    for (int i = 0; i < N_TASKS; i++)
        cc_future_free(fs[i]);
    cc_group_free(g);
    cc_future_free(slow);
    cc_future_free(t);
    a->rc = rc;
    return a;
}

/* Pass-through of a main task's outcome through cc_run. */
static int run_main(cc_fn main)
{
    aio_run a = {SC_DONE};
    void *r = NULL;

    if (cc_run(main, &a, &r) != 0)
        return a.rc != SC_DONE ? a.rc : sc_failed("cc_run");
    return a.rc;
}

static int aio_tasks(void)
{
    return run_main(tasks_main);
}

/* ------------------------------------------------ a loop fed by threads */

typedef struct feed {
    cc_loop *loop;
    int soon, later;
} feed;

static void on_soon(void *arg)
{
    ((feed *)arg)->soon++;
}

static void on_later(void *arg)
{
    ((feed *)arg)->later++;
}

/* Another thread schedules two callbacks on the loop, thread-safely. */
static void *feeder(void *arg)
{
    feed *f = arg;

    for (int i = 0; i < 2; i++)
        if (cc_loop_call_soon_threadsafe(f->loop, on_soon, f) != 0)
            return cc_fail(0, "call_soon_threadsafe: %s", cc_errmsg());
    return f;
}

/* The loop's task: a timer, a feeder thread, then wait for both. */
static void *feed_main(void *arg)
{
    feed *f = arg;
    cc_thread *t;

    if (cc_loop_call_later(f->loop, 0.001, on_later, f) == NULL)
        return cc_fail(0, "call_later: %s", cc_errmsg());
    if (cc_loop_call_soon(f->loop, on_soon, f) != 0)
        return cc_fail(0, "call_soon: %s", cc_errmsg());
    if ((t = cc_thread_start(feeder, f, "feeder")) == NULL)
        return cc_fail(0, "thread_start: %s", cc_errmsg());
    if (cc_thread_join(t, NULL, SC_WAIT) != 0) {
        cc_thread_free(t);
        return cc_fail(0, "feeder: %s", cc_errmsg());
    }
    cc_thread_free(t);
    while (f->soon < 3 || f->later < 1)
        if (cc_sleep(0.001) != 0)
            return cc_fail(0, "sleep: %s", cc_errmsg());
    return f;
}

static int aio_loop(void)
{
    feed f = {0};
    cc_future *task = NULL;
    void *r = NULL;
    int rc = SC_DONE;

    SC_CALL((f.loop = cc_loop_new()) != NULL, "cc_loop_new");
    SC_CALL((task = cc_loop_spawn(f.loop, feed_main, &f)) != NULL,
            "cc_loop_spawn");
    SC_CALL(cc_loop_run_until_done(f.loop, task) == 0,
            "cc_loop_run_until_done");
    SC_CALL(cc_future_result(task, &r, 0) == 0, "the loop's task");
    SC_EXPECT(f.soon == 3 && f.later == 1, "callbacks ran %d soon, %d later",
              f.soon, f.later);
out:
    cc_future_free(task);
    cc_loop_free(f.loop);
    return rc;
}

/* ------------------------------------------------------------- TCP */

/* Echo every line back, until the client closes. */
static int echo_lines(cc_stream *s, void *arg)
{
    void *line;

    (void)arg;
    while ((line = cc_stream_readline(s, SC_WAIT)) != NULL) {
        size_t len = cc_blob_len(line);
        int w = len == 0 ? 0 : cc_stream_write(s, line, len);

        cc_blob_free(line);
        if (len == 0)
            return 0; /* end of stream */
        if (w != 0 || cc_stream_drain(s, SC_WAIT) != 0)
            return -1;
    }
    return -1;
}

/*
 * The server's answer line, or NULL: with *gave_up set when the server
 * reported an error before answering (it may never answer: its accepts
 * keep failing), else with the read's own failure in errno.  Polls in
 * short reads, so a reported failure ends the wait at once.
 */
static void *read_answer(cc_stream *s, sc_server_log *h, bool *gave_up)
{
    double deadline = cc_deadline(SC_WAIT);

    for (;;) {
        void *line = cc_stream_readline(s, 0.05);

        if (line != NULL)
            return line;
        if (errno != ETIMEDOUT && errno != EAGAIN)
            return NULL;
        if (atomic_load(&h->reported)) {
            *gave_up = true;
            return NULL;
        }
        if (cc_remaining(deadline) == 0)
            return NULL; /* ETIMEDOUT: nothing came, nothing was said */
    }
}

/* A client: three lines out, three back, then close.  Runs in a task or
 * in a thread alike.  A line that comes back empty is the end of the
 * stream: the server's handler gave up; *early_eof says so, as it does
 * when the server reported a failure instead of answering. */
static int echo_client(int port, sc_server_log *h, bool *early_eof)
{
    static const char *const lines[] = {"one\n", "two\n", "three\n"};
    cc_stream *s = NULL;
    int rc = SC_DONE;

    SC_CALL((s = cc_open_connection("127.0.0.1", port, SC_WAIT)) != NULL,
            "cc_open_connection");
    for (int i = 0; i < 3; i++) {
        void *back;

        SC_CALL(cc_stream_write(s, lines[i], strlen(lines[i])) == 0,
                "cc_stream_write");
        back = read_answer(s, h, early_eof);
        if (*early_eof)
            goto out;
        SC_CALL(back != NULL, "cc_stream_readline");
        size_t len = cc_blob_len(back);
        bool same = len == strlen(lines[i]) &&
                    memcmp(back, lines[i], strlen(lines[i])) == 0;
        cc_blob_free(back);
        if (len == 0) {
            *early_eof = true;
            goto out;
        }
        SC_EXPECT(same, "line %d came back different", i);
    }
    SC_CALL(cc_stream_close(s, SC_WAIT) == 0, "cc_stream_close");
out:
    cc_stream_free(s);
    return rc;
}

/* Serve the echo, run the client, close the server.  When the client saw
 * the connection end early, the handler must have failed and the server
 * must have reported it (to on_error) with a code and a message. */
static int serve_and_echo(cc_serve_mode mode)
{
    sc_server_log herr = {0};
    cc_serve_opts opts = {.mode = mode, .on_error = sc_keep_server_error};
    cc_server *srv = NULL;
    bool early_eof = false;
    int rc = SC_DONE;

    SC_CALL((srv = cc_serve("127.0.0.1", 0, echo_lines, &herr, &opts)) != NULL,
            "cc_serve");
    rc = echo_client(cc_server_port(srv), &herr, &early_eof);
    if (rc == SC_DONE && cc_server_close(srv, SC_WAIT) < 0)
        rc = sc_failed("cc_server_close");
out:
    cc_server_free(srv); /* waits for the handlers */
    if (rc == SC_DONE && early_eof)
        rc = sc_reported_error("the echo handler", herr.code, herr.msg);
    return rc;
}

static void *tcp_main(void *arg)
{
    aio_run *a = arg;

    a->rc = serve_and_echo(CC_SERVE_TASKS);
    return a;
}

static int net_tasks(void)
{
    return run_main(tcp_main);
}

static int net_threads(void)
{
    return serve_and_echo(CC_SERVE_THREADS);
}


/* ------------------------------------- primitives shared by tasks */

typedef struct shared_prims {
    cc_lock *lock;
    cc_event *ev;
    cc_queue *q;
    cc_sem *sem;
    long total;
} shared_prims;

/* A task: waits for the event, then moves 10 items from the queue into
 * the total under the lock, a semaphore unit each. */
static void *prim_task(void *arg)
{
    shared_prims *sp = arg;

    if (cc_event_wait(sp->ev, SC_WAIT) != 0)
        return cc_fail(0, "event: %s", cc_errmsg());
    for (int i = 0; i < 10; i++) {
        void *item;

        if (cc_queue_get(sp->q, &item, SC_WAIT) != 0)
            return cc_fail(0, "get: %s", cc_errmsg());
        if (cc_sem_acquire(sp->sem, SC_WAIT) != 0)
            return cc_fail(0, "sem: %s", cc_errmsg());
        if (cc_lock_acquire(sp->lock, SC_WAIT) != 0) {
            cc_sem_release(sp->sem);
            return cc_fail(0, "lock: %s", cc_errmsg());
        }
        sp->total += (long)(uintptr_t)item;
        cc_yield();
        cc_lock_release(sp->lock);
        cc_sem_release(sp->sem);
    }
    return sp;
}

/* A thread feeds the queue that the tasks drain: the same primitives
 * between threads and tasks. */
static void *prim_feeder(void *arg)
{
    shared_prims *sp = arg;

    for (uintptr_t i = 1; i <= 30; i++)
        if (cc_queue_put(sp->q, (void *)i, SC_WAIT) != 0)
            return cc_fail(0, "put: %s", cc_errmsg());
    return sp;
}

static void *prims_main(void *arg)
{
    aio_run *a = arg;
    shared_prims sp = {0};
    cc_future *fs[3] = {0};
    cc_thread *feeder = NULL;
    int rc = SC_DONE;

    SC_CALL((sp.lock = cc_lock_new()) != NULL, "cc_lock_new");
    SC_CALL((sp.ev = cc_event_new()) != NULL, "cc_event_new");
    SC_CALL((sp.q = cc_queue_new(4, CC_FIFO)) != NULL, "cc_queue_new");
    SC_CALL((sp.sem = cc_sem_new(2)) != NULL, "cc_sem_new");
    for (int i = 0; i < 3; i++)
        SC_CALL((fs[i] = cc_spawn(prim_task, &sp)) != NULL, "cc_spawn");
    SC_CALL((feeder = cc_thread_start(prim_feeder, &sp, "feeder")) != NULL,
            "cc_thread_start");
    SC_CALL(cc_event_set(sp.ev) == 0, "cc_event_set");
    SC_CALL(cc_gather(fs, 3, NULL, false, CC_FOREVER) == 0, "cc_gather");
    SC_CALL(cc_thread_join(feeder, NULL, SC_WAIT) == 0, "cc_thread_join");
    SC_EXPECT(sp.total == 30 * 31 / 2, "tasks summed %ld, expected %d",
              sp.total, 30 * 31 / 2);
out:
    for (int i = 0; i < 3; i++)
        if (fs[i] != NULL)
            cc_future_cancel(fs[i]);
    if (feeder != NULL) {
        if (sp.q != NULL)
            cc_queue_shutdown(sp.q, true);
        cc_thread_join(feeder, NULL, SC_WAIT);
        cc_thread_free(feeder);
    }
    for (int i = 0; i < 3; i++) {
        if (fs[i] != NULL)
            cc_wait_for(fs[i], NULL, SC_WAIT);
        cc_future_free(fs[i]);
    }
    cc_sem_free(sp.sem);
    cc_queue_free(sp.q);
    cc_event_free(sp.ev);
    cc_lock_free(sp.lock);
    a->rc = rc;
    return a;
}

static int aio_primitives(void)
{
    return run_main(prims_main);
}

/* ------------------------------ deadlines, shields, cancelled groups */

static void *wait_event(void *arg)
{
    if (cc_event_wait(arg, 3600) != 0)
        return cc_fail(0, "event: %s", cc_errmsg());
    return arg;
}

static void *cancel_main(void *arg)
{
    aio_run *a = arg;
    cc_event *ev = NULL;
    cc_group *g = NULL;
    bool pushed = false;
    int rc = SC_DONE;

    SC_CALL((ev = cc_event_new()) != NULL, "cc_event_new");
    /* A deadline scope cuts a long wait short. */
    SC_CALL(cc_deadline_push(0.002) == 0, "cc_deadline_push");
    pushed = true;
    SC_EXPECT(cc_event_wait(ev, 3600) != 0, "event wait in a 2 ms scope "
                                            "returned 0");
    SC_CALL(errno == ETIMEDOUT, "cc_event_wait");
    cc_deadline_pop();
    pushed = false;
    /* A shield lets cleanup wait inside a cancelled task. */
    SC_CALL(cc_shield_push(SC_WAIT) == 0, "cc_shield_push");
    SC_CALL(cc_sleep(0.001) == 0, "cc_sleep (shielded)");
    cc_shield_pop();
    /* A cancelled group cancels its members. */
    SC_CALL((g = cc_group_new()) != NULL, "cc_group_new");
    for (int i = 0; i < 3; i++)
        SC_CALL(cc_group_spawn(g, wait_event, ev) != NULL, "cc_group_spawn");
    SC_CALL(cc_yield() == 0, "cc_yield");
    cc_group_cancel(g);
    SC_EXPECT(cc_group_wait(g, CC_FOREVER) != 0, "a cancelled group's wait returned 0");
    SC_CALL(errno == ECANCELED, "cc_group_wait");
out:
    if (pushed)
        cc_deadline_pop();
    if (g != NULL && rc != SC_DONE) {
        cc_group_cancel(g);
        cc_group_wait(g, CC_FOREVER);
    }
    cc_group_free(g);
    cc_event_free(ev);
    a->rc = rc;
    return a;
}

static int aio_cancel(void)
{
    return run_main(cancel_main);
}

/* -------------------------------------------- UNIX socket, threads' pool */

/* Reads a 4-byte length and that many bytes, then a "\r\n\r\n"-ended
 * block; answers with both lengths. */
static int frame_handler(cc_stream *s, void *arg)
{
    uint32_t n;
    char buf[64];
    void *block;
    int rc;

    (void)arg;
    if (cc_stream_readexactly(s, &n, sizeof(n), SC_WAIT) != 0 ||
        n > sizeof(buf) || cc_stream_readexactly(s, buf, n, SC_WAIT) != 0)
        return -1;
    if ((block = cc_stream_readuntil(s, "\r\n\r\n", 4, SC_WAIT)) == NULL)
        return -1;
    rc = cc_stream_printf(s, "%u %zu\n", n, cc_blob_len(block));
    cc_blob_free(block);
    return rc == 0 ? cc_stream_drain(s, SC_WAIT) : -1;
}

static int net_unix_pool(void)
{
    sc_server_log herr = {0};
    char path[64];
    cc_executor *ex = NULL;
    cc_server *srv = NULL;
    cc_stream *s = NULL;
    void *line = NULL;
    uint32_t n = 5;
    int rc = SC_DONE;

    snprintf(path, sizeof(path), "/tmp/concur-fault-%d.sock", (int)getpid());
    cc_serve_opts opts = {.mode = CC_SERVE_POOL, .unix_path = path,
                          .on_error = sc_keep_server_error};
    SC_CALL((ex = cc_thread_pool_new(2, NULL)) != NULL, "cc_thread_pool_new");
    opts.pool = ex;
    SC_CALL((srv = cc_serve(NULL, 0, frame_handler, &herr, &opts)) != NULL,
            "cc_serve");
    SC_CALL((s = cc_open_unix_connection(path, SC_WAIT)) != NULL,
            "cc_open_unix_connection");
    SC_CALL(cc_stream_write(s, &n, sizeof(n)) == 0, "cc_stream_write");
    SC_CALL(cc_stream_write(s, "hello", 5) == 0, "cc_stream_write");
    SC_CALL(cc_stream_printf(s, "a: b\r\n\r\n") == 0, "cc_stream_printf");
    bool gave_up = false;
    line = read_answer(s, &herr, &gave_up);
    SC_CALL(line != NULL || gave_up, "cc_stream_readline");
    if (gave_up || cc_blob_len(line) == 0) {
        cc_stream_free(s);
        s = NULL;
        cc_server_free(srv);
        srv = NULL;
        rc = sc_reported_error("the frame handler", herr.code, herr.msg);
        goto out;
    }
    SC_EXPECT(cc_blob_len(line) == 4 && memcmp(line, "5 8\n", 4) == 0,
              "the handler answered something else");
    SC_CALL(cc_stream_close(s, SC_WAIT) == 0, "cc_stream_close");
    SC_CALL(cc_server_close(srv, SC_WAIT) >= 0, "cc_server_close");
out:
    cc_blob_free(line);
    cc_stream_free(s);
    cc_server_free(srv);
    cc_executor_free(ex);
    return rc;
}

const scenario sc_aio[] = {
    {"aio_tasks", "tasks: gather, group, wait_for timeout, to_thread",
     aio_tasks},
    {"aio_loop", "a loop with timers and callbacks from another thread",
     aio_loop},
    {"net_tasks", "TCP echo, server and client as tasks", net_tasks},
    {"net_threads", "TCP echo, a thread per connection, a thread client",
     net_threads},
    {"aio_primitives", "lock, event, queue, semaphore between tasks and a "
     "thread", aio_primitives},
    {"aio_cancel", "deadline scope, shield, a cancelled group", aio_cancel},
    {"net_unix_pool", "UNIX socket, handlers on a thread pool, "
     "readexactly/readuntil", net_unix_pool},
    {NULL, NULL, NULL},
};
