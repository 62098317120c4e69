/*
 * mpqueue.c - cc_mpqueue, a FIFO of messages shared by forked processes
 * (multiprocessing.Queue; process layer).
 *
 * Layout: one shared mapping holds the header below and a byte ring of
 * `cap` bytes (a multiple of 8).  A message is a record
 *
 *     [u32 len][u32 len ^ REC_CHECK][payload, padded to 8 bytes]
 *
 * starting at an 8-aligned ring offset, so a header never straddles the
 * end of the ring; a payload may wrap around to the start.  `head` and
 * `tail` count bytes since creation (they never wrap: 2^64 bytes), so
 * tail - head is the bytes in use and pos % cap the place of a position.
 *
 * Locking: a robust process-shared mutex (`mu`, shm.h) guards the ring
 * bytes and every write of head, tail, count and closed; it is held for
 * the copy of one message and never across a wait.  Those fields are also
 * atomics so that waiters can peek at them without the mutex (the peeks
 * are advisory: they only decide whether taking the mutex is worth it).
 *
 * Crash consistency.  The primary state is (head, tail, closed, the bytes
 * of the records between head and tail).  A put writes its record beyond
 * tail, where nobody looks, and publishes it with one aligned 8-byte store
 * of tail; a get copies the payload out and then moves head past it with
 * one store.  A process killed at any instant has therefore either
 * published its message or not, and either consumed one or not.  `count`
 * (messages between head and tail) is derived: a put raises it after its
 * tail store and a get lowers it before its head store, so a death can
 * only leave it too low, never too high -- a stale peek then errs toward
 * trying.  The next process to take the mutex gets EOWNERDEAD and recounts
 * by walking the records from head to tail (repair()).
 *
 * Waiting: two doorbells (doorbell.h), not_empty for getters and not_full
 * for putters.  A put rings not_empty once: any getter can take any
 * message.  A get wakes every putter: they wait for different room (the
 * sizes of their messages), so the one byte of a single wake-up could go
 * to a putter that still does not fit while a smaller one would.  A get
 * that leaves messages behind while getters wait passes the baton (in
 * case a killed getter took a wake-up with it), and so does a get that
 * fails for want of memory.  close rings both doorbells for every
 * waiter.
 *
 * Unfinished tasks (JoinableQueue): `unfinished` counts messages put and
 * not yet marked done; it is primary state too, written under mu only.  A
 * put must raise it in the same instant as it publishes tail, which takes
 * two stores, so the put logs its intent first: the old tail and the old
 * count, then `intent` = 1, then the count, then tail, then `intent` = 0.
 * repair() finding the intent set knows whether the tail store happened
 * (tail moved past the logged one) and sets the count to the logged value
 * or one more.  task_done lowers it under mu and, reaching zero, rings the
 * third doorbell (joiners) for every waiter.  A joiner peeks at the count
 * without the mutex; when the intent flag is up it takes the mutex once
 * (repairing a dead putter's count), and it re-checks every 0.1 s while it
 * waits, since a dead putter rings nobody.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"
#include "internal/clock.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "process/doorbell.h"
#include "process/ipc_debug.h"
#include "process/shm.h"

#define MPQ_MAGIC 0x4d505155u    /* "MPQU" */
#define REC_CHECK 0x6d707121u    /* "mpq!": a header's second word */
#define REC_HDR 8u               /* bytes of a record header */
#define DEFAULT_CAPACITY (1u << 20)
#define RING_OFFSET 256u         /* the ring starts this far into the map */
#define JOIN_POLL_NS 100000000   /* a joiner re-checks this often (0.1 s) */

/* The shared part: created by cc_mpqueue_new, lives until the last process
 * unmaps it. */
struct mpq_shared {
    pthread_mutex_t mu;          /* robust; see the top of the file */
    uint64_t cap;                /* ring bytes, a multiple of 8; constant */
    uint64_t maxsize;            /* message bound, 0: none; constant */
    _Atomic uint64_t head;       /* bytes consumed; written under mu */
    _Atomic uint64_t tail;       /* bytes published; written under mu */
    _Atomic uint64_t count;      /* messages queued (derived, never above
                                    the truth); written under mu */
    _Atomic uint64_t repairs;    /* EOWNERDEAD repairs made (tests) */
    _Atomic uint32_t closed;     /* set once, under mu */
    cc__doorbell_shared getters; /* not_empty's counters */
    cc__doorbell_shared putters; /* not_full's counters */
    cc__doorbell_shared joiners; /* all_done's counters */
    _Atomic uint64_t unfinished; /* puts not yet marked done; under mu */
    _Atomic uint32_t intent;     /* a put is between its two stores */
    uint64_t intent_tail;        /* tail before that put; under mu */
    uint64_t intent_unfinished;  /* unfinished before it; under mu */
};

_Static_assert(sizeof(struct mpq_shared) <= RING_OFFSET,
               "the ring must start after the header");

/* This process's handle; children forked afterwards get copies. */
struct cc_mpqueue {
    uint32_t magic;              /* MPQ_MAGIC while alive */
    struct mpq_shared *sh;
    size_t map_len;              /* RING_OFFSET + cap */
    cc__doorbell not_empty;      /* getters wait here */
    cc__doorbell not_full;       /* putters wait here */
    cc__doorbell all_done;       /* joiners wait here */
};

static bool mpq_ok(const cc_mpqueue *q)
{
    return q != NULL && q->magic == MPQ_MAGIC;
}

static unsigned char *ring_of(struct mpq_shared *sh)
{
    return (unsigned char *)sh + RING_OFFSET;
}

/* Bytes a record of a len-byte message takes in the ring. */
static uint64_t rec_size(uint64_t len)
{
    return REC_HDR + ((len + 7) & ~(uint64_t)7);
}

/* ------------------------------------------------------------ ring bytes */

static void ring_put(struct mpq_shared *sh, uint64_t pos, const void *src,
                     size_t len)
{
    size_t off = (size_t)(pos % sh->cap);
    size_t first = len < sh->cap - off ? len : (size_t)(sh->cap - off);

    memcpy(ring_of(sh) + off, src, first);
    memcpy(ring_of(sh), (const char *)src + first, len - first);
}

static void ring_take(struct mpq_shared *sh, uint64_t pos, void *dst,
                      size_t len)
{
    size_t off = (size_t)(pos % sh->cap);
    size_t first = len < sh->cap - off ? len : (size_t)(sh->cap - off);

    memcpy(dst, ring_of(sh) + off, first);
    memcpy((char *)dst + first, ring_of(sh), len - first);
}

/* The header at pos (8-aligned, so it never wraps): the payload length, or
 * -1 when the check word does not match. */
static int64_t rec_len(struct mpq_shared *sh, uint64_t pos)
{
    uint32_t w[2];

    memcpy(w, ring_of(sh) + pos % sh->cap, sizeof(w));
    if ((w[0] ^ REC_CHECK) != w[1])
        return -1;
    return w[0];
}

/* ----------------------------------------------------- mutex and repair */

/*
 * Walk the records from head to tail: the number of whole messages, or -1
 * at the first bad header (*bad_pos then says where).
 */
static int64_t walk(struct mpq_shared *sh, uint64_t *bad_pos)
{
    uint64_t pos = atomic_load_explicit(&sh->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    int64_t n = 0;

    while (pos != tail) {
        int64_t len = tail - pos >= REC_HDR ? rec_len(sh, pos) : -1;

        if (len < 0 || rec_size((uint64_t)len) > tail - pos) {
            *bad_pos = pos;
            return -1;
        }
        pos += rec_size((uint64_t)len);
        n++;
    }
    return n;
}

/*
 * Called with mu held after its owner died: finish or undo the unfinished
 * count of a put that died between its two stores (see the top of the
 * file), then recount the messages.  A bad
 * header cannot happen (records are published whole); should one appear,
 * the queue keeps the whole records before it and drops the rest rather
 * than hand out garbage.
 */
static void repair(void *arg)
{
    struct mpq_shared *sh = arg;
    uint64_t bad = 0;
    int64_t n;

    if (atomic_load_explicit(&sh->intent, memory_order_relaxed)) {
        bool published = atomic_load_explicit(&sh->tail,
                                              memory_order_relaxed) !=
                         sh->intent_tail;

        atomic_store_explicit(&sh->unfinished,
                              sh->intent_unfinished + (published ? 1 : 0),
                              memory_order_release);
        atomic_store_explicit(&sh->intent, 0, memory_order_release);
    }
    n = walk(sh, &bad);

    if (n < 0) {
        cc__debugf("process queue: bad record at byte %llu after a dead "
                   "owner; dropping it and what follows",
                   (unsigned long long)bad);
        atomic_store_explicit(&sh->tail, bad, memory_order_release);
        n = walk(sh, &bad);
    }
    atomic_store_explicit(&sh->count, (uint64_t)n, memory_order_release);
    atomic_fetch_add_explicit(&sh->repairs, 1, memory_order_relaxed);
}

static int lock(struct mpq_shared *sh)
{
    return cc__pmutex_lock(&sh->mu, repair, sh);
}

/* ------------------------------------------------------------- lifecycle */

cc_mpqueue *cc_mpqueue_new(size_t maxsize, size_t capacity)
{
    cc_mpqueue *q;
    uint64_t cap;
    int rc;

    if (capacity == 0)
        capacity = DEFAULT_CAPACITY;
    if (capacity < 2 * REC_HDR || capacity > ((size_t)1 << 46))
        return cc__errf_null(EINVAL, "cc_mpqueue_new: capacity %zu is out of "
                                     "range (16 bytes to 64 TiB)", capacity);
    cap = ((uint64_t)capacity + 7) & ~(uint64_t)7;
    q = malloc(sizeof(*q));
    if (q == NULL)
        return cc__err_null(ENOMEM, "cc_mpqueue_new: out of memory");
    q->map_len = RING_OFFSET + (size_t)cap;
    q->sh = cc__shm_map(q->map_len, true);
    if (q->sh == NULL) {
        free(q);
        return cc__errf_null(ENOMEM, "cc_mpqueue_new: cannot map %zu bytes "
                                     "of shared memory: %s",
                             (size_t)cap, strerror(errno));
    }
    rc = cc__pmutex_init(&q->sh->mu);
    if (rc != 0)
        goto err_unmap;
    q->sh->cap = cap;
    q->sh->maxsize = maxsize;
    rc = cc__doorbell_init(&q->not_empty, &q->sh->getters);
    if (rc != 0)
        goto err_unmap;
    rc = cc__doorbell_init(&q->not_full, &q->sh->putters);
    if (rc != 0)
        goto err_close_not_empty;
    rc = cc__doorbell_init(&q->all_done, &q->sh->joiners);
    if (rc != 0)
        goto err_close_not_full;
    q->magic = MPQ_MAGIC;
    return q;
err_close_not_full:
    cc__doorbell_fini(&q->not_full);
err_close_not_empty:
    cc__doorbell_fini(&q->not_empty);
err_unmap:
    cc__shm_unmap(q->sh, q->map_len);
    free(q);
    return cc__errf_null(rc, "cc_mpqueue_new: %s", strerror(rc));
}

void cc_mpqueue_free(cc_mpqueue *q)
{
    if (!mpq_ok(q))
        return;
    q->magic = 0;
    cc__doorbell_fini(&q->not_empty);
    cc__doorbell_fini(&q->not_full);
    cc__doorbell_fini(&q->all_done);
    cc__shm_unmap(q->sh, q->map_len);
    free(q);
}

/* ------------------------------------------------------------------- put */

typedef struct put_op {
    cc_mpqueue *q;
    const void *p;
    size_t len;
} put_op;

static bool has_room(struct mpq_shared *sh, uint64_t need)
{
    uint64_t head = atomic_load_explicit(&sh->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&sh->tail, memory_order_acquire);
    uint64_t n = atomic_load_explicit(&sh->count, memory_order_acquire);

    return sh->cap - (tail - head) >= need &&
           (sh->maxsize == 0 || n < sh->maxsize);
}

/*
 * Publish the record written at tail (need bytes) and count its task, as
 * one step for a process killed in the middle (see the top of the file).
 * mu held.  die_at (tests only, cc__mpqueue_put_killed; 0 otherwise) kills
 * the calling process after the count's store (1) or the tail's (2).
 */
static inline void publish(struct mpq_shared *sh, uint64_t tail,
                           uint64_t need, int die_at)
{
    uint64_t unfinished = atomic_load_explicit(&sh->unfinished,
                                               memory_order_relaxed);

    sh->intent_tail = tail;
    sh->intent_unfinished = unfinished;
    atomic_store_explicit(&sh->intent, 1, memory_order_release);
    atomic_store_explicit(&sh->unfinished, unfinished + 1,
                          memory_order_release);
    if (die_at == 1)
        raise(SIGKILL);
    atomic_store_explicit(&sh->tail, tail + need, memory_order_release);
    if (die_at == 2)
        raise(SIGKILL);
    atomic_store_explicit(&sh->intent, 0, memory_order_release);
}

/* One attempt; never waits for room.  0, EAGAIN (full), ESHUTDOWN, or the
 * mutex's errno. */
static int try_put(void *arg)
{
    put_op *op = arg;
    struct mpq_shared *sh = op->q->sh;
    uint64_t need = rec_size(op->len);
    uint64_t tail;
    uint32_t hdr[2];
    int rc;

    /* A peek without the mutex: stale values only make us try. */
    if (!atomic_load_explicit(&sh->closed, memory_order_acquire) &&
        !has_room(sh, need))
        return EAGAIN;
    rc = lock(sh);
    if (rc != 0)
        return rc;
    if (atomic_load_explicit(&sh->closed, memory_order_relaxed)) {
        cc__pmutex_unlock(&sh->mu);
        return ESHUTDOWN;
    }
    if (!has_room(sh, need)) {
        cc__pmutex_unlock(&sh->mu);
        return EAGAIN;
    }
    /* Write the whole record where nobody looks, then publish it. */
    tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    hdr[0] = (uint32_t)op->len;
    hdr[1] = (uint32_t)op->len ^ REC_CHECK;
    memcpy(ring_of(sh) + tail % sh->cap, hdr, sizeof(hdr));
    if (op->len > 0)
        ring_put(sh, tail + REC_HDR, op->p, op->len);
    publish(sh, tail, need, 0);
    atomic_store_explicit(&sh->count,
                          atomic_load_explicit(&sh->count,
                                               memory_order_relaxed) + 1,
                          memory_order_release);
    cc__pmutex_unlock(&sh->mu);
    return 0;
}

int cc_mpqueue_put_bytes(cc_mpqueue *q, const void *p, size_t len,
                         double timeout)
{
    put_op op = {q, p, len};
    int64_t deadline;
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc_mpqueue_put: not a process queue");
    if (p == NULL && len > 0)
        return cc__err(EINVAL, "cc_mpqueue_put_bytes: p is NULL");
    if (cc__check_timeout(timeout, "cc_mpqueue_put") != 0)
        return -1;
    if (len > UINT32_MAX || len > q->sh->cap - REC_HDR)
        return cc__errf(EMSGSIZE, "process queue: a message of %zu bytes "
                                  "can never fit (at most %llu)",
                        len, (unsigned long long)(q->sh->cap - REC_HDR));
    if (timeout != 0 && cc__checkpoint("process queue put") != 0)
        return -1;
    rc = try_put(&op);
    if (rc == EAGAIN && timeout != 0) {
        if (cc__deadline_for(timeout, "cc_mpqueue_put", &deadline) != 0)
            return -1;
        rc = cc__doorbell_wait(&q->not_full, try_put, &op, deadline);
    }
    switch (rc) {
    case 0:
        cc__doorbell_ring(&q->not_empty, 1);
        return 0;
    case EAGAIN:
        return cc__err(EAGAIN, "process queue is full");
    case ETIMEDOUT:
        return cc__err(ETIMEDOUT, "process queue put timed out: still full");
    case ESHUTDOWN:
        return cc__err(ESHUTDOWN, "process queue is closed");
    case ECANCELED:
        return cc__err_wait(rc, "process queue put");
    default:
        return cc__errf(rc, "process queue put failed: %s", strerror(rc));
    }
}

int cc_mpqueue_put(cc_mpqueue *q, const void *blob, double timeout)
{
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_mpqueue_put: not a blob (use "
                               "cc_mpqueue_put_bytes for plain memory)");
    return cc_mpqueue_put_bytes(q, blob, blob ? cc_blob_len(blob) : 0,
                                timeout);
}

/* ------------------------------------------------------------------- get */

typedef struct get_op {
    cc_mpqueue *q;
    void *blob;       /* out: the message */
    bool more;        /* out: messages are left after it */
} get_op;

/* One attempt; never waits for a message.  0, EAGAIN (empty), ESHUTDOWN
 * (closed and drained), ENOMEM (the message stays), or the mutex's errno. */
static int try_get(void *arg)
{
    get_op *op = arg;
    struct mpq_shared *sh = op->q->sh;
    uint64_t head;
    uint64_t tail;
    int64_t len;
    int rc;

    /* A peek at primary state only: head != tail is a message. */
    if (atomic_load_explicit(&sh->head, memory_order_acquire) ==
            atomic_load_explicit(&sh->tail, memory_order_acquire) &&
        !atomic_load_explicit(&sh->closed, memory_order_acquire))
        return EAGAIN;
    rc = lock(sh);
    if (rc != 0)
        return rc;
    head = atomic_load_explicit(&sh->head, memory_order_relaxed);
    tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    if (head == tail) {
        rc = atomic_load_explicit(&sh->closed, memory_order_relaxed)
                 ? ESHUTDOWN
                 : EAGAIN;
        cc__pmutex_unlock(&sh->mu);
        return rc;
    }
    len = rec_len(sh, head); /* whole: published records only */
    if (len < 0) {
        /* Cannot happen (see repair()); never hand out garbage. */
        repair(sh);
        cc__pmutex_unlock(&sh->mu);
        return EAGAIN;
    }
    op->blob = cc_blob_new((size_t)len);
    if (op->blob == NULL) {
        cc__pmutex_unlock(&sh->mu);
        return ENOMEM;
    }
    ring_take(sh, head + REC_HDR, op->blob, (size_t)len);
    /* count first, then head: a death in between leaves count low. */
    atomic_store_explicit(&sh->count,
                          atomic_load_explicit(&sh->count,
                                               memory_order_relaxed) - 1,
                          memory_order_release);
    head += rec_size((uint64_t)len);
    atomic_store_explicit(&sh->head, head, memory_order_release);
    op->more = head != tail;
    cc__pmutex_unlock(&sh->mu);
    return 0;
}

int cc_mpqueue_get(cc_mpqueue *q, void **blob, double timeout)
{
    get_op op = {q, NULL, false};
    int64_t deadline;
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc_mpqueue_get: not a process queue");
    if (blob == NULL)
        return cc__err(EINVAL, "cc_mpqueue_get: blob is NULL");
    if (cc__check_timeout(timeout, "cc_mpqueue_get") != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("process queue get") != 0)
        return -1;
    rc = try_get(&op);
    if (rc == EAGAIN && timeout != 0) {
        if (cc__deadline_for(timeout, "cc_mpqueue_get", &deadline) != 0)
            return -1;
        rc = cc__doorbell_wait(&q->not_empty, try_get, &op, deadline);
    }
    switch (rc) {
    case 0:
        *blob = op.blob;
        cc__doorbell_ring(&q->not_full, UINT32_MAX);
        if (op.more)
            cc__doorbell_ring(&q->not_empty, 1); /* pass the baton */
        return 0;
    case EAGAIN:
        return cc__err(EAGAIN, "process queue is empty");
    case ETIMEDOUT:
        return cc__err(ETIMEDOUT, "process queue get timed out: nothing "
                                  "arrived");
    case ESHUTDOWN:
        return cc__err(ESHUTDOWN, "process queue is closed and drained");
    case ENOMEM:
        /* We may have taken the wake-up meant for the message we leave. */
        cc__doorbell_ring(&q->not_empty, 1);
        return cc__err(ENOMEM, "process queue get: out of memory for the "
                               "message (it stays queued)");
    case ECANCELED:
        return cc__err_wait(rc, "process queue get");
    default:
        return cc__errf(rc, "process queue get failed: %s", strerror(rc));
    }
}

/* ------------------------------------------------------ close, snapshots */

int cc_mpqueue_close(cc_mpqueue *q)
{
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc_mpqueue_close: not a process queue");
    rc = lock(q->sh);
    if (rc != 0)
        return cc__errf(rc, "cc_mpqueue_close: %s", strerror(rc));
    atomic_store_explicit(&q->sh->closed, 1, memory_order_release);
    cc__pmutex_unlock(&q->sh->mu);
    /* Every counted waiter gets a byte; each re-checks and sees closed. */
    cc__doorbell_ring(&q->not_empty, UINT32_MAX);
    cc__doorbell_ring(&q->not_full, UINT32_MAX);
    return 0;
}

size_t cc_mpqueue_size(cc_mpqueue *q)
{
    uint64_t n;

    if (!mpq_ok(q))
        return 0;
    /* Under the mutex: a dead owner's stale count is repaired first. */
    if (lock(q->sh) != 0)
        return (size_t)atomic_load_explicit(&q->sh->count,
                                            memory_order_acquire);
    n = atomic_load_explicit(&q->sh->count, memory_order_relaxed);
    cc__pmutex_unlock(&q->sh->mu);
    return (size_t)n;
}

/* ------------------------------------------------- task_done and join */

int cc_mpqueue_task_done(cc_mpqueue *q)
{
    uint64_t n;
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc_mpqueue_task_done: not a process queue");
    rc = lock(q->sh);
    if (rc != 0)
        return cc__errf(rc, "cc_mpqueue_task_done: %s", strerror(rc));
    n = atomic_load_explicit(&q->sh->unfinished, memory_order_relaxed);
    if (n == 0) {
        cc__pmutex_unlock(&q->sh->mu);
        return cc__err(EOVERFLOW, "process queue: task_done called more "
                                  "times than messages were put");
    }
    atomic_store_explicit(&q->sh->unfinished, n - 1, memory_order_release);
    cc__pmutex_unlock(&q->sh->mu);
    if (n == 1)
        cc__doorbell_ring(&q->all_done, UINT32_MAX);
    return 0;
}

/* One look: 0 when no task is unfinished, else EAGAIN.  A put caught
 * between its stores (or killed there) makes it take the mutex, which
 * repairs the count of a dead one. */
static int try_join(void *arg)
{
    cc_mpqueue *q = arg;
    struct mpq_shared *sh = q->sh;

    if (atomic_load_explicit(&sh->unfinished, memory_order_acquire) == 0)
        return 0;
    if (!atomic_load_explicit(&sh->intent, memory_order_acquire))
        return EAGAIN;
    if (lock(sh) != 0)
        return EAGAIN;
    cc__pmutex_unlock(&sh->mu);
    return atomic_load_explicit(&sh->unfinished, memory_order_acquire) == 0
               ? 0
               : EAGAIN;
}

int cc_mpqueue_join(cc_mpqueue *q, double timeout)
{
    int64_t deadline;
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc_mpqueue_join: not a process queue");
    if (cc__check_timeout(timeout, "cc_mpqueue_join") != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("process queue join") != 0)
        return -1;
    rc = try_join(q);
    if (rc == EAGAIN && timeout != 0) {
        if (cc__deadline_for(timeout, "cc_mpqueue_join", &deadline) != 0)
            return -1;
        /* In slices: a putter that died between its stores rings nobody. */
        for (;;) {
            int64_t slice = cc__now_ns() + JOIN_POLL_NS;
            int64_t until = deadline < slice ? deadline : slice;

            rc = cc__doorbell_wait(&q->all_done, try_join, q, until);
            if (rc != ETIMEDOUT || until == deadline)
                break;
        }
    }
    switch (rc) {
    case 0:
        return 0;
    case EAGAIN:
        return cc__err(EAGAIN, "process queue: tasks are unfinished");
    case ETIMEDOUT:
        return cc__err(ETIMEDOUT, "process queue join timed out: tasks are "
                                  "still unfinished");
    case ECANCELED:
        return cc__err_wait(rc, "process queue join");
    default:
        return cc__errf(rc, "process queue join failed: %s", strerror(rc));
    }
}

size_t cc_mpqueue_unfinished(cc_mpqueue *q)
{
    uint64_t n;

    if (!mpq_ok(q))
        return 0;
    /* Under the mutex: a dead putter's count is repaired first. */
    if (lock(q->sh) != 0)
        return (size_t)atomic_load_explicit(&q->sh->unfinished,
                                            memory_order_acquire);
    n = atomic_load_explicit(&q->sh->unfinished, memory_order_relaxed);
    cc__pmutex_unlock(&q->sh->mu);
    return (size_t)n;
}

/* ----------------------------------------------------------- test hooks */

int cc__mpqueue_check(cc_mpqueue *q)
{
    uint64_t bad = 0;
    uint64_t n;
    int64_t walked;
    int rc;

    if (!mpq_ok(q))
        return cc__err(EINVAL, "cc__mpqueue_check: not a process queue");
    rc = lock(q->sh);
    if (rc != 0)
        return cc__errf(rc, "cc__mpqueue_check: %s", strerror(rc));
    walked = walk(q->sh, &bad);
    n = atomic_load_explicit(&q->sh->count, memory_order_relaxed);
    cc__pmutex_unlock(&q->sh->mu);
    if (walked < 0)
        return cc__errf(EPROTO, "process queue: bad record header at byte "
                                "%llu", (unsigned long long)bad);
    if ((uint64_t)walked != n)
        return cc__errf(EPROTO, "process queue: count says %llu messages, "
                                "the ring holds %lld",
                        (unsigned long long)n, (long long)walked);
    return 0;
}

void cc__mpqueue_put_killed(cc_mpqueue *q, const void *p, size_t len,
                            int die_at)
{
    struct mpq_shared *sh = q->sh;
    uint64_t tail;
    uint32_t hdr[2];

    if (lock(sh) != 0)
        return;
    tail = atomic_load_explicit(&sh->tail, memory_order_relaxed);
    hdr[0] = (uint32_t)len;
    hdr[1] = (uint32_t)len ^ REC_CHECK;
    memcpy(ring_of(sh) + tail % sh->cap, hdr, sizeof(hdr));
    if (len > 0)
        ring_put(sh, tail + REC_HDR, p, len);
    publish(sh, tail, rec_size(len), die_at);
    cc__pmutex_unlock(&sh->mu);
}

uint64_t cc__mpqueue_repairs(cc_mpqueue *q)
{
    if (!mpq_ok(q))
        return 0;
    return atomic_load_explicit(&q->sh->repairs, memory_order_relaxed);
}
