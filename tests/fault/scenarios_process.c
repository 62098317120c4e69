/*
 * scenarios_process.c - fault-injection scenarios for processes: a forked
 * child talking over a pipe, the process pool, the cross-process objects,
 * and child programs (subprocess).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

/* ------------------------------------------------- a child and a pipe */

/* In the child: send one blob back over the pipe end, then put one item
 * on the queue. */
typedef struct child_args {
    cc_conn *end;
    cc_mpqueue *q;
} child_args;

static void *child_talks(void *arg)
{
    child_args *c = arg;

    if (cc_conn_send_bytes(c->end, "ping", 4, SC_WAIT) != 0)
        return cc_fail(0, "send: %s", cc_errmsg());
    if (cc_mpqueue_put_bytes(c->q, "item", 4, SC_WAIT) != 0)
        return cc_fail(0, "put: %s", cc_errmsg());
    return c;
}

static bool blob_is(void *blob, const char *text)
{
    return blob != NULL && cc_blob_len(blob) == strlen(text) &&
           memcmp(blob, text, strlen(text)) == 0;
}

static int process_pipe(void)
{
    cc_conn *mine = NULL, *theirs = NULL;
    child_args c = {0};
    cc_process *p = NULL;
    void *got = NULL, *item = NULL;
    int code = -1;
    int rc = SC_DONE;

    SC_CALL(cc_pipe_new(&mine, &theirs, true) == 0, "cc_pipe_new");
    SC_CALL((c.q = cc_mpqueue_new(4, 0)) != NULL, "cc_mpqueue_new");
    c.end = theirs;
    SC_CALL((p = cc_process_start(child_talks, &c, "talker")) != NULL,
            "cc_process_start");
    SC_CALL(cc_conn_recv(mine, &got, SC_WAIT) == 0, "cc_conn_recv");
    SC_EXPECT(blob_is(got, "ping"), "the pipe carried something else");
    SC_CALL(cc_mpqueue_get(c.q, &item, SC_WAIT) == 0, "cc_mpqueue_get");
    SC_EXPECT(blob_is(item, "item"), "the queue carried something else");
    SC_CALL(cc_process_join(p, SC_WAIT) == 0, "cc_process_join");
    SC_CALL(cc_process_exitcode(p, &code) == 0, "cc_process_exitcode");
    SC_EXPECT(code == 0, "the child exited with %d", code);
out:
    if (p != NULL && rc != SC_DONE) {
        cc_process_kill(p);
        cc_process_join(p, SC_WAIT);
    }
    cc_process_free(p);
    cc_blob_free(got);
    cc_blob_free(item);
    cc_mpqueue_free(c.q);
    cc_conn_close(mine);
    cc_conn_close(theirs);
    return rc;
}

/* ------------------------------------------------------- process pool */

/* In a worker: the square of an int64 blob, as a new blob. */
static void *square_blob(void *arg)
{
    int64_t v;

    if (arg == NULL || cc_blob_len(arg) != sizeof(v))
        return cc_fail(EINVAL, "square_blob: not an int64");
    memcpy(&v, arg, sizeof(v));
    v *= v;
    return cc_blob_dup(&v, sizeof(v));
}

static bool blob_int(void *blob, int64_t want)
{
    int64_t v;

    if (blob == NULL || cc_blob_len(blob) != sizeof(v))
        return false;
    memcpy(&v, blob, sizeof(v));
    return v == want;
}

#define N_POOL 4

static int process_pool(void)
{
    cc_executor *ex = NULL;
    cc_future *fs[N_POOL] = {0};
    void *args[N_POOL] = {0}, *results[N_POOL] = {0};
    int rc = SC_DONE;

    SC_CALL((ex = cc_process_pool_new(2, NULL)) != NULL,
            "cc_process_pool_new");
    for (int64_t i = 0; i < N_POOL; i++)
        SC_CALL((args[i] = cc_blob_dup(&i, sizeof(i))) != NULL, "cc_blob_dup");
    for (int i = 0; i < N_POOL; i++)
        SC_CALL((fs[i] = cc_submit(ex, square_blob, args[i])) != NULL,
                "cc_submit");
    for (int i = 0; i < N_POOL; i++) {
        void *r;

        SC_CALL(cc_future_result(fs[i], &r, SC_WAIT) == 0,
                "cc_future_result");
        SC_EXPECT(blob_int(r, (int64_t)i * i), "job %d gave a wrong result",
                  i);
    }
    SC_CALL(cc_map(ex, square_blob, args, N_POOL, 2, results, SC_WAIT) == 0,
            "cc_map");
    for (int i = 0; i < N_POOL; i++)
        SC_EXPECT(blob_int(results[i], (int64_t)i * i),
                  "map item %d gave a wrong result", i);
    SC_CALL(cc_executor_shutdown(ex, true, false) == 0, "cc_executor_shutdown");
out:
    for (int i = 0; i < N_POOL; i++) {
        cc_future_free(fs[i]);
        cc_blob_free(args[i]);
        cc_blob_free(results[i]);
    }
    cc_executor_free(ex);
    return rc;
}

/* ------------------------------------------- cross-process objects */

static int ipc_objects(void)
{
    cc_plock *l = NULL;
    cc_psem *s = NULL;
    cc_shared *sh = NULL;
    cc_shdict *d = NULL;
    void *v = NULL;
    char **keys = NULL;
    size_t n_keys = 0;
    int rc = SC_DONE;

    SC_CALL((l = cc_plock_new()) != NULL, "cc_plock_new");
    SC_CALL(cc_plock_acquire(l, SC_WAIT) == 0, "cc_plock_acquire");
    SC_CALL(cc_plock_release(l) == 0, "cc_plock_release");
    SC_CALL((s = cc_psem_new(1)) != NULL, "cc_psem_new");
    SC_CALL(cc_psem_acquire(s, SC_WAIT) == 0, "cc_psem_acquire");
    SC_CALL(cc_psem_release(s) == 0, "cc_psem_release");
    SC_CALL((sh = cc_shared_new(64, true)) != NULL, "cc_shared_new");
    SC_CALL(cc_plock_acquire(cc_shared_lock(sh), SC_WAIT) == 0,
            "cc_plock_acquire(shared)");
    memcpy(cc_shared_ptr(sh), "shared", 7);
    cc_plock_release(cc_shared_lock(sh));
    SC_CALL((d = cc_shdict_new(8, 4096)) != NULL, "cc_shdict_new");
    SC_CALL(cc_shdict_set_bytes(d, "a", "1", 1) == 0, "cc_shdict_set_bytes");
    SC_CALL(cc_shdict_set_bytes(d, "b", "2", 1) == 0, "cc_shdict_set_bytes");
    SC_CALL(cc_shdict_get(d, "b", &v) == 0, "cc_shdict_get");
    SC_EXPECT(blob_is(v, "2"), "shdict gave something else for b");
    SC_CALL(cc_shdict_keys(d, &keys, &n_keys) == 0, "cc_shdict_keys");
    SC_EXPECT(n_keys == 2, "shdict has %zu keys, expected 2", n_keys);
    SC_CALL(cc_shdict_delete(d, "a") == 0, "cc_shdict_delete");
    SC_EXPECT(cc_shdict_len(d) == 1, "shdict has %zu entries after delete",
              cc_shdict_len(d));
out:
    cc_shdict_keys_free(keys, n_keys);
    cc_blob_free(v);
    cc_shdict_free(d);
    cc_shared_free(sh);
    cc_psem_free(s);
    cc_plock_free(l);
    return rc;
}

/* ------------------------------------------------------- subprocess */

static int subprocess(void)
{
    const char *const echo[] = {"/bin/echo", "hello", NULL};
    const char *const cat[] = {"/bin/cat", NULL};
    cc_run_opts ro = {.capture_output = true};
    cc_popen_opts po = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_PIPE),
                        .err = CC_STDIO(CC_INHERIT)};
    cc_completed done = {0};
    cc_popen *p = NULL;
    void *out = NULL, *err = NULL;
    int code = -1;
    int rc = SC_DONE;

    SC_CALL(cc_subprocess_run(echo, &ro, &done) == 0, "cc_subprocess_run");
    SC_EXPECT(done.returncode == 0 && blob_is(done.out, "hello\n"),
              "echo: code %d, other output", done.returncode);
    SC_CALL((p = cc_popen_new(cat, &po)) != NULL, "cc_popen_new");
    SC_CALL(cc_popen_communicate(p, "meow", 4, SC_WAIT, &out, &err, &code) ==
                0,
            "cc_popen_communicate");
    SC_EXPECT(code == 0 && blob_is(out, "meow"), "cat: code %d, other output",
              code);
out:
    if (p != NULL && rc != SC_DONE) {
        cc_popen_kill(p);
        cc_popen_wait(p, SC_WAIT, &code);
    }
    cc_popen_free(p);
    cc_blob_free(out);
    cc_blob_free(err);
    cc_completed_free(&done);
    return rc;
}


/* ------------------------- pool: initializer, worker replacement, errors */

static void *check_initarg(void *arg)
{
    if (!blob_is(arg, "init"))
        return cc_fail(EINVAL, "initializer got another argument");
    return arg;
}

/* In a worker: fails for odd numbers, squares the even ones. */
static void *even_only(void *arg)
{
    int64_t v;

    if (arg == NULL || cc_blob_len(arg) != sizeof(v))
        return cc_fail(EINVAL, "even_only: not an int64");
    memcpy(&v, arg, sizeof(v));
    if (v % 2 != 0)
        return cc_fail(EDOM, "odd number %lld", (long long)v);
    return square_blob(arg);
}

#define N_RECYCLE 6

/* Workers with an initializer that are replaced after two tasks each; the
 * odd jobs fail in the worker, and that failure (EDOM, its message) must
 * come back, not be lost or turned into something else. */
static int process_pool_recycle(void)
{
    cc_pool_opts opts = {.initializer = check_initarg,
                         .max_tasks_per_child = 2};
    cc_executor *ex = NULL;
    cc_future *fs[N_RECYCLE] = {0};
    void *args[N_RECYCLE] = {0};
    int rc = SC_DONE;

    SC_CALL((opts.initarg = cc_blob_strdup("init")) != NULL,
            "cc_blob_strdup");
    SC_CALL((ex = cc_process_pool_new(1, &opts)) != NULL,
            "cc_process_pool_new");
    for (int64_t i = 0; i < N_RECYCLE; i++)
        SC_CALL((args[i] = cc_blob_dup(&i, sizeof(i))) != NULL, "cc_blob_dup");
    for (int i = 0; i < N_RECYCLE; i++)
        SC_CALL((fs[i] = cc_submit(ex, even_only, args[i])) != NULL,
                "cc_submit");
    for (int i = 0; i < N_RECYCLE; i++) {
        void *r;

        if (i % 2 == 0) {
            SC_CALL(cc_future_result(fs[i], &r, SC_WAIT) == 0,
                    "cc_future_result");
            SC_EXPECT(blob_int(r, (int64_t)i * i), "job %d gave a wrong "
                                                   "result", i);
            continue;
        }
        SC_EXPECT(cc_future_result(fs[i], &r, SC_WAIT) != 0,
                  "odd job %d succeeded", i);
        /* EDOM is the job's own failure; anything else is the pool's, and
         * must be reported as well as any other. */
        if (errno != EDOM)
            SC_CALL(false, "cc_future_result (odd job)");
        SC_EXPECT(strstr(cc_errmsg(), "odd number") != NULL,
                  "odd job %d failed with \"%s\"", i, cc_errmsg());
    }
    SC_CALL(cc_executor_shutdown(ex, true, false) == 0, "cc_executor_shutdown");
out:
    for (int i = 0; i < N_RECYCLE; i++) {
        cc_future_free(fs[i]);
        cc_blob_free(args[i]);
    }
    cc_executor_free(ex);
    cc_blob_free(opts.initarg);
    return rc;
}

/* ------------------------------------- several children, one queue */

static void *put_ten(void *arg)
{
    cc_mpqueue *q = arg;

    for (int64_t i = 1; i <= 10; i++)
        if (cc_mpqueue_put_bytes(q, &i, sizeof(i), SC_WAIT) != 0)
            return cc_fail(0, "put: %s", cc_errmsg());
    return q;
}

/* Three children put ten numbers each on a small process queue; the
 * parent gets all thirty; a shared dict and semaphore count them too. */
static int mpqueue_children(void)
{
    cc_mpqueue *q = NULL;
    cc_process *kids[3] = {0};
    int started = 0;
    int64_t sum = 0;
    int got = 0;
    int rc = SC_DONE;

    SC_CALL((q = cc_mpqueue_new(4, 256)) != NULL, "cc_mpqueue_new");
    for (; started < 3; started++)
        SC_CALL((kids[started] = cc_process_start(put_ten, q, NULL)) != NULL,
                "cc_process_start");
    for (; got < 30; got++) {
        void *item;

        SC_CALL(cc_mpqueue_get(q, &item, SC_WAIT) == 0, "cc_mpqueue_get");
        SC_EXPECT(cc_blob_len(item) == sizeof(int64_t), "an item of %zu bytes",
                  cc_blob_len(item));
        int64_t v;
        memcpy(&v, item, sizeof(v));
        cc_blob_free(item);
        sum += v;
    }
    SC_EXPECT(sum == 3 * 55, "the queue summed %lld, expected 165",
              (long long)sum);
out:
    for (int i = 0; i < started; i++) {
        int code = -1;

        if (rc != SC_DONE)
            cc_process_kill(kids[i]);
        if (cc_process_join(kids[i], SC_WAIT) != 0)
            rc = sc_also_failed(rc, "cc_process_join");
        else if (rc == SC_DONE &&
                 (cc_process_exitcode(kids[i], &code) != 0 || code != 0))
            rc = sc_bad("child %d exited with %d", i, code);
        cc_process_free(kids[i]);
    }
    cc_mpqueue_free(q);
    return rc;
}

/* ------------------------------------------- shell, environment, timeout */

static int subprocess_shell(void)
{
    const char *const set[] = {"FAULT_WORD=bird", NULL};
    const char *const sleeper[] = {"/bin/sleep", "10", NULL};
    cc_run_opts ro = {.capture_output = true, .popen = {.env_set = set}};
    cc_run_opts quick = {.timeout = 0.05, .popen = {.new_session = true}};
    cc_completed done = {0}, late = {0};
    int rc = SC_DONE;

    SC_CALL(cc_subprocess_shell("echo $FAULT_WORD; echo oops >&2", &ro,
                                &done) == 0,
            "cc_subprocess_shell");
    SC_EXPECT(done.returncode == 0 && blob_is(done.out, "bird\n") &&
                  blob_is(done.err, "oops\n"),
              "shell: code %d, other output", done.returncode);
    SC_EXPECT(cc_subprocess_run(sleeper, &quick, &late) != 0,
              "a 10 s sleep finished within its 50 ms timeout");
    SC_CALL(errno == ETIMEDOUT, "cc_subprocess_run (timeout)");
out:
    cc_completed_free(&done);
    cc_completed_free(&late);
    return rc;
}


/* ---------------------------------------- a pipeline, a shared dict */

/* printf | tr | the parent: CC_FROM joins the two children. */
static int subprocess_pipeline(void)
{
    const char *const printf_argv[] = {"/usr/bin/printf", "a b c", NULL};
    const char *const tr_argv[] = {"/usr/bin/tr", "a-z", "A-Z", NULL};
    cc_popen_opts first = {.out = CC_STDIO(CC_PIPE)};
    cc_popen_opts second = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *a = NULL, *b = NULL;
    void *out = NULL;
    int code_a = -1, code_b = -1;
    int rc = SC_DONE;

    SC_CALL((a = cc_popen_new(printf_argv, &first)) != NULL, "cc_popen_new");
    second.in = CC_STDIO_FROM(a);
    SC_CALL((b = cc_popen_new(tr_argv, &second)) != NULL, "cc_popen_new");
    SC_CALL(cc_popen_communicate(b, NULL, 0, SC_WAIT, &out, NULL, &code_b) ==
                0,
            "cc_popen_communicate");
    SC_CALL(cc_popen_wait(a, SC_WAIT, &code_a) == 0, "cc_popen_wait");
    SC_EXPECT(code_a == 0 && code_b == 0 && blob_is(out, "A B C"),
              "pipeline: codes %d %d, other output", code_a, code_b);
out:
    if (rc != SC_DONE) {
        if (a != NULL) {
            cc_popen_kill(a);
            cc_popen_wait(a, SC_WAIT, &code_a);
        }
        if (b != NULL) {
            cc_popen_kill(b);
            cc_popen_wait(b, SC_WAIT, &code_b);
        }
    }
    cc_popen_free(b);
    cc_popen_free(a);
    cc_blob_free(out);
    return rc;
}

static void *fill_dict(void *arg)
{
    char key[8];

    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (cc_shdict_set_bytes(arg, key, key, strlen(key)) != 0)
            return cc_fail(0, "set %s: %s", key, cc_errmsg());
    }
    return arg;
}

/* A child fills a shared dict; the parent reads every key back. */
static int shdict_child(void)
{
    cc_shdict *d = NULL;
    cc_process *p = NULL;
    int code = -1;
    int rc = SC_DONE;

    SC_CALL((d = cc_shdict_new(16, 4096)) != NULL, "cc_shdict_new");
    SC_CALL((p = cc_process_start(fill_dict, d, "filler")) != NULL,
            "cc_process_start");
    SC_CALL(cc_process_join(p, SC_WAIT) == 0, "cc_process_join");
    SC_CALL(cc_process_exitcode(p, &code) == 0, "cc_process_exitcode");
    SC_EXPECT(code == 0, "the child exited with %d", code);
    for (int i = 0; i < 5; i++) {
        char key[8];
        void *v = NULL;

        snprintf(key, sizeof(key), "k%d", i);
        SC_CALL(cc_shdict_get(d, key, &v) == 0, "cc_shdict_get");
        bool same = blob_is(v, key);
        cc_blob_free(v);
        SC_EXPECT(same, "the dict gave something else for %s", key);
    }
out:
    if (p != NULL && rc != SC_DONE) {
        cc_process_kill(p);
        cc_process_join(p, SC_WAIT);
    }
    cc_process_free(p);
    cc_shdict_free(d);
    return rc;
}

const scenario sc_process[] = {
    {"process_pipe", "a forked child: pipe and process queue", process_pipe},
    {"process_pool", "process pool: submit, result, map", process_pool},
    {"ipc_objects", "process lock, semaphore, shared memory, shared dict",
     ipc_objects},
    {"subprocess", "subprocess.run with output, Popen.communicate",
     subprocess},
    {"pool_recycle", "process pool: initializer, workers replaced, "
     "failing jobs", process_pool_recycle},
    {"mpqueue_children", "three children put on one process queue",
     mpqueue_children},
    {"subprocess_shell", "shell with environment and stderr, a timeout "
     "that kills", subprocess_shell},
    {"pipeline", "printf | tr joined by CC_FROM", subprocess_pipeline},
    {"shdict_child", "a child fills a shared dict, the parent reads it",
     shdict_child},
    {NULL, NULL, NULL},
};
