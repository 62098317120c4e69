/*
 * process.c - cc_process: a function run in a forked child, joined through
 * a pidfd (process layer).
 *
 * Parent side.  The handle holds the child's pid and a pidfd opened right
 * after fork(): nobody has waited for the child yet, so the pid still names
 * it and the pidfd cannot refer to a recycled pid.  A joiner waits for the
 * pidfd to become readable (the child has ended) with cc_wait_fd, which
 * suspends only a calling task, then reaps with waitid(P_PIDFD, WNOHANG)
 * under the handle's mutex: one reaper at a time, the first records the
 * status, later ones (and every other joiner, thread or task) find it
 * recorded.  The mutex is held across that non-blocking waitid only, never
 * across a wait.  Signals go through pidfd_send_signal.
 *
 * Child side (child_main).  The child is the forking thread alone.  It
 * drops stdio output the parent buffered after its flush, takes its name,
 * leaves the parent's loop, gets a fresh context, runs fn - on a fresh
 * stack when it was forked from a task, whose stack is small and belongs
 * to a loop the child cannot run - and leaves with fflush + _exit.  The
 * library's global state was made sane by the fork hooks (base/atfork.c).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "concur/aio.h"
#include "concur/process.h"
#include "internal/aio.h"
#include "internal/deadline.h"
#include "internal/fiber.h"
#include "internal/waiter.h"
#include "internal/atfork.h"
#include "internal/error.h"
#include "internal/mutex.h"
#include "internal/process.h"

#if defined(CONCUR_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CONCUR_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#define PROCESS_MAGIC 0x50524f43u   /* "PROC" */
#define CHILD_STACK (8u << 20)      /* fn's stack in a child forked from a
                                       task: a main thread's usual size */

/*
 * A handle.  pid, pidfd and name are fixed at start; the rest is guarded
 * by mu.  Freed by cc_process_free only (its caller must be its last
 * user).
 */
struct cc_process {
    uint32_t magic;     /* PROCESS_MAGIC while alive */
    pid_t pid;
    int pidfd;          /* O_CLOEXEC (pidfd_open always sets it) */
    cc__mutex mu;       /* guards the three below */
    bool reaped;        /* waited for: exitcode is final */
    bool lost;          /* reaped by someone else: no status */
    int exitcode;       /* exit code, or -signal */
    char name[];        /* NUL-terminated */
};

/* Children started by this process so far, for "Process-<n>" names. */
static _Atomic unsigned children_started;

/* This process's place in the tree of cc_process children, as Python's
 * _identity: "" in the main process, "3" in its third child, "3:1" in
 * that one's first.  Written only by a child, while it has one thread. */
static char identity[64];

/* What the child needs; on the parent's stack, copied by fork. */
typedef struct child_start {
    cc_fn fn;
    void *arg;
    const char *name;
    unsigned number;    /* this child's n among its parent's children */
} child_start;

static bool process_ok(const cc_process *p)
{
    return p != NULL && p->magic == PROCESS_MAGIC;
}

/* ------------------------------------------------------------ the child */

/* The child's exit: flush stdio (what fn printed), skip atexit handlers:
 * they belong to the parent's program. */
void cc_process_exit(int code)
{
    fflush(NULL);
    _exit(code);
}

/* Run fn and leave with its outcome: 0, or 1 after printing its error. */
__attribute__((noreturn)) static void child_run(const child_start *s)
{
    void *result = s->fn(s->arg);
    const cc_error *e = result == NULL ? cc_error_pending() : NULL;

    if (e != NULL) {
        char small[2048];
        size_t need = cc_error_format(e, small, sizeof(small));
        char *text = need < sizeof(small) ? small : malloc(need + 1);

        if (text == NULL)
            text = small; /* truncated rather than nothing */
        else if (text != small)
            cc_error_format(e, text, need + 1);
        fprintf(stderr, "Process %s: %s\n", cc_process_current_name(), text);
        cc_process_exit(1);
    }
    cc_process_exit(0);
}

/* The child forked from a task: fn runs on a stack of its own.  Set before
 * the switch; the child has one thread. */
static const child_start *fresh_start;

static void fresh_entry(void)
{
#if defined(CONCUR_ASAN)
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    child_run(fresh_start);
}

/*
 * Switch to a new CHILD_STACK-byte stack (guard page below) and run fn
 * there; never returns.  The task's stack is left for good: it is small
 * (64 KiB by default) and fn may call cc_run, which makes a loop of its own.
 */
__attribute__((noreturn)) static void run_on_fresh_stack(const child_start *s)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    ucontext_t from;
    ucontext_t to;
    char *m = mmap(NULL, CHILD_STACK + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);

    if (m == MAP_FAILED || mprotect(m, page, PROT_NONE) != 0 ||
        getcontext(&to) != 0) {
        fprintf(stderr, "Process %s: cannot make a stack for the child: %s\n",
                cc_process_current_name(), strerror(errno));
        cc_process_exit(1);
    }
    to.uc_stack.ss_sp = m + page;
    to.uc_stack.ss_size = CHILD_STACK;
    to.uc_link = NULL;
    fresh_start = s;
    makecontext(&to, fresh_entry, 0);
#if defined(CONCUR_TSAN)
    __tsan_switch_to_fiber(__tsan_create_fiber(0), 0);
#endif
#if defined(CONCUR_ASAN)
    /* NULL: the task's fiber is left for good. */
    __sanitizer_start_switch_fiber(NULL, m + page, CHILD_STACK);
#endif
    swapcontext(&from, &to);
    abort(); /* unreachable: fresh_entry never returns */
}

__attribute__((noreturn)) static void child_main(const child_start *s)
{
    bool in_task = cc__ctx_get()->fiber != NULL;
    char os_name[16];
    char parent_identity[sizeof(identity)];

    /* The parent flushed stdio before the fork; what its other threads
     * buffered since is the parent's to write, not ours. */
    __fpurge(stdout);
    __fpurge(stderr);
    /* Deeper than ~10 generations the identity is cut (names stay unique
     * per parent, which is all they promise). */
    memcpy(parent_identity, identity, sizeof(identity));
    if (snprintf(identity, sizeof(identity), "%.40s%s%u", parent_identity,
                 parent_identity[0] != '\0' ? ":" : "", s->number) < 0)
        identity[0] = '\0';
    atomic_store(&children_started, 0);
    cc__process_set_current_name(s->name);
    snprintf(os_name, sizeof(os_name), "%s", s->name);
    prctl(PR_SET_NAME, os_name, 0, 0, 0);
    /* Out of the parent's loop (if any), with a clean context: fn starts
     * with no error, no deadline scope, as the child's "MainThread". */
    cc__loop_child_detach();
    cc__ctx_child_fresh();
    if (in_task)
        run_on_fresh_stack(s);
    child_run(s);
}

/* ----------------------------------------------------------- the parent */

cc_process *cc_process_start(cc_fn fn, void *arg, const char *name)
{
    char dflt[96];
    child_start start;
    cc_process *p;
    size_t len;
    pid_t pid;

    if (fn == NULL)
        return cc__err_null(EINVAL, "cc_process_start: fn is NULL");
    start.number = atomic_fetch_add(&children_started, 1) + 1;
    if (name == NULL) {
        snprintf(dflt, sizeof(dflt), "Process-%s%s%u", identity,
                 identity[0] != '\0' ? ":" : "", start.number);
        name = dflt;
    }
    len = strlen(name);
    p = malloc(sizeof(*p) + len + 1);
    if (p == NULL)
        return cc__err_null(ENOMEM, "cc_process_start: out of memory");
    memcpy(p->name, name, len + 1);
    cc__mutex_init(&p->mu);
    p->reaped = false;
    p->lost = false;
    p->exitcode = 0;
    start.fn = fn;
    start.arg = arg;
    start.name = p->name;
    if (!cc__atfork_installed() && cc__debug())
        cc__debugf("cc_process_start: the fork handlers are not installed; "
                   "the child may inherit locks held by other threads");
    fflush(NULL); /* else the child would write the parent's output again */
    pid = fork();
    if (pid < 0) {
        int e = errno;

        free(p);
        return cc__errf_null(e, "cc_process_start: cannot fork '%s': %s",
                             name, strerror(e));
    }
    if (pid == 0)
        child_main(&start);
    p->pid = pid;
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd < 0) {
        int e = errno;

        kill(pid, SIGKILL); /* not reaped yet: the pid is still the child */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        free(p);
        return cc__errf_null(e, "cc_process_start: pidfd_open for child %d: "
                                "%s", (int)pid, strerror(e));
    }
    p->magic = PROCESS_MAGIC;
    return p;
}

int cc__pidfd_reap(int pidfd, int *code)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) != 0)
        if (errno != EINTR)
            return errno;
    if (si.si_pid == 0)
        return EAGAIN;
    *code = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return 0;
}

/*
 * Reap the child if it has ended; mu held.  Returns 0 (reaped, now or
 * before; `lost` set when someone else reaped it), EAGAIN (still running)
 * or an errno of waitid.  Never blocks.
 */
static int reap_locked(cc_process *p)
{
    int rc;

    CC__ASSERT(cc__mutex_owned(&p->mu));
    if (p->reaped)
        return 0;
    rc = cc__pidfd_reap(p->pidfd, &p->exitcode);
    if (rc == ECHILD) { /* SIGCHLD ignored, or a waitpid(-1) elsewhere */
        p->reaped = true;
        p->lost = true;
        return 0;
    }
    if (rc == 0)
        p->reaped = true;
    return rc;
}

static int try_reap(cc_process *p)
{
    int rc;

    cc__mutex_lock(&p->mu);
    rc = reap_locked(p);
    cc__mutex_unlock(&p->mu);
    return rc;
}

static int lost_error(cc_process *p, const char *what)
{
    return cc__errf(ECHILD, "%s: process '%s' (pid %d) was reaped by someone "
                            "else (SIGCHLD ignored, or waitpid(-1)): its exit "
                            "status is unknown", what, p->name, (int)p->pid);
}

int cc_process_join(cc_process *p, double timeout)
{
    int64_t deadline;

    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_join: not a process");
    if (cc__deadline_for(timeout, "cc_process_join", &deadline) != 0)
        return -1;
    if (timeout != 0 && cc__checkpoint("process join") != 0)
        return -1;
    for (;;) {
        int rc = try_reap(p);
        double left;

        if (rc == 0) {
            if (p->lost) /* final once reaped: no lock needed */
                return lost_error(p, "cc_process_join");
            return 0;
        }
        if (rc != EAGAIN)
            return cc__errf(rc, "cc_process_join: waitid for '%s' (pid %d): "
                                "%s", p->name, (int)p->pid, strerror(rc));
        if (timeout == 0)
            return cc__errf(EAGAIN, "process '%s' (pid %d) is still running",
                            p->name, (int)p->pid);
        left = cc__seconds_until(deadline);
        if (left == 0)
            return cc__errf(ETIMEDOUT, "join: process '%s' (pid %d) still "
                                       "running at the deadline",
                            p->name, (int)p->pid);
        if (cc_wait_fd(p->pidfd, CC_READABLE, left) < 0) {
            if (errno == ECANCELED)
                return cc__err_wait(ECANCELED, "process join");
            if (errno != ETIMEDOUT && errno != EAGAIN)
                return cc__errf(errno, "cc_process_join: waiting for '%s' "
                                       "(pid %d): %s", p->name, (int)p->pid,
                                cc_errmsg());
            /* timed out: the next round reaps or reports the deadline */
        }
    }
}

int cc_process_exitcode(cc_process *p, int *code)
{
    int rc;

    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_exitcode: not a process");
    if (code == NULL)
        return cc__err(EINVAL, "cc_process_exitcode: code is NULL");
    cc__mutex_lock(&p->mu);
    rc = reap_locked(p);
    if (rc == 0 && !p->lost)
        *code = p->exitcode;
    cc__mutex_unlock(&p->mu);
    if (rc == EAGAIN)
        return cc__errf(EAGAIN, "process '%s' (pid %d) is still running",
                        p->name, (int)p->pid);
    if (rc != 0)
        return cc__errf(rc, "cc_process_exitcode: waitid for '%s': %s",
                        p->name, strerror(rc));
    if (p->lost)
        return lost_error(p, "cc_process_exitcode");
    return 0;
}

bool cc_process_is_alive(cc_process *p)
{
    if (!process_ok(p))
        return false;
    return try_reap(p) == EAGAIN;
}

pid_t cc_process_pid(cc_process *p)
{
    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_pid: not a process");
    return p->pid;
}

const char *cc_process_name(cc_process *p)
{
    return process_ok(p) ? p->name : "";
}

int cc_process_signal(cc_process *p, int sig)
{
    bool reaped;

    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_signal: not a process");
    cc__mutex_lock(&p->mu);
    reaped = p->reaped;
    cc__mutex_unlock(&p->mu);
    if (reaped)
        return cc__errf(ESRCH, "process '%s' (pid %d) has already been "
                               "joined", p->name, (int)p->pid);
    /* Through the pidfd: a pid reused since cannot be hit.  Reaped by a
     * concurrent joiner meanwhile, the kernel says ESRCH. */
    if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) != 0) {
        int e = errno;

        return cc__errf(e, "cannot send signal %d to process '%s' (pid %d): "
                           "%s", sig, p->name, (int)p->pid, strerror(e));
    }
    return 0;
}

int cc_process_terminate(cc_process *p)
{
    return cc_process_signal(p, SIGTERM);
}

int cc_process_kill(cc_process *p)
{
    return cc_process_signal(p, SIGKILL);
}

void cc_process_free(cc_process *p)
{
    int rc;

    if (!process_ok(p))
        return;
    p->magic = 0;
    cc__mutex_lock(&p->mu);
    rc = reap_locked(p);
    cc__mutex_unlock(&p->mu);
    if (rc == EAGAIN) {
        siginfo_t si;

        if (cc__debug())
            cc__debugf("process '%s' (pid %d) was still running when its "
                       "handle was freed: killed it", p->name, (int)p->pid);
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        /* Blocking, but short: SIGKILL cannot be caught or ignored. */
        while (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED) != 0 &&
               errno == EINTR)
            ;
    }
    close(p->pidfd);
    free(p);
}
