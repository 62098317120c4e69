/*
 * bench_pipe - cc_conn (Pipe) between two processes, beside a raw Unix
 * socket pair doing the same writes.
 *
 * Workload: the parent makes the connection, starts a child with
 * cc_process_start (a real fork: the bytes cross a process boundary) and
 * waits for the child's "ready" message, so the fork is not timed.  Then
 * it sends `count` messages of `size` bytes one way; the child receives
 * each one, checks its length and its sequence number (stamped in its
 * first 8 bytes) and, after the last, sends one small ack back.  The time
 * is from the parent's first send to its receipt of the ack, so the last
 * message is counted as received, not just written into the socket.
 *
 *   64-byte messages (default 1,000,000)  -> messages/s
 *   1 MiB messages   (default 2,000)      -> MB/s (10^6 payload bytes/s)
 *
 * concur: cc_pipe_new(duplex), the sender cc_conn_send of one blob it
 * re-stamps before each send, the receiver cc_conn_recv (a new blob per
 * message, freed after the check) -- what a program using the API does.
 *
 * The raw baseline: what a C programmer would write by hand with the same
 * framing as concur's (an 8-byte length, then the payload) on a blocking
 * socketpair(AF_UNIX, SOCK_STREAM): the sender does one writev of header
 * + payload per message (the single sendmsg conn.c does), looping on a
 * partial write; the receiver reads the header (a read-exactly-8-bytes
 * loop), then the payload (a read-exactly-len loop) into one reused
 * buffer.  No allocation per message, no locks, no poll.  concur/raw is
 * the figure the issue asks about ("within 80%").
 *
 * For orientation only, a second raw receiver for the 64-byte case
 * ("raw_buffered"): the same writes, but the reader decodes frames out of
 * a 64 KiB read buffer, as conn.c does, so one read() may deliver many
 * messages -- the ceiling for the reading side.
 *
 * Repetitions: each figure is the best of `reps` runs (default 5; best
 * rather than median because the 2-CPU machine is noisy and the figure
 * sought is what the code can do, not what the neighbours let it do).
 * The variants run interleaved (concur, raw, concur, raw, ...) so slow
 * phases of the machine hit them alike.
 *
 * Output: "RESULT <metric> <value> <unit>" lines (bench_util.h), the ratios
 * as "RESULT pipe_64B_vs_raw <x> ratio" and "RESULT pipe_1MiB_vs_raw".
 * usage: bench_pipe [count64] [count1M] [reps] [concur|raw|raw_buffered]
 * (the last, for profiling: run only that variant, print only its rates)
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_util.h"

enum { MAX_REPS = 15, HDR = 8, RBUF = 64 * 1024 };

#define SMALL ((size_t)64)
#define LARGE ((size_t)1 << 20)

enum variant { CONCUR, RAW, RAW_BUFFERED };

/* What the child needs; it sees the parent's memory as at the fork. */
struct run {
    enum variant v;
    long count;
    size_t size;
    cc_conn *mine, *theirs; /* CONCUR: the child's end and the parent's */
    int fd_mine, fd_theirs; /* the raw variants: the same */
};

static void die(const char *what)
{
    fprintf(stderr, "bench_pipe: %s: %s\n", what, cc_errmsg());
    exit(1);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "bench_pipe: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ------------------------------------------------------ raw socketpair */

static void write_all(int fd, const void *hdr, const void *p, size_t len)
{
    struct iovec iov[2] = {{(void *)(uintptr_t)hdr, HDR},
                           {(void *)(uintptr_t)p, len}};
    struct iovec *v = iov;
    int nv = 2;

    while (nv > 0) {
        ssize_t n = writev(fd, v, nv);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("writev");
        }
        while (nv > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            nv--;
        }
        if (nv > 0) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
}

static void raw_send(int fd, const void *p, size_t len)
{
    uint64_t h = len; /* little-endian host: the same bytes as conn.c's */

    write_all(fd, &h, p, len);
}

/* Read exactly n bytes (0), or -1 at EOF / on an error. */
static int read_all(int fd, void *dst, size_t n)
{
    char *d = dst;

    while (n > 0) {
        ssize_t r = read(fd, d, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        d += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The buffered reader: frames decoded out of a read buffer. */
struct rbuf {
    int fd;
    size_t pos, end;
    char buf[RBUF];
};

static int rbuf_read(struct rbuf *b, void *dst, size_t n)
{
    char *d = dst;

    while (n > 0) {
        size_t take = b->end - b->pos;
        ssize_t r;

        if (take > 0) {
            if (take > n)
                take = n;
            memcpy(d, b->buf + b->pos, take);
            b->pos += take;
            d += take;
            n -= take;
            continue;
        }
        b->pos = b->end = 0;
        if (n >= RBUF / 2) /* a large rest: straight into dst */
            r = read(b->fd, d, n);
        else
            r = read(b->fd, b->buf, RBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (n >= RBUF / 2) {
            d += r;
            n -= (size_t)r;
        } else {
            b->end = (size_t)r;
        }
    }
    return 0;
}

/* Receive one frame into buf (room for cap bytes): its length, or -1. */
static long raw_recv(int fd, struct rbuf *b, void *buf, size_t cap)
{
    uint64_t h;

    if ((b != NULL ? rbuf_read(b, &h, HDR) : read_all(fd, &h, HDR)) != 0)
        return -1;
    if (h > cap)
        return -1;
    if ((b != NULL ? rbuf_read(b, buf, h) : read_all(fd, buf, h)) != 0)
        return -1;
    return (long)h;
}

static void *raw_child(void *arg)
{
    struct run *r = arg;
    char *buf = malloc(r->size);
    struct rbuf *b = NULL;
    uint64_t got = 0;

    close(r->fd_theirs);
    if (r->v == RAW_BUFFERED) {
        b = malloc(sizeof(*b));
        b->fd = r->fd_mine;
        b->pos = b->end = 0;
    }
    raw_send(r->fd_mine, NULL, 0); /* ready */
    for (long i = 0; i < r->count; i++) {
        uint64_t seq;

        if (raw_recv(r->fd_mine, b, buf, r->size) != (long)r->size)
            return cc_fail(EPROTO, "raw: message %ld: bad length or EOF", i);
        memcpy(&seq, buf, sizeof(seq));
        if (seq != (uint64_t)i)
            return cc_fail(EPROTO, "raw: message %ld has number %llu", i,
                           (unsigned long long)seq);
        got++;
    }
    raw_send(r->fd_mine, &got, sizeof(got)); /* ack */
    close(r->fd_mine);
    free(b);
    free(buf);
    return NULL;
}

/* The parent's side of a raw run; seconds. */
static double raw_parent(struct run *r, char *payload)
{
    uint64_t ack = 0;
    double t0;
    double t;

    if (raw_recv(r->fd_theirs, NULL, NULL, 0) != 0)
        die_errno("raw: ready");
    t0 = cc_now();
    for (long i = 0; i < r->count; i++) {
        uint64_t seq = (uint64_t)i;

        memcpy(payload, &seq, sizeof(seq));
        raw_send(r->fd_theirs, payload, r->size);
    }
    if (raw_recv(r->fd_theirs, NULL, &ack, sizeof(ack)) != sizeof(ack))
        die_errno("raw: ack");
    t = cc_now() - t0;
    if (ack != (uint64_t)r->count) {
        fprintf(stderr, "bench_pipe: raw: the child got %llu of %ld\n",
                (unsigned long long)ack, r->count);
        exit(1);
    }
    return t;
}

/* --------------------------------------------------------------- concur */

static void *concur_child(void *arg)
{
    struct run *r = arg;
    uint64_t got = 0;

    cc_conn_close(r->theirs);
    if (cc_conn_send_bytes(r->mine, NULL, 0, CC_FOREVER) != 0) /* ready */
        return cc_fail_from(cc_last_error(), EIO, "concur: ready");
    for (long i = 0; i < r->count; i++) {
        void *m;
        uint64_t seq;

        if (cc_conn_recv(r->mine, &m, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), EIO, "concur: recv %ld", i);
        if (cc_blob_len(m) != r->size)
            return cc_fail(EPROTO, "concur: message %ld has %zu bytes", i,
                           cc_blob_len(m));
        memcpy(&seq, m, sizeof(seq));
        cc_blob_free(m);
        if (seq != (uint64_t)i)
            return cc_fail(EPROTO, "concur: message %ld has number %llu", i,
                           (unsigned long long)seq);
        got++;
    }
    if (cc_conn_send_bytes(r->mine, &got, sizeof(got), CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EIO, "concur: ack");
    cc_conn_close(r->mine);
    return NULL;
}

static double concur_parent(struct run *r, void *blob)
{
    void *m;
    uint64_t ack;
    double t0;
    double t;

    if (cc_conn_recv(r->theirs, &m, CC_FOREVER) != 0)
        die("concur: ready");
    cc_blob_free(m);
    t0 = cc_now();
    for (long i = 0; i < r->count; i++) {
        uint64_t seq = (uint64_t)i;

        memcpy(blob, &seq, sizeof(seq));
        if (cc_conn_send(r->theirs, blob, CC_FOREVER) != 0)
            die("cc_conn_send");
    }
    if (cc_conn_recv(r->theirs, &m, CC_FOREVER) != 0)
        die("concur: ack");
    t = cc_now() - t0;
    if (cc_blob_len(m) != sizeof(ack))
        die("concur: ack length");
    memcpy(&ack, m, sizeof(ack));
    cc_blob_free(m);
    if (ack != (uint64_t)r->count) {
        fprintf(stderr, "bench_pipe: concur: the child got %llu of %ld\n",
                (unsigned long long)ack, r->count);
        exit(1);
    }
    return t;
}

/* ---------------------------------------------------------------- runs */

/* One run of a variant: seconds from the first send to the ack. */
static double run_once(enum variant v, long count, size_t size)
{
    struct run r = {.v = v, .count = count, .size = size};
    void *blob = cc_blob_new(size);
    cc_process *p;
    double t;
    int code = -1;

    if (blob == NULL)
        die("cc_blob_new");
    memset(blob, 'x', size);
    if (v == CONCUR) {
        bench_check(cc_pipe_new(&r.mine, &r.theirs, true), "cc_pipe_new");
    } else {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            die_errno("socketpair");
        r.fd_mine = sv[0];
        r.fd_theirs = sv[1];
    }
    p = cc_process_start(v == CONCUR ? concur_child : raw_child, &r,
                         "bench_pipe child");
    if (p == NULL)
        die("cc_process_start");
    if (v == CONCUR) {
        cc_conn_close(r.mine);
        t = concur_parent(&r, blob);
        cc_conn_close(r.theirs);
    } else {
        close(r.fd_mine);
        t = raw_parent(&r, blob);
        close(r.fd_theirs);
    }
    if (cc_process_join(p, CC_FOREVER) != 0 ||
        cc_process_exitcode(p, &code) != 0 || code != 0) {
        fprintf(stderr, "bench_pipe: the child failed (exit code %d)\n", code);
        exit(1);
    }
    cc_process_free(p);
    cc_blob_free(blob);
    return t;
}

static const char *const names[] = {"concur", "raw", "raw_buffered"};
static const char *only; /* run only this variant (NULL: all) */

static bool wanted(enum variant v)
{
    return only == NULL || strcmp(only, names[v]) == 0;
}

/* Best-of-reps seconds of each of the nv variants, runs interleaved. */
static void run_best(const enum variant *vs, int nv, long count, size_t size,
                     int reps, const char *label, double *best)
{
    for (int i = 0; i < nv; i++)
        best[i] = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        for (int i = 0; i < nv; i++) {
            double t;

            if (!wanted(vs[i]))
                continue;
            t = run_once(vs[i], count, size);

            BENCH_INFO(label, "run %d %s: %.4f s", rep + 1, names[vs[i]], t);
            if (t < best[i])
                best[i] = t;
        }
    }
}

int main(int argc, char **argv)
{
    long n_small = bench_arg(argc, argv, 1, 1000000);
    long n_large = bench_arg(argc, argv, 2, 2000);
    int reps = (int)bench_arg(argc, argv, 3, 5);
    enum variant small_vs[] = {CONCUR, RAW, RAW_BUFFERED};
    enum variant large_vs[] = {CONCUR, RAW};
    double t[3];
    double rate[3];

    only = argc > 4 ? argv[4] : NULL;
    if (n_small < 1 || n_large < 1 || reps < 1 || reps > MAX_REPS ||
        (only != NULL && strcmp(only, "concur") != 0 &&
         strcmp(only, "raw") != 0 && strcmp(only, "raw_buffered") != 0)) {
        fprintf(stderr, "usage: %s [count64] [count1M] [reps <= %d] "
                "[concur|raw|raw_buffered]\n", argv[0], MAX_REPS);
        return 2;
    }
    BENCH_INFO("messages_64B", "%ld", n_small);
    BENCH_INFO("messages_1MiB", "%ld", n_large);
    BENCH_INFO("reps", "%d (best of)", reps);

    run_best(small_vs, 3, n_small, SMALL, reps, "64B", t);
    for (int i = 0; i < 3; i++)
        rate[i] = (double)n_small / t[i];
    if (wanted(CONCUR))
        BENCH_RESULT("pipe_64B_msgs_per_s", rate[0], "1/s");
    if (wanted(RAW))
        BENCH_RESULT("raw_64B_msgs_per_s", rate[1], "1/s");
    if (only == NULL)
        BENCH_RESULT("pipe_64B_vs_raw", rate[0] / rate[1], "ratio");
    if (wanted(RAW_BUFFERED))
        BENCH_RESULT("raw_buffered_64B_msgs_per_s", rate[2], "1/s");
    if (only == NULL)
        BENCH_RESULT("pipe_64B_vs_raw_buffered", rate[0] / rate[2], "ratio");

    run_best(large_vs, 2, n_large, LARGE, reps, "1MiB", t);
    for (int i = 0; i < 2; i++)
        rate[i] = (double)n_large * (double)LARGE / 1e6 / t[i];
    if (wanted(CONCUR))
        BENCH_RESULT("pipe_1MiB_MB_per_s", rate[0], "MB/s");
    if (wanted(RAW))
        BENCH_RESULT("raw_1MiB_MB_per_s", rate[1], "MB/s");
    if (only == NULL)
        BENCH_RESULT("pipe_1MiB_vs_raw", rate[0] / rate[1], "ratio");
    return 0;
}
