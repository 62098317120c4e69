/*
 * echo_server_client - a server that sends every line back and a client
 * that sends it a few lines and prints the answers: the echo pair of
 * asyncio's streams documentation, from threads or from tasks.
 *
 *   --style threads   cc_serve from main (a thread per connection), the
 *                     client in main's thread
 *   --style async     cc_serve inside cc_run (a task per connection), the
 *                     client in the main task of the same loop
 *
 * The handler and the client are the same functions in both styles.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/aio.h"
#include "concur/net.h"

/* Seconds any one exchange may take. */
#define TIMEOUT 10.0

static const char *const MESSAGES[] = {
    "Hello, World!",
    "one stream API",
    "for threads and coroutines alike",
};

/* What the server counts, shared by its handlers. */
struct echo_server {
    atomic_uint connections; /* connections served so far */
};

/* Record a failure caused by the call that just failed (its code kept). */
#define FAIL_FROM_LAST(...)                                             \
    cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()), __VA_ARGS__)

/*
 * echo - the connection handler: read lines and write each one back until
 * the client closes.  Returns 0, or -1 after cc_fail.
 */
static int echo(cc_stream *s, void *arg)
{
    struct echo_server *srv = arg;
    char peer[80];

    atomic_fetch_add(&srv->connections, 1u);
    if (cc_stream_peername(s, peer, sizeof(peer)) != 0)
        strcpy(peer, "?");
    for (;;) {
        char *line = cc_stream_readline(s, TIMEOUT);
        size_t len;
        int rc;

        if (line == NULL) {
            FAIL_FROM_LAST("echo: reading from %s", peer);
            return -1;
        }
        len = cc_blob_len(line);
        if (len == 0) {
            cc_blob_free(line);
            printf("server: %s closed the connection\n", peer);
            return 0;
        }
        printf("server: received '%.*s' from %s\n",
               (int)len - (line[len - 1] == '\n'), line, peer);
        rc = cc_stream_write(s, line, len);
        cc_blob_free(line);
        if (rc != 0 || cc_stream_drain(s, TIMEOUT) != 0) {
            FAIL_FROM_LAST("echo: writing to %s", peer);
            return -1;
        }
    }
}

/*
 * run_client - send each message as a line and print the line that comes
 * back.  A cc_fn: called from main's thread or as a task.  Returns its
 * argument, or NULL after cc_fail.
 */
static void *run_client(void *arg)
{
    int port = *(int *)arg;
    cc_stream *s = cc_open_connection("127.0.0.1", port, TIMEOUT);

    if (s == NULL)
        return FAIL_FROM_LAST("client: cannot connect");
    for (size_t i = 0; i < sizeof(MESSAGES) / sizeof(MESSAGES[0]); i++) {
        char *reply;
        size_t len;

        printf("client: send '%s'\n", MESSAGES[i]);
        if (cc_stream_printf(s, "%s\n", MESSAGES[i]) != 0) {
            FAIL_FROM_LAST("client: send");
            goto err_free;
        }
        reply = cc_stream_readline(s, TIMEOUT);
        if (reply == NULL) {
            FAIL_FROM_LAST("client: receive");
            goto err_free;
        }
        len = cc_blob_len(reply);
        if (len == 0 || reply[len - 1] != '\n') {
            cc_blob_free(reply);
            cc_fail(ENODATA, "client: the server hung up");
            goto err_free;
        }
        printf("client: received '%.*s'\n", (int)len - 1, reply);
        cc_blob_free(reply);
    }
    if (cc_stream_close(s, TIMEOUT) != 0) {
        FAIL_FROM_LAST("client: close");
        goto err_free;
    }
    cc_stream_free(s);
    return arg;
err_free:
    cc_stream_free(s);
    return NULL;
}

/*
 * serve_and_talk - start the server (threads or tasks, by `mode`), run the
 * client against it, then close the server: cc_server_close waits for the
 * handler, so its last line is out before "closed" is printed.  Returns 0,
 * or -1 with the error recorded.
 */
static int serve_and_talk(cc_serve_mode mode)
{
    struct echo_server counts = {0};
    cc_serve_opts opts = {.mode = mode};
    cc_server *srv;
    int port;
    int rc = 0;

    srv = cc_serve("127.0.0.1", 0, echo, &counts, &opts);
    if (srv == NULL) {
        FAIL_FROM_LAST("cannot serve");
        return -1;
    }
    port = cc_server_port(srv);
    printf("server: listening on 127.0.0.1:%d, %s\n", port,
           mode == CC_SERVE_TASKS ? "a task per connection"
                                  : "a thread per connection");
    if (run_client(&port) == NULL)
        rc = -1;
    if (cc_server_close(srv, TIMEOUT) != 0 && rc == 0) {
        cc_fail(EBUSY, "the server's handler did not end");
        rc = -1;
    }
    if (rc == 0)
        printf("server: closed after %u connection(s)\n",
               atomic_load(&counts.connections));
    cc_server_free(srv);
    return rc;
}

/* The async style's main task: the same, with the server's tasks on this
 * loop and the client in this task. */
static void *async_main(void *arg)
{
    if (serve_and_talk(CC_SERVE_TASKS) != 0)
        return FAIL_FROM_LAST("echo (async)");
    return arg;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--style threads|async]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    bool async = false;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--style") == 0 &&
        strcmp(argv[2], "async") == 0)
        async = true;
    else if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--style") == 0 &&
                            strcmp(argv[2], "threads") == 0))
        return usage(argv[0]);

    if (async)
        rc = cc_run(async_main, &rc, NULL);
    else
        rc = serve_and_talk(CC_SERVE_THREADS);
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "echo_server_client: ");
        cc_error_print(cc_last_error(), stderr);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
