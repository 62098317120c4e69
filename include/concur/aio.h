/*
 * concur/aio.h - the event loop and coroutines: Python's asyncio, for C.
 *
 * A task is a stackful coroutine: an ordinary C function running on a
 * stack of its own, so "await" is just a call that suspends.  Every blocking
 * call of concur (locks, queues, futures, sleeps, fd waits...) made from a
 * task suspends only that task; its loop keeps running the others.  A task's
 * handle is a cc_future (concur/future.h): cc_future_result on it from
 * another task awaits it, from a thread blocks the thread.
 *
 * One loop per thread.  cc_run(main, arg, &result) is asyncio.run: it makes
 * a loop in the calling thread, runs main as the first task until it ends,
 * cancels whatever tasks are left, and frees the loop.
 *
 * Stacks.  A task runs on a stack of its own, 64 KiB by default
 * (cc_task_opts.stack_size; CONCUR_STACK_SIZE changes the default), not a
 * thread's 8 MiB: a task that keeps large buffers on its stack (a 64 KiB
 * array, say) needs a larger one.  A server's handlers get 256 KiB
 * (concur/net.h).  Stacks are carved from large regions of address space
 * (272 MiB each: 4,096 stacks of 64 KiB, or fewer larger ones), reserved
 * without memory and made usable a few MiB at a time as tasks need them;
 * a page of a stack costs memory only once the task touches it, so a
 * larger stack_size costs address space, not memory.  The first four
 * sizes in use are pooled this way; a fifth gets a mapping per task.  So with vm.overcommit_memory=2
 * only the stacks handed out are charged, and under an address-space limit
 * (RLIMIT_AS, ulimit -v) a region that cannot be mapped is tried at half
 * the size, down to one stack: cc_spawn fails with ENOMEM only when not
 * even one more stack can be had.  A task's stack has a guard page below
 * it; a task that runs past it is reported on stderr ("task 'x' overflowed
 * its 64 KiB stack (spawned at file.c:12)") by a SIGSEGV handler, which
 * then lets the process die of the signal.  The handler runs on an
 * alternate signal stack: a thread that runs a loop and has none gets one
 * of 64 KiB, freed when the thread ends (a thread's own, or a sanitizer's,
 * is kept).
 *
 * Timers.  A loop sleeps in epoll_pwait2, whose timeouts are nanoseconds.
 * Where that call fails with ENOSYS (Linux before 5.11, a seccomp profile
 * that does not list it), every loop of the process uses epoll_wait from
 * then on, whose timeouts are whole milliseconds rounded up: a timer or a
 * sleep may then end up to 1 ms late, never early.
 *
 * Cancellation is level-triggered (libdill, Trio): after
 * cc_future_cancel(task), the task's current blocking call and every later
 * one fail with ECANCELED until the task returns.  A task that returns NULL
 * after being cancelled ends CANCELLED; one that returns a result ends
 * FINISHED with it.  A shield scope (cc_shield_push) lets cleanup code block
 * again, within a deadline of its own.
 *
 * Cancel wins over a timeout.  A cancellation that reaches a task before
 * it has resumed from a blocking call makes that call fail with ECANCELED,
 * even when the call's deadline has passed and its timer fired in the same
 * pass of the loop: asyncio throws a cancel delivered before the task
 * resumes into it.  So when one member of a group fails and cancels its
 * siblings, a sibling whose sleep ended in that same pass is cancelled
 * too, however late a loaded machine runs the loop.  The same holds for
 * a wake-up on the locks of concur/sync.h: a Lock, RLock or Semaphore
 * acquire that was handed the lock or a unit, and a Condition wait that
 * was notified, fail ECANCELED and pass what they got to the next waiter
 * (asyncio's order).  Other calls that were handed what they waited for
 * before the cancellation reached them (a queue item, a barrier's release,
 * a finished future) return it, and the cancellation fails the next
 * blocking call.
 *
 * Signals: everything the library does with them, in one place.
 *   - What it installs on its own, and when.  (1) SIGSEGV and SIGBUS: a
 *     handler that reports a task's stack overflow (above), installed on
 *     an alternate signal stack each time a loop starts running in a
 *     thread, in front of whatever handler is there then.  (2) SIGINT:
 *     while cc_run runs, and only if SIGINT has its default disposition
 *     then, a handler that cancels cc_run's main task (asyncio.run's
 *     KeyboardInterrupt; cc_run then fails ECANCELED, "interrupted by
 *     SIGINT"); cc_run puts the default back when it returns.  (3) In a
 *     child of fork(), SIGINT handed over to a cc_run of the parent, and
 *     every signal the parent's loop handlers and waiters took, get their
 *     dispositions from before back.  Nothing else: SIGPIPE is avoided
 *     with MSG_NOSIGNAL, children are watched through pidfds.
 *   - How it chains.  A fault the overflow handler does not recognise
 *     goes to the handler installed before it (its sa_sigaction or
 *     sa_handler), or to the default action.  A program's handler
 *     installed after the library's simply runs; if it chains to the one
 *     it replaced (ours), ours passes the fault on to what came before, and
 *     a loop of handlers chaining to each other ends in the default action
 *     instead of going round.  cc_run leaves alone a SIGINT handler the
 *     program installed, before cc_run (it does not take SIGINT) or while
 *     it runs (it does not restore the default over it).
 *   - How to turn it off: cc_set_signal_handling(flags), or before that
 *     call, the environment variable CONCUR_SIGNALS ("none", or a comma
 *     list of "overflow" and "sigint"; unset or "all": both).
 *   - What the program asks for: cc_loop_add_signal_handler (a callback
 *     run on a loop's thread) and cc_signal_wait (a thread or task blocks
 *     for a signal).  Both catch the signal with one process-wide handler
 *     that only counts it and writes the eventfd of each loop that wants
 *     it (asyncio's wake-up fd): it works whichever thread the kernel
 *     delivers the signal to, where a signalfd would need the signal
 *     blocked in every thread of the process, including threads the
 *     library did not start.  The first user of a signal saves its
 *     disposition, the last one gone restores it (unless the program has
 *     replaced the library's handler meanwhile: that one stays).
 *     Signals coalesce: a callback runs at least once after each signal
 *     caught, not once per signal sent.
 *
 * Defaults (see concur/base.h): every blocking call takes `double timeout`
 * last and honours deadline scopes (cc_deadline_push is asyncio.timeout:
 * per task inside a task).  Calls that need a running loop fail with EINVAL
 * ("no event loop runs in this thread") outside one.
 */
#ifndef CONCUR_AIO_H
#define CONCUR_AIO_H

#include <signal.h>

#include "concur/base.h"
#include "concur/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An event loop, one per thread at a time: cc_run makes and frees one;
 * by hand, cc_loop_new and cc_loop_free. */
typedef struct cc_loop cc_loop;

/* ----------------------------------------------------------------- running */

/*
 * cc_run - run main(arg) as a task on a new loop in the calling thread until
 * it returns, then cancel the tasks still alive, wait for them, and free
 * the loop.  While it runs, SIGINT (if its disposition was the default)
 * cancels the main task, as asyncio.run does with KeyboardInterrupt; on
 * return the default comes back, unless the program installed a handler
 * of its own meanwhile.  CC_SIGNALS_SIGINT (cc_set_signal_handling) turns
 * this off; "Signals" at the top of this header says what else the
 * library installs.
 *
 * Returns 0 and stores main's result in *result (may be NULL).  Returns -1
 * with the main task's error (its code as errno, its message in cc_errmsg()
 * and its chain in cc_last_error()), with ECANCELED when it was cancelled
 * (by SIGINT: "interrupted by SIGINT"), with EBUSY when a loop already runs
 * in this thread, or EINVAL/ENOMEM.
 */
CC_API int cc_run(cc_fn main, void *arg, void **result);

/* Options for a task.  Zero = default. */
typedef struct cc_task_opts {
    const char *name;    /* default "Task-N" */
    size_t stack_size;   /* bytes; default 64 KiB (CONCUR_STACK_SIZE env);
                            see "Stacks" above for what it costs.  A
                            server's handlers have their own default,
                            256 KiB (cc_serve_opts.stack_size) */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_task_opts;

/*
 * cc_spawn - start fn(arg) as a new task on the calling thread's loop
 * (asyncio.create_task).  It starts running once the caller blocks or
 * yields.  Returns its future (the caller holds one reference), or NULL
 * with EINVAL (no loop runs in this thread, fn NULL), ESHUTDOWN (the loop
 * is being freed) or ENOMEM (also when no stack can be had).
 * The macro records the spawn site for debug reports.
 */
CC_API cc_future *cc_spawn(cc_fn fn, void *arg);

/* cc_spawn_opts - cc_spawn with options (opts may be NULL: the defaults).
 * The same returns and errors; the macro records the spawn site. */
CC_API cc_future *cc_spawn_opts(cc_fn fn, void *arg, const cc_task_opts *opts);

/* cc_spawn_at - cc_spawn_opts with the spawn site given (file NULL: none);
 * the cc_spawn and cc_spawn_opts macros call it. */
CC_API cc_future *cc_spawn_at(const char *file, int line, cc_fn fn, void *arg,
                              const cc_task_opts *opts);

/* The cc_spawn macro: cc_spawn_at with this file and line, no options. */
#define cc_spawn(fn, arg) cc_spawn_at(__FILE__, __LINE__, (fn), (arg), NULL)

/* The cc_spawn_opts macro: cc_spawn_at with this file and line. */
#define cc_spawn_opts(fn, arg, opts) \
    cc_spawn_at(__FILE__, __LINE__, (fn), (arg), (opts))

/*
 * cc_loop_spawn - start fn(arg) as a task on `loop`, from any thread
 * (asyncio.run_coroutine_threadsafe).  The returned future can be waited on
 * from that thread.  NULL with EINVAL (bad loop, fn NULL), ESHUTDOWN (the
 * loop is being freed), ENOMEM.
 */
CC_API cc_future *cc_loop_spawn(cc_loop *loop, cc_fn fn, void *arg);

/*
 * cc_sleep - suspend the calling task for `seconds` (a thread sleeps).
 * 0 ends at once for a thread; in a task it is cc_yield.  Returns 0, or -1
 * with ECANCELED (the task was cancelled), ETIMEDOUT (a deadline scope
 * expired first, or had expired already: cc_sleep(0) included), EINVAL
 * (negative or NaN).
 */
CC_API int cc_sleep(double seconds);

/*
 * cc_yield - let the other ready tasks run, then continue (sleep(0)).  A
 * thread calls sched_yield().  Returns 0, or -1 with ECANCELED (the task
 * was cancelled) or ETIMEDOUT (the innermost deadline scope has expired:
 * as with asyncio.timeout, where the next await raises, a loop that only
 * polls with cc_yield or cc_sleep(0) ends at its deadline).  Nothing is
 * yielded when it fails.
 */
CC_API int cc_yield(void);

/* The running task's future (borrowed), or NULL outside a task. */
CC_API cc_future *cc_current_task(void);

/* The name of a task's future ("" for other futures). */
CC_API const char *cc_task_name(cc_future *task);

/* True when the calling task has been cancelled. */
CC_API bool cc_cancelled(void);

/*
 * cc_shield_push - open a shield scope: blocking calls of the calling task
 * no longer fail because it was cancelled, but everything inside the scope
 * is bounded by `timeout` seconds (CC_FOREVER: no bound).  For cleanup that
 * must block: saying goodbye on a socket, flushing a file.  Nests.
 * Returns 0, or -1 with EINVAL (outside a task, NaN) or EOVERFLOW.
 */
CC_API int cc_shield_push(double timeout);

/* cc_shield_pop - close the innermost shield scope and its deadline: a
 * cancellation fails blocking calls again.  Does nothing outside a scope. */
CC_API void cc_shield_pop(void);

/* ----------------------------------------------------- threads from tasks */

/*
 * cc_to_thread - run a blocking fn(arg) on the calling loop's default
 * thread pool (asyncio.to_thread) and return its future: awaiting it from a
 * task suspends only the task.  The pool is made on first use (Python's
 * default size, min(32, cpus + 4)) and shut down with the loop.  NULL with
 * EINVAL (no loop runs in this thread, fn NULL), ESHUTDOWN, ENOMEM.
 *
 * Any executor works the same way from a task: cc_future_result on a
 * cc_submit future is run_in_executor plus await, with no bridge needed.
 */
CC_API cc_future *cc_to_thread(cc_fn fn, void *arg);

/*
 * cc_loop_set_default_executor - use `ex` for cc_to_thread on this loop
 * (the loop does not free it; the caller keeps ownership and frees it after
 * the loop).  NULL goes back to the loop's own pool.  0, or -1/EINVAL.
 */
CC_API int cc_loop_set_default_executor(cc_loop *loop, cc_executor *ex);

/* --------------------------------------------------------- many tasks */

/*
 * cc_gather - wait for n futures (asyncio.gather), up to `timeout`.  With
 * return_errors false, returns -1 at the first failure (its error becomes
 * the caller's; the others keep running), else 0 once all are done with
 * results[i] holding each result.  With return_errors true, waits for all
 * and returns 0; a failed or cancelled future leaves NULL in its slot.
 * To tell a NULL slot's outcome, use cc_gather_outcomes instead (or ask
 * cc_future_outcome per future).  results may be NULL.
 * Other failures, with results untouched:
 *   ETIMEDOUT  not all done at the deadline (the call's or the innermost
 *              deadline scope's); EAGAIN for timeout 0.  Nothing is
 *              cancelled: the futures run on, to gather again or cancel
 *              (asyncio.wait_for(gather(...)) would cancel them)
 *   ECANCELED  the calling task was cancelled: so is every future given
 *   EINVAL     bad arguments, a NaN timeout
 */
CC_API int cc_gather(cc_future **fs, size_t n, void **results,
                     bool return_errors, double timeout);

/*
 * cc_gather_outcomes - wait for all n futures up to `timeout`, then say
 * how each ended (asyncio.gather(..., return_exceptions=True), where each
 * slot is a value or an exception).  outs[i] is fs[i]'s cc_outcome:
 * status 0 with its result (which may legitimately be NULL), ECANCELED,
 * or the code it failed with and the error.
 *
 * Returns 0 once all are done, every slot filled.  Returns -1 with errno:
 *   ETIMEDOUT  not all done at the deadline (the call's or the innermost
 *              deadline scope's); EAGAIN for timeout 0.  outs is filled all
 *              the same -- the futures not done yet have status EINPROGRESS
 *              -- and nothing is cancelled: gather again, or cancel them
 *   ECANCELED  the calling task was cancelled: so is every future given
 *              (outs untouched)
 *   EINVAL     fs or outs NULL with n > 0, an entry not a future, a NaN
 *              timeout (outs untouched)
 * The errors in outs belong to the futures: keep the futures while
 * reading them.  From a task it suspends only the task; from a thread it
 * blocks.
 */
CC_API int cc_gather_outcomes(cc_future **fs, size_t n, cc_outcome *outs,
                              double timeout);

/*
 * cc_wait_for - wait for a future up to `timeout` (asyncio.wait_for), from
 * a task or a thread.
 *
 * At the deadline, a task's future is cancelled and waited for until it
 * has finished cancelling (that wait is not bounded); a task that swallows
 * the cancellation and returns a result makes wait_for return 0 with it,
 * as in Python.  Any other future (an executor's job: cc_to_thread,
 * cc_submit; a hand-made one) is cancelled if it has not started and
 * wait_for fails at the deadline without waiting: a running job cannot be
 * stopped, so it runs on, and its future stays valid -- await it later or
 * free it (asyncio.wait_for on run_in_executor does the same).
 *
 * Returns 0 and stores the result in *result (may be NULL).  Returns -1
 * (*result untouched) with errno:
 *   ETIMEDOUT  the deadline passed (timeout 0 included).  When the
 *              cancelled task failed with an error of its own meanwhile,
 *              that error is the cause in cc_last_error() (Python raises
 *              the task's error itself; concur keeps the code callers
 *              test for and chains the error)
 *   ECANCELED  the calling task was cancelled -- also while it waited for
 *              the timed-out task to finish cancelling, which it still
 *              does first (the awaited task is cancelled too, and keeps
 *              its outcome in its future) -- or the future was cancelled
 *   <code>     the future failed with this code before the deadline
 *   EINVAL     f is not a future
 */
CC_API int cc_wait_for(cc_future *f, void **result, double timeout);

/*
 * cc_group - a task group (asyncio.TaskGroup): tasks spawned into it are
 * waited for together; the first one that fails cancels the others, and
 * cc_group_wait reports every error.  Cancelling the group cancels its
 * tasks.  Use it from the tasks of one loop (it is not shared between
 * threads): the one that waits, and the members themselves, which may
 * spawn more members into it while the wait runs.
 */
typedef struct cc_group cc_group;

/* A new, empty group, or NULL (ENOMEM).  Free it with cc_group_free. */
CC_API cc_group *cc_group_new(void);

/*
 * cc_group_spawn - start fn(arg) as a member of the group.  Returns a
 * borrowed future (valid until cc_group_free), or NULL (no task started)
 * with errno:
 *   ESHUTDOWN  a member failed or the group was cancelled; or the group is
 *              finished: a wait has returned (asyncio: "TaskGroup is
 *              finished"; members may spawn while the wait runs, until
 *              the last member has ended)
 *   EINVAL     g is not a group, fn is NULL, no loop runs here, or the
 *              group's members run on another loop
 *   ENOMEM
 */
CC_API cc_future *cc_group_spawn(cc_group *g, cc_fn fn, void *arg);

/*
 * cc_group_wait - wait until every member has ended, including members
 * spawned while it waits, up to `timeout`.  The group is then finished:
 * later spawns fail.  Returns 0 when all succeeded.  Returns -1 when any
 * failed: errno and cc_last_error() are the first failure's, cc_errmsg()
 * says how many failed; cc_group_error(g, i) gives each one.  Also -1
 * with:
 *   ETIMEDOUT  members still run at the deadline (EAGAIN for timeout 0):
 *              nothing is cancelled and the group is not finished; wait
 *              again, or cc_group_cancel and wait (what asyncio.timeout
 *              around a TaskGroup does)
 *   ECANCELED  the group (or the waiting task) was cancelled: the members
 *              are cancelled and waited for first
 *   EINVAL     a bad group, a NaN timeout, or the caller is not a task of
 *              the members' loop while some still run
 */
CC_API int cc_group_wait(cc_group *g, double timeout);

/* How many members failed, as counted by the last cc_group_wait (0 before
 * one, or for a bad group). */
CC_API size_t cc_group_error_count(cc_group *g);

/* The error of the i-th failed member (in the order they were spawned),
 * 0 <= i < cc_group_error_count; NULL otherwise.  Owned by the group: valid
 * until the next cc_group_wait or cc_group_free. */
CC_API const cc_error *cc_group_error(cc_group *g, size_t i);

/* Cancel the group: its members are cancelled, later spawns fail with
 * ESHUTDOWN and cc_group_wait with ECANCELED.  A bad group is ignored. */
CC_API void cc_group_cancel(cc_group *g);

/* Free the group; tasks still running are cancelled and waited for.  Called
 * with members still running from outside a task of their loop, it
 * cannot wait: it cancels them, frees nothing and prints a warning on
 * stderr ("cc_group_free(...) refused"). */
CC_API void cc_group_free(cc_group *g);

/* ------------------------------------------------------------- fd waits */

enum { CC_READABLE = 1, CC_WRITABLE = 2 };

/*
 * cc_wait_fd - wait until fd is readable and/or writable (events: a mask of
 * CC_READABLE, CC_WRITABLE).  A task suspends (epoll on its loop; several
 * tasks may wait on one fd); a thread uses poll().  Returns the mask of
 * what is ready (an error or hang-up condition reports both), or -1 with
 * ETIMEDOUT, EAGAIN (timeout 0), ECANCELED, EBADF (not an open fd), EINVAL.
 */
CC_API int cc_wait_fd(int fd, int events, double timeout);

/* ---------------------------------------------------- loops by hand */

/* A loop for the calling thread (it runs in whichever thread runs it, one
 * at a time).  NULL with ENOMEM or EMFILE.  Free it with cc_loop_free: a
 * loop never freed that still has tasks at exit is reported in the
 * library's log (their work is lost: nothing can run them then). */
CC_API cc_loop *cc_loop_new(void);

/* Run until f is done (asyncio's run_until_complete).  0, or -1 with
 * EBUSY (another loop runs in this thread, or this one elsewhere), EINVAL. */
CC_API int cc_loop_run_until_done(cc_loop *loop, cc_future *f);

/* Run until cc_loop_stop.  0, or -1 with EBUSY/EINVAL. */
CC_API int cc_loop_run_forever(cc_loop *loop);

/* Ask the loop to return from run_forever / run_until_done (any thread). */
CC_API int cc_loop_stop(cc_loop *loop);

/*
 * Inside another program's event loop (GLib, Qt, libuv, a poll() loop of
 * your own), as libuv's uv_backend_fd, uv_backend_timeout and uv_run with
 * UV_RUN_NOWAIT.  The host watches cc_loop_backend_fd for readability,
 * sleeps no longer than cc_loop_backend_timeout, and then calls
 * cc_loop_run_once(loop, 0):
 *
 *     struct pollfd p = {cc_loop_backend_fd(loop), POLLIN, 0};
 *     while (cc_loop_run_once(loop, 0) == 1) {
 *         double t = cc_loop_backend_timeout(loop);
 *         poll(&p, 1, t < 0 ? -1 : (int)ceil(t * 1000));
 *     }
 *
 * Between passes the loop runs in no thread: cc_loop_current() is NULL
 * there, so the host hands it work with cc_loop_spawn and
 * cc_loop_call_soon_threadsafe (from its own thread too), not cc_spawn or
 * cc_loop_call_soon.  Finish with cc_loop_free, which cancels and runs the
 * tasks still alive to their end, in the calling thread.
 */

/*
 * cc_loop_backend_fd - the loop's epoll descriptor, for a host loop to
 * watch: it becomes readable when the loop has I/O to handle (an fd a
 * task waits on is ready) or another thread handed it work
 * (cc_loop_spawn, cc_loop_call_soon_threadsafe, a task woken from another
 * thread, cc_loop_stop).  Timers and work already queued do not make it
 * readable: cc_loop_backend_timeout covers them.  Readability is level-
 * triggered: it lasts until cc_loop_run_once has handled the events.
 *
 * The loop owns the descriptor: do not read, close or register fds in it;
 * it stays the same for the loop's life and is closed by cc_loop_free.
 * Any thread may call it.  Returns the fd, or -1 with EINVAL (not a loop).
 */
CC_API int cc_loop_backend_fd(cc_loop *loop);

/*
 * cc_loop_backend_timeout - how long a host loop may sleep, in seconds,
 * before it must call cc_loop_run_once again (unless the backend fd
 * becomes readable first): 0 when the loop has work ready (tasks to
 * resume, callbacks, posts from other threads, a pending cc_loop_stop) or
 * a timer that is due; the time until its next timer (a sleep, a timeout,
 * a call_later); CC_FOREVER (negative) when no timer is armed -- only the
 * fd can then wake it.  Round a conversion to milliseconds up, or the host
 * wakes before the timer is due and only goes round once more.
 *
 * Call it from the thread that drives the loop, between passes (or from a
 * task or callback of the loop).  On error it returns 0, so that the host
 * calls cc_loop_run_once, which reports the error too, and sets errno:
 * EINVAL (not a loop), EBUSY (the loop runs in another thread).
 */
CC_API double cc_loop_backend_timeout(cc_loop *loop);

/*
 * cc_loop_run_once - one pass of the loop in the calling thread, then
 * return: wait up to `timeout` seconds for I/O, a post from another thread
 * or the next timer (0: do not wait at all, libuv's UV_RUN_NOWAIT;
 * CC_FOREVER: as long as it takes), then run what is ready: what other
 * threads posted, the expired timers, the callbacks and the tasks that
 * were ready (each until it blocks, yields or ends; what they make ready
 * runs in the next pass).  It does not wait when work is ready already,
 * when a cc_loop_stop is pending (which it takes, so the stop does not
 * reach a later cc_loop_run_forever) or when the loop has nothing that
 * could ever become ready (no task, timer or post).
 *
 * While the pass runs the loop is the thread's current loop (cc_spawn,
 * cc_sleep, cc_wait_fd and cancellation work in its tasks as under
 * cc_loop_run_forever); a task's stack and state are kept between passes.
 * Call it from the thread that drives the loop; a loop driven by passes
 * may later be run by cc_loop_run_until_done or freed by cc_loop_free.
 *
 * Returns 1 while the loop has something left (tasks alive, even blocked
 * ones; ready work; armed timers; posts not yet taken), 0 when it has
 * nothing, or -1 with errno: EBUSY (a loop already runs in this thread:
 * called from a task or callback; or this loop runs in another thread),
 * EINVAL (not a loop, a NaN timeout).
 */
CC_API int cc_loop_run_once(cc_loop *loop, double timeout);

/* Cancel the loop's tasks, run until they end, and free it.  Must not be
 * called while the loop runs.  Tasks still alive are cancelled loudly: one
 * line in the library's log says how many (run the loop until they are
 * done to keep their work; cc_run cancels its leftovers quietly). */
CC_API void cc_loop_free(cc_loop *loop);

/* The loop running in this thread, or NULL. */
CC_API cc_loop *cc_loop_current(void);

/* Callbacks (plain functions, not tasks) run by the loop.  call_soon and
 * call_later from the loop's own thread (tasks or callbacks of that loop);
 * call_soon_threadsafe from anywhere.  0, or -1 with EINVAL/ENOMEM. */
typedef void (*cc_callback_fn)(void *arg);

/* cc_loop_call_soon - run fn(arg) on the loop's next pass, from the loop's
 * own thread.  Returns 0, or -1 with EINVAL (bad loop, fn NULL, another
 * thread: use cc_loop_call_soon_threadsafe) or ENOMEM. */
CC_API int cc_loop_call_soon(cc_loop *loop, cc_callback_fn fn, void *arg);

/* cc_loop_call_soon_threadsafe - the same, from any thread (it wakes the
 * loop).  Returns 0, or -1 with EINVAL (bad loop, fn NULL) or ENOMEM. */
CC_API int cc_loop_call_soon_threadsafe(cc_loop *loop, cc_callback_fn fn,
                                        void *arg);

/* A pending call_later, for cc_timer_cancel. */
typedef struct cc_timer cc_timer;

/* cc_loop_call_later - run fn(arg) after `delay` seconds, from the loop's
 * own thread.  Returns a handle for cc_timer_cancel (valid until the
 * callback has run or been cancelled; the loop frees it), or NULL with
 * EINVAL (bad loop, fn NULL, another thread, delay < 0 or NaN) or ENOMEM. */
CC_API cc_timer *cc_loop_call_later(cc_loop *loop, double delay,
                                    cc_callback_fn fn, void *arg);
/* Cancel a pending call_later; true when it will not run. */
CC_API bool cc_timer_cancel(cc_timer *t);

/* A loop's signal callback: fn(signum, arg), run on the loop's thread. */
typedef void (*cc_signal_fn)(int signum, void *arg);

/*
 * cc_loop_add_signal_handler - run fn(signum, arg) on the loop's thread
 * whenever signal signum arrives (asyncio's loop.add_signal_handler).
 *
 * The callback runs in the loop, between its tasks, not in signal
 * context: it may call anything a loop callback may (spawn, cancel, set
 * events, stop the loop).  The signal is caught by the library's handler
 * whichever thread the kernel delivers it to (kill(2) to the process,
 * raise(3) or pthread_kill(3) in any thread); that handler marks it
 * pending on this loop and wakes it.  Signals coalesce: the callback runs
 * at least once after any number of signum caught since it last ran, not
 * once per signal.  A loop that does not run keeps the signal pending
 * until it runs.  Several loops may handle the same signal: each runs its
 * callback.  A second add for the same loop and signal replaces fn and
 * arg.
 *
 * The first handler or waiter (cc_signal_wait) of signum in the process
 * saves its disposition; removing the last one (or freeing its loop)
 * restores it.  A handler for SIGINT takes precedence over cc_run's
 * hand-over of SIGINT (cc_run only takes a SIGINT left at its default),
 * and removing it gives SIGINT back to what it was.
 *
 * Thread safety: may be called from any thread, the loop running or not.
 * Returns 0, or -1 with errno: EINVAL (loop not a loop, fn NULL, signum
 * not a signal number, SIGKILL or SIGSTOP (cannot be caught), SIGSEGV,
 * SIGBUS, SIGILL or SIGFPE (a fault must be handled where it happens),
 * or a signal the C library reserves (32 up to SIGRTMIN)), ENOSPC (64
 * loops already handle or wait for signals), ENOMEM, or sigaction's
 * error.
 */
CC_API int cc_loop_add_signal_handler(cc_loop *loop, int signum,
                                      cc_signal_fn fn, void *arg);

/*
 * cc_loop_remove_signal_handler - stop handling signum on this loop
 * (asyncio's loop.remove_signal_handler).  When no loop handles it and no
 * cc_signal_wait waits for it any more, signum gets back the disposition
 * it had before the first (unless the program installed a handler of its
 * own since: that one stays).  A signal already pending on the loop is
 * dropped.  cc_loop_free removes every handler of its loop.  Any thread.
 * Returns 1 when a handler was removed, 0 when the loop had none for
 * signum, or -1 with EINVAL (loop not a loop, signum invalid as for
 * cc_loop_add_signal_handler).
 */
CC_API int cc_loop_remove_signal_handler(cc_loop *loop, int signum);

/*
 * cc_signal_wait - wait until one of the signals in `set` arrives, and
 * return its number (Python's signal.sigwait, without blocking the signal;
 * in asyncio, an Event a loop handler sets).
 *
 * From a task it suspends only the calling task; from a thread it blocks
 * the thread.  The signals need not be blocked: the library catches them
 * with its handler while at least one waiter waits (as for
 * cc_loop_add_signal_handler, saving the disposition and restoring it
 * when the last waiter leaves).  Between waits a signal has its own
 * disposition again: to let none kill the process, give it a handler (a
 * loop handler, or SIG_IGN) for as long as waits may come.
 *
 * Who gets a delivery: every waiter whose set contains the signal and
 * that was already waiting when the library's handler caught it (a
 * broadcast, like an asyncio Event set by a loop handler).  A signal
 * caught before a waiter started is not seen by it.  When several signals
 * of the set arrived, the lowest-numbered is returned; the others are not
 * kept for a later call.
 *
 * timeout: seconds (CC_FOREVER waits forever; 0 does not wait: EAGAIN,
 * since only signals caught during the wait count), clamped by the
 * caller's deadline scopes.
 *
 * Returns the signal number, or -1 with errno: EINVAL (set NULL or empty,
 * or holding a signal cc_loop_add_signal_handler refuses; timeout NaN),
 * EAGAIN (timeout 0), ETIMEDOUT, ECANCELED (the calling task was
 * cancelled and no signal arrived first: one that did is returned, and
 * the cancellation fails the next blocking call), ENOSPC, ENOMEM.
 * Thread safety: any number of threads and tasks may wait at once.
 */
CC_API int cc_signal_wait(const sigset_t *set, double timeout);

/* cc_set_signal_handling flag: the SIGSEGV/SIGBUS handler that reports a
 * task's stack overflow. */
#define CC_SIGNALS_OVERFLOW 1u
/* cc_set_signal_handling flag: cc_run's SIGINT hand-over (SIGINT cancels
 * the main task). */
#define CC_SIGNALS_SIGINT 2u
/* cc_set_signal_handling flags: all of the library's own handlers (the
 * default). */
#define CC_SIGNALS_ALL (CC_SIGNALS_OVERFLOW | CC_SIGNALS_SIGINT)

/*
 * cc_set_signal_handling - choose which of the library's own signal
 * handlers it installs (see "Signals" at the top of this header):
 * CC_SIGNALS_OVERFLOW, CC_SIGNALS_SIGINT, both (CC_SIGNALS_ALL, the
 * default) or 0 for none.  It overrides CONCUR_SIGNALS from then on.
 *
 * Turning CC_SIGNALS_OVERFLOW off puts SIGSEGV's and SIGBUS's previous
 * dispositions back where the library's handler is still installed (a
 * stack overflow then ends the process with a plain SIGSEGV, unreported)
 * and no loop installs it again.  Turning CC_SIGNALS_SIGINT off gives
 * SIGINT back to its default at once if a cc_run holds it, and later
 * cc_runs leave SIGINT alone.  Handlers the program asked for
 * (cc_loop_add_signal_handler, cc_signal_wait) are not affected.
 *
 * Thread safety: any thread; best called before the first loop runs.
 * Returns the flags in force before the call (>= 0), or -1 with EINVAL
 * (a flag other than the CC_SIGNALS_* ones).
 */
CC_API int cc_set_signal_handling(unsigned flags);

/* Debug aid: report each task's peak stack use on stderr when it ends
 * (also CONCUR_DEBUG_STACKS=1).  Costs a madvise per task: debugging only. */
CC_API void cc_set_debug_stacks(bool on);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_AIO_H */
