/* test_signal - signals: loop signal handlers (run on the loop's thread,
 * dispositions restored, several loops, bad input), cc_signal_wait from
 * threads and tasks (delivery, broadcast, timeout, cancellation), a hammer
 * of signals from several threads (at-least-once), and the library's own
 * handlers (SIGSEGV/SIGBUS overflow reports, cc_run's SIGINT) chaining to
 * the program's in both install orders and turned off by
 * cc_set_signal_handling and CONCUR_SIGNALS. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test_util.h"

/* Every test starts with SIGUSR1/SIGUSR2 ignored, so that a signal that
 * reaches nobody's handler (sent between waits) cannot end the process. */
static int ignore_usr(void **state)
{
    (void)state;
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    return 0;
}

static struct sigaction disposition(int sig)
{
    struct sigaction sa;

    sigaction(sig, NULL, &sa);
    return sa;
}

static bool is_default(int sig)
{
    struct sigaction sa = disposition(sig);

    return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

/* ---- a handler on the loop's thread ---- */

typedef struct seen {
    _Atomic int count;
    _Atomic int signum;
    _Atomic int wrong_thread;  /* ran off the loop's thread or loop */
    pthread_t loop_thread;
    cc_loop *loop;
    cc_event *ev;
} seen;

static void count_signal(int signum, void *arg)
{
    seen *s = arg;

    if (!pthread_equal(pthread_self(), s->loop_thread) ||
        cc_loop_current() != s->loop)
        atomic_fetch_add(&s->wrong_thread, 1);
    atomic_store(&s->signum, signum);
    atomic_fetch_add(&s->count, 1);
    if (s->ev != NULL)
        cc_event_set(s->ev);
}

static void *send_to_process(void *arg)
{
    kill(getpid(), *(int *)arg);
    return NULL;
}

static void *send_to_thread(void *arg)
{
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static pthread_t other_thread;
static _Atomic bool other_ready;
static _Atomic bool other_stop;

static void *idle_thread(void *arg)
{
    (void)arg;
    other_thread = pthread_self();
    atomic_store(&other_ready, true);
    while (!atomic_load(&other_stop))
        tu_sleep(0.001);
    return NULL;
}

/* Wait in a task until the handler has run `n` times in all. */
static void *await_count(seen *s, int n)
{
    while (atomic_load(&s->count) < n) {
        if (cc_event_wait(s->ev, 30) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "no callback");
        cc_event_clear(s->ev);
    }
    return NULL;
}

static void *handler_main(void *arg)
{
    seen *s = arg;
    int sig = SIGUSR1;

    s->loop = cc_loop_current();
    s->loop_thread = pthread_self();
    s->ev = cc_event_new();
    if (cc_loop_add_signal_handler(s->loop, SIGUSR1, count_signal, s) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "add");
    /* raise in the loop's own thread, from a task */
    raise(SIGUSR1);
    if (await_count(s, 1) != NULL)
        return cc_fail(EPROTO, "raise: no callback");
    /* kill(2) to the process from another thread */
    cc_thread *t = cc_thread_start(send_to_process, &sig, "sender");
    cc_thread_join(t, NULL, 30);
    cc_thread_free(t);
    if (await_count(s, 2) != NULL)
        return cc_fail(EPROTO, "kill: no callback");
    /* a signal delivered to another thread still reaches the loop */
    t = cc_thread_start(idle_thread, NULL, "idle");
    while (!atomic_load(&other_ready))
        cc_sleep(0.001);
    cc_thread *k = cc_thread_start(send_to_thread, &other_thread, "sender");
    cc_thread_join(k, NULL, 30);
    cc_thread_free(k);
    void *r = await_count(s, 3);
    atomic_store(&other_stop, true);
    cc_thread_join(t, NULL, 30);
    cc_thread_free(t);
    if (r != NULL)
        return cc_fail(EPROTO, "pthread_kill: no callback");
    if (cc_loop_remove_signal_handler(s->loop, SIGUSR1) != 1)
        return cc_fail(EPROTO, "remove");
    cc_event_free(s->ev);
    return NULL;
}

static void test_handler_runs_on_the_loop_thread(void **state)
{
    seen s = {0};

    (void)state;
    assert_ok(cc_run(handler_main, &s, NULL));
    assert_true(atomic_load(&s.count) >= 3);
    assert_int_equal(atomic_load(&s.signum), SIGUSR1);
    assert_int_equal(atomic_load(&s.wrong_thread), 0);
}

/* ---- dispositions restored ---- */

static _Atomic int program_hits;

static void program_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&program_hits, 1);
}

static void nop_signal(int signum, void *arg)
{
    (void)signum;
    (void)arg;
}

static void test_remove_and_free_restore_the_disposition(void **state)
{
    cc_loop *a = cc_loop_new();
    cc_loop *b = cc_loop_new();

    (void)state;
    signal(SIGUSR2, program_handler);
    assert_ok(cc_loop_add_signal_handler(a, SIGUSR2, nop_signal, NULL));
    assert_true(disposition(SIGUSR2).sa_handler != program_handler);
    assert_ok(cc_loop_add_signal_handler(b, SIGUSR2, nop_signal, NULL));
    /* a second add on the same loop replaces, and takes nothing more */
    assert_ok(cc_loop_add_signal_handler(a, SIGUSR2, nop_signal, &a));
    assert_int_equal(cc_loop_remove_signal_handler(a, SIGUSR2), 1);
    assert_int_equal(cc_loop_remove_signal_handler(a, SIGUSR2), 0);
    /* b still handles it */
    assert_true(disposition(SIGUSR2).sa_handler != program_handler);
    cc_loop_free(b); /* the last one: the program's handler is back */
    assert_true(disposition(SIGUSR2).sa_handler == program_handler);
    raise(SIGUSR2);
    assert_int_equal(atomic_load(&program_hits), 1);
    /* SIG_IGN comes back as SIG_IGN */
    signal(SIGUSR2, SIG_IGN);
    assert_ok(cc_loop_add_signal_handler(a, SIGUSR2, nop_signal, NULL));
    assert_int_equal(cc_loop_remove_signal_handler(a, SIGUSR2), 1);
    assert_true(disposition(SIGUSR2).sa_handler == SIG_IGN);
    /* a handler the program installed over ours is left in place */
    assert_ok(cc_loop_add_signal_handler(a, SIGUSR2, nop_signal, NULL));
    signal(SIGUSR2, program_handler);
    assert_int_equal(cc_loop_remove_signal_handler(a, SIGUSR2), 1);
    assert_true(disposition(SIGUSR2).sa_handler == program_handler);
    signal(SIGUSR2, SIG_IGN);
    cc_loop_free(a);
}

/* ---- several loops, several signals ---- */

#define NLOOPS 3

typedef struct looper {
    seen s[2];                 /* SIGUSR1, SIGUSR2 */
    _Atomic int *ready;
} looper;

static void *looper_main(void *arg)
{
    looper *lp = arg;
    cc_loop *l = cc_loop_current();

    for (int i = 0; i < 2; i++) {
        lp->s[i].loop = l;
        lp->s[i].loop_thread = pthread_self();
        lp->s[i].ev = cc_event_new();
        if (cc_loop_add_signal_handler(l, i == 0 ? SIGUSR1 : SIGUSR2,
                                       count_signal, &lp->s[i]) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "add");
    }
    atomic_fetch_add(lp->ready, 1);
    for (int i = 0; i < 2; i++) {
        if (await_count(&lp->s[i], 1) != NULL)
            return cc_fail(EPROTO, "signal %d never came", i);
        cc_event_free(lp->s[i].ev);
    }
    return NULL;
}

static void *looper_thread(void *arg)
{
    if (cc_run(looper_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return NULL;
}

static void test_several_loops_each_run_their_handler(void **state)
{
    looper lps[NLOOPS];
    _Atomic int ready = 0;

    (void)state;
    memset(lps, 0, sizeof(lps));
    for (int i = 0; i < NLOOPS; i++)
        lps[i].ready = &ready;
    tu_threads ts = tu_start(NLOOPS, looper_thread, lps, sizeof(looper));
    while (atomic_load(&ready) < NLOOPS)
        tu_sleep(0.001);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR2);
    tu_join(ts);
    for (int i = 0; i < NLOOPS; i++) {
        assert_int_equal(atomic_load(&lps[i].s[0].signum), SIGUSR1);
        assert_int_equal(atomic_load(&lps[i].s[1].signum), SIGUSR2);
        assert_int_equal(atomic_load(&lps[i].s[0].wrong_thread), 0);
    }
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
}

/* ---- bad input ---- */

static void test_bad_input_is_einval(void **state)
{
    cc_loop *l = cc_loop_new();
    sigset_t set;
    int bad[] = {0, -1, 65, 1000, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL,
                 SIGFPE, 32};

    (void)state;
    assert_fails_with(cc_loop_add_signal_handler(NULL, SIGUSR1, nop_signal,
                                                 NULL), EINVAL);
    assert_fails_with(cc_loop_add_signal_handler(l, SIGUSR1, NULL, NULL),
                      EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_fails_with(cc_loop_add_signal_handler(l, bad[i], nop_signal,
                                                     NULL), EINVAL);
        assert_fails_with(cc_loop_remove_signal_handler(l, bad[i]), EINVAL);
    }
    assert_true(strstr(cc_errmsg(), "32") != NULL);
    assert_fails_with(cc_loop_remove_signal_handler(NULL, SIGUSR1), EINVAL);
    assert_fails_with(cc_signal_wait(NULL, 1), EINVAL);
    sigemptyset(&set);
    assert_fails_with(cc_signal_wait(&set, 1), EINVAL);
    sigaddset(&set, SIGKILL);
    assert_fails_with(cc_signal_wait(&set, 1), EINVAL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    assert_fails_with(cc_signal_wait(&set, NAN), EINVAL);
    assert_fails_with(cc_set_signal_handling(8), EINVAL);
    cc_loop_free(l);
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
}

/* ---- cc_signal_wait ---- */

typedef struct waiter {
    int sig;                   /* what it waits for */
    int got;
    _Atomic bool done;
} waiter;

static void *wait_in_thread(void *arg)
{
    waiter *w = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, w->sig);
    w->got = cc_signal_wait(&set, 60);
    atomic_store(&w->done, true);
    if (w->got < 0)
        return cc_fail_from(cc_last_error(), EPROTO, "wait");
    return NULL;
}

/* Send sig until every waiter is done (a waiter sees only signals caught
 * once it waits).  raise: the sending thread catches it, and the waiters,
 * on other threads and loops, must be woken from there.  (kill(2) would
 * let the kernel pick the main thread, which under TSan may sit in a raw
 * system call of a loop; TSan holds a signal caught there until that
 * thread's next intercepted call.) */
static void send_until_done(int sig, waiter *ws, int n)
{
    for (;;) {
        bool all = true;

        for (int i = 0; i < n; i++)
            all = all && atomic_load(&ws[i].done);
        if (all)
            return;
        raise(sig);
        tu_sleep(0.002);
    }
}

static void test_wait_from_threads(void **state)
{
    waiter ws[4];

    (void)state;
    memset(ws, 0, sizeof(ws));
    for (int i = 0; i < 4; i++)
        ws[i].sig = SIGUSR1;
    tu_threads ts = tu_start(4, wait_in_thread, ws, sizeof(waiter));
    send_until_done(SIGUSR1, ws, 4);
    tu_join(ts);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ws[i].got, SIGUSR1);
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
}

static _Atomic long ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (cc_sleep(0.001) == 0)
        atomic_fetch_add(&ticks, 1);
    return NULL;
}

static void *wait_task(void *arg)
{
    return wait_in_thread(arg);
}

/* Sends only once the loop has ticked a few times with the waiters
 * suspended in it: if a wait blocked the loop's thread, no tick would
 * come (the sender gives up waiting after 60 s, so that the test fails
 * instead of hanging). */
static void *sender_thread(void *arg)
{
    waiter *ws = arg;
    double give_up = cc_now() + 60;

    while (atomic_load(&ticks) < 3 && cc_now() < give_up)
        tu_sleep(0.001);
    send_until_done(SIGUSR2, ws, 3);
    return NULL;
}

static void *tasks_wait_main(void *arg)
{
    waiter *ws = arg;
    cc_future *tick = cc_spawn(ticker, NULL);
    cc_future *f[3];

    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(wait_task, &ws[i]);
    cc_thread *t = cc_thread_start(sender_thread, ws, "sender");
    for (int i = 0; i < 3; i++) {
        if (cc_future_result(f[i], NULL, 60) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "waiter %d", i);
        cc_future_free(f[i]);
    }
    cc_thread_join(t, NULL, 60);
    cc_thread_free(t);
    /* the ticker kept running while the waiters were suspended */
    if (atomic_load(&ticks) < 3)
        return cc_fail(EPROTO, "the loop was blocked");
    cc_future_cancel(tick);
    cc_future_result(tick, NULL, 30);
    cc_future_free(tick);
    return NULL;
}

static void test_wait_from_tasks_suspends_only_them(void **state)
{
    waiter ws[3];

    (void)state;
    memset(ws, 0, sizeof(ws));
    for (int i = 0; i < 3; i++)
        ws[i].sig = SIGUSR2;
    assert_ok(cc_run(tasks_wait_main, ws, NULL));
    for (int i = 0; i < 3; i++)
        assert_int_equal(ws[i].got, SIGUSR2);
    assert_true(disposition(SIGUSR2).sa_handler == SIG_IGN);
}

/* One signal reaches every waiter that waits when it is caught. */
typedef struct bcast {
    waiter ws[6];              /* 3 threads, 3 tasks */
    _Atomic int waiting;
} bcast;

static void *bcast_thread(void *arg)
{
    waiter *w = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    w->got = cc_signal_wait(&set, 2 * TU_SLOW);
    atomic_store(&w->done, true);
    return NULL;
}

static void *bcast_loop_main(void *arg)
{
    bcast *b = arg;
    cc_future *f[3];

    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(bcast_thread, &b->ws[3 + i]);
    for (int i = 0; i < 3; i++) {
        cc_future_result(f[i], NULL, 60);
        cc_future_free(f[i]);
    }
    return NULL;
}

static void *bcast_loop_thread(void *arg)
{
    cc_run(bcast_loop_main, arg, NULL);
    return NULL;
}

static bool one_signal_reaches_all(void *arg)
{
    bcast *b = arg;
    cc_thread *t[4];
    bool ok = true;

    memset(b, 0, sizeof(*b));
    for (int i = 0; i < 3; i++)
        t[i] = cc_thread_start(bcast_thread, &b->ws[i], "waiter");
    t[3] = cc_thread_start(bcast_loop_thread, b, "loop");
    tu_sleep(0.3 * TU_SLOW); /* all are waiting by now, unless loaded */
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 4; i++) {
        cc_thread_join(t[i], NULL, 60);
        cc_thread_free(t[i]);
    }
    for (int i = 0; i < 6; i++)
        ok = ok && b->ws[i].got == SIGUSR1;
    return ok;
}

static void test_wait_is_a_broadcast(void **state)
{
    bcast b;

    (void)state;
    assert_true(tu_retry(one_signal_reaches_all, &b, "broadcast"));
}

static void *timeouts_in(void *arg)
{
    sigset_t set;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    errno = 0;
    if (cc_signal_wait(&set, 0) != -1 || errno != EAGAIN)
        return cc_fail(EPROTO, "timeout 0: %s", cc_errname(errno));
    if (cc_signal_wait(&set, 0.05) != -1 || errno != ETIMEDOUT)
        return cc_fail(EPROTO, "timeout: %s", cc_errname(errno));
    if (cc_deadline_push(0.05) != 0)
        return cc_fail(EPROTO, "push");
    int rc = cc_signal_wait(&set, CC_FOREVER);
    int e = errno;
    cc_deadline_pop();
    if (rc != -1 || e != ETIMEDOUT)
        return cc_fail(EPROTO, "scope: %s", cc_errname(e));
    return NULL;
}

static void test_wait_times_out(void **state)
{
    (void)state;
    /* from a thread */
    assert_null(timeouts_in(NULL));
    /* from a task */
    assert_ok(cc_run(timeouts_in, NULL, NULL));
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
}

static void *wait_forever(void *arg)
{
    sigset_t set;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (cc_signal_wait(&set, CC_FOREVER) != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "expected ECANCELED, got %s",
                       cc_errname(errno));
    return NULL;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    cc_future *f = cc_spawn(wait_forever, NULL);

    cc_sleep(0.02);
    cc_future_cancel(f);
    if (cc_future_result(f, NULL, 30) == 0 || errno != ECANCELED)
        return cc_fail_from(cc_last_error(), EPROTO, "waiter");
    cc_future_free(f);
    return NULL;
}

static void test_wait_cancelled(void **state)
{
    (void)state;
    assert_ok(cc_run(cancel_main, NULL, NULL));
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
    assert_true(disposition(SIGUSR2).sa_handler == SIG_IGN);
}

/* ---- hammer: signals from several threads, at least once ---- */

#define HAMMER_LOOPS 2
#define HAMMER_SENDERS 4
#define HAMMER_SENDS 300

typedef struct hammer {
    seen s[HAMMER_LOOPS][2];
    _Atomic int ready;
    _Atomic bool stop;
    _Atomic long sent[2];
    pthread_t loop_threads[HAMMER_LOOPS];
} hammer;

typedef struct hloop {
    hammer *h;
    int i;
} hloop;

static void *hammer_loop_main(void *arg)
{
    hloop *hl = arg;
    hammer *h = hl->h;

    for (int k = 0; k < 2; k++) {
        seen *s = &h->s[hl->i][k];

        s->loop = cc_loop_current();
        s->loop_thread = pthread_self();
        if (cc_loop_add_signal_handler(s->loop, k == 0 ? SIGUSR1 : SIGUSR2,
                                       count_signal, s) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "add");
    }
    h->loop_threads[hl->i] = pthread_self();
    atomic_fetch_add(&h->ready, 1);
    while (!atomic_load(&h->stop))
        cc_sleep(0.001 * (1 + tu_rand_below(3)));
    return NULL;
}

static void *hammer_loop_thread(void *arg)
{
    if (cc_run(hammer_loop_main, arg, NULL) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "cc_run");
    return NULL;
}

static void *hammer_sender(void *arg)
{
    hammer *h = arg;

    for (int n = 0; n < HAMMER_SENDS; n++) {
        int k = (int)tu_rand_below(2);
        int sig = k == 0 ? SIGUSR1 : SIGUSR2;

        if (tu_rand_below(2) == 0)
            kill(getpid(), sig);
        else
            pthread_kill(h->loop_threads[tu_rand_below(HAMMER_LOOPS)], sig);
        atomic_fetch_add(&h->sent[k], 1);
        tu_jitter(200);
    }
    return NULL;
}

static void test_hammer_signals_from_many_threads(void **state)
{
    static hammer h;
    hloop hl[HAMMER_LOOPS];

    (void)state;
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < HAMMER_LOOPS; i++)
        hl[i] = (hloop){&h, i};
    tu_threads loops = tu_start(HAMMER_LOOPS, hammer_loop_thread, hl,
                                sizeof(hloop));
    while (atomic_load(&h.ready) < HAMMER_LOOPS)
        tu_sleep(0.001);
    hammer *hs[HAMMER_SENDERS];
    for (int i = 0; i < HAMMER_SENDERS; i++)
        hs[i] = &h;
    cc_thread *senders[HAMMER_SENDERS];
    for (int i = 0; i < HAMMER_SENDERS; i++)
        senders[i] = cc_thread_start(hammer_sender, hs[i], "sender");
    for (int i = 0; i < HAMMER_SENDERS; i++) {
        assert_ok(cc_thread_join(senders[i], NULL, 120));
        cc_thread_free(senders[i]);
    }
    /* At least once: after the last signal, one more callback runs on
     * every loop.  Never more callbacks than signals. */
    int before[HAMMER_LOOPS][2];
    for (int i = 0; i < HAMMER_LOOPS; i++)
        for (int k = 0; k < 2; k++)
            before[i][k] = atomic_load(&h.s[i][k].count);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR2);
    for (int i = 0; i < HAMMER_LOOPS; i++)
        for (int k = 0; k < 2; k++)
            while (atomic_load(&h.s[i][k].count) <= before[i][k])
                tu_sleep(0.001);
    atomic_store(&h.stop, true);
    tu_join(loops);
    for (int i = 0; i < HAMMER_LOOPS; i++) {
        for (int k = 0; k < 2; k++) {
            assert_true(atomic_load(&h.s[i][k].count) >= 1);
            assert_true(atomic_load(&h.s[i][k].count) <=
                        atomic_load(&h.sent[k]) + 1);
            assert_int_equal(atomic_load(&h.s[i][k].wrong_thread), 0);
            assert_int_equal(atomic_load(&h.s[i][k].signum),
                             k == 0 ? SIGUSR1 : SIGUSR2);
        }
    }
    assert_true(disposition(SIGUSR1).sa_handler == SIG_IGN);
    assert_true(disposition(SIGUSR2).sa_handler == SIG_IGN);
}

/* ---- the library's own handlers: SIGINT ---- */

static void *raise_sigint(void *arg)
{
    (void)arg;
    raise(SIGINT);
    cc_sleep(0.05); /* a cancel from cc_run's hand-over would end this */
    return cc_cancelled() ? NULL : (void *)1;
}

/* The program's SIGINT handler installed before cc_run: cc_run leaves it
 * alone and the program's handler gets the signal. */
static void sigint_program_first(void *arg)
{
    void *r = NULL;

    (void)arg;
    atomic_store(&program_hits, 0);
    signal(SIGINT, program_handler);
    int rc = cc_run(raise_sigint, NULL, &r);
    bool kept = disposition(SIGINT).sa_handler == program_handler;
    _exit(rc == 0 && r == (void *)1 && atomic_load(&program_hits) == 1 &&
                  kept ? 7 : 1);
}

static void *install_then_raise(void *arg)
{
    (void)arg;
    if (is_default(SIGINT))
        return NULL; /* cc_run did not take SIGINT */
    signal(SIGINT, program_handler);
    return raise_sigint(NULL);
}

/* Installed while cc_run runs (after the library's): the program's
 * handler runs, and cc_run does not put the default back over it. */
static void sigint_program_after(void *arg)
{
    void *r = NULL;

    (void)arg;
    atomic_store(&program_hits, 0);
    int rc = cc_run(install_then_raise, NULL, &r);
    bool kept = disposition(SIGINT).sa_handler == program_handler;
    _exit(rc == 0 && r == (void *)1 && atomic_load(&program_hits) == 1 &&
                  kept ? 7 : 1);
}

static void expect_child_exit(void (*fn)(void *), void *arg, int code)
{
    tu_child c = tu_run_child(fn, arg);

    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != code)
        fail_msg("child status %#x, stderr:\n%s", c.status, c.err);
    free(c.err);
}

static void test_sigint_chains_to_the_program_in_both_orders(void **state)
{
    (void)state;
    expect_child_exit(sigint_program_first, NULL, 7);
    expect_child_exit(sigint_program_after, NULL, 7);
}

/* A loop handler for SIGINT takes precedence over cc_run's hand-over;
 * removing it gives SIGINT back to cc_run, and cc_run's end to the
 * default. */
static void *sigint_loop_handler_main(void *arg)
{
    seen *s = arg;

    s->loop = cc_loop_current();
    s->loop_thread = pthread_self();
    s->ev = cc_event_new();
    if (is_default(SIGINT))
        return cc_fail(EPROTO, "cc_run did not take SIGINT");
    if (cc_loop_add_signal_handler(s->loop, SIGINT, count_signal, s) != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "add");
    raise(SIGINT);
    if (await_count(s, 1) != NULL || cc_cancelled())
        return cc_fail(EPROTO, "the handler did not get SIGINT");
    cc_loop_remove_signal_handler(s->loop, SIGINT);
    cc_event_free(s->ev);
    raise(SIGINT); /* cc_run's again: cancels this task */
    cc_sleep(30);
    return NULL;
}

static void sigint_with_loop_handler(void *arg)
{
    seen s = {0};

    (void)arg;
    int rc = cc_run(sigint_loop_handler_main, &s, NULL);
    int e = errno;
    _exit(rc == -1 && e == ECANCELED && atomic_load(&s.count) == 1 &&
                  is_default(SIGINT) ? 7 : 1);
}

static void test_sigint_loop_handler_over_cc_run(void **state)
{
    (void)state;
    expect_child_exit(sigint_with_loop_handler, NULL, 7);
}

static void *report_sigint(void *arg)
{
    (void)arg;
    return is_default(SIGINT) ? (void *)1 : (void *)2;
}

/* SIGSEGV's disposition before any loop ran (a sanitizer's, or the
 * default). */
static struct sigaction orig_segv;
static struct sigaction orig_bus;

static bool same(struct sigaction a, struct sigaction b)
{
    return (a.sa_flags & SA_SIGINFO) == (b.sa_flags & SA_SIGINFO) &&
           ((a.sa_flags & SA_SIGINFO) ? a.sa_sigaction == b.sa_sigaction
                                      : a.sa_handler == b.sa_handler);
}

static bool segv_is_orig(void)
{
    return same(disposition(SIGSEGV), orig_segv) &&
           same(disposition(SIGBUS), orig_bus);
}

static void *report_segv(void *arg)
{
    (void)arg;
    return segv_is_orig() ? (void *)1 : (void *)2;
}

static void switches_off(void *arg)
{
    void *r = NULL;
    int bad = 0;

    (void)arg;
    orig_segv = disposition(SIGSEGV);
    orig_bus = disposition(SIGBUS);
    /* default: both on */
    if (cc_run(report_sigint, NULL, &r) != 0 || r != (void *)2)
        bad |= 1;
    if (cc_run(report_segv, NULL, &r) != 0 || r != (void *)2)
        bad |= 2;
    /* SIGINT off */
    if (cc_set_signal_handling(CC_SIGNALS_OVERFLOW) != (int)CC_SIGNALS_ALL)
        bad |= 4;
    if (cc_run(report_sigint, NULL, &r) != 0 || r != (void *)1)
        bad |= 8;
    /* overflow off: ours is taken away at once */
    if (segv_is_orig() ||
        cc_set_signal_handling(0) != (int)CC_SIGNALS_OVERFLOW ||
        !segv_is_orig())
        bad |= 16;
    if (cc_run(report_segv, NULL, &r) != 0 || r != (void *)1)
        bad |= 32;
    _exit(bad == 0 ? 7 : 10 + bad);
}

static void env_switches(void *arg)
{
    void *r = NULL;
    int bad = 0;

    orig_segv = disposition(SIGSEGV);
    orig_bus = disposition(SIGBUS);
    setenv("CONCUR_SIGNALS", arg, 1);
    if (cc_run(report_sigint, NULL, &r) != 0 ||
        r != (strstr(arg, "sigint") ? (void *)2 : (void *)1))
        bad |= 1;
    if (cc_run(report_segv, NULL, &r) != 0 ||
        r != (strstr(arg, "overflow") ? (void *)2 : (void *)1))
        bad |= 2;
    _exit(bad == 0 ? 7 : 10 + bad);
}

static void test_switches_turn_each_off(void **state)
{
    (void)state;
    expect_child_exit(switches_off, NULL, 7);
    expect_child_exit(env_switches, "none", 7);
    expect_child_exit(env_switches, "sigint", 7);
    expect_child_exit(env_switches, "overflow", 7);
    expect_child_exit(env_switches, "overflow,sigint", 7);
}

/* ---- the library's own handlers: SIGSEGV ---- */

static char *fault_page;

static void fault_now(void)
{
    *(volatile char *)fault_page = 1;
}

static void program_segv(int sig, siginfo_t *info, void *uc)
{
    static const char msg[] = "program's SIGSEGV handler\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);

    (void)sig;
    (void)info;
    (void)uc;
    (void)w;
    _exit(42);
}

static struct sigaction before_program;

/* A handler that chains to the one it replaced, then exits. */
static void program_segv_chaining(int sig, siginfo_t *info, void *uc)
{
    static const char msg[] = "program's chaining handler\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);

    (void)w;
    if (before_program.sa_flags & SA_SIGINFO)
        before_program.sa_sigaction(sig, info, uc);
    _exit(42);
}

static void install_segv(void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &before_program);
}

static void *fault_main(void *arg)
{
    (void)arg;
    fault_now();
    return NULL;
}

/* The program's handler first, then a loop: a fault that is no stack
 * overflow reaches the program's handler through the library's. */
static void segv_program_first(void *arg)
{
    (void)arg;
    install_segv(program_segv);
    cc_run(fault_main, NULL, NULL);
    _exit(1);
}

static void *rearm(void *arg)
{
    (void)arg;
    return NULL;
}

static void *rearm_thread(void *arg)
{
    cc_run(rearm, arg, NULL);
    return NULL;
}

/* The library's first (a loop runs), then the program's, which chains to
 * the library's; then another loop starts and puts the library's in
 * front again.  The fault must reach the program's handler once and end,
 * not go round the two forever. */
static void *install_chaining_then_fault(void *arg)
{
    (void)arg;
    install_segv(program_segv_chaining);
    cc_thread *t = cc_thread_start(rearm_thread, NULL, "rearm");
    cc_thread_join(t, NULL, 30);
    cc_thread_free(t);
    fault_now();
    return NULL;
}

static void segv_program_after(void *arg)
{
    (void)arg;
    cc_run(install_chaining_then_fault, NULL, NULL);
    _exit(1);
}

/* A program that recovers from faults with siglongjmp (out of its
 * handler, past ours): every fault still reaches its handler. */
static sigjmp_buf recover_to;
static volatile int recovered;

static void program_segv_recover(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)info;
    (void)uc;
    siglongjmp(recover_to, 1);
}

static void *fault_and_recover(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(recover_to, 1) == 0)
            fault_now();
        else
            recovered++;
    }
    return NULL;
}

static void segv_recovering_program(void *arg)
{
    (void)arg;
    install_segv(program_segv_recover);
    cc_run(fault_and_recover, NULL, NULL);
    _exit(recovered == 3 ? 7 : 1);
}

static void test_sigsegv_chains_to_the_program_in_both_orders(void **state)
{
    (void)state;
    fault_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                      0);
    assert_true(fault_page != MAP_FAILED);
    tu_child c = tu_run_child(segv_program_first, NULL);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 42)
        fail_msg("program first: status %#x, stderr:\n%s", c.status, c.err);
    assert_non_null(strstr(c.err, "program's SIGSEGV handler"));
    free(c.err);
    c = tu_run_child(segv_program_after, NULL);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 42)
        fail_msg("program after: status %#x, stderr:\n%s", c.status, c.err);
    char *first = strstr(c.err, "program's chaining handler");
    assert_non_null(first);
    assert_null(strstr(first + 1, "program's chaining handler"));
    free(c.err);
    expect_child_exit(segv_recovering_program, NULL, 7);
    munmap(fault_page, 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_handler_runs_on_the_loop_thread,
                               ignore_usr),
        cmocka_unit_test_setup(test_remove_and_free_restore_the_disposition,
                               ignore_usr),
        cmocka_unit_test_setup(test_several_loops_each_run_their_handler,
                               ignore_usr),
        cmocka_unit_test_setup(test_bad_input_is_einval, ignore_usr),
        cmocka_unit_test_setup(test_wait_from_threads, ignore_usr),
        cmocka_unit_test_setup(test_wait_from_tasks_suspends_only_them,
                               ignore_usr),
        cmocka_unit_test_setup(test_wait_is_a_broadcast, ignore_usr),
        cmocka_unit_test_setup(test_wait_times_out, ignore_usr),
        cmocka_unit_test_setup(test_wait_cancelled, ignore_usr),
        cmocka_unit_test_setup(test_hammer_signals_from_many_threads,
                               ignore_usr),
        cmocka_unit_test_setup(test_sigint_chains_to_the_program_in_both_orders,
                               ignore_usr),
        cmocka_unit_test_setup(test_sigint_loop_handler_over_cc_run,
                               ignore_usr),
        cmocka_unit_test_setup(test_switches_turn_each_off, ignore_usr),
        cmocka_unit_test_setup(test_sigsegv_chains_to_the_program_in_both_orders,
                               ignore_usr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
