/*
 * concur/process.h - processes: Python's multiprocessing and
 * ProcessPoolExecutor, for C.
 *
 *   cc_process  a function run in a child, forked or a fresh run of the
 *               program (start methods): join, exit code, signals
 *   cc_conn     Pipe(): a duplex or one-way connection carrying messages
 *   cc_mpqueue  a queue of messages between any number of processes
 *   cc_shared   memory shared with the children forked after it was made
 *               (Value/Array), optionally with a process-shared lock
 *   cc_plock    process-shared Lock; cc_psem process-shared Semaphore
 *   cc_prlock   process-shared RLock, robust against a holder that dies
 *   cc_shdict   a key -> blob map many processes write (Manager().dict())
 *   cc_shlist   a list of blobs many processes write (Manager().list())
 *   cc_shm_block  shared memory that any process attaches by its name
 *               (shared_memory.SharedMemory)
 *   the process pool, behind the cc_executor interface of concur/future.h
 *
 * Everything that crosses a process boundary is a blob (concur/base.h):
 * messages, queue items, dict values, pool arguments and results.  Senders
 * keep their blob (it is copied); receivers get a new blob they own.
 *
 * Defaults (see concur/base.h): thread-safe; every blocking call takes
 * `double timeout` last and honours deadline scopes; called from a
 * coroutine it suspends only that coroutine (and fails with ECANCELED when
 * the coroutine is cancelled); EINVAL for NULL or a foreign handle.
 *
 * Sharing across fork: cc_conn, cc_mpqueue, cc_shared, cc_plock, cc_psem,
 * cc_prlock, cc_shdict and cc_shlist are made in a parent and used by the
 * children it forks afterwards (cc_process_start); each process frees its
 * own handle (the shared part goes when the last process lets go).  The
 * process pool does not fork: its workers are fresh runs of the same
 * executable (see cc_process_pool_new), and neither do children started
 * with the spawn start method (cc_process_start_opts): none of these
 * objects reaches them.  cc_shm_block is shared by name instead, with any
 * process.
 *
 * Fork and threads: a child made by cc_process_start has one thread, the
 * one that called it.  concur makes its own state sane in the child
 * (internal locks, the calling thread's context, loops and pools, which
 * belong to the parent and cannot be used in the child); locks of the
 * program or of other libraries that another thread held at the fork stay
 * held forever in the child.  A multi-threaded program that forks should
 * have its children use only concur, the C library's async-signal-safe
 * calls, and state it knows no other thread was changing -- or use the
 * process pool, whose workers start clean.
 */
#ifndef CONCUR_PROCESS_H
#define CONCUR_PROCESS_H

#include <sys/types.h>

#include "concur/base.h"
#include "concur/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- Process */

/* A function run in a child process; cc_process_start, cc_process_free. */
typedef struct cc_process cc_process;

/*
 * cc_process_start - start a child that runs fn(arg) and exits
 * (multiprocessing.Process), by the process-wide default start method
 * (cc_process_set_start_method; fork unless changed): the same as
 * cc_process_start_opts(fn, arg, name, NULL), with its rules.  What
 * follows is the fork start method's.  The child sees the parent's memory
 * as it was at the fork, so arg may be any pointer.  `name` (copied; NULL:
 * "Process-<n>") is the child's cc_process_current_name() and its OS
 * thread name.
 *
 * The child exits with code 0 when fn returns, or 1 when fn failed
 * (returned NULL with an error recorded by cc_fail): it then prints
 * "Process <name>: <error and its cause chain>" on stderr.  It leaves with
 * _exit after flushing stdio: the parent's atexit handlers do not run in it
 * and the parent's buffered output is not written twice (the parent's
 * stdio is flushed before the fork).  Called from a coroutine, the child
 * runs fn on a fresh stack of its own, outside any loop.
 *
 * Returns the handle (owned by the caller; cc_process_free), or NULL with
 * EAGAIN/ENOMEM (fork failed), EINVAL (fn NULL), and with the spawn
 * default the errors of cc_process_start_opts.
 */
CC_API cc_process *cc_process_start(cc_fn fn, void *arg, const char *name);

/* How a cc_process starts its child (multiprocessing's start methods). */
typedef enum cc_start_method {
    /* The process-wide default: CC_START_FORK, unless
     * cc_process_set_start_method chose another. */
    CC_START_DEFAULT = 0,
    /* fork(): the child is a copy of the parent at the call (its memory,
     * its file descriptors, the calling thread only); arg may be any
     * pointer.  Quick; see "Fork and threads" above. */
    CC_START_FORK = 1,
    /* A fresh run of the program ("spawn"): a new process image of the
     * same executable that inherits nothing of the parent's memory,
     * threads or locks, and runs fn(a copy of arg) without entering
     * main().  Slower to start (an exec and the program's start-up). */
    CC_START_SPAWN = 2,
} cc_start_method;

/* Options of cc_process_start_opts.  Zero = default. */
typedef struct cc_process_opts {
    int start_method;               /* a cc_start_method; 0: the default */
    unsigned long long reserved[4]; /* must be zero (room for new options) */
} cc_process_opts;

/*
 * cc_process_start_opts - start a child that runs fn(arg) and exits, by
 * the start method of opts (NULL: all defaults), as
 * multiprocessing.get_context(method).Process(...).start().  With
 * CC_START_FORK it is cc_process_start above.  With CC_START_SPAWN:
 *
 *   - The child is a fresh run of the calling executable
 *     (/proc/self/exe, the same argv[0], environment, working directory,
 *     stdin, stdout and stderr; no other file descriptor, so a cc_conn,
 *     cc_mpqueue, cc_plock, cc_psem, cc_shared or cc_shdict made before
 *     does not reach it: share through the argument, a cc_shm_block by
 *     name, files or sockets).  None of the parent's memory, threads or
 *     held locks is there.  concur's start-up code (a constructor) takes
 *     the process over before main(), which never runs in the child; the
 *     rules of the process pool's workers apply (see cc_process_pool_new):
 *     fn must be a function in the code of the executable or of a shared
 *     library it loaded, concur must be linked into the executable or a
 *     library it links, start-up code that runs after concur's may not
 *     have run.
 *   - arg must be NULL or a blob (concur/base.h): it is copied at the
 *     call, and fn gets a copy that belongs to the child (it may change
 *     it, return it, or keep it; it is not freed before the child exits).
 *     Any other pointer is refused with EINVAL (checked without reading
 *     memory that is not mapped).
 *   - The child's name, exit code, error report on stderr ("Process
 *     <name>: <error>", exit code 1), cc_process_exit, join, signals and
 *     free are those of a forked child.  A child that cannot find fn (a
 *     library that cannot be loaded from its path any more) reports that
 *     the same way and exits with 1.
 *
 * Never blocks (posix_spawn, like fork, returns once the child exists).
 * Returns the handle (owned by the caller; cc_process_free), or NULL with
 * EINVAL (fn NULL or, for spawn, no function of a loaded module's code;
 * arg not a blob with spawn; an unknown start_method; reserved not zero),
 * EAGAIN/ENOMEM (fork or spawn failed), EMFILE/ENFILE, or the error of
 * posix_spawn.
 */
CC_API cc_process *cc_process_start_opts(cc_fn fn, void *arg,
                                         const char *name,
                                         const cc_process_opts *opts);

/*
 * cc_process_set_start_method - make `method` the process-wide default
 * start method, the one cc_process_start and CC_START_DEFAULT use
 * (multiprocessing.set_start_method; CC_START_DEFAULT restores fork).
 * Children started before keep theirs; calls made at the same time in
 * other threads see the old or the new default.  A child inherits its
 * parent's default by fork, not by spawn.  0, or -1 with EINVAL (not a
 * cc_start_method).
 */
CC_API int cc_process_set_start_method(int method);

/* cc_process_get_start_method - the process-wide default start method:
 * CC_START_FORK or CC_START_SPAWN (multiprocessing.get_start_method). */
CC_API int cc_process_get_start_method(void);

/*
 * cc_process_join - wait until the child has ended and reap it.  0 (also
 * when it was already joined), or -1 with ETIMEDOUT (EAGAIN for timeout 0),
 * ECANCELED.  Any number of threads and tasks may join one process.
 */
CC_API int cc_process_join(cc_process *p, double timeout);

/*
 * cc_process_exitcode - the child's exit status once it has ended: its
 * exit code, or minus the signal number that killed it (-9 after
 * cc_process_kill), as Python's Process.exitcode.  Returns 0 and stores it
 * in *code; -1 with EAGAIN while the child runs.
 */
CC_API int cc_process_exitcode(cc_process *p, int *code);

/* cc_process_is_alive - true while the child has not ended (never blocks). */
CC_API bool cc_process_is_alive(cc_process *p);

/* The child's pid; -1 with EINVAL for a bad handle. */
CC_API pid_t cc_process_pid(cc_process *p);

/* The child's name ("" for a bad handle).  Owned by the handle. */
CC_API const char *cc_process_name(cc_process *p);

/*
 * cc_process_terminate - send SIGTERM to the child; cc_process_kill and
 * cc_process_signal below send SIGKILL or `sig` the same way (through the
 * child's pidfd: never to a recycled pid).  A child that has already ended
 * (joined, or a zombie this call reaps first) is left alone and the call
 * returns 0, as Python's Process.terminate and kill do; its exit code stays
 * what ended it.  0, or -1 with EINVAL (not a process, or `sig` outside
 * 0..NSIG-1; 0 only checks, as in kill(2)) or the kernel's error (EPERM).
 * They do not wait: join afterwards.  (The same rule as
 * cc_popen_send_signal.)
 */
CC_API int cc_process_terminate(cc_process *p);

/* cc_process_kill - send SIGKILL to the child, as cc_process_terminate
 * sends SIGTERM (the same returns and errors). */
CC_API int cc_process_kill(cc_process *p);

/* cc_process_signal - send `sig` to the child (0: only check), as
 * cc_process_terminate does (the same returns and errors). */
CC_API int cc_process_signal(cc_process *p, int sig);

/*
 * cc_process_free - release the handle.  A child still running is killed
 * (SIGKILL) and reaped, and in debug mode reported: a freed process never
 * leaves a zombie.  NULL does nothing.
 */
CC_API void cc_process_free(cc_process *p);

/* The calling process's name: "MainProcess", or the name it was started
 * with (a pool worker: "<prefix>_<n>"). */
CC_API const char *cc_process_current_name(void);

/* cc_process_exit - leave the calling child now with `code`: flush stdio,
 * then _exit (no atexit handlers).  For children; never returns. */
CC_API void cc_process_exit(int code) __attribute__((noreturn));

/* -------------------------------------------------------------------- Pipe */

/* One end of a pipe; cc_pipe_new makes a pair, cc_conn_close frees an end. */
typedef struct cc_conn cc_conn;

/*
 * cc_pipe_new - a connected pair of ends (multiprocessing.Pipe).  duplex:
 * both ends send and receive.  One-way: *a only receives, *b only sends.
 * Messages are framed (length, then bytes), so each recv returns exactly
 * one send's bytes, whatever their size (64 MiB and more).  Writing to a
 * closed peer fails with EPIPE and never raises SIGPIPE.  Ends are usually
 * made before cc_process_start; each process closes the end it does not
 * use.  0, or -1 with EMFILE/ENFILE/ENOMEM, EINVAL.
 */
CC_API int cc_pipe_new(cc_conn **a, cc_conn **b, bool duplex);

/*
 * cc_conn_send - send one message: the bytes of `blob` (NULL sends an empty
 * message).  cc_conn_send_bytes sends len bytes at p.  The caller keeps the
 * data.  Returns 0 once the whole message is written (it may still be in
 * the kernel's buffer), or -1 with EPIPE (the peer closed its end or died),
 * EBADF (a receive-only end, or closed), ETIMEDOUT/EAGAIN/ECANCELED.  A
 * timeout or cancellation after part of a message went out breaks the
 * connection (later calls: EPIPE), since the peer could not tell where the
 * next message starts.  Concurrent senders are serialized per message.
 */
CC_API int cc_conn_send(cc_conn *c, const void *blob, double timeout);

/* cc_conn_send_bytes - send one message of len bytes at p (p may be NULL
 * when len is 0), as cc_conn_send: the same returns and errors. */
CC_API int cc_conn_send_bytes(cc_conn *c, const void *p, size_t len,
                              double timeout);

/*
 * cc_conn_recv - receive one message as a new blob in *blob (the caller
 * frees it with cc_blob_free; an empty message gives an empty blob).
 * Returns 0, or -1 with EPIPE (the peer closed its end or died: Python's
 * EOFError), EBADF (a send-only end), ETIMEDOUT/EAGAIN/ECANCELED (a
 * message half received is kept for the next call), ENOMEM, EPROTO (a
 * malformed frame).
 */
CC_API int cc_conn_recv(cc_conn *c, void **blob, double timeout);

/* cc_conn_poll - 1 when a message (or EOF) is ready to receive, 0 when
 * nothing came within `timeout`, -1 with EBADF/ECANCELED/EINVAL. */
CC_API int cc_conn_poll(cc_conn *c, double timeout);

/* The end's file descriptor (for cc_wait_fd or poll; do not read it). */
CC_API int cc_conn_fileno(cc_conn *c);

/* cc_conn_close - close this process's end and free the handle.  The peer
 * then sees EPIPE once it has read what was sent.  NULL does nothing. */
CC_API void cc_conn_close(cc_conn *c);

/* ------------------------------------------------------ process queue */

/* A queue of messages between processes; cc_mpqueue_new, cc_mpqueue_free. */
typedef struct cc_mpqueue cc_mpqueue;

/*
 * cc_mpqueue_new - a FIFO of messages shared by this process and the
 * children it forks afterwards (multiprocessing.Queue).  maxsize bounds the
 * number of messages (0: no bound); capacity is the size in bytes of its
 * shared buffer (0: 1 MiB; at least 16, rounded up to a multiple of 8),
 * which bounds the bytes queued at once: each message takes 8 bytes plus
 * its length rounded up to 8, so one message may hold up to capacity - 8
 * bytes.  A put waits while either bound would be passed.  A process
 * killed in the middle of a put or get leaves the queue usable and
 * unlocked (a put it had not finished is not delivered and not counted as
 * an unfinished task; a get it had not finished leaves the message for
 * another getter).  It is also a multiprocessing.JoinableQueue: see
 * cc_mpqueue_task_done and cc_mpqueue_join.  The queue holds three pipes
 * (six fds) in every process that has it.  NULL with ENOMEM, EMFILE/ENFILE,
 * EINVAL (capacity out of range).
 */
CC_API cc_mpqueue *cc_mpqueue_new(size_t maxsize, size_t capacity);

/*
 * cc_mpqueue_put - append a copy of blob (NULL: an empty message; a
 * pointer that is not a blob: EINVAL); cc_mpqueue_put_bytes - of len bytes
 * at p.  Waits while the queue is full.  The caller keeps its data.
 * 0, or -1 with ETIMEDOUT/EAGAIN (full), ECANCELED, ESHUTDOWN (closed),
 * EMSGSIZE (larger than the queue's buffer can ever hold), EINVAL.
 */
CC_API int cc_mpqueue_put(cc_mpqueue *q, const void *blob, double timeout);

/* cc_mpqueue_put_bytes - append a message of len bytes at p (p may be NULL
 * when len is 0), as cc_mpqueue_put: the same returns and errors. */
CC_API int cc_mpqueue_put_bytes(cc_mpqueue *q, const void *p, size_t len,
                                double timeout);

/*
 * cc_mpqueue_get - take the oldest message as a new blob in *blob (owned
 * by the caller).  Waits while empty.  0, or -1 with ETIMEDOUT/EAGAIN
 * (empty), ECANCELED, ESHUTDOWN (closed and drained), ENOMEM (the message
 * stays queued).
 */
CC_API int cc_mpqueue_get(cc_mpqueue *q, void **blob, double timeout);

/* Messages queued now (a snapshot). */
CC_API size_t cc_mpqueue_size(cc_mpqueue *q);

/*
 * cc_mpqueue_task_done - tell the queue that one message taken by a get has
 * been dealt with (JoinableQueue.task_done).  Every successful put, in any
 * process, adds one unfinished task; every task_done removes one, and the
 * last one wakes every process, thread and task waiting in
 * cc_mpqueue_join.  Never blocks longer than another process's copy of
 * one message.  0, or -1 with EOVERFLOW (called more times than messages
 * were put: no task is unfinished; Python raises ValueError), EINVAL.
 */
CC_API int cc_mpqueue_task_done(cc_mpqueue *q);

/*
 * cc_mpqueue_join - wait until every message ever put has been marked done
 * with cc_mpqueue_task_done (JoinableQueue.join), in whatever process.
 * Returns at once when no task is unfinished; a closed queue is joined the
 * same way.  Called from a coroutine it suspends only that coroutine.  A
 * putter killed in the middle of its put does not leave a task behind: a
 * waiting join notices within about 0.1 s.  0, or -1 with ETIMEDOUT
 * (EAGAIN for timeout 0: tasks are unfinished), ECANCELED, EINVAL.
 */
CC_API int cc_mpqueue_join(cc_mpqueue *q, double timeout);

/* Unfinished tasks now: messages put and not yet marked done (a snapshot;
 * 0 for a bad handle). */
CC_API size_t cc_mpqueue_unfinished(cc_mpqueue *q);

/*
 * cc_mpqueue_close - close the queue for every process: puts fail with
 * ESHUTDOWN, gets drain what is queued and then fail with ESHUTDOWN, and
 * every waiter wakes.  0, or -1 with EINVAL.
 */
CC_API int cc_mpqueue_close(cc_mpqueue *q);

/* Release this process's handle (the queue lives on in the others).  NULL
 * does nothing. */
CC_API void cc_mpqueue_free(cc_mpqueue *q);

/* ------------------------------------------------- shared memory, locks */

/* A Lock shared by processes; cc_plock_new, cc_plock_free. */
typedef struct cc_plock cc_plock;

/* A Semaphore shared by processes; cc_psem_new, cc_psem_free. */
typedef struct cc_psem cc_psem;

/* Memory shared with forked children; cc_shared_new, cc_shared_free. */
typedef struct cc_shared cc_shared;

/* A recursive Lock shared by processes; cc_prlock_new, cc_prlock_free. */
typedef struct cc_prlock cc_prlock;

/*
 * cc_plock_new - a Lock that works across processes forked after it was
 * made (multiprocessing.Lock): not recursive (the holder that acquires it
 * again waits like anybody else); any process, thread or task may release
 * it.  A process that dies holding it leaves it held (use timeouts).  It
 * holds a pipe (two fds) in every process that has it.  NULL with ENOMEM,
 * EMFILE/ENFILE.
 */
CC_API cc_plock *cc_plock_new(void);

/* Take the lock, waiting up to timeout.  0, or -1 with ETIMEDOUT/EAGAIN
 * (held), ECANCELED, EINVAL. */
CC_API int cc_plock_acquire(cc_plock *l, double timeout);

/* Free the lock and wake one waiter (in any process).  0, or -1 with EPERM
 * (not held), EINVAL. */
CC_API int cc_plock_release(cc_plock *l);

/* Release this process's handle.  NULL does nothing. */
CC_API void cc_plock_free(cc_plock *l);

/*
 * cc_prlock_new - a recursive lock that works across processes forked
 * after it was made (multiprocessing.RLock).  It has one owner at a time:
 * one thread of one process, or one task (coroutine) -- two tasks of one
 * loop thread are two owners, as for cc_rlock.  The owner may acquire it
 * again; it is free once released as many times as acquired; only the
 * owner may release it.  Waiters in any process, thread or task are woken
 * by the final release, not in order of arrival.
 *
 * An owner that dies holding it (its process killed, even with SIGKILL,
 * or its thread ended) does not leave it held: the next acquirer takes it
 * -- a waiting one within about 0.1 s -- and is told with -1 and
 * EOWNERDEAD (see cc_prlock_acquire), and cc_prlock_owner_deaths counts
 * it.  The lock itself is whole again at once; the data it guarded may be
 * half-changed, which is for that acquirer to judge.
 *
 * It holds a pipe (two fds) in every process that has it.  NULL with
 * ENOMEM, EMFILE/ENFILE.
 */
CC_API cc_prlock *cc_prlock_new(void);

/*
 * cc_prlock_acquire - take the lock, or take it once more when the caller
 * owns it already (that never waits), waiting up to timeout while another
 * owner holds it.  Called from a coroutine it suspends only that
 * coroutine.  Returns 0 with the caller the owner; -1 with EOWNERDEAD when
 * the previous owner died holding it: the caller NOW OWNS IT (depth 1) and
 * must release it like after a 0; or -1 with ETIMEDOUT/EAGAIN (held by
 * another owner), ECANCELED, EOVERFLOW (acquired UINT_MAX times), EINVAL.
 */
CC_API int cc_prlock_acquire(cc_prlock *l, double timeout);

/*
 * cc_prlock_release - undo one acquire by its owner; the lock is free (and
 * one waiter, in any process, woken) once the depth reaches 0.  0, or -1
 * with EPERM (the caller -- this thread, or this task -- does not own it),
 * EINVAL.
 */
CC_API int cc_prlock_release(cc_prlock *l);

/* How many times the caller (this thread or task) holds it: 0 when it does
 * not own it or for a bad handle. */
CC_API unsigned cc_prlock_depth(cc_prlock *l);

/* How many owners died holding the lock since it was made, over all
 * processes (0 for a bad handle). */
CC_API unsigned long long cc_prlock_owner_deaths(cc_prlock *l);

/* Release this process's handle.  NULL does nothing.  Freeing it while
 * this process owns it leaves it held until the owning thread ends. */
CC_API void cc_prlock_free(cc_prlock *l);

/*
 * cc_psem_new - a counting semaphore across processes (value units at the
 * start; multiprocessing.Semaphore).  Not bounded by its start value; its
 * maximum is SEM_VALUE_MAX, as for POSIX semaphores.  Waiters are not
 * served in order of arrival.  It holds a pipe (two fds) in every process
 * that has it.  NULL with ENOMEM, EMFILE/ENFILE, EINVAL (value above
 * SEM_VALUE_MAX).
 */
CC_API cc_psem *cc_psem_new(unsigned value);

/* Take one unit: 0, or -1 with ETIMEDOUT/EAGAIN, ECANCELED, EINVAL. */
CC_API int cc_psem_acquire(cc_psem *s, double timeout);

/* Give one unit back: 0, or -1 with EOVERFLOW (at SEM_VALUE_MAX), EINVAL. */
CC_API int cc_psem_release(cc_psem *s);

/* Units available now (a snapshot). */
CC_API unsigned cc_psem_value(cc_psem *s);

/* Release this process's handle.  NULL does nothing. */
CC_API void cc_psem_free(cc_psem *s);

/*
 * cc_shared_new - `size` bytes of zeroed, page-aligned memory shared with
 * the children forked after this call (multiprocessing.Value and Array:
 * lay out what you need in it).  The library never touches the bytes;
 * guarding them is the caller's business: with_lock adds a cc_plock for
 * that (cc_shared_lock; owned by the cc_shared).  NULL with ENOMEM, EMFILE
 * (the lock's pipe), EINVAL (size 0).
 */
CC_API cc_shared *cc_shared_new(size_t size, bool with_lock);

/* The memory (mapped in this process); NULL with EINVAL for a bad handle. */
CC_API void *cc_shared_ptr(cc_shared *s);

/* The size it was made with, in bytes; 0 for a bad handle. */
CC_API size_t cc_shared_size(cc_shared *s);

/* Its lock, owned by the cc_shared; NULL when made without one (or for a
 * bad handle). */
CC_API cc_plock *cc_shared_lock(cc_shared *s);

/* Unmap it in this process and free its lock handle.  NULL does nothing. */
CC_API void cc_shared_free(cc_shared *s);

/* ----------------------------------------------- shared memory by name */

/* A block of shared memory with a name; cc_shm_block_new, _close. */
typedef struct cc_shm_block cc_shm_block;

/* cc_shm_block_new flag: create the block (with CC_SHM_EXCL, or when name
 * is NULL, only a new one). */
#define CC_SHM_CREATE 0x1

/* cc_shm_block_new flag, with CC_SHM_CREATE: fail with EEXIST when the name
 * exists already (Python's SharedMemory(create=True)). */
#define CC_SHM_EXCL 0x2

/*
 * cc_shm_block_new - make or attach a block of shared memory that any
 * process may attach by its name (multiprocessing.shared_memory.
 * SharedMemory): unlike cc_shared, no fork is needed, the processes may be
 * unrelated.  It is a POSIX shared memory object (shm_open; on Linux a
 * file in /dev/shm) mapped read-write into this process.
 *
 * name: 1 to 255 bytes, no '/' (one leading '/' as POSIX spells such
 * names is accepted and dropped), neither "." nor "..".  NULL (only with
 * CC_SHM_CREATE) generates a new unused name, "cc_" and 16 hex digits:
 * read it back with cc_shm_block_name and hand it to the other processes.
 *
 * flags 0 attaches an existing block: its size is the block's (size must
 * be 0, or at most the block's size).  CC_SHM_CREATE | CC_SHM_EXCL creates
 * a new block of `size` bytes (size > 0), zeroed, with mode 0600 (owner
 * only; the umask applies), and fails if the name exists.  CC_SHM_CREATE
 * alone creates it, or attaches it when it exists (as flags 0, so an
 * existing block must hold at least `size` bytes; one whose creator has
 * not sized it yet reads as empty: EINVAL).
 *
 * The memory is mapped in this process until cc_shm_block_close; the name
 * lives until cc_shm_block_unlink (by any process), after which processes
 * that have it attached keep using it and the memory goes when the last
 * one closes it (or exits).  A block never unlinked outlives every process
 * (until reboot), as a file does: the creator should unlink it when done.
 * The library never touches the bytes; guarding them is the caller's
 * business (a cc_plock does not travel by name: use atomics in the block,
 * or a process-shared primitive placed in it).  A forked child inherits
 * the mapping and a copy of the handle, which it closes on its own.
 * Never blocks.  Thread-safe (the handle does not change after this call;
 * close it only when no other thread uses it).
 *
 * Returns the handle (owned by the caller: cc_shm_block_close), or NULL
 * with EINVAL (bad name, bad flags, size 0 on create, size larger than the
 * existing block, an empty block, NULL name without CC_SHM_CREATE), EEXIST
 * (CC_SHM_EXCL and the name exists), ENOENT (no such block, and no
 * CC_SHM_CREATE), EACCES (the block belongs to someone who did not grant
 * this process read and write), EMFILE/ENFILE, ENOMEM, ENOSPC (no room in
 * /dev/shm for the size), EFBIG.  cc_errmsg() names the block.
 */
CC_API cc_shm_block *cc_shm_block_new(const char *name, size_t size,
                                      int flags);

/* cc_shm_block_open - attach the existing block `name`:
 * cc_shm_block_new(name, 0, 0), with its returns and errors. */
CC_API cc_shm_block *cc_shm_block_open(const char *name);

/* The block's memory, mapped in this process (page aligned); NULL with
 * EINVAL for a bad handle. */
CC_API void *cc_shm_block_ptr(cc_shm_block *b);

/* The block's size in bytes: the size it was made with, read from the block
 * when attached.  0 for a bad handle. */
CC_API size_t cc_shm_block_size(cc_shm_block *b);

/* The block's name, without a leading '/' ("" for a bad handle); owned by
 * the handle. */
CC_API const char *cc_shm_block_name(cc_shm_block *b);

/*
 * cc_shm_block_unlink - remove the block's name (SharedMemory.unlink): no
 * process can attach it any more, the name may be made again (a new
 * block), and the memory goes once every process that has it attached has
 * closed it.  The handle stays usable; close it as usual.  Call it once,
 * in one process.  0, or -1 with ENOENT (the name was removed already),
 * EACCES, EINVAL (a bad handle).
 */
CC_API int cc_shm_block_unlink(cc_shm_block *b);

/* cc_shm_block_close - unmap the block in this process and free the handle
 * (SharedMemory.close); the block and its name stay.  NULL does nothing. */
CC_API void cc_shm_block_close(cc_shm_block *b);

/* ----------------------------------------------------------- shared dict */

/* A key -> blob map shared by processes; cc_shdict_new, cc_shdict_free. */
typedef struct cc_shdict cc_shdict;

/*
 * cc_shdict_new - a map from string keys to blobs, shared with the
 * children forked afterwards (the role of Manager().dict()).  It lives in
 * shared memory: at most max_entries keys (0: 4096; at most 2^24) and
 * `capacity` bytes of keys and values together (0: 16 MiB; at most 16
 * GiB).  Address space for about twice capacity + 24 bytes per entry is
 * reserved and touched as used (updates append; a compaction, made when
 * the appended bytes run out, copies the live entries once while holding
 * the dict's lock).  A process killed in the middle of a write leaves the
 * map consistent: the write it had not finished did not happen.  No call
 * waits for another process longer than that process's own copy.  NULL
 * with ENOMEM, EINVAL.
 */
CC_API cc_shdict *cc_shdict_new(size_t max_entries, size_t capacity);

/*
 * cc_shdict_set - store a copy of blob (NULL: an empty value) under key
 * (a C string of 1-255 bytes), replacing any value; cc_shdict_set_bytes
 * stores len bytes at p.  0, or -1 with ENOSPC (no room for another key or
 * for the bytes, even after compaction), EINVAL (bad key).
 */
CC_API int cc_shdict_set(cc_shdict *d, const char *key, const void *blob);

/* cc_shdict_set_bytes - store a copy of len bytes at p (p may be NULL when
 * len is 0) under key, as cc_shdict_set: the same returns and errors. */
CC_API int cc_shdict_set_bytes(cc_shdict *d, const char *key, const void *p,
                               size_t len);

/* cc_shdict_get - a copy of the value as a new blob in *blob (owned by the
 * caller).  0, or -1 with ENOENT, ENOMEM, EINVAL. */
CC_API int cc_shdict_get(cc_shdict *d, const char *key, void **blob);

/* cc_shdict_delete - 0, or -1 with ENOENT, EINVAL. */
CC_API int cc_shdict_delete(cc_shdict *d, const char *key);

/* Keys stored now (a snapshot). */
CC_API size_t cc_shdict_len(cc_shdict *d);

/*
 * cc_shdict_keys - a snapshot of the keys, sorted: *keys receives an array
 * of *n blob strings; free it with cc_shdict_keys_free.  0, or -1 with
 * ENOMEM, EINVAL.
 */
CC_API int cc_shdict_keys(cc_shdict *d, char ***keys, size_t *n);

/* Free the n keys and the array cc_shdict_keys gave; NULL does nothing. */
CC_API void cc_shdict_keys_free(char **keys, size_t n);

/* Release this process's handle.  NULL does nothing. */
CC_API void cc_shdict_free(cc_shdict *d);

/* ----------------------------------------------------------- shared list */

/* A list of blobs shared by processes; cc_shlist_new, cc_shlist_free. */
typedef struct cc_shlist cc_shlist;

/*
 * cc_shlist_new - a list of blobs, shared with the children forked
 * afterwards (the role of Manager().list()).  It lives in shared memory:
 * at most max_items items (0: 4096; at most 2^24) and `capacity` bytes of
 * values together (0: 16 MiB; at most 16 GiB).  Address space for about
 * twice capacity + 16 bytes per item, plus two index tables of 8 bytes per
 * item, is reserved and touched as used (writes append; a compaction, made
 * when the appended bytes run out, copies the live items once while
 * holding the list's lock).
 *
 * Indexes are as in Python: 0 is the first item, -1 the last; an index
 * outside the list fails with ERANGE (IndexError), a list at its bounds
 * with ENOSPC.  Every call is atomic with respect to the others, in every
 * process (one lock; no call waits for another process longer than that
 * process's own copy, so none takes a timeout).  A process killed in the
 * middle of a write leaves the list consistent: the write it had not
 * finished did not happen.  Insert and pop/delete not at the end move the
 * index (8 bytes per item after the place), never the values.  NULL with
 * ENOMEM, EINVAL (a bound out of range).
 */
CC_API cc_shlist *cc_shlist_new(size_t max_items, size_t capacity);

/*
 * cc_shlist_append - add a copy of blob (NULL: an empty value; a pointer
 * that is not a blob: EINVAL) at the end (list.append);
 * cc_shlist_append_bytes - of len bytes at p (p may be NULL when len is
 * 0).  0, or -1 with ENOSPC (max_items reached, or no room for the bytes),
 * EINVAL.
 */
CC_API int cc_shlist_append(cc_shlist *l, const void *blob);

/* cc_shlist_append_bytes - add a copy of len bytes at p at the end, as
 * cc_shlist_append: the same returns and errors. */
CC_API int cc_shlist_append_bytes(cc_shlist *l, const void *p, size_t len);

/*
 * cc_shlist_insert - put a copy of blob before the item at index
 * (list.insert): as in Python an index past either end is clamped to it
 * (so it never fails with ERANGE), and -1 inserts before the last item.
 * cc_shlist_insert_bytes - of len bytes at p.  0, or -1 with ENOSPC,
 * EINVAL.
 */
CC_API int cc_shlist_insert(cc_shlist *l, long index, const void *blob);

/* cc_shlist_insert_bytes - insert a copy of len bytes at p before index,
 * as cc_shlist_insert: the same returns and errors. */
CC_API int cc_shlist_insert_bytes(cc_shlist *l, long index, const void *p,
                                  size_t len);

/* cc_shlist_get - a copy of the item at index as a new blob in *blob
 * (owned by the caller).  0, or -1 with ERANGE, ENOMEM, EINVAL. */
CC_API int cc_shlist_get(cc_shlist *l, long index, void **blob);

/*
 * cc_shlist_set - replace the item at index with a copy of blob (NULL: an
 * empty value); cc_shlist_set_bytes - with len bytes at p.  0, or -1 with
 * ERANGE, ENOSPC (no room for the bytes, even after compaction), EINVAL.
 */
CC_API int cc_shlist_set(cc_shlist *l, long index, const void *blob);

/* cc_shlist_set_bytes - replace the item at index with a copy of len bytes
 * at p, as cc_shlist_set: the same returns and errors. */
CC_API int cc_shlist_set_bytes(cc_shlist *l, long index, const void *p,
                               size_t len);

/*
 * cc_shlist_pop - remove the item at index (-1: the last, list.pop()) and
 * hand it over as a new blob in *blob (owned by the caller); blob NULL
 * only deletes it (del l[index]).  0, or -1 with ERANGE (an empty list or
 * an index outside it), ENOMEM (the item stays), EINVAL.
 */
CC_API int cc_shlist_pop(cc_shlist *l, long index, void **blob);

/* Items in the list now (a snapshot; 0 for a bad handle). */
CC_API size_t cc_shlist_len(cc_shlist *l);

/* Release this process's handle.  NULL does nothing. */
CC_API void cc_shlist_free(cc_shlist *l);

/* ------------------------------------------------------------ process pool */

/*
 * cc_process_pool_new - a pool of max_workers worker processes (0:
 * cc_cpu_count()) behind the same interface as the thread pool: cc_submit,
 * cc_map (a chunk travels as one message, so chunksize divides the
 * messages; CC_CHUNKSIZE_AUTO picks n / (4 * workers) rounded up, as
 * multiprocessing.Pool.map does), cc_wait, cc_as_completed,
 * cc_executor_shutdown, cc_executor_free.  Swapping cc_thread_pool_new for
 * cc_process_pool_new changes nothing else in code that passes blobs and
 * collects results with cc_map -- with one difference for cc_submit: a
 * process pool's future owns its result (below), where a thread pool's
 * future hands over whatever the task returned.
 *
 * Workers are started here, all at once (the call returns once they are
 * running), reused, and start clean: each is a fresh run of the calling
 * executable (/proc/self/exe, same environment, same stdin, stdout and
 * stderr, no other file descriptor), not a fork, so locks other threads of
 * the parent hold do not follow them.  A worker never enters main(): the
 * library takes over in its start-up code, runs the initializer, then
 * tasks, and leaves with _exit (stdio flushed).  Hence the rules:
 *
 *   - The task function (and the initializer) must lie in the code (an
 *     executable segment) of the main executable (a static one too) or of
 *     a shared library loaded in the calling process.  It is sent as that module -- the
 *     program, or the library's path as it was loaded -- and its offset in
 *     it, and found at the same place in the worker: a library the
 *     executable links is there already; one the program dlopen'ed is
 *     dlopen'ed by the worker from the same path on first use.  Refused at
 *     submit with EINVAL: a pointer into no loaded module (heap, stack, JIT
 *     or other anonymous memory: "... 0x7f3a... is in no loaded module")
 *     or into a module's data.  Failing in the worker (the future gets
 *     EINVAL, "process pool worker: cannot load ..."): a library that
 *     cannot be loaded from its path any more.  A library whose function
 *     was submitted stays loaded for good (RTLD_NODELETE), so its address
 *     can never come to name another function.
 *   - concur must be linked into the executable or into a library it links
 *     (a worker is recognised by concur's start-up code; a concur that is
 *     itself dlopen'ed later would never see it).  Start-up code of the
 *     program that runs after concur's (C++ static constructors, other
 *     constructors) may not have run in a worker; do not rely on it.
 *   - Arguments are NULL or blobs (EINVAL "process pool arguments must be
 *     blobs" otherwise; checked without reading memory that is not
 *     mapped), copied at submit.  In the worker the task gets a copy that
 *     belongs to the pool: it may read, change and even return it, not
 *     free it.
 *   - Results are NULL or blobs.  A task that returns any other non-NULL
 *     pointer fails with EINVAL "task returned a pointer that is not a
 *     blob" (as Python fails to pickle).  The worker sends the result and
 *     frees it.  In the parent, a successful future owns its result blob:
 *     cc_future_result's pointer stays valid until the future's last
 *     reference is freed (copy it to keep it).  cc_map's results are new
 *     blobs the caller owns and frees.  NULL and an empty blob stay apart.
 *   - State set up in main() before the pool is not in the workers: give it
 *     to them through the initializer (opts->initializer and opts->initarg,
 *     a blob or NULL), which each worker runs once before any task; its
 *     argument copy lives as long as the worker, so it may keep it.
 *
 * A task fails as anywhere else (cc_fail); its error, place and cause chain
 * included, comes back through the future (the place names the worker,
 * "in thread '<prefix>_<n>'").  A worker that dies (a crash, _exit, kill
 * -9, a closed socket) or whose initializer fails breaks the pool: every
 * pending and running future fails with CC_EBROKEN ("process pool is
 * broken: worker 1234 was killed by signal 9 (SIGKILL)", "... exited with
 * status 3", "process pool is broken: a worker's initializer failed" with
 * the initializer's error as cause), later submits fail the same way, the
 * other workers are killed and reaped, nothing hangs.  Futures that
 * completed before stay completed.  So does a worker that sends what no
 * worker sends (task code that corrupts memory, or writes to the worker's
 * socket): a message of a kind or a length no worker could send breaks the
 * pool as soon as its header arrives ("worker 1234 sent a frame header
 * claiming N bytes, more than this machine's memory and swap", "... sent
 * a malformed message"), and a message that stops arriving while its
 * worker lives breaks it after 5 s without a byte ("worker 1234 sent 24
 * bytes of a 1048600-byte frame, then nothing for 5 s"; a worker stopped
 * with SIGSTOP in the middle of a message counts too).
 *
 * opts->max_tasks_per_child (0: no limit) replaces a worker once it has run
 * that many tasks (a cc_map chunk counts as one): it is sent no more than
 * that, leaves after its last answer, and a new worker takes its place.
 * Workers are named "<prefix>_<n>" (cc_process_current_name() and the
 * thread name in the worker; prefix opts->thread_name_prefix, default
 * "ProcessPool-<k>"), n counting on for replacements.  Workers die with
 * the pool's manager thread (PR_SET_PDEATHSIG), so with the parent too.
 *
 * Done-callbacks of the pool's futures run on its manager thread
 * ("<prefix>-manager"); from there, waiting for a future of the same pool
 * never ends, and shutdown with wait (or cc_executor_free) is refused with
 * EDEADLK.  Results of quick tasks travel in batches; a result may wait for
 * at most 1 ms, or for one slow task that follows it in the same batch.
 * cc_executor_shutdown with wait leaves no worker and none of their file
 * descriptors behind; cc_executor_free also closes the pool's own (an
 * eventfd).  A child forked from the pool's process (cc_process_start,
 * fork) cannot use the pool -- its manager thread stayed in the parent:
 * cc_submit and cc_map fail there with EINVAL, and cc_executor_free only
 * releases the child's copy; a pool the child makes itself works.
 *
 * NULL with EINVAL (max_workers < 0, max_tasks_per_child < 0, an
 * initializer that is no function of a module, an initarg that is no
 * blob), ENOMEM, EMFILE, or the error of a worker that could not start.
 */
CC_API cc_executor *cc_process_pool_new(int max_workers,
                                        const cc_pool_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
