/*
 * task.c - tasks: spawning, switching in and out, parking in blocking
 * calls, cancellation and shields, and the end of a task (aio layer).
 *
 * A task's record sits at the top of its own stack (see task.h).  It plugs
 * into the core as a fiber (its suspend and wake operations are here) and
 * into the future layer as its future's runner (its cancel is here).
 * Switches always go task -> scheduler -> task, so every resume happens in
 * cc__task_resume on the loop's own stack, which is also where a finished
 * task is torn down (a task cannot free the stack it runs on).
 *
 * Sanitizers: AddressSanitizer is told about every stack switch
 * (__sanitizer_start/finish_switch_fiber) and ThreadSanitizer gets one fiber
 * per task (__tsan_create/switch_to/destroy_fiber), so both follow the
 * program across coroutines as they do across threads.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio/loop.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/future.h"

#if defined(CONCUR_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CONCUR_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#define SLOW_TASK_NS (100 * 1000000) /* debug: a slice longer is reported */

static _Atomic uint64_t task_counter;

__attribute__((constructor)) static void debug_stacks_from_env(void)
{
    const char *v = getenv("CONCUR_DEBUG_STACKS");

    if (v != NULL && v[0] != '\0' && strcmp(v, "0") != 0)
        atomic_store(&cc__stack_debug, true);
}

void cc_set_debug_stacks(bool on)
{
    atomic_store(&cc__stack_debug, on);
}

/* -------------------------------------------------------------- switching */

#if defined(CONCUR_ASAN)
/* The loop thread's own stack, learnt on the first switch into a task. */
static __thread const void *thread_stack_bottom;
static __thread size_t thread_stack_size;
static __thread void *thread_fake_stack;
#endif

/* Scheduler -> task. */
static void switch_in(cc_loop *l, cc__task *t)
{
#if defined(CONCUR_ASAN)
    __sanitizer_start_switch_fiber(&thread_fake_stack, t->stack.base,
                                   t->stack.size);
#endif
#if defined(CONCUR_TSAN)
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    cc__switch(&l->sched_sp, t->sp);
#if defined(CONCUR_ASAN)
    __sanitizer_finish_switch_fiber(thread_fake_stack, NULL, NULL);
#endif
}

/* Task -> scheduler; `last` when the task will never run again. */
static void switch_out(cc__task *t, bool last)
{
    cc_loop *l = t->loop;

#if defined(CONCUR_ASAN)
    __sanitizer_start_switch_fiber(last ? NULL : &t->asan_fake_stack,
                                   thread_stack_bottom, thread_stack_size);
#else
    (void)last;
#endif
#if defined(CONCUR_TSAN)
    __tsan_switch_to_fiber(l->thread_fiber, 0);
#endif
    cc__switch(&t->sp, l->sched_sp);
#if defined(CONCUR_ASAN)
    __sanitizer_finish_switch_fiber(t->asan_fake_stack, &thread_stack_bottom,
                                    &thread_stack_size);
#endif
}

void cc__task_suspend(cc__task *t)
{
    switch_out(t, false);
}

/* ------------------------------------------------------------ end of a task */

static void unlink_task(cc_loop *l, cc__task *t)
{
    CC__ASSERT(cc__link_linked(&t->all) && l->ntasks > 0);
    cc__list_remove(&l->tasks, &t->all);
    l->ntasks--;
}

void cc__task_unref(cc__task *t)
{
    int refs = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);

    CC__ASSERT(refs >= 1);
    if (refs == 1)
        cc__stack_put(&t->stack);
}

/* Complete the task's future and cut the future's link to the task. */
static void settle_future(cc__task *t, void *result, cc_error *error,
                          bool cancelled)
{
    cc_future *f = t->future;

    cc__future_runner_detach(f); /* cancellers stop here from now on */
    if (cancelled)
        cc__future_finish_cancelled(f);
    else
        cc__future_finish(f, result, error);
}

/*
 * Where t was spawned, for debug reports: "at file:line" for cc_spawn's
 * macro form, "by cc_loop_spawn" for tasks started from another thread or
 * by cc_run, "at an unknown place" for the function form of cc_spawn.
 */
static const char *spawn_site(const cc__task *t, char *buf, size_t size)
{
    if (t->site_file == NULL)
        return "at an unknown place";
    if (t->site_line == 0)
        snprintf(buf, size, "by %s", t->site_file);
    else
        snprintf(buf, size, "at %s:%d", t->site_file, t->site_line);
    return buf;
}

/* Tear down a finished task; on the loop's stack, after its last switch. */
static void finalize(cc_loop *l, cc__task *t)
{
    CC__ASSERT(t->state == CC__TASK_DONE && cc__future_state(t->future) >=
                                                CC__F_FINISHED);
    if (atomic_load(&cc__stack_debug))
        cc__debugf("task '%s' used at most %zu KiB of its %zu KiB stack",
                   cc__ctx_name(&t->ctx), cc__stack_peak(&t->stack) / 1024,
                   t->stack.size / 1024);
    unlink_task(l, t);
    if (cc__debug() && atomic_load(&t->future->refs) == 1 &&
        !(atomic_load(&t->future->state) &
          (CC__F_AWAITED | CC__F_FAILED))) {
        /* Only our reference is left: nobody can await it any more.  (A
         * failed one is reported by the future, with its error.) */
        char site[256];

        cc__debugf("task '%s' (spawned %s) ended and was never awaited",
                   cc__ctx_name(&t->ctx), spawn_site(t, site, sizeof(site)));
        atomic_fetch_or(&t->future->state, CC__F_AWAITED); /* said once */
    }
    cc__ctx_release(&t->ctx);
#if defined(CONCUR_TSAN)
    __tsan_destroy_fiber(t->tsan_fiber);
#endif
    cc__future_unref(t->future); /* the task's own reference */
    cc__task_unref(t);
}

static void stack_overflowed(cc__task *t)
{
    char site[256];

    fprintf(stderr, "concur: task '%s' overflowed its %zu KiB stack (its "
                    "canary is gone; spawned %s); give it a larger "
                    "stack_size (cc_task_opts, or cc_serve_opts for a "
                    "server's handlers)\n",
            cc__ctx_name(&t->ctx), t->stack.size / 1024,
            spawn_site(t, site, sizeof(site)));
    abort();
}

/* -------------------------------------------------------------- the body */

/* The decision a task's return makes about its future. */
static void task_outcome(cc__task *t, void *result)
{
    cc_error *error = NULL;
    bool cancelled = false;

    if (result == NULL) {
        error = cc__error_take_pending();
        if (atomic_load(&t->fiber.cancelled) &&
            (error == NULL || cc_error_code(error) == ECANCELED)) {
            cc_error_free(error);
            error = NULL;
            cancelled = true;
        }
    } else {
        cc_error_clear();
    }
    settle_future(t, result, error, cancelled);
}

/* First code on the task's stack (through the trampoline); never returns. */
static void task_entry(cc__task *t)
{
#if defined(CONCUR_ASAN)
    __sanitizer_finish_switch_fiber(NULL, &thread_stack_bottom,
                                    &thread_stack_size);
#endif
    if (atomic_load(&t->fiber.cancelled)) {
        /* cancelled before it started: its function never runs */
        settle_future(t, NULL, NULL, true);
    } else {
        task_outcome(t, t->fn(t->arg));
    }
    t->state = CC__TASK_DONE;
    switch_out(t, true);
    abort(); /* unreachable: a done task is never resumed */
}

#if defined(CONCUR_UCONTEXT)
#define prepare_stack cc__ucontext_prepare
#else
#define prepare_stack cc__stack_prepare
#endif

/* Add a task to its loop's list of live tasks; loop thread. */
void cc__task_link(cc_loop *l, cc__task *t)
{
    CC__ASSERT(cc__tls_loop == l || !atomic_load(&l->running));
    if (cc__link_linked(&t->all))
        return;
    cc__list_push_back(&l->tasks, &t->all);
    l->ntasks++;
}

void cc__task_resume(cc_loop *l, cc__task *t)
{
    CC__ASSERT(t->loop == l && cc__tls_loop == l && l->current == NULL);
    CC__ASSERT(t->state != CC__TASK_DONE);
    if (t->state == CC__TASK_NEW) {
        cc__task_link(l, t);
        t->state = CC__TASK_RUNNING;
    }
    l->current = t;
    cc__cur = &t->ctx;
    if (cc__debug())
        t->slice_start = cc__now_ns();
    switch_in(l, t);
    cc__cur = l->thread_ctx;
    l->current = NULL;
    if (cc__debug()) {
        int64_t ran = cc__now_ns() - t->slice_start;

        if (ran > SLOW_TASK_NS) {
            char site[256];

            cc__debugf("task '%s' (spawned %s) ran %.0f ms without "
                       "yielding: it blocks the loop",
                       cc__ctx_name(&t->ctx), spawn_site(t, site, sizeof(site)),
                       (double)ran / 1e6);
        }
    }
    if (!cc__stack_canary_ok(&t->stack))
        stack_overflowed(t);
    if (t->state == CC__TASK_DONE)
        finalize(l, t);
}

/* --------------------------------------------------------------- spawning */

static const cc__fiber_ops task_fiber_ops;
static void task_cancel(cc__runner *r);

static cc__task *task_new(cc_loop *l, cc_fn fn, void *arg,
                          const cc_task_opts *opts, const char *file,
                          int line)
{
    cc__stack stack;
    cc__task *t;
    cc_future *f;
    char *top;
    int rc;

    rc = cc__stack_get(opts != NULL ? opts->stack_size : 0, &stack);
    if (rc != 0)
        return cc__err_null(rc, "cc_spawn: out of memory for a task stack");
    top = stack.base + stack.size;
    t = (cc__task *)(void *)((uintptr_t)(top - sizeof(cc__task)) &
                             ~(uintptr_t)63);
    f = cc__future_new_run_by(&t->runner);
    if (f == NULL) {
        cc__stack_put(&stack);
        return NULL;
    }
    cc__fiber_init(&t->fiber, &task_fiber_ops);
    t->runner.cancel = task_cancel;
    t->work.kind = CC__WORK_TASK;
    t->cancel_work.kind = CC__WORK_CANCEL;
    atomic_init(&t->cancel_posted, false);
    t->loop = l;
    t->future = f;
    t->fn = fn;
    t->arg = arg;
    t->stack = stack;
    t->state = CC__TASK_NEW;
    atomic_init(&t->refs, 1);
    t->parked = NULL;
    cc__link_init(&t->all);
    t->timer.index = SIZE_MAX;
    t->timer.kind = CC__TIMER_TASK;
    t->site_file = file;
    t->site_line = line;
    t->slice_start = 0;
    t->tsan_fiber = NULL;
    t->asan_fake_stack = NULL;
    /* the context: only what a fresh one needs (msgbuf stays untouched) */
    t->ctx.last.code = 0;
    t->ctx.last.kind = CC__ERR_EMBEDDED;
    t->ctx.last.message = "";
    t->ctx.last.where = "";
    t->ctx.last.cause = NULL;
    t->ctx.last_heap = NULL;
    t->ctx.last_is_pending = false;
    t->ctx.pending = NULL;
    t->ctx.nscopes = 0;
    t->ctx.fiber = &t->fiber;
    t->ctx.worker_of = NULL;
    t->ctx.number = atomic_fetch_add_explicit(&task_counter, 1,
                                              memory_order_relaxed) + 1;
    if (opts != NULL && opts->name != NULL)
        cc__ctx_set_name(&t->ctx, opts->name);
    else
        t->ctx.name[0] = '\0'; /* "Task-<number>", formatted when asked */
#if defined(CONCUR_TSAN)
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    t->sp = prepare_stack(&t->stack, (void *)t, t, task_entry);
    return t;
}

cc_future *cc_spawn_at(const char *file, int line, cc_fn fn, void *arg,
                       const cc_task_opts *opts)
{
    cc_loop *l = cc__tls_loop;
    cc__task *t;

    if (l == NULL)
        return cc__err_null(EINVAL, "cc_spawn: no event loop runs in this "
                                    "thread (use cc_run or cc_loop_spawn)");
    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_spawn: fn is NULL");
    if (opts != NULL &&
        CC__OPTS_RESERVED(opts, "cc_spawn", "cc_task_opts") != 0)
        return NULL;
    if (l->closing)
        return cc__err_null(ESHUTDOWN, "cc_spawn: the loop is being freed");
    t = task_new(l, fn, arg, opts, file, line);
    if (t == NULL)
        return NULL;
    cc__task_link(l, t);
    cc__loop_ready(l, &t->work);
    return t->future;
}

cc_future *(cc_spawn)(cc_fn fn, void *arg)
{
    return cc_spawn_at(NULL, 0, fn, arg, NULL);
}

cc_future *(cc_spawn_opts)(cc_fn fn, void *arg, const cc_task_opts *opts)
{
    return cc_spawn_at(NULL, 0, fn, arg, opts);
}

cc_future *cc__loop_spawn_by(cc_loop *l, cc_fn fn, void *arg,
                             const char *by)
{
    cc__task *t;
    cc_future *f;

    if (l == NULL || l->magic != CC__LOOP_MAGIC)
        return cc__err_null(EINVAL, "cc_loop_spawn: not a loop");
    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_loop_spawn: fn is NULL");
    if (l->closing)
        return cc__err_null(ESHUTDOWN, "cc_loop_spawn: the loop is being "
                                       "freed");
    t = task_new(l, fn, arg, NULL, by, 0);
    if (t == NULL)
        return NULL;
    /*
     * The caller's reference to the future exists before the loop can
     * finish the task.  Read it before the post: once posted, t lives on a
     * stack the loop may run, free and hand to another task at any moment.
     */
    f = t->future;
    cc__loop_post(l, &t->work);
    return f;
}

cc_future *cc_loop_spawn(cc_loop *l, cc_fn fn, void *arg)
{
    return cc__loop_spawn_by(l, fn, arg, "cc_loop_spawn");
}

/* ------------------------------------------- the fiber: parking, waking */

/*
 * The fiber's suspend (internal/fiber.h): the core has checked the
 * cancellation and the deadline; record the waiter, arm the timer, switch
 * to the loop until one of the three things that move w out of PARKED has
 * made the task ready again.
 */
static void task_suspend(cc__fiber *fiber, cc__waiter *w, int64_t deadline)
{
    cc__task *t = CC__TASK_OF(fiber, fiber);
    cc_loop *l = t->loop;

    CC__ASSERT(t->state == CC__TASK_RUNNING && t->parked == NULL);
    CC__ASSERT(l->current == t);
    /*
     * Invariant: a waker that claims w always posts t->work exactly once
     * (the fiber's wake).  So even when a thread on another CPU claimed w
     * before we got here, the task must switch out and let that post
     * resume it: returning at once would leave t->work queued on the loop
     * while the task runs on, and a later park would be resumed by this
     * stale post (or queue t->work twice).  The round trip is the price of
     * the rare race.
     */
    t->parked = w;
    t->state = CC__TASK_PARKED;
    if (deadline != CC__NS_FOREVER)
        cc__timer_arm(l, &t->timer, deadline);
    switch_out(t, false);
    CC__ASSERT(t->state == CC__TASK_PARKED && t->parked == w);
    CC__ASSERT(atomic_load(&w->state) != CC__W_PARKED);
    t->state = CC__TASK_RUNNING;
    t->parked = NULL;
    cc__timer_disarm(l, &t->timer);
}

/* The fiber's wake: make a task whose waiter was just claimed ready again,
 * from any thread. */
static void task_wake(cc__fiber *fiber)
{
    cc__task *t = CC__TASK_OF(fiber, fiber);

    cc__loop_post(t->loop, &t->work);
}

static const cc__fiber_ops task_fiber_ops = {task_suspend, task_wake};

void cc__task_timer_fired(cc__task *t)
{
    if (t->parked != NULL &&
        cc__waiter_give_up(t->parked, CC__W_PARKED, CC__W_TIMEDOUT))
        cc__loop_ready(t->loop, &t->work);
}

/* ----------------------------------------------------------- cancellation */

void cc__task_deliver_cancel(cc__task *t)
{
    CC__ASSERT(cc__tls_loop == t->loop);
    if (t->state == CC__TASK_PARKED && t->fiber.shield == 0 &&
        t->parked != NULL &&
        cc__waiter_give_up(t->parked, CC__W_PARKED, CC__W_CANCELLED))
        cc__loop_ready(t->loop, &t->work);
}

/*
 * The runner's cancel (internal/future.h), with the future's mu held, so
 * the task cannot end meanwhile: set the flag, and move the task out of
 * its wait -- at once on its own loop's thread, else by posting a request
 * (the task is pinned by a reference while the request is in flight).
 */
static void task_cancel(cc__runner *r)
{
    cc__task *t = CC__TASK_OF(r, runner);

    cc__fiber_cancel(&t->fiber);
    if (cc__tls_loop == t->loop) {
        cc__task_deliver_cancel(t);
    } else if (!atomic_exchange(&t->cancel_posted, true)) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        cc__loop_post(t->loop, &t->cancel_work);
    }
}

bool cc_cancelled(void)
{
    cc__fiber *f = cc__fiber_current();

    return f != NULL && atomic_load(&f->cancelled);
}

int cc_shield_push(double timeout)
{
    if (cc__fiber_current() == NULL)
        return cc__err(EINVAL, "cc_shield_push: not in a task");
    if (cc__check_timeout(timeout, "cc_shield_push") != 0)
        return -1;
    return cc__shield_enter(cc__deadline_after(timeout));
}

void cc_shield_pop(void)
{
    cc__shield_leave();
}

/* ---------------------------------------------------- sleeping, yielding */

int cc_sleep(double seconds)
{
    cc__task *t = cc__task_current();
    int64_t own;
    int64_t scope;

    if (!(seconds >= 0))
        return cc__errf(EINVAL, "cc_sleep: seconds must be >= 0, got %g",
                        seconds);
    if (t != NULL && seconds == 0)
        return cc_yield();
    if (cc__cancel_pending())
        return cc__err(ECANCELED, "sleep: the task is cancelled");
    own = cc__deadline_after(seconds);
    scope = cc__scope_deadline();
    if (cc__sleep_until(scope < own ? scope : own) != 0)
        return cc__err(ECANCELED, "sleep: the task was cancelled");
    if (scope < own)
        return cc__err(ETIMEDOUT, "sleep cut short by a deadline scope");
    return 0;
}

/*
 * cc_yield: a checkpoint that never waits.  It fails like a blocking call
 * would at that point -- ECANCELED in a cancelled task, ETIMEDOUT once
 * the innermost deadline scope has expired (asyncio.timeout: the next
 * await raises) -- so that a loop that only polls still ends.  The scope
 * costs a clock read only while one is open.
 */
int cc_yield(void)
{
    cc__ctx *c = cc__ctx_get();
    cc__fiber *f = c->fiber;
    cc__task *t;

    if (f != NULL && cc__fiber_cancel_pending(f))
        return cc__err(ECANCELED, "yield: the task is cancelled");
    if (c->nscopes > 0 && cc_deadline_expired())
        return cc__err(ETIMEDOUT, "yield: a deadline scope expired");
    if (f == NULL) {
        sched_yield();
        return 0;
    }
    t = CC__TASK_OF(f, fiber);
    cc__loop_ready(t->loop, &t->work);
    switch_out(t, false);
    return 0;
}

cc_future *cc_current_task(void)
{
    cc__task *t = cc__task_current();

    return t != NULL ? t->future : NULL;
}

static void copy_name(cc__runner *r, void *buf)
{
    memcpy(buf, cc__ctx_name(&CC__TASK_OF(r, runner)->ctx), CC__NAME_MAX);
}

const char *cc_task_name(cc_future *f)
{
    static __thread char name[CC__NAME_MAX]; /* the task may end any time */

    name[0] = '\0';
    if (cc__future_ok(f))
        (void)cc__future_runner_call(f, copy_name, name);
    return name;
}
