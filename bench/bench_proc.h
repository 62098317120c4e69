/*
 * bench_proc.h - what the benchmarks that run a server in a process of its
 * own share (bench_echo for W5, bench_http for W6): a free port, waiting
 * until it accepts, starting and stopping the process, and reading its CPU
 * time and peak RSS from /proc.  Header-only; never part of the library.
 */
#ifndef CONCUR_BENCH_PROC_H
#define CONCUR_BENCH_PROC_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BENCH_DEVNULL (-1) /* bench_spawn: stdout to /dev/null */
#define BENCH_INHERIT (-2) /* bench_spawn: stdout stays ours */

/* A port of 127.0.0.1 nobody uses now (the server binds it right after). */
static inline int bench_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* True once something accepts a connection on 127.0.0.1:port. */
static inline int bench_port_open(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    if (fd < 0)
        return 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static inline void bench_sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};

    nanosleep(&ts, NULL);
}

/* The process's utime + stime so far, all threads (dead ones included),
 * in seconds; -1 if it cannot be read. */
static inline double bench_proc_cpu_s(pid_t pid)
{
    char path[64];
    char buf[1024];
    unsigned long long utime;
    unsigned long long stime;
    char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The name in parentheses may hold spaces: fields count from its end. */
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The process's peak resident set (VmHWM) in KiB; -1 if unknown. */
static inline double bench_proc_hwm_kib(pid_t pid)
{
    char path[64];
    char line[256];
    double kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtod(line + 6, NULL);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* Start argv (searched in PATH) with stdout on fd `out`, BENCH_DEVNULL
 * or BENCH_INHERIT; -1 after saying why on stderr. */
static inline pid_t bench_spawn(char *const argv[], int out)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;

    posix_spawn_file_actions_init(&fa);
    if (out >= 0)
        posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    else if (out == BENCH_DEVNULL)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
                                         O_WRONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "bench: cannot start %s: %s\n", argv[0],
                strerror(rc));
        return -1;
    }
    return pid;
}

/* SIGTERM, then SIGKILL after 5 s; reaps it. */
static inline void bench_stop(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        bench_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

#endif
