/*
 * shm.h - shared memory and robust mutexes for the process-shared objects
 * (process layer, internal).
 *
 * Memory: anonymous MAP_SHARED mappings, zeroed by the kernel, shared with
 * every child forked after they were made and released when the last
 * process unmaps them.
 *
 * Mutexes: a pthread mutex in that memory with PTHREAD_PROCESS_SHARED and
 * PTHREAD_MUTEX_ROBUST.  When a process dies holding one, the kernel marks
 * it and the next locker is told (EOWNERDEAD); cc__pmutex_lock then calls
 * the object's repair function, which brings the fields derived from the
 * object's primary state back in line, and marks the mutex consistent.
 * The objects are written so that their primary state is consistent at
 * every instant (write first, publish last, with one aligned 8-byte store),
 * so repairing never has to undo anything.  These mutexes are held only
 * for short copies, never across a wait.
 */
#ifndef CC_PROCESS_SHM_H
#define CC_PROCESS_SHM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Map `size` bytes (rounded up to pages) of zeroed shared memory.
 * noreserve: reserve address space only; pages are committed when first
 * touched (MAP_NORESERVE).  NULL with errno (ENOMEM) on failure.
 */
void *cc__shm_map(size_t size, bool noreserve);

/* Unmap what cc__shm_map returned (same size).  NULL does nothing. */
void cc__shm_unmap(void *p, size_t size);

/* Give the pages of [p, p + size) back to the system; they read as zeros
 * again (MADV_REMOVE).  p must be page aligned; best effort. */
void cc__shm_discard(void *p, size_t size);

/* Initialise a process-shared robust mutex in shared memory.  0 or an
 * errno. */
int cc__pmutex_init(pthread_mutex_t *m);

/*
 * Lock m.  When its previous owner died holding it, repair(arg) runs with
 * the mutex held, then the mutex is made consistent again.  0, or an errno
 * (ENOTRECOVERABLE: a repair was abandoned; never happens in concur).
 */
int cc__pmutex_lock(pthread_mutex_t *m, void (*repair)(void *), void *arg);

void cc__pmutex_unlock(pthread_mutex_t *m);

/* For assertions only: true when the calling thread holds m (glibc keeps
 * the holder's thread id in the mutex for robust mutexes). */
bool cc__pmutex_owned(pthread_mutex_t *m);

#endif
