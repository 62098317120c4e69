/*
 * fault_driver.c - the fault-injection campaign (`make fault`).
 *
 *   fault_driver [--persistent] [--only NAME,...] [--list] [--from N]
 *                [--max-runs N] [--timeout SECONDS] [--verbose]
 *
 * For every scenario (scenario.h): one run with nothing failing, which
 * must complete and counts the library's resource calls; then runs that
 * fail the 1st, 2nd, 3rd, ... call (fault.h), each in a fresh process
 * forked from this one, until a run completes without reaching the failing
 * call.  With --persistent, every call from that one on fails too (memory
 * that stays short: the cleanup after the first failure must get by).
 *
 * A run passes when it ends SC_DONE or SC_REPORTED, exits normally
 * with no leak (LeakSanitizer, in the ASan build this driver is made for)
 * and leaves no more descriptors open than the run without failures did;
 * it fails on a wrong result, an error without errno or message, a crash,
 * a leak, a descriptor leak, or a hang (no end within --timeout seconds,
 * default 120: a hang bound, far above the milliseconds a run takes, not a
 * speed check).  With FAULT_GDB=1 a hung run's threads are printed by gdb
 * before it is killed.
 *
 * The report gives, per scenario, the calls counted and the runs ended each
 * way, then the injection points exercised: the distinct (call, caller)
 * pairs that were made to fail, by kind.  Exit status 0 when every run
 * passed, 1 when one failed, 2 on a usage error.
 *
 * This process never calls the library itself: every run starts from a
 * process in which the library has made no thread, object or descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "scenario.h"

/* What a run sends back on its result pipe before it exits. */
typedef struct run_result {
    int rc;                 /* SC_DONE, SC_REPORTED, SC_BAD */
    int fired;              /* the armed call failed */
    unsigned long calls;    /* calls counted */
    int extra_fds;          /* descriptors open after the run, minus before */
    sc_outcome out;
} run_result;

/* How a run ended, as the parent saw it. */
enum run_end { END_PASS, END_FAIL, END_SKIPPED };

typedef struct options {
    const char *only;
    unsigned long from;
    unsigned long max_runs;
    double timeout;
    bool verbose;
    bool persistent;
} options;

/* One injection point: a kind of call from one place in the library. */
typedef struct point {
    int kind;
    uint64_t offset;
} point;

static point *points;
static size_t n_points, cap_points;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* The child: run `sc` with call n armed to fail (0: none), report, exit. */
static void child_run(const scenario *sc, unsigned long n, bool persistent,
                      int hit_fd, int res_fd, int err_fd)
{
    run_result res;
    int before;

    dup2(err_fd, STDERR_FILENO);
    close(err_fd);
    memset(&res, 0, sizeof(res));
    before = count_fds();
    fault_arm(n, persistent, hit_fd);
    res.rc = sc->run();
    fault_disarm();
    res.fired = fault_fired();
    res.calls = fault_calls();
    res.extra_fds = count_fds() - before;
    res.out = sc_out;
    if (write(res_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
        _exit(98);
    close(res_fd);
    close(hit_fd);
    exit(0); /* LeakSanitizer checks at exit */
}

/* "name (file:line)" for an offset in the library: addr2line, cached by
 * the caller's buffer. */
static void describe(uint64_t offset, char *buf, size_t size)
{
    char cmd[4200];
    FILE *p;
    char fn[512] = "?", where[512] = "?";

    /* The caller's return address: the call is the instruction before. */
    snprintf(cmd, sizeof(cmd), "addr2line -f -e '%s' 0x%" PRIx64,
             fault_library_path(), offset - 1);
    p = popen(cmd, "r");
    if (p != NULL) {
        if (fgets(fn, sizeof(fn), p) != NULL)
            fn[strcspn(fn, "\n")] = '\0';
        if (fgets(where, sizeof(where), p) != NULL)
            where[strcspn(where, "\n")] = '\0';
        pclose(p);
    }
    const char *slash = strrchr(where, '/');
    const char *src = slash != NULL ? slash + 1 : where;
    snprintf(buf, size, "%s (%s)", fn, src);
}

static void note_point(int kind, uint64_t offset)
{
    for (size_t i = 0; i < n_points; i++)
        if (points[i].kind == kind && points[i].offset == offset)
            return;
    if (n_points == cap_points) {
        cap_points = cap_points ? cap_points * 2 : 64;
        points = realloc(points, cap_points * sizeof(*points));
        if (points == NULL) {
            perror("fault_driver");
            exit(2);
        }
    }
    points[n_points].kind = kind;
    points[n_points].offset = offset;
    n_points++;
}

/* Prints what a failed run left on its stderr (at most 6 KiB of it). */
static void print_stderr(FILE *err)
{
    char buf[6144];
    size_t len;

    fflush(err);
    rewind(err);
    len = fread(buf, 1, sizeof(buf) - 1, err);
    buf[len] = '\0';
    if (len > 0)
        fprintf(stderr, "  --- its stderr ---\n%s  ---\n", buf);
}

static void dump_threads(pid_t pid)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd),
             "gdb -batch -p %d -ex 'thread apply all bt' >&2 2>/dev/null",
             (int)pid);
    if (system(cmd) != 0)
        fprintf(stderr, "  (gdb could not attach)\n");
}

/*
 * Runs `sc` in a child with call n failing.  Fills *res (and *hit when a
 * call was failed) and returns END_PASS or END_FAIL, printing why a run
 * failed.  baseline_fds is the clean run's extra_fds (-1 for the clean run
 * itself).
 */
static enum run_end run_once(const scenario *sc, unsigned long n,
                             const options *o, int baseline_fds,
                             run_result *res, fault_hit *hit, bool *hit_seen)
{
    int hit_pipe[2], res_pipe[2];
    FILE *err = tmpfile();
    pid_t pid;
    int pidfd, status = 0;
    struct pollfd pfd;
    char site[600] = "no call failed";
    enum run_end end = END_PASS;
    char why[400] = "";

    if (err == NULL || pipe2(hit_pipe, O_CLOEXEC) != 0 ||
        pipe2(res_pipe, O_CLOEXEC) != 0) {
        perror("fault_driver: pipe");
        exit(2);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fault_driver: fork");
        exit(2);
    }
    if (pid == 0) {
        close(hit_pipe[0]);
        close(res_pipe[0]);
        child_run(sc, n, o->persistent, hit_pipe[1], res_pipe[1],
                  fileno(err));
    }
    close(hit_pipe[1]);
    close(res_pipe[1]);
    pidfd = pidfd_open(pid, 0);
    pfd.fd = pidfd;
    pfd.events = POLLIN;
    if (pidfd < 0 || poll(&pfd, 1, (int)(o->timeout * 1000)) == 0) {
        memset(res, 0, sizeof(*res));
        *hit_seen = read(hit_pipe[0], hit, sizeof(*hit)) == sizeof(*hit);
        if (*hit_seen)
            describe(hit->offset, site, sizeof(site));
        fprintf(stderr, "FAIL %s, call %lu (%s %s): no end after %.0f s\n",
                sc->name, n, *hit_seen ? fault_kind_name(hit->kind) : "",
                site, o->timeout);
        if (getenv("FAULT_GDB") != NULL)
            dump_threads(pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        print_stderr(err);
        end = END_FAIL;
        goto out;
    }
    waitpid(pid, &status, 0);
    *hit_seen = read(hit_pipe[0], hit, sizeof(*hit)) == sizeof(*hit);
    if (read(res_pipe[0], res, sizeof(*res)) != sizeof(*res)) {
        memset(res, 0, sizeof(*res));
        res->rc = SC_BAD;
        snprintf(why, sizeof(why), "ended before its report");
    }
    if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "killed by signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        snprintf(why, sizeof(why), "exit status %d%s", WEXITSTATUS(status),
                 WEXITSTATUS(status) == 23 ? " (LeakSanitizer: a leak)" : "");
    else if (why[0] != '\0')
        ;
    else if (res->rc == SC_BAD)
        snprintf(why, sizeof(why), "%s: %s", res->out.what, res->out.msg);
    else if (!res->fired && res->rc != SC_DONE)
        snprintf(why, sizeof(why), "failed with nothing injected: %s: %s",
                 res->out.what, res->out.msg);
    else if (baseline_fds >= 0 && res->extra_fds > baseline_fds)
        snprintf(why, sizeof(why),
                 "left %d more descriptors open than the clean run (%d)",
                 res->extra_fds, baseline_fds);
    /* addr2line runs only for a line that names the call */
    if (*hit_seen && (why[0] != '\0' || (o->verbose && n > 0)))
        describe(hit->offset, site, sizeof(site));
    if (why[0] != '\0') {
        fprintf(stderr, "FAIL %s, call %lu (%s %s): %s\n", sc->name, n,
                *hit_seen ? fault_kind_name(hit->kind) : "", site, why);
        print_stderr(err);
        end = END_FAIL;
    } else if (o->verbose && n > 0) {
        printf("  %s call %lu: %s %s -> %s%s\n", sc->name, n,
               *hit_seen ? fault_kind_name(hit->kind) : "", site,
               res->rc == SC_DONE ? "done" : "reported ",
               res->rc == SC_DONE ? "" : res->out.what);
        if (res->rc != SC_DONE)
            printf("      %s: %s\n", strerrorname_np(res->out.err),
                   res->out.msg);
    }
out:
    if (pidfd >= 0)
        close(pidfd);
    close(hit_pipe[0]);
    close(res_pipe[0]);
    fclose(err);
    return end;
}

/* Campaign totals. */
typedef struct totals {
    unsigned long runs, done, reported, failed;
} totals;

static bool selected(const options *o, const char *name)
{
    const char *p = o->only;
    size_t len = strlen(name);

    if (p == NULL)
        return true;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");

        if (n == len && strncmp(p, name, len) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void run_scenario(const scenario *sc, const options *o, totals *t)
{
    run_result res;
    fault_hit hit;
    bool hit_seen;
    unsigned long n, done = 0, reported = 0, failed = 0;
    int baseline;

    if (run_once(sc, 0, o, -1, &res, &hit, &hit_seen) != END_PASS ||
        res.rc != SC_DONE) {
        if (res.rc != SC_DONE)
            fprintf(stderr, "FAIL %s: the run without failures failed\n",
                    sc->name);
        t->failed++;
        return;
    }
    baseline = res.extra_fds;
    if (res.calls == 0) {
        /* Every scenario allocates: no call counted means the shim is not
         * in the path (a build without the --wrap links), and the rest
         * would pass without testing anything. */
        fprintf(stderr, "FAIL %s: no call went through the shim\n",
                sc->name);
        t->failed++;
        return;
    }
    printf("%-16s %5lu calls  %s\n", sc->name, res.calls, sc->what);
    fflush(stdout);
    for (n = o->from; n < o->from + o->max_runs; n++) {
        enum run_end end = run_once(sc, n, o, baseline, &res, &hit, &hit_seen);

        if (hit_seen)
            note_point(hit.kind, hit.offset);
        if (end == END_FAIL) {
            failed++;
            if (!hit_seen && !res.fired)
                break; /* past the last call, and failing anyway */
            continue;
        }
        if (!res.fired)
            break; /* ran past its last call: the scenario is covered */
        if (res.rc == SC_DONE)
            done++;
        else
            reported++;
    }
    if (n == o->from + o->max_runs) {
        fprintf(stderr, "FAIL %s: still reaching failing calls after %lu "
                "runs (--max-runs)\n", sc->name, o->max_runs);
        failed++;
    }
    printf("%-16s %5lu runs: %lu absorbed, %lu reported, %lu failed\n", "",
           n - o->from, done, reported, failed);
    fflush(stdout);
    t->runs += n - o->from;
    t->done += done;
    t->reported += reported;
    t->failed += failed;
}

static void usage(void)
{
    fprintf(stderr, "usage: fault_driver [--persistent] [--only NAME,...] "
                    "[--list] [--from N] [--max-runs N] [--timeout SECONDS] "
                    "[--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const scenario *const groups[] = {sc_threads, sc_aio, sc_process,
                                      sc_http};
    options o = {NULL, 1, 5000, 120.0, false, false};
    totals t = {0};
    bool list = false;
    unsigned long per_kind[FAULT_NKINDS] = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--list") == 0)
            list = true;
        else if (strcmp(a, "--verbose") == 0)
            o.verbose = true;
        else if (strcmp(a, "--persistent") == 0)
            o.persistent = true;
        else if (i + 1 < argc && strcmp(a, "--only") == 0)
            o.only = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--from") == 0)
            o.from = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--max-runs") == 0)
            o.max_runs = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--timeout") == 0)
            o.timeout = strtod(argv[++i], NULL);
        else
            usage();
    }
    if (o.from == 0 || o.max_runs == 0 || !(o.timeout > 0))
        usage();
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        for (const scenario *sc = groups[g]; sc->name != NULL; sc++) {
            if (list)
                printf("%-16s %s\n", sc->name, sc->what);
            else if (selected(&o, sc->name))
                run_scenario(sc, &o, &t);
        }
    if (list)
        return 0;
    printf("\nmode: %s\n", o.persistent ? "persistent (every call from the "
                                           "nth on fails)"
                                         : "once (only the nth call fails)");
    for (size_t i = 0; i < n_points; i++)
        per_kind[points[i].kind]++;
    printf("\n%lu runs with a failing call: %lu absorbed, %lu reported, "
           "%lu failed\n", t.runs, t.done, t.reported, t.failed);
    printf("%zu injection points exercised:", n_points);
    for (int k = 0; k < FAULT_NKINDS; k++)
        if (per_kind[k] > 0)
            printf(" %s %lu,", fault_kind_name(k), per_kind[k]);
    printf("\n");
    if (o.verbose)
        for (size_t i = 0; i < n_points; i++) {
            char site[600];

            describe(points[i].offset, site, sizeof(site));
            printf("  %-14s %s\n", fault_kind_name(points[i].kind), site);
        }
    return t.failed == 0 ? 0 : 1;
}
