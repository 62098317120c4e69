/*
 * pipeline - a download -> resize -> upload pipeline of threads, first over a
 * hand-made queue that workers must poll, then over cc_queue: blocking get,
 * back-pressure, task_done/join and shutdown, with one and with several
 * workers per stage.  Rebuilds Effective Python, Item 70 ("Use Queue to
 * Coordinate Work Between Threads").
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/queue.h"
#include "concur/sync.h"

/* An "image" travelling down the pipeline; each stage checks and bumps
 * `stage`, so a skipped or repeated stage shows at the end. */
struct image {
    int id;
    int stage;       /* 0 new, 1 downloaded, 2 resized, 3 uploaded; -1 bad */
    unsigned pixels; /* the stand-in for the image data */
};

typedef void *(*stage_fn)(void *item);

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "pipeline: %s: %s\n", what, cc_errmsg());
    exit(EXIT_FAILURE);
}

static void sleep_for(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0)
        continue; /* EINTR: sleep the rest */
}

/* A little CPU work standing in for real image processing. */
static unsigned mix(unsigned x, int rounds)
{
    for (int i = 0; i < rounds; i++)
        x = x * 2654435761u + 0x9e3779b9u;
    return x;
}

static void *advance(void *item, int from)
{
    struct image *img = item;

    img->pixels = mix(img->pixels + (unsigned)img->id, 50);
    img->stage = img->stage == from ? from + 1 : -1;
    return img;
}

static void *download(void *item)
{
    return advance(item, 0);
}

static void *resize(void *item)
{
    return advance(item, 1);
}

static void *upload(void *item)
{
    return advance(item, 2);
}

static struct image *new_image(int id)
{
    struct image *img = calloc(1, sizeof(*img));

    if (img == NULL) {
        fprintf(stderr, "pipeline: out of memory\n");
        exit(EXIT_FAILURE);
    }
    img->id = id;
    return img;
}

/* Check that an image came out of all three stages and free it.
 * Returns 0, or -1 when it missed or repeated a stage. */
static int finish_image(struct image *img)
{
    int ok = img->stage == 3;

    if (!ok)
        fprintf(stderr, "pipeline: image %d ended at stage %d\n", img->id,
                img->stage);
    free(img);
    return ok ? 0 : -1;
}

/*
 * Fail the calling thread after a failed library call, with that call's
 * error as the cause.  The failure is also printed at once: the main thread
 * may be waiting in a get or a join that this failure keeps from returning.
 */
static void *thread_failed(const char *what)
{
    int err = errno;
    const cc_error *cause = cc_last_error();

    fprintf(stderr, "pipeline: %s: %s: %s\n", cc_thread_current_name(), what,
            cc_errmsg());
    return cc_fail_from(cause, err, "%s", what);
}

/* Print why a thread failed, after a failed join. */
static void print_thread_error(cc_thread *t)
{
    fprintf(stderr, "pipeline: %s failed: ", cc_thread_name(t));
    cc_error_print(cc_last_error(), stderr);
}

/* ==================================================== (a) a polled queue */

/*
 * my_queue - the seed's MyQueue: a growable ring buffer behind a cc_lock.
 * get never waits: it reports "empty" and leaves the waiting to the caller.
 * items, head, len and cap are guarded by lock.
 */
struct my_queue {
    cc_lock *lock;
    void **items; /* ring buffer of cap slots */
    size_t head;  /* index of the oldest item */
    size_t len;   /* items queued */
    size_t cap;   /* slots allocated */
};

static int my_queue_init(struct my_queue *q)
{
    memset(q, 0, sizeof(*q));
    q->lock = cc_lock_new();
    return q->lock != NULL ? 0 : -1;
}

static void my_queue_fini(struct my_queue *q)
{
    cc_lock_free(q->lock);
    free(q->items);
}

/* Grow the ring to twice its size, unrolling it.  Needs q->lock held. */
static int my_queue_grow_locked(struct my_queue *q)
{
    size_t cap = q->cap != 0 ? 2 * q->cap : 16;
    void **items = malloc(cap * sizeof(*items));

    if (items == NULL)
        return -1;
    for (size_t i = 0; i < q->len; i++)
        items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
    return 0;
}

/* Append an item.  Returns 0, or -1 (lock failure or out of memory). */
static int my_queue_put(struct my_queue *q, void *item)
{
    int rc = 0;

    if (cc_lock_acquire(q->lock, CC_FOREVER) != 0)
        return -1;
    if (q->len == q->cap)
        rc = my_queue_grow_locked(q);
    if (rc == 0) {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
    }
    if (cc_lock_release(q->lock) != 0)
        return -1;
    return rc;
}

/* Take the oldest item.  Returns 1 and sets *item, 0 when the queue is
 * empty (the seed's IndexError), -1 when the lock fails. */
static int my_queue_get(struct my_queue *q, void **item)
{
    int got = 0;

    if (cc_lock_acquire(q->lock, CC_FOREVER) != 0)
        return -1;
    if (q->len > 0) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        got = 1;
    }
    if (cc_lock_release(q->lock) != 0)
        return -1;
    return got;
}

/* The number of queued items, or (size_t)-1 when the lock fails. */
static size_t my_queue_len(struct my_queue *q)
{
    size_t len;

    if (cc_lock_acquire(q->lock, CC_FOREVER) != 0)
        return (size_t)-1;
    len = q->len;
    if (cc_lock_release(q->lock) != 0)
        return (size_t)-1;
    return len;
}

/*
 * polling_worker - the seed's Worker thread.  Unlike the seed's, which loops
 * forever, it checks a stop flag on every round so that the program can end
 * it.  polled_count and work_done belong to the worker thread until it has
 * been joined.
 */
struct polling_worker {
    stage_fn func;
    struct my_queue *in;
    struct my_queue *out;
    atomic_bool stop;  /* set by main: leave the loop */
    long polled_count; /* rounds, including the ones that found work */
    long work_done;    /* items passed on */
    cc_thread *thread;
};

static void *polling_worker_run(void *arg)
{
    struct polling_worker *w = arg;

    while (!atomic_load(&w->stop)) {
        void *item;
        int got;

        w->polled_count++;
        got = my_queue_get(w->in, &item);
        if (got < 0)
            return thread_failed("get");
        if (got == 0) {
            sleep_for(0.01); /* no work to do */
            continue;
        }
        if (my_queue_put(w->out, w->func(item)) != 0)
            return cc_fail(0, "put: %s", strerror(errno));
        w->work_done++;
    }
    return NULL;
}

static int polled_pipeline(int n_items)
{
    struct my_queue queues[4]; /* download, resize, upload, done */
    struct polling_worker workers[3];
    stage_fn funcs[3] = {download, resize, upload};
    long polled = 0;
    size_t processed;
    int rc = 0;
    void *item;

    for (int i = 0; i < 4; i++)
        if (my_queue_init(&queues[i]) != 0)
            die("my_queue");
    for (int i = 0; i < 3; i++) {
        struct polling_worker *w = &workers[i];

        w->func = funcs[i];
        w->in = &queues[i];
        w->out = &queues[i + 1];
        atomic_init(&w->stop, false);
        w->polled_count = 0;
        w->work_done = 0;
        w->thread = cc_thread_start(polling_worker_run, w, NULL);
        if (w->thread == NULL)
            die("start worker");
    }
    for (int i = 0; i < n_items; i++)
        if (my_queue_put(&queues[0], new_image(i)) != 0)
            die("put");

    /* The seed busy-waits here; a 1 ms nap keeps this thread off the CPU. */
    for (;;) {
        processed = my_queue_len(&queues[3]);
        if (processed == (size_t)-1)
            die("len");
        if (processed >= (size_t)n_items)
            break;
        sleep_for(0.001);
    }

    for (int i = 0; i < 3; i++)
        atomic_store(&workers[i].stop, true);
    for (int i = 0; i < 3; i++) {
        if (cc_thread_join(workers[i].thread, NULL, CC_FOREVER) != 0) {
            print_thread_error(workers[i].thread);
            rc = -1;
        }
        cc_thread_free(workers[i].thread);
        polled += workers[i].polled_count;
    }
    printf("Processed %zu items after polling %ld times\n", processed, polled);

    while (my_queue_get(&queues[3], &item) == 1)
        if (finish_image(item) != 0)
            rc = -1;
    for (int i = 0; i < 4; i++)
        my_queue_fini(&queues[i]);
    return rc;
}

/* ============================================= (b) cc_queue step by step */

static int token; /* the seed's object(): any non-NULL pointer will do */

struct demo {
    cc_queue *q;
    cc_event *ready; /* the consumer has printed its first line */
};

static cc_thread *start_or_die(cc_fn fn, void *arg)
{
    cc_thread *t = cc_thread_start(fn, arg, NULL);

    if (t == NULL)
        die("start thread");
    return t;
}

static void join_or_die(cc_thread *t)
{
    if (cc_thread_join(t, NULL, CC_FOREVER) != 0) {
        print_thread_error(t);
        exit(EXIT_FAILURE);
    }
    cc_thread_free(t);
}

/* 1: get blocks until an item arrives. */
static void *blocking_consumer(void *arg)
{
    struct demo *d = arg;
    void *item;

    printf("Consumer waiting\n");
    if (cc_event_set(d->ready) != 0)
        return thread_failed("set");
    if (cc_queue_get(d->q, &item, CC_FOREVER) != 0)
        return thread_failed("get");
    printf("Consumer done\n");
    return NULL;
}

/* 2: with maxsize 1, the second put waits for the first get. */
static void *slow_consumer(void *arg)
{
    struct demo *d = arg;
    void *item;

    sleep_for(0.1);
    if (cc_queue_get(d->q, &item, CC_FOREVER) != 0)
        return thread_failed("get");
    printf("Consumer got 1\n");
    if (cc_queue_get(d->q, &item, CC_FOREVER) != 0)
        return thread_failed("get");
    printf("Consumer got 2\n");
    printf("Consumer done\n");
    return NULL;
}

/* 3: the producer waits for task_done through join. */
static void *working_consumer(void *arg)
{
    struct demo *d = arg;
    void *item;

    printf("Consumer waiting\n");
    if (cc_event_set(d->ready) != 0)
        return thread_failed("set");
    if (cc_queue_get(d->q, &item, CC_FOREVER) != 0)
        return thread_failed("get");
    printf("Consumer working\n");
    printf("Consumer done\n");
    if (cc_queue_task_done(d->q) != 0)
        return thread_failed("task_done");
    return NULL;
}

/* 4: after shutdown, get drains the queue, then fails with ESHUTDOWN. */
static void *draining_consumer(void *arg)
{
    struct demo *d = arg;

    for (;;) {
        void *item;

        if (cc_queue_get(d->q, &item, CC_FOREVER) != 0) {
            if (errno != ESHUTDOWN)
                return thread_failed("get");
            printf("Terminating!\n");
            return NULL;
        }
        printf("Got item %d\n", (int)(intptr_t)item);
        if (cc_queue_task_done(d->q) != 0)
            return thread_failed("task_done");
    }
}

static void new_demo(struct demo *d, size_t maxsize)
{
    d->q = cc_queue_new(maxsize, CC_FIFO);
    if (d->q == NULL)
        die("queue");
    d->ready = cc_event_new();
    if (d->ready == NULL)
        die("event");
}

static void free_demo(struct demo *d)
{
    cc_queue_free(d->q);
    cc_event_free(d->ready);
}

static void queue_demos(void)
{
    struct demo d;
    cc_thread *t;

    /* The consumer starts first and blocks in get.  Waiting for its first
     * line keeps the output in the seed's order; after the put, "Producer
     * done" and "Consumer done" may come out either way round. */
    new_demo(&d, 0);
    t = start_or_die(blocking_consumer, &d);
    if (cc_event_wait(d.ready, CC_FOREVER) != 0)
        die("wait");
    printf("Producer putting\n");
    if (cc_queue_put(d.q, &token, CC_FOREVER) != 0)
        die("put");
    printf("Producer done\n");
    join_or_die(t);
    free_demo(&d);
    printf("\n");

    /* Back-pressure: a buffer of one item. */
    new_demo(&d, 1);
    t = start_or_die(slow_consumer, &d);
    if (cc_queue_put(d.q, &token, CC_FOREVER) != 0) /* runs first */
        die("put");
    printf("Producer put 1\n");
    if (cc_queue_put(d.q, &token, CC_FOREVER) != 0) /* waits for a get */
        die("put");
    printf("Producer put 2\n");
    printf("Producer done\n");
    join_or_die(t);
    free_demo(&d);
    printf("\n");

    /* task_done and join. */
    new_demo(&d, 0);
    t = start_or_die(working_consumer, &d);
    if (cc_event_wait(d.ready, CC_FOREVER) != 0)
        die("wait");
    printf("Producer putting\n");
    if (cc_queue_put(d.q, &token, CC_FOREVER) != 0)
        die("put");
    printf("Producer waiting\n");
    if (cc_queue_join(d.q, CC_FOREVER) != 0)
        die("join");
    printf("Producer done\n");
    join_or_die(t);
    free_demo(&d);
    printf("\n");

    /* Shutdown: the consumer starts only after it, and still gets 1..3. */
    new_demo(&d, 0);
    for (intptr_t i = 1; i <= 3; i++)
        if (cc_queue_put(d.q, (void *)i, CC_FOREVER) != 0)
            die("put");
    if (cc_queue_shutdown(d.q, false) != 0)
        die("shutdown");
    t = start_or_die(draining_consumer, &d);
    if (cc_queue_join(d.q, CC_FOREVER) != 0)
        die("join");
    join_or_die(t);
    printf("Done\n");
    free_demo(&d);
}

/* ======================================== (c), (d) pipelines of cc_queue */

/*
 * stoppable_worker - the seed's StoppableWorker: takes items until its input
 * queue is shut down and drained (ESHUTDOWN), which is how it learns to stop.
 */
struct stoppable_worker {
    stage_fn func;
    cc_queue *in;
    cc_queue *out;
    cc_thread *thread;
};

static void *stoppable_worker_run(void *arg)
{
    struct stoppable_worker *w = arg;

    for (;;) {
        void *item;

        if (cc_queue_get(w->in, &item, CC_FOREVER) != 0) {
            if (errno == ESHUTDOWN)
                return NULL;
            return thread_failed("get");
        }
        if (cc_queue_put(w->out, w->func(item), CC_FOREVER) != 0)
            return thread_failed("put"); /* the item is lost */
        if (cc_queue_task_done(w->in) != 0)
            return thread_failed("task_done");
    }
}

static void shutdown_and_join(cc_queue *q)
{
    if (cc_queue_shutdown(q, false) != 0)
        die("shutdown");
    if (cc_queue_join(q, CC_FOREVER) != 0)
        die("join");
}

/* The seed's drain_queue: shut the last queue down and take everything out.
 * Returns how many items came out, or -1 when one of them was bad. */
static long drain_queue(cc_queue *q)
{
    long counter = 0;
    int bad = 0;

    if (cc_queue_shutdown(q, false) != 0)
        die("shutdown");
    for (;;) {
        void *item;

        if (cc_queue_get(q, &item, CC_FOREVER) != 0) {
            if (errno != ESHUTDOWN)
                die("get");
            break;
        }
        if (finish_image(item) != 0)
            bad = 1;
        if (cc_queue_task_done(q) != 0)
            die("task_done");
        counter++;
    }
    if (cc_queue_join(q, CC_FOREVER) != 0)
        die("join");
    return bad ? -1 : counter;
}

/*
 * Run n_items through download/resize/upload with counts[i] workers in
 * stage i, and print how many came out.  Returns 0, or -1 on a bad count.
 */
static int queue_pipeline(const int counts[3], int n_items)
{
    size_t maxsizes[4] = {0, 100, 100, 0};
    stage_fn funcs[3] = {download, resize, upload};
    cc_queue *queues[4]; /* download, resize, upload, done */
    struct stoppable_worker *workers;
    int n_workers = counts[0] + counts[1] + counts[2];
    int rc = 0;
    long counter;

    for (int i = 0; i < 4; i++) {
        queues[i] = cc_queue_new(maxsizes[i], CC_FIFO);
        if (queues[i] == NULL)
            die("queue");
    }
    workers = calloc((size_t)n_workers, sizeof(*workers));
    if (workers == NULL) {
        fprintf(stderr, "pipeline: out of memory\n");
        exit(EXIT_FAILURE);
    }
    for (int stage = 0, n = 0; stage < 3; stage++) {
        for (int k = 0; k < counts[stage]; k++, n++) {
            struct stoppable_worker *w = &workers[n];

            w->func = funcs[stage];
            w->in = queues[stage];
            w->out = queues[stage + 1];
            w->thread = cc_thread_start(stoppable_worker_run, w, NULL);
            if (w->thread == NULL)
                die("start worker");
        }
    }

    for (int i = 0; i < n_items; i++)
        if (cc_queue_put(queues[0], new_image(i), CC_FOREVER) != 0)
            die("put");
    /* Shut each stage down only once everything has reached it. */
    for (int stage = 0; stage < 3; stage++)
        shutdown_and_join(queues[stage]);
    counter = drain_queue(queues[3]);

    for (int i = 0; i < n_workers; i++) {
        if (cc_thread_join(workers[i].thread, NULL, CC_FOREVER) != 0) {
            print_thread_error(workers[i].thread);
            rc = -1;
        }
        cc_thread_free(workers[i].thread);
    }
    free(workers);
    for (int i = 0; i < 4; i++)
        cc_queue_free(queues[i]);
    if (counter < 0)
        return -1;
    printf("%ld items finished\n", counter);
    return counter == n_items ? rc : -1;
}

int main(int argc, char **argv)
{
    static const int one_each[3] = {1, 1, 1};
    static const int several[3] = {3, 4, 5};
    double start;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }

    printf("(a) three workers polling a hand-made queue, 1000 items\n");
    start = cc_now();
    if (polled_pipeline(1000) != 0)
        return EXIT_FAILURE;
    printf("(a) took %.3f seconds\n\n", cc_now() - start);

    printf("(b) cc_queue: blocking get, back-pressure, join, shutdown\n");
    start = cc_now();
    queue_demos();
    printf("(b) took %.3f seconds\n\n", cc_now() - start);

    printf("(c) one stoppable worker per stage, 1000 items\n");
    start = cc_now();
    if (queue_pipeline(one_each, 1000) != 0)
        return EXIT_FAILURE;
    printf("(c) took %.3f seconds\n\n", cc_now() - start);

    printf("(d) 3, 4 and 5 workers per stage, 2000 items\n");
    start = cc_now();
    if (queue_pipeline(several, 2000) != 0)
        return EXIT_FAILURE;
    printf("(d) took %.3f seconds\n", cc_now() - start);
    return 0;
}
