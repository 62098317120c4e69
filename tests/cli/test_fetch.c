/* test_fetch - `concur fetch` run as a program against a local service
 * started in the test: every model fetches the same pages, --grep finds a
 * whole word only, retries get past 429s (rate limit) and 500s (error
 * rate), a timeout fails the URL, --rate spaces the requests, bad URLs and
 * bad options exit 2 before anything is fetched, a failed URL exits 1, and
 * URLs come from a file or standard input.  Against a server of the
 * test's own that sends bodies of any size, endless ones too: a body past
 * --max-size (16 MiB by default) fails its URL alone, in every model.
 * README's copy of `concur fetch --help` is the help itself. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_util.h"

/* "base/pokedex/1\n...base/pokedex/n\n" with comments and blank lines
 * mixed in; the caller frees it. */
static char *pokedex_list(svc *s, int n)
{
    size_t cap = (size_t)n * 96 + 256;
    char *text = malloc(cap);
    size_t len = 0;

    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "# the first %d\n\n", n);
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(text + len, cap - len, "  %s/pokedex/%d  \n%s",
                                svc_url(s), i, i % 3 == 0 ? "\n# x\n" : "");
    return text;
}

/* Every model gets the same 12 pages, all ok. */
static void test_each_mode_fetches_all(void **state)
{
    static const char *const modes[] = {"sync", "threads", "processes",
                                        "async", "thread-each"};
    svc *s = tool_service(0.01, 0, 0);
    char *list = pokedex_list(s, 12);
    char summary[64];
    tool_run r;

    (void)state;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        tool(&r, list, "fetch", "-q", "-m", modes[m], "-w", "4", "-f", "-");
        assert_status(&r, 0);
        snprintf(summary, sizeof(summary), "12 URLs: 12 ok, 0 failed");
        assert_output_has(&r, summary);
        assert_output_has(&r, modes[m]);
        assert_output_has(&r, "/pokedex/12");
        tool_free(&r);
    }
    free(list);
    svc_stop(s);
}

/* --grep: a case-sensitive whole word, as the sponsors seed looks for
 * "Python". */
static void test_grep_finds_whole_words(void **state)
{
    svc *s = tool_service(0, 0, 0);
    tool_run r;

    (void)state;
    tool(&r, NULL, "fetch", "-m", "async", "-g", "Python",
         tool_url(s, 0, "/jython"), tool_url(s, 1, "/pokedex/1"));
    assert_status(&r, 0);
    assert_output_has(&r, "/jython contains the word \"Python\"");
    assert_output_lacks(&r, "/pokedex/1 contains");
    assert_output_has(&r, "1 of 2 bodies contain the word \"Python\"");
    tool_free(&r);
    /* part of a word is no hit; neither is another case */
    tool(&r, NULL, "fetch", "-g", "Pytho", tool_url(s, 0, "/jython"));
    assert_output_has(&r, "0 of 1 bodies");
    tool_free(&r);
    tool(&r, NULL, "fetch", "-g", "PYTHON", tool_url(s, 0, "/jython"));
    assert_output_has(&r, "0 of 1 bodies");
    tool_free(&r);
    svc_stop(s);
}

/* A rate limit of 5/s answers 429 beyond it: without retries some URLs
 * fail (exit 1); with retries (Retry-After honoured) all get through. */
static void test_retries_get_past_429(void **state)
{
    svc *s = tool_service(0, 0, 5);
    char *list = pokedex_list(s, 15);
    tool_run r;

    (void)state;
    tool(&r, list, "fetch", "-q", "-m", "async", "-f", "-");
    assert_status(&r, 1);
    assert_output_has(&r, "FAIL  429");
    tool_free(&r);
    sleep(1); /* let the service's window pass */
    tool(&r, list, "fetch", "-q", "-m", "threads", "-w", "8", "-n", "20",
         "-f", "-");
    assert_status(&r, 0);
    assert_output_has(&r, "15 URLs: 15 ok, 0 failed");
    assert_output_has(&r, "attempts]");
    assert_output_has(&r, "retried");
    tool_free(&r);
    free(list);
    svc_stop(s);
}

/* Half the answers are 500s: with enough retries every URL succeeds, in a
 * pool of threads and of processes alike; every answer a 500 and no
 * retries: exit 1 with the status in the report. */
static void test_retries_get_past_500(void **state)
{
    svc *s = tool_service(0, 0.5, 0);
    svc *broken = tool_service(0, 1.0, 0);
    char *list = pokedex_list(s, 10);
    tool_run r;

    (void)state;
    tool(&r, list, "fetch", "-q", "-m", "processes", "-w", "3", "-n", "25",
         "-f", "-");
    assert_status(&r, 0);
    assert_output_has(&r, "10 URLs: 10 ok, 0 failed");
    tool_free(&r);
    tool(&r, list, "fetch", "-q", "-m", "async", "-n", "25", "-f", "-");
    assert_status(&r, 0);
    assert_output_has(&r, "10 URLs: 10 ok, 0 failed");
    tool_free(&r);
    tool(&r, NULL, "fetch", "-q", tool_url(broken, 0, "/dice"));
    assert_status(&r, 1);
    assert_output_has(&r, "FAIL  500");
    assert_output_has(&r, "500 Server Error");
    tool_free(&r);
    /* retries end: 2 retries make 3 attempts, then it fails */
    tool(&r, NULL, "fetch", "-q", "-n", "2", tool_url(broken, 0, "/dice"));
    assert_status(&r, 1);
    assert_output_has(&r, "[3 attempts]");
    tool_free(&r);
    free(list);
    svc_stop(broken);
    svc_stop(s);
}

/* An answer later than --timeout fails with ETIMEDOUT, in every model
 * that waits differently (a thread, a task, a worker process). */
static void test_timeout_fails_the_url(void **state)
{
    static const char *const modes[] = {"sync", "async", "processes"};
    svc *s = tool_service(3.0, 0, 0);
    tool_run r;

    (void)state;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        tool(&r, NULL, "fetch", "-q", "-m", modes[m], "-t", "0.3",
             tool_url(s, 0, "/dice"));
        assert_status(&r, 1);
        assert_output_has(&r, "ETIMEDOUT");
        assert_output_has(&r, "0 ok, 1 failed");
        tool_free(&r);
    }
    svc_stop(s);
}

/* --rate 10: six requests take at least half a second (the bucket starts
 * empty and holds one token). */
static void test_rate_spaces_requests(void **state)
{
    svc *s = tool_service(0, 0, 0);
    char *list = pokedex_list(s, 6);
    tool_run r;

    (void)state;
    tool(&r, list, "fetch", "-q", "-m", "async", "-r", "10", "-f", "-");
    assert_status(&r, 0);
    assert_true(r.seconds >= 0.5);
    assert_output_has(&r, "at most 10/s");
    tool_free(&r);
    free(list);
    svc_stop(s);
}

/* Bad URLs are refused, with exit status 2, before anything is fetched. */
static void test_bad_url_exits_2_fetching_nothing(void **state)
{
    svc *s = tool_service(0, 0, 0);
    char list[512];
    tool_run r;

    (void)state;
    tool(&r, NULL, "fetch", tool_url(s, 0, "/dice"), "ftp://example.com/");
    assert_status(&r, 2);
    assert_output_has(&r, "bad URL 'ftp://example.com/': not an http:// or "
                          "https:// URL");
    tool_free(&r);
    tool(&r, NULL, "fetch", "http://127.0.0.1:99999/");
    assert_status(&r, 2);
    assert_output_has(&r, "Port number"); /* libcurl's words */
    tool_free(&r);
    tool(&r, NULL, "fetch", "http://:80/");
    assert_status(&r, 2);
    assert_output_has(&r, "No host part"); /* libcurl's words */
    tool_free(&r);
    tool(&r, NULL, "fetch", "http://127.0.0.1:0/");
    assert_status(&r, 2);
    assert_output_has(&r, "port 0");
    tool_free(&r);
    snprintf(list, sizeof(list), "%s/dice\n\nnot a url\n", svc_url(s));
    tool(&r, list, "fetch", "-f", "-");
    assert_status(&r, 2);
    assert_output_has(&r, "standard input, line 3: bad URL 'not a url'");
    tool_free(&r);
    assert_int_equal(svc_requests(s), 0);
    svc_stop(s);
}

/* The scheme in capitals is still http (libcurl's URL parser reads it):
 * fetched, not refused. */
static void test_scheme_in_capitals_is_fetched(void **state)
{
    svc *s = tool_service(0, 0, 0);
    char url[256];
    tool_run r;

    (void)state;
    snprintf(url, sizeof(url), "HTTP://%s/dice", svc_url(s) + 7);
    tool(&r, NULL, "fetch", "-m", "sync", url);
    assert_status(&r, 0);
    tool_free(&r);
    assert_int_equal(svc_requests(s), 1);
    svc_stop(s);
}

/* Bad options and values: exit 2 and a pointer to --help. */
static void test_bad_options_exit_2(void **state)
{
    static const char *const bad[][3] = {
        {"--bogus", NULL, NULL},  {"-m", "fibers", NULL},
        {"-w", "0", NULL},        {"-w", "2.5", NULL},
        {"-r", "-1", NULL},       {"-t", "abc", NULL},
        {"-n", "101", NULL},      {"-f", "/nonexistent/urls", NULL},
        {"-w", NULL, NULL},       {"--max-size", "0", NULL},
        {"-s", "-1", NULL},       {"-s", "abc", NULL},
        {"-s", "10X", NULL},      {"-s", "1.5.2", NULL},
        {"-s", "", NULL},         {"-s", "2048G", NULL},
        {"-s", "1kk", NULL},
    };
    tool_run r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i][1] != NULL)
            tool(&r, NULL, "fetch", bad[i][0], bad[i][1],
                 "http://127.0.0.1:1/");
        else if (strcmp(bad[i][0], "-w") == 0)
            tool(&r, NULL, "fetch", "-w");
        else
            tool(&r, NULL, "fetch", bad[i][0], "http://127.0.0.1:1/");
        assert_status(&r, 2);
        assert_output_has(&r, "concur fetch: ");
        tool_free(&r);
    }
    tool(&r, NULL, "fetch", "--max-size", "10X", "http://127.0.0.1:1/");
    assert_status(&r, 2);
    assert_output_has(&r, "--max-size wants a size");
    tool_free(&r);
    tool(&r, NULL, "fetch");
    assert_status(&r, 2);
    assert_output_has(&r, "no URLs");
    tool_free(&r);
    tool(&r, NULL, "fetch", "--help");
    assert_status(&r, 0);
    assert_output_has(&r, "usage: concur fetch");
    assert_output_has(&r, "--retries");
    tool_free(&r);
}

/* One URL failing makes the exit status 1; the rest are still reported. */
static void test_failed_url_exits_1(void **state)
{
    svc *s = tool_service(0, 0, 0);
    svc *gone = tool_service(0, 0, 0);
    char refused[128];
    tool_run r;

    (void)state;
    snprintf(refused, sizeof(refused), "%s/dice", svc_url(gone));
    svc_stop(gone); /* nobody listens there now */
    tool(&r, NULL, "fetch", "-m", "threads", tool_url(s, 0, "/dice"),
         tool_url(s, 1, "/pokedex/999"), refused);
    assert_status(&r, 1);
    assert_output_has(&r, "FAIL  404");
    assert_output_has(&r, "ECONNREFUSED");
    assert_output_has(&r, "3 URLs: 1 ok, 2 failed");
    tool_free(&r);
    svc_stop(s);
}

/* URLs from a file (comments and blank lines skipped) and from
 * arguments together. */
static void test_file_input(void **state)
{
    svc *s = tool_service(0, 0, 0);
    char *list = pokedex_list(s, 7);
    char path[] = "/tmp/concur-fetch-XXXXXX";
    int fd = mkstemp(path);
    tool_run r;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, list, strlen(list)), (ssize_t)strlen(list));
    close(fd);
    tool(&r, NULL, "fetch", "-m", "sync", "-f", path,
         tool_url(s, 0, "/jython"));
    assert_status(&r, 0);
    assert_output_has(&r, "8 URLs: 8 ok, 0 failed");
    /* not a terminal: one plain progress line per URL */
    assert_output_has(&r, "[8/8] 200 ");
    tool_free(&r);
    unlink(path);
    free(list);
    svc_stop(s);
}

/* ------------------------------------------------ bodies of any size */

/* The test's own server: GET /bytes/N answers N bytes with that
 * Content-Length; GET /forever sends bytes without a length until the
 * client goes away -- or, so that a client without a limit fails the test
 * instead of eating the machine's memory, until FOREVER_BYTES have gone,
 * far past any limit the tests set. */
#define FOREVER_BYTES (256ULL << 20)

/* What serve_bytes sends, filled once: its threads share it. */
static char chunk[64 * 1024];
static pthread_once_t chunk_filled = PTHREAD_ONCE_INIT;

static void fill_chunk(void)
{
    memset(chunk, 'x', sizeof(chunk));
}

static int serve_bytes(cc_stream *st, void *arg)
{
    char *line = cc_stream_readline(st, 30);
    unsigned long long n = 0;
    bool forever;

    (void)arg;
    if (line == NULL)
        return 0;
    forever = strncmp(line, "GET /forever ", 13) == 0;
    if (forever)
        n = FOREVER_BYTES;
    else if (sscanf(line, "GET /bytes/%llu ", &n) != 1) {
        cc_blob_free(line);
        return 0;
    }
    cc_blob_free(line);
    for (;;) { /* the rest of the head */
        char *h = cc_stream_readline(st, 30);
        bool end = h == NULL || cc_blob_len(h) <= 2;

        cc_blob_free(h);
        if (end)
            break;
    }
    pthread_once(&chunk_filled, fill_chunk);
    if (forever)
        cc_stream_printf(st, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    else
        cc_stream_printf(st, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n"
                             "Connection: close\r\n\r\n", n);
    while (n > 0) {
        size_t k = n > sizeof(chunk) ? sizeof(chunk) : (size_t)n;

        if (cc_stream_write(st, chunk, k) != 0 ||
            cc_stream_drain(st, 30) != 0)
            break; /* the client went away */
        n -= k;
    }
    return 0;
}

/* Start that server on a free port of 127.0.0.1 (a thread per client). */
static cc_server *bytes_server(int *port)
{
    cc_serve_opts o;
    cc_server *srv;

    memset(&o, 0, sizeof(o));
    o.mode = CC_SERVE_THREADS;
    srv = cc_serve("127.0.0.1", 0, serve_bytes, NULL, &o);
    if (srv == NULL)
        fail_msg("cc_serve: %s", cc_errmsg());
    *port = cc_server_port(srv);
    return srv;
}

/* "http://127.0.0.1:port/path" in a static buffer per slot (0..7). */
static const char *bytes_url(int port, int slot, const char *path)
{
    static char bufs[8][128];

    snprintf(bufs[slot], sizeof(bufs[slot]), "http://127.0.0.1:%d%s", port,
             path);
    return bufs[slot];
}

/* A body larger than --max-size fails that URL with a message saying so;
 * the URLs beside it go on; the limit is the exact byte count, with k as
 * 1024 (and M, G). */
static void test_max_size_fails_only_the_big_body(void **state)
{
    int port;
    cc_server *srv = bytes_server(&port);
    tool_run r;

    (void)state;
    tool(&r, NULL, "fetch", "-m", "sync", "--max-size", "1k",
         bytes_url(port, 0, "/bytes/1024"), bytes_url(port, 1, "/bytes/1025"),
         bytes_url(port, 2, "/bytes/10"));
    assert_status(&r, 1);
    assert_output_has(&r, "3 URLs: 2 ok, 1 failed");
    assert_output_has(&r, "/bytes/1025  (EMSGSIZE: ");
    assert_output_has(&r, "larger than --max-size (1024 bytes)");
    assert_output_lacks(&r, "/bytes/1024  (EMSGSIZE");
    tool_free(&r);
    tool(&r, NULL, "fetch", "-s", "2M", bytes_url(port, 0, "/bytes/2097152"));
    assert_status(&r, 0);
    tool_free(&r);
    tool(&r, NULL, "fetch", "-s", "2M", bytes_url(port, 0, "/bytes/2097153"));
    assert_status(&r, 1);
    assert_output_has(&r, "larger than --max-size (2097152 bytes)");
    tool_free(&r);
    cc_server_close(srv, 1);
    cc_server_free(srv);
}

/* A server that sends a body without end: every model stops at the
 * limit and fails that URL alone (it once grew to 1.8 GB in 10 s). */
static void test_max_size_stops_an_endless_body(void **state)
{
    static const char *const modes[] = {"sync", "threads", "processes",
                                        "async"};
    int port;
    cc_server *srv = bytes_server(&port);
    tool_run r;

    (void)state;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        tool(&r, NULL, "fetch", "-q", "-m", modes[m], "--max-size", "1M",
             bytes_url(port, 0, "/forever"), bytes_url(port, 1, "/bytes/100"));
        assert_status(&r, 1);
        assert_output_has(&r, "2 URLs: 1 ok, 1 failed");
        assert_output_has(&r, "/forever  (EMSGSIZE: ");
        assert_output_has(&r, "larger than --max-size (1048576 bytes)");
        tool_free(&r);
    }
    cc_server_close(srv, 1);
    cc_server_free(srv);
}

/* Without --max-size the limit is 16 MiB: a body of exactly that passes,
 * one byte more fails, and so does an endless one. */
static void test_default_max_size_is_16M(void **state)
{
    int port;
    cc_server *srv = bytes_server(&port);
    tool_run r;

    (void)state;
    tool(&r, NULL, "fetch", "-q", "-m", "threads",
         bytes_url(port, 0, "/bytes/16777216"),
         bytes_url(port, 1, "/bytes/16777217"),
         bytes_url(port, 2, "/forever"));
    assert_status(&r, 1);
    assert_output_has(&r, "3 URLs: 1 ok, 2 failed");
    assert_output_has(&r, "/bytes/16777217  (EMSGSIZE: ");
    assert_output_has(&r, "/forever  (EMSGSIZE: ");
    assert_output_has(&r, "larger than --max-size (16777216 bytes)");
    tool_free(&r);
    cc_server_close(srv, 1);
    cc_server_free(srv);
}

/* README.md's copy of `concur fetch --help` is the help, line for line. */
static void test_readme_has_the_help_text(void **state)
{
    FILE *f = fopen(CONCUR_README, "r");
    char *readme;
    long len;
    tool_run r;

    (void)state;
    assert_non_null(f);
    assert_ok(fseek(f, 0, SEEK_END));
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    readme = malloc((size_t)len + 1);
    assert_non_null(readme);
    assert_int_equal(fread(readme, 1, (size_t)len, f), (size_t)len);
    readme[len] = '\0';
    fclose(f);
    tool(&r, NULL, "fetch", "--help");
    assert_status(&r, 0);
    if (strstr(readme, r.out) == NULL)
        fail_msg("README.md lacks this `concur fetch --help` text:\n%s",
                 r.out);
    tool_free(&r);
    free(readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_mode_fetches_all),
        cmocka_unit_test(test_grep_finds_whole_words),
        cmocka_unit_test(test_retries_get_past_429),
        cmocka_unit_test(test_retries_get_past_500),
        cmocka_unit_test(test_timeout_fails_the_url),
        cmocka_unit_test(test_rate_spaces_requests),
        cmocka_unit_test(test_bad_url_exits_2_fetching_nothing),
        cmocka_unit_test(test_scheme_in_capitals_is_fetched),
        cmocka_unit_test(test_bad_options_exit_2),
        cmocka_unit_test(test_failed_url_exits_1),
        cmocka_unit_test(test_file_input),
        cmocka_unit_test(test_max_size_fails_only_the_big_body),
        cmocka_unit_test(test_max_size_stops_an_endless_body),
        cmocka_unit_test(test_default_max_size_is_16M),
        cmocka_unit_test(test_readme_has_the_help_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
