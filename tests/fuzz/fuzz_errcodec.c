/*
 * fuzz_errcodec.c - libFuzzer harness for the error-chain wire decoder,
 * cc__error_decode (src/process/errcodec.c; the format is in wire.h).
 *
 * Any input: the decoder returns a chain (*err 0) or NULL with EPROTO or
 * ENOMEM, never reads past the input, and the chain it builds is freed
 * whole (LeakSanitizer checks).  When it decodes, the chain is well formed
 * (codes > 0, heap records) and encoding it again gives back the bytes it
 * consumed -- unless a message or place held a NUL byte, which the C
 * strings cut: then the re-encoding is shorter and encoding is a fixed
 * point from there on (decode(encode(chain)) encodes to the same bytes).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal/error.h"
#include "process/wire.h"

static void check_chain(const cc_error *e)
{
    unsigned n = 0;

    CHECK(e != NULL);
    for (; e != NULL; e = e->cause, n++) {
        CHECK(e->code > 0);
        CHECK(e->kind == CC__ERR_HEAP);
        CHECK(e->message != NULL && e->where != NULL);
    }
    CHECK(n >= 1 && n <= 1024);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc__rd r = {.p = (const char *)data, .end = (const char *)data + size};
    cc__buf once = {0};
    cc__buf twice = {0};
    cc_error *e;
    cc_error *again;
    size_t used;
    int err = -1;

    e = cc__error_decode(&r, &err);
    if (e == NULL) {
        CHECK(err == EPROTO || err == ENOMEM);
        return 0;
    }
    CHECK(err == 0 && !r.bad);
    CHECK(r.p >= (const char *)data && r.end == (const char *)data + size);
    check_chain(e);
    used = (size_t)(r.p - (const char *)data);

    cc__error_encode(&once, e);
    CHECK(!once.oom);
    CHECK(once.len <= used);
    if (once.len == used)
        CHECK(memcmp(once.data, data, used) == 0);

    r = (cc__rd){.p = once.data, .end = once.data + once.len};
    again = cc__error_decode(&r, &err);
    CHECK(again != NULL && err == 0 && r.p == r.end);
    check_chain(again);
    cc__error_encode(&twice, again);
    CHECK(!twice.oom && twice.len == once.len);
    CHECK(memcmp(twice.data, once.data, once.len) == 0);

    cc_error_free(again);
    cc_error_free(e);
    cc__buf_free(&once);
    cc__buf_free(&twice);
    return 0;
}
