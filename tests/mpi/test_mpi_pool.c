/*
 * test_mpi_pool.c - the MPI executor under mpirun -n 3 (rank 0 submits,
 * ranks 1 and 2 run tasks): results from many submitting threads and from a
 * task, which rank ran what, a task's error with its cause chain and
 * "on rank R (host)", cc_wait and cc_as_completed, cc_map in chunks of
 * every size (a failing item named by its index, the items before it
 * kept) and cc_imap, cancelling a queued job,
 * bad arguments, and shutdown (timeout 0, waiting, submits refused).
 *
 * Other modes (tests/mpi/mpi_tests.cmake): --mismatch (run with
 * CONCUR_MPI_TEST_BUILD_ID_RANK=2: cc_mpi_pool_new must fail naming rank 2)
 * and --singleton (run without mpirun: the pool spawns two workers;
 * with --too-many it asks for more than the machine allows and must fail
 * with ECHILD).
 */
#include "test_util.h"

#include <concur/mpi.h>

static cc_executor *ex;

typedef struct sq {
    int64_t x, sleep_ms;
} sq;

typedef struct sq_out {
    int64_t square;
    int32_t rank;
    double t0, t1;  /* when it ran (cc_now: the host's monotonic clock) */
} sq_out;

static void *square(void *arg)
{
    sq in;
    sq_out out;

    memcpy(&in, arg, sizeof in);
    out.t0 = cc_now();
    if (in.sleep_ms > 0)
        cc_sleep((double)in.sleep_ms / 1000.0);
    out.square = in.x * in.x;
    out.rank = cc_mpi_rank();
    out.t1 = cc_now();
    return cc_blob_dup(&out, sizeof out);
}

static void *failing(void *arg)
{
    cc_error *cause = cc_error_new(ERANGE, NULL, "item %d out of range",
                                   *(int *)arg);
    void *r = cc_fail_from(cause, EDOM, "failing task gave up");
    cc_error_free(cause);
    return r;
}

static void *returns_null(void *arg)
{
    (void)arg;
    return NULL;
}

static cc_future *submit_sq(int64_t x, int64_t sleep_ms)
{
    sq in = { x, sleep_ms };
    void *blob = cc_blob_dup(&in, sizeof in);
    cc_future *f = cc_submit(ex, square, blob);

    cc_blob_free(blob);    /* the pool keeps its own copy */
    return f;
}

static sq_out result_of(cc_future *f)
{
    void *r = NULL;
    sq_out out;

    assert_ok(cc_future_result(f, &r, 60.0));
    assert_true(cc_blob_is(r));
    assert_int_equal(cc_blob_len(r), sizeof out);
    memcpy(&out, r, sizeof out);
    return out;
}

static void test_kind(void **state)
{
    (void)state;
    assert_string_equal(cc_executor_kind(ex), "mpi");
    assert_int_equal(cc_executor_max_workers(ex), 2);
    assert_int_equal(cc_mpi_rank(), 0);
}

/* Two slow tasks at once run on two different worker ranks, at the same
 * time (all ranks are on this host: cc_now's clock is theirs too). */
static void test_two_ranks(void **state)
{
    cc_future *a = submit_sq(3, 200), *b = submit_sq(4, 200);
    sq_out ra, rb;

    (void)state;
    ra = result_of(a);
    rb = result_of(b);
    assert_int_equal(ra.square, 9);
    assert_int_equal(rb.square, 16);
    assert_true(ra.rank >= 1 && ra.rank <= 2);
    assert_true(rb.rank >= 1 && rb.rank <= 2);
    assert_int_not_equal(ra.rank, rb.rank);
    assert_true(ra.t0 < rb.t1 && rb.t0 < ra.t1);
    cc_future_free(a);
    cc_future_free(b);
}

enum { SUBMITTERS = 4, PER_SUBMITTER = 60 };

static void *submitter(void *arg)
{
    int id = (int)(intptr_t)arg;
    cc_future *fs[PER_SUBMITTER];

    for (int i = 0; i < PER_SUBMITTER; i++) {
        int64_t x = id * 1000 + i;
        fs[i] = submit_sq(x, tu_rand_below(3) == 0 ? 1 : 0);
        if (fs[i] == NULL)
            return cc_fail(0, "submit failed: %s", cc_errmsg());
        if (tu_rand_below(8) == 0)
            tu_jitter(2000);
    }
    for (int i = 0; i < PER_SUBMITTER; i++) {
        void *r = NULL;
        sq_out out;
        int64_t x = id * 1000 + i;
        if (cc_future_result(fs[i], &r, 60.0) != 0)
            return cc_fail(0, "result failed: %s", cc_errmsg());
        memcpy(&out, r, sizeof out);
        if (out.square != x * x || out.rank < 1 || out.rank > 2)
            return cc_fail(EPROTO, "wrong result for %lld",
                           (long long)x);
        cc_future_free(fs[i]);
    }
    return (void *)1;
}

/* Many threads submit at once; every result is the right one. */
static void test_many_submitters(void **state)
{
    cc_thread *t[SUBMITTERS];

    (void)state;
    for (int i = 0; i < SUBMITTERS; i++) {
        t[i] = cc_thread_start(submitter, (void *)(intptr_t)i, "submitter");
        assert_non_null(t[i]);
    }
    for (int i = 0; i < SUBMITTERS; i++) {
        void *r = NULL;
        if (cc_thread_join(t[i], &r, 120.0) != 0)
            fail_msg("submitter %d: %s", i, cc_errmsg());
        assert_ptr_equal(r, (void *)1);
        cc_thread_free(t[i]);
    }
}

static void *task_main(void *arg)
{
    cc_future *fs[8];
    (void)arg;
    for (int i = 0; i < 8; i++)
        fs[i] = submit_sq(i, 5);
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        sq_out out;
        if (fs[i] == NULL || cc_future_result(fs[i], &r, 60.0) != 0)
            return cc_fail(0, "task: %s", cc_errmsg());
        memcpy(&out, r, sizeof out);
        if (out.square != i * i)
            return cc_fail(EPROTO, "task: wrong result");
        cc_future_free(fs[i]);
    }
    return (void *)2;
}

/* Submitting and waiting from a coroutine task. */
static void test_from_task(void **state)
{
    void *r = NULL;

    (void)state;
    assert_ok(cc_run(task_main, NULL, &r));
    assert_ptr_equal(r, (void *)2);
}

/* A task's error: its code, message with rank and host, its cause. */
static void test_error_chain(void **state)
{
    int item = 7;
    void *arg = cc_blob_dup(&item, sizeof item);
    cc_future *f = cc_submit(ex, failing, arg);
    const cc_error *e, *cause;

    (void)state;
    cc_blob_free(arg);
    assert_non_null(f);
    assert_fails_with(cc_future_result(f, NULL, 60.0), EDOM);
    e = cc_future_error(f);
    assert_non_null(e);
    assert_int_equal(cc_error_code(e), EDOM);
    assert_non_null(strstr(cc_error_message(e), "failing task gave up"));
    assert_non_null(strstr(cc_error_message(e), " on rank "));
    assert_non_null(strstr(cc_error_message(e), "("));
    cause = cc_error_cause(e);
    assert_non_null(cause);
    assert_int_equal(cc_error_code(cause), ERANGE);
    assert_string_equal(cc_error_message(cause), "item 7 out of range");
    cc_future_free(f);
    /* the rank that ran it serves on */
    f = submit_sq(5, 0);
    assert_int_equal(result_of(f).square, 25);
    cc_future_free(f);
    /* a NULL result is a success */
    f = cc_submit(ex, returns_null, NULL);
    void *r = (void *)1;
    assert_ok(cc_future_result(f, &r, 60.0));
    assert_null(r);
    cc_future_free(f);
}

static void test_wait_as_completed(void **state)
{
    enum { N = 12 };
    cc_future *fs[N];
    bool seen[N] = { false };
    cc_as_completed *it;
    cc_future *f;
    size_t index;
    int count = 0;

    (void)state;
    for (int i = 0; i < N; i++)
        fs[i] = submit_sq(i, tu_rand_below(20));
    it = cc_as_completed_new(fs, N, 60.0);
    assert_non_null(it);
    while (cc_as_completed_next_at(it, &f, &index) == 1) {
        assert_false(seen[index]);
        seen[index] = true;
        assert_int_equal(result_of(f).square, (int64_t)(index * index));
        count++;
    }
    assert_int_equal(count, N);
    cc_as_completed_free(it);
    assert_int_equal(cc_wait(fs, N, CC_ALL_COMPLETED, 60.0), N);
    for (int i = 0; i < N; i++)
        cc_future_free(fs[i]);
}

/* A job cancelled while queued is never run; the others are. */
static void test_cancel_queued(void **state)
{
    enum { N = 8 };
    cc_future *fs[N];

    (void)state;
    for (int i = 0; i < N; i++)
        fs[i] = submit_sq(i, 100);
    /* two run at once: the last one waits in the queue */
    assert_true(cc_future_cancel(fs[N - 1]));
    assert_fails_with(cc_future_result(fs[N - 1], NULL, 60.0), ECANCELED);
    for (int i = 0; i < N - 1; i++)
        assert_int_equal(result_of(fs[i]).square, i * i);
    for (int i = 0; i < N; i++)
        cc_future_free(fs[i]);
}

/* A square that fails for 5, naming its rank. */
static void *square_but_5(void *arg)
{
    sq in;

    memcpy(&in, arg, sizeof in);
    if (in.x == 5)
        return cc_fail(EDOM, "5 is not squared here");
    return square(arg);
}

/* cc_map and cc_imap work unchanged: the executor takes cc_map's chunks
 * as jobs (CC_EXECUTOR_CHUNKS), one message each; the results come back in
 * input order as the caller's blobs, and a failing item is named by its
 * index with the rank in its message. */
static void test_map_and_imap(void **state)
{
    enum { N = 12 };
    void *args[N];
    void *results[N];
    bool seen[N] = {false};

    (void)state;
    for (int64_t i = 0; i < N; i++) {
        sq in = { i, (int64_t)tu_rand_below(3) };

        args[i] = cc_blob_dup(&in, sizeof in);
    }
    assert_ok(cc_map(ex, square, args, N, CC_CHUNKSIZE_AUTO, results, 60));
    for (int64_t i = 0; i < N; i++) {
        sq_out out;

        memcpy(&out, results[i], sizeof out);
        assert_int_equal(out.square, i * i);
        assert_true(out.rank == 1 || out.rank == 2);
        cc_blob_free(results[i]);
    }
    assert_fails_with(cc_map(ex, square_but_5, args, N, 1, results, 60), EDOM);
    assert_non_null(strstr(cc_errmsg(), "args[5] (item 6 of 12)"));
    assert_non_null(strstr(cc_error_message(cc_error_cause(cc_last_error())),
                           "on rank"));
    for (int i = 0; i < N; i++)
        if (results[i] != NULL)
            cc_blob_free(results[i]);
    /* a chunk [4, 8) failing at 5: 4 and the chunks before are kept */
    assert_fails_with(cc_map(ex, square_but_5, args, N, 4, results, 60), EDOM);
    assert_non_null(strstr(cc_errmsg(), "args[5] (item 6 of 12)"));
    assert_non_null(strstr(cc_errmsg(), "5 is not squared here on rank"));
    for (int i = 0; i < N; i++) {
        if (i < 5)
            assert_non_null(results[i]);
        if (i == 5)
            assert_null(results[i]);
        if (results[i] != NULL)
            cc_blob_free(results[i]);
    }
    /* a NULL result without an error is a result */
    assert_ok(cc_map(ex, returns_null, args, N, 5, results, 60));
    for (int i = 0; i < N; i++)
        assert_null(results[i]);
    /* a non-blob in a chunk is refused when the chunk is submitted */
    int64_t plain = 3;
    void *mixed[3] = { args[0], &plain, args[2] };
    assert_fails_with(cc_map(ex, square, mixed, 3, 3, results, 60), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "must be blobs"));
    cc_imap *it = cc_imap_new(ex, square, args, N, 4, false);
    void *r;
    size_t at;
    int rc;

    assert_non_null(it);
    while ((rc = cc_imap_next(it, &r, &at, 60)) == 1) {
        sq_out out;

        assert_false(seen[at]);
        seen[at] = true;
        memcpy(&out, r, sizeof out);
        assert_int_equal(out.square, (int64_t)(at * at));
        cc_blob_free(r);
    }
    assert_int_equal(rc, 0);
    for (int i = 0; i < N; i++) {
        assert_true(seen[i]);
        cc_blob_free(args[i]);
    }
    cc_imap_free(it);
}

/* Many items in chunks of every size: each result in its place. */
static void test_map_chunk_sizes(void **state)
{
    enum { N = 600 };
    static const size_t sizes[] = { 1, 7, 64, N, CC_CHUNKSIZE_AUTO };
    void **args = calloc(N, sizeof(void *));
    void **results = calloc(N, sizeof(void *));

    (void)state;
    assert_non_null(args);
    assert_non_null(results);
    for (int64_t i = 0; i < N; i++) {
        sq in = { i - 300, 0 };

        args[i] = cc_blob_dup(&in, sizeof in);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        assert_ok(cc_map(ex, square, args, N, sizes[k], results, 60));
        for (int64_t i = 0; i < N; i++) {
            sq_out out;

            assert_true(cc_blob_is(results[i]));
            memcpy(&out, results[i], sizeof out);
            assert_int_equal(out.square, (i - 300) * (i - 300));
            cc_blob_free(results[i]);
        }
    }
    for (int i = 0; i < N; i++)
        cc_blob_free(args[i]);
    free(args);
    free(results);
}

static void test_bad_args(void **state)
{
    int not_a_blob = 1;

    (void)state;
    assert_null_with(cc_submit(ex, square, &not_a_blob), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "blob"));
    cc_mpi_opts bad = { .reserved = { 1 } };
    assert_null_with(cc_mpi_pool_new(&bad), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "cc_mpi_opts.reserved is not zero"));
    cc_mpi_opts negative = { .max_workers = -1 };
    assert_null_with(cc_mpi_pool_new(&negative), EINVAL);
    /* one pool per process */
    assert_null_with(cc_mpi_pool_new(NULL), EBUSY);
}

/* In a task: a bounded waiting shutdown times out while `slow` runs. */
static void *shutdown_times_out(void *arg)
{
    (void)arg;
    if (cc_executor_shutdown_timeout(ex, true, false, 0.05) == 0)
        return cc_fail(EPROTO, "shutdown returned 0 with a task running");
    if (errno != ETIMEDOUT)
        return cc_fail(0, "expected ETIMEDOUT: %s", cc_errmsg());
    return (void *)1;
}

/* In a task: an unbounded waiting shutdown, cancelled. */
static void *shutdown_waits(void *arg)
{
    (void)arg;
    if (cc_executor_shutdown(ex, true, false) == 0)
        return cc_fail(EPROTO, "shutdown returned 0 with a task running");
    return cc_fail(0, "shutdown: %s", cc_errmsg());
}

static void *cancel_a_waiting_shutdown(void *arg)
{
    cc_future *waiter = cc_spawn(shutdown_waits, NULL);
    const cc_error *e;

    (void)arg;
    cc_sleep(0.05);
    cc_future_cancel(waiter);
    if (cc_future_result(waiter, NULL, 30.0) == 0)
        return cc_fail(EPROTO, "the cancelled shutdown returned 0");
    e = cc_future_error(waiter);
    /* the task was cancelled: the shutdown's ECANCELED ended it, or the
     * task's cancellation itself */
    if (!cc_future_cancelled(waiter) &&
        (e == NULL || cc_error_code(e) != ECANCELED))
        return cc_fail(0, "expected ECANCELED: %s", cc_errmsg());
    cc_future_free(waiter);
    return (void *)1;
}

/* Shutdown last: refused wait, then a waiting one, then refused submits.
 * Both ranks run a slow task, so the four queued behind them stay queued
 * (a rank whose job runs far longer than the average gets no more: see
 * mpi_pool.c) and cancel_futures cancels every one. */
static void test_shutdown(void **state)
{
    cc_future *queued[4];
    void *r = NULL;

    (void)state;
    /* first many tiny tasks: the average run time the stall rule goes by
     * becomes a tiny task's, whatever earlier tests ran (a chunk of 600
     * items under TSan ran tens of ms, and the ranks running the slow
     * tasks were then not stalled 50 ms in) */
    for (int i = 0; i < 100; i++) {
        cc_future *tiny = submit_sq(i, 0);

        assert_int_equal(result_of(tiny).square, i * i);
        cc_future_free(tiny);
    }
    /* one slow task, then the other once the first one's rank is stalled
     * (else the second could go out behind the first, in that rank's
     * window, and leave the other rank free) */
    cc_future *slow = submit_sq(9, 3000); /* outlives the tasks below */
    while (!cc_future_running(slow))
        tu_sleep(0.001);   /* the manager hands it to a rank */
    tu_sleep(0.05);        /* long past the stall threshold: no more */
    cc_future *slow2 = submit_sq(8, 3000);
    while (!cc_future_running(slow2))
        tu_sleep(0.001);
    tu_sleep(0.05);
    for (int i = 0; i < 4; i++)
        queued[i] = submit_sq(i, 300);
    assert_fails_with(cc_executor_shutdown_timeout(ex, true, true, 0), EAGAIN);
    assert_null_with(submit_sq(1, 0), ESHUTDOWN);
    /* from tasks: the timeout path and the cancellation path */
    assert_ok(cc_run(shutdown_times_out, NULL, &r));
    assert_ptr_equal(r, (void *)1);
    assert_ok(cc_run(cancel_a_waiting_shutdown, NULL, &r));
    assert_ptr_equal(r, (void *)1);
    assert_ok(cc_executor_shutdown(ex, true, false));
    assert_int_equal(result_of(slow).square, 81);
    assert_int_equal(result_of(slow2).square, 64);
    for (int i = 0; i < 4; i++) {
        assert_true(cc_future_cancelled(queued[i]));
        cc_future_free(queued[i]);
    }
    cc_future_free(slow);
    cc_future_free(slow2);
    cc_executor_free(ex);
    ex = NULL;
}

static int mismatch(void)
{
    cc_executor *e = cc_mpi_pool_new(NULL);

    if (e != NULL || errno != EPROTO ||
        strstr(cc_errmsg(), "rank 2 (") == NULL ||
        strstr(cc_errmsg(), "different build") == NULL) {
        fprintf(stderr, "expected EPROTO naming rank 2, got %p/%s: %s\n",
                (void *)e, cc_errname(errno), cc_errmsg());
        return 1;
    }
    printf("ok: %s\n", cc_errmsg());
    return 0;
}

/* Without mpirun: the pool spawns its workers (MPI_Comm_spawn); with
 * --too-many, more than the machine allows, and it fails ECHILD.  The
 * spawned workers run this program with the same arguments and serve
 * inside cc_mpi_pool_new. */
static int singleton(bool too_many)
{
    cc_mpi_opts o = { .max_workers = too_many ? 64 : 2 };
    cc_future *a, *b;
    sq_out ra, rb;

    ex = cc_mpi_pool_new(&o);
    if (too_many) {
        if (ex != NULL || errno != ECHILD ||
            strstr(cc_errmsg(), "MPI_Comm_spawn of 64 workers failed") == NULL) {
            fprintf(stderr, "expected ECHILD, got %p/%s: %s\n", (void *)ex,
                    cc_errname(errno), cc_errmsg());
            return 1;
        }
        printf("ok: %s\n", cc_errmsg());
        return 0;
    }
    if (ex == NULL) {
        fprintf(stderr, "cc_mpi_pool_new: %s\n", cc_errmsg());
        return 1;
    }
    if (cc_executor_max_workers(ex) != 2) {
        fprintf(stderr, "max_workers %d\n", cc_executor_max_workers(ex));
        return 1;
    }
    a = submit_sq(6, 200);
    b = submit_sq(7, 200);
    if (a == NULL || b == NULL) {
        fprintf(stderr, "submit: %s\n", cc_errmsg());
        return 1;
    }
    ra = result_of(a);
    rb = result_of(b);
    if (ra.square != 36 || rb.square != 49 || ra.rank == rb.rank ||
        ra.rank < 1 || ra.rank > 2 || rb.rank < 1 || rb.rank > 2) {
        fprintf(stderr, "wrong results: %lld on %d, %lld on %d\n",
                (long long)ra.square, ra.rank, (long long)rb.square, rb.rank);
        return 1;
    }
    cc_future_free(a);
    cc_future_free(b);
    cc_executor_free(ex);
    printf("ok: 2 spawned workers ran the tasks\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--mismatch") == 0)
        return mismatch();
    if (argc > 1 && strcmp(argv[1], "--singleton") == 0)
        return singleton(argc > 2 && strcmp(argv[2], "--too-many") == 0);
    ex = cc_mpi_main(&argc, &argv, NULL);   /* worker ranks stay inside */
    if (ex == NULL) {
        fprintf(stderr, "cc_mpi_main: %s\n", cc_errmsg());
        return 1;
    }
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_two_ranks),
        cmocka_unit_test(test_many_submitters),
        cmocka_unit_test(test_from_task),
        cmocka_unit_test(test_error_chain),
        cmocka_unit_test(test_wait_as_completed),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_map_and_imap),
        cmocka_unit_test(test_map_chunk_sizes),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
