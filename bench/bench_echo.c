/*
 * bench_echo - W5, the TCP echo workload: a TCP echo server under 100
 * connections x 2,000 round trips of 64 bytes, driven by the peers' own
 * load client (bench/peers/w5_echo/client.c, built beside this program as
 * w5_echo_client; the peers' servers are in bench/peers/w5_echo/).  The
 * server runs as a separate process, so its CPU time (utime + stime over
 * the client's run, from /proc/<pid>/stat, all threads) and its peak RSS
 * (VmHWM) are its own, as in the peers' harness.
 *
 *   bench_echo tasks|threads [options]    measure concur's echo server:
 *                 tasks   cc_serve inside cc_run, a task per connection on
 *                         one loop (the main figure)
 *                 threads cc_serve from main, a thread per connection
 *   bench_echo measure [options] -- CMD [ARGS...]
 *                 measure any echo server: CMD ARGS PORT is started
 *   bench_echo serve tasks|threads PORT
 *                 just serve on 127.0.0.1:PORT until SIGTERM or SIGINT
 *
 * options: --reps N (3: medians are printed), --conns N (100), --rounds N
 * (2000), --size N (64), --client PATH (w5_echo_client beside this program).
 * Prints RESULT rt_per_s, server_cpu_us_per_rt, server_peak_rss_kib.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "bench_util.h"
#include "concur/net.h"

extern char **environ;

enum {
    MAX_REPS = 15,
    ECHO_BUF = 64 * 1024, /* one read's worth, per connection (as libuv's) */
};

/* ------------------------------------------------------------ the server */

/* Read what came, write it back, until the client hangs up.  The same
 * handler serves as a task and as a thread. */
static int echo_handler(cc_stream *s, void *arg)
{
    char *buf = malloc(ECHO_BUF);
    int rc = 0;

    (void)arg;
    if (buf == NULL) {
        cc_fail(ENOMEM, "echo: no buffer");
        return -1;
    }
    /* Every peer sets TCP_NODELAY; cc_serve does it on accepted sockets. */
    for (;;) {
        ssize_t n = cc_stream_read(s, buf, ECHO_BUF, CC_FOREVER);

        if (n <= 0) {
            /* 0: the client closed; a reset at the end is no failure. */
            if (n < 0 && errno != ECONNRESET) {
                cc_fail_from(cc_last_error(), errno, "echo: read");
                rc = -1;
            }
            break;
        }
        if (cc_stream_write(s, buf, (size_t)n) != 0 ||
            cc_stream_drain(s, CC_FOREVER) != 0) {
            if (errno != ECONNRESET && errno != EPIPE) {
                cc_fail_from(cc_last_error(), errno, "echo: write");
                rc = -1;
            }
            break;
        }
    }
    free(buf);
    return rc;
}

struct serve_ctx {
    cc_serve_mode mode; /* tasks or threads */
    int port;           /* where to listen */
    int sigfd;          /* signalfd of SIGTERM and SIGINT */
};

/* Serve until a signal arrives on sigfd: from the main task (tasks) or
 * from main's thread (threads) -- the same calls either way. */
static void *serve_until_signal(void *arg)
{
    struct serve_ctx *ctx = arg;
    cc_serve_opts opts = {.mode = ctx->mode, .backlog = 1024};
    cc_server *srv;

    srv = cc_serve("127.0.0.1", ctx->port, echo_handler, NULL, &opts);
    if (srv == NULL)
        return cc_fail_from(cc_last_error(), errno, "serve on port %d",
                            ctx->port);
    printf("INFO listening 127.0.0.1:%d\n", cc_server_port(srv));
    fflush(stdout);
    if (cc_wait_fd(ctx->sigfd, CC_READABLE, CC_FOREVER) < 0) {
        cc_server_free(srv);
        return cc_fail_from(cc_last_error(), errno, "wait for a signal");
    }
    (void)cc_server_close(srv, 0);
    cc_server_free(srv);
    return ctx;
}

static int serve_main(const char *mode, const char *port)
{
    struct serve_ctx ctx;
    sigset_t set;
    int rc;

    if (strcmp(mode, "tasks") == 0)
        ctx.mode = CC_SERVE_TASKS;
    else if (strcmp(mode, "threads") == 0)
        ctx.mode = CC_SERVE_THREADS;
    else
        return 2;
    ctx.port = atoi(port);
    /* Blocked before any thread starts, so that every thread inherits it
     * and the signal stays pending for the signalfd. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ctx.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (ctx.sigfd < 0) {
        perror("signalfd");
        return 1;
    }
    if (ctx.mode == CC_SERVE_TASKS)
        rc = cc_run(serve_until_signal, &ctx, NULL);
    else
        rc = serve_until_signal(&ctx) != NULL ? 0 : -1;
    close(ctx.sigfd);
    if (rc != 0) {
        fprintf(stderr, "bench_echo serve: ");
        cc_error_print(cc_last_error(), stderr);
        return 1;
    }
    return 0;
}

/* ----------------------------------------------------------- the harness */

struct options {
    int reps;           /* runs, each with a fresh server */
    int conns;          /* the client's connections */
    int rounds;         /* round trips per connection */
    int size;           /* bytes per message */
    const char *client; /* the load client */
};

/* One run's figures. */
struct run {
    double rt_per_s;    /* round trips per second, as the client timed them */
    double wall_s;      /* the client's timed section */
    double cpu_s;       /* server CPU during the client's run */
    double cpu_us_rt;   /* the same per round trip, in microseconds */
    double rss_kib;     /* the server's peak RSS */
};

/* Run the client against port; fills rt_per_s, wall_s and *round_trips
 * from its RESULT/INFO lines.  0, or -1 after saying why. */
static int run_client(const struct options *o, int port, struct run *r,
                      long *round_trips)
{
    char a_port[16], a_conns[16], a_rounds[16], a_size[16];
    char *argv[] = {(char *)o->client, a_port, a_conns, a_rounds, a_size,
                    "60", NULL};
    char out[4096];
    size_t len = 0;
    int fds[2];
    int status;
    pid_t pid;
    ssize_t n;

    snprintf(a_port, sizeof(a_port), "%d", port);
    snprintf(a_conns, sizeof(a_conns), "%d", o->conns);
    snprintf(a_rounds, sizeof(a_rounds), "%d", o->rounds);
    snprintf(a_size, sizeof(a_size), "%d", o->size);
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid = bench_spawn(argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    while (len < sizeof(out) - 1 &&
           (n = read(fds[0], out + len, sizeof(out) - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_echo: the client failed (status %d):\n%s",
                status, out);
        return -1;
    }
    r->rt_per_s = r->wall_s = -1;
    *round_trips = -1;
    for (char *line = strtok(out, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        sscanf(line, "RESULT rt_per_s %lf", &r->rt_per_s);
        sscanf(line, "RESULT wall_s %lf", &r->wall_s);
        sscanf(line, "INFO round_trips %ld", round_trips);
    }
    if (r->rt_per_s <= 0 || *round_trips <= 0) {
        fprintf(stderr, "bench_echo: no figures from the client\n");
        return -1;
    }
    return 0;
}

/* One run: start the server (server[] + the port), wait until it accepts,
 * run the client, read the server's CPU and RSS, stop it. */
static int measure_once(const struct options *o, char **server, int nserver,
                        struct run *r)
{
    char a_port[16];
    char *argv[64];
    long round_trips;
    double cpu0;
    double cpu1;
    int status;
    int port = bench_free_port();
    pid_t pid;
    int i;

    if (port < 0 || nserver + 2 > (int)(sizeof(argv) / sizeof(argv[0])))
        return -1;
    snprintf(a_port, sizeof(a_port), "%d", port);
    for (i = 0; i < nserver; i++)
        argv[i] = server[i];
    argv[i++] = a_port;
    argv[i] = NULL;
    pid = bench_spawn(argv, BENCH_DEVNULL);
    if (pid < 0)
        return -1;
    for (i = 0; i < 1000 && !bench_port_open(port); i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_echo: the server %s ended before it "
                    "listened\n", server[0]);
            return -1;
        }
        bench_sleep_ms(10);
    }
    if (i == 1000) {
        fprintf(stderr, "bench_echo: the server %s did not listen\n",
                server[0]);
        bench_stop(pid);
        return -1;
    }
    bench_sleep_ms(50); /* let the probe connection's handler end */
    cpu0 = bench_proc_cpu_s(pid);
    if (run_client(o, port, r, &round_trips) != 0) {
        bench_stop(pid);
        return -1;
    }
    cpu1 = bench_proc_cpu_s(pid);
    r->rss_kib = bench_proc_hwm_kib(pid);
    if (waitpid(pid, &status, WNOHANG) == pid || cpu0 < 0 || cpu1 < 0) {
        fprintf(stderr, "bench_echo: the server died during the run\n");
        return -1;
    }
    bench_stop(pid);
    r->cpu_s = cpu1 - cpu0;
    r->cpu_us_rt = r->cpu_s * 1e6 / (double)round_trips;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of field `off` over the runs. */
static double median(const struct run *runs, int n, size_t off)
{
    double v[MAX_REPS];

    for (int i = 0; i < n; i++)
        v[i] = *(const double *)((const char *)&runs[i] + off);
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int measure(const struct options *o, char **server, int nserver)
{
    struct run runs[MAX_REPS];

    printf("INFO server");
    for (int i = 0; i < nserver; i++)
        printf(" %s", server[i]);
    printf("\nINFO conns %d\nINFO rounds_per_conn %d\nINFO msg_bytes %d\n"
           "INFO reps %d\n", o->conns, o->rounds, o->size, o->reps);
    for (int i = 0; i < o->reps; i++) {
        if (measure_once(o, server, nserver, &runs[i]) != 0)
            return 1;
        printf("INFO run%d rt_per_s=%.0f server_cpu_s=%.2f rss_kib=%.0f\n",
               i + 1, runs[i].rt_per_s, runs[i].cpu_s, runs[i].rss_kib);
        fflush(stdout);
    }
    BENCH_RESULT("rt_per_s", median(runs, o->reps,
                                    offsetof(struct run, rt_per_s)), "1/s");
    BENCH_RESULT("server_cpu_us_per_rt",
                 median(runs, o->reps, offsetof(struct run, cpu_us_rt)), "us");
    BENCH_RESULT("server_peak_rss_kib",
                 median(runs, o->reps, offsetof(struct run, rss_kib)), "KiB");
    BENCH_INFO("wall_s", "%.3f",
               median(runs, o->reps, offsetof(struct run, wall_s)));
    BENCH_INFO("server_cpu_s", "%.3f",
               median(runs, o->reps, offsetof(struct run, cpu_s)));
    return 0;
}

/* ------------------------------------------------------------------ main */

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_echo tasks|threads [options]\n"
            "       bench_echo measure [options] -- CMD [ARGS...]\n"
            "       bench_echo serve tasks|threads PORT\n"
            "options: --reps N --conns N --rounds N --size N --client PATH\n");
    return 2;
}

/* The load client built beside this program. */
static char *default_client(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
    char *slash;

    if (n <= 0)
        return "w5_echo_client";
    path[n] = '\0';
    slash = strrchr(path, '/');
    strcpy(slash != NULL ? slash + 1 : path, "w5_echo_client");
    return path;
}

int main(int argc, char **argv)
{
    struct options o = {.reps = 3, .conns = 100, .rounds = 2000, .size = 64};
    char self[4096];
    char *server[4];
    ssize_t n;
    int i;

    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return argc == 4 ? serve_main(argv[2], argv[3]) : usage();
    if (argc < 2 || (strcmp(argv[1], "tasks") != 0 &&
                     strcmp(argv[1], "threads") != 0 &&
                     strcmp(argv[1], "measure") != 0))
        return usage();
    o.client = default_client();
    for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--reps") == 0)
            o.reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--conns") == 0)
            o.conns = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            o.rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--size") == 0)
            o.size = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--client") == 0)
            o.client = argv[i + 1];
        else
            return usage();
    }
    if (o.reps < 1 || o.reps > MAX_REPS || o.conns < 1 || o.rounds < 1 ||
        o.size < 1 || o.size > 256)
        return usage();
    if (strcmp(argv[1], "measure") == 0) {
        if (i + 1 >= argc)
            return usage();
        return measure(&o, argv + i + 1, argc - i - 1);
    }
    if (i < argc)
        return usage();
    /* Our own server: this program, "serve <mode>", the port appended. */
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    server[0] = self;
    server[1] = "serve";
    server[2] = argv[1];
    return measure(&o, server, 3);
}
