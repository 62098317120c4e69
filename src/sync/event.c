/*
 * event.c - cc_event, a flag to wait for (sync layer).
 *
 * `flag` is atomic so that is_set() and the fast path of wait() take no lock;
 * changes to it and the wait queue are made under `mu`, so a waiter that saw
 * the flag clear under mu is queued before any set() can run its wake-all.
 */
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/waiter.h"

#define EVENT_MAGIC 0x45564e54u /* "EVNT" */

struct cc_event {
    uint32_t magic;      /* EVENT_MAGIC while alive */
    _Atomic bool flag;   /* written under mu; read anywhere */
    cc__mutex mu;        /* guards waiters and writes of flag */
    cc__waitq waiters;
};

static bool event_ok(const cc_event *e)
{
    return e != NULL && e->magic == EVENT_MAGIC;
}

cc_event *cc_event_new(void)
{
    cc_event *e = malloc(sizeof(*e));

    if (e == NULL)
        return cc__err_null(ENOMEM, "cc_event_new: out of memory");
    e->magic = EVENT_MAGIC;
    atomic_init(&e->flag, false);
    CC__VG_ATOMIC_WORD(&e->flag, sizeof(e->flag));
    cc__mutex_init(&e->mu);
    cc__waitq_init(&e->waiters);
    return e;
}

int cc_event_set(cc_event *e)
{
    if (!event_ok(e))
        return cc__err(EINVAL, "cc_event_set: not an event");
    cc__mutex_lock(&e->mu);
    CC__VG_RELEASE(e); /* for helgrind/DRD: see flag_seen */
    atomic_store_explicit(&e->flag, true, memory_order_release);
    cc__waitq_wake_all(&e->waiters);
    cc__mutex_unlock(&e->mu);
    return 0;
}

int cc_event_clear(cc_event *e)
{
    if (!event_ok(e))
        return cc__err(EINVAL, "cc_event_clear: not an event");
    cc__mutex_lock(&e->mu);
    atomic_store_explicit(&e->flag, false, memory_order_relaxed);
    cc__mutex_unlock(&e->mu);
    return 0;
}

/* True when the flag is set; for helgrind and DRD (internal/vg.h) seeing
 * it set is an acquire of what the setter did before setting it. */
static bool flag_seen(cc_event *e)
{
    if (!atomic_load_explicit(&e->flag, memory_order_acquire))
        return false;
    CC__VG_ACQUIRE(e);
    return true;
}

bool cc_event_is_set(cc_event *e)
{
    return event_ok(e) && flag_seen(e);
}

int cc_event_wait(cc_event *e, double timeout)
{
    cc__waiter w;
    int64_t deadline;
    int rc;

    if (!event_ok(e))
        return cc__err(EINVAL, "cc_event_wait: not an event");
    if (cc__check_timeout(timeout, "cc_event_wait") != 0)
        return -1;
    if (flag_seen(e))
        return 0;
    if (timeout == 0)
        return cc__err(EAGAIN, "event: not set");
    if (cc__checkpoint("event wait") != 0 ||
        cc__deadline_for(timeout, "cc_event_wait", &deadline) != 0)
        return -1;
    cc__waiter_init(&w);
    cc__mutex_lock(&e->mu);
    if (flag_seen(e)) {
        cc__mutex_unlock(&e->mu);
        return 0;
    }
    cc__waitq_push(&e->waiters, &w);
    cc__mutex_unlock(&e->mu);
    rc = cc__waiter_park(&w, deadline);
    if (rc == 0)
        return 0; /* woken by set(): true even if cleared since (Python) */
    cc__mutex_lock(&e->mu);
    cc__waitq_remove(&e->waiters, &w);
    cc__mutex_unlock(&e->mu);
    return cc__err_wait(rc, "event wait");
}

void cc_event_free(cc_event *e)
{
    if (!event_ok(e))
        return;
    e->magic = 0;
    free(e);
}
