/*
 * loop.h - the event loop record (private to the aio layer's files).
 *
 * Everything but the `remote` part is touched only by the thread running
 * the loop.  Other threads hand work over through `remote` (a list under
 * remote_mu plus a count), and wake a loop that sleeps in epoll through the
 * eventfd: the loop sets `sleeping` (seq_cst) before its last look at
 * `nremote`, a poster bumps `nremote` (seq_cst) before reading `sleeping`,
 * so one of them always sees the other and no wake-up is lost.  A loop
 * driven by cc_loop_run_once keeps `sleeping` set between passes, when the
 * host program's loop polls the epoll fd in its place.
 */
#ifndef CC_AIO_LOOP_H
#define CC_AIO_LOOP_H

#include <sys/epoll.h>

#include "aio/task.h"
#include "internal/aio.h"
#include "internal/list.h"
#include "internal/mutex.h"

#define CC__LOOP_MAGIC 0x4c4f4f50u /* "LOOP" */
#define CC__LOOP_SLOTS 4           /* cc__loop_attach slots */

typedef struct cc__fdreg cc__fdreg;

/* A heap slot: the key inline, the timer it belongs to. */
typedef struct cc__heap_entry {
    int64_t deadline;
    uint64_t seq;
    cc__timer *timer;
} cc__heap_entry;

struct cc_loop {
    uint32_t magic;            /* CC__LOOP_MAGIC while alive */
    int epfd;                  /* epoll instance */
    int evfd;                  /* eventfd: wakes the loop from epoll */
    /* loop thread only */
    cc__work *ready_head;      /* FIFO of work to run */
    cc__work *ready_tail;
    size_t nready;
    cc__heap_entry *heap;      /* timers, a 4-ary min-heap */
    size_t ntimers;
    size_t heap_cap;
    cc__timer *spilled;        /* timers armed when the heap could not grow */
    uint64_t timer_seq;
    cc__fdreg **fds;           /* registrations indexed by fd */
    size_t nfds;
    void *sched_sp;            /* the scheduler's stack while a task runs */
    cc__task *current;         /* the running task */
    cc__ctx *thread_ctx;       /* the thread's own context */
    void *thread_fiber;        /* the thread's TSan fiber */
    cc__list tasks;            /* live tasks (cc__task.all) */
    size_t ntasks;
    unsigned polls_skipped;    /* batches run without looking at epoll */
    _Atomic bool running;
    bool closing;              /* cc_loop_free: no new tasks */
    bool interrupted;          /* SIGINT cancelled the main task */
    struct cc__loop_sig *sig;  /* signal.c's record (handlers, waiters),
                                  NULL until the first; under its lock */
    /* shared with other threads and signal handlers */
    _Atomic bool stop;         /* cc_loop_stop */
    _Atomic bool signalled;    /* sigint or sigpend set: one load a pass */
    _Atomic bool sigint;       /* SIGINT arrived while cc_run ran */
    _Atomic uint64_t sigpend;  /* signals caught for its handlers and
                                  waiting tasks: bit s-1 for signal s */
    _Atomic int sleeping;      /* in epoll_wait with a timeout, or between
                                  cc_loop_run_once passes (a host polls
                                  the epoll fd) */
    _Atomic size_t nremote;    /* posts not yet taken */
    _Atomic int posting;       /* posters still inside cc__loop_post: the
                                  loop is not freed until they are out */
    cc__mutex remote_mu;       /* guards remote_head/tail */
    cc__work *remote_head;
    cc__work *remote_tail;
    _Atomic uint64_t task_counter; /* for "Task-N" names */
    cc_executor *own_pool;     /* cc_to_thread's pool, made on first use;
                                  touched only by the loop's thread */
    _Atomic(cc_executor *) user_pool; /* cc_loop_set_default_executor; any
                                         thread may set it */
    bool quiet_free;           /* cc_run frees it: leftovers are expected */
    /* the registry of loops not yet freed (loop_exit.c), under its lock */
    cc__link reg_link;         /* on the registry's list */
    unsigned reg_generation;   /* the fork generation it joined in */
    bool registered;
    /* Other layers' per-loop state (cc__loop_attach), loop thread only. */
    struct {
        const void *key;
        void *ptr;
        void (*dtor)(void *);
    } slots[CC__LOOP_SLOTS];
};

/* fdwait.c: deliver epoll events, and drop a loop's registrations. */
void cc__fd_ready(cc_loop *l, int fd, uint32_t events);
void cc__fd_free_all(cc_loop *l);

/* timer.c: run due timers; the earliest deadline (CC__NS_FOREVER if none);
 * drop every armed timer of a loop being freed (call_later records are
 * freed, their callbacks never run, as asyncio's close drops them). */
void cc__timers_expire(cc_loop *l, int64_t now);
int64_t cc__timers_next(cc_loop *l);
void cc__timers_drop(cc_loop *l);

/* task.c: resume a ready task; deliver a cancellation; the tasks' end. */
void cc__task_resume(cc_loop *l, cc__task *t);
void cc__task_link(cc_loop *l, cc__task *t);  /* adopt: add to l->tasks */
void cc__task_deliver_cancel(cc__task *t);
void cc__task_unref(cc__task *t);
void cc__task_timer_fired(cc__task *t);
void cc__callback_run(cc__work *w);
void cc__callback_timer_fired(cc_loop *l, cc__timer *t);
void cc__callback_timer_drop(cc__timer *t);   /* free an unfired record */

/* signal.c: run the loop's signal callbacks and wake its waiting tasks
 * for what `sigpend` holds (loop thread); drop its handlers as it is freed
 * (before its eventfd is closed); cc_run's SIGINT hand-over (take: true
 * when SIGINT now cancels the main task of l; give: undo it). */
void cc__signal_dispatch(cc_loop *l);
void cc__signal_loop_free(cc_loop *l);
bool cc__signal_run_take(cc_loop *l);
void cc__signal_run_give(cc_loop *l);

extern __thread cc_loop *cc__tls_loop;

/*
 * The registry of loops not yet freed (loop_exit.c): cc_loop_new registers
 * a loop, cc_loop_free unregisters it.  At exit, a loop never freed that
 * still has tasks is reported through the library's log: their work is
 * lost, never silently.
 */
void cc__loop_register(cc_loop *l);
void cc__loop_unregister(cc_loop *l);

#endif
