/*
 * loop.c - the event loop: run queue, cross-thread posts, epoll, timers,
 * stop, the signals signal.c caught, running loops by hand, and one pass
 * at a time inside another program's loop (aio layer).
 *
 * One iteration: take what other threads posted, fire due timers, run the
 * work that is ready (each task until it blocks, yields or ends), then wait
 * in epoll for fds, the eventfd or the next timer.  While tasks keep being
 * ready the loop runs them back to back and only looks at epoll every
 * POLL_EVERY batches, so ping-ponging tasks do not pay a system call each
 * time, yet I/O and timers are never starved.
 *
 * See loop.h for which fields other threads may touch.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "aio/loop.h"
#include "internal/future.h"
#include "internal/error.h"
#include "internal/log.h"

/* The steps of a pass, called from loop_run and cc_loop_run_once: inlined
 * into both, as they were when loop_run was their only caller (a call per
 * step cost ~19 instructions a pass, ~9 % of a task ping-pong). */
#define CC__HOT_PATH __attribute__((always_inline)) inline

#define POLL_EVERY 64

__thread cc_loop *cc__tls_loop __attribute__((tls_model("initial-exec")));

cc_loop *cc_loop_current(void)
{
    return cc__tls_loop;
}

static bool loop_ok(const cc_loop *l)
{
    return l != NULL && l->magic == CC__LOOP_MAGIC;
}

cc_loop *cc_loop_new(void)
{
    cc_loop *l = calloc(1, sizeof(*l));
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};

    if (l == NULL)
        return cc__err_null(ENOMEM, "cc_loop_new: out of memory");
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto err_free_loop;
    l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->evfd < 0)
        goto err_close_epoll;
    ev.data.fd = l->evfd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0)
        goto err_close_eventfd;
    cc__mutex_init(&l->remote_mu);
    l->magic = CC__LOOP_MAGIC;
    cc__loop_register(l);
    return l;
err_close_eventfd:
    close(l->evfd);
err_close_epoll:
    {
        int saved = errno;

        close(l->epfd);
        errno = saved;
    }
err_free_loop:
    {
        int saved = errno;

        free(l);
        return cc__errf_null(saved, "cc_loop_new: %s", strerror(saved));
    }
}

/* ---------------------------------------------------------------- work */

void cc__loop_ready(cc_loop *l, cc__work *w)
{
    CC__ASSERT(cc__tls_loop == l); /* others post (cc__loop_post) */
    w->next = NULL;
    if (l->ready_tail != NULL)
        l->ready_tail->next = w;
    else
        l->ready_head = w;
    l->ready_tail = w;
    l->nready++;
}

static cc__work *ready_pop(cc_loop *l)
{
    cc__work *w = l->ready_head;

    if (w == NULL)
        return NULL;
    l->ready_head = w->next;
    if (l->ready_head == NULL)
        l->ready_tail = NULL;
    l->nready--;
    return w;
}

static void wake_epoll(cc_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->evfd, &one, sizeof(one));

    (void)r; /* EAGAIN: the counter is already non-zero, the loop wakes */
}

void cc__loop_post(cc_loop *l, cc__work *w)
{
    if (cc__tls_loop == l) {
        cc__loop_ready(l, w);
        return;
    }
    /* Once w is on the list the loop may run it, end and be freed while
     * this thread still has the counters and the eventfd to touch:
     * `posting` keeps cc_loop_free waiting until it is out. */
    atomic_fetch_add_explicit(&l->posting, 1, memory_order_relaxed);
    w->next = NULL;
    cc__mutex_lock(&l->remote_mu);
    if (l->remote_tail != NULL)
        l->remote_tail->next = w;
    else
        l->remote_head = w;
    l->remote_tail = w;
    cc__mutex_unlock(&l->remote_mu);
    atomic_fetch_add_explicit(&l->nremote, 1, memory_order_seq_cst);
    if (atomic_exchange_explicit(&l->sleeping, 0, memory_order_seq_cst))
        wake_epoll(l);
    atomic_fetch_sub_explicit(&l->posting, 1, memory_order_release);
}

static void cancel_all_tasks(cc_loop *l);

/* Move what other threads posted into the run queue. */
CC__HOT_PATH static void take_remote(cc_loop *l)
{
    cc__work *w;

    if (atomic_load_explicit(&l->nremote, memory_order_acquire) == 0)
        return;
    cc__mutex_lock(&l->remote_mu);
    w = l->remote_head;
    l->remote_head = l->remote_tail = NULL;
    atomic_store_explicit(&l->nremote, 0, memory_order_relaxed);
    cc__mutex_unlock(&l->remote_mu);
    while (w != NULL) {
        cc__work *next = w->next;

        if (w->kind == CC__WORK_TASK) /* a task spawned from elsewhere */
            cc__task_link(l, CC__TASK_OF(w, work));
        cc__loop_ready(l, w);
        w = next;
    }
    if (l->closing) /* arrivals while the loop is being freed */
        cancel_all_tasks(l);
}

static void run_work(cc_loop *l, cc__work *w)
{
    switch (w->kind) {
    case CC__WORK_TASK:
        cc__task_resume(l, CC__TASK_OF(w, work));
        break;
    case CC__WORK_CANCEL: {
        cc__task *t = CC__TASK_OF(w, cancel_work);

        atomic_store_explicit(&t->cancel_posted, false, memory_order_release);
        cc__task_deliver_cancel(t);
        cc__task_unref(t);
        break;
    }
    default:
        cc__callback_run(w);
        break;
    }
}

/* Run the work that is ready now (not what it makes ready: that waits for
 * the next batch, after timers and I/O had their turn). */
CC__HOT_PATH static void run_batch(cc_loop *l)
{
    for (size_t n = l->nready; n > 0; n--) {
        cc__work *w = ready_pop(l);

        if (w == NULL)
            break;
        run_work(l, w);
    }
}

/* --------------------------------------------------------------- polling */

/* Set at the first ENOSYS from epoll_pwait2 (kernels before 5.11, seccomp
 * profiles that do not list it): every loop of the process then uses
 * epoll_wait.  Never cleared. */
static _Atomic bool no_pwait2;

/*
 * epoll_pwait2, or epoll_wait where the kernel lacks it.  epoll_wait takes
 * whole milliseconds: the timeout is rounded up, so that a wait never ends
 * before its timer is due (the loop would only go round again, but a
 * sub-millisecond sleep would then spin until it is).  Returns what the
 * call returns; errno as it sets it.
 */
static int wait_events(int epfd, struct epoll_event *evs, int max,
                       const struct timespec *tsp)
{
    int64_t ms;

    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        int n = epoll_pwait2(epfd, evs, max, tsp, NULL);

        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
        if (cc__debug())
            cc__debugf("loop: epoll_pwait2 is not available (ENOSYS); "
                       "using epoll_wait, with millisecond timeouts");
    }
    if (tsp == NULL)
        return epoll_wait(epfd, evs, max, -1);
    ms = (int64_t)tsp->tv_sec * 1000 + (tsp->tv_nsec + 999999) / 1000000;
    return epoll_wait(epfd, evs, max, ms > INT_MAX ? INT_MAX : (int)ms);
}

/* Wait for I/O, posts or the next timer, but no longer than `limit_ns`
 * (CC__NS_FOREVER: no limit but the next timer; 0 only polls). */
static void poll_events(cc_loop *l, int64_t limit_ns)
{
    struct epoll_event evs[64];
    struct timespec ts;
    struct timespec *tsp = &ts;
    int n;

    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    if (limit_ns > 0) {
        int64_t next = cc__timers_next(l);

        atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&l->nremote, memory_order_seq_cst) > 0 ||
            atomic_load_explicit(&l->stop, memory_order_acquire) ||
            atomic_load_explicit(&l->signalled, memory_order_acquire)) {
            /* posted, stopped or signalled: only poll */
        } else if (next == CC__NS_FOREVER && limit_ns == CC__NS_FOREVER) {
            tsp = NULL;
        } else {
            int64_t now = cc__now_ns();
            int64_t left = next == CC__NS_FOREVER ? INT64_MAX : next - now;

            if (left > limit_ns)
                left = limit_ns;
            if (left < 0)
                left = 0;
            ts.tv_sec = (time_t)(left / 1000000000);
            ts.tv_nsec = (long)(left % 1000000000);
        }
    }
    n = wait_events(l->epfd, evs, 64, tsp);
    atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.fd == l->evfd) {
            uint64_t v;
            ssize_t r = read(l->evfd, &v, sizeof(v));

            (void)r;
            continue;
        }
        cc__fd_ready(l, evs[i].data.fd, evs[i].events);
    }
    l->polls_skipped = 0;
}

/* ------------------------------------------------------------- running */

static void cancel_all_tasks(cc_loop *l)
{
    CC__LIST_EACH_SAFE(n, next, &l->tasks)
        cc_future_cancel(CC__TASK_OF(n, all)->future);
}

/*
 * Bind the loop to the calling thread for a run (cc_loop_run_* or one pass
 * of cc_loop_run_once): it becomes the thread's current loop, and the
 * thread's context is where tasks switch back to.  -1/EBUSY when a loop
 * already runs in this thread (a task or callback calling this), or this
 * loop runs in another.
 */
static int loop_enter(cc_loop *l, const char *who)
{
    bool expected = false;

    if (cc__tls_loop != NULL)
        return cc__errf(EBUSY, "%s: a loop already runs in this thread", who);
    if (!atomic_compare_exchange_strong(&l->running, &expected, true))
        return cc__errf(EBUSY, "%s: this loop already runs in another thread",
                        who);
    cc__tls_loop = l;
    l->thread_ctx = cc__ctx_get();
    cc__stack_watch_overflow();
#if defined(CONCUR_TSAN)
    {
        extern void *__tsan_get_current_fiber(void);

        l->thread_fiber = __tsan_get_current_fiber();
    }
#endif
    return 0;
}

static void loop_leave(cc_loop *l)
{
    cc__tls_loop = NULL;
    atomic_store(&l->running, false);
}

/* The start of a pass: what other threads posted, the timers now due. */
CC__HOT_PATH static void take_due(cc_loop *l)
{
    take_remote(l);
    if (l->ntimers > 0 || l->spilled != NULL)
        cc__timers_expire(l, cc__now_ns());
}

/* Signals caught since the last pass (signal.c): cc_run's SIGINT cancels
 * `until`; the others run their loop callbacks and wake waiting tasks. */
static void take_signals(cc_loop *l, cc_future *until)
{
    atomic_store(&l->signalled, false);
    if (atomic_exchange(&l->sigint, false) && until != NULL &&
        cc_future_cancel(until))
        l->interrupted = true;
    cc__signal_dispatch(l);
}

/*
 * Run the loop in the calling thread until `until` is done (until NULL:
 * until stopped; drain: until no task is left).
 */
static int loop_run(cc_loop *l, cc_future *until, bool drain, const char *who)
{
    if (loop_enter(l, who) != 0)
        return -1;
    for (;;) {
        take_due(l);
        if (atomic_load_explicit(&l->signalled, memory_order_acquire))
            take_signals(l, until);
        if (l->nready > 0)
            run_batch(l);
        if (until != NULL && cc_future_done(until))
            break;
        if (drain && l->ntasks == 0)
            break;
        if (atomic_exchange_explicit(&l->stop, false, memory_order_acq_rel))
            break;
        if (l->nready > 0 && ++l->polls_skipped < POLL_EVERY)
            continue;
        if (l->nready == 0 && cc__stack_trim_pending()) {
            cc__stack_trim(); /* idle: give spare stacks back, a few */
            poll_events(l, 0);
            continue;
        }
        poll_events(l, l->nready == 0 ? CC__NS_FOREVER : 0);
    }
    loop_leave(l);
    return 0;
}

int cc_loop_run_until_done(cc_loop *loop, cc_future *f)
{
    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_run_until_done: not a loop");
    if (f == NULL)
        return cc__err(EINVAL, "cc_loop_run_until_done: future is NULL");
    return loop_run(loop, f, false, "cc_loop_run_until_done");
}

int cc_loop_run_forever(cc_loop *loop)
{
    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_run_forever: not a loop");
    return loop_run(loop, NULL, false, "cc_loop_run_forever");
}

int cc_loop_stop(cc_loop *loop)
{
    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_stop: not a loop");
    atomic_fetch_add_explicit(&loop->posting, 1, memory_order_relaxed);
    atomic_store_explicit(&loop->stop, true, memory_order_release);
    if (cc__tls_loop != loop &&
        atomic_exchange_explicit(&loop->sleeping, 0, memory_order_seq_cst))
        wake_epoll(loop);
    atomic_fetch_sub_explicit(&loop->posting, 1, memory_order_release);
    return 0;
}

/* ------------------------------------------ inside another program's loop */

/*
 * Between passes of cc_loop_run_once nobody sleeps in the loop's epoll, but
 * the host polls its fd: so `sleeping` stays set, and a post from another
 * thread writes the eventfd, which makes the epoll fd readable.  This is
 * the loop's side of the protocol in loop.h (set `sleeping`, then look at
 * `nremote`); what was posted before is seen by cc_loop_backend_timeout's
 * look, or made visible on the fd here.
 */
static void embed_arm(cc_loop *l)
{
    atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&l->nremote, memory_order_seq_cst) > 0)
        wake_epoll(l);
}

int cc_loop_backend_fd(cc_loop *loop)
{
    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_backend_fd: not a loop");
    embed_arm(loop);
    return loop->epfd;
}

double cc_loop_backend_timeout(cc_loop *loop)
{
    int64_t next;
    int64_t left;

    if (!loop_ok(loop)) {
        cc__err(EINVAL, "cc_loop_backend_timeout: not a loop");
        return 0;
    }
    if (cc__tls_loop != loop && atomic_load(&loop->running)) {
        cc__err(EBUSY, "cc_loop_backend_timeout: the loop runs in another "
                       "thread");
        return 0;
    }
    if (cc__tls_loop != loop)
        atomic_store_explicit(&loop->sleeping, 1, memory_order_seq_cst);
    if (loop->nready > 0 ||
        atomic_load_explicit(&loop->nremote, memory_order_seq_cst) > 0 ||
        atomic_load_explicit(&loop->stop, memory_order_acquire) ||
        atomic_load_explicit(&loop->signalled, memory_order_acquire))
        return 0;
    next = cc__timers_next(loop);
    if (next == CC__NS_FOREVER)
        return CC_FOREVER;
    left = next - cc__now_ns();
    return left <= 0 ? 0 : (double)left / 1e9;
}

/* Something left to run or wait for: tasks (blocked ones too), ready
 * work, armed timers, posts not yet taken. */
static bool has_work(cc_loop *l)
{
    return l->ntasks > 0 || l->nready > 0 || l->ntimers > 0 ||
           l->spilled != NULL ||
           atomic_load_explicit(&l->nremote, memory_order_acquire) > 0;
}

int cc_loop_run_once(cc_loop *loop, double timeout)
{
    int64_t limit;
    bool stopped;
    bool alive;

    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_run_once: not a loop");
    if (isnan(timeout))
        return cc__err(EINVAL, "cc_loop_run_once: timeout is NaN");
    if (loop_enter(loop, "cc_loop_run_once") != 0)
        return -1;
    stopped = atomic_exchange_explicit(&loop->stop, false,
                                       memory_order_acq_rel);
    take_remote(loop);
    if (stopped || loop->nready > 0 || timeout == 0 || !has_work(loop))
        limit = 0;
    else if (timeout < 0 || timeout >= (double)INT64_MAX / 1e9)
        limit = CC__NS_FOREVER;
    else
        limit = (int64_t)(timeout * 1e9) > 0 ? (int64_t)(timeout * 1e9) : 1;
    poll_events(loop, limit);
    take_due(loop);
    if (atomic_load_explicit(&loop->signalled, memory_order_acquire))
        take_signals(loop, NULL);
    if (loop->nready > 0)
        run_batch(loop);
    else if (cc__stack_trim_pending())
        cc__stack_trim();
    alive = has_work(loop);
    embed_arm(loop);
    loop_leave(loop);
    return alive ? 1 : 0;
}

/* ------------------------------------------------ other layers' slots */

int cc__loop_attach(cc_loop *l, const void *key, void *ptr,
                    void (*dtor)(void *))
{
    for (int i = 0; i < CC__LOOP_SLOTS; i++) {
        if (l->slots[i].key == NULL) {
            l->slots[i].key = key;
            l->slots[i].ptr = ptr;
            l->slots[i].dtor = dtor;
            return 0;
        }
    }
    return cc__err(ENOSPC, "cc__loop_attach: no free slot on the loop");
}

void *cc__loop_attached(cc_loop *l, const void *key)
{
    for (int i = 0; i < CC__LOOP_SLOTS; i++)
        if (l->slots[i].key == key)
            return l->slots[i].ptr;
    return NULL;
}

/* Once the tasks are gone: each slot's destructor, with the loop made the
 * calling thread's current one so that it may cancel its call_later timers
 * and drop its fd watches (nothing else runs the loop now). */
static void run_slot_dtors(cc_loop *l)
{
    cc_loop *saved = cc__tls_loop;

    cc__tls_loop = l;
    for (int i = 0; i < CC__LOOP_SLOTS; i++) {
        if (l->slots[i].key != NULL && l->slots[i].dtor != NULL)
            l->slots[i].dtor(l->slots[i].ptr);
        l->slots[i].key = NULL;
    }
    cc__tls_loop = saved;
}

void cc_loop_free(cc_loop *loop)
{
    if (!loop_ok(loop) || atomic_load(&loop->running))
        return;
    loop->closing = true;
    if (loop->ntasks > 0 && !loop->quiet_free)
        cc__logf(CC_LOG_WARNING, "concur: cc_loop_free: cancelling %zu "
                                 "tasks still alive on the loop (run it "
                                 "until they are done to keep their work)",
                 loop->ntasks);
    if (loop->ntasks > 0 || loop->nready > 0 ||
        atomic_load(&loop->nremote) > 0) {
        /* Cancel what is left and let it end, as asyncio.run does.  (If
         * this thread runs another loop it cannot: the tasks are leaked,
         * which debug mode reports.) */
        cancel_all_tasks(loop);
        if (loop_run(loop, NULL, true, "cc_loop_free") != 0 && cc__debug())
            cc__debugf("cc_loop_free: %zu tasks could not be finished: %s",
                       loop->ntasks, cc_errmsg());
    }
    cc__loop_unregister(loop);
    run_slot_dtors(loop);
    cc__signal_loop_free(loop);
    cc__timers_drop(loop);
    cc__fd_free_all(loop);
    cc_executor_free(loop->own_pool); /* waits for its threads */
    /* A thread that woke one of our tasks may still be finishing its post
     * (a few instructions after the task could run). */
    while (atomic_load_explicit(&loop->posting, memory_order_acquire) != 0)
        sched_yield();
    loop->magic = 0;
    close(loop->evfd);
    close(loop->epfd);
    free(loop->heap);
    free(loop->fds);
    free(loop);
}

/* --------------------------------------------------- threads from tasks */

cc_future *cc_to_thread(cc_fn fn, void *arg)
{
    cc_loop *l = cc__tls_loop;
    cc_executor *ex;

    if (l == NULL)
        return cc__err_null(EINVAL, "cc_to_thread: no event loop runs in this "
                                    "thread");
    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_to_thread: fn is NULL");
    ex = atomic_load_explicit(&l->user_pool, memory_order_acquire);
    if (ex == NULL) {
        if (l->own_pool == NULL) {
            cc_pool_opts o = {.thread_name_prefix = "to_thread"};

            l->own_pool = cc_thread_pool_new(0, &o);
            if (l->own_pool == NULL)
                return NULL;
        }
        ex = l->own_pool;
    }
    return cc_submit(ex, fn, arg);
}

int cc_loop_set_default_executor(cc_loop *loop, cc_executor *ex)
{
    if (!loop_ok(loop))
        return cc__err(EINVAL, "cc_loop_set_default_executor: not a loop");
    atomic_store_explicit(&loop->user_pool, ex, memory_order_release);
    return 0;
}

/* ---------------------------------------------------------------- cc_run */

void cc__loop_child_detach(void)
{
    cc__tls_loop = NULL;
}

int cc_run(cc_fn main, void *arg, void **result)
{
    cc_loop *l;
    cc_future *f;
    bool handle_sigint;
    bool interrupted;
    int rc;

    if (main == NULL)
        return cc__err(EINVAL, "cc_run: main is NULL");
    if (cc__tls_loop != NULL)
        return cc__err(EBUSY, "cc_run: a loop already runs in this thread");
    l = cc_loop_new();
    if (l == NULL)
        return -1;
    f = cc__loop_spawn_by(l, main, arg, "cc_run");
    if (f == NULL) {
        l->quiet_free = true;
        cc_loop_free(l);
        return -1;
    }
    /* SIGINT cancels the main task, if nobody else handles SIGINT
     * (signal.c). */
    handle_sigint = cc__signal_run_take(l);
    rc = loop_run(l, f, false, "cc_run");
    interrupted = l->interrupted;
    if (handle_sigint)
        cc__signal_run_give(l);
    l->quiet_free = true; /* documented: leftovers are cancelled */
    cc_loop_free(l); /* cancels and finishes the other tasks */
    if (rc == 0) {
        rc = cc_future_result(f, result, 0);
        if (rc != 0 && errno == ECANCELED && interrupted)
            cc__err(ECANCELED, "interrupted by SIGINT");
    }
    cc_future_free(f);
    return rc;
}
