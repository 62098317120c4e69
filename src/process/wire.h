/*
 * wire.h - the messages between a process pool and its workers, and the
 * byte buffers they are built in (process layer, private to the pool).
 *
 * Both ends are the same executable on the same machine, so integers are
 * sent in native byte order.  Every message is a frame: a 24-byte header
 * (payload length, task id, type, status) and its payload.  Fields inside
 * a payload are packed with no padding and read with memcpy.
 *
 *   parent -> worker
 *     INIT    flags (u32: 1 = has initializer), max_tasks (u32, 0: none),
 *             [fnref, item]: the initializer and its initarg
 *     TASK    fnref, item: one cc_submit
 *     CHUNK   fnref, count (u32), count items: one cc_map chunk
 *     EXIT    finish and leave (shutdown)
 *   worker -> parent
 *     READY        the initializer succeeded (or there was none)
 *     INIT_FAILED  error chain: the initializer failed; the worker leaves
 *     RESULT       id, ns (u64, time the task ran), outcome
 *     CHUNK_RESULT id, ns, count (u32), count outcomes; when the last one is
 *                  an error the chunk stopped there
 *
 * An item is u64 tag (0: NULL, else length + 1) and the bytes.  An outcome
 * is u8 kind (CC__OUT_NULL, CC__OUT_BLOB: u64 length and the bytes,
 * CC__OUT_ERROR: an error chain, see cc__error_encode).  A fnref is
 * src/process/fnref.h's encoding.
 */
#ifndef CC_PROCESS_WIRE_H
#define CC_PROCESS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal/error.h"

enum {
    CC__FR_INIT = 1,
    CC__FR_TASK = 2,
    CC__FR_CHUNK = 3,
    CC__FR_EXIT = 4,
    CC__FR_READY = 5,
    CC__FR_INIT_FAILED = 6,
    CC__FR_RESULT = 7,
    CC__FR_CHUNK_RESULT = 8,
};

enum {
    CC__OUT_NULL = 0,  /* the task returned NULL (and no error) */
    CC__OUT_BLOB = 1,  /* the task returned a blob: its bytes follow */
    CC__OUT_ERROR = 2, /* the task failed: its error chain follows */
};

/* The frame header, as it is on the wire. */
typedef struct cc__frame {
    uint64_t len;    /* payload bytes after the header */
    uint64_t id;     /* task id; results echo it */
    uint32_t type;   /* CC__FR_* */
    uint32_t status; /* unused (0); room for flags */
} cc__frame;

_Static_assert(sizeof(cc__frame) == 24, "the frame header is 24 bytes");

/*
 * A growable byte buffer.  Writers append at `len`; a reader consumes
 * from `off`.  An append that cannot get memory sets `oom` and does
 * nothing, so a message is built without checking every step: check `oom`
 * once at the end.
 */
typedef struct cc__buf {
    char *data;
    size_t len;  /* bytes held */
    size_t off;  /* bytes consumed (read side) or written out (write side) */
    size_t cap;
    bool oom;    /* an append failed */
} cc__buf;

/* Make room for `more` bytes after len; false (and oom set) on ENOMEM. */
bool cc__buf_reserve(cc__buf *b, size_t more);

/* Drop the consumed bytes [0, off) by moving the rest to the front. */
void cc__buf_compact(cc__buf *b);

/* Free the memory; the buffer is empty and usable again. */
void cc__buf_free(cc__buf *b);

static inline void cc__buf_put(cc__buf *b, const void *p, size_t n)
{
    if (n == 0 || !cc__buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void cc__buf_put_u8(cc__buf *b, uint8_t v)
{
    cc__buf_put(b, &v, 1);
}

static inline void cc__buf_put_u32(cc__buf *b, uint32_t v)
{
    cc__buf_put(b, &v, 4);
}

static inline void cc__buf_put_u64(cc__buf *b, uint64_t v)
{
    cc__buf_put(b, &v, 8);
}

/* Start a frame: reserves its header; returns where it starts (for
 * cc__frame_end). */
size_t cc__frame_begin(cc__buf *b, uint32_t type, uint64_t id);

/* Finish the frame started at `at`: writes its payload length. */
void cc__frame_end(cc__buf *b, size_t at);

/* An item: NULL, or the bytes of a blob. */
void cc__wire_put_item(cc__buf *b, const void *blob);

/* A reader over bytes received: every get past the end sets `bad`. */
typedef struct cc__rd {
    const char *p;
    const char *end;
    bool bad;
} cc__rd;

static inline const char *cc__rd_bytes(cc__rd *r, size_t n)
{
    const char *at = r->p;

    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    return at;
}

static inline uint8_t cc__rd_u8(cc__rd *r)
{
    const char *at = cc__rd_bytes(r, 1);

    return at != NULL ? (uint8_t)*at : 0;
}

static inline uint32_t cc__rd_u32(cc__rd *r)
{
    const char *at = cc__rd_bytes(r, 4);
    uint32_t v = 0;

    if (at != NULL)
        memcpy(&v, at, 4);
    return v;
}

static inline uint64_t cc__rd_u64(cc__rd *r)
{
    const char *at = cc__rd_bytes(r, 8);
    uint64_t v = 0;

    if (at != NULL)
        memcpy(&v, at, 8);
    return v;
}

/*
 * Read an item: *is_null, or its bytes (*p, *len; they stay in the
 * receive buffer).  False when the item is malformed (r->bad).
 */
bool cc__wire_get_item(cc__rd *r, const char **p, size_t *len, bool *is_null);

/*
 * Read an item as a new blob (or NULL) in *out.  0, EPROTO (malformed) or
 * ENOMEM.
 */
int cc__wire_get_item_blob(cc__rd *r, void **out);

/*
 * Read one outcome (a worker's RESULT, or one of a CHUNK_RESULT's) into
 * *result (a new blob, or NULL) or *err (owned): a task's error chain, or
 * an ENOMEM error when the outcome could not be rebuilt.  False (*result
 * and *err NULL) when it is malformed.
 */
bool cc__wire_get_outcome(cc__rd *r, void **result, cc_error **err);

/* What cc__wire_cut_frame found. */
enum {
    CC__CUT_FRAME = 0,    /* a whole frame: *h and *payload are set */
    CC__CUT_MORE = 1,     /* a part of one: the rest has not arrived */
    CC__CUT_BAD_TYPE = 2, /* a header no worker sends (*h set) */
    CC__CUT_TOO_BIG = 3,  /* a header claiming more than max bytes (*h set) */
};

/*
 * The next frame a worker sent, from the bytes in data[*off, len): the
 * header is judged as soon as it is there -- a type other than RESULT,
 * CHUNK_RESULT or INIT_FAILED, or a length over `max`, is an error before
 * any payload is waited for -- then a whole frame moves *off past itself
 * and sets *payload to its bytes (the manager's parse_frames, and the
 * fuzzer, cut a stream with this).  Returns CC__CUT_*.
 */
int cc__wire_cut_frame(const char *data, size_t len, size_t *off,
                       uint64_t max, cc__frame *h, cc__rd *payload);

/*
 * An error chain on the wire: count (u32), then for each error from the
 * outermost to the innermost cause: code (i32), message length (u32),
 * "where" length (u32), the message, the where.  NULL encodes as count 0.
 */
void cc__error_encode(cc__buf *b, const cc_error *e);

/*
 * Rebuild a chain read by r as heap cc_errors (the caller owns it).  NULL
 * with *err = EPROTO (malformed, or count 0) or ENOMEM.
 */
cc_error *cc__error_decode(cc__rd *r, int *err);

#endif
