/*
 * fail_malloc.c - a fault-injection shim for the service's tests, loaded
 * into a child `concur serve` with LD_PRELOAD: it makes one chosen malloc
 * fail, the Nth call that asks for exactly SIZE bytes, as told by the
 * environment variable CONCUR_FAIL_MALLOC="SIZE:N".  Every other call goes
 * to glibc's allocator unchanged.  When it fails a call it says so on
 * standard error ("fail_malloc: malloc(SIZE) #N failed"), so a test can
 * tell that the failure it wanted really happened.
 *
 * Built only without sanitizers: ASan and TSan (clang links them into the
 * program) interpose malloc first, so a preloaded malloc is never called.
 * Thread-safe: the settings are read once, by a constructor that runs
 * when the program is loaded (before main, while it has one thread); the
 * count is atomic.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc's allocator, under the name it keeps for interposers. */
extern void *__libc_malloc(size_t size);

static size_t fail_size;            /* the size whose calls are counted */
static unsigned long fail_nth;      /* the call that fails (0: none) */
static atomic_ulong seen;           /* calls of fail_size so far */

/* Read CONCUR_FAIL_MALLOC ("SIZE:N") at load time; a missing or
 * malformed value fails nothing. */
__attribute__((constructor)) static void read_settings(void)
{
    const char *v = getenv("CONCUR_FAIL_MALLOC");
    char *end;
    unsigned long size;

    if (v == NULL)
        return;
    size = strtoul(v, &end, 10);
    if (end == v || *end != ':')
        return;
    fail_nth = strtoul(end + 1, &end, 10);
    if (*end != '\0')
        fail_nth = 0;
    fail_size = size;
}

/* Say on stderr which call failed (write: no stdio, no allocation). */
static void announce(unsigned long nth)
{
    char line[96];
    int n = snprintf(line, sizeof(line),
                     "fail_malloc: malloc(%zu) #%lu failed\n", fail_size,
                     nth);

    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
        return; /* nowhere else to say it */
}

/* malloc - glibc's, except for the one call chosen to fail (NULL). */
void *malloc(size_t size)
{
    if (fail_nth != 0 && size == fail_size) {
        unsigned long nth = atomic_fetch_add(&seen, 1) + 1;

        if (nth == fail_nth) {
            announce(nth);
            return NULL;
        }
    }
    return __libc_malloc(size);
}
