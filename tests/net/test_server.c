/* test_server - cc_serve in its three modes (tasks on a loop, a thread per
 * connection, a pool) against thread clients and task clients; graceful
 * close (handlers finish within the grace) and forced close (handlers
 * blocked in readline or drain get ECANCELED); max_connections; handler
 * errors reaching on_error with the peer, or stderr; a handler closing
 * its own server; the output a handler leaves behind; a loop that ends
 * with its server open; cc_server_wait; and a stress run of clients that
 * come and go at random.  Every test checks that no descriptor leaked. */
#include <signal.h>

#include "net_util.h"

static const char *mode_name(cc_serve_mode m)
{
    return m == CC_SERVE_TASKS ? "tasks" : m == CC_SERVE_THREADS ? "threads"
                                                                 : "pool";
}

/* ---- a server in any mode, run from the test's thread ---- */

typedef struct box {
    cc_serve_mode mode;
    cc_stream_handler handler;
    void *arg;
    cc_serve_opts opts;
    cc_server *srv;
    int port;
    cc_event *ready;
    cc_thread *loop;
    cc_executor *pool;
} box;

/* TASKS: the server lives on a loop in its own thread; that loop's main
 * task waits for the close and frees it. */
static void *box_main(void *arg)
{
    box *b = arg;
    b->srv = cc_serve("127.0.0.1", 0, b->handler, b->arg, &b->opts);
    cc_event_set(b->ready);
    if (b->srv == NULL)
        return cc_fail_from(cc_last_error(), EIO, "serve");
    if (cc_server_wait(b->srv, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EIO, "wait");
    cc_server_free(b->srv);
    return arg;
}

static void *box_loop(void *arg)
{
    if (cc_run(box_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EIO, "loop");
    return arg;
}

static void box_start(box *b, cc_serve_mode mode, cc_stream_handler handler,
                      void *arg)
{
    b->mode = mode;
    b->handler = handler;
    b->arg = arg;
    b->opts.mode = mode;
    if (mode == CC_SERVE_TASKS) {
        b->ready = cc_event_new();
        b->loop = cc_thread_start(box_loop, b, "server-loop");
        assert_ok(cc_event_wait(b->ready, 10)); /* freed by box_end: the
                                                   setter may still be in
                                                   cc_event_set */
    } else {
        if (mode == CC_SERVE_POOL) {
            b->pool = cc_thread_pool_new(12, NULL);
            b->opts.pool = b->pool;
        }
        b->srv = cc_serve("127.0.0.1", 0, handler, arg, &b->opts);
    }
    assert_non_null(b->srv);
    b->port = cc_server_port(b->srv);
}

static int box_close(box *b, double grace)
{
    return cc_server_close(b->srv, grace);
}

static void box_end(box *b)
{
    if (b->mode == CC_SERVE_TASKS) {
        assert_ok(cc_thread_join(b->loop, NULL, 30));
        cc_thread_free(b->loop);
        cc_event_free(b->ready);
    } else {
        cc_server_free(b->srv);
    }
    if (b->pool != NULL)
        cc_executor_free(b->pool);
    b->srv = NULL;
}

static const cc_serve_mode modes[] = {CC_SERVE_TASKS, CC_SERVE_THREADS,
                                      CC_SERVE_POOL};

/* ---- clients ---- */

typedef struct client {
    int port;
    int id;
    int lines;
    _Atomic int ok;
} client;

/* Echo `lines` lines of random lengths and check each answer. */
static void *echo_client(void *arg)
{
    client *c = arg;
    cc_stream *s = cc_open_connection("127.0.0.1", c->port, 10);
    char line[600];
    if (s == NULL)
        return cc_fail_from(cc_last_error(), EIO, "client %d connect", c->id);
    for (int i = 0; i < c->lines; i++) {
        size_t n = 1 + tu_rand_below(500);
        int k = snprintf(line, sizeof(line), "%d/%d:", c->id, i);
        for (size_t j = (size_t)k; j < n + (size_t)k; j++)
            line[j] = (char)('a' + (j + (size_t)i) % 26);
        line[n + (size_t)k] = '\n';
        size_t len = n + (size_t)k + 1;
        if (cc_stream_write(s, line, len) != 0)
            return cc_fail_from(cc_last_error(), EIO, "write");
        char *back = cc_stream_readline(s, 10);
        if (back == NULL)
            return cc_fail_from(cc_last_error(), EIO, "client %d line %d",
                                c->id, i);
        bool same = cc_blob_len(back) == len && memcmp(back, line, len) == 0;
        cc_blob_free(back);
        if (!same)
            return cc_fail(EPROTO, "client %d line %d came back wrong", c->id,
                           i);
        if (tu_rand_below(8) == 0)
            cc_sleep(0.001 * tu_rand_below(3));
    }
    if (cc_stream_close(s, 10) != 0)
        return cc_fail_from(cc_last_error(), EIO, "close");
    cc_stream_free(s);
    atomic_store(&c->ok, 1);
    return arg;
}

typedef struct task_clients {
    client *c;
    int n;
} task_clients;

static void *run_task_clients(void *arg)
{
    task_clients *tc = arg;
    cc_future **f = calloc((size_t)tc->n, sizeof(*f));
    for (int i = 0; i < tc->n; i++)
        f[i] = cc_spawn(echo_client, &tc->c[i]);
    int rc = cc_gather(f, (size_t)tc->n, NULL, false, CC_FOREVER);
    for (int i = 0; i < tc->n; i++)
        cc_future_free(f[i]);
    free(f);
    return rc == 0 ? arg : NULL;
}

static void run_clients(int port, int n, int lines, bool tasks)
{
    client *c = calloc((size_t)n, sizeof(*c));
    for (int i = 0; i < n; i++)
        c[i] = (client){.port = port, .id = i, .lines = lines};
    if (tasks) {
        task_clients tc = {c, n};
        if (cc_run(run_task_clients, &tc, NULL) != 0)
            fail_msg("task clients: %s", cc_errmsg());
    } else {
        tu_threads ts = tu_start(n, echo_client, c, sizeof(c[0]));
        tu_join(ts);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(atomic_load(&c[i].ok), 1);
    free(c);
}

/* Every server mode with thread clients and with task clients. */
static void test_every_server_style_with_every_client_style(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        for (int tasks = 0; tasks < 2; tasks++) {
            box b = {0};
            box_start(&b, modes[m], nu_echo_lines, NULL);
            run_clients(b.port, 8, 40, tasks);
            /* the last handlers may still be closing their streams */
            for (int i = 0; i < 500 && cc_server_connections(b.srv) > 0; i++)
                tu_sleep(0.01);
            assert_int_equal(cc_server_connections(b.srv), 0);
            assert_int_equal(box_close(&b, 10), 0);
            box_end(&b);
            printf("# %s server, %s clients: ok\n", mode_name(modes[m]),
                   tasks ? "task" : "thread");
        }
    }
    tu_no_fd_leak(fds);
}

/* ---- graceful and forced close ---- */

typedef struct counters {
    _Atomic int started;
    _Atomic int finished;
    _Atomic int cancelled;  /* a call failed with ECANCELED */
    _Atomic int other;      /* a call failed otherwise */
    _Atomic int active;
    _Atomic int max_active;
    _Atomic int reports;    /* on_error calls */
} counters;

/* Read a line, wait for the gate, answer. */
static cc_event *gate;

static int slow_answer(cc_stream *s, void *arg)
{
    counters *k = arg;
    char *l = cc_stream_readline(s, 10);
    if (l == NULL) {
        atomic_fetch_add(errno == ECANCELED ? &k->cancelled : &k->other, 1);
        return 0;
    }
    cc_blob_free(l);
    atomic_fetch_add(&k->started, 1);
    if (cc_event_wait(gate, 10) != 0) {
        printf("# slow_answer: gate: %s\n", cc_errmsg());
        atomic_fetch_add(&k->other, 1);
    }
    if (cc_stream_write(s, "answer\n", 7) != 0)
        atomic_fetch_add(&k->other, 1);
    atomic_fetch_add(&k->finished, 1);
    return 0;
}

static void *open_gate_soon(void *arg)
{
    (void)arg;
    tu_sleep(0.1);
    cc_event_set(gate);
    return arg;
}

/* Wait for a line that never comes. */
static int blocked_reader(cc_stream *s, void *arg)
{
    counters *k = arg;
    atomic_fetch_add(&k->started, 1);
    char *l = cc_stream_readline(s, CC_FOREVER);
    if (l == NULL && errno != ECANCELED)
        printf("# blocked_reader: readline: %s\n", cc_errmsg());
    if (l == NULL)
        atomic_fetch_add(errno == ECANCELED ? &k->cancelled : &k->other, 1);
    cc_blob_free(l);
    /* every later call fails the same way */
    if (cc_stream_write(s, "x", 1) == 0 || errno != ECANCELED)
        atomic_fetch_add(&k->other, 1);
    atomic_fetch_add(&k->finished, 1);
    return 0;
}

/* Write to a client that never reads, and drain. */
static int blocked_writer(cc_stream *s, void *arg)
{
    counters *k = arg;
    char *junk = calloc(1, 1 << 20);
    atomic_fetch_add(&k->started, 1);
    for (;;) {
        if (cc_stream_write(s, junk, 1 << 20) != 0 ||
            cc_stream_drain(s, CC_FOREVER) != 0) {
            atomic_fetch_add(errno == ECANCELED ? &k->cancelled : &k->other,
                             1);
            break;
        }
    }
    free(junk);
    atomic_fetch_add(&k->finished, 1);
    return 0;
}

static void wait_started(counters *k, int n)
{
    for (int i = 0; i < 2000 && atomic_load(&k->started) < n; i++)
        tu_sleep(0.005);
    assert_int_equal(atomic_load(&k->started), n);
}

static void test_graceful_close_lets_handlers_finish(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        counters k = {0};
        box b = {0};
        cc_stream *c[4];
        box_start(&b, modes[m], slow_answer, &k);
        for (int i = 0; i < 4; i++) {
            c[i] = cc_open_connection("127.0.0.1", b.port, 5);
            assert_non_null(c[i]);
            assert_ok(cc_stream_write(c[i], "question\n", 9));
        }
        wait_started(&k, 4);
        if (cc_server_connections(b.srv) != 4)
            printf("# %s: %zu connections, started %d finished %d other %d\n",
                   mode_name(modes[m]), cc_server_connections(b.srv),
                   atomic_load(&k.started), atomic_load(&k.finished),
                   atomic_load(&k.other));
        assert_int_equal(cc_server_connections(b.srv), 4);
        /* the handlers finish during the grace */
        cc_thread *opener = cc_thread_start(open_gate_soon, NULL, "gate");
        assert_int_equal(box_close(&b, 10), 0);
        assert_int_equal(atomic_load(&k.finished), 4);
        assert_ok(cc_thread_join(opener, NULL, 10));
        cc_thread_free(opener);
        cc_event_clear(gate);
        assert_int_equal(atomic_load(&k.cancelled) + atomic_load(&k.other), 0);
        for (int i = 0; i < 4; i++) {
            char *l = cc_stream_readline(c[i], 5);
            assert_non_null(l);
            assert_string_equal(l, "answer\n");
            cc_blob_free(l);
            cc_stream_free(c[i]);
        }
        /* no new connections once closed */
        assert_null_with(cc_open_connection("127.0.0.1", b.port, 5),
                         ECONNREFUSED);
        if (modes[m] != CC_SERVE_TASKS) /* TASKS: the loop freed it */
            assert_int_equal(box_close(&b, 10), 0); /* a second close */
        box_end(&b);
    }
    tu_no_fd_leak(fds);
}

static void test_forced_close_cancels_blocked_handlers(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_stream_handler handlers[2] = {blocked_reader, blocked_writer};
    for (int h = 0; h < 2; h++) {
        for (size_t m = 0; m < 3; m++) {
            counters k = {0};
            box b = {0};
            cc_stream *c[3];
            box_start(&b, modes[m], handlers[h], &k);
            for (int i = 0; i < 3; i++) {
                c[i] = cc_open_connection("127.0.0.1", b.port, 5);
                assert_non_null(c[i]);
            }
            wait_started(&k, 3);
            tu_sleep(0.05);
            double t0 = cc_now();
            assert_int_equal(box_close(&b, 0.1), 3);
            assert_true(cc_now() - t0 < 5);
            assert_int_equal(atomic_load(&k.finished), 3);
            assert_int_equal(atomic_load(&k.cancelled), 3);
            assert_int_equal(atomic_load(&k.other), 0);
            for (int i = 0; i < 3; i++) {
                /* the client sees its connection end */
                char buf[4096];
                ssize_t n;
                while ((n = cc_stream_read(c[i], buf, sizeof(buf), 5)) > 0)
                    ;
                assert_true(n == 0 || errno == ECONNRESET);
                cc_stream_free(c[i]);
            }
            box_end(&b);
            printf("# forced close, %s handlers in %s: ok\n",
                   h == 0 ? "readline" : "drain", mode_name(modes[m]));
        }
    }
    tu_no_fd_leak(fds);
}

/* A handler that passes its failure up, as most do: -1 once its read
 * fails. */
static int failing_reader(cc_stream *s, void *arg)
{
    counters *k = arg;
    atomic_fetch_add(&k->started, 1);
    char *l = cc_stream_readline(s, CC_FOREVER);
    if (l == NULL)
        atomic_fetch_add(errno == ECANCELED ? &k->cancelled : &k->other, 1);
    atomic_fetch_add(&k->finished, 1);
    if (l == NULL)
        return -1;
    cc_blob_free(l);
    return 0;
}

static void count_report(cc_server *srv, const char *peer,
                         const cc_error *err, void *arg)
{
    (void)srv, (void)peer, (void)err;
    atomic_fetch_add(&((counters *)arg)->reports, 1);
}

/* A handler that fails because the server's close cancelled it is not a
 * failure to report: the close counts it.  (Each such handler used to be
 * reported, "the server is closing (the connection was cancelled)".) */
static void test_handlers_cancelled_by_close_are_not_reported(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        counters k = {0};
        box b = {0};
        cc_stream *c[2];
        b.opts.on_error = count_report;
        box_start(&b, modes[m], failing_reader, &k);
        for (int i = 0; i < 2; i++) {
            c[i] = cc_open_connection("127.0.0.1", b.port, 5);
            assert_non_null(c[i]);
        }
        wait_started(&k, 2);
        assert_int_equal(box_close(&b, 0), 2);
        assert_int_equal(atomic_load(&k.cancelled), 2);
        assert_int_equal(atomic_load(&k.reports), 0);
        for (int i = 0; i < 2; i++)
            cc_stream_free(c[i]);
        box_end(&b);
    }
    tu_no_fd_leak(fds);
}

/* ---- max_connections ---- */

static int limited(cc_stream *s, void *arg)
{
    counters *k = arg;
    int now = atomic_fetch_add(&k->active, 1) + 1;
    int max = atomic_load(&k->max_active);
    while (now > max && !atomic_compare_exchange_weak(&k->max_active, &max, now))
        ;
    cc_sleep(0.02);
    atomic_fetch_sub(&k->active, 1);
    return nu_echo_lines(s, NULL);
}

static void test_max_connections(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        counters k = {0};
        box b = {0};
        b.opts.max_connections = 2;
        box_start(&b, modes[m], limited, &k);
        run_clients(b.port, 10, 3, m == 1);
        assert_true(atomic_load(&k.max_active) <= 2);
        assert_true(atomic_load(&k.max_active) >= 1);
        assert_int_equal(box_close(&b, 10), 0);
        box_end(&b);
    }
    tu_no_fd_leak(fds);
}

/* ---- handler errors ---- */

typedef struct reports {
    cc_lock *lock;
    int n;
    char peer[8][64];
    int code[8];
    char msg[8][128];
    _Atomic int inside; /* on_error never runs concurrently with itself */
    _Atomic int overlap;
} reports;

static int failing(cc_stream *s, void *arg)
{
    (void)arg;
    char *l = cc_stream_readline(s, 5);
    bool plain = l != NULL && strcmp(l, "plain\n") == 0;
    cc_blob_free(l);
    if (plain) { /* -1 without cc_fail: the last error is reported */
        cc_stream_write(s, NULL, 1); /* EINVAL, recorded */
        return -1;
    }
    cc_fail(EPROTO, "bad request");
    return -1;
}

static void on_error(cc_server *srv, const char *peer, const cc_error *err,
                     void *arg)
{
    (void)srv;
    reports *r = arg;
    if (atomic_fetch_add(&r->inside, 1) != 0)
        atomic_store(&r->overlap, 1);
    tu_sleep(0.005);
    cc_lock_acquire(r->lock, CC_FOREVER);
    if (r->n < 8) {
        snprintf(r->peer[r->n], sizeof(r->peer[0]), "%s", peer);
        r->code[r->n] = cc_error_code(err);
        snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s",
                 cc_error_message(err));
        r->n++;
    }
    cc_lock_release(r->lock);
    atomic_fetch_sub(&r->inside, 1);
}

static void test_handler_errors_reach_on_error_with_the_peer(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        reports r = {.lock = cc_lock_new()};
        box b = {0};
        b.opts.on_error = on_error;
        box_start(&b, modes[m], failing, &r);
        cc_stream *c[4];
        char names[4][64];
        for (int i = 0; i < 4; i++) {
            c[i] = cc_open_connection("127.0.0.1", b.port, 5);
            assert_non_null(c[i]);
            assert_ok(cc_stream_sockname(c[i], names[i], sizeof(names[i])));
            assert_ok(cc_stream_write(c[i], i == 3 ? "plain\n" : "hi\n",
                                      i == 3 ? 6 : 3));
        }
        for (int i = 0; i < 4; i++) {
            char buf[8];
            assert_int_equal(cc_stream_read(c[i], buf, sizeof(buf), 5), 0);
            cc_stream_free(c[i]);
        }
        assert_int_equal(box_close(&b, 10), 0);
        assert_int_equal(r.n, 4);
        assert_int_equal(atomic_load(&r.overlap), 0);
        for (int i = 0; i < 4; i++) {
            int j = 0;
            while (j < 4 && strcmp(r.peer[j], names[i]) != 0)
                j++;
            if (j == 4)
                fail_msg("no report for %s", names[i]);
            if (i == 3) {
                assert_int_equal(r.code[j], EINVAL);
                assert_non_null(strstr(r.msg[j], "NULL data"));
            } else {
                assert_int_equal(r.code[j], EPROTO);
                assert_string_equal(r.msg[j], "bad request");
            }
        }
        box_end(&b);
        cc_lock_free(r.lock);
    }
    tu_no_fd_leak(fds);
}

static void test_handler_errors_go_to_stderr_by_default(void **state)
{
    (void)state;
    int fds = tu_fds();
    box b = {0};
    tu_capture cap = tu_capture_stderr();
    box_start(&b, CC_SERVE_THREADS, failing, NULL);
    cc_stream *c = cc_open_connection("127.0.0.1", b.port, 5);
    char name[64], buf[8];
    assert_ok(cc_stream_sockname(c, name, sizeof(name)));
    assert_ok(cc_stream_write(c, "x\n", 2));
    assert_int_equal(cc_stream_read(c, buf, sizeof(buf), 5), 0);
    cc_stream_free(c);
    assert_int_equal(box_close(&b, 10), 0);
    box_end(&b);
    char *err = tu_capture_end(cap);
    char want[128];
    snprintf(want, sizeof(want), "concur: handler for %s failed: bad request",
             name);
    if (strstr(err, want) == NULL)
        fail_msg("stderr has no '%s': %s", want, err);
    free(err);
    tu_no_fd_leak(fds);
}

/* ---- a handler closes its own server ---- */

typedef struct quitter {
    cc_server *_Atomic srv;
    _Atomic int closed_with;
    counters k;
} quitter;

static int quit_on_request(cc_stream *s, void *arg)
{
    quitter *q = arg;
    char *l = cc_stream_readline(s, 10);
    bool quit = l != NULL && strcmp(l, "quit\n") == 0;
    if (l == NULL)
        atomic_fetch_add(errno == ECANCELED ? &q->k.cancelled : &q->k.other,
                         1);
    cc_blob_free(l);
    if (quit) {
        int n = cc_server_close(atomic_load(&q->srv), 0.2);
        atomic_store(&q->closed_with, n);
        cc_stream_write(s, "bye\n", 4);
    }
    return 0;
}

static void test_a_handler_closes_its_server(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        quitter q = {.closed_with = -5};
        box b = {0};
        box_start(&b, modes[m], quit_on_request, &q);
        atomic_store(&q.srv, b.srv);
        cc_stream *idle = cc_open_connection("127.0.0.1", b.port, 5);
        cc_stream *c = cc_open_connection("127.0.0.1", b.port, 5);
        tu_sleep(0.05);
        assert_ok(cc_stream_write(c, "quit\n", 5));
        if (modes[m] != CC_SERVE_TASKS) /* TASKS: the loop's task waits */
            assert_ok(cc_server_wait(b.srv, 10));
        char *l = cc_stream_readline(c, 10);
        assert_non_null(l);
        assert_string_equal(l, "bye\n");
        cc_blob_free(l);
        box_end(&b);
        assert_int_equal(atomic_load(&q.closed_with), 1); /* the idle one */
        assert_int_equal(atomic_load(&q.k.cancelled), 1);
        cc_stream_free(c);
        cc_stream_free(idle);
    }
    tu_no_fd_leak(fds);
}

/* ---- what a handler leaves in the buffer still goes out ---- */

static int write_and_leave(cc_stream *s, void *arg)
{
    size_t total = *(size_t *)arg;
    unsigned char *p = malloc(total);
    nu_fill(p, total, 21, 0);
    int rc = cc_stream_write(s, p, total);
    free(p);
    return rc;
}

static void test_output_left_by_a_handler_is_sent(void **state)
{
    (void)state;
    int fds = tu_fds();
    size_t total = 4u << 20;
    for (size_t m = 0; m < 3; m++) {
        box b = {0};
        box_start(&b, modes[m], write_and_leave, &total);
        cc_stream *c = cc_open_connection("127.0.0.1", b.port, 5);
        unsigned char *buf = malloc(65536);
        size_t got = 0;
        tu_sleep(0.05); /* the handler has returned by now */
        for (;;) {
            ssize_t n = cc_stream_read(c, buf, 65536, 10);
            assert_true(n >= 0);
            if (n == 0)
                break;
            assert_true(nu_check(buf, (size_t)n, 21, got));
            got += (size_t)n;
            if (tu_rand_below(16) == 0)
                tu_sleep(0.001);
        }
        assert_int_equal(got, total);
        free(buf);
        cc_stream_free(c);
        assert_int_equal(box_close(&b, 10), 0);
        box_end(&b);
    }
    tu_no_fd_leak(fds);
}

/* ---- a loop that ends with its server open ---- */

typedef struct leftover {
    cc_server *srv;
    int port;
    counters k;
} leftover;

static void *serve_and_leave(void *arg)
{
    leftover *lo = arg;
    cc_serve_opts o = {.mode = CC_SERVE_TASKS};
    lo->srv = cc_serve("127.0.0.1", 0, blocked_reader, &lo->k, &o);
    if (lo->srv == NULL)
        return cc_fail_from(cc_last_error(), EIO, "serve");
    lo->port = cc_server_port(lo->srv);
    cc_stream *c = cc_open_connection("127.0.0.1", lo->port, 5);
    for (int i = 0; i < 100 && atomic_load(&lo->k.started) < 1; i++)
        cc_sleep(0.01);
    cc_stream_free(c);
    cc_stream *c2 = cc_open_connection("127.0.0.1", lo->port, 5);
    cc_stream_free(c2); /* its handler may never have started */
    return arg; /* cc_run cancels the acceptor and the handlers */
}

static void test_a_loop_that_ends_with_its_server_open(void **state)
{
    (void)state;
    int fds = tu_fds();
    leftover lo = {0};
    assert_ok(cc_run(serve_and_leave, &lo, NULL));
    assert_int_equal(atomic_load(&lo.k.started), atomic_load(&lo.k.finished));
    cc_server_close(lo.srv, 1);
    assert_int_equal(cc_server_connections(lo.srv), 0);
    cc_server_free(lo.srv);
    tu_no_fd_leak(fds);
}

/* ---- cc_server_wait ---- */

static void *wait_in_task(void *arg)
{
    cc_server *srv = arg;
    cc_server_wait(srv, CC_FOREVER);
    return NULL; /* ECANCELED pending */
}

static void *cancel_waiter(void *arg)
{
    cc_future *t = cc_spawn(wait_in_task, arg);
    cc_sleep(0.05);
    cc_future_cancel(t);
    int rc = cc_future_result(t, NULL, 5);
    int e = errno;
    cc_future_free(t);
    if (rc != -1 || e != ECANCELED)
        return cc_fail(EPROTO, "the wait was not cancelled");
    return arg;
}

static void test_server_wait(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_server *srv = cc_serve("127.0.0.1", 0, nu_echo_lines, NULL, NULL);
    assert_fails_with(cc_server_wait(srv, 0), EAGAIN);
    assert_fails_with(cc_server_wait(srv, 0.05), ETIMEDOUT);
    assert_ok(cc_run(cancel_waiter, srv, NULL));
    assert_int_equal(cc_server_close(srv, 1), 0);
    assert_ok(cc_server_wait(srv, 0));
    assert_ok(cc_server_wait(srv, 1));
    cc_server_free(srv);
    tu_no_fd_leak(fds);
}

/* ---- stress: clients that come and go at random ---- */

typedef struct rowdy {
    int port;
    _Atomic int echoes;
} rowdy;

static void *rowdy_client(void *arg)
{
    rowdy *r = arg;
    for (int round = 0; round < 15; round++) {
        cc_stream *s = cc_open_connection("127.0.0.1", r->port, 10);
        if (s == NULL)
            return cc_fail_from(cc_last_error(), EIO, "connect");
        int lines = (int)tu_rand_below(5);
        for (int i = 0; i < lines; i++) {
            char line[64];
            int n = snprintf(line, sizeof(line), "r%d-%d\n", round, i);
            if (cc_stream_write(s, line, (size_t)n) != 0)
                return cc_fail(EIO, "write");
            char *back = cc_stream_readline(s, 10);
            if (back == NULL || strcmp(back, line) != 0) {
                cc_blob_free(back);
                return cc_fail(EPROTO, "bad echo");
            }
            cc_blob_free(back);
            atomic_fetch_add(&r->echoes, 1);
        }
        switch (tu_rand_below(4)) {
        case 0: /* half a line, then gone */
            cc_stream_write(s, "unfinished", 10);
            break;
        case 1: /* a clean end of stream */
            cc_stream_write_eof(s);
            cc_stream_read(s, (char[8]){0}, 8, 5);
            break;
        case 2: { /* a reset */
            struct linger lg = {1, 0};
            setsockopt(cc_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg,
                       sizeof(lg));
            break;
        }
        default:
            break;
        }
        tu_jitter(500);
        cc_stream_free(s);
    }
    return arg;
}

static int quiet_echo(cc_stream *s, void *arg)
{
    (void)arg;
    for (;;) {
        char *line = cc_stream_readline(s, 10);
        if (line == NULL || cc_blob_len(line) == 0) {
            cc_blob_free(line);
            return 0; /* resets and half lines end the handler quietly */
        }
        if (line[cc_blob_len(line) - 1] == '\n')
            cc_stream_write(s, line, cc_blob_len(line));
        cc_blob_free(line);
    }
}

static void test_stress_clients_come_and_go(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (size_t m = 0; m < 3; m++) {
        box b = {0};
        box_start(&b, modes[m], quiet_echo, NULL);
        rowdy r = {.port = b.port};
        tu_threads ts = tu_start(8, rowdy_client, &r, 0);
        tu_join(ts);
        /* the handlers of the last clients may still be ending */
        for (int i = 0; i < 500 && cc_server_connections(b.srv) > 0; i++)
            tu_sleep(0.01);
        assert_int_equal(cc_server_connections(b.srv), 0);
        assert_int_equal(box_close(&b, 5), 0);
        box_end(&b);
        printf("# %s: %d echoes\n", mode_name(modes[m]),
               atomic_load(&r.echoes));
    }
    tu_no_fd_leak(fds);
}

/* ---- handlers that use a lot of stack (tasks mode) ---- */

/* Echo one line through `buf` (all of it touched first, from its low end,
 * where an overflow would fault), then the next, until the end. */
static __attribute__((noinline)) int echo_through(cc_stream *s, char *buf,
                                                  size_t size)
{
    memset(buf, 0, size);
    for (;;) {
        char *line = cc_stream_readline(s, 30);
        if (line == NULL)
            return -1;
        size_t n = cc_blob_len(line);
        memcpy(buf + size - n, line, n);
        cc_blob_free(line);
        if (n == 0)
            return 0;
        if (cc_stream_write(s, buf + size - n, n) != 0)
            return -1;
    }
}

static int handler_64k(cc_stream *s, void *arg)
{
    (void)arg;
    char buf[64 * 1024];
    return echo_through(s, buf, sizeof(buf));
}

static int handler_200k(cc_stream *s, void *arg)
{
    (void)arg;
    char buf[200 * 1024];
    return echo_through(s, buf, sizeof(buf));
}

/* One client line through the server on `port` and back; 0 when it came
 * back. */
static int one_echo(int port)
{
    cc_stream *s = cc_open_connection("127.0.0.1", port, 10);
    char *back;
    int ok;

    if (s == NULL)
        return -1;
    if (cc_stream_write(s, "ping\n", 5) != 0) {
        cc_stream_free(s);
        return -1;
    }
    back = cc_stream_readline(s, 10);
    ok = back != NULL && cc_blob_len(back) == 5 && memcmp(back, "ping\n", 5) == 0;
    cc_blob_free(back);
    cc_stream_close(s, 10);
    cc_stream_free(s);
    return ok ? 0 : -1;
}

/* What a child serves with: a handler and options. */
typedef struct served {
    cc_stream_handler handler;
    cc_serve_opts opts;
} served;

/* The child (a stack overflow kills the whole process): a TASKS server
 * with the handler and options, one client.  Exits 0 when served, 1 when
 * not, 2 when the server did not start. */
static void serve_one_in_child(void *arg)
{
    const served *sv = arg;
    box b = {0};

    signal(SIGSEGV, SIG_DFL); /* not cmocka's: die of a fault */
    signal(SIGBUS, SIG_DFL);
    b.opts = sv->opts;
    b.mode = CC_SERVE_TASKS;
    b.handler = sv->handler;
    b.opts.mode = CC_SERVE_TASKS;
    b.ready = cc_event_new();
    b.loop = cc_thread_start(box_loop, &b, "server-loop");
    if (b.loop == NULL || cc_event_wait(b.ready, 10) != 0 || b.srv == NULL)
        _exit(2);
    int rc = one_echo(cc_server_port(b.srv));
    cc_server_close(b.srv, 5);
    cc_thread_join(b.loop, NULL, 30);
    _exit(rc == 0 ? 0 : 1);
}

/* The child served its client (and did not die). */
static void expect_served_in_child(cc_stream_handler handler,
                                   const cc_serve_opts *opts, const char *what)
{
    served sv = {handler, {0}};
    if (opts != NULL)
        sv.opts = *opts;
    tu_child c = tu_run_child(serve_one_in_child, &sv);
    if (WIFSIGNALED(c.status))
        fail_msg("%s: the server's process died of signal %d: %s", what,
                 WTERMSIG(c.status), c.err);
    if (WEXITSTATUS(c.status) != 0)
        fail_msg("%s: not served (status %d): %s", what,
                 WEXITSTATUS(c.status), c.err);
    free(c.err);
}

/* `char buf[65536]` in a handler is ordinary C: the default stack of a
 * handler task holds it (it used to be 64 KiB, and the process died). */
static void test_a_handler_with_a_64k_buffer_is_served(void **state)
{
    (void)state;
    expect_served_in_child(handler_64k, NULL, "64 KiB of stack");
}

static void test_a_handler_with_a_200k_buffer_is_served(void **state)
{
    (void)state;
    expect_served_in_child(handler_200k, NULL, "200 KiB of stack");
}

static int handler_512k(cc_stream *s, void *arg)
{
    (void)arg;
    char buf[512 * 1024];
    return echo_through(s, buf, sizeof(buf));
}

/* stack_size sets the handlers' stacks: 1 MiB holds a 512 KiB buffer... */
static void test_stack_size_gives_handlers_more_stack(void **state)
{
    (void)state;
    cc_serve_opts o = {.stack_size = 1024 * 1024};
    expect_served_in_child(handler_512k, &o, "512 KiB in a 1 MiB stack");
}

/* ... and 64 KiB does not hold a 64 KiB buffer: the overflow is reported,
 * naming who spawned the task and the option to change. */
static void test_stack_size_too_small_is_reported(void **state)
{
    (void)state;
    served sv = {handler_64k, {.stack_size = 64 * 1024}};
    tu_child c = tu_run_child(serve_one_in_child, &sv);
    assert_true(WIFSIGNALED(c.status));
    assert_true(WTERMSIG(c.status) == SIGSEGV || WTERMSIG(c.status) == SIGBUS ||
                WTERMSIG(c.status) == SIGABRT);
#if !defined(CONCUR_ASAN)
    /* (ASan reports stack overflows itself, first) */
    if (strstr(c.err, "overflowed its 64 KiB stack (spawned by cc_serve)") ==
            NULL ||
        strstr(c.err, "cc_serve_opts") == NULL)
        fail_msg("the report: %s", c.err);
#endif
    free(c.err);
}

static void *serve_with_huge_stack(void *arg)
{
    (void)arg;
    cc_serve_opts o = {.mode = CC_SERVE_TASKS,
                       .stack_size = ((size_t)1 << 30) + 1};
    cc_server *srv = cc_serve("127.0.0.1", 0, nu_echo_lines, NULL, &o);
    if (srv != NULL || errno != EINVAL) {
        cc_server_free(srv);
        return cc_fail(EPROTO, "stack_size over 1 GiB was not refused");
    }
    return arg;
}

static void test_stack_size_over_1_gib_is_refused(void **state)
{
    (void)state;
    assert_ok(cc_run(serve_with_huge_stack, state, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_server_style_with_every_client_style),
        cmocka_unit_test(test_graceful_close_lets_handlers_finish),
        cmocka_unit_test(test_forced_close_cancels_blocked_handlers),
        cmocka_unit_test(test_handlers_cancelled_by_close_are_not_reported),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_handler_errors_reach_on_error_with_the_peer),
        cmocka_unit_test(test_handler_errors_go_to_stderr_by_default),
        cmocka_unit_test(test_a_handler_closes_its_server),
        cmocka_unit_test(test_output_left_by_a_handler_is_sent),
        cmocka_unit_test(test_a_loop_that_ends_with_its_server_open),
        cmocka_unit_test(test_server_wait),
        cmocka_unit_test(test_stress_clients_come_and_go),
        cmocka_unit_test(test_a_handler_with_a_64k_buffer_is_served),
        cmocka_unit_test(test_a_handler_with_a_200k_buffer_is_served),
        cmocka_unit_test(test_stack_size_gives_handlers_more_stack),
        cmocka_unit_test(test_stack_size_too_small_is_reported),
        cmocka_unit_test(test_stack_size_over_1_gib_is_refused),
    };
    signal(SIGPIPE, SIG_DFL);
    tu_seed();
    if (getenv("CONCUR_TEST_FILTER") != NULL) /* run some tests only */
        cmocka_set_test_filter(getenv("CONCUR_TEST_FILTER"));
    gate = cc_event_new();
    int rc = cmocka_run_group_tests(tests, nu_warm_up, NULL);
    cc_event_free(gate);
    return rc;
}
