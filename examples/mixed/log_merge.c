/*
 * log_merge - producer threads keep appending to N logs while they are
 * tailed and merged into one file, five ways: tail threads under a cc_lock;
 * the same blocking tail awaited through cc_to_thread; tail tasks; tail
 * threads that each run the tail task on a loop of their own (the
 * bottom-up step); tail tasks feeding a writer thread that runs a loop of
 * its own.  Rebuilds Effective Python items 77 (run_threads,
 * run_tasks_mixed, run_tasks, and run_threads over the tail_file that
 * wraps tail_async), 78.
 * The shared inputs, producers and check are in log_inputs.c; the writer
 * thread of item 78 is in write_thread.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/aio.h"
#include "concur/sync.h"
#include "log_inputs.h"
#include "write_thread.h"

enum {
    MAX_INPUTS = 64,
    MAX_LINES = 100000,
};

/* ------------------------------------------------ Item 77: run_threads */

/*
 * tail_file - the blocking tail, for a thread: read every new line and
 * write it; with nothing new, sleep the thread `interval` and poll again.
 * Ends once the input was marked done before a poll that found nothing.
 * Also what the mixed variant runs on the pool through cc_to_thread.
 */
static void *tail_file(void *arg)
{
    struct tail *t = arg;

    for (;;) {
        bool done = cc_event_is_set(t->in->done);
        int rc = read_line(t->in, t->line, sizeof(t->line), &t->len);

        if (rc < 0) {
            int err = errno;

            return cc_fail(err, "tail of input %d: %s", t->in->index,
                           strerror(err));
        }
        if (rc == GOT_LINE) {
            if (t->write(t) != 0)
                return cc_fail_from(cc_last_error(),
                                    cc_error_code(cc_last_error()),
                                    "tail of input %d: write failed",
                                    t->in->index);
            continue;
        }
        if (done)
            return t;
        if (block_for(t->interval) != 0) {
            int err = errno;

            return cc_fail(err, "tail of input %d: sleep: %s", t->in->index,
                           strerror(err));
        }
    }
}

/* threads and async: one write(2) per line under the shared lock, so that
 * lines never mix.  From a thread the wait blocks it; from a task it
 * suspends only the task. */
static int write_locked(struct tail *t)
{
    struct merge *m = t->m;
    int err = 0;

    if (cc_lock_acquire(m->lock, CC_FOREVER) != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot take the output lock");
        return -1;
    }
    if (write_all(m->out_fd, t->line, t->len) != 0)
        err = errno;
    if (cc_lock_release(m->lock) != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot release the output lock");
        return -1;
    }
    if (err != 0) {
        cc_fail(err, "%s: %s", m->out_path, strerror(err));
        return -1;
    }
    return 0;
}

/* One thread per input running tail(&m->tails[i]), each tail writing
 * with `write`.  0, or -1 with the first failure in cc_last_error(). */
static int run_tail_threads(struct merge *m, cc_fn tail,
                            int (*write)(struct tail *t))
{
    int n = m->cfg->inputs;
    cc_thread **threads = calloc((size_t)n, sizeof(*threads));
    cc_error *first = NULL;
    int started;

    if (threads == NULL) {
        cc_fail(ENOMEM, "threads: out of memory");
        return -1;
    }
    m->out_fd = open_output(m->out_path);
    if (m->out_fd < 0) {
        free(threads);
        return -1;
    }
    for (started = 0; started < n; started++) {
        char name[32];

        m->tails[started].write = write;
        snprintf(name, sizeof(name), "tail-%d", started);
        threads[started] = cc_thread_start(tail, &m->tails[started], name);
        if (threads[started] == NULL) {
            first = cc_error_copy(cc_last_error());
            break;
        }
    }
    /* The tails end once their producers are done, so joining every started
     * one always returns; keep the first failure. */
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0 && first == NULL)
            first = cc_error_copy(cc_last_error());
        cc_thread_free(threads[i]);
    }
    free(threads);
    if (close_output(m, first != NULL ? -1 : 0) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    if (first == NULL)
        return 0;
    cc_fail_from(first, cc_error_code(first), "%s",
                 started < n ? "cannot start the tail threads"
                             : "a tail thread failed");
    cc_error_free(first);
    return -1;
}

/* One tail thread per input, all writing under one cc_lock. */
static int run_threads(struct merge *m)
{
    return run_tail_threads(m, tail_file, write_locked);
}

/* -------------------------------------------- Item 77: run_tasks_mixed */

/* mixed: runs as a task on the main loop, spawned there by a pool thread.
 * The loop runs one task at a time, so the writes need no lock. */
static void *write_on_loop(void *arg)
{
    struct tail *t = arg;

    if (write_all(t->m->out_fd, t->line, t->len) != 0) {
        int err = errno;

        return cc_fail(err, "%s: %s", t->m->out_path, strerror(err));
    }
    return t;
}

/* mixed: called by tail_file in a pool thread.  Hands the line to the main
 * loop (run_coroutine_threadsafe) and blocks this thread until written. */
static int write_via_loop(struct tail *t)
{
    cc_future *f = cc_loop_spawn(t->m->loop, write_on_loop, t);
    int rc;

    if (f == NULL) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot hand the line to the loop");
        return -1;
    }
    rc = cc_future_result(f, NULL, CC_FOREVER);
    if (rc != 0)
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "the loop could not write the line");
    cc_future_free(f);
    return rc;
}

/*
 * The top-down step: the entry point becomes a task, and the blocking tails
 * run unchanged on the loop's default pool, each holding a pool thread for
 * its whole run (more inputs than pool threads: the rest wait their turn).
 * Every future is awaited, shielded even from a cancellation (SIGINT): the
 * pool threads use the merge and the output until they end, and they end
 * once their producers are done.
 */
static void *run_tasks_mixed(void *arg)
{
    struct merge *m = arg;
    int n = m->cfg->inputs;
    cc_future **fs = calloc((size_t)n, sizeof(*fs));
    cc_error *first = NULL;
    bool shielded;
    int started;

    if (fs == NULL)
        return cc_fail(ENOMEM, "mixed: out of memory");
    m->loop = cc_loop_current();
    m->out_fd = open_output(m->out_path);
    if (m->out_fd < 0) {
        free(fs);
        return NULL;
    }
    for (started = 0; started < n; started++) {
        m->tails[started].write = write_via_loop;
        fs[started] = cc_to_thread(tail_file, &m->tails[started]);
        if (fs[started] == NULL) {
            first = cc_error_copy(cc_last_error());
            break;
        }
    }
    shielded = cc_shield_push(CC_FOREVER) == 0;
    if (cc_gather(fs, (size_t)started, NULL, true, CC_FOREVER) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    if (shielded)
        cc_shield_pop();
    for (int i = 0; i < started; i++) {
        const cc_error *e = cc_future_error(fs[i]);

        if (e != NULL && first == NULL)
            first = cc_error_copy(e);
        cc_future_free(fs[i]);
    }
    free(fs);
    if (close_output(m, first != NULL ? -1 : 0) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    if (first == NULL)
        return m;
    cc_fail_from(first, cc_error_code(first), "a tail failed");
    cc_error_free(first);
    return NULL;
}

/* --------------------------------------------------- Item 77: run_tasks */

/* A pool job: one read_line for a tail task. */
static void *read_job(void *arg)
{
    struct tail *t = arg;
    int rc = read_line(t->in, t->line, sizeof(t->line), &t->len);

    if (rc < 0) {
        int err = errno;

        return cc_fail(err, "reading input %d: %s", t->in->index,
                       strerror(err));
    }
    t->status = rc;
    return t;
}

/* A pool job: one line written to the output. */
static void *write_job(void *arg)
{
    struct tail *t = arg;

    if (write_all(t->m->out_fd, t->line, t->len) != 0) {
        int err = errno;

        return cc_fail(err, "%s: %s", t->m->out_path, strerror(err));
    }
    return t;
}

/* Run fn(t) on the loop's pool and await it: only the task waits.
 * 0, or -1 with the job's (or the await's) error recorded. */
static int await_job(cc_fn fn, struct tail *t)
{
    cc_future *f = cc_to_thread(fn, t);
    int rc;

    if (f == NULL)
        return -1;
    rc = cc_future_result(f, NULL, CC_FOREVER);
    cc_future_free(f);
    return rc;
}

/* async: the write of write_locked moved to the pool; the task holds the
 * cc_lock across the await, so the next line waits for this one. */
static int write_async(struct tail *t)
{
    int rc;

    if (cc_lock_acquire(t->m->lock, CC_FOREVER) != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot take the output lock");
        return -1;
    }
    rc = await_job(write_job, t);
    if (rc != 0)
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot write the line");
    if (cc_lock_release(t->m->lock) != 0 && rc == 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "cannot release the output lock");
        rc = -1;
    }
    return rc;
}

/* tail_async - tail_file as a task: the read runs on the pool, the wait
 * between polls is a cc_sleep, and the write is whatever t->write does. */
static void *tail_async(void *arg)
{
    struct tail *t = arg;

    for (;;) {
        bool done = cc_event_is_set(t->in->done);

        if (await_job(read_job, t) != 0)
            return cc_fail_from(cc_last_error(),
                                cc_error_code(cc_last_error()),
                                "tail of input %d: read failed",
                                t->in->index);
        if (t->status == GOT_LINE) {
            if (t->write(t) != 0)
                return cc_fail_from(cc_last_error(),
                                    cc_error_code(cc_last_error()),
                                    "tail of input %d: write failed",
                                    t->in->index);
            continue;
        }
        if (done)
            return t;
        if (cc_sleep(t->interval) != 0)
            return cc_fail_from(cc_last_error(),
                                cc_error_code(cc_last_error()),
                                "tail of input %d: sleep failed",
                                t->in->index);
    }
}

/* Spawn one tail_async per input into a group and wait for them all; the
 * first failure cancels the others.  0, or -1 with the error recorded. */
static int run_tail_group(struct merge *m, int (*write)(struct tail *t))
{
    cc_group *g = cc_group_new();
    int rc = 0;

    if (g == NULL)
        return -1;
    for (int i = 0; i < m->cfg->inputs; i++) {
        m->tails[i].write = write;
        if (cc_group_spawn(g, tail_async, &m->tails[i]) == NULL) {
            rc = -1;
            cc_group_cancel(g);
            break;
        }
    }
    if (rc != 0) {
        cc_error *e = cc_error_copy(cc_last_error());

        (void)cc_group_wait(g, CC_FOREVER);
        cc_fail_from(e, cc_error_code(e), "cannot spawn the tails");
        cc_error_free(e);
    } else if (cc_group_wait(g, CC_FOREVER) != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "%zu tail(s) failed", cc_group_error_count(g));
        rc = -1;
    }
    cc_group_free(g);
    return rc;
}

static void *run_tasks(void *arg)
{
    struct merge *m = arg;
    int rc;

    m->out_fd = open_output(m->out_path);
    if (m->out_fd < 0)
        return NULL;
    rc = close_output(m, run_tail_group(m, write_async));
    return rc == 0 ? m : cc_fail_from(cc_last_error(),
                                      cc_error_code(cc_last_error()),
                                      "cannot merge");
}

/* ------------------------------------------- Item 77: bottom-up */

/* bottom-up: the blocking write of the threads variant (write_locked, the
 * seed's write_func) as a pool job. */
static void *write_locked_job(void *arg)
{
    struct tail *t = arg;

    if (write_locked(t) != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "cannot write the line");
    return t;
}

/* bottom-up: the seed's write_async, run_in_executor(None, write_func):
 * the blocking write runs on this thread's loop's pool, the task awaits. */
static int write_in_executor(struct tail *t)
{
    return await_job(write_locked_job, t);
}

/*
 * The bottom-up step: tail_file, still what each tail thread runs, now
 * only wraps the coroutine.  It makes a loop for its thread, runs
 * tail_async on it until that ends (run_until_complete), and frees it;
 * run_threads above it stays as it was.
 */
static void *tail_file_bottom_up(void *arg)
{
    struct tail *t = arg;
    cc_loop *loop = cc_loop_new(); /* asyncio.new_event_loop() */
    cc_future *coro;
    int rc;

    if (loop == NULL)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "tail of input %d: no loop", t->in->index);
    coro = cc_loop_spawn(loop, tail_async, t);
    if (coro == NULL) {
        cc_error *e = cc_error_copy(cc_last_error());

        cc_loop_free(loop);
        cc_fail_from(e, cc_error_code(e), "tail of input %d: cannot spawn",
                     t->in->index);
        cc_error_free(e);
        return NULL;
    }
    /* loop.run_until_complete(coro) */
    rc = cc_loop_run_until_done(loop, coro);
    if (rc == 0)
        rc = cc_future_result(coro, NULL, 0);
    if (rc != 0) {
        cc_error *e = cc_error_copy(cc_last_error());

        cc_future_free(coro);
        cc_loop_free(loop);
        cc_fail_from(e, cc_error_code(e), "tail of input %d failed",
                     t->in->index);
        cc_error_free(e);
        return NULL;
    }
    cc_future_free(coro);
    cc_loop_free(loop);
    return t;
}

static int run_bottom_up(struct merge *m)
{
    return run_tail_threads(m, tail_file_bottom_up, write_in_executor);
}

/* ----------------------------------------- Item 78: the writer thread */

/* writer: each tail hands its line to the writer thread. */
static int write_via_writer(struct tail *t)
{
    return write_thread_write(t->m->writer, t->line, t->len);
}

/* The seed's run_fully_async: no system call for the output runs on this
 * loop, and there is no lock in sight. */
static void *run_fully_async(void *arg)
{
    struct merge *m = arg;
    cc_error *first = NULL;

    m->writer = write_thread_start(m->out_path);
    if (m->writer == NULL)
        return NULL;
    if (run_tail_group(m, write_via_writer) != 0)
        first = cc_error_copy(cc_last_error());
    if (write_thread_stop(m->writer) != 0 && first == NULL)
        first = cc_error_copy(cc_last_error());
    m->writer = NULL;
    if (first == NULL)
        return m;
    cc_fail_from(first, cc_error_code(first), "cannot merge");
    cc_error_free(first);
    return NULL;
}

/* ------------------------------------------------------------ variants */

struct variant {
    const char *name;
    const char *about;
    int (*run)(struct merge *m);  /* 0, or -1 with cc_last_error() */
};

static int run_mixed(struct merge *m)
{
    return cc_run(run_tasks_mixed, m, NULL);
}

static int run_async(struct merge *m)
{
    return cc_run(run_tasks, m, NULL);
}

static int run_writer(struct merge *m)
{
    return cc_run(run_fully_async, m, NULL);
}

static const struct variant variants[] = {
    {"threads", "a tail thread per input, writes under a cc_lock",
     run_threads},
    {"mixed", "tasks await the blocking tail run by cc_to_thread",
     run_mixed},
    {"async", "tail tasks cc_sleep between polls, cc_lock held by tasks",
     run_async},
    {"bottomup", "tail threads run the tail task on a loop of their own",
     run_bottom_up},
    {"writer", "tail tasks hand their lines to a writer thread's own loop",
     run_writer},
};

/*
 * Run one variant on fresh files: start the producers, merge while they
 * write, join them, check the output, remove the files.  0, or -1 after
 * printing why.
 */
static int run_variant(const struct config *cfg, const struct variant *v,
                       const char *dir)
{
    struct merge m = {.cfg = cfg, .mode = v->name, .out_fd = -1};
    int ok = 0;
    int started;
    double start;
    double elapsed;
    long merged;

    printf("=== %s: %s\n", v->name, v->about);
    fflush(stdout);
    m.inputs = calloc((size_t)cfg->inputs, sizeof(*m.inputs));
    m.tails = calloc((size_t)cfg->inputs, sizeof(*m.tails));
    m.lock = cc_lock_new();
    ok = -1;
    if (m.inputs == NULL || m.tails == NULL || m.lock == NULL) {
        fprintf(stderr, "log_merge: out of memory\n");
        goto out_free;
    }
    if (snprintf(m.out_path, sizeof(m.out_path), "%s/merged.log", dir) >=
        (int)sizeof(m.out_path)) {
        fprintf(stderr, "log_merge: %s: path too long\n", dir);
        goto out_free;
    }
    if (setup_inputs(&m, dir) != 0)
        goto out_free;
    ok = 0;

    start = cc_now();
    for (started = 0; started < cfg->inputs; started++) {
        struct input *in = &m.inputs[started];
        char name[32];

        snprintf(name, sizeof(name), "producer-%d", started);
        in->producer = cc_thread_start(produce, in, name);
        if (in->producer == NULL)
            break;
    }
    if (started < cfg->inputs) {
        fprintf(stderr, "log_merge: cannot start the producers: %s\n",
                cc_errmsg());
        for (int i = started; i < cfg->inputs; i++)
            cc_event_set(m.inputs[i].done); /* so that no tail waits */
        ok = -1;
    }
    if (v->run(&m) != 0) {
        fprintf(stderr, "log_merge: %s: ", v->name);
        cc_error_print(cc_last_error(), stderr);
        ok = -1;
    }
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(m.inputs[i].producer, NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "log_merge: ");
            cc_error_print(cc_last_error(), stderr);
            ok = -1;
        }
        cc_thread_free(m.inputs[i].producer);
    }
    elapsed = cc_now() - start;
    if (ok == 0) {
        merged = check_merge(&m);
        if (merged < 0) {
            ok = -1;
        } else {
            printf("%s: %d inputs x %d lines merged: %ld lines, each exactly "
                   "once, in order per input (%.2f s)\n", v->name,
                   cfg->inputs, cfg->lines, merged, elapsed);
        }
    }
    if (unlink(m.out_path) != 0 && errno != ENOENT) {
        fprintf(stderr, "log_merge: cannot remove %s: %s\n", m.out_path,
                strerror(errno));
        ok = -1;
    }
    free_inputs(&m, cfg->inputs);
out_free:
    cc_lock_free(m.lock);
    free(m.tails);
    free(m.inputs);
    fflush(stdout);
    return ok;
}

/* ---------------------------------------------------------------- main */

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s "
            "[--mode threads|mixed|async|bottomup|writer|all] "
            "[--inputs N] [--lines N] [--interval S]\n", prog);
    return 2;
}

/* An int in lo..hi from the whole of s; -1 when it is not one. */
static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    return (int)v;
}

int main(int argc, char **argv)
{
    struct config cfg = {.inputs = 4, .lines = 200, .interval = 0.02};
    const char *mode = "all";
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    size_t nv = sizeof(variants) / sizeof(variants[0]);
    bool known;
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        char *end;

        if (i + 1 >= argc)
            return usage(argv[0]);
        if (strcmp(argv[i], "--mode") == 0) {
            mode = argv[++i];
        } else if (strcmp(argv[i], "--inputs") == 0) {
            cfg.inputs = parse_int(argv[++i], 1, MAX_INPUTS);
            if (cfg.inputs < 0)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--lines") == 0) {
            cfg.lines = parse_int(argv[++i], 1, MAX_LINES);
            if (cfg.lines < 0)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--interval") == 0) {
            cfg.interval = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(cfg.interval > 0) ||
                cfg.interval > 1)
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }
    known = strcmp(mode, "all") == 0;
    for (size_t v = 0; v < nv; v++)
        known = known || strcmp(mode, variants[v].name) == 0;
    if (!known)
        return usage(argv[0]);

    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (strlen(tmp) > sizeof(dir) / 2) {
        fprintf(stderr, "log_merge: TMPDIR is too long\n");
        return EXIT_FAILURE;
    }
    snprintf(dir, sizeof(dir), "%s/log_merge.XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "log_merge: mkdtemp %s: %s\n", dir, strerror(errno));
        return EXIT_FAILURE;
    }
    printf("%d producer threads append %d lines each to their own log, in "
           "bursts %g s apart;\nidle tails poll every %g s\n", cfg.inputs,
           cfg.lines, cfg.interval, cfg.interval);
    for (size_t v = 0; v < nv; v++) {
        if (strcmp(mode, "all") != 0 && strcmp(mode, variants[v].name) != 0)
            continue;
        if (run_variant(&cfg, &variants[v], dir) != 0)
            failed = 1;
    }
    if (rmdir(dir) != 0) {
        fprintf(stderr, "log_merge: cannot remove %s: %s\n", dir,
                strerror(errno));
        failed = 1;
    }
    return failed ? EXIT_FAILURE : 0;
}
