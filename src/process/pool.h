/*
 * pool.h - the process pool's record, shared by its files (process layer,
 * private to the pool):
 *
 *   pool.c          cc_process_pool_new, the executor operations, shutdown;
 *                   the constructor that turns a started worker into one
 *   pool_manager.c  the manager thread: dispatch, results, deaths, breaking
 *   pool_spawn.c    starting and reaping worker processes
 *   pool_map.c      cc_map as chunk messages
 *   pool_worker.c   the worker's side: its loop
 *
 * Threads.  Submitters push futures onto the lock-free MPSC queue
 * (src/internal/mpsc.h) and poke the manager's eventfd only when it sleeps
 * with room for work (`wants_work`, a Dekker pair with the queue's tail).
 * The manager thread alone owns the workers, their buffers and windows,
 * the epoll set and everything marked "manager" below.  `mu` guards the
 * requests and the lifecycle fields; nothing else takes it, and it is
 * never held across a wait or a system call other than a futex.
 *
 * Futures.  A queued future holds the executor's reference and, in its
 * `arg`, a copy of the argument blob (a map chunk: fn is
 * cc__pool_chunk_marker and arg the chunk).  The manager claims a future
 * (PENDING -> RUNNING) when it sends it; it completes it and drops the
 * executor's reference when the worker answers, the pool breaks, or (for
 * one cancelled while queued) when it pops it.
 */
#ifndef CC_PROCESS_POOL_H
#define CC_PROCESS_POOL_H

#include <stdatomic.h>
#include <sys/types.h>

#include "concur/sync.h"
#include "internal/ctx.h"
#include "internal/future.h"
#include "internal/mutex.h"
#include "internal/waiter.h"
#include "process/fnref.h"
#include "process/wire.h"

/* The variable that makes a started executable a worker:
 * "<fd>,<parent pid>,<number>,<name>". */
#define CC__POOL_ENV "CONCUR_POOL_WORKER"

/* The worker's end of its socket, in the worker. */
#define CC__POOL_FD 3

/* Most frames a worker holds unanswered (see `window` below). */
#define CC__POOL_WINDOW_MAX 64

/* Seconds a live worker may leave a frame half sent before the pool is
 * broken (see pool_manager.c, "Frames"). */
#define CC__POOL_STALL_S 5

/* ---------------------------------------------------------------- map */

typedef struct cc__map_job cc__map_job;

/* One cc_map chunk: items [start, end) of its job. */
typedef struct cc__map_chunk {
    cc__map_job *job;
    size_t start;
    size_t end;
    size_t failed_at;  /* the item that failed, SIZE_MAX if none; written
                          by the manager before it completes the future */
    cc__buf payload;   /* the CHUNK frame's payload (fnref, count, items);
                          the manager frees it once sent */
} cc__map_chunk;

/*
 * A cc_map call's shared state.  The caller holds one reference and each
 * chunk future in the pool's hands one (dropped by whoever drops the
 * chunk's executor reference), so a chunk still running when cc_map gives
 * up at its deadline writes into memory that stays valid.
 */
struct cc__map_job {
    _Atomic size_t refs;
    size_t n;
    size_t nchunks;
    void **results;        /* n slots: result blobs, written by the manager
                              before it completes the chunk's future; the
                              caller moves out those of completed chunks */
    cc__map_chunk *chunks;
};

/* The executor's map operation (see cc__executor_ops). */
int cc__pool_map(cc_executor *ex, cc_fn fn, void **args, size_t n,
                 size_t chunksize, void **results, double deadline,
                 const char *file, int line);

/* The fn of a chunk future (never called: it marks the future). */
void *cc__pool_chunk_marker(void *chunk);

/* Drop a reference; the last frees the job and the results it holds. */
void cc__map_job_unref(cc__map_job *job);

/* ------------------------------------------------------------- workers */

typedef struct cc__pool_worker {
    pid_t pid;
    int pidfd;            /* readable once the process has ended */
    int sock;             /* the parent's end (non-blocking) */
    unsigned number;      /* n in "<prefix>_<n>" */
    bool retiring;        /* its task budget is spent: no more tasks */
    bool eof;             /* its socket reached end of file */
    bool reaped;          /* waited for; fds closed */
    uint64_t sent;        /* tasks sent in all (max_tasks_per_child) */
    unsigned inflight;    /* frames sent and not yet answered */
    unsigned head;        /* ring index of the oldest of them */
    int64_t head_since;   /* when the oldest started, as far as we know
                             (sent to an idle worker, or the previous
                             answer came) */
    cc_future *ring[CC__POOL_WINDOW_MAX]; /* answered in this order */
    uint64_t ids[CC__POOL_WINDOW_MAX];
    cc__buf out;          /* frames not yet written */
    cc__buf in;           /* bytes received and not yet parsed */
    int64_t rx_at;        /* when bytes last came from it (monotonic ns) */
    bool want_out;        /* EPOLLOUT is registered */
    struct cc__pool_worker *next; /* in the retired list */
} cc__pool_worker;

/* ---------------------------------------------------------------- pool */

typedef struct cc__proc_pool {
    cc_executor base;            /* first: the executor interface */
    int max_workers;
    int max_tasks;               /* per worker; 0: no limit */
    unsigned generation;         /* fork generation it was made in */
    char prefix[CC__NAME_MAX - 8];
    cc_fn initializer;           /* NULL: none */
    void *initarg;               /* a copy (blob) or NULL; owned */

    /* written by submitters */
    _Alignas(64) _Atomic uintptr_t tail; /* queue: last pushed | CLOSED */
    /* written by the manager, read by submitters */
    _Alignas(64) _Atomic int wants_work; /* asleep with room for tasks */
    _Atomic int poked;           /* eventfd written since it last woke */
    cc_error *_Atomic broken;    /* set once by the manager; owned */
    /* the queue's consumer side (manager) */
    _Alignas(64) cc_future *_Atomic head;
    _Alignas(64) cc_future stub;

    /* manager */
    _Alignas(64) int epfd;
    int efd;                     /* eventfd: submitters and requests */
    cc__pool_worker **workers;   /* max_workers slots */
    cc__pool_worker *retired;    /* spent workers not yet reaped */
    cc__pool_worker *dead;       /* reaped, freed after the event batch */
    unsigned next_number;        /* for worker names */
    unsigned rr;                 /* where the next dispatch round starts */
    uint64_t next_id;
    double avg_ns;               /* moving average of a task's run time */
    uint64_t frame_max;          /* longest payload a worker could have
                                    built: the machine's RAM + swap */
    unsigned window;             /* frames a worker may hold (1..MAX) */
    bool stopping;               /* shut down: finish, then stop workers */
    bool cancel_pending;         /* cancel what is queued (requested) */
    bool done;                   /* leave the loop */

    /* requests and lifecycle, guarded by mu */
    cc__mutex mu;
    cc__waitq waiters;           /* creator (start), requesters (acks) */
    bool started;                /* the initial workers are up, or failed */
    cc_error *start_error;       /* why they could not start; owned */
    bool shutdown;               /* requested */
    bool cancel_req;             /* requested: cancel queued futures */
    uint64_t req_seq;            /* requests made */
    uint64_t ack_seq;            /* requests the manager has handled */
    bool manager_gone;           /* the manager left its loop */
    cc_thread *manager;
} cc__proc_pool;

static inline cc__proc_pool *cc__pool_of(cc_executor *ex)
{
    return (cc__proc_pool *)ex;
}

/* The error of a pool used in a forked child (see pool.c); returns -1. */
int cc__pool_refuse_foreign(cc__proc_pool *p, const char *what);

/* True in a forked child of the process that made the pool. */
bool cc__pool_foreign(const cc__proc_pool *p);

/* The manager thread's body (pool_manager.c). */
void *cc__pool_manager_main(void *arg);

/*
 * Queue a future that holds its executor reference (submit and map).
 * 0, or an errno with the error recorded (ESHUTDOWN, CC_EBROKEN): the
 * future was not taken.
 */
int cc__pool_push(cc__proc_pool *p, cc_future *f);

/*
 * Start worker number `number`: socket pair, posix_spawn of /proc/self/exe,
 * pidfd, the INIT frame queued on w->out.  0, or an errno with the error
 * recorded (w is then untouched apart from zeroed fds).
 */
int cc__pool_spawn(cc__proc_pool *p, cc__pool_worker *w, unsigned number);

/*
 * Wait for a worker that has ended, or is about to (its pidfd was
 * readable or its socket closed), killing it first if it is still alive
 * when `kill` is set; describe how it ended ("was killed by signal 9
 * (SIGKILL)", "exited with status 3") into text.  Returns true when it
 * exited with status 0.  Closes its pidfd and socket.
 */
bool cc__pool_reap(cc__pool_worker *w, bool kill, char *text, size_t size);

/* The worker's side (pool_worker.c): run the loop; never returns. */
void cc__pool_worker_run(const char *spec) __attribute__((noreturn));

#endif
