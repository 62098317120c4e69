/*
 * test_log - cc_set_log: the library's own reports reach the sink with
 * their level and whole line -- a failing done-callback (WARNING), debug
 * mode's unretrieved failure (DEBUG), a child process's uncaught error
 * (ERROR, from the forked child, which inherits the sink) -- and go back
 * to stderr with NULL.  Hammered: reporters on many threads while another
 * thread keeps switching between two sinks; every report must arrive
 * exactly once, whole, at a sink paired with its own argument.
 */
#include "test_util.h"

#include <unistd.h>

typedef struct sink {
    int tag;                      /* the arg must be this sink */
    cc_lock *lock;
    int count[3];                 /* per level */
    int mismatched;               /* fn called with another sink's arg */
    int cut;                      /* lines not whole */
    char last[256];
} sink;

static void to_sink(int level, const char *line, void *arg)
{
    sink *s = arg;

    cc_lock_acquire(s->lock, CC_FOREVER);
    if (s->tag != 1 && s->tag != 2)
        s->mismatched++;
    if (level >= 0 && level <= 2)
        s->count[level]++;
    if (strncmp(line, "concur: a done-callback of a future failed: ", 44) ==
            0 && strstr(line, "on purpose (EPROTO)") == NULL)
        s->cut++;
    snprintf(s->last, sizeof(s->last), "%s", line);
    cc_lock_release(s->lock);
}

/* Two functions, so that a report pairing one's fn with the other's arg
 * shows up. */
static void to_sink_two(int level, const char *line, void *arg)
{
    sink *s = arg;

    if (s->tag != 2) {
        cc_lock_acquire(s->lock, CC_FOREVER);
        s->mismatched++;
        cc_lock_release(s->lock);
        return;
    }
    to_sink(level, line, arg);
}

static void to_sink_one(int level, const char *line, void *arg)
{
    sink *s = arg;

    if (s->tag != 1) {
        cc_lock_acquire(s->lock, CC_FOREVER);
        s->mismatched++;
        cc_lock_release(s->lock);
        return;
    }
    to_sink(level, line, arg);
}

static int failing_callback(cc_future *f, void *arg)
{
    (void)f;
    (void)arg;
    cc_fail(EPROTO, "callback failed on purpose");
    return -1;
}

/* One report: a future whose done-callback fails. */
static void report_once(void)
{
    cc_future *f = cc_future_new();

    assert_non_null(f);
    assert_ok(cc_future_add_done_callback(f, failing_callback, NULL));
    assert_ok(cc_future_set_result(f, NULL));
    cc_future_free(f);
}

static void test_reports_go_to_the_sink(void **state)
{
    sink s = {.tag = 1, .lock = cc_lock_new()};

    (void)state;
    cc_set_log(to_sink_one, &s);
    report_once();
    assert_int_equal(s.count[CC_LOG_WARNING], 1);
    /* the line as stderr would have it, where the error was raised */
    const char *want = "concur: a done-callback of a future failed: "
                       "callback failed on purpose (EPROTO) at test_log.c:";
    if (strncmp(s.last, want, strlen(want)) != 0 ||
        strstr(s.last, " in thread 'MainThread'") == NULL)
        fail_msg("the sink got '%s'", s.last);
    /* debug mode's report of a failure nobody retrieved */
    cc_set_debug(true);
    cc_future *f = cc_future_new();
    cc_error *e = cc_error_new(EIO, NULL, "never looked at");
    assert_ok(cc_future_set_error(f, e));
    cc_error_free(e);
    cc_future_free(f);
    cc_set_debug(false);
    assert_int_equal(s.count[CC_LOG_DEBUG], 1);
    assert_non_null(strstr(s.last, "never looked at"));
    /* NULL: back to stderr, the same line */
    cc_set_log(NULL, NULL);
    tu_capture cap = tu_capture_stderr();
    report_once();
    char *out = tu_capture_end(cap);
    assert_non_null(strstr(out, "concur: a done-callback of a future failed: "
                                "callback failed on purpose (EPROTO)"));
    free(out);
    assert_int_equal(s.count[CC_LOG_WARNING], 1);
    assert_int_equal(s.mismatched, 0);
    cc_lock_free(s.lock);
}

/* The child inherits the sink: its uncaught error arrives there, at
 * ERROR; this sink writes the line to a pipe the parent reads. */
static void to_pipe(int level, const char *line, void *arg)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%d %s\n", level, line);

    if (write(*(int *)arg, buf, (size_t)n) != n)
        abort();
}

static void *child_fails(void *arg)
{
    (void)arg;
    return cc_fail(ENOENT, "no such widget");
}

static void test_a_child_reports_to_the_inherited_sink(void **state)
{
    int fds[2];
    char buf[512] = "";
    ssize_t n;
    int code = 0;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    cc_set_log(to_pipe, &fds[1]);
    cc_process *p = cc_process_start(child_fails, NULL, "widget-maker");
    assert_non_null(p);
    assert_ok(cc_process_join(p, 30.0));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, 1);
    cc_process_free(p);
    cc_set_log(NULL, NULL);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    if (strncmp(buf, "0 Process widget-maker: no such widget (ENOENT)", 47) != 0)
        fail_msg("the child reported: '%s'", buf);
}

/* ---- hammer: reporters and a sink switcher ---- */

enum { REPORTERS = 6, REPORTS = 300 };

static sink one;
static sink two;
static _Atomic bool switching;

static void *reporter(void *arg)
{
    (void)arg;
    for (int i = 0; i < REPORTS; i++) {
        report_once();
        tu_jitter(50);
    }
    return NULL;
}

static void *switcher(void *arg)
{
    (void)arg;
    while (atomic_load(&switching)) {
        cc_set_log(to_sink_one, &one);
        tu_jitter(30);
        cc_set_log(to_sink_two, &two);
        tu_jitter(30);
    }
    return NULL;
}

static void test_switching_sinks_loses_nothing(void **state)
{
    (void)state;
    one = (sink){.tag = 1, .lock = cc_lock_new()};
    two = (sink){.tag = 2, .lock = cc_lock_new()};
    cc_set_log(to_sink_one, &one);
    atomic_store(&switching, true);
    cc_thread *sw = cc_thread_start(switcher, NULL, "switcher");
    int ids[REPORTERS] = {0};
    tu_threads ts = tu_start(REPORTERS, reporter, ids, sizeof(ids[0]));
    tu_join(ts);
    atomic_store(&switching, false);
    assert_ok(cc_thread_join(sw, NULL, 30.0));
    cc_thread_free(sw);
    cc_set_log(NULL, NULL);
    assert_int_equal(one.count[CC_LOG_WARNING] + two.count[CC_LOG_WARNING],
                     REPORTERS * REPORTS);
    assert_int_equal(one.mismatched + two.mismatched, 0);
    assert_int_equal(one.cut + two.cut, 0);
    assert_int_equal(one.count[CC_LOG_ERROR] + one.count[CC_LOG_DEBUG], 0);
    cc_lock_free(one.lock);
    cc_lock_free(two.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_go_to_the_sink),
        cmocka_unit_test(test_a_child_reports_to_the_inherited_sink),
        cmocka_unit_test(test_switching_sinks_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
