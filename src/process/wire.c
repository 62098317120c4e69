/*
 * wire.c - byte buffers, frames, items and outcomes for the process pool's
 * messages (process layer; see wire.h for the format).  Each buffer belongs
 * to one thread at a time (the manager, or the worker's only thread): no
 * locks.
 */
#include <errno.h>
#include <stdlib.h>

#include "concur/base.h"
#include "process/wire.h"

bool cc__buf_reserve(cc__buf *b, size_t more)
{
    size_t need;
    size_t cap;
    char *data;

    if (b->oom)
        return false;
    if (b->cap - b->len >= more)
        return true;
    if (more > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    need = b->len + more;
    cap = b->cap * 2 > 256 ? b->cap * 2 : 256; /* amortised growth */
    if (cap < need)
        cap = need; /* a first reserve of the exact size stays exact */
    data = realloc(b->data, cap);
    if (data == NULL) {
        b->oom = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void cc__buf_compact(cc__buf *b)
{
    if (b->off == 0)
        return;
    if (b->off < b->len)
        memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

void cc__buf_free(cc__buf *b)
{
    free(b->data);
    *b = (cc__buf){0};
}

size_t cc__frame_begin(cc__buf *b, uint32_t type, uint64_t id)
{
    cc__frame h = {.len = 0, .id = id, .type = type, .status = 0};
    size_t at = b->len;

    cc__buf_put(b, &h, sizeof(h));
    return at;
}

void cc__frame_end(cc__buf *b, size_t at)
{
    uint64_t len;

    if (b->oom)
        return;
    len = b->len - at - sizeof(cc__frame);
    memcpy(b->data + at + offsetof(cc__frame, len), &len, sizeof(len));
}

void cc__wire_put_item(cc__buf *b, const void *blob)
{
    size_t len;

    if (blob == NULL) {
        cc__buf_put_u64(b, 0);
        return;
    }
    len = cc_blob_len(blob);
    cc__buf_put_u64(b, (uint64_t)len + 1);
    cc__buf_put(b, blob, len);
}

bool cc__wire_get_item(cc__rd *r, const char **p, size_t *len, bool *is_null)
{
    uint64_t tag = cc__rd_u64(r);

    if (r->bad)
        return false;
    *is_null = tag == 0;
    *len = tag == 0 ? 0 : (size_t)(tag - 1);
    *p = tag == 0 ? NULL : cc__rd_bytes(r, *len);
    return !r->bad;
}

int cc__wire_get_item_blob(cc__rd *r, void **out)
{
    const char *p;
    size_t len;
    bool is_null;

    *out = NULL;
    if (!cc__wire_get_item(r, &p, &len, &is_null))
        return EPROTO;
    if (is_null)
        return 0;
    *out = cc_blob_dup(p, len);
    return *out != NULL ? 0 : ENOMEM;
}

bool cc__wire_get_outcome(cc__rd *r, void **result, cc_error **err)
{
    uint8_t kind = cc__rd_u8(r);
    int code;

    *result = NULL;
    *err = NULL;
    if (r->bad)
        return false;
    if (kind == CC__OUT_NULL)
        return true;
    if (kind == CC__OUT_BLOB) {
        uint64_t len = cc__rd_u64(r);
        const char *bytes = cc__rd_bytes(r, (size_t)len);

        if (r->bad)
            return false;
        *result = cc_blob_dup(bytes, (size_t)len);
        if (*result == NULL)
            *err = cc__error_newf(ENOMEM, NULL, "process pool: out of "
                                  "memory for a result of %llu bytes",
                                  (unsigned long long)len);
        return true;
    }
    if (kind != CC__OUT_ERROR)
        return false;
    *err = cc__error_decode(r, &code);
    if (*err == NULL && code == ENOMEM)
        *err = cc__error_newf(ENOMEM, NULL, "process pool: out of memory "
                                            "for a task's error");
    return *err != NULL;
}

int cc__wire_cut_frame(const char *data, size_t len, size_t *off,
                       uint64_t max, cc__frame *h, cc__rd *payload)
{
    size_t left = len - *off;

    if (left < sizeof(*h))
        return CC__CUT_MORE;
    memcpy(h, data + *off, sizeof(*h));
    if (h->type != CC__FR_RESULT && h->type != CC__FR_CHUNK_RESULT &&
        h->type != CC__FR_INIT_FAILED)
        return CC__CUT_BAD_TYPE;
    if (h->len > max)
        return CC__CUT_TOO_BIG;
    if (h->len > left - sizeof(*h))
        return CC__CUT_MORE;
    payload->p = data + *off + sizeof(*h);
    payload->end = payload->p + h->len;
    payload->bad = false;
    *off += sizeof(*h) + h->len;
    return CC__CUT_FRAME;
}
