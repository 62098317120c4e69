/* test_shared - cc_shared (Value/Array), cc_plock and cc_psem across
 * forked processes: memory written by a child is seen by the parent; the
 * lock's semantics (not recursive, anybody may release, EPERM when free),
 * timeouts and cancellation; mutual exclusion among child processes,
 * parent threads and parent coroutines with an invariant in shared memory;
 * the semaphore's bound, EOVERFLOW, and counting across processes; wake-ups
 * that cross a process boundary to threads and tasks. */
#include <limits.h>
#include <math.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

/* ---- cc_shared ---- */

typedef struct value_array {
    double value;
    int array[10];
} value_array;

static cc_shared *va_mem;

static void *negate_child(void *arg)
{
    value_array *va = cc_shared_ptr(va_mem);

    va->value = 3.1415927;
    for (int i = 0; i < 10; i++)
        va->array[i] = -va->array[i];
    return arg;
}

static void test_shared_memory_is_shared(void **state)
{
    (void)state;
    assert_null_with(cc_shared_new(0, false), EINVAL);
    va_mem = cc_shared_new(sizeof(value_array), false);
    assert_non_null(va_mem);
    assert_int_equal(cc_shared_size(va_mem), sizeof(value_array));
    assert_null(cc_shared_lock(va_mem));
    value_array *va = cc_shared_ptr(va_mem);
    assert_true(va->value == 0.0); /* zeroed */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(va->array[i], 0);
        va->array[i] = i;
    }
    assert_int_equal(child_join(child_start(negate_child, NULL)), 0);
    assert_true(va->value == 3.1415927);
    for (int i = 0; i < 10; i++)
        assert_int_equal(va->array[i], -i);
    cc_shared_free(va_mem);
    cc_shared_free(NULL);
    assert_null_with(cc_shared_ptr(NULL), EINVAL);
    assert_int_equal(cc_shared_size(NULL), 0);

    /* with a lock, and a big mapping that is touched only where used */
    cc_shared *s = cc_shared_new((size_t)64 << 20, true);
    assert_non_null(s);
    assert_non_null(cc_shared_lock(s));
    assert_ok(cc_plock_acquire(cc_shared_lock(s), 0));
    assert_fails_with(cc_plock_acquire(cc_shared_lock(s), 0), EAGAIN);
    assert_ok(cc_plock_release(cc_shared_lock(s)));
    ((char *)cc_shared_ptr(s))[((size_t)64 << 20) - 1] = 1;
    cc_shared_free(s);
}

/* ---- cc_plock: semantics ---- */

static cc_plock *the_lock;

static void *release_child(void *arg)
{
    tu_sleep(0.05); /* let the parent block first */
    if (cc_plock_release(the_lock) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "release");
    return arg;
}

static void *release_thread(void *arg)
{
    tu_sleep(0.02);
    if (cc_plock_release(the_lock) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "release");
    return arg;
}

static void test_plock_semantics(void **state)
{
    (void)state;
    the_lock = cc_plock_new();
    assert_non_null(the_lock);
    assert_fails_with(cc_plock_release(the_lock), EPERM);
    assert_ok(cc_plock_acquire(the_lock, 0));
    /* not recursive: the holder waits like anybody else */
    assert_fails_with(cc_plock_acquire(the_lock, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_plock_acquire(the_lock, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_fails_with(cc_plock_acquire(the_lock, NAN), EINVAL);
    /* a deadline scope bounds the wait */
    assert_ok(cc_deadline_push(0.03));
    assert_fails_with(cc_plock_acquire(the_lock, CC_FOREVER), ETIMEDOUT);
    cc_deadline_pop();
    /* another process releases it; the parent's wait wakes */
    cc_process *p = child_start(release_child, NULL);
    t0 = cc_now();
    assert_ok(cc_plock_acquire(the_lock, 10));
    assert_true(cc_now() - t0 < 5);
    assert_int_equal(child_join(p), 0);
    /* another thread releases it */
    cc_thread *t = cc_thread_start(release_thread, state, "releaser");
    assert_ok(cc_plock_acquire(the_lock, 10));
    assert_ok(cc_thread_join(t, NULL, 10));
    cc_thread_free(t);
    assert_ok(cc_plock_release(the_lock));
    assert_fails_with(cc_plock_release(the_lock), EPERM);
    assert_fails_with(cc_plock_acquire(NULL, 0), EINVAL);
    assert_fails_with(cc_plock_release(NULL), EINVAL);
    cc_plock_free(the_lock);
    cc_plock_free(NULL);
}

/* ---- cc_plock: mutual exclusion among processes, threads and tasks ---- */

enum { MX_CHILDREN = 6, MX_THREADS = 2, MX_TASKS = 8 };
#define MX_ITERS (TU_SLOW > 1 ? 400 : 2000)

typedef struct mx_shared {
    long counter;            /* changed only under the lock, not atomic */
    _Atomic int inside;      /* holders right now: must stay 0 or 1 */
    _Atomic int violations;
} mx_shared;

static cc_shared *mx_mem;

/* One round: take the lock, check that nobody else is inside, bump the
 * counter with a slow read-modify-write, leave. */
static int mx_round(void)
{
    mx_shared *m = cc_shared_ptr(mx_mem);
    cc_plock *l = cc_shared_lock(mx_mem);

    if (cc_plock_acquire(l, 60) != 0)
        return -1;
    if (atomic_fetch_add(&m->inside, 1) != 0)
        atomic_fetch_add(&m->violations, 1);
    long c = m->counter;
    if (tu_rand_below(16) == 0)
        tu_jitter(50);
    m->counter = c + 1;
    atomic_fetch_sub(&m->inside, 1);
    if (cc_plock_release(l) != 0)
        return -1;
    if (tu_rand_below(8) == 0)
        tu_jitter(20);
    return 0;
}

static void *mx_child(void *arg)
{
    for (int i = 0; i < MX_ITERS; i++)
        if (mx_round() != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "plock round");
    return arg;
}

static void *mx_thread(void *arg)
{
    for (int i = 0; i < MX_ITERS; i++)
        if (mx_round() != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "plock round");
    return arg;
}

static void *mx_task(void *arg)
{
    for (int i = 0; i < MX_ITERS / 4; i++) {
        if (mx_round() != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "plock round");
        if (tu_rand_below(4) == 0)
            cc_yield();
    }
    return arg;
}

static void *mx_tasks_main(void *arg)
{
    cc_future *f[MX_TASKS];

    for (int i = 0; i < MX_TASKS; i++)
        f[i] = cc_spawn(mx_task, arg);
    int rc = cc_gather(f, MX_TASKS, NULL, false, CC_FOREVER);
    for (int i = 0; i < MX_TASKS; i++)
        cc_future_free(f[i]);
    return rc == 0 ? arg : cc_fail_from(cc_last_error(), EPROTO, "tasks");
}

static void *mx_loop_thread(void *arg)
{
    if (cc_run(mx_tasks_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return arg;
}

static void test_plock_mutual_exclusion(void **state)
{
    cc_process *children[MX_CHILDREN];
    cc_thread *threads[MX_THREADS + 1];

    mx_mem = cc_shared_new(sizeof(mx_shared), true);
    assert_non_null(mx_mem);
    /* children first: the parent forks while it has one thread */
    for (int i = 0; i < MX_CHILDREN; i++)
        children[i] = child_start(mx_child, NULL);
    for (int i = 0; i < MX_THREADS; i++)
        threads[i] = cc_thread_start(mx_thread, state, "mx");
    threads[MX_THREADS] = cc_thread_start(mx_loop_thread, state, "mx-loop");
    for (int i = 0; i <= MX_THREADS; i++) {
        if (cc_thread_join(threads[i], NULL, 120) != 0)
            fail_msg("thread %d: %s", i, cc_errmsg());
        cc_thread_free(threads[i]);
    }
    for (int i = 0; i < MX_CHILDREN; i++)
        assert_int_equal(child_join(children[i]), 0);
    mx_shared *m = cc_shared_ptr(mx_mem);
    assert_int_equal(atomic_load(&m->violations), 0);
    assert_int_equal(m->counter, (long)(MX_CHILDREN + MX_THREADS) * MX_ITERS +
                                     (long)MX_TASKS * (MX_ITERS / 4));
    assert_ok(cc_plock_acquire(cc_shared_lock(mx_mem), 0)); /* left free */
    cc_shared_free(mx_mem);
}

/* ---- cc_psem: semantics ---- */

static void test_psem_semantics(void **state)
{
    (void)state;
    cc_psem *s = cc_psem_new(2);
    assert_non_null(s);
    assert_int_equal(cc_psem_value(s), 2);
    assert_ok(cc_psem_acquire(s, 0));
    assert_ok(cc_psem_acquire(s, 0));
    assert_fails_with(cc_psem_acquire(s, 0), EAGAIN);
    double t0 = cc_now();
    assert_fails_with(cc_psem_acquire(s, 0.05), ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.049);
    assert_fails_with(cc_psem_acquire(s, NAN), EINVAL);
    assert_int_equal(cc_psem_value(s), 0);
    /* unbounded like multiprocessing.Semaphore: above the start value */
    for (int i = 0; i < 5; i++)
        assert_ok(cc_psem_release(s));
    assert_int_equal(cc_psem_value(s), 5);
    cc_psem_free(s);

    /* the maximum is SEM_VALUE_MAX, as for sem_post */
    s = cc_psem_new(SEM_VALUE_MAX);
    assert_non_null(s);
    assert_fails_with(cc_psem_release(s), EOVERFLOW);
    assert_int_equal(cc_psem_value(s), SEM_VALUE_MAX);
    assert_ok(cc_psem_acquire(s, 0));
    assert_ok(cc_psem_release(s));
    cc_psem_free(s);
    assert_null_with(cc_psem_new((unsigned)SEM_VALUE_MAX + 1u), EINVAL);
    assert_fails_with(cc_psem_acquire(NULL, 0), EINVAL);
    assert_fails_with(cc_psem_release(NULL), EINVAL);
    assert_int_equal(cc_psem_value(NULL), 0);
    cc_psem_free(NULL);
}

/* ---- cc_psem: a bound held across processes ---- */

enum { SEM_UNITS = 3, SEM_CHILDREN = 8 };
#define SEM_ITERS (TU_SLOW > 1 ? 150 : 600)

typedef struct sem_shared {
    _Atomic int inside;
    _Atomic int most;
    _Atomic int violations;
} sem_shared;

static cc_psem *bound_sem;
static sem_shared *sem_state;

static void *bound_child(void *arg)
{
    for (int i = 0; i < SEM_ITERS; i++) {
        if (cc_psem_acquire(bound_sem, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "psem acquire");
        int now = atomic_fetch_add(&sem_state->inside, 1) + 1;
        if (now > SEM_UNITS)
            atomic_fetch_add(&sem_state->violations, 1);
        int most = atomic_load(&sem_state->most);
        while (now > most &&
               !atomic_compare_exchange_weak(&sem_state->most, &most, now))
            ;
        tu_jitter(30);
        atomic_fetch_sub(&sem_state->inside, 1);
        if (cc_psem_release(bound_sem) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "psem release");
    }
    return arg;
}

static void test_psem_bound_across_processes(void **state)
{
    (void)state;
    cc_process *children[SEM_CHILDREN];
    cc_shared *mem = cc_shared_new(sizeof(sem_shared), false);
    sem_state = cc_shared_ptr(mem);
    bound_sem = cc_psem_new(SEM_UNITS);
    for (int i = 0; i < SEM_CHILDREN; i++)
        children[i] = child_start(bound_child, NULL);
    for (int i = 0; i < SEM_CHILDREN; i++)
        assert_int_equal(child_join(children[i]), 0);
    printf("# at most %d of %d units held at once\n",
           atomic_load(&sem_state->most), SEM_UNITS);
    assert_int_equal(atomic_load(&sem_state->violations), 0);
    assert_true(atomic_load(&sem_state->most) >= 1);
    assert_int_equal(cc_psem_value(bound_sem), SEM_UNITS);
    cc_psem_free(bound_sem);
    cc_shared_free(mem);
}

/* ---- cc_psem: units released by children, taken by threads and tasks
 * in the parent (the wake-ups cross the process boundary) ---- */

enum { GIVERS = 5, TAKER_THREADS = 3, TAKER_TASKS = 20 };
#define GIVES (TU_SLOW > 1 ? 200 : 1000)

static cc_psem *count_sem;
static _Atomic long taken;
static _Atomic bool givers_done;

static void *giver_child(void *arg)
{
    for (int i = 0; i < GIVES; i++) {
        if (cc_psem_release(count_sem) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "psem release");
        if (tu_rand_below(32) == 0)
            tu_jitter(500);
    }
    return arg;
}

/* Take units until all givers are done and none is left. */
static void *taker(void *arg)
{
    for (;;) {
        int rc = cc_psem_acquire(count_sem, 0.02);
        if (rc == 0) {
            atomic_fetch_add(&taken, 1);
            continue;
        }
        if (errno != ETIMEDOUT)
            return cc_fail_from(cc_last_error(), EPROTO, "psem acquire");
        if (atomic_load(&givers_done) && cc_psem_value(count_sem) == 0)
            return arg;
    }
}

static void *takers_main(void *arg)
{
    cc_future *f[TAKER_TASKS];

    for (int i = 0; i < TAKER_TASKS; i++)
        f[i] = cc_spawn(taker, arg);
    int rc = cc_gather(f, TAKER_TASKS, NULL, false, CC_FOREVER);
    for (int i = 0; i < TAKER_TASKS; i++)
        cc_future_free(f[i]);
    return rc == 0 ? arg : cc_fail_from(cc_last_error(), EPROTO, "takers");
}

static void *takers_loop(void *arg)
{
    if (cc_run(takers_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return arg;
}

static void test_psem_counts_across_processes(void **state)
{
    cc_process *givers[GIVERS];
    cc_thread *t[TAKER_THREADS + 1];

    count_sem = cc_psem_new(0);
    atomic_store(&taken, 0);
    atomic_store(&givers_done, false);
    for (int i = 0; i < GIVERS; i++)
        givers[i] = child_start(giver_child, NULL);
    for (int i = 0; i < TAKER_THREADS; i++)
        t[i] = cc_thread_start(taker, state, "taker");
    t[TAKER_THREADS] = cc_thread_start(takers_loop, state, "takers");
    for (int i = 0; i < GIVERS; i++)
        assert_int_equal(child_join(givers[i]), 0);
    atomic_store(&givers_done, true);
    for (int i = 0; i <= TAKER_THREADS; i++) {
        if (cc_thread_join(t[i], NULL, 60) != 0)
            fail_msg("taker %d: %s", i, cc_errmsg());
        cc_thread_free(t[i]);
    }
    assert_int_equal(atomic_load(&taken), (long)GIVERS * GIVES);
    assert_fails_with(cc_psem_acquire(count_sem, 0), EAGAIN);
    cc_psem_free(count_sem);
}

/* ---- a task blocked in plock/psem acquire is cancelled; a child's
 * release wakes a parked task ---- */

typedef struct blocked {
    int (*call)(void *obj);
    void *obj;
    int err;
} blocked;

static int b_plock(void *o) { return cc_plock_acquire(o, 30); }
static int b_psem(void *o) { return cc_psem_acquire(o, 30); }

static void *run_blocked(void *arg)
{
    blocked *b = arg;
    errno = 0;
    b->err = b->call(b->obj) == 0 ? 0 : errno;
    return NULL;
}

static void *cancel_main(void *arg)
{
    cc_plock *l = cc_plock_new();
    cc_psem *s = cc_psem_new(0);
    blocked b[4] = {{b_plock, l, -1}, {b_psem, s, -1},
                    {b_plock, l, -1}, {b_psem, s, -1}};
    cc_future *f[4];
    void *res = arg;

    cc_plock_acquire(l, 0);
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
    if (cc_now() - t0 > tu_hang_bound(0))
        res = cc_fail(EPROTO, "cancellation took too long");
    for (int i = 0; i < 2; i++)
        if (b[i].err != ECANCELED || !cc_future_cancelled(f[i]))
            res = cc_fail(EPROTO, "call %d: %s instead of ECANCELED", i,
                          cc_errname(b[i].err));
    /* the others still wait, and a release reaches them */
    if (cc_future_done(f[2]) || cc_future_done(f[3]))
        res = cc_fail(EPROTO, "a cancellation woke a neighbour");
    cc_plock_release(l);
    cc_psem_release(s);
    cc_gather(f + 2, 2, NULL, true, CC_FOREVER);
    if (b[2].err != 0 || b[3].err != 0)
        res = cc_fail(EPROTO, "woken waiters failed: %s %s",
                      cc_errname(b[2].err), cc_errname(b[3].err));
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    cc_plock_release(l);
    cc_psem_release(s);
    cc_plock_free(l);
    cc_psem_free(s);
    return res;
}

static void test_cancel_blocked_acquires(void **state)
{
    assert_ok(cc_run(cancel_main, state, NULL));
}

/* A task waits for a unit that a child process releases later. */
static cc_psem *wake_sem;

static void *late_release_child(void *arg)
{
    tu_sleep(0.05);
    if (cc_psem_release(wake_sem) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "release");
    return arg;
}

static void *ticking(void *arg)
{
    _Atomic int *ticks = arg;
    for (int i = 0; i < 10; i++) {
        cc_sleep(0.005);
        atomic_fetch_add(ticks, 1);
    }
    return NULL;
}

static void *wake_main(void *arg)
{
    static _Atomic int ticks;
    cc_future *tick = cc_spawn(ticking, (void *)&ticks);
    int rc = cc_psem_acquire(wake_sem, 10); /* suspends only this task */
    int seen = atomic_load(&ticks);
    cc_future_result(tick, NULL, 10);
    cc_future_free(tick);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "acquire");
    if (seen == 0)
        return cc_fail(EPROTO, "the loop stalled while a task waited");
    return arg;
}

static void test_child_wakes_a_task(void **state)
{
    wake_sem = cc_psem_new(0);
    cc_process *p = child_start(late_release_child, NULL); /* before the loop */
    assert_ok(cc_run(wake_main, state, NULL));
    assert_int_equal(child_join(p), 0);
    cc_psem_free(wake_sem);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_memory_is_shared),
        cmocka_unit_test(test_plock_semantics),
        cmocka_unit_test(test_plock_mutual_exclusion),
        cmocka_unit_test(test_psem_semantics),
        cmocka_unit_test(test_psem_bound_across_processes),
        cmocka_unit_test(test_psem_counts_across_processes),
        cmocka_unit_test(test_cancel_blocked_acquires),
        cmocka_unit_test(test_child_wakes_a_task),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
