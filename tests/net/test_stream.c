/* test_stream - cc_stream over socketpairs and TCP: every read call (read,
 * readexactly with ENODATA and the partial bytes kept, readline with its
 * end-of-stream rules and the EMSGSIZE limit keeping the data, readuntil
 * with a separator split across packets), timeouts that consume nothing,
 * write + drain with water marks against a peer that does not read,
 * write_eof both ways, close with pending output, calls after close,
 * close waking calls blocked in other threads and tasks, peername and
 * sockname, bad arguments, pending output moved by a waiting reader, and
 * concurrent writers and readers on one stream.  Every test checks that no
 * descriptor leaked. */
#include <math.h>
#include <signal.h>

#include "net_util.h"

/* ---- reading ---- */

static void test_read_returns_what_is_there(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char buf[100];
    assert_fails_with(cc_stream_read(a, buf, sizeof(buf), 0), EAGAIN);
    assert_ok(cc_stream_write(b, "hello", 5));
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(cc_stream_read(a, buf, 0, 5), 0); /* n == 0 */
    /* less than buffered: the rest stays for the next read */
    assert_ok(cc_stream_write(b, "abcdef", 6));
    assert_int_equal(cc_stream_read(a, buf, 2, 5), 2);
    assert_memory_equal(buf, "ab", 2);
    assert_int_equal(cc_stream_read(a, buf, 100, 0), 4);
    assert_memory_equal(buf, "cdef", 4);
    /* a timeout */
    double t0 = cc_now();
    assert_fails_with(cc_stream_read(a, buf, 10, 0.1), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.09);
    assert_non_null(strstr(cc_errmsg(), "timed out"));
    /* the end of the stream: 0, and at_eof */
    assert_false(cc_stream_at_eof(a));
    assert_ok(cc_stream_write_eof(b));
    assert_int_equal(cc_stream_read(a, buf, 10, 5), 0);
    assert_true(cc_stream_at_eof(a));
    assert_int_equal(cc_stream_read(a, buf, 10, 5), 0);
}

/* A large read goes straight to the caller's buffer; data still checks. */
static void *big_writer(void *arg)
{
    cc_stream *s = arg;
    size_t total = 8u << 20;
    unsigned char *p = malloc(total);
    nu_fill(p, total, 7, 0);
    if (cc_stream_write(s, p, total) != 0 || cc_stream_close(s, 30) != 0) {
        free(p);
        return cc_fail_from(cc_last_error(), EIO, "big writer");
    }
    free(p);
    return s;
}

static void test_large_reads_keep_the_bytes_in_order(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    cc_thread *t = cc_thread_start(big_writer, b, "writer");
    size_t got = 0;
    unsigned char *buf = malloc(1 << 20);
    for (;;) {
        size_t want = 1 + tu_rand_below(1 << 20); /* small and big reads */
        ssize_t n = cc_stream_read(a, buf, want, 30);
        assert_true(n >= 0);
        if (n == 0)
            break;
        if (!nu_check(buf, (size_t)n, 7, got))
            fail_msg("bytes %zu..%zu are wrong", got, got + (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(got, 8u << 20);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    free(buf);
}

static void test_readexactly(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char buf[16];
    assert_ok(cc_stream_write(b, "0123456789", 10));
    assert_ok(cc_stream_readexactly(a, buf, 4, 5));
    assert_memory_equal(buf, "0123", 4);
    assert_ok(cc_stream_readexactly(a, buf, 0, 5));
    /* not enough yet: a timeout consumes nothing */
    assert_fails_with(cc_stream_readexactly(a, buf, 8, 0.05), ETIMEDOUT);
    assert_fails_with(cc_stream_readexactly(a, buf, 8, 0), EAGAIN);
    assert_ok(cc_stream_write(b, "ab", 2));
    assert_ok(cc_stream_readexactly(a, buf, 8, 5));
    assert_memory_equal(buf, "456789ab", 8);
    /* the stream ends too early: ENODATA, and the bytes stay */
    assert_ok(cc_stream_write(b, "xyz", 3));
    assert_ok(cc_stream_write_eof(b));
    assert_fails_with(cc_stream_readexactly(a, buf, 8, 5), ENODATA);
    assert_non_null(strstr(cc_errmsg(), "after 3 of 8 bytes"));
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 3);
    assert_memory_equal(buf, "xyz", 3);
    assert_fails_with(cc_stream_readexactly(a, buf, 1, 5), ENODATA);
}

/* readexactly of more than the read buffer holds (it grows). */
static void test_readexactly_bigger_than_the_buffer(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    cc_thread *t = cc_thread_start(big_writer, b, "writer");
    size_t n = 3u << 20;
    unsigned char *buf = malloc(n);
    assert_ok(cc_stream_readexactly(a, buf, n, 30));
    assert_true(nu_check(buf, n, 7, 0));
    assert_ok(cc_stream_readexactly(a, buf, n, 30));
    assert_true(nu_check(buf, n, 7, n));
    /* 8 MiB in all: 2 MiB left, then ENODATA for more */
    assert_fails_with(cc_stream_readexactly(a, buf, n, 30), ENODATA);
    assert_ok(cc_stream_readexactly(a, buf, 2u << 20, 30));
    assert_true(nu_check(buf, 2u << 20, 7, 2 * n));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    free(buf);
}

static void test_readline(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char *l;
    assert_ok(cc_stream_write(b, "one\ntwo\nthr", 11));
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "one\n");
    assert_int_equal(cc_blob_len(l), 4);
    cc_blob_free(l);
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "two\n");
    cc_blob_free(l);
    /* a partial line: a timeout keeps it */
    assert_null_with(cc_stream_readline(a, 0.05), ETIMEDOUT);
    assert_null_with(cc_stream_readline(a, 0), EAGAIN);
    assert_ok(cc_stream_write(b, "ee\n", 3));
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "three\n");
    cc_blob_free(l);
    /* an empty line is "\n", not the end */
    assert_ok(cc_stream_write(b, "\nlast", 5));
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "\n");
    cc_blob_free(l);
    /* the end: the unterminated rest, then empty blobs */
    assert_ok(cc_stream_write_eof(b));
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "last");
    assert_int_equal(cc_blob_len(l), 4);
    cc_blob_free(l);
    for (int i = 0; i < 2; i++) {
        l = cc_stream_readline(a, 5);
        assert_non_null(l);
        assert_int_equal(cc_blob_len(l), 0);
        cc_blob_free(l);
    }
    assert_true(cc_stream_at_eof(a));
}

static void test_readline_limit_keeps_the_data(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char buf[64];
    char *l;
    assert_fails_with(cc_stream_set_limit(a, 0), EINVAL);
    assert_ok(cc_stream_set_limit(a, 8));
    /* exactly the limit before the "\n" is fine (as asyncio) */
    assert_ok(cc_stream_write(b, "12345678\n", 9));
    l = cc_stream_readline(a, 5);
    assert_string_equal(l, "12345678\n");
    cc_blob_free(l);
    /* one more byte is not */
    assert_ok(cc_stream_write(b, "123456789\n", 10));
    assert_null_with(cc_stream_readline(a, 5), EMSGSIZE);
    assert_non_null(strstr(cc_errmsg(), "limit of 8 bytes"));
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 10);
    assert_memory_equal(buf, "123456789\n", 10);
    /* no separator at all: EMSGSIZE as soon as the limit is passed, data
     * kept, readable afterwards */
    assert_ok(cc_stream_write(b, "abcdefghijkl", 12));
    assert_null_with(cc_stream_readline(a, 5), EMSGSIZE);
    assert_null_with(cc_stream_readline(a, 5), EMSGSIZE);
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 12);
    assert_memory_equal(buf, "abcdefghijkl", 12);
    /* the default limit: a 100 KiB line */
    assert_ok(cc_stream_set_limit(a, CC_STREAM_LIMIT));
    size_t n = 100 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    assert_ok(cc_stream_write(b, big, n));
    assert_null_with(cc_stream_readline(a, 5), EMSGSIZE);
    size_t got = 0;
    while (got < n) {
        ssize_t r = cc_stream_read(a, big, n, 5);
        assert_true(r > 0);
        got += (size_t)r;
    }
    free(big);
}

static void test_readuntil(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char buf[64];
    char *m;
    assert_null_with(cc_stream_readuntil(a, "", 0, 1), EINVAL);
    assert_null_with(cc_stream_readuntil(a, NULL, 2, 1), EINVAL);
    /* a separator split across writes (and reads) */
    assert_ok(cc_stream_write(b, "GET / HTTP/1.0\r\nHost: x\r", 24));
    assert_null_with(cc_stream_readuntil(a, "\r\n\r\n", 4, 0.05), ETIMEDOUT);
    assert_ok(cc_stream_write(b, "\n", 1));
    assert_null_with(cc_stream_readuntil(a, "\r\n\r\n", 4, 0.05), ETIMEDOUT);
    assert_ok(cc_stream_write(b, "\r\nbody", 6));
    m = cc_stream_readuntil(a, "\r\n\r\n", 4, 5);
    assert_non_null(m);
    assert_string_equal(m, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    cc_blob_free(m);
    /* the limit */
    assert_ok(cc_stream_set_limit(a, 6));
    assert_ok(cc_stream_write(b, "--END--", 7)); /* "body--" + "END--" */
    m = cc_stream_readuntil(a, "END", 3, 5);     /* sep at 6: fine */
    assert_string_equal(m, "body--END");
    cc_blob_free(m);
    assert_ok(cc_stream_write(b, "1234567END", 10)); /* "--" + ...: at 9 */
    assert_null_with(cc_stream_readuntil(a, "END", 3, 5), EMSGSIZE);
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 12);
    assert_memory_equal(buf, "--1234567END", 12);
    /* the end before the separator: ENODATA, bytes kept */
    assert_ok(cc_stream_write(b, "tail", 4));
    assert_ok(cc_stream_write_eof(b));
    assert_null_with(cc_stream_readuntil(a, ";", 1, 5), ENODATA);
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 4);
    assert_memory_equal(buf, "tail", 4);
    assert_null_with(cc_stream_readuntil(a, ";", 1, 5), ENODATA);
}

/* A line trickling in one byte at a time, from a task. */
static void *trickle_main(void *arg)
{
    cc_stream **p = arg;
    const char *text = "a line that arrives one byte at a time\n";
    for (const char *c = text; *c; c++) {
        if (cc_stream_write(p[1], c, 1) != 0)
            return cc_fail(EIO, "write");
        cc_yield();
    }
    return arg;
}

static void *trickle_reader(void *arg)
{
    cc_stream **p = arg;
    cc_future *w = cc_spawn(trickle_main, arg);
    char *l = cc_stream_readline(p[0], 10);
    cc_future_result(w, NULL, 10);
    cc_future_free(w);
    if (l == NULL)
        return cc_fail_from(cc_last_error(), EIO, "readline");
    bool ok = strcmp(l, "a line that arrives one byte at a time\n") == 0;
    cc_blob_free(l);
    return ok ? arg : cc_fail(EPROTO, "wrong line");
}

static void test_readline_in_a_task_with_a_trickle(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *p[2] = {fx->a, fx->b};
    assert_ok(cc_run(trickle_reader, p, NULL));
}

/* The last bytes and the end of the stream arriving together, while a
 * task waits: the reader must see both, though a single wake-up announced
 * them (a task's waits are edge-triggered: a short read after a hang-up
 * does not mean the socket is empty -- the end still waits behind it). */
typedef struct last_words {
    cc_stream *r;
    int sock;       /* the raw peer */
    int mode;       /* 0: write + shutdown, 1: write + close, 2: + reset */
} last_words;

static void *say_last_words(void *arg)
{
    last_words *lw = arg;
    tu_sleep(0.0005 * tu_rand_below(3));
    if (send(lw->sock, "last words", 10, MSG_NOSIGNAL) != 10)
        return cc_fail(EIO, "send");
    if (lw->mode == 0) {
        shutdown(lw->sock, SHUT_WR);
    } else {
        if (lw->mode == 2) {
            struct linger lg = {1, 0};
            setsockopt(lw->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(lw->sock);
        lw->sock = -1;
    }
    return arg;
}

static void *hear_last_words(void *arg)
{
    last_words *lw = arg;
    char *l = cc_stream_readline(lw->r, 5);
    if (l == NULL) {
        /* a reset may throw the data away: ECONNRESET, never a hang */
        if (lw->mode == 2 && errno == ECONNRESET)
            return arg;
        return cc_fail_from(cc_last_error(), EIO, "readline (mode %d)",
                            lw->mode);
    }
    bool ok = strcmp(l, "last words") == 0;
    cc_blob_free(l);
    if (!ok)
        return cc_fail(EPROTO, "wrong last words");
    l = cc_stream_readline(lw->r, 5);
    if (l == NULL && !(lw->mode == 2 && errno == ECONNRESET))
        return cc_fail_from(cc_last_error(), EIO, "the end (mode %d)",
                            lw->mode);
    ok = l == NULL || cc_blob_len(l) == 0;
    cc_blob_free(l);
    return ok ? arg : cc_fail(EPROTO, "more after the end");
}

static void *last_words_rounds(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) {
        int sv[2];
        last_words lw;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return cc_fail(errno, "socketpair");
        lw.r = cc_stream_from_fd(sv[0]);
        lw.sock = sv[1];
        lw.mode = i % 3;
        cc_future *reader = cc_spawn(hear_last_words, &lw);
        cc_thread *t = cc_thread_start(say_last_words, &lw, "peer");
        int rc = cc_future_result(reader, NULL, 10);
        cc_future_free(reader);
        cc_thread_join(t, NULL, 10);
        cc_thread_free(t);
        if (lw.sock >= 0)
            close(lw.sock);
        cc_stream_free(lw.r);
        if (rc != 0)
            return cc_fail_from(cc_last_error(), EIO, "round %d", i);
    }
    return arg;
}

static void test_the_end_right_behind_the_data(void **state)
{
    (void)state;
    int fds = tu_fds();
    assert_ok(cc_run(last_words_rounds, state, NULL));
    tu_no_fd_leak(fds);
}

/* ---- writing ---- */

typedef struct slow_reader {
    cc_stream *s;
    cc_event *go;
    size_t expect;
    uint32_t seed;
} slow_reader;

static void *read_all_after_go(void *arg)
{
    slow_reader *r = arg;
    unsigned char *buf = malloc(65536);
    size_t got = 0;
    if (cc_event_wait(r->go, 30) != 0)
        return cc_fail(EIO, "go");
    while (got < r->expect) {
        ssize_t n = cc_stream_read(r->s, buf, 65536, 30);
        if (n <= 0)
            break;
        if (!nu_check(buf, (size_t)n, r->seed, got)) {
            free(buf);
            return cc_fail(EPROTO, "damaged at %zu", got);
        }
        got += (size_t)n;
    }
    free(buf);
    if (got != r->expect)
        return cc_fail(EPROTO, "got %zu of %zu", got, r->expect);
    return arg;
}

/* A peer that does not read: drain times out with the data kept; once it
 * reads, drain finishes; the water marks decide when drain returns. */
static void test_write_and_drain_with_water_marks(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    size_t total = 4u << 20;
    unsigned char *p = malloc(total);
    nu_fill(p, total, 3, 0);
    assert_fails_with(cc_stream_set_water(a, 10, 20), EINVAL);
    assert_ok(cc_stream_set_water(a, 256 * 1024, 64 * 1024));
    /* a little: below the high mark, drain returns at once */
    assert_ok(cc_stream_write(a, p, 1000));
    assert_ok(cc_stream_drain(a, 0));
    /* much more than the socket holds: it is buffered */
    assert_ok(cc_stream_write(a, p + 1000, total - 1000));
    size_t pending = cc_stream_pending(a);
    assert_true(pending > 256 * 1024);
    assert_fails_with(cc_stream_drain(a, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_stream_drain(a, 0.2), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.19);
    assert_true(cc_stream_pending(a) > 256 * 1024); /* kept */
    slow_reader r = {b, cc_event_new(), total, 3};
    cc_thread *t = cc_thread_start(read_all_after_go, &r, "reader");
    cc_event_set(r.go);
    assert_ok(cc_stream_drain(a, 30));
    assert_true(cc_stream_pending(a) <= 64 * 1024);
    assert_ok(cc_stream_close(a, 30)); /* the rest goes before the close */
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_event_free(r.go);
    free(p);
}

/* Many small writes into a full socket, then one drain: all arrive. */
static void test_small_writes_into_a_full_socket(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    unsigned char chunk[100];
    size_t total = 0;
    for (int i = 0; i < 30000; i++) {
        nu_fill(chunk, sizeof(chunk), 9, total);
        assert_ok(cc_stream_write(a, chunk, sizeof(chunk)));
        total += sizeof(chunk);
    }
    slow_reader r = {b, cc_event_new(), total, 9};
    cc_event_set(r.go);
    cc_thread *t = cc_thread_start(read_all_after_go, &r, "reader");
    assert_ok(cc_stream_set_water(a, 0, 0));
    assert_ok(cc_stream_drain(a, 30));
    assert_int_equal(cc_stream_pending(a), 0);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    cc_event_free(r.go);
}

/* write_eof: the peer reads the end, and can still answer. */
static void test_write_eof_half_closes_each_way(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_stream *a, *b;
    char buf[32];
    nu_pair(&a, &b);
    assert_ok(cc_stream_write(a, "question", 8));
    assert_ok(cc_stream_write_eof(a));
    assert_ok(cc_stream_write_eof(a)); /* twice is fine */
    assert_fails_with(cc_stream_write(a, "x", 1), ESHUTDOWN);
    assert_ok(cc_stream_readexactly(b, buf, 8, 5));
    assert_int_equal(cc_stream_read(b, buf, sizeof(buf), 5), 0);
    assert_ok(cc_stream_write(b, "answer", 6));
    assert_ok(cc_stream_write_eof(b));
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 6);
    assert_memory_equal(buf, "answer", 6);
    assert_int_equal(cc_stream_read(a, buf, sizeof(buf), 5), 0);
    /* write_eof with output still buffered: the end follows the bytes */
    cc_stream_free(a);
    cc_stream_free(b);
    nu_pair(&a, &b);
    size_t total = 2u << 20;
    unsigned char *p = malloc(total);
    nu_fill(p, total, 5, 0);
    assert_ok(cc_stream_write(a, p, total));
    assert_true(cc_stream_pending(a) > 0);
    assert_ok(cc_stream_write_eof(a));
    slow_reader r = {b, cc_event_new(), total, 5};
    cc_event_set(r.go);
    cc_thread *t = cc_thread_start(read_all_after_go, &r, "reader");
    assert_ok(cc_stream_set_water(a, 0, 0));
    assert_ok(cc_stream_drain(a, 30));
    assert_ok(cc_thread_join(t, NULL, 30));
    assert_int_equal(cc_stream_read(b, buf, sizeof(buf), 5), 0); /* EOF */
    cc_thread_free(t);
    cc_event_free(r.go);
    free(p);
    cc_stream_free(a);
    cc_stream_free(b);
    tu_no_fd_leak(fds);
}

/* A reader waiting for the answer sends the request still buffered: the
 * peer answers only once it has read all of it. */
static void *read_all_then_answer(void *arg)
{
    cc_stream *s = arg;
    size_t need = 3u << 20;
    char *buf = malloc(65536);
    size_t got = 0;
    while (got < need) {
        ssize_t n = cc_stream_read(s, buf, 65536, 30);
        if (n <= 0) {
            free(buf);
            return cc_fail(EIO, "read");
        }
        got += (size_t)n;
    }
    free(buf);
    if (cc_stream_write(s, "done\n", 5) != 0)
        return cc_fail(EIO, "write");
    return arg;
}

static void test_waiting_reader_moves_pending_output(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char *big = calloc(1, 3u << 20);
    assert_ok(cc_stream_write(a, big, 3u << 20));
    assert_true(cc_stream_pending(a) > 0); /* no drain: readline moves it */
    cc_thread *t = cc_thread_start(read_all_then_answer, b, "peer");
    char *l = cc_stream_readline(a, 30);
    assert_non_null(l);
    assert_string_equal(l, "done\n");
    cc_blob_free(l);
    assert_int_equal(cc_stream_pending(a), 0);
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    free(big);
}

static void test_printf(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    assert_ok(cc_stream_printf(a, "%s %d\n", "answer", 42));
    char *l = cc_stream_readline(b, 5);
    assert_string_equal(l, "answer 42\n");
    cc_blob_free(l);
    /* longer than the printf's own buffer */
    char *long_text = malloc(5000);
    memset(long_text, 'y', 4999);
    long_text[4999] = '\0';
    assert_ok(cc_stream_printf(a, "<%s>\n", long_text));
    l = cc_stream_readline(b, 5);
    assert_int_equal(cc_blob_len(l), 5002);
    assert_int_equal(l[0], '<');
    assert_int_equal(l[5000], '>');
    cc_blob_free(l);
    free(long_text);
}

/* A wrapper in the way programs write them: its own prefix, then the
 * caller's format through cc_stream_vprintf. */
static int CC_PRINTF(3, 4) send_tagged(cc_stream *s, const char *tag, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (cc_stream_printf(s, "[%s] ", tag) != 0)
        return -1;
    va_start(ap, fmt);
    rc = cc_stream_vprintf(s, fmt, ap);
    va_end(ap);
    return rc;
}

static void test_vprintf(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    assert_ok(send_tagged(a, "t1", "%d+%d=%s\n", 2, 2, "4"));
    char *l = cc_stream_readline(b, 5);
    assert_string_equal(l, "[t1] 2+2=4\n");
    cc_blob_free(l);
    /* longer than the internal buffer: the va_list is formatted twice */
    char *long_text = malloc(3000);
    memset(long_text, 'z', 2999);
    long_text[2999] = '\0';
    assert_ok(send_tagged(a, "t2", "%s|%d\n", long_text, 7));
    l = cc_stream_readline(b, 5);
    assert_int_equal(cc_blob_len(l), 5 + 2999 + 3);
    assert_memory_equal(l + 5 + 2999, "|7\n", 3);
    cc_blob_free(l);
    free(long_text);
}

/* ---- closing ---- */

static void test_close_sends_pending_output_first(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_stream *a, *b;
    size_t total = 4u << 20;
    unsigned char *p = malloc(total);
    nu_pair(&a, &b);
    nu_fill(p, total, 11, 0);
    assert_ok(cc_stream_write(a, p, total));
    assert_true(cc_stream_pending(a) > 0);
    slow_reader r = {b, cc_event_new(), total, 11};
    cc_event_set(r.go);
    cc_thread *t = cc_thread_start(read_all_after_go, &r, "reader");
    assert_ok(cc_stream_close(a, 30));
    assert_ok(cc_thread_join(t, NULL, 30));
    char c;
    assert_int_equal(cc_stream_read(b, &c, 1, 5), 0);
    cc_thread_free(t);
    cc_event_free(r.go);
    cc_stream_free(a);
    cc_stream_free(b);
    /* a close that runs out of time: ETIMEDOUT, closed all the same */
    nu_pair(&a, &b);
    assert_ok(cc_stream_write(a, p, total));
    assert_fails_with(cc_stream_close(a, 0.1), ETIMEDOUT);
    assert_fails_with(cc_stream_write(a, "x", 1), ESHUTDOWN);
    unsigned char *buf = malloc(65536);
    size_t got = 0;
    for (;;) { /* what made it into the socket, then the end */
        ssize_t n = cc_stream_read(b, buf, 65536, 5);
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_true(nu_check(buf, (size_t)n, 11, got));
        got += (size_t)n;
    }
    assert_true(got < total);
    free(buf);
    free(p);
    cc_stream_free(a);
    cc_stream_free(b);
    tu_no_fd_leak(fds);
}

static void test_calls_after_close_fail_with_eshutdown(void **state)
{
    nu_pair_fx *fx = *state;
    cc_stream *a = fx->a, *b = fx->b;
    char buf[8];
    assert_ok(cc_stream_write(b, "data", 4));
    assert_ok(cc_stream_close(a, 1));
    assert_ok(cc_stream_close(a, 1)); /* twice is fine */
    assert_fails_with(cc_stream_read(a, buf, 8, 1), ESHUTDOWN);
    assert_non_null(strstr(cc_errmsg(), "closed"));
    assert_fails_with(cc_stream_readexactly(a, buf, 2, 1), ESHUTDOWN);
    assert_null_with(cc_stream_readline(a, 1), ESHUTDOWN);
    assert_null_with(cc_stream_readuntil(a, "x", 1, 1), ESHUTDOWN);
    assert_fails_with(cc_stream_write(a, "x", 1), ESHUTDOWN);
    assert_fails_with(cc_stream_printf(a, "x"), ESHUTDOWN);
    assert_fails_with(cc_stream_drain(a, 1), ESHUTDOWN);
    assert_fails_with(cc_stream_write_eof(a), ESHUTDOWN);
    assert_fails_with(cc_stream_sockname(a, buf, sizeof(buf)), ESHUTDOWN);
    assert_fails_with(cc_stream_fd(a), ESHUTDOWN);
    assert_false(cc_stream_at_eof(a));
    /* a closed with unread input: the peer sees a reset (as with TCP) */
    assert_fails_with(cc_stream_read(b, buf, 8, 5), ECONNRESET);
    assert_non_null(strstr(cc_errmsg(), "read from an unnamed socket: "
                                        "Connection reset by peer"));
    assert_fails_with(cc_stream_read(b, buf, 8, 5), ECONNRESET); /* sticky */
}

/* Close from one thread wakes calls blocked in others: ESHUTDOWN. */
typedef struct blocked {
    cc_stream *s;
    int kind;            /* 0 readline, 1 readexactly, 2 drain, 3 read */
    _Atomic int err;
    _Atomic bool entered;
} blocked;

static void *block_in_call(void *arg)
{
    blocked *b = arg;
    char buf[16];
    int rc;
    atomic_store(&b->entered, true);
    switch (b->kind) {
    case 0: {
        void *l = cc_stream_readline(b->s, 30);
        rc = l == NULL ? -1 : 0;
        cc_blob_free(l);
        break;
    }
    case 1:
        rc = cc_stream_readexactly(b->s, buf, 16, 30);
        break;
    case 2:
        rc = cc_stream_drain(b->s, 30);
        break;
    default:
        rc = (int)cc_stream_read(b->s, buf, 16, 30);
        break;
    }
    atomic_store(&b->err, rc == -1 ? errno : 0);
    return arg;
}

static void test_close_wakes_blocked_threads(void **state)
{
    (void)state;
    int fds = tu_fds();
    for (int kind = 0; kind < 4; kind++) {
        cc_stream *a, *b;
        nu_pair(&a, &b);
        if (kind == 2) { /* a drain needs a full socket */
            char *big = calloc(1, 4u << 20);
            assert_ok(cc_stream_write(a, big, 4u << 20));
            assert_ok(cc_stream_set_water(a, 0, 0));
            free(big);
        }
        blocked bl = {.s = a, .kind = kind};
        cc_thread *t = cc_thread_start(block_in_call, &bl, "blocked");
        while (!atomic_load(&bl.entered))
            tu_sleep(0.001);
        tu_sleep(0.05 * TU_SLOW); /* let it block */
        double t0 = cc_now();
        if (kind == 2)
            assert_fails_with(cc_stream_close(a, 0), EAGAIN);
        else
            assert_ok(cc_stream_close(a, 1));
        assert_ok(cc_thread_join(t, NULL, 10));
        assert_true(cc_now() - t0 < 5);
        assert_int_equal(atomic_load(&bl.err), ESHUTDOWN);
        cc_thread_free(t);
        cc_stream_free(a);
        cc_stream_free(b);
    }
    tu_no_fd_leak(fds);
}

/* The same with tasks blocked on a loop, closed from the test's thread;
 * then freed (not just closed) while a task is blocked. */
static void *tasks_block(void *arg)
{
    blocked *bl = arg;
    cc_future *f[2];
    for (int i = 0; i < 2; i++)
        f[i] = cc_spawn(block_in_call, &bl[i]);
    cc_gather(f, 2, NULL, true, CC_FOREVER);
    for (int i = 0; i < 2; i++)
        cc_future_free(f[i]);
    return arg;
}

static void *run_loop(void *arg)
{
    return cc_run(tasks_block, arg, NULL) == 0 ? arg : NULL;
}

static void test_close_and_free_wake_blocked_tasks(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_stream *a, *b, *c, *d;
    nu_pair(&a, &b);
    nu_pair(&c, &d);
    blocked bl[2] = {{.s = a, .kind = 0}, {.s = c, .kind = 3}};
    cc_thread *t = cc_thread_start(run_loop, bl, "loop");
    while (!atomic_load(&bl[0].entered) || !atomic_load(&bl[1].entered))
        tu_sleep(0.001);
    tu_sleep(0.05 * TU_SLOW);
    assert_ok(cc_stream_close(a, 1));
    cc_stream_free(c); /* free while blocked: the task still fails cleanly */
    assert_ok(cc_thread_join(t, NULL, 10));
    assert_int_equal(atomic_load(&bl[0].err), ESHUTDOWN);
    assert_int_equal(atomic_load(&bl[1].err), ESHUTDOWN);
    cc_thread_free(t);
    cc_stream_free(a);
    cc_stream_free(b);
    cc_stream_free(d);
    tu_no_fd_leak(fds);
}

/* ---- addresses and arguments ---- */

static void test_names(void **state)
{
    (void)state;
    int fds = tu_fds();
    cc_stream *a, *b;
    char buf[128];
    nu_pair(&a, &b);
    assert_ok(cc_stream_peername(a, buf, sizeof(buf)));
    assert_string_equal(buf, ""); /* an unnamed UNIX socket */
    assert_ok(cc_stream_sockname(a, buf, sizeof(buf)));
    assert_string_equal(buf, "");
    assert_true(cc_stream_fd(a) >= 0);
    cc_stream_free(a);
    cc_stream_free(b);
    /* TCP: both ends name each other */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_ok(bind(l, (struct sockaddr *)&sin, sizeof(sin)));
    assert_ok(listen(l, 4));
    assert_ok(getsockname(l, (struct sockaddr *)&sin, &sl));
    int port = ntohs(sin.sin_port);
    a = cc_open_connection("127.0.0.1", port, 5);
    assert_non_null(a);
    b = cc_stream_from_fd(accept4(l, NULL, NULL, SOCK_CLOEXEC));
    assert_non_null(b);
    char pa[64], sa[64], pb[64], sb[64];
    assert_ok(cc_stream_peername(a, pa, sizeof(pa)));
    assert_ok(cc_stream_sockname(a, sa, sizeof(sa)));
    assert_ok(cc_stream_peername(b, pb, sizeof(pb)));
    assert_ok(cc_stream_sockname(b, sb, sizeof(sb)));
    snprintf(buf, sizeof(buf), "127.0.0.1:%d", port);
    assert_string_equal(pa, buf);
    assert_string_equal(sb, buf);
    assert_string_equal(sa, pb);
    assert_int_equal(strncmp(sa, "127.0.0.1:", 10), 0);
    /* too small a buffer */
    assert_fails_with(cc_stream_peername(a, buf, 5), ERANGE);
    assert_fails_with(cc_stream_peername(a, buf, strlen(pa)), ERANGE);
    assert_ok(cc_stream_peername(a, buf, strlen(pa) + 1));
    /* peername still answers after close */
    assert_ok(cc_stream_close(b, 1));
    assert_ok(cc_stream_peername(b, buf, sizeof(buf)));
    assert_string_equal(buf, pb);
    cc_stream_free(a);
    cc_stream_free(b);
    close(l);
    tu_no_fd_leak(fds);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int fds = tu_fds();
    char buf[8];
    cc_stream *a, *b;
    assert_fails_with(cc_stream_read(NULL, buf, 1, 1), EINVAL);
    assert_fails_with(cc_stream_readexactly(NULL, buf, 1, 1), EINVAL);
    assert_null_with(cc_stream_readline(NULL, 1), EINVAL);
    assert_null_with(cc_stream_readuntil(NULL, "x", 1, 1), EINVAL);
    assert_fails_with(cc_stream_write(NULL, "x", 1), EINVAL);
    assert_fails_with(cc_stream_printf(NULL, "x"), EINVAL);
    assert_fails_with(cc_stream_drain(NULL, 1), EINVAL);
    assert_fails_with(cc_stream_write_eof(NULL), EINVAL);
    assert_fails_with(cc_stream_close(NULL, 1), EINVAL);
    assert_fails_with(cc_stream_set_limit(NULL, 1), EINVAL);
    assert_fails_with(cc_stream_set_water(NULL, 1, 1), EINVAL);
    assert_fails_with(cc_stream_peername(NULL, buf, 8), EINVAL);
    assert_fails_with(cc_stream_sockname(NULL, buf, 8), EINVAL);
    assert_fails_with(cc_stream_fd(NULL), EINVAL);
    assert_false(cc_stream_at_eof(NULL));
    assert_int_equal(cc_stream_pending(NULL), 0);
    cc_stream_free(NULL);
    nu_pair(&a, &b);
    assert_fails_with(cc_stream_read(a, NULL, 1, 1), EINVAL);
    assert_fails_with(cc_stream_write(a, NULL, 1), EINVAL);
    assert_ok(cc_stream_write(a, NULL, 0));
    assert_fails_with(cc_stream_read(a, buf, 1, NAN), EINVAL);
    assert_null_with(cc_stream_readline(a, NAN), EINVAL);
    assert_fails_with(cc_stream_drain(a, NAN), EINVAL);
    assert_fails_with(cc_stream_close(a, NAN), EINVAL);
    cc_stream_free(a);
    cc_stream_free(b);
    /* from_fd: not a socket, not connected; the fd stays the caller's */
    int p[2];
    assert_ok(pipe(p));
    assert_null_with(cc_stream_from_fd(p[0]), EINVAL);
    assert_true(fcntl(p[0], F_GETFD) >= 0);
    close(p[0]);
    close(p[1]);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_null_with(cc_stream_from_fd(s), EINVAL);
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_null_with(cc_stream_from_fd(s), EINVAL);
    close(s);
    assert_null_with(cc_stream_from_fd(-1), EINVAL);
    /* from_fd makes the socket non-blocking and close-on-exec */
    int sv[2];
    assert_ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    a = cc_stream_from_fd(sv[0]);
    assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
    cc_stream_free(a);
    close(sv[1]);
    tu_no_fd_leak(fds);
}

/* ---- concurrency ---- */

/* Writers on one stream: each write is whole (frames never interleave);
 * readers on the other end with readexactly: each frame arrives whole. */
#define FRAMES 2000
#define WRITERS 4

typedef struct frame_hub {
    cc_stream *w;
    cc_stream *r;
} frame_hub;

typedef struct writer_arg {
    frame_hub *hub;
    int id;
} writer_arg;

static void *frame_writer(void *arg)
{
    writer_arg *wa = arg;
    unsigned char frame[64];
    for (int i = 0; i < FRAMES; i++) {
        size_t len = 8 + tu_rand_below(56);
        frame[0] = (unsigned char)len;
        frame[1] = (unsigned char)wa->id;
        frame[2] = (unsigned char)(i & 0xff);
        frame[3] = (unsigned char)(i >> 8);
        for (size_t k = 4; k < len; k++)
            frame[k] = (unsigned char)(wa->id * 31 + i + k);
        if (cc_stream_write(wa->hub->w, frame, len) != 0)
            return cc_fail_from(cc_last_error(), EIO, "write");
        if (tu_rand_below(8) == 0) {
            if (cc_stream_drain(wa->hub->w, 30) != 0)
                return cc_fail_from(cc_last_error(), EIO, "drain");
        }
        tu_jitter(20);
    }
    return arg;
}

static void test_concurrent_writers_never_interleave(void **state)
{
    nu_pair_fx *fx = *state;
    frame_hub h;
    memset(&h, 0, sizeof(h));
    h.w = fx->a;
    h.r = fx->b;
    writer_arg wa[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        wa[i] = (writer_arg){&h, i};
    tu_threads ts = tu_start(WRITERS, frame_writer, wa, sizeof(wa[0]));
    int next[WRITERS] = {0};
    for (int n = 0; n < WRITERS * FRAMES; n++) {
        unsigned char frame[64];
        assert_ok(cc_stream_readexactly(h.r, frame, 1, 30));
        size_t len = frame[0];
        assert_true(len >= 8 && len < 64);
        assert_ok(cc_stream_readexactly(h.r, frame + 1, len - 1, 30));
        int id = frame[1];
        int i = frame[2] | frame[3] << 8;
        assert_true(id < WRITERS);
        assert_int_equal(i, next[id]); /* in order per writer */
        next[id]++;
        for (size_t k = 4; k < len; k++)
            if (frame[k] != (unsigned char)(id * 31 + i + k))
                fail_msg("frame %d of writer %d damaged", i, id);
    }
    tu_join(ts);
}

/* Readers on one stream, each readexactly of fixed 16-byte records: every
 * record arrives whole, once, in some reader. */
#define RECORDS 20000
#define READERS 4

typedef struct rec_hub {
    cc_stream *r;
    _Atomic int count;
    _Atomic unsigned char seen[RECORDS];
} rec_hub;

static void *rec_reader(void *arg)
{
    rec_hub *h = arg;
    unsigned char rec[16];
    for (;;) {
        if (cc_stream_readexactly(h->r, rec, 16, 30) != 0) {
            if (errno == ENODATA)
                return arg;
            return cc_fail_from(cc_last_error(), EIO, "readexactly");
        }
        unsigned v = (unsigned)rec[0] | (unsigned)rec[1] << 8 |
                     (unsigned)rec[2] << 16;
        if (v >= RECORDS)
            return cc_fail(EPROTO, "bad record %u", v);
        for (int k = 3; k < 16; k++)
            if (rec[k] != (unsigned char)(v + k))
                return cc_fail(EPROTO, "record %u damaged", v);
        atomic_fetch_add(&h->seen[v], 1);
        atomic_fetch_add(&h->count, 1);
        tu_jitter(20);
    }
}

static void *run_rec_tasks(void *arg)
{
    cc_future *f[READERS];
    for (int i = 0; i < READERS; i++)
        f[i] = cc_spawn(rec_reader, arg);
    int rc = cc_gather(f, READERS, NULL, false, CC_FOREVER);
    for (int i = 0; i < READERS; i++)
        cc_future_free(f[i]);
    return rc == 0 ? arg : NULL;
}

static void *run_rec_loop(void *arg)
{
    if (cc_run(run_rec_tasks, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EIO, "loop");
    return arg;
}

static void test_concurrent_readers_get_whole_records(void **state)
{
    nu_pair_fx *fx = *state;
    rec_hub *h = calloc(1, sizeof(*h));
    cc_stream *w = fx->a;
    h->r = fx->b;
    /* readers: two threads and a loop with four tasks */
    tu_threads ts = tu_start(2, rec_reader, h, 0);
    cc_thread *loop = cc_thread_start(run_rec_loop, h, "loop");
    unsigned char batch[16 * 100];
    for (int v = 0; v < RECORDS;) {
        int n = 1 + (int)tu_rand_below(100);
        if (v + n > RECORDS)
            n = RECORDS - v;
        for (int i = 0; i < n; i++, v++) {
            unsigned char *rec = batch + 16 * i;
            rec[0] = (unsigned char)v;
            rec[1] = (unsigned char)(v >> 8);
            rec[2] = (unsigned char)(v >> 16);
            for (int k = 3; k < 16; k++)
                rec[k] = (unsigned char)(v + k);
        }
        /* records split at random points across writes */
        size_t len = 16 * (size_t)n, off = 0;
        while (off < len) {
            size_t cut = 1 + tu_rand_below((unsigned)(len - off));
            assert_ok(cc_stream_write(w, batch + off, cut));
            off += cut;
            tu_jitter(20);
        }
        assert_ok(cc_stream_drain(w, 30));
    }
    assert_ok(cc_stream_close(w, 30));
    tu_join(ts);
    assert_ok(cc_thread_join(loop, NULL, 60));
    cc_thread_free(loop);
    assert_int_equal(atomic_load(&h->count), RECORDS);
    for (int v = 0; v < RECORDS; v++)
        assert_int_equal(atomic_load(&h->seen[v]), 1);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        nu_pair_test(test_read_returns_what_is_there),
        nu_pair_test(test_large_reads_keep_the_bytes_in_order),
        nu_pair_test(test_readexactly),
        nu_pair_test(test_readexactly_bigger_than_the_buffer),
        nu_pair_test(test_readline),
        nu_pair_test(test_readline_limit_keeps_the_data),
        nu_pair_test(test_readuntil),
        nu_pair_test(test_readline_in_a_task_with_a_trickle),
        cmocka_unit_test(test_the_end_right_behind_the_data),
        nu_pair_test(test_write_and_drain_with_water_marks),
        nu_pair_test(test_small_writes_into_a_full_socket),
        cmocka_unit_test(test_write_eof_half_closes_each_way),
        nu_pair_test(test_waiting_reader_moves_pending_output),
        nu_pair_test(test_printf),
        nu_pair_test(test_vprintf),
        cmocka_unit_test(test_close_sends_pending_output_first),
        nu_pair_test(test_calls_after_close_fail_with_eshutdown),
        cmocka_unit_test(test_close_wakes_blocked_threads),
        cmocka_unit_test(test_close_and_free_wake_blocked_tasks),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_arguments),
        nu_pair_test(test_concurrent_writers_never_interleave),
        nu_pair_test(test_concurrent_readers_get_whole_records),
    };
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: none may come */
    tu_seed();
    return cmocka_run_group_tests(tests, nu_warm_up, NULL);
}
