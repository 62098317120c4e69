/*
 * aio.h - what the layers above aio may use of the event loop (internal;
 * layer aio).
 *
 * The net layer waits on its sockets with kept fd registrations (and sizes
 * its handlers' stacks from the tasks' default); the http
 * layer drives curl's sockets with fd watches and keeps its per-loop state
 * in a loop slot; the process layer detaches a forked child from its
 * parent's loop.  Everything else of the loop and of tasks -- the task
 * record, stacks, the switch, timers -- is private to src/aio/ (task.h,
 * loop.h).  What the layers below aio need of tasks goes through the
 * core's fiber interface (internal/fiber.h) and the future layer's runner
 * (internal/future.h), never through this header.
 */
#ifndef CC_INTERNAL_AIO_H
#define CC_INTERNAL_AIO_H

#include <stddef.h>
#include <stdint.h>

#include "concur/aio.h"
#include "internal/waiter.h"

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

/*
 * A waiter on an fd of a task's loop: `w` is linked into the fd's
 * registration; the loop claims it when fd is ready for one of `events`
 * (CC_READABLE | CC_WRITABLE) and stores what was ready in `revents`
 * first (both, on an error or a hang-up).
 */
typedef struct cc__fd_waiter {
    cc__waiter w;
    int events;
    int revents;
} cc__fd_waiter;

/*
 * cc_select's fd case from a task: link w (w->w a stand-in for the
 * select's waiter, w->events set) into the calling task's loop's plain
 * registration of fd, adding fd to the loop's epoll for the union of its
 * waiters' interests.  Returns 0; 1 when fd cannot be polled by epoll (a
 * regular file: always ready, as poll() says; w is not linked); or an
 * errno (ENOMEM, epoll_ctl's; w is not linked), nothing recorded.
 * Undo with cc__fd_select_remove, on the same thread.
 */
int cc__fd_select_add(int fd, cc__fd_waiter *w);

/* Unlink w (if the loop did not already) and trim fd's interest. */
void cc__fd_select_remove(int fd, cc__fd_waiter *w);

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
int cc__fd_watch(cc_loop *l, int fd, int events, cc__fd_watch_fn fn,
                 void *arg);

/*
 * Per-loop state of other layers: ptr under `key` (any address unique to
 * the caller, e.g. a static's), and dtor(ptr), called by cc_loop_free once
 * the loop's tasks have ended, before its fds and timers go, with the loop
 * made current on the freeing thread (so dtor may cancel call_later timers
 * and drop fd watches).  A few slots (CC__LOOP_SLOTS); loop thread only.
 * attach: 0, or -1 with ENOSPC; attached: the ptr or NULL.
 */
int cc__loop_attach(cc_loop *l, const void *key, void *ptr,
                    void (*dtor)(void *));
void *cc__loop_attached(cc_loop *l, const void *key);

/*
 * For the child of cc_process_start: the calling thread no longer runs a
 * loop (the parent's loop, whose copy the child holds, is unusable: it
 * shares the parent's epoll and eventfd).  cc_run and cc_loop_run_* work
 * again afterwards.
 */
void cc__loop_child_detach(void);

/* The default stack size of a task (64 KiB, or CONCUR_STACK_SIZE), in
 * bytes: the net layer gives its handlers at least this. */
size_t cc__stack_default_size(void);

#endif
