/*
 * child_helper - the program the subprocess tests start.  It runs its
 * arguments as a list of commands, left to right, writing with write(2)
 * only (no stdio buffers, so what a killed child wrote is exactly what
 * came out), then exits 0:
 *
 *   out TEXT / err TEXT   write TEXT to stdout / stderr
 *   write N / ewrite N    write N pattern bytes (sp_pattern) to stdout /
 *                         stderr, in 64 KiB pieces
 *   echo                  copy stdin to stdout until end of file
 *   count                 read stdin to end of file, print "<bytes>\n"
 *   fds                   print the open descriptors: "0 1 2 5\n"
 *   fdwrite N TEXT        write TEXT to descriptor N
 *   env NAME              print "NAME=value\n" or "NAME unset\n"
 *   cwd                   print the working directory and "\n"
 *   sigs                  print the SigBlk and SigIgn lines of
 *                         /proc/self/status (mask and ignored signals)
 *   ids                   print "<pid> <pgid> <sid>\n"
 *   nonblock              print "stdin nonblock 0\n" (or 1): O_NONBLOCK
 *                         of fd 0
 *   grandchild S          fork a child that keeps 0-2 open and sleeps S
 *                         seconds; print its pid and "\n"
 *   closein               close fd 0
 *   sleep S               sleep S seconds (a double)
 *   kill SIG              raise(SIG)
 *   exit N                exit with N at once
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "subprocess/sp_pattern.h"

static void put(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            _exit(120);
        c += w;
        n -= (size_t)w;
    }
}

static void puts_fd(int fd, const char *s)
{
    put(fd, s, strlen(s));
}

static void sleep_for(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void write_pattern(int fd, unsigned long long n)
{
    static unsigned char buf[65536];
    unsigned long long at = 0;

    while (at < n) {
        size_t k = n - at < sizeof(buf) ? (size_t)(n - at) : sizeof(buf);

        for (size_t i = 0; i < k; i++)
            buf[i] = sp_pattern(at + i);
        put(fd, buf, k);
        at += k;
    }
}

static void list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int self = d != NULL ? dirfd(d) : -1;
    int fds[1024];
    int n = 0;
    char line[8192];
    size_t at = 0;
    struct dirent *e;

    if (d == NULL)
        _exit(121);
    while ((e = readdir(d)) != NULL && n < 1024) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);

        if (fd != self)
            fds[n++] = fd;
    }
    closedir(d);
    /* sort (few entries) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];

            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    line[0] = '\0';
    for (int i = 0; i < n && at < sizeof(line) - 16; i++)
        at += (size_t)snprintf(line + at, sizeof(line) - at, "%s%d",
                               i > 0 ? " " : "", fds[i]);
    snprintf(line + at, sizeof(line) - at, "\n");
    puts_fd(1, line);
}

static void status_lines(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    if (f == NULL)
        _exit(122);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "SigBlk:", 7) == 0 ||
            strncmp(line, "SigIgn:", 7) == 0)
            puts_fd(1, line);
    fclose(f);
}

int main(int argc, char **argv)
{
    char line[4200];

    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : "";

        if (strcmp(c, "out") == 0) {
            puts_fd(1, a), i++;
        } else if (strcmp(c, "err") == 0) {
            puts_fd(2, a), i++;
        } else if (strcmp(c, "write") == 0) {
            write_pattern(1, strtoull(a, NULL, 10)), i++;
        } else if (strcmp(c, "ewrite") == 0) {
            write_pattern(2, strtoull(a, NULL, 10)), i++;
        } else if (strcmp(c, "echo") == 0 || strcmp(c, "count") == 0) {
            static char buf[65536];
            unsigned long long total = 0;
            ssize_t r;

            while ((r = read(0, buf, sizeof(buf))) != 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0)
                    _exit(123);
                total += (unsigned long long)r;
                if (c[0] == 'e')
                    put(1, buf, (size_t)r);
            }
            if (c[0] == 'c') {
                snprintf(line, sizeof(line), "%llu\n", total);
                puts_fd(1, line);
            }
        } else if (strcmp(c, "fdwrite") == 0 && i + 2 < argc) {
            puts_fd(atoi(a), argv[i + 2]), i += 2;
        } else if (strcmp(c, "fds") == 0) {
            list_fds();
        } else if (strcmp(c, "env") == 0) {
            const char *v = getenv(a);

            if (v != NULL)
                snprintf(line, sizeof(line), "%s=%s\n", a, v);
            else
                snprintf(line, sizeof(line), "%s unset\n", a);
            puts_fd(1, line), i++;
        } else if (strcmp(c, "cwd") == 0) {
            if (getcwd(line, sizeof(line) - 2) == NULL)
                _exit(124);
            strcat(line, "\n");
            puts_fd(1, line);
        } else if (strcmp(c, "sigs") == 0) {
            status_lines();
        } else if (strcmp(c, "ids") == 0) {
            snprintf(line, sizeof(line), "%d %d %d\n", (int)getpid(),
                     (int)getpgid(0), (int)getsid(0));
            puts_fd(1, line);
        } else if (strcmp(c, "nonblock") == 0) {
            int fl = fcntl(0, F_GETFL);

            snprintf(line, sizeof(line), "stdin nonblock %d\n",
                     fl != -1 && (fl & O_NONBLOCK) ? 1 : 0);
            puts_fd(1, line);
        } else if (strcmp(c, "grandchild") == 0) {
            double s = atof(a);
            pid_t pid = fork();

            if (pid == 0) {
                sleep_for(s);
                _exit(0);
            }
            snprintf(line, sizeof(line), "%d\n", (int)pid);
            puts_fd(1, line), i++;
        } else if (strcmp(c, "closein") == 0) {
            close(0);
        } else if (strcmp(c, "sleep") == 0) {
            sleep_for(atof(a)), i++;
        } else if (strcmp(c, "kill") == 0) {
            raise(atoi(a)), i++;
        } else if (strcmp(c, "exit") == 0) {
            _exit(atoi(a));
        } else {
            snprintf(line, sizeof(line), "child_helper: unknown command "
                                         "'%s'\n", c);
            puts_fd(2, line);
            _exit(125);
        }
    }
    return 0;
}
