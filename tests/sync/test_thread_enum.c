/* test_thread_enum - threading.get_ident / main_thread / enumerate: thread
 * ids, the main thread (also in a forked child), live threads listed with
 * their names and renames, snapshots cut to the room given, and a stress
 * run of threads starting and ending while others enumerate: main first,
 * ids unique, a joined thread never listed, only main at the end. */
#include <sys/wait.h>

#include "test_util.h"

static void test_main_thread(void **state)
{
    (void)state;
    cc_thread_info info[4];
    long n;

    assert_true(cc_thread_is_main());
    assert_int_equal(cc_thread_ident(), (unsigned long)getpid());
    assert_int_equal(cc_thread_main_ident(), (unsigned long)getpid());
    assert_int_equal(cc_thread_ident(), cc_thread_ident()); /* stable */
    n = cc_thread_enumerate(info, 4);
    assert_int_equal(n, 1);
    assert_true(info[0].is_main);
    assert_int_equal(info[0].ident, cc_thread_main_ident());
    assert_string_equal(info[0].name, "MainThread");
    assert_int_equal(cc_thread_enumerate(NULL, 0), 1); /* active_count */
    assert_fails_with(cc_thread_enumerate(NULL, 1), EINVAL);
    /* a rename shows */
    assert_ok(cc_thread_set_current_name("renamed-main"));
    cc_thread_enumerate(info, 1);
    assert_string_equal(info[0].name, "renamed-main");
    assert_ok(cc_thread_set_current_name("MainThread"));
}

typedef struct {
    cc_event *go;
    _Atomic unsigned long ident;
    _Atomic int is_main;
    const char *rename;
} parked;

static void *park_until_go(void *arg)
{
    parked *p = arg;

    atomic_store(&p->is_main, cc_thread_is_main());
    if (p->rename != NULL)
        cc_thread_set_current_name(p->rename);
    atomic_store(&p->ident, cc_thread_ident());
    if (cc_event_wait(p->go, 30) != 0)
        return cc_fail_from(cc_last_error(), 0, "never told to go");
    return arg;
}

static const cc_thread_info *find(const cc_thread_info *info, long n,
                                  const char *name)
{
    for (long i = 0; i < n; i++)
        if (strcmp(info[i].name, name) == 0)
            return &info[i];
    return NULL;
}

static void test_enumerate_lists_live_threads(void **state)
{
    (void)state;
    enum { N = 5 };
    cc_event *go = cc_event_new();
    parked p[N];
    cc_thread *t[N];
    cc_thread_info info[N + 2];
    char name[32];
    long n;

    for (int i = 0; i < N; i++) {
        p[i] = (parked){go, 0, -1, i == 2 ? "enum-renamed" : NULL};
        snprintf(name, sizeof(name), "enum-%d", i);
        t[i] = cc_thread_start(park_until_go, &p[i], name);
        assert_non_null(t[i]);
    }
    for (int i = 0; i < N; i++)
        while (atomic_load(&p[i].ident) == 0)
            tu_sleep(0.001);
    n = cc_thread_enumerate(info, N + 2);
    assert_int_equal(n, N + 1);
    assert_true(info[0].is_main);
    for (int i = 0; i < N; i++) {
        const cc_thread_info *e;

        snprintf(name, sizeof(name), "enum-%d", i);
        e = find(info, n, i == 2 ? "enum-renamed" : name);
        if (e == NULL)
            fail_msg("%s is not listed", i == 2 ? "enum-renamed" : name);
        assert_false(e->is_main);
        assert_int_equal(e->ident, atomic_load(&p[i].ident));
        assert_int_not_equal(e->ident, cc_thread_main_ident());
        assert_int_equal(atomic_load(&p[i].is_main), 0);
    }
    assert_null(find(info, n, "enum-2")); /* the old name is gone */
    /* too little room: the count, and only max entries written */
    memset(info, 0x5a, sizeof(info));
    assert_int_equal(cc_thread_enumerate(info, 2), N + 1);
    assert_true(info[0].is_main);
    assert_int_equal(info[2].ident, 0x5a5a5a5a5a5a5a5aul);
    cc_event_set(go);
    for (int i = 0; i < N; i++) {
        assert_ok(cc_thread_join(t[i], NULL, 30));
        cc_thread_free(t[i]);
    }
    /* joined: no longer listed */
    assert_int_equal(cc_thread_enumerate(info, N + 2), 1);
    cc_event_free(go);
}

static void *ident_in_task(void *arg)
{
    (void)arg;
    cc_thread_info info[2];

    if (cc_thread_ident() != cc_thread_main_ident() || !cc_thread_is_main())
        return cc_fail(EPROTO, "a task on the main thread has another id");
    /* a task renames itself, not the thread listed */
    cc_thread_set_current_name("a-task");
    if (cc_thread_enumerate(info, 2) != 1 ||
        strcmp(info[0].name, "MainThread") != 0 ||
        strcmp(cc_thread_current_name(), "a-task") != 0)
        return cc_fail(EPROTO, "task rename: listed as '%s'", info[0].name);
    return arg;
}

static void test_ident_in_a_task(void **state)
{
    (void)state;
    assert_ok(cc_run(ident_in_task, state, NULL));
}

/* fork from a thread that is not the main one: in the child it is */
static void *fork_here(void *arg)
{
    (void)arg;
    pid_t pid = fork();

    if (pid == 0) {
        cc_thread_info info[4];
        long n = cc_thread_enumerate(info, 4);
        int bad = 0;

        bad |= !cc_thread_is_main() << 0;
        bad |= (cc_thread_main_ident() != (unsigned long)getpid()) << 1;
        bad |= (n != 1) << 2;
        bad |= (n >= 1 && strcmp(info[0].name, "forker") != 0) << 3;
        bad |= (n >= 1 && info[0].ident != cc_thread_ident()) << 4;
        _exit(bad);
    }
    if (pid < 0)
        return cc_fail(0, "fork");
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return cc_fail(0, "waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cc_fail(EPROTO, "child saw it wrong (status 0x%x)", status);
    /* the parent is unchanged */
    if (cc_thread_is_main() || cc_thread_enumerate(NULL, 0) != 2)
        return cc_fail(EPROTO, "the fork changed the parent's view");
    return arg;
}

static void test_forked_child_main_thread(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(fork_here, state, "forker");

    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
}

/* cc_process_start's child: its main thread is "MainThread" everywhere */
static void *child_checks_names(void *arg)
{
    cc_thread_info info[4];
    long n = cc_thread_enumerate(info, 4);

    if (n != 1 || !info[0].is_main || !cc_thread_is_main() ||
        strcmp(info[0].name, "MainThread") != 0 ||
        strcmp(cc_thread_current_name(), "MainThread") != 0)
        return cc_fail(EPROTO, "child: %ld threads, main '%s', current '%s'",
                       n, n > 0 ? info[0].name : "", cc_thread_current_name());
    return arg;
}

static void *start_process_here(void *arg)
{
    cc_process *p = cc_process_start(child_checks_names, arg, "named");
    int code = -1;

    if (p == NULL || cc_process_join(p, 30) != 0 ||
        cc_process_exitcode(p, &code) != 0 || code != 0) {
        cc_process_free(p);
        return cc_fail(EPROTO, "the child saw it wrong (exit code %d)", code);
    }
    cc_process_free(p);
    return arg;
}

static void test_process_child_main_thread(void **state)
{
    (void)state;
    cc_thread *t = cc_thread_start(start_process_here, state, "starter");

    assert_ok(cc_thread_join(t, NULL, 30));
    cc_thread_free(t);
}

/* ---- stress ---- */

enum { STARTERS = 6, ROUNDS = 500, ENUMERATORS = 2, ROOM = 64 };

static _Atomic int joined_upto[STARTERS]; /* last round joined, per starter */
static _Atomic bool stress_over;
static _Atomic long snapshots;

static void *short_life(void *arg)
{
    tu_jitter(300);
    if (tu_rand_below(4) == 0) { /* some rename themselves */
        char name[32];

        snprintf(name, sizeof(name), "%s", cc_thread_current_name());
        cc_thread_set_current_name(name); /* same name: still parsable */
    }
    return arg;
}

static void *starter(void *arg)
{
    int k = (int)(*(int *)arg);

    for (int i = 0; i < ROUNDS; i++) {
        char name[32];
        cc_thread *t;

        snprintf(name, sizeof(name), "s-%d-%d", k, i);
        t = cc_thread_start(short_life, arg, name);
        if (t == NULL)
            return cc_fail_from(cc_last_error(), 0, "start %s", name);
        if (cc_thread_join(t, NULL, 30) != 0)
            return cc_fail_from(cc_last_error(), 0, "join %s", name);
        cc_thread_free(t);
        atomic_store(&joined_upto[k], i);
    }
    return arg;
}

static void *enumerator(void *arg)
{
    cc_thread_info info[ROOM];

    while (!atomic_load(&stress_over)) {
        int before[STARTERS];
        int seen[STARTERS];
        long n;

        for (int k = 0; k < STARTERS; k++) {
            before[k] = atomic_load(&joined_upto[k]);
            seen[k] = 0;
        }
        n = cc_thread_enumerate(info, ROOM);
        if (n < 1 || n > ROOM)
            return cc_fail(EPROTO, "%ld threads", n);
        if (!info[0].is_main || info[0].ident != cc_thread_main_ident())
            return cc_fail(EPROTO, "main is not first");
        for (long i = 1; i < n; i++) {
            int k, r;

            if (info[i].is_main || memchr(info[i].name, '\0',
                                          sizeof(info[i].name)) == NULL)
                return cc_fail(EPROTO, "entry %ld is malformed", i);
            for (long j = 0; j < i; j++)
                if (info[j].ident == info[i].ident)
                    return cc_fail(EPROTO, "ident %lu listed twice",
                                   info[i].ident);
            if (sscanf(info[i].name, "s-%d-%d", &k, &r) != 2)
                continue; /* a starter or an enumerator */
            if (k < 0 || k >= STARTERS || r > ROUNDS)
                return cc_fail(EPROTO, "bad name %s", info[i].name);
            if (r <= before[k])
                return cc_fail(EPROTO, "%s is listed after its join",
                               info[i].name);
            if (++seen[k] > 1)
                return cc_fail(EPROTO, "two threads of starter %d", k);
        }
        atomic_fetch_add(&snapshots, 1);
        tu_jitter(20);
    }
    return arg;
}

static void test_stress_start_end_enumerate(void **state)
{
    (void)state;
    int ks[STARTERS], es[ENUMERATORS];

    tu_seed(); /* chosen (and printed) here, before the threads race to */
    for (int k = 0; k < STARTERS; k++) {
        ks[k] = k;
        atomic_store(&joined_upto[k], -1);
    }
    atomic_store(&stress_over, false);
    tu_threads en = tu_start(ENUMERATORS, enumerator, es, sizeof(int));
    tu_threads st = tu_start(STARTERS, starter, ks, sizeof(int));
    tu_join(st);
    atomic_store(&stress_over, true);
    tu_join(en);
    printf("# %d threads started and ended, %ld snapshots checked\n",
           STARTERS * ROUNDS, atomic_load(&snapshots));
    assert_true(atomic_load(&snapshots) > 0);
    assert_int_equal(cc_thread_enumerate(NULL, 0), 1); /* only main */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_thread),
        cmocka_unit_test(test_enumerate_lists_live_threads),
        cmocka_unit_test(test_ident_in_a_task),
        cmocka_unit_test(test_forked_child_main_thread),
        cmocka_unit_test(test_process_child_main_thread),
        cmocka_unit_test(test_stress_start_end_enumerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
