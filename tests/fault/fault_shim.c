/*
 * fault_shim.c - the wrappers that make the library's nth resource call
 * fail (see fault.h).  Linked into libconcur_fault.so only, together with
 * `-Wl,--wrap=<name>` for each name below: the linker sends the library's
 * calls of <name> to __wrap_<name>, and __real_<name> to the real one.
 *
 * Invariant: `armed` is set only in the process that called fault_arm;
 * the fork hook clears it in every child, so a cc_process child or a
 * forked helper never fails a call the driver did not ask for.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"

#define FAULT_API __attribute__((visibility("default")))

static atomic_bool armed;
static atomic_bool fired;
static atomic_ulong calls;
static unsigned long nth;
static bool persist;
static int report_fd = -1;
static uintptr_t lib_base;
static char lib_path[4096];
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void disarm_in_child(void)
{
    atomic_store(&armed, false);
}

static void install_hook(void)
{
    Dl_info info;

    pthread_atfork(NULL, NULL, disarm_in_child);
    if (dladdr((void *)fault_arm, &info) != 0 && info.dli_fname != NULL) {
        lib_base = (uintptr_t)info.dli_fbase;
        strncpy(lib_path, info.dli_fname, sizeof(lib_path) - 1);
    }
}

FAULT_API void fault_arm(unsigned long n, bool persistent, int fd)
{
    pthread_once(&hook_once, install_hook);
    nth = n;
    persist = persistent;
    report_fd = fd;
    atomic_store(&calls, 0);
    atomic_store(&fired, false);
    atomic_store(&armed, true);
}

FAULT_API void fault_disarm(void)
{
    atomic_store(&armed, false);
}

FAULT_API unsigned long fault_calls(void)
{
    return atomic_load(&calls);
}

FAULT_API bool fault_fired(void)
{
    return atomic_load(&fired);
}

FAULT_API const char *fault_library_path(void)
{
    pthread_once(&hook_once, install_hook);
    return lib_path;
}

FAULT_API const char *fault_kind_name(int kind)
{
    static const char *const names[FAULT_NKINDS] = {
        "malloc", "calloc", "realloc", "strdup", "posix_memalign",
        "pthread_create", "fork", "posix_spawn", "pidfd_open", "pipe",
        "socket", "accept4", "eventfd", "epoll_create1", "epoll_ctl", "mmap",
    };

    return kind >= 0 && kind < FAULT_NKINDS ? names[kind] : "?";
}

/*
 * Whether this call, of `kind` from `caller`, is the one to fail.  Counts
 * it when armed; on the nth, reports the hit (write(2) only: this runs
 * inside malloc's callers, where nothing else is safe).
 */
static bool fail_now(int kind, void *caller)
{
    unsigned long n;
    fault_hit hit;
    int saved = errno;

    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    n = atomic_fetch_add(&calls, 1) + 1;
    if (nth == 0 || n < nth || (n > nth && !persist))
        return false;
    if (n > nth)
        return true; /* persistent: reported once, at the nth */
    atomic_store(&fired, true);
    if (report_fd >= 0) {
        memset(&hit, 0, sizeof(hit));
        hit.kind = kind;
        hit.offset = (uint64_t)((uintptr_t)caller - lib_base);
        if (write(report_fd, &hit, sizeof(hit)) != (ssize_t)sizeof(hit))
            (void)0; /* the driver sees the failure without its place */
    }
    errno = saved;
    return true;
}

#define CALLER __builtin_return_address(0)

/* The real functions (the linker's names) and our replacements. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
int __real_posix_memalign(void **p, size_t align, size_t n);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
pid_t __real_fork(void);
int __real_posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[]);
int __real_posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]);
int __real_pidfd_open(pid_t pid, unsigned int flags);
int __real_pipe(int fds[2]);
int __real_pipe2(int fds[2], int flags);
int __real_socket(int domain, int type, int protocol);
int __real_socketpair(int domain, int type, int protocol, int fds[2]);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_eventfd(unsigned int initval, int flags);
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
pid_t __wrap_fork(void);
int __wrap_posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[]);
int __wrap_posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]);
int __wrap_pidfd_open(pid_t pid, unsigned int flags);
int __wrap_pipe(int fds[2]);
int __wrap_pipe2(int fds[2], int flags);
int __wrap_socket(int domain, int type, int protocol);
int __wrap_socketpair(int domain, int type, int protocol, int fds[2]);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_eventfd(unsigned int initval, int flags);
int __wrap_epoll_create1(int flags);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);

/* Fail with `code` in errno and return `ret` when this call is the one. */
#define FAIL_ERRNO(kind, code, ret)                                         \
    do {                                                                    \
        if (fail_now((kind), CALLER)) {                                     \
            errno = (code);                                                 \
            return (ret);                                                   \
        }                                                                   \
    } while (0)

/* The same for the calls that return their error code. */
#define FAIL_RETURN(kind, code)                                             \
    do {                                                                    \
        if (fail_now((kind), CALLER))                                       \
            return (code);                                                  \
    } while (0)

void *__wrap_malloc(size_t n)
{
    FAIL_ERRNO(FAULT_MALLOC, ENOMEM, NULL);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    FAIL_ERRNO(FAULT_CALLOC, ENOMEM, NULL);
    return __real_calloc(n, size);
}

/* realloc(p, 0) frees; only a growth or a move can run out of memory. */
void *__wrap_realloc(void *p, size_t n)
{
    if (n != 0)
        FAIL_ERRNO(FAULT_REALLOC, ENOMEM, NULL);
    return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    FAIL_ERRNO(FAULT_STRDUP, ENOMEM, NULL);
    return __real_strdup(s);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    FAIL_RETURN(FAULT_MEMALIGN, ENOMEM);
    return __real_posix_memalign(p, align, n);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg)
{
    FAIL_RETURN(FAULT_PTHREAD_CREATE, EAGAIN);
    return __real_pthread_create(t, a, fn, arg);
}

pid_t __wrap_fork(void)
{
    FAIL_ERRNO(FAULT_FORK, EAGAIN, -1);
    return __real_fork();
}

int __wrap_posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[])
{
    FAIL_RETURN(FAULT_POSIX_SPAWN, EAGAIN);
    return __real_posix_spawn(pid, path, fa, attr, argv, envp);
}

int __wrap_posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[])
{
    FAIL_RETURN(FAULT_POSIX_SPAWN, EAGAIN);
    return __real_posix_spawnp(pid, file, fa, attr, argv, envp);
}

int __wrap_pidfd_open(pid_t pid, unsigned int flags)
{
    FAIL_ERRNO(FAULT_PIDFD_OPEN, EMFILE, -1);
    return __real_pidfd_open(pid, flags);
}

int __wrap_pipe(int fds[2])
{
    FAIL_ERRNO(FAULT_PIPE, EMFILE, -1);
    return __real_pipe(fds);
}

int __wrap_pipe2(int fds[2], int flags)
{
    FAIL_ERRNO(FAULT_PIPE, EMFILE, -1);
    return __real_pipe2(fds, flags);
}

int __wrap_socket(int domain, int type, int protocol)
{
    FAIL_ERRNO(FAULT_SOCKET, EMFILE, -1);
    return __real_socket(domain, type, protocol);
}

int __wrap_socketpair(int domain, int type, int protocol, int fds[2])
{
    FAIL_ERRNO(FAULT_SOCKET, EMFILE, -1);
    return __real_socketpair(domain, type, protocol, fds);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    FAIL_ERRNO(FAULT_ACCEPT, EMFILE, -1);
    return __real_accept4(fd, addr, len, flags);
}

int __wrap_eventfd(unsigned int initval, int flags)
{
    FAIL_ERRNO(FAULT_EVENTFD, EMFILE, -1);
    return __real_eventfd(initval, flags);
}

int __wrap_epoll_create1(int flags)
{
    FAIL_ERRNO(FAULT_EPOLL_CREATE, EMFILE, -1);
    return __real_epoll_create1(flags);
}

/* Only ADD allocates in the kernel (ENOMEM, or ENOSPC at the
 * max_user_watches limit); MOD and DEL are not counted. */
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (op == EPOLL_CTL_ADD)
        FAIL_ERRNO(FAULT_EPOLL_CTL, ENOMEM, -1);
    return __real_epoll_ctl(epfd, op, fd, ev);
}

/* mmap of memory (anonymous or a shared file) fails with ENOMEM. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    FAIL_ERRNO(FAULT_MMAP, ENOMEM, MAP_FAILED);
    return __real_mmap(addr, len, prot, flags, fd, off);
}
