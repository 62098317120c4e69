/*
 * fuzz_outcome.c - libFuzzer harness for the payloads of the frames a pool
 * worker sends its parent: cc__wire_get_outcome (the outcome reader of
 * RESULT and CHUNK_RESULT, src/process/wire.c) and cc__error_decode for
 * INIT_FAILED.
 *
 * The input is cut into frames by the manager's own cutter,
 * cc__wire_cut_frame (a 24-byte header, a payload of its length; an
 * unknown type or a payload longer than what is left ends the stream),
 * and each payload is read as the manager reads it: the run time (u64),
 * then one outcome (RESULT) or a count (u32) and outcomes up to the first
 * error (CHUNK_RESULT).  Checks: a failed read sets nothing; an outcome
 * that decodes, encoded again as the worker does (pool_worker.c
 * put_outcome), gives back the bytes it was read from -- or fewer, only
 * when an error's text held a NUL byte; no read past the frame (ASan), no
 * leak (LeakSanitizer).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "concur/base.h"
#include "internal/error.h"
#include "process/wire.h"

#define OOM "process pool: out of memory"

/* Read one outcome from r, check it against the bytes it came from.
 * False when it was malformed or an error (both end a chunk). */
static bool outcome(cc__rd *r)
{
    const char *from = r->p;
    cc__buf again = {0};
    void *result = (void *)1;
    cc_error *err = (cc_error *)1;
    size_t used;
    bool ok = cc__wire_get_outcome(r, &result, &err);

    if (!ok) {
        CHECK(result == NULL && err == NULL);
        return false;
    }
    CHECK(result == NULL || err == NULL);
    used = (size_t)(r->p - from);
    if (err != NULL) {
        /* Out of memory rebuilding it is the only error not from the wire. */
        if (from[0] == CC__OUT_ERROR &&
            strncmp(cc_error_message(err), OOM, strlen(OOM)) != 0) {
            cc__buf_put_u8(&again, CC__OUT_ERROR);
            cc__error_encode(&again, err);
            CHECK(again.len <= used);
        }
    } else if (result != NULL) {
        size_t len = cc_blob_len(result);

        cc__buf_put_u8(&again, CC__OUT_BLOB);
        cc__buf_put_u64(&again, len);
        cc__buf_put(&again, result, len);
        CHECK(again.len == used);
    } else {
        cc__buf_put_u8(&again, CC__OUT_NULL);
        CHECK(again.len == used);
    }
    CHECK(!again.oom);
    if (again.len == used)
        CHECK(memcmp(again.data, from, used) == 0);
    cc__buf_free(&again);
    cc_blob_free(result);
    ok = err == NULL;
    cc_error_free(err);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *end = p + size;
    size_t off = 0;
    cc__frame h;
    cc__rd r;

    /* The manager's own cutter; its limit (RAM + swap there) is the
     * input's size here, so a header claiming more ends the input. */
    while (cc__wire_cut_frame(p, size, &off, size, &h, &r) == CC__CUT_FRAME) {
        CHECK(r.p >= p && r.end <= end && off <= size);
        if (h.type == CC__FR_INIT_FAILED) {
            int code = -1;
            cc_error *cause = cc__error_decode(&r, &code);

            CHECK((cause != NULL) == (code == 0));
            cc_error_free(cause);
            continue;
        }
        (void)cc__rd_u64(&r); /* run time */
        if (h.type == CC__FR_RESULT) {
            outcome(&r);
        } else {
            uint32_t count = cc__rd_u32(&r);

            for (uint32_t k = 0; k < count && !r.bad; k++)
                if (!outcome(&r))
                    break;
        }
        CHECK(r.p <= r.end);
    }
    return 0;
}
