/*
 * signal.c - signals: loop signal handlers, cc_signal_wait, cc_run's SIGINT
 * hand-over and the switch over what the library installs (aio layer).
 *
 * The mechanism.  A signal the program asks for (cc_loop_add_signal_handler,
 * cc_signal_wait) is caught by one process-wide C handler, on_signal, which
 * does only async-signal-safe things: it counts the signal (hits[]), marks
 * it pending on every loop that wants it and writes that loop's eventfd,
 * and futex-wakes the threads blocked in cc_signal_wait.  The loop's thread
 * then runs the callbacks and wakes its waiting tasks, outside signal
 * context.  This is asyncio's wake-up fd, one fd per interested loop.
 *
 * Why not a signalfd: a signalfd only sees a signal that is blocked in
 * every thread of the process, or the kernel delivers it to some thread
 * that does not block it and the signalfd never sees it.  A library
 * cannot block a signal in threads it did not create (the program's, other
 * libraries', a sanitizer's), and a blocked signal is inherited across
 * fork and exec.  A handler works whichever thread the kernel picks.
 *
 * Dispositions.  The first user of a signal (a loop handler or a waiter)
 * saves its disposition and installs on_signal; the last one gone puts the
 * saved one back, unless somebody replaced on_signal meanwhile (theirs is
 * then left alone).  Counts and saved dispositions are guarded by sig_mu.
 *
 * Signal context and freed loops.  The handler finds loops in slots[], a
 * fixed table (it may not take a lock), and counts itself in in_handler
 * while it touches one; a loop leaves the table (cc_loop_free) by clearing
 * its slot and waiting until in_handler is zero, so no handler still holds
 * its pointer when its eventfd is closed.  cc_run's SIGINT handler reaches
 * its loop the same way.
 *
 * Delivery.  Signals of one number coalesce in the kernel while pending,
 * and a loop's pending bit coalesces again until the loop looks: a
 * callback runs at least once after each signal caught, never once per
 * signal sent.  A waiter is woken by any signal of its set caught after
 * it registered: every waiter then registered gets it (a broadcast).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aio/loop.h"
#include "concur/sync.h"
#include "internal/atfork.h"
#include "internal/deadline.h"
#include "internal/error.h"
#include "internal/fiber.h"
#include "internal/futex.h"
#include "internal/waiter.h"

#define NSIGS 65       /* signals 1..64; bit s-1 of a mask is signal s */
#define SLOTS 64       /* loops with signal handlers or waiters at once */
#define BIT(s) (UINT64_C(1) << ((s)-1))

/* Per signal number, guarded by sig_mu. */
static struct {
    unsigned users;          /* loop handlers, loop waiters, thread waiters */
    struct sigaction prev;   /* the disposition before on_signal */
} sigs[NSIGS];
static cc__mutex sig_mu = CC__MUTEX_INIT;

/* Read and written by the handler. */
static _Atomic uint64_t hits[NSIGS];       /* signals caught, per number */
static _Atomic uint32_t seq;               /* futex word of thread waiters */
static _Atomic unsigned nthread_waiters;
static _Atomic int in_handler;             /* handlers touching a loop */
static struct {
    _Atomic(cc_loop *) loop;
    _Atomic uint64_t want;   /* signals with a handler or waiter there */
} slots[SLOTS];

/* cc_run's SIGINT hand-over: the loop, and SIGINT's disposition before. */
static _Atomic(cc_loop *) sigint_loop;
static struct sigaction sigint_old;

/* cc_set_signal_handling's choice; -1 until called: CONCUR_SIGNALS rules. */
static _Atomic int flags_set = -1;

/* A loop's signal state, made by the first handler or waiter on it. */
typedef struct sig_handler {
    cc_signal_fn fn;
    void *arg;
} sig_handler;

struct cc__loop_sig {
    int slot;                /* its index in slots[] */
    sig_handler h[NSIGS];    /* guarded by sig_mu */
    unsigned nwait[NSIGS];   /* task waiters per signal, guarded by sig_mu */
    cc__list waiters;        /* task waiters (loop thread only) */
};

/* A task blocked in cc_signal_wait (on its stack). */
typedef struct sig_waiter {
    cc__link link;
    uint64_t mask;
    uint64_t snap[NSIGS];    /* hits[] when it registered */
    cc_event *ev;
} sig_waiter;

/* ---------------------------------------------------------- the handler */

static void poke(cc_loop *l, bool run_sigint, uint64_t bit)
{
    uint64_t one = 1;
    ssize_t r;

    if (run_sigint)
        atomic_store(&l->sigint, true);
    else
        atomic_fetch_or(&l->sigpend, bit);
    atomic_store(&l->signalled, true);
    r = write(l->evfd, &one, sizeof(one));
    (void)r; /* EAGAIN: the counter is non-zero, the loop wakes anyway */
}

static void on_signal(int s, siginfo_t *info, void *uc)
{
    int saved = errno;
    uint64_t bit = BIT(s);

    (void)info;
    (void)uc;
    atomic_fetch_add(&hits[s], 1);
    atomic_fetch_add(&in_handler, 1);
    for (int i = 0; i < SLOTS; i++) {
        cc_loop *l = atomic_load(&slots[i].loop);

        if (l != NULL && (atomic_load(&slots[i].want) & bit))
            poke(l, false, bit);
    }
    atomic_fetch_sub(&in_handler, 1);
    if (atomic_load(&nthread_waiters) > 0) {
        atomic_fetch_add(&seq, 1);
        cc__futex_wake(&seq, INT_MAX);
    }
    errno = saved;
}

static void on_sigint(int s)
{
    int saved = errno;
    cc_loop *l;

    (void)s;
    atomic_fetch_add(&in_handler, 1);
    l = atomic_load(&sigint_loop);
    if (l != NULL)
        poke(l, true, 0);
    atomic_fetch_sub(&in_handler, 1);
    errno = saved;
}

/* Wait until no handler holds a pointer it read before a slot was cleared. */
static void quiesce(void)
{
    while (atomic_load(&in_handler) != 0)
        sched_yield();
}

static bool is_on_signal(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

static bool is_on_sigint(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_sigint;
}

/* ------------------------------------------------------------- switches */

/* CONCUR_SIGNALS: "all" (the default), "none", or a comma list of
 * "overflow" and "sigint". */
static unsigned env_flags(void)
{
    const char *v = getenv("CONCUR_SIGNALS");
    unsigned f = 0;

    if (v == NULL || *v == '\0')
        return CC_SIGNALS_ALL;
    while (*v != '\0') {
        size_t n = strcspn(v, ",");

        if (n == 3 && strncmp(v, "all", 3) == 0)
            f |= CC_SIGNALS_ALL;
        else if (n == 8 && strncmp(v, "overflow", 8) == 0)
            f |= CC_SIGNALS_OVERFLOW;
        else if (n == 6 && strncmp(v, "sigint", 6) == 0)
            f |= CC_SIGNALS_SIGINT;
        v += n;
        if (*v == ',')
            v++;
    }
    return f;
}

unsigned cc__signal_flags(void)
{
    int f = atomic_load_explicit(&flags_set, memory_order_acquire);

    return f >= 0 ? (unsigned)f : env_flags();
}

int cc_set_signal_handling(unsigned flags)
{
    unsigned before;

    if (flags & ~(unsigned)CC_SIGNALS_ALL)
        return cc__errf(EINVAL, "cc_set_signal_handling: unknown flags %#x",
                        flags & ~(unsigned)CC_SIGNALS_ALL);
    cc__mutex_lock(&sig_mu);
    before = cc__signal_flags();
    atomic_store_explicit(&flags_set, (int)flags, memory_order_release);
    if (!(flags & CC_SIGNALS_SIGINT) && atomic_load(&sigint_loop) != NULL) {
        struct sigaction now;

        /* A cc_run is running: give SIGINT back now. */
        if (sigaction(SIGINT, NULL, &now) == 0 && is_on_sigint(&now))
            sigaction(SIGINT, &sigint_old, NULL);
        else if (sigs[SIGINT].users > 0 && is_on_sigint(&sigs[SIGINT].prev))
            sigs[SIGINT].prev = sigint_old;
        atomic_store(&sigint_loop, NULL);
        quiesce();
    }
    cc__mutex_unlock(&sig_mu);
    if (!(flags & CC_SIGNALS_OVERFLOW))
        cc__stack_unwatch_overflow();
    return (int)before;
}

/* -------------------------------------------------- taking a signal over */

/* Signal numbers a program may hand to a loop or wait for. */
static int sig_check(int s, const char *who)
{
    if (s < 1 || s >= NSIGS || s >= NSIG)
        return cc__errf(EINVAL, "%s: %d is not a signal number", who, s);
    if (s == SIGKILL || s == SIGSTOP)
        return cc__errf(EINVAL, "%s: signal %d cannot be caught", who, s);
    if (s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE)
        return cc__errf(EINVAL, "%s: signal %d reports a fault, which must "
                                "be handled where it happens, not later on a "
                                "loop", who, s);
    if (s > 31 && s < SIGRTMIN)
        return cc__errf(EINVAL, "%s: signal %d is reserved by the C library",
                        who, s);
    return 0;
}

/* One more user of signal s: the first installs on_signal.  sig_mu held. */
static int sig_take_locked(int s, const char *who)
{
    struct sigaction sa;

    CC__ASSERT(cc__mutex_owned(&sig_mu));
    if (sigs[s].users++ > 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(s, &sa, &sigs[s].prev) != 0) {
        int e = errno;

        sigs[s].users--;
        return cc__errf(e, "%s: sigaction(%d): %s", who, s, strerror(e));
    }
    return 0;
}

/* One user fewer: the last puts the saved disposition back, if on_signal
 * is still the one installed.  sig_mu held. */
static void sig_give_locked(int s)
{
    struct sigaction now;

    CC__ASSERT(cc__mutex_owned(&sig_mu));
    CC__ASSERT(sigs[s].users > 0);
    if (--sigs[s].users > 0)
        return;
    if (sigaction(s, NULL, &now) == 0 && is_on_signal(&now))
        sigaction(s, &sigs[s].prev, NULL);
}

/* The loop's signal record, made (and its slot claimed) on first use.
 * sig_mu held. */
static struct cc__loop_sig *loop_sig_locked(cc_loop *l, const char *who)
{
    struct cc__loop_sig *ls;

    CC__ASSERT(cc__mutex_owned(&sig_mu));
    ls = l->sig;
    if (ls != NULL)
        return ls;
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load(&slots[i].loop) != NULL)
            continue;
        ls = calloc(1, sizeof(*ls));
        if (ls == NULL) {
            cc__errf(ENOMEM, "%s: out of memory", who);
            return NULL;
        }
        ls->slot = i;
        atomic_store(&slots[i].want, 0);
        atomic_store(&slots[i].loop, l);
        l->sig = ls;
        return ls;
    }
    cc__errf(ENOSPC, "%s: %d loops already handle or wait for signals", who,
             SLOTS);
    return NULL;
}

/* Recompute whether the loop wants signal s.  sig_mu held. */
static void want_update_locked(struct cc__loop_sig *ls, int s)
{
    CC__ASSERT(cc__mutex_owned(&sig_mu));
    if (ls->h[s].fn != NULL || ls->nwait[s] > 0)
        atomic_fetch_or(&slots[ls->slot].want, BIT(s));
    else
        atomic_fetch_and(&slots[ls->slot].want, ~BIT(s));
}

/* ------------------------------------------------------ loop handlers */

static bool loop_ok(const cc_loop *l)
{
    return l != NULL && l->magic == CC__LOOP_MAGIC;
}

int cc_loop_add_signal_handler(cc_loop *loop, int signum, cc_signal_fn fn,
                               void *arg)
{
    static const char who[] = "cc_loop_add_signal_handler";
    struct cc__loop_sig *ls;

    if (!loop_ok(loop))
        return cc__errf(EINVAL, "%s: not a loop", who);
    if (fn == NULL)
        return cc__errf(EINVAL, "%s: fn is NULL", who);
    if (sig_check(signum, who) != 0)
        return -1;
    cc__mutex_lock(&sig_mu);
    ls = loop_sig_locked(loop, who);
    if (ls == NULL || (ls->h[signum].fn == NULL &&
                       sig_take_locked(signum, who) != 0)) {
        cc__mutex_unlock(&sig_mu);
        return -1;
    }
    ls->h[signum].fn = fn; /* a second add replaces the first */
    ls->h[signum].arg = arg;
    want_update_locked(ls, signum);
    cc__mutex_unlock(&sig_mu);
    return 0;
}

int cc_loop_remove_signal_handler(cc_loop *loop, int signum)
{
    static const char who[] = "cc_loop_remove_signal_handler";
    struct cc__loop_sig *ls;
    int removed = 0;

    if (!loop_ok(loop))
        return cc__errf(EINVAL, "%s: not a loop", who);
    if (sig_check(signum, who) != 0)
        return -1;
    cc__mutex_lock(&sig_mu);
    ls = loop->sig;
    if (ls != NULL && ls->h[signum].fn != NULL) {
        ls->h[signum].fn = NULL;
        ls->h[signum].arg = NULL;
        want_update_locked(ls, signum);
        sig_give_locked(signum);
        removed = 1;
    }
    cc__mutex_unlock(&sig_mu);
    return removed;
}

/* Has a signal of w's set been caught since w registered?  Its number (the
 * lowest such), or 0. */
static int arrived(uint64_t mask, const uint64_t *snap)
{
    for (int s = 1; s < NSIGS; s++)
        if ((mask & BIT(s)) && atomic_load(&hits[s]) != snap[s])
            return s;
    return 0;
}

void cc__signal_dispatch(cc_loop *l)
{
    struct cc__loop_sig *ls = l->sig;
    uint64_t pend = atomic_exchange(&l->sigpend, 0);

    if (ls == NULL || pend == 0)
        return;
    for (int s = 1; s < NSIGS; s++) {
        sig_handler h;

        if (!(pend & BIT(s)))
            continue;
        cc__mutex_lock(&sig_mu);
        h = ls->h[s];
        cc__mutex_unlock(&sig_mu);
        if (h.fn != NULL)
            h.fn(s, h.arg);
    }
    CC__LIST_EACH_SAFE(n, next, &ls->waiters) {
        sig_waiter *w = CC__CONTAINER_OF(n, sig_waiter, link);

        if (arrived(w->mask, w->snap) != 0)
            cc_event_set(w->ev);
    }
}

void cc__signal_loop_free(cc_loop *l)
{
    struct cc__loop_sig *ls;

    cc__mutex_lock(&sig_mu);
    ls = l->sig;
    if (ls == NULL) {
        cc__mutex_unlock(&sig_mu);
        return;
    }
    for (int s = 1; s < NSIGS; s++) {
        if (ls->h[s].fn != NULL) {
            ls->h[s].fn = NULL;
            sig_give_locked(s);
        }
    }
    atomic_store(&slots[ls->slot].want, 0);
    atomic_store(&slots[ls->slot].loop, NULL);
    l->sig = NULL;
    cc__mutex_unlock(&sig_mu);
    quiesce(); /* no handler may still write its eventfd */
    free(ls);
}

/* -------------------------------------------------------- cc_signal_wait */

static int wait_thread(uint64_t mask, double timeout)
{
    static const char who[] = "cc_signal_wait";
    uint64_t snap[NSIGS];
    int64_t deadline;
    int got = 0;
    int rc = 0;
    int s;

    if (cc__deadline_for(timeout, who, &deadline) != 0)
        return -1;
    cc__mutex_lock(&sig_mu);
    for (s = 1; s < NSIGS; s++) {
        if ((mask & BIT(s)) && sig_take_locked(s, who) != 0)
            break;
    }
    if (s < NSIGS) { /* undo what was taken */
        int e = errno;

        while (--s > 0)
            if (mask & BIT(s))
                sig_give_locked(s);
        cc__mutex_unlock(&sig_mu);
        errno = e;
        return -1;
    }
    atomic_fetch_add(&nthread_waiters, 1);
    cc__mutex_unlock(&sig_mu);
    for (s = 0; s < NSIGS; s++)
        snap[s] = atomic_load(&hits[s]);
    for (;;) {
        uint32_t v = atomic_load(&seq);

        got = arrived(mask, snap);
        if (got != 0 || rc == ETIMEDOUT)
            break;
        rc = cc__futex_wait(&seq, v, deadline);
    }
    cc__mutex_lock(&sig_mu);
    atomic_fetch_sub(&nthread_waiters, 1);
    for (s = 1; s < NSIGS; s++)
        if (mask & BIT(s))
            sig_give_locked(s);
    cc__mutex_unlock(&sig_mu);
    return got != 0 ? got : cc__err_wait(ETIMEDOUT, "signal wait");
}

static int wait_task(cc_loop *l, uint64_t mask, double timeout)
{
    static const char who[] = "cc_signal_wait";
    struct cc__loop_sig *ls;
    sig_waiter w;
    int got;
    int rc;
    int e;
    int s;

    w.mask = mask;
    w.ev = cc_event_new();
    if (w.ev == NULL)
        return -1;
    cc__mutex_lock(&sig_mu);
    ls = loop_sig_locked(l, who);
    for (s = 1; ls != NULL && s < NSIGS; s++) {
        if ((mask & BIT(s)) && sig_take_locked(s, who) != 0)
            break;
    }
    if (ls == NULL || s < NSIGS) {
        e = errno;
        while (ls != NULL && --s > 0)
            if (mask & BIT(s))
                sig_give_locked(s);
        cc__mutex_unlock(&sig_mu);
        cc_event_free(w.ev);
        errno = e;
        return -1;
    }
    for (s = 1; s < NSIGS; s++) {
        if (mask & BIT(s)) {
            ls->nwait[s]++;
            want_update_locked(ls, s);
        }
    }
    cc__mutex_unlock(&sig_mu);
    for (s = 0; s < NSIGS; s++)
        w.snap[s] = atomic_load(&hits[s]);
    cc__link_init(&w.link);
    cc__list_push_back(&ls->waiters, &w.link);
    rc = cc_event_wait(w.ev, timeout);
    e = errno;
    cc__list_remove(&ls->waiters, &w.link);
    got = arrived(mask, w.snap);
    cc__mutex_lock(&sig_mu);
    for (s = 1; s < NSIGS; s++) {
        if (mask & BIT(s)) {
            ls->nwait[s]--;
            want_update_locked(ls, s);
            sig_give_locked(s);
        }
    }
    cc__mutex_unlock(&sig_mu);
    cc_event_free(w.ev);
    if (got != 0)
        return got; /* handed what it waited for: a cancel fails the next */
    (void)rc;
    return cc__err_wait(e, "signal wait");
}

int cc_signal_wait(const sigset_t *set, double timeout)
{
    static const char who[] = "cc_signal_wait";
    uint64_t mask = 0;
    cc__ctx *c;

    if (set == NULL)
        return cc__errf(EINVAL, "%s: set is NULL", who);
    for (int s = 1; s < NSIGS && s < NSIG; s++) {
        int m = sigismember(set, s);

        if (m < 0)
            return cc__errf(EINVAL, "%s: not a signal set", who);
        if (m == 0)
            continue;
        if (sig_check(s, who) != 0)
            return -1;
        mask |= BIT(s);
    }
    if (mask == 0)
        return cc__errf(EINVAL, "%s: the set is empty", who);
    if (cc__check_timeout(timeout, who) != 0)
        return -1;
    if (timeout == 0)
        return cc__err(EAGAIN, "cc_signal_wait: no signal (a waiter only "
                               "sees signals caught while it waits)");
    if (cc__checkpoint("signal wait") != 0)
        return -1;
    c = cc__ctx_get();
    if (c->fiber != NULL && cc__tls_loop != NULL)
        return wait_task(cc__tls_loop, mask, timeout);
    return wait_thread(mask, timeout);
}

/* -------------------------------------------------- cc_run's SIGINT */

bool cc__signal_run_take(cc_loop *l)
{
    struct sigaction old;
    struct sigaction sa;
    bool took = false;

    if (!(cc__signal_flags() & CC_SIGNALS_SIGINT))
        return false;
    cc__mutex_lock(&sig_mu);
    /* Only over the default action: a program (or a loop handler, or a
     * waiter) that handles SIGINT keeps it. */
    if (atomic_load(&sigint_loop) == NULL &&
        sigaction(SIGINT, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigint_old = old;
        atomic_store(&sigint_loop, l);
        took = sigaction(SIGINT, &sa, NULL) == 0;
        if (!took)
            atomic_store(&sigint_loop, NULL);
    }
    cc__mutex_unlock(&sig_mu);
    return took;
}

void cc__signal_run_give(cc_loop *l)
{
    struct sigaction now;

    cc__mutex_lock(&sig_mu);
    if (atomic_load(&sigint_loop) == l) {
        /* Put the default back only over our own handler: one the program
         * installed meanwhile stays.  A loop handler or waiter that took
         * SIGINT over ours will restore the default, not ours. */
        if (sigaction(SIGINT, NULL, &now) == 0 && is_on_sigint(&now))
            sigaction(SIGINT, &sigint_old, NULL);
        else if (sigs[SIGINT].users > 0 && is_on_sigint(&sigs[SIGINT].prev))
            sigs[SIGINT].prev = sigint_old;
        atomic_store(&sigint_loop, NULL);
        quiesce();
    }
    cc__mutex_unlock(&sig_mu);
}

/* ------------------------------------------------------------------ fork */

/*
 * Fork hooks (internal/atfork.h).  The child has none of the parent's
 * loops running and none of its waiters: every signal the parent's loops
 * or waiters took gets its saved disposition back (unless replaced since),
 * the loop table is emptied (the eventfds it names are shared with the
 * parent), and SIGINT handed over to a cc_run of the parent gets its
 * default action back, so Ctrl-C ends the child as it ends the parent.
 */
static void fork_prepare(void)
{
    cc__mutex_lock(&sig_mu);
}

static void fork_parent(void)
{
    cc__mutex_unlock(&sig_mu);
}

static void fork_child(void)
{
    struct sigaction now;

    for (int s = 1; s < NSIGS; s++) {
        if (sigs[s].users > 0 && sigaction(s, NULL, &now) == 0 &&
            is_on_signal(&now)) {
            if (s == SIGINT && is_on_sigint(&sigs[s].prev))
                sigaction(s, &sigint_old, NULL);
            else
                sigaction(s, &sigs[s].prev, NULL);
        }
        sigs[s].users = 0;
    }
    for (int i = 0; i < SLOTS; i++) {
        atomic_store(&slots[i].loop, NULL);
        atomic_store(&slots[i].want, 0);
    }
    atomic_store(&nthread_waiters, 0);
    atomic_store(&in_handler, 0);
    if (atomic_exchange(&sigint_loop, NULL) != NULL &&
        sigaction(SIGINT, NULL, &now) == 0 && is_on_sigint(&now))
        sigaction(SIGINT, &sigint_old, NULL);
    cc__mutex_init(&sig_mu);
}

static const cc__fork_hooks fork_hooks = {"aio/signal.c", fork_prepare,
                                          fork_parent, fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}
