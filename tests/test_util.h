/*
 * test_util.h - helpers shared by the cmocka tests: errno assertions,
 * seeded randomness (the seed is printed so a failing stress run can be
 * repeated with CONCUR_TEST_SEED=<seed>), sleeps, stderr capture,
 * running many threads at once, and descriptor-leak checks.
 */
#ifndef CONCUR_TEST_UTIL_H
#define CONCUR_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include <concur.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* expr must fail with -1 and this errno. */
#define assert_fails_with(expr, code)                                      \
    do {                                                                   \
        errno = 0;                                                         \
        int rc_ = (int)(expr);                                             \
        int e_ = errno;                                                    \
        if (rc_ != -1 || e_ != (code))                                     \
            fail_msg("%s: expected -1/%s, got %d/%s (%s)", #expr,          \
                     cc_errname(code), rc_, cc_errname(e_), cc_errmsg());  \
    } while (0)

/* A pointer-returning expr must fail with NULL and this errno. */
#define assert_null_with(expr, code)                                       \
    do {                                                                   \
        errno = 0;                                                         \
        void *p_ = (void *)(expr);                                         \
        int e_ = errno;                                                    \
        if (p_ != NULL || e_ != (code))                                    \
            fail_msg("%s: expected NULL/%s, got %p/%s", #expr,             \
                     cc_errname(code), p_, cc_errname(e_));                \
    } while (0)

#define assert_ok(expr)                                                    \
    do {                                                                   \
        int rc_ = (int)(expr);                                             \
        if (rc_ != 0)                                                      \
            fail_msg("%s: expected 0, got %d/%s (%s)", #expr, rc_,         \
                     cc_errname(errno), cc_errmsg());                      \
    } while (0)

/* True when the test runs under valgrind (only a CONCUR_VALGRIND build,
 * `make test-valgrind`, asks valgrind's headers). */
#if defined(CONCUR_VALGRIND)
#include <valgrind/valgrind.h>
#define tu_under_valgrind() (RUNNING_ON_VALGRIND != 0)
#else
#define tu_under_valgrind() 0
#endif

/* Sanitizer builds run slower: scale tolerances.  Under valgrind (one
 * thread at a time, 10-50x slower) more again. */
#if defined(CONCUR_TSAN) || defined(CONCUR_ASAN)
#define TU_SLOW 4.0
#elif defined(CONCUR_VALGRIND)
#define TU_SLOW (tu_under_valgrind() ? 20.0 : 1.0)
#else
#define TU_SLOW 1.0
#endif

/* ---- wall-clock bounds that a loaded machine cannot break ----
 * A test never asserts that something took at most a few tens or hundreds
 * of milliseconds: with other work on the CPUs a thread that should wake
 * at once is woken late, and the bound fails with nothing wrong.  Lower
 * bounds stay (a 0.1 s wait cannot end before 0.1 s).  An upper bound is
 * one of: a hang detector, tu_hang_bound(expected) -- the expected time
 * plus 2 s, times the sanitizer factor -- which catches a timeout that
 * never fires or a call that waits for something it should not; a check
 * on events or CPU time instead of the clock; or a tight bound retried
 * (tu_retry), which a real bug fails every time and load only now and
 * then. */
static inline double tu_hang_bound(double expected)
{
    return (expected + 2.0) * TU_SLOW;
}

#define TU_TRIES 3

/* Run attempt(arg) up to TU_TRIES times; true as soon as one returns true.
 * Each miss is printed, so a log shows how close a run came. */
static inline bool tu_retry(bool (*attempt)(void *arg), void *arg,
                            const char *what)
{
    for (int i = 1; i <= TU_TRIES; i++) {
        if (attempt(arg))
            return true;
        printf("# %s: attempt %d of %d missed its time bound\n", what, i,
               TU_TRIES);
        fflush(stdout);
    }
    return false;
}

/* ---- randomness: one seed per run, printed; per-thread streams ---- */
static unsigned long tu_seed_value;
static pthread_once_t tu_seed_once = PTHREAD_ONCE_INIT;
static __thread uint64_t tu_rng;

static inline void tu_seed_pick(void)
{
    const char *s = getenv("CONCUR_TEST_SEED");

    tu_seed_value = s != NULL ? strtoul(s, NULL, 10)
                              : (unsigned long)time(NULL) ^
                                    (unsigned long)getpid();
    if (tu_seed_value == 0)
        tu_seed_value = 1;
    printf("# seed %lu (repeat with CONCUR_TEST_SEED=%lu)\n", tu_seed_value,
           tu_seed_value);
    fflush(stdout);
}

/* The run's seed, picked once whichever thread asks first. */
static inline unsigned long tu_seed(void)
{
    pthread_once(&tu_seed_once, tu_seed_pick);
    return tu_seed_value;
}

/* Per-thread xorshift64*, seeded from the run seed and the thread's id. */
static inline uint64_t tu_rand(void)
{
    if (tu_rng == 0) {
        static _Atomic uint64_t stream;

        tu_rng = (tu_seed() * 0x9E3779B97F4A7C15ULL) ^
                 (atomic_fetch_add(&stream, 1) + 1) * 0xD1B54A32D192ED03ULL;
        if (tu_rng == 0)
            tu_rng = 1;
    }
    tu_rng ^= tu_rng >> 12;
    tu_rng ^= tu_rng << 25;
    tu_rng ^= tu_rng >> 27;
    return tu_rng * 0x2545F4914F6CDD1DULL;
}

static inline unsigned tu_rand_below(unsigned n)
{
    return n == 0 ? 0 : (unsigned)(tu_rand() % n);
}

static inline void tu_sleep(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Sleep 0..max_us microseconds at random (sometimes not at all, sometimes
 * just a yield), to shake up interleavings. */
static inline void tu_jitter(unsigned max_us)
{
    unsigned r = tu_rand_below(4);

    if (r == 0)
        return;
    if (r == 1) {
        sched_yield();
        return;
    }
    tu_sleep((double)tu_rand_below(max_us + 1) / 1e6);
}

/* ---- run n threads of fn(arg_i) and join them all ---- */
typedef struct tu_threads {
    int n;
    cc_thread **t;
} tu_threads;

static inline tu_threads tu_start(int n, cc_fn fn, void *args, size_t arg_size)
{
    tu_threads ts = {n, calloc((size_t)n, sizeof(cc_thread *))};

    assert_non_null(ts.t);
    for (int i = 0; i < n; i++) {
        char name[32];

        snprintf(name, sizeof(name), "tu-%d", i);
        ts.t[i] = cc_thread_start(fn, (char *)args + (size_t)i * arg_size, name);
        assert_non_null(ts.t[i]);
    }
    return ts;
}

static inline void tu_join(tu_threads ts)
{
    for (int i = 0; i < ts.n; i++) {
        void *res;

        if (cc_thread_join(ts.t[i], &res, 120.0) != 0)
            fail_msg("thread %d: %s", i, cc_errmsg());
        cc_thread_free(ts.t[i]);
    }
    free(ts.t);
}

/* ---- capture what the library writes to stderr ---- */
typedef struct tu_capture {
    int saved;
    FILE *file;
} tu_capture;

static inline tu_capture tu_capture_stderr(void)
{
    tu_capture c;

    fflush(stderr);
    c.file = tmpfile();
    assert_non_null(c.file);
    c.saved = dup(2);
    dup2(fileno(c.file), 2);
    return c;
}

/* Stop capturing; returns what was written (caller frees). */
static inline char *tu_capture_end(tu_capture c)
{
    long n;
    char *buf;

    fflush(stderr);
    dup2(c.saved, 2);
    close(c.saved);
    n = ftell(c.file);
    buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(c.file);
    if (n > 0 && fread(buf, 1, (size_t)n, c.file) != (size_t)n)
        buf[0] = '\0';
    fclose(c.file);
    return buf;
}

/* ---- run fn in a child process: its exit status and its stderr ---- */
#include <sys/wait.h>

typedef struct tu_child {
    int status;   /* as from waitpid */
    char *err;    /* what it wrote on stderr (caller frees) */
} tu_child;

static inline tu_child tu_run_child(void (*fn)(void *), void *arg)
{
    tu_child c = {0, NULL};
    FILE *f = tmpfile();
    pid_t pid;
    long n;

    assert_non_null(f);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(f), 2);
        fn(arg);
        fflush(stderr);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &c.status, 0), pid);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    c.err = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(f);
    if (n > 0 && fread(c.err, 1, (size_t)n, f) != (size_t)n)
        c.err[0] = '\0';
    fclose(f);
    return c;
}

/* ---- descriptors ---- */

/* Open descriptors of this process (not counting the one reading). */
static inline int tu_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* Fail if more descriptors are open than `before` (tu_fds), after giving
 * closes still under way in other threads or loops up to 5 s.  Fewer is
 * not a leak: a descriptor an earlier test's background work held may
 * close in the meantime. */
static inline void tu_no_fd_leak(int before)
{
    int now = tu_fds();

    for (int i = 0; i < 500 && now > before; i++) {
        tu_sleep(0.01);
        now = tu_fds();
    }
    if (now > before)
        fail_msg("descriptor leak: %d open before, %d after", before, now);
}

/* A thread or task function that returns its argument. */
static inline void *tu_nothing(void *arg)
{
    return arg;
}

#endif
