/*
 * shm_block.c - cc_shm_block, shared memory that any process attaches by
 * its name (multiprocessing.shared_memory.SharedMemory; process layer).
 *
 * A POSIX shared memory object: shm_open makes or opens "/<name>" (a file
 * in /dev/shm on Linux), ftruncate sizes a new one (tmpfs hands out zeroed
 * pages), fstat reads an existing one's size, and the whole object is
 * mapped MAP_SHARED.  The descriptor is closed right after the mapping:
 * the mapping keeps the memory, and a handle costs no file descriptor.
 * The handle never changes after it is made, so readers need no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/error.h"

#define SHM_BLOCK_MAGIC 0x53484d42u /* "SHMB" */
#define SHM_FLAGS (CC_SHM_CREATE | CC_SHM_EXCL)
#define NAME_TRIES 64  /* generated names tried before giving up */

/* This process's handle. */
struct cc_shm_block {
    uint32_t magic; /* SHM_BLOCK_MAGIC while alive */
    void *mem;      /* the mapping */
    size_t size;    /* the block's size */
    char path[];    /* "/<name>", NUL-terminated */
};

static bool block_ok(const cc_shm_block *b)
{
    return b != NULL && b->magic == SHM_BLOCK_MAGIC;
}

/* The name without its optional leading '/', or NULL with the error set. */
static const char *check_name(const char *name)
{
    size_t len;

    if (name[0] == '/')
        name++;
    len = strlen(name);
    if (len == 0)
        return cc__err_null(EINVAL, "cc_shm_block_new: the name is empty");
    if (len > NAME_MAX)
        return cc__errf_null(EINVAL, "cc_shm_block_new: the name is %zu "
                                     "bytes long, more than %d",
                             len, NAME_MAX);
    if (strchr(name, '/') != NULL)
        return cc__errf_null(EINVAL, "cc_shm_block_new: the name '%s' "
                                     "contains a '/' (only one leading '/' "
                                     "is allowed)",
                             name);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return cc__errf_null(EINVAL, "cc_shm_block_new: '%s' is not a valid "
                                     "name",
                             name);
    return name;
}

/* "/cc_" and 16 random hex digits. */
static void generate_name(char *path, size_t size)
{
    static _Atomic uint64_t counter;
    uint64_t r;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = ((uint64_t)getpid() << 40) ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)ts.tv_sec << 20) ^
            (counter++ * 0x9E3779B97F4A7C15ULL);
    }
    snprintf(path, size, "/cc_%016llx", (unsigned long long)r);
}

/* The message for a failed shm_open or ftruncate of path. */
static void *open_error(int e, const char *path, const char *doing)
{
    switch (e) {
    case EEXIST:
        return cc__errf_null(e, "cc_shm_block_new: shared memory '%s' exists "
                                "already", path + 1);
    case ENOENT:
        return cc__errf_null(e, "cc_shm_block_new: no shared memory named "
                                "'%s'", path + 1);
    case EACCES:
        return cc__errf_null(e, "cc_shm_block_new: shared memory '%s': "
                                "permission denied", path + 1);
    default:
        return cc__errf_null(e, "cc_shm_block_new: %s '%s': %s", doing,
                             path + 1, strerror(e));
    }
}

/*
 * Open path per flags: a new block when it can be created, else the
 * existing one (CC_SHM_CREATE without CC_SHM_EXCL).  The fd, or -1 with
 * the error set.  *created tells which.
 */
static int open_block(const char *path, int flags, bool *created)
{
    for (int tries = 0;; tries++) {
        int fd;

        *created = false;
        if (flags & CC_SHM_CREATE) {
            fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd >= 0) {
                *created = true;
                return fd;
            }
            if (errno != EEXIST || (flags & CC_SHM_EXCL))
                return open_error(errno, path, "cannot create"), -1;
        }
        fd = shm_open(path, O_RDWR, 0);
        if (fd >= 0)
            return fd;
        /* Unlinked between our two calls: try to create it again. */
        if (errno != ENOENT || !(flags & CC_SHM_CREATE) || tries >= 100)
            return open_error(errno, path, "cannot open"), -1;
    }
}

/* Size (new block) or measure (existing one) the block at fd, and map it.
 * The mapping, or NULL with the error set. */
static void *map_block(int fd, const char *path, bool created, size_t *size)
{
    struct stat st;
    void *mem;

    if (created) {
        if (*size > (size_t)INT64_MAX) {
            errno = EFBIG;
            return open_error(EFBIG, path, "cannot size");
        }
        if (ftruncate(fd, (off_t)*size) != 0)
            return open_error(errno, path, "cannot size");
    } else {
        if (fstat(fd, &st) != 0)
            return open_error(errno, path, "cannot read the size of");
        if (st.st_size == 0)
            return cc__errf_null(EINVAL, "cc_shm_block_new: shared memory "
                                         "'%s' is empty (its creator has not "
                                         "sized it yet?)",
                                 path + 1);
        if ((uint64_t)st.st_size > SIZE_MAX)
            return cc__errf_null(EFBIG, "cc_shm_block_new: shared memory "
                                        "'%s' is too large to map",
                                 path + 1);
        if (*size > (size_t)st.st_size)
            return cc__errf_null(EINVAL, "cc_shm_block_new: shared memory "
                                         "'%s' holds %lld bytes, fewer than "
                                         "the %zu asked for",
                                 path + 1, (long long)st.st_size, *size);
        *size = (size_t)st.st_size;
    }
    mem = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return open_error(errno, path, "cannot map");
    return mem;
}

cc_shm_block *cc_shm_block_new(const char *name, size_t size, int flags)
{
    char path[NAME_MAX + 2];
    cc_shm_block *b;
    bool created;
    int fd = -1;
    void *mem;
    size_t len;

    if ((flags & ~SHM_FLAGS) != 0)
        return cc__errf_null(EINVAL, "cc_shm_block_new: unknown flags 0x%x",
                             (unsigned)(flags & ~SHM_FLAGS));
    if ((flags & CC_SHM_EXCL) && !(flags & CC_SHM_CREATE))
        return cc__err_null(EINVAL, "cc_shm_block_new: CC_SHM_EXCL without "
                                    "CC_SHM_CREATE");
    if ((flags & CC_SHM_CREATE) && size == 0)
        return cc__err_null(EINVAL, "cc_shm_block_new: size 0 for a new "
                                    "block");
    if (name == NULL) {
        if (!(flags & CC_SHM_CREATE))
            return cc__err_null(EINVAL, "cc_shm_block_new: no name to "
                                        "attach (NULL names a new block: "
                                        "CC_SHM_CREATE)");
        for (int i = 0; fd < 0; i++) {
            generate_name(path, sizeof(path));
            fd = open_block(path, CC_SHM_CREATE | CC_SHM_EXCL, &created);
            if (fd < 0 && (errno != EEXIST || i + 1 >= NAME_TRIES))
                return NULL;
        }
    } else {
        name = check_name(name);
        if (name == NULL)
            return NULL;
        snprintf(path, sizeof(path), "/%s", name);
        fd = open_block(path, flags, &created);
        if (fd < 0)
            return NULL;
    }
    mem = map_block(fd, path, created, &size);
    if (mem == NULL) {
        int e = errno;

        if (created)
            (void)shm_unlink(path); /* ours, never seen by anybody */
        close(fd);
        errno = e;
        return NULL;
    }
    close(fd); /* the mapping keeps the memory */
    len = strlen(path);
    b = malloc(sizeof(*b) + len + 1);
    if (b == NULL) {
        munmap(mem, size);
        if (created)
            (void)shm_unlink(path);
        return cc__err_null(ENOMEM, "cc_shm_block_new: out of memory");
    }
    memcpy(b->path, path, len + 1);
    b->mem = mem;
    b->size = size;
    b->magic = SHM_BLOCK_MAGIC;
    return b;
}

cc_shm_block *cc_shm_block_open(const char *name)
{
    if (name == NULL)
        return cc__err_null(EINVAL, "cc_shm_block_open: name is NULL");
    return cc_shm_block_new(name, 0, 0);
}

void *cc_shm_block_ptr(cc_shm_block *b)
{
    if (!block_ok(b))
        return cc__err_null(EINVAL, "cc_shm_block_ptr: not a shared memory "
                                    "block");
    return b->mem;
}

size_t cc_shm_block_size(cc_shm_block *b)
{
    return block_ok(b) ? b->size : 0;
}

const char *cc_shm_block_name(cc_shm_block *b)
{
    return block_ok(b) ? b->path + 1 : "";
}

int cc_shm_block_unlink(cc_shm_block *b)
{
    if (!block_ok(b))
        return cc__err(EINVAL, "cc_shm_block_unlink: not a shared memory "
                               "block");
    if (shm_unlink(b->path) != 0) {
        int e = errno;

        if (e == ENOENT)
            return cc__errf(e, "cc_shm_block_unlink: shared memory '%s' was "
                               "unlinked already",
                            b->path + 1);
        return cc__errf(e, "cc_shm_block_unlink: shared memory '%s': %s",
                        b->path + 1, strerror(e));
    }
    return 0;
}

void cc_shm_block_close(cc_shm_block *b)
{
    if (!block_ok(b))
        return;
    b->magic = 0;
    munmap(b->mem, b->size);
    free(b);
}
