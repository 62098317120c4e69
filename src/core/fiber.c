/*
 * fiber.c - cancellation and shields of fibers, the checkpoint every
 * blocking call opens with (core layer).
 *
 * See src/internal/fiber.h.  The flag is set by any thread and read by the
 * fiber's own; a shield count is touched only by its fiber.  Moving a
 * suspended fiber out of its wait is the implementation's (aio's) part.
 */
#include "internal/assert.h"
#include "internal/deadline.h"
#include "internal/fiber.h"

void cc__fiber_init(cc__fiber *f, const cc__fiber_ops *ops)
{
    CC__ASSERT(ops != NULL && ops->suspend != NULL && ops->wake != NULL);
    f->ops = ops;
    atomic_init(&f->cancelled, false);
    f->shield = 0;
}

void cc__fiber_cancel(cc__fiber *f)
{
    atomic_store_explicit(&f->cancelled, true, memory_order_release);
}

int cc__checkpoint(const char *what)
{
    if (__builtin_expect(cc__cancel_pending(), 0))
        return cc__errf(ECANCELED, "%s: the task was cancelled", what);
    return 0;
}

int cc__shield_enter(int64_t deadline)
{
    cc__fiber *f = cc__fiber_current();

    if (f == NULL)
        return cc__err(EINVAL, "shield: not in a task");
    if (cc__deadline_push_own(deadline) != 0)
        return -1;
    f->shield++;
    return 0;
}

void cc__shield_leave(void)
{
    cc__fiber *f = cc__fiber_current();

    if (f == NULL || f->shield == 0)
        return;
    f->shield--;
    cc_deadline_pop();
}
