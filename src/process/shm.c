/*
 * shm.c - shared anonymous memory and robust process-shared mutexes
 * (process layer).  See shm.h for the contract.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal/assert.h"
#include "process/shm.h"

static size_t page_round(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (size + page - 1) / page * page;
}

void *cc__shm_map(size_t size, bool noreserve)
{
    size_t len = page_round(size);
    void *p;

    if (len < size) {
        errno = ENOMEM;
        return NULL;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0), -1,
             0);
    return p == MAP_FAILED ? NULL : p;
}

void cc__shm_unmap(void *p, size_t size)
{
    if (p != NULL)
        munmap(p, page_round(size));
}

void cc__shm_discard(void *p, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    size = size / page * page;
    if (size > 0)
        (void)madvise(p, size, MADV_REMOVE);
}

int cc__pmutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc;

    rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

int cc__pmutex_lock(pthread_mutex_t *m, void (*repair)(void *), void *arg)
{
    int rc = pthread_mutex_lock(m);

    if (rc == EOWNERDEAD) {
        /* The owner died inside its critical section: primary state is
         * whole by construction, derived fields may lag behind it. */
        repair(arg);
        rc = pthread_mutex_consistent(m);
    }
    return rc;
}

void cc__pmutex_unlock(pthread_mutex_t *m)
{
    CC__ASSERT(cc__pmutex_owned(m));
    pthread_mutex_unlock(m);
}

bool cc__pmutex_owned(pthread_mutex_t *m)
{
    /* glibc: __owner is the holder's tid while locked (robust mutexes keep
     * it for the kernel's robust-list walk), 0 when free. */
    return m->__data.__owner == gettid();
}
