/*
 * concur/sync.h - threads, thread timers, Lock, RLock, Condition,
 * Semaphore, Event, Barrier and thread-local values: Python's `threading`,
 * for C.
 *
 * Defaults for this header (see concur/base.h for the shared conventions):
 *   - Every object is thread-safe.
 *   - Every blocking call takes `double timeout` last (CC_FOREVER: no limit,
 *     0: do not wait) and is bounded by the caller's deadline scope
 *     (cc_deadline_push).  0 with the resource unavailable gives EAGAIN;
 *     a timeout that expires gives ETIMEDOUT.  A NaN timeout gives EINVAL.
 *   - Ownership of a Lock or RLock belongs to the thread that took it.
 *   - Passing NULL, a freed object or an object of another type gives EINVAL
 *     (checked with a magic number), never a crash.
 *   - Freeing an object while another thread still uses it is a bug of the
 *     caller; free only after every user is done.
 */
#ifndef CONCUR_SYNC_H
#define CONCUR_SYNC_H

#include "concur/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- threads */

/* A thread handle: cc_thread_start makes it, cc_thread_free releases it. */
typedef struct cc_thread cc_thread;

/*
 * cc_thread_start - start fn(arg) in a new thread.
 *
 * `name` (copied; NULL gives "Thread-N" as in Python) names the thread in
 * error places and in the OS (pthread_setname_np, cut to 15 bytes: visible
 * in top -H, gdb and /proc).  The thread ends when fn returns; fn fails the
 * thread by returning cc_fail(...), and cc_thread_join() then hands that
 * error to the joiner: an error in a thread is never lost.
 *
 * Returns the thread, or NULL with errno EINVAL (fn is NULL), EAGAIN (the
 * system could not create a thread) or ENOMEM.  The caller owns the handle
 * and frees it with cc_thread_free() (which does not stop the thread).
 */
CC_API cc_thread *cc_thread_start(cc_fn fn, void *arg, const char *name);

/*
 * cc_thread_join - wait for a thread to end and collect its outcome.
 *
 * Waits up to `timeout`.  When the thread returned normally, stores fn's
 * result in *result (if result is not NULL) and returns 0.  When it failed
 * with cc_fail, returns -1 with errno = that error's code; cc_errmsg() gives
 * its message and cc_thread_error() / cc_last_error() the whole error with
 * its cause chain.  May be called again, from any thread: it gives the same
 * outcome each time.
 *
 * Other errors (-1): ETIMEDOUT (still running; join again later), EAGAIN
 * (timeout 0 and still running), EDEADLK (a thread joining itself), EINVAL.
 */
CC_API int cc_thread_join(cc_thread *t, void **result, double timeout);

/* The error the thread failed with, once it ended; NULL if it succeeded or
 * still runs.  Owned by the thread handle. */
CC_API const cc_error *cc_thread_error(cc_thread *t);

/* The thread's name ("" for NULL).  Owned by the handle. */
CC_API const char *cc_thread_name(const cc_thread *t);

/* True until the thread's function has returned. */
CC_API bool cc_thread_is_alive(cc_thread *t);

/*
 * cc_thread_free - release the handle.  A thread still running goes on
 * detached and cleans up after itself.  In debug mode, a thread that failed
 * and whose error nobody retrieved (by joining) is reported on stderr.
 */
CC_API void cc_thread_free(cc_thread *t);

/* The calling thread's name ("MainThread" for the main thread). */
CC_API const char *cc_thread_current_name(void);

/* Rename the calling thread (library name, OS name, and the name
 * cc_thread_enumerate lists).  Called from a task, it renames the task and
 * its loop thread's OS name, not the thread's listed name.  -1/EINVAL on
 * NULL. */
CC_API int cc_thread_set_current_name(const char *name);

/* ------------------------------------------------- which threads are alive */

/*
 * cc_thread_ident - the calling thread's id (threading.get_ident and
 * get_native_id): the OS thread id, as top -H, gdb and /proc/<pid>/task
 * show it.  Stable while the thread lives; the system may give it to a
 * thread started after this one ended.  Called from a task, it is the id of
 * the thread running the task's loop.  Never fails.
 */
CC_API unsigned long cc_thread_ident(void);

/*
 * cc_thread_main_ident - the main thread's id (threading.main_thread()'s
 * ident): the process id, which is the id of the thread main() ran on.
 * In a child made by fork() (cc_process_start included), the thread that
 * forked is the child's only thread and its main thread, as in Python.
 * Never fails.
 */
CC_API unsigned long cc_thread_main_ident(void);

/* True when called from the main thread (threading.current_thread() is
 * threading.main_thread()).  Never fails. */
CC_API bool cc_thread_is_main(void);

/* The size of cc_thread_info's name, its NUL included. */
#define CC_THREAD_NAME_MAX 32

/*
 * cc_thread_info - one live thread as cc_thread_enumerate saw it: a copy,
 * owned by the caller, that stays as it was when the thread ends or is
 * renamed.
 */
typedef struct cc_thread_info {
    unsigned long ident;                /* its cc_thread_ident() */
    char name[CC_THREAD_NAME_MAX];      /* its name then ("MainThread"...) */
    bool is_main;                       /* the main thread (listed first) */
    unsigned long long reserved[4];     /* zeroed: room for more fields */
} cc_thread_info;

/*
 * cc_thread_enumerate - the live threads (threading.enumerate()): the main
 * thread first, then every thread started with cc_thread_start (pool
 * workers, thread timers and the library's own threads included) whose
 * function has not returned yet, in the order they began to run (not
 * necessarily the order of their cc_thread_start calls).  Threads created
 * some other way are not listed (Python lists them once they asked for
 * their threading object; C code has no such moment).
 *
 * Fills out[0 .. max-1] with a snapshot taken at one moment: a thread that
 * starts or ends meanwhile is either wholly in it or not at all, and one
 * whose cc_thread_join has returned is never in it.  Returns how many
 * threads were alive, which may exceed max (then only max were written:
 * call again with more room); cc_thread_enumerate(NULL, 0) is
 * threading.active_count().  Returns -1 with EINVAL when out is NULL and
 * max is not 0.  Does not block (it takes a short internal lock).
 */
CC_API long cc_thread_enumerate(cc_thread_info *out, size_t max);

/* ------------------------------------------------------------ thread timers */

/*
 * cc_thread_timer - fn(arg) run on a new thread after a delay, unless
 * cancelled first (threading.Timer).  Not to be confused with cc_timer
 * (concur/aio.h), a callback run by an event loop on the loop's own thread.
 * cc_thread_timer_new makes it, cc_thread_timer_start starts the countdown,
 * cc_thread_timer_free releases it.
 */
typedef struct cc_thread_timer cc_thread_timer;

/*
 * cc_thread_timer_new - a timer that, once started, runs fn(arg) on a new
 * thread `interval` seconds later (threading.Timer(interval, fn)).
 *
 * Nothing runs until cc_thread_timer_start.  `name` (copied; NULL gives
 * "Thread-N") names the timer's thread as cc_thread_start's name does; fn
 * fails by returning cc_fail(...), and cc_thread_timer_join hands that
 * error over as cc_thread_join does.
 *
 * Returns the timer, or NULL with errno EINVAL (fn is NULL, interval is
 * negative or NaN) or ENOMEM.  The caller owns it and frees it with
 * cc_thread_timer_free().
 */
CC_API cc_thread_timer *cc_thread_timer_new(double interval, cc_fn fn,
                                            void *arg, const char *name);

/*
 * cc_thread_timer_start - start the timer's thread; fn runs `interval`
 * seconds from now unless cc_thread_timer_cancel comes first.
 *
 * A timer cancelled before it was started starts no thread: the call
 * returns 0 and the timer is over at once (as in Python, whose cancelled
 * Timer thread ends without calling fn).
 *
 * Returns 0, or -1 with errno EINVAL (started before, or not a timer) or
 * EAGAIN (the system could not create a thread; the timer can be started
 * again later).
 */
CC_API int cc_thread_timer_start(cc_thread_timer *t);

/*
 * cc_thread_timer_cancel - stop the timer if fn has not started yet
 * (Timer.cancel).  Never blocks; call it from any thread or task, before or
 * after start, and as often as you like.
 *
 * Returns 0 when fn will never run: this call cancelled the timer, or an
 * earlier one did.  Returns -1 with errno EALREADY when fn has started (it
 * may still be running, or have returned): the cancel came too late, and
 * Python's silent no-op is made visible.  EINVAL: not a timer.  Exactly
 * one of "fn ran" and "a cancel returned 0" happens for every timer.
 */
CC_API int cc_thread_timer_cancel(cc_thread_timer *t);

/*
 * cc_thread_timer_join - wait until the timer is over: fn has returned, or
 * the timer was cancelled.
 *
 * Waits up to `timeout`.  Returns 0 once over: *result (if result is not
 * NULL) gets fn's result, or NULL when the timer was cancelled (tell the
 * two apart with cc_thread_timer_cancelled).  When fn failed with cc_fail,
 * returns -1 with errno = that error's code, the error itself being the
 * caller's cc_last_error(), as cc_thread_join.  May be called again, from
 * any thread or task: it gives the same outcome each time.
 *
 * Other errors (-1): ETIMEDOUT (not over yet; join again later), EAGAIN
 * (timeout 0 and not over), ECANCELED (the calling task was cancelled),
 * EDEADLK (called from fn itself), EINVAL (not a timer, NaN timeout, or
 * neither started nor cancelled: such a timer would never be over).
 */
CC_API int cc_thread_timer_join(cc_thread_timer *t, void **result,
                                double timeout);

/* True when the timer was cancelled before fn started (a snapshot: false
 * while it counts down).  False for NULL or a non-timer. */
CC_API bool cc_thread_timer_cancelled(cc_thread_timer *t);

/*
 * cc_thread_timer_free - release the timer; NULL does nothing.  A timer
 * still counting down is cancelled first (fn will not run once this call
 * has begun, and its thread ends at once); one whose fn is running goes on
 * detached and cleans up after itself, as cc_thread_free's thread does.
 */
CC_API void cc_thread_timer_free(cc_thread_timer *t);

/* ------------------------------------------------------------------- Lock */

/*
 * cc_lock - a mutual-exclusion lock with timeouts and an owner
 * (threading.Lock).  Unlike Python's Lock, only the owner may release it.
 * Not recursive: acquiring it again from its owner fails with EDEADLK rather
 * than hanging.  Uncontended acquire + release is two atomic operations.
 *
 * Fair as asyncio.Lock is: waiters are served first come, first served.
 * A release that finds waiters parked hands the lock to the oldest one
 * (before it has even run), so a newcomer -- the releaser coming back
 * included -- queues behind them; only while nobody is parked does the lock
 * go to whoever asks first (a thread spins briefly before it parks, which
 * keeps short critical sections fast).  threading.Lock promises no order;
 * concur picks asyncio's because a task is never preempted: with a lock a
 * newcomer could take, a task that releases and re-acquires in a loop
 * starved the other tasks of its loop for good (measured: 500 turns to 0),
 * while threads lost nothing measurable in bench/bench_lock.  A lock handed
 * to a task is the task's from then on: it runs when that task's loop runs
 * it.
 */
typedef struct cc_lock cc_lock;

/* A new unlocked lock, or NULL (ENOMEM). */
CC_API cc_lock *cc_lock_new(void);

/*
 * cc_lock_acquire - take the lock, waiting up to `timeout`.
 * Returns 0; or -1 with EAGAIN (timeout 0 and held; it is held while
 * waiters are queued), ETIMEDOUT, ECANCELED (the calling task was
 * cancelled -- also after a release had handed it the lock but before it
 * could run: the lock then goes to the next waiter, as in asyncio),
 * EDEADLK (the caller already holds it), EINVAL.
 */
CC_API int cc_lock_acquire(cc_lock *l, double timeout);

/*
 * cc_lock_release - release the lock; with waiters, hand it to the oldest.
 * Returns 0; or -1 with EPERM (the caller does not hold it, including when
 * it is not locked at all), EINVAL.
 */
CC_API int cc_lock_release(cc_lock *l);

/* True while somebody holds the lock (a snapshot). */
CC_API bool cc_lock_locked(cc_lock *l);

/* True when the calling thread holds the lock. */
CC_API bool cc_lock_owned(cc_lock *l);

/* Free an unlocked lock; NULL does nothing.  Freeing a held lock is a bug. */
CC_API void cc_lock_free(cc_lock *l);

/* ------------------------------------------------------------------ RLock */

/*
 * cc_rlock - a reentrant lock (threading.RLock): its owner may acquire it
 * again; it is free once released as many times as acquired.
 */
typedef struct cc_rlock cc_rlock;

/* A new unlocked reentrant lock, or NULL (ENOMEM). */
CC_API cc_rlock *cc_rlock_new(void);

/* cc_rlock_acquire - take the lock (again, for its owner), waiting up to
 * `timeout`.  Returns 0; or -1 with EAGAIN (timeout 0, held by another),
 * ETIMEDOUT, ECANCELED (as cc_lock_acquire), EOVERFLOW (acquired more than
 * UINT_MAX times), EINVAL.  Waiters are served in order, as cc_lock's. */
CC_API int cc_rlock_acquire(cc_rlock *l, double timeout);

/* cc_rlock_release - undo one acquire; the lock is free once the depth is 0.
 * Returns 0; or -1 with EPERM (the caller does not hold it), EINVAL. */
CC_API int cc_rlock_release(cc_rlock *l);

/* How many times the calling thread holds it (0 when it does not). */
CC_API unsigned cc_rlock_depth(cc_rlock *l);

/* Free the lock; NULL does nothing.  Freeing a held lock is a bug. */
CC_API void cc_rlock_free(cc_rlock *l);

/* -------------------------------------------------------------- Condition */

/*
 * cc_cond - a condition variable bound to one Lock or RLock
 * (threading.Condition).  Waiting and notifying require holding that lock.
 */
typedef struct cc_cond cc_cond;

/*
 * cc_cond_new - a condition on `lock`; with lock NULL it makes (and owns)
 * its own plain cc_lock.  That default differs from threading.Condition(),
 * which makes an RLock, and matches asyncio.Condition(), which makes a
 * Lock: the one primitive serves both, and a plain lock makes a nested
 * acquire by the owner fail with EDEADLK where an RLock would let code
 * that re-enters by mistake run on unnoticed.  For threading's behaviour,
 * pass an RLock with cc_cond_new_rlock.
 * Returns NULL with ENOMEM, or EINVAL when lock is not a lock.
 */
CC_API cc_cond *cc_cond_new(cc_lock *lock);

/* A condition on a reentrant lock (not owned): threading.Condition()'s
 * default.  NULL with EINVAL (not an rlock) or ENOMEM. */
CC_API cc_cond *cc_cond_new_rlock(cc_rlock *lock);

/* Acquire the condition's lock: the lock's returns and errors (as
 * cc_lock_acquire or cc_rlock_acquire); EINVAL when c is not a condition. */
CC_API int cc_cond_acquire(cc_cond *c, double timeout);

/* Release the condition's lock: the lock's returns and errors (as
 * cc_lock_release or cc_rlock_release); EINVAL when c is not a condition. */
CC_API int cc_cond_release(cc_cond *c);

/*
 * cc_cond_wait - release the lock, wait for a notify or the timeout, take the
 * lock back.  An RLock held several times is released fully and restored to
 * the same depth.  Taking the lock back has no deadline and is not cut
 * short by a cancellation: as in Python, the wait always returns holding
 * the lock.
 *
 * Returns 0 when notified (spurious wake-ups do not happen, but the state you
 * wait for may have changed again: re-check it, or use cc_cond_wait_for).
 * Returns -1 with errno:
 *   ETIMEDOUT  no notify came in time
 *   ECANCELED  the calling task was cancelled before the wait returned --
 *              even after a notify, while it waited to take the lock back
 *              (asyncio re-raises CancelledError once it holds the lock);
 *              the notify it took is then passed to the next waiter
 *   EPERM      the caller does not hold the lock
 *   EINVAL     c is not a condition, or the timeout is NaN
 * On return the caller holds the lock again, in every case but EPERM and
 * EINVAL (and an ECANCELED from a task cancelled before it called: it
 * never let the lock go).
 */
CC_API int cc_cond_wait(cc_cond *c, double timeout);

/*
 * cc_cond_wait_for - wait until pred(arg) is true, with one overall deadline
 * for all the waits.  pred is called with the lock held, first before any
 * wait.  Returns 0 when pred became true; -1 with ETIMEDOUT (pred still
 * false), ECANCELED (as cc_cond_wait), EPERM or EINVAL.  The caller holds
 * the lock on return (but after EPERM or EINVAL).
 */
CC_API int cc_cond_wait_for(cc_cond *c, bool (*pred)(void *arg), void *arg,
                            double timeout);

/* Wake up to n waiters (oldest first).  -1 with EPERM when the caller does not
 * hold the lock, EINVAL. */
CC_API int cc_cond_notify(cc_cond *c, unsigned n);

/* Wake every waiter.  Same errors. */
CC_API int cc_cond_notify_all(cc_cond *c);

/* Free the condition (and its lock if it made it).  No waiter may remain. */
CC_API void cc_cond_free(cc_cond *c);

/* -------------------------------------------------------------- Semaphore */

/*
 * cc_sem - a counting semaphore (threading.Semaphore); bounded, it refuses
 * to be released above its initial value (threading.BoundedSemaphore).
 * Waiters are served first come, first served, in asyncio's order: a
 * release hands its unit to the oldest waiter, and a newcomer never
 * overtakes one.
 */
typedef struct cc_sem cc_sem;

/* A semaphore holding `value` units, or NULL (ENOMEM). */
CC_API cc_sem *cc_sem_new(unsigned value);

/* A bounded semaphore holding `value` units, never more (release fails
 * above it), or NULL (ENOMEM). */
CC_API cc_sem *cc_sem_new_bounded(unsigned value);

/*
 * cc_sem_acquire - take one unit, waiting up to `timeout`.  Returns 0; or
 * -1 with EAGAIN (timeout 0, none free), ETIMEDOUT, ECANCELED (the calling
 * task was cancelled -- also when a release had handed it a unit before it
 * could run: the unit then goes to the next waiter, as in asyncio), EINVAL.
 */
CC_API int cc_sem_acquire(cc_sem *s, double timeout);

/* Give one unit back, waking a waiter.  -1 with EINVAL when a bounded
 * semaphore would go above its initial value ("semaphore released too many
 * times") or the counter would overflow; nothing changes then. */
CC_API int cc_sem_release(cc_sem *s);

/* Give n units back at once (all or nothing); same errors. */
CC_API int cc_sem_release_n(cc_sem *s, unsigned n);

/* The current value (a snapshot). */
CC_API unsigned cc_sem_value(cc_sem *s);

/* Free the semaphore; NULL does nothing.  No waiter may remain. */
CC_API void cc_sem_free(cc_sem *s);

/* ------------------------------------------------------------------ Event */

/* cc_event - a flag threads can wait for (threading.Event); starts clear. */
typedef struct cc_event cc_event;

/* A new event, its flag clear, or NULL (ENOMEM). */
CC_API cc_event *cc_event_new(void);

/* Set the flag and wake every waiter.  -1/EINVAL on a bad handle. */
CC_API int cc_event_set(cc_event *e);

/* Clear the flag.  -1/EINVAL on a bad handle. */
CC_API int cc_event_clear(cc_event *e);

/* True when the flag is set (a snapshot); false for a bad handle. */
CC_API bool cc_event_is_set(cc_event *e);

/* Wait until the flag is set.  Returns 0 (set), or -1 with EAGAIN (timeout 0
 * and clear), ETIMEDOUT, EINVAL. */
CC_API int cc_event_wait(cc_event *e, double timeout);

/* Free the event; NULL does nothing.  No waiter may remain. */
CC_API void cc_event_free(cc_event *e);

/* ---------------------------------------------------------------- Barrier */

/*
 * cc_barrier - a meeting point for a fixed number of parties
 * (threading.Barrier), reusable wave after wave.
 *
 * When the last party arrives, `action(arg)` (if given) runs in that party's
 * thread before anybody is released; a non-zero return breaks the barrier.
 * A broken barrier (by abort(), a failing action, or a waiter whose timeout
 * expired) fails every current and later wait with EPIPE until reset().
 *
 * A timeout breaks the barrier, as in threading.Barrier (a wave that cannot
 * complete in time should not trap the others).  A cancelled task breaks
 * nothing, as in asyncio.Barrier: it leaves its wave, whose count drops by
 * one, and a later arrival takes its place.  (asyncio has no timeout of
 * its own, so its timeouts are cancellations and break nothing either;
 * concur keeps threading's rule for every timeout, deadline scopes
 * included.)
 */
typedef struct cc_barrier cc_barrier;

/* The action run by the last party to arrive; non-zero breaks the barrier. */
typedef int (*cc_barrier_action)(void *arg);

/* cc_barrier_new - a barrier for `parties` parties that runs action(arg)
 * (action may be NULL) as each wave completes.  NULL with EINVAL when
 * parties is 0, ENOMEM. */
CC_API cc_barrier *cc_barrier_new(unsigned parties, cc_barrier_action action,
                                  void *arg);

/*
 * cc_barrier_wait - arrive and wait for the others.
 *
 * Returns this party's arrival index, 0 .. parties-1 (the last to arrive gets
 * parties-1 and ran the action), different for each party of a wave: the
 * parties released are numbered in the order they arrived, not counting
 * those that left (asyncio, which numbers at arrival, can give an index
 * twice after a cancellation).  Returns -1 with EPIPE (the barrier is or
 * became broken), ETIMEDOUT (this call's timeout expired: the barrier is
 * now broken for the others), ECANCELED (the calling task was cancelled: it
 * left the wave, and the barrier is not broken; a party whose wave was
 * already released when the cancellation reached it gets its index), EINVAL.
 */
CC_API int cc_barrier_wait(cc_barrier *b, double timeout);

/* Break the barrier: current and later waits fail with EPIPE.  Returns 0,
 * or -1 with EINVAL. */
CC_API int cc_barrier_abort(cc_barrier *b);

/* Return to the initial state; parties waiting right now get EPIPE.
 * Returns 0, or -1 with EINVAL. */
CC_API int cc_barrier_reset(cc_barrier *b);

/* True while the barrier is broken (a snapshot); false for a bad handle. */
CC_API bool cc_barrier_broken(cc_barrier *b);

/* The number of parties it was made for; 0 for a bad handle. */
CC_API unsigned cc_barrier_parties(cc_barrier *b);

/* Parties waiting in the current wave (a snapshot). */
CC_API unsigned cc_barrier_n_waiting(cc_barrier *b);

/* Free the barrier; NULL does nothing.  No party may be waiting. */
CC_API void cc_barrier_free(cc_barrier *b);

/* ----------------------------------------------------- thread-local values */

/*
 * cc_tls - one value per thread (threading.local).  The destructor, if any,
 * runs on a thread's non-NULL value when that thread ends (not for the value
 * of a thread still running when cc_tls_free is called).
 */
typedef struct cc_tls cc_tls;

/* NULL with EAGAIN when the system is out of thread-local keys, ENOMEM. */
CC_API cc_tls *cc_tls_new(void (*destructor)(void *value));

/* The calling thread's value; NULL when never set (or a bad handle). */
CC_API void *cc_tls_get(cc_tls *t);

/* Replace the calling thread's value (the old one is NOT destroyed).
 * Returns 0; -1 with EINVAL or ENOMEM. */
CC_API int cc_tls_set(cc_tls *t, void *value);

/* Free the key; NULL does nothing.  Values still set are not destroyed. */
CC_API void cc_tls_free(cc_tls *t);

#ifdef __cplusplus
}
#endif
#endif /* CONCUR_SYNC_H */
