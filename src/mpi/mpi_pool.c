/*
 * mpi_pool.c - the MPI executor: cc_mpi_pool_new (MPI start-up on the
 * manager thread, the build check, a worker rank's never-returning path),
 * the executor operations (submit, shutdown, destroy, max_workers) and the
 * manager thread, the one thread of the process that calls MPI.
 *
 * Submitters build the job's task message (its items copied: one for a
 * cc_submit, a chunk of them for a cc_map -- CC_EXECUTOR_CHUNKS) and append
 * it to a queue under the pool's mutex, then signal its condition.  The
 * manager hands queued jobs to worker ranks with room in their window
 * (cc_job_start first: a job cancelled while queued is only released),
 * then polls MPI_Iprobe for results, napping with a back-off of up to
 * 200 us while tasks are out; with none out it sleeps on the condition.
 * Shutdown marks the pool closed; the manager finishes what was taken,
 * tells every worker rank to stop, finalises MPI and sets `done`.
 */
#include <errno.h>
#include <limits.h>
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

/* A queued job with its task message, made by the submitter: the id
 * (written when sent), the function reference, the item count, the
 * items (see mpi_worker.c). */
typedef struct job_node {
    struct job_node *next;
    cc_future *job;
    cc__mbuf msg;
} job_node;

/*
 * Windows.  A worker rank answers its messages in order, so each keeps a
 * ring of the jobs it was sent.  How many it may hold adapts to how long
 * tasks run (a moving average of the run times the ranks report): about
 * WINDOW_WORK_NS of work, between 1 and WINDOW_MAX.  Tiny tasks then never
 * leave a rank idle for a round trip (the next message is there when it
 * answers); long ones go one at a time, so a free rank always gets the
 * next (none waits behind a slow task while another rank idles).  Before
 * the first result the window is 1.  A rank whose oldest job has run for
 * more than STALL_AVERAGES average run times (and STALL_MIN_S) is
 * "stalled" and gets nothing more until it answers: with mixed run times,
 * quick tasks go to the other ranks instead of queueing behind a slow one.
 */
#define STALL_AVERAGES 4.0
#define STALL_MIN_S 1e-3
#define WINDOW_MAX 32
#define WINDOW_WORK_NS 500000.0

typedef struct rank_info {
    char host[MPI_MAX_PROCESSOR_NAME];
    cc_future *ring[WINDOW_MAX]; /* sent, not answered, oldest at head */
    /* Each job's message and its send, kept until the job's answer: sends
     * are MPI_Isend, since a blocking send of a message past MPI's eager
     * size waits for the rank to receive it, while the rank may itself be
     * blocked sending a large answer to us -- each waiting for the other.
     * An answer means the rank received the message: the send is then
     * complete. */
    cc__mbuf msg[WINDOW_MAX];
    MPI_Request req[WINDOW_MAX];
    unsigned head, count;
    double head_since;  /* when its oldest job started, as far as we know
                           (sent to an idle rank, or the previous answer
                           came): cc_now() seconds */
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
    size_t inflight;            /* jobs sent, not answered (all ranks) */
    unsigned window;            /* jobs a rank may hold (1..WINDOW_MAX) */
    double avg_ns;              /* moving average of a task's run time */
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

/* Send n's message to worker rank r; the job is then its. */
static void send_job(mpi_pool *p, int r, job_node *n)
{
    uint64_t id = (uint64_t)r; /* the rank (answers come in order) */
    rank_info *ri = &p->ranks[r];
    unsigned slot = (ri->head + ri->count) % WINDOW_MAX;

    memcpy(n->msg.data, &id, sizeof id);
    if (ri->count == 0)
        ri->head_since = cc_now();
    ri->msg[slot] = n->msg;         /* the slot's until the answer */
    n->msg = (cc__mbuf){ 0 };
    MPI_Isend(ri->msg[slot].data, (int)ri->msg[slot].len, MPI_BYTE,
              r - p->shift, CC__MPI_TAG_TASK, p->comm, &ri->req[slot]);
    ri->ring[slot] = n->job;
    ri->count++;
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

/* True when rank r has room for another job: under its window, and not
 * stalled on a slow one. */
static bool has_room(mpi_pool *p, int r, double now)
{
    const rank_info *ri = &p->ranks[r];
    double stall = STALL_AVERAGES * p->avg_ns / 1e9;

    if (ri->count >= p->window)
        return false;
    return ri->count == 0 ||
           now - ri->head_since <= (stall > STALL_MIN_S ? stall : STALL_MIN_S);
}

/* True when some rank has room (else queued jobs wait for an answer). */
static bool any_room(mpi_pool *p)
{
    double now = cc_now();

    for (int r = 1; r <= p->nworkers; r++)
        if (has_room(p, r, now))
            return true;
    return false;
}

/* Hand queued jobs to ranks with room, one to each in turn.  Called
 * without the mutex (a job's done-callbacks may run here and submit
 * again). */
static void dispatch(mpi_pool *p)
{
    bool room = true;
    double now = cc_now();

    while (room) {
        room = false;
        for (int r = 1; r <= p->nworkers; r++) {
            job_node *n;

            if (!has_room(p, r, now))
                continue;
            n = pop(p);
            if (n == NULL)
                return;
            if (cc_job_start(n->job))
                send_job(p, r, n);
            else
                cc_job_release(n->job);     /* cancelled while queued */
            cc__mbuf_free(&n->msg);
            free(n);
            room = true;
        }
    }
}

/* A rank reported how long a task message took to run. */
static void learn_run_time(mpi_pool *p, uint64_t ns)
{
    double w;

    p->avg_ns = p->avg_ns == 0 ? (double)ns + 1
                               : p->avg_ns + ((double)ns - p->avg_ns) / 8;
    w = 1 + WINDOW_WORK_NS / p->avg_ns;
    p->window = w >= WINDOW_MAX ? WINDOW_MAX : (unsigned)w;
}

/*
 * Finish `job` from the reply in r (after the id): its results and, when an
 * item failed, the error, which names the rank (suffix).  A chunk job
 * takes the results of the items before the failure; a plain job, its
 * one result or its error.  A reply that does not parse fails the job
 * with EPROTO (a chunk's from its first item).
 */
static void finish_from(cc_future *job, cc__mrd *r, const char *suffix)
{
    void *const *items;
    size_t count = cc_job_items(job, &items);
    uint64_t want = count > 0 ? count : 1;
    uint64_t done = cc__mrd_u64(r);
    void **results = NULL;
    cc_error *err = NULL;
    uint64_t got = 0;

    if (r->bad || done > want)
        err = cc_error_new(EPROTO, NULL, "malformed result%s", suffix);
    else if ((results = calloc(want, sizeof(void *))) == NULL)
        err = cc_error_new(ENOMEM, NULL, "no memory for the results%s",
                           suffix);
    while (err == NULL && got < done) {
        uint64_t has = cc__mrd_u64(r), n = cc__mrd_u64(r);
        const char *bytes = cc__mrd_bytes(r, n);

        if (r->bad)
            err = cc_error_new(EPROTO, NULL, "malformed result%s", suffix);
        else if (has && (results[got] = cc_blob_dup(bytes, n)) == NULL)
            err = cc_error_new(ENOMEM, NULL, "no memory for the result%s",
                               suffix);
        else
            got++;
    }
    if (err == NULL && cc__mrd_u64(r) != 0)
        err = cc__mpi_error_get(r, suffix);   /* item `done` failed */
    else if (err == NULL && (r->bad || done != want))
        err = cc_error_new(EPROTO, NULL, "malformed result%s", suffix);
    if (err != NULL && (got < done || count == 0 || got == want)) {
        /* a reply cut short, a plain job's failure, or a failure after
         * every item (malformed: then the chunk fails from its first
         * item, so that it is finished all the same): no results */
        for (uint64_t i = 0; i < got; i++)
            cc_blob_free(results[i]);
        got = 0;
    }
    if (count > 0) {
        if (cc_job_finish_items(job, results, (size_t)got, err) != 0)
            for (uint64_t i = 0; i < got; i++)
                cc_blob_free(results[i]);
    } else if (err != NULL) {
        cc_job_finish(job, NULL, false, err);
    } else {
        cc_job_finish(job, results[0], results[0] != NULL, NULL);
    }
    free(results);
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
    rank_info *ri = &p->ranks[src];
    job = ri->ring[ri->head];
    MPI_Wait(&ri->req[ri->head], MPI_STATUS_IGNORE); /* complete: answered */
    cc__mbuf_free(&ri->msg[ri->head]);
    ri->head = (ri->head + 1) % WINDOW_MAX;
    ri->head_since = cc_now(); /* its next job starts now, if any */
    ri->count--;
    p->inflight--;
    snprintf(suffix, sizeof suffix, " on rank %d (%s)", src,
             p->ranks[src].host);
    (void)cc__mrd_u64(&r); /* the id: the rank */
    learn_run_time(p, cc__mrd_u64(&r));
    finish_from(job, &r, suffix);
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
        if (p->head != NULL && any_room(p)) {
            pthread_mutex_unlock(&p->mu);   /* more to hand out */
            continue;
        }
        if (p->inflight == 0) {
            pthread_cond_wait(&p->cond, &p->mu);    /* idle: sleep */
        } else {
            timed_wait(p, nap);     /* a submit or shutdown wakes it early */
            /* up to 200 us: a rank that finished a long task waits for
             * its next one until we look (with 1 ms, item 79's gcd on two
             * ranks ran 1.67-1.78x the serial time; with 200 us,
             * 1.84-1.88x, as the process pool's 1.88x) */
            nap = nap < 200 ? nap * 2 : 200;
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
    p->window = 1; /* until the first results tell how long tasks take */
    report_start(p, 0, NULL);
    serve_rank0(p);
    stop_workers(p);
    MPI_Finalize();
    cc_event_set(p->done);
    return NULL;
}

/* ------------------------------------------------- the operations -- */

/*
 * Build the task message of a job in the submitting thread (the manager
 * only sends it): the items are copied now, the only time the caller's
 * arguments are sure to be valid (concur/executor.h).  -1 with the error
 * raised (cc_fail) when an argument is not a blob, the function lies in
 * no module, or memory runs out.
 */
static int build_message(cc_executor *ex, cc_future *job, cc__mbuf *msg)
{
    void *const *items;
    size_t count = cc_job_items(job, &items);
    void *single;

    if (count == 0) {
        single = cc_job_arg(job);
        items = &single;
        count = 1;
    }
    for (size_t i = 0; i < count; i++)
        if (items[i] != NULL && !cc_blob_is(items[i])) {
            cc_fail(EINVAL, "cc_submit: %s: the argument%s must be blobs "
                    "(concur/base.h) or NULL: they are copied to another "
                    "rank", cc_executor_name(ex), count > 1 ? "s" : "");
            return -1;
        }
    cc__mbuf_u64(msg, 0); /* the id, written by send_job */
    if (cc__mpi_fnref_put(msg, cc_job_fn(job)) != 0) {
        cc__mbuf_free(msg);
        return -1;
    }
    cc__mbuf_u64(msg, count);
    for (size_t i = 0; i < count; i++) {
        size_t len = items[i] != NULL ? cc_blob_len(items[i]) : 0;

        cc__mbuf_u64(msg, items[i] != NULL);
        cc__mbuf_u64(msg, len);
        cc__mbuf_put(msg, items[i], len);
    }
    if (msg->failed || msg->len > INT_MAX) {
        bool oom = msg->failed;

        cc__mbuf_free(msg);
        cc_fail(oom ? ENOMEM : E2BIG, "cc_submit: %s: %s",
                cc_executor_name(ex), oom ? "out of memory"
                : "the task message is over 2 GiB (MPI's count is an int)");
        return -1;
    }
    return 0;
}

static int pool_submit(cc_executor *ex, cc_future *job)
{
    mpi_pool *p = cc_executor_state(ex);
    job_node *n = calloc(1, sizeof *n);

    if (n == NULL) {
        cc_fail(ENOMEM, "cc_submit: out of memory");
        return -1;
    }
    if (build_message(ex, job, &n->msg) != 0) {
        free(n);
        return -1;
    }
    n->job = job;
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        cc__mbuf_free(&n->msg);
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
        cc__mbuf_free(&n->msg);
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
    /* jobs run on other ranks: cc_map sends its chunks as jobs */
    .flags = CC_EXECUTOR_REMOTE | CC_EXECUTOR_CHUNKS,
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
