/*
 * shared.c - cc_shared, zeroed memory shared with forked children
 * (multiprocessing.Value and Array; process layer).
 *
 * An anonymous MAP_SHARED mapping: a child forked after cc_shared_new sees
 * the same pages, so a store in one process is a store in all.  The
 * library never touches the bytes; guarding them is the caller's business,
 * with the optional cc_plock that the object carries for that purpose.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"
#include "internal/error.h"
#include "process/shm.h"

#define SHARED_MAGIC 0x53484d4du /* "SHMM" */

/* This process's handle; children forked afterwards get copies. */
struct cc_shared {
    uint32_t magic;   /* SHARED_MAGIC while alive */
    void *mem;        /* the shared bytes (page aligned) */
    size_t size;      /* as asked for */
    cc_plock *lock;   /* owned; NULL when made without one */
};

static bool shared_ok(const cc_shared *s)
{
    return s != NULL && s->magic == SHARED_MAGIC;
}

cc_shared *cc_shared_new(size_t size, bool with_lock)
{
    cc_shared *s;

    if (size == 0)
        return cc__err_null(EINVAL, "cc_shared_new: size is 0");
    s = malloc(sizeof(*s));
    if (s == NULL)
        return cc__err_null(ENOMEM, "cc_shared_new: out of memory");
    s->size = size;
    s->lock = NULL;
    s->mem = cc__shm_map(size, false);
    if (s->mem == NULL) {
        free(s);
        return cc__errf_null(ENOMEM, "cc_shared_new: cannot map %zu bytes "
                                     "of shared memory: %s",
                             size, strerror(errno));
    }
    if (with_lock) {
        s->lock = cc_plock_new();
        if (s->lock == NULL) {
            int e = errno;
            char why[128];

            /* cc_errmsg() may point into the buffer cc__errf writes. */
            snprintf(why, sizeof(why), "%s", cc_errmsg());
            cc__shm_unmap(s->mem, size);
            free(s);
            return cc__errf_null(e, "cc_shared_new: cannot make its lock: "
                                    "%s", why);
        }
    }
    s->magic = SHARED_MAGIC;
    return s;
}

void *cc_shared_ptr(cc_shared *s)
{
    if (!shared_ok(s))
        return cc__err_null(EINVAL, "cc_shared_ptr: not shared memory");
    return s->mem;
}

size_t cc_shared_size(cc_shared *s)
{
    return shared_ok(s) ? s->size : 0;
}

cc_plock *cc_shared_lock(cc_shared *s)
{
    return shared_ok(s) ? s->lock : NULL;
}

void cc_shared_free(cc_shared *s)
{
    if (!shared_ok(s))
        return;
    s->magic = 0;
    cc_plock_free(s->lock);
    cc__shm_unmap(s->mem, s->size);
    free(s);
}
