/*
 * fault.h - the fault-injection shim's control interface (test build only).
 *
 * The fault build (CONCUR_FAULT=ON) links the library as libconcur_fault.so
 * with `-Wl,--wrap=` for every resource call the library makes: allocation
 * (malloc, calloc, realloc, strdup, posix_memalign), threads
 * (pthread_create), processes (fork, posix_spawn, posix_spawnp,
 * pidfd_open), descriptors (pipe, pipe2, socket, socketpair, accept4,
 * eventfd, epoll_create1), mappings (mmap) and epoll_ctl (ADD: the only
 * operation that allocates in the kernel).  Only the library's own calls pass
 * through the shim: the test program's, libc's and libcurl's do not.
 *
 * Once armed, the shim counts those calls in this process and makes the
 * nth one fail the way the real call fails when the resource runs out:
 * NULL or -1 with ENOMEM / EMFILE / EAGAIN in errno, or that code as the
 * return value for pthread_create, posix_spawn and posix_memalign.  Armed
 * once, exactly one call fails: the ones after it succeed again, as they
 * would once memory or descriptors are freed.  Armed persistently, every
 * call from the nth on fails, as when memory stays short: cleanup code
 * must then get by without allocating.  A forked child starts disarmed.
 */
#ifndef CONCUR_TESTS_FAULT_H
#define CONCUR_TESTS_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* The kinds of call the shim counts, in its report's `kind` field. */
enum fault_kind {
    FAULT_MALLOC, FAULT_CALLOC, FAULT_REALLOC, FAULT_STRDUP, FAULT_MEMALIGN,
    FAULT_PTHREAD_CREATE, FAULT_FORK, FAULT_POSIX_SPAWN, FAULT_PIDFD_OPEN,
    FAULT_PIPE, FAULT_SOCKET, FAULT_ACCEPT, FAULT_EVENTFD, FAULT_EPOLL_CREATE,
    FAULT_EPOLL_CTL, FAULT_MMAP,
    FAULT_NKINDS
};

/* What the shim writes to the report descriptor when it fails a call: the
 * kind and the caller's address as an offset into libconcur_fault.so. */
typedef struct fault_hit {
    int32_t kind;
    uint32_t pad;
    uint64_t offset;
} fault_hit;

/*
 * fault_arm - from now on, count the library's calls and fail the nth
 * (n >= 1; 0 counts without failing anything), and with `persistent` every
 * one after it too.  When it fails the nth, the shim writes a fault_hit to
 * report_fd (-1: nowhere).  Resets the count.
 */
void fault_arm(unsigned long n, bool persistent, int report_fd);

/* fault_disarm - stop counting and failing (the count is kept). */
void fault_disarm(void);

/* fault_calls - the calls counted since fault_arm. */
unsigned long fault_calls(void);

/* fault_fired - whether the armed call has failed yet. */
bool fault_fired(void);

/* fault_kind_name - "malloc", "pthread_create", ... for a fault_kind. */
const char *fault_kind_name(int kind);

/* fault_library_path - the file the offsets in fault_hit refer to. */
const char *fault_library_path(void);

#endif
