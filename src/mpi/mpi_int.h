/*
 * mpi_int.h - what the files of the MPI executor share (private to src/mpi/):
 * the message tags, a growable byte buffer and reader, function references,
 * the error-chain codec, the build id and the worker rank's loop.
 *
 * libconcur_mpi is a library of its own over the core's public ABI (the
 * core exports cc_* names only), so it carries its own small codec rather
 * than the process layer's hidden one; the encodings mirror the process
 * pool's (a function is its module's path and its offset in that module).
 */
#ifndef CC_MPI_INT_H
#define CC_MPI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "concur/mpi.h"

enum {
    CC__MPI_TAG_HELLO = 1,  /* worker -> 0: build id (2 x u64), host name */
    CC__MPI_TAG_TASK = 2,   /* 0 -> worker: id, function reference, argument */
    CC__MPI_TAG_RESULT = 3, /* worker -> 0: id, result or error chain */
    CC__MPI_TAG_STOP = 4,   /* 0 -> worker: exit */
};

/* A growable buffer; `failed` once an allocation failed (then len stops). */
typedef struct cc__mbuf {
    char *data;
    size_t len, cap;
    bool failed;
} cc__mbuf;

void cc__mbuf_put(cc__mbuf *b, const void *p, size_t n);
void cc__mbuf_u64(cc__mbuf *b, uint64_t v);
void cc__mbuf_free(cc__mbuf *b);

/* A reader over received bytes; `bad` once it ran past the end. */
typedef struct cc__mrd {
    const char *p;
    size_t left;
    bool bad;
} cc__mrd;

const char *cc__mrd_bytes(cc__mrd *r, size_t n);
uint64_t cc__mrd_u64(cc__mrd *r);

/* Append fn's reference (offset, path length, path).  -1 with EINVAL and a
 * message when fn lies in no loaded module. */
int cc__mpi_fnref_put(cc__mbuf *b, cc_fn fn);
/* Read a reference and find its function here (loading a library by its
 * path when needed); NULL with *err a new error (owned by the caller). */
cc_fn cc__mpi_fnref_get(cc__mrd *r, cc_error **err);

/* Append an error chain (outermost first); read one back, the outermost
 * error's message followed by `suffix`.  NULL when malformed or out of
 * memory (then an EPROTO/ENOMEM error is returned instead, never NULL). */
void cc__mpi_error_put(cc__mbuf *b, const cc_error *e);
cc_error *cc__mpi_error_get(cc__mrd *r, const char *suffix);

/* This process's build id: hashes of the executable's file and of the
 * library holding the core (0 when unreadable).  The test hook
 * CONCUR_MPI_TEST_BUILD_ID_RANK=<rank> changes rank <rank>'s id. */
void cc__mpi_build_id(int rank, uint64_t id[2]);

/* Serve tasks from rank 0 of comm (the world, or the intercommunicator to
 * the process that spawned this one) until told to stop; `rank` is this
 * worker's number in rank 0's messages. */
void cc__mpi_serve(int rank, MPI_Comm comm);

/* Sleep for us microseconds (the idle back-off). */
/* How long a waiting side keeps probing before it naps: a message that
 * comes within it (the common case while tasks flow: a result right after
 * its task, the next task right after a result) costs no sleep, and a
 * nap costs at least the kernel's timer slack (~50 us) -- the round trip
 * of one tiny task.  Short enough to cost no CPU worth measuring when
 * idle (once per message, then naps). */
#define CC__MPI_SPIN_S 250e-6

/* While probing without pause, give the CPU away every this many probes:
 * with more ranks than cores (mpirun --oversubscribe), a rank that only
 * spins keeps the one it waits for off the CPU -- over TCP, whose progress
 * needs the sender to run, a round trip went from 276 us to 738 us with
 * pure spinning.  A yield per probe halves the shared-memory rate. */
#define CC__MPI_YIELD_EVERY 16

void cc__mpi_nap(long us);

#endif
