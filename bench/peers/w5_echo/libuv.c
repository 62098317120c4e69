/* A W5 (TCP echo) reference peer, unchanged below this comment. */
/* W5 tcp-echo server, C libuv (the uvbook echo-server shape: malloc'd read
 * buffer handed to uv_write, freed in the write callback).  usage: libuv PORT */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
} write_req_t;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void close_cb(uv_handle_t *h) { free(h); }

static void write_cb(uv_write_t *req, int status) {
    write_req_t *wr = (write_req_t *)req;
    if (status) fprintf(stderr, "write: %s\n", uv_strerror(status));
    free(wr->buf.base);
    free(wr);
}

static void read_cb(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf) {
    if (nread > 0) {
        write_req_t *wr = malloc(sizeof *wr);
        wr->buf = uv_buf_init(buf->base, nread);
        uv_write(&wr->req, client, &wr->buf, 1, write_cb);
        return;
    }
    if (nread < 0) uv_close((uv_handle_t *)client, close_cb);
    free(buf->base);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) { fprintf(stderr, "accept: %s\n", uv_strerror(status)); return; }
    uv_tcp_t *client = malloc(sizeof *client);
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0) {
        uv_tcp_nodelay(client, 1);
        uv_read_start((uv_stream_t *)client, alloc_cb, read_cb);
    } else {
        uv_close((uv_handle_t *)client, close_cb);
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
