/* test_assert - the internal assertions are on in every test build, and a
 * broken invariant stops the process at once with a report naming the
 * condition, the place and who failed (src/internal/assert.h). */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "internal/assert.h"
#include "internal/mutex.h"

/* Run fn in a child with stderr captured; return what it printed and how
 * it ended (*status as waitpid's). */
static char *run_child(void (*fn)(void), int *status)
{
    int fds[2];
    char *out = calloc(1, 4096);
    size_t n = 0;
    pid_t pid;

    assert_non_null(out);
    assert_ok(pipe(fds));
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    for (ssize_t r; n < 4095 && (r = read(fds[0], out + n, 4095 - n)) > 0;)
        n += (size_t)r;
    close(fds[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
    return out;
}

static void unlock_a_free_mutex(void)
{
    cc__mutex m = CC__MUTEX_INIT;

    (void)cc_errmsg(); /* the thread has a context, named MainThread */
    cc__mutex_unlock(&m); /* held by nobody: an invariant broken */
}

static void lock_twice(void)
{
    cc__mutex m = CC__MUTEX_INIT;

    cc__mutex_lock(&m);
    cc__mutex_lock(&m); /* not recursive: caught instead of a deadlock */
}

static void test_assertions_are_on_in_test_builds(void **state)
{
    (void)state;
    assert_int_equal(CC__ASSERTS_ON, 1);
}

static void test_a_broken_invariant_aborts_with_a_report(void **state)
{
    (void)state;
    int status;
    char *out = run_child(unlock_a_free_mutex, &status);

    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "internal assertion failed: "
                                "cc__mutex_owned(m)"));
    assert_non_null(strstr(out, "mutex.h:"));
    assert_non_null(strstr(out, "in cc__mutex_unlock()"));
    assert_non_null(strstr(out, "in thread 'MainThread'"));
    free(out);
}

static void test_a_self_deadlock_is_caught(void **state)
{
    (void)state;
    int status;
    char *out = run_child(lock_twice, &status);

    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "!cc__mutex_owned(m)"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assertions_are_on_in_test_builds),
        cmocka_unit_test(test_a_broken_invariant_aborts_with_a_report),
        cmocka_unit_test(test_a_self_deadlock_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
