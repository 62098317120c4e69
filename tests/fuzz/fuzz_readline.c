/*
 * fuzz_readline.c - libFuzzer harness for cc_stream_readline and
 * cc_stream_readuntil (src/net/stream_read.c): their search for the
 * separator over a buffer that fills in pieces, the line limit, and the
 * end of the stream.
 *
 * Input: a mode byte (bit 0: readuntil instead of readline; the rest picks
 * the limit, 1..64 bytes or the default), for readuntil a separator length
 * byte (1..4) and the separator, then the data as chunks, each a length
 * byte and that many bytes.  Each chunk is written into a socketpair whose
 * other end is a cc_stream, then lines are read with timeout 0 until EAGAIN
 * (so a line is searched for across pieces as they arrive); after the last
 * chunk the writer shuts down and the rest is read to the end.  When a
 * line is over the limit (EMSGSIZE) one byte is taken with cc_stream_read.
 *
 * Checks: the bytes returned, in order, are exactly the bytes written; a
 * line ends with its separator and holds it nowhere else, and is no longer
 * than the limit plus the separator; only the last piece at the end of the
 * stream lacks the separator; no leak, no read out of bounds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "concur/base.h"
#include "concur/net.h"

typedef struct run {
    cc_stream *s;
    bool until;
    const char *sep;
    size_t seplen;
    size_t limit;
    const uint8_t *data; /* everything written */
    size_t written;
    size_t got;          /* bytes returned so far */
    bool ended;          /* the empty line / ENODATA at the end was seen */
} run;

/* Where sep first occurs in p[0, n), or n. */
static size_t find(const char *p, size_t n, const char *sep, size_t seplen)
{
    for (size_t i = 0; i + seplen <= n; i++)
        if (memcmp(p + i, sep, seplen) == 0)
            return i;
    return n;
}

static void take(run *r, const void *p, size_t n)
{
    CHECK(r->got + n <= r->written);
    CHECK(n == 0 || memcmp(r->data + r->got, p, n) == 0);
    r->got += n;
}

/* Read lines until the stream has none ready (eof: it has ended). */
static void read_lines(run *r, bool eof)
{
    for (;;) {
        void *line = r->until
            ? cc_stream_readuntil(r->s, r->sep, r->seplen, 0)
            : cc_stream_readline(r->s, 0);
        size_t len;

        if (line == NULL) {
            int e = errno;
            char c;

            if (e == EAGAIN) {
                CHECK(!eof);
                return;
            }
            if (e == ENODATA) { /* readuntil: the end came before sep */
                ssize_t n;
                char buf[256];

                CHECK(eof && r->until);
                while ((n = cc_stream_read(r->s, buf, sizeof(buf), 0)) > 0)
                    take(r, buf, (size_t)n);
                CHECK(n == 0 && r->got == r->written);
                r->ended = true;
                return;
            }
            CHECK(e == EMSGSIZE);
            CHECK(cc_stream_read(r->s, &c, 1, 0) == 1);
            take(r, &c, 1);
            continue;
        }
        len = cc_blob_len(line);
        CHECK(((char *)line)[len] == '\0');
        if (len == 0) { /* readline at the end of the stream */
            CHECK(eof && !r->until && r->got == r->written);
            cc_blob_free(line);
            r->ended = true;
            return;
        }
        take(r, line, len);
        if (len >= r->seplen &&
            find(line, len, r->sep, r->seplen) == len - r->seplen) {
            CHECK(len - r->seplen <= r->limit);
        } else {
            /* No separator: only readline's last piece, at the end. */
            CHECK(eof && !r->until && r->got == r->written);
            CHECK(find(line, len, r->sep, r->seplen) == len);
            CHECK(len <= r->limit);
        }
        cc_blob_free(line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {1, 2, 3, 5, 8, 16, 64, CC_STREAM_LIMIT};
    run r = {.sep = "\n", .seplen = 1, .data = NULL};
    uint8_t written[8192];
    int sv[2];
    size_t at = 0;

    if (size < 1)
        return 0;
    r.until = data[0] & 1;
    r.limit = limits[(data[0] >> 1) % 8];
    at = 1;
    if (r.until) {
        if (size < 2)
            return 0;
        r.seplen = 1 + data[1] % 4;
        if (size < 2 + r.seplen)
            return 0;
        r.sep = (const char *)data + 2;
        at = 2 + r.seplen;
    }
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    r.s = cc_stream_from_fd(sv[0]);
    CHECK(r.s != NULL);
    CHECK(cc_stream_set_limit(r.s, r.limit) == 0);
    r.data = written;
    while (at < size && r.written < sizeof(written)) {
        size_t n = data[at++];

        if (n > size - at)
            n = size - at;
        if (n > sizeof(written) - r.written)
            n = sizeof(written) - r.written;
        memcpy(written + r.written, data + at, n);
        CHECK(write(sv[1], data + at, n) == (ssize_t)n);
        r.written += n;
        at += n;
        read_lines(&r, false);
    }
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    while (!r.ended)
        read_lines(&r, true);
    CHECK(r.got == r.written);
    cc_stream_free(r.s);
    close(sv[1]);
    return 0;
}
