/*
 * blob.c - heap buffers that know their length (base layer).
 *
 * Layout: a 16-byte header {length, magic} immediately before the data, so
 * the data stays 16-byte aligned, and one NUL byte after the data.  The magic
 * catches most foreign or already-freed pointers without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/blob.h"
#include "internal/ctx.h"
#include "internal/error.h"

#define BLOB_MAGIC 0x626c6f62636f6e63ULL /* "concblob" */
#define BLOB_DEAD 0x646561646465616dULL  /* "maeddaed": freed */
#define MAPPED_BLOCK (128u * 1024)       /* glibc's smallest mmap threshold
                                            (M_MMAP_THRESHOLD's default) */

typedef struct blob_header {
    size_t len;     /* bytes of data, not counting the NUL */
    uint64_t magic; /* BLOB_MAGIC while live */
} blob_header;

_Static_assert(sizeof(blob_header) == 16, "blob data must stay 16-aligned");

static blob_header *header_of(const void *p)
{
    return (blob_header *)((char *)(uintptr_t)p - sizeof(blob_header));
}

/* A block this large may be a mapping of its own, unmapped when freed or
 * moved: the probe must not keep believing its header page is readable.
 * (Smaller blocks come from malloc's heaps, whose pages stay mapped.) */
static void forget_if_mapped(const void *blob)
{
    if (header_of(blob)->len >= MAPPED_BLOCK - sizeof(blob_header) - 1)
        cc__blob_forget(blob);
}

void *cc_blob_new(size_t len)
{
    blob_header *h;

    if (len > SIZE_MAX - sizeof(*h) - 1)
        return cc__errf_null(ENOMEM, "blob: %zu bytes is too large", len);
    h = malloc(sizeof(*h) + len + 1);
    if (h == NULL)
        return cc__errf_null(ENOMEM, "blob: out of memory for %zu bytes", len);
    h->len = len;
    h->magic = BLOB_MAGIC;
    ((char *)(h + 1))[len] = '\0';
    return h + 1;
}

void *cc_blob_dup(const void *p, size_t len)
{
    void *b;

    if (p == NULL && len > 0)
        return cc__err_null(EINVAL, "cc_blob_dup: NULL source with length > 0");
    b = cc_blob_new(len);
    if (b != NULL && len > 0)
        memcpy(b, p, len);
    return b;
}

char *cc_blob_strdup(const char *s)
{
    if (s == NULL)
        return cc__err_null(EINVAL, "cc_blob_strdup: string is NULL");
    return cc_blob_dup(s, strlen(s));
}

bool cc__blob_magic(const void *p)
{
    return header_of(p)->magic == BLOB_MAGIC;
}

/* The probe first: the header may be unmapped or unreadable (an integer
 * cast to a pointer, the first byte of a mapping), and reading it would
 * fault. */
bool cc_blob_is(const void *p)
{
    return p != NULL && cc__blob_check(p);
}

void *cc_blob_resize(void *blob, size_t len)
{
    blob_header *h;

    if (blob == NULL)
        return cc_blob_new(len);
    if (!cc_blob_is(blob))
        return cc__err_null(EINVAL, "cc_blob_resize: not a blob");
    if (len > SIZE_MAX - sizeof(*h) - 1)
        return cc__errf_null(ENOMEM, "blob: %zu bytes is too large", len);
    forget_if_mapped(blob);
    h = realloc(header_of(blob), sizeof(*h) + len + 1);
    if (h == NULL)
        return cc__errf_null(ENOMEM, "blob: out of memory for %zu bytes", len);
    h->len = len;
    ((char *)(h + 1))[len] = '\0';
    return h + 1;
}

size_t cc_blob_len(const void *blob)
{
    if (blob == NULL) {
        cc__err(EINVAL, "cc_blob_len: blob is NULL");
        return 0;
    }
    if (!cc_blob_is(blob)) {
        cc__err(EINVAL, "cc_blob_len: not a blob");
        return 0;
    }
    return header_of(blob)->len;
}

void cc_blob_free(void *blob)
{
    blob_header *h;

    if (blob == NULL)
        return;
    if (!cc_blob_is(blob)) {
        if (cc__debug())
            cc__debugf("cc_blob_free(%p): not a live blob; left alone", blob);
        return;
    }
    forget_if_mapped(blob);
    h = header_of(blob);
    h->magic = BLOB_DEAD;
    free(h);
}
