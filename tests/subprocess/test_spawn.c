/* test_spawn - starting programs with cc_popen_new: every stdio mode for
 * every stream (PIPE, DEVNULL, INHERIT, CC_FD, CC_STDOUT, CC_FROM), the
 * environment (inherit, replace, add, remove), the PATH search in the
 * child's PATH, cwd, pass_fds (the child has exactly 0, 1, 2 and those),
 * exec failures reported at start, signal mask and dispositions reset in
 * the child, new_session, the shell, bad arguments, and running out of
 * descriptors (EMFILE) with nothing leaked.  Every test checks for leaked
 * descriptors and children in its teardown. */
#include "subprocess/sp_util.h"

/* A temporary file with `text`; returns its fd (O_RDWR, at offset 0). */
static int temp_file(const char *text)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = fcntl(fileno(f), F_DUPFD_CLOEXEC, 3);
    fclose(f);
    assert_true(fd >= 0);
    if (text != NULL)
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* What fd holds from the start (caller frees). */
static char *file_text(int fd)
{
    static char buf[4096];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return strdup(buf);
}

#define assert_file_text(fd, want)                                         \
    do {                                                                   \
        char *t_ = file_text(fd);                                          \
        assert_string_equal(t_, (want));                                   \
        free(t_);                                                          \
    } while (0)

/* Run argv with opts, wait, return the code. */
static int run_code(const char *const argv[], const cc_popen_opts *o)
{
    int code = -1000;
    cc_popen *p = cc_popen_new(argv, o);
    if (p == NULL)
        fail_msg("cc_popen_new: %s", cc_errmsg());
    assert_ok(cc_popen_wait(p, 30, &code));
    cc_popen_free(p);
    return code;
}

/* Point the parent's fd `std` at `fd` for a while; returns the saved copy. */
static int redirect(int std, int fd)
{
    fflush(NULL);
    int saved = fcntl(std, F_DUPFD_CLOEXEC, 3);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, std), std);
    return saved;
}

static void restore(int std, int saved)
{
    fflush(NULL);
    assert_int_equal(dup2(saved, std), std);
    close(saved);
}

/* ---- the streams ---- */

static void test_stdout_pipe_and_return_code(void **state)
{
    (void)state;
    void *out = sp_output(ARGV(HELPER, "out", "hello", "exit", "3"), NULL, 3);
    assert_string_equal(sp_text(out), "hello");
    assert_int_equal(cc_blob_len(out), 5);
    cc_blob_free(out);
    /* nothing written: an empty blob, not NULL */
    out = sp_output(ARGV(HELPER), NULL, 0);
    assert_non_null(out);
    assert_int_equal(cc_blob_len(out), 0);
    cc_blob_free(out);
}

static void test_stdin_modes(void **state)
{
    (void)state;
    cc_popen_opts o = {0};
    void *out = NULL;
    int code;

    /* PIPE */
    o.in = CC_STDIO(CC_PIPE);
    o.out = CC_STDIO(CC_PIPE);
    cc_popen *p = cc_popen_new(ARGV(HELPER, "echo"), &o);
    assert_non_null(p);
    assert_true(cc_popen_fd(p, 0) >= 3);
    assert_ok(cc_popen_communicate(p, "abc", 3, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "abc");
    assert_int_equal(code, 0);
    cc_blob_free(out);
    cc_popen_free(p);

    /* DEVNULL: an immediate end of file */
    o = (cc_popen_opts){.in = CC_STDIO(CC_DEVNULL)};
    assert_prints(ARGV(HELPER, "count"), &o, "0\n");

    /* CC_FD: a file; the caller keeps its fd */
    int fd = temp_file("12345");
    o = (cc_popen_opts){.in = CC_STDIO_FD(fd)};
    assert_prints(ARGV(HELPER, "count"), &o, "5\n");
    assert_true(fcntl(fd, F_GETFD) != -1);
    close(fd);

    /* INHERIT: whatever the parent's fd 0 is */
    int pfd[2];
    assert_ok(pipe2(pfd, O_CLOEXEC));
    assert_int_equal(write(pfd[1], "xyzw", 4), 4);
    close(pfd[1]);
    int saved = redirect(0, pfd[0]);
    close(pfd[0]);
    o = (cc_popen_opts){0};
    void *got = sp_output(ARGV(HELPER, "count"), &o, 0);
    restore(0, saved);
    assert_string_equal(sp_text(got), "4\n");
    cc_blob_free(got);
}

static void test_stdout_modes(void **state)
{
    (void)state;
    cc_popen_opts o = {0};

    /* DEVNULL: written away; communicate gives NULL for a non-pipe */
    o.out = CC_STDIO(CC_DEVNULL);
    void *out = (void *)1;
    int code;
    cc_popen *p = cc_popen_new(ARGV(HELPER, "write", "100000"), &o);
    assert_non_null(p);
    assert_fails_with(cc_popen_fd(p, 1), EBADF);
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_null(out);
    assert_int_equal(code, 0);
    cc_popen_free(p);

    /* CC_FD */
    int fd = temp_file(NULL);
    o.out = CC_STDIO_FD(fd);
    assert_int_equal(run_code(ARGV(HELPER, "out", "to a file"), &o), 0);
    assert_file_text(fd, "to a file");

    /* INHERIT: the parent's fd 1 */
    int fd2 = temp_file(NULL);
    int saved = redirect(1, fd2);
    o = (cc_popen_opts){0};
    code = run_code(ARGV(HELPER, "out", "inherited"), &o);
    restore(1, saved);
    assert_int_equal(code, 0);
    assert_file_text(fd2, "inherited");
    close(fd2);
    close(fd);

    /* CC_STDOUT and CC_FROM are not for stdout */
    o = (cc_popen_opts){.out = CC_STDIO(CC_STDOUT)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.out = CC_STDIO(CC_FROM)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
}

static void test_stderr_modes(void **state)
{
    (void)state;
    cc_popen_opts o = {0};
    void *out = NULL, *err = NULL;
    int code;

    /* PIPE: separate from stdout */
    o.out = CC_STDIO(CC_PIPE);
    o.err = CC_STDIO(CC_PIPE);
    cc_popen *p = cc_popen_new(ARGV(HELPER, "out", "O", "err", "E"), &o);
    assert_non_null(p);
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, &err, &code));
    assert_string_equal(sp_text(out), "O");
    assert_string_equal(sp_text(err), "E");
    cc_blob_free(out);
    cc_blob_free(err);
    cc_popen_free(p);

    /* CC_STDOUT with stdout a pipe: one stream, in order */
    o.err = CC_STDIO(CC_STDOUT);
    p = cc_popen_new(ARGV(HELPER, "out", "1", "err", "2", "out", "3"), &o);
    assert_non_null(p);
    err = (void *)1;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, &err, &code));
    assert_string_equal(sp_text(out), "123");
    assert_null(err);
    cc_blob_free(out);
    cc_popen_free(p);

    /* CC_STDOUT with stdout a file: stderr goes to the file too */
    int fd = temp_file(NULL);
    o = (cc_popen_opts){.out = CC_STDIO_FD(fd), .err = CC_STDIO(CC_STDOUT)};
    assert_int_equal(run_code(ARGV(HELPER, "out", "a", "err", "b"), &o), 0);
    assert_file_text(fd, "ab");
    close(fd);

    /* DEVNULL */
    o = (cc_popen_opts){.out = CC_STDIO(CC_PIPE), .err = CC_STDIO(CC_DEVNULL)};
    assert_prints(ARGV(HELPER, "err", "gone", "out", "kept"), &o, "kept");

    /* CC_FD and INHERIT */
    fd = temp_file(NULL);
    o = (cc_popen_opts){.err = CC_STDIO_FD(fd)};
    assert_int_equal(run_code(ARGV(HELPER, "err", "e-file"), &o), 0);
    assert_file_text(fd, "e-file");
    int fd2 = temp_file(NULL);
    int saved = redirect(2, fd2);
    o = (cc_popen_opts){0};
    code = run_code(ARGV(HELPER, "err", "e-inherited"), &o);
    restore(2, saved);
    assert_int_equal(code, 0);
    assert_file_text(fd2, "e-inherited");
    close(fd2);
    close(fd);

    /* CC_FROM is for stdin only */
    o = (cc_popen_opts){.err = CC_STDIO(CC_FROM)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
}

/* The parent's fd 0 as the child's stdout while the child's stdin is a
 * pipe: setting the child's fd 0 first must not lose the parent's fd 0. */
static void test_low_fds_as_other_streams(void **state)
{
    (void)state;
    int fd = temp_file(NULL);
    int saved = redirect(0, fd);
    cc_popen_opts o = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO_FD(0),
                       .err = CC_STDIO_FD(0)};
    int code = -1;
    cc_popen *p = cc_popen_new(ARGV(HELPER, "echo", "err", "!"), &o);
    int e = errno;
    if (p != NULL) {
        cc_popen_communicate(p, "piped", 5, 30, NULL, NULL, &code);
        cc_popen_free(p);
    }
    restore(0, saved);
    if (p == NULL)
        fail_msg("cc_popen_new: %s (%s)", cc_errname(e), cc_errmsg());
    assert_int_equal(code, 0);
    assert_file_text(fd, "piped!");
    close(fd);
}

/* CC_FROM: the upstream's stdout pipe becomes this child's stdin, blocking
 * again, and is gone from the upstream handle. */
static void test_stdin_from_another_process(void **state)
{
    (void)state;
    cc_popen_opts up = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *a = cc_popen_new(ARGV(HELPER, "out", "from a"), &up);
    assert_non_null(a);
    cc_popen_opts down = {.in = CC_STDIO_FROM(a), .out = CC_STDIO(CC_PIPE)};
    cc_popen *b = cc_popen_new(ARGV(HELPER, "nonblock", "echo"), &down);
    assert_non_null(b);
    assert_fails_with(cc_popen_fd(a, 1), EBADF);
    /* taken already: a second CC_FROM of a fails */
    assert_null_with(cc_popen_new(ARGV(HELPER), &down), EINVAL);
    void *out = NULL;
    int code;
    assert_ok(cc_popen_communicate(b, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "stdin nonblock 0\nfrom a");
    cc_blob_free(out);
    assert_ok(cc_popen_wait(a, 30, &code));
    assert_int_equal(code, 0);
    cc_popen_free(a);
    cc_popen_free(b);

    /* CC_FROM a process without a stdout pipe */
    a = cc_popen_new(ARGV(HELPER), NULL);
    assert_non_null(a);
    down.in = CC_STDIO_FROM(a);
    assert_null_with(cc_popen_new(ARGV(HELPER), &down), EINVAL);
    down.in = CC_STDIO_FROM(NULL);
    assert_null_with(cc_popen_new(ARGV(HELPER), &down), EINVAL);
    assert_ok(cc_popen_wait(a, 30, NULL));
    cc_popen_free(a);

    /* A failed start gives the pipe back to the upstream handle. */
    a = cc_popen_new(ARGV(HELPER, "out", "kept"), &up);
    assert_non_null(a);
    down.in = CC_STDIO_FROM(a);
    assert_null_with(cc_popen_new(ARGV("/nonexistent/prog"), &down), ENOENT);
    assert_true(cc_popen_fd(a, 1) >= 0);
    out = NULL;
    assert_ok(cc_popen_communicate(a, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "kept");
    cc_blob_free(out);
    cc_popen_free(a);
}

/* ---- the environment ---- */

static void test_environment(void **state)
{
    (void)state;
    cc_popen_opts o = {0};
    setenv("CC_SP_A", "parent", 1);
    unsetenv("CC_SP_B");

    /* inherited */
    assert_prints(ARGV(HELPER, "env", "CC_SP_A", "env", "CC_SP_B"), &o,
                  "CC_SP_A=parent\nCC_SP_B unset\n");

    /* replaced */
    const char *env[] = {"CC_SP_B=only", NULL};
    o.env = env;
    assert_prints(ARGV(HELPER, "env", "CC_SP_A", "env", "CC_SP_B", "env",
                       "PATH"),
                  &o, "CC_SP_A unset\nCC_SP_B=only\nPATH unset\n");

    /* added and replacing, on top of the parent's; the last one wins */
    const char *set[] = {"CC_SP_A=over", "CC_SP_C=x=y", "CC_SP_C=last", NULL};
    o = (cc_popen_opts){.env_set = set};
    assert_prints(ARGV(HELPER, "env", "CC_SP_A", "env", "CC_SP_C"), &o,
                  "CC_SP_A=over\nCC_SP_C=last\n");

    /* removed; the rest stays */
    const char *unset[] = {"CC_SP_A", "CC_SP_NEVER_SET", NULL};
    setenv("CC_SP_KEEP", "yes", 1);
    o = (cc_popen_opts){.env_unset = unset};
    assert_prints(ARGV(HELPER, "env", "CC_SP_A", "env", "CC_SP_KEEP"), &o,
                  "CC_SP_A unset\nCC_SP_KEEP=yes\n");
    unsetenv("CC_SP_KEEP");

    /* all three: replace, then remove, then add */
    const char *env2[] = {"CC_SP_X=1", "CC_SP_Y=2", NULL};
    const char *unset2[] = {"CC_SP_X", "CC_SP_Z", NULL};
    const char *set2[] = {"CC_SP_Z=3", NULL};
    o = (cc_popen_opts){.env = env2, .env_unset = unset2, .env_set = set2};
    assert_prints(ARGV(HELPER, "env", "CC_SP_X", "env", "CC_SP_Y", "env",
                       "CC_SP_Z"),
                  &o, "CC_SP_X unset\nCC_SP_Y=2\nCC_SP_Z=3\n");

    /* an empty environment */
    const char *none[] = {NULL};
    o = (cc_popen_opts){.env = none};
    assert_prints(ARGV(HELPER, "env", "CC_SP_A"), &o, "CC_SP_A unset\n");

    /* malformed entries */
    const char *bad1[] = {"NOEQUALS", NULL};
    const char *bad2[] = {"=value", NULL};
    const char *bad3[] = {"A=B", NULL};
    const char *bad4[] = {"", NULL};
    o = (cc_popen_opts){.env = bad1};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "NOEQUALS"));
    o = (cc_popen_opts){.env_set = bad2};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.env_unset = bad3};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.env_unset = bad4};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    unsetenv("CC_SP_A");
}

/* A fresh directory; its path in buf. */
static void temp_dir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/cc-sp-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void put_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

static void test_path_search(void **state)
{
    (void)state;
    char dir[64], dir2[64], link[128], path_var[256], noexec[128];
    temp_dir(dir, sizeof(dir));
    temp_dir(dir2, sizeof(dir2));
    snprintf(link, sizeof(link), "%s/cc-sp-helper", dir);
    assert_ok(symlink(HELPER, link));
    snprintf(noexec, sizeof(noexec), "%s/cc-sp-helper", dir2);
    put_file(noexec, "not a program\n", 0644);

    /* not in the parent's PATH */
    assert_null_with(cc_popen_new(ARGV("cc-sp-helper"), NULL), ENOENT);
    assert_string_equal(cc_errmsg(), "cannot run 'cc-sp-helper': No such "
                                     "file or directory");

    /* in the child's: found there */
    snprintf(path_var, sizeof(path_var), "PATH=/nonexistent:%s", dir);
    const char *set[] = {path_var, NULL};
    cc_popen_opts o = {.env_set = set};
    assert_prints(ARGV("cc-sp-helper", "out", "found"), &o, "found");

    /* a non-executable file first: skipped, as execvp does */
    snprintf(path_var, sizeof(path_var), "PATH=%s:%s", dir2, dir);
    assert_prints(ARGV("cc-sp-helper", "out", "second"), &o, "second");
    /* only the non-executable one: EACCES */
    snprintf(path_var, sizeof(path_var), "PATH=%s", dir2);
    assert_null_with(cc_popen_new(ARGV("cc-sp-helper"), &o), EACCES);
    assert_string_equal(cc_errmsg(), "cannot run 'cc-sp-helper': Permission "
                                     "denied");

    /* an empty entry is the child's working directory */
    snprintf(path_var, sizeof(path_var), "PATH=/nonexistent:");
    o.cwd = dir;
    assert_prints(ARGV("cc-sp-helper", "out", "cwd"), &o, "cwd");
    /* and so is a relative program name with a slash */
    o = (cc_popen_opts){.cwd = dir};
    assert_prints(ARGV("./cc-sp-helper", "out", "dot"), &o, "dot");

    /* no PATH at all in a replaced environment: /bin:/usr/bin */
    const char *env[] = {"CC_SP=1", NULL};
    o = (cc_popen_opts){.env = env};
    assert_int_equal(run_code(ARGV("true"), &o), 0);

    /* the empty program name */
    assert_null_with(cc_popen_new(ARGV(""), NULL), ENOENT);

    unlink(link);
    unlink(noexec);
    rmdir(dir);
    rmdir(dir2);
}

static void test_cwd(void **state)
{
    (void)state;
    char dir[64], want[80];
    temp_dir(dir, sizeof(dir));
    cc_popen_opts o = {.cwd = dir};
    snprintf(want, sizeof(want), "%s\n", dir);
    assert_prints(ARGV(HELPER, "cwd"), &o, want);

    o.cwd = "/nonexistent-dir";
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), ENOENT);
    assert_string_equal(cc_errmsg(),
                        "cannot run '" HELPER "': cannot change to directory "
                        "'/nonexistent-dir': No such file or directory");
    char file[96];
    snprintf(file, sizeof(file), "%s/f", dir);
    put_file(file, "x", 0644);
    o.cwd = file;
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), ENOTDIR);
    unlink(file);
    rmdir(dir);
}

/* A path component of n characters ("long-" and x's). */
static void long_name(char *buf, size_t n)
{
    memcpy(buf, "long-", 5);
    memset(buf + 5, 'x', n - 5);
    buf[n] = '\0';
}

/* Paths of 200+ characters appear whole in every message: a program and
 * a cwd that cannot be used, and a program that runs (its waits, a
 * checked run).  The messages used to cut the program at 60 or 100
 * characters and the cwd at 80. */
static void test_long_paths_appear_whole_in_messages(void **state)
{
    (void)state;
    char dir[64], name[230], longdir[320], prog[400], missing[400];
    char cwd[600], want[1400];
    temp_dir(dir, sizeof(dir));
    long_name(name, 220);
    snprintf(longdir, sizeof(longdir), "%s/%s", dir, name);
    assert_ok(mkdir(longdir, 0700));
    snprintf(prog, sizeof(prog), "%s/helper-under-a-long-path", longdir);
    assert_ok(symlink(HELPER, prog));
    snprintf(missing, sizeof(missing), "%s/no-such-program", longdir);
    snprintf(cwd, sizeof(cwd), "%s/no-such-directory-%s", longdir, name);
    assert_true(strlen(prog) > 200 && strlen(cwd) > 400);

    cc_popen_opts o = {.cwd = cwd};
    assert_null_with(cc_popen_new(ARGV(prog), &o), ENOENT);
    snprintf(want, sizeof(want), "cannot run '%s': cannot change to "
             "directory '%s': No such file or directory", prog, cwd);
    assert_string_equal(cc_errmsg(), want);

    assert_null_with(cc_popen_new(ARGV(missing), NULL), ENOENT);
    snprintf(want, sizeof(want), "cannot run '%s': No such file or "
             "directory", missing);
    assert_string_equal(cc_errmsg(), want);

    cc_popen *p = cc_popen_new(ARGV(prog, "sleep", "30"), NULL);
    assert_non_null(p);
    assert_fails_with(cc_popen_wait(p, 0, NULL), EAGAIN);
    snprintf(want, sizeof(want), "'%s' (pid %d) is still running", prog,
             (int)cc_popen_pid(p));
    assert_string_equal(cc_errmsg(), want);
    cc_popen_free(p);

    cc_run_opts ro = {.check = true};
    cc_completed r;
    assert_fails_with(cc_subprocess_run(ARGV(prog, "exit", "3"), &ro, &r),
                      CC_ECALLEDPROCESS);
    snprintf(want, sizeof(want), "Command '[%s, exit, 3]' returned non-zero "
             "exit status 3.", prog);
    assert_string_equal(cc_errmsg(), want);
    cc_completed_free(&r);

    unlink(prog);
    rmdir(longdir);
    rmdir(dir);
}

/* ---- descriptors the child gets ---- */

/* The child's descriptors, as "0 1 2 ..." */
static char *child_fds(const cc_popen_opts *o)
{
    cc_popen_opts oo = o != NULL ? *o : (cc_popen_opts){0};
    void *out = sp_output(ARGV(HELPER, "fds"), &oo, 0);
    char *s = strdup(sp_text(out));
    cc_blob_free(out);
    return s;
}

static void test_child_gets_only_0_1_2(void **state)
{
    (void)state;
    /* descriptors without close-on-exec, low and high, stay out */
    int a = open("/dev/null", O_RDONLY);
    int b = fcntl(a, F_DUPFD, 200);
    int pfd[2];
    assert_ok(pipe(pfd));
    char *fds = child_fds(NULL);
    assert_string_equal(fds, "0 1 2\n");
    free(fds);
    close(a);
    close(b);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_pass_fds(void **state)
{
    (void)state;
    /* sparse, unsorted, duplicated, with 0-2 (ignored), close-on-exec or
     * not: the child has exactly these under the same numbers */
    int x = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int hi = fcntl(x, F_DUPFD_CLOEXEC, 100);
    int mid = fcntl(x, F_DUPFD, 57);
    int other = fcntl(x, F_DUPFD, 80); /* not passed */
    int pass[] = {hi, 1, mid, hi, 0};
    cc_popen_opts o = {.pass_fds = pass, .n_pass_fds = 5};
    char want[64];
    snprintf(want, sizeof(want), "0 1 2 %d %d\n", mid, hi);
    char *fds = child_fds(&o);
    assert_string_equal(fds, want);
    free(fds);

    /* every descriptor this process has (3, 4, ... in a row: each is
     * copied onto itself) plus the sparse ones */
    int all[256], n = 0;
    DIR *d = opendir("/proc/self/fd");
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && atoi(e->d_name) != self && n < 256)
            all[n++] = atoi(e->d_name);
    closedir(d);
    o = (cc_popen_opts){.pass_fds = all, .n_pass_fds = (size_t)n};
    char list[2048] = "0 1 2";
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
            int t = all[j]; all[j] = all[j - 1]; all[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        if (all[i] > 2)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), " %d",
                     all[i]);
    strcat(list, "\n");
    fds = child_fds(&o);
    assert_string_equal(fds, list);
    free(fds);

    /* they are the same files: two pipes written by the child */
    int p1[2], p2[2];
    assert_ok(pipe2(p1, O_CLOEXEC));
    assert_ok(pipe2(p2, O_CLOEXEC));
    int w1 = fcntl(p1[1], F_DUPFD_CLOEXEC, 40);
    int w2 = fcntl(p2[1], F_DUPFD_CLOEXEC, 30);
    close(p1[1]);
    close(p2[1]);
    char s1[16], s2[16];
    snprintf(s1, sizeof(s1), "%d", w1);
    snprintf(s2, sizeof(s2), "%d", w2);
    int pass2[] = {w1, w2};
    o = (cc_popen_opts){.pass_fds = pass2, .n_pass_fds = 2};
    assert_int_equal(run_code(ARGV(HELPER, "fdwrite", s1, "one", "fdwrite",
                                   s2, "two"), &o), 0);
    close(w1);
    close(w2);
    char buf[16] = "";
    assert_int_equal(read(p1[0], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(read(p2[0], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "two", 3);
    close(p1[0]);
    close(p2[0]);

    /* closed or negative: EINVAL, nothing started */
    int closed = fcntl(x, F_DUPFD_CLOEXEC, 150);
    close(closed);
    int bad[] = {closed};
    o = (cc_popen_opts){.pass_fds = bad, .n_pass_fds = 1};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    bad[0] = -1;
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.pass_fds = NULL, .n_pass_fds = 1};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);

    close(x);
    close(hi);
    close(mid);
    close(other);
}

/* ---- failures to start ---- */

static void test_exec_failures(void **state)
{
    (void)state;
    char dir[64], path[128], msg[256];
    temp_dir(dir, sizeof(dir));

    assert_null_with(cc_popen_new(ARGV("cc-no-such-program"), NULL), ENOENT);
    assert_string_equal(cc_errmsg(), "cannot run 'cc-no-such-program': No "
                                     "such file or directory");
    assert_null_with(cc_popen_new(ARGV("/nonexistent/prog"), NULL), ENOENT);

    /* not executable */
    snprintf(path, sizeof(path), "%s/plain", dir);
    put_file(path, "#!/bin/sh\necho hi\n", 0644);
    assert_null_with(cc_popen_new(ARGV(path), NULL), EACCES);
    snprintf(msg, sizeof(msg), "cannot run '%s': Permission denied", path);
    assert_string_equal(cc_errmsg(), msg);
    unlink(path);

    /* a directory */
    assert_null_with(cc_popen_new(ARGV(dir), NULL), EACCES);

    /* executable but no program: not run through a shell */
    snprintf(path, sizeof(path), "%s/garbage", dir);
    put_file(path, "this is text\n", 0755);
    assert_null_with(cc_popen_new(ARGV(path), NULL), ENOEXEC);
    unlink(path);

    /* a path through a file */
    assert_null_with(cc_popen_new(ARGV("/etc/passwd/x"), NULL), ENOTDIR);

    /* with pipes asked for: nothing left open either (teardown checks) */
    cc_popen_opts o = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_PIPE),
                       .err = CC_STDIO(CC_PIPE)};
    assert_null_with(cc_popen_new(ARGV("cc-no-such-program"), &o), ENOENT);
    rmdir(dir);
}

/* ---- what else the child starts with ---- */

static void test_signals_reset_in_child(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_term, old_pipe;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, &ign, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);

    void *out = sp_output(ARGV(HELPER, "sigs"), NULL, 0);

    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    assert_string_equal(sp_text(out), "SigBlk:\t0000000000000000\n"
                                      "SigIgn:\t0000000000000000\n");
    cc_blob_free(out);
}

static void test_new_session(void **state)
{
    (void)state;
    int pid, pgid, sid;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE), .new_session = true};
    cc_popen *p = cc_popen_new(ARGV(HELPER, "ids"), &o);
    assert_non_null(p);
    void *out = NULL;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, NULL));
    assert_int_equal(sscanf(sp_text(out), "%d %d %d", &pid, &pgid, &sid), 3);
    assert_int_equal(pid, cc_popen_pid(p));
    assert_int_equal(pgid, pid);
    assert_int_equal(sid, pid);
    cc_blob_free(out);
    cc_popen_free(p);

    /* without it: our group and session */
    out = sp_output(ARGV(HELPER, "ids"), NULL, 0);
    assert_int_equal(sscanf(sp_text(out), "%d %d %d", &pid, &pgid, &sid), 3);
    assert_int_equal(pgid, getpgid(0));
    assert_int_equal(sid, getsid(0));
    cc_blob_free(out);
}

static void test_shell(void **state)
{
    (void)state;
    cc_popen_opts o = {.out = CC_STDIO(CC_PIPE)};
    cc_popen *p = cc_popen_shell("echo $((6 * 7)); exit 4", &o);
    assert_non_null(p);
    void *out = NULL;
    int code;
    assert_ok(cc_popen_communicate(p, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "42\n");
    assert_int_equal(code, 4);
    cc_blob_free(out);
    cc_popen_free(p);
    /* argv is never interpreted: the same text as one argument */
    assert_prints(ARGV(HELPER, "out", "$((6 * 7)); exit 4"), NULL,
                  "$((6 * 7)); exit 4");
    assert_null_with(cc_popen_shell(NULL, NULL), EINVAL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const char *empty[] = {NULL};
    assert_null_with(cc_popen_new(NULL, NULL), EINVAL);
    assert_null_with(cc_popen_new(empty, NULL), EINVAL);
    cc_popen_opts o = {.in = CC_STDIO(CC_STDOUT)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.in = CC_STDIO_FD(-1)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    o = (cc_popen_opts){.out = CC_STDIO_FD(987)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "987"));
    o = (cc_popen_opts){.err = {.mode = (cc_stdio_mode)42}};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);
    int foreign = 0;
    o = (cc_popen_opts){.in = CC_STDIO_FROM((cc_popen *)&foreign)};
    assert_null_with(cc_popen_new(ARGV(HELPER), &o), EINVAL);

    /* calls on NULL */
    int code;
    assert_fails_with(cc_popen_pid(NULL), EINVAL);
    assert_fails_with(cc_popen_fd(NULL, 1), EINVAL);
    assert_fails_with(cc_popen_close_fd(NULL, 1), EINVAL);
    assert_fails_with(cc_popen_poll(NULL, &code), EINVAL);
    assert_fails_with(cc_popen_wait(NULL, 1, &code), EINVAL);
    assert_fails_with(cc_popen_communicate(NULL, NULL, 0, 1, NULL, NULL,
                                           NULL), EINVAL);
    assert_fails_with(cc_popen_send_signal(NULL, SIGTERM), EINVAL);
    assert_fails_with(cc_popen_terminate(NULL), EINVAL);
    assert_fails_with(cc_popen_kill(NULL), EINVAL);
    assert_fails_with(cc_popen_signal_group(NULL, SIGTERM), EINVAL);
    size_t len = 99;
    assert_null_with(cc_popen_partial(NULL, 1, &len), EINVAL);
    assert_int_equal(len, 0);
    cc_popen_free(NULL);

    /* on a live one */
    o = (cc_popen_opts){.out = CC_STDIO(CC_PIPE)};
    cc_popen *p = cc_popen_new(ARGV(HELPER, "sleep", "30"), &o);
    assert_non_null(p);
    assert_fails_with(cc_popen_fd(p, 3), EINVAL);
    assert_fails_with(cc_popen_fd(p, -1), EINVAL);
    assert_fails_with(cc_popen_fd(p, 0), EBADF);
    assert_fails_with(cc_popen_close_fd(p, 2), EBADF);
    assert_fails_with(cc_popen_wait(p, NAN, &code), EINVAL);
    assert_fails_with(cc_popen_communicate(p, NULL, 0, NAN, NULL, NULL, NULL),
                      EINVAL);
    assert_fails_with(cc_popen_communicate(p, NULL, 5, 1, NULL, NULL, NULL),
                      EINVAL);
    /* input without a stdin pipe */
    assert_fails_with(cc_popen_communicate(p, "x", 1, 1, NULL, NULL, NULL),
                      EINVAL);
    assert_fails_with(cc_popen_send_signal(p, -1), EINVAL);
    assert_fails_with(cc_popen_send_signal(p, 100000), EINVAL);
    assert_fails_with(cc_popen_signal_group(p, SIGTERM), EINVAL);
    assert_null_with(cc_popen_partial(p, 0, &len), EINVAL);
    assert_null_with(cc_popen_partial(p, 3, &len), EINVAL);
    assert_null(cc_popen_partial(p, 1, &len)); /* nothing read: no error */
    assert_int_equal(len, 0);
    assert_ok(cc_popen_close_fd(p, 1));
    assert_fails_with(cc_popen_close_fd(p, 1), EBADF);
    cc_popen_free(p); /* kills and reaps it */
}

/* ---- out of descriptors ---- */

/* Fill every free descriptor below the current soft limit, which is set
 * just above the highest one open; returns how many were filled. */
static int fill_fds(int *fill, int max)
{
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            return n;
        }
        assert_true(n < max);
        fill[n++] = fd;
    }
}

static void test_emfile_fails_cleanly(void **state)
{
    (void)state;
    struct rlimit old, low;
    int fill[512];
    cc_popen_opts pipes = {.in = CC_STDIO(CC_PIPE), .out = CC_STDIO(CC_PIPE)};
    cc_popen_opts out_pipe = {.out = CC_STDIO(CC_PIPE)};
    int highest = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && atoi(e->d_name) > highest)
            highest = atoi(e->d_name);
    closedir(d);

    /* one started before, to communicate without a descriptor to spare */
    cc_popen *early = cc_popen_new(ARGV(HELPER, "echo"), &pipes);
    assert_non_null(early);

    assert_ok(getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = (rlim_t)highest + 8;
    assert_ok(setrlimit(RLIMIT_NOFILE, &low));
    int n = fill_fds(fill, 512);

    /* no descriptor free: the pipe cannot be made */
    assert_null_with(cc_popen_new(ARGV(HELPER), &out_pipe), EMFILE);
    assert_non_null(strstr(cc_errmsg(), "pipe"));
    /* nor the pidfd of a child with no pipes: it is killed and reaped */
    assert_null_with(cc_popen_new(ARGV(HELPER, "sleep", "10"), NULL), EMFILE);
    /* one free: still no pipe (two ends) */
    close(fill[--n]);
    assert_null_with(cc_popen_new(ARGV(HELPER), &pipes), EMFILE);
    /* two free: the pipe is made, the pidfd is not */
    close(fill[--n]);
    assert_null_with(cc_popen_new(ARGV(HELPER, "sleep", "10"), &out_pipe),
                     EMFILE);
    assert_non_null(strstr(cc_errmsg(), "pidfd"));
    /* (the killed children were reaped: the teardown finds no zombie) */
    /* none free again: communicate cannot make its epoll descriptor; the
     * input it was given is kept for the next call */
    int t1 = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int t2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(t1 >= 0 && t2 >= 0);
    int code;
    void *out = NULL;
    assert_fails_with(cc_popen_communicate(early, "again", 5, 10, &out, NULL,
                                           &code), EMFILE);
    close(t1);
    close(t2);
    while (n > 0)
        close(fill[--n]);
    assert_ok(setrlimit(RLIMIT_NOFILE, &old));

    /* and all is well again: the input given first was kept */
    assert_ok(cc_popen_communicate(early, NULL, 0, 30, &out, NULL, &code));
    assert_string_equal(sp_text(out), "again");
    assert_int_equal(code, 0);
    cc_blob_free(out);
    cc_popen_free(early);
    assert_prints(ARGV(HELPER, "out", "ok"), &out_pipe, "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SP_TEST(test_stdout_pipe_and_return_code),
        SP_TEST(test_stdin_modes),
        SP_TEST(test_stdout_modes),
        SP_TEST(test_stderr_modes),
        SP_TEST(test_low_fds_as_other_streams),
        SP_TEST(test_stdin_from_another_process),
        SP_TEST(test_environment),
        SP_TEST(test_path_search),
        SP_TEST(test_cwd),
        SP_TEST(test_long_paths_appear_whole_in_messages),
        SP_TEST(test_child_gets_only_0_1_2),
        SP_TEST(test_pass_fds),
        SP_TEST(test_exec_failures),
        SP_TEST(test_signals_reset_in_child),
        SP_TEST(test_new_session),
        SP_TEST(test_shell),
        SP_TEST(test_bad_arguments),
        SP_TEST(test_emfile_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, sp_group_setup, NULL);
}
