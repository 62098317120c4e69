/*
 * process_spawn.c - the spawn start method of cc_process: the parent
 * starts a fresh run of the program, and the child's start-up hook runs
 * the function instead of main() (process layer; the protocol is in
 * spawn.h).
 *
 * Parent.  posix_spawn (a vfork-style clone plus exec) takes no lock
 * another thread could hold, so it is safe from a parent whose threads
 * hold mutexes, the stdio locks or malloc's; closing every descriptor
 * past the start message's (addclosefrom_np) keeps the parent's files out
 * of the child.  The start message is in a memfd rather than a pipe, so
 * an argument of any size costs the parent no wait for the child to read.
 *
 * Child.  The hook is a constructor in this file on purpose: process.c
 * calls cc__process_spawn, so every executable that can spawn a child
 * links this object and contains the code that runs one.  It runs before
 * main() on the process's only thread, and everywhere else costs one
 * getenv.  Constructors that run after it (the program's, and possibly
 * some of concur's own) have not run in the child: concur's settings read
 * from the environment at start-up (CONCUR_DEBUG) are read here again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/blob.h"
#include "internal/error.h"
#include "internal/log.h"
#include "process/pool.h"
#include "process/spawn.h"
#include "process/wire.h"

#define SPAWN_MAGIC 0x53504e57u /* "SPNW" */

extern char **environ;

/* ---------------------------------------------------------- the parent */

int cc__process_spawn_check(cc_fn fn, void *arg, const char *what,
                            const cc__fnref **ref)
{
    if (arg != NULL && !cc__blob_check(arg))
        return cc__errf(EINVAL, "%s: the spawn start method passes the "
                                "argument as a blob: %p is neither NULL "
                                "nor a blob",
                        what, arg);
    *ref = cc__fnref_of(fn, what);
    return *ref != NULL ? 0 : -1;
}

/*
 * The environment of a fresh run of the program (a spawned child, a pool
 * worker): the parent's, without a CONCUR_PROCESS_SPAWN or
 * CONCUR_POOL_WORKER of its own -- the parent may itself be one, and the
 * child must take only the role `ours` gives it -- plus `ours`.  One
 * malloc'd block (pointers, then our string).
 */
char **cc__child_env(const char *ours)
{
    size_t n = 0;
    size_t len = strlen(ours) + 1;
    size_t k = 0;
    char **env;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        n++;
    env = malloc((n + 2) * sizeof(char *) + len);
    if (env == NULL)
        return NULL;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, CC__SPAWN_ENV "=", sizeof(CC__SPAWN_ENV)) != 0 &&
            strncmp(*e, CC__POOL_ENV "=", sizeof(CC__POOL_ENV)) != 0)
            env[k++] = *e;
    env[k] = memcpy((char *)(env + n + 2), ours, len);
    env[k + 1] = NULL;
    return env;
}

/* The start message in a new memfd (close-on-exec), positioned at 0; the
 * fd, or -1 with errno. */
static int start_message(const cc__fnref *ref, void *arg, const char *name,
                         const char *identity)
{
    cc__buf b = {0};
    uint32_t idlen = (uint32_t)strlen(identity);
    uint32_t nlen = (uint32_t)strlen(name);
    size_t off = 0;
    int fd;

    cc__buf_put_u32(&b, SPAWN_MAGIC);
    cc__buf_put_u32(&b, idlen);
    cc__buf_put(&b, identity, idlen);
    cc__buf_put_u32(&b, nlen);
    cc__buf_put(&b, name, nlen);
    cc__fnref_put(&b, ref);
    cc__wire_put_item(&b, arg);
    if (b.oom) {
        cc__buf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    fd = memfd_create("concur-spawn", MFD_CLOEXEC);
    while (fd >= 0 && off < b.len) {
        ssize_t n = write(fd, b.data + off, b.len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            fd = -1;
            errno = e;
            break;
        }
        off += (size_t)n;
    }
    cc__buf_free(&b);
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

pid_t cc__process_spawn(const cc__fnref *ref, void *arg, const char *name,
                        const char *identity, const char *what)
{
    char *argv[2] = {program_invocation_name, NULL};
    char spec[sizeof(CC__SPAWN_ENV) + 16];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    char **env;
    pid_t pid;
    int fd;
    int rc;

    fd = start_message(ref, arg, name, identity);
    if (fd < 0) {
        rc = errno;
        return cc__errf(rc, "%s: cannot write the start message of '%s': %s",
                        what, name, strerror(rc));
    }
    snprintf(spec, sizeof(spec), "%s=%d", CC__SPAWN_ENV, CC__SPAWN_FD);
    env = cc__child_env(spec);
    if (env == NULL) {
        close(fd);
        return cc__errf(ENOMEM, "%s: out of memory", what);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none); /* whatever this thread blocks */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawn_file_actions_adddup2(&fa, fd, CC__SPAWN_FD);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, CC__SPAWN_FD + 1);
    if (rc == 0)
        rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    close(fd);
    if (rc != 0)
        return cc__errf(rc, "%s: cannot spawn '%s': %s", what, name,
                        strerror(rc));
    return pid;
}

/* ----------------------------------------------------------- the child */

/* Before the child has its name: report on stderr and leave. */
static void give_up(const char *why) __attribute__((noreturn));
static void give_up(const char *why)
{
    cc__logf(CC_LOG_ERROR, "concur: spawned child: %s", why);
    cc_process_exit(2);
}

/* The start message, read whole from fd (then closed); *len its size. */
static char *read_message(int fd, size_t *len)
{
    struct stat st;
    size_t off = 0;
    char *data;

    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        give_up("no start message");
    *len = (size_t)st.st_size;
    data = malloc(*len);
    if (data == NULL)
        give_up("out of memory");
    while (off < *len) {
        ssize_t n = pread(fd, data + off, *len - off, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            give_up("cannot read the start message");
        off += (size_t)n;
    }
    close(fd);
    return data;
}

/* A string field of the message, as a new C string (or give up). */
static char *read_string(cc__rd *r, size_t max)
{
    uint32_t len = cc__rd_u32(r);
    const char *p = cc__rd_bytes(r, len);
    char *s;

    if (r->bad || len >= max)
        give_up("malformed start message");
    s = malloc((size_t)len + 1);
    if (s == NULL)
        give_up("out of memory");
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static void spawned_run(const char *spec) __attribute__((noreturn));
static void spawned_run(const char *spec)
{
    const char *debug = getenv("CONCUR_DEBUG");
    cc_error *e = NULL;
    char *identity;
    char *name;
    size_t len;
    char *data;
    cc__rd r;
    void *arg = NULL;
    cc_fn fn;
    int rc;

    if (strcmp(spec, "3") != 0)
        give_up("malformed " CC__SPAWN_ENV);
    /* What this process starts is not a spawned child. */
    unsetenv(CC__SPAWN_ENV);
    if (debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0)
        cc_set_debug(true);
    data = read_message(CC__SPAWN_FD, &len);
    r.p = data;
    r.end = data + len;
    r.bad = false;
    if (cc__rd_u32(&r) != SPAWN_MAGIC)
        give_up("the start message is not concur's");
    identity = read_string(&r, CC__IDENTITY_MAX);
    name = read_string(&r, (size_t)1 << 20);
    cc__process_child_names(identity, name);
    free(identity);
    fn = cc__fnref_resolve(&r, &e);
    if (fn == NULL) {
        cc_error *cause = e;

        e = cc_error_new(cause->code, cause, "spawned child: cannot find "
                                             "its function");
        cc_error_free(cause);
    } else {
        rc = cc__wire_get_item_blob(&r, &arg);
        if (rc != 0)
            e = cc_error_new(rc, NULL, "cannot read the argument: %s",
                             strerror(rc));
    }
    free(data);
    if (e != NULL) {
        char text[2048];

        cc_error_format(e, text, sizeof(text));
        cc__logf(CC_LOG_ERROR, "Process %s: %s", name, text);
        cc_process_exit(1);
    }
    free(name); /* the current name is a copy */
    cc__process_child_run(fn, arg);
}

/* A spawned child: CONCUR_PROCESS_SPAWN is set (see spawn.h). */
__attribute__((constructor)) static void spawned_boot(void)
{
    const char *spec = getenv(CC__SPAWN_ENV);

    if (spec != NULL)
        spawned_run(spec);
}
