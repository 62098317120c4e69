/*
 * mpi_pool.c - the MPI executor: cc_mpi_pool_new (MPI start-up on the
 * manager thread, the build check, a worker rank's never-returning path),
 * the executor operations (submit, shutdown, destroy, max_workers) and the
 * manager thread, the one thread of the process that calls MPI.
 *
 * Submitters append a node (the job and a copy of its argument) to a queue
 * under the pool's mutex and signal its condition.  The manager hands queued
 * jobs to idle worker ranks (cc_job_start first: a job cancelled while
 * queued is only released), then polls MPI_Iprobe for results, napping with
 * a back-off of up to 1 ms while tasks are out; with none out it sleeps on
 * the condition.  Shutdown marks the pool closed; the manager finishes what
 * was taken, tells every worker rank to stop, finalises MPI and sets `done`.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "concur/sync.h"
#include "mpi/mpi_int.h"

typedef struct job_node {
    struct job_node *next;
    cc_future *job;
    void *arg;          /* a copy (a blob) or NULL */
} job_node;

typedef struct rank_info {
    char host[MPI_MAX_PROCESSOR_NAME];
    cc_future *job;     /* the job it runs, or NULL when idle */
} rank_info;

typedef struct mpi_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    job_node *head, *tail;      /* queued, not yet sent */
    size_t queued;
    bool closed;                /* no more submits */
    pthread_t manager;
    bool manager_started;
    cc_event *done;             /* set when the manager finished */
    /* start-up, under mu: */
    bool started;               /* the manager reported rank and outcome */
    int start_rc;               /* 0 or an errno */
    char start_msg[512];
    /* the manager's own, read by others only after `started` */
    int rank, size, nworkers;   /* size: the worker ranks + 1 */
    MPI_Comm comm;              /* the world, or the spawned workers' */
    int shift;                  /* worker number = comm rank + shift */
    int want_workers;
    rank_info *ranks;           /* [size] */
    size_t inflight;
    cc_executor *ex;
} mpi_pool;

static atomic_int g_rank = -1;
static atomic_bool g_used;
/* The live pool of rank 0, for the exit hook (NULL once destroyed). */
static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static mpi_pool *g_live;

int cc_mpi_rank(void)
{
    return atomic_load(&g_rank);
}

/* ------------------------------------------------------ start-up -- */

static void report_start(mpi_pool *p, int rc, const char *fmt, ...)
    CC_PRINTF(3, 4);

static void report_start(mpi_pool *p, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&p->mu);
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(p->start_msg, sizeof p->start_msg, fmt, ap);
        va_end(ap);
    }
    p->start_rc = rc;
    p->started = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void stop_workers(mpi_pool *p)
{
    for (int r = 1; r < p->size; r++)
        MPI_Send(NULL, 0, MPI_BYTE, r - p->shift, CC__MPI_TAG_STOP, p->comm);
}

/* Receive every worker's hello and compare its build with ours. */
static int check_builds(mpi_pool *p)
{
    uint64_t mine[2];
    int bad = -1;

    cc__mpi_build_id(0, mine);
    for (int i = 1; i < p->size; i++) {
        MPI_Status st;
        int len;
        char buf[16 + MPI_MAX_PROCESSOR_NAME];
        uint64_t theirs[2];

        int w;

        MPI_Probe(MPI_ANY_SOURCE, CC__MPI_TAG_HELLO, p->comm, &st);
        MPI_Get_count(&st, MPI_BYTE, &len);
        if (len < 16 || len > (int)sizeof buf - 1)
            len = 16;   /* refused below as a different build */
        MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, CC__MPI_TAG_HELLO,
                 p->comm, MPI_STATUS_IGNORE);
        w = st.MPI_SOURCE + p->shift;
        memcpy(theirs, buf, 16);
        memcpy(p->ranks[w].host, buf + 16, (size_t)len - 16);
        p->ranks[w].host[len - 16] = '\0';
        if ((theirs[0] != mine[0] || theirs[1] != mine[1]) &&
            (bad < 0 || w < bad))
            bad = w;
    }
    return bad;
}

/* ------------------------------------------------------- manager -- */

static void send_job(mpi_pool *p, int r, job_node *n)
{
    cc__mbuf b = { 0 };
    cc_future *job = n->job;

    cc__mbuf_u64(&b, (uint64_t)r);  /* the id: the rank, one job each */
    if (cc__mpi_fnref_put(&b, cc_job_fn(job)) != 0) {
        cc_error *e = cc_error_copy(cc_last_error());
        cc_job_finish(job, NULL, false, e);
        cc_job_release(job);
        cc__mbuf_free(&b);
        return;
    }
    cc__mbuf_u64(&b, n->arg != NULL);
    cc__mbuf_u64(&b, n->arg ? cc_blob_len(n->arg) : 0);
    if (n->arg != NULL)
        cc__mbuf_put(&b, n->arg, cc_blob_len(n->arg));
    if (b.failed) {
        cc_job_finish(job, NULL, false,
                      cc_error_new(ENOMEM, NULL, "no memory for the task "
                                   "message to rank %d", r));
        cc_job_release(job);
        cc__mbuf_free(&b);
        return;
    }
    MPI_Send(b.data, (int)b.len, MPI_BYTE, r - p->shift, CC__MPI_TAG_TASK,
             p->comm);
    cc__mbuf_free(&b);
    p->ranks[r].job = job;
    p->inflight++;
}

/* The oldest queued node, or NULL. */
static job_node *pop(mpi_pool *p)
{
    job_node *n;

    pthread_mutex_lock(&p->mu);
    n = p->head;
    if (n != NULL) {
        p->head = n->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Hand queued jobs to idle ranks.  Called without the mutex (a job's
 * done-callbacks may run here and submit again). */
static void dispatch(mpi_pool *p)
{
    for (int r = 1; r <= p->nworkers; r++) {
        while (p->ranks[r].job == NULL) {
            job_node *n = pop(p);

            if (n == NULL)
                return;
            if (cc_job_start(n->job))
                send_job(p, r, n);  /* or finished with its error */
            else
                cc_job_release(n->job);     /* cancelled while queued */
            cc_blob_free(n->arg);
            free(n);
        }
    }
}

/* Take one result if one is there; true when it did. */
static bool collect(mpi_pool *p)
{
    MPI_Status st;
    int flag = 0, len;
    char *data;
    cc__mrd r;
    int src;
    cc_future *job;
    char suffix[64 + MPI_MAX_PROCESSOR_NAME];

    MPI_Iprobe(MPI_ANY_SOURCE, CC__MPI_TAG_RESULT, p->comm, &flag, &st);
    if (!flag)
        return false;
    src = st.MPI_SOURCE + p->shift;
    MPI_Get_count(&st, MPI_BYTE, &len);
    data = malloc(len > 0 ? (size_t)len : 1);
    if (data == NULL) {
        cc__mpi_nap(1000);     /* out of memory: try again later */
        return false;
    }
    MPI_Recv(data, len, MPI_BYTE, st.MPI_SOURCE, CC__MPI_TAG_RESULT, p->comm,
             MPI_STATUS_IGNORE);
    r = (cc__mrd){ data, (size_t)len, false };
    job = p->ranks[src].job;
    p->ranks[src].job = NULL;
    p->inflight--;
    snprintf(suffix, sizeof suffix, " on rank %d (%s)", src,
             p->ranks[src].host);
    (void)cc__mrd_u64(&r);
    if (cc__mrd_u64(&r) != 0) {
        cc_job_finish(job, NULL, false, cc__mpi_error_get(&r, suffix));
    } else {
        uint64_t has = cc__mrd_u64(&r), n = cc__mrd_u64(&r);
        const char *bytes = cc__mrd_bytes(&r, n);
        void *result = NULL;

        if (r.bad)
            cc_job_finish(job, NULL, false,
                          cc_error_new(EPROTO, NULL, "malformed result%s",
                                       suffix));
        else if (has && (result = cc_blob_dup(bytes, n)) == NULL)
            cc_job_finish(job, NULL, false,
                          cc_error_new(ENOMEM, NULL, "no memory for the "
                                       "result%s", suffix));
        else
            cc_job_finish(job, result, result != NULL, NULL);
    }
    cc_job_release(job);
    free(data);
    return true;
}

static void timed_wait(mpi_pool *p, long us)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += us * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cond, &p->mu, &ts);
}

static void serve_rank0(mpi_pool *p)
{
    long nap = 1;
    double spin_until = 0;
    unsigned probes = 0;

    for (;;) {
        size_t sent = p->inflight;

        dispatch(p);
        if (p->inflight > sent) /* its result may come soon: probe first */
            spin_until = cc_now() + CC__MPI_SPIN_S;
        if (p->inflight > 0 && collect(p)) {
            nap = 1;
            spin_until = cc_now() + CC__MPI_SPIN_S;
            continue;
        }
        if (p->inflight > 0 && cc_now() < spin_until) {
            /* a result may be about to come: no nap yet (but the ranks
             * may outnumber the cores) */
            if (++probes % CC__MPI_YIELD_EVERY == 0)
                sched_yield();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        if (p->closed && p->head == NULL && p->inflight == 0) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        if (p->head != NULL && p->inflight < (size_t)p->nworkers) {
            pthread_mutex_unlock(&p->mu);   /* more to hand out */
            continue;
        }
        if (p->inflight == 0) {
            pthread_cond_wait(&p->cond, &p->mu);    /* idle: sleep */
        } else {
            timed_wait(p, nap);     /* a submit or shutdown wakes it early */
            nap = nap < 1000 ? nap * 2 : 1000;
        }
        pthread_mutex_unlock(&p->mu);
    }
}

/* The program's arguments after its name, from /proc/self/cmdline
 * (NULL-terminated; one allocation), or NULL. */
static char **own_args(void)
{
    char buf[65536];
    size_t n = 0, count = 0;
    ssize_t got;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    char **argv, *text;

    if (fd < 0)
        return NULL;
    while (n < sizeof buf - 1 &&
           (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)got;
    close(fd);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        count += buf[i] == '\0';
    argv = malloc((count + 1) * sizeof(char *) + n + 1);
    if (argv == NULL)
        return NULL;
    text = (char *)(argv + count + 1);
    memcpy(text, buf, n + 1);
    count = 0;
    for (size_t i = strlen(text) + 1; i < n; i += strlen(text + i) + 1)
        argv[count++] = text + i;
    argv[count] = NULL;
    return argv;
}

/*
 * A singleton (no mpirun): start the workers with MPI_Comm_spawn, fresh
 * runs of this executable with its arguments, max_workers of them (0: the
 * CPU count), and talk to them over the intercommunicator.  -1 after
 * reporting ECHILD with MPI's reason when they cannot be started.
 */
static int spawn_workers(mpi_pool *p)
{
    int n = p->want_workers > 0 ? p->want_workers : cc_cpu_count();
    char **args = own_args();
    char msg[MPI_MAX_ERROR_STRING] = "";
    char exe[4096];
    int len = 0, rc;
    MPI_Comm inter;

    if (args == NULL) {
        MPI_Finalize();
        report_start(p, ECHILD, "one MPI rank and no arguments to spawn "
                     "workers with (/proc/self/cmdline unreadable)");
        return -1;
    }
    /* the launcher runs it: give the real path, not /proc/self/exe */
    ssize_t got = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (got <= 0) {
        free(args);
        MPI_Finalize();
        report_start(p, ECHILD, "one MPI rank and no path to spawn workers "
                     "of (/proc/self/exe unreadable)");
        return -1;
    }
    exe[got] = '\0';
    rc = MPI_Comm_spawn(exe, args, n, MPI_INFO_NULL, 0, MPI_COMM_SELF,
                        &inter, MPI_ERRCODES_IGNORE);
    free(args);
    if (rc != MPI_SUCCESS) {
        MPI_Error_string(rc, msg, &len);
        MPI_Finalize();
        report_start(p, ECHILD, "one MPI rank (not started by mpirun) and "
                     "MPI_Comm_spawn of %d workers failed: %s (start the "
                     "program with mpirun -n N, or allow more processes "
                     "than CPUs: OMPI_MCA_rmaps_base_oversubscribe=1)",
                     n, msg);
        return -1;
    }
    MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
    p->comm = inter;
    p->shift = 1;
    p->size = n + 1;
    return 0;
}

static void *manager_main(void *arg)
{
    mpi_pool *p = arg;
    int provided, rc, bad;
    MPI_Comm parent;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int msg_len = 0;

    rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        MPI_Error_string(rc, msg, &msg_len);
        report_start(p, EIO, "MPI_Init_thread failed: %s", msg);
        return NULL;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    MPI_Comm_get_parent(&parent);
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->size);
    p->comm = MPI_COMM_WORLD;
    if (parent != MPI_COMM_NULL) {
        /* spawned by a singleton's pool: serve it, as worker rank+1 */
        MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
        atomic_store(&g_rank, p->rank + 1);
        p->rank++;
        report_start(p, 0, NULL);
        cc__mpi_serve(p->rank, parent);
        MPI_Finalize();
        return NULL;
    }
    atomic_store(&g_rank, p->rank);
    if (p->rank != 0) {
        report_start(p, 0, NULL);
        cc__mpi_serve(p->rank, MPI_COMM_WORLD);
        MPI_Finalize();
        return NULL;
    }
    if (p->size < 2 && spawn_workers(p) != 0)
        return NULL;
    p->ranks = calloc((size_t)p->size, sizeof *p->ranks);
    if (p->ranks == NULL) {
        /* the workers wait for a stop; send it, then give up */
        stop_workers(p);
        MPI_Finalize();
        report_start(p, ENOMEM, "out of memory");
        return NULL;
    }
    MPI_Get_processor_name(p->ranks[0].host, &msg_len);
    bad = check_builds(p);
    if (bad < 0 && p->want_workers > p->size - 1) {
        stop_workers(p);
        MPI_Finalize();
        report_start(p, EINVAL, "max_workers %d is more than the %d worker "
                     "ranks", p->want_workers, p->size - 1);
        return NULL;
    }
    if (bad >= 0) {
        stop_workers(p);
        MPI_Finalize();
        report_start(p, EPROTO, "rank %d (%s) runs a different build than "
                     "rank 0 (%s): every rank must run the same executable "
                     "and libconcur", bad, p->ranks[bad].host,
                     p->ranks[0].host);
        return NULL;
    }
    p->nworkers = p->want_workers > 0 ? p->want_workers : p->size - 1;
    report_start(p, 0, NULL);
    serve_rank0(p);
    stop_workers(p);
    MPI_Finalize();
    cc_event_set(p->done);
    return NULL;
}

/* ------------------------------------------------- the operations -- */

static int pool_submit(cc_executor *ex, cc_future *job)
{
    mpi_pool *p = cc_executor_state(ex);
    void *arg = cc_job_arg(job);
    job_node *n;

    if (arg != NULL && !cc_blob_is(arg)) {
        cc_fail(EINVAL, "cc_submit: %s: the argument must be a blob "
                "(concur/base.h) or NULL: it is copied to another rank",
                cc_executor_name(ex));
        return -1;
    }
    n = malloc(sizeof *n);
    if (n == NULL || (arg != NULL &&
                      (n->arg = cc_blob_dup(arg, cc_blob_len(arg))) == NULL)) {
        free(n);
        cc_fail(ENOMEM, "cc_submit: out of memory");
        return -1;
    }
    if (arg == NULL)
        n->arg = NULL;
    n->job = job;
    n->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        cc_blob_free(n->arg);
        free(n);
        cc_fail(ESHUTDOWN, "cc_submit: %s is shut down",
                cc_executor_name(ex));
        return -1;
    }
    if (p->tail != NULL)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int pool_shutdown(cc_executor *ex, bool wait, bool cancel_futures,
                         double deadline)
{
    mpi_pool *p = cc_executor_state(ex);
    job_node *cancelled = NULL;
    double timeout;

    pthread_mutex_lock(&p->mu);
    p->closed = true;
    if (cancel_futures) {
        cancelled = p->head;
        p->head = p->tail = NULL;
        p->queued = 0;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    while (cancelled != NULL) {
        job_node *n = cancelled;
        cancelled = n->next;
        cc_future_cancel(n->job);
        cc_job_release(n->job);
        cc_blob_free(n->arg);
        free(n);
    }
    if (!wait)
        return 0;
    if (isnan(deadline)) {
        cc_fail(EINVAL, "cc_executor_shutdown: deadline is NaN");
        return -1;
    }
    timeout = deadline < 0 ? -1.0 : deadline == 0 ? 0.0 : deadline - cc_now();
    if (deadline > 0 && timeout <= 0)
        timeout = 0;
    if (cc_event_wait(p->done, timeout) != 0) {
        int code = errno;
        cc_fail_from(cc_last_error(), code,
                     "cc_executor_shutdown: %s: %s", cc_executor_name(ex),
                     code == EAGAIN || code == ETIMEDOUT
                         ? "tasks are still running" : "the wait was cancelled");
        return -1;
    }
    return 0;
}

static void pool_destroy(cc_executor *ex)
{
    mpi_pool *p = cc_executor_state(ex);

    pthread_mutex_lock(&g_live_mu);
    g_live = NULL;
    pthread_mutex_unlock(&g_live_mu);

    if (p->manager_started)
        pthread_join(p->manager, NULL);
    cc_event_free(p->done);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->ranks);
    free(p);
}

static int pool_max_workers(cc_executor *ex)
{
    mpi_pool *p = cc_executor_state(ex);

    return p->nworkers;
}

static const cc_executor_ops mpi_ops = {
    .kind = "mpi",
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .destroy = pool_destroy,
    .max_workers = pool_max_workers,
    /* jobs run on other ranks: cc_map sends its items one by one */
    .flags = CC_EXECUTOR_REMOTE,
};

/* ------------------------------------------------------ the entry -- */

/*
 * At exit, a pool still alive on rank 0 is shut down (after the work it
 * took, which the exit rule waits for too): the worker ranks are told to
 * stop and MPI is finalised, so that mpirun sees every rank end cleanly.
 */
static void stop_at_exit(void)
{
    pthread_mutex_lock(&g_live_mu);
    mpi_pool *p = g_live;
    if (p != NULL) {
        pthread_mutex_lock(&p->mu);
        p->closed = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
        cc_event_wait(p->done, -1.0);
    }
    pthread_mutex_unlock(&g_live_mu);
}

static mpi_pool *pool_alloc(void)
{
    mpi_pool *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;

    if (p == NULL)
        return NULL;
    p->done = cc_event_new();
    if (p->done == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

static void pool_free_unstarted(mpi_pool *p)
{
    cc_event_free(p->done);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->ranks);
    free(p);
}

cc_executor *cc_mpi_pool_new(const cc_mpi_opts *opts)
{
    static const cc_mpi_opts none;
    mpi_pool *p;
    int rc, init = 0;

    if (opts == NULL)
        opts = &none;
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0];
         i++)
        if (opts->reserved[i] != 0)
            return cc_fail(EINVAL, "cc_mpi_pool_new: cc_mpi_opts.reserved is "
                           "not zero: an option of a newer concur?");
    if (opts->max_workers < 0)
        return cc_fail(EINVAL, "cc_mpi_pool_new: max_workers %d is negative",
                       opts->max_workers);
    if (atomic_exchange(&g_used, true) || (MPI_Initialized(&init), init))
        return cc_fail(EBUSY, "cc_mpi_pool_new: MPI was already initialised "
                       "in this process (one MPI pool per process run)");
    p = pool_alloc();
    if (p == NULL)
        return cc_fail(ENOMEM, "cc_mpi_pool_new: out of memory");
    p->want_workers = opts->max_workers;
    rc = pthread_create(&p->manager, NULL, manager_main, p);
    if (rc != 0) {
        pool_free_unstarted(p);
        return cc_fail(rc, "cc_mpi_pool_new: cannot start the manager thread");
    }
    pthread_mutex_lock(&p->mu);
    while (!p->started)
        pthread_cond_wait(&p->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->start_rc == 0 && p->rank != 0) {
        /* a worker rank: serve until rank 0 says stop, then leave */
        pthread_join(p->manager, NULL);
        exit(0);
    }
    if (p->start_rc != 0) {
        pthread_join(p->manager, NULL);
        rc = p->start_rc;
        cc_fail(rc, "cc_mpi_pool_new: %s", p->start_msg);
        pool_free_unstarted(p);
        return NULL;
    }
    p->manager_started = true;
    p->ex = cc_executor_new(&mpi_ops, p, opts->name ? opts->name : "MPIPool");
    if (p->ex == NULL) {
        int code = errno;
        pthread_mutex_lock(&p->mu);
        p->closed = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->manager, NULL);
        pool_free_unstarted(p);
        return cc_fail(code, "cc_mpi_pool_new: cannot make the executor");
    }
    pthread_mutex_lock(&g_live_mu);
    g_live = p;
    pthread_mutex_unlock(&g_live_mu);
    atexit(stop_at_exit);
    return p->ex;
}

cc_executor *cc_mpi_main(int *argc, char ***argv, const cc_mpi_opts *opts)
{
    (void)argc;
    (void)argv;
    return cc_mpi_pool_new(opts);
}
