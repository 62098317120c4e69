/* test_imap - cc_imap (Pool.imap / imap_unordered) on the thread pool and
 * the process pool: results in input or completion order with their
 * indexes, the in-flight bound (tasks running at once counted in a shared
 * counter; tasks started never more than max_in_flight ahead of the
 * results taken), a failing item reported at its place with the iteration
 * going on, the timeout, cancellation of the calling task, items cancelled
 * by a shutdown, a producer (an endless stream, also of blobs on the
 * process pool; a failing producer), an
 * early free, bad arguments, and a hammer: many consumers, random task
 * durations, every item given exactly once. */
#include <fcntl.h>
#include <math.h>
#include <sys/file.h>

#include "concur/aio.h"
#include "test_util.h"

/* ------------------------------------------------ thread-pool tasks */

static _Atomic int running;     /* tasks inside fn now */
static _Atomic int max_running; /* the most seen at once */
static _Atomic int started;     /* tasks that began */

static void reset_counters(void)
{
    atomic_store(&running, 0);
    atomic_store(&max_running, 0);
    atomic_store(&started, 0);
}

static void enter(void)
{
    int now = atomic_fetch_add(&running, 1) + 1;
    int m = atomic_load(&max_running);

    atomic_fetch_add(&started, 1);
    while (now > m && !atomic_compare_exchange_weak(&max_running, &m, now))
        ;
}

/* args are small integers; the result is 10 * arg; arg % 7 == 3 fails. */
static void *counted(void *arg)
{
    intptr_t v = (intptr_t)arg;

    enter();
    tu_jitter(300);
    atomic_fetch_sub(&running, 1);
    if (v % 7 == 3)
        return cc_fail(ERANGE, "item value %d is unlucky", (int)v);
    return (void *)(10 * v);
}

static void *slow(void *arg)
{
    enter();
    tu_sleep(0.3);
    atomic_fetch_sub(&running, 1);
    return arg;
}

static void **int_args(size_t n)
{
    void **a = malloc(n * sizeof(*a));

    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = (void *)(intptr_t)i;
    return a;
}

/* Run one imap over 0..n-1 of `counted` and check everything. */
static void check_run(cc_executor *ex, size_t n, size_t max, bool ordered)
{
    void **args = int_args(n);
    bool *seen = calloc(n, sizeof(*seen));
    cc_imap *it;
    size_t taken = 0;
    size_t expect = 0;
    int rc;

    reset_counters();
    it = cc_imap_new(ex, counted, args, n, max, ordered);
    assert_non_null(it);
    if (max == 0) /* the default: twice the workers */
        max = 2 * (size_t)cc_executor_max_workers(ex);
    for (;;) {
        void *r = (void *)-1;
        size_t i = SIZE_MAX;

        rc = cc_imap_next(it, &r, &i, 30);
        if (rc == 0)
            break;
        assert_true(i < n);
        assert_false(seen[i]);
        seen[i] = true;
        if (ordered)
            assert_int_equal(i, expect++);
        if (i % 7 == 3) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, ERANGE);
            assert_non_null(strstr(cc_errmsg(), "unlucky"));
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal((intptr_t)r, 10 * (intptr_t)i);
        }
        taken++;
        /* started <= submitted <= taken + max */
        assert_true((size_t)atomic_load(&started) <= taken + max);
    }
    assert_int_equal(taken, n);
    assert_int_equal(cc_imap_next(it, NULL, NULL, 0), 0); /* stays ended */
    assert_true(atomic_load(&max_running) <= (int)max);
    cc_imap_free(it);
    free(seen);
    free(args);
}

static void test_thread_pool_ordered_and_unordered(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(8, NULL);

    for (int round = 0; round < 3; round++) {
        check_run(p, 200, 3, true);
        check_run(p, 200, 3, false);
        check_run(p, 50, 1, true);
        check_run(p, 50, 0, false); /* default window */
        check_run(p, 5, 64, true);  /* window larger than the input */
    }
    check_run(p, 0, 4, true);       /* empty input: at once the end */
    cc_executor_free(p);
}

/* arg 0 sleeps, the others return at once */
static void *zero_is_slow(void *arg)
{
    if (arg == NULL)
        tu_sleep(0.3);
    return arg;
}

static void test_unordered_gives_completion_order(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    void *args[2] = {NULL, (void *)(intptr_t)1};
    void *r;
    size_t i;

    /* item 0 is slow, item 1 quick: unordered gives 1 first, ordered 0 */
    for (int ordered = 0; ordered < 2; ordered++) {
        cc_imap *it = cc_imap_new(p, zero_is_slow, args, 2, 2, ordered);

        assert_non_null(it);
        assert_int_equal(cc_imap_next(it, &r, &i, 30), 1);
        assert_int_equal(i, ordered ? 0 : 1);
        assert_int_equal(cc_imap_next(it, &r, &i, 30), 1);
        assert_int_equal(i, ordered ? 1 : 0);
        assert_int_equal(cc_imap_next(it, &r, &i, 30), 0);
        cc_imap_free(it);
    }
    cc_executor_free(p);
}

static void test_timeout_then_continue(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    void *args[3] = {(void *)(intptr_t)7, (void *)(intptr_t)8,
                     (void *)(intptr_t)9};
    void *r = NULL;
    size_t i = 0;

    for (int ordered = 0; ordered < 2; ordered++) {
        cc_imap *it = cc_imap_new(p, slow, args, 3, 2, ordered);

        assert_non_null(it);
        assert_fails_with(cc_imap_next(it, &r, &i, 0), EAGAIN);
        assert_int_equal(i, SIZE_MAX);
        double t0 = cc_now();
        assert_fails_with(cc_imap_next(it, &r, &i, 0.05), ETIMEDOUT);
        assert_true(cc_now() - t0 >= 0.04);
        assert_fails_with(cc_imap_next(it, &r, &i, NAN), EINVAL);
        /* a deadline scope clamps the wait too */
        assert_ok(cc_deadline_push(0.02));
        assert_fails_with(cc_imap_next(it, &r, &i, CC_FOREVER), ETIMEDOUT);
        cc_deadline_pop();
        for (int k = 0; k < 3; k++)
            assert_int_equal(cc_imap_next(it, &r, &i, 30), 1);
        assert_int_equal(cc_imap_next(it, &r, &i, 30), 0);
        cc_imap_free(it);
    }
    cc_executor_free(p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(1, NULL);
    void *args[1] = {NULL};
    int not_an_executor = 0;

    assert_null_with(cc_imap_new(NULL, counted, args, 1, 1, true), EINVAL);
    assert_null_with(cc_imap_new((cc_executor *)&not_an_executor, counted,
                                 args, 1, 1, true), EINVAL);
    assert_null_with(cc_imap_new(p, NULL, args, 1, 1, true), EINVAL);
    assert_null_with(cc_imap_new(p, counted, NULL, 1, 1, true), EINVAL);
    assert_null_with(cc_imap_new_source(p, counted, NULL, NULL, 1, true),
                     EINVAL);
    assert_fails_with(cc_imap_next(NULL, NULL, NULL, 0), EINVAL);
    assert_fails_with(cc_imap_next((cc_imap *)&not_an_executor, NULL, NULL,
                                   0), EINVAL);
    cc_imap_free(NULL);
    assert_ok(cc_executor_shutdown(p, true, false));
    assert_null_with(cc_imap_new(p, counted, args, 1, 1, true), ESHUTDOWN);
    cc_executor_free(p);
}

/* ------------------------------------------------ producers */

typedef struct counter_src {
    size_t made;
    size_t fail_at; /* SIZE_MAX: never fails, never ends */
} counter_src;

static int count_up(void *state, size_t index, void **arg)
{
    counter_src *s = state;

    assert_int_equal(index, s->made);
    if (index == s->fail_at) {
        cc_fail(EPROTO, "producer broke at %zu", index);
        return -1;
    }
    *arg = (void *)(intptr_t)(index * 7 + 1); /* never % 7 == 3 */
    s->made++;
    return 1;
}

static void test_endless_producer(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(4, NULL);
    counter_src src = {0, SIZE_MAX};

    for (int ordered = 0; ordered < 2; ordered++) {
        reset_counters();
        src.made = 0;
        cc_imap *it = cc_imap_new_source(p, counted, count_up, &src, 5,
                                         ordered);
        assert_non_null(it);
        for (size_t k = 0; k < 1000; k++) {
            void *r;
            size_t i;

            assert_int_equal(cc_imap_next(it, &r, &i, 30), 1);
            if (ordered)
                assert_int_equal(i, k);
            assert_int_equal((intptr_t)r, 10 * (intptr_t)(i * 7 + 1));
            /* lazy: never more than the window drawn ahead */
            assert_true(src.made <= k + 1 + 5);
        }
        cc_imap_free(it); /* early: the stream has no end */
        assert_int_equal(atomic_load(&running), 0);
        assert_true(atomic_load(&max_running) <= 5);
    }
    cc_executor_free(p);
}

static void test_failing_producer(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(3, NULL);
    counter_src src = {0, 10};
    cc_imap *it = cc_imap_new_source(p, counted, count_up, &src, 4, true);
    size_t i;
    void *r;

    assert_non_null(it);
    for (size_t k = 0; k < 10; k++) {
        assert_int_equal(cc_imap_next(it, &r, &i, 30), 1);
        assert_int_equal(i, k);
    }
    assert_fails_with(cc_imap_next(it, &r, &i, 30), EPROTO);
    assert_int_equal(i, 10);
    assert_non_null(strstr(cc_errmsg(), "producer broke at 10"));
    assert_int_equal(cc_imap_next(it, &r, &i, 30), 0);
    cc_imap_free(it);
    /* failing on the very first item fails the constructor */
    src = (counter_src){0, 0};
    assert_null_with(cc_imap_new_source(p, counted, count_up, &src, 4, true),
                     EPROTO);
    cc_executor_free(p);
}

/* ------------------------------------------------ early free, shutdown */

static void test_early_free_waits_for_running(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(2, NULL);
    void **args = int_args(20);

    for (int ordered = 0; ordered < 2; ordered++) {
        reset_counters();
        cc_imap *it = cc_imap_new(p, slow, args, 20, 6, ordered);
        tu_sleep(0.05); /* two of the six are running */
        cc_imap_free(it);
        /* nothing of it runs any more, and the queued ones never start */
        assert_int_equal(atomic_load(&running), 0);
        int s = atomic_load(&started);
        assert_true(s >= 1 && s <= 6);
        tu_sleep(0.1);
        assert_int_equal(atomic_load(&started), s);
    }
    free(args);
    cc_executor_free(p);
}

static void test_shutdown_cancels_items(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(1, NULL);
    void **args = int_args(10);
    cc_imap *it = cc_imap_new(p, slow, args, 10, 4, true);
    size_t i;
    void *r;
    int cancelled = 0;
    int ok = 0;
    int rc;

    tu_sleep(0.05);
    assert_ok(cc_executor_shutdown(p, false, true)); /* cancel the queue */
    while ((rc = cc_imap_next(it, &r, &i, 30)) != 0) {
        if (rc == 1) {
            ok++;
        } else if (errno == ECANCELED) {
            assert_true(i < 10);
            cancelled++;
        } else {
            /* the refill after the shutdown: ESHUTDOWN, then the end */
            assert_int_equal(errno, ESHUTDOWN);
            assert_int_equal(i, 4);
        }
    }
    assert_int_equal(ok, 1);
    assert_int_equal(cancelled, 3);
    cc_imap_free(it);
    free(args);
    cc_executor_free(p);
}

/* ------------------------------------------------ cancellation in a task */

static cc_executor *task_pool;

static void *consumer_task(void *arg)
{
    cc_imap *it = arg;
    size_t i = 0;

    if (cc_imap_next(it, NULL, &i, CC_FOREVER) == -1 && errno == ECANCELED &&
        i == SIZE_MAX)
        return (void *)(intptr_t)1;
    return NULL;
}

static void *main_task(void *arg)
{
    void **args = arg;
    cc_imap *it = cc_imap_new(task_pool, slow, args, 2, 2, true);
    void *r = NULL;

    assert_non_null(it);
    cc_future *t = cc_spawn(consumer_task, it);
    assert_ok(cc_sleep(0.05)); /* it waits now */
    cc_future_cancel(t);
    assert_ok(cc_wait_for(t, &r, 30));
    assert_int_equal((intptr_t)r, 1);
    cc_future_free(t);
    /* the iterator is intact: the items are still given */
    assert_int_equal(cc_imap_next(it, NULL, NULL, 30), 1);
    assert_int_equal(cc_imap_next(it, NULL, NULL, 30), 1);
    assert_int_equal(cc_imap_next(it, NULL, NULL, 30), 0);
    cc_imap_free(it);
    return NULL;
}

static void test_cancel_from_task(void **state)
{
    (void)state;
    void **args = int_args(2);

    task_pool = cc_thread_pool_new(2, NULL);
    assert_ok(cc_run(main_task, args, NULL));
    cc_executor_free(task_pool);
    free(args);
}

/* ------------------------------------------------ hammer */

typedef struct hammer_arg {
    cc_executor *ex;
    unsigned seed_offset;
} hammer_arg;

static void *jittered(void *arg)
{
    intptr_t v = (intptr_t)arg;

    enter();
    tu_jitter(tu_rand_below(4) == 0 ? 2000 : 50);
    atomic_fetch_sub(&running, 1);
    if (v % 97 == 13)
        return cc_fail(EDOM, "bad %d", (int)v);
    return (void *)(v + 1);
}

static void *hammer_consumer(void *arg)
{
    hammer_arg *h = arg;
    size_t n = 300 + tu_rand_below(300);
    size_t max = 1 + tu_rand_below(16);
    bool ordered = tu_rand_below(2) == 0;
    bool early = tu_rand_below(5) == 0;
    void **args = int_args(n);
    bool *seen = calloc(n, sizeof(*seen));
    cc_imap *it = cc_imap_new(h->ex, jittered, args, n, max, ordered);
    size_t taken = 0;
    size_t expect = 0;
    int rc;

    assert_non_null(it);
    for (;;) {
        void *r;
        size_t i;

        if (early && taken == n / 2)
            break;
        rc = cc_imap_next(it, &r, &i, tu_rand_below(3) == 0
                                          ? 0.001 * tu_rand_below(2)
                                          : 30);
        if (rc == 0)
            break;
        if (rc == -1 && (errno == ETIMEDOUT || errno == EAGAIN))
            continue;
        assert_true(i < n);
        assert_false(seen[i]);
        seen[i] = true;
        if (ordered)
            assert_int_equal(i, expect++);
        if (i % 97 == 13) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, EDOM);
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal((intptr_t)r, (intptr_t)i + 1);
        }
        taken++;
    }
    if (!early)
        assert_int_equal(taken, n);
    cc_imap_free(it);
    free(seen);
    free(args);
    return NULL;
}

static void test_hammer(void **state)
{
    (void)state;
    cc_executor *p = cc_thread_pool_new(6, NULL);
    hammer_arg h[8];

    reset_counters();
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < 8; k++)
            h[k] = (hammer_arg){p, (unsigned)k};
        tu_join(tu_start(8, hammer_consumer, h, sizeof(h[0])));
    }
    assert_int_equal(atomic_load(&running), 0);
    assert_true(atomic_load(&max_running) <= 6);
    cc_executor_free(p);
}

/* ------------------------------------------------ the process pool */

/* The workers' shared counter: a file beside the test, locked with
 * flock: running now, the most at once, started. */
static char counter_path[64];

static void file_counter(int delta)
{
    int32_t c[3] = {0, 0, 0};
    char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/concur-imap-%d", (int)getppid());
    fd = open(path, O_RDWR);
    if (fd < 0)
        return;
    (void)flock(fd, LOCK_EX);
    if (pread(fd, c, sizeof(c), 0) != (ssize_t)sizeof(c))
        memset(c, 0, sizeof(c));
    c[0] += delta;
    if (c[0] > c[1])
        c[1] = c[0];
    if (delta > 0)
        c[2]++;
    (void)!pwrite(fd, c, sizeof(c), 0);
    (void)flock(fd, LOCK_UN);
    close(fd);
}

static void counter_read(int32_t c[3])
{
    int fd = open(counter_path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(pread(fd, c, 3 * sizeof(int32_t), 0),
                     3 * sizeof(int32_t));
    assert_int_equal(flock(fd, LOCK_UN), 0);
    close(fd);
}

static void counter_reset(void)
{
    int32_t zero[3] = {0, 0, 0};
    int fd;

    snprintf(counter_path, sizeof(counter_path), "/tmp/concur-imap-%d",
             (int)getpid());
    fd = open(counter_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, zero, sizeof(zero), 0), sizeof(zero));
    close(fd);
}

static int64_t blob_int(const void *b)
{
    int64_t v;

    assert_non_null(b);
    assert_int_equal(cc_blob_len(b), sizeof(v));
    memcpy(&v, b, sizeof(v));
    return v;
}

static void *blob_of(int64_t v)
{
    void *b = cc_blob_dup(&v, sizeof(v));

    assert_non_null(b);
    return b;
}

/* In a worker: count, sleep a little, return 3 * v; v % 5 == 4 fails. */
static void *proc_task(void *arg)
{
    int64_t v = blob_int(arg);
    struct timespec ts = {0, (long)(v % 3) * 2000000};

    file_counter(+1);
    nanosleep(&ts, NULL);
    file_counter(-1);
    if (v % 5 == 4)
        return cc_fail(EDOM, "worker refuses %lld", (long long)v);
    return blob_of(3 * v);
}

static void *proc_slow(void *arg)
{
    (void)arg;
    file_counter(+1);
    tu_sleep(0.3);
    file_counter(-1);
    return NULL;
}

static void proc_run(cc_executor *p, size_t n, size_t max, bool ordered)
{
    void **args = malloc(n * sizeof(*args));
    bool *seen = calloc(n, sizeof(*seen));
    size_t expect = 0;
    size_t taken = 0;
    int32_t c[3];
    int rc;

    for (size_t i = 0; i < n; i++)
        args[i] = blob_of((int64_t)i);
    counter_reset();
    cc_imap *it = cc_imap_new(p, proc_task, args, n, max, ordered);
    assert_non_null(it);
    if (max == 0)
        max = 2 * (size_t)cc_executor_max_workers(p);
    for (;;) {
        void *r = NULL;
        size_t i;

        rc = cc_imap_next(it, &r, &i, 60);
        if (rc == 0)
            break;
        assert_true(i < n);
        assert_false(seen[i]);
        seen[i] = true;
        if (ordered)
            assert_int_equal(i, expect++);
        if (i % 5 == 4) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, EDOM);
            assert_non_null(strstr(cc_errmsg(), "worker refuses"));
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(blob_int(r), 3 * (int64_t)i);
            cc_blob_free(r); /* the caller's once taken */
        }
        taken++;
        counter_read(c);
        assert_true((size_t)c[2] <= taken + max);
    }
    assert_int_equal(taken, n);
    counter_read(c);
    assert_true(c[1] <= (int32_t)max);
    assert_int_equal(c[0], 0);
    cc_imap_free(it);
    for (size_t i = 0; i < n; i++)
        cc_blob_free(args[i]);
    free(args);
    free(seen);
    unlink(counter_path);
}

/* A producer of blobs for a process pool: the pool copies each at submit,
 * so the producer frees the previous one when asked for the next. */
typedef struct blob_src {
    void *last;
} blob_src;

static int blob_stream(void *state, size_t index, void **arg)
{
    blob_src *s = state;

    cc_blob_free(s->last);
    s->last = blob_of((int64_t)index * 5); /* never % 5 == 4 */
    *arg = s->last;
    return 1;
}

static void test_process_pool_producer(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(2, NULL);
    blob_src src = {NULL};
    int64_t sum = 0;

    assert_non_null(p);
    counter_reset();
    cc_imap *it = cc_imap_new_source(p, proc_task, blob_stream, &src, 3,
                                     false);
    assert_non_null(it);
    for (int k = 0; k < 50; k++) {
        void *r;
        size_t i;

        assert_int_equal(cc_imap_next(it, &r, &i, 60), 1);
        assert_int_equal(blob_int(r), 15 * (int64_t)i);
        sum += blob_int(r);
        cc_blob_free(r);
    }
    cc_imap_free(it); /* the stream is endless: stop early */
    assert_true(sum > 0);
    int32_t c[3];
    counter_read(c);
    assert_true(c[1] <= 3);
    assert_int_equal(c[0], 0);
    cc_blob_free(src.last);
    unlink(counter_path);
    cc_executor_free(p);
}

static void test_process_pool(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(3, NULL);

    assert_non_null(p);
    proc_run(p, 60, 2, true);
    proc_run(p, 60, 2, false);
    proc_run(p, 40, 5, true);
    proc_run(p, 40, 0, false);

    /* early free: the running ones finish first, the rest never start,
     * results not taken are freed with their futures (ASan sees leaks) */
    counter_reset();
    void *args[8];
    for (int i = 0; i < 8; i++)
        args[i] = blob_of(i);
    cc_imap *it = cc_imap_new(p, proc_slow, args, 8, 4, false);
    assert_non_null(it);
    tu_sleep(0.1);
    cc_imap_free(it);
    int32_t c[3];
    counter_read(c);
    assert_int_equal(c[0], 0);
    assert_true(c[2] >= 1 && c[2] <= 4);
    it = cc_imap_new(p, proc_task, args, 8, 8, true);
    assert_int_equal(cc_imap_next(it, NULL, NULL, 60), 1); /* item 0 */
    tu_sleep(0.2); /* the others finish, untaken */
    cc_imap_free(it); /* items 1..7 dropped, their blobs freed */
    for (int i = 0; i < 8; i++)
        cc_blob_free(args[i]);
    unlink(counter_path);

    /* args must be blobs, as for cc_submit */
    void *plain[1] = {(void *)"not a blob"};
    assert_null_with(cc_imap_new(p, proc_task, plain, 1, 1, true), EINVAL);
    cc_executor_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_pool_ordered_and_unordered),
        cmocka_unit_test(test_unordered_gives_completion_order),
        cmocka_unit_test(test_timeout_then_continue),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_endless_producer),
        cmocka_unit_test(test_failing_producer),
        cmocka_unit_test(test_early_free_waits_for_running),
        cmocka_unit_test(test_shutdown_cancels_items),
        cmocka_unit_test(test_cancel_from_task),
        cmocka_unit_test(test_hammer),
        cmocka_unit_test(test_process_pool),
        cmocka_unit_test(test_process_pool_producer),
    };

    tu_seed_pick();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
