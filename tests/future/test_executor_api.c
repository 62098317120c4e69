/* test_executor_api - executors written only against concur/executor.h:
 * a "toy pool" (a queue and N worker cc_threads), a "spawner" (every job
 * on a brand-new thread) and a "holder" (keeps the jobs it is given, for
 * tests that drive them by hand), used through cc_submit, cc_map (chunked,
 * with a failing item; item by item on a remote pool; as chunk jobs on a
 * CC_EXECUTOR_CHUNKS pool, by hand and from many threads), cc_wait, cc_as_completed, cc_imap,
 * cc_executor_shutdown_timeout (EAGAIN, ETIMEDOUT, a deadline scope, a
 * cancelled calling task, cancel_futures, a later wait), cc_executor_free,
 * the exit rule (a forked child leaves work queued and exits: all done),
 * bad input, and a hammer of submitters, cancellers and random durations
 * on both executors (every future completed exactly once, the executors'
 * counts consistent at the end). */
#include <fcntl.h>
#include <math.h>

#include "concur/executor.h"
#include "test_util.h"

/* Set in the forked child: its exit must not run LeakSanitizer's check
 * (test_exit_rule.c says why). */
static volatile int in_child;

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return in_child;
}

/* Counts every executor here keeps, checked at the ends of the tests. */
typedef struct counts {
    atomic_int submitted;   /* jobs taken by submit */
    atomic_int refused;     /* submits refused */
    atomic_int started;     /* cc_job_start true */
    atomic_int not_started; /* cc_job_start false (cancelled first) */
    atomic_int finished;    /* cc_job_finish returned 0 */
    atomic_int released;    /* cc_job_release calls */
    atomic_int destroyed;   /* destroy calls */
    atomic_int chunk_jobs;  /* chunk jobs taken (CC_EXECUTOR_CHUNKS) */
    atomic_int chunk_items; /* the items in them */
} counts;

/* Run a started job: call its function, finish it with the result or the
 * pending failure. */
static void run_job(cc_future *job, counts *c)
{
    cc_fn fn = cc_job_fn(job);
    void *r;
    const cc_error *e;

    assert_non_null(fn);
    r = fn(cc_job_arg(job));
    e = r == NULL ? cc_error_pending() : NULL;
    assert_ok(cc_job_finish(job, r, false, e != NULL ? cc_error_copy(e)
                                                     : NULL));
    cc_error_clear();
    atomic_fetch_add(&c->finished, 1);
}

/* Start (or see cancelled) and run a job. */
static void start_job(cc_future *job, counts *c)
{
    if (cc_job_start(job)) {
        atomic_fetch_add(&c->started, 1);
        run_job(job, c);
    } else {
        atomic_fetch_add(&c->not_started, 1);
    }
}

static void release_job(cc_future *job, counts *c)
{
    cc_job_release(job);
    atomic_fetch_add(&c->released, 1);
}

/* The whole life of a job. */
static void take_job(cc_future *job, counts *c)
{
    start_job(job, c);
    release_job(job, c);
}

/* A chunk job as a remote worker would run it: each item on its copy made
 * at submit (what travelled), in order, stopping at the first failure; the
 * results handed back as blobs.  Frees the copies. */
static void take_chunk_job(cc_future *job, void **copies, size_t n,
                           counts *c)
{
    if (cc_job_start(job)) {
        cc_fn fn = cc_job_fn(job);
        void **results = calloc(n, sizeof(void *));
        cc_error *e = NULL;
        size_t done = 0;

        atomic_fetch_add(&c->started, 1);
        assert_non_null(results);
        assert_null(cc_job_arg(job)); /* items, not an argument */
        assert_int_equal(errno, EINVAL);
        for (; done < n; done++) {
            results[done] = fn(copies[done]);
            if (results[done] == NULL && cc_error_pending() != NULL) {
                e = cc_error_copy(cc_error_pending());
                cc_error_clear();
                break;
            }
        }
        assert_ok(cc_job_finish_items(job, results, done, e));
        free(results);
        atomic_fetch_add(&c->finished, 1);
    } else {
        atomic_fetch_add(&c->not_started, 1);
    }
    for (size_t i = 0; i < n; i++)
        cc_blob_free(copies[i]);
    free(copies);
    release_job(job, c);
}

/* A job as a remote worker would run it: on a copy of its argument blob
 * (what travelled), its result handed back as a blob the future owns. */
static void take_remote_job(cc_future *job, counts *c)
{
    if (cc_job_start(job)) {
        void *copy = cc_blob_dup(cc_job_arg(job), cc_blob_len(cc_job_arg(job)));
        void *r;
        const cc_error *e;

        atomic_fetch_add(&c->started, 1);
        assert_non_null(copy);
        r = cc_job_fn(job)(copy);
        cc_blob_free(copy);
        e = r == NULL ? cc_error_pending() : NULL;
        assert_ok(cc_job_finish(job, r, true,
                                e != NULL ? cc_error_copy(e) : NULL));
        cc_error_clear();
        atomic_fetch_add(&c->finished, 1);
    } else {
        atomic_fetch_add(&c->not_started, 1);
    }
    release_job(job, c);
}

/* The public shutdown's deadline as a timeout for cc_cond_wait. */
static double left_until(double deadline)
{
    double left;

    if (deadline < 0)
        return CC_FOREVER;
    if (deadline == 0)
        return 0;
    left = deadline - cc_now();
    return left > 0 ? left : 0;
}

/* Wait on cond (its lock held) until *active is 0 by the deadline; the
 * public shutdown's returns. */
static int wait_idle(cc_cond *cond, const int *active, double deadline)
{
    while (*active > 0) {
        if (deadline == 0) {
            cc_fail(EAGAIN, "toy executor: jobs still running");
            return -1;
        }
        if (cc_cond_wait(cond, left_until(deadline)) != 0) {
            if (errno == ETIMEDOUT || errno == EAGAIN) {
                if (*active == 0)
                    break;
                cc_fail(ETIMEDOUT, "toy executor: jobs still running at "
                                   "the deadline");
            }
            return -1; /* ECANCELED: cc_cond_wait said so */
        }
    }
    return 0;
}

/* ---------------------------------------------------------- the toy pool */

typedef struct job_node {
    cc_future *job;
    void **copies;        /* a chunk job's item blobs, copied at submit */
    size_t ncopies;       /* 0: not a chunk job */
    struct job_node *next;
} job_node;

typedef struct toy_pool {
    cc_lock *lock;
    cc_cond *work;        /* a job was queued, or shutdown */
    cc_cond *idle;        /* active dropped to 0 */
    job_node *head, *tail;
    int active;           /* jobs taken and not yet released */
    bool shutdown;
    int nworkers;
    cc_thread **workers;
    bool remote;          /* CC_EXECUTOR_REMOTE: blobs in, blobs out */
    bool chunks;          /* and CC_EXECUTOR_CHUNKS: cc_map sends chunks */
    counts c;
} toy_pool;

static void *toy_worker(void *arg)
{
    cc_executor *ex = arg;
    toy_pool *p = cc_executor_state(ex);

    for (;;) {
        job_node *n;

        assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
        while (p->head == NULL && !p->shutdown)
            assert_ok(cc_cond_wait(p->work, CC_FOREVER));
        n = p->head;
        if (n == NULL) { /* shut down and drained */
            cc_lock_release(p->lock);
            return ex;
        }
        p->head = n->next;
        if (p->head == NULL)
            p->tail = NULL;
        cc_lock_release(p->lock);
        if (n->ncopies > 0)
            take_chunk_job(n->job, n->copies, n->ncopies, &p->c);
        else if (p->remote)
            take_remote_job(n->job, &p->c);
        else
            take_job(n->job, &p->c);
        free(n);
        assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
        if (--p->active == 0)
            cc_cond_notify_all(p->idle);
        cc_lock_release(p->lock);
    }
}

/* For a chunk job: copy its items (they are only sure to be valid during
 * submit) into n.  -1 when one is not a blob; 0 for a plain job. */
static int chunk_copies(cc_future *job, job_node *n)
{
    void *const *items;
    size_t k = cc_job_items(job, &items);

    if (k == 0) {
        assert_null(items);
        return 0;
    }
    n->copies = calloc(k, sizeof(void *));
    assert_non_null(n->copies);
    for (size_t i = 0; i < k; i++) {
        if (items[i] != NULL && !cc_blob_is(items[i])) {
            for (size_t j = 0; j < i; j++)
                cc_blob_free(n->copies[j]);
            free(n->copies);
            return -1;
        }
        n->copies[i] = items[i] == NULL ? NULL
                       : cc_blob_dup(items[i], cc_blob_len(items[i]));
    }
    n->ncopies = k;
    return 0;
}

static int toy_submit(cc_executor *ex, cc_future *job)
{
    toy_pool *p = cc_executor_state(ex);
    job_node *n = malloc(sizeof(*n));

    if (n == NULL) {
        cc_fail(ENOMEM, "toy pool: out of memory");
        return -1;
    }
    n->job = job;
    n->next = NULL;
    n->copies = NULL;
    n->ncopies = 0;
    if (p->chunks && chunk_copies(job, n) != 0) {
        free(n);
        atomic_fetch_add(&p->c.refused, 1);
        cc_fail(EINVAL, "toy chunk pool: the arguments must be blobs");
        return -1;
    }
    if (p->remote && n->ncopies == 0 && !cc_blob_is(cc_job_arg(job))) {
        free(n);
        atomic_fetch_add(&p->c.refused, 1);
        cc_fail(EINVAL, "toy remote pool: the argument must be a blob");
        return -1;
    }
    assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
    if (p->shutdown) {
        cc_lock_release(p->lock);
        for (size_t i = 0; i < n->ncopies; i++)
            cc_blob_free(n->copies[i]);
        free(n->copies);
        free(n);
        atomic_fetch_add(&p->c.refused, 1);
        cc_fail(ESHUTDOWN, "toy pool '%s' is shut down", cc_executor_name(ex));
        return -1;
    }
    if (p->tail != NULL)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    p->active++;
    atomic_fetch_add(&p->c.submitted, 1);
    if (n->ncopies > 0) {
        atomic_fetch_add(&p->c.chunk_jobs, 1);
        atomic_fetch_add(&p->c.chunk_items, (int)n->ncopies);
    }
    cc_cond_notify(p->work, 1);
    cc_lock_release(p->lock);
    return 0;
}

static int toy_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                        double deadline)
{
    toy_pool *p = cc_executor_state(ex);
    job_node *cancelled = NULL;
    int rc = 0;

    assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
    p->shutdown = true;
    cc_cond_notify_all(p->work);
    if (cancel_futures) {
        cancelled = p->head;
        p->head = p->tail = NULL;
    }
    cc_lock_release(p->lock);
    while (cancelled != NULL) { /* Python: cancel what has not started */
        job_node *n = cancelled;

        cancelled = n->next;
        cc_future_cancel(n->job);
        cc_job_release(n->job);
        for (size_t i = 0; i < n->ncopies; i++)
            cc_blob_free(n->copies[i]);
        free(n->copies);
        atomic_fetch_add(&p->c.not_started, 1);
        atomic_fetch_add(&p->c.released, 1);
        free(n);
        assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
        if (--p->active == 0)
            cc_cond_notify_all(p->idle);
        cc_lock_release(p->lock);
    }
    if (!wait)
        return 0;
    assert_ok(cc_lock_acquire(p->lock, CC_FOREVER));
    rc = wait_idle(p->idle, &p->active, deadline);
    cc_lock_release(p->lock);
    /* then the workers are gone (joining again is harmless) */
    for (int i = 0; rc == 0 && i < p->nworkers; i++)
        rc = cc_thread_join(p->workers[i], NULL, left_until(deadline));
    return rc;
}

static void toy_destroy(cc_executor *ex)
{
    toy_pool *p = cc_executor_state(ex);

    assert_non_null(p);
    assert_int_equal(p->active, 0);
    for (int i = 0; i < p->nworkers; i++) {
        assert_ok(cc_thread_join(p->workers[i], NULL, CC_FOREVER));
        cc_thread_free(p->workers[i]);
    }
    free(p->workers);
    atomic_fetch_add(&p->c.destroyed, 1);
    /* the pool's record is the test's (it reads the counts after) */
}

static int toy_max_workers(cc_executor *ex)
{
    return ((toy_pool *)cc_executor_state(ex))->nworkers;
}

static const cc_executor_ops toy_ops = {
    .kind = "toy pool",
    .submit = toy_submit,
    .shutdown = toy_shutdown,
    .destroy = toy_destroy,
    .max_workers = toy_max_workers,
};

static const cc_executor_ops remote_ops = {
    .kind = "toy remote pool",
    .submit = toy_submit,
    .shutdown = toy_shutdown,
    .destroy = toy_destroy,
    .max_workers = toy_max_workers,
    .flags = CC_EXECUTOR_REMOTE,
};

static const cc_executor_ops chunk_ops = {
    .kind = "toy chunk pool",
    .submit = toy_submit,
    .shutdown = toy_shutdown,
    .destroy = toy_destroy,
    .max_workers = toy_max_workers,
    .flags = CC_EXECUTOR_REMOTE | CC_EXECUTOR_CHUNKS,
};

/* A toy pool of n workers around *p (the caller's; zeroed here); with
 * remote, one that behaves as if its jobs ran in other processes, and
 * with chunks too, one that takes cc_map's chunks as jobs. */
static cc_executor *toy_new_mode(toy_pool *p, int n, bool remote,
                                 bool chunks)
{
    cc_executor *ex;

    memset(p, 0, sizeof(*p));
    p->remote = remote;
    p->chunks = chunks;
    p->lock = cc_lock_new();
    p->work = cc_cond_new(p->lock);
    p->idle = cc_cond_new(p->lock);
    p->nworkers = n;
    p->workers = calloc((size_t)n, sizeof(cc_thread *));
    assert_non_null(p->workers);
    ex = cc_executor_new(chunks ? &chunk_ops : remote ? &remote_ops : &toy_ops,
                         p, "ToyPool");
    assert_non_null(ex);
    for (int i = 0; i < n; i++) {
        p->workers[i] = cc_thread_start(toy_worker, ex, "toy");
        assert_non_null(p->workers[i]);
    }
    return ex;
}

static cc_executor *toy_new_as(toy_pool *p, int n, bool remote)
{
    return toy_new_mode(p, n, remote, false);
}

static cc_executor *toy_new(toy_pool *p, int n)
{
    return toy_new_as(p, n, false);
}

/* After cc_executor_free: every job taken was released once, and each
 * either ran or was cancelled; then free the record's objects. */
static void toy_check_and_clear(toy_pool *p)
{
    counts *c = &p->c;

    assert_int_equal(atomic_load(&c->destroyed), 1);
    assert_int_equal(atomic_load(&c->released), atomic_load(&c->submitted));
    assert_int_equal(atomic_load(&c->started) + atomic_load(&c->not_started),
                     atomic_load(&c->submitted));
    assert_int_equal(atomic_load(&c->finished), atomic_load(&c->started));
    cc_cond_free(p->work);
    cc_cond_free(p->idle);
    cc_lock_free(p->lock);
}

/* ----------------------------------------------------------- the spawner */

typedef struct spawn_node {
    cc_future *job;
    cc_thread *thread;
    struct spawner *s;
    bool running;          /* under s->lock: the job's thread has it */
    struct spawn_node *next;
} spawn_node;

typedef struct spawner {
    cc_lock *lock;
    cc_cond *idle;
    spawn_node *live;      /* jobs not yet released */
    spawn_node *dead;      /* released: their threads are joined at destroy */
    int active;
    bool shutdown;
    counts c;
} spawner;

static void unlink_node(spawn_node **list, spawn_node *n)
{
    while (*list != n)
        list = &(*list)->next;
    *list = n->next;
}

static void *spawned(void *arg)
{
    spawn_node *n = arg;
    spawner *s = n->s;

    cc_future *job = n->job;

    tu_jitter(200); /* a moment in which a cancel may come first */
    start_job(job, &s->c);
    /* off the live list before the reference goes: shutdown cancels the
     * live ones */
    assert_ok(cc_lock_acquire(s->lock, CC_FOREVER));
    unlink_node(&s->live, n);
    n->next = s->dead;
    s->dead = n;
    cc_lock_release(s->lock);
    release_job(job, &s->c);
    assert_ok(cc_lock_acquire(s->lock, CC_FOREVER));
    if (--s->active == 0)
        cc_cond_notify_all(s->idle);
    cc_lock_release(s->lock);
    return NULL;
}

static int spawner_submit(cc_executor *ex, cc_future *job)
{
    spawner *s = cc_executor_state(ex);
    spawn_node *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        cc_fail(ENOMEM, "spawner: out of memory");
        return -1;
    }
    n->job = job;
    n->s = s;
    assert_ok(cc_lock_acquire(s->lock, CC_FOREVER));
    if (s->shutdown) {
        cc_lock_release(s->lock);
        free(n);
        atomic_fetch_add(&s->c.refused, 1);
        cc_fail(ESHUTDOWN, "spawner '%s' is shut down", cc_executor_name(ex));
        return -1;
    }
    n->thread = cc_thread_start(spawned, n, "spawned");
    if (n->thread == NULL) { /* errno and message: cc_thread_start's */
        int code = errno;

        cc_lock_release(s->lock);
        free(n);
        errno = code;
        return -1;
    }
    n->next = s->live;
    s->live = n;
    s->active++;
    atomic_fetch_add(&s->c.submitted, 1);
    cc_lock_release(s->lock);
    return 0;
}

static int spawner_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                            double deadline)
{
    spawner *s = cc_executor_state(ex);
    spawn_node *dead;
    int rc;

    assert_ok(cc_lock_acquire(s->lock, CC_FOREVER));
    s->shutdown = true;
    if (cancel_futures) /* the jobs whose threads have not started them */
        for (spawn_node *n = s->live; n != NULL; n = n->next)
            cc_future_cancel(n->job);
    rc = wait ? wait_idle(s->idle, &s->active, deadline) : 0;
    dead = s->dead; /* all of them once idle: no job comes after shutdown */
    cc_lock_release(s->lock);
    /* then the threads are gone (outside the lock, which they take last;
     * joining again is harmless) */
    for (spawn_node *n = dead; wait && rc == 0 && n != NULL; n = n->next)
        rc = cc_thread_join(n->thread, NULL, left_until(deadline));
    return rc;
}

static void spawner_destroy(cc_executor *ex)
{
    spawner *s = cc_executor_state(ex);

    assert_null(s->live);
    while (s->dead != NULL) {
        spawn_node *n = s->dead;

        s->dead = n->next;
        assert_ok(cc_thread_join(n->thread, NULL, CC_FOREVER));
        cc_thread_free(n->thread);
        free(n);
    }
    atomic_fetch_add(&s->c.destroyed, 1);
}

static const cc_executor_ops spawner_ops = {
    .kind = "spawner",
    .submit = spawner_submit,
    .shutdown = spawner_shutdown,
    .destroy = spawner_destroy,
    /* no max_workers: 0 */
};

static cc_executor *spawner_new(spawner *s)
{
    cc_executor *ex;

    memset(s, 0, sizeof(*s));
    s->lock = cc_lock_new();
    s->idle = cc_cond_new(s->lock);
    ex = cc_executor_new(&spawner_ops, s, NULL);
    assert_non_null(ex);
    return ex;
}

static void spawner_check_and_clear(spawner *s)
{
    counts *c = &s->c;

    assert_int_equal(atomic_load(&c->destroyed), 1);
    assert_int_equal(atomic_load(&c->released), atomic_load(&c->submitted));
    assert_int_equal(atomic_load(&c->started) + atomic_load(&c->not_started),
                     atomic_load(&c->submitted));
    assert_int_equal(atomic_load(&c->finished), atomic_load(&c->started));
    cc_cond_free(s->idle);
    cc_lock_free(s->lock);
}

/* ------------------------------------------------------------- the holder */

/* Keeps up to 16 jobs for the test to drive; refuses with errno 0 and no
 * message when `mute`, to see the library fill one in. */
typedef struct holder {
    cc_future *jobs[16];
    int n;
    bool mute;
    bool start_first;     /* start the first job it takes (in submit) */
    cc_event *taken;      /* set when it took a job (if not NULL) */
} holder;

static int holder_submit(cc_executor *ex, cc_future *job)
{
    holder *h = cc_executor_state(ex);

    if (h->mute || h->n == 16) {
        errno = 0;
        return -1;
    }
    if (h->n == 0 && h->start_first)
        assert_true(cc_job_start(job));
    h->jobs[h->n++] = job;
    if (h->taken != NULL)
        cc_event_set(h->taken);
    return 0;
}

static int holder_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                           double deadline)
{
    (void)ex, (void)wait, (void)cancel_futures, (void)deadline;
    return 0; /* the test settles every job it was given itself */
}

static void holder_destroy(cc_executor *ex)
{
    holder *h = cc_executor_state(ex);

    h->n = -1; /* seen by the test */
}

static const cc_executor_ops holder_ops = {
    .kind = "holder",
    .submit = holder_submit,
    .shutdown = holder_shutdown,
    .destroy = holder_destroy,
};

static const cc_executor_ops chunk_holder_ops = {
    .kind = "chunk holder",
    .submit = holder_submit,
    .shutdown = holder_shutdown,
    .destroy = holder_destroy,
    .flags = CC_EXECUTOR_REMOTE | CC_EXECUTOR_CHUNKS,
};

/* ------------------------------------------------------------------ tasks */

static void *square(void *arg)
{
    intptr_t x = (intptr_t)arg;

    return (void *)(x * x + 1); /* never NULL */
}

/* fails for 17, else x + 1 */
static void *plus_one_but_17(void *arg)
{
    intptr_t x = (intptr_t)arg;

    if (x == 17)
        return cc_fail(EDOM, "seventeen refused");
    return (void *)(x + 1);
}

/* Blocks until *gate is set. */
static void *wait_gate(void *arg)
{
    atomic_bool *gate = arg;

    while (!atomic_load(gate))
        tu_sleep(0.001);
    return arg;
}

static void *sleep_ms(void *arg)
{
    tu_sleep((double)(intptr_t)arg / 1000);
    return (void *)1;
}

/* ------------------------------------------------------------------ tests */

static void submit_and_check(cc_executor *ex)
{
    cc_future *f[40];

    for (intptr_t i = 0; i < 40; i++) {
        f[i] = cc_submit(ex, square, (void *)i);
        assert_non_null(f[i]);
    }
    for (intptr_t i = 0; i < 40; i++) {
        void *r;

        assert_ok(cc_future_result(f[i], &r, 30));
        assert_int_equal((intptr_t)r, i * i + 1);
        cc_future_free(f[i]);
    }
}

static void test_submit(void **state)
{
    toy_pool p;
    spawner s;
    cc_executor *ex = toy_new(&p, 3);
    cc_executor *sp = spawner_new(&s);

    (void)state;
    assert_string_equal(cc_executor_kind(ex), "toy pool");
    assert_int_equal(cc_executor_max_workers(ex), 3);
    assert_ptr_equal(cc_executor_state(ex), &p);
    assert_non_null(strstr(cc_executor_name(ex), "ToyPool-"));
    assert_string_equal(cc_executor_kind(sp), "spawner");
    assert_int_equal(cc_executor_max_workers(sp), 0); /* NULL: 0 */
    assert_non_null(strstr(cc_executor_name(sp), "spawner-")); /* kind */
    submit_and_check(ex);
    submit_and_check(sp);
    cc_executor_free(ex);
    cc_executor_free(sp);
    assert_int_equal(atomic_load(&p.c.submitted), 40);
    assert_int_equal(atomic_load(&s.c.submitted), 40);
    toy_check_and_clear(&p);
    spawner_check_and_clear(&s);
}

static void map_on(cc_executor *ex, size_t chunksize)
{
    void *args[60];
    void *results[60];

    for (intptr_t i = 0; i < 60; i++)
        args[i] = (void *)(i + 100); /* no 17: all succeed */
    assert_ok(cc_map(ex, plus_one_but_17, args, 60, chunksize, results, 30));
    for (intptr_t i = 0; i < 60; i++)
        assert_int_equal((intptr_t)results[i], i + 101);
    for (intptr_t i = 0; i < 60; i++)
        args[i] = (void *)i;
    assert_fails_with(cc_map(ex, plus_one_but_17, args, 60, chunksize,
                             results, 30), EDOM);
    assert_non_null(strstr(cc_errmsg(), "args[17]"));
    assert_non_null(strstr(cc_errmsg(), "seventeen refused"));
    for (intptr_t i = 0; i < 17; i++) /* the items before it are kept */
        if (results[i] != NULL)
            assert_int_equal((intptr_t)results[i], i + 1);
}

static void test_map(void **state)
{
    toy_pool p;
    spawner s;
    cc_executor *ex = toy_new(&p, 4);
    cc_executor *sp = spawner_new(&s);

    (void)state;
    map_on(ex, 3);
    map_on(ex, CC_CHUNKSIZE_AUTO);
    map_on(sp, 7);
    map_on(sp, CC_CHUNKSIZE_AUTO); /* no worker limit: one chunk */
    cc_executor_free(ex);
    cc_executor_free(sp);
    toy_check_and_clear(&p);
    spawner_check_and_clear(&s);
}

/* A blob in, its square as a blob out; 17 fails. */
static void *blob_square(void *arg)
{
    long v;

    memcpy(&v, arg, sizeof(v));
    tu_jitter(100);
    if (v == 17)
        return cc_fail(EDOM, "17 is not squared");
    v *= v;
    return cc_blob_dup(&v, sizeof(v));
}

static long blob_long(const void *b)
{
    long v;

    memcpy(&v, b, sizeof(v));
    return v;
}

/* cc_map on a CC_EXECUTOR_REMOTE executor: the items travel one by one as
 * blobs (no in-process chunk reaches it), in order, the results become the
 * caller's blobs, the first failure is named by its index, and a non-blob
 * argument is refused by the executor itself. */
static void test_map_remote(void **state)
{
    enum { N = 40 };
    toy_pool p;
    cc_executor *ex = toy_new_as(&p, 3, true);
    void *args[N];
    void *results[N];

    (void)state;
    for (long i = 0; i < N; i++)
        args[i] = cc_blob_dup(&i, sizeof(i));
    for (int round = 0; round < 10; round++) {
        size_t chunksize = round % 2 ? 5 : CC_CHUNKSIZE_AUTO;

        assert_ok(cc_map(ex, blob_square, args, 17, chunksize, results, 30));
        for (long i = 0; i < 17; i++) {
            assert_true(cc_blob_is(results[i]));
            assert_int_equal(blob_long(results[i]), i * i);
            cc_blob_free(results[i]);
        }
        assert_fails_with(cc_map(ex, blob_square, args, N, chunksize, results,
                                 30), EDOM);
        assert_non_null(strstr(cc_errmsg(), "args[17] (item 18 of 40)"));
        for (long i = 0; i < N; i++) {
            if (i < 17)
                assert_non_null(results[i]); /* collected before it */
            if (i == 17)
                assert_null(results[i]);
            if (results[i] != NULL) {
                assert_int_equal(blob_long(results[i]), i * i);
                cc_blob_free(results[i]);
            }
        }
    }
    /* inside a zeroed buffer of our own: probing for a blob header reads
     * the bytes before the pointer, which must not be the workers' (the
     * stack's neighbouring locals, a neighbouring heap block) */
    char *plain = calloc(1, 64);
    void *not_blobs[2] = {plain + 32, plain + 32};
    assert_non_null(plain);
    assert_fails_with(cc_map(ex, blob_square, not_blobs, 2, 1, results, 30),
                      EINVAL);
    assert_non_null(strstr(cc_errmsg(), "must be a blob"));
    free(plain);
    cc_executor_free(ex);
    toy_check_and_clear(&p);
    for (int i = 0; i < N; i++)
        cc_blob_free(args[i]);

    cc_executor_ops bad = remote_ops;
    bad.flags = 4;
    assert_null_with(cc_executor_new(&bad, &p, NULL), EINVAL);
    bad.flags = CC_EXECUTOR_CHUNKS; /* chunks travel only to remote ones */
    assert_null_with(cc_executor_new(&bad, &p, NULL), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "needs CC_EXECUTOR_REMOTE"));
}

/* One cc_map on a chunk pool, from any thread: n blob items cut in chunks
 * of `chunksize`, item `fail` (SIZE_MAX: none) failing; checks the
 * results, the error naming the item, and that the items of the chunks
 * before the failing one -- and those before it in its own chunk -- have
 * their results. */
static void map_chunks_once(cc_executor *ex, size_t n, size_t chunksize,
                            size_t fail)
{
    void **args = calloc(n, sizeof(void *));
    void **results = calloc(n, sizeof(void *));

    assert_non_null(args);
    assert_non_null(results);
    for (size_t i = 0; i < n; i++) {
        long v = i == fail ? 17 : (long)i + 100;

        args[i] = cc_blob_dup(&v, sizeof(v));
    }
    if (fail == SIZE_MAX) {
        assert_ok(cc_map(ex, blob_square, args, n, chunksize, results, 30));
    } else {
        char want[64];

        assert_fails_with(cc_map(ex, blob_square, args, n, chunksize,
                                 results, 30), EDOM);
        snprintf(want, sizeof(want), "args[%zu] (item %zu of %zu)", fail,
                 fail + 1, n);
        assert_non_null(strstr(cc_errmsg(), want));
        assert_non_null(strstr(cc_errmsg(), "17 is not squared"));
        assert_null(results[fail]);
    }
    for (size_t i = 0; i < n; i++) {
        long v = (long)i + 100;

        if (i < fail)
            assert_non_null(results[i]); /* collected before it */
        if (results[i] != NULL) {
            assert_true(i != fail);
            assert_int_equal(blob_long(results[i]), v * v);
        }
        cc_blob_free(results[i]);
        cc_blob_free(args[i]);
    }
    free(args);
    free(results);
}

typedef struct chunk_hammer {
    cc_executor *ex;
    int maps;
} chunk_hammer;

static void *chunk_hammer_thread(void *arg)
{
    chunk_hammer *h = arg;

    for (int m = 0; m < h->maps; m++) {
        size_t n = 1 + tu_rand_below(120);
        size_t chunksize = tu_rand_below(4) == 0 ? CC_CHUNKSIZE_AUTO
                                                 : 1 + tu_rand_below(20);
        size_t fail = tu_rand_below(3) == 0 ? tu_rand_below(n) : SIZE_MAX;

        map_chunks_once(h->ex, n, chunksize, fail);
    }
    return arg;
}

/* cc_map on a CC_EXECUTOR_CHUNKS executor: the items reach it as chunk
 * jobs of `chunksize` items (counted by the pool), the results come back
 * in order as the caller's blobs, the first failure is named by its item
 * with the items before it kept, a non-blob argument is refused at
 * submit, plain cc_submit jobs still work, and many threads mapping at
 * once (random sizes, chunk sizes and failures) leave every job released
 * once. */
static void test_map_chunks(void **state)
{
    enum { THREADS = 4 };
    toy_pool p;
    cc_executor *ex = toy_new_mode(&p, 3, true, true);
    chunk_hammer h = { ex, 40 };
    cc_thread *t[THREADS];
    long v = 12;
    void *arg = cc_blob_dup(&v, sizeof(v));
    void *r;
    cc_future *f;

    (void)state;
    map_chunks_once(ex, 1000, 7, SIZE_MAX);
    assert_int_equal(atomic_load(&p.c.chunk_jobs), 143); /* ceil(1000/7) */
    assert_int_equal(atomic_load(&p.c.chunk_items), 1000);
    /* automatic: four chunks per worker, so 17 items go in 9 chunks of 2 */
    map_chunks_once(ex, 17, CC_CHUNKSIZE_AUTO, SIZE_MAX);
    assert_int_equal(atomic_load(&p.c.chunk_jobs), 143 + 9);
    /* item 17 fails in the chunk [15, 20): 15 and 16 are kept */
    map_chunks_once(ex, 40, 5, 17);
    map_chunks_once(ex, 40, 1, 0);
    map_chunks_once(ex, 40, 40, 39);

    /* a plain job on the same executor is not a chunk */
    f = cc_submit(ex, blob_square, arg);
    assert_non_null(f);
    assert_ok(cc_future_result(f, &r, 30));
    assert_int_equal(blob_long(r), 144);
    cc_future_free(f);
    cc_blob_free(arg);

    char *plain = calloc(1, 64);
    void *not_blobs[2] = {plain + 32, plain + 32};
    void *results[2];
    assert_non_null(plain);
    assert_fails_with(cc_map(ex, blob_square, not_blobs, 2, 2, results, 30),
                      EINVAL);
    assert_non_null(strstr(cc_errmsg(), "must be blobs"));
    free(plain);

    for (int i = 0; i < THREADS; i++) {
        t[i] = cc_thread_start(chunk_hammer_thread, &h, "mapper");
        assert_non_null(t[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_ok(cc_thread_join(t[i], NULL, CC_FOREVER));
        cc_thread_free(t[i]);
    }
    cc_executor_free(ex);
    toy_check_and_clear(&p);
    assert_int_equal(atomic_load(&p.c.started) + atomic_load(&p.c.not_started),
                     atomic_load(&p.c.submitted));
}

/* Settle the holder's one chunk job: its first item gives 42, its second
 * fails with EDOM. */
static void *fail_second_item(void *arg)
{
    holder *h = arg;
    long v = 42;
    void *out[1];

    assert_ok(cc_event_wait(h->taken, CC_FOREVER));
    assert_true(cc_job_start(h->jobs[0]));
    out[0] = cc_blob_dup(&v, sizeof(v));
    assert_ok(cc_job_finish_items(h->jobs[0], out, 1,
                                  cc_error_new(EDOM, NULL, "second refused")));
    cc_job_release(h->jobs[0]);
    return arg;
}

/* Chunk jobs driven by hand: cc_map gives up at its deadline while one
 * chunk is running (the rest are cancelled); the running one is finished
 * after cc_map returned, its results freed with the map (no leak under
 * ASan); every misuse of the chunk calls is refused with EINVAL. */
static void test_chunk_jobs_by_hand(void **state)
{
    holder h = { .start_first = true };
    cc_executor *ex = cc_executor_new(&chunk_holder_ops, &h, NULL);
    void *args[7];
    void *results[7];
    void *const *items;
    void *out[3];
    long v;

    (void)state;
    assert_non_null(ex);
    for (long i = 0; i < 7; i++)
        args[i] = cc_blob_dup(&i, sizeof(i));
    assert_fails_with(cc_map(ex, blob_square, args, 7, 3, results, 0.05),
                      ETIMEDOUT);
    assert_int_equal(h.n, 3); /* [0,3) [3,6) [6,7) */
    for (int i = 0; i < 7; i++)
        assert_null(results[i]);

    /* the first is running: its items are the caller's pointers */
    assert_int_equal(cc_job_items(h.jobs[0], &items), 3);
    assert_ptr_equal(items[2], args[2]);
    assert_int_equal(cc_job_items(h.jobs[2], &items), 1);
    assert_ptr_equal(items[0], args[6]);
    for (long i = 0; i < 3; i++) {
        v = i * 10;
        out[i] = cc_blob_dup(&v, sizeof(v));
    }
    /* misuse */
    assert_null_with(cc_job_arg(h.jobs[0]), EINVAL);
    assert_fails_with(cc_job_finish(h.jobs[0], out[0], true, NULL), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "cc_job_finish_items"));
    assert_fails_with(cc_job_finish_items(h.jobs[0], out, 2, NULL), EINVAL);
    assert_fails_with(cc_job_finish_items(h.jobs[0], out, 4, NULL), EINVAL);
    assert_fails_with(cc_job_finish_items(h.jobs[0], out, 3,
                                          cc_error_new(EIO, NULL, "x")),
                      EINVAL);
    assert_fails_with(cc_job_finish_items(h.jobs[0], NULL, 3, NULL), EINVAL);
    cc_blob_free(out[1]);
    out[1] = &v; /* not a blob */
    assert_fails_with(cc_job_finish_items(h.jobs[0], out, 3, NULL), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "not a blob"));
    v = 10;
    out[1] = cc_blob_dup(&v, sizeof(v));
    assert_fails_with(cc_job_finish_items(h.jobs[1], out, 3, NULL),
                      EINVAL); /* cancelled by cc_map: not started */
    assert_int_equal(cc_job_items(NULL, &items), 0);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(cc_job_items(h.jobs[0], NULL), 0);
    assert_int_equal(errno, EINVAL);

    /* finished late: the results go into the map, freed with it */
    assert_ok(cc_job_finish_items(h.jobs[0], out, 3, NULL));
    assert_int_equal(cc_job_items(h.jobs[0], &items), 0); /* finished */
    assert_int_equal(errno, EINVAL);
    assert_fails_with(cc_job_finish_items(h.jobs[0], out, 3, NULL), EINVAL);
    cc_job_release(h.jobs[0]);
    for (int i = 1; i < 3; i++) {
        assert_false(cc_job_start(h.jobs[i])); /* cancelled by cc_map */
        cc_job_release(h.jobs[i]);
    }
    h.n = 0;

    /* one chunk failing at its second item, finished while cc_map waits:
     * the first item's result is the caller's, the error names item 2 */
    h.start_first = false;
    h.taken = cc_event_new();
    assert_non_null(h.taken);
    cc_thread *t = cc_thread_start(fail_second_item, &h, "settler");
    assert_non_null(t);
    assert_fails_with(cc_map(ex, blob_square, args, 3, 3, results, 30), EDOM);
    assert_non_null(strstr(cc_errmsg(), "args[1] (item 2 of 3)"));
    assert_non_null(strstr(cc_errmsg(), "second refused"));
    assert_int_equal(blob_long(results[0]), 42);
    assert_null(results[1]);
    assert_null(results[2]);
    cc_blob_free(results[0]);
    assert_ok(cc_thread_join(t, NULL, CC_FOREVER));
    cc_thread_free(t);
    cc_event_free(h.taken);
    cc_executor_free(ex);
    assert_int_equal(h.n, -1); /* destroyed */
    for (int i = 0; i < 7; i++)
        cc_blob_free(args[i]);
}

static void test_wait_as_completed_imap(void **state)
{
    toy_pool p;
    cc_executor *ex = toy_new(&p, 2);
    cc_future *f[10];
    cc_future *done;
    cc_as_completed *it;
    void *args[30];
    int seen = 0;
    bool got[30] = {false};
    size_t index;
    void *r;
    int rc;

    (void)state;
    for (intptr_t i = 0; i < 10; i++)
        f[i] = cc_submit(ex, sleep_ms, (void *)(i % 3));
    assert_int_equal(cc_wait(f, 10, CC_ALL_COMPLETED, 30), 10);
    for (int i = 0; i < 10; i++)
        assert_true(cc_future_done(f[i]));
    for (int i = 0; i < 10; i++)
        cc_future_free(f[i]);

    for (intptr_t i = 0; i < 10; i++)
        f[i] = cc_submit(ex, sleep_ms, (void *)(10 - i));
    it = cc_as_completed_new(f, 10, 30);
    assert_non_null(it);
    while ((rc = cc_as_completed_next(it, &done)) == 1) {
        assert_true(cc_future_done(done));
        seen++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen, 10);
    cc_as_completed_free(it);
    for (int i = 0; i < 10; i++)
        cc_future_free(f[i]);

    for (intptr_t i = 0; i < 30; i++)
        args[i] = (void *)i;
    cc_imap *m = cc_imap_new(ex, plus_one_but_17, args, 30, 4, false);
    assert_non_null(m);
    seen = 0;
    for (;;) {
        errno = 0;
        rc = cc_imap_next(m, &r, &index, 30);
        if (rc == 0)
            break;
        assert_true(index < 30);
        assert_false(got[index]);
        got[index] = true;
        if (index == 17) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, EDOM);
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal((intptr_t)r, (intptr_t)index + 1);
        }
        seen++;
    }
    assert_int_equal(seen, 30);
    cc_imap_free(m);
    cc_executor_free(ex);
    toy_check_and_clear(&p);
}

/* One worker held by a gate, jobs queued behind it: the timed shutdown's
 * EAGAIN, ETIMEDOUT (by its timeout and by a deadline scope), submits
 * refused, then a later call waiting, nothing lost. */
static void test_shutdown_timeout(void **state)
{
    toy_pool p;
    cc_executor *ex = toy_new(&p, 1);
    atomic_bool gate = false;
    cc_future *blocker = cc_submit(ex, wait_gate, &gate);
    cc_future *f[5];

    (void)state;
    for (intptr_t i = 0; i < 5; i++)
        f[i] = cc_submit(ex, square, (void *)i);
    assert_fails_with(cc_executor_shutdown_timeout(ex, true, false, 0),
                      EAGAIN);
    assert_null_with(cc_submit(ex, square, NULL), ESHUTDOWN);
    assert_non_null(strstr(cc_errmsg(), "is shut down"));
    double t0 = cc_now();
    assert_fails_with(cc_executor_shutdown_timeout(ex, true, false, 0.05),
                      ETIMEDOUT);
    assert_true(cc_now() - t0 >= 0.04);
    assert_fails_with(cc_executor_shutdown_timeout(ex, true, false, NAN),
                      EINVAL);
    assert_ok(cc_deadline_push(0.02));
    errno = 0;
    int rc = cc_executor_shutdown_timeout(ex, true, false, 30);
    int e = errno;
    cc_deadline_pop();
    assert_int_equal(rc, -1);
    assert_int_equal(e, ETIMEDOUT);
    atomic_store(&gate, true);
    assert_ok(cc_executor_shutdown_timeout(ex, true, false, 60));
    assert_ok(cc_future_result(blocker, NULL, 0));
    for (intptr_t i = 0; i < 5; i++) {
        void *r;

        assert_ok(cc_future_result(f[i], &r, 0));
        assert_int_equal((intptr_t)r, i * i + 1);
        cc_future_free(f[i]);
    }
    cc_future_free(blocker);
    assert_ok(cc_executor_shutdown_timeout(ex, true, false, 0)); /* done */
    cc_executor_free(ex);
    assert_int_equal(atomic_load(&p.c.refused), 1);
    toy_check_and_clear(&p);
}

/* cancel_futures cancels the queued jobs (the running one finishes); a job
 * cancelled with cc_future_cancel while queued is seen by the executor as
 * cc_job_start false. */
static void test_shutdown_cancel_futures(void **state)
{
    toy_pool p;
    cc_executor *ex = toy_new(&p, 1);
    atomic_bool gate = false;
    cc_future *blocker = cc_submit(ex, wait_gate, &gate);
    cc_future *f[6];

    (void)state;
    for (intptr_t i = 0; i < 6; i++)
        f[i] = cc_submit(ex, square, (void *)i);
    while (!cc_future_running(blocker))
        tu_sleep(0.001);
    assert_true(cc_future_cancel(f[0])); /* queued: cancelled at once */
    assert_true(cc_future_cancelled(f[0]));
    assert_ok(cc_executor_shutdown_timeout(ex, false, true, 0));
    for (int i = 0; i < 6; i++) {
        assert_true(cc_future_cancelled(f[i]));
        assert_fails_with(cc_future_result(f[i], NULL, 0), ECANCELED);
        cc_future_free(f[i]);
    }
    assert_false(cc_future_done(blocker));
    atomic_store(&gate, true);
    cc_executor_free(ex); /* waits for the blocker */
    assert_ok(cc_future_result(blocker, NULL, 0));
    cc_future_free(blocker);
    assert_int_equal(atomic_load(&p.c.started), 1);
    assert_int_equal(atomic_load(&p.c.not_started), 6);
    toy_check_and_clear(&p);

    /* the spawner: a job cancelled before its thread starts it */
    spawner s;
    cc_executor *sp = spawner_new(&s);
    int cancelled = 0;

    for (int round = 0; round < 50; round++) {
        cc_future *j = cc_submit(sp, square, (void *)1);

        if (cc_future_cancel(j))
            cancelled++;
        else
            assert_ok(cc_future_result(j, NULL, 30));
        cc_future_free(j);
    }
    cc_executor_free(sp);
    assert_int_equal(atomic_load(&s.c.not_started), cancelled);
    spawner_check_and_clear(&s);
}

static cc_executor *busy_ex;

static void *shutdown_task(void *arg)
{
    (void)arg;
    if (cc_executor_shutdown_timeout(busy_ex, true, false, CC_FOREVER) ==
            -1 && errno == ECANCELED)
        return (void *)(intptr_t)1;
    return NULL;
}

static void *cancel_main(void *arg)
{
    void *r = NULL;
    cc_future *t;

    (void)arg;
    /* the timeout path from a task */
    assert_fails_with(cc_executor_shutdown_timeout(busy_ex, true, false,
                                                   0.03), ETIMEDOUT);
    /* the cancellation path */
    t = cc_spawn(shutdown_task, NULL);
    assert_ok(cc_sleep(0.05));
    cc_future_cancel(t);
    assert_ok(cc_wait_for(t, &r, 30));
    assert_int_equal((intptr_t)r, 1);
    cc_future_free(t);
    return NULL;
}

/* From coroutine tasks: a timed shutdown times out, a cancelled one says
 * ECANCELED; the executor stays shut down and a later call waits. */
static void test_shutdown_from_task(void **state)
{
    toy_pool p;
    atomic_bool gate = false;

    (void)state;
    busy_ex = toy_new(&p, 1);
    cc_future *f = cc_submit(busy_ex, wait_gate, &gate);

    assert_ok(cc_run(cancel_main, NULL, NULL));
    assert_null_with(cc_submit(busy_ex, square, NULL), ESHUTDOWN);
    atomic_store(&gate, true);
    assert_ok(cc_executor_shutdown_timeout(busy_ex, true, false, 60));
    assert_ok(cc_future_result(f, NULL, 0));
    cc_future_free(f);
    cc_executor_free(busy_ex);
    toy_check_and_clear(&p);
}

/* ------------------------------------------------------------ the exit rule */

static char out_path[64];

static void *append_line(void *arg)
{
    int fd;

    tu_sleep(0.02);
    fd = open(out_path, O_WRONLY | O_APPEND);
    (void)arg;
    if (fd >= 0) {
        (void)!write(fd, "done\n", 5);
        close(fd);
    }
    return (void *)1;
}

static void child_leaves_work(void *arg)
{
    static toy_pool p; /* leaked on purpose: the exit waits for its work */
    static spawner s;
    cc_executor *ex;
    cc_executor *sp;

    (void)arg;
    in_child = 1;
    ex = toy_new(&p, 1);
    sp = spawner_new(&s);
    for (int i = 0; i < 10; i++) {
        cc_future_free(cc_submit(ex, append_line, NULL));
        cc_future_free(cc_submit(sp, append_line, NULL));
    }
    exit(0); /* as returning from main: no free, no shutdown */
}

static void test_exit_rule(void **state)
{
    FILE *f;
    int fd;
    int lines = 0;
    int c;

    (void)state;
    snprintf(out_path, sizeof(out_path), "/tmp/concur-execapi-%d",
             (int)getpid());
    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    tu_child ch = tu_run_child(child_leaves_work, NULL);
    if (strstr(ch.err, "Sanitizer") != NULL)
        fprintf(stderr, "the child said:\n%s", ch.err);
    assert_null(strstr(ch.err, "Sanitizer"));
    assert_true(WIFEXITED(ch.status));
    assert_int_equal(WEXITSTATUS(ch.status), 0);
    f = fopen(out_path, "r");
    assert_non_null(f);
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    assert_int_equal(lines, 20); /* every item is done */
    assert_non_null(strstr(ch.err, "at exit, waiting for toy pool"));
    free(ch.err);
    unlink(out_path);
}

/* -------------------------------------------------------------- bad input */

static void test_bad_input(void **state)
{
    cc_executor_ops ops = holder_ops;
    cc_executor *tp = cc_thread_pool_new(1, NULL);
    cc_future *user = cc_future_new();
    cc_future *tf;
    holder h = {.n = 0};
    cc_executor *ex;

    (void)state;
    assert_null_with(cc_executor_new(NULL, NULL, NULL), EINVAL);
    ops.submit = NULL;
    assert_null_with(cc_executor_new(&ops, NULL, NULL), EINVAL);
    ops = holder_ops;
    ops.kind = NULL;
    assert_null_with(cc_executor_new(&ops, NULL, NULL), EINVAL);
    ops = holder_ops;
    ops.destroy = NULL;
    assert_null_with(cc_executor_new(&ops, NULL, NULL), EINVAL);
    ops = holder_ops;
    ops.shutdown = NULL;
    assert_null_with(cc_executor_new(&ops, NULL, NULL), EINVAL);
    ops = holder_ops;
    ops.reserved[3] = 1;
    assert_null_with(cc_executor_new(&ops, NULL, NULL), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "reserved"));

    assert_null_with(cc_executor_state(NULL), EINVAL);
    assert_null_with(cc_executor_state(tp), EINVAL); /* not ours */
    assert_null_with(cc_executor_state((cc_executor *)user), EINVAL);
    errno = 0;
    assert_string_equal(cc_executor_name(NULL), "");
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(cc_executor_name(tp), "ThreadPool-"));

    /* not jobs: NULL, a hand-made future, a thread pool's task */
    tf = cc_submit(tp, square, NULL);
    assert_ok(cc_future_result(tf, NULL, 30));
    cc_future *bad[3] = {NULL, user, tf};
    for (int i = 0; i < 3; i++) {
        assert_null_with(cc_job_fn(bad[i]), EINVAL);
        assert_null_with(cc_job_arg(bad[i]), EINVAL);
        errno = 0;
        assert_false(cc_job_start(bad[i]));
        assert_int_equal(errno, EINVAL);
        assert_fails_with(cc_job_finish(bad[i], NULL, false,
                                        cc_error_new(EIO, NULL, "x")),
                          EINVAL); /* the error is freed (ASan) */
        errno = 0;
        cc_job_release(bad[i]);
        assert_int_equal(errno, EINVAL);
    }
    assert_true(cc_future_done(user) == false);

    /* the holder: drive jobs by hand */
    ex = cc_executor_new(&holder_ops, &h, "Holder");
    assert_non_null(ex);
    cc_future *a = cc_submit(ex, square, (void *)3);
    cc_future *b = cc_submit(ex, square, (void *)4);
    cc_future *c = cc_submit(ex, square, (void *)5);
    cc_future *d = cc_submit(ex, square, (void *)6);
    assert_int_equal(h.n, 4);
    assert_ptr_equal(cc_job_fn(h.jobs[0]), square);
    assert_ptr_equal(cc_job_arg(h.jobs[0]), (void *)3);
    /* finish before start */
    assert_fails_with(cc_job_finish(h.jobs[0], NULL, false, NULL), EINVAL);
    assert_true(cc_job_start(h.jobs[0]));
    assert_true(cc_future_running(a));
    errno = 0;
    assert_false(cc_job_start(h.jobs[0])); /* twice */
    assert_int_equal(errno, EINVAL);
    /* not a blob, with result_is_blob */
    assert_fails_with(cc_job_finish(h.jobs[0], &h, true, NULL), EINVAL);
    assert_ok(cc_job_finish(h.jobs[0], (void *)10, false, NULL));
    assert_fails_with(cc_job_finish(h.jobs[0], NULL, false, NULL), EINVAL);
    assert_null_with(cc_job_fn(h.jobs[0]), EINVAL); /* finished */
    assert_null_with(cc_job_arg(h.jobs[0]), EINVAL);
    cc_job_release(h.jobs[0]);
    void *r;
    assert_ok(cc_future_result(a, &r, 0));
    assert_int_equal((intptr_t)r, 10);
    /* an error, owned by the call */
    assert_true(cc_job_start(h.jobs[1]));
    assert_ok(cc_job_finish(h.jobs[1], (void *)1, false,
                            cc_error_new(EPIPE, NULL, "rank 3 died")));
    cc_job_release(h.jobs[1]);
    assert_fails_with(cc_future_result(b, NULL, 0), EPIPE);
    assert_string_equal(cc_errmsg(), "rank 3 died");
    /* a blob result the future owns (ASan: freed once, with it) */
    assert_true(cc_job_start(h.jobs[2]));
    assert_ok(cc_job_finish(h.jobs[2], cc_blob_strdup("blob"), true, NULL));
    cc_job_release(h.jobs[2]);
    assert_ok(cc_future_result(c, &r, 0));
    assert_true(cc_blob_is(r));
    assert_int_equal(cc_blob_len(r), 4);
    /* cancelled while held: start says false, without an error */
    assert_true(cc_future_cancel(d));
    errno = 0;
    assert_false(cc_job_start(h.jobs[3]));
    assert_int_equal(errno, 0);
    assert_ptr_equal(cc_job_fn(h.jobs[3]), square); /* still readable */
    cc_job_release(h.jobs[3]);
    /* a refusal without a message gets one; errno 0 becomes EIO */
    h.mute = true;
    assert_null_with(cc_submit(ex, square, NULL), EIO);
    assert_non_null(strstr(cc_errmsg(), "holder 'Holder-"));
    cc_future_free(a);
    cc_future_free(b);
    cc_future_free(c);
    cc_future_free(d);
    cc_executor_free(ex);
    assert_int_equal(h.n, -1); /* destroy ran */

    cc_future_free(tf);
    cc_future_free(user);
    cc_executor_free(tp);
}

/* ----------------------------------------------------------------- hammer */

#define HAMMER_THREADS 6
#define HAMMER_JOBS 150

typedef struct hammer_job {
    atomic_int runs;
    intptr_t x;
} hammer_job;

static void *hammer_item(void *arg)
{
    hammer_job *j = arg;

    atomic_fetch_add(&j->runs, 1);
    tu_jitter(300);
    if (j->x % 7 == 0)
        return cc_fail(ERANGE, "multiple of seven");
    return (void *)(j->x + 1);
}

typedef struct hammer_arg {
    cc_executor *ex;
    hammer_job jobs[HAMMER_JOBS];
    cc_future *fs[HAMMER_JOBS];
    int n;                /* jobs to submit, at most HAMMER_JOBS */
    int refused;
} hammer_arg;

static void *hammer_thread(void *arg)
{
    hammer_arg *h = arg;

    for (int i = 0; i < h->n; i++) {
        h->jobs[i].x = (intptr_t)i;
        h->fs[i] = cc_submit(h->ex, hammer_item, &h->jobs[i]);
        if (h->fs[i] == NULL) {
            assert_int_equal(errno, ESHUTDOWN);
            h->refused++;
            continue;
        }
        if (tu_rand_below(5) == 0)
            cc_future_cancel(h->fs[i]);
        if (tu_rand_below(9) == 0)
            tu_jitter(500);
    }
    return NULL;
}

static void hammer_on(cc_executor *ex, counts *c, int jobs, bool shut_early)
{
    static hammer_arg args[HAMMER_THREADS];
    int accepted = 0;
    int refused = 0;

    memset(args, 0, sizeof(args));
    for (int t = 0; t < HAMMER_THREADS; t++) {
        args[t].ex = ex;
        args[t].n = jobs;
    }
    tu_threads ts = tu_start(HAMMER_THREADS, hammer_thread, args,
                             sizeof(args[0]));
    if (shut_early) { /* races the submitters: some are refused */
        tu_sleep(0.001 * tu_rand_below(20));
        (void)cc_executor_shutdown_timeout(ex, false, tu_rand_below(2), 0);
    }
    tu_join(ts);
    cc_executor_free(ex);
    for (int t = 0; t < HAMMER_THREADS; t++) {
        hammer_arg *h = &args[t];

        for (int i = 0; i < jobs; i++) {
            cc_future *f = h->fs[i];
            int runs = atomic_load(&h->jobs[i].runs);
            void *r;

            if (f == NULL) {
                assert_int_equal(runs, 0);
                continue;
            }
            accepted++;
            assert_true(cc_future_done(f));
            if (cc_future_cancelled(f)) {
                assert_int_equal(runs, 0);
            } else if (i % 7 == 0) {
                assert_int_equal(runs, 1);
                assert_fails_with(cc_future_result(f, &r, 0), ERANGE);
            } else {
                assert_int_equal(runs, 1);
                assert_ok(cc_future_result(f, &r, 0));
                assert_int_equal((intptr_t)r, i + 1);
            }
            cc_future_free(f);
        }
        refused += h->refused;
    }
    assert_int_equal(atomic_load(&c->submitted), accepted);
    assert_int_equal(atomic_load(&c->refused), refused);
    assert_int_equal(accepted + refused, HAMMER_THREADS * jobs);
    if (!shut_early)
        assert_int_equal(refused, 0);
}

static void test_hammer(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        toy_pool p;
        spawner s;

        hammer_on(toy_new(&p, 1 + (int)tu_rand_below(4)), &p.c, HAMMER_JOBS,
                  round & 1);
        toy_check_and_clear(&p);
        /* a thread per job: fewer */
        hammer_on(spawner_new(&s), &s.c, HAMMER_JOBS / 4, round & 1);
        spawner_check_and_clear(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_remote),
        cmocka_unit_test(test_map_chunks),
        cmocka_unit_test(test_chunk_jobs_by_hand),
        cmocka_unit_test(test_wait_as_completed_imap),
        cmocka_unit_test(test_shutdown_timeout),
        cmocka_unit_test(test_shutdown_cancel_futures),
        cmocka_unit_test(test_shutdown_from_task),
        cmocka_unit_test(test_exit_rule),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_hammer),
    };

    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
