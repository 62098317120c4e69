/*
 * chaos_process - kill -9 while work flows through the process layer
 * (`make chaos`).  Not a cmocka test: a program that runs for a set time and
 * counts.
 *
 *   chaos_process [--seconds S] [--seed N]     (defaults: 10 s, from time)
 *
 * The first half of the time, the pool part: process pools of 2 workers,
 * one after another, take items (each a blob with a unique id; the task
 * returns the id, sometimes after a short sleep) while a chaos thread
 * sends SIGKILL to one of the workers at random intervals.  Every item
 * must end exactly once: done with its own id, or failed with CC_EBROKEN
 * and a message naming the killed worker ("process pool is broken: worker
 * <pid> was killed by signal 9 (SIGKILL)"), at submit or through its
 * future.  A broken pool is shut down and freed and a new one made.  A
 * future still pending after a generous timeout is a hang: a failure.
 *
 * The second half, the queue part: one cc_mpqueue, up to PRODUCERS forked
 * children putting (producer, seq) messages as fast as they can, each
 * recording in shared memory how many of its puts returned; the parent
 * gets, and at random intervals kills a random producer with SIGKILL and
 * starts a new one.  As the queue documents, a put that returned is
 * delivered exactly once, a put cut short by the kill is not delivered
 * (nor any part of it), and the queue stays usable and unlocked.  So: no
 * message twice, no message malformed, every confirmed put received, at
 * most the one put in flight at the kill beyond the confirmed ones (the
 * producer may die between the put's return and its record), and at the
 * end the queue is empty and still works.
 *
 * Prints its seed first and one line of figures last; exits 0 only when
 * every invariant held, 1 with a message naming the first one broken.
 * Only counts are checked, never times.
 */
#include <concur.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
/* cc__mpqueue_check, cc__mpqueue_repairs (internal, from src/) */
#include "process/ipc_debug.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Sanitizers slow everything down: the hang bound grows with them. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW 4.0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SLOW 4.0
#endif
#endif
#ifndef SLOW
#define SLOW 1.0
#endif
#define HANG (60.0 * SLOW) /* longer than any wait can legitimately take */

enum { BATCH = 64, PRODUCERS = 3, MAX_PRODUCERS = 1 << 16 };

static unsigned long seed;
static _Thread_local uint64_t rng;
static _Atomic uint64_t rng_stream;

static uint64_t rnd(void)
{
    if (rng == 0)
        rng = (seed * 0x9E3779B97F4A7C15ULL) ^
              (atomic_fetch_add(&rng_stream, 1) + 1) * 0xD1B54A32D192ED03ULL;
    if (rng == 0)
        rng = 1;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static unsigned below(unsigned n)
{
    return n == 0 ? 0 : (unsigned)(rnd() % n);
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                     noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "chaos: FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (seed %lu)\n", seed);
    exit(1);
}

/* ================================================================ pool */

/* The task: [u64 id][u32 sleep us]; returns the id alone. */
typedef struct item {
    uint64_t id;
    uint32_t sleep_us;
} item;

static void *echo_task(void *arg)
{
    item it;

    if (!cc_blob_is(arg) || cc_blob_len(arg) != sizeof(it))
        return cc_fail(EPROTO, "chaos: bad argument");
    memcpy(&it, arg, sizeof(it));
    if (it.sleep_us > 0)
        nap(it.sleep_us / 1e6);
    return cc_blob_dup(&it.id, sizeof(it.id));
}

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static bool pool_live;              /* under pool_lock: workers may die */
static uint64_t pool_gen;           /* under pool_lock: pools made live */
static _Atomic uint64_t live_done;  /* items done by the live pool */
static _Atomic bool pool_phase_over;
static unsigned long pool_kills;    /* under pool_lock */

/* The pids of this process's children (every thread's). */
static int children(pid_t *out, int max)
{
    int n = tc_children(out, max);

    if (n < 0)
        die("cannot read /proc/self/task: %s", strerror(errno));
    return n;
}

static bool is_child(pid_t pid)
{
    pid_t kids[16];
    int n = children(kids, 16);

    for (int i = 0; i < n; i++)
        if (kids[i] == pid)
            return true;
    return false;
}

/* SIGKILL a random worker of the live pool, at random intervals, once
 * the pool has done a random number of items (a count, not a time: a slow
 * machine or a sanitizer build still sees work done between kills).  The
 * worker is pinned with a pidfd and checked to be still our child after,
 * so a pid recycled meanwhile is never hit. */
static void *pool_chaos(void *arg)
{
    uint64_t gen = 0, threshold = 0;

    (void)arg;
    while (!atomic_load(&pool_phase_over)) {
        nap((1 + below(20)) / 1e3);
        pthread_mutex_lock(&pool_lock);
        if (pool_live && pool_gen != gen) {
            gen = pool_gen;
            threshold = below(4) == 0 ? 0 : below(800);
        }
        if (pool_live && atomic_load(&live_done) >= threshold) {
            pid_t kids[16];
            int n = children(kids, 16);

            if (n > 0) {
                pid_t pid = kids[below((unsigned)n)];
                int fd = (int)syscall(SYS_pidfd_open, pid, 0);

                if (fd >= 0) {
                    if (is_child(pid) &&
                        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL,
                                0) == 0)
                        pool_kills++;
                    close(fd);
                }
            }
        }
        pthread_mutex_unlock(&pool_lock);
    }
    return NULL;
}

typedef struct pool_figures {
    uint64_t submitted, done, broken, lost, dup, pools;
} pool_figures;

/* A failure must be the broken pool, naming the worker that died. */
static void check_broken(const char *what, uint64_t id)
{
    int code = errno;
    const char *msg = cc_errmsg();

    if (code != CC_EBROKEN)
        die("pool: item %" PRIu64 " %s failed with errno %d, not CC_EBROKEN: "
            "%s", id, what, code, msg);
    if (strstr(msg, "process pool is broken: worker ") == NULL ||
        strstr(msg, "killed by signal 9 (SIGKILL)") == NULL)
        die("pool: item %" PRIu64 " %s: CC_EBROKEN without the killed worker "
            "named: \"%s\"", id, what, msg);
}

static void pool_part(double seconds, pool_figures *pf)
{
    pthread_t chaos;
    double end = cc_now() + seconds;
    size_t cap = 1 << 16;
    uint8_t *seen = calloc(cap, 1); /* per id: 0 no outcome, 1 one */

    if (seen == NULL)
        die("out of memory");
    if (pthread_create(&chaos, NULL, pool_chaos, NULL) != 0)
        die("pthread_create");
    while (cc_now() < end) {
        cc_executor *pool = cc_process_pool_new(2, NULL);
        bool broken = false;

        if (pool == NULL)
            die("pool: cc_process_pool_new: %s", cc_errmsg());
        pf->pools++;
        pthread_mutex_lock(&pool_lock);
        atomic_store(&live_done, 0);
        pool_gen++;
        pool_live = true;
        pthread_mutex_unlock(&pool_lock);
        while (!broken && cc_now() < end) {
            cc_future *fs[BATCH];
            uint64_t ids[BATCH];
            int n = 1 + (int)below(BATCH);

            for (int i = 0; i < n; i++) {
                item it = {pf->submitted, below(4) == 0 ? below(2000) : 0};
                void *arg = cc_blob_dup(&it, sizeof(it));

                if (arg == NULL)
                    die("out of memory");
                if (it.id >= cap) {
                    seen = realloc(seen, cap * 2);
                    if (seen == NULL)
                        die("out of memory");
                    memset(seen + cap, 0, cap);
                    cap *= 2;
                }
                ids[i] = it.id;
                pf->submitted++;
                fs[i] = cc_submit(pool, echo_task, arg);
                cc_blob_free(arg); /* copied at submit */
                if (fs[i] == NULL) {
                    check_broken("at submit", it.id);
                    seen[it.id]++;
                    pf->broken++;
                    broken = true;
                }
            }
            for (int i = 0; i < n; i++) {
                void *res;

                if (fs[i] == NULL)
                    continue;
                if (cc_future_result(fs[i], &res, HANG) == 0) {
                    uint64_t got;

                    if (!cc_blob_is(res) || cc_blob_len(res) != sizeof(got))
                        die("pool: item %" PRIu64 ": not an id back", ids[i]);
                    memcpy(&got, res, sizeof(got));
                    if (got != ids[i])
                        die("pool: item %" PRIu64 " came back as %" PRIu64,
                            ids[i], got);
                    pf->done++;
                    atomic_fetch_add(&live_done, 1);
                } else if (errno == ETIMEDOUT) {
                    die("pool: item %" PRIu64 " still pending after %.0f s",
                        ids[i], HANG);
                } else {
                    check_broken("through its future", ids[i]);
                    pf->broken++;
                    broken = true;
                }
                if (seen[ids[i]]++ != 0)
                    pf->dup++;
                cc_future_free(fs[i]);
            }
        }
        pthread_mutex_lock(&pool_lock);
        pool_live = false;
        pthread_mutex_unlock(&pool_lock);
        if (cc_executor_shutdown(pool, true, false) != 0)
            die("pool: shutdown: %s", cc_errmsg());
        cc_executor_free(pool);
    }
    atomic_store(&pool_phase_over, true);
    pthread_join(chaos, NULL);
    for (uint64_t id = 0; id < pf->submitted; id++) {
        if (seen[id] == 0)
            pf->lost++;
    }
    free(seen);
}

/* =============================================================== queue */

typedef struct msg {
    uint32_t producer;
    uint32_t seq;
    uint64_t check;
} msg;

static uint64_t msg_check(uint32_t producer, uint32_t seq)
{
    return ((uint64_t)producer << 32 | seq) * 0x9E3779B97F4A7C15ULL ^
           0xC4A05C4A05ULL;
}

static cc_mpqueue *q;
/* Shared with the producers (mapped before they fork): per producer, how
 * many of its puts have returned; the first fault a producer saw. */
typedef struct shared_state {
    _Atomic uint32_t confirmed[MAX_PRODUCERS];
    _Atomic int fault;
    char fault_msg[256];
} shared_state;
static shared_state *sh;

static void *producer_main(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;

    for (uint32_t seq = 0;; seq++) {
        msg m = {me, seq, msg_check(me, seq)};

        while (cc_mpqueue_put_bytes(q, &m, sizeof(m), 0.05) != 0) {
            if (errno != ETIMEDOUT) {
                int expected = 0;

                if (atomic_compare_exchange_strong(&sh->fault, &expected, 1))
                    snprintf(sh->fault_msg, sizeof(sh->fault_msg),
                             "producer %u: put: %s", me, cc_errmsg());
                return cc_fail(EPROTO, "put failed");
            }
        }
        atomic_store_explicit(&sh->confirmed[me], seq + 1,
                              memory_order_release);
    }
}

typedef struct queue_figures {
    uint64_t put, got, lost, dup, inflight, kills, producers, repairs;
} queue_figures;

typedef struct seen_set {
    uint8_t *bits;
    size_t cap; /* seqs */
} seen_set;

/* Check one message got from the queue (from one of the `started`
 * producers, its check word right), mark it seen, count it (and count it
 * as a duplicate if it was seen before); frees the blob. */
static void count_message(void *blob, unsigned started, seen_set *seen,
                          queue_figures *qf)
{
    msg m;

    if (cc_blob_len(blob) != sizeof(m))
        die("queue: a message of %zu bytes", cc_blob_len(blob));
    memcpy(&m, blob, sizeof(m));
    cc_blob_free(blob);
    if (m.producer >= started || m.check != msg_check(m.producer, m.seq))
        die("queue: a malformed message (producer %u seq %u)", m.producer,
            m.seq);
    seen_set *s = &seen[m.producer];
    if (m.seq >= s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= m.seq)
            cap *= 2;
        s->bits = realloc(s->bits, cap);
        if (s->bits == NULL)
            die("queue: out of memory");
        memset(s->bits + s->cap, 0, cap - s->cap);
        s->cap = cap;
    }
    if (s->bits[m.seq]++ != 0)
        qf->dup++;
    qf->got++;
}

static void queue_part(double seconds, queue_figures *qf)
{
    cc_process *live[PRODUCERS];
    seen_set *seen = calloc(MAX_PRODUCERS, sizeof(*seen));
    double end = cc_now() + seconds;
    double next_kill;
    uint32_t started = 0;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || seen == NULL)
        die("queue: out of memory");
    q = cc_mpqueue_new(0, 16 * 1024);
    if (q == NULL)
        die("queue: cc_mpqueue_new: %s", cc_errmsg());
    for (int i = 0; i < PRODUCERS; i++) {
        live[i] = cc_process_start(producer_main,
                                   (void *)(uintptr_t)started++, NULL);
        if (live[i] == NULL)
            die("queue: cc_process_start: %s", cc_errmsg());
    }
    next_kill = cc_now() + (1 + below(40)) / 1e3;
    for (;;) {
        double now = cc_now();
        void *blob;

        if (now >= end)
            break;
        if (now >= next_kill && started < MAX_PRODUCERS) {
            int i = (int)below(PRODUCERS);
            int code;

            if (cc_process_kill(live[i]) != 0 ||
                cc_process_join(live[i], HANG) != 0)
                die("queue: kill/join producer: %s", cc_errmsg());
            if (cc_process_exitcode(live[i], &code) != 0 || code != -SIGKILL)
                die("queue: producer ended with %d before its kill (%s)",
                    code, atomic_load(&sh->fault) ? sh->fault_msg : "?");
            cc_process_free(live[i]);
            qf->kills++;
            live[i] = cc_process_start(producer_main,
                                       (void *)(uintptr_t)started++, NULL);
            if (live[i] == NULL)
                die("queue: cc_process_start: %s", cc_errmsg());
            next_kill = now + (1 + below(40)) / 1e3;
        }
        if (cc_mpqueue_get(q, &blob, 0.01) != 0) {
            if (errno != ETIMEDOUT)
                die("queue: get: %s", cc_errmsg());
            continue;
        }
        count_message(blob, started, seen, qf);
    }
    /* the end: the last producers are killed too, then the rest drained */
    for (int i = 0; i < PRODUCERS; i++) {
        if (cc_process_kill(live[i]) != 0 || cc_process_join(live[i], HANG) != 0)
            die("queue: kill/join producer: %s", cc_errmsg());
        cc_process_free(live[i]);
        qf->kills++;
    }
    if (atomic_load(&sh->fault))
        die("queue: %s", sh->fault_msg);
    for (;;) {
        void *blob;

        if (cc_mpqueue_get(q, &blob, 0) != 0) {
            if (errno != EAGAIN)
                die("queue: drain: %s", cc_errmsg());
            break;
        }
        count_message(blob, started, seen, qf);
    }
    if (cc_mpqueue_size(q) != 0)
        die("queue: %zu messages counted after the drain", cc_mpqueue_size(q));
    if (cc__mpqueue_check(q) != 0)
        die("queue: inconsistent after the chaos: %s", cc_errmsg());
    qf->repairs = cc__mpqueue_repairs(q);
    /* every confirmed put received; beyond it at most the one in flight */
    for (uint32_t p = 0; p < started; p++) {
        uint32_t c = atomic_load(&sh->confirmed[p]);
        seen_set *s = &seen[p];

        qf->put += c;
        for (uint32_t seq = 0; seq < c; seq++)
            if (seq >= s->cap || s->bits[seq] == 0)
                qf->lost++;
        for (size_t seq = c; seq < s->cap; seq++) {
            if (s->bits[seq] == 0)
                continue;
            if (seq > c)
                die("queue: producer %u's message %zu arrived but only %u "
                    "puts returned", p, seq, c);
            qf->inflight++;
        }
        free(s->bits);
    }
    qf->producers = started;
    /* and the queue still works, waits included */
    void *blob;
    if (cc_mpqueue_put_bytes(q, "ok", 2, HANG) != 0 ||
        cc_mpqueue_get(q, &blob, HANG) != 0)
        die("queue: unusable after the chaos: %s", cc_errmsg());
    if (cc_blob_len(blob) != 2 || memcmp(blob, "ok", 2) != 0)
        die("queue: the last message came back changed");
    cc_blob_free(blob);
    cc_mpqueue_free(q);
    munmap(sh, sizeof(*sh));
    free(seen);
}

/* ================================================================ main */

int main(int argc, char **argv)
{
    double seconds = 10;
    pool_figures pf = {0};
    queue_figures qf = {0};

    seed = (unsigned long)time(NULL) ^ (unsigned long)getpid();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--seconds S] [--seed N]\n", argv[0]);
            return 2;
        }
    }
    if (!(seconds > 0)) {
        fprintf(stderr, "chaos: --seconds must be positive\n");
        return 2;
    }
    if (seed == 0)
        seed = 1;
    printf("chaos: seed %lu (repeat with --seed %lu), %.0f s\n", seed, seed,
           seconds);
    fflush(stdout);

    pool_part(seconds / 2, &pf);
    queue_part(seconds / 2, &qf);

    printf("chaos: pool submitted=%" PRIu64 " done=%" PRIu64 " broken=%" PRIu64
           " lost=%" PRIu64 " dup=%" PRIu64 " pools=%" PRIu64 " kills=%lu; "
           "mpqueue put=%" PRIu64 " got=%" PRIu64 " inflight=%" PRIu64
           " lost=%" PRIu64 " dup=%" PRIu64 " producers=%" PRIu64
           " kills=%" PRIu64 " repairs=%" PRIu64 "\n",
           pf.submitted, pf.done, pf.broken, pf.lost, pf.dup, pf.pools,
           pool_kills, qf.put, qf.got, qf.inflight, qf.lost, qf.dup,
           qf.producers, qf.kills, qf.repairs);
    if (pf.lost != 0 || pf.dup != 0)
        die("pool: %" PRIu64 " items lost, %" PRIu64 " duplicated", pf.lost,
            pf.dup);
    if (pf.done + pf.broken != pf.submitted)
        die("pool: done + broken != submitted");
    if (qf.lost != 0 || qf.dup != 0)
        die("mpqueue: %" PRIu64 " messages lost, %" PRIu64 " duplicated",
            qf.lost, qf.dup);
    if (qf.got != qf.put + qf.inflight)
        die("mpqueue: got != put + inflight");
    /* the chaos did happen */
    if (pool_kills == 0 || pf.done == 0 || pf.broken == 0 || qf.kills == 0 ||
        qf.got == 0)
        die("too little happened to check anything");
    printf("chaos: ok\n");
    return 0;
}
