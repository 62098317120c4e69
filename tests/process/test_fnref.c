/* test_fnref - which functions a process pool can run: functions of the
 * program, of a shared library it links, and of one it dlopens at run time
 * (the worker loads it by path); and the pointers it refuses at submit
 * (heap, stack, an executable anonymous mapping as JIT code would use,
 * data of the program or of a library) or that fail in the worker (a
 * library the worker cannot load again); the same for a spawned
 * cc_process child, which finds its function the same way. */
#include <dlfcn.h>
#include <sys/mman.h>

#include "process/fnref.h"
#include "process/pool_util.h"

void *pool_testlib_upper(void *arg); /* libpool_testlib.so */
void *pool_testlib_exit_with_length(void *arg); /* libpool_testlib.so */

static int program_data = 7;

static void *identity(void *arg)
{
    return arg;
}

/* Run fn("hello, pool") on the pool; the result string (caller frees). */
static char *run_upper(cc_executor *p, cc_fn fn)
{
    void *arg = cc_blob_strdup("hello, pool");
    cc_future *f = cc_submit(p, fn, arg);
    void *r;
    char *out;

    cc_blob_free(arg);
    assert_non_null(f);
    if (cc_future_result(f, &r, 60) != 0)
        fail_msg("task: %s", cc_errmsg());
    out = strdup(r);
    cc_future_free(f);
    return out;
}

static void test_function_of_the_program(void **state)
{
    (void)state;
    const cc__fnref *ref = cc__fnref_of(identity, "test");
    assert_non_null(ref);
    assert_int_equal(ref->path_len, 0); /* the main executable */
    assert_ptr_equal(cc__fnref_of(identity, "test"), ref); /* cached */
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *arg = cc_blob_strdup("same");
    cc_future *f = cc_submit(p, identity, arg);
    void *r;
    assert_ok(cc_future_result(f, &r, 60));
    assert_string_equal(r, "same");
    cc_blob_free(arg);
    cc_future_free(f);
    cc_executor_free(p);
}

static void test_function_of_a_linked_library(void **state)
{
    (void)state;
    const cc__fnref *ref = cc__fnref_of(pool_testlib_upper, "test");
    assert_non_null(ref);
    assert_true(ref->path_len > 0);
    assert_non_null(strstr(ref->path, "libpool_testlib.so"));
    cc_executor *p = cc_process_pool_new(2, NULL);
    char *out = run_upper(p, pool_testlib_upper);
    assert_string_equal(out, "HELLO, POOL");
    free(out);
    cc_executor_free(p);
}

static void test_function_of_a_dlopened_library(void **state)
{
    (void)state;
    void *h = dlopen(POOL_DYNLIB, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    cc_fn fn = (cc_fn)dlsym(h, "pool_dynlib_upper");
    assert_non_null(fn);
    cc_executor *p = cc_process_pool_new(2, NULL);
    char *out = run_upper(p, fn);
    assert_string_equal(out, "HELLO, POOL");
    free(out);
    void *args[20];
    void *res[20];
    for (int i = 0; i < 20; i++)
        args[i] = cc_blob_strdup("abc");
    assert_ok(cc_map(p, fn, args, 20, 3, res, 60));
    for (int i = 0; i < 20; i++) {
        assert_string_equal(res[i], "ABC");
        assert_string_equal(args[i], "abc"); /* the worker had a copy */
        cc_blob_free(res[i]);
        cc_blob_free(args[i]);
    }
    cc_executor_free(p);
    dlclose(h);
    /* pinned: a library that gave the pool a task stays loaded */
    assert_non_null(cc__fnref_of(fn, "test"));
    assert_string_equal(cc__fnref_of(fn, "test")->path, POOL_DYNLIB);
    h = dlopen(POOL_DYNLIB, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    assert_ptr_equal(dlsym(h, "pool_dynlib_upper"), (void *)fn);
    dlclose(h);
}

/* A library that was deleted after the parent loaded it: the parent can
 * name the function, the worker cannot load it; the task fails there and
 * the pool goes on. */
static void test_module_the_worker_cannot_load(void **state)
{
    (void)state;
    char path[] = "/tmp/concur-fnref-XXXXXX.so";
    int out = mkstemps(path, 3);
    int in = open(POOL_DYNLIB, O_RDONLY | O_CLOEXEC);
    char buf[65536];
    ssize_t n;
    assert_true(out >= 0 && in >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    unlink(path);
    cc_fn fn = (cc_fn)dlsym(h, "pool_dynlib_upper");
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *arg = cc_blob_strdup("x");
    cc_future *f = cc_submit(p, fn, arg);
    cc_blob_free(arg);
    assert_non_null(f);
    assert_fails_with(cc_future_result(f, NULL, 60), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "process pool worker: cannot load "));
    assert_non_null(strstr(cc_errmsg(), path));
    cc_future_free(f);
    f = cc_submit(p, identity, NULL); /* the worker is fine */
    assert_ok(cc_future_result(f, NULL, 60));
    cc_future_free(f);
    cc_executor_free(p);
    dlclose(h);
}

/* Start a spawned child running fn(arg); its exit code (stderr captured
 * into *err when err is not NULL; the caller frees it). */
static int spawn_and_join(cc_fn fn, void *arg, char **err)
{
    cc_process_opts o = {.start_method = CC_START_SPAWN};
    tu_capture cap;
    int code = -1000;

    if (err != NULL)
        cap = tu_capture_stderr();
    cc_process *p = cc_process_start_opts(fn, arg, "lib-child", &o);
    assert_non_null(p);
    assert_ok(cc_process_join(p, 60));
    if (err != NULL)
        *err = tu_capture_end(cap);
    assert_ok(cc_process_exitcode(p, &code));
    cc_process_free(p);
    return code;
}

/* A spawned cc_process runs a function of a dlopen'ed library: the child
 * loads it by path; one deleted since cannot be loaded, and the child
 * says so and exits 1. */
static void test_spawned_process_runs_library_functions(void **state)
{
    (void)state;
    void *arg = cc_blob_strdup("seven!!");
    assert_int_equal(spawn_and_join((cc_fn)pool_testlib_exit_with_length,
                                    arg, NULL), 7);
    void *h = dlopen(POOL_DYNLIB, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    cc_fn fn = (cc_fn)dlsym(h, "pool_dynlib_exit_with_length");
    assert_non_null(fn);
    assert_int_equal(spawn_and_join(fn, arg, NULL), 7);
    dlclose(h);

    char path[] = "/tmp/concur-fnref-XXXXXX.so";
    int out = mkstemps(path, 3);
    int in = open(POOL_DYNLIB, O_RDONLY | O_CLOEXEC);
    char buf[65536];
    ssize_t n;
    assert_true(out >= 0 && in >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    unlink(path);
    fn = (cc_fn)dlsym(h, "pool_dynlib_exit_with_length");
    char *err = NULL;
    assert_int_equal(spawn_and_join(fn, arg, &err), 1);
    if (strstr(err, "Process lib-child: spawned child: cannot find its "
                    "function (EINVAL)") == NULL ||
        strstr(err, path) == NULL)
        fail_msg("the child said: %s", err);
    free(err);
    dlclose(h);
    cc_blob_free(arg);
}

static void expect_refused(cc_executor *p, void *fn, const char *ending)
{
    char want[4096]; /* the library's path is as long as the checkout's */

    snprintf(want, sizeof(want), "cc_submit: a process pool task must be a "
             "function of the program or of a shared library it loads: "
             "%p %s", fn, ending);
    assert_null_with(cc_submit(p, (cc_fn)fn, NULL), EINVAL);
    assert_string_equal(cc_errmsg(), want);
}

static void test_pointers_that_are_not_task_functions(void **state)
{
    (void)state;
    cc_executor *p = cc_process_pool_new(1, NULL);
    void *heap = malloc(64);
    int on_stack = 0;
    void *jit = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char lib_ending[4200];

    expect_refused(p, heap, "is in no loaded module");
    expect_refused(p, &on_stack, "is in no loaded module");
    if (jit != MAP_FAILED)
        expect_refused(p, jit, "is in no loaded module");
    expect_refused(p, &program_data, "is not in the code of the program");
    /* (the library's own data: through dlsym, since the program's
     * reference to an extern variable would point at its copy) */
    void *h = dlopen(POOL_DYNLIB, RTLD_NOW | RTLD_LOCAL);
    int *lib_data = dlsym(h, "pool_dynlib_data");
    cc_fn lib_fn = (cc_fn)dlsym(h, "pool_dynlib_upper");
    assert_non_null(lib_data);
    snprintf(lib_ending, sizeof(lib_ending), "is not in the code of %s",
             cc__fnref_of(lib_fn, "t")->path);
    expect_refused(p, lib_data, lib_ending);
    assert_int_equal(*lib_data, 42);
    dlclose(h);
    assert_null_with(cc_submit(p, NULL, NULL), EINVAL);

    void *args[2] = {NULL, NULL};
    void *res[2];
    assert_fails_with(cc_map(p, (cc_fn)heap, args, 2, 1, res, 10), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "cc_map: a process pool task must"));
    cc_pool_opts o = {.initializer = (cc_fn)(void *)&program_data};
    assert_null_with(cc_process_pool_new(1, &o), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "cc_process_pool_new: a process "
                                        "pool task must"));

    /* the pool is unharmed */
    cc_future *f = cc_submit(p, identity, NULL);
    assert_ok(cc_future_result(f, NULL, 60));
    cc_future_free(f);
    cc_executor_free(p);
    if (jit != MAP_FAILED)
        munmap(jit, 4096);
    free(heap);
    assert_int_equal(program_data, 7);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_function_of_the_program),
        cmocka_unit_test(test_function_of_a_linked_library),
        cmocka_unit_test(test_function_of_a_dlopened_library),
        cmocka_unit_test(test_module_the_worker_cannot_load),
        cmocka_unit_test(test_spawned_process_runs_library_functions),
        cmocka_unit_test(test_pointers_that_are_not_task_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
