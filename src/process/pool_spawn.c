/*
 * pool_spawn.c - starting and reaping the process pool's workers (process
 * layer; runs on the manager thread only).
 *
 * A worker is a fresh run of the calling executable, not a fork: its only
 * inherited state is the environment, stdin/stdout/stderr and its end of a
 * socket pair at fd CC__POOL_FD.  posix_spawn (a vfork-style clone plus
 * exec) takes no lock another thread could hold, so it is safe from a
 * parent whose threads hold mutexes, the stdio locks or malloc's; closing
 * every other fd in the child (addclosefrom_np) keeps the parent's files,
 * even those not marked close-on-exec, out of the worker.  The worker is
 * told what it is by CONCUR_POOL_WORKER (see pool.h), which its start-up
 * code removes from its environment at once.
 *
 * Workers are spawned from the manager thread because PR_SET_PDEATHSIG
 * (set by each worker) fires when the thread that started it ends: the
 * manager lives exactly as long as the workers may.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/pool.h"
#include "process/spawn.h"

/* Queue the INIT frame: the initializer and its argument, the budget. */
static void queue_init(cc__proc_pool *p, cc__pool_worker *w)
{
    const cc__fnref *ref = NULL;
    size_t at = cc__frame_begin(&w->out, CC__FR_INIT, 0);

    if (p->initializer != NULL)
        ref = cc__fnref_of(p->initializer, "cc_process_pool_new");
    cc__buf_put_u32(&w->out, ref != NULL ? 1 : 0);
    cc__buf_put_u32(&w->out, (uint32_t)p->max_tasks);
    if (ref != NULL) {
        cc__fnref_put(&w->out, ref);
        cc__wire_put_item(&w->out, p->initarg);
    }
    cc__frame_end(&w->out, at);
}

int cc__pool_spawn(cc__proc_pool *p, cc__pool_worker *w, unsigned number)
{
    char spec[CC__NAME_MAX + 96];
    char *argv[2] = {program_invocation_name, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    char **env;
    int sv[2];
    pid_t pid;
    int rc;

    w->sock = w->pidfd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return rc = errno, cc__errf(rc, "process pool '%s': cannot make a "
                                        "socket pair: %s", p->base.name,
                                    strerror(rc)), rc;
    snprintf(spec, sizeof(spec), "%s=%d,%ld,%u,%s_%u", CC__POOL_ENV,
             CC__POOL_FD, (long)getpid(), number, p->prefix, number);
    env = cc__child_env(spec);
    if (env == NULL) {
        rc = ENOMEM;
        goto fail_sockets;
    }
    /* The worker's end blocks (it only ever waits on the parent); ours
     * does not (the manager never waits on one worker). */
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) {
        rc = errno;
        goto fail_env;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none); /* whatever this thread blocks */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawn_file_actions_adddup2(&fa, sv[1], CC__POOL_FD);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, CC__POOL_FD + 1);
    if (rc == 0)
        rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        goto fail_env;
    free(env);
    close(sv[1]);
    w->pid = pid;
    w->sock = sv[0];
    w->pidfd = pidfd_open(pid, 0); /* close-on-exec by nature */
    if (w->pidfd < 0) {
        /* Without a pidfd we cannot watch it: stop it now. */
        rc = errno;
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        close(w->sock);
        w->sock = -1;
        return cc__errf(rc, "process pool '%s': pidfd_open: %s", p->base.name,
                        strerror(rc)), rc;
    }
    w->number = number;
    queue_init(p, w);
    if (w->out.oom) {
        rc = ENOMEM;
        (void)cc__pool_reap(w, true, spec, sizeof(spec));
        return cc__errf(rc, "process pool '%s': out of memory", p->base.name),
               rc;
    }
    return 0;
fail_env:
    free(env);
fail_sockets:
    close(sv[0]);
    close(sv[1]);
    return cc__errf(rc, "process pool '%s': cannot start a worker: %s",
                    p->base.name, strerror(rc)), rc;
}

/* "was killed by signal 9 (SIGKILL)", "exited with status 3". */
static void describe(const siginfo_t *si, char *text, size_t size)
{
    if (si->si_code == CLD_EXITED) {
        snprintf(text, size, "exited with status %d", si->si_status);
    } else {
        const char *abbrev = sigabbrev_np(si->si_status);

        snprintf(text, size, "was killed by signal %d (SIG%s)%s",
                 si->si_status, abbrev != NULL ? abbrev : "?",
                 si->si_code == CLD_DUMPED ? " and dumped core" : "");
    }
}

bool cc__pool_reap(cc__pool_worker *w, bool kill_it, char *text, size_t size)
{
    siginfo_t si;
    bool clean = false;

    if (w->reaped) {
        snprintf(text, size, "had already ended");
        return false;
    }
    if (kill_it) {
        (void)pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
    } else {
        /* Its socket closed: it is exiting (normally within microseconds).
         * A worker that closed its socket but lives on is stopped after a
         * grace period rather than waited for forever. */
        struct pollfd pfd = {.fd = w->pidfd, .events = POLLIN};

        if (poll(&pfd, 1, 2000) == 0)
            (void)pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
    }
    memset(&si, 0, sizeof(si));
    while (waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED) != 0 &&
           errno == EINTR)
        ;
    if (si.si_pid == 0) {
        /* Someone else (a waitpid(-1) in the program) reaped it. */
        snprintf(text, size, "ended (its exit status was collected "
                             "elsewhere)");
    } else {
        describe(&si, text, size);
        clean = si.si_code == CLD_EXITED && si.si_status == 0;
    }
    close(w->pidfd);
    if (w->sock >= 0)
        close(w->sock);
    w->pidfd = w->sock = -1;
    w->reaped = true;
    return clean;
}
