/* test_shdict - cc_shdict, the shared-memory dict: set/get/delete/len and
 * sorted keys; bad keys; both limits (max_entries and capacity) with
 * ENOSPC exactly when a model says so, across many compactions; children
 * writing distinct and overlapping keys while parent threads read; and 200
 * rounds of children killed with SIGKILL in the middle of sets, deletes
 * and compactions, after which every key is readable, every value whole
 * and the table consistent. */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "process/ipc_debug.h"
#include "test_util.h"

/* children: cc_processes (child_start, child_join, test_no_child_left) */
#include "child_util.h"

/* ---- self-checking values: [u32 key hash][u32 version][u64 len], then
 * bytes of a fixed ramp from an offset that depends on both ---- */

enum { VAL_MIN = 16, RAMP_SHIFTS = 4096, RAMP_LEN = 65536 + 4096 };

typedef struct val_hdr {
    uint32_t key;
    uint32_t version;
    uint64_t len;
} val_hdr;

static unsigned char ramp[RAMP_LEN];

static void ramp_init(void)
{
    for (size_t i = 0; i < RAMP_LEN; i++)
        ramp[i] = (unsigned char)((uint32_t)i * 29u ^ (uint32_t)(i >> 7));
}

static uint32_t key_tag(const char *key)
{
    uint32_t h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h;
}

static const unsigned char *val_pattern(uint32_t key, uint32_t version)
{
    return ramp + (key * 131u + version * 7u) % RAMP_SHIFTS;
}

static void fill_val(void *buf, size_t len, const char *key, uint32_t version)
{
    val_hdr h = {key_tag(key), version, len};

    memcpy(buf, &h, sizeof(h));
    memcpy((char *)buf + sizeof(h), val_pattern(h.key, version) + sizeof(h),
           len - sizeof(h));
}

/* True when blob is a whole value written for key; *version receives the
 * version it carries. */
static bool val_whole(const void *blob, const char *key, uint32_t *version)
{
    size_t len = cc_blob_len(blob);
    val_hdr h;

    if (len < sizeof(h))
        return false;
    memcpy(&h, blob, sizeof(h));
    if (version != NULL)
        *version = h.version;
    return h.key == key_tag(key) && h.len == len &&
           memcmp((const char *)blob + sizeof(h),
                  val_pattern(h.key, h.version) + sizeof(h),
                  len - sizeof(h)) == 0;
}

/* ---- semantics ---- */

static void test_basics(void **state)
{
    (void)state;
    cc_shdict *d = cc_shdict_new(0, 0);
    assert_non_null(d);
    void *v;
    char **keys;
    size_t n;

    assert_int_equal(cc_shdict_len(d), 0);
    assert_fails_with(cc_shdict_get(d, "missing", &v), ENOENT);
    assert_fails_with(cc_shdict_delete(d, "missing"), ENOENT);
    void *blob = cc_blob_strdup("one");
    assert_ok(cc_shdict_set(d, "b", blob));
    assert_ok(cc_shdict_set_bytes(d, "a", "two", 3));
    assert_ok(cc_shdict_set(d, "c", NULL)); /* an empty value */
    assert_int_equal(cc_shdict_len(d), 3);
    assert_ok(cc_shdict_get(d, "b", &v));
    assert_string_equal(v, "one");
    cc_blob_free(v);
    assert_ok(cc_shdict_get(d, "c", &v));
    assert_int_equal(cc_blob_len(v), 0);
    cc_blob_free(v);
    /* replace */
    assert_ok(cc_shdict_set_bytes(d, "b", "uno!", 4));
    assert_int_equal(cc_shdict_len(d), 3);
    assert_ok(cc_shdict_get(d, "b", &v));
    assert_int_equal(cc_blob_len(v), 4);
    assert_memory_equal(v, "uno!", 4);
    cc_blob_free(v);
    /* keys, sorted */
    assert_ok(cc_shdict_set_bytes(d, "aa", "x", 1));
    assert_ok(cc_shdict_keys(d, &keys, &n));
    assert_int_equal(n, 4);
    assert_string_equal(keys[0], "a");
    assert_string_equal(keys[1], "aa");
    assert_string_equal(keys[2], "b");
    assert_string_equal(keys[3], "c");
    cc_shdict_keys_free(keys, n);
    /* delete */
    assert_ok(cc_shdict_delete(d, "aa"));
    assert_fails_with(cc_shdict_get(d, "aa", &v), ENOENT);
    assert_fails_with(cc_shdict_delete(d, "aa"), ENOENT);
    assert_int_equal(cc_shdict_len(d), 3);
    assert_ok(cc_shdict_set_bytes(d, "aa", "y", 1)); /* and back */
    assert_ok(cc_shdict_get(d, "aa", &v));
    assert_memory_equal(v, "y", 1);
    cc_blob_free(v);
    /* keys: 1..255 bytes */
    char long_key[300];
    memset(long_key, 'k', sizeof(long_key));
    long_key[255] = '\0';
    assert_ok(cc_shdict_set_bytes(d, long_key, "L", 1));
    assert_ok(cc_shdict_get(d, long_key, &v));
    cc_blob_free(v);
    long_key[255] = 'k';
    long_key[256] = '\0';
    assert_fails_with(cc_shdict_set_bytes(d, long_key, "L", 1), EINVAL);
    assert_fails_with(cc_shdict_get(d, long_key, &v), EINVAL);
    assert_fails_with(cc_shdict_set_bytes(d, "", "L", 1), EINVAL);
    assert_fails_with(cc_shdict_set_bytes(d, NULL, "L", 1), EINVAL);
    assert_fails_with(cc_shdict_delete(d, ""), EINVAL);
    /* bad values and handles */
    char plain[64] = {0}; /* not a blob (its "header" is in the buffer) */
    assert_fails_with(cc_shdict_set(d, "p", plain + 32), EINVAL);
    assert_fails_with(cc_shdict_set_bytes(d, "p", NULL, 2), EINVAL);
    assert_fails_with(cc_shdict_get(d, "a", NULL), EINVAL);
    assert_fails_with(cc_shdict_keys(d, NULL, &n), EINVAL);
    assert_fails_with(cc_shdict_set(NULL, "a", blob), EINVAL);
    assert_fails_with(cc_shdict_get(NULL, "a", &v), EINVAL);
    assert_fails_with(cc_shdict_delete(NULL, "a"), EINVAL);
    assert_fails_with(cc_shdict_keys(NULL, &keys, &n), EINVAL);
    assert_int_equal(cc_shdict_len(NULL), 0);
    assert_null_with(cc_shdict_new((size_t)1 << 30, 0), EINVAL);
    assert_ok(cc__shdict_check(d));
    cc_blob_free(blob);
    cc_shdict_free(d);
    cc_shdict_free(NULL);
    cc_shdict_keys_free(NULL, 0);

    /* an empty dict has no keys */
    d = cc_shdict_new(1, 16);
    assert_ok(cc_shdict_keys(d, &keys, &n));
    assert_int_equal(n, 0);
    cc_shdict_keys_free(keys, n);
    cc_shdict_free(d);
}

static void test_limits(void **state)
{
    (void)state;
    char key[16];
    void *v;

    /* max_entries: new keys fail, replacing does not */
    cc_shdict *d = cc_shdict_new(4, 0);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_ok(cc_shdict_set_bytes(d, key, "v", 1));
    }
    assert_fails_with(cc_shdict_set_bytes(d, "k4", "v", 1), ENOSPC);
    assert_ok(cc_shdict_set_bytes(d, "k0", "again", 5));
    assert_ok(cc_shdict_delete(d, "k1"));
    assert_ok(cc_shdict_set_bytes(d, "k4", "v", 1));
    assert_int_equal(cc_shdict_len(d), 4);
    assert_ok(cc__shdict_check(d));
    cc_shdict_free(d);

    /* capacity: keys and values together, exactly (few entries, so the
     * halves are small and replacing compacts) */
    d = cc_shdict_new(4, 1000);
    char *big = calloc(1, 1001);
    assert_fails_with(cc_shdict_set_bytes(d, "x", big, 1000), ENOSPC);
    assert_ok(cc_shdict_set_bytes(d, "x", big, 999)); /* 1 + 999 */
    assert_fails_with(cc_shdict_set_bytes(d, "y", big, 0), ENOSPC);
    assert_ok(cc_shdict_set_bytes(d, "x", big, 500)); /* shrink */
    assert_ok(cc_shdict_set_bytes(d, "y", big, 498)); /* 2 + 998 */
    assert_fails_with(cc_shdict_set_bytes(d, "z", big, 0), ENOSPC);
    /* replacing still works when the old and new value together would
     * not fit: the compaction drops the old one on the way */
    uint64_t compactions = cc__shdict_compactions(d);
    for (int i = 0; i < 50; i++)
        assert_ok(cc_shdict_set_bytes(d, "x", big, 499 - (size_t)(i % 2)));
    assert_true(cc__shdict_compactions(d) > compactions);
    assert_ok(cc_shdict_get(d, "y", &v));
    assert_int_equal(cc_blob_len(v), 498);
    cc_blob_free(v);
    assert_ok(cc_shdict_delete(d, "y"));
    assert_ok(cc_shdict_set_bytes(d, "z", big, 400));
    assert_ok(cc__shdict_check(d));
    free(big);
    cc_shdict_free(d);
}

/* Random operations against a model, in a small dict: many compactions,
 * tombstones, and ENOSPC exactly when the model says so. */
enum { MODEL_KEYS = 96, MODEL_ENTRIES = 64, MODEL_CAP = 8192 };

typedef struct model_entry {
    bool present;
    uint32_t version;
    size_t len;
} model_entry;

static void test_against_a_model(void **state)
{
    (void)state;
    cc_shdict *d = cc_shdict_new(MODEL_ENTRIES, MODEL_CAP);
    model_entry m[MODEL_KEYS] = {{0}};
    unsigned char buf[1024];
    size_t count = 0;
    size_t payload = 0;
    int enospc = 0;
    char key[64];
    void *v;

    for (uint32_t op = 1; op <= 60000; op++) {
        unsigned k = tu_rand_below(MODEL_KEYS);
        unsigned what = tu_rand_below(10);

        snprintf(key, sizeof(key), "key-%u-%.*s", k, (int)(k % 20),
                 "abcdefghijklmnopqrstuvwxyz");
        size_t klen = strlen(key);
        if (what < 6) {
            size_t len = VAL_MIN + tu_rand_below(what == 0 ? 1000 : 200);
            size_t after = payload - (m[k].present ? klen + m[k].len : 0) +
                           klen + len;
            bool fits = (m[k].present || count < MODEL_ENTRIES) &&
                        after <= MODEL_CAP;
            fill_val(buf, len, key, op);
            int rc = cc_shdict_set_bytes(d, key, buf, len);
            if (fits) {
                if (rc != 0)
                    fail_msg("op %u: set %s failed: %s", op, key, cc_errmsg());
                if (!m[k].present)
                    count++;
                payload = after;
                m[k] = (model_entry){true, op, len};
            } else {
                if (rc != -1 || errno != ENOSPC)
                    fail_msg("op %u: set %s should fail with ENOSPC", op, key);
                enospc++;
            }
        } else if (what < 9) {
            if (m[k].present) {
                assert_ok(cc_shdict_delete(d, key));
                count--;
                payload -= klen + m[k].len;
                m[k].present = false;
            } else {
                assert_fails_with(cc_shdict_delete(d, key), ENOENT);
            }
        } else {
            uint32_t version;
            if (m[k].present) {
                assert_ok(cc_shdict_get(d, key, &v));
                assert_true(val_whole(v, key, &version));
                assert_int_equal(version, m[k].version);
                cc_blob_free(v);
            } else {
                assert_fails_with(cc_shdict_get(d, key, &v), ENOENT);
            }
        }
        assert_int_equal(cc_shdict_len(d), count);
        if (op % 2000 == 0)
            assert_ok(cc__shdict_check(d));
    }
    char **keys;
    size_t n;
    assert_ok(cc_shdict_keys(d, &keys, &n));
    assert_int_equal(n, count);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(keys[i - 1], keys[i]) < 0);
    cc_shdict_keys_free(keys, n);
    printf("# %llu compactions, %d ENOSPC, %zu keys at the end\n",
           (unsigned long long)cc__shdict_compactions(d), enospc, count);
    assert_true(cc__shdict_compactions(d) > 100);
    assert_true(enospc > 0);
    cc_shdict_free(d);
}

/* ---- children write distinct and overlapping keys; parent threads read
 * ---- */

enum { WRITERS = 8, OWN_KEYS = 100, COMMON_KEYS = 20, READERS = 2 };
#define ROUNDS (TU_SLOW > 1 ? 4 : 12)

static cc_shdict *shared_d;
static _Atomic bool writers_done;

static void *writer_child(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned char buf[2048];
    char key[32];

    for (uint32_t round = 1; round <= ROUNDS; round++) {
        for (int k = 0; k < OWN_KEYS; k++) {
            size_t len = VAL_MIN + tu_rand_below(600);
            snprintf(key, sizeof(key), "w%d/own-%03d", me, k);
            if (tu_rand_below(4) == 0 && round < ROUNDS) {
                if (cc_shdict_delete(shared_d, key) != 0 && errno != ENOENT)
                    return cc_fail_from(cc_last_error(), EPROTO, "delete");
                continue;
            }
            fill_val(buf, len, key, round);
            if (cc_shdict_set_bytes(shared_d, key, buf, len) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "set own");
            snprintf(key, sizeof(key), "common-%02d",
                     (int)tu_rand_below(COMMON_KEYS));
            len = VAL_MIN + tu_rand_below(sizeof(buf) - VAL_MIN);
            fill_val(buf, len, key, (uint32_t)me);
            if (cc_shdict_set_bytes(shared_d, key, buf, len) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "set common");
        }
    }
    /* every common key is set at least once by someone */
    for (int k = 0; k < COMMON_KEYS; k++) {
        snprintf(key, sizeof(key), "common-%02d", k);
        fill_val(buf, 64, key, (uint32_t)me);
        if (cc_shdict_set_bytes(shared_d, key, buf, 64) != 0)
            return cc_fail_from(cc_last_error(), EPROTO, "set common");
    }
    return arg;
}

static void *reader_thread(void *arg)
{
    char key[32];
    void *v;
    long reads = 0;

    /* until the writers are done, and at least one value was read (a
     * reader scheduled only after the writers ended, on a loaded machine,
     * still reads: every key exists by then) */
    while (!atomic_load(&writers_done) || reads == 0) {
        if (tu_rand_below(2) == 0)
            snprintf(key, sizeof(key), "w%d/own-%03d",
                     (int)tu_rand_below(WRITERS), (int)tu_rand_below(OWN_KEYS));
        else
            snprintf(key, sizeof(key), "common-%02d",
                     (int)tu_rand_below(COMMON_KEYS));
        if (cc_shdict_get(shared_d, key, &v) == 0) {
            if (!val_whole(v, key, NULL))
                return cc_fail(EPROTO, "%s holds a broken value", key);
            cc_blob_free(v);
            reads++;
        } else if (errno != ENOENT) {
            return cc_fail_from(cc_last_error(), EPROTO, "get");
        }
    }
    return reads > 0 ? arg : cc_fail(EPROTO, "read nothing");
}

static void test_concurrent_writers(void **state)
{
    cc_process *writers[WRITERS];
    cc_thread *t[READERS];
    char key[32];
    void *v;
    uint32_t version;

    /* small enough that compactions happen while others write */
    shared_d = cc_shdict_new(2048, 512 * 1024);
    atomic_store(&writers_done, false);
    for (int i = 0; i < WRITERS; i++)
        writers[i] = child_start(writer_child, (void *)(intptr_t)i);
    for (int i = 0; i < READERS; i++)
        t[i] = cc_thread_start(reader_thread, state, "reader");
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(child_join(writers[i]), 0);
    atomic_store(&writers_done, true);
    for (int i = 0; i < READERS; i++) {
        if (cc_thread_join(t[i], NULL, 60) != 0)
            fail_msg("reader: %s", cc_errmsg());
        cc_thread_free(t[i]);
    }
    /* each writer's own keys hold its last round; common keys hold a
     * whole value written by one of them */
    for (int w = 0; w < WRITERS; w++)
        for (int k = 0; k < OWN_KEYS; k++) {
            snprintf(key, sizeof(key), "w%d/own-%03d", w, k);
            assert_ok(cc_shdict_get(shared_d, key, &v));
            assert_true(val_whole(v, key, &version));
            assert_int_equal(version, ROUNDS);
            cc_blob_free(v);
        }
    for (int k = 0; k < COMMON_KEYS; k++) {
        snprintf(key, sizeof(key), "common-%02d", k);
        assert_ok(cc_shdict_get(shared_d, key, &v));
        assert_true(val_whole(v, key, &version));
        assert_true(version < WRITERS);
        cc_blob_free(v);
    }
    assert_int_equal(cc_shdict_len(shared_d), WRITERS * OWN_KEYS + COMMON_KEYS);
    assert_ok(cc__shdict_check(shared_d));
    printf("# %llu compactions while %d processes wrote\n",
           (unsigned long long)cc__shdict_compactions(shared_d), WRITERS);
    assert_true(cc__shdict_compactions(shared_d) > 0);
    cc_shdict_free(shared_d);
}

/* ---- kill -9 in the middle of writes ---- */

#define KILL_ROUNDS 200
enum { KILL_CHILDREN = 2, KILL_KEYS = 300, KILL_MAX_VAL = 3000 };

enum { SPARSE_KEYS = 40 };

/* Two dicts: a crowded one, where most sets compact or fail with ENOSPC,
 * and a roomy one, where most sets append and publish in place. */
static cc_shdict *kill_d;
static cc_shdict *sparse_d;
static cc_psem *kill_started;

/* Set and delete as fast as possible until killed.  A child that fails
 * still signals its start, so the parent never waits for it in vain: it
 * then finds exit code 1 instead of SIGKILL. */
static void *busy_child(void *arg)
{
    unsigned char *buf = malloc(KILL_MAX_VAL);
    uint32_t round = (uint32_t)(intptr_t)arg;
    bool signalled = false;
    bool failed = false;
    char key[32];

    for (uint32_t n = 0; n < 10000000 && !failed; n++) {
        bool crowded = n % 2 == 0;
        cc_shdict *d = crowded ? kill_d : sparse_d;

        if (n == 20) {
            if (cc_psem_release(kill_started) != 0)
                return cc_fail_from(cc_last_error(), EPROTO, "release");
            signalled = true;
        }
        snprintf(key, sizeof(key), "key-%03u",
                 tu_rand_below(crowded ? KILL_KEYS : SPARSE_KEYS));
        if (tu_rand_below(4) == 0) {
            if (cc_shdict_delete(d, key) != 0 && errno != ENOENT) {
                cc_fail_from(cc_last_error(), EPROTO, "delete");
                failed = true;
            }
            continue;
        }
        size_t len = VAL_MIN + tu_rand_below(KILL_MAX_VAL - VAL_MIN + 1);
        fill_val(buf, len, key, round);
        if (cc_shdict_set_bytes(d, key, buf, len) != 0 && errno != ENOSPC) {
            cc_fail_from(cc_last_error(), EPROTO, "set");
            failed = true;
        }
    }
    if (!signalled)
        cc_psem_release(kill_started);
    free(buf);
    if (failed)
        return NULL; /* the failure recorded above */
    return cc_fail(EPROTO, "never killed: reached the end alive");
}

/* Every key readable and whole; as many as len says.  Returns the count. */
static size_t check_all(cc_shdict *d)
{
    char **keys;
    size_t n;
    void *v;

    assert_ok(cc__shdict_check(d));
    assert_ok(cc_shdict_keys(d, &keys, &n));
    assert_int_equal(n, cc_shdict_len(d));
    for (size_t i = 0; i < n; i++) {
        assert_ok(cc_shdict_get(d, keys[i], &v));
        if (!val_whole(v, keys[i], NULL))
            fail_msg("%s holds a broken value", keys[i]);
        cc_blob_free(v);
    }
    cc_shdict_keys_free(keys, n);
    return n;
}

static void test_kill9_mid_write(void **state)
{
    (void)state;
    /* small: sets often need a compaction, and sometimes fail ENOSPC */
    kill_d = cc_shdict_new(256, 128 * 1024);
    sparse_d = cc_shdict_new(256, 1024 * 1024);
    kill_started = cc_psem_new(0);
    unsigned char mine[100];
    int killed = 0;

    /* the parent's own key, set while the dict is empty: replacing it
     * with a value of the same size always fits */
    fill_val(mine, sizeof(mine), "parent", 0);
    assert_ok(cc_shdict_set_bytes(kill_d, "parent", mine, sizeof(mine)));
    for (int round = 0; round < KILL_ROUNDS; round++) {
        cc_process *busy[KILL_CHILDREN];

        for (int i = 0; i < KILL_CHILDREN; i++)
            busy[i] = child_start(busy_child, (void *)(intptr_t)round);
        for (int i = 0; i < KILL_CHILDREN; i++)
            assert_ok(cc_psem_acquire(kill_started, 60));
        tu_sleep((double)tu_rand_below(2000) / 1e6);
        /* a child that failed may have ended: a zombie takes the signal
         * too, keeping its exit code, so any error here is a bug */
        for (int i = 0; i < KILL_CHILDREN; i++)
            if (cc_process_kill(busy[i]) != 0)
                fail_msg("round %d: kill: %s", round, cc_errmsg());
        for (int i = 0; i < KILL_CHILDREN; i++) {
            int code = child_join(busy[i]);
            if (code != -SIGKILL)
                fail_msg("round %d: child exited with %d", round, code);
            killed++;
        }
        /* nothing is left locked, and the parent can write */
        double t0 = cc_now();
        fill_val(mine, sizeof(mine), "parent", (uint32_t)round);
        assert_ok(cc_shdict_set_bytes(kill_d, "parent", mine, sizeof(mine)));
        /* a lock left held by a killed child blocks for ever */
        assert_true(cc_now() - t0 < tu_hang_bound(0));
        if (round % 10 == 0) {
            check_all(kill_d);
            check_all(sparse_d);
        }
    }
    cc_shdict *both[2] = {kill_d, sparse_d};
    for (int i = 0; i < 2; i++) {
        size_t n = check_all(both[i]);
        printf("# %s dict: %llu repairs after a dead owner, %llu "
               "compactions; %zu keys whole\n",
               i == 0 ? "crowded" : "roomy",
               (unsigned long long)cc__shdict_repairs(both[i]),
               (unsigned long long)cc__shdict_compactions(both[i]), n);
        /* the kills did land inside writes */
        assert_true(cc__shdict_repairs(both[i]) > 0);
        assert_true(cc__shdict_compactions(both[i]) > 0);
    }
    printf("# %d children killed\n", killed);
    cc_psem_free(kill_started);
    cc_shdict_free(kill_d);
    cc_shdict_free(sparse_d);
}

int main(void)
{
    tu_seed();
    ramp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_against_a_model),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_kill9_mid_write),
        cmocka_unit_test(test_no_child_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
