/*
 * blob.h - checking a pointer that may not be a blob at all (internal;
 * layer base).
 *
 * cc_blob_is reads the 16 bytes before p, which faults when p is an integer
 * passed as a pointer or points at the start of a mapping.  Calls that take
 * "a blob or NULL" from callers who may be used to passing anything (the
 * process pool's arguments, a task's result in a worker) use this instead.
 */
#ifndef CC_INTERNAL_BLOB_H
#define CC_INTERNAL_BLOB_H

#include <stdbool.h>

/*
 * True when p is a live blob, without ever faulting: small or misaligned
 * values are rejected at once, and the header is read only once its memory
 * is known to be mapped (a syscall the first time a page is seen; the last
 * pages seen are remembered per thread).  Like cc_blob_is, memory freed
 * since it was last checked may still be read.
 */
bool cc__blob_check(const void *p);

#endif
