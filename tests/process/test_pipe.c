/* test_pipe - cc_conn (Pipe): duplex and one-way ends, empty and 64 MiB
 * messages, a dead peer (EPIPE, never a hang, never SIGPIPE), timeouts of
 * recv and of a send blocked by a full socket (which breaks the
 * connection), a message half received across timeouts and cancellations,
 * cancellation of tasks blocked in recv and send, whole messages from 8
 * concurrent senders and to concurrent receivers, malformed frames, poll. */
#include <endian.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test_util.h"

static void assert_no_children(void)
{
    errno = 0;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
        fail_msg("a child process is left over (waitpid: %s)",
                 cc_errname(errno));
}

/* Fill n bytes with a pattern that depends on seed and position. */
static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

static bool check(const unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        if (p[i] != (unsigned char)(x >> 16))
            return false;
    }
    return true;
}

static int child_code(cc_process *p)
{
    int code = -1000;
    if (cc_process_join(p, 120) != 0 || cc_process_exitcode(p, &code) != 0)
        fail_msg("join: %s", cc_errmsg());
    return code;
}

/* Write all of n bytes to a raw fd (it is non-blocking). */
static void raw_write(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            cc_wait_fd(fd, CC_WRITABLE, 10);
            continue;
        }
        assert_true(w > 0);
        c += w;
        n -= (size_t)w;
    }
}

/* ---- basics ---- */

static void test_duplex_both_ways(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    assert_true(cc_conn_fileno(a) >= 0);
    assert_true(cc_conn_fileno(b) >= 0);
    assert_ok(cc_conn_send_bytes(a, "hello", 5, 1));
    assert_ok(cc_conn_send_bytes(b, "world!", 6, 1));
    assert_ok(cc_conn_recv(b, &m, 1));
    assert_int_equal(cc_blob_len(m), 5);
    assert_string_equal(m, "hello");
    cc_blob_free(m);
    assert_ok(cc_conn_recv(a, &m, 1));
    assert_string_equal(m, "world!");
    /* a blob goes as its bytes */
    assert_ok(cc_conn_send(a, m, 1));
    cc_blob_free(m);
    assert_ok(cc_conn_recv(b, &m, 1));
    assert_string_equal(m, "world!");
    cc_blob_free(m);
    cc_conn_close(a);
    cc_conn_close(b);
}

static void test_one_way_wrong_direction_is_ebadf(void **state)
{
    (void)state;
    cc_conn *r, *w;
    void *m = NULL;
    assert_ok(cc_pipe_new(&r, &w, false));
    assert_fails_with(cc_conn_send_bytes(r, "x", 1, 1), EBADF);
    assert_non_null(strstr(cc_errmsg(), "only receives"));
    assert_fails_with(cc_conn_recv(w, &m, 1), EBADF);
    assert_non_null(strstr(cc_errmsg(), "only sends"));
    assert_fails_with(cc_conn_poll(w, 0), EBADF);
    /* even the raw fds refuse the wrong way */
    errno = 0;
    assert_int_equal(send(cc_conn_fileno(r), "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    assert_ok(cc_conn_send_bytes(w, "ok", 2, 1));
    assert_ok(cc_conn_recv(r, &m, 1));
    assert_string_equal(m, "ok");
    cc_blob_free(m);
    cc_conn_close(r);
    cc_conn_close(w);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    /* not a blob: memory whose 16 bytes in front hold no blob header */
    char *plain = calloc(1, 64);
    assert_fails_with(cc_pipe_new(NULL, &b, true), EINVAL);
    assert_fails_with(cc_conn_send_bytes(NULL, "x", 1, 1), EINVAL);
    assert_fails_with(cc_conn_recv(NULL, &m, 1), EINVAL);
    assert_fails_with(cc_conn_poll(NULL, 0), EINVAL);
    assert_fails_with(cc_conn_fileno(NULL), EINVAL);
    cc_conn_close(NULL);
    assert_ok(cc_pipe_new(&a, &b, true));
    assert_fails_with(cc_conn_recv(a, NULL, 1), EINVAL);
    assert_fails_with(cc_conn_send_bytes(a, NULL, 3, 1), EINVAL);
    assert_fails_with(cc_conn_send(a, plain + 32, 1), EINVAL);
    free(plain);
    assert_fails_with(cc_conn_recv(a, &m, NAN), EINVAL);
    assert_fails_with(cc_conn_send_bytes(a, "x", 1, NAN), EINVAL);
    cc_conn_close(a);
    cc_conn_close(b);
}

static void test_empty_messages(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    assert_ok(cc_conn_send(a, NULL, 1));
    assert_ok(cc_conn_send_bytes(a, NULL, 0, 1));
    void *empty = cc_blob_new(0);
    assert_ok(cc_conn_send(a, empty, 1));
    cc_blob_free(empty);
    assert_ok(cc_conn_send_bytes(a, "z", 1, 1));
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_conn_recv(b, &m, 1));
        assert_true(cc_blob_is(m));
        assert_int_equal(cc_blob_len(m), 0);
        assert_string_equal(m, "");
        cc_blob_free(m);
    }
    assert_ok(cc_conn_recv(b, &m, 1));
    assert_string_equal(m, "z");
    cc_blob_free(m);
    cc_conn_close(a);
    cc_conn_close(b);
}

/* ---- 64 MiB through a child, both ways ---- */

#define BIG (64u << 20)

static cc_conn *child_end;

static void *echo_big(void *arg)
{
    void *m;
    cc_conn_close(arg); /* the parent's end */
    if (cc_conn_recv(child_end, &m, 120) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "child recv");
    if (cc_blob_len(m) != BIG || !check(m, BIG, 64))
        return cc_fail(EPROTO, "the child got a damaged message");
    /* send it back with another pattern */
    fill(m, BIG, 65);
    if (cc_conn_send(child_end, m, 120) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "child send");
    cc_blob_free(m);
    return arg;
}

static void test_64_mib_both_ways(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, true));
    child_end = b;
    cc_process *p = cc_process_start(echo_big, a, "echo");
    assert_non_null(p);
    cc_conn_close(b);
    unsigned char *big = cc_blob_new(BIG);
    fill(big, BIG, 64);
    assert_ok(cc_conn_send(a, big, 120));
    cc_blob_free(big);
    void *m;
    assert_ok(cc_conn_recv(a, &m, 120));
    assert_int_equal(cc_blob_len(m), BIG);
    assert_true(check(m, BIG, 65));
    cc_blob_free(m);
    assert_int_equal(child_code(p), 0);
    cc_process_free(p);
    cc_conn_close(a);
    assert_no_children();
}

/* ---- a dead peer ---- */

static void *wait_forever(void *arg)
{
    void *m;
    cc_conn_close(arg);
    cc_conn_recv(child_end, &m, 60); /* blocks until killed */
    return NULL;
}

static void test_dead_peer_gives_epipe_not_sigpipe(void **state)
{
    (void)state;
    struct sigaction sa;
    assert_ok(sigaction(SIGPIPE, NULL, &sa));
    assert_true(sa.sa_handler == SIG_DFL); /* SIGPIPE would end the test */
    for (int round = 0; round < 3; round++) {
        cc_conn *a, *b;
        void *m;
        assert_ok(cc_pipe_new(&a, &b, true));
        child_end = b;
        cc_process *p = cc_process_start(wait_forever, a, NULL);
        cc_conn_close(b);
        /* a message is in flight to it when it dies (round 1, 2) */
        if (round > 0)
            assert_ok(cc_conn_send_bytes(a, "ping", 4, 1));
        if (round == 2)
            tu_sleep(0.05);
        assert_ok(cc_process_kill(p));
        assert_ok(cc_process_join(p, 30));
        double t0 = cc_now();
        assert_fails_with(cc_conn_recv(a, &m, 30), EPIPE);
        assert_non_null(strstr(cc_errmsg(), "by the peer"));
        assert_true(cc_now() - t0 < 5);
        assert_fails_with(cc_conn_send_bytes(a, "x", 1, 30), EPIPE);
        assert_fails_with(cc_conn_send_bytes(a, "x", 1, 30), EPIPE);
        assert_int_equal(cc_conn_poll(a, 0), 1); /* EOF is "ready" */
        cc_process_free(p);
        cc_conn_close(a);
    }
    assert_no_children();
}

/* ---- timeouts ---- */

static void test_recv_timeout(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    double t0 = cc_now();
    assert_fails_with(cc_conn_recv(a, &m, 0.1), ETIMEDOUT);
    double took = cc_now() - t0;
    assert_true(took >= 0.09 && took < 5 * TU_SLOW);
    assert_fails_with(cc_conn_recv(a, &m, 0), EAGAIN);
    assert_ok(cc_deadline_push(0.05));
    assert_fails_with(cc_conn_recv(a, &m, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    /* nothing is broken by a timeout */
    assert_ok(cc_conn_send_bytes(b, "late", 4, 1));
    assert_ok(cc_conn_recv(a, &m, 1));
    assert_string_equal(m, "late");
    cc_blob_free(m);
    cc_conn_close(a);
    cc_conn_close(b);
}

static void test_full_socket_send_times_out_and_breaks(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    size_t n = 16u << 20; /* far more than a socket buffer holds */
    unsigned char *big = malloc(n);
    fill(big, n, 7);
    double t0 = cc_now();
    assert_fails_with(cc_conn_send_bytes(a, big, n, 0.1), ETIMEDOUT);
    assert_true(cc_now() - t0 < 5 * TU_SLOW);
    /* part of it went out: the connection is broken for good */
    assert_fails_with(cc_conn_send_bytes(a, "x", 1, 1), EPIPE);
    assert_non_null(strstr(cc_errmsg(), "broken"));
    assert_non_null(strstr(cc_errmsg(), "timed out after"));
    assert_fails_with(cc_conn_recv(a, &m, 1), EPIPE);
    /* the peer sees the stream end in the middle of the message */
    assert_fails_with(cc_conn_recv(b, &m, 10), EPIPE);
    assert_non_null(strstr(cc_errmsg(), "middle of a message"));
    assert_fails_with(cc_conn_recv(b, &m, 10), EPIPE);
    free(big);
    cc_conn_close(a);
    cc_conn_close(b);

    /* Fill the buffer with whole messages until one times out.  That one
     * went out either not at all (the connection stays whole) or in part
     * (broken): the peer gets exactly the whole ones, then waits or sees
     * the end of the stream accordingly. */
    assert_ok(cc_pipe_new(&a, &b, true));
    int sent = 0;
    unsigned char small[1000];
    fill(small, sizeof(small), 9);
    while (cc_conn_send_bytes(a, small, sizeof(small), 0.05) == 0)
        sent++;
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(cc_conn_send_bytes(a, "x", 1, 0), -1);
    bool broken = errno == EPIPE;
    if (!broken)
        assert_int_equal(errno, EAGAIN);
    int got = 0;
    while (cc_conn_recv(b, &m, 0.2) == 0) {
        assert_int_equal(cc_blob_len(m), sizeof(small));
        assert_true(check(m, sizeof(small), 9));
        cc_blob_free(m);
        got++;
    }
    assert_int_equal(errno, broken ? EPIPE : ETIMEDOUT);
    assert_int_equal(got, sent);
    cc_conn_close(a);
    cc_conn_close(b);
}

/* ---- a message half received ---- */

static void test_partial_message_survives_timeouts(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    int raw = cc_conn_fileno(b);
    unsigned char body[1000];
    fill(body, sizeof(body), 3);
    uint64_t le = htole64(sizeof(body));
    /* 3 bytes of the header */
    raw_write(raw, &le, 3);
    assert_fails_with(cc_conn_recv(a, &m, 0.05), ETIMEDOUT);
    assert_fails_with(cc_conn_recv(a, &m, 0), EAGAIN);
    /* the rest of the header and half the body */
    raw_write(raw, (char *)&le + 3, 5);
    raw_write(raw, body, 500);
    assert_fails_with(cc_conn_recv(a, &m, 0.05), ETIMEDOUT);
    assert_int_equal(cc_conn_poll(a, 0), 0);
    raw_write(raw, body + 500, 500);
    assert_int_equal(cc_conn_poll(a, 1), 1);
    assert_ok(cc_conn_recv(a, &m, 1));
    assert_int_equal(cc_blob_len(m), sizeof(body));
    assert_true(check(m, sizeof(body), 3));
    cc_blob_free(m);
    cc_conn_close(a);
    cc_conn_close(b);
}

/* A child streams big messages; the parent receives them with tiny
 * timeouts, so most messages are taken in many pieces. */
#define PIECES_MSGS 40

static void *stream_messages(void *arg)
{
    cc_conn_close(arg);
    for (int i = 0; i < PIECES_MSGS; i++) {
        size_t n = (size_t)tu_rand_below(3u << 20);
        unsigned char *p = cc_blob_new(n);
        fill(p, n, (uint32_t)i);
        if (cc_conn_send(child_end, p, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "send %d", i);
        cc_blob_free(p);
        tu_jitter(3000);
    }
    return arg;
}

static void test_partial_messages_under_tiny_timeouts(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, true));
    child_end = b;
    cc_process *p = cc_process_start(stream_messages, a, NULL);
    cc_conn_close(b);
    int timeouts = 0;
    for (int i = 0; i < PIECES_MSGS;) {
        void *m;
        if (cc_conn_recv(a, &m, 0.0005) != 0) {
            if (errno != ETIMEDOUT)
                fail_msg("recv %d: %s", i, cc_errmsg());
            timeouts++;
            continue;
        }
        if (!check(m, cc_blob_len(m), (uint32_t)i))
            fail_msg("message %d (%zu bytes) is damaged", i, cc_blob_len(m));
        cc_blob_free(m);
        i++;
    }
    assert_true(timeouts > 0);
    assert_int_equal(child_code(p), 0);
    cc_process_free(p);
    cc_conn_close(a);
    assert_no_children();
}

/* ---- cancellation ---- */

static void *recv_forever(void *arg)
{
    void *m;
    if (cc_conn_recv(arg, &m, CC_FOREVER) == 0) {
        cc_blob_free(m);
        return cc_fail(EPROTO, "received although nothing was sent");
    }
    return NULL; /* ECANCELED */
}

static size_t big_send_len = 16u << 20;
/* Made and filled before the loop starts: touching 16 MiB for the first
 * time costs 4,096 page faults, 40-200 ms on a loaded VM, which inside
 * the task would stall the loop the ticker measures (it did, in CI). */
static unsigned char *big_send;

static void *send_forever(void *arg)
{
    int rc = cc_conn_send_bytes(arg, big_send, big_send_len, CC_FOREVER);

    if (rc == 0)
        return cc_fail(EPROTO, "sent although nobody reads");
    return NULL; /* ECANCELED */
}

static _Atomic int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (cc_sleep(0.001) == 0)
        atomic_fetch_add(&ticks, 1);
    return NULL;
}

static void *cancel_main(void *arg)
{
    cc_conn **ends = arg;
    atomic_store(&ticks, 0);
    cc_future *t = cc_spawn(ticker, NULL);
    cc_future *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = cc_spawn(recv_forever, ends[0]);
    cc_future *s = cc_spawn(send_forever, ends[2]);
    cc_sleep(0.2);
    for (int i = 0; i < 3; i++)
        cc_future_cancel(r[i]);
    cc_future_cancel(s);
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        if (cc_future_result(r[i], NULL, 10) != -1 || errno != ECANCELED)
            bad++;
        cc_future_free(r[i]);
    }
    if (cc_future_result(s, NULL, 10) != -1 || errno != ECANCELED)
        bad++;
    cc_future_free(s);
    cc_future_cancel(t);
    cc_future_result(t, NULL, 10);
    cc_future_free(t);
    if (bad)
        return cc_fail(EPROTO, "%d tasks did not end cancelled", bad);
    /* ~200 ticks when idle; a loop blocked by a recv or send gets 0-1.
     * A loaded machine (sanitizers, parallel tests) gets fewer: 5 is
     * enough to tell the two apart. */
    if (atomic_load(&ticks) < 5)
        return cc_fail(EPROTO, "blocked the loop: %d ticks", atomic_load(&ticks));
    /* The cancelled receivers broke nothing: a message still arrives. */
    if (cc_conn_send_bytes(ends[1], "after", 5, 1) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "send after");
    void *m;
    if (cc_conn_recv(ends[0], &m, 1) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "recv after");
    bad = strcmp(m, "after") != 0;
    cc_blob_free(m);
    /* The cancelled send had sent part of its message: broken. */
    if (cc_conn_send_bytes(ends[2], "x", 1, 1) != -1 || errno != EPIPE)
        return cc_fail(EPROTO, "the connection survived a half-sent message");
    if (strstr(cc_errmsg(), "was cancelled after") == NULL)
        return cc_fail(EPROTO, "message: %s", cc_errmsg());
    return bad ? NULL : arg;
}

static void test_cancel_tasks_blocked_in_recv_and_send(void **state)
{
    (void)state;
    cc_conn *ends[4];
    assert_ok(cc_pipe_new(&ends[0], &ends[1], true));
    assert_ok(cc_pipe_new(&ends[3], &ends[2], false));
    big_send = malloc(big_send_len);
    assert_non_null(big_send);
    memset(big_send, 1, big_send_len);
    assert_ok(cc_run(cancel_main, ends, NULL));
    free(big_send);
    for (int i = 0; i < 4; i++)
        cc_conn_close(ends[i]);
}

/* A task cancelled in the middle of receiving a message: another task
 * picks the message up where it stopped. */
static void *recv_one(void *arg)
{
    void *m;
    if (cc_conn_recv(arg, &m, 30) != 0)
        return NULL;
    return m;
}

static void *cancel_midway_main(void *arg)
{
    cc_conn **ends = arg;
    int raw = cc_conn_fileno(ends[1]);
    static unsigned char body[100000];
    fill(body, sizeof(body), 11);
    uint64_t le = htole64(sizeof(body));
    cc_future *f = cc_spawn(recv_one, ends[0]);
    cc_yield();
    raw_write(raw, &le, 8);
    raw_write(raw, body, 40000);
    cc_sleep(0.05);
    cc_future_cancel(f);
    if (cc_future_result(f, NULL, 10) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "the receiver was not cancelled");
    cc_future_free(f);
    f = cc_spawn(recv_one, ends[0]);
    cc_sleep(0.01);
    raw_write(raw, body + 40000, sizeof(body) - 40000);
    void *m;
    if (cc_future_result(f, &m, 10) != 0 || m == NULL)
        return cc_fail(EPROTO, "the second receiver got nothing");
    cc_future_free(f);
    bool ok = cc_blob_len(m) == sizeof(body) && check(m, sizeof(body), 11);
    cc_blob_free(m);
    return ok ? arg : cc_fail(EPROTO, "the message was damaged");
}

static void test_cancel_midway_keeps_partial_message(void **state)
{
    (void)state;
    cc_conn *ends[2];
    assert_ok(cc_pipe_new(&ends[0], &ends[1], true));
    assert_ok(cc_run(cancel_midway_main, ends, NULL));
    cc_conn_close(ends[0]);
    cc_conn_close(ends[1]);
}

/* ---- many senders, many receivers ---- */

#define SENDERS 8
#define PER_SENDER 400

typedef struct msg_head {
    uint32_t sender;
    uint32_t seq;
    uint32_t len;
} msg_head;

static cc_conn *shared_send;

static void *sender(void *arg)
{
    uint32_t id = (uint32_t)(intptr_t)(*(int *)arg);
    for (uint32_t i = 0; i < PER_SENDER; i++) {
        uint32_t len = (uint32_t)sizeof(msg_head) +
                       (tu_rand_below(8) == 0 ? tu_rand_below(200000)
                                              : tu_rand_below(300));
        unsigned char *p = malloc(len);
        msg_head h = {id, i, len};
        memcpy(p, &h, sizeof(h));
        fill(p + sizeof(h), len - sizeof(h), id * 100000 + i);
        int rc = cc_conn_send_bytes(shared_send, p, len, 60);
        free(p);
        if (rc != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "sender %u", id);
        tu_jitter(50);
    }
    return arg;
}

/* The child receives everything, checks every message and the order of
 * each sender's messages, and exits 0 when all is well. */
static void *receive_all(void *arg)
{
    uint32_t next[SENDERS] = {0};
    cc_conn_close(arg);
    for (int n = 0; n < SENDERS * PER_SENDER; n++) {
        unsigned char *m;
        msg_head h;
        if (cc_conn_recv(child_end, (void **)&m, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "recv %d", n);
        if (cc_blob_len(m) < sizeof(h))
            return cc_fail(EPROTO, "a message of %zu bytes", cc_blob_len(m));
        memcpy(&h, m, sizeof(h));
        if (h.sender >= SENDERS || h.len != cc_blob_len(m) ||
            h.seq != next[h.sender] ||
            !check(m + sizeof(h), h.len - sizeof(h),
                   h.sender * 100000 + h.seq))
            return cc_fail(EPROTO, "message %d is not whole or out of order "
                                   "(sender %u seq %u len %u/%zu)",
                           n, h.sender, h.seq, h.len, cc_blob_len(m));
        next[h.sender]++;
        cc_blob_free(m);
    }
    return arg;
}

static void test_eight_concurrent_senders_send_whole_messages(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, false)); /* a receives, b sends */
    child_end = a;
    cc_process *p = cc_process_start(receive_all, b, "receiver");
    cc_conn_close(a);
    shared_send = b;
    int ids[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        ids[i] = i;
    tu_threads ts = tu_start(SENDERS, sender, ids, sizeof(ids[0]));
    tu_join(ts);
    assert_int_equal(child_code(p), 0);
    cc_process_free(p);
    cc_conn_close(b);
    assert_no_children();
}

/* Several receiver threads and tasks share one end: every message is
 * taken exactly once, whole. */
#define RECV_MSGS 3000

static cc_conn *shared_recv;
static _Atomic int taken[RECV_MSGS];
static _Atomic int received;

static void *receiver(void *arg)
{
    for (;;) {
        unsigned char *m;
        uint32_t seq;
        if (cc_conn_recv(shared_recv, (void **)&m, 60) != 0)
            return errno == EPIPE ? arg
                                  : cc_fail_from(cc_last_error(), EPROTO,
                                                 "recv");
        memcpy(&seq, m, 4);
        if (seq >= RECV_MSGS || !check(m + 4, cc_blob_len(m) - 4, seq))
            return cc_fail(EPROTO, "damaged message");
        atomic_fetch_add(&taken[seq], 1);
        atomic_fetch_add(&received, 1);
        cc_blob_free(m);
    }
}

static void *task_receivers(void *arg)
{
    cc_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(receiver, arg);
    int rc = cc_gather(f, 4, NULL, false, CC_FOREVER);
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    return rc == 0 ? arg : NULL;
}

static void *loop_receivers(void *arg)
{
    if (cc_run(task_receivers, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "tasks");
    return arg;
}

static void *send_numbered(void *arg)
{
    cc_conn_close(arg);
    for (uint32_t i = 0; i < RECV_MSGS; i++) {
        size_t len = 4 + tu_rand_below(tu_rand_below(10) == 0 ? 100000 : 100);
        unsigned char *p = cc_blob_new(len);
        memcpy(p, &i, 4);
        fill(p + 4, len - 4, i);
        if (cc_conn_send(child_end, p, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "send %u", i);
        cc_blob_free(p);
    }
    return arg; /* exit closes the end: the receivers see EPIPE */
}

static void test_concurrent_receivers_take_each_message_once(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, false));
    for (int i = 0; i < RECV_MSGS; i++)
        atomic_store(&taken[i], 0);
    atomic_store(&received, 0);
    shared_recv = a;
    child_end = b;
    /* The child first: forked while other threads allocate, a child of
     * an ASan build can hang in its first malloc (clang 14's allocator
     * lock is not fork-safe; see test_fork_safety.c). */
    cc_process *p = cc_process_start(send_numbered, a, "numbers");
    cc_conn_close(b);
    int dummy[6];
    tu_threads ts = tu_start(4, receiver, dummy, sizeof(dummy[0]));
    tu_threads loops = tu_start(2, loop_receivers, dummy, sizeof(dummy[0]));
    tu_join(ts);
    tu_join(loops);
    assert_int_equal(child_code(p), 0);
    cc_process_free(p);
    assert_int_equal(atomic_load(&received), RECV_MSGS);
    for (int i = 0; i < RECV_MSGS; i++)
        assert_int_equal(atomic_load(&taken[i]), 1);
    cc_conn_close(a);
    assert_no_children();
}

/* ---- malformed frames ---- */

static void test_malformed_frames_break_the_connection(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    uint64_t le = htole64((uint64_t)1 << 50);
    raw_write(cc_conn_fileno(b), &le, 8);
    assert_fails_with(cc_conn_recv(a, &m, 1), EPROTO);
    assert_fails_with(cc_conn_recv(a, &m, 1), EPIPE);
    assert_non_null(strstr(cc_errmsg(), "not a frame"));
    assert_fails_with(cc_conn_send_bytes(a, "x", 1, 1), EPIPE);
    assert_fails_with(cc_conn_recv(b, &m, 1), EPIPE); /* shut down */
    cc_conn_close(a);
    cc_conn_close(b);

    /* plausible, but more than memory can hold: ENOMEM */
    assert_ok(cc_pipe_new(&a, &b, true));
    le = htole64((uint64_t)1 << 39);
    raw_write(cc_conn_fileno(b), &le, 8);
    assert_fails_with(cc_conn_recv(a, &m, 1), ENOMEM);
    assert_fails_with(cc_conn_recv(a, &m, 1), EPIPE);
    cc_conn_close(a);
    cc_conn_close(b);

    /* random garbage never crashes: each recv fails or gives a blob */
    for (int round = 0; round < 200; round++) {
        unsigned char junk[64];
        assert_ok(cc_pipe_new(&a, &b, true));
        size_t n = 1 + tu_rand_below(sizeof(junk));
        for (size_t i = 0; i < n; i++)
            junk[i] = (unsigned char)tu_rand();
        if (tu_rand_below(2)) { /* a small length in front */
            le = htole64(tu_rand_below(80));
            memcpy(junk, &le, n < 8 ? n : 8);
        }
        raw_write(cc_conn_fileno(b), junk, n);
        cc_conn_close(b);
        for (int k = 0; k < 20; k++) {
            if (cc_conn_recv(a, &m, 1) != 0) {
                assert_true(errno == EPIPE || errno == EPROTO ||
                            errno == ENOMEM);
                break;
            }
            cc_blob_free(m);
        }
        cc_conn_close(a);
    }
}

/* ---- poll ---- */

static void test_poll(void **state)
{
    (void)state;
    cc_conn *a, *b;
    void *m;
    assert_ok(cc_pipe_new(&a, &b, true));
    assert_int_equal(cc_conn_poll(a, 0), 0);
    double t0 = cc_now();
    assert_int_equal(cc_conn_poll(a, 0.05), 0);
    assert_true(cc_now() - t0 >= 0.04);
    assert_ok(cc_conn_send_bytes(b, "1", 1, 1));
    assert_ok(cc_conn_send_bytes(b, "2", 1, 1));
    assert_int_equal(cc_conn_poll(a, 1), 1);
    assert_ok(cc_conn_recv(a, &m, 1));
    cc_blob_free(m);
    /* the second message sits in the read-ahead buffer: still ready */
    assert_int_equal(cc_conn_poll(a, 0), 1);
    assert_ok(cc_conn_recv(a, &m, 0));
    assert_string_equal(m, "2");
    cc_blob_free(m);
    assert_int_equal(cc_conn_poll(a, 0), 0);
    assert_fails_with(cc_conn_poll(a, NAN), EINVAL);
    cc_conn_close(b);
    assert_int_equal(cc_conn_poll(a, 1), 1); /* EOF */
    assert_fails_with(cc_conn_recv(a, &m, 1), EPIPE);
    cc_conn_close(a);
}

static void *poll_forever(void *arg)
{
    if (cc_conn_poll(arg, CC_FOREVER) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "poll was not cancelled");
    return arg;
}

static void *poll_cancel_main(void *arg)
{
    cc_future *f = cc_spawn(poll_forever, arg);
    cc_sleep(0.05);
    cc_future_cancel(f);
    int rc = cc_future_result(f, NULL, 10);
    cc_future_free(f);
    return rc == 0 ? arg : NULL;
}

static void test_poll_cancellation(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, true));
    assert_ok(cc_run(poll_cancel_main, a, NULL));
    cc_conn_close(a);
    cc_conn_close(b);
}

/* ---- ping-pong between a task and a child ---- */

static void *pong(void *arg)
{
    void *m;
    cc_conn_close(arg);
    while (cc_conn_recv(child_end, &m, 30) == 0) {
        int rc = cc_conn_send(child_end, m, 30);
        cc_blob_free(m);
        if (rc != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "pong");
    }
    return errno == EPIPE ? arg : cc_fail_from(cc_last_error(), EPROTO, "recv");
}

static void *ping_main(void *arg)
{
    cc_conn *a = arg;
    atomic_store(&ticks, 0);
    cc_future *t = cc_spawn(ticker, NULL);
    for (uint32_t i = 0; i < 2000; i++) {
        void *m;
        if (cc_conn_send_bytes(a, &i, 4, 10) != 0 ||
            cc_conn_recv(a, &m, 10) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "round %u", i);
        uint32_t back;
        memcpy(&back, m, 4);
        cc_blob_free(m);
        if (back != i)
            return cc_fail(EPROTO, "got %u for %u", back, i);
    }
    cc_future_cancel(t);
    cc_future_result(t, NULL, 10);
    cc_future_free(t);
    return arg;
}

static void test_ping_pong_from_a_task(void **state)
{
    (void)state;
    cc_conn *a, *b;
    assert_ok(cc_pipe_new(&a, &b, true));
    child_end = b;
    cc_process *p = cc_process_start(pong, a, "pong");
    cc_conn_close(b);
    assert_ok(cc_run(ping_main, a, NULL));
    cc_conn_close(a);
    assert_int_equal(child_code(p), 0);
    cc_process_free(p);
    assert_no_children();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplex_both_ways),
        cmocka_unit_test(test_one_way_wrong_direction_is_ebadf),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_empty_messages),
        cmocka_unit_test(test_64_mib_both_ways),
        cmocka_unit_test(test_dead_peer_gives_epipe_not_sigpipe),
        cmocka_unit_test(test_recv_timeout),
        cmocka_unit_test(test_full_socket_send_times_out_and_breaks),
        cmocka_unit_test(test_partial_message_survives_timeouts),
        cmocka_unit_test(test_partial_messages_under_tiny_timeouts),
        cmocka_unit_test(test_cancel_tasks_blocked_in_recv_and_send),
        cmocka_unit_test(test_cancel_midway_keeps_partial_message),
        cmocka_unit_test(test_eight_concurrent_senders_send_whole_messages),
        cmocka_unit_test(test_concurrent_receivers_take_each_message_once),
        cmocka_unit_test(test_malformed_frames_break_the_connection),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_poll_cancellation),
        cmocka_unit_test(test_ping_pong_from_a_task),
    };
    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
