/*
 * aio.h - tasks (stackful coroutines) and the event loop, as seen by the
 * rest of the library (internal).
 *
 * A task lives at the top of its own stack: the cc__task record, then the
 * frames of its function below it.  It runs only on its loop's thread.  Its
 * public handle is a cc_future (flag CC__F_TASK, `task` pointing back here
 * until the task ends; guarded by the future's mu).
 *
 * Parking: a blocking call made by a task goes through cc__waiter_park,
 * which calls cc__task_park.  The task records the waiter in `parked`,
 * arms its timer for the deadline and switches away.  Exactly one of three
 * things moves the waiter out of PARKED and makes the task ready: a waker's
 * claim (any thread: cc__task_wake), the timer (loop thread), or a
 * cancellation (loop thread).  `parked` is only read on the loop thread,
 * while the task is suspended, so it needs no lock.
 */
#ifndef CC_INTERNAL_AIO_H
#define CC_INTERNAL_AIO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "concur/aio.h"
#include "internal/ctx.h"
#include "internal/waiter.h"

typedef struct cc_loop cc__loop; /* the public cc_loop */
typedef struct cc__task cc__task;

/* Something the loop runs: a task to resume or a callback to call. */
typedef struct cc__work {
    struct cc__work *next;
    uint8_t kind;                   /* CC__WORK_* */
} cc__work;

enum {
    CC__WORK_TASK = 1,      /* resume (or start) the task */
    CC__WORK_CALLBACK = 2,  /* call a cc_loop_call_* callback */
    CC__WORK_CANCEL = 3,    /* deliver a cancellation to a task */
};

/* A timer of the loop's heap. */
typedef struct cc__timer {
    int64_t deadline;       /* monotonic ns */
    uint64_t seq;           /* arming order: ties fire first-armed first */
    size_t index;           /* position in the heap, SIZE_MAX when not armed */
    uint8_t kind;           /* CC__TIMER_TASK or CC__TIMER_CALLBACK */
} cc__timer;

enum { CC__TIMER_TASK = 1, CC__TIMER_CALLBACK = 2 };

/* A guarded coroutine stack: [base, base + size) usable, guard below. */
typedef struct cc__stack {
    char *base;
    size_t size;
    uint8_t guard;          /* CC__GUARD_* in effect for this stack */
    bool pooled;            /* a default-size stack, returned to the pool */
} cc__stack;

enum { CC__GUARD_MADVISE = 1, CC__GUARD_MPROTECT = 2, CC__GUARD_CANARY = 3 };

enum {
    CC__TASK_NEW = 0,       /* spawned, not started */
    CC__TASK_RUNNING = 1,   /* running or ready to run */
    CC__TASK_PARKED = 2,    /* suspended in a blocking call */
    CC__TASK_DONE = 3,      /* its function returned; being torn down */
};

struct cc__task {
    cc__work work;          /* run-queue link (kind TASK) */
    cc__work cancel_work;   /* a cross-thread cancel request (kind CANCEL) */
    _Atomic bool cancel_posted; /* cancel_work is queued on the loop */
    void *sp;               /* saved stack pointer while switched out */
    cc__loop *loop;
    cc_future *future;      /* the public handle; one reference is ours */
    cc_fn fn;
    void *arg;
    cc__stack stack;
    uint8_t state;          /* CC__TASK_*; touched on the loop thread only */
    bool linked;            /* in the loop's list of live tasks */
    _Atomic bool cancelled; /* cancellation requested */
    int shield;             /* open shield scopes */
    _Atomic int refs;       /* 1 while alive + cross-thread cancel posts */
    cc__waiter *parked;     /* the waiter it sleeps in (loop thread only) */
    cc__task *all_prev;     /* the loop's list of live tasks (loop thread) */
    cc__task *all_next;
    cc__timer timer;        /* its deadline while parked */
    const char *site_file;  /* where it was spawned (debug reports) */
    int site_line;
    int64_t slice_start;    /* when it was last switched in (debug) */
    void *tsan_fiber;       /* ThreadSanitizer fiber, in TSan builds */
    void *asan_fake_stack;  /* AddressSanitizer bookkeeping, in ASan builds */
    cc__ctx ctx;            /* its errors, deadline scopes and name */
};

/* Recover the task from its timer or work nodes. */
#define CC__TASK_OF(ptr, member) \
    ((cc__task *)(void *)((char *)(ptr)-offsetof(cc__task, member)))

/* cc_loop_spawn with the spawner's name for debug reports ("cc_run"). */
cc_future *cc__loop_spawn_by(cc_loop *l, cc_fn fn, void *arg, const char *by);

/* --- used by the waiter (src/sync/waiter.c) --- */

/* Park the calling task in w until claimed, the deadline, or cancellation:
 * 0, ETIMEDOUT or ECANCELED. */
int cc__task_park(cc__waiter *w, int64_t deadline);

/* Make a task whose waiter was just claimed ready again, from any thread. */
void cc__task_wake(cc__task *t);

/* The running task's sleep until `deadline` (a timer park nobody wakes):
 * 0 at the deadline, ECANCELED when cancelled first. */
int cc__task_sleep_until(int64_t deadline);

/* True when the calling context is a task that has been cancelled and is
 * not inside a shield: blocking calls then fail at once with ECANCELED. */
bool cc__cancel_pending(void);

/*
 * The entry check of every blocking call (a checkpoint, as in Trio and
 * libdill): returns -1 with ECANCELED recorded ("<what>: the task was
 * cancelled") when the calling task is cancelled and not shielded, else 0.
 * Calls with timeout 0 never block and skip it.
 */
int cc__checkpoint(const char *what);

/*
 * Turn the result of a failed wait into the caller's error: ETIMEDOUT ->
 * "<what> timed out", ECANCELED -> "<what>: the task was cancelled".
 * Returns -1.
 */
int cc__err_wait(int rc, const char *what);

/* --- used by the net layer (fdwait.c) --- */

/*
 * cc_wait_fd for the calling task (a task of the calling thread's loop,
 * checked by the caller) with an absolute deadline, leaving fd registered
 * with the loop's epoll after the wait, so that waiting on it again costs
 * no epoll_ctl (interest that fires while nobody waits is trimmed).  `key`
 * (never 0) names the open file behind fd for its whole life: a
 * registration found under another key is treated as left over from a
 * file since closed and made again.  Before closing fd, its owner calls
 * cc__fd_unkeep if it runs on the loop's thread; elsewhere it just closes
 * (the kernel drops the registration with the last copy of the fd).  The
 * ready mask, or -1 with ETIMEDOUT, ECANCELED, ENOMEM... recorded.
 *
 * The registration is edge-triggered: the caller must have found the fd
 * not ready (EAGAIN, or a read shorter than asked) since the last wake-up
 * before waiting again.  The mask then carries CC__HANGUP, for good, once
 * the peer hung up or the socket failed: a short read no longer means
 * "empty" (the end of the stream may still wait behind the data, with no
 * edge left to announce it).
 */
#define CC__HANGUP 4
int cc__wait_fd_kept(int fd, int events, int64_t deadline, uint64_t key);

/* Drop the calling thread's loop's kept registration of fd, if key's. */
void cc__fd_unkeep(int fd, uint64_t key);

/*
 * A callback watch of fd on loop l (the http layer's curl sockets): fn(arg,
 * fd, ready) runs on the loop's thread, out of the loop's poll, each time
 * fd is ready for one of `events` (CC_READABLE | CC_WRITABLE; level-
 * triggered; an error or hang-up reports both).  Called again for the same
 * fd it changes the interest; events 0 drops the watch (do so before
 * closing fd).  A watched fd is not waited on by tasks: a wait on it (a
 * reused number whose watch was not dropped) takes the registration over.
 * Loop thread only.  0, or -1 with errno recorded.
 */
typedef void (*cc__fd_watch_fn)(void *arg, int fd, int ready);
int cc__fd_watch(cc__loop *l, int fd, int events, cc__fd_watch_fn fn,
                 void *arg);

/*
 * Per-loop state of other layers: ptr under `key` (any address unique to
 * the caller, e.g. a static's), and dtor(ptr), called by cc_loop_free once
 * the loop's tasks have ended, before its fds and timers go, with the loop
 * made current on the freeing thread (so dtor may cancel call_later timers
 * and drop fd watches).  A few slots (CC__LOOP_SLOTS); loop thread only.
 * attach: 0, or -1 with ENOSPC; attached: the ptr or NULL.
 */
int cc__loop_attach(cc__loop *l, const void *key, void *ptr,
                    void (*dtor)(void *));
void *cc__loop_attached(cc__loop *l, const void *key);

/* --- used by the future layer --- */

/* Request cancellation of the task behind a task future (any thread). */
bool cc__task_cancel_future(cc_future *f);

/* --- the loop, for the aio layer's own files --- */

cc__loop *cc__loop_current(void);
void cc__loop_ready(cc__loop *loop, cc__work *w);        /* loop thread */
void cc__loop_post(cc__loop *loop, cc__work *w);         /* any thread */
bool cc__loop_is_current(cc__loop *loop);
void cc__timer_arm(cc__loop *loop, cc__timer *t, int64_t deadline);
void cc__timer_disarm(cc__loop *loop, cc__timer *t);
void cc__task_suspend(cc__task *t);                      /* switch to the loop */

/* Stacks (stack.c). */
int cc__stack_get(size_t size, cc__stack *out);
void cc__stack_put(cc__stack *s);
void cc__stack_trim(void);            /* release extra pooled stacks (idle) */
bool cc__stack_trim_pending(void);
extern _Atomic bool cc__stack_debug;  /* release stacks at once, report use */
size_t cc__stack_default_size(void);
size_t cc__stack_peak(const cc__stack *s);
bool cc__stack_canary_ok(const cc__stack *s);
void *cc__stack_prepare(cc__stack *s, void *top, cc__task *t,
                        void (*entry)(cc__task *));
void cc__stack_watch_overflow(void);   /* per thread that runs tasks */

/* The first frame of a task with the ucontext switch (switch_ucontext.c). */
void *cc__ucontext_prepare(cc__stack *s, void *top, cc__task *t,
                           void (*entry)(cc__task *));

/* The context switch (switch_*.S, or switch_ucontext.c). */
void cc__switch(void **save_sp, void *load_sp);

#endif
