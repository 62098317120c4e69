/*
 * bench_http.c - W6, the HTTP client workload: N GETs of /rates?base=XXX
 * (XXX = ten currencies in turn), at most C in flight, against a local
 * server that answers each after 20 ms (the peers' Go net/http server,
 * bench/peers/w6_http/go_server, run here in a process of its own).  The
 * peers' clients are in bench/peers/w6_http/.
 *
 *   bench_http tasks   [-n N] [-c C] -- SERVER [ARGS...]
 *                 one loop, C tasks pulling URLs from a shared counter,
 *                 each with cc_http_get (the loop's curl multi)
 *   bench_http threads [-n N] [-c C] -- SERVER [ARGS...]
 *                 C threads pulling from an atomic counter, each with its
 *                 thread-local session (curl_easy_perform)
 *   bench_http peer    [-n N] -- SERVER [ARGS...] -- CLIENT [ARGS...]
 *                 the same for a peer's client (CLIENT ARGS PORT N): its
 *                 RESULT lines, plus client_cpu_us_per_req
 *
 * SERVER ARGS PORT is started on a free port and stopped at the end.
 * RESULT wall_s (primary), req_per_s, client_cpu_s (getrusage of this
 * process: the server is another one), client_cpu_us_per_req; INFO
 * new_connections (from the server's /stats).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "bench_util.h"

extern char **environ;

static const char *const CUR[10] = {"USD", "EUR", "JPY", "GBP", "AUD",
                                    "CAD", "CHF", "CNY", "SEK", "NZD"};
static int port;
static long total = 2000;
static int inflight = 100;
static _Atomic long next_req;
static _Atomic long failed;

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------ the server */

/* SERVER ARGS PORT on a free port, once it accepts; -1 on failure. */
static pid_t server_start(char **server, int nserver)
{
    char a_port[16];
    char *argv[32];
    pid_t pid;
    int i;

    port = bench_free_port();
    if (port < 0 || nserver + 2 > 32)
        return -1;
    snprintf(a_port, sizeof(a_port), "%d", port);
    for (i = 0; i < nserver; i++)
        argv[i] = server[i];
    argv[i++] = a_port;
    argv[i] = NULL;
    pid = bench_spawn(argv, BENCH_INHERIT);
    for (i = 0; pid > 0 && i < 1000 && !bench_port_open(port); i++)
        bench_sleep_ms(10);
    if (pid > 0 && i == 1000) {
        fprintf(stderr, "bench_http: the server did not listen\n");
        bench_stop(pid);
        return -1;
    }
    return pid;
}

/* The server's count of accepted connections (its /stats), or -1. */
static long server_connections(void)
{
    char url[128];
    cc_http_response *r;
    long n = -1;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", port);
    r = cc_http_get(url, 10);
    if (r != NULL && cc_http_status(r) == 200)
        sscanf(cc_http_body(r), "{\"connections\":%ld}", &n);
    cc_http_response_free(r);
    cc_http_thread_cleanup(); /* its connection is not the benchmark's */
    return n;
}

/* ------------------------------------------------------ the clients */

/* Take URLs until none is left; count failures. */
static void *fetcher(void *arg)
{
    char url[128];
    long i;

    (void)arg;
    while ((i = atomic_fetch_add(&next_req, 1)) < total) {
        cc_http_response *r;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/rates?base=%s", port,
                 CUR[i % 10]);
        r = cc_http_get(url, 30);
        if (r == NULL || cc_http_status(r) != 200 || cc_http_body_len(r) == 0) {
            if (atomic_fetch_add(&failed, 1) == 0)
                fprintf(stderr, "bench_http: %s\n",
                        r == NULL ? cc_errmsg() : "bad answer");
        }
        cc_http_response_free(r);
    }
    return arg;
}

static void *tasks_main(void *arg)
{
    cc_future **f = calloc((size_t)inflight, sizeof(*f));

    (void)arg;
    for (int i = 0; i < inflight; i++)
        f[i] = cc_spawn(fetcher, NULL);
    for (int i = 0; i < inflight; i++) {
        cc_future_result(f[i], NULL, CC_FOREVER);
        cc_future_free(f[i]);
    }
    free(f);
    return NULL;
}

static void run_threads(void)
{
    cc_thread **t = calloc((size_t)inflight, sizeof(*t));

    for (int i = 0; i < inflight; i++) {
        t[i] = cc_thread_start(fetcher, NULL, "fetch");
        if (t[i] == NULL) {
            fprintf(stderr, "bench_http: thread: %s\n", cc_errmsg());
            exit(1);
        }
    }
    for (int i = 0; i < inflight; i++) {
        cc_thread_join(t[i], NULL, CC_FOREVER);
        cc_thread_free(t[i]);
    }
    free(t);
}

static void report(double wall, double cpu, long conns)
{
    BENCH_RESULT("wall_s", wall, "s");
    BENCH_RESULT("req_per_s", (double)total / wall, "1/s");
    BENCH_RESULT("client_cpu_s", cpu, "s");
    BENCH_RESULT("client_cpu_us_per_req", cpu * 1e6 / (double)total, "us");
    if (conns >= 0)
        BENCH_INFO("new_connections", "%ld", conns);
}

/* A peer's client: CLIENT ARGS PORT N, its output passed on, with the CPU
 * per request worked out from its client_cpu_s. */
static int run_peer(char **client, int nclient)
{
    char a_port[16];
    char a_n[24];
    char *argv[32];
    char out[8192];
    size_t len = 0;
    ssize_t got;
    int fds[2];
    int status;
    double cpu = -1;
    pid_t pid;
    int i;

    if (nclient + 3 > 32 || pipe(fds) != 0)
        return -1;
    snprintf(a_port, sizeof(a_port), "%d", port);
    snprintf(a_n, sizeof(a_n), "%ld", total);
    for (i = 0; i < nclient; i++)
        argv[i] = client[i];
    argv[i++] = a_port;
    argv[i++] = a_n;
    argv[i] = NULL;
    pid = bench_spawn(argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    while ((got = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)got;
    close(fds[0]);
    out[len] = '\0';
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_http: the client failed:\n%s", out);
        return -1;
    }
    fputs(out, stdout);
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        sscanf(line, "RESULT client_cpu_s %lf", &cpu);
    if (cpu >= 0)
        BENCH_RESULT("client_cpu_us_per_req", cpu * 1e6 / (double)total, "us");
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_http tasks|threads [-n N] [-c C] -- SERVER [ARGS...]\n"
            "       bench_http peer [-n N] -- SERVER [ARGS...] -- CLIENT [ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *mode;
    char **server;
    char **client = NULL;
    int nserver;
    int nclient = 0;
    long c0;
    double t0;
    double cpu0;
    pid_t srv;
    int i;
    int rc = 0;

    if (argc < 4)
        return usage();
    mode = argv[1];
    for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            total = atol(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            inflight = atoi(argv[++i]);
        else
            return usage();
    }
    if (i >= argc - 1 || total <= 0 || inflight <= 0)
        return usage();
    server = argv + i + 1;
    for (nserver = 0; server[nserver] != NULL && strcmp(server[nserver], "--");
         nserver++)
        ;
    if (server[nserver] != NULL) {
        client = server + nserver + 1;
        for (; client[nclient] != NULL; nclient++)
            ;
    }
    if (strcmp(mode, "peer") == 0 ? nclient == 0
                                  : (strcmp(mode, "tasks") != 0 &&
                                     strcmp(mode, "threads") != 0) ||
                                        nclient != 0)
        return usage();

    signal(SIGPIPE, SIG_IGN);
    srv = server_start(server, nserver);
    if (srv < 0)
        return 1;
    c0 = server_connections();
    BENCH_INFO("requests", "%ld", total);
    BENCH_INFO("in_flight", "%d", inflight);
    if (strcmp(mode, "peer") == 0) {
        rc = run_peer(client, nclient) == 0 ? 0 : 1;
        if (rc == 0 && c0 >= 0)
            BENCH_INFO("new_connections", "%ld", server_connections() - c0 - 1);
    } else {
        double wall;
        double cpu;

        t0 = cc_now();
        cpu0 = cpu_s();
        if (strcmp(mode, "tasks") == 0)
            bench_check(cc_run(tasks_main, NULL, NULL), "cc_run");
        else
            run_threads();
        wall = cc_now() - t0;
        cpu = cpu_s() - cpu0;
        if (atomic_load(&failed) > 0) {
            fprintf(stderr, "bench_http: %ld requests failed\n",
                    atomic_load(&failed));
            rc = 1;
        } else {
            long c1 = server_connections();

            report(wall, cpu, c0 >= 0 && c1 >= 0 ? c1 - c0 - 1 : -1);
        }
    }
    bench_stop(srv);
    return rc;
}
