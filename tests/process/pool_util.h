/*
 * pool_util.h - helpers for the process pool tests: integer blobs, gates
 * that let a test hold a task inside a worker until it says go (named
 * pipes: an open blocks until the other side opens, so nothing polls), the
 * pids of this process's children, and leak checks (open fds, children
 * left unreaped).
 */
#ifndef CONCUR_POOL_UTIL_H
#define CONCUR_POOL_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "children.h"
#include "test_util.h"

/* ---- blobs holding one int64 ---- */

static inline void *pu_int(int64_t v)
{
    void *b = cc_blob_dup(&v, sizeof(v));

    assert_non_null(b);
    return b;
}

static inline int64_t pu_get(const void *blob)
{
    int64_t v;

    assert_non_null(blob);
    assert_int_equal(cc_blob_len(blob), sizeof(v));
    memcpy(&v, blob, sizeof(v));
    return v;
}

/* ---- gates: a task waits in a worker until the test releases it ---- */

/* A gate is a directory with two named pipes: "started" (the task writes
 * its pid into it) and "go" (the task waits for one byte from it).  The
 * task's argument is the directory's path (a blob string). */
typedef struct pu_gate {
    char dir[64];
    char started[96];
    char go[96];
} pu_gate;

static inline pu_gate *pu_gate_new(void)
{
    pu_gate *g = calloc(1, sizeof(*g));

    assert_non_null(g);
    snprintf(g->dir, sizeof(g->dir), "/tmp/concur-gate-XXXXXX");
    assert_non_null(mkdtemp(g->dir));
    snprintf(g->started, sizeof(g->started), "%s/started", g->dir);
    snprintf(g->go, sizeof(g->go), "%s/go", g->dir);
    assert_int_equal(mkfifo(g->started, 0600), 0);
    assert_int_equal(mkfifo(g->go, 0600), 0);
    return g;
}

/* The argument for gated tasks. */
static inline void *pu_gate_arg(const pu_gate *g)
{
    return cc_blob_strdup(g->dir);
}

/* In the worker: say "started" (with our pid), then wait for "go".  Returns
 * 0, or -1 when a pipe could not be used. */
static inline int pu_gate_pass(const char *dir)
{
    char path[96];
    int fd;
    int32_t pid = (int32_t)getpid();
    char byte;

    snprintf(path, sizeof(path), "%s/started", dir);
    fd = open(path, O_WRONLY | O_CLOEXEC); /* waits for the test */
    if (fd < 0 || write(fd, &pid, sizeof(pid)) != sizeof(pid))
        return -1;
    close(fd);
    snprintf(path, sizeof(path), "%s/go", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC); /* waits for the test */
    if (fd < 0)
        return -1;
    if (read(fd, &byte, 1) != 1)
        byte = 0;
    close(fd);
    return 0;
}

/* In the test: wait until a gated task has started; its worker's pid. */
static inline pid_t pu_gate_wait_started(const pu_gate *g)
{
    int32_t pid = 0;
    int fd = open(g->started, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(read(fd, &pid, sizeof(pid)), sizeof(pid));
    close(fd);
    return (pid_t)pid;
}

/* In the test: let one gated task go on. */
static inline void pu_gate_release(const pu_gate *g)
{
    int fd = open(g->go, O_WRONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "g", 1), 1);
    close(fd);
}

static inline void pu_gate_free(pu_gate *g)
{
    unlink(g->started);
    unlink(g->go);
    rmdir(g->dir);
    free(g);
}

/* ---- children and leaks ---- */

/* This process's children (from every thread's /proc children list);
 * returns how many, at most max. */
static inline int pu_children(pid_t *out, int max)
{
    int n = tc_children(out, max);

    assert_true(n >= 0);
    return n;
}

/* The set of open fds, as a string "0 1 2 5 ..." (the listing's own fd
 * excluded). */
static inline char *pu_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int self = dirfd(d);
    struct dirent *e;
    char *s = calloc(1, 8192);
    int fds[1024];
    int n = 0;

    assert_non_null(s);
    while ((e = readdir(d)) != NULL && n < 1024) {
        int fd;

        if (e->d_name[0] == '.')
            continue;
        fd = atoi(e->d_name);
        if (fd != self)
            fds[n++] = fd;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: few fds */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];

            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        snprintf(s + strlen(s), 8192 - strlen(s), "%d ", fds[i]);
    return s;
}

/* No child left, reaped or not: waitpid(-1) must fail with ECHILD. */
static inline void pu_assert_no_children(void)
{
    int status;
    pid_t kids[8];

    errno = 0;
    if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD)
        fail_msg("a child process is left (%d children listed)",
                 pu_children(kids, 8));
}

/* The fds open now must be exactly `before` (freed by the caller). */
static inline void pu_assert_fds(char *before)
{
    char *after = pu_fds();

    if (strcmp(before, after) != 0)
        fail_msg("fds before: %s\nfds after:  %s", before, after);
    free(before);
    free(after);
}

#endif
