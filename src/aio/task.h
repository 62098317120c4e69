/*
 * task.h - tasks (stackful coroutines) and the loop's work items, timers
 * and stacks (private to the aio layer's files).
 *
 * A task lives at the top of its own stack: the cc__task record, then the
 * frames of its function below it.  It runs only on its loop's thread.  To
 * the layers below it is two small things: a fiber (internal/fiber.h) that
 * the core parks, wakes and cancels, and a runner (internal/future.h) that
 * its public handle, a RUNNER cc_future, cancels through.  The future's
 * runner pointer leads back here until the task ends (guarded by the
 * future's mu).
 *
 * Parking: a blocking call made by a task goes through cc__waiter_park,
 * which calls the fiber's suspend (task_suspend in task.c).  The task
 * records the waiter in `parked`, arms its timer for the deadline and
 * switches away.  Exactly one of three things moves the waiter out of
 * PARKED and makes the task ready: a waker's claim (any thread: the
 * fiber's wake), the timer (loop thread), or a cancellation (loop thread).
 * `parked` is only read on the loop thread, while the task is suspended,
 * so it needs no lock.
 *
 * States (`state`, loop thread only), each move asserted:
 *     NEW --first resume--> RUNNING <--suspend/resume--> PARKED
 *                              `--its function returned--> DONE
 */
#ifndef CC_AIO_TASK_H
#define CC_AIO_TASK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "concur/aio.h"
#include "internal/ctx.h"
#include "internal/fiber.h"
#include "internal/future.h"
#include "internal/list.h"
#include "internal/vg.h"
#include "internal/waiter.h"

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
    size_t index;           /* position in the heap, SIZE_MAX when not armed,
                               CC__TIMER_SPILLED on the spill list */
    struct cc__timer *spill_next; /* the spill list (timer.c) */
    uint8_t kind;           /* CC__TIMER_TASK or CC__TIMER_CALLBACK */
} cc__timer;

/* index of a timer armed while the heap could not grow (timer.c). */
#define CC__TIMER_SPILLED (SIZE_MAX - 1)

enum { CC__TIMER_TASK = 1, CC__TIMER_CALLBACK = 2 };

/* A guarded coroutine stack: [base, base + size) usable, guard below. */
typedef struct cc__stack {
    char *base;
    size_t size;
    uint8_t guard;          /* CC__GUARD_* in effect for this stack */
    int8_t cls;             /* its size class (stack.c), returned to that
                               class's pool; -1: a mapping of its own */
#if CC__VG_ON
    unsigned vg_id;         /* valgrind's id for it while a task has it */
#endif
} cc__stack;

enum { CC__GUARD_MADVISE = 1, CC__GUARD_MPROTECT = 2, CC__GUARD_CANARY = 3 };

enum {
    CC__TASK_NEW = 0,       /* spawned, not started */
    CC__TASK_RUNNING = 1,   /* running or ready to run */
    CC__TASK_PARKED = 2,    /* suspended in a blocking call */
    CC__TASK_DONE = 3,      /* its function returned; being torn down */
};

struct cc__task {
    cc__fiber fiber;        /* parking, waking, cancellation, shields */
    cc__runner runner;      /* how its future cancels it */
    cc__work work;          /* run-queue link (kind TASK) */
    cc__work cancel_work;   /* a cross-thread cancel request (kind CANCEL) */
    _Atomic bool cancel_posted; /* cancel_work is queued on the loop */
    void *sp;               /* saved stack pointer while switched out */
    cc_loop *loop;
    cc_future *future;      /* the public handle; one reference is ours */
    cc_fn fn;
    void *arg;
    cc__stack stack;
    uint8_t state;          /* CC__TASK_*; touched on the loop thread only */
    _Atomic int refs;       /* 1 while alive + cross-thread cancel posts */
    cc__waiter *parked;     /* the waiter it sleeps in (loop thread only) */
    cc__link all;           /* in the loop's list of live tasks (loop
                               thread); unlinked until the loop adopts it */
    cc__timer timer;        /* its deadline while parked */
    const char *site_file;  /* where it was spawned (debug reports) */
    int site_line;
    int64_t slice_start;    /* when it was last switched in (debug) */
    void *tsan_fiber;       /* ThreadSanitizer fiber, in TSan builds */
    void *asan_fake_stack;  /* AddressSanitizer bookkeeping, in ASan builds */
    cc__ctx ctx;            /* its errors, deadline scopes and name */
};

/* Recover the task from one of its members (timer, work, fiber...). */
#define CC__TASK_OF(ptr, member) CC__CONTAINER_OF(ptr, cc__task, member)

/* The running task of the calling thread, or NULL. */
static inline cc__task *cc__task_current(void)
{
    cc__fiber *f = cc__fiber_current();

    return f != NULL ? CC__TASK_OF(f, fiber) : NULL;
}

/* cc_loop_spawn with the spawner's name for debug reports ("cc_run"). */
cc_future *cc__loop_spawn_by(cc_loop *l, cc_fn fn, void *arg, const char *by);

/* --- the loop, for the aio layer's own files (loop.c, timer.c) --- */

void cc__loop_ready(cc_loop *loop, cc__work *w);         /* loop thread */
void cc__loop_post(cc_loop *loop, cc__work *w);          /* any thread */
void cc__timer_arm(cc_loop *loop, cc__timer *t, int64_t deadline);
void cc__timer_disarm(cc_loop *loop, cc__timer *t);
void cc__task_suspend(cc__task *t);                      /* switch to the loop */

/* Stacks (stack.c). */
int cc__stack_get(size_t size, cc__stack *out);
void cc__stack_put(cc__stack *s);
void cc__stack_trim(void);            /* release extra pooled stacks (idle) */
bool cc__stack_trim_pending(void);
extern _Atomic bool cc__stack_debug;  /* release stacks at once, report use */
size_t cc__stack_peak(const cc__stack *s);
bool cc__stack_canary_ok(const cc__stack *s);
void *cc__stack_prepare(cc__stack *s, void *top, cc__task *t,
                        void (*entry)(cc__task *));
void cc__stack_watch_overflow(void);   /* per thread that runs tasks */
/* Put the SIGSEGV/SIGBUS dispositions from before ours back, where ours
 * are still installed (cc_set_signal_handling turned them off). */
void cc__stack_unwatch_overflow(void);
/* signal.c: which of the library's own handlers are on (CC_SIGNALS_*:
 * cc_set_signal_handling's choice, else CONCUR_SIGNALS, else all). */
unsigned cc__signal_flags(void);

/* The first frame of a task with the ucontext switch (switch_ucontext.c). */
void *cc__ucontext_prepare(cc__stack *s, void *top, cc__task *t,
                           void (*entry)(cc__task *));

/* The context switch (switch_*.S, or switch_ucontext.c). */
void cc__switch(void **save_sp, void *load_sp);

#endif
