/*
 * blob_probe.c - cc__blob_check: is this pointer a blob, never faulting
 * (base layer; see src/internal/blob.h).
 *
 * Blob data is 16-byte aligned and follows a 16-byte header, so anything
 * below 64 KiB or not 16-aligned is rejected without reading memory.  For
 * the rest, the header's page must be mapped and readable: process_vm_readv
 * on ourselves copies it or fails with EFAULT, never faulting.  Where that
 * call is forbidden (some seccomp profiles), mincore tells mapped from
 * unmapped (a mapped but unreadable page would still fault: guard pages are
 * never where a blob's header is).  Each thread remembers the last pages it
 * checked, so a run of arguments from one heap costs a syscall per page,
 * not per pointer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "concur/base.h"
#include "internal/blob.h"

#if defined(CONCUR_ASAN)
#include <sanitizer/asan_interface.h>
/* Memory ASan poisoned (a redzone before a stack or heap object) is mapped
 * but must not be read: it is no blob header either. */
#define POISONED(p, n) (__asan_region_is_poisoned((void *)(p), (n)) != NULL)
#else
#define POISONED(p, n) false
#endif

#define PAGE ((uintptr_t)4096)
#define REMEMBERED 4

/* Initial-exec, as the context's TLS: no __tls_get_addr call in the
 * shared library on a path every blob call takes. */
static __thread uintptr_t known_pages[REMEMBERED]
    __attribute__((tls_model("initial-exec"))); /* page numbers, 0: none */
static __thread unsigned known_next __attribute__((tls_model("initial-exec")));
static _Atomic int use_mincore; /* process_vm_readv is not allowed here */

static bool mapped(uintptr_t page)
{
    unsigned char vec;
    char copy[16];

    if (!atomic_load_explicit(&use_mincore, memory_order_relaxed)) {
        struct iovec local = {copy, sizeof(copy)};
        struct iovec remote = {(void *)(page * PAGE), sizeof(copy)};
        ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

        if (n == (ssize_t)sizeof(copy))
            return true;
        if (n < 0 && errno != EPERM && errno != ENOSYS)
            return false; /* EFAULT: not mapped, or not readable */
        atomic_store_explicit(&use_mincore, 1, memory_order_relaxed);
    }
    return mincore((void *)(page * PAGE), PAGE, &vec) == 0;
}

static bool page_readable(uintptr_t page)
{
    for (unsigned i = 0; i < REMEMBERED; i++)
        if (known_pages[i] == page)
            return true;
    if (!mapped(page))
        return false;
    known_pages[known_next] = page;
    known_next = (known_next + 1) % REMEMBERED;
    return true;
}

void cc__blob_forget(const void *p)
{
    uintptr_t page = ((uintptr_t)p - 16) / PAGE;

    for (unsigned i = 0; i < REMEMBERED; i++)
        if (known_pages[i] == page)
            known_pages[i] = 0;
}

bool cc__blob_check(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int saved = errno;
    bool ok;

    if (a < 65536 || (a & 15) != 0)
        return false;
    /* the 16-byte header is aligned, so it lies within one page */
    ok = page_readable((a - 16) / PAGE) && !POISONED(a - 16, 16) &&
         cc__blob_magic(p);
    errno = saved;
    return ok;
}
