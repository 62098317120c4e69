/* A W5 (TCP echo) reference peer, unchanged below this comment. */
/* W5 tcp-echo server, C libuv, tuned variant: one 64 KiB read buffer per
 * connection (no malloc per read) and uv_try_write() first; only a partial
 * write falls back to uv_write() with a malloc'd copy of the remainder.
 * usage: libuv_reuse PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BUFSZ 65536

typedef struct {
    uv_tcp_t tcp;
    char buf[BUFSZ];
} conn_t;

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
} write_req_t;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn_t *c = (conn_t *)h;
    *buf = uv_buf_init(c->buf, BUFSZ);
}

static void close_cb(uv_handle_t *h) { free(h); }

static void write_cb(uv_write_t *req, int status) {
    write_req_t *wr = (write_req_t *)req;
    if (status) fprintf(stderr, "write: %s\n", uv_strerror(status));
    free(wr->buf.base);
    free(wr);
}

static void read_cb(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf) {
    if (nread < 0) {
        uv_close((uv_handle_t *)client, close_cb);
        return;
    }
    if (nread == 0) return;
    uv_buf_t b = uv_buf_init(buf->base, nread);
    int w = uv_try_write(client, &b, 1);
    if (w == nread) return;
    if (w < 0) w = 0;
    write_req_t *wr = malloc(sizeof *wr);
    wr->buf = uv_buf_init(malloc(nread - w), nread - w);
    memcpy(wr->buf.base, buf->base + w, nread - w);
    uv_write(&wr->req, client, &wr->buf, 1, write_cb);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) { fprintf(stderr, "accept: %s\n", uv_strerror(status)); return; }
    conn_t *c = malloc(sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    } else {
        uv_close((uv_handle_t *)&c->tcp, close_cb);
    }
}

int main(int argc, char **argv) {
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 7000, &addr);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    int r = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (r) { fprintf(stderr, "listen: %s\n", uv_strerror(r)); return 1; }
    return uv_run(loop, UV_RUN_DEFAULT);
}
