/*
 * scenarios_http.c - fault-injection scenarios for the http layer: GET
 * and POST against a local server made with cc_serve, from a thread and
 * from tasks (whose transfers share the loop's libcurl multi handle).
 * Only the library's own calls are failed; libcurl's are its own.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "scenario.h"

/* A request's whole time.  Shorter than SC_WAIT: when every accept of the
 * server fails (--persistent), the request can only time out, and the
 * server's report of the failing accepts is what must be there.  Still
 * thousands of times what an exchange on this machine takes. */
#define HTTP_WAIT 5.0

/* A tiny HTTP/1.1 server: reads the head, skips a Content-Length body,
 * answers "hello" (or the body's length for a POST) and closes. */
static int http_handler(cc_stream *s, void *arg)
{
    size_t body = 0;
    void *line;
    char answer[32];

    (void)arg;
    for (;;) {
        if ((line = cc_stream_readline(s, SC_WAIT)) == NULL)
            return -1;
        size_t len = cc_blob_len(line);
        if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            char num[32] = {0};

            memcpy(num, (char *)line + 15, len - 15 < 31 ? len - 15 : 31);
            body = (size_t)strtoul(num, NULL, 10);
        }
        cc_blob_free(line);
        if (len <= 2)
            break; /* the empty line (or the end of the stream) */
    }
    if (body > 0) {
        char buf[256];

        if (body > sizeof(buf) ||
            cc_stream_readexactly(s, buf, body, SC_WAIT) != 0)
            return -1;
        snprintf(answer, sizeof(answer), "%zu", body);
    } else {
        snprintf(answer, sizeof(answer), "hello");
    }
    if (cc_stream_printf(s, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                            "Connection: close\r\n\r\n%s",
                         strlen(answer), answer) != 0)
        return -1;
    return cc_stream_drain(s, SC_WAIT);
}

typedef struct http_server {
    cc_server *srv;
    char url[64];
    sc_server_log log;      /* what the server reported */
} http_server;

static int http_start(http_server *h)
{
    cc_serve_opts opts = {.mode = CC_SERVE_THREADS,
                          .on_error = sc_keep_server_error};
    int rc = SC_DONE;

    h->srv = cc_serve("127.0.0.1", 0, http_handler, &h->log, &opts);
    SC_CALL(h->srv != NULL, "cc_serve");
    snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d/x",
             cc_server_port(h->srv));
out:
    return rc;
}

/* A request that failed.  A timeout is fine only when the server
 * reported why it did not answer (its accepts failing, a handler that
 * could not start); any other failure must be reported by the client. */
static int http_failed(http_server *h, const char *what)
{
    if (errno == ETIMEDOUT && atomic_load(&h->log.reported))
        return sc_reported_error("the http server", h->log.code,
                                 h->log.msg);
    return sc_failed(what);
}

/* GET and POST, checking status and body. */
static int http_exchange(http_server *h)
{
    cc_http_response *r = NULL;
    int rc = SC_DONE;

    if ((r = cc_http_get(h->url, HTTP_WAIT)) == NULL)
        return http_failed(h, "cc_http_get");
    SC_EXPECT(cc_http_status(r) == 200 && cc_http_body_len(r) == 5 &&
                  memcmp(cc_http_body(r), "hello", 5) == 0,
              "GET: status %d, %zu bytes", cc_http_status(r),
              cc_http_body_len(r));
    cc_http_response_free(r);
    if ((r = cc_http_post(h->url, "0123456789", 10, "text/plain",
                          HTTP_WAIT)) == NULL)
        return http_failed(h, "cc_http_post");
    SC_EXPECT(cc_http_status(r) == 200 && cc_http_body_len(r) == 2 &&
                  memcmp(cc_http_body(r), "10", 2) == 0,
              "POST: status %d, %zu bytes", cc_http_status(r),
              cc_http_body_len(r));
out:
    cc_http_response_free(r);
    return rc;
}

/* Ends the server; a handler failure that the client did not see (it
 * got its answer) must still have been reported. */
static int http_stop(http_server *h, int rc)
{
    cc_server_free(h->srv);
    cc_http_thread_cleanup();
    if (rc == SC_DONE && atomic_load(&h->log.reported))
        return sc_reported_error("the http server", h->log.code,
                                 h->log.msg);
    return rc;
}

static int http_thread(void)
{
    http_server h = {0};
    int rc = http_start(&h);

    if (rc == SC_DONE)
        rc = http_exchange(&h);
    return http_stop(&h, rc);
}

/* From tasks: two exchanges at once on the loop, each with its slot. */
typedef struct http_slot {
    http_server *h;
    int rc;
} http_slot;

static void *http_one(void *arg)
{
    http_slot *slot = arg;

    slot->rc = http_exchange(slot->h);
    return slot;
}

static void *http_main(void *arg)
{
    http_slot *slots = arg;
    cc_future *fs[2] = {0};
    int rc = SC_DONE;

    for (int i = 0; i < 2; i++)
        SC_CALL((fs[i] = cc_spawn(http_one, &slots[i])) != NULL, "cc_spawn");
    SC_CALL(cc_gather(fs, 2, NULL, true, CC_FOREVER) == 0, "cc_gather");
out:
    for (int i = 0; i < 2; i++)
        cc_future_free(fs[i]);
    if (rc != SC_DONE)
        slots[0].rc = rc;
    return slots;
}

static int http_tasks(void)
{
    http_server h = {0};
    http_slot slots[2] = {{&h, SC_DONE}, {&h, SC_DONE}};
    int rc = http_start(&h);

    if (rc == SC_DONE) {
        if (cc_run(http_main, slots, NULL) != 0)
            rc = sc_failed("cc_run");
        else
            rc = slots[0].rc != SC_DONE ? slots[0].rc : slots[1].rc;
    }
    return http_stop(&h, rc);
}

const scenario sc_http[] = {
    {"http_thread", "GET and POST from a thread against a local server",
     http_thread},
    {"http_tasks", "two GET+POST exchanges at once from tasks", http_tasks},
    {NULL, NULL, NULL},
};
