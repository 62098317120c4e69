/* test_fork_safety - fork again and again while other threads hammer the
 * library (locks, queues, thread-pool submits, a loop running waves of
 * tasks in another thread, threads started and joined, errors recorded),
 * from plain threads, from tasks, from pool workers and by a raw fork();
 * every child uses concur itself (threads, a thread pool, cc_run with
 * tasks, queues, locks, errors) and must exit 0 within a time limit.  A
 * child that inherited a held lock of the library hangs, fails its join's
 * timeout, and fails the test.
 *
 * Under the sanitizers the children leave at once (_exit(0) right after a
 * raw fork()): clang 14's runtimes are not fork-safe in a multi-threaded
 * process -- ASan's allocator lock is inherited held, so a child hangs in
 * its first malloc (seen in gdb: SizeClassAllocator64::GetFromAllocator),
 * and TSan cannot start a thread or fiber after such a fork (CHECK failed
 * in SlotAttachAndLock).  Those runs still fork from threads, tasks and
 * pool workers while the hammers run, so they check the parent's side: the
 * fork handlers taking the library's locks under contention (races, lock
 * order, deadlock).  The plain run checks the children. */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "test_util.h"

#define FORKS ((int)(60 / TU_SLOW))   /* children per way of forking */
#define CHILD_LIMIT (30.0 * TU_SLOW)  /* seconds a child may take */

static _Atomic bool stop;

/* ---------------------------------------------------------- the hammers */

static cc_lock *hot_lock;
static cc_rlock *hot_rlock;
static cc_sem *hot_sem;
static cc_queue *ring_q;     /* bounded FIFO: the lock-free ring */
static cc_queue *lifo_q;     /* the locked store */
static cc_executor *pool;
static _Atomic(cc_loop *) hammer_loop;
static _Atomic long work_done;

/* Locks of every kind, plus errors recorded on the way. */
static void *hammer_locks(void *arg)
{
    while (!atomic_load(&stop)) {
        if (cc_lock_acquire(hot_lock, 1) == 0)
            cc_lock_release(hot_lock);
        if (cc_rlock_acquire(hot_rlock, 1) == 0) {
            cc_rlock_acquire(hot_rlock, 1);
            cc_rlock_release(hot_rlock);
            cc_rlock_release(hot_rlock);
        }
        if (cc_sem_acquire(hot_sem, 0) == 0)
            cc_sem_release(hot_sem);
        (void)cc_lock_release(hot_lock); /* EPERM: an error recorded */
        cc_fail(EIO, "hammer %d", 1);    /* a heap error, dropped */
        cc_error_clear();
        atomic_fetch_add(&work_done, 1);
    }
    return arg;
}

static void *hammer_queues(void *arg)
{
    void *item;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 16; i++) {
            (void)cc_queue_put(ring_q, arg, 0);
            (void)cc_queue_put(lifo_q, arg, 0);
        }
        for (int i = 0; i < 16; i++) {
            (void)cc_queue_get(ring_q, &item, 0);
            (void)cc_queue_get(lifo_q, &item, 0);
        }
        atomic_fetch_add(&work_done, 1);
    }
    return arg;
}

static void *tiny_job(void *arg)
{
    return arg;
}

/* Submit and collect: futures are allocated and freed all the time. */
static void *hammer_pool(void *arg)
{
    cc_future *f[64];
    while (!atomic_load(&stop)) {
        int n = 1 + (int)tu_rand_below(64);
        for (int i = 0; i < n; i++)
            f[i] = cc_submit(pool, tiny_job, arg);
        for (int i = 0; i < n; i++) {
            if (f[i] != NULL) {
                cc_future_result(f[i], NULL, 30);
                cc_future_free(f[i]);
            }
        }
        atomic_fetch_add(&work_done, 1);
    }
    return arg;
}

static void *short_thread(void *arg)
{
    if (tu_rand_below(3) == 0)
        return cc_fail(EAGAIN, "short thread fails on purpose");
    return arg;
}

/* Threads started and joined (with their errors handed over). */
static void *hammer_threads(void *arg)
{
    while (!atomic_load(&stop)) {
        cc_thread *t[4];
        for (int i = 0; i < 4; i++)
            t[i] = cc_thread_start(short_thread, arg, NULL);
        for (int i = 0; i < 4; i++) {
            if (t[i] != NULL) {
                (void)cc_thread_join(t[i], NULL, 30);
                cc_thread_free(t[i]);
            }
        }
        atomic_fetch_add(&work_done, 1);
    }
    return arg;
}

static void *wave_task(void *arg)
{
    cc_sleep((double)tu_rand_below(2000) / 1e6);
    if (tu_rand_below(5) == 0)
        return cc_fail(EINVAL, "wave task fails on purpose");
    return arg;
}

/* The loop thread's main: waves of 300-600 tasks (more than the 256
 * stacks a thread keeps pooled, so idle trims give stacks back to the
 * global spares and the next wave takes them again, both under the stack
 * regions' lock), some with stacks of their own size. */
static void *loop_main(void *arg)
{
    atomic_store(&hammer_loop, cc_loop_current());
    while (!atomic_load(&stop)) {
        cc_future *f[600];
        int n = 300 + (int)tu_rand_below(300);
        for (int i = 0; i < n; i++) {
            cc_task_opts o = {.stack_size = tu_rand_below(8) == 0
                                                ? 128 * 1024 : 0};
            f[i] = cc_spawn_opts(wave_task, arg, &o);
        }
        (void)cc_gather(f, (size_t)n, NULL, true, CC_FOREVER);
        for (int i = 0; i < n; i++)
            cc_future_free(f[i]);
        for (int i = 0; i < 8; i++)
            cc_sleep(0.0002); /* idle: the pool gets trimmed, 64 a time */
        atomic_fetch_add(&work_done, 1);
    }
    atomic_store(&hammer_loop, NULL);
    return arg;
}

static void *hammer_loop_thread(void *arg)
{
    if (cc_run(loop_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "hammer loop");
    return arg;
}

/* ---------------------------------------------------------- the child */

static void *child_thread(void *arg)
{
    cc_queue *q = arg;
    cc_lock *l = cc_lock_new();
    for (int i = 0; i < 200; i++) {
        if (cc_lock_acquire(l, 5) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "child lock");
        cc_lock_release(l);
        if (cc_queue_put(q, (void *)(intptr_t)(i + 1), 5) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "child put");
    }
    cc_lock_free(l);
    return arg;
}

static void *child_task(void *arg)
{
    cc_queue *q = arg;
    void *item;
    if (cc_sleep(0.001) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "task sleep");
    if (cc_queue_get(q, &item, 5) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "task get");
    return item;
}

static void *child_loop_main(void *arg)
{
    cc_queue *q = cc_queue_new(0, CC_FIFO);
    cc_future *f[50];
    for (int i = 0; i < 50; i++)
        f[i] = cc_spawn(child_task, q);
    for (int i = 0; i < 50; i++)
        cc_queue_put(q, (void *)(intptr_t)(i + 1), 1);
    int rc = cc_gather(f, 50, NULL, false, CC_FOREVER);
    for (int i = 0; i < 50; i++)
        cc_future_free(f[i]);
    cc_queue_free(q);
    return rc == 0 ? arg : NULL;
}

static void *child_job(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

static void *fails_in_child(void *arg)
{
    (void)arg;
    return cc_fail(ENOENT, "expected failure in the child");
}

/* What every child does: each part of the library once. */
static void *child_main(void *arg)
{
    /* threads and a queue */
    cc_queue *q = cc_queue_new(64, CC_FIFO);
    cc_thread *t[3];
    void *item;
    for (int i = 0; i < 3; i++)
        t[i] = cc_thread_start(child_thread, q, NULL);
    for (int i = 0; i < 600; i++)
        if (cc_queue_get(q, &item, 5) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "child get %d", i);
    for (int i = 0; i < 3; i++) {
        if (t[i] == NULL || cc_thread_join(t[i], NULL, 10) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "child join");
        cc_thread_free(t[i]);
    }
    cc_queue_free(q);
    /* a failing thread hands its error over */
    cc_thread *ft = cc_thread_start(fails_in_child, NULL, "failer");
    if (cc_thread_join(ft, NULL, 10) != -1 || errno != ENOENT)
        return cc_fail(EPROTO, "a failing thread's error was lost");
    cc_thread_free(ft);
    /* a thread pool, with more futures than one cache holds */
    cc_executor *ex = cc_thread_pool_new(3, NULL);
    if (ex == NULL)
        return cc_fail_from(cc_last_error(), EPROTO, "child pool");
    for (int round = 0; round < 4; round++) {
        cc_future *f[300];
        for (int i = 0; i < 300; i++)
            f[i] = cc_submit(ex, child_job, (void *)(intptr_t)i);
        for (int i = 0; i < 300; i++) {
            void *r;
            if (f[i] == NULL || cc_future_result(f[i], &r, 10) != 0 ||
                (intptr_t)r != 2 * i)
                return cc_fail(EPROTO, "child pool job %d", i);
            cc_future_free(f[i]);
        }
    }
    cc_executor_free(ex);
    /* a loop of its own, with tasks */
    if (cc_run(child_loop_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "child cc_run");
    return arg == NULL ? (void *)1 : arg;
}

static _Atomic int children;
static _Atomic int failures;

static void failed(const char *how, const char *fmt, ...) CC_PRINTF(2, 3);

static void failed(const char *how, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "child forked from %s: %s\n", how, text);
    atomic_fetch_add(&failures, 1);
}

#if defined(CONCUR_ASAN) || defined(CONCUR_TSAN)
#define CHILDREN_USE_CONCUR 0 /* see the top of this file */
#else
#define CHILDREN_USE_CONCUR 1
#endif

static void run_raw_fork(const char *how);

/* Start a child, join it within the limit, check that it exited 0. */
static void run_child(const char *how)
{
    if (!CHILDREN_USE_CONCUR) {
        run_raw_fork(how);
        return;
    }
    cc_process *p = cc_process_start(child_main, NULL, NULL);
    int code = -1;

    atomic_fetch_add(&children, 1);
    if (p == NULL) {
        failed(how, "start: %s", cc_errmsg());
        return;
    }
    if (cc_process_join(p, CHILD_LIMIT) != 0) {
        failed(how, "%s (pid %d hung: inherited a held lock?)", cc_errmsg(),
               (int)cc_process_pid(p));
        cc_process_kill(p);
        cc_process_join(p, 30);
    } else if (cc_process_exitcode(p, &code) != 0 || code != 0) {
        failed(how, "exit code %d", code);
    }
    cc_process_free(p);
}

/* The same with a raw fork(): only the fork handlers protect this one. */
static void run_raw_fork(const char *how)
{
    int status = 0;
    pid_t pid;

    atomic_fetch_add(&children, 1);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (!CHILDREN_USE_CONCUR)
            _exit(0);
        void *r = child_main(NULL);
        if (r == NULL)
            cc_error_print(cc_error_pending(), stderr);
        fflush(NULL);
        _exit(r != NULL ? 0 : 1);
    }
    if (pid < 0) {
        failed(how, "fork: %s", strerror(errno));
        return;
    }
    double t0 = cc_now();
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 &&
           cc_now() - t0 < CHILD_LIMIT)
        tu_sleep(0.002);
    if (got == 0) {
        failed(how, "pid %d hung: inherited a held lock?", (int)pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        failed(how, "status %d", status);
    }
}

static void *fork_in_task(void *arg)
{
    run_child("a task of a loop that runs waves of tasks");
    return arg;
}

static void *fork_in_worker(void *arg)
{
    run_child("a pool worker");
    return arg;
}

/* A forking thread: one way of forking, FORKS times, at random moments. */
static void *forker(void *arg)
{
    int way = *(int *)arg;

    for (int i = 0; i < FORKS; i++) {
        tu_jitter(3000);
        if (way == 0) {
            run_child("a plain thread");
        } else if (way == 1) {
            cc_loop *l = atomic_load(&hammer_loop);
            cc_future *f = l != NULL ? cc_loop_spawn(l, fork_in_task, arg)
                                     : NULL;
            if (f == NULL) {
                run_child("a plain thread (the loop was not up yet)");
                continue;
            }
            if (cc_future_result(f, NULL, 4 * CHILD_LIMIT) != 0)
                failed("a task", "the forking task: %s", cc_errmsg());
            cc_future_free(f);
        } else if (way == 2) {
            cc_future *f = cc_submit(pool, fork_in_worker, arg);
            if (f == NULL || cc_future_result(f, NULL, 4 * CHILD_LIMIT) != 0)
                failed("a pool worker", "the forking job: %s", cc_errmsg());
            cc_future_free(f);
        } else {
            run_raw_fork("fork()");
        }
    }
    return arg;
}

static void test_fork_while_other_threads_hammer(void **state)
{
    (void)state;
    int dummy[8];
    int ways[4] = {0, 1, 2, 3};

    atomic_store(&stop, false);
    atomic_store(&children, 0);
    atomic_store(&failures, 0);
    hot_lock = cc_lock_new();
    hot_rlock = cc_rlock_new();
    hot_sem = cc_sem_new(2);
    ring_q = cc_queue_new(64, CC_FIFO);
    lifo_q = cc_queue_new(0, CC_LIFO);
    pool = cc_thread_pool_new(4, NULL);
    assert_non_null(pool);

    tu_threads locks = tu_start(2, hammer_locks, dummy, sizeof(dummy[0]));
    tu_threads queues = tu_start(2, hammer_queues, dummy, sizeof(dummy[0]));
    tu_threads pools = tu_start(2, hammer_pool, dummy, sizeof(dummy[0]));
    tu_threads churn = tu_start(1, hammer_threads, dummy, sizeof(dummy[0]));
    tu_threads loop = tu_start(1, hammer_loop_thread, dummy, sizeof(dummy[0]));
    tu_threads forkers = tu_start(4, forker, ways, sizeof(ways[0]));
    tu_join(forkers);
    long done = atomic_load(&work_done);
    atomic_store(&stop, true);
    tu_join(locks);
    tu_join(queues);
    tu_join(pools);
    tu_join(churn);
    tu_join(loop);

    cc_executor_free(pool);
    cc_queue_free(ring_q);
    cc_queue_free(lifo_q);
    cc_sem_free(hot_sem);
    cc_rlock_free(hot_rlock);
    cc_lock_free(hot_lock);
    printf("# %d children, %ld rounds of hammering meanwhile\n",
           atomic_load(&children), done);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&children), 4 * FORKS);
    assert_true(done > 4 * FORKS); /* the hammers really ran meanwhile */
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_other_threads_hammer),
    };
    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
