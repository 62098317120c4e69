/*
 * fuzz_pipe.c - libFuzzer harness for the frame reader of cc_conn, the
 * ends of a Pipe (src/process/conn.c: an 8-byte little-endian length, then
 * that many bytes), fed raw bytes as a hostile or broken peer would send.
 *
 * Input: chunks, each a length byte and that many bytes, written one by
 * one into the peer's socket; after each, cc_conn_recv with timeout 0
 * takes every message that is whole (a frame is read across pieces as
 * they arrive); then the peer closes and the rest is received to the end.
 * The same bytes are cut into frames by a reference reader here.  Inputs
 * whose frames announce between 1 MiB and 1 TiB are skipped: the reader
 * rightly allocates what a frame announces, which is not what is tested.
 *
 * Checks: the messages received are the reference's frames, in order; the
 * end gives EPIPE (closed at a frame boundary or midway) or, after a frame
 * announcing more than 1 TiB, EPROTO and the end stays broken; no leak.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "concur/base.h"
#include "concur/process.h"

#define BIG ((uint64_t)1 << 20)
#define MAX_FRAME ((uint64_t)1 << 40)

typedef struct ref {
    const uint8_t *p; /* the stream as written */
    size_t len;
    size_t at;        /* where the next frame starts */
} ref;

/* The next frame of the reference: 1 (in *body, *n), 0 (not all there in
 * len bytes), -1 (it announces more than MAX_FRAME). */
static int ref_next(const ref *r, size_t len, const uint8_t **body, size_t *n)
{
    uint64_t le;
    uint64_t flen;

    if (len - r->at < 8)
        return 0;
    memcpy(&le, r->p + r->at, 8);
    flen = le64toh(le);
    if (flen > MAX_FRAME)
        return -1;
    if (len - r->at - 8 < flen)
        return 0;
    *body = r->p + r->at + 8;
    *n = (size_t)flen;
    return 1;
}

/* Receive what is whole of the len bytes written; false once it failed. */
static bool drain(cc_conn *c, ref *r, size_t len, bool closed)
{
    for (;;) {
        const uint8_t *body = NULL;
        size_t n = 0;
        int want = ref_next(r, len, &body, &n);
        void *msg = NULL;
        int rc = cc_conn_recv(c, &msg, 0);

        if (want == 1) {
            CHECK(rc == 0 && msg != NULL);
            CHECK(cc_blob_len(msg) == n);
            CHECK(n == 0 || memcmp(msg, body, n) == 0);
            cc_blob_free(msg);
            r->at += 8 + n;
            continue;
        }
        CHECK(rc == -1 && msg == NULL);
        if (want == -1) {
            CHECK(errno == EPROTO);
            msg = NULL;
            CHECK(cc_conn_recv(c, &msg, 0) == -1 && msg == NULL);
            return false;
        }
        if (errno != (closed ? EPIPE : EAGAIN))
            fprintf(stderr, "recv: errno %d (%s): %s\n", errno,
                    cc_errname(errno), cc_errmsg());
        CHECK(errno == (closed ? EPIPE : EAGAIN));
        return true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t stream[8192];
    ref r = {.p = stream};
    cc_conn *a;
    cc_conn *b;
    size_t at = 0;
    bool ok = true;

    /* Lay the stream out first, to skip what announces a huge frame. */
    while (at < size && r.len < sizeof(stream)) {
        size_t n = data[at++];

        if (n > size - at)
            n = size - at;
        if (n > sizeof(stream) - r.len)
            n = sizeof(stream) - r.len;
        memcpy(stream + r.len, data + at, n);
        r.len += n;
        at += n;
    }
    for (size_t p = 0; r.len - p >= 8;) {
        uint64_t le;

        memcpy(&le, stream + p, 8);
        le = le64toh(le);
        if (le > MAX_FRAME)
            break;
        if (le > BIG)
            return 0;
        if (r.len - p - 8 < le)
            break;
        p += 8 + (size_t)le;
    }

    CHECK(cc_pipe_new(&a, &b, true) == 0);
    at = 0;
    for (size_t written = 0; at < size && written < r.len && ok;) {
        size_t n = data[at++];

        if (n > r.len - written)
            n = r.len - written;
        CHECK(write(cc_conn_fileno(a), stream + written, n) == (ssize_t)n);
        written += n;
        at += n;
        ok = drain(b, &r, written, false);
    }
    cc_conn_close(a);
    if (ok)
        drain(b, &r, r.len, true);
    cc_conn_close(b);
    return 0;
}
