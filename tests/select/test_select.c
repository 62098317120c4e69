/* test_select - cc_select: gets, puts, futures and fds from threads and
 * tasks; timeout 0, timeouts and cancellation; shut-down queues; bad input;
 * uniform choice among ready cases; and a hammer test in which selecting
 * and plain producers and consumers move items through several queues and
 * every item is consumed exactly once. */
#include <math.h>

#include "test_util.h"

#define P(i) ((void *)(intptr_t)(i))

static void test_ready_get_performs_only_one(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(4, CC_FIFO);
    cc_queue *b = cc_queue_new(0, CC_LIFO);
    void *x = P(-1), *y = P(-1);
    assert_ok(cc_queue_put(a, P(1), 0));
    assert_ok(cc_queue_put(b, P(2), 0));
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_GET(b, &y)};
    int r = cc_select(cs, 2, 0);
    assert_true(r == 0 || r == 1);
    assert_int_equal(cs[r].err, 0);
    /* exactly one item left the queues, into its own case's slot */
    assert_int_equal(cc_queue_size(a) + cc_queue_size(b), 1);
    if (r == 0) {
        assert_ptr_equal(x, P(1));
        assert_ptr_equal(y, P(-1));
    } else {
        assert_ptr_equal(y, P(2));
        assert_ptr_equal(x, P(-1));
    }
    cc_queue_free(a);
    cc_queue_free(b);
}

static void test_put_case_and_full_queue(void **state)
{
    (void)state;
    cc_queue *full = cc_queue_new(2, CC_FIFO);
    cc_queue *room = cc_queue_new(2, CC_FIFO);
    assert_ok(cc_queue_put(full, P(1), 0));
    assert_ok(cc_queue_put(full, P(2), 0));
    cc_select_case cs[] = {CC_SELECT_PUT(full, P(3)),
                           CC_SELECT_PUT(room, P(4))};
    assert_int_equal(cc_select(cs, 2, 0), 1);
    assert_int_equal(cc_queue_size(full), 2);
    assert_int_equal(cc_queue_size(room), 1);
    /* both full now: nothing ready */
    assert_ok(cc_queue_put(room, P(5), 0));
    assert_fails_with(cc_select(cs, 2, 0), EAGAIN);
    assert_int_equal(cc_queue_size(full) + cc_queue_size(room), 4);
    cc_queue_free(full);
    cc_queue_free(room);
}

static void test_bad_input(void **state)
{
    (void)state;
    cc_queue *q = cc_queue_new(0, CC_FIFO);
    void *x;
    cc_select_case ok = CC_SELECT_GET(q, &x);
    cc_select_case cs[2];

    assert_fails_with(cc_select(NULL, 1, 0), EINVAL);
    assert_fails_with(cc_select(&ok, 0, 0), EINVAL);
    cs[0] = ok;
    cs[1] = CC_SELECT_GET(NULL, &x);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "case 1"));
    cs[1] = CC_SELECT_GET(q, NULL);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = CC_SELECT_PUT(NULL, P(1));
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = CC_SELECT_FUTURE(NULL);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = CC_SELECT_FD(-1, CC_READABLE);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = CC_SELECT_FD(0, 8);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = CC_SELECT_FD(0, 0);
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    cs[1] = ok;
    cs[1].kind = 99;
    assert_fails_with(cc_select(cs, 2, 0), EINVAL);
    assert_fails_with(cc_select(&ok, 1, NAN), EINVAL);
    /* a bad case is caught before anything is performed */
    assert_ok(cc_queue_put(q, P(7), 0));
    cs[0] = ok;
    cs[1] = CC_SELECT_GET(NULL, &x);
    assert_fails_with(cc_select(cs, 2, CC_FOREVER), EINVAL);
    assert_int_equal(cc_queue_size(q), 1);
    /* an fd that is not open */
    int fds[2];
    assert_ok(pipe(fds));
    close(fds[0]);
    close(fds[1]);
    cs[1] = CC_SELECT_FD(fds[0], CC_READABLE);
    assert_ok(cc_queue_get(q, &x, 0));
    assert_fails_with(cc_select(cs, 2, 0), EBADF);
    cc_queue_free(q);
}

static void test_timeouts(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    cc_queue *b = cc_queue_new(1, CC_FIFO);
    void *x;
    assert_ok(cc_queue_put(b, P(1), 0)); /* b full: its put waits */
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_PUT(b, P(2))};
    assert_fails_with(cc_select(cs, 2, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_select(cs, 2, 0.05), ETIMEDOUT);
    double took = cc_now() - t0;
    assert_true(took >= 0.049);
    assert_true(took < tu_hang_bound(0.05));
    assert_int_equal(cc_queue_size(a), 0);
    assert_int_equal(cc_queue_size(b), 1);
    /* a deadline scope bounds it too */
    assert_ok(cc_deadline_push(0.03));
    assert_fails_with(cc_select(cs, 2, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    cc_queue_free(a);
    cc_queue_free(b);
}

/* ---- waking a blocked thread ---- */

typedef struct {
    cc_queue *q;
    double delay;
    void *item;
} later_put;

static void *put_later(void *arg)
{
    later_put *lp = arg;
    cc_sleep(lp->delay);
    if (cc_queue_put(lp->q, lp->item, CC_FOREVER) != 0)
        return cc_fail(errno, "put");
    return NULL;
}

static void *get_later(void *arg)
{
    later_put *lp = arg;
    cc_sleep(lp->delay);
    if (cc_queue_get(lp->q, &lp->item, CC_FOREVER) != 0)
        return cc_fail(errno, "get");
    return NULL;
}

static void test_thread_wakes_on_get_and_put(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    cc_queue *b = cc_queue_new(8, CC_FIFO);
    cc_queue *full = cc_queue_new(1, CC_LIFO);
    void *x = NULL, *y = NULL;
    assert_ok(cc_queue_put(full, P(1), 0));
    later_put lp = {b, 0.02, P(42)};
    cc_thread *t = cc_thread_start(put_later, &lp, "putter");
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_GET(b, &y),
                           CC_SELECT_PUT(full, P(2))};
    assert_int_equal(cc_select(cs, 3, tu_hang_bound(0.02)), 1);
    assert_ptr_equal(y, P(42));
    assert_null(x);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    /* now the put side: a getter makes room in `full` */
    later_put lg = {full, 0.02, NULL};
    t = cc_thread_start(get_later, &lg, "getter");
    assert_int_equal(cc_select(cs, 3, tu_hang_bound(0.02)), 2);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    assert_ptr_equal(lg.item, P(1));
    assert_ok(cc_queue_get(full, &x, 0));
    assert_ptr_equal(x, P(2));
    cc_queue_free(a);
    cc_queue_free(b);
    cc_queue_free(full);
}

static void *finish_later(void *arg)
{
    cc_sleep(0.02);
    cc_future_set_result(arg, P(5));
    return NULL;
}

static void test_future_case(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    cc_future *f = cc_future_new();
    void *x = NULL;
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_FUTURE(f)};
    assert_fails_with(cc_select(cs, 2, 0), EAGAIN);
    cc_thread *t = cc_thread_start(finish_later, f, "finisher");
    assert_int_equal(cc_select(cs, 2, tu_hang_bound(0.02)), 1);
    assert_true(cc_future_done(f));
    void *r;
    assert_ok(cc_future_result(f, &r, 0));
    assert_ptr_equal(r, P(5));
    /* done futures stay ready */
    assert_int_equal(cc_select(cs, 2, 0), 1);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    cc_future_free(f);
    cc_queue_free(a);
}

typedef struct {
    int fd;
    double delay;
} later_write;

static void *write_later(void *arg)
{
    later_write *lw = arg;
    cc_sleep(lw->delay);
    if (write(lw->fd, "x", 1) != 1)
        return cc_fail(errno, "write");
    return NULL;
}

static void test_fd_case_thread(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    int fds[2];
    void *x = NULL;
    char c;
    assert_ok(pipe(fds));
    cc_select_case cs[] = {CC_SELECT_GET(a, &x),
                           CC_SELECT_FD(fds[0], CC_READABLE)};
    assert_fails_with(cc_select(cs, 2, 0), EAGAIN);
    assert_fails_with(cc_select(cs, 2, 0.02), ETIMEDOUT);
    later_write lw = {fds[1], 0.02};
    cc_thread *t = cc_thread_start(write_later, &lw, "writer");
    assert_int_equal(cc_select(cs, 2, tu_hang_bound(0.02)), 1);
    assert_int_equal(cs[1].revents, CC_READABLE);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    /* a queue wakes a thread that polls fds as well */
    later_put lp = {a, 0.02, P(9)};
    t = cc_thread_start(put_later, &lp, "putter");
    assert_int_equal(cc_select(cs, 2, tu_hang_bound(0.02)), 0);
    assert_ptr_equal(x, P(9));
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    /* a writable end is ready at once */
    cs[1] = CC_SELECT_FD(fds[1], CC_READABLE | CC_WRITABLE);
    assert_int_equal(cc_select(cs, 2, CC_FOREVER), 1);
    assert_int_equal(cs[1].revents, CC_WRITABLE);
    close(fds[0]);
    close(fds[1]);
    cc_queue_free(a);
}

/* More cases than fit the call's stack buffers: every kind, the last
 * queue fed by another thread. */
static void test_many_cases(void **state)
{
    (void)state;
    enum { NQS = 12 };
    cc_queue *qs[NQS];
    void *items[NQS];
    cc_select_case cs[NQS + 2];
    int fds[2];
    cc_future *never = cc_future_new();
    assert_ok(pipe(fds));
    for (int i = 0; i < NQS; i++) {
        qs[i] = cc_queue_new(i % 2 ? 4 : 0, i % 3 ? CC_FIFO : CC_LIFO);
        cs[i] = CC_SELECT_GET(qs[i], &items[i]);
    }
    cs[NQS] = CC_SELECT_FUTURE(never);
    cs[NQS + 1] = CC_SELECT_FD(fds[0], CC_READABLE);
    assert_fails_with(cc_select(cs, NQS + 2, 0), EAGAIN);
    assert_fails_with(cc_select(cs, NQS + 2, 0.01), ETIMEDOUT);
    later_put lp = {qs[NQS - 1], 0.02, P(11)};
    cc_thread *t = cc_thread_start(put_later, &lp, "putter");
    assert_int_equal(cc_select(cs, NQS + 2, tu_hang_bound(0.02)), NQS - 1);
    assert_ptr_equal(items[NQS - 1], P(11));
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    assert_ok(write(fds[1], "z", 1) == 1 ? 0 : -1);
    assert_int_equal(cc_select(cs, NQS + 2, CC_FOREVER), NQS + 1);
    for (int i = 0; i < NQS; i++) {
        assert_int_equal(cc_queue_size(qs[i]), 0);
        cc_queue_free(qs[i]);
    }
    cc_future_set_result(never, NULL);
    cc_future_free(never);
    close(fds[0]);
    close(fds[1]);
}

/* ---- a wake-up the select does not use goes on ---- */

typedef struct {
    cc_queue *a, *b;
    void *x, *y;
    int fired;
} pass_env;

static void *select_forever(void *arg)
{
    pass_env *e = arg;
    cc_select_case cs[] = {CC_SELECT_GET(e->a, &e->x),
                           CC_SELECT_GET(e->b, &e->y)};
    e->fired = cc_select(cs, 2, CC_FOREVER);
    return e->fired >= 0 ? NULL : cc_fail(errno, "select: %s", cc_errmsg());
}

static void *get_forever(void *arg)
{
    pass_env *e = arg;
    void *it;
    return cc_queue_get(e->a, &it, CC_FOREVER) == 0
               ? it
               : cc_fail(errno, "get: %s", cc_errmsg());
}

/*
 * A select parked on A and B, queued on A before a plain getter G.  A put
 * into A wakes the select (first in line); a put into B right after finds
 * it claimed already.  When the select then takes B's item, the wake-up it
 * got from A must reach G, or G sleeps beside A's item for ever.
 */
static void test_unused_wakeup_is_passed_on(void **state)
{
    (void)state;
    int took_b = 0;
    for (int round = 0; round < 20; round++) {
        pass_env e = {cc_queue_new(4, CC_FIFO), cc_queue_new(0, CC_LIFO),
                      NULL, NULL, -1};
        cc_thread *s = cc_thread_start(select_forever, &e, "selector");
        cc_sleep(0.02); /* parked, and first in A's getters */
        cc_thread *g = cc_thread_start(get_forever, &e, "getter");
        cc_sleep(0.02);
        assert_ok(cc_queue_put(e.a, P(1), 0));
        assert_ok(cc_queue_put(e.b, P(2), 0));
        assert_ok(cc_thread_join(s, NULL, CC_FOREVER));
        cc_thread_free(s);
        void *got = NULL;
        if (e.fired == 0) {
            /* it took A's item: G still waits, legitimately */
            assert_ptr_equal(e.x, P(1));
            assert_ok(cc_queue_put(e.a, P(3), 0));
            assert_ok(cc_thread_join(g, &got, CC_FOREVER));
            assert_ptr_equal(got, P(3));
        } else {
            /* it took B's: A's item is G's, and so is the wake-up */
            took_b++;
            assert_int_equal(e.fired, 1);
            assert_ptr_equal(e.y, P(2));
            if (cc_thread_join(g, &got, tu_hang_bound(0.1)) != 0) {
                assert_ok(cc_queue_put(e.a, P(3), 0)); /* let it end */
                assert_ok(cc_thread_join(g, &got, CC_FOREVER));
                fail_msg("round %d: the getter was never woken", round);
            }
            assert_ptr_equal(got, P(1));
        }
        cc_thread_free(g);
        cc_queue_free(e.a);
        cc_queue_free(e.b);
    }
    printf("# the select took B's item %d times of 20\n", took_b);
    assert_true(took_b > 0); /* 2^-20 to miss by chance */
}

/* ---- a queue and an fd ready at the same moment ---- */

typedef struct {
    cc_queue *q;
    int fds[2];
    cc_barrier *go;
} race_env;

static void *race_put(void *arg)
{
    race_env *e = arg;
    cc_barrier_wait(e->go, CC_FOREVER);
    tu_jitter(100);
    return cc_queue_put(e->q, P(1), CC_FOREVER) == 0 ? NULL
                                                     : cc_fail(errno, "put");
}

static void *race_write(void *arg)
{
    race_env *e = arg;
    cc_barrier_wait(e->go, CC_FOREVER);
    tu_jitter(100);
    return write(e->fds[1], "w", 1) == 1 ? NULL : cc_fail(errno, "write");
}

/*
 * A thread polling an fd while a queue wakes it: the fd's readiness and
 * the queue's claim race for the one waiter, round after round.  Every
 * round ends with exactly the one item and the one byte accounted for,
 * and the select never misses both.
 */
static void test_fd_and_queue_race(void **state)
{
    (void)state;
    race_env e = {cc_queue_new(2, CC_FIFO), {-1, -1}, cc_barrier_new(3, NULL,
                                                                     NULL)};
    int by_queue = 0, by_fd = 0;
    assert_ok(pipe(e.fds));
    for (int round = 0; round < 200; round++) {
        void *got = NULL;
        char c;
        cc_thread *p = cc_thread_start(race_put, &e, "putter");
        cc_thread *w = cc_thread_start(race_write, &e, "writer");
        cc_select_case cs[] = {CC_SELECT_GET(e.q, &got),
                               CC_SELECT_FD(e.fds[0], CC_READABLE)};
        assert_true(cc_barrier_wait(e.go, CC_FOREVER) >= 0);
        int r = cc_select(cs, 2, tu_hang_bound(0.01));
        assert_ok(cc_thread_join(p, NULL, CC_FOREVER));
        assert_ok(cc_thread_join(w, NULL, CC_FOREVER));
        cc_thread_free(p);
        cc_thread_free(w);
        if (r == 0) {
            by_queue++;
            assert_ptr_equal(got, P(1));
            assert_int_equal(cc_queue_size(e.q), 0);
        } else {
            assert_int_equal(r, 1);
            by_fd++;
            assert_ok(cc_queue_get(e.q, &got, 0)); /* still there */
        }
        assert_int_equal(read(e.fds[0], &c, 1), 1);
        assert_fails_with(cc_select(cs, 2, 0), EAGAIN); /* nothing left */
    }
    printf("# %d rounds won by the queue, %d by the fd\n", by_queue, by_fd);
    close(e.fds[0]);
    close(e.fds[1]);
    cc_barrier_free(e.go);
    cc_queue_free(e.q);
}

/* ---- shut-down queues ---- */

static void *shutdown_later(void *arg)
{
    cc_sleep(0.02);
    cc_queue_shutdown(arg, false);
    return NULL;
}

static void test_shutdown_queue_is_ready(void **state)
{
    (void)state;
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    cc_queue *idle = cc_queue_new(0, CC_FIFO);
    void *x = NULL, *y = NULL;
    assert_ok(cc_queue_put(a, P(1), 0));
    assert_ok(cc_queue_shutdown(a, false));
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_GET(idle, &y)};
    /* still draining: the get performs */
    assert_int_equal(cc_select(cs, 2, 0), 0);
    assert_int_equal(cs[0].err, 0);
    assert_ptr_equal(x, P(1));
    /* drained: ready, reporting ESHUTDOWN, nothing taken */
    x = NULL;
    assert_int_equal(cc_select(cs, 2, CC_FOREVER), 0);
    assert_int_equal(cs[0].err, ESHUTDOWN);
    assert_null(x);
    /* a put into a shut-down queue: ready with ESHUTDOWN, item not taken */
    cc_select_case pc[] = {CC_SELECT_PUT(a, P(3))};
    assert_int_equal(cc_select(pc, 1, 0), 0);
    assert_int_equal(pc[0].err, ESHUTDOWN);
    assert_int_equal(cc_queue_size(a), 0);
    /* a shutdown wakes a blocked select */
    cc_queue *b = cc_queue_new(4, CC_FIFO);
    cc_select_case bc[] = {CC_SELECT_GET(idle, &y), CC_SELECT_GET(b, &x)};
    cc_thread *t = cc_thread_start(shutdown_later, b, "closer");
    assert_int_equal(cc_select(bc, 2, tu_hang_bound(0.02)), 1);
    assert_int_equal(bc[1].err, ESHUTDOWN);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    cc_queue_free(a);
    cc_queue_free(b);
    cc_queue_free(idle);
}

/* ---- fairness ---- */

static void test_uniform_choice(void **state)
{
    (void)state;
    enum { N = 10000 };
    cc_queue *a = cc_queue_new(0, CC_FIFO);
    cc_queue *b = cc_queue_new(0, CC_FIFO);
    cc_queue *never = cc_queue_new(0, CC_FIFO);
    void *x, *y, *z;
    int hits[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        assert_ok(cc_queue_put(a, P(1), 0));
        assert_ok(cc_queue_put(b, P(2), 0));
    }
    /* the idle case sits between the two ready ones: a rotation would
     * favour the second */
    cc_select_case cs[] = {CC_SELECT_GET(a, &x), CC_SELECT_GET(never, &z),
                           CC_SELECT_GET(b, &y)};
    for (int i = 0; i < N; i++) {
        int r = cc_select(cs, 3, 0);
        assert_true(r == 0 || r == 2);
        hits[r]++;
    }
    printf("# %d from a, %d from b\n", hits[0], hits[2]);
    /* binomial(10000, 0.5): 30 % is 40 standard deviations away */
    assert_true(hits[0] >= N * 3 / 10);
    assert_true(hits[2] >= N * 3 / 10);
    assert_int_equal(cc_queue_size(a) + cc_queue_size(b), N);
    cc_queue_free(a);
    cc_queue_free(b);
    cc_queue_free(never);
}

/* ---- tasks ---- */

typedef struct {
    cc_queue *a, *b;
    int fds[2];
    int fired;
    void *item;
} task_env;

static void *task_putter(void *arg)
{
    task_env *e = arg;
    cc_sleep(0.02);
    if (cc_queue_put(e->b, P(77), CC_FOREVER) != 0)
        return cc_fail(errno, "put");
    return NULL;
}

static void *task_writer(void *arg)
{
    task_env *e = arg;
    cc_sleep(0.02);
    if (write(e->fds[1], "y", 1) != 1)
        return cc_fail(errno, "write");
    return NULL;
}

static void *task_ticker(void *arg)
{
    int *ticks = arg;
    for (int i = 0; i < 5; i++) {
        cc_sleep(0.002);
        (*ticks)++;
    }
    return NULL;
}

static void *tasks_main(void *arg)
{
    task_env *e = arg;
    void *x = NULL, *y = NULL;
    int ticks = 0;
    char c;
    cc_select_case cs[] = {CC_SELECT_GET(e->a, &x), CC_SELECT_GET(e->b, &y),
                           CC_SELECT_FD(e->fds[0], CC_READABLE)};

    /* timeout 0 and a timeout, in a task */
    if (cc_select(cs, 3, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "timeout 0: %s", cc_errmsg());
    cc_future *tk = cc_spawn(task_ticker, &ticks);
    if (cc_select(cs, 3, 0.03) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "timeout: %s", cc_errmsg());
    /* the select suspended only this task: the ticker ran meanwhile */
    cc_future_result(tk, NULL, CC_FOREVER);
    cc_future_free(tk);
    if (ticks != 5)
        return cc_fail(EPROTO, "the loop was blocked");
    /* a queue put by another task */
    cc_future *p = cc_spawn(task_putter, e);
    int r = cc_select(cs, 3, CC_FOREVER);
    cc_future_result(p, NULL, CC_FOREVER);
    cc_future_free(p);
    if (r != 1 || y != P(77))
        return cc_fail(EPROTO, "queue case: %d %s", r, cc_errmsg());
    /* an fd made readable by another task, through the loop's epoll */
    cc_future *w = cc_spawn(task_writer, e);
    r = cc_select(cs, 3, CC_FOREVER);
    cc_future_result(w, NULL, CC_FOREVER);
    cc_future_free(w);
    if (r != 2 || cs[2].revents != CC_READABLE || read(e->fds[0], &c, 1) != 1)
        return cc_fail(EPROTO, "fd case: %d %s", r, cc_errmsg());
    /* a task's handle is a future: wait for a task to end */
    cc_future *tk2 = cc_spawn(task_ticker, &ticks);
    cc_select_case fc[] = {CC_SELECT_GET(e->a, &x), CC_SELECT_FUTURE(tk2)};
    r = cc_select(fc, 2, CC_FOREVER);
    if (r != 1 || !cc_future_done(tk2) || ticks != 10)
        return cc_fail(EPROTO, "future case: %d, %d ticks", r, ticks);
    cc_future_free(tk2);
    /* a thread puts while the task waits */
    later_put lp = {e->a, 0.02, P(88)};
    cc_thread *t = cc_thread_start(put_later, &lp, "putter");
    r = cc_select(cs, 3, CC_FOREVER);
    cc_thread_join(t, NULL, CC_FOREVER);
    cc_thread_free(t);
    if (r != 0 || x != P(88))
        return cc_fail(EPROTO, "thread put: %d", r);
    return arg;
}

static void test_tasks(void **state)
{
    (void)state;
    task_env e = {cc_queue_new(0, CC_FIFO), cc_queue_new(4, CC_FIFO),
                  {-1, -1}, 0, NULL};
    assert_ok(pipe(e.fds));
    void *res = NULL;
    assert_ok(cc_run(tasks_main, &e, &res));
    assert_ptr_equal(res, &e);
    close(e.fds[0]);
    close(e.fds[1]);
    cc_queue_free(e.a);
    cc_queue_free(e.b);
}

static void *blocked_select(void *arg)
{
    task_env *e = arg;
    void *x = NULL;
    cc_select_case cs[] = {CC_SELECT_GET(e->a, &x),
                           CC_SELECT_FD(e->fds[0], CC_READABLE)};
    e->fired = cc_select(cs, 2, CC_FOREVER);
    if (e->fired == -1 && errno == ECANCELED)
        return NULL; /* ECANCELED pending: the task ends cancelled */
    return cc_fail(EPROTO, "select returned %d", e->fired);
}

static void *cancel_main(void *arg)
{
    task_env *e = arg;
    cc_future *f = cc_spawn(blocked_select, e);
    cc_sleep(0.01);
    cc_future_cancel(f);
    if (cc_future_result(f, NULL, CC_FOREVER) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "the select did not end cancelled: %s",
                       cc_errmsg());
    cc_future_free(f);
    /* nothing was performed, and the queue still works for others */
    if (cc_queue_put(e->a, P(5), 0) != 0 || cc_queue_size(e->a) != 1)
        return cc_fail(EPROTO, "queue after the cancelled select");
    /* a task cancelled before it selects fails at once */
    f = cc_spawn(blocked_select, e);
    cc_future_cancel(f);
    cc_future_result(f, NULL, CC_FOREVER);
    cc_future_free(f);
    if (cc_queue_size(e->a) != 1)
        return cc_fail(EPROTO, "a cancelled select took an item");
    return arg;
}

static void test_task_cancelled(void **state)
{
    (void)state;
    task_env e = {cc_queue_new(0, CC_FIFO), NULL, {-1, -1}, 0, NULL};
    assert_ok(pipe(e.fds));
    void *res = NULL;
    assert_ok(cc_run(cancel_main, &e, &res));
    assert_ptr_equal(res, &e);
    assert_int_equal(e.fired, -1);
    close(e.fds[0]);
    close(e.fds[1]);
    cc_queue_free(e.a);
}

/* ---- the hammer: exactly once ---- */

enum { NQ = 3, PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 20000,
       TOTAL = PRODUCERS * PER_PRODUCER, TASKS = 4 };

static struct {
    cc_queue *q[NQ];
    _Atomic int seen[TOTAL];
    _Atomic long consumed;
    _Atomic long selects;
    _Atomic long relayed;
    int idle_fd;                /* a pipe nobody writes: thread selects poll it */
} H;

static void consume(void *item)
{
    long v = (long)(intptr_t)item - 1;
    if (v < 0 || v >= TOTAL)
        fail_msg("bad item %ld", v);
    atomic_fetch_add(&H.seen[v], 1);
    atomic_fetch_add(&H.consumed, 1);
}

/* Even producers select over every queue's put; odd ones put plainly. */
static const long ids[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static void *producer(void *arg)
{
    long id = *(const long *)arg;
    for (long i = 0; i < PER_PRODUCER; i++) {
        void *item = P(id * PER_PRODUCER + i + 1);
        if (id % 2 == 0) {
            cc_select_case cs[NQ];
            for (int k = 0; k < NQ; k++)
                cs[k] = CC_SELECT_PUT(H.q[k], item);
            int r = cc_select(cs, NQ, CC_FOREVER);
            if (r < 0 || cs[r].err != 0)
                return cc_fail(EPROTO, "select put: %s", cc_errmsg());
            atomic_fetch_add(&H.selects, 1);
        } else if (cc_queue_put(H.q[i % NQ], item, CC_FOREVER) != 0) {
            return cc_fail(errno, "put");
        }
        if (tu_rand_below(64) == 0)
            tu_jitter(50);
    }
    return NULL;
}

/* Consumer kinds: 0 plain get, 1 select over the queues, both waiting for
 * ever (the end is the queues' shutdown: a lost wake-up would hang them);
 * 2 select over the queues and an idle fd (the poller), short timeouts. */
static void *consumer(void *arg)
{
    long kind = *(const long *)arg % 3;
    void *items[NQ];
    for (;;) {
        if (kind == 0) {
            void *it;
            if (cc_queue_get(H.q[tu_rand_below(NQ)], &it, CC_FOREVER) == 0)
                consume(it);
            else if (errno == ESHUTDOWN)
                return NULL;
            else
                return cc_fail(errno, "get");
            continue;
        }
        cc_select_case cs[NQ + 1];
        for (int k = 0; k < NQ; k++)
            cs[k] = CC_SELECT_GET(H.q[k], &items[k]);
        cs[NQ] = CC_SELECT_FD(H.idle_fd, CC_READABLE);
        int r = cc_select(cs, kind == 2 ? NQ + 1 : NQ,
                          kind == 1               ? CC_FOREVER
                          : tu_rand_below(4) == 0 ? 0
                                                  : 0.01);
        if (r >= 0) {
            if (r >= NQ)
                return cc_fail(EPROTO, "case %d fired", r);
            if (cs[r].err == ESHUTDOWN)
                return NULL;
            consume(items[r]);
            atomic_fetch_add(&H.selects, 1);
        } else if (errno != ETIMEDOUT && errno != EAGAIN) {
            return cc_fail(errno, "select get: %s", cc_errmsg());
        }
        if (tu_rand_below(64) == 0)
            tu_jitter(50);
    }
}

/* Moves items from queue to queue, holding up to RELAY_HOLD of them: a
 * select with gets and puts at once (puts of the item it holds longest).
 * Then it puts back what it still holds. */
enum { RELAY_HOLD = 4, RELAY_ROUNDS = 20000 };

static void *relay(void *arg)
{
    (void)arg;
    void *held[RELAY_HOLD];
    int nheld = 0;
    for (int round = 0; round < RELAY_ROUNDS; round++) {
        cc_select_case cs[2 * NQ];
        void *in[NQ];
        int n = 0;
        if (nheld < RELAY_HOLD)
            for (int k = 0; k < NQ; k++)
                cs[n++] = CC_SELECT_GET(H.q[k], &in[k]);
        int puts = n;
        if (nheld > 0)
            for (int k = 0; k < NQ; k++)
                cs[n++] = CC_SELECT_PUT(H.q[k], held[0]);
        int r = cc_select(cs, (size_t)n, 0.01);
        if (r < 0) {
            if (errno != ETIMEDOUT)
                return cc_fail(errno, "relay: %s", cc_errmsg());
            continue;
        }
        if (cs[r].err != 0)
            return cc_fail(EPROTO, "relay: case %d: %s", r,
                           cc_errname(cs[r].err));
        if (r < puts) {
            held[nheld++] = in[r];
        } else {
            memmove(held, held + 1, (size_t)(nheld - 1) * sizeof(void *));
            nheld--;
            atomic_fetch_add(&H.relayed, 1);
        }
    }
    while (nheld > 0)
        if (cc_queue_put(H.q[0], held[--nheld], CC_FOREVER) != 0)
            return cc_fail(errno, "relay: final put");
    return NULL;
}

/* Tasks of one loop: even ones wait for ever (the shutdown ends them),
 * odd ones with a short timeout. */
static void *task_consumer(void *arg)
{
    bool forever = (*(const long *)arg % 2) == 0;
    void *items[NQ];
    for (;;) {
        cc_select_case cs[NQ + 1];
        for (int k = 0; k < NQ; k++)
            cs[k] = CC_SELECT_GET(H.q[k], &items[k]);
        cs[NQ] = CC_SELECT_FD(H.idle_fd, CC_READABLE);
        int r = cc_select(cs, NQ + 1, forever ? CC_FOREVER : 0.01);
        if (r >= 0) {
            if (r >= NQ)
                return cc_fail(EPROTO, "case %d fired", r);
            if (cs[r].err == ESHUTDOWN)
                return NULL;
            consume(items[r]);
            atomic_fetch_add(&H.selects, 1);
        } else if (errno != ETIMEDOUT) {
            return cc_fail(errno, "task select: %s", cc_errmsg());
        }
    }
}

static void *task_consumers_main(void *arg)
{
    cc_future *fs[TASKS];
    for (int i = 0; i < TASKS; i++)
        fs[i] = cc_spawn(task_consumer, (void *)&ids[i]);
    for (int i = 0; i < TASKS; i++) {
        if (cc_future_result(fs[i], NULL, CC_FOREVER) != 0)
            return cc_fail(errno, "task consumer: %s", cc_errmsg());
        cc_future_free(fs[i]);
    }
    return arg;
}

static void *loop_thread(void *arg)
{
    void *res = NULL;
    if (cc_run(task_consumers_main, arg, &res) != 0)
        return cc_fail(errno, "cc_run: %s", cc_errmsg());
    return res;
}

static void test_hammer_exactly_once(void **state)
{
    (void)state;
    int idle[2];
    assert_ok(pipe(idle));
    H.idle_fd = idle[0];
    H.q[0] = cc_queue_new(4, CC_FIFO);    /* the lock-free ring */
    H.q[1] = cc_queue_new(2, CC_LIFO);    /* the locked store, bounded */
    H.q[2] = cc_queue_new(16, CC_FIFO);
    cc_thread *loop = cc_thread_start(loop_thread, NULL, "loop");
    cc_thread *rel = cc_thread_start(relay, NULL, "relay");
    tu_threads cons = tu_start(CONSUMERS, consumer, (void *)ids, sizeof(long));
    tu_threads prods = tu_start(PRODUCERS, producer, (void *)ids, sizeof(long));
    tu_join(prods);
    assert_ok(cc_thread_join(rel, NULL, CC_FOREVER));
    cc_thread_free(rel);
    /* everything is in the queues or consumed: wait for the consumers,
     * then let the ones waiting for ever go */
    double give_up = cc_now() + tu_hang_bound(60);
    while (atomic_load(&H.consumed) < TOTAL && cc_now() < give_up)
        cc_sleep(0.005);
    long consumed = atomic_load(&H.consumed);
    for (int k = 0; k < NQ; k++)
        assert_ok(cc_queue_shutdown(H.q[k], false));
    tu_join(cons);
    assert_ok(cc_thread_join(loop, NULL, CC_FOREVER));
    cc_thread_free(loop);
    if (consumed < TOTAL)
        fail_msg("only %ld of %d items consumed", consumed, TOTAL);
    for (int v = 0; v < TOTAL; v++)
        if (atomic_load(&H.seen[v]) != 1)
            fail_msg("item %d seen %d times", v, atomic_load(&H.seen[v]));
    for (int k = 0; k < NQ; k++) {
        assert_int_equal(cc_queue_size(H.q[k]), 0);
        cc_queue_free(H.q[k]);
    }
    printf("# %ld items, %ld selects performed a case, %ld relayed\n",
           (long)atomic_load(&H.consumed), (long)atomic_load(&H.selects),
           (long)atomic_load(&H.relayed));
    close(idle[0]);
    close(idle[1]);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_get_performs_only_one),
        cmocka_unit_test(test_put_case_and_full_queue),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_thread_wakes_on_get_and_put),
        cmocka_unit_test(test_future_case),
        cmocka_unit_test(test_fd_case_thread),
        cmocka_unit_test(test_many_cases),
        cmocka_unit_test(test_unused_wakeup_is_passed_on),
        cmocka_unit_test(test_fd_and_queue_race),
        cmocka_unit_test(test_shutdown_queue_is_ready),
        cmocka_unit_test(test_uniform_choice),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_task_cancelled),
        cmocka_unit_test(test_hammer_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
