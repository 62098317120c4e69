/*
 * outbuf.c - the output a communicate has read from one pipe so far
 * (subprocess layer).
 *
 * A list of chunks, 16 KiB doubling up to 256 KiB, filled by read(2) in
 * place: growing never copies.  Measured on this 2-vCPU VM: once glibc's
 * dynamic mmap threshold has risen (any earlier free of a big block
 * raises it to 32 MiB), a realloc from 32 to 64 MiB copies the lot and
 * faults in the new pages in one go, ~20-25 ms -- a stall of every other
 * task of the loop when done inside one.  The final blob is filled in
 * slices of 256 KiB with a yield between them when called from a task.
 * (Page faults are the real cost on this VM: touching 64 MiB of fresh
 * memory takes 55-70 ms, filling it again 4.5 ms.)
 * An outbuf belongs to the communicate that owns the handle (busy).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "concur/aio.h"
#include "internal/error.h"
#include "subprocess/subproc.h"

#define CHUNK_FIRST (16u << 10)
#define CHUNK_MAX (256u << 10)    /* header included: the mapped size */
#define SLICE (256u << 10)     /* bytes copied between two yields: the
                                  fresh pages they fault in cost up to
                                  ~1.5 ms here (3-5 us a page) */

/*
 * Chunks of CHUNK_MAX bytes are mapped directly, smaller ones come from
 * malloc.  Freeing 64 MiB of malloc'd chunks one by one ends with glibc
 * trimming the whole heap top at the last free(): a 4-9 ms munmap here.
 * An unmap per 256 KiB spreads that cost over the slices.
 */
static cc__chunk *chunk_new(size_t size)
{
    cc__chunk *c;

    if (size == CHUNK_MAX) {
        c = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED)
            return NULL;
    } else {
        c = malloc(size);
        if (c == NULL)
            return NULL;
    }
    c->next = NULL;
    c->cap = size - sizeof(*c);
    c->len = 0;
    return c;
}

static void chunk_free(cc__chunk *c)
{
    size_t size = c->cap + sizeof(*c);

    if (size == CHUNK_MAX)
        munmap(c, size);
    else
        free(c);
}

void *cc__outbuf_space(cc__outbuf *b, size_t *room)
{
    cc__chunk *t = b->tail;

    if (t == NULL || t->len == t->cap) {
        size_t size = t == NULL ? CHUNK_FIRST
                      : t->cap + sizeof(*t) >= CHUNK_MAX / 2
                          ? CHUNK_MAX
                          : (t->cap + sizeof(*t)) * 2;
        cc__chunk *c = chunk_new(size);

        if (c == NULL)
            return cc__errf_null(ENOMEM, "out of memory for %zu bytes of "
                                         "output", b->total + size);
        if (t != NULL)
            t->next = c;
        else
            b->head = c;
        b->tail = t = c;
    }
    *room = t->cap - t->len;
    return t->data + t->len;
}

void cc__outbuf_commit(cc__outbuf *b, size_t n)
{
    b->tail->len += n;
    b->total += n;
}

int cc__outbuf_flatten(cc__outbuf *b)
{
    cc__chunk *one;
    size_t at = 0;

    if (b->head == b->tail)
        return 0;
    /* (one byte more than the total, so that its size is never CHUNK_MAX:
     * chunk_free tells mapped chunks by their size) */
    one = malloc(sizeof(*one) + b->total + 1);
    if (one == NULL)
        return cc__errf(ENOMEM, "out of memory for %zu bytes of output",
                        b->total);
    for (cc__chunk *c = b->head, *next; c != NULL; c = next) {
        next = c->next;
        memcpy(one->data + at, c->data, c->len);
        at += c->len;
        chunk_free(c);
    }
    one->next = NULL;
    one->cap = b->total + 1;
    one->len = b->total;
    b->head = b->tail = one;
    return 0;
}

void cc__outbuf_move(cc__outbuf *b, void *blob)
{
    bool in_task = cc_current_task() != NULL;
    size_t at = 0;

    for (cc__chunk *c = b->head, *next; c != NULL; c = next) {
        next = c->next;
        for (size_t off = 0; off < c->len;) {
            size_t n = c->len - off < SLICE ? c->len - off : SLICE;

            memcpy((char *)blob + at, c->data + off, n);
            at += n;
            off += n;
            if (in_task)
                (void)cc_yield(); /* cancelled: go on, no going back */
        }
        chunk_free(c);
    }
    b->head = b->tail = NULL;
    b->total = 0;
}

void cc__outbuf_free(cc__outbuf *b)
{
    for (cc__chunk *c = b->head, *next; c != NULL; c = next) {
        next = c->next;
        chunk_free(c);
    }
    b->head = b->tail = NULL;
    b->total = 0;
}
