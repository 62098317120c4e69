/*
 * thread.c - cc_thread: named threads whose result or error is never lost
 * (sync layer).
 *
 * A handle is shared by the caller and the running thread (refs starts at
 * 2); whoever drops the last reference frees it.  When fn returns, the
 * thread records result or error under `mu`, marks itself done and wakes the
 * joiners.  The first joiner to see `done` also reaps the OS thread
 * (pthread_join, so that thread-local destructors have run); the others wait
 * for `reaped`.  A handle freed before the thread ended detaches it.
 *
 * The live threads (threading.enumerate): each thread links its record
 * into `registry` before fn runs and unlinks it after fn returned, before
 * it marks itself done, so a thread that was joined is never listed.  The
 * main thread is listed by its own static entry.  `registry_mu` guards the
 * list and the names it shows (renamed by cc_thread_set_current_name); a
 * snapshot copies them, so a thread ending meanwhile cannot be seen half.
 * In a forked child only the forking thread lives: it becomes the main
 * thread (its id is the child's pid), and the list is emptied.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/sync.h"
#include "internal/atfork.h"
#include "internal/ctx.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/mutex.h"
#include "internal/thread.h"
#include "internal/waiter.h"

#define THREAD_MAGIC 0x54485244u /* "THRD" */

_Static_assert(CC__NAME_MAX == CC_THREAD_NAME_MAX,
               "cc_thread_info's name holds a whole thread name");

struct cc_thread {
    uint32_t magic;           /* THREAD_MAGIC while the handle is alive */
    _Atomic int refs;         /* the handle + the running thread */
    pthread_t pt;             /* set before the thread can be joined */
    cc_fn fn;
    void *arg;
    char name[CC__NAME_MAX];
    cc__mutex mu;             /* guards everything below */
    bool done;                /* fn has returned; result/error are final */
    bool reaping;             /* a joiner is in pthread_join */
    bool reaped;              /* pthread_join done (or detached) */
    bool handle_freed;        /* cc_thread_free was called */
    bool error_seen;          /* a join handed the error over */
    cc__ctx *runner;          /* the running thread's context, once started */
    void *result;
    cc_error *error;          /* owned */
    cc__waitq joiners;        /* waiting for done / reaped */
    /* guarded by registry_mu: */
    cc__link live;            /* in `registry` while fn runs */
    unsigned long tid;        /* the OS thread id, set by the thread */
    char live_name[CC__NAME_MAX]; /* its current name, for enumerate */
};

static _Atomic unsigned long thread_counter;

static cc__mutex registry_mu = CC__MUTEX_INIT; /* guards the three below */
static cc__list registry;            /* live records, in order of running */
static char main_name[CC__NAME_MAX] = "MainThread";
static __thread cc_thread *self_rec; /* the calling thread's record, if any */

static unsigned long os_tid(void)
{
    return (unsigned long)gettid();
}

static void registry_prepare(void)
{
    cc__mutex_lock(&registry_mu);
}

static void registry_parent(void)
{
    cc__mutex_unlock(&registry_mu);
}

static void registry_child(void)
{
    cc__mutex_init(&registry_mu);
    cc__list_init(&registry); /* their threads are not in this process */
    if (self_rec != NULL) {   /* a cc_thread forked: it is the main one now */
        memcpy(main_name, self_rec->live_name, sizeof(main_name));
        cc__link_init(&self_rec->live);
        self_rec = NULL;
    }
}

static const cc__fork_hooks fork_hooks = {"sync/thread.c", registry_prepare,
                                          registry_parent, registry_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

static bool thread_ok(const cc_thread *t)
{
    return t != NULL && t->magic == THREAD_MAGIC;
}

static void thread_unref(cc_thread *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        cc_error_free(t->error);
        free(t);
    }
}

static void set_os_name(const char *name)
{
    char os_name[16]; /* the kernel keeps 15 bytes */
    size_t n = strlen(name);

    if (n > sizeof(os_name) - 1)
        n = sizeof(os_name) - 1;
    memcpy(os_name, name, n);
    os_name[n] = '\0';
    pthread_setname_np(pthread_self(), os_name);
}

static void *thread_entry(void *p)
{
    cc_thread *t = p;
    cc__ctx *c = cc__ctx_get();
    void *result;
    cc_error *error = NULL;
    bool report;

    cc__ctx_set_name(c, t->name);
    set_os_name(t->name);
    cc__mutex_lock(&t->mu);
    t->runner = c;
    cc__mutex_unlock(&t->mu);
    cc__mutex_lock(&registry_mu);
    t->tid = os_tid();
    memcpy(t->live_name, t->name, sizeof(t->live_name));
    cc__list_push_back(&registry, &t->live);
    self_rec = t;
    cc__mutex_unlock(&registry_mu);
    result = t->fn(t->arg);
    if (result == NULL)
        error = cc__error_take_pending();
    else
        cc_error_clear();
    cc__mutex_lock(&registry_mu);
    if (self_rec == t) /* else a fork made this thread the main one */
        cc__list_remove(&registry, &t->live);
    self_rec = NULL;
    cc__mutex_unlock(&registry_mu);

    cc__mutex_lock(&t->mu);
    t->result = result;
    t->error = error;
    t->done = true;
    report = t->handle_freed && error != NULL;
    cc__waitq_wake_all(&t->joiners);
    cc__mutex_unlock(&t->mu);
    if (report && cc__debug()) {
        char text[1024];

        cc_error_format(error, text, sizeof(text));
        cc__debugf("thread '%s' failed and nobody can join it: %s", t->name,
                   text);
    }
    thread_unref(t);
    return NULL;
}

cc_thread *cc_thread_start(cc_fn fn, void *arg, const char *name)
{
    cc_thread *t;
    int rc;

    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_thread_start: fn is NULL");
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return cc__err_null(ENOMEM, "cc_thread_start: out of memory");
    t->magic = THREAD_MAGIC;
    atomic_init(&t->refs, 2);
    cc__link_init(&t->live);
    t->fn = fn;
    t->arg = arg;
    if (name != NULL)
        snprintf(t->name, sizeof(t->name), "%s", name);
    else
        snprintf(t->name, sizeof(t->name), "Thread-%lu",
                 atomic_fetch_add(&thread_counter, 1) + 1);
    cc__mutex_init(&t->mu);
    cc__waitq_init(&t->joiners);
    rc = pthread_create(&t->pt, NULL, thread_entry, t);
    if (rc != 0) {
        char shown[CC__NAME_MAX];

        snprintf(shown, sizeof(shown), "%s", t->name);
        free(t);
        return cc__errf_null(rc, "cc_thread_start: cannot create thread "
                                 "'%s': %s", shown, strerror(rc));
    }
    return t;
}

/* Wait until pred(t) under mu, or the deadline.  Returns 0 or ETIMEDOUT/
 * EAGAIN, with mu held. */
static int wait_locked(cc_thread *t, bool reaped, int64_t deadline)
{
    CC__ASSERT(cc__mutex_owned(&t->mu));
    while (!(reaped ? t->reaped : t->done)) {
        cc__waiter w;
        int rc;

        if (deadline <= cc__now_ns())
            return EAGAIN;
        cc__waiter_init(&w);
        cc__waitq_push(&t->joiners, &w);
        cc__mutex_unlock(&t->mu);
        rc = cc__waiter_park(&w, deadline);
        cc__mutex_lock(&t->mu);
        cc__waitq_remove(&t->joiners, &w);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cc_thread_join(cc_thread *t, void **result, double timeout)
{
    int64_t deadline;
    int rc;

    if (!thread_ok(t))
        return cc__err(EINVAL, "cc_thread_join: not a thread");
    if (cc__deadline_for(timeout, "cc_thread_join", &deadline) != 0)
        return -1;
    if (timeout == 0)
        deadline = 0;
    else if (cc__checkpoint("thread join") != 0)
        return -1;
    cc__mutex_lock(&t->mu);
    if (t->runner == cc__ctx_get() && !t->done) {
        cc__mutex_unlock(&t->mu);
        return cc__errf(EDEADLK, "cc_thread_join: thread '%s' joining itself",
                        t->name);
    }
    rc = wait_locked(t, false, deadline);
    if (rc == 0 && !t->reaped) {
        if (!t->reaping) {
            t->reaping = true;
            cc__mutex_unlock(&t->mu);
            pthread_join(t->pt, NULL); /* fn has returned: only TLS cleanup */
            cc__mutex_lock(&t->mu);
            t->reaped = true;
            cc__waitq_wake_all(&t->joiners);
        } else {
            rc = wait_locked(t, true, CC__NS_FOREVER);
        }
    }
    if (rc != 0) {
        cc__mutex_unlock(&t->mu);
        if (rc == ECANCELED)
            return cc__err_wait(rc, "thread join");
        if (timeout == 0)
            return cc__errf(EAGAIN, "thread '%s' is still running", t->name);
        return cc__errf(ETIMEDOUT, "join: thread '%s' still running at the "
                                   "deadline", t->name);
    }
    if (t->error != NULL) {
        cc_error *copy = cc_error_copy(t->error);

        t->error_seen = true;
        cc__mutex_unlock(&t->mu);
        if (copy == NULL)
            return cc__errf(cc_error_code(t->error), "%s",
                            cc_error_message(t->error));
        return cc__err_adopt(copy);
    }
    if (result != NULL)
        *result = t->result;
    cc__mutex_unlock(&t->mu);
    return 0;
}

const cc_error *cc_thread_error(cc_thread *t)
{
    const cc_error *e;

    if (!thread_ok(t))
        return NULL;
    cc__mutex_lock(&t->mu);
    e = t->done ? t->error : NULL;
    if (e != NULL)
        t->error_seen = true;
    cc__mutex_unlock(&t->mu);
    return e;
}

const char *cc_thread_name(const cc_thread *t)
{
    return thread_ok(t) ? t->name : "";
}

bool cc_thread_is_alive(cc_thread *t)
{
    bool alive;

    if (!thread_ok(t))
        return false;
    cc__mutex_lock(&t->mu);
    alive = !t->done;
    cc__mutex_unlock(&t->mu);
    return alive;
}

void cc_thread_free(cc_thread *t)
{
    bool reap = false;
    bool detach = false;

    if (!thread_ok(t))
        return;
    cc__mutex_lock(&t->mu);
    t->magic = 0;
    t->handle_freed = true;
    if (!t->reaped && !t->reaping) {
        t->reaping = true;
        if (t->done)
            reap = true;
        else
            detach = true;
    }
    if (t->done && t->error != NULL && !t->error_seen && cc__debug()) {
        char text[1024];

        cc_error_format(t->error, text, sizeof(text));
        cc__debugf("thread '%s' failed and nobody joined it: %s", t->name,
                   text);
    }
    cc__mutex_unlock(&t->mu);
    if (reap)
        pthread_join(t->pt, NULL);
    else if (detach)
        pthread_detach(t->pt);
    thread_unref(t);
}

const char *cc_thread_current_name(void)
{
    return cc__ctx_name(cc__ctx_get());
}

int cc_thread_set_current_name(const char *name)
{
    if (name == NULL)
        return cc__err(EINVAL, "cc_thread_set_current_name: name is NULL");
    cc__ctx_set_name(cc__ctx_get(), name);
    set_os_name(name);
    if (cc__ctx_get()->fiber != NULL)
        return 0; /* a task renamed itself, not its loop's thread */
    cc__mutex_lock(&registry_mu);
    if (self_rec != NULL)
        snprintf(self_rec->live_name, sizeof(self_rec->live_name), "%s", name);
    else if (os_tid() == (unsigned long)getpid())
        snprintf(main_name, sizeof(main_name), "%s", name);
    cc__mutex_unlock(&registry_mu);
    return 0;
}

void cc__thread_main_name(const char *name)
{
    cc__mutex_lock(&registry_mu);
    snprintf(main_name, sizeof(main_name), "%s", name);
    cc__mutex_unlock(&registry_mu);
}

unsigned long cc_thread_ident(void)
{
    return os_tid();
}

unsigned long cc_thread_main_ident(void)
{
    return (unsigned long)getpid();
}

bool cc_thread_is_main(void)
{
    return os_tid() == (unsigned long)getpid();
}

long cc_thread_enumerate(cc_thread_info *out, size_t max)
{
    long n = 0;

    if (out == NULL && max > 0)
        return cc__err(EINVAL, "cc_thread_enumerate: out is NULL");
    cc__mutex_lock(&registry_mu);
    if (max > 0) {
        memset(&out[0], 0, sizeof(out[0]));
        out[0].ident = (unsigned long)getpid();
        out[0].is_main = true;
        memcpy(out[0].name, main_name, sizeof(out[0].name));
    }
    n = 1;
    for (cc__link *l = registry.head; l != NULL; l = l->next, n++) {
        cc_thread *t = CC__CONTAINER_OF(l, cc_thread, live);

        if ((size_t)n < max) {
            memset(&out[n], 0, sizeof(out[n]));
            out[n].ident = t->tid;
            memcpy(out[n].name, t->live_name, sizeof(out[n].name));
        }
    }
    cc__mutex_unlock(&registry_mu);
    return n;
}
