/* test_atfork - the fork-hook registry (src/base/atfork.c): hooks a module
 * registers run around every fork() of the process -- prepare in the
 * parent before it, in registration order; parent after it, in reverse;
 * child in the child -- including forks the program makes itself. */
#include "test_util.h"

#include <sys/wait.h>

#include "internal/atfork.h"

/* What ran, in order, in this process ("P1 P2 p2 p1" in a parent). */
static char trail[64];

static void add(const char *what)
{
    size_t n = strlen(trail);

    snprintf(trail + n, sizeof(trail) - n, "%s%s", n > 0 ? " " : "", what);
}

static void prepare1(void) { add("P1"); }
static void parent1(void) { add("p1"); }
static void child1(void) { add("c1"); }
static void prepare2(void) { add("P2"); }
static void parent2(void) { add("p2"); }
static void child2(void) { add("c2"); }

static const cc__fork_hooks first = {"test/first", prepare1, parent1, child1};
static const cc__fork_hooks second = {"test/second", prepare2, parent2,
                                      child2};
static const cc__fork_hooks child_only = {"test/child-only", NULL, NULL,
                                          child1};

/* Registered from constructors, as the library's modules register. */
__attribute__((constructor)) static void register_hooks(void)
{
    cc__atfork_register(&first);
    cc__atfork_register(&second);
}

static void test_hooks_run_around_a_plain_fork(void **state)
{
    (void)state;
    pid_t pid;
    int status;

    assert_true(cc__atfork_installed());
    trail[0] = '\0';
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) /* the prepares ran before the fork, then the children */
        _exit(strcmp(trail, "P1 P2 c1 c2") == 0 ? 0 : 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(trail, "P1 P2 p2 p1");
}

static void test_hooks_run_around_cc_process_start(void **state)
{
    (void)state;
    int code = -1;

    trail[0] = '\0';
    cc_process *p = cc_process_start((cc_fn)(void (*)(void))abort, NULL, NULL);
    assert_non_null(p);
    assert_ok(cc_process_join(p, 30));
    assert_ok(cc_process_exitcode(p, &code));
    assert_int_equal(code, -SIGABRT);
    cc_process_free(p);
    assert_string_equal(trail, "P1 P2 p2 p1");
}

/* A registration made later (a library dlopen'ed while the program runs)
 * takes part in the next fork; one with NULL hooks is fine. */
static void test_a_late_registration_takes_part(void **state)
{
    (void)state;
    pid_t pid;
    int status;

    cc__atfork_register(&child_only);
    trail[0] = '\0';
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(strcmp(trail, "P1 P2 c1 c2 c1") == 0 ? 0 : 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(trail, "P1 P2 p2 p1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_run_around_a_plain_fork),
        cmocka_unit_test(test_hooks_run_around_cc_process_start),
        cmocka_unit_test(test_a_late_registration_takes_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
