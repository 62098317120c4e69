/* test_http_loop - the HTTP client from coroutines (the loop's curl
 * multi) and from many threads at once: a task's GET and POST, errors and
 * redirects in a task, the timeout and a deadline scope in a task
 * (ETIMEDOUT while the other tasks go on), a task cancelled in the middle
 * of a request (ECANCELED; the server sees its connection close; the loop keeps
 * working), 300 tasks with 100 in flight on one loop sharing the loop's
 * connections, 8 threads x 200 requests each on their own kept
 * connection, threads and a loop at once, and a loop freed while its
 * connections are open.  Every test checks that no descriptor leaked. */
#include "http_server.h"

static sh_server sv;
static int fds_at_start;

static void *nothing(void *arg)
{
    return arg;
}

static int setup(void **state)
{
    (void)state;
    assert_ok(cc_run(nothing, NULL, NULL)); /* the loop's one-time fds */
    cc_http_response_free(cc_http_get(sh_refused_url(), 5));
    cc_http_thread_cleanup();
    fds_at_start = tu_fds();
    sh_start(&sv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cc_http_thread_cleanup();
    sh_stop(&sv);
    tu_no_fd_leak(fds_at_start);
    return 0;
}

/* ---- one task's requests ---- */

static void *basics_main(void *arg)
{
    char url[128];
    cc_http_response *r;
    cc_http_opts o = {.max_redirects = 1};

    (void)arg;
    r = cc_http_get(sh_url(&sv, url, sizeof(url), "/redirect/2"), 10);
    if (r == NULL || cc_http_status(r) != 200 ||
        strcmp(cc_http_body(r), "done") != 0)
        return cc_fail(EIO, "redirected GET: %s", cc_errmsg());
    cc_http_response_free(r);

    r = cc_http_post(sh_url(&sv, url, sizeof(url), "/echo"), "xyz", 3,
                     "text/plain", 10);
    if (r == NULL || strncmp(cc_http_body(r), "POST /echo\n", 11) != 0 ||
        strstr(cc_http_body(r), "Content-Type: text/plain\r\n") == NULL)
        return cc_fail(EIO, "POST: %s", cc_errmsg());
    cc_http_response_free(r);

    r = cc_http_get(sh_url(&sv, url, sizeof(url), "/status/503"), 10);
    if (r == NULL || cc_http_check(r) == 0 || errno != CC_EHTTP ||
        strncmp(cc_errmsg(), "503 Server Error: Service Unavailable", 37) != 0)
        return cc_fail(EIO, "503: %s", cc_errmsg());
    cc_http_response_free(r);

    if (cc_http_request(sh_url(&sv, url, sizeof(url), "/redirect/3"), &o) !=
            NULL || errno != ELOOP)
        return cc_fail(EIO, "ELOOP expected: %s", cc_errmsg());
    if (cc_http_get(sh_refused_url(), 10) != NULL || errno != ECONNREFUSED ||
        strncmp(cc_errmsg(), "GET http://127.0.0.1:", 21) != 0 ||
        strstr(cc_errmsg(), "/x: ") == NULL)
        return cc_fail(EIO, "ECONNREFUSED expected: %s", cc_errmsg());
    if (cc_http_get("http://nosuch.invalid/", 10) != NULL || errno != ENOENT)
        return cc_fail(EIO, "ENOENT expected: %s", cc_errmsg());
    if (cc_http_get("nope", 10) != NULL || errno != EINVAL)
        return cc_fail(EIO, "EINVAL expected: %s", cc_errmsg());
    if (cc_http_get(sh_url(&sv, url, sizeof(url), "/malformed"), 10) != NULL ||
        errno != EPROTO)
        return cc_fail(EIO, "EPROTO expected: %s", cc_errmsg());
    if (cc_http_get(sh_url(&sv, url, sizeof(url), "/reset"), 10) != NULL ||
        errno != ECONNRESET)
        return cc_fail(EIO, "ECONNRESET expected: %s", cc_errmsg());

    r = cc_http_get(sh_url(&sv, url, sizeof(url), "/big/5000000"), 30);
    if (r == NULL || cc_http_body_len(r) != 5000000 ||
        (unsigned char)cc_http_body(r)[4999999] != sh_byte(4999999))
        return cc_fail(EIO, "big body: %s", cc_errmsg());
    cc_http_response_free(r);
    return arg;
}

static void test_task_basics(void **state)
{
    (void)state;
    assert_ok(cc_run(basics_main, NULL, NULL));
}

/* ---- timeouts in a task, while another task keeps being served ---- */

static void *ticker(void *arg)
{
    int *ticks = arg;

    for (;;) {
        if (cc_sleep(0.01) != 0)
            return NULL;
        (*ticks)++;
    }
}

static void *timeout_main(void *arg)
{
    char url[128];
    int ticks = 0;
    cc_future *t = cc_spawn(ticker, &ticks);
    double t0 = cc_now();

    (void)arg;
    if (cc_http_get(sh_url(&sv, url, sizeof(url), "/delay/3000"), 0.3) != NULL ||
        errno != ETIMEDOUT || strstr(cc_errmsg(), "GET http://") == NULL)
        return cc_fail(EIO, "ETIMEDOUT expected: %s", cc_errmsg());
    /* a timeout that did not fire would have got the answer at 3 s; the
     * bound only catches a hang */
    if (cc_now() - t0 > tu_hang_bound(0.3))
        return cc_fail(EIO, "the timeout took %.2f s", cc_now() - t0);
    if (ticks < 3)
        return cc_fail(EIO, "the loop was blocked: %d ticks", ticks);
    t0 = cc_now();
    cc_deadline_push(0.3);
    if (cc_http_get(sh_url(&sv, url, sizeof(url), "/delay/3000"), 30) != NULL ||
        errno != ETIMEDOUT)
        return cc_fail(EIO, "scope: ETIMEDOUT expected: %s", cc_errmsg());
    cc_deadline_pop();
    if (cc_now() - t0 > tu_hang_bound(0.3))
        return cc_fail(EIO, "the scope took %.2f s", cc_now() - t0);
    cc_future_cancel(t);
    cc_future_result(t, NULL, CC_FOREVER);
    cc_future_free(t);
    return arg;
}

static void test_task_timeout(void **state)
{
    (void)state;
    assert_ok(cc_run(timeout_main, NULL, NULL));
}

/* ---- a task cancelled in the middle of its request ---- */

typedef struct slow_req {
    int err;
    char msg[256];
} slow_req;

static void *slow_get(void *arg)
{
    slow_req *s = arg;
    char url[128];
    cc_http_response *r =
        cc_http_get(sh_url(&sv, url, sizeof(url), "/hold/30000"), 60);

    s->err = r == NULL ? errno : 0;
    snprintf(s->msg, sizeof(s->msg), "%s", cc_errmsg());
    cc_http_response_free(r);
    return NULL;
}

static void *cancel_main(void *arg)
{
    char url[128];
    slow_req s[3];
    cc_future *f[3];
    cc_http_response *r;
    double t0 = cc_now();

    (void)arg;
    for (int i = 0; i < 3; i++)
        f[i] = cc_spawn(slow_get, &s[i]);
    cc_sleep(0.2); /* all three are waiting for their answers */
    for (int i = 0; i < 3; i++)
        cc_future_cancel(f[i]);
    for (int i = 0; i < 3; i++) {
        cc_future_result(f[i], NULL, CC_FOREVER);
        cc_future_free(f[i]);
        if (s[i].err != ECANCELED || strstr(s[i].msg, "cancelled") == NULL)
            return cc_fail(EIO, "task %d: %s (%s)", i, cc_errname(s[i].err),
                           s[i].msg);
    }
    /* a cancel that waited for the answers would take their 30 s */
    if (cc_now() - t0 > tu_hang_bound(0.2))
        return cc_fail(EIO, "the cancellation took %.2f s", cc_now() - t0);
    /* each cancelled transfer's connection was closed: the server sees
     * its three waits end early (long before their 30 s) */
    for (int i = 0; i < 300 && atomic_load(&sv.abandoned) < 3; i++)
        cc_sleep(0.01);
    if (atomic_load(&sv.abandoned) != 3)
        return cc_fail(EIO, "%d of 3 cancelled connections were closed",
                       atomic_load(&sv.abandoned));
    /* the loop's multi goes on */
    r = cc_http_get(sh_url(&sv, url, sizeof(url), "/status/200"), 10);
    if (r == NULL || cc_http_status(r) != 200)
        return cc_fail(EIO, "after the cancel: %s", cc_errmsg());
    cc_http_response_free(r);
    return arg;
}

static void test_task_cancel(void **state)
{
    (void)state;
    assert_ok(cc_run(cancel_main, NULL, NULL));
}

/* ---- 300 requests, 100 tasks pulling from a shared counter ---- */

typedef struct pull {
    int next;        /* loop thread only */
    int total;
    int ok;
    int bad;
} pull;

static void *puller(void *arg)
{
    pull *p = arg;
    char url[128];
    char path[64];
    char want[64];

    while (p->next < p->total) {
        int i = p->next++;
        cc_http_response *r;

        snprintf(path, sizeof(path), "/rates?base=C%d", i);
        snprintf(want, sizeof(want), "{\"base\": \"C%d\", \"rate\": 1.5}", i);
        r = cc_http_get(sh_url(&sv, url, sizeof(url), path), 30);
        if (r != NULL && cc_http_status(r) == 200 &&
            strcmp(cc_http_body(r), want) == 0)
            p->ok++;
        else
            p->bad++;
        cc_http_response_free(r);
    }
    return NULL;
}

static void *many_main(void *arg)
{
    pull *p = arg;
    cc_future *f[100];

    for (int i = 0; i < 100; i++)
        f[i] = cc_spawn(puller, p);
    for (int i = 0; i < 100; i++) {
        cc_future_result(f[i], NULL, CC_FOREVER);
        cc_future_free(f[i]);
    }
    return arg;
}

static void test_many_tasks(void **state)
{
    pull p = {.total = 300};
    int before = atomic_load(&sv.accepted);
    int conns;

    (void)state;
    assert_ok(cc_run(many_main, &p, NULL));
    conns = atomic_load(&sv.accepted) - before;
    assert_int_equal(p.ok, 300);
    assert_int_equal(p.bad, 0);
    if (conns > 110)
        fail_msg("%d connections for 300 requests, 100 in flight", conns);
    /* a second round on a new loop: the first loop's connections went with
     * it (no descriptor left behind, checked at the end) */
    p = (pull){.total = 200};
    assert_ok(cc_run(many_main, &p, NULL));
    assert_int_equal(p.ok, 200);
}

/* ---- 8 threads x 200 requests, each on its own kept connection ---- */

typedef struct worker {
    int n;
    int ok;
} worker;

static void *thread_worker(void *arg)
{
    worker *w = arg;
    char url[128];

    for (int i = 0; i < w->n; i++) {
        cc_http_response *r = cc_http_get(
            sh_url(&sv, url, sizeof(url), i % 2 ? "/status/200" : "/echo"), 30);

        if (r != NULL && cc_http_status(r) == 200)
            w->ok++;
        cc_http_response_free(r);
    }
    return arg; /* the session closes at thread exit */
}

static void test_many_threads(void **state)
{
    worker w[8];
    int before = atomic_load(&sv.accepted);
    int conns;

    (void)state;
    for (int i = 0; i < 8; i++)
        w[i] = (worker){.n = 200};
    tu_join(tu_start(8, thread_worker, w, sizeof(w[0])));
    for (int i = 0; i < 8; i++)
        assert_int_equal(w[i].ok, 200);
    conns = atomic_load(&sv.accepted) - before;
    if (conns > 8 * 2)
        fail_msg("%d connections for 8 threads", conns);
}

/* ---- threads and a loop at once ---- */

static void *loop_thread(void *arg)
{
    pull *p = arg;

    if (cc_run(many_main, p, NULL) != 0)
        return cc_fail_from(cc_last_error(), EIO, "loop");
    return arg;
}

static void test_mixed(void **state)
{
    worker w[4];
    pull p = {.total = 300};
    cc_thread *lt;
    tu_threads ts;

    (void)state;
    for (int i = 0; i < 4; i++)
        w[i] = (worker){.n = 100};
    lt = cc_thread_start(loop_thread, &p, "http-loop");
    assert_non_null(lt);
    ts = tu_start(4, thread_worker, w, sizeof(w[0]));
    tu_join(ts);
    assert_ok(cc_thread_join(lt, NULL, 120));
    cc_thread_free(lt);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].ok, 100);
    assert_int_equal(p.ok, 300);
}

/* ---- a loop freed with requests still running in its tasks ---- */

static void *abandon_main(void *arg)
{
    static slow_req s[4];

    (void)arg;
    for (int i = 0; i < 4; i++)
        cc_future_free(cc_spawn(slow_get, &s[i]));
    cc_sleep(0.1);
    return arg; /* the loop's end cancels the four */
}

static void test_loop_end(void **state)
{
    double t0 = cc_now();

    (void)state;
    assert_ok(cc_run(abandon_main, NULL, NULL));
    /* a loop end that waited for the four answers would take 30 s */
    assert_true(cc_now() - t0 < tu_hang_bound(0.1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_basics),
        cmocka_unit_test(test_task_timeout),
        cmocka_unit_test(test_task_cancel),
        cmocka_unit_test(test_many_tasks),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_loop_end),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
