/*
 * server.c - the life of the local service: svc_start (a thread of its own
 * running one event loop, cc_serve in TASKS mode on it), svc_stop, and the
 * knobs' state (random draws, latency, the rate limit), which only tasks
 * of that loop touch.
 *
 * Start-up handshake: svc_start waits on `ready`; the loop's main task
 * sets it once it listens (or failed).  Stop: svc_stop first has the loop
 * run stop_idle (connections waiting for a next request are cancelled at
 * once, the others close after the answer in progress), then closes the
 * server from its own thread (cc_server_close may be called from any
 * thread while the loop runs) with a grace of a second for those answers;
 * the main task, waiting in cc_server_wait, wakes, frees the server on its
 * loop and returns, which ends cc_run and the thread.
 *
 * The server accepts up to SHED_SLOTS connections past max_connections,
 * so that those beyond the service's own budget get a 503 (conn.c,
 * budget.c) instead of a place in the backlog that nobody serves.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_internal.h"

/* Connections beyond max_connections that the server still accepts, to
 * shed them with a 503 (conn.c) rather than leave them waiting in the
 * backlog; past these, accepting waits as before. */
#define SHED_SLOTS 1024
#define MAX_CONNECTIONS 1000000 /* the most max_connections may be */

/* ------------------------------------------------------------- knobs */

/* splitmix64: small, fast, and good enough for coin flips. */
static uint64_t next_u64(svc *s)
{
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double svc_random(svc *s)
{
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

double svc_latency(svc *s)
{
    double lo = s->o.latency_min;
    double hi = s->o.latency_max;

    if (hi <= lo)
        return lo;
    return lo + (hi - lo) * svc_random(s);
}

/* A token bucket holding at most `rate_limit` tokens (at least one), filled
 * at rate_limit per second, full at start: a burst of N passes, then N per
 * second. */
bool svc_admit(svc *s)
{
    double rate = s->o.rate_limit;
    double cap = rate < 1 ? 1 : rate;
    double now;

    if (rate <= 0)
        return true;
    now = cc_now();
    s->tokens += (now - s->tokens_at) * rate;
    if (s->tokens > cap)
        s->tokens = cap;
    s->tokens_at = now;
    if (s->tokens < 1)
        return false;
    s->tokens -= 1;
    return true;
}

/* ------------------------------------------------------- the loop */

/* Handlers report nothing: a client that goes away is not an error. */
static void quiet(cc_server *srv, const char *peer, const cc_error *err,
                  void *arg)
{
    (void)srv;
    (void)peer;
    (void)err;
    (void)arg;
}

/* The loop's main task: listen, tell svc_start, serve until closed. */
static void *svc_loop_main(void *arg)
{
    svc *s = arg;
    cc_serve_opts so = {0};
    cc_server *srv;

    so.mode = CC_SERVE_TASKS;
    so.backlog = 4096;           /* wrk opens 1,000 connections at once */
    so.max_connections = s->o.max_connections + SHED_SLOTS;
    so.flush_timeout = s->o.read_timeout;
    so.on_error = quiet;
    srv = cc_serve(s->host, s->o.port, svc_connection, s, &so);
    if (srv == NULL) {
        s->start_err = errno;
        snprintf(s->start_msg, sizeof(s->start_msg), "%s", cc_errmsg());
        cc_event_set(s->ready);
        return NULL;
    }
    s->port = cc_server_port(srv);
    s->srv = srv;
    s->loop = cc_loop_current();
    cc_event_set(s->ready);
    /* Ended by svc_stop's cc_server_close: nothing else can fail here but
     * a cancellation of this task (SIGINT in cc_run), which closes too. */
    if (cc_server_wait(srv, CC_FOREVER) != 0)
        cc_server_close(srv, 0);
    cc_server_free(srv);
    return s;
}

static void *svc_thread(void *arg)
{
    svc *s = arg;

    if (cc_run(svc_loop_main, s, NULL) != 0 && s->start_err == 0) {
        /* The loop itself could not start: tell svc_start. */
        s->start_err = errno;
        snprintf(s->start_msg, sizeof(s->start_msg), "%s", cc_errmsg());
        cc_event_set(s->ready);
    }
    return s;
}

/* Fill in the defaults and check the knobs.  0, or -1 recorded. */
static int check_opts(svc_opts *o)
{
    if (o->host == NULL || o->host[0] == '\0')
        o->host = "127.0.0.1";
    if (strlen(o->host) >= 64)
        return cc_fail(EINVAL, "serve: host name too long"), -1;
    if (o->port < 0 || o->port > 65535)
        return cc_fail(EINVAL, "serve: port %d out of range", o->port), -1;
    if (!(o->latency_min >= 0) || !(o->latency_max >= 0) ||
        !isfinite(o->latency_min) || !isfinite(o->latency_max))
        return cc_fail(EINVAL, "serve: latency must be >= 0 seconds"), -1;
    if (o->latency_max < o->latency_min)
        o->latency_max = o->latency_min;
    if (!(o->error_rate >= 0 && o->error_rate <= 1))
        return cc_fail(EINVAL, "serve: error rate must be in 0..1"), -1;
    if (!(o->rate_limit >= 0) || !isfinite(o->rate_limit))
        return cc_fail(EINVAL, "serve: rate limit must be >= 0"), -1;
    if (o->max_connections < 0 || o->max_connections > MAX_CONNECTIONS)
        return cc_fail(EINVAL, "serve: max_connections must be in 0..%d",
                       MAX_CONNECTIONS), -1;
    if (!(o->read_timeout >= 0) || !isfinite(o->read_timeout))
        return cc_fail(EINVAL, "serve: read timeout must be >= 0"), -1;
    if (o->max_connections == 0)
        o->max_connections = 10000;
    if (o->read_timeout == 0)
        o->read_timeout = 10;
    if (o->max_header_bytes == 0)
        o->max_header_bytes = 16 * 1024;
    if (o->max_body_bytes == 0)
        o->max_body_bytes = 1024 * 1024;
    if (o->max_memory == 0)
        o->max_memory = (size_t)256 << 20;
    if (o->max_memory < o->max_body_bytes)
        return cc_fail(EINVAL, "serve: max_memory (%zu) must hold a body of "
                               "max_body_bytes (%zu)", o->max_memory,
                       o->max_body_bytes), -1;
    return 0;
}

static void svc_free(svc *s)
{
    if (s == NULL)
        return;
    svc_rates_free(s->rates_json);
    free(s->jython);
    cc_event_free(s->ready);
    free(s);
}

svc *svc_start(const svc_opts *opts)
{
    svc_opts zero = {0};
    svc *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return cc_fail(ENOMEM, "serve: out of memory");
    s->o = opts != NULL ? *opts : zero;
    if (check_opts(&s->o) != 0) {
        int e = errno;

        free(s);
        errno = e;
        return NULL;
    }
    snprintf(s->host, sizeof(s->host), "%s", s->o.host);
    s->o.host = s->host;
    s->rng = s->o.seed != 0 ? s->o.seed
                            : (uint64_t)time(NULL) ^ (uint64_t)(cc_now() * 1e9);
    s->tokens = s->o.rate_limit < 1 ? 1 : s->o.rate_limit;
    s->tokens_at = cc_now();
    s->rates_json = svc_rates_bodies();
    s->jython = svc_jython_page(&s->jython_len);
    s->ready = cc_event_new();
    if (s->rates_json == NULL || s->jython == NULL || s->ready == NULL) {
        svc_free(s);
        return cc_fail(ENOMEM, "serve: out of memory");
    }
    s->thread = cc_thread_start(svc_thread, s, "concur-serve");
    if (s->thread == NULL) {
        cc_error *cause = cc_error_copy(cc_last_error());
        int e = errno;

        svc_free(s);
        cc_fail_from(cause, e, "serve: cannot start the service thread");
        cc_error_free(cause);
        return NULL;
    }
    cc_event_wait(s->ready, CC_FOREVER);
    if (s->start_err != 0) {
        int e = s->start_err;
        char msg[sizeof(s->start_msg)];

        memcpy(msg, s->start_msg, sizeof(msg));
        cc_thread_join(s->thread, NULL, CC_FOREVER);
        cc_thread_free(s->thread);
        svc_free(s);
        return cc_fail(e, "serve: %s", msg);
    }
    {
        /* A wildcard address is reached through the loopback. */
        const char *h = strcmp(s->host, "0.0.0.0") == 0 ? "127.0.0.1"
                        : strcmp(s->host, "::") == 0    ? "::1"
                                                        : s->host;
        bool v6 = strchr(h, ':') != NULL;

        snprintf(s->url, sizeof(s->url), "http://%s%s%s:%d", v6 ? "[" : "",
                 h, v6 ? "]" : "", s->port);
    }
    return s;
}

int svc_port(const svc *s)
{
    return s == NULL ? 0 : s->port;
}

const char *svc_url(const svc *s)
{
    return s == NULL ? "" : s->url;
}

unsigned long svc_requests(const svc *s)
{
    return s == NULL ? 0 : __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
}

/* On the loop, at svc_stop: no connection starts a new request, and those
 * parked waiting for one (idle keep-alive clients) end now rather than at
 * the end of the grace.  An idle connection has nothing unsent, so its
 * cancellation loses nothing. */
static void stop_idle(void *arg)
{
    svc *s = arg;

    s->stopping = true;
    for (svc_link *l = s->conns; l != NULL; l = l->next)
        if (l->idle)
            cc_future_cancel(l->task);
}

void svc_stop(svc *s)
{
    if (s == NULL)
        return;
    /* If the loop cannot take the call (no memory), the grace below still
     * ends every connection, a second later. */
    (void)cc_loop_call_soon_threadsafe(s->loop, stop_idle, s);
    cc_server_close(s->srv, 1.0);
    cc_thread_join(s->thread, NULL, CC_FOREVER);
    cc_thread_free(s->thread);
    svc_free(s);
}
