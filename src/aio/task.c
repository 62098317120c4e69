/*
 * task.c - tasks: spawning, switching in and out, parking in blocking
 * calls, cancellation and shields, and the end of a task (aio layer).
 *
 * A task's record sits at the top of its own stack (see internal/aio.h).
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
    if (t->all_prev != NULL)
        t->all_prev->all_next = t->all_next;
    else
        l->tasks = t->all_next;
    if (t->all_next != NULL)
        t->all_next->all_prev = t->all_prev;
    l->ntasks--;
}

void cc__task_unref(cc__task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        cc__stack_put(&t->stack);
}

/* Complete the task's future and cut the future's link to the task. */
static void settle_future(cc__task *t, void *result, cc_error *error,
                          bool cancelled)
{
    cc_future *f = t->future;

    cc__mutex_lock(&f->mu);
    f->task = NULL; /* cancellers stop here from now on */
    cc__mutex_unlock(&f->mu);
    if (cancelled)
        cc__future_finish_cancelled(f);
    else
        cc__future_finish(f, result, error);
}

/* Tear down a finished task; on the loop's stack, after its last switch. */
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

static void finalize(cc_loop *l, cc__task *t)
{
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
                    "stack_size\n",
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
        if (atomic_load(&t->cancelled) &&
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
    if (atomic_load(&t->cancelled)) {
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
    if (t->linked)
        return;
    t->all_prev = NULL;
    t->all_next = l->tasks;
    if (l->tasks != NULL)
        l->tasks->all_prev = t;
    l->tasks = t;
    l->ntasks++;
    t->linked = true;
}

void cc__task_resume(cc_loop *l, cc__task *t)
{
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
    f = cc__future_new_task(NULL, NULL, NULL);
    if (f == NULL) {
        cc__stack_put(&stack);
        return NULL;
    }
    top = stack.base + stack.size;
    t = (cc__task *)(void *)((uintptr_t)(top - sizeof(cc__task)) &
                             ~(uintptr_t)63);
    t->work.kind = CC__WORK_TASK;
    t->cancel_work.kind = CC__WORK_CANCEL;
    atomic_init(&t->cancel_posted, false);
    t->loop = l;
    t->future = f;
    t->fn = fn;
    t->arg = arg;
    t->stack = stack;
    t->state = CC__TASK_NEW;
    t->linked = false;
    atomic_init(&t->cancelled, false);
    t->shield = 0;
    atomic_init(&t->refs, 1);
    t->parked = NULL;
    t->all_prev = t->all_next = NULL;
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
    t->ctx.task = t;
    t->ctx.worker_of = NULL;
    t->ctx.number = atomic_fetch_add_explicit(&task_counter, 1,
                                              memory_order_relaxed) + 1;
    if (opts != NULL && opts->name != NULL)
        cc__ctx_set_name(&t->ctx, opts->name);
    else
        t->ctx.name[0] = '\0'; /* "Task-<number>", formatted when asked */
    /* the future: already RUNNING (a pool's cancel-while-pending does not
     * apply), flagged as a task's, pointing back here */
    atomic_store(&f->state, CC__F_RUNNING | CC__F_TASK);
    f->task = t;
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

/* ---------------------------------------------------------------- parking */

static cc__task *current_task(void)
{
    return cc__ctx_get()->task;
}

int cc__checkpoint(const char *what)
{
    if (__builtin_expect(cc__cancel_pending(), 0))
        return cc__errf(ECANCELED, "%s: the task was cancelled", what);
    return 0;
}

int cc__err_wait(int rc, const char *what)
{
    if (rc == ECANCELED)
        return cc__errf(ECANCELED, "%s: the task was cancelled", what);
    if (rc == ETIMEDOUT || rc == EAGAIN)
        return cc__errf(ETIMEDOUT, "%s timed out", what);
    return cc__errf(rc, "%s failed", what);
}

bool cc__cancel_pending(void)
{
    cc__task *t = current_task();

    return t != NULL && t->shield == 0 &&
           atomic_load_explicit(&t->cancelled, memory_order_relaxed);
}

/* Move w out of PARKED ourselves (to TIMEDOUT or CANCELLED); false when a
 * waker claimed it first. */
static bool give_up(cc__waiter *w, uint32_t to)
{
    uint32_t s = CC__W_PARKED;

    return atomic_compare_exchange_strong_explicit(
        &w->state, &s, to, memory_order_acq_rel, memory_order_acquire);
}

int cc__task_park(cc__waiter *w, int64_t deadline)
{
    cc__task *t = w->ctx->task;
    cc_loop *l = t->loop;
    uint32_t s;

    if (cc__cancel_pending() && give_up(w, CC__W_CANCELLED))
        return ECANCELED;
    if (deadline != CC__NS_FOREVER && deadline <= cc__now_ns() &&
        give_up(w, CC__W_TIMEDOUT))
        return ETIMEDOUT;
    /*
     * Invariant: a waker that claims w always posts t->work exactly once
     * (cc__wakeup_fire).  So even when a thread on another CPU claimed w
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
    t->state = CC__TASK_RUNNING;
    t->parked = NULL;
    cc__timer_disarm(l, &t->timer);
    s = atomic_load_explicit(&w->state, memory_order_acquire);
    if (s == CC__W_TIMEDOUT)
        return ETIMEDOUT;
    if (s == CC__W_CANCELLED)
        return ECANCELED;
    return 0;
}

void cc__task_wake(cc__task *t)
{
    cc__loop_post(t->loop, &t->work);
}

void cc__task_timer_fired(cc__task *t)
{
    if (t->parked != NULL && give_up(t->parked, CC__W_TIMEDOUT))
        cc__loop_ready(t->loop, &t->work);
}

int cc__task_sleep_until(int64_t deadline)
{
    cc__waiter w;
    int rc;

    cc__waiter_init(&w);
    rc = cc__task_park(&w, deadline);
    return rc == ETIMEDOUT ? 0 : rc;
}

/* ----------------------------------------------------------- cancellation */

void cc__task_deliver_cancel(cc__task *t)
{
    if (t->state == CC__TASK_PARKED && t->shield == 0 && t->parked != NULL &&
        give_up(t->parked, CC__W_CANCELLED))
        cc__loop_ready(t->loop, &t->work);
}

bool cc__task_cancel_future(cc_future *f)
{
    cc__task *t;

    cc__mutex_lock(&f->mu);
    t = f->task;
    if (t == NULL) { /* ended already */
        cc__mutex_unlock(&f->mu);
        return cc__future_state(f) == CC__F_CANCELLED;
    }
    atomic_store_explicit(&t->cancelled, true, memory_order_release);
    if (cc__tls_loop == t->loop) {
        cc__task_deliver_cancel(t);
    } else if (!atomic_exchange(&t->cancel_posted, true)) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        cc__loop_post(t->loop, &t->cancel_work);
    }
    cc__mutex_unlock(&f->mu);
    return true;
}

bool cc_cancelled(void)
{
    cc__task *t = current_task();

    return t != NULL && atomic_load(&t->cancelled);
}

int cc_shield_push(double timeout)
{
    cc__task *t = current_task();

    if (t == NULL)
        return cc__err(EINVAL, "cc_shield_push: not in a task");
    if (cc__check_timeout(timeout, "cc_shield_push") != 0)
        return -1;
    if (cc__deadline_push_own(cc__deadline_after(timeout)) != 0)
        return -1;
    t->shield++;
    return 0;
}

void cc_shield_pop(void)
{
    cc__task *t = current_task();

    if (t == NULL || t->shield == 0)
        return;
    t->shield--;
    cc_deadline_pop();
}

/* ---------------------------------------------------- sleeping, yielding */

int cc_sleep(double seconds)
{
    cc__task *t = current_task();
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
    if (t == NULL) {
        cc__sleep_until(scope < own ? scope : own);
    } else if (cc__task_sleep_until(scope < own ? scope : own) != 0) {
        return cc__err(ECANCELED, "sleep: the task was cancelled");
    }
    if (scope < own)
        return cc__err(ETIMEDOUT, "sleep cut short by a deadline scope");
    return 0;
}

int cc_yield(void)
{
    cc__task *t = current_task();

    if (t == NULL) {
        sched_yield();
        return 0;
    }
    if (cc__cancel_pending())
        return cc__err(ECANCELED, "yield: the task is cancelled");
    cc__loop_ready(t->loop, &t->work);
    switch_out(t, false);
    return 0;
}

cc_future *cc_current_task(void)
{
    cc__task *t = current_task();

    return t != NULL ? t->future : NULL;
}

const char *cc_task_name(cc_future *f)
{
    static __thread char name[CC__NAME_MAX]; /* the task may end any time */

    name[0] = '\0';
    if (!cc__future_ok(f) || !(atomic_load(&f->state) & CC__F_TASK))
        return name;
    cc__mutex_lock(&f->mu);
    if (f->task != NULL)
        memcpy(name, cc__ctx_name(&f->task->ctx), sizeof(name));
    cc__mutex_unlock(&f->mu);
    return name;
}
