/*
 * fuzz_wire_item.c - libFuzzer harness for the pool's item (blob) decoder,
 * cc__wire_get_item and cc__wire_get_item_blob (src/process/wire.c; the
 * format is in wire.h), and the bounds-checked reader under them.
 *
 * The input is read as a sequence of items until the reader goes bad or
 * the bytes run out, alternating the two calls.  Each item read is a blob
 * (or NULL) that cc__wire_put_item encodes again: the re-encoding equals
 * exactly the bytes consumed by the items that decoded, and a failed read
 * returns EPROTO with no blob.  Nothing is read past the input (ASan) and
 * every blob is freed (LeakSanitizer).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "concur/base.h"
#include "process/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *start = (const char *)data;
    cc__rd r = {.p = start, .end = start + size};
    cc__buf out = {0};
    const char *good = start; /* the end of the last item that decoded */

    for (unsigned i = 0; r.p < r.end; i++) {
        if (i % 2 == 0) {
            void *blob = (void *)1;
            int rc = cc__wire_get_item_blob(&r, &blob);

            if (rc != 0) {
                CHECK(rc == EPROTO && r.bad && blob == NULL);
                break;
            }
            cc__wire_put_item(&out, blob);
            cc_blob_free(blob);
        } else {
            const char *p = NULL;
            size_t len = 0;
            bool is_null = false;
            void *blob = NULL;

            if (!cc__wire_get_item(&r, &p, &len, &is_null)) {
                CHECK(r.bad);
                break;
            }
            CHECK(is_null ? p == NULL && len == 0 : p != NULL || len == 0);
            CHECK(is_null || (p >= start && len <= (size_t)(r.end - p)));
            if (!is_null) {
                blob = cc_blob_dup(p, len);
                CHECK(blob != NULL);
            }
            cc__wire_put_item(&out, blob);
            cc_blob_free(blob);
        }
        good = r.p;
    }
    CHECK(!out.oom);
    CHECK(out.len == (size_t)(good - start));
    CHECK(out.len == 0 || memcmp(out.data, data, out.len) == 0);
    cc__buf_free(&out);
    return 0;
}
