/* test_embed - a concur loop driven from another program's loop: an outer
 * poll() on cc_loop_backend_fd, sleeping cc_loop_backend_timeout, calling
 * cc_loop_run_once.  Sleeping tasks, fd waits written by another thread,
 * wake-ups posted from threads, many tasks with random sleeps, the values
 * of the timeout, passes that must not wait, cancellation, and the errors.
 * No wall-clock upper bound is asserted: a pass that waits when it must not
 * is caught by a watchdog thread, a lost wake-up by a poll that times out
 * while the loop said only its fd could wake it. */
#include <math.h>
#include <poll.h>

#include "test_util.h"

/* ------------------------------------------------------- the outer loop */

/* Poll the backend fd as long as the backend timeout says (5 s at most
 * when it says "forever": then only the fd can end the poll, and a poll
 * that times out is a lost wake-up), then run one pass.  Until *done, or
 * until the loop has nothing left when done is NULL.  Returns the passes. */
static int drive(cc_loop *l, _Atomic bool *done)
{
    struct pollfd p = {cc_loop_backend_fd(l), POLLIN, 0};
    int passes = 0;

    assert_true(p.fd >= 0);
    for (;;) {
        double t = cc_loop_backend_timeout(l);
        int ms = t < 0 ? 5000 : (int)ceil(t * 1000);
        int n;

        if (done != NULL && atomic_load(done))
            return passes;
        do
            n = poll(&p, 1, ms);
        while (n < 0 && errno == EINTR);
        assert_true(n >= 0);
        if (n == 0 && t < 0)
            fail_msg("poll timed out: a wake-up did not reach the fd");
        int rc = cc_loop_run_once(l, 0);
        assert_true(rc == 0 || rc == 1);
        passes++;
        if (rc == 0 && done == NULL)
            return passes;
    }
}

/* A thread that fires after `seconds` unless told to stop first, and then
 * stops the loop so that passes blocked in epoll return. */
typedef struct {
    cc_loop *loop;
    double seconds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool over;
    _Atomic bool fired;
    cc_thread *thread;
} watchdog;

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)w->seconds;
    pthread_mutex_lock(&w->mu);
    while (!w->over)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    /* fired: stop the loop again and again, so that every pass that
     * waits returns, until the test ends */
    while (!w->over) {
        atomic_store(&w->fired, true);
        cc_loop_stop(w->loop);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void watchdog_start(watchdog *w, cc_loop *l, double seconds)
{
    memset(w, 0, sizeof(*w));
    w->loop = l;
    w->seconds = seconds;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->thread = cc_thread_start(watchdog_main, w, "watchdog");
    assert_non_null(w->thread);
}

/* Stop it; true when it had fired. */
static bool watchdog_end(watchdog *w)
{
    pthread_mutex_lock(&w->mu);
    w->over = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    assert_ok(cc_thread_join(w->thread, NULL, 60));
    cc_thread_free(w->thread);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return atomic_load(&w->fired);
}

/* ------------------------------------------------------------- sleeping */

static void *sleeper(void *arg)
{
    double *s = arg;

    if (cc_sleep(*s) != 0)
        return NULL;
    return (void *)(intptr_t)42;
}

static void count_call(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

/* The timeout follows the loop's state: forever when idle, 0 with work
 * ready, at most the earliest sleep while tasks sleep.  (An hour-long
 * sleep keeps "> 0" true however slowly this runs.) */
static void test_timeout_follows_the_loop(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    double hour = 3600, short_sleep = 0.05;
    _Atomic int calls = 0;
    void *r = NULL;

    assert_non_null(l);
    assert_true(cc_loop_backend_timeout(l) < 0);
    assert_int_equal(cc_loop_run_once(l, 0), 0); /* nothing at all */
    assert_true(cc_loop_backend_timeout(l) < 0);

    cc_future *f = cc_loop_spawn(l, sleeper, &hour);
    assert_non_null(f);
    assert_true(cc_loop_backend_timeout(l) == 0); /* posted, not run */
    assert_int_equal(cc_loop_run_once(l, 0), 1);  /* starts, sleeps */
    assert_false(cc_future_done(f));
    double t = cc_loop_backend_timeout(l);
    assert_true(t > 0 && t <= hour);

    assert_ok(cc_loop_call_soon_threadsafe(l, count_call, &calls));
    assert_true(cc_loop_backend_timeout(l) == 0);
    assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_int_equal(atomic_load(&calls), 1);
    t = cc_loop_backend_timeout(l);
    assert_true(t > 0 && t <= hour);

    /* a shorter sleep: the timeout is the earliest timer's */
    cc_future *g = cc_loop_spawn(l, sleeper, &short_sleep);
    assert_non_null(g);
    assert_int_equal(cc_loop_run_once(l, 0), 1);
    t = cc_loop_backend_timeout(l);
    assert_true(t >= 0 && t <= short_sleep);

    /* the long one is cancelled, the short one ends: then nothing left */
    assert_true(cc_future_cancel(f));
    int passes = drive(l, NULL); /* until run_once says nothing is left */
    assert_true(passes >= 1);
    assert_true(cc_future_done(g));
    assert_ok(cc_future_result(g, &r, 0));
    assert_int_equal((intptr_t)r, 42);
    assert_true(cc_future_cancelled(f));
    assert_true(cc_loop_backend_timeout(l) < 0);
    assert_int_equal(cc_loop_run_once(l, 0), 0);
    cc_future_free(f);
    cc_future_free(g);
    cc_loop_free(l);
}

/* ------------------------------------------------------ many tasks, random */

enum { MANY = 200 };

typedef struct {
    int index;
    double sleep;
    _Atomic int runs;
} child_arg;

static child_arg children[MANY];

static void *child(void *arg)
{
    child_arg *c = arg;

    atomic_fetch_add(&c->runs, 1);
    if (cc_sleep(c->sleep) != 0)
        return NULL;
    if (cc_yield() != 0)
        return NULL;
    return (void *)(intptr_t)(c->index * 2 + 1);
}

static _Atomic bool many_done;

/* A main task spawning the children with cc_spawn in the embedded loop. */
static void *many_main(void *arg)
{
    (void)arg;
    cc_future *fs[MANY];
    void *rs[MANY];
    long sum = 0;

    for (int i = 0; i < MANY; i++) {
        fs[i] = cc_spawn(child, &children[i]);
        if (fs[i] == NULL)
            return cc_fail(0, "spawn");
    }
    if (cc_gather(fs, MANY, rs, false, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "gather");
    for (int i = 0; i < MANY; i++) {
        if ((intptr_t)rs[i] != i * 2 + 1)
            return cc_fail(EPROTO, "child %d returned %ld", i,
                           (long)(intptr_t)rs[i]);
        sum += (intptr_t)rs[i];
        cc_future_free(fs[i]);
    }
    atomic_store(&many_done, true);
    return (void *)(intptr_t)sum;
}

static void test_many_tasks_with_random_sleeps(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    void *r = NULL;
    long want = 0;

    assert_non_null(l);
    for (int i = 0; i < MANY; i++) {
        children[i].index = i;
        children[i].sleep = (double)tu_rand_below(30000) / 1e6; /* < 30 ms */
        atomic_store(&children[i].runs, 0);
        want += i * 2 + 1;
    }
    atomic_store(&many_done, false);
    cc_future *f = cc_loop_spawn(l, many_main, NULL);
    assert_non_null(f);
    int passes = drive(l, &many_done);
    assert_true(passes > 1);
    /* the main task has stored the flag but may not have returned */
    while (!cc_future_done(f))
        assert_true(cc_loop_run_once(l, 0) >= 0);
    assert_ok(cc_future_result(f, &r, 0));
    assert_int_equal((intptr_t)r, want);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(atomic_load(&children[i].runs), 1);
    assert_int_equal(cc_loop_run_once(l, 0), 0);
    cc_future_free(f);
    cc_loop_free(l);
}

/* ------------------------------------------------------- fds and threads */

typedef struct {
    int fd;
    _Atomic bool waiting;
    _Atomic bool done;
    int rc;
    char byte;
} reader_arg;

static void *reader(void *arg)
{
    reader_arg *a = arg;

    atomic_store(&a->waiting, true);
    a->rc = cc_wait_fd(a->fd, CC_READABLE, CC_FOREVER);
    if (a->rc == CC_READABLE && read(a->fd, &a->byte, 1) != 1)
        a->rc = -2;
    atomic_store(&a->done, true);
    return NULL;
}

typedef struct {
    int fd;
    cc_loop *loop;
    _Atomic int *calls;
} writer_arg;

static void *writer(void *arg)
{
    writer_arg *w = arg;

    tu_sleep(0.02);
    if (write(w->fd, "z", 1) != 1)
        return cc_fail(0, "write");
    return NULL;
}

/* A task waits on a pipe with no timeout: the loop has no timer, so only
 * the backend fd can wake the outer poll when another thread writes. */
static void test_fd_wait_woken_by_another_thread(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    int p[2];
    reader_arg a = {0};

    assert_non_null(l);
    assert_ok(pipe(p));
    a.fd = p[0];
    cc_future *f = cc_loop_spawn(l, reader, &a);
    assert_non_null(f);
    while (!atomic_load(&a.waiting))
        assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_int_equal(cc_loop_run_once(l, 0), 1); /* nothing new to do */
    assert_true(cc_loop_backend_timeout(l) < 0);  /* only the fd remains */
    assert_false(atomic_load(&a.done));

    writer_arg w = {p[1], l, NULL};
    cc_thread *th = cc_thread_start(writer, &w, "writer");
    assert_non_null(th);
    drive(l, &a.done);
    assert_ok(cc_thread_join(th, NULL, 60));
    cc_thread_free(th);
    assert_int_equal(a.rc, CC_READABLE);
    assert_int_equal(a.byte, 'z');
    assert_ok(cc_future_result(f, NULL, 0));
    cc_future_free(f);
    cc_loop_free(l);
    close(p[0]);
    close(p[1]);
}

static _Atomic int thread_calls;
static _Atomic bool thread_task_ran;

static void *thread_task(void *arg)
{
    (void)arg;
    atomic_store(&thread_task_ran, true);
    return NULL;
}

static void *poster(void *arg)
{
    cc_loop *l = arg;

    tu_sleep(0.02);
    if (cc_loop_call_soon_threadsafe(l, count_call, &thread_calls) != 0)
        return cc_fail(0, "call_soon_threadsafe");
    tu_sleep(0.02);
    cc_future *f = cc_loop_spawn(l, thread_task, NULL);
    if (f == NULL)
        return cc_fail(0, "spawn");
    cc_future_free(f);
    return NULL;
}

/* A loop with no task and no timer: a call_soon_threadsafe and a
 * cc_loop_spawn from another thread must each make the fd readable (the
 * loop has not run a single pass before). */
static void test_threadsafe_posts_wake_the_poll(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();

    assert_non_null(l);
    atomic_store(&thread_calls, 0);
    atomic_store(&thread_task_ran, false);
    struct pollfd p = {cc_loop_backend_fd(l), POLLIN, 0};
    assert_true(p.fd >= 0);
    cc_thread *th = cc_thread_start(poster, l, "poster");
    assert_non_null(th);
    for (int wakes = 0; !atomic_load(&thread_task_ran);) {
        double t = cc_loop_backend_timeout(l);

        if (t < 0) {
            int n = poll(&p, 1, 5000);

            if (n == 0)
                fail_msg("a post did not make the backend fd readable");
            wakes++;
        }
        assert_true(cc_loop_run_once(l, 0) >= 0);
        assert_true(wakes <= 1000);
    }
    assert_int_equal(atomic_load(&thread_calls), 1);
    assert_ok(cc_thread_join(th, NULL, 60));
    cc_thread_free(th);
    cc_loop_free(l);
}

/* ------------------------------------------------- passes that never wait */

static _Atomic int spins;

static void *spinner(void *arg)
{
    int n = *(int *)arg;

    for (int i = 0; i < n; i++) {
        atomic_fetch_add(&spins, 1);
        if (cc_yield() != 0)
            return NULL;
    }
    return NULL;
}

/* With a task asleep for an hour, run_once(0) returns at once every time
 * (a watchdog breaks a pass that would wait, and fails the test); a task
 * that yields runs once a pass, so the passes count its turns; a pass
 * with a positive timeout returns at that timeout, not at the timer. */
static void test_nowait_passes_never_block(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    double hour = 3600;
    int turns = 100;
    watchdog w;

    assert_non_null(l);
    atomic_store(&spins, 0);
    cc_future *s = cc_loop_spawn(l, sleeper, &hour);
    assert_non_null(s);
    watchdog_start(&w, l, 30);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_false(cc_future_done(s));

    cc_future *y = cc_loop_spawn(l, spinner, &turns);
    assert_non_null(y);
    assert_int_equal(cc_loop_run_once(l, 0), 1); /* takes the post, runs it */
    int passes = 1;
    while (!cc_future_done(y)) {
        assert_int_equal(cc_loop_run_once(l, 0), 1);
        passes++;
        assert_true(passes <= turns + 1);
    }
    assert_int_equal(atomic_load(&spins), turns);
    assert_int_equal(passes, turns + 1); /* one turn a pass; then the end */

    assert_int_equal(cc_loop_run_once(l, 0.01), 1); /* not the hour */
    assert_false(watchdog_end(&w));
    assert_false(cc_future_done(s));
    cc_future_free(y);
    cc_future_free(s);
    cc_loop_free(l); /* cancels the sleeper */
}

/* ------------------------------------------------------------ cancelling */

typedef struct {
    int fd;
    _Atomic int err;
    _Atomic bool parked;
} victim_arg;

static void *sleep_victim(void *arg)
{
    victim_arg *v = arg;

    atomic_store(&v->parked, true);
    if (cc_sleep(3600) != 0)
        atomic_store(&v->err, errno);
    return NULL;
}

static void *fd_victim(void *arg)
{
    victim_arg *v = arg;

    atomic_store(&v->parked, true);
    if (cc_wait_fd(v->fd, CC_READABLE, CC_FOREVER) < 0)
        atomic_store(&v->err, errno);
    return NULL;
}

static void test_cancel_in_an_embedded_loop(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    int p[2];
    victim_arg vs = {-1, 0, false}, vf = {-1, 0, false}, vl = {-1, 0, false};

    assert_non_null(l);
    assert_ok(pipe(p));
    vf.fd = p[0];
    cc_future *fs = cc_loop_spawn(l, sleep_victim, &vs);
    cc_future *ff = cc_loop_spawn(l, fd_victim, &vf);
    cc_future *fl = cc_loop_spawn(l, sleep_victim, &vl);
    assert_non_null(fs);
    assert_non_null(ff);
    assert_non_null(fl);
    while (!atomic_load(&vs.parked) || !atomic_load(&vf.parked) ||
           !atomic_load(&vl.parked))
        assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_true(cc_loop_backend_timeout(l) > 0);

    assert_true(cc_future_cancel(fs));
    assert_true(cc_future_cancel(ff));
    assert_true(cc_loop_backend_timeout(l) == 0); /* the cancels are work */
    for (int passes = 0; !cc_future_done(fs) || !cc_future_done(ff);) {
        assert_int_equal(cc_loop_run_once(l, 0), 1); /* fl still lives */
        assert_true(++passes < 1000); /* a cancel takes a pass or two */
    }
    assert_true(cc_future_cancelled(fs));
    assert_true(cc_future_cancelled(ff));
    assert_int_equal(atomic_load(&vs.err), ECANCELED);
    assert_int_equal(atomic_load(&vf.err), ECANCELED);
    assert_false(cc_future_done(fl));

    /* the last one: cc_loop_free cancels it and runs it to its end */
    cc_loop_free(l);
    assert_true(cc_future_cancelled(fl));
    assert_int_equal(atomic_load(&vl.err), ECANCELED);
    cc_future_free(fs);
    cc_future_free(ff);
    cc_future_free(fl);
    close(p[0]);
    close(p[1]);
}

/* Passes first, then the rest under cc_loop_run_until_done. */
static void test_run_until_done_after_passes(void **state)
{
    (void)state;
    cc_loop *l = cc_loop_new();
    double s = 0.02;
    void *r = NULL;

    assert_non_null(l);
    cc_future *f = cc_loop_spawn(l, sleeper, &s);
    assert_non_null(f);
    assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_int_equal(cc_loop_run_once(l, 0), 1);
    assert_ok(cc_loop_run_until_done(l, f));
    assert_ok(cc_future_result(f, &r, 0));
    assert_int_equal((intptr_t)r, 42);
    assert_int_equal(cc_loop_run_once(l, 0), 0);
    cc_future_free(f);
    cc_loop_free(l);
}

/* ---------------------------------------------------------------- errors */

typedef struct {
    cc_loop *self;
    cc_loop *other;
    int rc_self, err_self, rc_other, err_other;
} nested_arg;

static void *nested(void *arg)
{
    nested_arg *n = arg;

    errno = 0;
    n->rc_self = cc_loop_run_once(n->self, 0);
    n->err_self = errno;
    errno = 0;
    n->rc_other = cc_loop_run_once(n->other, 0);
    n->err_other = errno;
    return NULL;
}

static _Atomic bool busy_started;
static _Atomic bool busy_release;

static void *busy_task(void *arg)
{
    (void)arg;
    atomic_store(&busy_started, true);
    while (!atomic_load(&busy_release))
        if (cc_sleep(0.001) != 0)
            return NULL;
    return NULL;
}

typedef struct {
    cc_loop *loop;
    cc_future *f;
    int rc;
} runner_arg;

static void *runner(void *arg)
{
    runner_arg *a = arg;

    a->rc = cc_loop_run_until_done(a->loop, a->f);
    return NULL;
}

static void test_errors(void **state)
{
    (void)state;
    uint64_t junk[16] = {0};
    cc_loop *bad = (cc_loop *)junk;
    cc_loop *l = cc_loop_new();
    cc_loop *other = cc_loop_new();

    assert_non_null(l);
    assert_non_null(other);
    assert_fails_with(cc_loop_backend_fd(NULL), EINVAL);
    assert_fails_with(cc_loop_backend_fd(bad), EINVAL);
    assert_fails_with(cc_loop_run_once(NULL, 0), EINVAL);
    assert_fails_with(cc_loop_run_once(bad, 0), EINVAL);
    assert_fails_with(cc_loop_run_once(l, NAN), EINVAL);
    errno = 0;
    assert_true(cc_loop_backend_timeout(NULL) == 0);
    assert_int_equal(errno, EINVAL);

    /* nested: from a task of the loop's own pass */
    nested_arg n = {l, other, 0, 0, 0, 0};
    cc_future *f = cc_loop_spawn(l, nested, &n);
    assert_non_null(f);
    while (!cc_future_done(f))
        assert_true(cc_loop_run_once(l, 0) >= 0);
    assert_int_equal(n.rc_self, -1);
    assert_int_equal(n.err_self, EBUSY);
    assert_int_equal(n.rc_other, -1);
    assert_int_equal(n.err_other, EBUSY);
    cc_future_free(f);

    /* wrong thread: the loop runs in another one */
    atomic_store(&busy_started, false);
    atomic_store(&busy_release, false);
    runner_arg ra = {l, cc_loop_spawn(l, busy_task, NULL), 1};
    assert_non_null(ra.f);
    cc_thread *th = cc_thread_start(runner, &ra, "runner");
    assert_non_null(th);
    while (!atomic_load(&busy_started))
        tu_sleep(0.001);
    assert_fails_with(cc_loop_run_once(l, 0), EBUSY);
    errno = 0;
    assert_true(cc_loop_backend_timeout(l) == 0);
    assert_int_equal(errno, EBUSY);
    assert_true(cc_loop_backend_fd(l) >= 0); /* any thread may ask */
    atomic_store(&busy_release, true);
    assert_ok(cc_thread_join(th, NULL, 60));
    cc_thread_free(th);
    assert_int_equal(ra.rc, 0);
    assert_true(cc_future_done(ra.f));
    cc_future_free(ra.f);
    assert_int_equal(cc_loop_run_once(l, 0), 0);

    cc_loop_free(other);
    cc_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nowait_passes_never_block),
        cmocka_unit_test(test_timeout_follows_the_loop),
        cmocka_unit_test(test_many_tasks_with_random_sleeps),
        cmocka_unit_test(test_fd_wait_woken_by_another_thread),
        cmocka_unit_test(test_threadsafe_posts_wake_the_poll),
        cmocka_unit_test(test_cancel_in_an_embedded_loop),
        cmocka_unit_test(test_run_until_done_after_passes),
        cmocka_unit_test(test_errors),
    };

    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
