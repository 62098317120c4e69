/*
 * cli_util.h - running the built `concur` binary from a test: its exit
 * status, what it printed (stdout and stderr together), how long it took;
 * and a local service (tools/service) started in the test with the knobs
 * a case needs.
 */
#ifndef CONCUR_TESTS_CLI_UTIL_H
#define CONCUR_TESTS_CLI_UTIL_H

#include "test_util.h"
#include "../../tools/service/service.h"

#ifndef CONCUR_TOOL
#error "CONCUR_TOOL must name the concur binary"
#endif

/* One run of the tool. */
typedef struct tool_run {
    int status;      /* exit status (-signal when killed) */
    char *out;       /* stdout and stderr, interleaved (a blob) */
    double seconds;  /* wall time */
} tool_run;

/* Run `concur args...` (NULL-terminated), feeding it `input` (NULL: none)
 * on stdin; fails the test when it cannot run or takes over 120 s. */
static inline void tool_exec(tool_run *r, const char *input,
                             const char *const *args)
{
    const char *argv[64];
    cc_run_opts o;
    cc_completed c;
    size_t n = 0;
    double start;

    argv[n++] = CONCUR_TOOL;
    while (args[n - 1] != NULL && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    memset(&o, 0, sizeof(o));
    o.capture_output = true;
    o.stderr_to_stdout = true;
    o.input = input != NULL ? input : "";
    o.input_len = input != NULL ? strlen(input) : 0;
    o.timeout = 120 * TU_SLOW;
    start = cc_now();
    if (cc_subprocess_run(argv, &o, &c) != 0)
        fail_msg("cannot run %s: %s", CONCUR_TOOL, cc_errmsg());
    r->seconds = cc_now() - start;
    r->status = c.returncode;
    r->out = c.out;
    c.out = NULL;
    cc_completed_free(&c);
}

/* tool(&r, input, "fetch", "-m", "sync", url, NULL) */
#define tool(r, input, ...)                                                \
    tool_exec((r), (input), (const char *const[]){__VA_ARGS__, NULL})

static inline void tool_free(tool_run *r)
{
    cc_blob_free(r->out);
    r->out = NULL;
}

/* The output must (or must not) contain text; prints it when not. */
#define assert_output_has(r, text)                                         \
    do {                                                                   \
        if (strstr((r)->out, (text)) == NULL)                              \
            fail_msg("output lacks \"%s\":\n%s", (text), (r)->out);        \
    } while (0)
#define assert_output_lacks(r, text)                                       \
    do {                                                                   \
        if (strstr((r)->out, (text)) != NULL)                              \
            fail_msg("output has \"%s\":\n%s", (text), (r)->out);          \
    } while (0)
#define assert_status(r, code)                                             \
    do {                                                                   \
        if ((r)->status != (code))                                         \
            fail_msg("exit status %d, not %d; output:\n%s", (r)->status,   \
                     (code), (r)->out);                                    \
    } while (0)

/* A local service with these knobs (fixed seed), or the test fails. */
static inline svc *tool_service(double latency, double error_rate,
                                double rate_limit)
{
    svc_opts so;
    svc *s;

    memset(&so, 0, sizeof(so));
    so.latency_min = so.latency_max = latency;
    so.error_rate = error_rate;
    so.rate_limit = rate_limit;
    so.seed = 4242;
    s = svc_start(&so);
    if (s == NULL)
        fail_msg("svc_start: %s", cc_errmsg());
    return s;
}

/* "base + path" in a static buffer of its own per slot (0..15). */
static inline const char *tool_url(svc *s, int slot, const char *path)
{
    static char bufs[16][256];
    snprintf(bufs[slot], sizeof(bufs[slot]), "%s%s", svc_url(s), path);
    return bufs[slot];
}

#endif
