/*
 * process.c - cc_process: a function run in a child, forked or spawned,
 * joined through a pidfd (process layer).  The spawn start method's own
 * parts (the fresh run of the program, its start-up hook) are in
 * process_spawn.c.
 *
 * Parent side.  The handle is a child record (internal/child.h, shared with
 * cc_popen): the pid, a pidfd opened right after fork(), the return code
 * once reaped.  Joining, polling, signals and the free path are the
 * record's, with its rules: a join waits for the pidfd with cc_wait_fd (a
 * task only suspends), the first reaper records the code for every other
 * joiner, a signal to an ended child does nothing.
 *
 * Child side (child_main).  The child is the forking thread alone.  It
 * drops stdio output the parent buffered after its flush, takes its name,
 * leaves the parent's loop, gets a fresh context, runs fn - on a fresh
 * stack when it was forked from a task, whose stack is small and belongs
 * to a loop the child cannot run - and leaves with fflush + _exit.  The
 * library's global state was made sane by the fork hooks (base/atfork.c).
 * A spawned child takes its names here too (cc__process_child_names) and
 * runs fn through the same exit path (cc__process_child_run).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/aio.h"
#include "internal/atfork.h"
#include "internal/child.h"
#include "internal/error.h"
#include "internal/log.h"
#include "internal/process.h"
#include "internal/thread.h"
#include "process/spawn.h"

#if defined(CONCUR_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CONCUR_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#define PROCESS_MAGIC 0x50524f43u   /* "PROC" */
#define CHILD_STACK (8u << 20)      /* fn's stack in a child forked from a
                                       task: a main thread's usual size */

/* A handle: the child record and the name, fixed at start.  Freed by
 * cc_process_free only (its caller must be its last user). */
struct cc_process {
    uint32_t magic;     /* PROCESS_MAGIC while alive */
    cc__child child;    /* pid, pidfd, return code (guarded by child.mu) */
    char name[];        /* NUL-terminated */
};

/* Children started by this process so far, for "Process-<n>" names. */
static _Atomic unsigned children_started;

/* This process's place in the tree of cc_process children, as Python's
 * _identity: "" in the main process, "3" in its third child, "3:1" in
 * that one's first.  Written only by a child, while it has one thread. */
static char identity[CC__IDENTITY_MAX];

/* The process-wide default start method (cc_process_set_start_method). */
static _Atomic int default_method = CC_START_FORK;

/* What the child needs; on the parent's stack, copied by fork. */
typedef struct child_start {
    cc_fn fn;
    void *arg;
    const char *name;
    char identity[CC__IDENTITY_MAX]; /* the child's */
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
void cc__process_child_run(cc_fn fn, void *arg)
{
    void *result = fn(arg);
    const cc_error *e = result == NULL ? cc_error_pending() : NULL;

    if (e != NULL) {
        char small[2048];
        size_t need = cc_error_format(e, small, sizeof(small));
        char *text = need < sizeof(small) ? small : malloc(need + 1);

        if (text == NULL)
            text = small; /* truncated rather than nothing */
        else if (text != small)
            cc_error_format(e, text, need + 1);
        cc__logf(CC_LOG_ERROR, "Process %s: %s", cc_process_current_name(),
                 text);
        cc_process_exit(1);
    }
    cc_process_exit(0);
}

static void child_run(const child_start *s) __attribute__((noreturn));
static void child_run(const child_start *s)
{
    cc__process_child_run(s->fn, s->arg);
}

void cc__process_child_names(const char *child_identity, const char *name)
{
    char os_name[16];

    snprintf(identity, sizeof(identity), "%s", child_identity);
    atomic_store(&children_started, 0);
    cc__process_set_current_name(name);
    snprintf(os_name, sizeof(os_name), "%s", name);
    prctl(PR_SET_NAME, os_name, 0, 0, 0);
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
        cc__logf(CC_LOG_ERROR, "Process %s: cannot make a stack for the "
                               "child: %s",
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

    /* The parent flushed stdio before the fork; what its other threads
     * buffered since is the parent's to write, not ours. */
    __fpurge(stdout);
    __fpurge(stderr);
    cc__process_child_names(s->identity, s->name);
    /* Out of the parent's loop (if any), with a clean context: fn starts
     * with no error, no deadline scope, as the child's "MainThread". */
    cc__loop_child_detach();
    cc__ctx_child_fresh();
    cc__thread_main_name("MainThread"); /* as the context: enumerate agrees */
    if (in_task)
        run_on_fresh_stack(s);
    child_run(s);
}

/* ----------------------------------------------------------- the parent */

int cc_process_set_start_method(int method)
{
    if (method < CC_START_DEFAULT || method > CC_START_SPAWN)
        return cc__errf(EINVAL, "cc_process_set_start_method: %d is not a "
                                "start method", method);
    atomic_store(&default_method,
                 method == CC_START_DEFAULT ? CC_START_FORK : method);
    return 0;
}

int cc_process_get_start_method(void)
{
    return atomic_load(&default_method);
}

/* Fork the child; its pid, or -1 with the error set. */
static pid_t start_fork(const child_start *start, const char *what)
{
    pid_t pid;

    if (!cc__atfork_installed() && cc__debug())
        cc__debugf("%s: the fork handlers are not installed; the child may "
                   "inherit locks held by other threads", what);
    fflush(NULL); /* else the child would write the parent's output again */
    pid = fork();
    if (pid < 0) {
        int e = errno;

        return cc__errf(e, "%s: cannot fork '%s': %s", what, start->name,
                        strerror(e));
    }
    if (pid == 0)
        child_main(start);
    return pid;
}

/* cc_process_start and cc_process_start_opts; `what` names the call. */
static cc_process *start_child(cc_fn fn, void *arg, const char *name,
                               int method, const char *what)
{
    const cc__fnref *ref = NULL;
    char dflt[96];
    char label[80];
    child_start start;
    unsigned number;
    cc_process *p;
    size_t len;
    pid_t pid;

    if (fn == NULL)
        return cc__errf_null(EINVAL, "%s: fn is NULL", what);
    if (method == CC_START_DEFAULT)
        method = atomic_load(&default_method);
    if (method == CC_START_SPAWN &&
        cc__process_spawn_check(fn, arg, what, &ref) != 0)
        return NULL;
    number = atomic_fetch_add(&children_started, 1) + 1;
    /* Deeper than ~10 generations the identity is cut (names stay unique
     * per parent, which is all they promise). */
    if (snprintf(start.identity, sizeof(start.identity), "%.40s%s%u",
                 identity, identity[0] != '\0' ? ":" : "", number) < 0)
        start.identity[0] = '\0';
    if (name == NULL) {
        snprintf(dflt, sizeof(dflt), "Process-%s", start.identity);
        name = dflt;
    }
    len = strlen(name);
    p = malloc(sizeof(*p) + len + 1);
    if (p == NULL)
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    memcpy(p->name, name, len + 1);
    start.fn = fn;
    start.arg = arg;
    start.name = p->name;
    if (method == CC_START_SPAWN)
        pid = cc__process_spawn(ref, arg, p->name, start.identity, what);
    else
        pid = start_fork(&start, what);
    if (pid < 0) {
        free(p);
        return NULL;
    }
    snprintf(label, sizeof(label), "process '%.60s'", p->name);
    if (cc__child_adopt(&p->child, pid, false, label, what) != 0) {
        free(p);
        return NULL;
    }
    p->magic = PROCESS_MAGIC;
    return p;
}

cc_process *cc_process_start(cc_fn fn, void *arg, const char *name)
{
    return start_child(fn, arg, name, CC_START_DEFAULT, "cc_process_start");
}

cc_process *cc_process_start_opts(cc_fn fn, void *arg, const char *name,
                                  const cc_process_opts *opts)
{
    const char *what = "cc_process_start_opts";
    int method = CC_START_DEFAULT;

    if (opts != NULL) {
        if (CC__OPTS_RESERVED(opts, what, "cc_process_opts") != 0)
            return NULL;
        method = opts->start_method;
        if (method < CC_START_DEFAULT || method > CC_START_SPAWN)
            return cc__errf_null(EINVAL, "%s: start_method %d is not a start "
                                         "method", what, method);
    }
    return start_child(fn, arg, name, method, what);
}

int cc_process_join(cc_process *p, double timeout)
{
    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_join: not a process");
    return cc__child_wait(&p->child, timeout, NULL, "cc_process_join");
}

int cc_process_exitcode(cc_process *p, int *code)
{
    int rc;

    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_exitcode: not a process");
    if (code == NULL)
        return cc__err(EINVAL, "cc_process_exitcode: code is NULL");
    rc = cc__child_poll(&p->child, code, "cc_process_exitcode");
    if (rc == 0)
        return cc__errf(EAGAIN, "%s is still running", p->child.label);
    return rc > 0 ? 0 : -1;
}

bool cc_process_is_alive(cc_process *p)
{
    if (!process_ok(p))
        return false;
    return cc__child_try_reap(&p->child) == EAGAIN;
}

pid_t cc_process_pid(cc_process *p)
{
    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_pid: not a process");
    return p->child.pid;
}

const char *cc_process_name(cc_process *p)
{
    return process_ok(p) ? p->name : "";
}

int cc_process_signal(cc_process *p, int sig)
{
    if (!process_ok(p))
        return cc__err(EINVAL, "cc_process_signal: not a process");
    return cc__child_signal(&p->child, sig, "cc_process_signal");
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
    if (!process_ok(p))
        return;
    p->magic = 0;
    cc__child_release(&p->child, "process handle");
    free(p);
}
