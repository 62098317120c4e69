/*
 * fuzz_urlfile.c - libFuzzer harness for `concur fetch -f FILE`'s URL file
 * reader, fetch_read_urls (tools/concur/fetch_urls.c), and the URL check
 * under it, fetch_url_check (fetch_text.c): the input is the file.
 *
 * Checks: the reader returns 0, FETCH_EXIT_USAGE (a bad URL) or 1 (out of
 * memory), never crashes or reads out of bounds; every URL it keeps is
 * non-empty, passes fetch_url_check, does not start with '#', and occurs
 * in the file as it was read; the list is freed whole (LeakSanitizer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct url_list l = {0};
    FILE *f;
    int rc;

    if (size == 0)
        return 0;
    f = fmemopen((void *)data, size, "r");
    CHECK(f != NULL);
    rc = fetch_read_urls(f, "fuzz-input", &l);
    CHECK(rc == 0 || rc == FETCH_EXIT_USAGE || rc == 1);
    for (size_t i = 0; i < l.n; i++) {
        const char *u = l.urls[i];
        size_t len = strlen(u);

        CHECK(len > 0 && u[0] != '#');
        CHECK(fetch_url_check(u) == NULL);
        CHECK(memmem(data, size, u, len) != NULL);
    }
    fclose(f);
    url_list_free(&l);
    return 0;
}
