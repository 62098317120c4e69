/* test_shlist - cc_shlist, the shared list: Python's index rules (negative
 * indexes, insert clamping, ERANGE), both bounds (ENOSPC), bad input, and
 * thousands of random operations checked against a model list with the
 * consistency check and compactions on the way; children appending at
 * once (nothing lost, each child's items in its order) and popping at once
 * (every item popped exactly once); and children killed with SIGKILL in
 * the middle of writes, after which the list is whole, holds only whole
 * items and is not left locked. */
#include <limits.h>
#include <signal.h>

#include "process/ipc_debug.h"
#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

static cc_shlist *sl;

/* Expect item i to hold the string s. */
static void assert_item(cc_shlist *l, long i, const char *s)
{
    void *got = NULL;

    if (cc_shlist_get(l, i, &got) != 0)
        fail_msg("get(%ld): %s", i, cc_errmsg());
    if (cc_blob_len(got) != strlen(s) || memcmp(got, s, strlen(s)) != 0)
        fail_msg("item %ld is '%.*s', expected '%s'", i,
                 (int)cc_blob_len(got), (const char *)got, s);
    cc_blob_free(got);
}

static void test_python_rules(void **state)
{
    (void)state;
    cc_shlist *l = cc_shlist_new(4, 64);
    void *blob = cc_blob_strdup("b");
    void *got;

    assert_non_null(l);
    assert_int_equal(cc_shlist_len(l), 0);
    assert_fails_with(cc_shlist_get(l, 0, &got), ERANGE);
    assert_fails_with(cc_shlist_get(l, -1, &got), ERANGE);
    assert_fails_with(cc_shlist_pop(l, -1, &got), ERANGE);
    assert_fails_with(cc_shlist_set(l, 0, blob), ERANGE);
    assert_ok(cc_shlist_append(l, blob));                 /* [b] */
    assert_ok(cc_shlist_insert_bytes(l, -100, "a", 1));   /* [a b] */
    assert_ok(cc_shlist_insert_bytes(l, 100, "d", 1));    /* [a b d] */
    assert_ok(cc_shlist_insert_bytes(l, -1, "c", 1));     /* [a b c d] */
    assert_int_equal(cc_shlist_len(l), 4);
    assert_item(l, 0, "a");
    assert_item(l, 1, "b");
    assert_item(l, -2, "c");
    assert_item(l, -1, "d");
    assert_item(l, -4, "a");
    assert_fails_with(cc_shlist_get(l, 4, &got), ERANGE);
    assert_fails_with(cc_shlist_get(l, -5, &got), ERANGE);
    assert_fails_with(cc_shlist_get(l, LONG_MIN, &got), ERANGE);
    assert_fails_with(cc_shlist_get(l, LONG_MAX, &got), ERANGE);
    /* bounds: max_items, then bytes */
    assert_fails_with(cc_shlist_append_bytes(l, "e", 1), ENOSPC);
    assert_fails_with(cc_shlist_insert_bytes(l, 0, "e", 1), ENOSPC);
    assert_ok(cc_shlist_set_bytes(l, 1, "bb", 2));
    assert_item(l, 1, "bb");
    assert_ok(cc_shlist_set(l, -1, NULL));                /* empty value */
    assert_item(l, 3, "");
    char big[64];
    memset(big, 'x', sizeof(big));
    /* the others hold 2 + 1 + 0 bytes of the 64 */
    assert_fails_with(cc_shlist_set_bytes(l, 0, big, 62), ENOSPC);
    assert_ok(cc_shlist_set_bytes(l, 0, big, 61));
    assert_fails_with(cc_shlist_set_bytes(l, 0, big, 65), ENOSPC);
    assert_ok(cc_shlist_set_bytes(l, 0, "a", 1));
    /* pop and delete */
    assert_ok(cc_shlist_pop(l, -1, &got));                /* [a bb c] */
    assert_int_equal(cc_blob_len(got), 0);
    cc_blob_free(got);
    assert_ok(cc_shlist_pop(l, 0, &got));                 /* [bb c] */
    assert_memory_equal(got, "a", 1);
    cc_blob_free(got);
    assert_ok(cc_shlist_pop(l, 0, NULL));                 /* del l[0] */
    assert_int_equal(cc_shlist_len(l), 1);
    assert_item(l, 0, "c");
    assert_fails_with(cc_shlist_pop(l, 1, NULL), ERANGE);
    assert_ok(cc_shlist_pop(l, -1, NULL));
    assert_int_equal(cc_shlist_len(l), 0);
    assert_fails_with(cc_shlist_pop(l, -1, NULL), ERANGE);
    /* bad input */
    char plain[64] = {0};
    assert_fails_with(cc_shlist_append(l, plain + 32), EINVAL);
    assert_fails_with(cc_shlist_set(l, 0, plain + 32), EINVAL);
    assert_fails_with(cc_shlist_insert(l, 0, plain + 32), EINVAL);
    assert_fails_with(cc_shlist_append_bytes(l, NULL, 1), EINVAL);
    assert_fails_with(cc_shlist_get(l, 0, NULL), EINVAL);
    assert_fails_with(cc_shlist_append(NULL, blob), EINVAL);
    assert_fails_with(cc_shlist_get(NULL, 0, &got), EINVAL);
    assert_fails_with(cc_shlist_pop((cc_shlist *)plain, 0, NULL), EINVAL);
    assert_int_equal(cc_shlist_len(NULL), 0);
    assert_null_with(cc_shlist_new((size_t)1 << 25, 0), EINVAL);
    assert_null_with(cc_shlist_new(0, (size_t)17 << 30), EINVAL);
    assert_ok(cc__shlist_check(l));
    cc_blob_free(blob);
    cc_shlist_free(l);
    cc_shlist_free(NULL);
}

/* ---- random operations against a model ---- */

enum { MODEL_MAX = 64, MODEL_STEPS = 20000 };

typedef struct model {
    int n;
    char *v[MODEL_MAX];
} model;

static char *random_value(void)
{
    size_t len = tu_rand_below(4) == 0 ? tu_rand_below(200)
                                       : tu_rand_below(12);
    char *s = malloc(len + 1);

    assert_non_null(s);

    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + tu_rand_below(26));
    s[len] = 0;
    return s;
}

/* A Python index for a model of n items: sometimes out of range. */
static long random_index(int n)
{
    return (long)tu_rand_below((unsigned)(2 * n + 4)) - n - 2;
}

static void test_random_against_model(void **state)
{
    (void)state;
    model m = {0};
    cc_shlist *l = cc_shlist_new(MODEL_MAX, 2048); /* compacts often */

    assert_non_null(l);
    for (int step = 0; step < MODEL_STEPS; step++) {
        unsigned op = tu_rand_below(5);
        long i = random_index(m.n);
        long k = i < 0 ? i + m.n : i;
        bool in = k >= 0 && k < m.n;
        char *v = random_value();
        size_t payload = 0;
        void *got;
        int rc;

        for (int j = 0; j < m.n; j++)
            payload += strlen(m.v[j]);
        errno = 0;
        switch (op) {
        case 0: /* append */
        case 1: /* insert */
            rc = op == 0 ? cc_shlist_append_bytes(l, v, strlen(v))
                         : cc_shlist_insert_bytes(l, i, v, strlen(v));
            if (m.n == MODEL_MAX || payload + strlen(v) > 2048) {
                assert_int_equal(rc, -1);
                assert_int_equal(errno, ENOSPC);
                free(v);
                break;
            }
            assert_int_equal(rc, 0);
            if (op == 0)
                k = m.n;
            else
                k = k < 0 ? 0 : k > m.n ? m.n : k;
            memmove(&m.v[k + 1], &m.v[k], (size_t)(m.n - k) * sizeof(char *));
            m.v[k] = v;
            m.n++;
            break;
        case 2: /* set */
            rc = cc_shlist_set_bytes(l, i, v, strlen(v));
            if (!in) {
                assert_int_equal(errno, ERANGE);
                free(v);
            } else if (payload - strlen(m.v[k]) + strlen(v) > 2048) {
                assert_int_equal(errno, ENOSPC);
                free(v);
            } else {
                assert_int_equal(rc, 0);
                free(m.v[k]);
                m.v[k] = v;
            }
            break;
        default: /* pop */
            free(v);
            rc = cc_shlist_pop(l, i, &got);
            if (!in) {
                assert_int_equal(rc, -1);
                assert_int_equal(errno, ERANGE);
                break;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(cc_blob_len(got), strlen(m.v[k]));
            assert_memory_equal(got, m.v[k], strlen(m.v[k]));
            cc_blob_free(got);
            free(m.v[k]);
            memmove(&m.v[k], &m.v[k + 1],
                    (size_t)(m.n - k - 1) * sizeof(char *));
            m.n--;
            break;
        }
        assert_int_equal(cc_shlist_len(l), m.n);
        if (step % 500 == 0) {
            assert_ok(cc__shlist_check(l));
            for (int j = 0; j < m.n; j++)
                assert_item(l, j, m.v[j]);
        }
    }
    for (int j = 0; j < m.n; j++) {
        assert_item(l, j, m.v[j]);
        free(m.v[j]);
    }
    assert_ok(cc__shlist_check(l));
    printf("# %llu compactions\n",
           (unsigned long long)cc__shlist_compactions(l));
    assert_true(cc__shlist_compactions(l) > 0);
    cc_shlist_free(l);
}

/* ---- children appending, then popping ---- */

enum { APPENDERS = 6, PER_CHILD = 2000 };

static void *appender(void *arg)
{
    uint32_t who = (uint32_t)(intptr_t)arg;

    for (uint32_t i = 0; i < PER_CHILD; i++) {
        uint32_t id[2] = {who, i};

        if (cc_shlist_append_bytes(sl, id, sizeof(id)) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "append");
        if (tu_rand_below(64) == 0)
            tu_jitter(100);
    }
    return NULL;
}

typedef struct pop_mem {
    _Atomic int popped[APPENDERS * PER_CHILD];
} pop_mem;

static pop_mem *pm;

static void *popper(void *arg)
{
    void *got;
    uint32_t id[2];

    (void)arg;
    for (;;) {
        /* from either end, or from the middle (the index moves) */
        long i = tu_rand_below(3) == 0 ? 0 : -1;

        if (tu_rand_below(8) == 0)
            i = (long)(cc_shlist_len(sl) / 2);
        if (cc_shlist_pop(sl, i, &got) != 0) {
            if (errno == ERANGE && cc_shlist_len(sl) == 0)
                return NULL;
            if (errno == ERANGE) /* the middle moved: try again */
                continue;
            return cc_fail_from(cc_last_error(), EPROTO, "pop");
        }
        if (cc_blob_len(got) != sizeof(id)) {
            cc_blob_free(got);
            return cc_fail(EPROTO, "an item of %zu bytes", cc_blob_len(got));
        }
        memcpy(id, got, sizeof(id));
        cc_blob_free(got);
        atomic_fetch_add(&pm->popped[id[0] * PER_CHILD + id[1]], 1);
    }
}

static void test_children_append_then_pop(void **state)
{
    (void)state;
    cc_shared *mem = cc_shared_new(sizeof(pop_mem), false);
    cc_process *p[APPENDERS];
    uint32_t next[APPENDERS] = {0};
    void *got;

    assert_non_null(mem);
    pm = cc_shared_ptr(mem);
    /* small capacity: appends compact while others append */
    sl = cc_shlist_new(APPENDERS * PER_CHILD, APPENDERS * PER_CHILD * 8);
    assert_non_null(sl);
    for (int i = 0; i < APPENDERS; i++)
        p[i] = child_start(appender, (void *)(intptr_t)i);
    for (int i = 0; i < APPENDERS; i++)
        assert_int_equal(child_join(p[i]), 0);
    assert_int_equal(cc_shlist_len(sl), APPENDERS * PER_CHILD);
    assert_ok(cc__shlist_check(sl));
    /* each child's items are all there, in its order */
    for (long i = 0; i < APPENDERS * PER_CHILD; i++) {
        uint32_t id[2];

        assert_ok(cc_shlist_get(sl, i, &got));
        assert_int_equal(cc_blob_len(got), sizeof(id));
        memcpy(id, got, sizeof(id));
        cc_blob_free(got);
        assert_true(id[0] < APPENDERS);
        assert_int_equal(id[1], next[id[0]]);
        next[id[0]]++;
    }
    for (int i = 0; i < APPENDERS; i++)
        p[i] = child_start(popper, NULL);
    for (int i = 0; i < APPENDERS; i++)
        assert_int_equal(child_join(p[i]), 0);
    assert_int_equal(cc_shlist_len(sl), 0);
    for (int i = 0; i < APPENDERS * PER_CHILD; i++)
        if (atomic_load(&pm->popped[i]) != 1)
            fail_msg("item %d popped %d times", i,
                     atomic_load(&pm->popped[i]));
    assert_ok(cc__shlist_check(sl));
    cc_shlist_free(sl);
    cc_shared_free(mem);
}

/* ---- children killed in the middle of writes ---- */

enum { KILL_ROUNDS = 150, KILL_CHILDREN = 3, KILL_ITEMS = 256 };

static cc_psem *kill_started;

/* A self-checking value: [u32 len][u32 seed], then bytes from the seed. */
static size_t make_value(char *buf, uint32_t seed)
{
    uint32_t len = 8 + seed % 500;

    memcpy(buf, &len, 4);
    memcpy(buf + 4, &seed, 4);
    for (uint32_t i = 8; i < len; i++)
        buf[i] = (char)(seed * 31 + i);
    return len;
}

static bool value_whole(const void *blob)
{
    char want[512];
    uint32_t seed;

    if (cc_blob_len(blob) < 8)
        return false;
    memcpy(&seed, (const char *)blob + 4, 4);
    return make_value(want, seed) == cc_blob_len(blob) &&
           memcmp(want, blob, cc_blob_len(blob)) == 0;
}

static void *busy_writer(void *arg)
{
    char buf[512];

    (void)arg;
    cc_psem_release(kill_started);
    for (;;) {
        size_t n = cc_shlist_len(sl);
        size_t len = make_value(buf, (uint32_t)tu_rand());
        long i = n > 0 ? (long)tu_rand_below((unsigned)n) : 0;
        int rc;

        switch (tu_rand_below(4)) {
        case 0:
            rc = n < KILL_ITEMS ? cc_shlist_append_bytes(sl, buf, len) : 0;
            break;
        case 1:
            rc = n < KILL_ITEMS ? cc_shlist_insert_bytes(sl, i, buf, len) : 0;
            break;
        case 2:
            rc = cc_shlist_set_bytes(sl, i, buf, len);
            break;
        default:
            rc = n > KILL_ITEMS / 2 ? cc_shlist_pop(sl, i, NULL) : 0;
            break;
        }
        /* others change the list between len and the call */
        if (rc != 0 && errno != ERANGE && errno != ENOSPC)
            return cc_fail_from(cc_last_error(), EPROTO, "write");
    }
}

static void test_kill9_in_writes(void **state)
{
    (void)state;
    int killed = 0;

    sl = cc_shlist_new(KILL_ITEMS + KILL_CHILDREN, 64 << 10);
    kill_started = cc_psem_new(0);
    assert_non_null(sl);
    assert_non_null(kill_started);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        cc_process *busy[KILL_CHILDREN];

        for (int i = 0; i < KILL_CHILDREN; i++)
            busy[i] = child_start(busy_writer, NULL);
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_psem_acquire(kill_started, 60));
        tu_sleep((double)tu_rand_below(2000) / 1e6);
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_process_kill(busy[i]));
        for (int i = 0; i < KILL_CHILDREN; i++) {
            assert_int_equal(child_join(busy[i]), -SIGKILL);
            killed++;
        }
        /* not left locked (check takes the lock), whole, whole items */
        assert_ok(cc__shlist_check(sl));
        if (round % 10 == 0) {
            size_t n = cc_shlist_len(sl);

            for (size_t i = 0; i < n; i++) {
                void *got;

                assert_ok(cc_shlist_get(sl, (long)i, &got));
                if (!value_whole(got))
                    fail_msg("round %d: item %zu is broken", round, i);
                cc_blob_free(got);
            }
        }
    }
    printf("# %d children killed; %llu repairs, %llu compactions; %zu "
           "items\n", killed, (unsigned long long)cc__shlist_repairs(sl),
           (unsigned long long)cc__shlist_compactions(sl),
           cc_shlist_len(sl));
    /* the kills did land inside critical sections */
    assert_true(cc__shlist_repairs(sl) > 0);
    /* and it still works */
    while (cc_shlist_len(sl) > 0)
        assert_ok(cc_shlist_pop(sl, 0, NULL));
    assert_ok(cc_shlist_append_bytes(sl, "ok", 2));
    assert_item(sl, 0, "ok");
    assert_ok(cc__shlist_check(sl));
    cc_psem_free(kill_started);
    cc_shlist_free(sl);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_rules),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_children_append_then_pop),
        cmocka_unit_test(test_kill9_in_writes),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
