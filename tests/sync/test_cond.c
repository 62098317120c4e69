/* test_cond - cc_cond: notify wakes waiters (exactly n), notify_all, wait
 * timeouts, wait_for with one overall deadline, ownership checks, RLock
 * depth restored, and a bounded-buffer stress test built on it. */
#include <math.h>

#include "test_util.h"

typedef struct {
    cc_cond *c;
    int entered;         /* threads about to wait; guarded by the cond's lock */
    _Atomic int woke;
    double timeout;
    _Atomic int timedout;
} waitctx;

static void *waiter_body(void *p)
{
    waitctx *w = p;
    if (cc_cond_acquire(w->c, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    w->entered++;
    int rc = cc_cond_wait(w->c, w->timeout);
    int err = errno;
    if (rc == 0)
        atomic_fetch_add(&w->woke, 1);
    else if (err == ETIMEDOUT)
        atomic_fetch_add(&w->timedout, 1);
    else
        return cc_fail(EPROTO, "wait failed: %s", cc_errname(err));
    /* the lock is held again in every case */
    if (cc_cond_release(w->c) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "not held after wait");
    return p;
}

/* Wait until n threads are blocked in cc_cond_wait: each counts itself
 * under the lock right before waiting, and waiting releases the lock, so
 * seeing the count under the lock means they are all queued. */
static void settle(waitctx *w, int n)
{
    for (;;) {
        assert_ok(cc_cond_acquire(w->c, CC_FOREVER));
        int entered = w->entered;
        assert_ok(cc_cond_release(w->c));
        if (entered == n)
            return;
        tu_sleep(0.001);
    }
}

static void test_notify_wakes_exactly_n(void **state)
{
    (void)state;
    waitctx w = {cc_cond_new(NULL), 0, 0, 30.0, 0};
    cc_thread *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = cc_thread_start(waiter_body, &w, NULL);
    settle(&w, 5);
    assert_ok(cc_cond_acquire(w.c, 1));
    assert_ok(cc_cond_notify(w.c, 2));
    assert_ok(cc_cond_release(w.c));
    double t0 = cc_now();
    while (atomic_load(&w.woke) < 2 && cc_now() - t0 < 10)
        tu_sleep(0.001);
    tu_sleep(0.1); /* a third wake-up would show by now */
    assert_int_equal(atomic_load(&w.woke), 2);
    assert_ok(cc_cond_acquire(w.c, 1));
    assert_ok(cc_cond_notify_all(w.c));
    assert_ok(cc_cond_release(w.c));
    for (int i = 0; i < 5; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    assert_int_equal(atomic_load(&w.woke), 5);
    assert_int_equal(atomic_load(&w.timedout), 0);
    cc_cond_free(w.c);
}

static void test_notify_without_waiters_is_fine(void **state)
{
    (void)state;
    cc_cond *c = cc_cond_new(NULL);
    assert_ok(cc_cond_acquire(c, 1));
    assert_ok(cc_cond_notify(c, 3));
    assert_ok(cc_cond_notify_all(c));
    assert_ok(cc_cond_release(c));
    cc_cond_free(c);
}

static void test_wait_times_out_holding_the_lock(void **state)
{
    (void)state;
    cc_lock *l = cc_lock_new();
    cc_cond *c = cc_cond_new(l);
    assert_ok(cc_lock_acquire(l, 1));
    double t0 = cc_now();
    assert_fails_with(cc_cond_wait(c, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_true(cc_lock_owned(l));
    assert_ok(cc_lock_release(l));
    cc_cond_free(c);
    assert_false(cc_lock_locked(l)); /* not freed with the cond: not owned */
    cc_lock_free(l);
}

static void test_ownership_is_required(void **state)
{
    (void)state;
    cc_cond *c = cc_cond_new(NULL);
    assert_fails_with(cc_cond_wait(c, 0.01), EPERM);
    assert_fails_with(cc_cond_notify(c, 1), EPERM);
    assert_fails_with(cc_cond_notify_all(c), EPERM);
    assert_fails_with(cc_cond_wait_for(c, NULL, NULL, 0), EPERM);
    assert_fails_with(cc_cond_wait(NULL, 0), EINVAL);
    assert_null_with(cc_cond_new((cc_lock *)&state), EINVAL);
    assert_null_with(cc_cond_new_rlock(NULL), EINVAL);
    assert_ok(cc_cond_acquire(c, 1));
    assert_fails_with(cc_cond_wait_for(c, NULL, NULL, 0), EINVAL);
    assert_fails_with(cc_cond_wait(c, NAN), EINVAL);
    assert_ok(cc_cond_release(c));
    cc_cond_free(c);
    cc_cond_free(NULL);
}

/* wait_for: a setter flips a flag late; the predicate sees it. */
typedef struct {
    cc_cond *c;
    int flag;      /* guarded by the cond's lock */
    int calls;     /* predicate calls, guarded too */
    double window; /* > 0: the wait_for's timeout, to judge calls by */
    double first;  /* when the predicate was first called */
    int late_false; /* false answers surely after the deadline */
} flagctx;

static bool flag_set(void *p)
{
    flagctx *f = p;
    double now = cc_now();
    if (f->calls++ == 0)
        f->first = now;
    /* wait_for calls the predicate first thing, so its deadline is no
     * later than the first call plus the timeout */
    if (f->flag == 0 && f->window > 0 && now > f->first + f->window)
        f->late_false++;
    return f->flag != 0;
}

static void *setter(void *p)
{
    flagctx *f = p;
    for (int i = 0; i < 3; i++) { /* notifications that change nothing */
        tu_sleep(0.02);
        cc_cond_acquire(f->c, CC_FOREVER);
        cc_cond_notify_all(f->c);
        cc_cond_release(f->c);
    }
    cc_cond_acquire(f->c, CC_FOREVER);
    f->flag = 1;
    cc_cond_notify(f->c, 1);
    cc_cond_release(f->c);
    return p;
}

static void test_wait_for_predicate(void **state)
{
    (void)state;
    flagctx f = {cc_cond_new(NULL), 0, 0, 0, 0, 0};
    cc_thread *t = cc_thread_start(setter, &f, "setter");
    assert_ok(cc_cond_acquire(f.c, 1));
    assert_ok(cc_cond_wait_for(f.c, flag_set, &f, 10));
    assert_int_equal(f.flag, 1);
    assert_true(f.calls >= 2);
    assert_ok(cc_cond_release(f.c));
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    cc_cond_free(f.c);
}

static void test_wait_for_keeps_one_deadline(void **state)
{
    (void)state;
    /* Notifications keep arriving but the predicate stays false: the call
     * must still end at its deadline, not restart the timeout each time.
     * Judged by events, not by the clock: once the predicate has said
     * false after the deadline, wait_for must give up (ETIMEDOUT) without
     * asking it again.  A restarted deadline asks again at the next
     * notification (~40 ms, the deadline is 30 ms) and ends with the flag
     * set at ~60 ms; a machine too busy to wake the waiter before then
     * only makes the first answer after the deadline true, or the last. */
    flagctx f = {cc_cond_new(NULL), 0, 0, 0, 0, 0};
    cc_thread *t = cc_thread_start(setter, &f, "setter");
    assert_ok(cc_cond_acquire(f.c, 1));
    f.flag = 0;
    f.window = 0.03;
    double t0 = cc_now();
    /* the setter's final flag=1 comes after ~60 ms; deadline 30 ms */
    int rc = cc_cond_wait_for(f.c, flag_set, &f, 0.03);
    int err = errno;
    double took = cc_now() - t0;
    printf("# wait_for: rc %d after %.3f s, %d predicate calls, %d false "
           "after the deadline\n", rc, took, f.calls, f.late_false);
    if (rc == 0) { /* only possible when this machine stalled the waiter */
        assert_int_equal(f.flag, 1);
        assert_int_equal(f.late_false, 0);
    } else {
        assert_int_equal(err, ETIMEDOUT);
        assert_true(f.late_false <= 1); /* the last call only */
        assert_true(took >= 0.029 && took < tu_hang_bound(0.03));
    }
    f.window = 0;
    assert_ok(cc_cond_release(f.c));
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    cc_cond_free(f.c);
}

static _Atomic int rlock_got;

static void *rlock_taker(void *p)
{
    cc_rlock *r = p;
    if (cc_rlock_acquire(r, 30) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    atomic_store(&rlock_got, 1);
    cc_rlock_release(r);
    return r;
}

static void test_rlock_depth_restored(void **state)
{
    (void)state;
    cc_rlock *r = cc_rlock_new();
    cc_cond *c = cc_cond_new_rlock(r);
    assert_ok(cc_rlock_acquire(r, 1));
    assert_ok(cc_rlock_acquire(r, 1));
    assert_ok(cc_rlock_acquire(r, 1));
    /* while we wait, another thread can take the rlock: it was released fully */
    cc_thread *t = cc_thread_start(rlock_taker, r, NULL);
    assert_fails_with(cc_cond_wait(c, 1.0 * TU_SLOW), ETIMEDOUT);
    assert_int_equal(atomic_load(&rlock_got), 1);
    assert_int_equal(cc_rlock_depth(r), 3);
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    for (int i = 0; i < 3; i++)
        assert_ok(cc_rlock_release(r));
    assert_fails_with(cc_rlock_release(r), EPERM);
    cc_cond_free(c);
    cc_rlock_free(r);
}

/* Stress: a bounded buffer (Python's textbook Condition use) with producers
 * and consumers; every item is consumed exactly once. */
enum { CAP = 4, PRODUCERS = 4, CONSUMERS = 4, PER = 5000 };
static struct {
    cc_cond *not_full, *not_empty;
    cc_lock *l;
    int buf[CAP];
    int head, len;              /* guarded by l */
    _Atomic int seen[PRODUCERS * PER];
} B;

static bool has_room(void *p) { (void)p; return B.len < CAP; }
static bool has_item(void *p) { (void)p; return B.len > 0; }

static void *producer(void *arg)
{
    int id = *(int *)arg;
    for (int i = 0; i < PER; i++) {
        cc_lock_acquire(B.l, CC_FOREVER);
        if (cc_cond_wait_for(B.not_full, has_room, NULL, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "producer wait");
        B.buf[(B.head + B.len) % CAP] = id * PER + i;
        B.len++;
        cc_cond_notify(B.not_empty, 1);
        cc_lock_release(B.l);
        if (tu_rand_below(32) == 0)
            tu_jitter(100);
    }
    return arg;
}

static void *consumer(void *arg)
{
    for (int i = 0; i < PER; i++) {
        cc_lock_acquire(B.l, CC_FOREVER);
        if (cc_cond_wait_for(B.not_empty, has_item, NULL, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "consumer wait");
        int v = B.buf[B.head];
        B.head = (B.head + 1) % CAP;
        B.len--;
        cc_cond_notify(B.not_full, 1);
        cc_lock_release(B.l);
        atomic_fetch_add(&B.seen[v], 1);
        if (tu_rand_below(32) == 0)
            tu_jitter(100);
    }
    return arg;
}

static void test_stress_bounded_buffer(void **state)
{
    (void)state;
    B.l = cc_lock_new();
    B.not_full = cc_cond_new(B.l);
    B.not_empty = cc_cond_new(B.l);
    int pid[PRODUCERS], cid[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++)
        pid[i] = i;
    tu_threads p = tu_start(PRODUCERS, producer, pid, sizeof(int));
    tu_threads c = tu_start(CONSUMERS, consumer, cid, sizeof(int));
    tu_join(p);
    tu_join(c);
    for (int v = 0; v < PRODUCERS * PER; v++)
        if (atomic_load(&B.seen[v]) != 1)
            fail_msg("item %d seen %d times", v, atomic_load(&B.seen[v]));
    assert_int_equal(B.len, 0);
    cc_cond_free(B.not_full);
    cc_cond_free(B.not_empty);
    cc_lock_free(B.l);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_wakes_exactly_n),
        cmocka_unit_test(test_notify_without_waiters_is_fine),
        cmocka_unit_test(test_wait_times_out_holding_the_lock),
        cmocka_unit_test(test_ownership_is_required),
        cmocka_unit_test(test_wait_for_predicate),
        cmocka_unit_test(test_wait_for_keeps_one_deadline),
        cmocka_unit_test(test_rlock_depth_restored),
        cmocka_unit_test(test_stress_bounded_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
