/*
 * doorbell.h - how a process-shared object waits (process layer, internal).
 *
 * The in-process primitives wait through cc__waiter, whose wake-ups travel
 * through memory that only one process can see (a futex on a stack word, a
 * task posted to a loop).  An object shared by forked processes needs a
 * wake-up any process can deliver and any waiter -- a thread (poll) or a
 * coroutine (epoll on its loop) -- can wait for.  A doorbell is that:
 *
 *   - a pipe (both ends O_NONBLOCK | O_CLOEXEC) made with the object, so
 *     every child forked afterwards holds the same two open files;
 *   - in the object's shared memory, a count of waiters and a count of
 *     the bytes pending in the pipe (see "Pending bytes" below).
 *
 * A waiter increments the count (seq_cst) and re-checks its condition.  If
 * it is still unmet it waits until the read end is readable (cc_wait_fd:
 * poll in a thread, epoll in a task, which suspends only the task and fails
 * with ECANCELED when the task is cancelled), reads one byte (EAGAIN means
 * another waiter took it) and re-checks.  It decrements the count when it
 * leaves.  A changer, after its change and a full fence, reads the count
 * and, when it is above zero, writes one byte per waiter it wants to wake
 * (EAGAIN on a full pipe is fine: 64 KiB of wake-ups are already pending).
 *
 * Why no wake-up is lost (Dekker's argument, as the in-process queue makes
 * it with a futex in src/queue/queue.c): the waiter's increment and its
 * re-check are separated by a full fence, and so are the changer's change
 * and its read of the count.  In the single total order of seq_cst
 * operations one of the two comes first: either the waiter's re-check sees
 * the change, or the changer sees the count and writes a byte, which stays
 * in the pipe until some waiter reads it.  Every byte read is followed by a
 * re-check, so a waiter that takes a byte meant for another state (or one
 * left behind by a waiter that timed out) only wakes spuriously.
 *
 * Pending bytes.  Next to the count, `pending` accounts for the bytes in
 * the pipe: a changer adds what it wrote after writing it, a reader takes
 * one off before reading (and puts it back if the pipe was empty).  So
 * pending never exceeds the bytes really there, and a changer that finds
 * pending >= waiters skips the write: every counted waiter will find a
 * byte, wake and re-check.  This bounds the cost of stale counts.
 *
 * Killed processes: a waiter killed while counted leaves the count too
 * high for good; changers then write bytes nobody needed -- until pending
 * catches up with the stale count, after which they write nothing extra --
 * and each costs one spurious wake-up, never a lost one.  A death between
 * a write and its pending update, or between a reader's update and its
 * read, leaves pending too low: a few more spurious bytes.  A waiter
 * killed in the instant between reading a byte and re-checking takes that
 * one wake-up with it; objects therefore pass the baton (a waiter that
 * succeeds rings again when more work is left and others wait), so the
 * next change anywhere, or the other waiter's timeout, restores progress.
 *
 * One wake-up per changer suits waiters that all wait for the same thing
 * (a message, a unit, the lock).  Waiters with different conditions (put
 * waiters needing different room) must be woken all at once: the byte of
 * a lone wake-up could go to one whose condition still fails.  Even then a
 * waiter that fails may take a second byte of the same broadcast (bytes
 * carry no address), delaying one other waiter until the next change.
 *
 * The doorbell itself is per process (the fds are the same numbers in every
 * process after fork); its two counters live where the object's state
 * lives.
 */
#ifndef CC_PROCESS_DOORBELL_H
#define CC_PROCESS_DOORBELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The doorbell's part of the object's shared memory (zeroed at start). */
typedef struct cc__doorbell_shared {
    _Atomic uint32_t waiters;  /* counted waiters; too high after deaths */
    _Atomic int32_t pending;   /* bytes in the pipe, never above the truth */
} cc__doorbell_shared;

typedef struct cc__doorbell {
    int rfd;                   /* read end: waiters wait until readable */
    int wfd;                   /* write end: one byte per wake-up */
    cc__doorbell_shared *sh;   /* in the object's shared memory */
} cc__doorbell;

/*
 * Make the pipe; `sh` points at zeroed memory in the object's shared
 * mapping.  0, or an errno (EMFILE, ENFILE) with nothing made.
 */
int cc__doorbell_init(cc__doorbell *d, cc__doorbell_shared *sh);

/* Close this process's ends.  Safe on a doorbell whose init failed. */
void cc__doorbell_fini(cc__doorbell *d);

/*
 * After a change a waiter may wait for: a full fence, then write up to n
 * bytes, no more than the counted waiters and not for waiters that bytes
 * already pending will wake (n = UINT32_MAX: wake all).  Never blocks,
 * never fails (a full pipe already holds wake-ups).
 */
void cc__doorbell_ring(cc__doorbell *d, uint32_t n);

/*
 * The waiting side, written once for every object:
 *
 *   try_op(arg) makes one attempt and never blocks: it returns 0 (done),
 *   EAGAIN (the condition is unmet: wait), or another errno (a final
 *   failure such as ESHUTDOWN).  It must look at the object's state after
 *   the caller's increment, i.e. read shared state only after this
 *   function's fence (any atomic load or a mutex does).
 *
 * Spins briefly first in a thread (cc__spin_round), then counts itself in
 * and waits on the pipe until try_op stops returning EAGAIN or `deadline`
 * (monotonic ns) passes; at the deadline it tries one last time.  Returns
 * try_op's result, ETIMEDOUT, ECANCELED (the calling task was cancelled),
 * or the errno of a failed poll/epoll.  Records no error message: the
 * caller does, knowing what it waited for.
 */
int cc__doorbell_wait(cc__doorbell *d, int (*try_op)(void *arg), void *arg,
                      int64_t deadline);

#endif
