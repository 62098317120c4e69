/* The W5 (TCP echo) load client the peers' echo servers are measured with,
 * unchanged below this comment, so that bench_echo drives concur's server
 * and the peers (bench/peers/w5_echo/) with the very same client. */
/* W5 load client (one binary for every echo server).
 * usage: client PORT [CONNS=100] [ROUNDS=2000] [SIZE=64] [TIMEOUT_S=60]
 * Opens CONNS TCP connections to 127.0.0.1:PORT (TCP_NODELAY), then on each
 * connection does ROUNDS request/response round trips of SIZE bytes: write
 * SIZE bytes, read until SIZE bytes came back (checked byte for byte), repeat.
 * All connections run concurrently from one thread with epoll. The whole run
 * is bounded by TIMEOUT_S; exit status 2 on timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int rounds_done;
    int got;
    unsigned char msg[256];
    unsigned char buf[256];
} conn_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int size;

static int send_msg(conn_t *c) {
    for (int i = 0; i < size; i++) c->msg[i] = (unsigned char)(c->rounds_done * 31 + i + c->fd);
    c->got = 0;
    ssize_t w = write(c->fd, c->msg, size); /* 64 bytes always fit the socket buffer */
    return w == size ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: client PORT [CONNS ROUNDS SIZE TIMEOUT]\n"); return 1; }
    int port = atoi(argv[1]);
    int nconn = argc > 2 ? atoi(argv[2]) : 100;
    int rounds = argc > 3 ? atoi(argv[3]) : 2000;
    size = argc > 4 ? atoi(argv[4]) : 64;
    double timeout = argc > 5 ? atof(argv[5]) : 60.0;
    if (size > 256) size = 256;
    printf("INFO conns %d\nINFO rounds_per_conn %d\nINFO msg_bytes %d\n", nconn, rounds, size);

    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conn_t *cs = calloc(nconn, sizeof(conn_t));
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    double t0 = now();
    for (int i = 0; i < nconn; i++)
        if (send_msg(&cs[i])) { perror("write"); return 1; }
    int active = nconn;
    long total = 0;
    struct epoll_event evs[256];
    while (active > 0) {
        if (now() - t0 > timeout) {
            fprintf(stderr, "timeout after %.0f s: %ld round trips done\n", timeout, total);
            return 2;
        }
        int k = epoll_wait(ep, evs, 256, 1000);
        if (k < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int e = 0; e < k; e++) {
            conn_t *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->got, size - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) { fprintf(stderr, "server closed/failed: %s\n", r ? strerror(errno) : "EOF"); return 1; }
            c->got += r;
            if (c->got < size) continue;
            if (memcmp(c->buf, c->msg, size) != 0) { fprintf(stderr, "echo mismatch\n"); return 1; }
            c->rounds_done++;
            total++;
            if (c->rounds_done == rounds) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                active--;
            } else if (send_msg(c)) { perror("write"); return 1; }
        }
    }
    double dt = now() - t0;
    printf("RESULT rt_per_s %.9g 1/s\nRESULT wall_s %.9g s\nINFO round_trips %ld\n", total / dt, dt, total);
    return 0;
}
