/*
 * spawn.c - starting a program with posix_spawn (subprocess layer).
 *
 * posix_spawn is a vfork-style clone plus exec: no copy of the parent's
 * memory, no lock of the parent taken in the child, safe from any number
 * of threads at once.  Everything the child must do before exec is a file
 * action or an attribute, built here from a request:
 *
 *   fds 0-2   each as its plan says, in the order 0, 1, 2 (so that
 *             CC__STD_STDOUT copies the child's new stdout).  Every DUP
 *             source is >= 3 or the target itself (popen.c sees to it),
 *             so setting one of 0-2 never clobbers the source of another.
 *   pass_fds  kept under their own numbers, everything else >= 3 closed:
 *             see pass_actions below.
 *   cwd       posix_spawn_file_actions_addchdir_np.
 *   signals   an empty mask (whatever the spawning thread blocks) and
 *             every disposition back to SIG_DFL (an ignored SIGPIPE or
 *             SIGINT of the parent is not the child's business).
 *   session   POSIX_SPAWN_SETSID with new_session.
 *
 * The program is looked up as execvpe does, in the PATH of the child's
 * environment, but each candidate is stat()ed first so that a missing
 * one costs no clone.  An exec that fails is reported by posix_spawn's
 * return value (glibc reaps that child itself): no child exiting 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/error.h"
#include "subprocess/subproc.h"

/* PATH when the child's environment has none (glibc's confstr(_CS_PATH),
 * Python's os.defpath). */
#define DEFAULT_PATH "/bin:/usr/bin"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a;
    int y = *(const int *)b;

    return (x > y) - (x < y);
}

/*
 * The pass_fds to keep, sorted, without duplicates and without 0-2 (those
 * are the standard streams, set by the plan).  Each must be open.  *fds is
 * malloc'd (NULL when none).  0, or EINVAL/ENOMEM recorded.
 */
static int sorted_pass_fds(const cc__spawn_req *r, int **fds, size_t *n)
{
    int *v;
    size_t k = 0;

    *fds = NULL;
    *n = 0;
    if (r->n_pass_fds == 0)
        return 0;
    if (r->pass_fds == NULL)
        return cc__err(EINVAL, "cc_popen_new: pass_fds is NULL but "
                               "n_pass_fds is not 0"), EINVAL;
    v = malloc(r->n_pass_fds * sizeof(*v));
    if (v == NULL)
        return cc__err(ENOMEM, "cc_popen_new: out of memory"), ENOMEM;
    for (size_t i = 0; i < r->n_pass_fds; i++) {
        int fd = r->pass_fds[i];

        if (fd < 0 || fcntl(fd, F_GETFD) == -1) {
            free(v);
            return cc__errf(EINVAL, "cc_popen_new: pass_fds[%zu] = %d is not "
                                    "an open descriptor", i, fd), EINVAL;
        }
        if (fd > 2)
            v[k++] = fd;
    }
    qsort(v, k, sizeof(*v), cmp_int);
    *n = 0;
    for (size_t i = 0; i < k; i++)
        if (*n == 0 || v[*n - 1] != v[i])
            v[(*n)++] = v[i];
    if (*n == 0) {
        free(v);
        v = NULL;
    }
    *fds = v;
    return 0;
}

/*
 * Keep exactly the sorted fds p[0..n) (all >= 3) under their numbers and
 * close every other fd >= 3.  There is no "close all but these" action,
 * so the child:
 *   1. copies p[k] down to slot 3+k, ascending (slot 3+k <= p[k], and a
 *      slot written is never a p[j] still to be copied: p[j] > p[k]);
 *   2. closes everything from 3+n up (close_range);
 *   3. copies slot 3+k back up to p[k], descending (p[k] may be a higher
 *      slot, but that slot was already copied up);
 *   4. closes the slots that are not themselves in p.
 * dup2 clears FD_CLOEXEC on its target; for a dup2 of an fd onto itself
 * (p[k] == 3+k) glibc clears it too (since 2.29, Austin Group issue 411).
 * With no pass_fds this is closefrom(3).  Returns a posix_spawn error.
 */
static int pass_actions(posix_spawn_file_actions_t *fa, const int *p,
                        size_t n)
{
    int rc = 0;

    for (size_t k = 0; k < n && rc == 0; k++)
        rc = posix_spawn_file_actions_adddup2(fa, p[k], 3 + (int)k);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3 + (int)n);
    for (size_t k = n; k-- > 0 && rc == 0;)
        if (p[k] != 3 + (int)k)
            rc = posix_spawn_file_actions_adddup2(fa, 3 + (int)k, p[k]);
    for (size_t k = 0; k < n && rc == 0; k++) {
        int slot = 3 + (int)k;

        if (bsearch(&slot, p, n, sizeof(*p), cmp_int) == NULL)
            rc = posix_spawn_file_actions_addclose(fa, slot);
    }
    return rc;
}

/* The file actions for the standard streams. */
static int stdio_actions(posix_spawn_file_actions_t *fa, const cc__spawn_req *r)
{
    int rc = 0;

    for (int i = 0; i < 3 && rc == 0; i++) {
        const cc__stdio_plan *s = &r->std[i];

        switch (s->how) {
        case CC__STD_KEEP:
            break;
        case CC__STD_DUP:
            rc = posix_spawn_file_actions_adddup2(fa, s->src, i);
            break;
        case CC__STD_DEVNULL:
            rc = posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                                  i == 0 ? O_RDONLY : O_WRONLY,
                                                  0);
            break;
        case CC__STD_STDOUT:
            rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
            break;
        default:
            rc = EINVAL;
        }
    }
    return rc;
}

/*
 * Every signal back to SIG_DFL in the child.  glibc's sigfillset leaves
 * out its two internal signals (32 and 33, below SIGRTMIN), and glibc's
 * spawn sets those to SIG_IGN in the child unless asked otherwise; an
 * ignored disposition survives exec, so without this the program would
 * start with signals 32 and 33 ignored.  They are set in the sigset_t
 * directly (sigaddset refuses them).  The child blocks all signals until
 * just before exec, so nothing of glibc's can arrive there meanwhile.
 */
static void all_signals(sigset_t *set)
{
    sigfillset(set);
#if defined(__GLIBC__)
    for (int sig = 32; sig < SIGRTMIN; sig++) {
        size_t bits = 8 * sizeof(set->__val[0]);

        set->__val[(size_t)(sig - 1) / bits] |= 1UL << ((size_t)(sig - 1) % bits);
    }
#endif
}

static int make_attr(posix_spawnattr_t *a, bool new_session)
{
    sigset_t none;
    sigset_t all;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int rc;

    if (new_session)
        flags |= POSIX_SPAWN_SETSID;
    sigemptyset(&none);
    all_signals(&all);
    rc = posix_spawnattr_init(a);
    if (rc != 0)
        return rc;
    rc = posix_spawnattr_setsigmask(a, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(a, &all);
    if (rc == 0)
        rc = posix_spawnattr_setflags(a, flags);
    if (rc != 0)
        posix_spawnattr_destroy(a);
    return rc;
}

/* Whether to skip a candidate of the PATH search without trying it: it
 * does not exist as the child would see it (relative paths are relative
 * to cwd).  Sets *eacces when a directory on the way is not searchable. */
static bool missing(const char *path, const char *cwd, bool *eacces)
{
    struct stat st;
    char *joined = NULL;
    int rc;
    int e;

    if (path[0] != '/' && cwd != NULL) {
        size_t len = strlen(cwd) + strlen(path) + 2;

        joined = malloc(len);
        if (joined == NULL)
            return false; /* let the spawn decide */
        snprintf(joined, len, "%s/%s", cwd, path);
        path = joined;
    }
    rc = stat(path, &st);
    e = errno;
    free(joined);
    if (rc == 0)
        return false;
    if (e == EACCES) {
        *eacces = true;
        return true;
    }
    return e == ENOENT || e == ENOTDIR || e == ESTALE || e == ENODEV ||
           e == ETIMEDOUT;
}

/* The errors for which execvpe goes on to the next PATH entry. */
static bool try_next(int rc)
{
    return rc == ENOENT || rc == ENOTDIR || rc == ESTALE || rc == ENODEV ||
           rc == ETIMEDOUT || rc == EACCES;
}

/* posix_spawn argv[0] as execvpe would find it.  A posix_spawn error. */
static int run_program(const cc__spawn_req *r, posix_spawn_file_actions_t *fa,
                       posix_spawnattr_t *attr, pid_t *pid)
{
    const char *prog = r->argv[0];
    char *const *argv = (char *const *)r->argv;
    const char *path;
    size_t plen = strlen(prog);
    char *buf;
    bool eacces = false;
    int rc = ENOENT;

    if (prog[0] == '\0')
        return ENOENT; /* as execvp("") */
    if (strchr(prog, '/') != NULL)
        return posix_spawn(pid, prog, fa, attr, argv, r->envp);
    path = cc__env_get(r->envp, "PATH");
    if (path == NULL)
        path = DEFAULT_PATH;
    buf = malloc(strlen(path) + plen + 2);
    if (buf == NULL)
        return ENOMEM;
    for (const char *dir = path;; dir++) {
        const char *end = strchr(dir, ':');
        size_t dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);

        /* An empty entry is the current directory. */
        if (dlen == 0)
            memcpy(buf, prog, plen + 1);
        else
            snprintf(buf, dlen + plen + 2, "%.*s/%s", (int)dlen, dir, prog);
        if (!missing(buf, r->cwd, &eacces)) {
            rc = posix_spawn(pid, buf, fa, attr, argv, r->envp);
            if (rc == 0 || !try_next(rc))
                break;
            if (rc == EACCES)
                eacces = true;
        }
        rc = eacces ? EACCES : ENOENT;
        if (end == NULL)
            break;
        dir = end;
    }
    free(buf);
    return rc;
}

/* EINVAL... for a cwd the child could not change to (told apart from an
 * exec failure: the child's chdir fails with the same codes). */
static int check_cwd(const cc__spawn_req *r)
{
    struct stat st;

    if (r->cwd == NULL)
        return 0;
    if (stat(r->cwd, &st) != 0) {
        int e = errno;

        return cc__errf(e, "cannot run '%s': cannot change to directory "
                           "'%s': %s", r->argv[0], r->cwd, strerror(e)), e;
    }
    if (!S_ISDIR(st.st_mode))
        return cc__errf(ENOTDIR, "cannot run '%s': cannot change to "
                                 "directory '%s': %s", r->argv[0], r->cwd,
                        strerror(ENOTDIR)), ENOTDIR;
    return 0;
}

int cc__spawn(const cc__spawn_req *r, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int *pass;
    size_t npass;
    int rc;

    rc = check_cwd(r);
    if (rc != 0)
        return rc;
    rc = sorted_pass_fds(r, &pass, &npass);
    if (rc != 0)
        return rc;
    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        goto err_free_pass;
    rc = stdio_actions(&fa, r);
    if (rc == 0)
        rc = pass_actions(&fa, pass, npass);
    if (rc == 0 && r->cwd != NULL)
        rc = posix_spawn_file_actions_addchdir_np(&fa, r->cwd);
    if (rc != 0)
        goto err_destroy_fa;
    rc = make_attr(&attr, r->new_session);
    if (rc != 0)
        goto err_destroy_fa;
    rc = run_program(r, &fa, &attr, pid);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(pass);
    if (rc != 0)
        return cc__errf(rc, "cannot run '%s': %s", r->argv[0],
                        strerror(rc)), rc;
    return 0;
err_destroy_fa:
    posix_spawn_file_actions_destroy(&fa);
err_free_pass:
    free(pass);
    return cc__errf(rc, "cannot run '%s': cannot prepare the child: %s",
                    r->argv[0], strerror(rc)), rc;
}
