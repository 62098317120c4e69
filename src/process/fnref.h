/*
 * fnref.h - function references: how a process pool names a task function
 * so that a worker (a fresh run of the same executable) finds it again
 * (process layer, private to the pool).
 *
 * A reference is the module the function's code lies in and its offset from
 * that module's load address: the main executable (an empty path: in
 * dl_iterate_phdr it is the entry with an empty name), or a shared library
 * by the path it was loaded from.  Address-space layout randomisation moves
 * modules, never code within them, so the offset is the same in every run.
 *
 * Wire encoding: offset (u64), path length (u16), the path (no NUL).
 */
#ifndef CC_PROCESS_FNREF_H
#define CC_PROCESS_FNREF_H

#include <stdint.h>

#include "concur/base.h"
#include "process/wire.h"

typedef struct cc__fnref {
    struct cc__fnref *overflow; /* the next record kept past the cache's
                                   slots (fnref.c), or NULL */
    cc_fn fn;                   /* the function it names */
    uint64_t offset;    /* the function's address minus its module's bias */
    uint16_t path_len;  /* 0: the main executable */
    char path[];        /* the module's path, NUL-terminated */
} cc__fnref;

/*
 * The reference of fn (parent side).  Cached per function for the life of
 * the process; the record is never freed.  NULL with EINVAL and a message
 * that starts with `what` when fn is in no loaded module or not in the
 * code of the one it is in; ENOMEM.
 */
const cc__fnref *cc__fnref_of(cc_fn fn, const char *what);

/* Append the reference's wire encoding. */
void cc__fnref_put(cc__buf *b, const cc__fnref *ref);

/*
 * Read a reference and find its function in this process (worker side),
 * loading a shared library by its path if it is not loaded yet.  Results
 * are cached.  NULL with *err set (a new error the caller owns: EPROTO for
 * a malformed reference, EINVAL when the function cannot be found).
 */
cc_fn cc__fnref_resolve(cc__rd *r, cc_error **err);

#endif
