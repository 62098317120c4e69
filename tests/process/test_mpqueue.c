/* test_mpqueue - cc_mpqueue across forked processes: FIFO order, empty
 * and big messages, both bounds (messages and bytes), EMSGSIZE, timeouts,
 * close semantics across processes, cancellation of tasks blocked in put
 * and get, a ring that wraps with random sizes; 8 producer and 8 consumer
 * children plus parent threads and tasks with every message delivered
 * exactly once; and 200 rounds of children killed with SIGKILL in the
 * middle of puts and gets, after which the queue still works, holds only
 * whole messages and is not left locked. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "process/ipc_debug.h"
#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

/* ---- self-checking messages: [u32 producer][u32 seq][u64 len], then
 * bytes of a fixed ramp from an offset that depends on producer and seq,
 * so that making and checking one is a memcpy and a memcmp (the kill test
 * wants its children to spend their time inside the queue) ---- */

enum { MSG_MIN = 16, RAMP_SHIFTS = 4096 };
#define RAMP_LEN (((size_t)1 << 20) + RAMP_SHIFTS)

typedef struct msg_hdr {
    uint32_t producer;
    uint32_t seq;
    uint64_t len;
} msg_hdr;

static unsigned char ramp[RAMP_LEN];

static void ramp_init(void)
{
    for (size_t i = 0; i < RAMP_LEN; i++)
        ramp[i] = (unsigned char)((uint32_t)i * 13u ^ (uint32_t)(i >> 8));
}

static const unsigned char *pattern(uint32_t producer, uint32_t seq)
{
    return ramp + (producer * 131u + seq * 7u) % RAMP_SHIFTS;
}

static void fill_msg(void *buf, size_t len, uint32_t producer, uint32_t seq)
{
    msg_hdr h = {producer, seq, len};

    memcpy(buf, &h, sizeof(h));
    memcpy((char *)buf + sizeof(h), pattern(producer, seq) + sizeof(h),
           len - sizeof(h));
}

/* True when blob is a whole message; *h receives its header (zeros when
 * the blob is too short to hold one). */
static bool msg_whole(const void *blob, msg_hdr *h)
{
    size_t len = cc_blob_len(blob);

    if (len < sizeof(*h)) {
        memset(h, 0, sizeof(*h));
        return false;
    }
    memcpy(h, blob, sizeof(*h));
    return h->len == len &&
           memcmp((const char *)blob + sizeof(*h),
                  pattern(h->producer, h->seq) + sizeof(*h),
                  len - sizeof(*h)) == 0;
}

/* ---- semantics in one process ---- */

static void test_basics(void **state)
{
    (void)state;
    cc_mpqueue *q = cc_mpqueue_new(0, 0);
    assert_non_null(q);
    void *blob = cc_blob_strdup("a blob");
    void *got;

    assert_ok(cc_mpqueue_put_bytes(q, "hello", 5, 0));
    assert_ok(cc_mpqueue_put(q, blob, 0));
    assert_ok(cc_mpqueue_put(q, NULL, 0)); /* an empty message */
    assert_ok(cc_mpqueue_put_bytes(q, NULL, 0, 0));
    assert_int_equal(cc_mpqueue_size(q), 4);
    assert_ok(cc_mpqueue_get(q, &got, 0));
    assert_int_equal(cc_blob_len(got), 5);
    assert_memory_equal(got, "hello", 5);
    cc_blob_free(got);
    assert_ok(cc_mpqueue_get(q, &got, 1));
    assert_string_equal(got, "a blob"); /* blobs end with a hidden NUL */
    cc_blob_free(got);
    for (int i = 0; i < 2; i++) {
        assert_ok(cc_mpqueue_get(q, &got, 0));
        assert_int_equal(cc_blob_len(got), 0);
        cc_blob_free(got);
    }
    assert_int_equal(cc_mpqueue_size(q), 0);
    assert_fails_with(cc_mpqueue_get(q, &got, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_mpqueue_get(q, &got, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_ok(cc_deadline_push(0.03)); /* a scope bounds the wait */
    assert_fails_with(cc_mpqueue_get(q, &got, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    assert_fails_with(cc_mpqueue_get(q, &got, NAN), EINVAL);
    assert_fails_with(cc_mpqueue_put(q, NULL, NAN), EINVAL);
    char plain[64] = {0}; /* not a blob (its "header" is in the buffer) */
    assert_fails_with(cc_mpqueue_put(q, plain + 32, 0), EINVAL);
    assert_fails_with(cc_mpqueue_put_bytes(q, NULL, 3, 0), EINVAL);
    assert_fails_with(cc_mpqueue_get(q, NULL, 0), EINVAL);
    assert_fails_with(cc_mpqueue_get(NULL, &got, 0), EINVAL);
    assert_fails_with(cc_mpqueue_put(NULL, blob, 0), EINVAL);
    assert_fails_with(cc_mpqueue_close(NULL), EINVAL);
    assert_int_equal(cc_mpqueue_size(NULL), 0);
    assert_null_with(cc_mpqueue_new(0, 8), EINVAL);
    assert_ok(cc__mpqueue_check(q));
    cc_blob_free(blob);
    cc_mpqueue_free(q);
    cc_mpqueue_free(NULL);
}

/* cc_mpqueue_put of pointers whose 16 bytes below are not readable (the
 * first byte after a PROT_NONE page, an integer cast to a pointer): EINVAL,
 * never a fault.  In a forked child, so that a fault shows as one. */
static void test_put_of_unreadable_non_blobs(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + page, (size_t)page, PROT_READ | PROT_WRITE),
                     0);
    cc_mpqueue *q = cc_mpqueue_new(4, 1 << 12);
    assert_non_null(q);
    const void *bad[] = {m + page, (const void *)(uintptr_t)0x10,
                         (const void *)(uintptr_t)0x7ff000000000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: die of it */
            signal(SIGBUS, SIG_DFL);
            errno = 0;
            _exit(cc_mpqueue_put(q, bad[i], 0) == -1 && errno == EINVAL ? 0
                                                                        : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            fail_msg("cc_mpqueue_put(%p) died of signal %d", bad[i],
                     WTERMSIG(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(cc_mpqueue_size(q), 0);
    cc_mpqueue_free(q);
    munmap(m, (size_t)page * 2);
}

static void test_bounds(void **state)
{
    (void)state;
    void *got;

    /* maxsize bounds the messages */
    cc_mpqueue *q = cc_mpqueue_new(3, 0);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_mpqueue_put_bytes(q, "x", 1, 0));
    assert_fails_with(cc_mpqueue_put_bytes(q, "x", 1, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_mpqueue_put_bytes(q, "x", 1, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_ok(cc_mpqueue_get(q, &got, 0));
    cc_blob_free(got);
    assert_ok(cc_mpqueue_put_bytes(q, "x", 1, 0));
    cc_mpqueue_free(q);

    /* capacity bounds the bytes: a 24-byte message takes 32 of 64 */
    q = cc_mpqueue_new(0, 64);
    char buf[64] = {0};
    assert_ok(cc_mpqueue_put_bytes(q, buf, 24, 0));
    assert_ok(cc_mpqueue_put_bytes(q, buf, 24, 0));
    assert_fails_with(cc_mpqueue_put_bytes(q, buf, 1, 0), EAGAIN);
    assert_fails_with(cc_mpqueue_put_bytes(q, buf, 57, 0), EMSGSIZE);
    assert_ok(cc_mpqueue_get(q, &got, 0));
    cc_blob_free(got);
    assert_fails_with(cc_mpqueue_put_bytes(q, buf, 56, 0), EAGAIN);
    assert_ok(cc_mpqueue_get(q, &got, 0));
    cc_blob_free(got);
    assert_ok(cc_mpqueue_put_bytes(q, buf, 56, 0)); /* capacity - 8 */
    assert_ok(cc_mpqueue_get(q, &got, 0));
    assert_int_equal(cc_blob_len(got), 56);
    cc_blob_free(got);
    cc_mpqueue_free(q);

    /* the default capacity: 1 MiB, a message of up to 1 MiB - 8 */
    q = cc_mpqueue_new(0, 0);
    size_t big = ((size_t)1 << 20) - 8;
    void *m = cc_blob_new(big + 1);
    fill_msg(m, big + 1, 1, 1);
    assert_fails_with(cc_mpqueue_put_bytes(q, m, big + 1, 0), EMSGSIZE);
    assert_ok(cc_mpqueue_put_bytes(q, m, big, 0));
    assert_fails_with(cc_mpqueue_put_bytes(q, m, 1, 0), EAGAIN);
    assert_ok(cc_mpqueue_get(q, &got, 0));
    assert_int_equal(cc_blob_len(got), big);
    assert_memory_equal(got, m, big);
    cc_blob_free(got);
    cc_blob_free(m);
    cc_mpqueue_free(q);
}

/* Random sizes through a small ring: records wrap at every offset. */
static void test_wraparound(void **state)
{
    (void)state;
    cc_mpqueue *q = cc_mpqueue_new(0, 1000);
    unsigned char buf[400];
    uint32_t put_seq = 0;
    uint32_t get_seq = 0;
    void *got;

    for (int op = 0; op < 40000; op++) {
        if (tu_rand_below(2) == 0) {
            size_t len = MSG_MIN + tu_rand_below(sizeof(buf) - MSG_MIN + 1);
            fill_msg(buf, len, 7, put_seq);
            int rc = cc_mpqueue_put_bytes(q, buf, len, 0);
            if (rc == 0)
                put_seq++;
            else
                assert_int_equal(errno, EAGAIN);
        } else if (cc_mpqueue_get(q, &got, 0) == 0) {
            msg_hdr h;
            assert_true(msg_whole(got, &h));
            assert_int_equal(h.seq, get_seq); /* FIFO */
            get_seq++;
            cc_blob_free(got);
        } else {
            assert_int_equal(errno, EAGAIN);
            assert_int_equal(get_seq, put_seq);
        }
        if (op % 1000 == 0)
            assert_ok(cc__mpqueue_check(q));
    }
    assert_int_equal(cc_mpqueue_size(q), put_seq - get_seq);
    assert_true(put_seq > 10000);
    cc_mpqueue_free(q);
}

/* ---- big messages between processes ---- */

static cc_mpqueue *big_q;
static cc_mpqueue *big_back;
enum { BIG_MSGS = 40 };
#define BIG_CAP ((size_t)1 << 20)

static size_t big_len(uint32_t i)
{
    static const size_t fixed[] = {BIG_CAP - 8, 16, BIG_CAP / 2 + 3, 17,
                                   BIG_CAP - 8, 700 * 1024, 65536};
    if (i < sizeof(fixed) / sizeof(fixed[0]))
        return fixed[i];
    return MSG_MIN + (size_t)(i * 2654435761u) % (BIG_CAP - 8 - MSG_MIN);
}

/* The child sends each message and waits for its echo: with messages
 * close to the capacity, each queue holds one at a time. */
static void *big_child(void *arg)
{
    void *buf = malloc(BIG_CAP);
    void *got;
    msg_hdr h;

    for (uint32_t i = 0; i < BIG_MSGS; i++) {
        fill_msg(buf, big_len(i), 1, i);
        if (cc_mpqueue_put_bytes(big_q, buf, big_len(i), 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "put");
        if (cc_mpqueue_get(big_back, &got, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "get");
        if (!msg_whole(got, &h) || h.seq != i || h.len != big_len(i))
            return cc_fail(EPROTO, "message %u broken", i);
        cc_blob_free(got);
    }
    free(buf);
    return arg;
}

static void test_big_messages_across_processes(void **state)
{
    (void)state;
    big_q = cc_mpqueue_new(0, BIG_CAP);
    big_back = cc_mpqueue_new(0, BIG_CAP);
    cc_process *p = child_start(big_child, NULL);
    void *got;
    msg_hdr h;

    for (uint32_t i = 0; i < BIG_MSGS; i++) {
        assert_ok(cc_mpqueue_get(big_q, &got, 60));
        assert_true(msg_whole(got, &h));
        assert_int_equal(h.seq, i);
        assert_int_equal(h.len, big_len(i));
        assert_ok(cc_mpqueue_put(big_back, got, 60)); /* echo it back */
        cc_blob_free(got);
    }
    assert_int_equal(child_join(p), 0);
    assert_ok(cc__mpqueue_check(big_q));
    assert_ok(cc__mpqueue_check(big_back));
    cc_mpqueue_free(big_q);
    cc_mpqueue_free(big_back);
}

/* ---- close ---- */

static cc_mpqueue *close_q;

static void *blocked_get_child(void *arg)
{
    void *got;

    if (cc_mpqueue_get(close_q, &got, 30) == 0)
        return cc_fail(EPROTO, "got a message from a closed queue");
    if (errno != ESHUTDOWN)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    return arg;
}

static void *blocked_put_child(void *arg)
{
    if (cc_mpqueue_put_bytes(close_q, "y", 1, 30) == 0)
        return cc_fail(EPROTO, "put into a full queue");
    if (errno != ESHUTDOWN)
        return cc_fail_from(cc_last_error(), EPROTO, "put");
    return arg;
}

static void *closer_child(void *arg)
{
    tu_sleep(0.05);
    if (cc_mpqueue_close(close_q) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "close");
    return arg;
}

static void *get_until_closed(void *arg)
{
    void *got;
    (void)arg;
    if (cc_mpqueue_get(close_q, &got, 30) == 0)
        return cc_fail(EPROTO, "got a message from a closed queue");
    if (errno != ESHUTDOWN)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    return arg;
}

static void *close_tasks_main(void *arg)
{
    cc_future *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = cc_spawn(get_until_closed, arg);
    int rc = cc_gather(f, 5, NULL, false, CC_FOREVER);
    for (int i = 0; i < 5; i++)
        cc_future_free(f[i]);
    return rc == 0 ? arg : NULL;
}

static void test_close(void **state)
{
    void *got;

    /* in one process: puts fail, gets drain and then fail */
    close_q = cc_mpqueue_new(0, 0);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_mpqueue_put_bytes(close_q, "z", 1, 0));
    assert_ok(cc_mpqueue_close(close_q));
    assert_ok(cc_mpqueue_close(close_q)); /* twice is fine */
    assert_fails_with(cc_mpqueue_put_bytes(close_q, "z", 1, 0), ESHUTDOWN);
    assert_fails_with(cc_mpqueue_put_bytes(close_q, "z", 1, 1), ESHUTDOWN);
    for (int i = 0; i < 3; i++) {
        assert_ok(cc_mpqueue_get(close_q, &got, i == 0 ? 0 : 1));
        cc_blob_free(got);
    }
    assert_fails_with(cc_mpqueue_get(close_q, &got, 0), ESHUTDOWN);
    assert_fails_with(cc_mpqueue_get(close_q, &got, 1), ESHUTDOWN);
    cc_mpqueue_free(close_q);

    /* getters in two children, a thread and five tasks all wake when a
     * third child closes the queue */
    close_q = cc_mpqueue_new(0, 0);
    cc_process *getters[2] = {child_start(blocked_get_child, NULL),
                              child_start(blocked_get_child, NULL)};
    cc_process *closer = child_start(closer_child, NULL);
    cc_thread *t = cc_thread_start(get_until_closed, state, "getter");
    double t0 = cc_now();
    assert_ok(cc_run(close_tasks_main, state, NULL));
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    assert_true(cc_now() - t0 < 10);
    for (int i = 0; i < 2; i++)
        assert_int_equal(child_join(getters[i]), 0);
    assert_int_equal(child_join(closer), 0);
    cc_mpqueue_free(close_q);

    /* putters blocked on a full queue in children wake at the parent's
     * close */
    close_q = cc_mpqueue_new(1, 0);
    assert_ok(cc_mpqueue_put_bytes(close_q, "f", 1, 0));
    cc_process *putters[3];
    for (int i = 0; i < 3; i++)
        putters[i] = child_start(blocked_put_child, NULL);
    tu_sleep(0.05);
    assert_ok(cc_mpqueue_close(close_q));
    for (int i = 0; i < 3; i++)
        assert_int_equal(child_join(putters[i]), 0);
    assert_ok(cc_mpqueue_get(close_q, &got, 0)); /* drains */
    cc_blob_free(got);
    assert_fails_with(cc_mpqueue_get(close_q, &got, 0), ESHUTDOWN);
    cc_mpqueue_free(close_q);
}

/* ---- cancellation of tasks blocked in get and put ---- */

typedef struct blocked {
    bool put;
    cc_mpqueue *q;
    int err;
} blocked;

static void *run_blocked(void *arg)
{
    blocked *b = arg;
    void *got = NULL;
    int rc;

    errno = 0;
    rc = b->put ? cc_mpqueue_put_bytes(b->q, "p", 1, 30)
                : cc_mpqueue_get(b->q, &got, 30);
    b->err = rc == 0 ? 0 : errno;
    cc_blob_free(got);
    return NULL;
}

static void *cancel_main(void *arg)
{
    cc_mpqueue *empty = cc_mpqueue_new(0, 0);
    cc_mpqueue *full = cc_mpqueue_new(1, 0);
    blocked b[4] = {{false, empty, -1}, {true, full, -1},
                    {false, empty, -1}, {true, full, -1}};
    cc_future *f[4];
    void *res = arg;
    void *got;

    cc_mpqueue_put_bytes(full, "f", 1, 0);
    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(run_blocked, &b[i]);
    cc_sleep(0.05);
    for (int i = 0; i < 4; i++)
        if (cc_future_done(f[i]))
            res = cc_fail(EPROTO, "call %d did not block", i);
    double t0 = cc_now();
    cc_future_cancel(f[0]);
    cc_future_cancel(f[1]);
    cc_gather(f, 2, NULL, true, CC_FOREVER);
    if (cc_now() - t0 > tu_hang_bound(0)) /* the calls would block 30 s */
        res = cc_fail(EPROTO, "cancellation took too long");
    for (int i = 0; i < 2; i++)
        if (b[i].err != ECANCELED || !cc_future_cancelled(f[i]))
            res = cc_fail(EPROTO, "%s: %s instead of ECANCELED",
                          b[i].put ? "put" : "get", cc_errname(b[i].err));
    if (cc_future_done(f[2]) || cc_future_done(f[3]))
        res = cc_fail(EPROTO, "a cancellation woke a neighbour");
    /* the queues still work: the remaining waiters are served */
    cc_mpqueue_put_bytes(empty, "e", 1, 1);
    cc_mpqueue_get(full, &got, 1);
    cc_blob_free(got);
    cc_gather(f + 2, 2, NULL, true, CC_FOREVER);
    if (b[2].err != 0 || b[3].err != 0)
        res = cc_fail(EPROTO, "woken waiters failed: %s %s",
                      cc_errname(b[2].err), cc_errname(b[3].err));
    if (cc_mpqueue_size(empty) != 0 || cc_mpqueue_size(full) != 1)
        res = cc_fail(EPROTO, "sizes after the waits");
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    cc_mpqueue_free(empty);
    cc_mpqueue_free(full);
    return res;
}

static void test_cancel_blocked_put_and_get(void **state)
{
    assert_ok(cc_run(cancel_main, state, NULL));
}

/* ---- many processes, threads and tasks on one queue ---- */

enum {
    P_CHILDREN = 8, C_CHILDREN = 8, P_THREADS = 2, C_THREADS = 2,
    P_TASKS = 4, C_TASKS = 16,
    PRODUCERS = P_CHILDREN + P_THREADS + P_TASKS,
};
#define PER_CHILD (TU_SLOW > 1 ? 500 : 2000)
#define PER_THREAD (TU_SLOW > 1 ? 500 : 2000)
#define PER_TASK (TU_SLOW > 1 ? 150 : 500)
#define SLOTS_PER_PRODUCER 2000

typedef struct many_shared {
    _Atomic unsigned char delivered[PRODUCERS * SLOTS_PER_PRODUCER];
    _Atomic long got_by_children;
    _Atomic int broken;
} many_shared;

static cc_mpqueue *many_q;
static many_shared *many;
static _Atomic long got_in_parent;
static cc_event *task_producers_done;

static int produce(uint32_t producer, int n)
{
    unsigned char buf[700];

    for (int i = 0; i < n; i++) {
        size_t len = MSG_MIN + tu_rand_below(sizeof(buf) - MSG_MIN + 1);
        fill_msg(buf, len, producer, (uint32_t)i);
        if (cc_mpqueue_put_bytes(many_q, buf, len, 60) != 0)
            return -1;
        if (tu_rand_below(256) == 0)
            tu_jitter(300);
    }
    return 0;
}

/* Take messages until the queue is closed and drained: how many, or -1. */
static long consume(void)
{
    long n = 0;
    void *got;
    msg_hdr h;

    while (cc_mpqueue_get(many_q, &got, 60) == 0) {
        if (!msg_whole(got, &h) || h.producer >= PRODUCERS ||
            h.seq >= SLOTS_PER_PRODUCER)
            atomic_fetch_add(&many->broken, 1);
        else
            atomic_fetch_add(&many->delivered[h.producer *
                                              SLOTS_PER_PRODUCER + h.seq], 1);
        cc_blob_free(got);
        n++;
        if (tu_rand_below(512) == 0)
            tu_jitter(200);
    }
    return errno == ESHUTDOWN ? n : -1;
}

static void *producer_child(void *arg)
{
    if (produce((uint32_t)(intptr_t)arg, PER_CHILD) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "put");
    return arg;
}

static void *consumer_child(void *arg)
{
    long n = consume();
    if (n < 0)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    atomic_fetch_add(&many->got_by_children, n);
    return arg;
}

static void *producer_thread(void *arg)
{
    if (produce((uint32_t)(intptr_t)arg, PER_THREAD) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "put");
    return arg;
}

static void *consumer(void *arg)
{
    long n = consume();
    if (n < 0)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    atomic_fetch_add(&got_in_parent, n);
    return arg;
}

static void *producer_task(void *arg)
{
    if (produce((uint32_t)(intptr_t)arg, PER_TASK) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "put");
    return arg;
}

static void *many_tasks_main(void *arg)
{
    cc_future *p[P_TASKS];
    cc_future *c[C_TASKS];
    int rc;

    for (int i = 0; i < C_TASKS; i++)
        c[i] = cc_spawn(consumer, arg);
    for (int i = 0; i < P_TASKS; i++)
        p[i] = cc_spawn(producer_task,
                        (void *)(intptr_t)(P_CHILDREN + P_THREADS + i));
    rc = cc_gather(p, P_TASKS, NULL, false, CC_FOREVER);
    cc_event_set(task_producers_done);
    rc |= cc_gather(c, C_TASKS, NULL, false, CC_FOREVER);
    for (int i = 0; i < P_TASKS; i++)
        cc_future_free(p[i]);
    for (int i = 0; i < C_TASKS; i++)
        cc_future_free(c[i]);
    return rc == 0 ? arg : cc_fail_from(cc_last_error(), EPROTO, "tasks");
}

static void *many_loop(void *arg)
{
    if (cc_run(many_tasks_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return arg;
}

static void test_many_processes_threads_and_tasks(void **state)
{
    cc_process *prod[P_CHILDREN];
    cc_process *cons[C_CHILDREN];
    cc_thread *pt[P_THREADS];
    cc_thread *ct[C_THREADS];
    cc_thread *loop;
    cc_shared *mem = cc_shared_new(sizeof(many_shared), false);

    many = cc_shared_ptr(mem);
    many_q = cc_mpqueue_new(0, 64 * 1024); /* small: putters wait too */
    task_producers_done = cc_event_new();
    atomic_store(&got_in_parent, 0);
    double t0 = cc_now();
    /* children first: the parent forks while it has one thread */
    for (int i = 0; i < C_CHILDREN; i++)
        cons[i] = child_start(consumer_child, NULL);
    for (int i = 0; i < P_CHILDREN; i++)
        prod[i] = child_start(producer_child, (void *)(intptr_t)i);
    for (int i = 0; i < C_THREADS; i++)
        ct[i] = cc_thread_start(consumer, state, "consumer");
    for (int i = 0; i < P_THREADS; i++)
        pt[i] = cc_thread_start(producer_thread,
                                (void *)(intptr_t)(P_CHILDREN + i),
                                "producer");
    loop = cc_thread_start(many_loop, state, "loop");
    for (int i = 0; i < P_CHILDREN; i++)
        assert_int_equal(child_join(prod[i]), 0);
    for (int i = 0; i < P_THREADS; i++) {
        if (cc_thread_join(pt[i], NULL, 120) != 0)
            fail_msg("producer thread: %s", cc_errmsg());
        cc_thread_free(pt[i]);
    }
    assert_ok(cc_event_wait(task_producers_done, 120));
    assert_ok(cc_mpqueue_close(many_q));
    for (int i = 0; i < C_CHILDREN; i++)
        assert_int_equal(child_join(cons[i]), 0);
    for (int i = 0; i < C_THREADS; i++) {
        if (cc_thread_join(ct[i], NULL, 120) != 0)
            fail_msg("consumer thread: %s", cc_errmsg());
        cc_thread_free(ct[i]);
    }
    if (cc_thread_join(loop, NULL, 120) != 0)
        fail_msg("loop: %s", cc_errmsg());
    cc_thread_free(loop);
    double took = cc_now() - t0;

    long total = (long)P_CHILDREN * PER_CHILD + (long)P_THREADS * PER_THREAD +
                 (long)P_TASKS * PER_TASK;
    long by_children = atomic_load(&many->got_by_children);
    printf("# %ld messages in %.2f s: %ld to child processes, %ld to parent "
           "threads and tasks\n",
           total, took, by_children, atomic_load(&got_in_parent));
    assert_int_equal(atomic_load(&many->broken), 0);
    assert_int_equal(by_children + atomic_load(&got_in_parent), total);
    for (int p = 0; p < PRODUCERS; p++) {
        int n = p < P_CHILDREN                ? PER_CHILD
                : p < P_CHILDREN + P_THREADS ? PER_THREAD
                                              : PER_TASK;
        for (int s = 0; s < SLOTS_PER_PRODUCER; s++) {
            int d = atomic_load(&many->delivered[p * SLOTS_PER_PRODUCER + s]);
            if (d != (s < n ? 1 : 0))
                fail_msg("producer %d message %d delivered %d times", p, s, d);
        }
    }
    assert_int_equal(cc_mpqueue_size(many_q), 0);
    assert_ok(cc__mpqueue_check(many_q));
    cc_event_free(task_producers_done);
    cc_mpqueue_free(many_q);
    cc_shared_free(mem);
}

/* ---- waiters killed while they wait: their counts stay behind, and
 * cost only spurious wake-ups ---- */

static cc_mpqueue *stale_q;

static void *stuck_getter(void *arg)
{
    void *got;

    (void)arg;
    cc_mpqueue_get(stale_q, &got, 30); /* killed in here */
    return cc_fail(EPROTO, "the get returned: %s", cc_errmsg());
}

static void *late_putter(void *arg)
{
    tu_sleep(0.05);
    if (cc_mpqueue_put_bytes(stale_q, "late", 4, 10) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "put");
    return arg;
}

static void *timed_getter(void *arg)
{
    void *got;
    double t0 = cc_now();

    if (cc_mpqueue_get(stale_q, &got, 10) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "get");
    cc_blob_free(got);
    *(double *)arg = cc_now() - t0;
    return arg;
}

static void test_stale_waiters(void **state)
{
    (void)state;
    cc_process *getters[4];
    double waited = -1;
    void *got;

    stale_q = cc_mpqueue_new(0, 0);
    for (int i = 0; i < 4; i++)
        getters[i] = child_start(stuck_getter, NULL);
    tu_sleep(0.1 * TU_SLOW); /* let them block (counted) */
    for (int i = 0; i < 4; i++) {
        assert_ok(cc_process_kill(getters[i]));
        assert_int_equal(child_join(getters[i]), -SIGKILL);
    }
    /* puts and gets without waiting still work; their rings go to the
     * dead waiters until pending bytes cover them */
    for (int i = 0; i < 2000; i++) {
        assert_ok(cc_mpqueue_put_bytes(stale_q, "x", 1, 0));
        assert_ok(cc_mpqueue_get(stale_q, &got, 0));
        cc_blob_free(got);
    }
    /* a timed wait on an empty queue takes its time, no more, even with
     * stale bytes in the pipe */
    double t0 = cc_now();
    assert_fails_with(cc_mpqueue_get(stale_q, &got, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049 && cc_now() - t0 < tu_hang_bound(0.05));
    /* and a waiter is still woken by a put from another process */
    cc_process *putter = child_start(late_putter, NULL);
    cc_thread *t = cc_thread_start(timed_getter, &waited, "getter");
    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
    assert_int_equal(child_join(putter), 0);
    assert_true(waited >= 0 && waited < 5.0);
    assert_ok(cc__mpqueue_check(stale_q));
    cc_mpqueue_free(stale_q);
}

/* ---- kill -9 in the middle of puts and gets ---- */

#define KILL_ROUNDS 200
/* Per round: two children that never wait (their kills land inside the
 * queue's critical sections) and one that often waits (its kills leave
 * stale counts in the doorbells). */
enum { KILL_CHILDREN = 3, KILL_CAP = 64 * 1024, KILL_MAX_MSG = 12000 };

static cc_mpqueue *kill_q;
static cc_psem *kill_started;

/* Put and get as fast as possible, sometimes waiting, until killed.  A
 * child that fails still signals its start, so the parent never waits for
 * it in vain: it then finds exit code 1 instead of SIGKILL. */
static void *busy_child(void *arg)
{
    unsigned char *buf = malloc(KILL_MAX_MSG);
    uint32_t producer = (uint32_t)(intptr_t)arg;
    double wait = producer % KILL_CHILDREN == 2 ? 0.001 : 0;
    bool signalled = false;
    bool failed = false;
    void *got;
    msg_hdr h;

    for (uint32_t n = 0; n < 10000000 && !failed; n++) {
        unsigned r = tu_rand_below(32);

        if (n == 20) {
            if (cc_psem_release(kill_started) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "release");
            signalled = true;
        }
        /* half puts, half gets; the waiting child makes one in 16 of
         * each wait a little, so it may die counted in a doorbell */
        if (r < 16) {
            size_t len = MSG_MIN + tu_rand_below(KILL_MAX_MSG - MSG_MIN + 1);
            fill_msg(buf, len, producer, n);
            if (cc_mpqueue_put_bytes(kill_q, buf, len, r == 0 ? wait : 0) !=
                    0 &&
                errno != EAGAIN && errno != ETIMEDOUT) {
                cc_fail_from(cc_last_error(), EPROTO, "put");
                failed = true;
            }
        } else if (cc_mpqueue_get(kill_q, &got, r == 16 ? wait : 0) == 0) {
            if (!msg_whole(got, &h)) {
                cc_fail(EPROTO, "a broken message");
                failed = true;
            }
            cc_blob_free(got);
        } else if (errno != EAGAIN && errno != ETIMEDOUT) {
            cc_fail_from(cc_last_error(), EPROTO, "get");
            failed = true;
        }
    }
    if (!signalled)
        cc_psem_release(kill_started);
    free(buf);
    if (failed)
        return NULL; /* the failure recorded above */
    return cc_fail(EPROTO, "never killed: reached the end alive");
}

static void test_kill9_in_puts_and_gets(void **state)
{
    (void)state;
    kill_q = cc_mpqueue_new(0, KILL_CAP);
    kill_started = cc_psem_new(0);
    void *got;
    msg_hdr h;
    int killed = 0;

    for (int round = 0; round < KILL_ROUNDS; round++) {
        cc_process *busy[KILL_CHILDREN];

        for (int i = 0; i < KILL_CHILDREN; i++)
            busy[i] = child_start(busy_child, (void *)(intptr_t)(
                                              round * KILL_CHILDREN + i));
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_psem_acquire(kill_started, 60));
        tu_sleep((double)tu_rand_below(2000) / 1e6);
        /* a child that failed may have ended: a zombie takes the signal
         * too, keeping its exit code, so any error here is a bug */
        for (int i = 0; i < KILL_CHILDREN; i++)
            if (cc_process_kill(busy[i]) != 0)
                fail_msg("round %d: kill: %s", round, cc_errmsg());
        for (int i = 0; i < KILL_CHILDREN; i++) {
            int code = child_join(busy[i]);
            if (code != -SIGKILL)
                fail_msg("round %d: child exited with %d", round, code);
            killed++;
        }
        /* the parent still gets through: nothing is left locked (size
         * takes the mutex) */
        double t0 = cc_now();
        (void)cc_mpqueue_size(kill_q);
        if (cc_mpqueue_get(kill_q, &got, 0) == 0) {
            assert_true(msg_whole(got, &h));
            cc_blob_free(got);
        } else {
            assert_int_equal(errno, EAGAIN);
        }
        /* a lock left held by a killed child blocks for ever */
        assert_true(cc_now() - t0 < tu_hang_bound(0));
        if (round % 10 == 0)
            assert_ok(cc__mpqueue_check(kill_q));
    }
    assert_ok(cc__mpqueue_check(kill_q));
    /* whole messages only, as many as the count says */
    size_t n = cc_mpqueue_size(kill_q);
    size_t drained = 0;
    while (cc_mpqueue_get(kill_q, &got, 0) == 0) {
        if (!msg_whole(got, &h))
            fail_msg("message %zu is broken", drained);
        cc_blob_free(got);
        drained++;
    }
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(drained, n);
    /* and it still works, with waits */
    assert_ok(cc_mpqueue_put_bytes(kill_q, "ok", 2, 1));
    assert_ok(cc_mpqueue_get(kill_q, &got, 1));
    assert_memory_equal(got, "ok", 2);
    cc_blob_free(got);
    printf("# %d children killed; %llu times a dead owner's mutex was "
           "repaired; %zu messages left whole\n",
           killed, (unsigned long long)cc__mpqueue_repairs(kill_q), n);
    /* the kills did land inside critical sections */
    assert_true(cc__mpqueue_repairs(kill_q) > 0);
    cc_psem_free(kill_started);
    cc_mpqueue_free(kill_q);
}

int main(void)
{
    tu_seed();
    ramp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_put_of_unreadable_non_blobs),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_big_messages_across_processes),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_cancel_blocked_put_and_get),
        cmocka_unit_test(test_many_processes_threads_and_tasks),
        cmocka_unit_test(test_stale_waiters),
        cmocka_unit_test(test_kill9_in_puts_and_gets),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
