/*
 * fuzz_service.c - libFuzzer harness for the local service's request
 * handling (tools/service/conn.c and head.c: svc_head_scan, the
 * http-parser callbacks, the routes): raw bytes sent to a running
 * service over a real connection.
 *
 * The service is started once (no latency, no errors, no rate limit; small
 * header and body limits so that those paths are reached).  Each input is
 * one connection: the first byte picks where the rest is cut in two, the
 * two pieces are sent with a pause between them (a head split across
 * reads), then the client shuts down its side and reads until the service
 * closes.  Checks: the service answers with nothing or with bytes that
 * begin "HTTP/1.1 " and a three-digit status, closes the connection within
 * a hang bound (it must not wait for more after the client's end), and
 * still accepts the next connection; ASan, UBSan and the service's own
 * SVC_ASSERTs check the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "service.h"

static svc *service;

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k < 0) {
            /* The service may answer and close before it has it all. */
            CHECK(errno == EPIPE || errno == ECONNRESET);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval hang = {.tv_sec = 20};
    char head[16];
    size_t got = 0;
    size_t cut;
    int fd;

    if (service == NULL) {
        svc_opts o = {.seed = 1, .max_header_bytes = 1024,
                      .max_body_bytes = 4096, .read_timeout = 5};

        service = svc_start(&o);
        CHECK(service != NULL);
    }
    if (size < 1)
        return 0;
    cut = data[0] < size - 1 ? data[0] : size - 1;
    data++;
    size--;

    sa.sin_port = htons((uint16_t)svc_port(service));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &hang, sizeof(hang)) == 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    send_all(fd, data, cut);
    if (cut > 0 && cut < size)
        nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
    send_all(fd, data + cut, size - cut);
    shutdown(fd, SHUT_WR);
    for (;;) {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n < 0 && errno == ECONNRESET)
            break; /* closed with our bytes unread: the answer may be cut */
        CHECK(n >= 0); /* EAGAIN: no close within the hang bound */
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n && got < sizeof(head); i++)
            head[got++] = buf[i];
    }
    CHECK(close(fd) == 0);
    if (got >= 12) {
        CHECK(memcmp(head, "HTTP/1.1 ", 9) == 0);
        for (int i = 9; i < 12; i++)
            CHECK(head[i] >= '0' && head[i] <= '9');
    }
    return 0;
}
