/*
 * budget.c - the local service's budgets: how many connections it serves
 * at once (max_connections) and how many bytes of request bodies it holds
 * at once (max_memory).  Everything
 * here runs on the service's loop thread (the connection tasks), so the
 * counters in svc need no lock; they are stored atomically only because
 * svc_connections and svc_body_memory read them from other threads.
 */
#include <stdio.h>
#include <stdlib.h>

#include "svc_internal.h"

/* What a broken SVC_ASSERT calls: say where, then abort. */
void svc_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "concur serve: %s:%d: invariant '%s' broken\n", file,
            line, cond);
    abort();
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

/* Count a connection out. */
void svc_conn_end(svc *s)
{
    SVC_ASSERT(s->served > 0);
    __atomic_store_n(&s->served, s->served - 1, __ATOMIC_RELAXED);
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
