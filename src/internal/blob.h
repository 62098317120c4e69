/*
 * blob.h - checking a pointer that may not be a blob at all (internal;
 * layer base).
 *
 * A blob's header is the 16 bytes before it; reading them faults when p
 * is an integer passed as a pointer or points at the start of a mapping.
 * cc__blob_check looks before it reads, and every public blob call
 * (cc_blob_is, and through it cc_blob_len, cc_blob_resize, cc_blob_free)
 * goes through it.
 */
#ifndef CC_INTERNAL_BLOB_H
#define CC_INTERNAL_BLOB_H

#include <stdbool.h>

/*
 * True when p is a live blob, without ever faulting: small or misaligned
 * values are rejected at once, and the header is read only once its memory
 * is known to be mapped (a syscall the first time a page is seen; the last
 * pages seen are remembered per thread).  Memory freed and unmapped
 * since its page was last checked may still be read.
 */
bool cc__blob_check(const void *p);

/*
 * Forget p's header page (if this thread remembers it as readable): the
 * blob is being freed and its memory may be unmapped with it (malloc maps
 * large blocks on their own), after which the page must be looked at again.
 */
void cc__blob_forget(const void *p);

/* True when the header before p (readable: checked by the caller) holds a
 * live blob's magic.  Only cc__blob_check calls it. */
bool cc__blob_magic(const void *p);

#endif
