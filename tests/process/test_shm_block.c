/* test_shm_block - cc_shm_block, shared memory by name: unrelated
 * processes (this test binary run again with "peer <name> <k>", not
 * forked) attach a block by its name and exchange data through it, many
 * at once; the unlink rules (attached processes keep the memory, the name
 * can be made again); names, sizes and every error; many threads making,
 * attaching and removing blocks at once without leaking a descriptor. */
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_util.h"

extern char **environ;

/* The block the peers and the parent share. */
#define PEERS 6
#define ROUNDS 2000

typedef struct exchange {
    _Atomic uint32_t ready;      /* set by the parent once data is written */
    _Atomic uint32_t done;       /* peers that finished */
    _Atomic uint64_t counter;    /* each peer adds 1 ROUNDS times */
    uint32_t data[256];          /* written by the parent */
    uint32_t answer[PEERS][256]; /* peer k writes data[i] * (k + 1) */
} exchange;

/* ---- the peer: this binary run again, never forked ---- */

static int peer_main(const char *name, int k)
{
    cc_shm_block *b = cc_shm_block_open(name);
    exchange *x;

    if (b == NULL) {
        fprintf(stderr, "peer %d: %s\n", k, cc_errmsg());
        return 2;
    }
    if (cc_shm_block_size(b) < sizeof(exchange)) /* the real size is read */
        return 3;
    x = cc_shm_block_ptr(b);
    for (int i = 0; i < 30000 && atomic_load(&x->ready) == 0; i++)
        tu_sleep(0.001);
    if (atomic_load(&x->ready) == 0)
        return 4;
    for (int i = 0; i < 256; i++)
        x->answer[k][i] = x->data[i] * (uint32_t)(k + 1);
    for (int i = 0; i < ROUNDS; i++)
        atomic_fetch_add(&x->counter, 1);
    atomic_fetch_add(&x->done, 1);
    cc_shm_block_close(b);
    return 0;
}

/* Run this binary as peer k of the block `name`; its pid. */
static pid_t start_peer(const char *name, int k)
{
    char num[16];
    char *argv[] = {"test_shm_block", "peer", (char *)name, num, NULL};
    pid_t pid;

    snprintf(num, sizeof(num), "%d", k);
    assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv,
                                 environ), 0);
    return pid;
}

static int wait_peer(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_unrelated_processes_exchange_by_name(void **state)
{
    (void)state;
    cc_shm_block *b = cc_shm_block_new(NULL, sizeof(exchange),
                                       CC_SHM_CREATE);
    assert_non_null(b);
    /* rounded up to a page by the mapping, not in the size */
    assert_int_equal(cc_shm_block_size(b), sizeof(exchange));
    exchange *x = cc_shm_block_ptr(b);
    const char *name = cc_shm_block_name(b);
    assert_int_equal(strncmp(name, "cc_", 3), 0);
    assert_int_equal(strlen(name), 19);

    pid_t pids[PEERS];
    for (int k = 0; k < PEERS; k++) {
        pids[k] = start_peer(name, k);
        tu_jitter(2000);
    }
    uint32_t seed = (uint32_t)tu_rand();
    for (int i = 0; i < 256; i++)
        x->data[i] = seed + (uint32_t)i * 7919u;
    atomic_store(&x->ready, 1);
    for (int k = 0; k < PEERS; k++)
        assert_int_equal(wait_peer(pids[k]), 0);
    assert_int_equal(atomic_load(&x->done), PEERS);
    assert_int_equal(atomic_load(&x->counter), (uint64_t)PEERS * ROUNDS);
    for (int k = 0; k < PEERS; k++)
        for (int i = 0; i < 256; i++)
            assert_int_equal(x->answer[k][i], x->data[i] * (uint32_t)(k + 1));
    assert_ok(cc_shm_block_unlink(b));
    cc_shm_block_close(b);

    /* a peer for a name that is gone reports ENOENT (exit 2) */
    assert_int_equal(wait_peer(start_peer("cc_test_no_such_block", 0)), 2);
}

/* ---- unlink ---- */

static void test_unlink_semantics(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "cc_test_unlink_%d", (int)getpid());

    cc_shm_block *a = cc_shm_block_new(name, 100, CC_SHM_CREATE |
                                                  CC_SHM_EXCL);
    assert_non_null(a);
    assert_string_equal(cc_shm_block_name(a), name);
    unsigned char *pa = cc_shm_block_ptr(a);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pa[i], 0); /* zeroed */
    cc_shm_block *b = cc_shm_block_open(name);
    assert_non_null(b);
    assert_int_equal(cc_shm_block_size(b), 100);
    unsigned char *pb = cc_shm_block_ptr(b);
    assert_ptr_not_equal(pa, pb); /* two mappings of one block */
    pa[7] = 42;
    assert_int_equal(pb[7], 42);

    /* unlinked: no new attach, but the attached keep sharing */
    assert_ok(cc_shm_block_unlink(a));
    assert_null_with(cc_shm_block_open(name), ENOENT);
    assert_non_null(strstr(cc_errmsg(), name));
    pb[8] = 43;
    assert_int_equal(pa[8], 43);
    assert_fails_with(cc_shm_block_unlink(b), ENOENT);
    assert_non_null(strstr(cc_errmsg(), "unlinked already"));

    /* the name can be made again: a new, zeroed block */
    cc_shm_block *c = cc_shm_block_new(name, 50, CC_SHM_CREATE |
                                                 CC_SHM_EXCL);
    assert_non_null(c);
    unsigned char *pc = cc_shm_block_ptr(c);
    assert_int_equal(pc[7], 0);
    pc[7] = 1;
    assert_int_equal(pa[7], 42);
    cc_shm_block_close(a);
    assert_int_equal(pb[7], 42); /* b's mapping outlives a's close */
    cc_shm_block_close(b);
    assert_ok(cc_shm_block_unlink(c));
    cc_shm_block_close(c);
}

/* ---- names, sizes, flags, errors ---- */

/* In a forked child run as root: become "nobody", then attach. */
static void open_as_nobody(void *arg)
{
    const char *name = arg;

    if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(10);
    errno = 0;
    if (cc_shm_block_open(name) != NULL || errno != EACCES)
        _exit(11);
    if (strstr(cc_errmsg(), "permission denied") == NULL)
        _exit(12);
    _exit(0);
}

static void test_names_sizes_and_errors(void **state)
{
    (void)state;
    char name[300];
    int fds = tu_fds();

    /* bad names: EINVAL with a clear message, nothing created */
    assert_null_with(cc_shm_block_new("a/b", 10, CC_SHM_CREATE), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "contains a '/'"));
    assert_null_with(cc_shm_block_new("//x", 10, CC_SHM_CREATE), EINVAL);
    assert_null_with(cc_shm_block_new("", 10, CC_SHM_CREATE), EINVAL);
    assert_null_with(cc_shm_block_new("/", 10, CC_SHM_CREATE), EINVAL);
    assert_null_with(cc_shm_block_new(".", 10, CC_SHM_CREATE), EINVAL);
    assert_null_with(cc_shm_block_new("..", 10, CC_SHM_CREATE), EINVAL);
    memset(name, 'n', sizeof(name));
    name[NAME_MAX + 1] = '\0';
    assert_null_with(cc_shm_block_new(name, 10, CC_SHM_CREATE), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "more than 255"));
    assert_null_with(cc_shm_block_open(name), EINVAL);
    /* 255 bytes is fine */
    snprintf(name, sizeof(name), "cc_test_long_%d_", (int)getpid());
    memset(name + strlen(name), 'L', NAME_MAX - strlen(name));
    name[NAME_MAX] = '\0';
    cc_shm_block *b = cc_shm_block_new(name, 10, CC_SHM_CREATE |
                                                 CC_SHM_EXCL);
    assert_non_null(b);
    assert_ok(cc_shm_block_unlink(b));
    cc_shm_block_close(b);

    /* bad flags and sizes */
    assert_null_with(cc_shm_block_new(NULL, 0, CC_SHM_CREATE), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "size 0"));
    assert_null_with(cc_shm_block_new(NULL, 10, 0), EINVAL);
    assert_null_with(cc_shm_block_open(NULL), EINVAL);
    assert_null_with(cc_shm_block_new("x", 10, CC_SHM_EXCL), EINVAL);
    assert_null_with(cc_shm_block_new("x", 10, 0x100 | CC_SHM_CREATE),
                     EINVAL);
    assert_null_with(cc_shm_block_new("x", 10, -1), EINVAL);

    /* a leading '/' is the POSIX spelling: accepted and dropped */
    snprintf(name, sizeof(name), "/cc_test_errs_%d", (int)getpid());
    b = cc_shm_block_new(name, 5000, CC_SHM_CREATE | CC_SHM_EXCL);
    assert_non_null(b);
    assert_string_equal(cc_shm_block_name(b), name + 1);
    assert_int_equal(cc_shm_block_size(b), 5000);
    ((char *)cc_shm_block_ptr(b))[4999] = 'z';

    /* EEXIST with EXCL; CREATE alone attaches the existing block */
    assert_null_with(cc_shm_block_new(name + 1, 10, CC_SHM_CREATE |
                                                    CC_SHM_EXCL), EEXIST);
    assert_non_null(strstr(cc_errmsg(), "exists already"));
    cc_shm_block *same = cc_shm_block_new(name, 10, CC_SHM_CREATE);
    assert_non_null(same);
    assert_int_equal(cc_shm_block_size(same), 5000); /* the real size */
    assert_int_equal(((char *)cc_shm_block_ptr(same))[4999], 'z');
    cc_shm_block_close(same);
    /* attaching asks at most the real size */
    same = cc_shm_block_new(name, 5000, 0);
    assert_non_null(same);
    cc_shm_block_close(same);
    assert_null_with(cc_shm_block_new(name, 5001, 0), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "fewer than"));
    assert_null_with(cc_shm_block_new(name, 5001, CC_SHM_CREATE), EINVAL);

    /* EACCES: another user attaches the block, mode 0600 (as root, a
     * child that became "nobody" tries) */
    char path[400];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    if (geteuid() != 0) {
        assert_ok(chmod(path, 0));
        assert_null_with(cc_shm_block_open(name), EACCES);
        assert_non_null(strstr(cc_errmsg(), "permission denied"));
    } else {
        tu_child c = tu_run_child(open_as_nobody, name);
        assert_true(WIFEXITED(c.status));
        if (WEXITSTATUS(c.status) != 0)
            fail_msg("as nobody: exit %d, %s", WEXITSTATUS(c.status), c.err);
        free(c.err);
    }
    assert_ok(cc_shm_block_unlink(b));
    cc_shm_block_close(b);

    /* mode 0600 by default */
    b = cc_shm_block_new(NULL, 10, CC_SHM_CREATE);
    assert_non_null(b);
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", cc_shm_block_name(b));
    assert_ok(stat(path, &st));
    assert_int_equal(st.st_mode & 0077, 0);
    assert_int_equal(st.st_mode & 0600, 0600);
    assert_ok(cc_shm_block_unlink(b));
    cc_shm_block_close(b);

    /* ENOENT: attach a name that does not exist */
    assert_null_with(cc_shm_block_open("cc_test_no_such_block"), ENOENT);
    assert_non_null(strstr(cc_errmsg(), "no shared memory named"));

    /* an empty block (made by someone else, not sized): EINVAL */
    snprintf(name, sizeof(name), "/cc_test_empty_%d", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_null_with(cc_shm_block_open(name), EINVAL);
    assert_non_null(strstr(cc_errmsg(), "empty"));
    assert_ok(shm_unlink(name));

    /* bad handles */
    assert_null_with(cc_shm_block_ptr(NULL), EINVAL);
    assert_int_equal(cc_shm_block_size(NULL), 0);
    assert_string_equal(cc_shm_block_name(NULL), "");
    assert_fails_with(cc_shm_block_unlink(NULL), EINVAL);
    cc_shm_block_close(NULL);
    tu_no_fd_leak(fds); /* a handle holds no descriptor */
}

/* ---- many threads at once ---- */

#define THREADS 8
#define ITERS 200

static _Atomic int hammer_bad;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        size_t size = 1 + tu_rand_below(3 * 4096);
        cc_shm_block *a = cc_shm_block_new(NULL, size, CC_SHM_CREATE);
        cc_shm_block *b;

        if (a == NULL) {
            atomic_fetch_add(&hammer_bad, 1);
            continue;
        }
        b = cc_shm_block_open(cc_shm_block_name(a));
        if (b == NULL || cc_shm_block_size(b) != size) {
            atomic_fetch_add(&hammer_bad, 1);
        } else {
            unsigned char *pa = cc_shm_block_ptr(a);
            unsigned char *pb = cc_shm_block_ptr(b);
            size_t at = tu_rand_below((unsigned)size);

            if (pb[at] != 0)
                atomic_fetch_add(&hammer_bad, 1);
            pa[at] = (unsigned char)(i | 1);
            if (pb[at] != (unsigned char)(i | 1))
                atomic_fetch_add(&hammer_bad, 1);
        }
        tu_jitter(100);
        if (cc_shm_block_unlink(tu_rand_below(2) ? a : b) != 0)
            atomic_fetch_add(&hammer_bad, 1);
        cc_shm_block_close(b);
        cc_shm_block_close(a);
    }
    return arg;
}

static void test_many_threads(void **state)
{
    (void)state;
    int fds = tu_fds();
    int args[THREADS];
    tu_join(tu_start(THREADS, hammer, args, sizeof(args[0])));
    assert_int_equal(atomic_load(&hammer_bad), 0);
    tu_no_fd_leak(fds);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "peer") == 0)
        return peer_main(argv[2], atoi(argv[3]));

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unrelated_processes_exchange_by_name),
        cmocka_unit_test(test_unlink_semantics),
        cmocka_unit_test(test_names_sizes_and_errors),
        cmocka_unit_test(test_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
