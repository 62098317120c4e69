/*
 * budget.c - the local service's budgets: how many connections it serves
 * at once (max_connections) and how many bytes of request bodies it holds
 * at once (max_memory), and giving memory back after a flood.  Everything
 * here runs on the service's loop thread (the connection tasks), so the
 * counters in svc need no lock; they are stored atomically only because
 * svc_connections and svc_body_memory read them from other threads.
 *
 * Giving memory back: freed buffers go back to glibc's heap, which keeps
 * them -- 3,000 connections with a 1 MiB body each left 1.3-1.9 GB of
 * RSS behind once they had all closed.  malloc_trim returns the free
 * pages; it walks the heap, so it runs only when the service goes idle
 * after at least TRIM_IDLE bytes were freed, or after TRIM_BUSY bytes
 * whatever the load (a service whose keep-alive clients never all leave).
 */
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "svc_internal.h"

#define TRIM_IDLE ((size_t)1 << 20)  /* freed, then idle: trim */
#define TRIM_BUSY ((size_t)64 << 20) /* freed, busy or not: trim */

/* What a broken SVC_ASSERT calls: say where, then abort. */
void svc_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "concur serve: %s:%d: invariant '%s' broken\n", file,
            line, cond);
    abort();
}

/* Give free heap pages back to the system once enough were freed. */
static void maybe_trim(svc *s)
{
    if (s->freed < TRIM_BUSY && (s->served > 0 || s->freed < TRIM_IDLE))
        return;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    s->freed = 0;
}

/* Count a connection in unless max_connections are served (see
 * svc_internal.h for these four). */
bool svc_conn_begin(svc *s)
{
    if (s->served >= s->o.max_connections)
        return false;
    __atomic_store_n(&s->served, s->served + 1, __ATOMIC_RELAXED);
    return true;
}

/* Count a connection out; trim when it was the last after a flood. */
void svc_conn_end(svc *s, size_t freed)
{
    SVC_ASSERT(s->served > 0);
    __atomic_store_n(&s->served, s->served - 1, __ATOMIC_RELAXED);
    s->freed += freed;
    maybe_trim(s);
}

/* Reserve n body bytes if they fit in max_memory; all or nothing. */
bool svc_mem_take(svc *s, size_t n)
{
    if (n > s->o.max_memory - s->mem_used)
        return false;
    __atomic_store_n(&s->mem_used, s->mem_used + n, __ATOMIC_RELAXED);
    return true;
}

/* Give back n reserved bytes, whose buffer was just freed. */
void svc_mem_give(svc *s, size_t n)
{
    SVC_ASSERT(n <= s->mem_used);
    __atomic_store_n(&s->mem_used, s->mem_used - n, __ATOMIC_RELAXED);
    s->freed += n;
}

/* Snapshots for other threads (service.h). */
int svc_connections(const svc *s)
{
    return s == NULL ? 0 : __atomic_load_n(&s->served, __ATOMIC_RELAXED);
}

size_t svc_body_memory(const svc *s)
{
    return s == NULL ? 0 : __atomic_load_n(&s->mem_used, __ATOMIC_RELAXED);
}
